"""Elements picked, dropped, inserted or counted: choose, compress, delete, insert, extract, trim_zeros, ....

Also sort_complex, unique, bincount, histogram, and the index-valued isin, digitize, lexsort.
Which elements go where is read off the plain values (indices, masks, the order, the bins:
piecewise constant, like JAX's); the values are then moved by registered gathers, so their
derivatives, batching, second order and complex numbers come from those. Where NumPy's own
index arithmetic is intricate (delete, insert, unique), NumPy computes it on labels.
"""

import math
import operator

import numpy as np

from ad import rules
from ad.registry import composite, linear, nondiff
from ad.trace import Box, raw


def _flat_axis(arr, axis):
    """(arr, axis) with axis None meaning arr raveled along axis 0."""
    if axis is None:
        return np.ravel(arr), 0
    return arr, rules.negative_axis(axis, rules.ndim(arr)) + rules.ndim(arr)


def _choose(a, choices, out=None, mode="raise"):
    """choices[a[i]][i], every operand broadcast together: one gather along a stacked axis."""
    if out is not None:
        raise NotImplementedError("ad: numpy.choose(..., out=...) is not supported; assign the result")
    index = np.asarray(raw(a))
    choices = [choices[i] for i in range(len(choices))]
    n = len(choices)
    if mode == "raise":
        if np.any((index < 0) | (index >= n)):
            raise ValueError("invalid entry in choice array")
    elif mode == "wrap":
        index = index % n
    elif mode == "clip":
        index = np.clip(index, 0, n - 1)
    else:
        raise ValueError(f"clipmode must be one of 'clip', 'raise', or 'wrap' (got {mode!r})")
    shape = np.broadcast_shapes(index.shape, *(rules.shape(c) for c in choices))
    stacked = np.stack([np.broadcast_to(c, shape) for c in choices])
    return np.take_along_axis(stacked, np.broadcast_to(index, shape)[None], axis=0)[0]


def _compress(condition, a, axis=None, out=None):
    """The slices of a along axis where condition is true."""
    if out is not None:
        raise NotImplementedError("ad: numpy.compress(..., out=...) is not supported; assign the result")
    a, axis = _flat_axis(a, axis)
    return np.take(a, np.flatnonzero(np.asarray(raw(condition))), axis=axis)


def _extract(condition, arr):
    """ravel(arr) where ravel(condition) is true."""
    return np.take(np.ravel(arr), np.flatnonzero(np.ravel(np.asarray(raw(condition)))))


def _delete(arr, obj, axis=None):
    """The slices NumPy keeps, found by deleting from their labels 0, 1, ..., n - 1."""
    arr, axis = _flat_axis(arr, axis)
    kept = np.delete(np.arange(rules.shape(arr)[axis]), raw(obj))
    return np.take(arr, kept, axis=axis)


def _insert(arr, obj, values, axis=None):
    """NumPy's insert on labels (arr's elements 0.., values' -1, -2, ..) says where each
    element comes from; one gather from [ravel(arr), ravel(values)] builds the result."""
    dtype = raw(arr).dtype
    if axis is None:
        arr = np.ravel(arr)
    size, vals = int(np.size(raw(arr))), np.asarray(raw(values))
    labels = np.insert(
        np.arange(size).reshape(rules.shape(arr)),
        raw(obj),
        -1 - np.arange(vals.size).reshape(vals.shape),
        axis,
    )
    source = np.where(labels >= 0, labels, size - 1 - labels)
    values = values if isinstance(values, Box) else vals
    if raw(values).dtype != dtype:
        values = values.astype(dtype)
    return np.take(np.concatenate([np.ravel(arr), np.ravel(values)]), source)


