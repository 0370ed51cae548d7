"""Arithmetic ufuncs (+ - * / ** and friends) and the non-differentiable comparisons."""

import math
import operator

import numpy as np

from ad.registry import composite, elementwise, nondiff
from ad.trace import is_complex, raw


def _clip_parse(a, a_min=None, a_max=None, **kw):
    if kw:
        raise NotImplementedError(f"numpy.clip: options {sorted(kw)} are not supported by ad")
    lo = -np.inf if a_min is None else a_min
    hi = np.inf if a_max is None else a_max
    return (a, lo, hi), {}


def _clip_examples(rng):
    x = rng.uniform(-2, 2, (3, 4))
    return [
        ((x, -0.5, 0.7), {}),
        ((x, rng.uniform(-1.5, -0.5, 4), rng.uniform(0.5, 1.5, (3, 1))), {}),
        ((x, -np.inf, 0.3), {}),
    ]


# Ties in maximum/minimum split the derivative evenly between the operands (as JAX and
# PyTorch do), so that maximum(x, x) has derivative 1. A NaN operand wins nothing (x > nan
# and x == nan are False): the output is NaN and its derivative 0 in both operands, as in JAX.
def _first_wins(x, y):
    return np.asarray((x > y) + 0.5 * (x == y), dtype=_float_dtype(x, y))


def _float_dtype(*xs) -> np.dtype:
    """The float dtype of a 0/1 partial of an op on xs: their result dtype (float32 stays
    float32), float64 for integers, the real one for complex xs."""
    dt = np.result_type(*(raw(x) for x in xs))
    return np.finfo(dt).dtype if dt.kind in "fc" else np.dtype(np.float64)


# fmax/fmin return the operand that is not NaN, so the derivative goes to it; when both are
# NaN, NumPy returns the first, and so does the derivative (as JAX and PyTorch do).
def _fmax_first(x, y):
    return _first_wins(x, y) + np.isnan(y)


def _fmax_second(x, y):
    return _first_wins(y, x) + (np.isnan(x) & ~np.isnan(y))


def _fmin_first(x, y):
    return _first_wins(y, x) + np.isnan(y)


def _fmin_second(x, y):
    return _first_wins(x, y) + (np.isnan(x) & ~np.isnan(y))


def _power_base(x, y):
    """d x**y / dx = y x**(y-1), and 0 where y = 0 (x**0 = 1 is constant, even at x = 0).

    At x = y = 0 the base becomes 1, so that 0 * 0**-1 = 0 * inf never forms; the exponent
    stays y - 1, so that the derivative of this in y is x**-1 at y = 0 (d2 x**y / dx dy)."""
    return y * np.where((x == 0) & (y == 0), 1.0, x) ** (y - 1)


def _power_exponent(x, y, o):
    """d x**y / dy = log(x) x**y, and 0 at x = 0 for y >= 0 (0**y is 0 or 1 there).

    log reads 1 in place of those zeros, so that log(0) * 0 = -inf * 0 never forms, not even
    in a second derivative through reverse mode. A Python-number base takes the output's
    dtype first, as NumPy casts it to compute o (np.where would make it float64)."""
    if type(x) is int or type(x) is float or type(x) is complex:
        x = np.asarray(x, dtype=raw(o).dtype)
    return np.log(np.where((x == 0) & (y >= 0), 1.0, x)) * o


_POWER_DOC = (
    "d/dx: y x**(y-1), 0 where y = 0; d/dy: log(x) x**y, 0 at x = 0 for y >= 0 (as PyTorch); "
    "0**y for 0 < y < 1 has d/dx = inf (as JAX and PyTorch)"
)


def _as_complex_like(x, o):
    """x promoted to complex where the output o is complex (as NumPy promotes it to compute o):
    log of a real negative base is then the principal complex log, not NaN."""
    return x + 0j if is_complex(o) and not is_complex(x) else x


def _abs_partial(x, y):
    """abs'(x) = sign(x), 0 at 0; on complex z, 2 ∂|z|/∂z = conj(z) / |z| (0 at 0), so that
    the JVP is Re(t conj(z)) / |z| (the rules take the real part of a real output's tangent)."""
    if is_complex(x):
        return np.conjugate(x) / np.where(y == 0, np.inf, y)
    return np.sign(x)


