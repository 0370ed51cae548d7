"""numpy.linalg beyond the registry loop: hand-derived derivatives of the factorizations
(d s = u^T dA v, d lambda = l^T dA r / l^T r, ...), the conventions where a derivative does
not exist (repeated singular values, the extra columns of a full SVD, a rank change), every
norm order, and JAX as an oracle where it is installed."""

import warnings

import numpy as np
import pytest

import ad
from ad import testing
from ad.ops.factorizations import with_eigenvalues, with_singular_values

RNG = np.random.default_rng(11)


def _both(f, x):
    """jacfwd and jacrev of f at x, checked equal, so each test pins both engines."""
    jf, jr = ad.jacfwd(f)(x), ad.jacrev(f)(x)
    testing.assert_close(jf, jr, 1e-10, 1e-12, "jacfwd vs jacrev")
    return jf


def _fd_jacobian(f, x, h=1e-6):
    cols = [testing.central_difference(f, [x], [e.reshape(x.shape)], h) for e in np.eye(x.size)]
    return np.stack(cols, axis=-1)


def _dot_test(f, x, rng):
    """<J u, w> by forward mode equals <u, J^T w> by reverse mode, for every output of f."""
    u = rng.standard_normal(x.shape)
    out, jt = ad.jvp(f, (x,), (u,))
    w = testing.random_cotangent(out, rng)
    (g,) = ad.vjp(f, x)[1](w)
    lhs = float(np.real(testing._flat(jt) @ testing._flat(w)))
    assert abs(lhs - float(np.sum(g * u))) <= 1e-11 * max(1.0, abs(lhs))


# -- svd ------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (3, 3)])
def test_singular_value_gradient_is_u_v_transpose(shape):
    A = with_singular_values(RNG, (2.5, 1.5, 0.5), m=shape[0], n=shape[1])
    U, s, Vh = np.linalg.svd(A, full_matrices=False)
    for i in range(3):
        expected = np.outer(U[:, i], Vh[i])  # d s_i = u_i^T dA v_i
        for full in (True, False):
            got = _both(lambda A, i=i, full=full: np.linalg.svd(A, full_matrices=full)[1][i], A)
            np.testing.assert_allclose(got, expected, atol=1e-12)
        np.testing.assert_allclose(
            _both(lambda A, i=i: np.linalg.svd(A, compute_uv=False)[i], A), expected, atol=1e-12
        )


def test_svd_factors_rebuild_a_with_the_identity_jacobian():
    for m, n in ((4, 3), (3, 4)):
        A = with_singular_values(RNG, (2.0, 1.2, 0.4), m=m, n=n)

        def rebuild(A):
            U, s, Vh = np.linalg.svd(A, full_matrices=False)
            return (U * s) @ Vh

        np.testing.assert_allclose(_both(rebuild, A).reshape(A.size, A.size), np.eye(A.size), atol=1e-10)


def test_singular_values_gradient_is_finite_at_repeated_and_zero_singular_values():
    for A in (np.eye(3), np.diag([2.0, 2.0, 1.0]), np.diag([1.0, 0.0, 0.0]), np.zeros((3, 2))):
        U, s, Vh = np.linalg.svd(A, full_matrices=False)
        c = np.array([1.0, 2.0, 3.0])[: len(s)]
        for f in (lambda A: np.linalg.svd(A)[1] @ c, lambda A: np.linalg.svd(A, compute_uv=False) @ c):
            expected = (U * c) @ Vh
            np.testing.assert_allclose(ad.grad(f)(A), expected, atol=1e-14)
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")  # forward mode computes dU and dV too (inf there)
                np.testing.assert_allclose(ad.jacfwd(f)(A), expected, atol=1e-14)


