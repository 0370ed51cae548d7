"""Evenly spaced ranges with traced endpoints: linspace, logspace, geomspace, written with registered ops."""

import operator

import numpy as np

from ad import rules
from ad.ops.assembly import ndmin
from ad.registry import composite
from ad.trace import Box, raw


def _inexact(*values) -> np.dtype:
    """The dtype NumPy gives a range between these values: theirs, or float64 for integers."""
    dt = np.result_type(*(raw(v) for v in values))
    return dt if rules.differentiable(dt) else np.dtype(np.float64)


def _refuse_dtype(name: str, dtype, dt: np.dtype):
    if dtype is not None and np.dtype(dtype) != dt:
        raise NotImplementedError(
            f"ad: numpy.{name}(..., dtype={np.dtype(dtype)}) is not supported for traced values, "
            f"whose range has dtype {dt}; leave dtype unset, or cast the endpoints"
        )


def _first(v, shape: tuple):
    """v broadcast to one row of a range: shape (1, *shape)."""
    return np.expand_dims(np.broadcast_to(v, shape), 0)


def _linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *, device=None):
    """start + j (stop - start) / div, the last sample stop itself (endpoint=True, div = num - 1)."""
    num = operator.index(num)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    if device not in (None, "cpu"):
        raise NotImplementedError(
            f"ad: numpy.linspace(..., device={device!r}) is not supported; leave it unset"
        )
    dt = _inexact(start, stop)
    _refuse_dtype("linspace", dtype, dt)
    div = num - 1 if endpoint else num
    delta = stop - start
    j = np.arange(num, dtype=dt).reshape((-1,) + (1,) * rules.ndim(delta))
    if div <= 0:  # 0 or 1 sample with endpoint: no step
        step, scale, d = np.nan, np.multiply, delta
    else:
        step = delta / div
        # a denormal delta makes step 0: scale j first, as NumPy does, so the samples still differ
        tiny = np.any(raw(step) == 0)
        d = delta if tiny else step
        scale = (lambda j, d: j / div * d) if tiny else np.multiply
    # Sample 0 is start + 0 * step. That product enters as a constant (0, or NaN where step is
    # not finite, as in NumPy), so that no structural zero meets an infinite cotangent (0 * inf).
    parts = [scale(j[:1], raw(d)) + start]
    if endpoint and num > 1:  # the last sample is stop exactly, not start + div * step
        last = stop if isinstance(stop, Box) else np.asarray(stop, dtype=dt)  # a Python 2 is not int64
        parts += [scale(j[1:-1], d) + start, _first(last, tuple(rules.shape(delta)))]
    else:
        parts.append(scale(j[1:], d) + start)
    y = np.concatenate(parts)
    if axis != 0:
        y = np.moveaxis(y, 0, axis)
    return (y, step) if retstep else y


def _logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    """base ** linspace(start, stop); an array base broadcast along the other axes, as NumPy's.

    A Python-number base takes the samples' dtype, as NumPy casts it, so that float32 start
    and stop give float32 values and derivatives."""
    if not isinstance(base, float | int) and rules.ndim(base):
        nd = max(rules.ndim(v) for v in (start, stop, base))
        start, stop, base = (ndmin(v, nd) for v in (start, stop, base))
        base = np.expand_dims(base, axis)
    y = _linspace(start, stop, num=num, endpoint=endpoint, axis=axis)
    if type(base) in (int, float, complex):
        base = np.asarray(base, dtype=np.result_type(raw(y), base))
    out = np.power(base, y)
    _refuse_dtype("logspace", dtype, _inexact(out))
    return out


def _geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """start^(1 - s) stop^s for s = j / div, the ends start and stop exactly.

    NumPy computes 10 ** linspace(log10 start, log10 stop): the same numbers, but its chain
    rule passes through 1 / start, which overflows at tiny start where this one does not."""
    num = operator.index(num)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    if np.any(raw(start) == 0) or np.any(raw(stop) == 0):
        raise ValueError("Geometric sequence cannot include zero")
    _refuse_dtype("geomspace", dtype, _inexact(start, stop, float(num)))
    sign = np.sign(start)  # a constant: the derivative flows through start / sign = |start|
    lo, hi = start / sign, stop / sign
    row = np.broadcast_shapes(tuple(rules.shape(lo)), tuple(rules.shape(hi)))
    div = num - 1 if endpoint else num
    # the ends are start and stop as given (NumPy puts them in too); only the samples between
    # are computed, so that no discarded value adds 0 * inf to a derivative
    inner = np.arange(1, num - 1 if endpoint else num) / div
    s = inner.reshape((-1,) + (1,) * len(row))
    ends = [_first(hi, row)] if endpoint and num > 1 else []
    y = np.concatenate([_first(lo, row), lo ** (1.0 - s) * hi**s, *ends]) if num else _first(lo, row)[:0]
    y = y * sign
    return y if axis == 0 else np.moveaxis(y, 0, axis)


# ---------------------------------------------------------------------------------------
# Examples: (operands, params) as NumPy takes them; float operands are differentiated.


def _linspace_examples(rng):
    a, b = rng.uniform(-2, 2, 2)
    v, w = rng.uniform(-2, 2, (2, 3))
    return [
        ((a, b), {"num": 5}),
        ((a, b, 4), {"endpoint": False}),
        ((v, w), {"num": 3, "axis": -1}),
        ((v, b), {"num": 4, "retstep": True}),
        ((a, b), {"num": 1}),
    ]


def _logspace_examples(rng):
    # The first two differentiate one operand each: where powers overflow (the edges test
    # start = 1e300), <w, J u> with start and stop both differentiated is inf - inf, which the
    # two modes group differently; with one operand it is the same sum in both.
    a, b = rng.uniform(-1, 1, 2)
    return [
        ((a, 2), {"num": 4}),
        ((-1, 1, 3, True, rng.uniform(1.5, 3.0)), {}),
        ((a, b), {"num": 4}),
        ((rng.uniform(-1, 1, 2), b, 3, False), {"base": rng.uniform(1.5, 3.0, 2), "axis": 1}),
    ]


def _geomspace_examples(rng):
    a, b = rng.uniform(0.5, 2.0, 2)
    return [
        ((a, b), {"num": 4}),
        ((-a, -b, 3), {"endpoint": False}),
        ((rng.uniform(0.5, 2.0, 2), b), {"num": 3, "axis": 1}),
        ((a, b), {"num": 1}),
    ]


# fmt: off
composite("linspace", np.linspace, _linspace, examples=_linspace_examples, complex=True,
          doc="traced start, stop; num, endpoint, retstep, axis; the last sample is stop exactly")
composite("logspace", np.logspace, _logspace, examples=_logspace_examples, complex=True,
          doc="base ** linspace(start, stop); start, stop and base may be traced")
composite("geomspace", np.geomspace, _geomspace, examples=_geomspace_examples,
          doc="real start, stop of one sign; the ends are start and stop exactly")
# fmt: on