# Zero derivative. On complex input the comparisons (lexicographic), rint and round (of each
# part) and the predicates stay piecewise constant; sign (z / |z|) does not, and NumPy has no
# complex loop for the others.
_REAL_ONLY = ("sign", "floor", "ceil", "trunc", "floor_divide", "signbit")
# Each one scalar instruction of a compiled tape, named as the op (the comparisons become guards).
_INSTRUCTIONS = ("sign", "floor", "ceil", "trunc", "rint", "less", "less_equal", "greater", "greater_equal",
                 "equal", "not_equal")  # fmt: skip

# The holomorphic ops (add ... power) keep their rules on complex input (JAX's convention:
# JVP t * f'(z), VJP ct * f'(z), no conjugation).
elementwise("add", np.add, 1, 1, complex=True, scalar=operator.add, instruction="add")
elementwise("subtract", np.subtract, 1, -1, complex=True, scalar=operator.sub, instruction="subtract")
elementwise(
    "multiply",
    np.multiply,
    lambda x, y, o: y,
    lambda x, y, o: x,
    complex=True,
    scalar=operator.mul,
    instruction="multiply",
)


def _reciprocal(y):
    """1 / y, where a Python zero gives an infinity of its sign (a complex zero inf + nan j), as
    NumPy's division does (Python's raises ZeroDivisionError): the partial of x / 0.0 in x. A
    Python number stays one, so that it takes the cotangent's dtype (a NumPy scalar would make
    float32 float64)."""
    if type(y) is float or type(y) is int or type(y) is bool:
        return 1 / y if y else math.copysign(math.inf, y)
    if type(y) is complex and not y:  # NumPy's and JAX's inf + nan j, where Python raises
        with np.errstate(divide="ignore", invalid="ignore"):
            return complex(1 / np.complex128(y))
    return 1 / y


elementwise(
    "divide",
    np.true_divide,
    lambda x, y, o: _reciprocal(y),
    lambda x, y, o: -o / y,
    domain=("real", "nonzero"),
    complex=True,
    scalar=operator.truediv,
    instruction="divide",
)
elementwise(
    "power",
    np.power,
    lambda x, y, o: _power_base(x, y),
    lambda x, y, o: _power_exponent(_as_complex_like(x, o), y, o),
    domain=("positive", "real"),
    doc=_POWER_DOC,
    complex=True,
    instruction="power",
)
elementwise(
    "float_power",
    np.float_power,
    lambda x, y, o: _power_base(x, y),
    lambda x, y, o: _power_exponent(_as_complex_like(x, o), y, o),
    domain=("positive", "real"),
    doc=_POWER_DOC,
    complex=True,
)
elementwise("negative", np.negative, -1, complex=True, scalar=operator.neg, instruction="negative")
elementwise("positive", np.positive, 1, complex=True, scalar=operator.pos, lowering="moves")
elementwise(
    "abs",
    (np.abs, np.absolute, np.fabs),
    _abs_partial,
    domain=("nonzero",),
    analytic=False,
    smooth=False,
    complex=True,
    doc="abs'(0) = 0 (the sign convention); complex z: JVP Re(conj(z) t) / |z|, VJP ct conj(z) / |z|",
    instruction="abs",
)
elementwise(
    "maximum",
    np.maximum,
    lambda x, y, o: _first_wins(x, y),
    lambda x, y, o: _first_wins(y, x),
    analytic=False,
    smooth=False,
    doc="NaN propagates, with derivative 0 (as JAX); ties share the derivative evenly",
    instruction="maximum",
)
elementwise(
    "minimum",
    np.minimum,
    lambda x, y, o: _first_wins(y, x),
    lambda x, y, o: _first_wins(x, y),
    analytic=False,
    smooth=False,
    doc="NaN propagates, with derivative 0 (as JAX); ties share the derivative evenly",
    instruction="minimum",
)
elementwise(
    "fmax",
    np.fmax,
    lambda x, y, o: _fmax_first(x, y),
    lambda x, y, o: _fmax_second(x, y),
    analytic=False,
    smooth=False,
    doc="ignores NaN: the derivative goes to the other operand (as JAX, PyTorch); ties share it evenly",
)
elementwise(
    "fmin",
    np.fmin,
    lambda x, y, o: _fmin_first(x, y),
    lambda x, y, o: _fmin_second(x, y),
    analytic=False,
    smooth=False,
    doc="ignores NaN: the derivative goes to the other operand (as JAX, PyTorch); ties share it evenly",
)
elementwise(
    "clip",
    np.clip,
    lambda x, lo, hi, o: (x >= lo) & (x <= hi),
    # NumPy applies hi last: where lo > hi every output is hi, so lo gets nothing there
    lambda x, lo, hi, o: (x < lo) & (lo <= hi),
    lambda x, lo, hi, o: (x > hi) | (lo > hi),
    parse=_clip_parse,
    impl=np.clip,
    examples=_clip_examples,
    analytic=False,
    smooth=False,
    doc="d/dx: 1 on [lo, hi], the bounds included (as PyTorch; JAX gives 1/2 there); below "
    "lo = hi, to lo (JAX: 1/2 each); where lo > hi, NumPy returns hi and the derivative goes to "
    "hi (as JAX and PyTorch)",
)
elementwise(
    "copysign",
    np.copysign,
    lambda x, y, o: np.sign(x) * np.sign(o),
    0,
    domain=("nonzero", "nonzero"),
    analytic=False,
    smooth=False,
)