def _trim_zeros(filt, trim="fb", axis=None):
    """filt without its leading ("f") and trailing ("b") zeros along the axes: the slice is
    read off the primal, as NumPy finds it."""
    value = np.asarray(raw(filt))
    trim = trim.lower()
    if trim not in {"fb", "bf", "f", "b"}:
        raise ValueError(f"unexpected character(s) in `trim`: {trim!r}")
    nd = value.ndim
    axes = range(nd) if axis is None else [rules.nonneg_axis(a, nd) for a in np.atleast_1d(axis)]
    if not list(axes):
        return filt
    nonzero = np.argwhere(value)
    if not nonzero.size:
        start = stop = [0] * nd
    else:
        start = nonzero.min(axis=0) if "f" in trim else [None] * nd
        stop = nonzero.max(axis=0) + 1 if "b" in trim else [None] * nd
    return filt[tuple(slice(start[i], stop[i]) if i in axes else slice(None) for i in range(nd))]


def _sort_complex(a):
    """a sorted by real part, then imaginary part, along the last axis, as a complex array."""
    value = np.asarray(raw(a))
    order = np.lexsort((value.imag, value.real), axis=-1) if value.ndim else np.zeros((), int)
    out = np.take_along_axis(a, order, axis=-1) if value.ndim else a
    dtype = np.result_type(value.dtype, np.complex64)
    return out if value.dtype == dtype else out.astype(dtype)


def _unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None, *, equal_nan=True,
            sorted=True):  # fmt: skip
    """The distinct values, gathered from their first occurrences (NumPy finds them on the
    primal); the indices, inverse and counts are constants."""
    found = np.unique(raw(ar), True, return_inverse, return_counts, axis, equal_nan=equal_nan, sorted=sorted)
    a, ax = _flat_axis(ar, axis)
    values = np.take(a, found[1], axis=ax)
    extra = [found[1]] if return_index else []
    extra += list(found[2:])
    return (values, *extra) if extra else values


# ---------------------------------------------------------------------------------------
# bincount and histogram: linear in the weights.


def _bincount_parse(x, weights=None, minlength=0):
    return (weights,), {"x": np.asarray(raw(x)), "minlength": operator.index(minlength)}


def _bincount(weights, x, minlength):
    return np.bincount(x, weights, minlength)


def _bincount_transpose(ct, xs, out, p, batched):
    """VJP of bincount in the weights: ct[x], each weight gets its bin's cotangent."""
    return (ct[..., p["x"]],)


def _plain_edges(value, bins, range, weights):
    """NumPy's edges of the plain values (a traced bins, given as edges, by its primal)."""
    plain_weights = None if weights is None else np.asarray(raw(weights))
    return np.histogram_bin_edges(value, raw(bins), range, plain_weights)


def _traced_edges(a, bins, range, edges, who: str):
    """The edges as traced values: they follow a where NumPy computes them from min(a) and
    max(a) (bins a count, range not given); bins given as edges are returned as given."""
    if isinstance(bins, Box):
        return bins
    if isinstance(a, Box) and range is None and np.ndim(bins) == 0:
        if isinstance(bins, str):
            raise NotImplementedError(
                f"ad: numpy.{who} of a traced a with a bin estimator ({bins!r}): the number of bins "
                "is a non-smooth function of a, and the edges' derivative would be dropped; pass "
                "bins as a count or as edges"
            )
        low, high = np.min(a), np.max(a)
        if edges[0] != raw(low):  # NumPy widens an empty range to [v - 0.5, v + 0.5]
            low, high = low - 0.5, high + 0.5
        return np.linspace(low, high, edges.size)
    return edges


def _histogram_bin_edges(a, bins=10, range=None, weights=None):
    """NumPy's edges; from min(a) and max(a), as jnp.histogram_bin_edges, for bins a count."""
    edges = _plain_edges(np.asarray(raw(a)), bins, range, weights)
    return _traced_edges(a, bins, range, edges, "histogram_bin_edges")


