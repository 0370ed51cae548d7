"""What README.md and docs/{forward,second-order,linalg,registry,sparse,benchmarks}.md state in
prose, checked against the code: values, errors, conventions, signatures, and the figures the
benchmark page quotes from docs/figures. Where a page names JAX or PyTorch as the reference,
they are the oracle."""

import csv
import inspect
import math
import operator
import pathlib
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import ad
from ad.transform import default_chunk

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _grads(f, *args):
    return ad.grad(f, argnums=tuple(range(len(args))))(*args)


def _jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax, jax.numpy


# -- README.md ---------------------------------------------------------------------------------
def test_readme_api_exists_with_the_signatures_it_shows():
    assert list(inspect.signature(ad.hvp).parameters) == ["f", "primals", "tangents", "mode"]
    assert inspect.signature(ad.hvp).parameters["mode"].default == "fwd-rev"
    jac = inspect.signature(ad.jacobian).parameters
    assert jac["mode"].default == "auto" and "explain" in jac
    for name in ("jacfwd", "jacrev", "jacobian", "hessian", "sparse_jacobian", "sparse_hessian"):
        assert "executor" in inspect.signature(getattr(ad, name)).parameters, name
    for name in ("compile", "checkpoint", "implicit_root", "defop", "gradcheck", "value_and_grad"):
        assert callable(getattr(ad, name)), name


def test_readme_compare_options_exist():
    from ad.compare import cli

    parser_text = inspect.getsource(cli)
    for option in ("--quick", "--problems", "--peers", "--threads", "--out", "--function", "--input"):
        assert f'"{option}"' in parser_text, option
    assert str(cli.DEFAULT_OUT) == "ad-report" and str(cli.QUICK_OUT) == "ad-report-quick"


def test_readme_nesting_in_every_order():
    f = lambda x: np.sum(np.tanh(x) ** 2)  # noqa: E731
    x = np.linspace(-1, 1, 5)
    H = ad.hessian(f)(x)
    np.testing.assert_allclose(ad.jacfwd(ad.grad(f))(x), H, rtol=1e-13)
    np.testing.assert_allclose(ad.grad(lambda y: ad.grad(f)(y)[0])(x), H[0], rtol=1e-13)
    v = np.ones(5)
    np.testing.assert_allclose(ad.grad(lambda y: ad.jvp(f, (y,), (v,))[1])(x), H @ v, rtol=1e-13)


# -- docs/forward.md ---------------------------------------------------------------------------
def test_default_chunk_is_all_directions_up_to_362_then_as_many_as_fit_never_below_128():
    assert default_chunk(362) == 362 and 362 * 362 <= 2**17 < 363 * 363
    assert default_chunk(363) < 363
    assert math.ceil(400 / default_chunk(400)) == 2
    assert default_chunk(5000) == 128 and default_chunk(10**6) == 128
    assert max(default_chunk(n) for n in range(1, 2000)) / 128 < 3


def test_the_whole_seed_product_is_a_plus_zero_and_a_nan_of_inf_does_not_depend_on_passes():
    A = np.array([[1.0, -0.0], [2.0, 3.0]])
    J = ad.jacfwd(lambda v: A @ v)(np.ones(2))
    assert np.array_equal(J, A) and not np.signbit(J).any()
    B = np.array([[np.inf, 1.0], [2.0, 3.0]])
    with np.errstate(invalid="ignore"):
        J1, Jk = ad.jacfwd(lambda v: B @ v, chunk=1)(np.ones(2)), ad.jacfwd(lambda v: B @ v)(np.ones(2))
    np.testing.assert_array_equal(J1, Jk)
    assert np.isnan(Jk[0, 1])


@pytest.mark.parametrize("chunk", [0, -1, 1.5, 2.0, True, "3"])
def test_chunk_must_be_a_whole_number_at_least_one(chunk):
    with pytest.raises((TypeError, ValueError), match="chunk="):
        ad.jacfwd(np.sin, chunk=chunk)(np.ones(3))


def test_a_chunk_that_does_not_divide_n_gives_the_same_jacobian():
    f = lambda v: np.tanh(np.outer(v, v) @ v)  # noqa: E731
    x = np.linspace(-1, 1, 7)
    J = ad.jacfwd(f)(x)
    for k in (1, 2, 3, 5):
        np.testing.assert_allclose(ad.jacfwd(f, chunk=k)(x), J, rtol=1e-14, atol=1e-15)


def test_hand_made_duals_share_a_level_and_sit_between_tensors_and_transforms():
    d = ad.Dual(2.0, 1.0) * ad.Dual(3.0, 1.0)
    assert d.primal == 6.0 and d.tangent == 5.0
    x, v = np.array([0.3, 0.7]), np.array([1.0, 2.0])
    t = ad.tensor(x, requires_grad=True)
    np.sum(np.sin(ad.Dual(t, v)) ** 2).tangent.backward()  # the gradient of the JVP
    np.testing.assert_allclose(t.grad.numpy(), 2 * np.cos(2 * x) * v, rtol=1e-14)
    f = lambda z: np.sum(np.sin(z) ** 3)  # noqa: E731
    out = ad.grad(f)(ad.Dual(x, v))
    np.testing.assert_allclose(out.primal, ad.grad(f)(x), rtol=1e-14)
    np.testing.assert_allclose(out.tangent, ad.hvp(f, (x,), (v,))[1], rtol=1e-14)


