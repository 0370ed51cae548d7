"""Order statistics as composites over sort: partition, median, quantile, percentile and their nan forms.

Each moves the reduced axes last (merged into one), sorts them with a stable sort, reads
the order statistics it needs with take_along_axis, and interpolates between them with
NumPy's formulas. The derivative flows, through the sort's permutation, to the entries
read: at ties, to those a stable sort puts at the positions read, as in JAX. The nan forms
read among the entries that are not NaN (NaN sorts last), so those get a zero derivative.
"""

import warnings

import numpy as np

from ad.ops.reductions import reject
from ad.ops.special import reduced_axes
from ad.registry import composite, nondiff
from ad.rules import differentiable, ndim, shape
from ad.trace import Box, raw

# Hyndman and Fan's continuous methods: the virtual index n q + alpha + q (1 - alpha - beta) - 1.
_CONTINUOUS = {
    "interpolated_inverted_cdf": (0.0, 1.0),
    "hazen": (0.5, 0.5),
    "weibull": (0.0, 0.0),
    "median_unbiased": (1 / 3, 1 / 3),
    "normal_unbiased": (3 / 8, 3 / 8),
}
_DISCRETE = ("inverted_cdf", "closest_observation", "lower", "higher", "nearest")
METHODS = ("linear", "midpoint", "averaged_inverted_cdf", *_CONTINUOUS, *_DISCRETE)


def _reduced_last(a, axis):
    """(a with the reduced axes moved last and merged into one, the kept shape, the keepdims shape)."""
    nd, s = ndim(a), tuple(shape(a))
    axes = [ax + nd for ax in reduced_axes(axis, nd)]
    rest = tuple(n for i, n in enumerate(s) if i not in axes)
    kept = tuple(1 if i in axes else n for i, n in enumerate(s))
    last = list(range(nd - len(axes), nd))
    x = a if axes == last else np.moveaxis(a, axes, last)
    if len(axes) != 1:
        x = np.reshape(x, rest + (int(np.prod([s[i] for i in axes], dtype=int)),))
    return x, rest, kept


class _Sorted:
    """The reduced axes of a sorted (stable), how many entries of each slice count (those not
    NaN, for the nan forms) and which slices give NaN (a NaN in them, or nothing but NaN)."""

    def __init__(self, name, a, axis, skip_nan):
        x, self.rest, self.kept = _reduced_last(a, axis)
        n = shape(x)[-1]
        if n == 0:
            raise ValueError(f"numpy.{name} of an empty slice has no value to differentiate")
        self.values = np.sort(x, axis=-1, kind="stable")
        nan = np.isnan(raw(self.values))
        if skip_nan:
            self.count = n - np.sum(nan, axis=-1)
            self.bad = self.count == 0
            if np.any(self.bad):
                warnings.warn("All-NaN slice encountered", RuntimeWarning, stacklevel=4)
        else:
            self.count = np.full(self.rest, n)
            self.bad = nan[..., -1]

    def take(self, index):
        """The sorted entries at index (shape Q + rest, one position per slice): shape Q + rest."""
        lead = np.shape(index)[: np.ndim(index) - len(self.rest)]
        m = int(np.prod(lead, dtype=int))
        at = np.moveaxis(np.reshape(index, (m,) + self.rest), 0, -1)
        out = np.reshape(np.moveaxis(np.take_along_axis(self.values, at, axis=-1), -1, 0), lead + self.rest)
        # 0 for the slices that give NaN, which `finish` puts back: a NaN read there would
        # meet the zero cotangent of a NaN output in reverse mode (0 * NaN) and not in forward
        return np.where(self.bad, 0.0, out) if np.any(self.bad) else out

    def finish(self, out, keepdims, lead=()):
        """NaN for the slices that give NaN, and NumPy's output shape."""
        if np.any(self.bad):
            out = np.where(self.bad, np.nan, out)
        return np.reshape(out, lead + self.kept) if keepdims else out


def _lerp(a, b, t):
    """a + (b - a) t, as b - (b - a)(1 - t) where t >= 0.5 (NumPy's rounding): one sum, so a
    NaN in b - a reaches both modes alike."""
    upper = raw(t) >= 0.5
    return np.where(upper, b, a) + (b - a) * np.where(upper, t - 1, t)