def _histogram(a, bins=10, range=None, density=None, weights=None):
    """Counts (sums of weights) per bin: a bincount of the weights over each sample's bin,
    read off the primal. The edges follow a where NumPy computes them from min(a) and max(a)
    (bins a count, range not given); bins given as edges or a range make them constants."""
    value = np.asarray(raw(a))
    edges = _plain_edges(value, bins, range, weights)
    n = edges.size - 1
    index = np.searchsorted(edges, value.ravel(), "right") - 1
    index[value.ravel() == edges[-1]] = n - 1  # the last bin is closed
    inside = (index >= 0) & (index < n)
    counts = np.bincount(index[inside], None if weights is None else np.ravel(weights)[inside], minlength=n)
    edges = _traced_edges(a, bins, range, edges, "histogram")
    if density:
        widths = edges[1:] - edges[:-1]
        counts = counts / widths / np.sum(counts)
    return counts, edges


def _sized(bins) -> bool:
    """Whether bins is a sequence (one entry per axis, or edges), as NumPy tells: it has a len."""
    try:
        len(bins)
    except TypeError:
        return False
    return True


def _columns(sample) -> list:
    """histogramdd's sample as its D columns: an (N, D) array's columns, a 1-D array, or a
    sequence of D 1-D arrays (of N numbers: one column), as NumPy reads it."""
    if isinstance(sample, list | tuple):
        if all(rules.ndim(c) == 0 for c in sample):
            return [np.stack(sample)]
        return list(sample)
    if rules.ndim(sample) == 1:
        return [sample]
    return [sample[:, i] for i in range(rules.shape(sample)[1])]


def _histogramdd(sample, bins=10, range=None, density=None, weights=None):
    """Counts (sums of weights) per D-dimensional bin: a bincount of the weights over each
    sample's bin, read off the primal. A traced column's edges follow a linspace of its min and
    max where NumPy computes them so (its bins a count, its range not given), else constants."""
    columns = _columns(sample)
    plain = np.stack([np.asarray(raw(c)) for c in columns], axis=-1)
    plain_weights = None if weights is None else np.asarray(raw(weights))
    edges = list(np.histogramdd(plain, bins, range, weights=plain_weights)[1])  # NumPy's checks
    index = []  # each sample's bin along each axis, as NumPy finds it; outside: -1 or the bin count
    for i, e in enumerate(edges):
        k = np.searchsorted(e, plain[:, i], "right") - 1
        k[plain[:, i] == e[-1]] = e.size - 2  # the last bin is closed
        index.append(k)
    inside = np.all([(k >= 0) & (k < e.size - 1) for k, e in zip(index, edges)], axis=0)
    shape = tuple(e.size - 1 for e in edges)
    flat = np.ravel_multi_index([k[inside] for k in index], shape)
    traced_weights = None if weights is None else np.ravel(weights)[inside]
    counts = np.reshape(np.bincount(flat, traced_weights, minlength=math.prod(shape)), shape)
    if weights is None:
        counts = counts.astype(float)
    per_axis = list(bins) if _sized(bins) else [bins] * len(edges)
    for i, c in enumerate(columns):
        if (
            isinstance(c, Box)
            and np.ndim(per_axis[i]) == 0
            and (range is None or range[i] is None)
            and plain.size
        ):
            low, high = np.min(c), np.max(c)
            if edges[i][0] != plain[:, i].min():  # NumPy widens an empty range to [v - 0.5, v + 0.5]
                low, high = low - 0.5, high + 0.5
            edges[i] = np.linspace(low, high, shape[i] + 1)
    if density:
        total = np.sum(counts)
        for i, e in enumerate(edges):
            widths = e[1:] - e[:-1]
            counts = counts / np.reshape(widths, (-1,) + (1,) * (len(edges) - 1 - i))
        counts = counts / total
    return counts, edges


def _histogram2d(x, y, bins=10, range=None, density=None, weights=None):
    """histogramdd of the columns x and y: (counts, x edges, y edges)."""
    if len(x) != len(y):
        raise ValueError("x and y must have the same length.")
    if _sized(bins) and len(bins) not in (1, 2):  # one array of edges for both axes
        bins = [bins, bins]
    counts, edges = _histogramdd([x, y], bins, range, density, weights)
    return counts, edges[0], edges[1]