def test_a_dual_of_a_dual_or_of_a_transforms_own_value_raises():
    with pytest.raises(TypeError):
        ad.Dual(ad.Dual(1.0, 1.0), 1.0)
    with pytest.raises(TypeError):
        ad.jvp(lambda z: ad.Dual(z, 1.0) * 2, (1.0,), (1.0,))


def test_a_leaked_value_is_a_constant_later_and_never_becomes_a_number():
    leak = []
    ad.jvp(lambda z: leak.append(z) or z * 2, (1.0,), (1.0,))
    later = ad.grad(lambda z: z * leak[0])(2.0)
    assert isinstance(later, ad.Dual)
    with pytest.raises(TypeError):
        float(later)
    with pytest.raises(TypeError):
        np.asarray(later)


def test_jvp_refuses_an_f_returning_a_function():
    with pytest.raises(TypeError, match="return arrays of numbers"):
        ad.jvp(lambda z: lambda: z, (1.0,), (1.0,))


def test_forward_in_place_writes_rebind_or_refuse_as_stated():
    x = np.array([1.0, 2.0, 3.0])

    def add_one(z):
        y = z * 2
        y += 1
        return y

    np.testing.assert_array_equal(ad.jacfwd(add_one)(x), 2 * np.eye(3))

    def set_item(z):
        y = z * 2
        y[0] = 5.0
        return y

    with pytest.raises(TypeError, match=r"np\.where"):
        ad.jacfwd(set_item)(x)
    np.testing.assert_array_equal(ad.jacrev(set_item)(x), np.diag([0.0, 2.0, 2.0]))
    np.testing.assert_array_equal(ad.jacobian(set_item, mode="reverse")(x), np.diag([0.0, 2.0, 2.0]))

    def through_a_view(z):
        y = z * 2
        v = y[1:]
        y += 1
        return v

    for transform in (ad.jacfwd, lambda f: lambda x: ad.compile(f, x), ad.jacobian_sparsity):
        with pytest.raises(TypeError, match="shares memory"):
            transform(through_a_view)(x) if transform is not ad.jacobian_sparsity else transform(
                through_a_view, x
            )

    def view_of_a_temporary(z):
        v = (z * 2)[1:]
        v += 1
        return v

    np.testing.assert_array_equal(ad.jacfwd(view_of_a_temporary)(x), 2 * np.eye(3)[1:])

    def alias(z):
        u = z * 2
        v = u
        u += 1
        return v

    value, _ = ad.jvp(alias, (x,), (np.ones(3),))
    np.testing.assert_array_equal(value, 2 * x)  # v keeps the old value, as in JAX


@pytest.mark.parametrize(
    "call",
    [
        float,
        int,
        complex,
        lambda v: v.item(),
        lambda v: v.tolist(),
        operator.index,
        np.float64,
        math.sin,
        np.asarray,
        lambda v: np.array([v, v]),
    ],
    ids=["float", "int", "complex", "item", "tolist", "index", "np.float64", "math.sin", "asarray", "array"],
)
def test_concretization_raises_a_type_error_inside_a_transform(call):
    with pytest.raises(TypeError, match="would drop its derivative"):
        ad.jacfwd(lambda z: call(z))(0.3)


def test_writing_a_traced_value_into_a_plain_array_is_a_type_error_under_numpys_value_error():
    def f(z):
        out = np.zeros(2)
        out[0] = z
        return out

    with pytest.raises(ValueError, match="setting an array element with a sequence") as info:
        ad.jacfwd(f)(0.3)
    assert isinstance(info.value.__cause__, TypeError)
    with pytest.raises(TypeError):
        float(ad.Dual(0.3, 1.0))


def test_shapes_comparisons_and_bool_stay_plain_inside_a_transform():
    def f(z):
        s = 0
        for i in range(len(z)):
            s = s + z[i] * z.ndim * z.size * z.shape[0]
        return s * bool(z[0]) if z[0] > 0 else s

    np.testing.assert_array_equal(ad.jacfwd(f)(np.ones(3)), np.full(3, 9.0))
    assert type(np.floor(ad.Dual(np.ones(2), np.ones(2)))) is np.ndarray
    assert type(ad.Dual(np.ones(2), np.ones(2)) > 0) is np.ndarray


def test_nan_and_inf_propagate_in_forward_mode():
    with np.errstate(all="ignore"):
        y, t = ad.jvp(np.log, (np.array([-1.0, 0.0, np.inf]),), (np.ones(3),))
    assert np.isnan(y[0]) and y[1] == -np.inf and t[1] == np.inf


