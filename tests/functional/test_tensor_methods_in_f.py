"""A function that calls Tensor methods (register_hook, retain_grad) inside it: the
transforms that first ran f on plain arrays (jacobian(mode="auto") to size its output, hvp
for its value, sparse_jacobian given sparsity=) run it traced instead, as ad.grad does, so
the hook runs wherever a reverse sweep goes through f; where f's derivative is taken in
forward mode, the refusal names the transform and the mode to pass. torch.func is the
oracle where it has the transform."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import ad

X = np.array([0.1, 0.2, 0.3, 0.4])
SCALE = np.array([2.0, -1.0, 0.5, 3.0])
V = np.array([1.0, -2.0, 0.5, 0.25])


def _like(a, g):
    """a as g's kind of array (a torch Tensor under torch, else as it is)."""
    if type(g).__module__.startswith("torch"):
        import torch

        return torch.tensor(a, dtype=g.dtype)
    return a


def hooked_sum(x, lib=np):
    """sum(sin(x)**2) with sin(x)'s gradient scaled by SCALE: gradient SCALE 2 sin(x) cos(x)."""
    y = lib.sin(x)
    y.register_hook(lambda g: g * _like(SCALE, g))
    return (y * y).sum()


def hooked_wide(x, lib=np):
    """R^4 -> R^2 (n > m, so jacobian(mode="auto") takes reverse), sin(x)'s gradient scaled."""
    y = lib.sin(x)
    y.register_hook(lambda g: g * _like(SCALE, g))
    return y[:2] * y[2:]


def hooked_tall(x, lib=np):
    """R^4 -> R^4 (n <= m: forward), the hook as in hooked_wide."""
    y = lib.sin(x)
    y.register_hook(lambda g: g * _like(SCALE, g))
    return y * 3.0


def retained_sum(x, lib=np):
    """sum(sin(x)**2) with retain_grad on sin(x): the derivatives of f without it."""
    y = lib.sin(x)
    y.retain_grad()
    return (y * y).sum()


def _torch_jacrev(f, x):
    torch = pytest.importorskip("torch")
    return torch.func.jacrev(lambda t: f(t, torch))(torch.tensor(x)).numpy()


# -- jacobian(mode="auto") sizes the output from a traced run -------------------------------------
def test_jacobian_auto_runs_the_hook_in_reverse_mode_as_torch_func_jacrev():
    want = _torch_jacrev(hooked_wide, X)
    J, p = ad.jacobian(hooked_wide, explain=True)(X)
    assert p.mode == "reverse"
    np.testing.assert_allclose(J, want, rtol=1e-14)
    jac = ad.jacobian(hooked_wide)
    np.testing.assert_allclose(jac(X), want, rtol=1e-14)
    np.testing.assert_allclose(jac(X), want, rtol=1e-14)  # the size kept for this signature


def test_jacobian_auto_records_f_to_size_it_never_runs_it_on_plain_arrays():
    seen = []

    def f(x):
        seen.append(type(x).__name__)
        return np.sin(x[:2])

    ad.jacobian(f)(X)
    assert "ndarray" not in seen


def test_jacobian_auto_inside_other_transforms_matches_jax(jax64):
    jnp = jax64.numpy

    def g(x, np=np):
        return np.sin(x)[:2] * x[2:]

    want = jax64.jacfwd(jax64.jacrev(lambda u: g(u, np=jnp)))(X)
    np.testing.assert_allclose(ad.jacfwd(ad.jacobian(g))(X), want, rtol=1e-14)
    np.testing.assert_allclose(ad.jacrev(ad.jacobian(g))(X), want, rtol=1e-14)


def test_jacobian_auto_choosing_forward_refuses_the_hook_and_says_to_pass_mode_reverse():
    with pytest.raises(RuntimeError, match=r"jacobian\(mode='auto'\) \(as n = 4 <= m = 4\).*mode='reverse'"):
        ad.jacobian(hooked_tall)(X)
    np.testing.assert_allclose(
        ad.jacobian(hooked_tall, mode="reverse")(X), _torch_jacrev(hooked_tall, X), rtol=1e-14
    )


# -- hvp: f's value comes from the traced run of the mode -------------------------------------------
def _torch_hvp(f, x, v):
    torch = pytest.importorskip("torch")
    xt, vt = torch.tensor(x), torch.tensor(v)
    return torch.func.jvp(torch.func.grad(lambda t: f(t, torch)), (xt,), (vt,))[1].numpy()


@pytest.mark.parametrize("mode", ["fwd-rev", "rev-rev"])
def test_hvp_modes_with_a_reverse_inner_sweep_run_the_hook_as_torch_func(mode):
    value, Hv = ad.hvp(hooked_sum, (X,), (V,), mode=mode)
    assert value == pytest.approx(np.sum(np.sin(X) ** 2), rel=1e-14)
    np.testing.assert_allclose(Hv, _torch_hvp(hooked_sum, X, V), rtol=1e-13)


@pytest.mark.parametrize("mode", ["fwd-rev", "rev-rev"])
def test_hvp_runs_retain_grad_inside_f(mode):
    value, Hv = ad.hvp(retained_sum, (X,), (V,), mode=mode)
    want_value, want = ad.hvp(lambda x: np.sum(np.sin(x) ** 2), (X,), (V,), mode=mode)
    assert value == want_value
    np.testing.assert_allclose(Hv, want, rtol=1e-14)


