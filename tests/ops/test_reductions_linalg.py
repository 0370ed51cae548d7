"""Behaviour of the reduction and linear-algebra rules that the registry loop cannot express:
zeros and ties, plain NumPy programs through jacfwd/jacrev, classic identities (det, ridge),
the conventions at kinks, and NumPy's semantics kept by parse (einsum's ellipsis, norm's axes)."""

import numpy as np
import pytest

import ad
from ad import testing

RNG = np.random.default_rng(0)


def _both_jacobians(f, x):
    """jacfwd and jacrev of f at x, checked equal, so each test pins both engines."""
    jf, jr = ad.jacfwd(f)(x), ad.jacrev(f)(x)
    testing.assert_close(jf, jr, testing.EXACT_RTOL, testing.EXACT_ATOL, "jacfwd vs jacrev")
    return jf


def test_prod_derivative_is_the_product_of_the_others_even_at_a_zero():
    assert np.array_equal(_both_jacobians(np.prod, np.array([2.0, 0.0, 3.0])), [0.0, 6.0, 0.0])
    assert np.array_equal(_both_jacobians(np.prod, np.array([0.0, 5.0, 0.0])), [0.0, 0.0, 0.0])


def test_prod_over_several_axes_with_a_zero_matches_the_product_of_the_others():
    x = RNG.uniform(1, 2, (2, 3, 2))
    x[1, 2, 0] = 0.0
    got = _both_jacobians(lambda x: np.prod(x, axis=(0, 2)), x)
    for j in range(3):
        block = x[:, j, :]
        others = np.array(
            [[np.prod(np.delete(block.ravel(), 2 * a + c)) for c in range(2)] for a in range(2)]
        )
        expected = np.zeros_like(x)
        expected[:, j, :] = others
        np.testing.assert_allclose(got[j], expected, rtol=1e-14)
    assert got[2][1, 2, 0] != 0.0  # the derivative in the zero entry itself is not lost


def test_cumprod_derivative_through_a_zero_is_the_product_of_the_others():
    x = np.array([2.0, 0.0, 3.0, 4.0])
    expected = np.array([[1, 0, 0, 0], [0, 2, 0, 0], [0, 6, 0, 0], [0, 24, 0, 0]], dtype=float)
    assert np.array_equal(_both_jacobians(np.cumprod, x), expected)


def test_max_shares_the_derivative_evenly_between_ties():
    assert np.array_equal(_both_jacobians(np.max, np.array([1.0, 3.0, 3.0])), [0.0, 0.5, 0.5])
    x = np.array([[1.0, 4.0], [4.0, 2.0], [0.0, 0.0]])
    expected_row_min = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    assert np.array_equal(ad.grad(lambda x: np.sum(np.min(x, axis=1)))(x), expected_row_min)


def test_norm_derivative_at_zero_is_zero_and_std_of_a_constant_too():
    assert np.array_equal(ad.grad(np.linalg.norm)(np.zeros(3)), np.zeros(3))
    assert np.array_equal(ad.grad(np.std)(np.full(4, 2.0)), np.zeros(4))


def test_jacobian_of_plain_numpy_tanh_of_matmul_is_the_analytic_one():
    A, x = RNG.standard_normal((4, 3)), RNG.standard_normal(3)
    expected = (1 - np.tanh(A @ x) ** 2)[:, None] * A
    np.testing.assert_allclose(_both_jacobians(lambda x: np.tanh(A @ x), x), expected, rtol=1e-13)
    expected = (1 - np.tanh(A @ x) ** 2)[:, None, None] * np.eye(4)[:, :, None] * x  # dy_i/dA_kl
    np.testing.assert_allclose(_both_jacobians(lambda A: np.tanh(A @ x), A), expected, rtol=1e-13)


def test_det_derivative_is_det_times_inverse_transpose():
    A = RNG.standard_normal((4, 4)) + 4 * np.eye(4)
    expected = np.linalg.det(A) * np.linalg.inv(A).T
    np.testing.assert_allclose(ad.grad(np.linalg.det)(A), expected, rtol=1e-12)
    np.testing.assert_allclose(_both_jacobians(np.linalg.det, A), expected, rtol=1e-12)
    np.testing.assert_allclose(ad.grad(lambda A: np.linalg.slogdet(A)[1])(A), np.linalg.inv(A).T, rtol=1e-12)


