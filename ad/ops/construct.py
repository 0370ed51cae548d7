"""Arrays built from other arrays: full_like, broadcast_arrays, meshgrid, diagflat, dstack, resize, vander.

Also apply_along_axis and apply_over_axes. Each is written with registered ops (broadcast_to,
reshape, concatenate, diag, cumprod, stack ...), the way NumPy builds it, so derivatives,
batching, second order and complex numbers come from the parts.
"""

import operator

import numpy as np

from ad import rules
from ad.registry import composite
from ad.trace import Box, raw


def _full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, *, device=None):
    """fill_value broadcast to a's shape (or shape), in a's dtype (or dtype): linear in fill_value."""
    shape = rules.shape(a) if shape is None else (shape,) if np.ndim(shape) == 0 else tuple(shape)
    dtype = np.dtype(raw(a).dtype if dtype is None else dtype)
    if not isinstance(fill_value, Box) or not rules.differentiable(dtype):
        return np.full_like(raw(a), raw(fill_value), dtype, order, subok, shape)
    out = np.copy(np.broadcast_to(fill_value, shape))  # a copy: NumPy's result is writable
    return out if out.dtype == dtype else out.astype(dtype)


def _broadcast_arrays(*args, subok=False):
    """Each operand broadcast to their common shape."""
    shape = np.broadcast_shapes(*(rules.shape(a) for a in args))
    return tuple(np.broadcast_to(a, shape) for a in args)


def _meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """Each 1-D x_i reshaped along axis i (axes 0 and 1 swapped for indexing='xy'), then broadcast."""
    if indexing not in ("xy", "ij"):
        raise ValueError("Valid values for `indexing` are 'xy' and 'ij'.")
    nd = len(xi)
    out = []
    for i, x in enumerate(xi):
        shape = [1] * nd
        shape[(1 - i if i < 2 else i) if indexing == "xy" and nd > 1 else i] = -1
        out.append(np.reshape(x, tuple(shape)))
    if not sparse:
        out = [np.copy(y) for y in _broadcast_arrays(*out)] if copy else list(_broadcast_arrays(*out))
    return tuple(out)


def _diagflat(v, k=0):
    """diag of v raveled: v on the k-th diagonal of a square matrix."""
    return np.diag(np.ravel(v), k)


def _dstack(tup):
    """Concatenation along the third axis of the operands made at least 3-D."""
    return np.concatenate([np.atleast_3d(a) for a in tup], axis=2)


