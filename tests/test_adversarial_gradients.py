"""Programs a user writes, where a silent wrong gradient would hide: ad against JAX (the
transforms), PyTorch (the Tensor) and NumPy (values and dtypes). Each case must match its
oracle or refuse; where ad follows a documented convention that differs, the test says so."""

import numpy as np
import pytest
import scipy.special as sc

import ad

jax = pytest.importorskip("jax")
torch = pytest.importorskip("torch")
jnp = jax.numpy
jax.config.update("jax_enable_x64", True)

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def same(got, want, rtol=1e-10, atol=1e-12):
    """got equals want in shape, dtype and value, NaN where want is NaN."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


# -- np.where with NaN or inf in the branch not taken --------------------------------------

EDGES = np.array([-1.0, 0.0, 2.0, np.inf, -np.inf])
WHERES = {
    "log": lambda m: lambda x: m.where(x > 0, m.log(x), 0.0),
    "reciprocal": lambda m: lambda x: m.where(x != 0, 1 / x, 0.0),
    "sqrt": lambda m: lambda x: m.where(x >= 0, m.sqrt(x), x),
    "exp": lambda m: lambda x: m.where(x < 1, m.exp(x), 1.0),
    "double where": lambda m: lambda x: m.where(x > 0, m.log(m.where(x > 0, x, 1.0)), 0.0),
    "finite": lambda m: lambda x: m.where(m.isfinite(x), x * 2, 0.0),
}


@pytest.mark.parametrize("name", WHERES)
def test_where_with_nan_or_inf_in_the_branch_not_taken_matches_jax_and_torch(name):
    f = WHERES[name]
    with np.errstate(all="ignore"):
        same(ad.jvp(f(np), (EDGES,), (np.ones(5),))[1], jax.jvp(f(jnp), (EDGES,), (np.ones(5),))[1])
        same(ad.grad(lambda x: np.sum(f(np)(x)))(EDGES), jax.grad(lambda x: jnp.sum(f(jnp)(x)))(EDGES))
        x = ad.tensor(EDGES, requires_grad=True)
        f(np)(x).sum().backward()
        xt = torch.tensor(EDGES, requires_grad=True)
        f(torch)(xt).sum().backward()
        same(x.grad.numpy(), xt.grad.numpy())


def test_double_where_keeps_the_hessian_finite_as_jax_does():
    def f(m):
        return lambda x: m.sum(m.where(x > 0, m.sqrt(m.where(x > 0, x, 1.0)) * x, x**2))

    x = np.array([-1.0, 0.0, 2.0, 4.0])
    same(ad.hessian(f(np))(x), jax.hessian(f(jnp))(x))
    assert np.all(np.isfinite(ad.hessian(f(np))(x)))


# -- powers at their edges ------------------------------------------------------------------


@pytest.mark.parametrize("base", [0.0, -0.0, -2.0, 2.0])
@pytest.mark.parametrize("exponent", [0, 1, 2, 3, -1, 0.0, 2.0, 0.5])
def test_power_in_the_base_matches_torch(base, exponent):
    got = ad.grad(lambda b: b**exponent)(base)
    if base == 0.0 and np.signbit(base) and exponent == 0.5:  # sqrt'(-0): JAX's +inf, torch's -inf
        same(got, jax.grad(lambda b: b**exponent)(base))
        return
    xt = torch.tensor(base, dtype=torch.float64, requires_grad=True)
    (xt**exponent).backward()
    same(got, xt.grad.numpy())


@pytest.mark.parametrize("base", [0.0, -2.0, 2.0])
@pytest.mark.parametrize("exponent", [0.0, 1.0, 2.0, 3.0, -1.0, 0.5])
def test_power_in_both_operands_matches_torch(base, exponent):
    got = ad.grad(lambda b, e: b**e, argnums=(0, 1))(base, exponent)
    bt = torch.tensor(base, dtype=torch.float64, requires_grad=True)
    et = torch.tensor(exponent, dtype=torch.float64, requires_grad=True)
    (bt**et).backward()
    same(got[0], bt.grad.numpy())
    same(got[1], et.grad.numpy())


def test_integer_powers_second_order_at_zero_match_jax():
    z = np.zeros(2)
    for f in [
        lambda m: lambda p: m.sum(p**0),
        lambda m: lambda p: m.sum(p**1),
        lambda m: lambda p: m.sum(p**2),
        lambda m: lambda p: m.sum(p**2.0),
        lambda m: lambda p: m.sum(p**3),
        lambda m: lambda p: m.sum(m.power(p, 2)),
        lambda m: lambda p: m.sum(m.square(p)),
        lambda m: lambda p: m.sum(m.sinc(p)),
    ]:
        same(ad.hessian(f(np))(z) + 0.0, jax.jit(jax.hessian(f(jnp)))(z) + 0.0, rtol=1e-14)


# -- Tensor reductions: keepdims, axis tuples, negative axes ----------------------------------

_X = np.random.default_rng(1).normal(size=(2, 3, 4))
_X[0, 1, 2] = _X[0, 1, 3]  # a tie for the max along the last axis
AXES = [None, 0, -1, (0, 2), (-1, 0), (-3, -2, -1)]
REDUCTIONS = {
    "sum": (lambda t, a, k: t.sum(axis=a, keepdims=k), lambda t, a, k: t.sum(dim=a, keepdim=k)),
    "mean": (lambda t, a, k: np.mean(t, axis=a, keepdims=k), lambda t, a, k: t.mean(dim=a, keepdim=k)),
    "var": (
        lambda t, a, k: t.var(axis=a, keepdims=k, ddof=1),
        lambda t, a, k: t.var(dim=a, keepdim=k, correction=1),
    ),
    "std": (
        lambda t, a, k: np.std(t, axis=a, keepdims=k),
        lambda t, a, k: t.std(dim=a, keepdim=k, correction=0),
    ),
    "max": (lambda t, a, k: t.max(axis=a, keepdims=k), lambda t, a, k: t.amax(dim=a, keepdim=k)),
    "logsumexp": (
        lambda t, a, k: ad.logsumexp(t, axis=a, keepdims=k),
        lambda t, a, k: torch.logsumexp(t, dim=a, keepdim=k),
    ),
}


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_tensor_reductions_match_torch(name, axis, keepdims):
    ours, theirs = REDUCTIONS[name]
    x = ad.tensor(_X, requires_grad=True)
    xt = torch.tensor(_X, requires_grad=True)
    y = ours(x, axis, keepdims)
    yt = theirs(xt, tuple(range(3)) if axis is None else axis, keepdims)
    assert y.shape == tuple(yt.shape)
    w = np.random.default_rng(2).normal(size=y.shape)
    (y * w).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    same(x.grad.numpy(), xt.grad.numpy())


@pytest.mark.parametrize("axis", AXES + [()])
@pytest.mark.parametrize("keepdims", [False, True])
def test_tensor_prod_and_norm_match_jax(axis, keepdims):
    w = np.random.default_rng(3).normal(size=np.prod(_X, axis=axis, keepdims=keepdims).shape)
    x = ad.tensor(_X, requires_grad=True)
    (np.prod(x, axis=axis, keepdims=keepdims) * w).sum().backward()
    same(x.grad.numpy(), jax.grad(lambda x: jnp.sum(jnp.prod(x, axis=axis, keepdims=keepdims) * w))(_X))
    if axis is None or isinstance(axis, int) or len(axis) == 2:
        w = np.random.default_rng(4).normal(size=np.linalg.norm(_X, axis=axis, keepdims=keepdims).shape)
        x = ad.tensor(_X, requires_grad=True)
        (np.linalg.norm(x, axis=axis, keepdims=keepdims) * w).sum().backward()
        want = jax.grad(lambda x: jnp.sum(jnp.linalg.norm(x, axis=axis, keepdims=keepdims) * w))(_X)
        same(x.grad.numpy(), want)


def test_empty_axis_tuple_reduces_nothing_as_numpy_does():
    """NumPy's axis=() keeps every axis (torch's dim=() reduces them all): ad follows NumPy."""
    x = ad.tensor(_X, requires_grad=True)
    y = x.sum(axis=())
    assert y.shape == _X.shape
    (y * _X).sum().backward()
    same(x.grad.numpy(), _X)


# -- broadcasting against 0-d Tensors --------------------------------------------------------


def test_zero_d_tensors_broadcast_and_get_zero_d_gradients_as_torch():
    s = ad.tensor(np.float64(2.0), requires_grad=True)
    v = ad.tensor(np.arange(3.0), requires_grad=True)
    (s * v + s**2 - v / s + np.maximum(s, v)).sum().backward()
    st = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    vt = torch.arange(3.0, dtype=torch.float64, requires_grad=True)
    (st * vt + st**2 - vt / st + torch.maximum(st, vt)).sum().backward()
    same(s.grad.numpy(), st.grad.numpy())
    same(v.grad.numpy(), vt.grad.numpy())


def test_maximum_tie_with_a_zero_d_tensor_splits_as_torch():
    s = ad.tensor(np.array(1.0), requires_grad=True)
    m = ad.tensor(np.ones((2, 3)), requires_grad=True)
    np.maximum(s, m).sum().backward()
    st = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    mt = torch.ones((2, 3), dtype=torch.float64, requires_grad=True)
    torch.maximum(st, mt).sum().backward()
    same(s.grad.numpy(), st.grad.numpy())
    same(m.grad.numpy(), mt.grad.numpy())


# -- float32 inputs with float64 constants ---------------------------------------------------

MIXED = {
    "x * np.float64(2)": lambda x: x * np.float64(2.0),
    "x * 2.0": lambda x: x * 2.0,
    "x * np.array(2.0)": lambda x: x * np.array(2.0),
    "x + np.ones(3)": lambda x: x + np.ones(3),
    "np.pi * x": lambda x: np.pi * x,
    "x / np.float64(3)": lambda x: x / np.float64(3),
    "x ** np.float64(2)": lambda x: x ** np.float64(2),
    "np.float64(2) ** x": lambda x: np.float64(2) ** x,
    "x @ np.ones(3)": lambda x: x @ np.ones(3),
    "np.where(x > 1, x, np.float64(0))": lambda x: np.where(x > 1, x, np.float64(0)),
    "np.clip(x, np.float64(1.5), 2.5)": lambda x: np.clip(x, np.float64(1.5), 2.5),
    "np.maximum(x, np.float64(1.5))": lambda x: np.maximum(x, np.float64(1.5)),
    "x * np.float32(3)": lambda x: x * np.float32(3),
    "x * np.int64(3)": lambda x: x * np.int64(3),
    "x * np.arange(3)": lambda x: x * np.arange(3),
}


@pytest.mark.parametrize("name", MIXED)
def test_float32_input_with_float64_constants_follows_numpy_promotion(name):
    f = MIXED[name]
    x = np.array([1.0, 2.0, 3.0], np.float32)
    want = f(x)
    out, tangent = ad.jvp(f, (x,), (np.ones(3, np.float32),))
    same(out, want, rtol=0, atol=0)
    assert tangent.dtype == want.dtype
    g = ad.grad(lambda x: np.sum(f(x)))(x)
    t = ad.tensor(x, requires_grad=True)
    y = f(t)
    same(y.detach().numpy(), want, rtol=0, atol=0)
    y.sum().backward()
    assert g.dtype == np.float32 and t.grad.dtype == np.float32  # the input's dtype
    # the float64 gradient, the one these programs have against JAX elsewhere, rounded
    want_g = ad.grad(lambda x: np.sum(f(x)))(x.astype(np.float64)).astype(np.float32)
    np.testing.assert_allclose(g, want_g, rtol=1e-6)
    np.testing.assert_allclose(t.grad.numpy(), want_g, rtol=1e-6)


# -- views, in-place writes and complex values -----------------------------------------------

_Z = np.random.default_rng(0).normal(size=(3, 4)) + 1j * np.random.default_rng(5).normal(size=(3, 4))


def _complex_writes(z):
    y = z * (1 - 0.5j)
    v = y[1:, ::2]
    v *= z[:2, 1::2]
    y[0] = np.conj(y[2])
    w = y.T
    w[1:3] += 1j * w[0:2]
    return np.sum(np.abs(y) ** 2) + np.real(np.sum(y * y))


def _complex_writes_jax(z):
    y = z * (1 - 0.5j)
    y = y.at[1:, ::2].multiply(z[:2, 1::2])
    y = y.at[0].set(jnp.conj(y[2]))
    w = y.T
    w = w.at[1:3].add(1j * w[0:2])
    y = w.T
    return jnp.sum(jnp.abs(y) ** 2) + jnp.real(jnp.sum(y * y))


def test_complex_writes_through_views_match_jax_to_second_order():
    same(ad.grad(_complex_writes)(_Z), jax.jit(jax.grad(_complex_writes_jax))(_Z))
    want = jax.jit(lambda z: jax.jvp(jax.grad(_complex_writes_jax), (z,), (z,))[1])(_Z)
    same(ad.hvp(_complex_writes, (_Z,), (_Z,), mode="rev-rev")[1], want)


def test_in_place_in_forward_over_reverse_is_refused_by_name():
    with pytest.raises(
        TypeError, match=r"x\[\.\.\.\] = v on a traced value \(forward mode\) is not supported"
    ):
        ad.hvp(_complex_writes, (_Z,), (_Z,), mode="fwd-rev")


def _tensor_programs():
    def scale_view(x):
        y = x * 2.0
        v = y[1]
        v *= 1 + 2j
        return y

    def overlapping(x):
        y = x.conj() * x[0]
        y[:, 1:3] = y[:, 0:2] * 1j
        return y

    def transposed(x):
        y = x + 0
        t = y.T
        t[0] += t[1]
        return y.real * y.imag

    def real_view(x):
        y = x * 1
        r = y.real
        r *= 3.0
        return y

    def strided(x):
        y = x.reshape(4, 3) * 1
        d = y[::2, ::-1]
        d[...] = np.exp(d)
        return y.sum(axis=0)

    def strided_torch(x):
        y = x.reshape(4, 3) * 1
        z = y.clone()
        z[::2] = torch.exp(y[::2])
        return z.sum(0)

    def real_view_torch(x):
        y = x * 1
        torch.view_as_real(y)[..., 0].mul_(3.0)
        return y

    return [
        (scale_view, scale_view),
        (overlapping, overlapping),
        (transposed, transposed),
        (real_view, real_view_torch),
        (strided, strided_torch),
    ]


@pytest.mark.parametrize("ours, theirs", _tensor_programs(), ids=lambda f: f.__name__)
def test_complex_tensor_writes_through_views_match_torch(ours, theirs):
    x = ad.tensor(_Z, requires_grad=True)
    xt = torch.tensor(_Z, requires_grad=True)
    y, yt = ours(x), theirs(xt)
    (np.sum(np.abs(y) ** 2) if np.iscomplexobj(y.detach().numpy()) else np.sum(y * y)).backward()
    ((yt.abs() ** 2).sum() if yt.is_complex() else (yt * yt).sum()).backward()
    same(x.grad.numpy(), xt.grad.numpy())


def test_writing_a_saved_view_raises_as_torch_does():
    x = ad.tensor(_Z, requires_grad=True)
    y = x * 1
    i = y.imag
    i[...] = 0.5 * i**2
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        np.sum(np.abs(y * y) ** 2).backward()


def test_real_writes_through_views_match_jax_hessian():
    x0 = np.random.default_rng(6).normal(size=(3, 4))

    def f(x):
        y = x**2
        v = y[:, 1]
        v *= x[:, 0]
        y[1:] += (y[:-1] + 0.0) * x[0]
        return np.sum(np.sin(y))

    def f_jax(x):
        y = x**2
        y = y.at[:, 1].multiply(x[:, 0])
        y = y.at[1:].add(y[:-1] * x[0])
        return jnp.sum(jnp.sin(y))

    same(ad.grad(f)(x0), jax.jit(jax.grad(f_jax))(x0))
    hessian = jax.jit(jax.hessian(f_jax))(x0)
    same(ad.jacrev(ad.grad(f))(x0), hessian)
    v = np.random.default_rng(7).normal(size=(3, 4))
    same(ad.hvp(f, (x0,), (v,), mode="rev-rev")[1], np.tensordot(hessian, v, 2))


# -- np.linalg at repeated eigenvalues and singular values ------------------------------------

_Q = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0]
_P = np.linalg.qr(np.random.default_rng(8).normal(size=(3, 3)))[0]
_REPEATED = {
    "identity": np.eye(3),
    "diagonal": np.diag([2.0, 2.0, 5.0]),
    "rotated": _Q @ np.diag([2.0, 2.0, 5.0]) @ _Q.T,
}
SPECTRAL = {
    "eigh eigenvalues": lambda m: lambda a: m.sum(m.linalg.eigh(a)[0]),
    "eigvalsh squared": lambda m: lambda a: m.sum(m.linalg.eigvalsh(a) ** 2) if m is jnp else None,
    "singular values": lambda m: lambda a: m.sum(m.linalg.svd(a, compute_uv=False)),
    "nuclear norm": lambda m: lambda a: m.linalg.norm(a, "nuc"),
    "spectral norm": lambda m: lambda a: m.linalg.norm(a, 2),
    "condition number": lambda m: lambda a: m.linalg.cond(a),
    "real eigenvalues": lambda m: lambda a: m.sum(m.real(m.linalg.eigvals(a))),
}


@pytest.mark.parametrize("matrix", _REPEATED)
@pytest.mark.parametrize("name", [k for k in SPECTRAL if k != "eigvalsh squared"])
def test_spectral_functions_at_repeated_eigenvalues_match_jax(name, matrix):
    a = _REPEATED[matrix]
    f = SPECTRAL[name]
    same(ad.grad(f(np))(a), jax.grad(f(jnp))(a), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("matrix", _REPEATED)
def test_eigvalsh_reads_the_lower_triangle_as_numpy_does(matrix):
    """JAX symmetrizes eigvalsh's gradient; NumPy's eigvalsh reads only the lower triangle, so
    ad's gradient is the lower triangle of JAX's, its strict part doubled (the derivative of
    the function NumPy computes: a change above the diagonal changes nothing)."""
    a = _REPEATED[matrix]
    got = ad.grad(lambda a: np.sum(np.linalg.eigvalsh(a) ** 2))(a)
    want = np.asarray(jax.grad(lambda a: jnp.sum(jnp.linalg.eigvalsh(a) ** 2))(a))
    same(got, np.tril(want + want.T) - np.diag(np.diag(want)), rtol=1e-9, atol=1e-9)


def test_lstsq_at_repeated_singular_values_is_right_where_jax_gives_nan():
    a, b = _REPEATED["rotated"], np.ones(3)
    got = ad.grad(lambda a: np.sum(np.linalg.lstsq(a, b)[0]))(a)
    x = np.linalg.solve(a, b)
    same(got, -np.outer(np.linalg.solve(a.T, np.ones(3)), x), rtol=1e-9)


def test_pinv_and_det_of_rank_deficient_matrices_match_jax():
    singular = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
    same(ad.grad(lambda a: np.linalg.det(a))(singular), jax.grad(jnp.linalg.det)(singular), atol=1e-9)
    same(
        ad.grad(lambda a: np.sum(np.linalg.pinv(a) ** 2))(singular),
        jax.grad(lambda a: jnp.sum(jnp.linalg.pinv(a) ** 2))(singular),
        rtol=1e-8,
    )


@pytest.mark.parametrize("matrix", ["identity", "diagonal"])
def test_eigenvectors_at_exactly_repeated_eigenvalues_give_nan_not_a_number(matrix):
    """Their derivative does not exist there; ad gives NaN (visible), as JAX does."""
    a = _REPEATED[matrix]
    got = ad.grad(lambda a: np.sum(np.linalg.eigh(a)[1][:, 0] ** 4))(a)
    assert np.all(np.isnan(got))


@pytest.mark.parametrize("gap", [0.0, 1e-15, 1e-3])
def test_a_loss_of_the_top_eigenvector_keeps_its_gradient_where_the_others_repeat(gap):
    """The pair that repeats (or nearly) is read by nothing: the gradient of the top
    eigenvector's entries is finite and right (central differences on the lower triangle,
    which is what eigh reads)."""
    a = _Q @ np.diag([2.0, 2.0 + gap, 5.0]) @ _Q.T
    f = lambda a: np.sum(np.linalg.eigh(a)[1][:, -1] ** 4)
    got = ad.grad(f)(a)
    want = np.zeros((3, 3))
    for i in range(3):
        for j in range(i + 1):
            e = np.zeros((3, 3))
            e[i, j] = 1e-6
            want[i, j] = (f(a + e) - f(a - e)) / 2e-6
    same(got, want, atol=1e-8)


_W = np.arange(9.0).reshape(3, 3)


def test_eigh_eigenvectors_at_nearly_repeated_eigenvalues_are_right_or_refused():
    """V diag(w) V^T rebuilds the matrix NumPy's eigh reads: its gradient is defined (the
    lower triangle of W + W^T, W's diagonal) even where two eigenvalues agree to rounding."""
    a = _REPEATED["rotated"]

    def rebuilt(a):
        w, v = np.linalg.eigh(a)
        return np.sum((v * w) @ v.T * _W)

    want = np.tril(_W + _W.T) - np.diag(np.diag(_W))
    try:
        got = ad.grad(rebuilt)(a)
    except (ValueError, np.linalg.LinAlgError):
        return
    assert not np.all(np.isfinite(got)) or np.allclose(got, want, atol=1e-6)