# -- examples ------------------------------------------------------------------------------


def _u(rng, *shape):
    return rng.uniform(-2.0, 2.0, shape)


def _examples(*calls):
    return lambda rng: [call(rng) for call in calls]


_BINS = np.array([0, 2, 2, 5, 1, 0])


def _bincount_examples(rng):
    return [_bincount_parse(_BINS, _u(rng, 6)), _bincount_parse(_BINS, _u(rng, 6), minlength=8)]


_HISTOGRAM = _examples(
    lambda rng: ((np.array([0.1, 0.5, 0.5, 2.0, 3.0, 0.7]),), {"bins": 3, "weights": _u(rng, 6)}),
    lambda rng: (
        (np.array([0.1, 0.5, 2.5, 2.9]),),
        {"bins": np.array([0.0, 1.0, 3.0]), "weights": _u(rng, 4), "density": True},
    ),  # fmt: skip
    lambda rng: ((rng.uniform(0.0, 1.0, 7),), {"bins": 4, "density": True}),
)

_SAMPLE = np.array([[0.1, 0.5], [0.5, 2.2], [2.0, 0.9], [2.6, 1.6], [0.7, 0.2]])
_HISTOGRAM_EDGES = _examples(
    lambda rng: ((rng.uniform(0.0, 1.0, 7),), {"bins": 4}),
    lambda rng: ((rng.uniform(-1.0, 1.0, (2, 3)),), {}),
    lambda rng: ((rng.uniform(0.0, 1.0, 5),), {"bins": 3, "range": (0.0, 2.0)}),
    lambda rng: ((rng.uniform(0.0, 1.0, 5),), {"bins": np.array([0.0, 0.5, 1.0])}),
)
_HISTOGRAMDD = _examples(
    lambda rng: ((_SAMPLE, 3, None, None, _u(rng, 5)), {}),
    lambda rng: (
        (_SAMPLE,),
        {"bins": [2, np.array([0.0, 1.0, 3.0])], "density": True, "weights": _u(rng, 5)},
    ),
    lambda rng: ((_SAMPLE[:, :1],), {"bins": 2, "density": True}),
    lambda rng: ((rng.uniform(0.0, 1.0, (6, 3)),), {"bins": (2, 3, 2), "range": [None, (0.0, 1.0), None]}),
)
_HISTOGRAM2D = _examples(
    lambda rng: ((_SAMPLE[:, 0], _SAMPLE[:, 1], 2, None, None, _u(rng, 5)), {}),
    lambda rng: ((_SAMPLE[:, 0], _SAMPLE[:, 1]), {"bins": np.array([0.0, 1.0, 3.0]), "density": True}),
    lambda rng: ((rng.uniform(0.0, 1.0, 6), rng.uniform(0.0, 1.0, 6)), {"bins": (3, 2)}),
)

# fmt: off
composite("choose", np.choose, _choose, orders_by=(("a",), ("choices",)), complex=True, examples=_examples(
    lambda rng: ((np.array([0, 2, 1, 0]), _u(rng, 3, 4)), {}),
    lambda rng: ((np.array([[0], [1]]), _u(rng, 2, 2, 3)), {}),
    lambda rng: ((np.array([3, -1, 1]), _u(rng, 2, 3)), {"mode": "wrap"})),
    doc="a gather; the index array is a constant")
composite("compress", np.compress, _compress,
          orders_by=(("condition",), ("a",)), complex=True, examples=_examples(
    lambda rng: ((np.array([True, False, True]), _u(rng, 3, 2)), {"axis": 0}),
    lambda rng: ((np.array([False, True]), _u(rng, 2, 3)), {})))
composite("extract", np.extract, _extract, orders_by=(("condition",), ("arr",)), complex=True,
          examples=_examples(lambda rng: ((np.array([[True, False], [False, True]]), _u(rng, 2, 2)), {})))
