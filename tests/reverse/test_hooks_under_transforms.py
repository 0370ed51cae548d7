"""register_hook inside other machinery: the functional transforms run a function's hooks
in their reverse sweeps (as torch.func.grad, vjp, jacrev and hessian do); what cannot run
a hook refuses it by name instead of leaving it out, so that a hook never changes the
derivative in one engine and not in another."""

from __future__ import annotations

import numpy as np
import pytest

import ad

X = np.array([0.1, 0.2, 0.3])
SCALE = np.array([2.0, -1.0, 0.5])


def hooked_sum(x, lib=np):
    """sum(sin(x)) with sin(x)'s gradient scaled by SCALE: the gradient SCALE * cos(x)."""
    y = lib.sin(x)
    y.register_hook(lambda g: g * _like(SCALE, g))
    return y.sum()


def hooked_map(x, lib=np, calls=None):
    """3 sin(x) with the gradient of sin(x) clipped at 1 (a hook that is not linear), each
    call logged: d/dx = min(3 * e_i, 1) cos(x) row by row, i.e. diag(cos(x))."""
    y = lib.sin(x)

    def clip(g):
        if calls is not None:
            calls.append(tuple(g.shape))
        return g.clip(-1.0, 1.0)

    y.register_hook(clip)
    return y * 3.0


def _like(a, g):
    """a as g's kind of array (a torch Tensor under torch, else as it is)."""
    if type(g).__module__.startswith("torch"):
        import torch

        return torch.tensor(a, dtype=g.dtype)
    return a


# -- reverse-mode transforms run the hooks ------------------------------------------------------
def test_grad_runs_a_hook_on_an_intermediate():
    np.testing.assert_allclose(ad.grad(hooked_sum)(X), SCALE * np.cos(X), rtol=1e-14)
    value, g = ad.value_and_grad(hooked_sum)(X)
    assert value == pytest.approx(np.sin(X).sum())
    np.testing.assert_allclose(g, SCALE * np.cos(X), rtol=1e-14)


def test_grad_runs_a_hook_on_its_own_input():
    def f(x):
        x.register_hook(lambda g: g * 3.0)
        return (x * x).sum()

    np.testing.assert_allclose(ad.grad(f)(X), 6.0 * X, rtol=1e-14)


def test_vjp_runs_the_hooks_on_every_call_of_vjp_fn():
    calls = []
    out, vjp_fn = ad.vjp(lambda x: hooked_map(x, calls=calls), X)
    np.testing.assert_allclose(out, 3.0 * np.sin(X), rtol=1e-14)
    ct = np.array([1.0, 0.1, -2.0])
    first, second = vjp_fn(ct), vjp_fn(ct)
    # sin's gradient 3 ct, clipped to [-1, 1], times cos
    want = np.clip(3.0 * ct, -1.0, 1.0) * np.cos(X)
    np.testing.assert_allclose(first[0], want, rtol=1e-14)
    np.testing.assert_allclose(second[0], want, rtol=1e-14)
    assert calls == [(3,), (3,)]


def test_jacrev_runs_a_hook_once_per_direction_and_agrees_with_vjp_row_by_row():
    calls = []
    J = ad.jacrev(lambda x: hooked_map(x, calls=calls))(X)
    # each one-hot seed e_i gives sin's gradient 3 e_i, clipped to e_i: J = diag(cos x), not
    # the 3 diag(cos x) that the hook applied to all directions at once would give
    np.testing.assert_allclose(J, np.diag(np.cos(X)), rtol=1e-14)
    assert calls == [(3,)] * 3
    _, vjp_fn = ad.vjp(hooked_map, X)
    rows = np.stack([vjp_fn(e)[0] for e in np.eye(3)])
    np.testing.assert_allclose(J, rows, rtol=1e-14)
    np.testing.assert_allclose(ad.jacrev(hooked_map, chunk=1)(X), J, rtol=1e-14)
    np.testing.assert_allclose(ad.jacobian(hooked_map, mode="reverse")(X), J, rtol=1e-14)


def test_second_order_differentiates_the_hooked_gradient():
    # the hooked gradient SCALE * cos(x) has the Jacobian diag(-SCALE * sin(x))
    H = np.diag(-SCALE * np.sin(X))
    np.testing.assert_allclose(ad.hessian(hooked_sum)(X), H, rtol=1e-14)
    v = np.array([1.0, -2.0, 0.5])
    value, Hv = ad.hvp(hooked_sum, (X,), (v,))  # fwd-rev
    assert value == pytest.approx(np.sin(X).sum())
    np.testing.assert_allclose(Hv, H @ v, rtol=1e-14)
    np.testing.assert_allclose(ad.jacrev(ad.grad(hooked_sum))(X), H, rtol=1e-14)