def test_svd_vectors_at_nearly_repeated_singular_values_are_right_or_refused():
    """U diag(s) V^T rebuilds A: its gradient is W exactly, whatever the singular values."""
    a = _Q @ np.diag([2.0, 2.0, 5.0]) @ _P.T

    def rebuilt(a):
        u, s, vt = np.linalg.svd(a)
        return np.sum((u * s) @ vt * _W)

    try:
        got = ad.grad(rebuilt)(a)
    except (ValueError, np.linalg.LinAlgError):
        return
    assert not np.all(np.isfinite(got)) or np.allclose(got, _W, atol=1e-6)


# -- pytrees with None leaves and mixed dtypes ------------------------------------------------


def _assert_same_tree(got, want):
    if want is None:
        assert got is None
    elif isinstance(want, dict):
        assert set(got) == set(want)
        for k in want:
            _assert_same_tree(got[k], want[k])
    elif isinstance(want, tuple | list):
        assert isinstance(got, tuple | list) and len(got) == len(want)
        for g, w in zip(got, want):
            _assert_same_tree(g, w)
    else:
        same(got, want, rtol=1e-5 if np.asarray(want).dtype == np.float32 else 1e-12, atol=1e-6)


_PARAMS = {
    "w": np.array([[1.0, 2.0], [3.0, -1.0]]),
    "b": None,
    "s": (np.float32(0.5), np.array([1.0, 2.0], np.float32)),
    "z": [np.array(0.3), None],
}


