"""Adversarial checks of the eager hot path's fifth round (Op.times for tanh and sigmoid, the
non-elementwise node's direct rule call, the operator and protocol shortcuts, the pullback's
leaves kept off the heap, matmul's dot for a matrix and a vector), the compiled tapes' packed
arguments, rgamma's derivative, cumsum's dtype=, linearize's integer refusal, complex
checkpoints and the eigenvector terms near repeated eigenvalues, against PyTorch, JAX,
mpmath and finite differences."""

import numpy as np
import pytest
import scipy.special as sc

import ad
from ad.ops.contractions import _matmul

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy


def same(got, want, rtol=1e-12, atol=1e-12):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=rtol, atol=atol)


def _torch_grad(tf, x, weights):
    t = torch.tensor(np.asarray(x), requires_grad=True)
    (tf(t) * torch.tensor(weights, dtype=t.dtype)).sum().backward()
    return t.grad.numpy()


# -- tanh's and sigmoid's one-pass VJP (Op.times) and the guard in front of it ------------------

_X = np.random.default_rng(0).standard_normal(8)
_LAYOUTS = {
    "contiguous": _X,
    "strided": _X[::2],
    "0-d array": np.array(_X[0]),
    "NumPy scalar": _X[0],
    "2-D": _X[:6].reshape(2, 3),
    "transposed": _X[:6].reshape(2, 3).T,
    "float32": _X.astype(np.float32),
    "float32 strided": _X.astype(np.float32)[::3],
}


@pytest.mark.parametrize("layout", list(_LAYOUTS))
@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_tanh_and_sigmoid_gradients_match_pytorch_in_every_layout(name, layout):
    x = _LAYOUTS[layout]
    f, tf = {"tanh": (np.tanh, torch.tanh), "sigmoid": (ad.sigmoid, torch.sigmoid)}[name]
    w = np.arange(1.0, 1 + np.size(x)).reshape(np.shape(x))
    got = ad.grad(lambda z: np.sum(f(z) * w))(x)
    want = _torch_grad(tf, x, w)
    assert np.asarray(got).dtype == np.asarray(x).dtype
    same(got, want, rtol=1e-6 if np.asarray(x).dtype == np.float32 else 1e-13)


def test_tanh_vjp_takes_a_broadcast_or_float32_cotangent():
    """A cotangent with strides (0,) or another dtype is not the fast path's: NumPy's product."""
    y, pullback = ad.vjp(np.tanh, _X)
    d = 1 - np.tanh(_X) ** 2
    same(pullback(np.broadcast_to(2.0, _X.shape))[0], 2 * d)
    same(pullback(np.ones(_X.shape, np.float32))[0], d, rtol=1e-7)


def test_tanh_and_sigmoid_batched_and_second_order_match_jax():
    f = lambda z: np.tanh(z) * ad.sigmoid(z[::-1])  # noqa: E731
    fj = lambda z: jnp.tanh(z) * jax.nn.sigmoid(z[::-1])  # noqa: E731
    same(ad.jacrev(f)(_X), jax.jacrev(fj)(_X), rtol=1e-12)
    same(ad.hessian(lambda z: np.sum(f(z)))(_X), jax.hessian(lambda z: jnp.sum(fj(z)))(_X), rtol=1e-10)


def test_tanh_output_hook_and_retain_grad_match_pytorch():
    t = ad.tensor(_X, requires_grad=True)
    y = np.tanh(t)
    y.retain_grad()
    y.register_hook(lambda g: g * 2)
    np.sum(y * 3.0).backward()
    tt = torch.tensor(_X, requires_grad=True)
    yy = torch.tanh(tt)
    yy.retain_grad()
    yy.register_hook(lambda g: g * 2)
    (yy * 3.0).sum().backward()
    same(t.grad, tt.grad.numpy())
    same(y.grad, yy.grad.numpy())


# -- matmul's primal through ndarray.dot ---------------------------------------------------------

_A = np.random.default_rng(1).standard_normal((5, 4))
_v = np.random.default_rng(2).standard_normal(4)
_u = np.random.default_rng(3).standard_normal(5)
_MATMULS = {
    "C matrix @ vector": (_A, _v),
    "F matrix @ vector": (np.asfortranarray(_A), _v),
    "strided matrix @ vector": (_A[:, ::2], _v[:2]),
    "matrix @ strided vector": (_A, np.repeat(_v, 2)[::2]),
    "vector @ matrix": (_u, _A),
    "vector @ F matrix": (_u, np.asfortranarray(_A)),
    "empty": (np.zeros((0, 4)), _v),
    "float32": (_A.astype(np.float32), _v.astype(np.float32)),
    "mixed dtypes": (_A, _v.astype(np.float32)),
    "big-endian": (_A.astype(">f8"), _v),
    "np.matrix": (np.asmatrix(_A), _v),
    "n x 1 @ 1": (_A[:, :1], _v[:1]),
}


