"""float32 through the ops whose float64 values take a kernel, at sizes past every kernel's
threshold: the kernels take float64 alone, so float32 goes to the NumPy twins and stays float32
in the value, the gradient and the gradient's own derivative."""

import numpy as np
import pytest

import ad
from ad.kernels import elementwise as E

N = max(E.SIGMOID_FROM, E.DERIVATIVE_FROM, E.SINCOS_FROM) + 1

OPS = {
    "sigmoid": ad.sigmoid,
    "softplus": ad.softplus,
    "tanh": np.tanh,
    "sin": np.sin,
    "softmax": lambda x: ad.softmax(x, axis=-1),
    "log_softmax": lambda x: ad.log_softmax(x, axis=-1),
    "logsumexp": lambda x: ad.logsumexp(x, axis=-1),
}


@pytest.mark.parametrize("name", list(OPS))
def test_float32_at_kernel_sizes_stays_float32_through_second_order(name):
    f = OPS[name]
    x = np.random.default_rng(0).uniform(-3, 3, (2, N))
    t = ad.tensor(x.astype(np.float32), requires_grad=True)
    y = f(t)
    (g,) = ad.autograd.grad(np.sum(y * y), t, create_graph=True)
    (h,) = ad.autograd.grad(np.sum(g * g), t)
    assert y.dtype == g.dtype == h.dtype == np.float32
    # the same numbers as float64 to float32's precision
    t64 = ad.tensor(x, requires_grad=True)
    (g64,) = ad.autograd.grad(np.sum(f(t64) * f(t64)), t64, create_graph=True)
    (h64,) = ad.autograd.grad(np.sum(g64 * g64), t64)
    np.testing.assert_allclose(h.numpy(), h64.numpy(), rtol=1e-3, atol=1e-3 * np.abs(h64.numpy()).max())
    out, tangent = ad.jvp(
        lambda v: ad.grad(lambda w: np.sum(f(w) ** 2))(v),
        (x.astype(np.float32),),
        (np.ones_like(x, np.float32),),
    )
    assert out.dtype == tangent.dtype == np.float32
