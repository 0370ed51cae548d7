"""Floating-point parts and friends: ldexp, modf, frexp, unwrap, i0 and i1, and the integer and bit ops.

ldexp(x, i) = x 2^i is linear in x; modf's fractional part has derivative 1 and frexp's
mantissa 2^-e (the integral part and the exponent are piecewise constant: zero). unwrap
adds multiples of the period chosen on the primal, so its derivative is the identity.
i0' = i1 and i1' = i0 - i1 / x (1/2 at 0), with i1 from scipy.special. The comparisons of
floats with their neighbours (nextafter, spacing), the tests isposinf/isneginf/isreal/
iscomplex and the integer ops (gcd, lcm, bitwise, shifts) have no derivative.
"""

import numpy as np
import scipy.special

from ad.registry import composite, elementwise, nondiff
from ad.trace import apply, raw


def _ldexp_partial(x, i, y):
    """d/dx x 2^i = 2^i, in x's dtype."""
    return np.ldexp(np.ones_like(raw(x)), i)


def _fraction_partial(x, y):
    """d/dx of x - trunc(x): 1, and 0 at +-inf (where the fraction is the constant +-0)."""
    return np.isfinite(x)


_FRACTION = elementwise("modf_fraction", (), _fraction_partial, impl=lambda x: np.modf(x)[0], analytic=False,
                        smooth=False, doc="modf's first output: np.modf calls it")  # fmt: skip


def _modf(x, /, **kwargs):
    """(x - trunc(x), trunc(x)), signs and infinities as NumPy's."""
    if kwargs:
        raise NotImplementedError(f"ad: numpy.modf options {sorted(kwargs)} are not supported")
    return apply(_FRACTION, [x], {}), np.trunc(x)


def _frexp(x, /, **kwargs):
    """(x 2^-e, e) with e read off the primal: the mantissa is x scaled by a constant power of two."""
    if kwargs:
        raise NotImplementedError(f"ad: numpy.frexp options {sorted(kwargs)} are not supported")
    e = np.frexp(raw(x))[1]
    return np.ldexp(x, -e), e


def _unwrap(p, discont=None, axis=-1, *, period=2 * np.pi):
    """p plus the multiples of period that NumPy adds (chosen on the primal, so constants)."""
    value = np.asarray(raw(p))
    return p + (np.unwrap(value, discont, axis, period=period) - value)


def _i1_partial(x, y):
    """i1' = i0 - i1 / x, and 1/2 at 0 (the limit); x = 1 stands in at 0 so no 0/0 appears."""
    zero = x == 0
    safe = np.where(zero, 1.0, x)
    return np.where(zero, 0.5, np.i0(x) - scipy.special.i1(safe) / safe)


# -- examples --------------------------------------------------------------------------------


def _examples(*calls):
    return lambda rng: [call(rng) for call in calls]


def _ldexp_examples(rng):
    return [((rng.uniform(-2, 2, (3, 4)), np.array([0, -3, 5, 1])), {}), ((rng.uniform(-2, 2, 3), 2), {})]


def _unwrap_examples(rng):
    phase = np.cumsum(rng.uniform(0.5, 1.5, 8))  # steps below pi: the wraps are NumPy's to undo
    wrapped = np.angle(np.exp(1j * phase))
    return [((wrapped,), {}), ((np.stack([wrapped, wrapped[::-1]]),), {"axis": 1, "period": 2 * np.pi})]


# fmt: off
elementwise("ldexp", np.ldexp, _ldexp_partial, 0, domain=("real", "int"), examples=_ldexp_examples,
            analytic=False, doc="x 2^i: d/dx 2^i; the integer i has no derivative")
composite("modf", np.modf, _modf, smooth=False, analytic=False,
          doc="(fraction, integral part): d fraction/dx = 1 (0 at +-inf), the integral part constant")
composite("frexp", np.frexp, _frexp, smooth=False, analytic=False,
          doc="(mantissa, exponent): d mantissa/dx = 2^-exponent, the exponent constant")
composite("unwrap", np.unwrap, _unwrap, examples=_unwrap_examples, smooth=False, analytic=False,
          doc="p plus constant multiples of the period: derivative the identity")
elementwise("i0", np.i0, lambda x, y: scipy.special.i1(x), analytic=False,
            doc="modified Bessel function of order 0: i0' = i1 (scipy.special.i1)")
elementwise("i1", scipy.special.i1, _i1_partial, analytic=False,
            doc="scipy.special.i1, i0's derivative: i1' = i0 - i1 / x, 1/2 at 0")
for _name, _f in [
    ("isposinf", np.isposinf), ("isneginf", np.isneginf), ("nextafter", np.nextafter),
    ("spacing", np.spacing), ("gcd", np.gcd), ("lcm", np.lcm), ("bitwise_and", np.bitwise_and),
    ("bitwise_or", np.bitwise_or), ("bitwise_xor", np.bitwise_xor), ("invert", np.invert),
    ("left_shift", np.left_shift), ("right_shift", np.right_shift), ("bitwise_count", np.bitwise_count),
]:
    nondiff(_name, _f, doc="also np.bitwise_not" if _name == "invert" else "")
nondiff("isreal", np.isreal, complex=True, doc="booleans: a constant")
nondiff("iscomplex", np.iscomplex, complex=True, doc="booleans: a constant")
# fmt: on