def test_non_smooth_points_and_ties_follow_the_stated_conventions():
    assert ad.grad(ad.relu)(0.0) == 0 and ad.grad(np.abs)(0.0) == 0 and ad.jacfwd(np.abs)(0.0) == 0
    assert ad.grad(lambda x: np.maximum(x, x))(1.0) == 1
    assert _grads(np.maximum, 1.0, 1.0) == (0.5, 0.5)
    assert _grads(np.copysign, 0.0, 1.0) == (0, 0)
    assert _grads(np.fmax, 1.0, 1.0) == (0.5, 0.5) and _grads(np.fmin, 1.0, 1.0) == (0.5, 0.5)
    assert _grads(np.clip, 0.0, 0.0, 1.0) == (1, 0, 0) and _grads(np.clip, 1.0, 0.0, 1.0) == (1, 0, 0)
    assert np.clip(0.5, 2.0, 1.0) == 1.0 and _grads(np.clip, 0.5, 2.0, 1.0) == (0, 0, 1)
    assert _grads(np.heaviside, 0.0, 0.5) == (0, 1)
    for std in (np.std, np.nanstd):
        np.testing.assert_array_equal(ad.grad(std)(np.ones(3)), 0.0)
    np.testing.assert_array_equal(ad.grad(lambda x: np.sum(np.std(x, axis=1)))(np.ones((2, 1))), 0.0)
    np.testing.assert_array_equal(ad.grad(lambda x: np.sum(np.std(x, axis=())))(np.ones(2)), 0.0)
    x = np.array([0.0, 1.0, 3.0, 7.0])  # q (n - 1) an integer: the slope of the segment to the right
    assert ad.grad(lambda q: np.quantile(x, q))(1 / 3) == pytest.approx(6.0)
    assert ad.grad(lambda q: np.quantile(x, q))(2 / 3) == pytest.approx(12.0)
    assert ad.grad(lambda q: np.quantile(x, q))(1.0) == 0
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for op in (np.logaddexp, np.logaddexp2):
            assert _grads(op, np.inf, 1.0) == (1, 0) and _grads(op, np.inf, np.inf) == (0.5, 0.5)
    S = np.array([[1.0, 2.0], [2.0, 4.0]])  # singular: the adjugate
    np.testing.assert_allclose(ad.grad(np.linalg.det)(S), [[4.0, -2.0], [-2.0, 1.0]], rtol=1e-12)
    T = np.diag([1e-200, 1e-200])  # det underflows to 0
    assert np.linalg.det(T) == 0
    np.testing.assert_allclose(ad.grad(np.linalg.det)(T), T, rtol=1e-12)


def test_where_the_peers_differ_ad_sides_with_the_one_stated():
    jax, jnp = _jax()
    torch = pytest.importorskip("torch")

    def torch_grads(f, *xs):
        ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
        f(*ts).backward()
        return tuple(float(t.grad) for t in ts)

    assert _grads(np.copysign, 0.0, 1.0) == torch_grads(torch.copysign, 0.0, 1.0)
    assert jax.grad(jnp.copysign)(0.0, 1.0) == 1  # JAX: ±1
    assert _grads(np.clip, 0.0, 0.0, 1.0) == torch_grads(torch.clamp, 0.0, 0.0, 1.0)
    assert jax.grad(jnp.clip)(0.0, 0.0, 1.0) == 0.5
    assert _grads(np.heaviside, 0.0, 0.5) == tuple(jax.grad(jnp.heaviside, (0, 1))(0.0, 0.5))
    assert np.array_equal(torch_grads(lambda t: torch.std(t, correction=0), 1.0), [0.0])
    assert np.isnan(jax.grad(jnp.std)(jnp.ones(3))).all()
    S = np.array([[1.0, 2.0], [2.0, 4.0]])
    np.testing.assert_allclose(ad.grad(np.linalg.det)(S), jax.grad(jnp.linalg.det)(S), rtol=1e-12)
    q = 1 / 3
    assert jax.grad(lambda q: jnp.quantile(jnp.array([0.0, 1.0, 3.0, 7.0]), q))(q) == 0


def test_the_stated_edge_values_match_the_peers():
    assert ad.grad(lambda x: x**0)(0.0) == 0 and ad.jacfwd(lambda x: x**0)(0.0) == 0
    for p in (0.0, 2.0):
        assert ad.grad(lambda p: 0.0**p)(p) == 0 and ad.jacfwd(lambda p: np.power(0.0, p))(p) == 0
    assert ad.grad(np.sinc)(0.0) == 0
    for second in (ad.grad(ad.grad(np.sinc))(0.0), ad.jacfwd(ad.jacfwd(np.sinc))(0.0)):
        assert second == pytest.approx(-(np.pi**2) / 3, rel=1e-12)
    big = np.array([1000.0, 1001.0, -1e5])
    np.testing.assert_allclose(ad.grad(ad.logsumexp)(big), ad.softmax(big), rtol=1e-14)
    assert _grads(np.fmax, np.nan, 1.0) == (0, 1) and _grads(np.fmin, 1.0, np.nan) == (1, 0)


def test_a_numpy_function_without_a_rule_names_itself_and_the_mode():
    with pytest.raises(NotImplementedError, match=r"busday_count \(forward mode\)"):
        ad.jacfwd(lambda z: np.busday_count(z, z))(1.0)


