"""Behaviour of the shape and indexing ops that the registry-driven loop cannot express."""

import numpy as np
import pytest

import ad
from ad.forward.dual import Dual


def test_repeated_integer_indices_accumulate_in_the_vjp():
    _, vjp_fn = ad.vjp(lambda x: x[[0, 0, 3, 0]], np.arange(5.0))
    (g,) = vjp_fn(np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(g, [7.0, 0.0, 0.0, 3.0, 0.0])


def test_a_boolean_mask_selects_rows_of_the_identity():
    x = np.array([1.0, -2.0, 3.0, -4.0])
    f = lambda x: x[x > 0]
    np.testing.assert_array_equal(ad.jacfwd(f)(x), np.eye(4)[[0, 2]])
    np.testing.assert_array_equal(ad.jacrev(f)(x), np.eye(4)[[0, 2]])


def test_jacobian_through_a_strided_slice_and_concatenate_in_plain_numpy():
    def f(x):
        return np.concatenate([x[::2], 3.0 * x[1:3]])

    expected = np.zeros((5, 5))
    expected[[0, 1, 2], [0, 2, 4]] = 1.0
    expected[[3, 4], [1, 2]] = 3.0
    x = np.arange(1.0, 6.0)
    np.testing.assert_array_equal(ad.jacfwd(f)(x), expected)
    np.testing.assert_array_equal(ad.jacrev(f)(x), expected)


def test_ndarray_methods_dispatch_to_the_shape_ops():
    x = np.arange(6.0).reshape(2, 3)
    J = ad.jacfwd(lambda x: x.T.reshape(-1))(x)
    np.testing.assert_array_equal(J.reshape(6, 6), np.eye(6)[[0, 3, 1, 4, 2, 5]])


@pytest.mark.parametrize("outer", [ad.jacfwd, ad.jacrev], ids=["fwd-over-rev", "rev-over-rev"])
def test_hessian_through_repeated_indices_differentiates_the_scatter_add(outer):
    # sum_j x[i_j]^3 has Hessian diag(6 c x), c the count of each index: the VJP's
    # scatter-add runs on Duals (fwd-over-rev) or is itself transposed (rev-over-rev).
    idx = [0, 0, 2, 3, 3, 3]
    x = np.array([1.0, 2.0, -1.5, 0.5])
    H = outer(ad.grad(lambda x: np.sum(x[idx] ** 3)))(x)
    np.testing.assert_allclose(H, np.diag(6.0 * np.bincount(idx, minlength=4) * x), rtol=1e-13)


def test_the_jacobian_of_sort_is_the_sorting_permutation():
    x = np.array([0.3, -1.0, 2.0, 0.1])
    np.testing.assert_array_equal(ad.jacfwd(np.sort)(x), np.eye(4)[np.argsort(x)])
    np.testing.assert_array_equal(ad.jacrev(np.sort)(x), np.eye(4)[np.argsort(x)])


def test_vjp_of_reflect_pad_folds_the_reflection_back():
    _, vjp_fn = ad.vjp(lambda x: np.pad(x, (2, 1), mode="reflect"), np.arange(3.0))
    (g,) = vjp_fn(np.ones(6))  # padded x2 x1 | x0 x1 x2 | x1
    np.testing.assert_array_equal(g, [1.0, 3.0, 2.0])


def test_pad_rejects_an_unsupported_mode_with_a_clear_error():
    with pytest.raises(NotImplementedError, match="mode 'mean'"):
        ad.jacfwd(lambda x: np.pad(x, 1, mode="mean"))(np.ones(3))


def test_pad_refuses_to_drop_the_derivative_of_traced_constant_values():
    with pytest.raises(NotImplementedError, match="constant_values"):
        ad.jacfwd(lambda x: np.pad(x, 1, constant_values=x[0]))(np.ones(3))


def test_split_into_unequal_sections_raises_like_numpy():
    with pytest.raises(ValueError, match="equal division"):
        np.split(Dual(np.arange(5.0), np.ones(5)), 2)


def test_shape_helpers_return_plain_values_on_duals():
    x = Dual(np.array([3.0, 1.0, 2.0]), np.ones(3))
    assert np.shape(x) == (3,) and np.ndim(x) == 1 and np.size(x) == 3
    np.testing.assert_array_equal(np.argsort(x), [1, 2, 0])
    assert type(np.zeros_like(x)) is np.ndarray
