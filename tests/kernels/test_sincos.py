"""The fused sin/cos kernel and the forward engine's use of it (Op.fused)."""

import numpy as np
import pytest

import ad
from ad import registry
from ad.kernels.elementwise import SINCOS_FROM, sin_cos


def _inputs():
    rng = np.random.default_rng(12)
    x = rng.uniform(-50, 50, 3 * SINCOS_FROM)
    x[:4] = [np.nan, np.inf, -np.inf, 0.0]
    big = rng.uniform(-5, 5, (64, 64))
    return [x, big.T, big[:, ::2], rng.uniform(-5, 5, (2 * SINCOS_FROM,))[::2]]


@pytest.mark.parametrize("x", _inputs(), ids=["specials", "transpose", "strided", "strided-1d"])
def test_sin_cos_matches_numpy(x):
    s, c = sin_cos(x)
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(s, np.sin(x), rtol=1e-15, atol=1e-15, equal_nan=True)
        np.testing.assert_allclose(c, np.cos(x), rtol=1e-15, atol=1e-15, equal_nan=True)


def test_sin_cos_declines_small_and_non_plain_inputs():
    assert sin_cos(np.ones(SINCOS_FROM - 1)) is None
    assert sin_cos(np.ones(SINCOS_FROM, dtype=np.float32)) is None
    assert sin_cos(np.empty(0)) is None


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_fused_forward_mode_equals_the_unfused_rules(name):
    op = registry.get(name)
    x = np.random.default_rng(13).uniform(-3, 3, 2 * SINCOS_FROM)
    v = np.random.default_rng(14).standard_normal((3, x.size))
    f = getattr(np, name)
    fused = [ad.jvp(f, (x,), (vi,)) for vi in v]
    saved, op.fused = op.fused, None
    try:
        plain = [ad.jvp(f, (x,), (vi,)) for vi in v]
    finally:
        op.fused = saved
    for (y1, t1), (y2, t2) in zip(fused, plain):
        np.testing.assert_allclose(y1, y2, rtol=1e-15, atol=1e-15)
        np.testing.assert_allclose(t1, t2, rtol=1e-14, atol=1e-15)
    # batched tangents take the fused path too
    J = ad.jacfwd(lambda x: f(x)[:4], chunk=8)(x[: SINCOS_FROM * 2])
    d = np.cos(x[:4]) if name == "sin" else -np.sin(x[:4])
    np.testing.assert_allclose(J[:, :4], np.diag(d), rtol=1e-14, atol=1e-15)
