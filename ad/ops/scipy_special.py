"""scipy.special's ufuncs that autograd.scipy.special differentiates: gamma, erf, expit, ndtr, Bessel.

Gamma and its logarithms, digamma and Hurwitz's zeta, the error functions and their inverses,
expit and logit, the normal CDF, its logarithm and its inverse, Bessel functions, the
incomplete gamma functions, beta, and gammasgn (no derivative).

They are ufuncs, so a call on a traced value reaches the registry as np.sin does: code that
imported them from autograd.scipy.special imports them from scipy.special instead. Each
derivative is written with these same functions (gammaln' = digamma, digamma' = zeta(2, x),
zeta(s, q)' = -s zeta(s + 1, q), j0' = -j1, ...), so that every order dispatches again. An
order or a shape parameter (jv's v, zeta's s, gammainc's a) takes constants: its
derivative has no closed form here, and a traced one raises rather than give zero.
"""

import math

import numpy as np
import scipy.special as sc
from scipy.special import _ufuncs

from ad.registry import elementwise, nondiff
from ad.trace import Box

# Python floats, which keep a float32 operand float32 (a NumPy float64 would promote it)
_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)


def _constant_first(name: str, parameter: str):
    """A parse that refuses a traced first operand (an order or a shape parameter): its
    declared derivative is zero, which would drop a traced one's."""

    def parse(p, x, **kwargs):
        if isinstance(p, Box):
            raise NotImplementedError(
                f"ad differentiates scipy.special.{name} in its argument, not in its {parameter}: "
                f"pass the {parameter} as a constant"
            )
        if kwargs:
            raise NotImplementedError(f"scipy.special.{name}: options {sorted(kwargs)} are not supported")
        return (p, x), {}

    return parse


def _digamma_partial(x, y):
    """digamma' = trigamma = zeta(2, x)."""
    return _ufuncs._zeta(2.0, x)


def _zeta_partial(s, q, y):
    """d/dq zeta(s, q) = -s zeta(s + 1, q)."""
    return -s * _ufuncs._zeta(s + 1.0, q)


def _gaussian(x):
    """exp(-x^2 / 2) / sqrt(2 pi), the normal density."""
    return np.exp(-0.5 * x * x) / _SQRT_2PI


def _log_ndtr_partial(x, y):
    """d log ndtr(x) = density / ndtr = exp(-x^2 / 2 - log_ndtr(x)) / sqrt(2 pi), which stays
    finite far in the left tail where ndtr underflows."""
    return np.exp(-0.5 * x * x - y) / _SQRT_2PI


def _jv_partial(v, x, y):
    """d/dx J_v = (J_{v-1} - J_{v+1}) / 2."""
    return 0.5 * (sc.jv(v - 1.0, x) - sc.jv(v + 1.0, x))


def _yv_partial(v, x, y):
    """d/dx Y_v = (Y_{v-1} - Y_{v+1}) / 2."""
    return 0.5 * (sc.yv(v - 1.0, x) - sc.yv(v + 1.0, x))


def _yn_partial(n, x, y):
    """d/dx Y_n = (Y_{n-1} - Y_{n+1}) / 2, n an integer."""
    return 0.5 * (sc.yn(n - 1, x) - sc.yn(n + 1, x))


def _iv_partial(v, x, y):
    """d/dx I_v = (I_{v-1} + I_{v+1}) / 2."""
    return 0.5 * (sc.iv(v - 1.0, x) + sc.iv(v + 1.0, x))


def _ive_partial(v, x, y):
    """ive = iv exp(-|x|): (ive_{v-1} + ive_{v+1}) / 2 - sign(x) ive_v."""
    return 0.5 * (sc.ive(v - 1.0, x) + sc.ive(v + 1.0, x)) - np.sign(x) * y


def _gammainc_partial(a, x, y):
    """d/dx P(a, x) = x^(a-1) e^-x / Gamma(a), the gamma density. At a = 1, x^0 is 1 even at
    x = 0 (log reads 1 there: 0 * log 0 would give NaN for the exponential density's 1)."""
    log_x = np.log(np.where(np.equal(a, 1.0), 1.0, x))
    return np.exp((a - 1.0) * log_x - x - sc.gammaln(a))


