"""Weighted averages, ranges and covariances as composites: average, ptp, cov, corrcoef.

Each follows NumPy's own formula with registered ops, so weights, a second variable set
and every other float operand are differentiated too.
"""

import warnings

import numpy as np

from ad.ops.reductions import reject
from ad.ops.special import keep, reduced_axes
from ad.registry import composite, general
from ad.rules import ndim, negative_axes, shape, unbroadcast
from ad.trace import apply, is_complex, raw


def average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    """sum(a w) / sum(w) along axis (the mean without weights); returned=True adds sum(w)."""
    if weights is None:
        avg = np.mean(a, axis=axis, keepdims=keepdims)
        scale = np.asarray(np.size(raw(a)) / max(np.size(raw(avg)), 1), dtype=raw(avg).dtype)
    else:
        w = _weights_along(a, weights, axis)
        scale = np.sum(w, axis=axis, keepdims=keepdims)
        if np.any(raw(scale) == 0.0):
            raise ZeroDivisionError("Weights sum to zero, can't be normalized")
        avg = apply(WEIGHTED_MEAN, (a, w), {"axis": reduced_axes(axis, ndim(a)), "keepdims": bool(keepdims)})
    if not returned:
        return avg
    if shape(scale) != shape(avg):
        scale = np.broadcast_to(scale, shape(avg))
    return avg, scale


# The weighted mean has rules of its own: composed as sum(a w) / sum(w), its derivative in w,
# (a - avg) / sum(w), would come out as a difference of two large terms, a_j / sum(w) and
# sum(a w) / sum(w)^2, which cancel (to noise, differently in each mode, where a is constant).


def _weighted_mean(a, w, axis, keepdims):
    return np.sum(a * w, axis=axis, keepdims=keepdims) / np.sum(w, axis=axis, keepdims=keepdims)


def _weighted_parts(xs, p):
    """(w / sum(w), (a - avg) / sum(w)), both with the reduced axes kept."""
    a, w = xs
    total = np.sum(w, axis=p["axis"], keepdims=True)
    avg = _weighted_mean(a, w, p["axis"], keepdims=True)
    return w / total, (a - avg) / total


def _weighted_jvp(ts, xs, out, p, batched):
    """JVP of sum(a w) / sum(w): sum(ta w + (a - avg) tw) / sum(w)."""
    (ta, tw), (da, dw) = ts, _weighted_parts(xs, p)
    terms = [t * d for t, d in ((ta, da), (tw, dw)) if t is not None]
    return np.sum(
        terms[0] if len(terms) == 1 else terms[0] + terms[1], axis=p["axis"], keepdims=p["keepdims"]
    )


def _weighted_vjp(g, xs, out, p, batched, needs):
    """VJP of sum(a w) / sum(w): g w / sum(w) to a, g (a - avg) / sum(w) to w (unbroadcast)."""
    da, dw = _weighted_parts(xs, p)
    g = keep(g, p["axis"], p["keepdims"])
    lead = tuple(shape(g)[:1]) if batched else ()
    ga = np.broadcast_to(g * da, lead + tuple(shape(xs[0]))) if needs[0] else None
    gw = unbroadcast(g * dw, tuple(shape(xs[1])), batched) if needs[1] else None
    return ga, gw


def _weights_along(a, w, axis):
    """w shaped to broadcast against a: as is when the shapes agree, else laid along axis."""
    if shape(w) == shape(a):
        return w
    if axis is None:
        raise TypeError("Axis must be specified when shapes of a and weights differ.")
    nd = ndim(a)
    given = [ax + nd for ax in negative_axes(axis, nd)]  # w's axes, in the caller's order
    if shape(w) != tuple(shape(a)[ax] for ax in given):
        raise ValueError("Shape of weights must be consistent with shape of a along specified axis.")
    w = np.transpose(w, tuple(np.argsort(given))) if len(given) > 1 else w
    return np.reshape(w, tuple(n if i in given else 1 for i, n in enumerate(shape(a))))


def ptp(a, axis=None, out=None, keepdims=False):
    """max - min along axis."""
    reject("ptp", out=out)
    return np.max(a, axis=axis, keepdims=keepdims) - np.min(a, axis=axis, keepdims=keepdims)


def _rows(m, rowvar, name):
    """m as a 2-D array of variables in rows (a 1-D m is one variable)."""
    if ndim(m) > 2:
        raise ValueError(f"{name} has more than 2 dimensions")
    x = np.atleast_2d(m)
    return np.transpose(x) if not rowvar and shape(x)[0] != 1 else x


def _frequency_weights(f, n):
    f = np.asarray(raw(f))
    if not np.all(f == np.around(f)):
        raise TypeError("fweights must be integer")
    if f.ndim > 1 or f.shape[0] != n:
        raise RuntimeError(
            "incompatible numbers of samples and fweights"
            if f.ndim == 1
            else "cannot handle multidimensional fweights"
        )
    if np.any(f < 0):
        raise ValueError("fweights cannot be negative")
    return f


