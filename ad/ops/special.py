"""Functions NumPy lacks, exported from `ad`: relu, sigmoid, softplus, logsumexp, softmax, log_softmax."""

import numpy as np

from ad.custom import defop
from ad.kernels import elementwise as elementwise_kernels
from ad.kernels import softmax as softmax_kernels
from ad.rules import ndim, negative_axes, shape
from ad.trace import is_complex, raw


def reduced_axes(axis, ndim: int) -> tuple:
    """`axis` as a tuple of negative axes, which also index correctly past a leading batch axis."""
    if axis is None:
        return tuple(range(-ndim, 0))
    return tuple(sorted(negative_axes(axis, ndim)))


def keep(g, axes, keepdims: bool):
    """Restore the reduced axes of g as size-1 axes (g's keepdims form); axes are negative,
    so a leading batch axis of g stays in front."""
    if keepdims or not axes:
        return g
    if np.ndim(g) == 0:  # everything reduced: the keepdims form is g itself, broadcast
        return g
    shape = list(np.shape(g))
    nd = len(shape) + len(axes)
    for a in sorted(a + nd for a in axes):
        shape.insert(a, 1)
    return np.reshape(g, shape)


# logsumexp's derivative is softmax(x), computed by softmax itself: exp(x - logsumexp(x))
# would read 1 in every entry once |x| is so large that adding log(n) to it rounds away
# (1e17 and up), where softmax shifts by the max and stays exact at any magnitude.


def _lse_jvp(ts, xs, out, p, batched):
    """JVP of logsumexp: sum(softmax(x) * t) over the reduced axes."""
    (t,), (x,) = ts, xs
    axes = reduced_axes(p.get("axis"), ndim(x))
    return np.sum(t * softmax(x, axis=axes), axis=axes, keepdims=p.get("keepdims", False))


def _lse_vjp(g, xs, out, p, batched):
    """VJP of logsumexp: g * softmax(x), g broadcast back over the reduced axes."""
    (x,) = xs
    axes = reduced_axes(p.get("axis"), ndim(x))
    return (keep(g, axes, p.get("keepdims", False)) * softmax(x, axis=axes),)


def _sm_jvp(ts, xs, s, p, batched):
    """s * (t - <s, t>)"""
    return softmax_kernels.softmax_product(s, ts[0], reduced_axes(p.get("axis", -1), xs[0].ndim))


def _sm_vjp(g, xs, s, p, batched):
    """s * (g - <g, s>): the Jacobian is symmetric"""
    return (softmax_kernels.softmax_product(s, g, reduced_axes(p.get("axis", -1), xs[0].ndim)),)


def _lsm_jvp(ts, xs, out, p, batched):
    """t - <softmax, t>"""
    return softmax_kernels.log_softmax_jvp(out, ts[0], reduced_axes(p.get("axis", -1), xs[0].ndim))


def _lsm_vjp(g, xs, out, p, batched):
    """g - softmax * sum(g)"""
    return (softmax_kernels.log_softmax_vjp(out, g, reduced_axes(p.get("axis", -1), xs[0].ndim)),)


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
    doc="max(x, 0); relu'(0) = 0 (as abs'(0) = 0)",
    instruction="relu",
)
sigmoid = defop(
    "sigmoid",
    elementwise_kernels.sigmoid,
    derivs=(elementwise_kernels.sigmoid_derivative,),  # y (1 - y)
    kernel=elementwise_kernels,
    doc="1 / (1 + exp(-x)), computed without overflow",
    analytic=False,
    instruction="sigmoid",
)
softplus = defop(
    "softplus",
    lambda x: np.logaddexp(0.0, x),  # NumPy: numba's loop measured slower than its SIMD log1p, exp
    derivs=(lambda x, y: elementwise_kernels.sigmoid(x),),
    kernel=elementwise_kernels,  # the derivative's sigmoid
    doc="log(1 + exp(x)), computed without overflow",
    analytic=False,
    instruction="softplus",
)
_logsumexp = defop(
    "logsumexp",
    softmax_kernels.logsumexp,
    kernel=softmax_kernels,
    jvp=_lse_jvp,
    vjp=_lse_vjp,
    examples=_lse_examples,
    parse=_parse_lse,
    doc="log(sum(exp(x), axis)), stable; its derivative is softmax(x), exact at any magnitude",
)
softmax = defop(
    "softmax",
    softmax_kernels.softmax,
    kernel=softmax_kernels,
    jvp=_sm_jvp,
    vjp=_sm_vjp,
    examples=_axis_examples,
    parse=_parse_softmax,
    doc="exp(x) / sum(exp(x), axis); JVP s * (t - <s, t>)",
)
log_softmax = defop(
    "log_softmax",
    softmax_kernels.log_softmax,
    kernel=softmax_kernels,
    jvp=_lsm_jvp,
    vjp=_lsm_vjp,
    examples=_axis_examples,
    parse=_parse_softmax,
    doc="x - logsumexp(x, axis); JVP t - <softmax, t>",
)


def logsumexp(x, axis=None, b=None, keepdims=False, return_sign=False):
    """log(sum(b exp(x), axis)), stable, as scipy.special.logsumexp: weights b broadcast
    against x, nonnegative unless return_sign=True, which returns (log|sum(b exp(x))|, its sign)."""
    if b is None and not return_sign:
        return _logsumexp(x, axis=axis, keepdims=keepdims)
    return _weighted_logsumexp(x, axis, 1.0 if b is None else b, keepdims, return_sign)


_EXP_MAX = np.log(np.finfo(np.float64).max) - 1  # exp of it is finite


def _weighted_logsumexp(x, axis, b, keepdims: bool, return_sign: bool):
    """m + log(sum(b exp(x - m))), m the largest x of a nonzero weight, held constant: the
    result does not depend on m, and the derivatives are the sum's own, b exp(x - out) in x
    and exp(x - out) in b (finite where a weight is 0, where log(b)'s would not be)."""
    if is_complex(x) or is_complex(b):
        raise TypeError(
            "ad: logsumexp(x, b=...) takes real x and b: apply it to real values (np.real, np.abs "
            "of the complex ones)"
        )
    weights = raw(b)
    if not return_sign and np.any(weights < 0):
        raise ValueError(
            "logsumexp(x, b=...) takes nonnegative weights b (the log of a negative sum is not real): "
            "pass return_sign=True for log|sum(b exp(x))| and its sign"
        )
    values = np.broadcast_to(raw(x), np.broadcast_shapes(shape(x), np.shape(weights)))
    axes = reduced_axes(axis, values.ndim)
    with np.errstate(invalid="ignore"):
        m = np.max(np.where(weights != 0, values, -np.inf), axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    # x - m > 0 only where the weight is 0: capped below exp's overflow, so that the term reads
    # 0 there (not 0 * inf) and its derivative in x is 0; its derivative in b saturates
    total = np.sum(b * np.exp(np.minimum(x - m, _EXP_MAX)), axis=axes, keepdims=True)
    out = m + np.log(np.abs(total) if return_sign else total)
    sign = np.sign(raw(total))
    if not keepdims:
        out, sign = np.squeeze(out, axis=axes), np.squeeze(sign, axis=axes)
    return (out, sign) if return_sign else out