def _rgamma_partial(x, y):
    """d/dx 1/Gamma(x) = -rgamma(x) digamma(x) for x >= 1/2. Below, that product of a small and
    a large number, near Gamma's poles x = -k, inherits digamma's error there (1e-17 over the
    distance to the pole, relative) and is NaN at them, so it is the derivative of the
    reflection 1/Gamma(x) = sin(pi x) Gamma(1 - x) / pi instead: with k = round(x), e = x - k,
    (-1)^k Gamma(1 - x) (cos(pi e) - sin(pi e) digamma(1 - x) / pi), which is exactly (-1)^k k!
    at a pole (e = 0, where sin(pi x) would leave a rounding error times k!). It holds on a
    neighbourhood, so every higher order differentiates it (the second derivative at a pole is
    -2 (-1)^k k! digamma(k + 1)). Below -170, where Gamma(1 - x) overflows, only the poles
    take it. Each branch reads a safe point where the other is taken, so that no NaN of the
    branch not taken reaches a cotangent (0 * inf)."""
    rounded = np.round(x)
    reflected = (x < 0.5) & ((x > -170.0) | np.equal(x, rounded))
    at = np.where(reflected, x, 0.0)
    elsewhere = np.where(reflected, 1.0, x)
    k = np.where(reflected, rounded, 0.0)
    e = at - k
    reflection = (
        np.cos(np.pi * k)
        * sc.gamma(1.0 - at)
        * (np.cos(np.pi * e) - np.sin(np.pi * e) * sc.digamma(1.0 - at) / np.pi)
    )
    return np.where(reflected, reflection, -y * sc.digamma(elsewhere))


def _beta_partials(log: bool):
    """d/da log B(a, b) = digamma(a) - digamma(a + b); B's own partials are B times those."""

    def da(a, b, y):
        d = sc.digamma(a) - sc.digamma(a + b)
        return d if log else y * d

    def db(a, b, y):
        d = sc.digamma(b) - sc.digamma(a + b)
        return d if log else y * d

    return da, db


# -- examples --------------------------------------------------------------------------------


def _on(low, high):
    """Examples drawn from (low, high), where the function is smooth and finite."""
    return lambda rng: [((rng.uniform(low, high, (3, 4)),), {}), ((rng.uniform(low, high, 5),), {})]


def _order_examples(orders, low=0.3, high=3.0):
    """(order, x) pairs: constant orders broadcast against x."""
    return lambda rng: [
        ((np.array(orders), rng.uniform(low, high, (3, len(orders)))), {}),
        ((orders[-1], rng.uniform(low, high, 4)), {}),
    ]


def _pair_examples(rng):
    a, b = rng.uniform(0.5, 3.0, (2, 3, 4))
    return [((a, b), {}), ((a[0], rng.uniform(0.5, 3.0, (3, 1))), {})]


# fmt: off
for _name, _f, _partial, _domain, _doc in [
    ("gamma", sc.gamma, lambda x, y: y * sc.digamma(x), "positive", "Gamma(x): Gamma digamma"),
    ("rgamma", sc.rgamma, _rgamma_partial, "positive", "1 / Gamma(x): -rgamma digamma, (-1)^k k! at x = -k"),
    ("gammaln", sc.gammaln, lambda x, y: sc.digamma(x), "positive", "log |Gamma(x)|: digamma"),
    ("digamma", sc.digamma, _digamma_partial, "positive",
     "also scipy.special.psi: digamma' = zeta(2, x), the trigamma function"),
    ("erf", sc.erf, lambda x, y: 2.0 / _SQRT_PI * np.exp(-x * x), "real", "2 / sqrt(pi) exp(-x^2)"),
    ("erfc", sc.erfc, lambda x, y: -2.0 / _SQRT_PI * np.exp(-x * x), "real", "-2 / sqrt(pi) exp(-x^2)"),
    ("erfinv", sc.erfinv, lambda x, y: _SQRT_PI / 2.0 * np.exp(y * y), "unit",
     "sqrt(pi) / 2 exp(erfinv(x)^2)"),
    ("expit", sc.expit, lambda x, y: y * (1.0 - y), "real", "the logistic sigmoid: expit (1 - expit)"),
    ("ndtr", sc.ndtr, lambda x, y: _gaussian(x), "real", "the standard normal CDF: its density"),
    ("log_ndtr", sc.log_ndtr, _log_ndtr_partial, "real",
     "log of the normal CDF: exp(-x^2 / 2 - log_ndtr(x)) / sqrt(2 pi), finite in the left tail"),
    ("scipy_i0", sc.i0, lambda x, y: sc.i1(x), "real", "scipy.special.i0 (np.i0 is i0): i0' = i1"),
    ("j0", sc.j0, lambda x, y: -sc.j1(x), "real", "Bessel J0: -j1"),
    ("j1", sc.j1, lambda x, y: 0.5 * (sc.j0(x) - sc.jv(2.0, x)), "real", "Bessel J1: (j0 - jv(2, x)) / 2"),
    ("y0", sc.y0, lambda x, y: -sc.y1(x), "positive", "Bessel Y0 on x > 0: -y1"),
    ("y1", sc.y1, lambda x, y: 0.5 * (sc.y0(x) - sc.yv(2.0, x)), "positive",
     "Bessel Y1 on x > 0: (y0 - yv(2, x)) / 2"),
]:
    elementwise(_name, _f, _partial, domain=(_domain,), analytic=False, doc=_doc)