def _resize(a, new_shape):
    """a raveled, repeated to fill new_shape, cut and reshaped (NumPy's resize, not ndarray.resize)."""
    new_shape = (new_shape,) if np.ndim(new_shape) == 0 else tuple(new_shape)
    if any(n < 0 for n in new_shape):
        raise ValueError("all elements of `new_shape` must be non-negative")
    flat, size = np.ravel(a), int(np.prod(new_shape, dtype=int))
    n = rules.shape(flat)[0]
    if n == 0 or size == 0:
        return np.zeros(new_shape, raw(a).dtype)
    flat = np.concatenate([flat] * -(-size // n))[:size]
    return np.reshape(flat, new_shape)


def _vander(x, N=None, increasing=False):
    """Columns x^0, x^1, ..., x^(N-1) (reversed unless increasing), by a running product as NumPy."""
    if rules.ndim(x) != 1:
        raise ValueError("x must be a one-dimensional array or sequence.")
    n = rules.shape(x)[0]
    N = n if N is None else operator.index(N)
    ones = np.ones((n, min(N, 1)), np.result_type(raw(x).dtype, 1.0) if N else float)
    if N > 1:
        ones = np.concatenate([ones, np.cumprod(np.broadcast_to(x[:, None], (n, N - 1)), axis=1)], axis=1)
    return ones if increasing else ones[:, ::-1]


def _apply_along_axis(func1d, axis, arr, *args, **kwargs):
    """func1d on every 1-D slice along axis, a Python loop as NumPy's, the results stacked where
    axis was (func1d's own operations carry the derivatives)."""
    nd = rules.ndim(arr)
    axis = rules.nonneg_axis(axis, nd)
    moved = np.moveaxis(arr, axis, -1)
    outer = tuple(rules.shape(moved)[:-1])
    if 0 in outer:
        raise ValueError("Cannot apply_along_axis when any iteration dimensions are 0")
    results = [func1d(moved[index], *args, **kwargs) for index in np.ndindex(*outer)]
    out = np.reshape(np.stack(results), outer + tuple(rules.shape(results[0])))
    k = rules.ndim(results[0])
    return np.moveaxis(out, tuple(range(len(outer), len(outer) + k)), tuple(range(axis, axis + k)))


def _apply_over_axes(func, a, axes):
    """func(a, axis) for each axis in turn, each result given back the axis it reduced, a
    Python loop as NumPy's (func's operations carry the derivatives)."""
    val, nd = a, rules.ndim(a)
    for axis in (axes,) if np.ndim(axes) == 0 else axes:
        axis = axis + nd if axis < 0 else axis
        res = func(val, axis)
        if rules.ndim(res) != rules.ndim(val):
            res = np.expand_dims(res, axis)
            if rules.ndim(res) != rules.ndim(val):
                raise ValueError("function is not returning an array of the correct shape")
        val = res
    return val


# -- examples: the call as NumPy takes it ---------------------------------------------------


def _u(rng, *shape):
    return rng.uniform(-2.0, 2.0, shape)


def _examples(*calls):
    """calls: functions rng -> (args, kwargs)."""
    return lambda rng: [call(rng) for call in calls]


def _poly_row(v):
    return np.sum(v * v) * v[:2]


_FULL_LIKE = _examples(
    lambda rng: ((np.ones((2, 3)), _u(rng)), {}),
    lambda rng: ((np.ones((2, 3)), _u(rng, 3)), {}),
    lambda rng: ((np.ones(2), _u(rng)), {"shape": (3, 2), "dtype": np.float64}),
)
# fmt: off
composite("full_like", np.full_like, _full_like, examples=_FULL_LIKE, complex=True, analytic=False,
          doc="linear in fill_value, broadcast and cast to a's dtype; constant where that is an integer")
composite("broadcast_arrays", np.broadcast_arrays, _broadcast_arrays, complex=True,
          examples=_examples(lambda rng: ((_u(rng, 3, 1), _u(rng, 4), _u(rng)), {})))
composite("meshgrid", np.meshgrid, _meshgrid, complex=True, examples=_examples(
    lambda rng: ((_u(rng, 3), _u(rng, 2)), {}),
    lambda rng: ((_u(rng, 3), _u(rng, 2), _u(rng, 4)), {"indexing": "ij"}),
    lambda rng: ((_u(rng, 3), _u(rng, 2), _u(rng, 2)), {"sparse": True}),
    lambda rng: ((_u(rng, 3),), {})))
composite("diagflat", np.diagflat, _diagflat, complex=True,
          examples=_examples(lambda rng: ((_u(rng, 2, 2),), {}), lambda rng: ((_u(rng, 3),), {"k": -1})))
composite("dstack", np.dstack, _dstack, complex=True,
          examples=_examples(lambda rng: ((_u(rng, 2, 3),), {}), lambda rng: ((_u(rng, 3, 2, 4),), {})),
          )
composite("resize", np.resize, _resize, complex=True,
          examples=_examples(lambda rng: ((_u(rng, 2, 3),), {"new_shape": (4, 4)}),
                             lambda rng: ((_u(rng, 5), 3), {})))
composite("vander", np.vander, _vander, complex=True,
          examples=_examples(lambda rng: ((_u(rng, 4),), {}), lambda rng: ((_u(rng, 3),), {"N": 5}),
                             lambda rng: ((_u(rng, 3),), {"N": 2, "increasing": True})),
          doc="a running product, as NumPy computes it")
composite("apply_along_axis", np.apply_along_axis, _apply_along_axis, complex=True,
          examples=_examples(lambda rng: ((np.cumsum, 0, _u(rng, 3, 2)), {}),
                             lambda rng: ((_poly_row, 1, _u(rng, 2, 3, 2)), {}),
                             lambda rng: ((np.sum, -1, _u(rng, 2, 3)), {})),
          doc="a Python loop over the slices; func1d's operations carry the derivatives")
composite("apply_over_axes", np.apply_over_axes, _apply_over_axes, complex=True,
          examples=_examples(lambda rng: ((np.sum, _u(rng, 2, 3, 4), np.array([0, 2])), {}),
                             lambda rng: ((np.cumprod, _u(rng, 3, 2), -1), {}),
                             lambda rng: ((np.mean, _u(rng, 2, 3), np.array([1, 0])), {})),
          doc="a Python loop over the axes; func's operations carry the derivatives")
# fmt: on
