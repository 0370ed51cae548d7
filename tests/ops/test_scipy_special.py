"""scipy.special's rules at their edges: 1/Gamma at Gamma's poles, in every order and mode."""

import math

import numpy as np
import pytest
import scipy.special as sc

import ad

POLES = [0.0, -1.0, -2.0, -3.0, -5.0, -10.0]


def _rgamma_series(k):
    """1/Gamma(-k + e) = (-1)^k k! (e - digamma(k + 1) e^2 + ...): the first two derivatives."""
    sign_factorial = (-1.0) ** k * math.factorial(k)
    return sign_factorial, -2.0 * sign_factorial * sc.digamma(k + 1.0)


def _second_derivatives(f, x):
    """f'' at a scalar x by every composition of the two modes."""
    x = np.float64(x)
    results = {
        "rev-over-rev": ad.grad(ad.grad(f))(x),
        "fwd-over-rev": ad.jacfwd(ad.grad(f))(x),
        "rev-over-fwd": ad.grad(lambda x: ad.jvp(f, (x,), (np.float64(1.0),))[1])(x),
        "fwd-over-fwd": ad.jvp(lambda x: ad.jvp(f, (x,), (np.float64(1.0),))[1], (x,), (np.float64(1.0),))[1],
        "hessian": ad.hessian(f)(x),
    }
    for mode in ("fwd-rev", "rev-fwd", "rev-rev", "fwd-fwd"):
        results[f"hvp {mode}"] = ad.hvp(f, (x,), (np.float64(1.0),), mode=mode)[1]
    return results


@pytest.mark.parametrize("x", POLES)
def test_rgamma_first_derivative_at_a_pole_is_exactly_signed_factorial(x):
    first, _ = _rgamma_series(int(-x))
    assert ad.grad(sc.rgamma)(x) == first
    assert ad.jvp(sc.rgamma, (np.float64(x),), (np.float64(1.0),))[1] == first


@pytest.mark.parametrize("x", POLES)
def test_rgamma_second_derivative_at_a_pole_is_finite_and_matches_the_series(x):
    _, second = _rgamma_series(int(-x))
    for mode, value in _second_derivatives(sc.rgamma, x).items():
        assert np.isfinite(value), mode
        assert value == pytest.approx(second, rel=1e-12), mode


@pytest.mark.parametrize("x", [*POLES, -0.5, -1.5, 0.5, 2.0, 3.7])
def test_rgamma_derivatives_to_third_order_match_mpmath(x):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    want = [float(mpmath.diff(mpmath.rgamma, x, n)) for n in (1, 2, 3)]
    d1 = ad.grad(sc.rgamma)
    d2 = ad.grad(d1)
    d3 = ad.grad(d2)
    got = [d1(x), d2(x), d3(x), ad.jacfwd(ad.jacfwd(ad.grad(sc.rgamma)))(np.float64(x))]
    assert got[0] == pytest.approx(want[0], rel=1e-13)
    assert got[1] == pytest.approx(want[1], rel=1e-12)
    assert got[2] == pytest.approx(want[2], rel=1e-11)
    assert got[3] == pytest.approx(want[2], rel=1e-11)


def test_rgamma_hessian_of_an_array_with_poles_is_finite_and_keeps_float32():
    x = np.array([0.0, -1.0, -2.5, 1.5], dtype=np.float32)
    hessian = ad.hessian(lambda x: np.sum(sc.rgamma(x)))(x)
    assert hessian.dtype == np.float32
    assert np.all(np.isfinite(hessian))
    assert np.count_nonzero(hessian - np.diag(np.diag(hessian))) == 0
    want = [_rgamma_series(0)[1], _rgamma_series(1)[1]]
    np.testing.assert_allclose(np.diag(hessian)[:2], want, rtol=1e-6)


def test_rgamma_tensor_backward_twice_at_a_pole():
    x = ad.tensor(np.array([-2.0, 0.5]), requires_grad=True)
    sc.rgamma(x).sum().backward(create_graph=True)
    first = x.grad
    x.grad = None
    first.sum().backward()
    assert x.grad.numpy()[0] == pytest.approx(_rgamma_series(2)[1], rel=1e-12)
    assert np.isfinite(x.grad.numpy()[1])


@pytest.mark.parametrize("x", [-2.0 + 1e-6, -2.0 + 1e-9, -1.0 + 1e-7, 1e-8, -5.0 + 1e-4, 0.3, -169.7])
def test_rgamma_derivatives_near_a_pole_keep_full_precision(x):
    """Beside a pole -rgamma digamma multiplies a small number by a large one and scipy's
    digamma loses digits there (1e-8 relative at 1e-9 from -2): the reflection keeps them."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    first = float(mpmath.diff(mpmath.rgamma, mpmath.mpf(x), 1))
    second = float(mpmath.diff(mpmath.rgamma, mpmath.mpf(x), 2))
    assert ad.grad(sc.rgamma)(x) == pytest.approx(first, rel=1e-14)
    assert ad.grad(ad.grad(sc.rgamma))(x) == pytest.approx(second, rel=1e-12)
