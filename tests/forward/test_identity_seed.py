"""A linear map's Jacobian in one pass: the identity seed's product with A is A itself.

jacfwd seeds every direction at once with a view of a cached identity (rules.eye); the
matmul rules return A (read-only, in the product's dtype) for it instead of computing A I.
The result equals the chunked products' (NaN included where A holds an inf), is made when
the product would be, is writable, and shares no memory with A."""

import numpy as np
import pytest

import ad
from ad import rules


@pytest.mark.parametrize("a_dtype", [np.float64, np.float32, np.int64, np.complex128])
def test_the_one_pass_jacobian_of_a_linear_map_equals_the_chunked_products(a_dtype):
    rng = np.random.default_rng(0)
    A = (rng.standard_normal((5, 4)) * 3).astype(a_dtype)
    x = rng.standard_normal(4)
    real_output = [lambda x: np.tanh((A @ x).real)]
    for f in real_output if a_dtype is np.complex128 else [lambda x: A @ x, *real_output]:
        for jac in (ad.jacfwd, ad.jacrev):
            one = jac(f)(x)
            chunked = jac(f, chunk=1)(x)
            assert one.dtype == chunked.dtype
            assert np.allclose(one, chunked, rtol=1e-15, atol=0)


def test_the_jacobian_of_a_linear_map_is_a_private_copy_of_the_matrix():
    A = np.arange(12.0).reshape(3, 4)
    x = np.ones(4)
    for jac in (ad.jacfwd, ad.jacrev):
        J = jac(lambda x: A @ x)(x)
        assert np.array_equal(J, A) and not np.shares_memory(J, A)
        J[0, 0] = -1.0  # writable, and A is untouched
        assert A[0, 0] == 0.0


def test_the_identity_is_recognised_only_whole():
    e = rules.eye(4, np.float64)
    assert rules.is_eye(e) and rules.is_eye(e.reshape(4, 4))
    assert not rules.is_eye(e[:2]) and not rules.is_eye(e[1:, 1:]) and not rules.is_eye(np.eye(4))
    assert not e.flags.writeable


def test_a_matrix_with_infinities_gets_the_products_values_at_every_chunk(quiet):
    # A @ I has 0 * inf = NaN off the diagonal of each product: the one-pass Jacobian gives
    # the same values as the chunked passes (and JAX), whatever the number of passes
    A = np.array([[1.0, np.inf], [2.0, -0.0]])
    one = quiet(lambda: ad.jacfwd(lambda x: A @ x)(np.ones(2)))
    chunked = quiet(lambda: ad.jacfwd(lambda x: A @ x, chunk=1)(np.ones(2)))
    assert np.array_equal(one, chunked, equal_nan=True)
    assert np.isnan(one[0, 0]) and np.array_equal(np.signbit(one), np.signbit(chunked))


def test_a_matrix_written_after_use_does_not_change_the_jacobian():
    M = np.array([[1.0, 2.0], [3.0, 4.0]])

    def f(x):
        y = M @ x
        M[...] = 0.0  # a workspace refilled after use: the tangent was computed before
        return y

    M0 = M.copy()
    J = ad.jacfwd(f)(np.ones(2))
    assert np.array_equal(J, M0)
