"""NumPy's set routines: union1d, intersect1d, setdiff1d, setxor1d, and NumPy 2's unique_values, ....

Also unique_counts, unique_inverse and unique_all. NumPy finds the result on the plain values
(which values, in which order: piecewise constant, like unique in selection.py); each value
is then gathered from its first occurrence in the inputs, raveled and joined (ar1 first),
by the registered take, so derivatives, batching, second order and complex numbers come from
it. A value in both inputs comes from ar1 (as in JAX). Indices, inverse indices and counts
are constants.
"""

import numpy as np

from ad.registry import composite
from ad.trace import raw

# NumPy's named results (their classes are not public names)
_COUNTS, _INVERSE, _ALL = (type(f(np.zeros(1))) for f in (np.unique_counts, np.unique_inverse, np.unique_all))


def _gathered(values, *sources):
    """The plain result `values` gathered from their first occurrences in the sources
    raveled and joined, so that each carries the derivative of the entry it is."""
    joined = np.concatenate([np.ravel(s) for s in sources]) if len(sources) > 1 else np.ravel(sources[0])
    distinct, first = np.unique(np.asarray(raw(joined)), return_index=True)
    return np.take(joined, first[np.searchsorted(distinct, values)])


def _plain(*xs):
    return [np.asarray(raw(x)) for x in xs]


def _union1d(ar1, ar2):
    """The sorted distinct values of both inputs."""
    return _gathered(np.union1d(*_plain(ar1, ar2)), ar1, ar2)


def _intersect1d(ar1, ar2, assume_unique=False, return_indices=False):
    """The sorted values in both inputs, gathered from ar1; return_indices: where each first
    occurs in ar1 and in ar2 (constants)."""
    found = np.intersect1d(*_plain(ar1, ar2), assume_unique, return_indices)
    if not return_indices:
        return _gathered(found, ar1, ar2)
    return (_gathered(found[0], ar1, ar2), *found[1:])


def _setdiff1d(ar1, ar2, assume_unique=False):
    """The sorted distinct values of ar1 not in ar2 (in ar1's order if assume_unique)."""
    return _gathered(np.setdiff1d(*_plain(ar1, ar2), assume_unique), ar1)


def _setxor1d(ar1, ar2, assume_unique=False):
    """The sorted values in exactly one of the inputs."""
    return _gathered(np.setxor1d(*_plain(ar1, ar2), assume_unique), ar1, ar2)


def _found(x):
    """NumPy's unique_all of x's plain value, and the values gathered from x."""
    found = np.unique_all(np.asarray(raw(x)))
    return found, np.take(np.ravel(x), found.indices)


def _unique_values(x):
    """The distinct values of x, sorted (NumPy's order for float and complex dtypes), NaNs apart."""
    return _found(x)[1]


def _unique_counts(x):
    """(values, counts): the distinct values and how often each occurs."""
    found, values = _found(x)
    return _COUNTS(values, found.counts)


def _unique_inverse(x):
    """(values, inverse_indices): x == values[inverse_indices]."""
    found, values = _found(x)
    return _INVERSE(values, found.inverse_indices)


def _unique_all(x):
    """(values, indices, inverse_indices, counts)."""
    found, values = _found(x)
    return _ALL(values, found.indices, found.inverse_indices, found.counts)


# -- examples --------------------------------------------------------------------------------
# Perturbing a value shared by the two inputs (or repeated in one) makes it distinct and the
# output's shape changes, so the registry suites see disjoint inputs of distinct values:
# shared and repeated values are checked in tests/ops/test_last_coverage.py.


def _u(rng, *shape):
    return rng.uniform(-2.0, 2.0, shape)


def _examples(*calls):
    return lambda rng: [call(rng) for call in calls]


def _two(rng, kwargs=None):
    """Two inputs of distinct values, none shared, one of them 2-D."""
    x = rng.permutation(np.linspace(-2.0, 2.0, 9)) + 0.01 * _u(rng, 9)
    return (x[:4].reshape(2, 2), x[4:]), kwargs or {}


_SETS = _examples(_two, lambda rng: _two(rng, {"assume_unique": True}))
_ONE = _examples(lambda rng: ((_u(rng, 5),), {}), lambda rng: ((_u(rng, 2, 3),), {}))

# fmt: off
composite("union1d", np.union1d, _union1d,
          orders_by=(("ar1", "ar2"), None), examples=_examples(_two), complex=True,
          doc="sorted distinct values, each gathered from its first occurrence (ar1 first)")
composite("intersect1d", np.intersect1d, _intersect1d, orders_by=(("ar1", "ar2"), None), complex=True,
          examples=_examples(_two, lambda rng: _two(rng, {"return_indices": True})),
          doc="the shared values gathered from ar1 (JAX's choice); return_indices constants")
composite("setdiff1d", np.setdiff1d, _setdiff1d,
          orders_by=(("ar1", "ar2"), None), examples=_SETS, complex=True,
          doc="ar1's values not in ar2, gathered from ar1; no derivative in ar2")
composite("setxor1d", np.setxor1d, _setxor1d, orders_by=(("ar1", "ar2"), None), examples=_SETS, complex=True,
          doc="values in one input only, each gathered from where it occurs")
composite("unique_values", np.unique_values, _unique_values,
          orders_by=(("x",), None), examples=_ONE, complex=True,
          doc="the values gathered from their first occurrences, as unique")
composite("unique_counts", np.unique_counts, _unique_counts,
          orders_by=(("x",), None), examples=_ONE, complex=True,
          doc="values as unique_values; counts constants")
composite("unique_inverse", np.unique_inverse, _unique_inverse,
          orders_by=(("x",), None), examples=_ONE, complex=True,
          doc="values as unique_values; inverse_indices constants")
composite("unique_all", np.unique_all, _unique_all, orders_by=(("x",), None), examples=_ONE, complex=True,
          doc="values as unique_values; indices, inverse_indices and counts constants")
# fmt: on
