"""Elementwise transcendental functions: each op is its partial derivative d(x, y), y = f(x)."""

import math

import numpy as np

from ad.kernels import elementwise as elementwise_kernels
from ad.kernels.elementwise import sin_cos
from ad.registry import elementwise
from ad.trace import raw

# Python floats, not np.float64 scalars: a weak scalar keeps a float32 operand float32
LN2, LN10 = math.log(2.0), math.log(10.0)
PI2 = np.pi**2


def _sinc_derivative(x, y):
    """sinc'(x) = (cos(pi x) - sinc(x)) / x; for |x| < 1e-2 its Maclaurin series through x^7.

    The series is exact at 0 to the seventh derivative and, near 0, free of the cancellation
    in cos(pi x) - sinc(x). The other branch reads 1 in place of those x, so it stays finite
    and reverse mode's zero cotangent through it stays zero in a second derivative."""
    near0 = np.abs(x) < 1e-2
    safe = np.where(near0, 1.0, x)
    x2 = x * x
    series = x * (-(PI2 / 3) + x2 * (PI2**2 / 30 + x2 * (-(PI2**3) / 840 + x2 * PI2**4 / 45360)))
    return np.where(near0, series, (np.cos(np.pi * safe) - np.where(near0, 0.0, y)) / safe)


def _cos_fused(x):
    """(cos x, -sin x) in one pass, for forward mode (None where NumPy's passes win)."""
    sc = sin_cos(x)
    return None if sc is None else (sc[1], -sc[0])


# No numba kernels for exp, sin, cos and tanh's primal (measured: asv_bench/benchmarks/kernels.py):
# NumPy's SIMD loops beat numba's one libm call per element (exp 4-5x, tanh 4-12x, sin even), and
# exp's derivative is its output. sin with cos in one pass gains 20-35% (one sincos call) when
# both are wanted at once: forward mode gets them through `fused` (ad/kernels/elementwise.py).
# fmt: off
elementwise("exp", np.exp, lambda x, y: y, complex=True, instruction="exp")
elementwise("expm1", np.expm1, lambda x, y: y + 1, complex=True, instruction="expm1")
elementwise("exp2", np.exp2, lambda x, y: y * LN2, complex=True, instruction="exp2")
elementwise("log", np.log, lambda x, y: 1 / x, domain=("positive",), complex=True, instruction="log")
elementwise("log1p", np.log1p, lambda x, y: 1 / (1 + x), domain=("positive",), complex=True,
            instruction="log1p")
elementwise("log2", np.log2, lambda x, y: 1 / (x * LN2), domain=("positive",), complex=True,
            instruction="log2")
elementwise("log10", np.log10, lambda x, y: 1 / (x * LN10), domain=("positive",), complex=True,
            instruction="log10")
elementwise("sqrt", np.sqrt, lambda x, y: 0.5 / y, domain=("positive",), complex=True, instruction="sqrt")
elementwise("cbrt", np.cbrt, lambda x, y: 1 / (3 * y * y), domain=("positive",), analytic=False,
            instruction="cbrt")
elementwise("square", np.square, lambda x, y: 2 * x, complex=True, instruction="square")
elementwise("reciprocal", np.reciprocal, lambda x, y: -(y * y), domain=("nonzero",), complex=True,
            instruction="reciprocal")
elementwise("sin", np.sin, lambda x, y: np.cos(x), fused=sin_cos, kernel=sin_cos, complex=True,
            instruction="sin")
elementwise("cos", np.cos, lambda x, y: -np.sin(x), fused=_cos_fused, kernel=sin_cos, complex=True,
            instruction="cos")
elementwise("tan", np.tan, lambda x, y: 1 + y * y, domain=("unit",), complex=True, instruction="tan")
elementwise("arcsin", np.arcsin, lambda x, y: 1 / np.sqrt(1 - x * x), domain=("unit",), complex=True,
            instruction="arcsin")
elementwise("arccos", np.arccos, lambda x, y: -1 / np.sqrt(1 - x * x), domain=("unit",), complex=True,
            instruction="arccos")