@pytest.mark.parametrize("case", list(_MATMULS))
def test_matmul_primal_is_numpys_bit_for_bit(case):
    a, b = _MATMULS[case]
    got, want = _matmul(a, b), np.matmul(a, b)
    assert type(got) is type(want) and got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want)


# -- the operator and protocol shortcuts under nested levels -------------------------------------

_W = np.random.default_rng(4).standard_normal((3, 3))
_x0 = np.random.default_rng(5).standard_normal(3)


def test_matmul_and_sum_of_an_inner_level_with_an_outer_levels_matrix_match_jax():
    """x @ W, W @ x, np.dot and np.sum with x at the inner grad's level and W at the outer's:
    the first box's _process must hand the op on to the higher level."""

    def inner(np_, grad, W):
        return grad(lambda x: np_.sum(np_.tanh(x @ W) ** 2) + np_.sum(W @ x) * np_.dot(x, W).sum())(_x0)

    got = ad.grad(lambda W: np.sum(inner(np, ad.grad, W) * _x0))(_W)
    want = jax.grad(lambda W: jnp.sum(inner(jnp, jax.grad, W) * _x0))(_W)
    same(got, want, rtol=1e-12)
    got = ad.jvp(lambda W: inner(np, ad.grad, W), (_W,), (np.ones((3, 3)),))[1]
    want = jax.jvp(lambda W: inner(jnp, jax.grad, W), (_W,), (jnp.ones((3, 3)),))[1]
    same(got, want, rtol=1e-12)


def test_no_perturbation_confusion_through_the_operator_shortcut():
    # d/dx [x * d/dy (x y)] = 2x: the inner derivative's x is the outer level's
    assert ad.grad(lambda x: x * ad.grad(lambda y: x * y)(2.0))(3.0) == 6.0
    got = ad.grad(lambda W: ad.grad(lambda x: np.sum((W @ x) * (x @ W)))(_x0) @ np.ones(3))(_W)
    want = jax.grad(lambda W: jax.grad(lambda x: jnp.sum((W @ x) * (x @ W)))(_x0) @ jnp.ones(3))(_W)
    same(got, want)


# -- pullbacks: a leaf without hooks is captured off the heap ------------------------------------


def test_pullbacks_where_an_input_is_an_output_or_used_twice_match_jax():
    x = _X[:4]
    _, pullback = ad.vjp(lambda x: x, x)
    same(pullback(np.ones(4))[0], np.ones(4))
    same(pullback(2 * np.ones(4))[0], 2 * np.ones(4))  # a second call: JAX's pullbacks allow it
    same(ad.jacrev(lambda x: x)(x), np.eye(4))
    _, pullback = ad.vjp(lambda x: (x, np.sin(x), x), x)
    same(pullback((np.ones(4), np.ones(4), 2 * np.ones(4)))[0], 3 + np.cos(x))
    got = ad.grad(lambda a, b: np.sum(a * b + a + np.tanh(a)), argnums=(0, 1))(x, x)
    want = jax.grad(lambda a, b: jnp.sum(a * b + a + jnp.tanh(a)), argnums=(0, 1))(x, x)
    same(got[0], want[0])
    same(got[1], want[1])


def test_pullback_leaves_the_callers_cotangent_alone():
    """The captured buffer of a leaf may be summed into in place: never the caller's array."""
    x = _X[:4]
    ct = np.ones(4)
    _, pullback = ad.vjp(lambda x: x + np.sin(x) + x, x)
    same(pullback(ct)[0], 2 + np.cos(x))
    assert np.array_equal(ct, np.ones(4))


def test_tensor_backward_into_leaves_used_twice_accumulates_as_pytorch():
    t = ad.tensor(_X[:4], requires_grad=True)
    y = np.sum(t * t + np.tanh(t))
    y.backward(retain_graph=True)
    y.backward()
    tt = torch.tensor(_X[:4], requires_grad=True)
    yy = (tt * tt + torch.tanh(tt)).sum()
    yy.backward(retain_graph=True)
    yy.backward()
    same(t.grad, tt.grad.numpy())
    with pytest.raises(RuntimeError):
        y.backward()