def test_jacfwd_makes_ceil_n_over_k_passes_and_jacrev_records_f_once():
    calls = []

    def f(x):
        calls.append(1)
        return np.tanh(x) * 2

    for n, chunk, passes in ((10, 3, 4), (10, None, 1), (400, None, 2), (7, 7, 1)):
        calls.clear()
        ad.jacfwd(f, chunk=chunk)(np.ones(n))
        assert len(calls) == passes, (n, chunk)
        calls.clear()
        ad.jacrev(f, chunk=chunk)(np.ones(n))
        assert len(calls) == 1


def test_reverse_memory_grows_with_depth_and_forward_memory_does_not():
    import tracemalloc

    W = np.random.default_rng(0).standard_normal((64, 64)) / 8

    def chain(L):
        def g(h):
            for _ in range(L):
                h = np.tanh(W @ h)
            return np.sum(h)

        return g

    def peak(run):
        tracemalloc.start()
        try:
            run()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    x = np.ones(64)
    ad.grad(chain(2))(x), ad.jvp(chain(2), (x,), (x,))  # warm caches outside the measurement
    grad_peaks = [peak(lambda L=L: ad.grad(chain(L))(x)) for L in (8, 64)]
    jvp_peaks = [peak(lambda L=L: ad.jvp(chain(L), (x,), (x,))) for L in (8, 64)]
    assert grad_peaks[1] > 4 * grad_peaks[0]  # the tape holds every layer's saved value
    assert jvp_peaks[1] < 1.25 * jvp_peaks[0]  # a pass holds the current value and tangent


# -- docs/second-order.md ----------------------------------------------------------------------
def test_the_four_hvp_modes_the_hessian_and_its_three_other_spellings_agree():
    f = lambda x: np.sum(np.sin(x) * x[::-1] ** 2) + np.prod(x)  # noqa: E731
    x, v = np.linspace(0.1, 0.9, 5), np.arange(5.0)
    H = ad.hessian(f)(x)
    for jac in (
        ad.jacrev(ad.grad(f)),
        ad.jacfwd(ad.jacfwd(f)),
        ad.jacrev(ad.jacfwd(f)),
        ad.jacfwd(ad.grad(f)),
    ):
        np.testing.assert_allclose(jac(x), H, rtol=1e-13, atol=1e-14)
    assert ad.functional.HVP_MODES == ("fwd-rev", "rev-fwd", "rev-rev", "fwd-fwd")
    for mode in ad.functional.HVP_MODES:
        value, Hv = ad.hvp(f, (x,), (v,), mode=mode)
        assert value == f(x) and Hv.shape == v.shape
        np.testing.assert_allclose(Hv, H @ v, rtol=1e-11, atol=1e-11)


def test_create_graph_makes_grad_a_tensor_with_a_history():
    f = lambda x: np.sum(np.sin(x) * x**2)  # noqa: E731
    x, v = np.linspace(0.1, 0.9, 4), np.ones(4)
    t = ad.tensor(x, requires_grad=True)
    f(t).backward(create_graph=True)
    g = t.grad
    assert isinstance(g, ad.Tensor) and g.grad_fn is not None
    t.grad = None
    np.sum(g * v).backward()
    np.testing.assert_allclose(t.grad.numpy(), ad.hessian(f)(x) @ v, rtol=1e-13)


def test_the_asv_hvp_suite_measures_all_four_modes():
    import sys

    sys.path.insert(0, str(ROOT / "asv_bench"))
    try:
        from benchmarks import workloads
    finally:
        sys.path.remove(str(ROOT / "asv_bench"))
    assert workloads.HVP_MODES == list(ad.functional.HVP_MODES)


# -- docs/linalg.md ----------------------------------------------------------------------------
def test_linalg_values_where_no_derivative_exists():
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        eye = np.eye(3)
        assert np.isfinite(ad.grad(lambda a: np.sum(np.linalg.svd(a)[1] ** 2))(eye)).all()
        assert not np.isfinite(ad.grad(lambda a: np.sum(np.linalg.svd(a)[0][:, 0]))(eye)).all()
        assert np.isfinite(ad.grad(lambda a: np.sum(np.real(np.linalg.eig(a)[0])))(eye)).all()
        assert not np.isfinite(ad.grad(lambda a: np.sum(np.real(np.linalg.eig(a)[1])))(eye)).all()
        jordan = np.array([[1.0, 1.0], [0.0, 1.0]])
        one = ad.grad(lambda a: np.real(np.linalg.eigvals(a)[0]))(jordan)
        assert np.abs(one).max() > 1e12
        trace = ad.grad(lambda a: np.sum(np.real(np.linalg.eigvals(a))))(jordan)
        np.testing.assert_allclose(trace, np.eye(2), atol=1e-12)
        singular = np.diag([1.0, 0.0])
        for p in (None, 2, -2):
            np.testing.assert_array_equal(ad.grad(lambda a: np.linalg.cond(a, p))(singular), 0.0)
        for p in (1, np.inf, "fro"):
            with pytest.raises(np.linalg.LinAlgError):
                ad.grad(lambda a: np.linalg.cond(a, p))(singular)
        np.testing.assert_array_equal(ad.grad(np.linalg.norm)(np.zeros(3)), 0.0)
        x = np.array([0.0, 1.0, -2.0])
        for p in (0.5, 1, 3):
            g = ad.grad(lambda v: np.linalg.norm(v, p))(x)
            n = np.linalg.norm(x, p)
            np.testing.assert_allclose(g, np.sign(x) * np.nan_to_num((np.abs(x) / n) ** (p - 1)), rtol=1e-13)
        np.testing.assert_array_equal(ad.grad(lambda v: np.linalg.norm(v, 0))(x), 0.0)
        np.testing.assert_allclose(ad.grad(lambda a: np.linalg.norm(a, 2))(np.eye(2)), np.eye(2) / 2)