def _loss(m):
    def f(p, x):
        h = m.tanh(p["w"] @ x) * p["s"][0] + p["s"][1]
        return m.sum(h**2) * p["z"][0]

    return f


def test_pytree_with_none_leaves_and_mixed_dtypes_matches_jax():
    x = np.array([0.2, -0.4])
    params_jax = jax.tree_util.tree_map(jnp.asarray, _PARAMS)
    _assert_same_tree(ad.grad(_loss(np))(_PARAMS, x), jax.grad(_loss(jnp))(params_jax, x))
    got = ad.value_and_grad(_loss(np), argnums=(0, 1))(_PARAMS, x)
    want = jax.value_and_grad(_loss(jnp), argnums=(0, 1))(params_jax, x)
    assert got[0] == pytest.approx(float(want[0]), rel=1e-6)
    _assert_same_tree(got[1], want[1])


def test_jacobians_and_hessian_of_pytrees_with_none_leaves_match_jax():
    params_jax = jax.tree_util.tree_map(jnp.asarray, _PARAMS)

    def g(m):
        return lambda p: {"a": m.sin(p["w"]) * p["z"][0], "n": None, "t": (p["s"][1] * 2,)}

    _assert_same_tree(ad.jacrev(g(np))(_PARAMS), jax.jit(jax.jacrev(g(jnp)))(params_jax))
    _assert_same_tree(ad.jacfwd(g(np))(_PARAMS), jax.jit(jax.jacfwd(g(jnp)))(params_jax))

    def h(m):
        return lambda p: m.sum(m.sin(p["w"]) ** 2) * p["z"][0] + m.sum(p["s"][1] ** 3)

    _assert_same_tree(ad.hessian(h(np))(_PARAMS), jax.jit(jax.hessian(h(jnp)))(params_jax))