def test_full_svd_extra_columns_keep_the_basis_orthonormal_and_project_correctly():
    rng = np.random.default_rng(2)
    for m, n in ((5, 3), (3, 5)):
        A = with_singular_values(rng, (2.0, 1.2, 0.4), m=m, n=n)
        T = rng.standard_normal(A.shape)
        (U, s, Vh), (dU, ds, dVh) = ad.jvp(lambda A: np.linalg.svd(A), (A,), (T,))
        for Q, dQ in ((U, dU), (Vh.T, dVh.T)):
            skew = Q.T @ dQ  # d(Q^T Q) = 0 to first order
            np.testing.assert_allclose(skew + skew.T, 0, atol=1e-12)
        # the reduced factors' tangents are the same; the projector onto the complement is exact
        _, (rU, rs, rVh) = ad.jvp(lambda A: np.linalg.svd(A, full_matrices=False), (A,), (T,))
        np.testing.assert_allclose(dU[:, :3], rU, atol=1e-12)
        np.testing.assert_allclose(dVh[:3], rVh, atol=1e-12)

        def complement(A):
            U, _, Vh = np.linalg.svd(A)
            Q = U[:, 3:] if m > n else Vh[3:].T
            return Q @ Q.T

        fd = testing.central_difference(complement, [A], [T])
        np.testing.assert_allclose(testing._flat(ad.jvp(complement, (A,), (T,))[1]), fd, atol=1e-7)
        assert ad.gradcheck(lambda A: np.sum(complement(A) * np.arange(max(m, n))), A, fast_mode=True)
        _dot_test(np.linalg.svd, A, rng)


def test_svd_of_a_stack_equals_each_matrix_alone():
    A = np.stack([with_singular_values(RNG, (2.0, 1.0, 0.3), m=4, n=3) for _ in range(2)])
    f = lambda A: np.linalg.svd(A, full_matrices=False)[0]  # noqa: E731
    J = _both(f, A)
    for i in range(2):
        np.testing.assert_allclose(J[i, :, :, i], _both(f, A[i]), atol=1e-12)


def test_svd_refusals_name_the_fix():
    A = np.eye(2)
    with pytest.raises(NotImplementedError, match="drop hermitian=True"):
        ad.grad(lambda A: np.sum(np.linalg.svd(A, hermitian=True)[1]))(A)


def test_singular_value_gradient_of_a_complex_matrix_is_conj_u_v_transpose():
    """d s_i = Re(u_i^H dA v_i): grad s_i = conj(u_i) v_i^T = conj(u_i v_i^H) in JAX's convention."""
    A = with_singular_values(RNG, (2.5, 1.5, 0.5), m=4, n=3) + 0.3j * RNG.standard_normal((4, 3))
    U, s, Vh = np.linalg.svd(A, full_matrices=False)
    for i in range(3):
        expected = np.conj(np.outer(U[:, i], Vh[i]))
        for f in (lambda A, i=i: np.linalg.svd(A)[1][i], lambda A, i=i: np.linalg.svdvals(A)[i]):
            np.testing.assert_allclose(ad.grad(f)(A), expected, atol=1e-12)


# -- eig, eigvals ------------------------------------------------------------------------------


def test_eigenvalue_gradient_is_left_times_right_eigenvector():
    w = np.array([2.0, -1.0, 0.5])
    S = np.eye(3) + 0.3 * RNG.uniform(-1, 1, (3, 3))
    A = S @ np.diag(w) @ np.linalg.inv(S)
    left = np.linalg.inv(S).T  # rows of S^{-1}: left eigenvectors with l_i^T r_i = 1
    order = np.argsort(np.linalg.eigvals(A))
    for i, j in enumerate(np.argsort(w)):  # d lambda_j = l_j^T dA r_j
        expected = np.outer(left[:, j], S[:, j])
        for f in (np.linalg.eigvals, lambda A: np.linalg.eig(A)[0]):
            np.testing.assert_allclose(_both(lambda A, f=f, i=i: f(A)[order[i]], A), expected, atol=1e-10)