def test_ridge_solution_differentiated_in_the_penalty_matches_finite_differences():
    A, b = RNG.standard_normal((6, 3)), RNG.standard_normal(6)

    def ridge(theta):
        return np.linalg.solve(A.T @ A + theta * np.eye(3), A.T @ b)

    theta = np.array(0.7)
    fd = (ridge(theta + 1e-6) - ridge(theta - 1e-6)) / 2e-6
    analytic = -np.linalg.solve(A.T @ A + theta * np.eye(3), ridge(theta))  # dx/dθ = -(AᵀA + θI)⁻¹ x
    got = _both_jacobians(ridge, theta)
    np.testing.assert_allclose(got, analytic, rtol=1e-12)
    np.testing.assert_allclose(got, fd, rtol=1e-7)


def test_solve_with_a_stack_of_matrices_and_a_vector_right_hand_side():
    A, b = RNG.standard_normal((2, 3, 3)) + 3 * np.eye(3), RNG.standard_normal(3)
    got = _both_jacobians(lambda b: np.linalg.solve(A, b), b)
    np.testing.assert_allclose(got, np.linalg.inv(A), rtol=1e-12)


@pytest.mark.parametrize(
    "subscripts, shapes",
    [
        ("ij,jk", [(2, 3), (3, 4)]),
        ("...ij,...jk->...ik", [(5, 2, 3), (3, 4)]),
        ("i...,i->...", [(3, 2, 2), (3,)]),
        ("ij,ij->ij", [(1, 3), (2, 3)]),
        ("ii", [(3, 3)]),
        ("b...a", [(2, 4, 3)]),
        ("...,...", [(2, 3), (3,)]),
    ],
)
def test_einsum_agrees_with_numpy_and_its_gradient_with_finite_differences(subscripts, shapes):
    xs = [RNG.standard_normal(s) for s in shapes]
    out, tangent = ad.jvp(
        lambda *xs: np.einsum(subscripts, *xs), tuple(xs), tuple(np.ones(s) for s in shapes)
    )
    np.testing.assert_allclose(out, np.einsum(subscripts, *xs), rtol=1e-14)
    assert ad.gradcheck(lambda *xs: np.einsum(subscripts, *xs), *xs)


def test_cholesky_reads_the_symmetric_part_and_returns_a_symmetric_gradient():
    m = RNG.standard_normal((3, 3))
    S = m @ m.T + 3 * np.eye(3)
    L = np.linalg.cholesky(S)
    g = ad.grad(lambda A: np.sum(np.linalg.cholesky(A) * L))(S)
    np.testing.assert_allclose(g, g.T, rtol=1e-14)


def test_eigh_gradient_at_a_symmetric_matrix_is_v_v_transpose_folded_onto_the_lower_triangle():
    m = RNG.standard_normal((3, 3))
    S = m @ m.T + 3 * np.eye(3)
    v = np.linalg.eigh(S)[1][:, -1]
    vv = np.outer(v, v)  # d w_max / dS for a symmetric perturbation dS
    expected = np.tril(vv) + np.tril(vv, -1)  # entry (i, j), i > j, also stands for (j, i)
    np.testing.assert_allclose(_both_jacobians(lambda A: np.linalg.eigh(A)[0][-1], S), expected, atol=1e-13)


def test_a_plain_numpy_program_of_many_ops_passes_gradcheck():
    W, x = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 2))

    def f(W):
        h = np.tanh(np.dot(W, x))
        scans = np.mean(np.cumsum(h, axis=0)) + np.sum(np.cumprod(h))  # cumprod flattens (axis=None)
        return scans + np.linalg.norm(h, axis=1, ord=np.inf).sum() + np.trace(W @ W.T)

    assert ad.gradcheck(f, W)


def test_argmax_and_argmin_are_constants_in_both_engines():
    x = np.array([1.0, 3.0, 2.0])
    out, tangent = ad.jvp(lambda x: np.argmax(x) + np.argmin(x) * x[1], (x,), (np.ones(3),))
    assert out == 1.0 and tangent == 0.0
    assert np.array_equal(ad.grad(lambda x: np.argmax(x) * np.sum(x))(x), np.ones(3))


def test_options_ad_cannot_differentiate_through_raise_naming_them():
    x = ad.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(NotImplementedError, match="initial"):
        np.max(x, initial=ad.tensor(0.0, requires_grad=True))
    with pytest.raises(NotImplementedError, match="dtype"):
        np.cumsum(x, dtype=int)