@pytest.mark.parametrize("mode", ["rev-fwd", "fwd-fwd"])
def test_hvp_modes_that_take_f_forward_refuse_the_hook_by_name_and_name_the_modes_that_run_it(mode):
    with pytest.raises(RuntimeError, match=rf"register_hook.*hvp\(mode='{mode}'\).*'fwd-rev'.*'rev-rev'"):
        ad.hvp(hooked_sum, (X,), (V,), mode=mode)


@pytest.mark.parametrize("mode", ad.functional.HVP_MODES)
def test_hvp_of_a_function_that_returns_a_tuple_names_hvp_in_every_mode(mode):
    with pytest.raises(TypeError, match=rf"hvp\(mode='{mode}'\).*a tuple of 2 entries|grad needs"):
        ad.hvp(lambda a: (np.sum(a), np.sum(a)), (X,), (V,), mode=mode)


# -- sparse_jacobian given sparsity= ---------------------------------------------------------------
def test_sparse_jacobian_runs_a_hook_in_reverse_passes_of_one_row_each_as_jacrev():
    # a hook that is not linear: each pass must carry one row's cotangent alone
    def clipped(x, lib=np):
        y = lib.sin(x) * x.sum()
        y.register_hook(lambda g: g.clip(-0.5, 0.5))
        return y * 3.0

    P = np.ones((4, 4), dtype=bool)  # every row a color of its own
    J = ad.sparse_jacobian(clipped, X, mode="reverse", sparsity=P)
    np.testing.assert_allclose(J.toarray(), _torch_jacrev(clipped, X), rtol=1e-14)


def test_sparse_jacobian_refuses_a_hook_in_a_compressed_reverse_pass():
    # rows of one color share a pass: a hook would see the sum of their cotangents, and a clip
    # of the sum is not the sum of the clips (the Jacobian came out wrong, silently)
    def f(x):
        y = np.sin(x)
        y.register_hook(lambda g: g.clip(-0.5, 0.5))
        return y * 3.0

    with pytest.raises(RuntimeError, match="compressed reverse pass of sparse_jacobian.*ad.jacrev"):
        ad.sparse_jacobian(f, X, mode="reverse", sparsity=np.eye(4, dtype=bool))


@pytest.mark.parametrize("mode", ["auto", "forward"])
def test_sparse_jacobian_in_forward_mode_refuses_the_hook_and_says_to_pass_mode_reverse(mode):
    with pytest.raises(RuntimeError, match=r"register_hook.*sparse_jacobian.*mode='reverse'"):
        ad.sparse_jacobian(hooked_tall, X, mode=mode, sparsity=np.eye(4, dtype=bool))


def test_sparse_hessian_given_sparsity_differentiates_a_hook_that_is_not_linear():
    # forward over reverse: the hook sees the gradient itself, the compressed directions are
    # tangents of it, so even a squaring hook gives the dense Hessian
    def f(x, lib=np):
        y = lib.sin(x)
        y.register_hook(lambda g: g * g)
        return (y * y).sum()

    torch = pytest.importorskip("torch")
    want = torch.func.hessian(lambda t: f(t, torch))(torch.tensor(X)).numpy()
    H = ad.sparse_hessian(f, X, sparsity=np.eye(4, dtype=bool))
    np.testing.assert_allclose(H.toarray(), want, rtol=1e-13)
    np.testing.assert_allclose(ad.hessian(f)(X), want, rtol=1e-13)


# -- every forward transform refuses a hook by name --------------------------------------------------
@pytest.mark.parametrize(
    "run",
    [
        lambda: ad.jvp(hooked_sum, (X,), (V,)),
        lambda: ad.jacfwd(hooked_tall)(X),
        lambda: ad.jacfwd(hooked_tall, chunk=1)(X),
        lambda: ad.jacobian(hooked_tall, mode="forward")(X),
        lambda: ad.jacfwd(ad.jacobian(hooked_wide, mode="forward"))(X),
        lambda: ad.hvp(hooked_sum, (X,), (V,), mode="rev-fwd"),
        lambda: ad.hvp(hooked_sum, (X,), (V,), mode="fwd-fwd"),
        lambda: ad.sparse_jacobian(hooked_tall, X, mode="forward", sparsity=np.eye(4, dtype=bool)),
    ],
    ids=[
        "jvp",
        "jacfwd",
        "jacfwd-chunk1",
        "jacobian-forward",
        "nested",
        "hvp-rev-fwd",
        "hvp-fwd-fwd",
        "sparse",
    ],
)
def test_every_forward_transform_refuses_a_hook_by_name(run):
    with pytest.raises(RuntimeError, match="register_hook on a value traced in forward mode"):
        run()


def test_jacfwd_on_an_executor_refuses_a_hook_by_name():
    with ThreadPoolExecutor(2) as pool, pytest.raises(RuntimeError, match="register_hook on a value traced"):
        ad.jacfwd(hooked_tall, chunk=1, executor=pool)(X)


# -- retain_grad where no reverse sweep reaches it ---------------------------------------------
@pytest.mark.parametrize(
    "run",
    [
        lambda: ad.jvp(retained_sum, (X,), (V,)),
        lambda: ad.jacfwd(retained_sum)(X),
        lambda: ad.hvp(retained_sum, (X,), (V,), mode="rev-fwd"),
        lambda: ad.jacobian_sparsity(retained_sum, X),
    ],
    ids=["jvp", "jacfwd", "hvp-rev-fwd", "sparsity"],
)
def test_forward_mode_refuses_retain_grad_by_name(run):
    with pytest.raises(RuntimeError, match="retain_grad"):
        run()


def test_checkpoint_refuses_retain_grad_inside_by_name():
    with pytest.raises(RuntimeError, match=r"ad\.checkpoint.*retain_grad"):
        ad.grad(ad.checkpoint(retained_sum))(X)
