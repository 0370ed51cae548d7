"""numba sweeps over a recorded scalar program: forward (values and local partials),
reverse (VJP), tangent (JVP), and the batched forms of the last two.

A program is five flat arrays, one entry per instruction i:
    code[i]   the opcode (the table below)
    a[i], b[i] the operand slots (b = -1 for a unary op)
    out[i]    the slot it writes; for a guard, the expected truth value (0 or 1)
Slots hold every scalar of the program: inputs, constants, results. The forward sweep
stores each instruction's partials pa[i] = d out/d a, pb[i] = d out/d b, so the other
sweeps are one multiply-add per operand and never re-evaluate a transcendental.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

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
LN2, LN10 = math.log(2.0), math.log(10.0)


@njit(cache=True)
def _sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@njit(cache=True)
def _ties(x, y):
    if x > y:
        return 1.0
    if x == y:
        return 0.5
    return 0.0


@njit(cache=True)
def forward(code, a, b, out, v, pa, pb):
    """Run the program on the slot values v; return -1, or the index of the first failed guard."""
    for i in range(code.shape[0]):
        c = code[i]
        x = v[a[i]]
        y = v[b[i]] if b[i] >= 0 else 0.0
        if c >= GUARD:
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
            if ok != (out[i] == 1):
                return i
            continue
        p, q = 0.0, 0.0
        if c == 0:
            r, p, q = x + y, 1.0, 1.0
        elif c == 1:
            r, p, q = x - y, 1.0, -1.0
        elif c == 2:
            r, p, q = x * y, y, x
        elif c == 3:
            r = x / y
            p, q = 1.0 / y, -r / y
        elif c == 4:
            r = x**y
            p = y * x ** (y - 1.0)
            q = math.log(x) * r if x > 0 else 0.0
        elif c == 5:
            r, p = -x, -1.0
        elif c == 6:
            r, p = math.sin(x), math.cos(x)
        elif c == 7:
            r, p = math.cos(x), -math.sin(x)
        elif c == 8:
            r = math.tan(x)
            p = 1.0 + r * r
        elif c == 9:
            r = math.exp(x)
            p = r
        elif c == 10:
            r, p = math.log(x), 1.0 / x
        elif c == 11:
            r = math.sqrt(x)
            p = 0.5 / r
        elif c == 12:
            r = math.tanh(x)
            p = 1.0 - r * r
        elif c == 13:
            r = abs(x)
            p = 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)
        elif c == 14:
            r = max(x, y)
            p, q = _ties(x, y), _ties(y, x)
        elif c == 15:
            r = min(x, y)
            p, q = _ties(y, x), _ties(x, y)
        elif c == 16:
            r, p = x * x, 2.0 * x
        elif c == 17:
            r = 1.0 / x
            p = -r * r
        elif c == 18:
            r = math.expm1(x)
            p = r + 1.0
        elif c == 19:
            r, p = math.log1p(x), 1.0 / (1.0 + x)
        elif c == 20:
            r, p = math.sinh(x), math.cosh(x)
        elif c == 21:
            r, p = math.cosh(x), math.sinh(x)
        elif c == 22:
            r, p = math.atan(x), 1.0 / (1.0 + x * x)
        elif c == 23:
            r, p = math.asin(x), 1.0 / math.sqrt(1.0 - x * x)
        elif c == 24:
            r, p = math.acos(x), -1.0 / math.sqrt(1.0 - x * x)
        elif c == 25:
            r, p = math.asinh(x), 1.0 / math.sqrt(x * x + 1.0)
        elif c == 26:
            r, p = math.atanh(x), 1.0 / (1.0 - x * x)
        elif c == 27:
            r, p = math.log2(x), 1.0 / (x * LN2)
        elif c == 28:
            r, p = math.log10(x), 1.0 / (x * LN10)
        elif c == 29:
            r = 2.0**x
            p = r * LN2
        elif c == 30:
            r = math.copysign(abs(x) ** (1.0 / 3.0), x)
            p = 1.0 / (3.0 * r * r)
        elif c == 31:
            r = _sigmoid(x)
            p = r * (1.0 - r)
        elif c == 32:
            r = max(x, 0.0) + math.log1p(math.exp(-abs(x)))
            p = _sigmoid(x)
        elif c == 33:
            r = x if x > 0 else 0.0
            p = 1.0 if x > 0 else 0.0
        elif c == 34:
            m = max(x, y)
            r = m + math.log(math.exp(x - m) + math.exp(y - m)) if m > -math.inf else -math.inf
            p, q = math.exp(x - r), math.exp(y - r)
        elif c == 35:
            r = math.atan2(x, y)
            d = x * x + y * y
            p, q = y / d, -x / d
        elif c == 36:
            r = math.hypot(x, y)
            p, q = x / r, y / r
        elif c == 37:
            r, p = math.acosh(x), 1.0 / math.sqrt(x * x - 1.0)
        elif c == 38:
            r, p = x, 1.0
        elif c == 50:
            r = math.floor(x)
        elif c == 51:
            r = math.ceil(x)
        elif c == 52:
            r = 1.0 if x > 0 else (-1.0 if x < 0 else (0.0 if x == 0 else x))
        elif c == 53:
            r = math.trunc(x) if math.isfinite(x) else x
        else:
            r = np.rint(x)
        v[out[i]] = r
        pa[i] = p
        pb[i] = q
    return -1


@njit(cache=True)
def reverse(code, a, b, out, pa, pb, ct):
    """ct holds the output cotangents (in place); accumulate every slot's cotangent."""
    for i in range(code.shape[0] - 1, -1, -1):
        if code[i] >= GUARD:
            continue
        g = ct[out[i]]
        if g == 0.0:
            continue
        ct[a[i]] += g * pa[i]
        if b[i] >= 0:
            ct[b[i]] += g * pb[i]


@njit(cache=True)
def reverse_batched(code, a, b, out, pa, pb, ct):
    """reverse() for k cotangents at once: ct has shape (slots, k)."""
    k = ct.shape[1]
    for i in range(code.shape[0] - 1, -1, -1):
        if code[i] >= GUARD:
            continue
        o, ai, bi, p, q = out[i], a[i], b[i], pa[i], pb[i]
        for j in range(k):
            g = ct[o, j]
            ct[ai, j] += g * p
            if bi >= 0:
                ct[bi, j] += g * q


@njit(cache=True)
def tangent(code, a, b, out, pa, pb, t):
    """t holds the input tangents (zeros elsewhere); push them to every slot."""
    for i in range(code.shape[0]):
        if code[i] >= GUARD:
            continue
        r = pa[i] * t[a[i]]
        if b[i] >= 0:
            r += pb[i] * t[b[i]]
        t[out[i]] = r


@njit(cache=True)
def tangent_batched(code, a, b, out, pa, pb, t):
    """tangent() for k directions at once: t has shape (slots, k)."""
    k = t.shape[1]
    for i in range(code.shape[0]):
        if code[i] >= GUARD:
            continue
        o, ai, bi, p, q = out[i], a[i], b[i], pa[i], pb[i]
        for j in range(k):
            r = p * t[ai, j]
            if bi >= 0:
                r += q * t[bi, j]
            t[o, j] = r


@njit(cache=True)
def value_and_grad(code, a, b, out, v, pa, pb, ct, result):
    """One call for grad: forward, then reverse from the scalar slot `result`."""
    failed = forward(code, a, b, out, v, pa, pb)
    if failed >= 0:
        return failed
    ct[:] = 0.0
    ct[result] = 1.0
    reverse(code, a, b, out, pa, pb, ct)
    return -1