def test_linalg_refusals():
    rng = np.random.default_rng(0)
    tall, square = rng.standard_normal((4, 2)), rng.standard_normal((3, 3))
    with pytest.raises(NotImplementedError, match="complete"):
        ad.grad(lambda a: np.sum(np.linalg.qr(a, mode="complete")[0]))(tall)
    for f in (lambda a: np.linalg.svd(a, hermitian=True)[1], lambda a: np.linalg.pinv(a, hermitian=True)):
        with pytest.raises(NotImplementedError, match="hermitian=True"):
            ad.grad(lambda a: np.sum(f(a)))(square + square.T)
    c = square + 1j * rng.standard_normal((3, 3))
    taken = {
        "svd": lambda a: np.sum(np.linalg.svd(a)[1]) + np.sum(np.abs(np.linalg.svd(a)[0][:, 0])),
        "svdvals": lambda a: np.sum(np.linalg.svd(a, compute_uv=False)),
        "linalg.svdvals": lambda a: np.sum(np.linalg.svdvals(a)),
        "cond": lambda a: np.linalg.cond(a),
        "cond fro": lambda a: np.linalg.cond(a, "fro"),
        "lstsq": lambda a: np.sum(np.abs(np.linalg.lstsq(a, np.ones(3), rcond=None)[0])),
        "eig": lambda a: np.sum(np.abs(np.linalg.eig(a)[0])),
        "eigvals": lambda a: np.sum(np.abs(np.linalg.eigvals(a))),
        "qr": lambda a: np.sum(np.abs(np.linalg.qr(a)[1])),
        "pinv": lambda a: np.sum(np.abs(np.linalg.pinv(a))),
        "norm": lambda a: np.linalg.norm(a),
        "matrix_power": lambda a: np.sum(np.abs(np.linalg.matrix_power(a, 3))),
    }
    for name, f in taken.items():
        assert ad.grad(f)(c).dtype == np.complex128, name


def test_every_numpy_linalg_function_has_an_op():
    from ad import registry

    names = [n for n in dir(np.linalg) if not n.startswith("_") and callable(getattr(np.linalg, n))]
    missing = [
        n
        for n in names
        if n not in ("LinAlgError", "test") and registry.lookup(getattr(np.linalg, n)) is None
    ]
    assert not missing


def test_linalg_against_jax():
    jax, jnp = _jax()
    rng = np.random.default_rng(1)
    A, tall = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    rank1 = np.outer([1.0, 2, 3], [1.0, 0, 1.0])  # pinv at a rank deficiency: JAX's formula
    orders = (None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf)

    @jax.jit  # JAX's gradients in one compiled call: op by op they take seconds
    def expected(A, tall, rank1):
        norms = [jax.grad(lambda a, o=o: jnp.linalg.norm(a, o))(A) for o in orders]
        qr = jax.grad(lambda a: jnp.sum(jnp.linalg.qr(a)[0] ** 3))(tall)
        return norms, qr, jax.grad(lambda a: jnp.sum(jnp.linalg.pinv(a) ** 2))(rank1)

    norms, qr, pinv = expected(A, tall, rank1)
    for o, want in zip(orders, norms, strict=True):
        np.testing.assert_allclose(ad.grad(lambda a: np.linalg.norm(a, o))(A), want, atol=1e-14)
    np.testing.assert_allclose(ad.grad(lambda a: np.sum(np.linalg.qr(a)[0] ** 3))(tall), qr, atol=1e-13)
    np.testing.assert_allclose(ad.grad(lambda a: np.sum(np.linalg.pinv(a) ** 2))(rank1), pinv, atol=1e-13)

    # the extra columns of a full svd: exact for the projector onto their span
    def projector(a):
        U2 = np.linalg.svd(a, full_matrices=True)[0][:, 2:]
        return np.sum((U2 @ U2.T) * np.arange(16.0).reshape(4, 4))

    E = np.zeros_like(tall)
    E[1, 0] = 1e-6
    fd = (projector(tall + E) - projector(tall - E)) / 2e-6
    assert ad.grad(projector)(tall)[1, 0] == pytest.approx(fd, rel=1e-6)


