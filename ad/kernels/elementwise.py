"""Elementwise kernels where numba beats NumPy's separate passes: sigmoid, and the derivatives
of sigmoid and tanh.

Each public function takes any value: a plain float64 array of at least its ``*_FROM`` size
(contiguous, for the derivatives, which take a contiguous vector of any size) goes to the
kernel, anything else (Duals and Tensors included) to the NumPy twin beside it.
numba calls libm one element at a time, while NumPy's exp, tanh ... are SIMD loops (AVX-512
here), so a kernel leaves the transcendental pass to NumPy and fuses the arithmetic around
it. Measured and left to NumPy (asv_bench/benchmarks/kernels.py, ratios to NumPy from 1e3 to
1e6 elements): numba loops for exp (5x) and tanh (5-12x); softplus (0.75-1.0x against
logaddexp, which a NumPy log1p(exp(-|x|)) beats further). sin with cos in one pass
(0.7-0.8x, one sincos call) is used by forward mode, which needs the primal and its
derivative at once (Op.fused); reverse mode asks for them at different times and keeps NumPy.
"""

from __future__ import annotations

import functools

import numpy as np

from ad.kernels import F64, contiguous, jit, plain, unary

# ---------------------------------------------------------------------------------------
# sigmoid: the twin takes four passes (negate, logaddexp, negate, exp) and logaddexp is a
# scalar loop. The kernel path: NumPy's SIMD exp(-|x|), then one numba pass.


def sigmoid_twin(x):
    """1 / (1 + exp(-x)) without overflow."""
    return np.exp(-np.logaddexp(0.0, -x))


@jit
def _sigmoid_from_exp(x, e):
    """e = exp(-|x|) in, sigmoid(x) out: 1 / (1 + e) for x >= 0, e / (1 + e) below."""
    for i in range(x.size):
        s = 1.0 / (1.0 + e[i])
        e[i] = s if x[i] >= 0 else e[i] * s


SIGMOID_FROM = 64  # ratio to the twin: 1.1 at 8 elements, 1.0 at 32, 0.85 at 64, 0.07 at 1e6


def sigmoid(x):
    """1 / (1 + exp(-x)), also softplus'(x)."""
    if not (plain(x) and x.size >= SIGMOID_FROM):
        return sigmoid_twin(x)
    x, order = contiguous(x)
    e = np.empty(x.shape, order=order)
    np.abs(x, out=e)
    np.negative(e, out=e)
    np.exp(e, out=e)
    _sigmoid_from_exp(x.ravel(order), e.ravel(order))
    return e


# ---------------------------------------------------------------------------------------
# Derivatives from the output y: NumPy makes a temporary per operation, the kernel none.


@jit
def _sigmoid_derivative(y, d):
    for i in range(y.size):
        d[i] = y[i] * (1.0 - y[i])


# Ratio to the twin on a contiguous matrix: ~1.0 at 100 elements, 0.8 at 1000, 0.5 from 1e5
# (unary's 1-d views cost what the kernel saves on small ones). A vector needs no view: one
# kernel call beats NumPy's two passes from one element on (0.8 against 1.0 us at 100
# elements). A strided y would be copied first, which costs what the kernel saves: NumPy
# keeps those.
DERIVATIVE_FROM = 256


def _derivative(kernel, y):
    """kernel(y, d) into a new d where the kernel beats the twin, else None: y a plain float64
    array, a contiguous vector or a contiguous array of DERIVATIVE_FROM elements or more.
    Spelled out, as every rule call of the op pays it."""
    if type(y) is not np.ndarray or y.dtype is not F64:
        return None
    if y.ndim == 1:
        if y.strides[0] != F64.itemsize and y.size > 1:
            return None
        d = np.empty(y.size)
        kernel(y, d)
        return d
    if y.size >= DERIVATIVE_FROM and (y.flags.c_contiguous or y.flags.f_contiguous):
        return unary(kernel, y)
    return None


# The cotangent times the derivative, g * d, as one kernel pass into one new array: the
# derivative's kernel, then NumPy's multiply, make two calls and a temporary, 1.25 us at
# 100 elements against 0.8 us. A partial that offers this carries it as its `times`
# attribute, the reverse engine's product for a unary elementwise op (Op.times), as
# partial(_times, kernel): a C call, not another Python frame.


_ARRAY = np.ndarray  # a module global: np.ndarray is a global and an attribute lookup


def _times(kernel, g, x, y):
    """kernel(g, y, out) into a new out for g and y plain contiguous float64 vectors of one
    length (x unread); None for anything else (the caller then multiplies by the
    derivative). Strided vectors are left to NumPy, as _derivative leaves them: numba would
    compile another version of the kernel for their layout."""
    # (8,): a vector of contiguous float64s; the test that costs least (0.26 against 0.33 us)
    if (
        type(y) is _ARRAY
        and type(g) is _ARRAY
        and y.dtype is F64
        and g.dtype is F64
        and y.strides == g.strides == (8,)
        and g.shape == y.shape
    ):
        out = np.empty(y.size)
        run = kernel.dispatcher  # numba's own dispatcher once loaded, without jit's call
        (kernel if run is None else run)(g, y, out)
        return out
    return None


def sigmoid_derivative_twin(x, y):
    return y * (1 - y)


def sigmoid_derivative(x, y):
    """sigmoid'(x) = y (1 - y) (x unread: the reverse engine keeps y alone)."""
    d = _derivative(_sigmoid_derivative, y)
    return y * (1 - y) if d is None else d  # the twin's formula, without a second call


@jit
def _sigmoid_vjp(g, y, out):
    for i in range(y.size):
        out[i] = g[i] * (y[i] * (1.0 - y[i]))


# sigmoid_vjp(g, x, y): g y (1 - y), the VJP of sigmoid, in one pass where it pays, else None
sigmoid_vjp = sigmoid_derivative.times = functools.partial(_times, _sigmoid_vjp)


@jit
def _tanh_derivative(y, d):
    for i in range(y.size):
        d[i] = 1.0 - y[i] * y[i]


def tanh_derivative_twin(x, y):
    return 1 - y * y


def tanh_derivative(x, y):
    """tanh'(x) = 1 - y^2 (x unread: the reverse engine keeps y alone)."""
    d = _derivative(_tanh_derivative, y)
    return 1 - y * y if d is None else d  # the twin's formula, without a second call


@jit
def _tanh_vjp(g, y, out):
    for i in range(y.size):
        out[i] = g[i] * (1.0 - y[i] * y[i])


# tanh_vjp(g, x, y): g (1 - y^2), the VJP of tanh, in one pass where it pays, else None
tanh_vjp = tanh_derivative.times = functools.partial(_times, _tanh_vjp)


# ---------------------------------------------------------------------------------------
# sin and cos together: forward mode needs the primal and its derivative at once, and one
# loop of sincos calls (LLVM fuses math.sin and math.cos of one x) beats NumPy's two SIMD
# passes from about 1e3 elements (0.7-0.8x). Used through Op.fused by the forward engine.


@jit
def _sin_cos(x, s, c):
    for i in range(x.size):
        s[i] = np.sin(x[i])
        c[i] = np.cos(x[i])


SINCOS_FROM = 1024


def sin_cos(x):
    """(sin x, cos x) in one pass, or None below the size where that wins (or for non-plain x)."""
    if not (plain(x) and x.size >= SINCOS_FROM):
        return None
    x, order = contiguous(x)
    s, c = np.empty(x.shape, order=order), np.empty(x.shape, order=order)
    _sin_cos(x.ravel(order), s.ravel(order), c.ravel(order))
    return s, c