def test_complex_eigenvalues_of_a_real_matrix_match_finite_differences():
    A = np.array([[0.5, -2.0, 0.3], [1.5, 0.2, -0.4], [0.1, 0.6, -1.0]])  # one complex pair
    assert np.iscomplexobj(np.linalg.eigvals(A))
    fd = _fd_jacobian(np.linalg.eigvals, A)
    for jac in (
        ad.jacfwd(np.linalg.eigvals)(A).reshape(3, 9),
        ad.jacfwd(lambda A: np.linalg.eig(A)[0])(A).reshape(3, 9),
    ):
        np.testing.assert_allclose(jac, fd, atol=1e-7)
    # a real function of the complex eigenvalues: its gradient is real, the same in both modes
    f = lambda A: np.sum(np.abs(np.linalg.eigvals(A)) ** 2 + np.real(np.linalg.eig(A)[0]) * 0.5)  # noqa: E731
    g = ad.grad(f)(A)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, ad.jacfwd(f)(A), atol=1e-12)
    np.testing.assert_allclose(g.ravel(), _fd_jacobian(f, A).ravel(), atol=1e-7)


def test_eigenvectors_are_differentiated_through_lapacks_normalisation():
    rng = np.random.default_rng(5)
    for A in (
        with_eigenvalues(rng, (2.0, -1.0, 0.5)),
        np.array([[0.5, -2.0, 0.3], [1.5, 0.2, -0.4], [0.1, 0.6, -1.0]]),
    ):
        T = rng.standard_normal(A.shape)
        v_of = lambda A: np.linalg.eig(A)[1]  # noqa: E731
        _, dv = ad.jvp(v_of, (A,), (T,))
        np.testing.assert_allclose(dv.ravel(), testing.central_difference(v_of, [A], [T]), atol=1e-7)
        v = v_of(A)
        np.testing.assert_allclose(np.real(np.sum(np.conj(v) * dv, axis=0)), 0, atol=1e-12)  # unit norm kept
        _dot_test(np.linalg.eig, A, rng)


def test_eigenvalue_gradient_is_finite_at_a_repeated_eigenvalue():
    weights = np.array([1.0, 2.0, 3.0])
    for A in (2.0 * np.eye(3), np.diag([2.0, 2.0, 1.0])):  # eigenvectors: the identity
        for f in (
            lambda A: np.real(np.linalg.eig(A)[0]) @ weights,
            lambda A: np.real(np.linalg.eigvals(A)) @ weights,
        ):
            np.testing.assert_allclose(ad.grad(f)(A), np.diag(weights), atol=1e-14)
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")  # forward mode computes dV too (NaN there)
                np.testing.assert_allclose(ad.jacfwd(f)(A), np.diag(weights), atol=1e-14)


# -- qr ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (3, 5)])
def test_qr_tangents_keep_q_orthonormal_r_upper_and_rebuild_a(shape):
    rng = np.random.default_rng(6)
    A, T = rng.uniform(-1, 1, shape), rng.standard_normal(shape)
    (Q, R), (dQ, dR) = ad.jvp(np.linalg.qr, (A,), (T,))
    np.testing.assert_allclose(dQ @ R + Q @ dR, T, atol=1e-12)
    skew = Q.T @ dQ
    np.testing.assert_allclose(skew + skew.T, 0, atol=1e-12)
    np.testing.assert_allclose(np.tril(dR, -1), 0, atol=1e-14)
    _dot_test(np.linalg.qr, A, rng)
    np.testing.assert_allclose(
        ad.jacfwd(lambda A: np.linalg.qr(A, mode="r"))(A), ad.jacfwd(lambda A: np.linalg.qr(A)[1])(A)
    )


def test_qr_refuses_the_modes_it_cannot_differentiate():
    with pytest.raises(NotImplementedError, match="mode='reduced'"):
        ad.jacfwd(lambda A: np.linalg.qr(A, mode="complete")[0])(np.ones((3, 2)) + np.eye(3, 2))
    with pytest.raises(NotImplementedError, match="'raw'"):
        ad.jacfwd(lambda A: np.linalg.qr(A, mode="raw")[0])(np.eye(2))
    A = RNG.uniform(-1, 1, (2, 3))
    np.testing.assert_allclose(
        ad.jacfwd(lambda A: np.linalg.qr(A, mode="complete")[1])(A),
        ad.jacfwd(lambda A: np.linalg.qr(A)[1])(A),
    )


# -- pinv, lstsq ------------------------------------------------------------------------------