# -- a rule of another kind than elementwise called directly by its node ------------------------


def test_a_vjp_rule_returning_a_generator_still_works():
    from ad.registry import general
    from ad.trace import apply

    def jvp(ts, xs, out, p, batched):
        return ts[0] * xs[1] + xs[0] * ts[1]

    def vjp(ct, xs, out, p, batched):
        return (c for c in (ct * xs[1], ct * xs[0]))

    op = general("review_generator_multiply", (), jvp, vjp, impl=lambda a, b: a * b)
    x, y = _X[:3], _X[3:6]
    got = ad.grad(lambda x, y: np.sum(apply(op, (x, y), {})), argnums=(0, 1))(x, y)
    same(got[0], y)
    same(got[1], x)


# -- compiled tapes ------------------------------------------------------------------------------


def _branchy(x):
    s = 0.0
    for i in range(x.size):
        s = s + (np.sin(x[i]) if x[i] > 0 else x[i] ** 2)
    return s


def _branchy_jax(x):
    return jnp.sum(jnp.where(x > 0, jnp.sin(x), x**2))


@pytest.mark.parametrize("specialize", [False, True])
def test_compiled_grad_agrees_with_jax_across_guards_and_shapes(specialize):
    x = _X[:4]
    c = ad.compile(_branchy, x, specialize=specialize)
    for xx in (x, -x, np.abs(x), _X[2:6], _X[:6]):
        v, g = c.value_and_grad(xx)
        same(g, jax.grad(_branchy_jax)(xx))
        same(v, _branchy_jax(xx))
        same(c.grad(xx), g)
        same(c(xx), v)


@pytest.mark.parametrize("specialize", [False, True])
@pytest.mark.parametrize(
    "f",
    [lambda x: x, lambda x: 2.0, lambda x: np.sum(x) * 0 + 3.0, lambda x: x[0]],
    ids=["id", "const", "zero", "x0"],
)
def test_compiled_programs_of_no_or_one_instruction(f, specialize):
    x = _X[:4]
    c = ad.compile(f, x, specialize=specialize)
    want = ad.jacrev(f)(x)
    if np.ndim(c(x)) == 0:
        v, g = c.value_and_grad(x)
        same(v, f(x))
        same(g, want)
    else:
        same(c.jacrev(x), want)


def test_compiled_sweeps_after_a_specialised_grad_read_fresh_values():
    x = _X[:4]
    c = ad.compile(lambda x: np.sum(np.sin(x) * x), x, specialize=True)
    c.grad(x)
    same(c.jvp(x, np.ones(4))[1], np.sum(np.cos(x) * x + np.sin(x)))
    same(c.vjp(x, 1.0)[1], np.cos(x) * x + np.sin(x))
    same(c(2 * x), np.sum(np.sin(2 * x) * 2 * x))
    same(c.grad(x), np.cos(x) * x + np.sin(x))


def test_compiled_float32_without_a_guard_failure_gives_float32():
    x = _X[:4]
    c = ad.compile(_branchy, x)
    v, g = c.value_and_grad(x.astype(np.float32))
    assert g.dtype == np.float32 and type(v) is np.float32


def test_compiled_float32_input_after_a_guard_failure_gives_float32():
    x = _X[:4]
    c = ad.compile(_branchy, x)
    c.grad(-x)  # recorded again for the other branches
    v, g = c.value_and_grad(x.astype(np.float32))  # a guard fails: recorded again
    assert g.dtype == np.float32 and type(v) is np.float32
    c.grad(-x)
    assert c(x.astype(np.float32)).dtype == np.float32


# -- scipy.special.rgamma's derivative -----------------------------------------------------------


_RGAMMA_POINTS = [-169.7, -100.3, -20.5, -3.0, -2.0 - 1e-9, -2.0 + 1e-7, -1.5, -0.3, -1e-12,
                  0.0, 0.2, 0.49, 0.5, 0.51, 1.0, 3.7, 30.0]  # fmt: skip


@pytest.mark.parametrize("x", _RGAMMA_POINTS)
def test_rgamma_first_and_second_derivatives_match_mpmath(x):
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    d1 = float(mp.diff(mp.rgamma, mp.mpf(x)))
    d2 = float(mp.diff(mp.rgamma, mp.mpf(x), 2))
    same(ad.grad(sc.rgamma)(x), d1, rtol=1e-11, atol=0)
    same(ad.grad(ad.grad(sc.rgamma))(x), d2, rtol=1e-9, atol=0)


