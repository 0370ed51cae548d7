"""Every in-place operator of NumPy writes a Tensor's memory, as NumPy's does."""

import numpy as np
import pytest

import ad

R = np.arange(6.0).reshape(2, 3) + 0.5
W = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 2.0]])
C = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])


def _through_a_view(write):
    x = ad.tensor(R, requires_grad=True)
    y = x * 1.0
    v = y[1:]
    assert write(v) is v
    np.sum(y * C).backward()
    return y.detach().numpy(), x.grad


def _iremainder(v):
    v %= 2.0
    return v


def _imatmul(v):
    v @= W
    return v


def _ifloordiv(v):
    v //= 2.0
    return v


def test_remainder_in_place_writes_through_a_view():
    value, grad = _through_a_view(_iremainder)
    np.testing.assert_array_equal(value, np.vstack([R[:1], R[1:] % 2.0]))
    np.testing.assert_array_equal(grad, C)  # d (a mod 2) / da = 1


def test_matmul_in_place_writes_through_a_view():
    value, grad = _through_a_view(_imatmul)
    np.testing.assert_array_equal(value, np.vstack([R[:1], R[1:] @ W]))
    np.testing.assert_allclose(grad, np.vstack([C[:1], C[1:] @ W.T]), rtol=1e-15)


def test_floor_divide_in_place_makes_the_written_region_a_constant():
    value, grad = _through_a_view(_ifloordiv)
    np.testing.assert_array_equal(value, np.vstack([R[:1], R[1:] // 2.0]))
    np.testing.assert_array_equal(grad, np.vstack([C[:1], 0 * C[1:]]))


def test_floor_divide_in_place_without_a_view_is_a_constant_as_out_of_place():
    x = ad.tensor(R, requires_grad=True)
    y = x * 1.0
    y //= 2.0
    assert not y.requires_grad and y.grad_fn is None
    assert not isinstance(np.floor_divide(x * 1.0, 2.0), ad.Tensor)  # out of place: a plain array


def test_an_in_place_result_of_another_shape_raises_and_writes_nothing():
    y = ad.tensor(np.arange(1.0, 4.0), requires_grad=True) * 1.0
    w = ad.tensor(np.full((1, 3), 2.0), requires_grad=True)
    version = y._version
    with pytest.raises(ValueError, match=r"shape \(1, 3\) cannot be stored in a Tensor of shape \(3,\)"):
        y += w
    np.testing.assert_array_equal(y.detach().numpy(), [1.0, 2.0, 3.0])
    assert y._version == version
    a = np.arange(1.0, 4.0)
    with pytest.raises(ValueError):  # NumPy refuses the same write
        a += np.full((1, 3), 2.0)


def test_an_assigned_gradient_of_another_dtype_is_refused():
    x = ad.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    with pytest.raises(RuntimeError, match="dtype float64 but the Tensor has dtype float32"):
        x.grad = np.zeros(3)
    assert x.grad is None
    x.grad = np.zeros(3, dtype=np.float32)
    (x * x).sum().backward()
    assert x.grad.dtype == np.float32


def test_an_in_place_write_under_forward_over_reverse_rebinds_the_tensors_value():
    """hessian = jacfwd(grad): the Tensor's value is forward mode's; x += y gives it x + y."""

    def f(x):
        y = x * x
        y += np.sin(x)
        y *= x
        return np.sum(y)

    x = np.array([0.3, -1.2, 2.0])
    expected = np.diag(6 * x + 2 * np.cos(x) - x * np.sin(x))
    np.testing.assert_allclose(ad.hessian(f)(x), expected, rtol=1e-13)
    np.testing.assert_allclose(ad.hvp(f, (x,), (np.ones(3),), mode="fwd-rev")[1], expected.sum(1), rtol=1e-13)


def test_an_in_place_write_under_forward_over_reverse_refuses_a_value_a_view_shares():
    def f(x):
        y = x * 1.0
        head = y[:2]
        y += 1.0  # NumPy would change head too; forward mode's values are never written
        return np.sum(head * y[:2])

    with pytest.raises(TypeError, match="shares memory with another one"):
        ad.hessian(f)(np.array([0.3, -1.2, 2.0]))