def test_pinv_of_a_square_matrix_has_the_derivative_of_inv():
    A = with_singular_values(RNG, (2.0, 1.0, 0.5), m=3, n=3)
    np.testing.assert_allclose(_both(np.linalg.pinv, A), _both(np.linalg.inv, A), atol=1e-10)


def test_pinv_at_lower_rank_is_the_derivative_along_matrices_of_that_rank():
    rng = np.random.default_rng(8)
    B, C, dB, dC = (rng.standard_normal(s) for s in ((4, 2), (2, 3), (4, 2), (2, 3)))
    rank2 = lambda e: np.linalg.pinv((B + e * dB) @ (C + e * dC))  # noqa: E731  (rank 2 for every e)
    fd = (rank2(1e-6) - rank2(-1e-6)) / 2e-6
    _, dP = ad.jvp(np.linalg.pinv, (B @ C,), (dB @ C + B @ dC,))
    np.testing.assert_allclose(dP, fd, atol=1e-7)


def test_lstsq_solution_derivative_is_the_normal_equations():
    rng = np.random.default_rng(9)
    A, b = with_singular_values(rng, (2.0, 1.0, 0.6), m=5, n=3), rng.standard_normal(5)
    x_of = lambda A, b: np.linalg.solve(A.T @ A, A.T @ b)  # noqa: E731
    for arg in (0, 1):
        expected = ad.jacfwd(x_of, argnums=arg)(A, b)
        np.testing.assert_allclose(
            ad.jacfwd(lambda A, b: np.linalg.lstsq(A, b)[0], argnums=arg)(A, b), expected, atol=1e-10
        )
        np.testing.assert_allclose(
            ad.jacrev(lambda A, b: np.linalg.lstsq(A, b)[0], argnums=arg)(A, b), expected, atol=1e-10
        )
    r = b - A @ x_of(A, b)
    # d |r|^2 = -2 r^T dA x (A^T r = 0), d/db = 2 r
    gA, gb = ad.grad(lambda A, b: np.linalg.lstsq(A, b)[1][0], argnums=(0, 1))(A, b)
    np.testing.assert_allclose(gA, -2 * np.outer(r, x_of(A, b)), atol=1e-10)
    np.testing.assert_allclose(gb, 2 * r, atol=1e-10)
    x, resid, rank, s = ad.jvp(lambda A: np.linalg.lstsq(A, b), (A,), (np.ones_like(A),))[0]
    expected = np.linalg.lstsq(A, b)
    for got, want in zip((x, resid, rank, s), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert isinstance(rank, np.integer)


def test_lstsq_of_a_wide_matrix_is_the_minimum_norm_solution():
    A, b = with_singular_values(RNG, (2.0, 0.7), m=2, n=4), RNG.standard_normal(2)
    x_of = lambda A: A.T @ np.linalg.solve(A @ A.T, b)  # noqa: E731
    np.testing.assert_allclose(_both(lambda A: np.linalg.lstsq(A, b)[0], A), _both(x_of, A), atol=1e-10)
    assert np.linalg.lstsq(ad.Dual(A, np.ones_like(A)), b)[1].shape == (0,)


# -- matrix_power, multi_dot, tensorsolve, tensorinv ---------------------------------------------


def test_matrix_power_is_the_product_of_its_factors():
    A = RNG.uniform(-1, 1, (3, 3)) + 2 * np.eye(3)
    inv = np.linalg.inv
    cases = {0: lambda A: np.eye(3) + 0 * A, 1: lambda A: A, 3: lambda A: A @ A @ A,
             4: lambda A: A @ A @ A @ A, -2: lambda A: inv(A) @ inv(A)}  # fmt: skip
    for n, product in cases.items():
        np.testing.assert_allclose(
            _both(lambda A, n=n: np.linalg.matrix_power(A, n), A), _both(product, A), atol=1e-10
        )
    with pytest.raises(TypeError, match="integer"):
        ad.jacfwd(lambda A: np.linalg.matrix_power(A, 1.5))(A)


def test_multi_dot_with_vectors_at_the_ends_equals_the_chain_of_matmuls():
    a, B, C, d = (
        RNG.standard_normal(4),
        RNG.standard_normal((4, 6)),
        RNG.standard_normal((6, 2)),
        RNG.standard_normal(2),
    )
    for args in ((a, B, C, d), (B, C, d), (a, B, C), (B.T, B, C)):
        for i in range(len(args)):

            def f(x, i=i, args=args):
                return np.linalg.multi_dot(args[:i] + (x,) + args[i + 1 :])

            def chain(x, i=i, args=args):
                out = (args[:i] + (x,) + args[i + 1 :])[0]
                for y in (args[:i] + (x,) + args[i + 1 :])[1:]:
                    out = out @ y
                return out

            np.testing.assert_allclose(_both(f, args[i]), _both(chain, args[i]), atol=1e-12)


def test_tensorsolve_and_tensorinv_are_solve_and_inv_reshaped():
    A = (RNG.uniform(-1, 1, (6, 6)) + 6 * np.eye(6)).reshape(2, 3, 6)
    b = RNG.standard_normal((2, 3))
    expected = _both(lambda A: np.linalg.solve(A.reshape(6, 6), b.ravel()), A).reshape(6, 2, 3, 6)
    np.testing.assert_allclose(_both(lambda A: np.linalg.tensorsolve(A, b), A), expected, atol=1e-12)
    inv = _both(lambda A: np.linalg.inv(A.reshape(6, 6)), A).reshape(6, 2, 3, 2, 3, 6)
    np.testing.assert_allclose(_both(lambda A: np.linalg.tensorinv(A, ind=2), A), inv, atol=1e-12)
    roundtrip = _both(lambda A: np.linalg.tensorinv(np.linalg.tensorinv(A, ind=2), ind=1), A)
    np.testing.assert_allclose(roundtrip.reshape(36, 36), np.eye(36), atol=1e-10)


# -- norm -------------------------------------------------------------------------------------

X = np.array([1.5, -0.5, 2.0, -1.2])
M = np.array([[1.0, -2.0, 0.5], [0.3, 1.2, -1.0], [2.0, 0.1, 0.7], [-0.4, 0.9, 1.1]])
VECTOR_ORDS = [None, 1, 2, 3, 0.5, 1.5, -1, -2, np.inf, -np.inf, 0]
MATRIX_ORDS = [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]


@pytest.mark.parametrize("ord", VECTOR_ORDS, ids=repr)
def test_vector_p_norm_gradient_is_sign_times_the_normalised_power(ord):
    p = 2 if ord is None else ord
    y = np.linalg.norm(X, ord)
    if p == 0:
        expected = np.zeros(4)
    elif np.isinf(p):
        expected = np.sign(X) * (np.abs(X) == (np.max if p > 0 else np.min)(np.abs(X)))
    else:
        expected = np.sign(X) * (np.abs(X) / y) ** (p - 1)
    np.testing.assert_allclose(_both(lambda x: np.linalg.norm(x, ord), X), expected, rtol=1e-13)


@pytest.mark.parametrize("ord", ["nuc", 2, -2])
def test_spectral_matrix_norms_have_the_singular_vector_gradients(ord):
    U, s, Vh = np.linalg.svd(M, full_matrices=False)
    c = {"nuc": np.ones(3), 2: np.eye(3)[0], -2: np.eye(3)[2]}[ord]
    np.testing.assert_allclose(_both(lambda A: np.linalg.norm(A, ord), M), (U * c) @ Vh, atol=1e-12)
    stack = np.stack([M, 2 * M])  # a stack, normed over (2, 1): the transposed matrices
    got = _both(lambda A: np.linalg.norm(A, ord, axis=(2, 1), keepdims=True), stack)
    np.testing.assert_allclose(got[1, 0, 0, 1], (U * c) @ Vh, atol=1e-12)  # |X^T| = |X|, 2M scaled away
    assert got.shape == (2, 1, 1, 2, 4, 3)


def test_norms_at_zero_follow_the_stated_conventions():
    zero = np.zeros(3)
    for ord in (None, 2, 3, 0.5, 1):
        np.testing.assert_array_equal(ad.grad(lambda x, ord=ord: np.linalg.norm(x, ord))(zero), np.zeros(3))
        np.testing.assert_array_equal(ad.jacfwd(lambda x, ord=ord: np.linalg.norm(x, ord))(zero), np.zeros(3))
    x = np.array([0.0, 1.0, -2.0])  # one entry at zero
    np.testing.assert_allclose(ad.grad(lambda x: np.linalg.norm(x, 0.5))(x)[0], 0.0)
    np.testing.assert_allclose(ad.grad(lambda x: np.linalg.norm(x, np.inf))(x), [0, 0, -1.0])
    np.testing.assert_allclose(ad.grad(lambda A: np.linalg.norm(A, "nuc"))(np.zeros((2, 2))), np.eye(2))


def test_invalid_norm_orders_raise_like_numpy():
    with pytest.raises(ValueError, match="invalid norm order 'nuc' for vectors"):
        ad.grad(lambda x: np.linalg.norm(x, "nuc"))(X)
    with pytest.raises(ValueError, match="invalid norm order 3 for matrices"):
        ad.grad(lambda A: np.linalg.norm(A, 3))(M)


# -- cond, matrix_rank ----------------------------------------------------------------------------


def test_cond_is_the_ratio_of_extreme_singular_values_and_constant_where_singular():
    U, s, Vh = np.linalg.svd(M, full_matrices=False)
    expected = np.outer(U[:, 0], Vh[0]) / s[-1] - s[0] / s[-1] ** 2 * np.outer(U[:, -1], Vh[-1])
    np.testing.assert_allclose(_both(np.linalg.cond, M), expected, rtol=1e-10)
    singular = np.array([[1.0, 2.0], [0.0, 0.0]])  # s = (sqrt(5), 0) exactly
    for p in (None, -2):
        assert np.linalg.cond(ad.Dual(singular, np.ones((2, 2)))) == np.linalg.cond(singular)
        np.testing.assert_array_equal(_both(lambda A, p=p: np.linalg.cond(A, p), singular), np.zeros((2, 2)))


def test_matrix_rank_is_a_constant_in_both_modes():
    f = lambda A: np.linalg.matrix_rank(A) * np.sum(A)  # noqa: E731
    np.testing.assert_array_equal(_both(f, M), np.full(M.shape, 3.0))


# -- JAX as an oracle ---------------------------------------------------------------------------


def _sv_loss(xp, A):  # invariant to the signs of singular vectors
    U, s, Vh = xp.linalg.svd(A, full_matrices=False)
    return xp.sum(s * xp.arange(1.0, 4.0)) + xp.sum((U[:, :2] @ Vh[:2]) ** 2 * xp.cos(A))


JAX_CASES = {
    "svd": (_sv_loss, (4, 3)),
    "svd wide": (_sv_loss, (3, 5)),
    "svdvals": (lambda xp, A: xp.sum(xp.linalg.svd(A, compute_uv=False) ** 3), (3, 4)),
    "qr": (lambda xp, A: xp.sum(xp.linalg.qr(A)[0] * xp.sin(A)) + xp.sum(xp.linalg.qr(A)[1] ** 2), (4, 3)),
    "qr wide": (lambda xp, A: xp.sum(xp.linalg.qr(A)[1] * xp.arange(5.0)), (3, 5)),
    "pinv": (lambda xp, A: xp.sum(xp.linalg.pinv(A) * xp.arange(12.0).reshape(3, 4)), (4, 3)),
    "lstsq": (lambda xp, A: xp.sum(xp.linalg.lstsq(A, xp.arange(5.0))[0] ** 2), (5, 3)),
    "matrix_power": (lambda xp, A: xp.sum(xp.linalg.matrix_power(A + 3 * xp.eye(3), -3)), (3, 3)),
    "multi_dot": (lambda xp, A: xp.linalg.multi_dot([xp.arange(3.0), A, A.T, A, xp.ones(3)]), (3, 3)),
    "tensorsolve": (lambda xp, A: xp.sum(xp.linalg.tensorsolve(xp.reshape(A, (2, 2, 4)), xp.eye(2))), (4, 4)),
    "tensorinv": (lambda xp, A: xp.sum(xp.linalg.tensorinv(xp.reshape(A, (4, 2, 2)), ind=1) ** 2), (4, 4)),
    "cond": (lambda xp, A: xp.linalg.cond(A), (3, 3)),
}  # fmt: skip


@pytest.mark.parametrize("name", JAX_CASES)
def test_gradient_matches_jax(jax64, name):
    f, shape = JAX_CASES[name]
    A = with_singular_values(
        np.random.default_rng(3), (2.4, 1.3, 0.6, 0.3)[: min(shape)], m=shape[0], n=shape[1]
    )
    expected = np.asarray(jax64.jit(jax64.grad(lambda A: f(jax64.numpy, A)))(A))
    np.testing.assert_allclose(ad.grad(lambda A: f(np, A))(A), expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ad.jacfwd(lambda A: f(np, A))(A), expected, rtol=1e-9, atol=1e-12)


def test_vector_norm_gradients_match_jax(jax64):
    def grads(xp, grad):
        return [grad(lambda x, ord=ord: xp.linalg.norm(x, ord))(X) for ord in VECTOR_ORDS]

    expected = jax64.jit(lambda: grads(jax64.numpy, jax64.grad))()
    for ord, got, want in zip(VECTOR_ORDS, grads(np, ad.grad), expected):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-12, err_msg=f"ord={ord}")


