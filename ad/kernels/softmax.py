"""Row kernels for logsumexp, softmax and log_softmax along the last axis, and for their rules.

A row is reduced in a few passes that stay in cache, where NumPy makes a temporary array per
operation and reduces along the axis again for the max and the sum. The twins are the same
formulas in NumPy, for any axis. Rows: x.reshape(-1, n), n the last axis (or every element
when the reduction is over all axes). Non-finite values follow the twins: the shift m is the
row's max when finite, else 0, so a +inf gives nan where exp(inf - inf) does, a row of -inf
has logsumexp -inf, and a nan anywhere makes the row nan.
"""

from __future__ import annotations

import math

import numpy as np

from ad.kernels import jit, plain


def row_shape(axes, shape: tuple) -> tuple[int, int] | None:
    """(rows, n) when reducing over `axes` (negative, sorted) of `shape` reduces each row of
    reshape(rows, n): the last axis, or all of them; else None."""
    nd = len(shape)
    if nd == 0:
        return None
    if tuple(axes) == (-1,):
        return math.prod(shape[:-1]), shape[-1]
    if tuple(axes) == tuple(range(-nd, 0)):
        return 1, math.prod(shape)
    return None


def _rows(x, rows_n: tuple[int, int]) -> np.ndarray:
    """x as a C-contiguous (rows, n) array: a view when x is C-contiguous, else a copy."""
    return np.ascontiguousarray(x).reshape(rows_n)


def _shift(x, axis):
    """The max along axis where finite, else 0 (keepdims): exp(x - shift) cannot overflow."""
    m = np.max(x, axis=axis, keepdims=True) if x.size else np.zeros((1,) * x.ndim)
    return np.where(np.isfinite(m), m, 0.0)


# ---------------------------------------------------------------------------------------
# Primals. Each kernel: the row's shift, then sum exp(x - shift) (softmax keeps the exps).


@jit
def _logsumexp(x, out):
    for r in range(x.shape[0]):
        m = -np.inf
        for j in range(x.shape[1]):
            if x[r, j] > m:
                m = x[r, j]
        if not np.isfinite(m):
            m = 0.0
        s = 0.0
        for j in range(x.shape[1]):
            s += math.exp(x[r, j] - m)
        out[r] = math.log(s) + m


@jit
def _softmax(x, out):
    for r in range(x.shape[0]):
        m = -np.inf
        for j in range(x.shape[1]):
            if x[r, j] > m:
                m = x[r, j]
        if not np.isfinite(m):
            m = 0.0
        s = 0.0
        for j in range(x.shape[1]):
            e = math.exp(x[r, j] - m)
            out[r, j] = e
            s += e
        for j in range(x.shape[1]):
            out[r, j] /= s


@jit
def _log_softmax(x, out):
    for r in range(x.shape[0]):
        m = -np.inf
        for j in range(x.shape[1]):
            if x[r, j] > m:
                m = x[r, j]
        if not np.isfinite(m):
            m = 0.0
        s = 0.0
        for j in range(x.shape[1]):
            s += math.exp(x[r, j] - m)
        c = math.log(s)
        for j in range(x.shape[1]):
            out[r, j] = (x[r, j] - m) - c


def logsumexp_twin(x, axis=None, keepdims=False):
    x = np.asarray(x)
    m = _shift(x, axis)
    e = np.asarray(x - m)  # a 0-d x gives a NumPy scalar, which exp cannot write into
    out = np.log(np.sum(np.exp(e, out=e), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def softmax_twin(x, axis=-1):
    x = np.asarray(x)
    e = np.asarray(x - _shift(x, axis))
    np.exp(e, out=e)
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def log_softmax_twin(x, axis=-1):
    x = np.asarray(x)
    d = x - _shift(x, axis)
    return d - np.log(np.sum(np.exp(d), axis=axis, keepdims=True))


# The primal kernels call libm's exp once per element, where NumPy's SIMD exp is ~5x faster:
# they win while NumPy's per-call and per-row costs dominate (small arrays, short rows) and
# lose on long rows of large arrays (2-4x slower at 1e5 elements in rows of 1000).
PRIMAL_SIZE_UPTO, PRIMAL_ROW_UPTO = 2048, 16


def _small(size: int, n: int, size_upto: int, row_upto: int) -> bool:
    return size <= size_upto or n <= row_upto


def _primal_rows(x, axis):
    """(x as rows, the reduced axes as negative numbers) when the primal kernel takes x, else None."""
    if not plain(x) or x.ndim == 0:
        return None
    axes = range(x.ndim) if axis is None else ((axis,) if np.ndim(axis) == 0 else axis)
    try:
        axes = tuple(sorted(a - x.ndim if a >= 0 else a for a in axes))
    except TypeError:
        return None
    rn = row_shape(axes, x.shape)
    if rn is None or not _small(x.size, rn[1], PRIMAL_SIZE_UPTO, PRIMAL_ROW_UPTO):
        return None
    return _rows(x, rn), axes


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x), axis))."""
    rows = _primal_rows(x, axis)
    if rows is None:
        return logsumexp_twin(x, axis, keepdims)
    x2, axes = rows
    out = np.empty(x2.shape[0])
    _logsumexp(x2, out)
    nd = x.ndim
    if keepdims:
        return out.reshape(tuple(1 if i - nd in axes else n for i, n in enumerate(x.shape)))
    return out.reshape(tuple(n for i, n in enumerate(x.shape) if i - nd not in axes))


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x), axis)."""
    rows = _primal_rows(x, axis)
    if rows is None:
        return softmax_twin(x, axis)
    out = np.empty(rows[0].shape)
    _softmax(rows[0], out)
    return out.reshape(x.shape)