# on an open interval the default domains do not fit: examples drawn inside it
for _name, _f, _partial, (_low, _high), _doc in [
    ("erfcinv", sc.erfcinv, lambda x, y: -_SQRT_PI / 2.0 * np.exp(y * y), (0.1, 1.9),
     "-sqrt(pi) / 2 exp(erfcinv(x)^2), on (0, 2)"),
    ("logit", sc.logit, lambda x, y: 1.0 / (x * (1.0 - x)), (0.05, 0.95),
     "log(x / (1 - x)) on (0, 1): 1 / (x (1 - x))"),
    ("ndtri", sc.ndtri, lambda x, y: 1.0 / _gaussian(y), (0.05, 0.95),
     "the normal quantile on (0, 1): 1 / density(ndtri(x))"),
]:
    elementwise(_name, _f, _partial, examples=_on(_low, _high), analytic=False, doc=_doc)

# an order or a shape parameter first, a constant; the derivative in the second operand
for _name, _f, _partial, _parameter, _orders, _doc in [
    ("zeta", _ufuncs._zeta, _zeta_partial, "order s", [2.0, 3.0, 4.5],
     "Hurwitz zeta(s, q), scipy.special.zeta(s, q): d/dq = -s zeta(s + 1, q)"),
    ("jv", sc.jv, _jv_partial, "order v", [0.0, 1.0, 2.5],
     "also scipy.special.jn: d/dx = (jv(v - 1, x) - jv(v + 1, x)) / 2"),
    ("yv", sc.yv, _yv_partial, "order v", [0.0, 1.0, 2.5],
     "d/dx = (yv(v - 1, x) - yv(v + 1, x)) / 2 on x > 0"),
    ("yn", sc.yn, _yn_partial, "order n", [0, 1, 2], "d/dx = (yn(n - 1, x) - yn(n + 1, x)) / 2 on x > 0"),
    ("iv", sc.iv, _iv_partial, "order v", [0.0, 1.0, 2.5], "d/dx = (iv(v - 1, x) + iv(v + 1, x)) / 2"),
    ("ive", sc.ive, _ive_partial, "order v", [0.0, 1.0, 2.5],
     "iv exp(-|x|): (ive(v - 1, x) + ive(v + 1, x)) / 2 - sign(x) ive(v, x)"),
    ("gammainc", sc.gammainc, _gammainc_partial, "shape a", [0.5, 1.0, 2.5],
     "P(a, x): d/dx = x^(a-1) e^-x / Gamma(a)"),
    ("gammaincc", sc.gammaincc, lambda a, x, y: -_gammainc_partial(a, x, y), "shape a", [0.5, 1.0, 2.5],
     "Q(a, x) = 1 - P(a, x): d/dx = -x^(a-1) e^-x / Gamma(a)"),
]:
    elementwise(_name, _f, 0, _partial, parse=_constant_first(_name, _parameter), domain=("int", "positive"),
                examples=_order_examples(_orders), analytic=False, doc=f"{_doc}; {_parameter} constant")

elementwise("beta", sc.beta, *_beta_partials(log=False), domain=("positive", "positive"),
            examples=_pair_examples, analytic=False,
            doc="B(a, b): B (digamma(a) - digamma(a + b)), alike in b")
elementwise("betaln", sc.betaln, *_beta_partials(log=True), domain=("positive", "positive"),
            examples=_pair_examples, analytic=False,
            doc="log |B(a, b)|: digamma(a) - digamma(a + b), alike in b")
nondiff("gammasgn", sc.gammasgn, doc="the sign of Gamma(x): a constant")
# fmt: on
