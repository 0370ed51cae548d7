"""The outer-product kernel (non-temporal stores) against its twin and the broadcast multiply."""

import numpy as np
import pytest

import ad
from ad.kernels import outer as O


@pytest.fixture
def streamed(monkeypatch):
    """Every float64 product through the streaming kernel, whatever its size."""
    monkeypatch.setattr(O, "STREAM_BYTES", 0)


SPECIAL = np.array([0.0, -0.0, 1.5, -2.0, np.inf, -np.inf, np.nan, 5e-324, 1e308])


def test_the_kernel_gives_the_multiplys_products_bit_for_bit(streamed):
    with np.errstate(all="ignore"):
        got, want = O.outer(SPECIAL, SPECIAL[::-1]), SPECIAL[:, None] * SPECIAL[::-1]
    assert got.dtype == np.float64 and got.flags.c_contiguous
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))  # BLAS would give +0.0 for -0.0


@pytest.mark.parametrize("m, n", [(0, 3), (3, 0), (1, 1), (5, 7), (257, 129)])
def test_the_kernel_takes_any_shape_and_strides(streamed, m, n):
    rng = np.random.default_rng(m * 1000 + n)
    u, v = rng.standard_normal(3 * m), rng.standard_normal(2 * n)
    for a, b in ((u[:m], v[:n]), (u[::3], v[::2]), (u[::-3], v[1::2])):
        got = O.outer(a, b)
        assert got.shape == (m, n) and np.array_equal(got, a[:, None] * b)


def test_below_the_threshold_and_in_float32_the_twin_runs():
    rng = np.random.default_rng(0)
    small = rng.standard_normal(10)
    assert O.outer(small, small).nbytes < O.STREAM_BYTES
    z = np.array([-0.0, 1.0])
    assert not np.signbit(O.outer(z, z)[0, 1])  # BLAS: +0.0, the kernel would keep -0.0
    u32 = rng.standard_normal(1000).astype(np.float32)
    got = O.outer(u32, u32)
    assert got.dtype == np.float32 and np.array_equal(got, u32[:, None] * u32)


def test_a_large_weight_gradient_goes_through_the_kernel_and_equals_the_multiply():
    n = 600  # 2.7 MiB per product, above STREAM_BYTES
    rng = np.random.default_rng(1)
    W, x = rng.standard_normal((n, n)) / n, rng.standard_normal(n)
    x[::7] = -0.0  # zeros that keep their sign only in the kernel
    gW = ad.grad(lambda W: np.sum(W @ x))(W)
    want = np.ones(n)[:, None] * x
    assert np.array_equal(gW, want) and np.array_equal(np.signbit(gW), np.signbit(want))