# -- hessian and hvp, every mode, on a function with branches ---------------------------------


def _branchy(m):
    def f(x):
        s = m.sum(x * x)
        y = m.sin(x) * s if s > 1.0 else m.exp(x) / (1 + s)
        z = m.where(x > 0, x**3, -(x**2))
        k = m.maximum(x, 0.5 * x[::-1])
        return m.sum(y * z) + m.sum(k * k * x) + m.max(x) * m.min(x)

    return f


@pytest.mark.parametrize(
    "x", [[0.3, -0.2, 0.1], [1.0, -2.0, 0.5], [1.0, 1.0, -1.0], [0.0, 0.0, 0.0], [0.4, 0.0, -0.8]]
)
def test_hessian_and_hvp_in_every_mode_on_a_branchy_function_match_jax(x):
    x = np.array(x)
    hessian = np.asarray(jax.hessian(_branchy(jnp))(x))
    same(ad.hessian(_branchy(np))(x), hessian)
    same(ad.jacrev(ad.grad(_branchy(np)))(x), hessian)
    same(ad.jacfwd(ad.jacfwd(_branchy(np)))(x), hessian)
    v = np.array([0.3, -1.0, 2.0])
    for mode in ("fwd-rev", "rev-fwd", "rev-rev", "fwd-fwd"):
        same(ad.hvp(_branchy(np), (x,), (v,), mode=mode)[1], hessian @ v)