# -- docs/registry.md --------------------------------------------------------------------------
def test_the_registry_page_lists_every_ops_module_and_every_field_it_describes_exists():
    text = (DOCS / "registry.md").read_text()
    listed = re.search(r"one module per family \((.*?)\)\.", text, re.S).group(1)
    modules = {p.stem for p in (ROOT / "ad" / "ops").glob("*.py") if p.stem != "__init__"}
    assert set(re.findall(r"`(\w+)`", listed)) == modules
    from ad.registry import Op

    table = text.split("| field | meaning |", 1)[1].split("\n\n", 1)[0]
    fields = re.findall(r"^\| `(\w+)` \|", table, re.M)
    assert fields and not set(fields) - set(Op.__dataclass_fields__)


def test_defop_rules_behave_as_the_registry_page_says():
    from ad import registry

    sin_vjp_only = ad.defop("docs_vjp_only", np.sin, vjp=lambda ct, p, o, pr, b: (ct * np.cos(p[0]),))
    assert ad.jacrev(ad.grad(sin_vjp_only))(0.3) == pytest.approx(-np.sin(0.3))
    assert ad.hvp(sin_vjp_only, (0.3,), (1.0,), mode="rev-rev")[1] == pytest.approx(-np.sin(0.3))
    for forward in (lambda: ad.jvp(sin_vjp_only, (0.3,), (1.0,)), lambda: ad.hessian(sin_vjp_only)(0.3)):
        with pytest.raises(NotImplementedError, match="docs_vjp_only"):
            forward()
    sin_jvp_only = ad.defop("docs_jvp_only", np.sin, jvp=lambda t, p, o, pr, b: t[0] * np.cos(p[0]))
    assert ad.grad(sin_jvp_only)(0.3) == pytest.approx(np.cos(0.3))

    seen = {}

    def mul_jvp(t, p, o, pr, b):
        seen["t"] = t
        return t[0] * p[1] + p[0] * t[1]

    mul = ad.defop("docs_mul", np.multiply, jvp=mul_jvp, vjp=lambda ct, p, o, pr, b: (ct * p[1], ct * p[0]))
    ad.jvp(lambda a: mul(a, np.array([2.0, 3.0])), (np.ones(2),), (np.ones(2),))
    assert seen["t"][1] is not None and np.array_equal(seen["t"][1], np.zeros(2))

    wrong = ad.defop("docs_wrong_shape", np.sin, vjp=lambda ct, p, o, pr, b: (np.sum(ct) * np.ones(3),))
    with pytest.raises(ValueError, match="shape"):
        ad.grad(lambda x: np.sum(wrong(x)))(np.ones(2))
    bare = ad.defop("docs_bare", np.sin, vjp=lambda ct, p, o, pr, b: ct * np.cos(p[0]))
    with pytest.raises(TypeError, match="tuple"):
        ad.grad(lambda x: np.sum(bare(x)))(np.ones(2))
    wide = ad.defop(
        "docs_f64_rule", np.sin, jvp=lambda t, p, o, pr, b: (t[0] * np.cos(p[0])).astype(np.float64)
    )
    x32 = np.ones(2, np.float32)
    assert ad.jvp(wide, (x32,), (x32,))[1].dtype == np.float32
    assert ad.grad(lambda x: np.sum(wide(x)))(x32).dtype == np.float32

    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    ignores_axis = ad.defop(
        "docs_solve", lambda b: np.linalg.solve(A, b), jvp=lambda t, p, o, pr, b: np.linalg.solve(A, t[0])
    )
    with pytest.raises(ValueError, match="loop_batch=True"):
        ad.jacfwd(ignores_axis)(np.ones(2))
    looped = ad.defop(
        "docs_solve_loop",
        lambda b: np.linalg.solve(A, b),
        jvp=lambda t, p, o, pr, b: np.linalg.solve(A, t[0]),
        loop_batch=True,
    )
    np.testing.assert_allclose(ad.jacfwd(looped)(np.ones(2)), np.linalg.inv(A), rtol=1e-14)

    ad.defop(
        "docs_twice", np.multiply, derivs=(lambda x, y, o: 2 * y, lambda x, y, o: 2 * x), handles=np.multiply
    )
    try:
        assert ad.grad(lambda x: x * 3.0)(1.0) == 6.0
    finally:
        registry.unregister("docs_twice")
    assert ad.grad(lambda x: x * 3.0)(1.0) == 3.0


@pytest.mark.parametrize(
    "rules",
    [
        {"jvp": lambda t, p, o, pr, b: t[0] * 2.0, "vjp": lambda ct, p, o, pr, b: (ct * 2.0,)},
        {"derivs": (lambda y, o: 2.0,)},
    ],
    ids=["general", "elementwise"],
)
def test_defop_refuses_an_implementation_closing_over_a_traced_value(rules):
    box = {}
    op = ad.defop(f"docs_closes_{len(rules)}", lambda y: y * box["x"], **rules)

    def f(x):
        box["x"] = x
        return op(x)

    for transform in (ad.grad, ad.jacfwd):
        with pytest.raises(TypeError, match="closes over"):
            transform(f)(2.0)


