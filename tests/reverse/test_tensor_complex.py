"""Tensor.backward with complex values follows PyTorch: conjugate Wirtinger gradients.

For a real loss L of z = x + iy, z.grad is dL/dx + i dL/dy (the conjugate of what the
functional ad.grad returns, which follows JAX). Hand-derived values, and torch as an
oracle where it is installed.
"""

import numpy as np
import pytest

import ad


def _abs_of_square(lib_abs, z):
    return lib_abs(z * z).sum()


def test_real_loss_of_complex_leaf_gives_dl_dx_plus_i_dl_dy():
    z0 = np.array([3 + 4j, -1 + 0.5j])
    z = ad.tensor(z0, requires_grad=True)
    _abs_of_square(np.abs, z).backward()
    # |z^2| = x^2 + y^2: dL/dx + i dL/dy = 2x + 2iy = 2z
    np.testing.assert_allclose(z.grad.numpy(), 2 * z0, rtol=1e-12)
    np.testing.assert_allclose(ad.grad(lambda w: _abs_of_square(np.abs, w))(z0), np.conj(2 * z0), rtol=1e-12)


def test_real_leaf_through_complex_values_gets_a_real_gradient():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    y = x * (1 + 2j)
    (np.abs(y) ** 2).sum().backward()  # |x (1 + 2i)|^2 = 5 x^2
    assert x.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad.numpy(), [10.0, 20.0], rtol=1e-12)


def test_complex_output_backward_with_gradient_is_conjugate_vjp():
    z0 = np.array([1 + 2j, 0.5 - 1j])
    v = np.array([1.0 - 1j, 2.0 + 0.5j])
    z = ad.tensor(z0, requires_grad=True)
    (z * z).backward(gradient=v)
    np.testing.assert_allclose(z.grad.numpy(), v * np.conj(2 * z0), rtol=1e-12)


def test_complex_scalar_backward_needs_a_gradient():
    z = ad.tensor(np.array(1 + 1j), requires_grad=True)
    with pytest.raises(RuntimeError, match="real scalar"):
        (z * z).backward()
    assert z.grad is None


def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    z0 = rng.standard_normal(4) + 1j * rng.standard_normal(4)
    w0 = rng.standard_normal(4)
    v = rng.standard_normal(4) + 1j * rng.standard_normal(4)

    z, w = ad.tensor(z0, requires_grad=True), ad.tensor(w0, requires_grad=True)
    tz = torch.tensor(z0, requires_grad=True)
    tw = torch.tensor(w0, requires_grad=True)
    y = np.exp(z * w) * z
    np.abs(y).sum().backward()
    ty = torch.exp(tz * tw) * tz
    ty.abs().sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), tz.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-10)

    z.grad = w.grad = None
    tz.grad = tw.grad = None
    (np.exp(z * w) * z).backward(gradient=v)
    (torch.exp(tz * tw) * tz).backward(gradient=torch.tensor(v))
    np.testing.assert_allclose(z.grad.numpy(), tz.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-10)