def test_abs_at_zero_follows_torch_where_jax_differs():
    """abs'(0) = 0 (PyTorch's convention, ad's documented one); JAX takes 1. So the second
    derivative of |x|^2 at 0 is 0 in ad and PyTorch, 2 in JAX: pinned, so a change is seen."""
    from torch.func import hessian as torch_hessian

    z = np.zeros(2)
    got = ad.hessian(lambda p: np.sum(np.abs(p) ** 2))(z)
    same(got, torch_hessian(lambda p: (torch.abs(p) ** 2).sum())(torch.tensor(z)).numpy())
    same(ad.hessian(lambda p: np.linalg.norm(p) ** 2)(z), np.zeros((2, 2)))


def test_rgamma_in_a_user_program_at_poles_matches_finite_differences():
    def f(x):
        return np.sum(sc.rgamma(x) * np.cos(x))

    x = np.array([0.0, -1.0, -2.0, 0.5])
    g = ad.grad(f)
    h = 1e-6
    fd = np.array([(g(x + h * e) - g(x - h * e)) / (2 * h) for e in np.eye(4)])
    np.testing.assert_allclose(ad.hessian(f)(x), fd, rtol=1e-7, atol=1e-7)


# -- compiled tapes against the eager engines -------------------------------------------------


@pytest.mark.parametrize(
    "x", [[-1.0, 0.0, 0.0, -1.0], [0.5, -0.0, np.inf, 2.0], [-2.0, -1.0, 3.0, 0.0], [np.nan, 1.0, 2.0, 1.0]]
)
@pytest.mark.parametrize(
    "f",
    [
        lambda x: np.sum(np.where(x > 0, np.sqrt(np.where(x > 0, x, 1.0)), 0.0)),
        lambda x: np.sum(x**2 + np.abs(x) ** 0.5),
        lambda x: np.sum(np.maximum(x, x[::-1]) ** 2),
        lambda x: np.sum(np.abs(x) * x),
    ],
)
def test_compiled_gradient_equals_eager_at_nan_inf_and_signed_zeros(f, x):
    x = np.array(x)
    got, want = ad.compile(f, x).grad(x), ad.grad(f)(x)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


