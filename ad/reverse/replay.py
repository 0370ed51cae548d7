"""numba sweeps over a recorded scalar program: forward (values and local partials),
reverse (VJP), tangent (JVP), and the batched forms of the last two.

A program is four flat arrays, one entry per instruction i:
    code[i]    the opcode (the table below)
    a[i], b[i] the operand slots (a unary op reads b = the scratch slot, whose value is 0)
    out[i]     the slot it writes
and four more for the guards: their comparison code, operand slots, and the outcome seen
while recording. Slots hold every scalar of the program: inputs, constants, results. The
forward sweep stores each instruction's partials pa[i] = d out/d a, pb[i] = d out/d b, so
the other sweeps are one multiply-add per operand, without branches, and never
re-evaluate a transcendental. NaN and inf propagate (NumPy's error model: 1/0 is inf).
"""

from __future__ import annotations

import math

import numpy as np

from ad.kernels import _compile

# Opcodes. Partials match the eager rules exactly (ties of maximum split evenly,
# relu'(0) = abs'(0) = 0), so compiled and eager gradients agree to rounding.
OPCODES = {
    "add": 0, "subtract": 1, "multiply": 2, "divide": 3, "power": 4, "negative": 5,
    "sin": 6, "cos": 7, "tan": 8, "exp": 9, "log": 10, "sqrt": 11, "tanh": 12,
    "abs": 13, "maximum": 14, "minimum": 15, "square": 16, "reciprocal": 17,
    "expm1": 18, "log1p": 19, "sinh": 20, "cosh": 21, "arctan": 22, "arcsin": 23,
    "arccos": 24, "arcsinh": 25, "arctanh": 26, "log2": 27, "log10": 28, "exp2": 29,
    "cbrt": 30, "sigmoid": 31, "softplus": 32, "relu": 33, "logaddexp": 34,
    "arctan2": 35, "hypot": 36, "arccosh": 37, "positive": 38,
    # zero-derivative values
    "floor": 50, "ceil": 51, "sign": 52, "trunc": 53, "rint": 54,
    # guards: comparisons seen while recording
    "greater": 60, "greater_equal": 61, "less": 62, "less_equal": 63, "equal": 64, "not_equal": 65,
}  # fmt: skip
GUARD = 60
# numba.njit(cache=True, error_model="numpy"), or without the disk cache where no cache
# directory is writable (the same fallback as ad/kernels).
kernel = _compile
LN2, LN10 = math.log(2.0), math.log(10.0)


@kernel
def _sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@kernel
def _ties(x, y):
    if x > y:
        return 1.0
    if x == y:
        return 0.5
    return 0.0


@kernel
def _logaddexp(x, y):
    m = max(x, y)
    r = m + math.log(math.exp(x - m) + math.exp(y - m)) if m > -math.inf else -math.inf
    return r, math.exp(x - r), math.exp(y - r)


def _op(f):
    return kernel(f)