for _name, _f in [
    ("sign", np.sign),
    ("floor", np.floor),
    ("ceil", np.ceil),
    ("trunc", np.trunc),
    ("rint", np.rint),
    ("round", (np.round, np.around)),
    ("less", np.less),
    ("less_equal", np.less_equal),
    ("greater", np.greater),
    ("greater_equal", np.greater_equal),
    ("equal", np.equal),
    ("not_equal", np.not_equal),
    ("logical_and", np.logical_and),
    ("logical_or", np.logical_or),
    ("logical_not", np.logical_not),
    ("logical_xor", np.logical_xor),
    ("isnan", np.isnan),
    ("isinf", np.isinf),
    ("isfinite", np.isfinite),
    ("floor_divide", np.floor_divide),
    ("signbit", np.signbit),
]:
    nondiff(_name, _f, complex=_name not in _REAL_ONLY, instruction=_name if _name in _INSTRUCTIONS else None)


def _fix(x, out=None):
    """np.fix, rounding toward zero: np.trunc, of zero derivative (as JAX's jnp.fix)."""
    if out is not None:
        raise NotImplementedError(
            "ad: numpy.fix(..., out=) of a traced value is not supported; assign the result"
        )
    return np.trunc(x)


composite(
    "fix", np.fix, _fix, smooth=False, analytic=False, doc="np.trunc: round toward zero, zero derivative"
)

# heaviside(x, h0) is 0 below 0, 1 above, and h0 at x = 0: piecewise constant in x, and h0
# itself where x = 0, so that is where its derivative in h0 is 1 (as JAX)
elementwise(
    "heaviside",
    np.heaviside,
    0,
    lambda x, h0, o: np.asarray(x == 0, dtype=_float_dtype(x, h0)),
    analytic=False,
    smooth=False,
    doc="d/dx: 0; d/dh0: 1 where x = 0, else 0 (as JAX)",
)


# remainder (np.mod) and fmod: x - q y for the integer quotient q (floor(x / y), trunc(x / y)),
# which is piecewise constant. It is read off the output, q = rint((x - out) / y), so that
# the partial agrees with the remainder NumPy returned even where x / y rounds to an integer.
def _minus_quotient(x, y, o):
    # An infinite y makes (x - o) / y inf / inf; there q is 0 where NumPy returned x and -1
    # where it returned y (remainder(-1, inf) = inf = x + y).
    inf = np.isinf(y)
    return np.where(
        inf, np.asarray(o == y, dtype=_float_dtype(x, y)), -np.rint((x - o) / np.where(inf, 1.0, y))
    )


_REMAINDER_DOC = "d/dx: 1; d/dy: -q, the quotient ({}) (as PyTorch); jumps where x / y is an integer"
elementwise("remainder", np.remainder, 1, _minus_quotient, domain=("real", "nonzero"), analytic=False,
            smooth=False, doc=_REMAINDER_DOC.format("floor(x / y)") + "; also np.mod and %")  # fmt: skip
elementwise("fmod", np.fmod, 1, _minus_quotient, domain=("real", "nonzero"), analytic=False, smooth=False,
            doc=_REMAINDER_DOC.format("trunc(x / y)"))  # fmt: skip


def _divmod(x, y, /, **kwargs):
    """(floor_divide(x, y), remainder(x, y)): the quotient has zero derivative."""
    if kwargs:
        raise NotImplementedError(
            f"ad: numpy.divmod options {sorted(kwargs)} are not supported; call numpy.floor_divide "
            "and numpy.remainder with them instead"
        )
    return np.floor_divide(x, y), np.remainder(x, y)


composite("divmod", np.divmod, _divmod, domain=("real", "nonzero"), analytic=False, smooth=False,
          doc="(x // y, x % y); also divmod()")  # fmt: skip
