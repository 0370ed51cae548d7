"""The matrix's cotangent in matrix @ vector and vector @ matrix: one BLAS product for plain
float32/float64 vectors, the broadcast multiply otherwise, and the same numbers either way."""

import numpy as np
import pytest

import ad
from ad.ops import contractions


def _pullback(f, *xs, ct):
    out, vjp_fn = ad.vjp(f, *xs)
    return vjp_fn(ct)


def _assert_sum_to_rounding(got, want, terms, k: int):
    """got == want up to the rounding of a sum of k products: |error| <= k eps sum |terms|."""
    assert np.all(np.abs(got - want) <= k * np.finfo(got.dtype).eps * terms)


def _case(dtype, m, n, *, strided=False, seed=0):
    """A (m x n), x (n,), g (m,) drawn from one stream; with strided=True every vector is a
    non-contiguous view (every other element) and A a transposed view."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, m) if strided else (m, n)).astype(dtype)
    x, g = (rng.standard_normal(2 * k if strided else k).astype(dtype) for k in (n, m))
    if strided:
        return A.T, x[::2], g[::2]
    return A, x, g


SHAPES = [(1, 1), (3, 4), (7, 1), (1, 5), (64, 33), (300, 200), (0, 4), (3, 0)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m, n", SHAPES)
@pytest.mark.parametrize("strided", [False, True])
def test_matrix_vector_cotangents_equal_the_broadcast_products(dtype, m, n, strided):
    A, x, g = _case(dtype, m, n, strided=strided)
    gA, gx = _pullback(lambda A, x: A @ x, A, x, ct=g)
    assert gA.dtype == gx.dtype == dtype
    assert gA.shape == (m, n) and gx.shape == (n,)
    assert np.array_equal(gA, g[:, None] * x)  # one product per entry: no rounding to differ by
    _assert_sum_to_rounding(gx, g @ A, np.abs(g) @ np.abs(A), m)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m, n", SHAPES)
@pytest.mark.parametrize("strided", [False, True])
def test_vector_matrix_cotangents_equal_the_broadcast_products(dtype, m, n, strided):
    A, x, g = _case(dtype, m, n, strided=strided)  # here x @ B with B = A.T (n x m), g in R^m
    B = A.T
    gx, gB = _pullback(lambda x, B: x @ B, x, B, ct=g)
    assert gx.dtype == gB.dtype == dtype
    assert gB.shape == (n, m) and gx.shape == (n,)
    assert np.array_equal(gB, x[:, None] * g)
    _assert_sum_to_rounding(gx, B @ g, np.abs(B) @ np.abs(g), m)


def test_the_blas_outer_product_is_the_multiply_up_to_the_sign_of_zero():
    for dtype in (np.float64, np.float32):
        big, tiny = np.finfo(dtype).max / 4, np.finfo(dtype).tiny
        u = np.array([0.0, -0.0, 1.5, -2.0, np.inf, -np.inf, np.nan, tiny, big], dtype)
        with np.errstate(all="ignore"):
            got, want = contractions._outer(u, u[::-1]), u[:, None] * u[::-1]
        assert got.dtype == dtype and got.flags.c_contiguous
        assert np.array_equal(got, want, equal_nan=True)


def test_mixed_complex_and_batched_operands_keep_the_multiply():
    rng = np.random.default_rng(1)
    u64, v32 = rng.standard_normal(4), rng.standard_normal(3).astype(np.float32)
    assert contractions._outer(u64, v32).dtype == np.float64  # NumPy's promotion
    uc = u64 + 1j * rng.standard_normal(4)
    assert np.array_equal(contractions._outer(uc, u64[:3]), uc[:, None] * u64[:3])
    G = rng.standard_normal((5, 4))  # k = 5 directions of a cotangent in R^4
    assert np.array_equal(contractions._outer(G, v32), G[:, :, None] * v32)
    assert np.array_equal(contractions._outer(v32, G), v32[:, None] * G[:, None, :])


def test_batched_cotangents_match_one_direction_at_a_time():
    A, x, _ = _case(np.float64, 5, 4)
    G = np.random.default_rng(2).standard_normal((3, 5))
    rows = ad.jacrev(lambda A: A @ x)(A)  # every basis cotangent in one batched sweep
    assert np.array_equal(rows, np.eye(5)[:, :, None] * x)
    _, vjp_fn = ad.vjp(lambda A: A @ x, A)
    for g in G:
        assert np.array_equal(vjp_fn(g)[0], g[:, None] * x)


def test_second_order_goes_through_the_traced_multiply():
    """The Hessian of sum(tanh(A @ x)) in (A, x) differentiates the outer product again."""
    A, x, _ = _case(np.float64, 3, 2)
    f = lambda A, x: np.sum(np.tanh(A @ x))
    H = ad.hessian(f, argnums=(0, 1))(A, x)
    y = A @ x
    d2 = -2 * np.tanh(y) * (1 - np.tanh(y) ** 2)  # tanh'' at y
    want_xx = A.T @ (d2[:, None] * A)
    np.testing.assert_allclose(H[1][1], want_xx, rtol=1e-12)
    # d2f / dA_ij dA_kl = [i == k] tanh''(y_i) x_j x_l
    want_AA = d2[:, None, None, None] * np.eye(3)[:, None, :, None] * x[:, None, None] * x
    np.testing.assert_allclose(H[0][0], want_AA, rtol=1e-12)


def test_reverse_over_reverse_of_a_weight_gradient():
    """The inner gradient's cotangent is traced by the outer one, so the multiply runs."""
    A, x, _ = _case(np.float64, 4, 3)
    gA = ad.grad(lambda A: np.sum(ad.grad(lambda A: np.sum(np.sin(A @ x)))(A) ** 2))(A)
    y = A @ x
    # d/dA_kl of sum_ij (cos(y_i) x_j)^2 = |x|^2 2 cos(y_k) (-sin(y_k)) x_l
    want = (x @ x) * (-2 * np.cos(y) * np.sin(y))[:, None] * x
    np.testing.assert_allclose(gA, want, rtol=1e-12)