def _discrete(n, q, method):
    """The index each discrete method reads (an int array shaped like n q)."""
    if method in ("lower", "higher", "nearest"):
        rnd = {"lower": np.floor, "higher": np.ceil, "nearest": np.around}[method]
        return rnd((n - 1) * q).astype(np.intp)
    index = n * q - 1 - (0.5 if method == "closest_observation" else 0.0)
    below = np.floor(index)
    at = (index - below == 0) & ((below % 2 == 1) if method == "closest_observation" else True)
    return np.maximum(np.where(at, below, below + 1), 0).astype(np.intp)


def _order_statistic(stats, q, method, weak):
    """The q-th quantile of each slice by method (q shaped Q + (1,) * len(rest), maybe traced)."""
    n, qv = stats.count, raw(q)
    if method in _DISCRETE:
        return stats.take(np.minimum(_discrete(n, qv, method), n - 1))
    if method == "linear":
        virtual = (n - 1) * q
    elif method in ("midpoint", "averaged_inverted_cdf"):
        virtual = (
            0.5 * (np.floor((n - 1) * qv) + np.ceil((n - 1) * qv)) if method == "midpoint" else n * qv - 1
        )
    else:
        alpha, beta = _CONTINUOUS[method]
        virtual = n * q + (alpha + q * (1 - alpha - beta)) - 1
    v = raw(virtual)
    below = np.floor(v)
    clipped = (v >= n - 1) | np.isnan(v)
    below = np.where(clipped, n - 1, np.where(v < 0, 0, below)).astype(np.intp)
    above = np.where(clipped | (v < 0), below, below + 1)
    if method == "midpoint":
        t = np.where(v % 1 == 0, 0.0, 0.5)
    elif method == "averaged_inverted_cdf":
        t = np.where(v - np.floor(v) == 0, 0.5, 1.0)
    else:
        t = virtual - below
    # NumPy's result dtype: a's and a float q's; a Python-number q keeps a's, as in NumPy
    dtype = raw(stats.values).dtype
    if not weak and np.result_type(qv).kind in "fc":
        dtype = np.result_type(dtype, qv)
    if differentiable(dtype):
        t = t.astype(dtype) if isinstance(t, Box) else np.asarray(t, dtype=dtype)
    return _lerp(stats.take(below), stats.take(above), t)


def _quantile(name, a, q, axis, method, keepdims, out, weights, *, skip_nan: bool, scale):
    reject(name, out=out, weights=weights)
    if method not in METHODS:
        raise ValueError(f"numpy.{name}: {method!r} is not a valid method; use one of {METHODS}")
    weak = type(raw(q)) in (int, float)  # not np.float64, which NumPy does not take as weak
    q = q / scale if scale != 1 else q
    qv = np.asarray(raw(q), dtype=float)
    if not (np.all(qv >= 0) and np.all(qv <= 1)):
        what = "Percentiles" if scale == 100 else "Quantiles"
        raise ValueError(f"{what} must be in the range [0, {scale}]")
    stats = _Sorted(name, a, axis, skip_nan)
    lead = np.shape(qv)
    q = np.reshape(q, lead + (1,) * len(stats.rest)) if len(stats.rest) and lead else q
    return stats.finish(_order_statistic(stats, q, method, weak), keepdims, lead)


def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
             weights=None):  # fmt: skip
    """The q-th quantiles along axis, by NumPy's method (default: linear interpolation)."""
    return _quantile("quantile", a, q, axis, method, keepdims, out, weights, skip_nan=False, scale=1)


def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
               weights=None):  # fmt: skip
    """quantile(a, q / 100)."""
    return _quantile("percentile", a, q, axis, method, keepdims, out, weights, skip_nan=False, scale=100)


def nanquantile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
                weights=None):  # fmt: skip
    """quantile of the entries that are not NaN."""
    return _quantile("nanquantile", a, q, axis, method, keepdims, out, weights, skip_nan=True, scale=1)


def nanpercentile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
                  weights=None):  # fmt: skip
    """percentile of the entries that are not NaN."""
    return _quantile("nanpercentile", a, q, axis, method, keepdims, out, weights, skip_nan=True, scale=100)


def _median(name, a, axis, out, keepdims, *, skip_nan: bool):
    reject(name, out=out)
    stats = _Sorted(name, a, axis, skip_nan)
    lo, hi = (stats.count - 1) // 2, stats.count // 2
    both = stats.take(np.stack([lo, hi]))
    if np.array_equal(lo, hi):
        return stats.finish(both[0], keepdims)
    # NumPy's mean of the two middle entries, (a + b) / 2, and the one entry of an odd slice
    return stats.finish(np.where(lo == hi, both[0], (both[0] + both[1]) / 2), keepdims)


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """The middle entry, or the mean of the two middle entries, along axis."""
    return _median("median", a, axis, out, keepdims, skip_nan=False)