composite("delete", np.delete, _delete, orders_by=(("obj",), ("arr",)), complex=True, examples=_examples(
    lambda rng: ((_u(rng, 5), 1), {}),
    lambda rng: ((_u(rng, 3, 4), np.array([0, 2])), {"axis": 1}),
    lambda rng: ((_u(rng, 2, 3),), {"obj": slice(None, None, 2)})))
composite("insert", np.insert, _insert,
          orders_by=(("obj",), ("arr", "values")), complex=True, examples=_examples(
    lambda rng: ((_u(rng, 4), 1, _u(rng)), {}),
    lambda rng: ((_u(rng, 2, 3), 1, _u(rng, 2)), {"axis": 1}),
    lambda rng: ((_u(rng, 4), np.array([0, 2, 2]), _u(rng, 3)), {}),
    lambda rng: ((_u(rng, 2, 2), np.array([1]), _u(rng, 2, 1)), {"axis": 0})),
    doc="a gather from arr and values; where each goes is NumPy's own placement")
# Perturbing a zero makes it nonzero, and the output's shape changes: trimming itself is
# checked in tests/ops/test_fft_poly_coverage.py, the registry suites see arrays without zeros.
composite("trim_zeros", np.trim_zeros, _trim_zeros,
          orders_by=(("filt",), None), complex=True, examples=_examples(
    lambda rng: ((_u(rng, 4),), {}), lambda rng: ((_u(rng, 2, 3),), {"trim": "b"})),
    doc="the slice is read off the primal")
composite("sort_complex", np.sort_complex, _sort_complex,
          orders_by=(("a",), None), complex=True, analytic=False,
          examples=_examples(lambda rng: ((_u(rng, 5),), {}), lambda rng: ((_u(rng, 2, 3),), {})),
          doc="a gather in the lexicographic order of the primal (ties: either)")
# As for trim_zeros, perturbed duplicates become distinct: the suites see distinct values.
composite("unique", np.unique, _unique, orders_by=(("ar",), None), complex=True, examples=_examples(
    lambda rng: ((_u(rng, 5),), {}),
    lambda rng: ((_u(rng, 2, 3),), {"return_index": True, "return_counts": True}),
    lambda rng: ((_u(rng, 3, 2),), {"axis": 0, "return_inverse": True})),
    doc="the values gathered from their first occurrences; indices, inverse and counts constants")
linear("bincount", np.bincount, _bincount_transpose, impl=_bincount, parse=_bincount_parse,
       examples=_bincount_examples, analytic=False,
       doc="linear in the weights; VJP ct[x]; counts without weights constant")
composite("histogram", np.histogram, _histogram,
          orders_by=(("a",), ("weights",)), examples=_HISTOGRAM, smooth=False,
          doc="counts: bincount of the weights over the primal's bins; edges from min(a), max(a) "
          "where NumPy computes them so (bins a count, no range), else constants")
composite("histogram_bin_edges", np.histogram_bin_edges, _histogram_bin_edges, examples=_HISTOGRAM_EDGES,
          smooth=False, doc="linspace(min(a), max(a), bins + 1) for bins a count, as JAX; given edges or "
          "a range: constants")
composite("histogramdd", np.histogramdd, _histogramdd,
          orders_by=(("sample",), ("weights",)), examples=_HISTOGRAMDD, smooth=False, analytic=False,
          doc="counts: bincount of the weights over the primal's bins; each traced column's edges from its "
          "min and max where NumPy computes them so, else constants")
composite("histogram2d", np.histogram2d, _histogram2d,
          orders_by=(("x", "y"), ("weights",)), examples=_HISTOGRAM2D, smooth=False, analytic=False,
          doc="histogramdd of the columns x and y")
nondiff("isin", np.isin, complex=True, doc="booleans: a constant")
nondiff("digitize", np.digitize, doc="bin indices: a constant")
nondiff("lexsort", np.lexsort, parse=lambda keys, axis=-1: ((tuple(raw(k) for k in keys),), {"axis": axis}),
        doc="indices: a constant")
# fmt: on
