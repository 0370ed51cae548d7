"""np.cumsum and np.cumprod with dtype=: the input cast to dtype, then scanned, as NumPy does."""

import numpy as np
import pytest

import ad

jax = pytest.importorskip("jax")
jnp = jax.numpy
jax.config.update("jax_enable_x64", True)

X = np.array([[0.1, 2.0, -1.3], [0.7, 1e8, 3.3]])
SCANS = [(np.cumsum, jnp.cumsum), (np.cumprod, jnp.cumprod)]


def _weights(shape):
    return np.random.default_rng(0).normal(size=shape)


@pytest.mark.parametrize("scan, jax_scan", SCANS)
@pytest.mark.parametrize("in_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("axis", [None, 0, -1])
def test_scan_with_dtype_matches_numpy_values_and_jax_derivatives(scan, jax_scan, in_dtype, dtype, axis):
    x = X.astype(in_dtype)
    want = scan(x, axis, dtype)
    w = _weights(want.shape)
    tight = in_dtype == np.float64 and dtype != np.float32
    rtol = 1e-12 if tight else 1e-5

    out, tangent = ad.jvp(lambda x: scan(x, axis, dtype), (x,), (np.ones_like(x),))
    assert out.dtype == want.dtype and np.array_equal(out, want)
    assert tangent.dtype == want.dtype
    want_tangent = jax.jvp(lambda x: jax_scan(x, axis, dtype=dtype), (jnp.asarray(x),), (jnp.ones_like(x),))[
        1
    ]
    np.testing.assert_allclose(tangent, np.asarray(want_tangent), rtol=rtol)

    def loss(x):
        return np.sum(np.real(scan(x, axis, dtype)) * w)

    want_grad = np.asarray(
        jax.grad(lambda x: jnp.sum(jnp.real(jax_scan(x, axis, dtype=dtype)) * w))(jnp.asarray(x))
    )
    g = ad.grad(loss)(x)
    assert g.dtype == in_dtype  # the gradient keeps the input's dtype, whatever dtype the scan ran in
    np.testing.assert_allclose(g, want_grad, rtol=rtol)

    t = ad.tensor(x, requires_grad=True)
    y = scan(t, axis, dtype=dtype)
    assert y.dtype == want.dtype and np.array_equal(y.detach().numpy(), want)
    np.sum(np.real(y) * w).backward()
    assert t.grad.dtype == in_dtype
    np.testing.assert_allclose(t.grad.numpy(), want_grad, rtol=rtol)


def test_scan_in_float32_of_a_float64_input_rounds_as_numpy_does():
    x = np.array([1.0, 1e-9, 1e-9])
    out = ad.jvp(lambda x: np.cumsum(x, dtype=np.float32), (x,), (np.ones(3),))[0]
    assert out.dtype == np.float32 and np.array_equal(out, np.cumsum(x, dtype=np.float32))


def test_scan_method_and_second_order_with_dtype():
    x = np.array([1.5, 2.0, 3.0])
    g = ad.grad(lambda x: np.sum(x.cumsum(0, np.float32) ** 2))(x)
    np.testing.assert_allclose(g, 2 * np.cumsum(np.cumsum(x)[::-1])[::-1])
    h = ad.hessian(lambda x: np.sum(np.cumprod(x, dtype=np.float64)))(x)
    want = jax.hessian(lambda x: jnp.sum(jnp.cumprod(x)))(jnp.asarray(x))
    np.testing.assert_allclose(h, np.asarray(want), rtol=1e-13)


@pytest.mark.parametrize("scan", [np.cumsum, np.cumprod])
@pytest.mark.parametrize("dtype", [int, bool])
def test_scan_to_an_integer_dtype_of_a_traced_value_is_refused(scan, dtype):
    with pytest.raises(NotImplementedError, match=rf"numpy\.{scan.__name__}\(\.\.\., dtype="):
        ad.grad(lambda x: np.sum(scan(x, dtype=dtype)))(np.array([1.5, 2.0]))