# -- cumsum's and cumprod's dtype= ---------------------------------------------------------------

_M = np.random.default_rng(6).standard_normal((3, 4))
_TORCH = {np.float32: torch.float32, np.float64: torch.float64, np.complex128: torch.complex128}


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_cumsum_with_a_dtype_matches_pytorch(dtype):
    w = np.arange(12.0).reshape(3, 4)
    got = ad.grad(lambda x: np.sum(np.real(np.cumsum(x, axis=1, dtype=dtype)) * w))(_M)
    t = torch.tensor(_M, requires_grad=True)
    (torch.real(torch.cumsum(t, 1, dtype=_TORCH[dtype])) * torch.tensor(w)).sum().backward()
    assert got.dtype == np.float64
    same(got, t.grad.numpy(), rtol=1e-6 if dtype is np.float32 else 1e-12)


def test_cumprod_with_a_float32_dtype_matches_pytorch():
    w = np.arange(12.0)
    got = ad.grad(lambda x: np.sum(np.cumprod(x, dtype=np.float32) * w))(_M)
    t = torch.tensor(_M, requires_grad=True)
    (torch.cumprod(t.ravel(), 0, dtype=torch.float32) * torch.tensor(w)).sum().backward()
    same(got, t.grad.numpy(), rtol=1e-5, atol=1e-6)


# -- linearize and checkpoint --------------------------------------------------------------------


@pytest.mark.parametrize("primal", [3.0, np.float32(3.0), np.array(2.0), np.array([1.0, 2.0])])
def test_linearize_takes_float_primals(primal):
    _, f_jvp = ad.linearize(np.sin, primal)
    same(f_jvp(np.ones_like(np.asarray(primal, float))), np.cos(primal), rtol=1e-6)


@pytest.mark.parametrize("primal", [3, True, np.array([1, 2])])
def test_linearize_refuses_integer_primals(primal):
    with pytest.raises(TypeError, match="float"):
        ad.linearize(np.sin, primal)


def test_checkpoint_of_a_complex_layer_matches_jax_and_pytorch():
    rng = np.random.default_rng(8)
    W = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))
    z = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    layer = ad.checkpoint(lambda z: np.tanh(W @ z))
    got = ad.grad(lambda z: np.sum(np.abs(layer(z)) ** 2))(z)
    want = jax.grad(lambda z: jnp.sum(jnp.abs(jax.checkpoint(lambda z: jnp.tanh(W @ z))(z)) ** 2))(z)
    same(got, want)
    same(ad.jacrev(layer, holomorphic=True)(z), jax.jacrev(lambda z: jnp.tanh(W @ z), holomorphic=True)(z))
    t = ad.tensor(z, requires_grad=True)
    np.sum(np.abs(layer(t)) ** 2).backward()
    tt = torch.tensor(z, requires_grad=True)
    (torch.abs(torch.tanh(torch.tensor(W) @ tt)) ** 2).sum().backward()
    same(t.grad, tt.grad.numpy())


def test_checkpoint_passes_fs_own_value_error_through():
    def own(x):
        raise ValueError("f's own message")

    with pytest.raises(ValueError, match="f's own message"):
        ad.grad(lambda x: np.sum(ad.checkpoint(own)(x)))(_X)


# -- eigenvector and singular-vector terms near repeated values ----------------------------------


def _orthogonal(seed, n=3):
    return np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))[0]


def test_svd_vectors_of_distinct_small_singular_values_have_a_finite_gradient():
    """Their closeness is measured on s, not on s^2: s = 1e-4 and 5e-5 are far apart against 1."""
    U, V = _orthogonal(10), _orthogonal(11)
    A = U @ np.diag([1.0, 1e-4, 5e-5]) @ V.T
    c = np.random.default_rng(12).standard_normal(3)
    loss = lambda A: np.sum((np.linalg.svd(A)[0][:, 1] @ c) ** 2)  # noqa: E731
    got = ad.grad(loss)(A)
    want = jax.grad(lambda A: jnp.sum((jnp.linalg.svd(A)[0][:, 1] @ c) ** 2))(A)
    t = torch.tensor(A, requires_grad=True)
    ((torch.linalg.svd(t)[0][:, 1] @ torch.tensor(c)) ** 2).sum().backward()
    same(want, t.grad.numpy(), rtol=1e-6)  # the oracles agree
    same(got, want, rtol=1e-6)
    same(ad.jacfwd(loss)(A), want, rtol=1e-6)  # the JVP rule's terms too


