"""Complex derivatives of the Hermitian factorizations (cholesky, eigh, eigvalsh), slogdet,
svd and svdvals against JAX (grad, jvp, vjp: the functional convention) and PyTorch
(backward: its conjugate).

The peers read a Hermitian input differently: JAX's cholesky and eigh use (A + A^H) / 2,
PyTorch's the lower triangle, `ad`'s cholesky (A + A^H) / 2 and its eigh the UPLO triangle
(as NumPy). Along Hermitian perturbations all agree, so gradients are compared through
(G + G^H) / 2, what a gradient pairs with a Hermitian dA (Re sum(G dA) in JAX's pairing).
Eigenvectors and singular pairs carry a phase per column: losses are gauge invariant
(|V|^2, V V^H, w, u_j v_j^H), except where the phase LAPACK returns is differentiated on purpose."""

import numpy as np
import pytest

import ad
from ad import testing

RNG = np.random.default_rng(7)


def _c(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


def _hermitian(*lead, n=3):
    m = _c(*lead, n, n)
    return m @ np.conj(np.swapaxes(m, -1, -2)) + n * np.eye(n)


def _herm(g):
    return (g + np.conj(np.swapaxes(g, -1, -2))) / 2


A = _hermitian()
STACK = _hermitian(2)
W3 = _c(3, 3)
T = _herm(_c(3, 3))  # a Hermitian tangent


def _jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax, jax.numpy


def _torch():
    return pytest.importorskip("torch")


# Real losses of a Hermitian A, gauge invariant, written once for NumPy, jax.numpy and torch.
LOSSES = {
    "cholesky": lambda xp, a: (
        xp.sum(xp.real(xp.linalg.cholesky(a) * _w(xp))) + xp.sum(xp.abs(xp.linalg.cholesky(a)))
    ),
    "eigh, w": lambda xp, a: xp.sum(xp.linalg.eigh(a)[0] ** 3),
    "eigh, |V|^2": lambda xp, a: xp.sum(xp.abs(xp.linalg.eigh(a)[1]) ** 2 * xp.real(_w(xp))),
    "eigh, V V^H": lambda xp, a: _projector_loss(xp, xp.linalg.eigh(a)[1]),
    "eigvalsh": lambda xp, a: xp.sum(xp.linalg.eigvalsh(a) * xp.asarray([1.0, -2.0, 0.5])),
}


def _w(xp):
    return xp.asarray(W3)


def _projector_loss(xp, v, w=None):
    """Re sum(W ∘ v_0 v_0^H): the projector onto the first column of v, phase free."""
    p = v[:, :1] @ xp.conj(v[:, :1]).T
    return xp.sum(xp.real(p * (_w(xp) if w is None else w)))


@pytest.mark.parametrize("name", LOSSES)
def test_grad_of_a_real_loss_matches_jax(name):
    jax, jnp = _jax()
    f = LOSSES[name]
    ours = ad.grad(lambda a: f(np, a))(A)
    theirs = np.asarray(jax.grad(lambda a: f(jnp, a))(A))
    assert ours.dtype == np.complex128
    np.testing.assert_allclose(_herm(ours), _herm(theirs), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", LOSSES)
def test_backward_matches_torch(name):
    torch = _torch()
    f = LOSSES[name]
    t = ad.tensor(A, requires_grad=True)
    f(np, t).backward()
    a = torch.tensor(A, requires_grad=True)
    f(torch, a).backward()
    np.testing.assert_allclose(_herm(t.grad.numpy()), _herm(a.grad.numpy()), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", LOSSES)
def test_forward_mode_along_a_hermitian_tangent_matches_jax(name):
    jax, jnp = _jax()
    f = LOSSES[name]
    ours = ad.jvp(lambda a: f(np, a), (A,), (T,))[1]
    theirs = jax.jvp(lambda a: f(jnp, a), (A,), (T,))[1]
    np.testing.assert_allclose(ours, float(theirs), rtol=1e-9)


def test_cholesky_jvp_and_vjp_equal_jax_on_any_complex_tangent():
    """Both read (A + A^H) / 2, so even a non-Hermitian tangent and the full cotangent agree."""
    jax, jnp = _jax()
    t, w = _c(3, 3), _c(3, 3)
    ours = ad.jvp(np.linalg.cholesky, (A,), (t,))[1]
    np.testing.assert_allclose(ours, np.asarray(jax.jvp(jnp.linalg.cholesky, (A,), (t,))[1]), rtol=1e-10)
    (g,) = ad.vjp(np.linalg.cholesky, A)[1](w)
    np.testing.assert_allclose(g, np.asarray(jax.vjp(jnp.linalg.cholesky, A)[1](w)[0]), rtol=1e-10)


def test_eigh_eigenvalues_and_projectors_match_jax_in_forward_mode():
    jax, jnp = _jax()
    (w, v), (dw, dv) = ad.jvp(np.linalg.eigh, (A,), (T,))
    (_, jv), (jdw, jdv) = jax.jvp(jnp.linalg.eigh, (A,), (T,))
    assert dw.dtype == np.float64
    np.testing.assert_allclose(dw, np.asarray(jdw), rtol=1e-10)
    # d(v v^H) is gauge free, while dv itself is not (JAX fixes Im diag(V^H dV) = 0)
    dp = dv * np.conj(v) + v * np.conj(dv)
    np.testing.assert_allclose(dp, np.asarray(jdv * jnp.conj(jv) + jv * jnp.conj(jdv)), atol=1e-10)


def test_eigh_eigenvectors_are_differentiated_in_lapacks_phase():
    """NumPy's complex eigenvectors have a real first entry (UPLO 'L') or last (UPLO 'U'): the
    rule keeps it real, so even a phase-dependent loss matches finite differences of NumPy."""
    for uplo, k in (("L", 0), ("U", 2)):
        v = np.linalg.eigh(A, uplo)[1]
        np.testing.assert_array_equal(v[k].imag, 0.0)
        f = lambda a: np.linalg.eigh(a, uplo)[1]  # noqa: B023, E731
        dv = ad.jvp(f, (A,), (T,))[1]
        np.testing.assert_allclose(dv[k].imag, 0.0, atol=1e-15)
        fd = testing.central_difference(f, [A], [T]).reshape(3, 3)
        np.testing.assert_allclose(dv, fd, atol=1e-7)
        w = _c(3, 3)
        (g,) = ad.vjp(f, A)[1](w)
        lhs = np.real(np.sum(fd * w))
        assert abs(lhs - np.real(np.sum(g * T))) <= 1e-7 * max(1.0, abs(lhs))


def test_eigh_reads_the_triangle_and_the_real_diagonal_as_numpy_does():
    """Entries NumPy does not read (the other triangle, the diagonal's imaginary part) get 0."""
    f = lambda a: np.sum(np.linalg.eigh(a)[0] * np.array([1.0, 2.0, 3.0]))  # noqa: E731
    g = ad.grad(f)(A)
    np.testing.assert_array_equal(np.triu(g, 1), 0.0)
    np.testing.assert_array_equal(np.diagonal(g).imag, 0.0)
    noisy = A + np.triu(_c(3, 3), 1) + 1j * np.diag(RNG.standard_normal(3))
    np.testing.assert_allclose(ad.grad(f)(noisy), g, atol=1e-12)
    gu = ad.grad(lambda a: np.sum(np.linalg.eigvalsh(a, "U") * np.array([1.0, 2.0, 3.0])))(A)
    np.testing.assert_array_equal(np.tril(gu, -1), 0.0)
    np.testing.assert_allclose(_herm(gu), _herm(g), atol=1e-12)


@pytest.mark.parametrize("name", LOSSES)
def test_complex64_stays_complex64(name):
    f = LOSSES[name]
    a, t = A.astype(np.complex64), T.astype(np.complex64)
    assert ad.grad(lambda a: f(np, a))(a).dtype == np.complex64
    outs = {"cholesky": np.linalg.cholesky, "eigvalsh": np.linalg.eigvalsh}.get(name, np.linalg.eigh)
    y, dy = ad.jvp(outs, (a,), (t,))
    for yi, dyi in zip(*((v,) if isinstance(v, np.ndarray) else v for v in (y, dy))):
        assert yi.dtype in (np.complex64, np.float32) and dyi.dtype == yi.dtype, name


@pytest.mark.parametrize("op", [np.linalg.cholesky, np.linalg.eigvalsh, lambda a: np.linalg.eigh(a)[0]])
def test_a_stack_equals_each_matrix_alone(op):
    w = RNG.standard_normal(np.shape(op(STACK)))
    w = w + 1j * RNG.standard_normal(w.shape) if np.iscomplexobj(op(STACK)) else w
    (g,) = ad.vjp(op, STACK)[1](w)
    tangent = _herm(_c(2, 3, 3))
    dy = ad.jvp(op, (STACK,), (tangent,))[1]
    for i in range(2):
        np.testing.assert_allclose(g[i], ad.vjp(op, STACK[i])[1](w[i])[0], atol=1e-12)
        np.testing.assert_allclose(dy[i], ad.jvp(op, (STACK[i],), (tangent[i],))[1], atol=1e-12)


@pytest.mark.parametrize("name", LOSSES)
def test_second_order_through_complex_factors_matches_jax(name):
    """The Hessian of a real loss of A = H(x), H Hermitian in real parameters x, by ad.hvp
    (forward over reverse) and JAX's, both through the complex rules."""
    jax, jnp = _jax()
    f = LOSSES[name]
    basis = np.stack([_herm(_c(3, 3)) for _ in range(4)])

    def h(xp, x):
        return f(xp, A + xp.tensordot(x, basis, axes=1))

    x, v = 0.1 * RNG.standard_normal(4), RNG.standard_normal(4)
    for mode in ("fwd-rev", "rev-rev"):
        ours = ad.hvp(lambda x: h(np, x), (x,), (v,), mode=mode)[1]
        theirs = jax.jvp(jax.grad(lambda x: h(jnp, x)), (x,), (v,))[1]
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-7, atol=1e-9)


# -- slogdet: sign a unit phase, logabsdet real ---------------------------------------------

SQUARE = _c(2, 3, 3) + 3 * np.eye(3)
WS = _c(2)


def _slogdet_loss(xp, a):
    sign, logabsdet = xp.linalg.slogdet(a)
    return xp.sum(xp.real(sign * xp.asarray(WS))) + xp.sum(logabsdet**2)


def test_slogdet_grad_jvp_and_vjp_match_jax():
    jax, jnp = _jax()
    ours = ad.grad(lambda a: _slogdet_loss(np, a))(SQUARE)
    np.testing.assert_allclose(
        ours, np.asarray(jax.grad(lambda a: _slogdet_loss(jnp, a))(SQUARE)), atol=1e-12
    )
    t, w = _c(2, 3, 3), (_c(2), RNG.standard_normal(2))
    f, fj = np.linalg.slogdet, lambda a: tuple(jnp.linalg.slogdet(a))
    for d, dj in zip(ad.jvp(f, (SQUARE,), (t,))[1], jax.jvp(fj, (SQUARE,), (t,))[1]):
        np.testing.assert_allclose(d, np.asarray(dj), atol=1e-12)
    (g,) = ad.vjp(f, SQUARE)[1](w)
    np.testing.assert_allclose(g, np.asarray(jax.vjp(fj, SQUARE)[1](w)[0]), atol=1e-12)


def test_slogdet_backward_matches_torch():
    torch = _torch()
    t = ad.tensor(SQUARE, requires_grad=True)
    _slogdet_loss(np, t).backward()
    a = torch.tensor(SQUARE, requires_grad=True)
    _slogdet_loss(torch, a).backward()
    np.testing.assert_allclose(t.grad.numpy(), a.grad.numpy(), atol=1e-12)


def test_slogdet_sign_stays_a_unit_phase_and_complex64_is_kept():
    t = _c(2, 3, 3)
    (sign, _), (dsign, dlog) = ad.jvp(np.linalg.slogdet, (SQUARE,), (t,))
    np.testing.assert_allclose(np.real(dsign * np.conj(sign)), 0.0, atol=1e-14)  # d|sign| = 0
    assert dlog.dtype == np.float64
    a = SQUARE.astype(np.complex64)
    assert ad.grad(lambda a: _slogdet_loss(np, a))(a).dtype == np.complex64


def test_slogdet_second_order_matches_jax():
    jax, jnp = _jax()
    basis = _c(4, 2, 3, 3)
    x, v = 0.1 * RNG.standard_normal(4), RNG.standard_normal(4)

    def h(xp, x):
        return _slogdet_loss(xp, SQUARE + xp.tensordot(x, basis, axes=1))

    theirs = jax.jvp(jax.grad(lambda x: h(jnp, x)), (x,), (v,))[1]
    for mode in ("fwd-rev", "rev-rev"):
        ours = ad.hvp(lambda x: h(np, x), (x,), (v,), mode=mode)[1]
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-8, atol=1e-10)


# -- svd, svdvals: s real, each singular pair (u_j, v_j) fixed up to a common phase ----------

# Matrices with well separated singular values: tall, wide, square.
SVD_CASES = {"tall": _c(4, 3), "wide": _c(3, 5), "square": _c(3, 3)}
WU = {name: _c(a.shape[0], min(a.shape)) for name, a in SVD_CASES.items()}
WV = {name: _c(min(a.shape), a.shape[1]) for name, a in SVD_CASES.items()}


def _svd_losses(name):
    """Real losses of a complex A through its reduced SVD, each invariant under the phases."""
    wu, wv, ws = WU[name], WV[name], np.array([1.0, -2.0, 0.5])

    def svd(xp, a):
        return xp.linalg.svd(a, full_matrices=False)

    def rank2(u, s, vh):
        return (u[:, :2] * s[:2]) @ vh[:2]

    return {
        "s": lambda xp, a: xp.sum(svd(xp, a)[1] ** 3 * xp.asarray(ws)),
        "svdvals": lambda xp, a: xp.sum(xp.linalg.svdvals(a) ** 2 * xp.asarray(ws)),
        "rank 2": lambda xp, a: xp.sum(xp.real(rank2(*svd(xp, a)) * xp.asarray(wu @ wv))),
        "|U|^2": lambda xp, a: xp.sum(xp.abs(svd(xp, a)[0]) ** 2 * xp.real(xp.asarray(wu))),
        "|V|^2": lambda xp, a: xp.sum(xp.abs(svd(xp, a)[2]) ** 2 * xp.real(xp.asarray(wv))),
        "u_0 v_0^H": lambda xp, a: _pair_loss(xp, *svd(xp, a), xp.asarray(wu @ wv)),
        "u_1 u_1^H": lambda xp, a: _projector_loss(xp, svd(xp, a)[0][:, 1:], xp.asarray(wu @ wu.T)),
    }


def _pair_loss(xp, u, s, vh, w):
    """Re sum(W ∘ u_0 v_0^H): one singular pair, its common phase cancelling."""
    return xp.sum(xp.real(u[:, :1] @ vh[:1] * w))


SVD_LOSSES = [(name, loss) for name in SVD_CASES for loss in _svd_losses(name)]


@pytest.mark.parametrize(("case", "loss"), SVD_LOSSES)
def test_svd_grad_of_a_real_loss_matches_jax(case, loss):
    jax, jnp = _jax()
    a, f = SVD_CASES[case], _svd_losses(case)[loss]
    ours = ad.grad(lambda a: f(np, a))(a)
    assert ours.dtype == np.complex128
    np.testing.assert_allclose(ours, np.asarray(jax.grad(lambda a: f(jnp, a))(a)), rtol=1e-9, atol=1e-10)
    t = _c(*a.shape)
    ours = ad.jvp(lambda a: f(np, a), (a,), (t,))[1]
    np.testing.assert_allclose(ours, float(jax.jvp(lambda a: f(jnp, a), (a,), (t,))[1]), rtol=1e-9)


@pytest.mark.parametrize(("case", "loss"), SVD_LOSSES)
def test_svd_backward_matches_torch(case, loss):
    torch = _torch()
    a, f = SVD_CASES[case], _svd_losses(case)[loss]
    t = ad.tensor(a, requires_grad=True)
    f(np, t).backward()
    x = torch.tensor(a, requires_grad=True)
    f(torch, x).backward()
    np.testing.assert_allclose(t.grad.numpy(), x.grad.numpy(), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("case", SVD_CASES)
def test_svd_jvp_matches_jax_through_phase_free_quantities(case):
    """ds, and d(u_j v_j^H), d(u_j u_j^H), d(v_j v_j^H), which no phase changes, along a random
    complex tangent; the full derivatives of U and V differ from JAX's by a phase per pair."""
    jax, jnp = _jax()
    a, t = SVD_CASES[case], _c(*SVD_CASES[case].shape)
    (u, s, vh), (du, ds, dvh) = ad.jvp(lambda a: np.linalg.svd(a, full_matrices=False), (a,), (t,))
    (ju, _, jvh), (jdu, jds, jdvh) = jax.jvp(lambda a: jnp.linalg.svd(a, full_matrices=False), (a,), (t,))
    assert ds.dtype == np.float64
    np.testing.assert_allclose(ds, np.asarray(jds), rtol=1e-10)

    def outer(x, dx, y, dy):  # d(x y^H) for columns x, y
        return dx[:, :, None] * np.conj(y[:, None, :]) + x[:, :, None] * np.conj(dy[:, None, :])

    v, dv, jv, jdv = (np.conj(np.asarray(x)) for x in (vh, dvh, jvh, jdvh))  # rows v_j^H -> v_j
    ju, jdu = np.asarray(ju).T, np.asarray(jdu).T
    for x, dx, y, dy, jx, jdx, jy, jdy in (
        (u.T, du.T, v, dv, ju, jdu, jv, jdv),
        (u.T, du.T, u.T, du.T, ju, jdu, ju, jdu),
        (v, dv, v, dv, jv, jdv, jv, jdv),
    ):
        np.testing.assert_allclose(outer(x, dx, y, dy), outer(jx, jdx, jy, jdy), atol=1e-10)


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("case", SVD_CASES)
def test_svd_factors_are_differentiated_in_lapacks_phase(case, full):
    """NumPy's complex V has a real first row when m >= n, U when m < n: the rule keeps it
    real, so the derivative of U and Vh themselves matches finite differences of NumPy, in
    both modes (the extra columns of a full SVD: their phase-free projector)."""
    a = SVD_CASES[case]
    m, n = a.shape
    k = min(m, n)
    f = lambda a: np.linalg.svd(a, full_matrices=False)  # noqa: E731
    u, _, vh = f(a)
    real_row = vh[:, 0] if m >= n else u[0]
    np.testing.assert_allclose(real_row.imag, 0.0, atol=1e-15)
    t, w = _c(m, n), (_c(m, k), RNG.standard_normal(k), _c(k, n))
    du, _, dvh = ad.jvp(f, (a,), (t,))[1]
    np.testing.assert_allclose((dvh[:, 0] if m >= n else du[0]).imag, 0.0, atol=1e-12)
    fd = testing.central_difference(f, [a], [t])
    np.testing.assert_allclose(testing._flat(ad.jvp(f, (a,), (t,))[1]), fd, atol=1e-7)
    (g,) = ad.vjp(f, a)[1](w)
    lhs = float(np.real(fd @ testing._flat(w)))
    assert abs(lhs - np.real(np.sum(g * t))) <= 1e-7 * max(1.0, abs(lhs))
    if full and m != n:

        def complement(a):
            u, _, vh = np.linalg.svd(a)
            q = u[:, k:] if m > n else np.conj(vh[k:]).T
            return q @ np.conj(q).T

        fd = testing.central_difference(complement, [a], [t])
        np.testing.assert_allclose(testing._flat(ad.jvp(complement, (a,), (t,))[1]), fd, atol=1e-7)
        wc = _c(max(m, n), max(m, n))
        (g,) = ad.vjp(complement, a)[1](wc)
        lhs = float(np.real(fd @ testing._flat(wc)))
        assert abs(lhs - np.real(np.sum(g * t))) <= 1e-7 * max(1.0, abs(lhs))


def test_svd_full_matrices_dot_product_identity_on_complex_input():
    """Re sum((J t) w) = Re sum(t vjp(w)) for every output of the full SVD, tall and wide."""
    for a in (SVD_CASES["tall"], SVD_CASES["wide"], np.stack([SVD_CASES["square"]] * 2) + _c(2, 3, 3)):
        out, dout = ad.jvp(np.linalg.svd, (a,), (t := _c(*a.shape),))
        w = tuple(_c(*np.shape(y)) if np.iscomplexobj(y) else RNG.standard_normal(np.shape(y)) for y in out)
        (g,) = ad.vjp(np.linalg.svd, a)[1](w)
        lhs = float(np.real(sum(np.sum(d * x) for d, x in zip(dout, w))))
        assert abs(lhs - np.real(np.sum(g * t))) <= 1e-10 * max(1.0, abs(lhs))


@pytest.mark.parametrize("loss", ["s", "|U|^2", "u_0 v_0^H"])
def test_svd_complex64_stays_complex64(loss):
    f = _svd_losses("tall")[loss]
    a = SVD_CASES["tall"].astype(np.complex64)
    assert ad.grad(lambda a: f(np, a))(a).dtype == np.complex64
    y, dy = ad.jvp(np.linalg.svd, (a,), (_c(4, 3).astype(np.complex64),))
    assert [d.dtype for d in dy] == [x.dtype for x in y] == [np.complex64, np.float32, np.complex64]
    assert ad.jvp(np.linalg.svdvals, (a,), (_c(4, 3).astype(np.complex64),))[1].dtype == np.float32


@pytest.mark.parametrize(
    "op",
    [np.linalg.svdvals, lambda a: np.linalg.svd(a)[2], lambda a: np.linalg.svd(a, full_matrices=False)[0]],
)
def test_svd_of_a_complex_stack_equals_each_matrix_alone(op):
    stack = _c(2, 3, 4)
    w = _c(*np.shape(op(stack))) if np.iscomplexobj(op(stack)) else RNG.standard_normal(np.shape(op(stack)))
    (g,) = ad.vjp(op, stack)[1](w)
    tangent = _c(2, 3, 4)
    dy = ad.jvp(op, (stack,), (tangent,))[1]
    for i in range(2):
        np.testing.assert_allclose(g[i], ad.vjp(op, stack[i])[1](w[i])[0], atol=1e-12)
        np.testing.assert_allclose(dy[i], ad.jvp(op, (stack[i],), (tangent[i],))[1], atol=1e-12)


@pytest.mark.parametrize("loss", ["s", "rank 2", "|V|^2", "u_1 u_1^H"])
@pytest.mark.parametrize("case", ["tall", "wide"])
def test_svd_second_order_through_complex_factors_matches_jax(case, loss):
    """The Hessian of a real loss of A(x) = A + sum_i x_i B_i (complex B_i, real x) by ad.hvp
    in both of its reverse-containing modes and by JAX's."""
    jax, jnp = _jax()
    a, f = SVD_CASES[case], _svd_losses(case)[loss]
    basis = _c(4, *a.shape)

    def h(xp, x):
        return f(xp, a + xp.tensordot(x, basis, axes=1))

    x, v = 0.05 * RNG.standard_normal(4), RNG.standard_normal(4)
    theirs = jax.jvp(jax.grad(lambda x: h(jnp, x)), (x,), (v,))[1]
    for mode in ("fwd-rev", "rev-rev"):
        ours = ad.hvp(lambda x: h(np, x), (x,), (v,), mode=mode)[1]
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-7, atol=1e-9)


# -- cond: a ratio of singular values (p None, 2, -2), else norm(x, p) norm(inv(x), p) -------

COND_ORDERS = [None, 2, -2, "fro", "nuc", np.inf, 1, -1, -np.inf]


_rng = np.random.default_rng(27)  # its own generator: the draws of the tests above stay theirs
COND_POINTS = [  # (a, a tangent)
    (a, _rng.standard_normal(a.shape) + 1j * _rng.standard_normal(a.shape))
    for a in (SVD_CASES["square"], _rng.standard_normal((2, 3, 3)) + 1j * _rng.standard_normal((2, 3, 3)))
]


@pytest.fixture(scope="module")
def cond_derivatives_by_jax():
    """JAX's gradient and JVP of sum(cond(a, p)) for every order, at every point, in one
    compiled call: run op by op, each of JAX's linalg routines compiles on its own (~60
    compiles, seconds per order)."""
    jax, jnp = _jax()

    @jax.jit
    def derivatives(points):
        out = []
        for p in COND_ORDERS:
            fj = lambda a, p=p: jnp.sum(jnp.linalg.cond(a, p))  # noqa: E731
            out.append([(jax.grad(fj)(a), jax.jvp(fj, (a,), (t,))[1]) for a, t in points])
        return out

    return jax.tree_util.tree_map(np.asarray, derivatives(COND_POINTS))


@pytest.mark.parametrize("p", COND_ORDERS)
def test_cond_grad_and_jvp_match_jax(p, cond_derivatives_by_jax):
    f = lambda a: np.sum(np.linalg.cond(a, p))  # noqa: E731
    expected = cond_derivatives_by_jax[COND_ORDERS.index(p)]
    for (a, t), (grad, jvp) in zip(COND_POINTS, expected, strict=True):
        ours = ad.grad(f)(a)
        assert ours.dtype == np.complex128
        np.testing.assert_allclose(ours, grad, rtol=1e-9, atol=1e-12)
        _, dy = ad.jvp(f, (a,), (t,))
        assert dy.dtype == np.float64
        np.testing.assert_allclose(dy, float(jvp), rtol=1e-9)


@pytest.mark.parametrize("p", [None, 2, -2])
def test_cond_backward_matches_torch(p):
    """(torch's backward of complex cond for the other orders fails inside torch, an inv output
    modified in place; those orders are checked against JAX)"""
    torch = _torch()
    a = _c(2, 4, 3) if p != -2 else SVD_CASES["wide"]
    t = ad.tensor(a, requires_grad=True)
    np.sum(np.linalg.cond(t, p)).backward()
    x = torch.tensor(a, requires_grad=True)
    torch.sum(torch.linalg.cond(x, p)).backward()
    np.testing.assert_allclose(t.grad.numpy(), x.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_cond_of_a_singular_complex_matrix_is_inf_with_zero_derivative():
    a = SVD_CASES["square"].copy()
    a[:, 2] = 0.0  # s_min exactly 0
    g = ad.grad(np.linalg.cond)(a)
    assert np.linalg.cond(a) == np.inf
    np.testing.assert_array_equal(g, 0.0)


@pytest.mark.parametrize("p", [None, "fro"])
def test_cond_complex64_and_second_order(p):
    jax, jnp = _jax()
    a = SVD_CASES["square"]
    assert ad.grad(lambda a: np.linalg.cond(a, p))(a.astype(np.complex64)).dtype == np.complex64
    basis = _c(4, 3, 3)

    def h(xp, x):
        return xp.linalg.cond(a + xp.tensordot(x, basis, axes=1), p)

    x, v = 0.05 * RNG.standard_normal(4), RNG.standard_normal(4)
    theirs = jax.jvp(jax.grad(lambda x: h(jnp, x)), (x,), (v,))[1]
    for mode in ("fwd-rev", "rev-rev"):
        ours = ad.hvp(lambda x: h(np, x), (x,), (v,), mode=mode)[1]
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-7, atol=1e-9)


# -- lstsq: x = pinv(a) b, residuals |b - a x|^2 (tall, full rank), s from svd ---------------

LSTSQ_SHAPES = {"tall": (5, 3), "square": (3, 3), "wide": (2, 4)}
LSTSQ = {name: (_c(m, n), _c(m, 2), _c(n, 2)) for name, (m, n) in LSTSQ_SHAPES.items()}


def _lstsq_loss(xp, a, b, w):
    """Re sum(W ∘ x) + |s|^2 (+ sum of the residuals, where NumPy returns them)."""
    x, resid, _, s = xp.linalg.lstsq(a, b, rcond=None)
    loss = xp.sum(xp.real(x * xp.asarray(w))) + xp.sum(s**2)
    return loss + xp.sum(resid) if a.shape[0] > a.shape[1] else loss


@pytest.mark.parametrize("case", LSTSQ)
def test_lstsq_values_are_numpys_and_grad_and_jvp_match_jax(case):
    jax, jnp = _jax()
    a, b, w = LSTSQ[case]
    traced = ad.jvp(lambda a: np.linalg.lstsq(a, b, rcond=None), (a,), (a,))[0]
    for ours, theirs in zip(traced, np.linalg.lstsq(a, b)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-13)
        assert np.asarray(ours).dtype == np.asarray(theirs).dtype
    f = lambda a, b: _lstsq_loss(np, a, b, w)  # noqa: E731
    fj = lambda a, b: _lstsq_loss(jnp, a, b, w)  # noqa: E731
    ours, theirs = ad.grad(f, argnums=(0, 1))(a, b), jax.grad(fj, argnums=(0, 1))(a, b)
    for g, gj in zip(ours, theirs):
        assert g.dtype == np.complex128
        np.testing.assert_allclose(g, np.asarray(gj), rtol=1e-9, atol=1e-12)
    ta, tb = _c(*a.shape), _c(*b.shape)
    dy, dyj = ad.jvp(f, (a, b), (ta, tb))[1], jax.jvp(fj, (a, b), (ta, tb))[1]
    np.testing.assert_allclose(dy, float(dyj), rtol=1e-9)


@pytest.mark.parametrize("case", LSTSQ)
def test_lstsq_backward_matches_torch(case):
    torch = _torch()
    a, b, w = LSTSQ[case]
    ta, tb = ad.tensor(a, requires_grad=True), ad.tensor(b, requires_grad=True)
    x, resid, _, _ = np.linalg.lstsq(ta, tb, rcond=None)
    (np.sum(np.real(x * w)) + np.sum(resid)).backward()
    xa, xb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    xt = torch.linalg.lstsq(xa, xb, driver="gelsd").solution
    loss = torch.sum(torch.real(xt * torch.tensor(w)))
    if a.shape[0] > a.shape[1]:  # torch's residuals carry no derivative: |b - a x|^2 written out
        loss = loss + torch.sum(torch.abs(xb - xa @ xt) ** 2)
    loss.backward()
    np.testing.assert_allclose(ta.grad.numpy(), xa.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(tb.grad.numpy(), xb.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_lstsq_complex64_and_second_order():
    jax, jnp = _jax()
    a, b, w = LSTSQ["tall"]
    g = ad.grad(lambda a: _lstsq_loss(np, a, b.astype(np.complex64), w))(a.astype(np.complex64))
    assert g.dtype == np.complex64
    basis = _c(4, *a.shape)

    def h(xp, x):
        return _lstsq_loss(xp, a + xp.tensordot(x, basis, axes=1), b, w)

    x, v = 0.05 * RNG.standard_normal(4), RNG.standard_normal(4)
    theirs = jax.jvp(jax.grad(lambda x: h(jnp, x)), (x,), (v,))[1]
    for mode in ("fwd-rev", "rev-rev"):
        ours = ad.hvp(lambda x: h(np, x), (x,), (v,), mode=mode)[1]
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-7, atol=1e-9)