def test_compiled_where_skips_the_branch_not_taken_where_eager_gives_nan():
    """By design (docs/compiled.md): a compiled select records no term of the branch not
    taken, so an infinite derivative there gives 0, where the eager engines and JAX give
    NaN; everywhere else, and with the double where, the two agree."""

    def f(x):
        return np.sum(np.where(x > 0, np.log(x), 0.0))

    def double_where(x):
        return np.sum(np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), 0.0))

    x = np.array([-2.0, 0.0, 3.0, np.nan])
    got, want = ad.compile(f, x).grad(x), ad.grad(f)(x)
    np.testing.assert_array_equal(want, [-0.0, np.nan, 1 / 3, np.nan])
    np.testing.assert_array_equal(got, [0.0, 0.0, 1 / 3, 0.0])
    np.testing.assert_array_equal(ad.compile(double_where, x).grad(x), ad.grad(double_where)(x))
    jax_want = jax.grad(lambda x: jnp.sum(jnp.where(x > 0, jnp.log(x), 0.0)))(x)
    np.testing.assert_array_equal(want, jax_want)


# -- a Tensor's derivative dropped by a conversion --------------------------------------------


def test_filling_a_plain_array_from_a_tensor_that_requires_grad_refuses():
    t = ad.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(TypeError, match="would drop its derivative"):
        np.zeros(2)[:] = t
    with pytest.raises(TypeError, match="would drop its derivative"):
        np.array([t[0], t[1]])


