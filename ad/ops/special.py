"""Functions NumPy lacks, exported from `ad`: relu, sigmoid, softplus, logsumexp, softmax, log_softmax."""

import numpy as np

from ad.registry import defop
from ad.rules import negative_axis


def reduced_axes(axis, ndim: int) -> tuple:
    """`axis` as a tuple of negative axes, which also index correctly past a leading batch axis."""
    if axis is None:
        return tuple(range(-ndim, 0))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return tuple(sorted(negative_axis(a, ndim) for a in axes))


def keep(g, axes, keepdims: bool):
    """Restore the reduced axes of g as size-1 axes (g's keepdims form)."""
    return g if keepdims or not axes else np.expand_dims(g, axes)


def _sigmoid(x):
    return np.exp(-np.logaddexp(0.0, -x))


def _logsumexp(x, axis=None, keepdims=False):
    x = np.asarray(x)
    m = np.max(x, axis=axis, keepdims=True) if x.size else np.zeros((1,) * x.ndim)
    m = np.where(np.isfinite(m), m, 0.0)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=reduced_axes(axis, x.ndim))


def _softmax(x, axis=-1):
    e = np.exp(x - _logsumexp(x, axis=axis, keepdims=True))
    return e


def _log_softmax(x, axis=-1):
    return x - _logsumexp(x, axis=axis, keepdims=True)


def _lse_jvp(ts, xs, out, p, batched):
    (t,), (x,) = ts, xs
    axes = reduced_axes(p.get("axis"), np.ndim(x) if not hasattr(x, "ndim") else x.ndim)
    s = np.exp(x - keep(out, axes, p.get("keepdims", False)))
    return np.sum(t * s, axis=axes, keepdims=p.get("keepdims", False))


def _lse_vjp(g, xs, out, p, batched):
    (x,) = xs
    axes = reduced_axes(p.get("axis"), x.ndim)
    kd = p.get("keepdims", False)
    return (keep(g, axes, kd) * np.exp(x - keep(out, axes, kd)),)


def _sm_jvp(ts, xs, s, p, batched):
    (t,), (x,) = ts, xs
    axes = reduced_axes(p.get("axis", -1), x.ndim)
    return s * (t - np.sum(s * t, axis=axes, keepdims=True))


def _sm_vjp(g, xs, s, p, batched):
    (x,) = xs
    axes = reduced_axes(p.get("axis", -1), x.ndim)
    return (s * (g - np.sum(g * s, axis=axes, keepdims=True)),)


def _lsm_jvp(ts, xs, out, p, batched):
    (t,), (x,) = ts, xs
    axes = reduced_axes(p.get("axis", -1), x.ndim)
    return t - np.sum(np.exp(out) * t, axis=axes, keepdims=True)


def _lsm_vjp(g, xs, out, p, batched):
    (x,) = xs
    axes = reduced_axes(p.get("axis", -1), x.ndim)
    return (g - np.exp(out) * np.sum(g, axis=axes, keepdims=True),)


def _parse_softmax(x, axis=-1):
    return (x,), {"axis": axis}


def _parse_lse(x, axis=None, keepdims=False):
    return (x,), {"axis": axis, "keepdims": keepdims}


def _axis_examples(rng):
    x = rng.uniform(-2, 2, (3, 4))
    return [((x,), {}), ((x,), {"axis": 0}), ((x,), {"axis": -1}), ((rng.uniform(-2, 2, 5),), {})]


def _lse_examples(rng):
    x = rng.uniform(-2, 2, (3, 4))
    return [((x,), {}), ((x,), {"axis": 0}), ((x,), {"axis": 1, "keepdims": True}), ((x,), {"axis": (0, 1)})]


relu = defop(
    "relu",
    lambda x: np.maximum(x, 0.0),
    derivs=(lambda x, y: x > 0,),
    domain=("nonzero",),
    analytic=False,
    smooth=False,
    doc="max(x, 0); relu'(0) = 0 (DESIGN.md's convention)",
)
sigmoid = defop(
    "sigmoid",
    _sigmoid,
    derivs=(lambda x, y: y * (1 - y),),
    doc="1 / (1 + exp(-x)), computed without overflow",
    analytic=False,
)
softplus = defop(
    "softplus",
    lambda x: np.logaddexp(0.0, x),
    derivs=(lambda x, y: _sigmoid(x),),
    doc="log(1 + exp(x)), computed without overflow",
    analytic=False,
)
logsumexp = defop(
    "logsumexp",
    _logsumexp,
    jvp=_lse_jvp,
    vjp=_lse_vjp,
    examples=_lse_examples,
    parse=_parse_lse,
    doc="log(sum(exp(x), axis)), stable; its derivative is softmax",
)
softmax = defop(
    "softmax",
    _softmax,
    jvp=_sm_jvp,
    vjp=_sm_vjp,
    examples=_axis_examples,
    parse=_parse_softmax,
    doc="exp(x) / sum(exp(x), axis); JVP s * (t - <s, t>)",
)
log_softmax = defop(
    "log_softmax",
    _log_softmax,
    jvp=_lsm_jvp,
    vjp=_lsm_vjp,
    examples=_axis_examples,
    parse=_parse_softmax,
    doc="x - logsumexp(x, axis); JVP t - <softmax, t>",
)