# -- docs/sparse.md ----------------------------------------------------------------------------
def _pattern(f, x, **kw):
    return ad.jacobian_sparsity(f, x, **kw).toarray().astype(int)


def _five_point(u, k):
    U = u.reshape(k, k)
    P = np.pad(U, 1)
    return (P[2:, 1:-1] + P[:-2, 1:-1] + P[1:-1, 2:] + P[1:-1, :-2] - 4 * U).ravel()


def test_coloring_orders_reach_the_stated_counts():
    P = ad.jacobian_sparsity(lambda u: _five_point(u, 10), np.ones(100))
    colors = lambda coloring, order: int(coloring(P, order).max()) + 1  # noqa: E731
    assert colors(ad.sparse.column_coloring, "smallest_last") == 5
    assert colors(ad.sparse.column_coloring, "largest_first") == 7
    assert colors(ad.sparse.star_coloring, "largest_first") == 5
    assert colors(ad.sparse.star_coloring, "smallest_last") == 6
    assert colors(ad.sparse.column_coloring, "best") == colors(ad.sparse.star_coloring, "best") == 5
    n = 50
    arrow = np.eye(n, dtype=bool)
    arrow[0, :] = arrow[:, 0] = True
    arrow = sp.csr_array(arrow)
    assert ad.sparse.star_coloring(arrow).max() + 1 == 2
    assert ad.sparse.column_coloring(arrow).max() + 1 == n and ad.sparse.row_coloring(arrow).max() + 1 == n


def test_auto_takes_the_side_with_fewer_colors_and_forward_on_a_tie():
    def residual(u):
        inner = (u[2:] - 2 * u[1:-1] + u[:-2]) + u[1:-1] * (1 - u[1:-1])
        return np.concatenate([u[:1], inner, u[-1:]])

    assert ad.prepare_sparse_jacobian(residual, np.ones(20)).plan.mode == "forward"  # 3 against 3
    dense_row = lambda u: np.concatenate([u, np.sum(u, keepdims=True)])  # noqa: E731
    assert ad.prepare_sparse_jacobian(dense_row, np.ones(6)).plan.mode == "reverse"
    dense_column = lambda u: u[:-1] * u[-1]  # noqa: E731
    assert ad.prepare_sparse_jacobian(dense_column, np.ones(6)).plan.mode == "forward"


def test_detection_reads_structure_as_stated():
    x = np.arange(1.0, 4.0)
    np.testing.assert_array_equal(_pattern(lambda v: v - v, x), np.eye(3))
    A = np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]])
    np.testing.assert_array_equal(_pattern(lambda v: A @ v, x), A != 0)
    np.testing.assert_array_equal(_pattern(lambda v: np.array([[1.0, 1e-17, 0.0]]) @ v, x), [[1, 1, 0]])
    np.testing.assert_array_equal(_pattern(lambda v: np.where(np.array([True, False, True]), v, 0.0), x), 1)
    np.testing.assert_array_equal(_pattern(lambda v: np.max(v.reshape(1, 3), axis=1), x), 1)
    np.testing.assert_array_equal(_pattern(lambda v: v * (v > 0), x), np.eye(3))
    H = ad.hessian_sparsity(lambda v: v[:2] @ v[2:4], np.arange(4.0)).toarray()
    np.testing.assert_array_equal(H, np.kron([[0, 1], [1, 0]], np.ones((2, 2))))


@pytest.mark.parametrize(
    "f",
    [
        lambda v: v * 2 if v[0] > 0 else v,
        lambda v: v[np.argmax(v)],
        lambda v: v.take(np.argsort(v)),
        lambda v: v.repeat(np.floor(v).astype(int)),
        lambda v: v[[np.argmax(v), 0]],
        lambda v: np.add(v, 1, where=v > 0),
        lambda v: np.unique(v),
        lambda v: np.union1d(v, v),
        lambda v: np.sort_complex(v),
        lambda v: np.trim_zeros(v),
        lambda v: np.compress(v > 1, v),
        lambda v: np.extract(v > 2, v),
        lambda v: np.choose((v > 2).astype(int), [v, 2 * v]),
        lambda v: np.delete(v, np.argmax(v)),
        lambda v: np.interp(v, [0.0, 2.0, 4.0], v),
        lambda v: np.histogram(v, bins=2, weights=v)[0],
    ],
)
def test_global_detection_refuses_structure_read_off_values(f):
    with pytest.raises(ad.sparse.ValueDependenceError):
        ad.jacobian_sparsity(f, np.arange(1.0, 4.0))


def test_local_detection_and_a_given_sparsity():
    x = np.arange(1.0, 4.0)
    np.testing.assert_array_equal(_pattern(lambda v: v[np.argmax(v)], x, local=True), [[0, 0, 1]])
    np.testing.assert_array_equal(
        _pattern(lambda v: np.where(np.array([True, False, True]), v, 0.0), x, local=True), np.diag([1, 0, 1])
    )
    prep = ad.prepare_sparse_jacobian(lambda v: v[v > 1.5] ** 2, x, local=True)
    assert prep(np.array([2.0, 2.0, 0.0])).shape == (2, 3)  # colored again for the new size
    given = sp.csr_array(np.eye(3))
    given.data[:] = [1.0, 0.0, 1.0]  # an explicitly stored zero is no entry
    np.testing.assert_array_equal(
        ad.sparse_jacobian(lambda v: v**2, x, sparsity=given).toarray(), np.diag([2, 0, 6])
    )