def test_matrix_norm_gradients_over_an_axis_pair_match_jax(jax64):
    T = np.stack([M, M[::-1] * 0.5])  # normed over (2, 1)

    def grads(xp, grad):
        weights = xp.array([1.0, -2.0])
        return [
            grad(lambda A, o=o: xp.sum(xp.linalg.norm(A, o, axis=(2, 1)) * weights))(T) for o in MATRIX_ORDS
        ]

    expected = jax64.jit(lambda: grads(jax64.numpy, jax64.grad))()
    for ord, got, want in zip(MATRIX_ORDS, grads(np, ad.grad), expected):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-10, atol=1e-13, err_msg=f"ord={ord}")


def test_two_norm_at_zero_is_zero_where_jax_gives_nan(jax64):
    assert np.all(np.isnan(jax64.grad(jax64.numpy.linalg.norm)(np.zeros(3))))
    np.testing.assert_array_equal(ad.grad(np.linalg.norm)(np.zeros(3)), np.zeros(3))


def test_eig_jvp_matches_jax(jax64):
    lax_eig = jax64.lax.linalg.eig
    rng = np.random.default_rng(4)
    for A in (
        with_eigenvalues(rng, (2.0, -1.0, 0.5)),
        np.array([[0.5, -2.0, 0.3], [1.5, 0.2, -0.4], [0.1, 0.6, -1.0]]),
    ):
        T = rng.standard_normal(A.shape)

        def jf(A):
            w, v = lax_eig(A, compute_left_eigenvectors=False, enable_eigvec_derivs=True)
            return w, v * v.conj()  # |v_ij|^2: invariant to the sign of a real eigenvector

        (jw, jv), (djw, djv) = jax64.jit(lambda A, T: jax64.jvp(jf, (A,), (T,)))(A, T)
        order = [int(np.argmin(np.abs(np.asarray(jw) - w))) for w in np.linalg.eigvals(A)]
        _, (dw, dv) = ad.jvp(lambda A: np.linalg.eig(A), (A,), (T,))
        v = np.linalg.eig(A)[1]
        np.testing.assert_allclose(dw, np.asarray(djw)[order], rtol=1e-10)
        np.testing.assert_allclose(
            2 * np.real(np.conj(v) * dv), np.real(np.asarray(djv))[:, order], atol=1e-10
        )


def test_eigvals_of_complex_input_match_jax(jax64):
    rng = np.random.default_rng(12)
    A = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))
    f = lambda xp, A: xp.sum(xp.abs(xp.linalg.eigvals(A)) ** 2)  # noqa: E731
    expected = np.asarray(jax64.grad(lambda A: f(jax64.numpy, A))(A))
    np.testing.assert_allclose(ad.grad(lambda A: f(np, A))(A), expected, rtol=1e-10)
