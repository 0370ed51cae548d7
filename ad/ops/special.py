"""Functions NumPy lacks, exported from `ad`: relu, sigmoid, softplus, logsumexp, softmax, log_softmax."""

import numpy as np

from ad.custom import defop
from ad.kernels import elementwise as elementwise_kernels
from ad.kernels import softmax as softmax_kernels
from ad.rules import ndim, negative_axes


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
logsumexp = defop(
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