# -- docs/benchmarks.md ------------------------------------------------------------------------
def _report():
    return (DOCS / "figures" / "report.md").read_text()


def test_the_benchmarks_tables_are_the_reports():
    page, report = (DOCS / "benchmarks.md").read_text(), _report()
    table = page.split("## The model against the measurement", 1)[1].split("\n\n", 2)[1]
    assert table.startswith("| problem") and table in report
    within = re.search(r"predicts (\d+) of (\d+) timed cells within 2x", report).groups()
    assert f"predicts {within[0]} of its {within[1]} timed cells within 2x" in page


def _every_mode_rows():
    rows = {}
    for line in _report().split("## Every mode on every problem", 1)[1].splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) > 10 and cells[0] not in ("problem", "") and not cells[0].startswith("-"):
            rows[(cells[0], cells[1])] = cells
    return rows


def _seconds(cell):
    m = re.match(r"([\d.]+) (us|ms|s)\b", cell)
    return None if m is None else float(m.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[m.group(2)]


def test_the_peer_ratios_are_the_reports_fastest_over_ads_fastest():
    rows, page = _every_mode_rows(), (DOCS / "benchmarks.md").read_text()
    table = page.split("| problem | jax.jit | torch.func | autograd |", 1)[1].split("\n\n", 1)[0]
    for line in table.strip().splitlines()[1:]:
        problem, *quoted = [c.strip() for c in line.strip("|").split("|")]
        mine = [r for (p, mode), r in rows.items() if p == problem and mode != "finite differences"]
        ad_best = min(s for r in mine if (s := _seconds(r[4])) is not None)
        for column, stated in zip((-3, -2, -1), quoted):
            peer = min(s for r in mine if (s := _seconds(r[column])) is not None)
            assert float(stated) == pytest.approx(peer / ad_best, rel=0.06), (problem, column)


def test_the_slopes_and_memory_figures_are_the_csvs():
    rows = list(csv.DictReader((DOCS / "figures" / "sweeps.csv").open()))
    page = (DOCS / "benchmarks.md").read_text()
    for line in (
        page.split("| mode | against n (model) | against m (model) |", 1)[1].split("\n\n")[0].splitlines()[2:]
    ):
        mode, n_cell, m_cell = [c.strip() for c in line.strip("|").split("|")]
        for axis, cell in (("n", n_cell), ("m", m_cell)):
            pts = sorted(
                (int(r[axis]), float(r["seconds"]))
                for r in rows
                if r["axis"] == axis and r["mode"] == mode and r["seconds"]
            )
            xs, ys = np.log([p for p, _ in pts[-3:]]), np.log([s for _, s in pts[-3:]])
            assert float(cell.split()[0]) == pytest.approx(np.polyfit(xs, ys, 1)[0], abs=0.006), (mode, axis)
    peak = {
        (r["strategy"], int(r["depth"])): int(r["peak"])
        for r in csv.DictReader((DOCS / "figures" / "memory.csv").open())
    }
    per_layer = (peak["all", 128] - peak["all", 64]) / 64
    assert 4500 < per_layer < 5500  # about 5 kB per layer
    for strategy, smaller in (("sqrt", 4.7), ("recursive", 4.5)):
        assert peak["all", 128] / peak[strategy, 128] == pytest.approx(smaller, abs=0.05)
    assert {peak["forward", L] for L in (8, 16, 32, 64, 128)} == {peak["forward", 128]}
    assert 30_000 < peak["forward", 128] < 32_000


def test_the_asv_benchmarks_and_targets_named_exist():
    page = (DOCS / "benchmarks.md").read_text()
    names = {
        "overhead.ScalarChain",
        "grad_cost.MLPGradient",
        "grad_cost.MLPGradient.track_grad_over_function",
        "jacobian.JacobianShapes",
    }
    for name in names:
        assert f"`{name}`" in page
        module, *attrs = name.split(".")
        text = (ROOT / "asv_bench" / "benchmarks" / f"{module}.py").read_text()
        assert all(re.search(rf"\b(class|def) {a}\b", text) for a in attrs), name
    measure = (ROOT / "asv_bench" / "measure.py").read_text()
    for needle in (
        '"x": 0.84, "weights": 0.64',
        't["torch"]), 0.5)',
        't["autograd"]), 0.25)',
        '"torch"]), 0.7))',
        '"jax.jit"]), 0.5)',
        'r["f"], 3))',
        "(10, 1000), (1000, 10), (300, 300)",
    ):
        assert needle in measure, needle
    assert "def mlp_by_hand" in (ROOT / "asv_bench" / "benchmarks" / "workloads.py").read_text()
    from ad.compare import modes

    assert modes.COMPILED_LIMIT == 300_000