def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """median of the entries that are not NaN."""
    return _median("nanmedian", a, axis, out, keepdims, skip_nan=True)


def partition(a, kth, axis=-1, kind="introselect", order=None):
    """a[argpartition(a, kth)] along axis: a permutation of a, which the derivative follows."""
    if order is not None:
        raise NotImplementedError("numpy.partition(..., order=...) sorts structured arrays; ad does not")
    if axis is None:
        a, axis = np.ravel(a), -1
    return np.take_along_axis(a, np.argpartition(a, kth, axis=axis, kind=kind), axis=axis)


# -- examples: the calls as NumPy takes them; q away from the kinks of each method ----------


def _x(rng, *s):
    return rng.uniform(-2, 2, s)


def _quantile_examples(scale):
    def examples(rng):
        q = np.array([0.137, 0.561, 0.873]) * scale  # no virtual index near an integer (a kink)
        calls = [
            ((_x(rng, 5), 0.419 * scale), {}),
            ((_x(rng, 3, 5), q), {"axis": 1}),
            ((_x(rng, 4, 3), np.array([[0.283, 0.659]]) * scale), {"axis": 0, "keepdims": True}),
            ((_x(rng, 2, 3, 4), 0.713 * scale), {"axis": (0, 2)}),
            ((_x(rng, 3, 4), q), {}),
        ]
        methods = [m for m in METHODS if m != "linear"]
        calls += [((_x(rng, 2, 6), q), {"axis": -1, "method": m}) for m in methods]
        return calls

    return examples


def _nan_quantile_examples(scale):
    def examples(rng):
        x = _x(rng, 3, 6)
        x[0, 1] = x[2, 0] = x[2, 4] = np.nan
        q = np.array([0.137, 0.561, 0.873]) * scale
        return [((x, q), {"axis": 1}), ((x, 0.377 * scale), {"axis": 1, "method": "weibull"})] + [
            ((_x(rng, 3, 4), q), {"axis": 0})
        ]

    return examples


def _median_examples(rng):
    return [((_x(rng, 5),), {}), ((_x(rng, 3, 4),), {"axis": 1}),
            ((_x(rng, 3, 4),), {"axis": 0, "keepdims": True}), ((_x(rng, 2, 3, 4),), {"axis": (0, 2)}),
            ((_x(rng, 2, 3),), {})]  # fmt: skip


def _nanmedian_examples(rng):
    x = _x(rng, 3, 5)
    x[0, 1] = x[1, 0] = x[1, 3] = np.nan
    return [((x,), {"axis": 1}), ((x,), {"axis": 0, "keepdims": True}), ((x,), {})]


def _partition_examples(rng):
    return [((_x(rng, 7), 3), {}), ((_x(rng, 3, 6), np.array([1, 4])), {"axis": 1}),
            ((_x(rng, 5, 2), -1), {"axis": 0}), ((_x(rng, 2, 4), 5), {"axis": None})]  # fmt: skip


_Q = "derivative: to the two order statistics interpolated (weights 1 - t, t), in q (b - a) dt/dq"

# fmt: off
composite("quantile", np.quantile, quantile, examples=_quantile_examples(1), analytic=False,
          smooth=False, doc="every NumPy method; q may be traced; " + _Q)
composite("percentile", np.percentile, percentile, examples=_quantile_examples(100), analytic=False,
          smooth=False, doc="quantile(a, q / 100)")
composite("nanquantile", np.nanquantile, nanquantile, examples=_nan_quantile_examples(1), analytic=False,
          smooth=False, doc="quantile of the entries that are not NaN (their derivative is 0)")
composite("nanpercentile", np.nanpercentile, nanpercentile, examples=_nan_quantile_examples(100),
          analytic=False, smooth=False, doc="percentile of the entries that are not NaN")
composite("median", np.median, median, examples=_median_examples, smooth=False,
          doc="the middle entry or the mean of the two; at ties, the entries a stable sort puts there")
composite("nanmedian", np.nanmedian, nanmedian, examples=_nanmedian_examples, smooth=False,
          doc="median of the entries that are not NaN (their derivative is 0)")
composite("partition", np.partition, partition, examples=_partition_examples, smooth=False, complex=True,
          analytic=False,
          doc="a[argpartition(a, kth)]: a valid partition; with NaN in a, the entries on either side of "
              "kth may be ordered otherwise than by np.partition")
nondiff("argpartition", np.argpartition, complex=True, doc="indices: a constant")
# fmt: on