def test_filling_one_entry_of_a_plain_array_from_a_tensor_that_requires_grad_warns():
    t = ad.tensor(np.array([1.0, 2.0]), requires_grad=True)
    z = np.zeros(2)
    with pytest.warns(UserWarning, match="requires.grad"):
        z[0] = t[0] * 2


# -- arguments NumPy refuses -------------------------------------------------------------------


@pytest.mark.parametrize("reduce", [np.sum, np.mean, np.max, np.cumsum])
def test_an_integer_axis_is_taken_as_numpy_takes_it(reduce):
    x = ad.tensor(_X, requires_grad=True)
    same(reduce(x, axis=np.int64(1)).detach().numpy(), reduce(_X, axis=1))


@pytest.mark.parametrize("reduce", [np.sum, np.cumsum])
def test_a_bool_axis_is_refused_as_numpy_refuses_it(reduce):
    with pytest.raises(TypeError):
        reduce(_X, axis=True)
    with pytest.raises(TypeError):
        ad.grad(lambda x: np.sum(reduce(x, axis=True)))(_X)


# -- linearize and checkpoint inside other transforms ------------------------------------------


def _sine_weighted(m):
    return lambda x: m.sum(m.sin(x) * x[::-1] ** 2)


def test_linearize_inside_grad_and_jacfwd_matches_jax():
    x, v = np.array([0.3, -1.2, 2.0]), np.array([1.0, 0.5, -2.0])
    want = jax.grad(lambda x: jax.linearize(_sine_weighted(jnp), x)[1](v))(x)
    same(ad.grad(lambda x: ad.linearize(_sine_weighted(np), x)[1](v))(x), want)
    want = jax.jacfwd(lambda x: jax.linearize(_sine_weighted(jnp), x)[1](v))(x)
    same(ad.jacfwd(lambda x: ad.linearize(_sine_weighted(np), x)[1](v))(x), want)


def _layered(m, checkpoint):
    layer = checkpoint(lambda h, w: m.tanh(w @ h) + 0.1 * h)

    def f(x, w):
        h = x
        for _ in range(3):
            h = layer(h, w)
        return m.sum(h**2)

    return f


def test_checkpointed_layers_match_jax_checkpoint_to_second_order():
    rng = np.random.default_rng(0)
    w, x = rng.normal(size=(3, 3)), rng.normal(size=3)
    ours, theirs = _layered(np, ad.checkpoint), _layered(jnp, jax.checkpoint)
    same(ad.grad(ours, argnums=1)(x, w), jax.grad(theirs, argnums=1)(x, w))
    same(ad.hessian(ours)(x, w), jax.hessian(theirs)(x, w))
    want = jax.jvp(jax.grad(lambda x: theirs(x, w)), (x,), (x[::-1],))[1]
    for mode in ("fwd-rev", "rev-fwd", "rev-rev", "fwd-fwd"):
        same(ad.hvp(lambda x: ours(x, w), (x,), (x[::-1].copy(),), mode=mode)[1], want)