def test_the_transforms_agree_with_torch_func():
    torch = pytest.importorskip("torch")
    from torch import func

    xt = torch.tensor(X)
    np.testing.assert_allclose(
        ad.grad(hooked_sum)(X), func.grad(lambda x: hooked_sum(x, torch))(xt).numpy(), rtol=1e-14
    )
    np.testing.assert_allclose(
        ad.hessian(hooked_sum)(X), func.hessian(lambda x: hooked_sum(x, torch))(xt).numpy(), rtol=1e-14
    )
    calls = []
    theirs = func.jacrev(lambda x: hooked_map(x, torch, calls))(xt).numpy()
    np.testing.assert_allclose(ad.jacrev(hooked_map)(X), theirs, rtol=1e-14)
    assert calls == [(3,)]  # torch.func vmaps the hook: one call that computes every direction
    ct = np.array([1.0, 0.1, -2.0])
    (ours,) = ad.vjp(hooked_map, X)[1](ct)
    (want,) = func.vjp(lambda x: hooked_map(x, torch), xt)[1](torch.tensor(ct))
    np.testing.assert_allclose(ours, want.numpy(), rtol=1e-14)


# -- checkpoint: a hook inside is refused; outside, it runs ----------------------------------------
def test_checkpoint_refuses_a_hook_inside_and_says_where_to_put_it():
    words = r"ad.checkpoint\(hooked_sum\): hooked_sum calls register_hook, .* outside the checkpoint"
    with pytest.raises(RuntimeError, match=words):
        ad.grad(ad.checkpoint(hooked_sum))(X)
    x = ad.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError, match=words):
        ad.checkpoint(hooked_sum)(x)
    with pytest.raises(RuntimeError, match="calls register_hook"):
        ad.grad(lambda x: np.sum(ad.checkpoint_sequential([np.cos, hooked_map, np.cos], "sqrt")(x)))(X)


def test_hooks_outside_a_checkpoint_run_as_without_it():
    def run(wrap):
        x = ad.tensor(X, requires_grad=True)
        x.register_hook(lambda g: g * 2.0)
        y = wrap(lambda v: np.sin(v) * v)(x)
        y.register_hook(lambda g: g * SCALE)
        y.sum().backward()
        return x.grad.numpy()

    # d/dx sum(SCALE * sin(x) x), doubled
    want = 2.0 * SCALE * (np.cos(X) * X + np.sin(X))
    np.testing.assert_allclose(run(lambda f: f), want, rtol=1e-14)
    np.testing.assert_allclose(run(ad.checkpoint), want, rtol=1e-14)


def test_a_hook_that_reaches_only_the_recomputation_runs_there():
    # f asks for a Tensor before hooking it: its forward run, on plain arrays, skips the hook,
    # and the recomputation inside backward runs it
    def f(x):
        y = np.sin(x)
        if isinstance(y, ad.Tensor):
            y.register_hook(lambda g: g * SCALE)
        return y.sum()

    np.testing.assert_allclose(ad.grad(ad.checkpoint(f))(X), SCALE * np.cos(X), rtol=1e-14)


# -- compile and forward mode: no sweep to run a hook in -------------------------------------------
def test_compile_refuses_a_hook():
    with pytest.raises(NotImplementedError, match="ad.compile cannot record register_hook.*ad.grad"):
        ad.compile(hooked_sum, X)


@pytest.mark.parametrize(
    "run",
    [
        lambda: ad.jvp(hooked_sum, (X,), (np.ones(3),)),
        lambda: ad.jacfwd(hooked_map)(X),
        lambda: ad.jacobian(hooked_map, mode="forward")(X),
        lambda: ad.grad(lambda x: ad.jvp(hooked_sum, (x,), (np.ones(3),))[1])(X),
    ],
    ids=["jvp", "jacfwd", "jacobian-forward", "jvp-inside-grad"],
)
def test_forward_mode_refuses_a_hook_and_says_to_differentiate_in_reverse_mode(run):
    with pytest.raises(RuntimeError, match="register_hook on a value traced in forward mode"):
        run()


def test_sparsity_detection_refuses_a_hook_by_name():
    with pytest.raises(RuntimeError, match="register_hook on a value traced in sparsity mode"):
        ad.jacobian_sparsity(hooked_map, X)


def test_forward_mode_raises_rather_than_leave_a_hook_out():
    # never a derivative without the hook
    with pytest.raises(RuntimeError, match="register_hook"):
        ad.jacfwd(hooked_map)(X)
    # this mode runs f on plain arrays first (for its value): NumPy's AttributeError
    with pytest.raises((AttributeError, RuntimeError), match="register_hook"):
        ad.hvp(hooked_sum, (X,), (np.ones(3),), mode="rev-fwd")