def log_softmax(x, axis=-1):
    """x - logsumexp(x, axis)."""
    rows = _primal_rows(x, axis)
    if rows is None:
        return log_softmax_twin(x, axis)
    out = np.empty(rows[0].shape)
    _log_softmax(rows[0], out)
    return out.reshape(x.shape)


# ---------------------------------------------------------------------------------------
# Rules. v (a tangent or cotangent) may carry k directions on a leading axis: its rows are
# then k blocks of the primal's rows, and row r of v pairs with row r % R of the primal.


@jit
def _softmax_product(s, v, out):
    rs = s.shape[0]
    for r in range(v.shape[0]):
        q = r % rs
        d = 0.0
        for j in range(v.shape[1]):
            d += s[q, j] * v[r, j]
        for j in range(v.shape[1]):
            out[r, j] = s[q, j] * (v[r, j] - d)


@jit
def _log_softmax_jvp(p, t, out):
    rp = p.shape[0]
    for r in range(t.shape[0]):
        q = r % rp
        d = 0.0
        for j in range(t.shape[1]):
            d += p[q, j] * t[r, j]
        for j in range(t.shape[1]):
            out[r, j] = t[r, j] - d


@jit
def _log_softmax_vjp(p, g, out):
    rp = p.shape[0]
    for r in range(g.shape[0]):
        q = r % rp
        d = 0.0
        for j in range(g.shape[1]):
            d += g[r, j]
        for j in range(g.shape[1]):
            out[r, j] = g[r, j] - p[q, j] * d


def _rule_rows(p, v, axes, size_upto: float, row_upto: float):
    """(p, v) as rows when a rule kernel takes them: plain, a row reduction, v shaped like p or
    with one leading axis more, and small enough; else None."""
    if not plain(p, v):
        return None
    rn = row_shape(axes, p.shape)
    if rn is None or not (v.shape == p.shape or v.shape[1:] == p.shape):
        return None
    if not _small(v.size, rn[1], size_upto, row_upto):
        return None
    k = 1 if v.shape == p.shape else v.shape[0]
    return _rows(p, rn), _rows(v, (k * rn[0], rn[1]))


# softmax's rules are arithmetic only: the kernel wins at every size (0.2-0.9x). log_softmax's
# take NumPy's exp first and win less, on long rows of large arrays not at all.
LOG_SOFTMAX_RULE_SIZE_UPTO, LOG_SOFTMAX_RULE_ROW_UPTO = 16384, 128


def softmax_product_twin(s, v, axes):
    return s * (v - np.sum(s * v, axis=axes, keepdims=True))


def softmax_product(s, v, axes):
    """s * (v - sum(s * v, axes)): softmax's JVP (v a tangent) and VJP (v a cotangent)."""
    rows = _rule_rows(s, v, axes, math.inf, math.inf)
    if rows is None:
        return softmax_product_twin(s, v, axes)
    out = np.empty(rows[1].shape)
    _softmax_product(*rows, out)
    return out.reshape(v.shape)


def log_softmax_jvp_twin(y, t, axes):
    return t - np.sum(np.exp(y) * t, axis=axes, keepdims=True)


def log_softmax_jvp(y, t, axes):
    """t - sum(exp(y) * t, axes), y = log_softmax(x)."""
    rows = _rule_rows(y, t, axes, LOG_SOFTMAX_RULE_SIZE_UPTO, LOG_SOFTMAX_RULE_ROW_UPTO)
    if rows is None:
        return log_softmax_jvp_twin(y, t, axes)
    out = np.empty(rows[1].shape)
    _log_softmax_jvp(np.exp(rows[0]), rows[1], out)  # NumPy's SIMD exp, then one fused pass
    return out.reshape(t.shape)


def log_softmax_vjp_twin(y, g, axes):
    return g - np.exp(y) * np.sum(g, axis=axes, keepdims=True)


def log_softmax_vjp(y, g, axes):
    """g - exp(y) * sum(g, axes), y = log_softmax(x)."""
    rows = _rule_rows(y, g, axes, LOG_SOFTMAX_RULE_SIZE_UPTO, LOG_SOFTMAX_RULE_ROW_UPTO)
    if rows is None:
        return log_softmax_vjp_twin(y, g, axes)
    out = np.empty(rows[1].shape)
    _log_softmax_vjp(np.exp(rows[0]), rows[1], out)
    return out.reshape(g.shape)
