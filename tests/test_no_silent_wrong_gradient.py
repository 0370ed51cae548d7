"""Programs that once returned a wrong derivative without a word: each now gives the peers'
answer (JAX for the functional transforms, PyTorch for the Tensor) or a clear error."""

import math

import numpy as np
import pytest

import ad


def test_a_node_recorded_before_an_inplace_write_keeps_its_old_input():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y + 1
    y *= 3
    z.sum().backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])  # PyTorch: [2, 2]
    x.grad = None
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])


def test_a_write_through_a_view_reaches_the_base():
    x = ad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    v = y[0:2]
    v *= 10
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [10.0, 10.0, 1.0])  # PyTorch: [10, 10, 1]


def test_complex_gradients_follow_jax_in_grad_and_pytorch_in_backward():
    z0 = np.array([3 + 4j])
    g = ad.grad(lambda z: np.sum(np.abs(z * z)))(z0)
    np.testing.assert_allclose(g, [6 - 8j], rtol=1e-12)  # JAX: 6-8j
    z = ad.tensor(z0, requires_grad=True)
    np.sum(np.abs(z * z)).backward()
    np.testing.assert_allclose(z.grad.numpy(), [6 + 8j], rtol=1e-12)  # PyTorch: 6+8j


@pytest.mark.parametrize(
    "convert", [math.sin, float, lambda x: x.item(), np.float64], ids=["math.sin", "float", "item", "float64"]
)
def test_turning_a_traced_value_into_a_python_number_raises(convert):
    with pytest.raises(TypeError, match="would drop its derivative"):
        ad.grad(convert)(0.3)


def test_negative_argnums_name_the_last_argument():
    J = ad.jacfwd(lambda *a: np.sum(a[0] * a[-1] ** 3), argnums=-1)(np.ones(1), 2 * np.ones(1))
    np.testing.assert_array_equal(J, [12.0])
    np.testing.assert_array_equal(
        ad.grad(lambda *a: np.sum(a[0] * a[-1] ** 3), argnums=-1)(np.ones(1), 2 * np.ones(1)), [12.0]
    )


def test_where_in_forward_mode_selects_tangents():
    J = ad.jacfwd(lambda z: np.sum(np.where(z > 0, np.sqrt(z), 0.0)))(np.array([0.0, 4.0]))
    np.testing.assert_array_equal(J, [0.0, 0.25])  # JAX: [0, 0.25]


@pytest.mark.parametrize("magnitude", [1e17, 1e300, -1e308])
def test_the_logsumexp_gradient_is_softmax_at_any_magnitude(magnitude):
    x = np.array([magnitude, magnitude])
    np.testing.assert_array_equal(ad.grad(ad.logsumexp)(x), [0.5, 0.5])
    np.testing.assert_array_equal(ad.jacfwd(ad.logsumexp)(x), [0.5, 0.5])