def test_eigh_vectors_at_a_relative_gap_of_1e_9_keep_their_gradient():
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 50
    Q = _orthogonal(13)
    B = Q @ np.diag([0.0, 1e-6, 1e3]) @ Q.T
    B = (B + B.T) / 2
    c = np.random.default_rng(14).standard_normal(3)

    def loss_mp(Bm):
        E, V = mp.eigsy(Bm)
        low = min(range(3), key=lambda i: E[i])
        return sum(V[k, low] * c[k] for k in range(3)) ** 2

    Bm, h = mp.matrix(B.tolist()), mp.mpf("1e-30")
    want = np.zeros((3, 3))  # d/dB_ij of a symmetric perturbation: eigh reads the lower triangle
    for i in range(3):
        for j in range(i + 1):
            E = mp.zeros(3, 3)
            E[i, j] = E[j, i] = h
            want[i, j] = float((loss_mp(Bm + E) - loss_mp(Bm - E)) / (2 * h))
    loss = lambda np_: lambda B: np_.sum((np_.linalg.eigh(B)[1][:, 0] @ c) ** 2)  # noqa: E731
    j = np.asarray(jax.grad(loss(jnp))(B))
    tol = 1e-6 * np.abs(want).max()
    same(np.tril(j + j.T) - np.diag(np.diag(j)), want, rtol=0, atol=tol)  # JAX is right
    same(ad.grad(loss(np))(B), want, rtol=0, atol=tol)


def test_hessian_through_eigh_at_a_repeated_pair_is_nan_not_finite_and_wrong():
    """f reads only the top eigenvector, smooth where the other two repeat. Its Hessian comes
    through the repeated pair's vectors, which have no derivative: NaN where JAX's (and the old
    code's) is finite and off by O(1) against central differences of the gradient."""
    Q = _orthogonal(7)
    a = Q @ np.diag([2.0, 2.0, 5.0]) @ Q.T
    f = lambda a: np.sum(np.linalg.eigh(a)[1][:, -1] ** 4)  # noqa: E731
    H = ad.hessian(f)(a)
    g = ad.grad(f)
    fd = np.zeros((3, 3, 3, 3))
    for i in range(3):
        for j in range(3):
            e = np.zeros((3, 3))
            e[i, j] = 1e-5
            fd[:, :, i, j] = (g(a + e) - g(a - e)) / 2e-5
    finite = np.isfinite(H)
    assert not finite.all()
    same(H[finite], fd[finite], rtol=1e-6, atol=1e-6)


# -- the compare tool's "unresolved" verdict -----------------------------------------------------


def test_compare_reports_a_consensus_that_the_complex_step_refutes():
    from ad.compare import model, runner
    from ad.compare.modes import Mode
    from ad.compare.problems import Problem

    x = np.array([0.3, 0.7, 1.1])
    J = np.diag(np.cos(x))
    wrong = lambda f, x, k: J * (1 + 1e-4)  # noqa: E731  (one wrong rule the engines share)
    modes = [
        Mode("shared rule, forward", "forward", "one", wrong),
        Mode("shared rule, reverse", "reverse", "one", wrong),
        Mode("shared rule, batched", "reverse", "k", wrong),
        Mode("own rule", "reverse", "all", lambda f, x, k: J),
    ]
    p = Problem("sine", "sin(x)", lambda backend: np.sin, x, 3, model.Cost(3, 3, 3, "n"))
    rows = runner.run_problem(p, modes, runner.QUICK).rows
    assert any(r.agrees is False for r in rows)


def test_a_hook_registered_on_the_input_during_the_sweep_is_called_as_in_pytorch():
    calls = []

    def registers_on(x):
        return lambda g: (x.register_hook(lambda h: calls.append("x") or h * 10), g)[1]

    def f(x):
        y = np.sin(x)
        y.register_hook(registers_on(x))
        return np.sum(y * 2.0)

    x0 = np.array([0.3, 0.7])
    got = ad.grad(f)(x0)
    xt = torch.tensor(x0, requires_grad=True)
    yt = torch.sin(xt)
    yt.register_hook(registers_on(xt))
    (want,) = torch.autograd.grad((yt * 2.0).sum(), xt)
    assert calls == ["x", "x"]  # ad's, then PyTorch's
    same(got, want.numpy())