def _analytic_weights(w, n):
    if ndim(w) > 1 or shape(w)[0] != n:
        raise RuntimeError(
            "incompatible numbers of samples and aweights"
            if ndim(w) == 1
            else "cannot handle multidimensional aweights"
        )
    if np.any(raw(w) < 0):
        raise ValueError("aweights cannot be negative")
    return w


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, *, dtype=None):
    """Covariance of the rows of m (and of y): (X - avg)(w (X - avg))^H / fact, weighted as NumPy."""
    reject("cov", dtype=dtype)
    if ddof is not None and ddof != int(ddof):
        raise ValueError("ddof must be integer")
    x = _rows(m, rowvar, "m")
    if shape(x)[0] == 0:
        return np.zeros((0, 0))
    if y is not None:
        x = np.concatenate([x, _rows(y, rowvar, "y")], axis=0)
    ddof = (0 if bias else 1) if ddof is None else ddof
    n = shape(x)[1]
    w = None if fweights is None else _frequency_weights(fweights, n)
    if aweights is not None:
        aw = _analytic_weights(aweights, n)
        w = aw if w is None else w * aw
    avg, w_sum = average(x, axis=1, weights=w, returned=True)
    w_sum = w_sum[0]
    if w is None:
        fact = n - ddof
    elif ddof == 0:
        fact = w_sum
    elif aweights is None:
        fact = w_sum - ddof
    else:
        fact = w_sum - ddof * np.sum(w * aweights) / w_sum
    if raw(fact) <= 0:
        warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=3)
        fact = 0.0
    x = x - avg[:, None]
    xw = x if w is None else x * w
    c = np.dot(x, np.conjugate(xw.T) if is_complex(xw) else xw.T)
    with np.errstate(divide="ignore"):
        return np.squeeze(c * np.true_divide(1, fact))


def corrcoef(x, y=None, rowvar=True, *, dtype=None):
    """cov(x, y) / (s_i s_j), s = sqrt(diag(cov)), clipped to [-1, 1] as NumPy clips it."""
    c = cov(x, y, rowvar, dtype=dtype)
    if ndim(c) == 0:  # one variable: NumPy's c / c
        return c / c
    s = np.sqrt(np.diagonal(c))
    return np.clip(c / s[:, None] / s[None, :], -1, 1)


# -- examples: the calls as NumPy takes them -------------------------------------------------


def _x(rng, *s):
    return rng.uniform(-2, 2, s)


def _average_examples(rng):
    return [
        ((_x(rng, 3, 4),), {}),
        ((_x(rng, 3, 4), 1, rng.uniform(0.5, 2, 4)), {}),
        ((_x(rng, 3, 4),), {"weights": rng.uniform(0.5, 2, (3, 4)), "returned": True}),
        ((_x(rng, 2, 3, 4), -1, rng.uniform(0.5, 2, 4)), {"keepdims": True}),
        ((_x(rng, 3, 4),), {"axis": 0, "returned": True}),
    ]


def _ptp_examples(rng):
    return [
        ((_x(rng, 3, 4),), {}),
        ((_x(rng, 3, 4),), {"axis": 1}),
        ((_x(rng, 2, 3, 4),), {"axis": (0, 2), "keepdims": True}),
    ]


def _cov_examples(rng):
    return [
        ((_x(rng, 3, 6),), {}),
        ((_x(rng, 5, 2),), {"rowvar": False, "bias": True}),
        ((_x(rng, 6), _x(rng, 6)), {"ddof": 0}),
        ((_x(rng, 2, 5),), {"fweights": np.array([1, 2, 1, 3, 1]), "aweights": rng.uniform(0.5, 2, 5)}),
        ((_x(rng, 2, 5),), {"aweights": rng.uniform(0.5, 2, 5)}),
    ]


def _corrcoef_examples(rng):
    return [((_x(rng, 3, 6),), {}), ((_x(rng, 5, 2),), {"rowvar": False}), ((_x(rng, 6), _x(rng, 6)), {})]


def _weighted_mean_examples(rng):
    p = {"axis": (-1,), "keepdims": False}
    return [
        ((_x(rng, 3, 4), rng.uniform(0.5, 2, (1, 4))), p),
        ((_x(rng, 3, 4), rng.uniform(0.5, 2, (3, 4))), {"axis": (-2, -1), "keepdims": True}),
        ((_x(rng, 2, 3, 4), rng.uniform(0.5, 2, (2, 1, 4))), {"axis": (-3, -1), "keepdims": False}),
    ]


# fmt: off
WEIGHTED_MEAN = general("weighted_mean", (), _weighted_jvp, _weighted_vjp, impl=_weighted_mean,
                        examples=_weighted_mean_examples, complex=True,
                        doc="np.average's weighted case, sum(a w) / sum(w) with w broadcast against a; "
                            "VJP g w / sum(w) and g (a - avg) / sum(w)")
composite("average", np.average, average, examples=_average_examples, complex=True,
          doc="sum(a w) / sum(w); weights are differentiated too")
composite("ptp", np.ptp, ptp, examples=_ptp_examples, analytic=False, smooth=False,
          doc="max - min; ties as max and min")
composite("cov", np.cov, cov, examples=_cov_examples, analytic=False,
          doc="NumPy's formula with fweights (constant) and aweights (differentiated)")
composite("corrcoef", np.corrcoef, corrcoef, examples=_corrcoef_examples, analytic=False,
          doc="cov / (s_i s_j), clipped to [-1, 1] as NumPy does (the clip passes the derivative at ±1)")
# fmt: on