elementwise("arctan", np.arctan, lambda x, y: 1 / (1 + x * x), complex=True, instruction="arctan")
# fmt: on
elementwise(
    "arctan2",
    np.arctan2,
    lambda a, b, y: b / np.hypot(a, b) / np.hypot(a, b),  # not b / (a^2 + b^2): no overflow, no underflow
    lambda a, b, y: -a / np.hypot(a, b) / np.hypot(a, b),
    domain=("real", "positive"),
    analytic=False,
    doc="(b, -a) / hypot(a, b)^2, exact from 1e-300 to 1e300; NaN at (0, 0), as JAX",
    instruction="arctan2",
)
elementwise(
    "hypot",
    np.hypot,
    lambda a, b, y: a / y,
    lambda a, b, y: b / y,
    domain=("nonzero", "nonzero"),
    analytic=False,
    doc="(a, b) / hypot(a, b), exact from 1e-300 to 1e300; NaN at (0, 0), as PyTorch",
    instruction="hypot",
)
elementwise("sinh", np.sinh, lambda x, y: np.cosh(x), complex=True, instruction="sinh")
elementwise("cosh", np.cosh, lambda x, y: np.sinh(x), complex=True, instruction="cosh")
elementwise(
    "tanh",
    np.tanh,
    elementwise_kernels.tanh_derivative,  # 1 - y^2
    kernel=elementwise_kernels,
    complex=True,
    instruction="tanh",
)
elementwise("arcsinh", np.arcsinh, lambda x, y: 1 / np.sqrt(x * x + 1), complex=True, instruction="arcsinh")
# arccosh' as 1 / (sqrt(x - 1) sqrt(x + 1)), not 1 / sqrt(x^2 - 1): the same for real x > 1, and
# right on NumPy's principal branch for complex x (the other differs in sign for Re x < 0).
elementwise(
    "arccosh",
    np.arccosh,
    lambda x, y: 1 / (np.sqrt(x - 1) * np.sqrt(x + 1)),
    domain=("gt1",),
    complex=True,
    instruction="arccosh",
)
elementwise(
    "arctanh", np.arctanh, lambda x, y: 1 / (1 - x * x), domain=("unit",), complex=True, instruction="arctanh"
)


def _logaddexp_partial(exp):
    """d/da of log(exp(a) + exp(b)) = exp(a - y). Where y is infinite, a - y can be inf - inf:
    the limit there is 1 where a = y, 0 where a < y, and 1/2 on a tie a = b (as maximum)."""

    def partial(a, b, y):
        inf = np.isinf(y)
        at_inf = np.where(a == y, np.where(a == b, 0.5, 1.0), 0.0).astype(raw(y).dtype)
        return np.where(inf, at_inf, exp(np.where(inf, 0.0, a - y)))

    return partial


# logaddexp is one scalar instruction of a compiled tape; logaddexp2 is not
for _name, _f, _exp, _instruction in [
    ("logaddexp", np.logaddexp, np.exp, "logaddexp"),
    ("logaddexp2", np.logaddexp2, np.exp2, None),
]:
    _d = _logaddexp_partial(_exp)
    elementwise(
        _name,
        _f,
        _d,
        lambda a, b, y, _d=_d: _d(b, a, y),
        analytic=False,
        doc=f"{_exp.__name__}(a - y), {_exp.__name__}(b - y); at an infinite y, 1 to the operand equal "
        "to it (1/2 each on a tie)",
        instruction=_instruction,
    )
elementwise("deg2rad", (np.deg2rad, np.radians), np.pi / 180, analytic=False)
elementwise("rad2deg", (np.rad2deg, np.degrees), 180 / np.pi, analytic=False)
elementwise(
    "sinc",
    np.sinc,
    lambda x, y: _sinc_derivative(x, y),
    domain=("nonzero",),
    complex=True,
    doc="sinc'(0) = 0 and sinc''(0) = -pi^2/3 (as JAX), from the Maclaurin series near 0",
)