# One small function per opcode: (x, y) -> (value, d value/dx, d value/dy). The interpreter
# (`step`) and the generated straight-line code (ad/reverse/specialize.py) both call these,
# so the math lives in one place.
op_add = _op(lambda x, y: (x + y, 1.0, 1.0))
op_subtract = _op(lambda x, y: (x - y, 1.0, -1.0))
op_multiply = _op(lambda x, y: (x * y, y, x))
op_divide = _op(lambda x, y: (x / y, 1.0 / y, -(x / y) / y))
op_power = _op(lambda x, y: (x**y, y * x ** (y - 1.0), math.log(x) * x**y if x > 0 else 0.0))
op_negative = _op(lambda x, y: (-x, -1.0, 0.0))
op_sin = _op(lambda x, y: (math.sin(x), math.cos(x), 0.0))
op_cos = _op(lambda x, y: (math.cos(x), -math.sin(x), 0.0))
op_tan = _op(lambda x, y: (math.tan(x), 1.0 + math.tan(x) ** 2, 0.0))
op_exp = _op(lambda x, y: (math.exp(x), math.exp(x), 0.0))
op_log = _op(lambda x, y: (math.log(x), 1.0 / x, 0.0))
op_sqrt = _op(lambda x, y: (math.sqrt(x), 0.5 / math.sqrt(x), 0.0))
op_tanh = _op(lambda x, y: (math.tanh(x), 1.0 - math.tanh(x) ** 2, 0.0))
op_abs = _op(lambda x, y: (abs(x), 1.0 if x > 0 else (-1.0 if x < 0 else 0.0), 0.0))
op_maximum = _op(lambda x, y: (max(x, y), _ties(x, y), _ties(y, x)))
op_minimum = _op(lambda x, y: (min(x, y), _ties(y, x), _ties(x, y)))
op_square = _op(lambda x, y: (x * x, 2.0 * x, 0.0))
op_reciprocal = _op(lambda x, y: (1.0 / x, -1.0 / (x * x), 0.0))
op_expm1 = _op(lambda x, y: (math.expm1(x), math.exp(x), 0.0))
op_log1p = _op(lambda x, y: (math.log1p(x), 1.0 / (1.0 + x), 0.0))
op_sinh = _op(lambda x, y: (math.sinh(x), math.cosh(x), 0.0))
op_cosh = _op(lambda x, y: (math.cosh(x), math.sinh(x), 0.0))
op_arctan = _op(lambda x, y: (math.atan(x), 1.0 / (1.0 + x * x), 0.0))
op_arcsin = _op(lambda x, y: (math.asin(x), 1.0 / math.sqrt(1.0 - x * x), 0.0))
op_arccos = _op(lambda x, y: (math.acos(x), -1.0 / math.sqrt(1.0 - x * x), 0.0))
op_arcsinh = _op(lambda x, y: (math.asinh(x), 1.0 / math.sqrt(x * x + 1.0), 0.0))
op_arctanh = _op(lambda x, y: (math.atanh(x), 1.0 / (1.0 - x * x), 0.0))
op_log2 = _op(lambda x, y: (math.log2(x), 1.0 / (x * LN2), 0.0))
op_log10 = _op(lambda x, y: (math.log10(x), 1.0 / (x * LN10), 0.0))
op_exp2 = _op(lambda x, y: (2.0**x, 2.0**x * LN2, 0.0))
op_cbrt = _op(lambda x, y: (np.cbrt(x), 1.0 / (3.0 * np.cbrt(x) ** 2), 0.0))
op_sigmoid = _op(lambda x, y: (_sigmoid(x), _sigmoid(x) * (1.0 - _sigmoid(x)), 0.0))
op_softplus = _op(lambda x, y: (max(x, 0.0) + math.log1p(math.exp(-abs(x))), _sigmoid(x), 0.0))
op_relu = _op(lambda x, y: (x if x > 0 else 0.0, 1.0 if x > 0 else 0.0, 0.0))
op_logaddexp = _op(lambda x, y: _logaddexp(x, y))
op_arctan2 = _op(lambda x, y: (math.atan2(x, y), y / (x * x + y * y), -x / (x * x + y * y)))
op_hypot = _op(lambda x, y: (math.hypot(x, y), x / math.hypot(x, y), y / math.hypot(x, y)))
op_arccosh = _op(lambda x, y: (math.acosh(x), 1.0 / math.sqrt(x * x - 1.0), 0.0))
op_positive = _op(lambda x, y: (x, 1.0, 0.0))
op_floor = _op(lambda x, y: (np.floor(x), 0.0, 0.0))
op_ceil = _op(lambda x, y: (np.ceil(x), 0.0, 0.0))
op_sign = _op(lambda x, y: (np.sign(x), 0.0, 0.0))
op_trunc = _op(lambda x, y: (np.trunc(x), 0.0, 0.0))
op_rint = _op(lambda x, y: (np.rint(x), 0.0, 0.0))

OPS = {name: globals()[f"op_{name}"] for name in OPCODES if OPCODES[name] < GUARD}


@kernel
def step(c, x, y):
    """The interpreter's dispatch: the op function of opcode c (a flat chain numba compiles well)."""
    if c == 0:
        return op_add(x, y)
    if c == 1:
        return op_subtract(x, y)
    if c == 2:
        return op_multiply(x, y)
    if c == 3:
        return op_divide(x, y)
    if c == 4:
        return op_power(x, y)
    if c == 5:
        return op_negative(x, y)
    if c == 6:
        return op_sin(x, y)
    if c == 7:
        return op_cos(x, y)
    if c == 8:
        return op_tan(x, y)
    if c == 9:
        return op_exp(x, y)
    if c == 10:
        return op_log(x, y)
    if c == 11:
        return op_sqrt(x, y)
    if c == 12:
        return op_tanh(x, y)
    if c == 13:
        return op_abs(x, y)
    if c == 14:
        return op_maximum(x, y)
    if c == 15:
        return op_minimum(x, y)
    if c == 16:
        return op_square(x, y)
    if c == 17:
        return op_reciprocal(x, y)
    if c == 18:
        return op_expm1(x, y)
    if c == 19:
        return op_log1p(x, y)
    if c == 20:
        return op_sinh(x, y)
    if c == 21:
        return op_cosh(x, y)
    if c == 22:
        return op_arctan(x, y)
    if c == 23:
        return op_arcsin(x, y)
    if c == 24:
        return op_arccos(x, y)
    if c == 25:
        return op_arcsinh(x, y)
    if c == 26:
        return op_arctanh(x, y)
    if c == 27:
        return op_log2(x, y)
    if c == 28:
        return op_log10(x, y)
    if c == 29:
        return op_exp2(x, y)
    if c == 30:
        return op_cbrt(x, y)
    if c == 31:
        return op_sigmoid(x, y)
    if c == 32:
        return op_softplus(x, y)
    if c == 33:
        return op_relu(x, y)
    if c == 34:
        return op_logaddexp(x, y)
    if c == 35:
        return op_arctan2(x, y)
    if c == 36:
        return op_hypot(x, y)
    if c == 37:
        return op_arccosh(x, y)
    if c == 38:
        return op_positive(x, y)
    if c == 50:
        return op_floor(x, y)
    if c == 51:
        return op_ceil(x, y)
    if c == 52:
        return op_sign(x, y)
    if c == 53:
        return op_trunc(x, y)
    if c == 54:
        return op_rint(x, y)
    return 0.0, 0.0, 0.0


@kernel
def forward(code, a, b, out, v, pa, pb):
    """Run the program on the slot values v, storing values and local partials."""
    for i in range(code.shape[0]):
        r, p, q = step(code[i], v[a[i]], v[b[i]])
        v[out[i]] = r
        pa[i] = p
        pb[i] = q


@kernel
def check(gcode, ga, gb, seen, v):
    """-1 if every guard has the outcome it had when recorded, else the first that does not."""
    for i in range(gcode.shape[0]):
        c, x, y = gcode[i], v[ga[i]], v[gb[i]]
        if c == 60:
            ok = x > y
        elif c == 61:
            ok = x >= y
        elif c == 62:
            ok = x < y
        elif c == 63:
            ok = x <= y
        elif c == 64:
            ok = x == y
        else:
            ok = x != y
        if ok != (seen[i] == 1):
            return i
    return -1


@kernel
def reverse(a, b, out, pa, pb, ct):
    """ct holds the output cotangents (in place); accumulate every slot's cotangent."""
    for i in range(a.shape[0] - 1, -1, -1):
        g = ct[out[i]]
        ct[a[i]] += g * pa[i]
        ct[b[i]] += g * pb[i]


@kernel
def reverse_batched(a, b, out, pa, pb, ct):
    """reverse() for k cotangents at once: ct has shape (slots, k)."""
    k = ct.shape[1]
    for i in range(a.shape[0] - 1, -1, -1):
        o, ai, bi, p, q = out[i], a[i], b[i], pa[i], pb[i]
        for j in range(k):
            g = ct[o, j]
            ct[ai, j] += g * p
            ct[bi, j] += g * q


@kernel
def tangent(a, b, out, pa, pb, t):
    """t holds the input tangents (zeros elsewhere); push them to every slot."""
    for i in range(a.shape[0]):
        t[out[i]] = pa[i] * t[a[i]] + pb[i] * t[b[i]]


@kernel
def tangent_batched(a, b, out, pa, pb, t):
    """tangent() for k directions at once: t has shape (slots, k)."""
    k = t.shape[1]
    for i in range(a.shape[0]):
        o, ai, bi, p, q = out[i], a[i], b[i], pa[i], pb[i]
        for j in range(k):
            t[o, j] = p * t[ai, j] + q * t[bi, j]


@kernel
def value_and_grad(code, a, b, out, v, pa, pb, gcode, ga, gb, seen, ct, result):
    """One call for grad: forward, guards, then reverse from the scalar slot `result`."""
    forward(code, a, b, out, v, pa, pb)
    failed = check(gcode, ga, gb, seen, v)
    if failed >= 0:
        return failed
    ct[:] = 0.0
    ct[result] = 1.0
    reverse(a, b, out, pa, pb, ct)
    return -1
