"""Reductions that skip NaN (nansum, nanmean, nanprod, nanmax, nanmin, nanvar, nanstd, nancumsum,
nancumprod) as composites: the reduction of where(isnan(a), neutral, a), so the derivative is
0 at the NaN entries, as in JAX. nanargmax and nanargmin are indices: constants.
"""

import warnings

import numpy as np

from ad.ops.reductions import reject
from ad.registry import composite, nondiff
from ad.rules import real_dtype
from ad.trace import raw


def _filled(a, value):
    """(a with its NaN entries replaced by value, the mask of those entries)."""
    nan = np.isnan(raw(a))
    return (np.where(nan, value, a) if np.any(nan) else a), nan


def _nan_where(out, bad, what):
    """NaN in the slices marked bad, with NumPy's warning."""
    if not np.any(bad):
        return out
    warnings.warn(what, RuntimeWarning, stacklevel=3)
    return np.where(bad, np.nan, out)


def _given(**options) -> dict:
    """The options given, for the reduction that takes them (None: NumPy's default)."""
    return {k: v for k, v in options.items() if v is not None}


def nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """sum of the entries that are not NaN (and where= keeps)."""
    reject("nansum", out=out, initial=initial)
    return np.sum(_filled(a, 0.0)[0], axis=axis, keepdims=keepdims, **_given(dtype=dtype, where=where))


def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """prod of the entries that are not NaN (and where= keeps)."""
    reject("nanprod", out=out, initial=initial)
    return np.prod(_filled(a, 1.0)[0], axis=axis, keepdims=keepdims, **_given(dtype=dtype, where=where))


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    """nansum / the number of entries that are not NaN (and where= keeps)."""
    reject("nanmean", out=out)
    x, nan = _filled(a, 0.0)
    kept = ~nan if where is None else ~nan & np.asarray(raw(where), dtype=bool)
    count = np.sum(kept, axis=axis, keepdims=keepdims)
    total = np.sum(x, axis=axis, keepdims=keepdims, **_given(dtype=dtype, where=where))
    # divided by 1 where the slice is empty, then NaN: 0 / 0 would put a NaN in the VJP; the
    # count in the sum's real dtype, so that a float32 mean stays float32
    mean = total / np.maximum(count, 1).astype(real_dtype(total))
    return _nan_where(mean, count == 0, "Mean of empty slice")


def _extremum(name, reduce, fill):
    def extremum(a, axis=None, out=None, keepdims=False, initial=None, where=None):
        reject(name, out=out)
        x, nan = _filled(a, fill)
        value = reduce(x, axis=axis, keepdims=keepdims, **_given(initial=initial, where=where))
        if initial is not None:  # a slice with no entry left takes initial, as NumPy's
            return value
        empty = np.all(nan, axis=axis, keepdims=keepdims)
        return _nan_where(value, empty, "All-NaN slice encountered")

    extremum.__doc__ = f"{reduce.__name__} of the entries that are not NaN (NaN where there is none)."
    return extremum


nanmax = _extremum("nanmax", np.max, -np.inf)
nanmin = _extremum("nanmin", np.min, np.inf)


def _nanmoment(name, moment, a, axis, dtype, out, ddof, keepdims, where, mean, correction):
    """var or std of the entries that are not NaN: the moment of a with its NaN entries set to
    the mean of the others, scaled from n - ddof to count - ddof.

    Composed as sum((x - m)^2), the derivative through m would add terms that cancel only in
    exact arithmetic; var and std have rules that use sum(x - m) = 0, and the entries set to
    m contribute (m - m) = 0 to both orders of the derivative."""
    reject(name, dtype=dtype, out=out, where=where, mean=mean, correction=correction)
    nan = np.isnan(raw(a))
    if not np.any(nan):
        return moment(a, axis=axis, ddof=ddof, keepdims=keepdims)
    count = np.sum(~nan, axis=axis, keepdims=True)
    # an empty slice gets m = 0 / 1 and reads 0s: no NaN enters its (unused) derivative
    m = np.sum(np.where(nan, 0.0, a), axis=axis, keepdims=True) / np.maximum(count, 1).astype(real_dtype(a))
    x = np.where(nan, m, a)
    n = np.size(raw(a)) // np.size(count)
    dof = count - ddof
    bad = dof <= 0
    scale = np.where(bad, 0.0, n / np.where(bad, 1, dof))
    if moment is np.std:
        scale = np.sqrt(scale)
    out = moment(x, axis=axis, keepdims=True) * scale.astype(np.real(raw(x)).dtype, copy=False)
    out = _nan_where(out, bad, "Degrees of freedom <= 0 for slice.")
    return out if keepdims else np.squeeze(out, axis=axis)


def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, mean=None,
           correction=None):  # fmt: skip
    """var of the entries that are not NaN."""
    return _nanmoment("nanvar", np.var, a, axis, dtype, out, ddof, keepdims, where, mean, correction)


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, mean=None,
           correction=None):  # fmt: skip
    """sqrt(nanvar); its derivative is 0 where it is 0 (a kink, as for std)."""
    return _nanmoment("nanstd", np.std, a, axis, dtype, out, ddof, keepdims, where, mean, correction)


def nancumsum(a, axis=None, dtype=None, out=None):
    """cumsum with NaN read as 0."""
    reject("nancumsum", dtype=dtype, out=out)
    return np.cumsum(_filled(a, 0.0)[0], axis=axis)


def nancumprod(a, axis=None, dtype=None, out=None):
    """cumprod with NaN read as 1."""
    reject("nancumprod", dtype=dtype, out=out)
    return np.cumprod(_filled(a, 1.0)[0], axis=axis)


# -- examples: the calls as NumPy takes them, with NaN entries ------------------------------


def _with_nan(rng, *s):
    """Uniform in [-2, 2] with two NaN entries, in different slices of every example's axes."""
    x = rng.uniform(-2, 2, s)
    x.flat[[1, x.size - 2]] = np.nan
    return x


def _examples(*calls):
    return lambda rng: [((_with_nan(rng, *s),), kw) for s, kw in calls]


_REDUCE = _examples(((3, 4), {}), ((3, 4), {"axis": 0}), ((3, 4), {"axis": -1, "keepdims": True}),
                    ((2, 3, 4), {"axis": (0, 2)}), ((5,), {}))  # fmt: skip
_MOMENT = _examples(((3, 4), {}), ((3, 5), {"axis": 1, "ddof": 1}), ((4, 3), {"axis": 0, "keepdims": True}),
                    ((2, 3, 4), {"axis": (0, 2)}))  # fmt: skip
_SCAN = _examples(((3, 4), {}), ((3, 4), {"axis": 0}), ((2, 3, 4), {"axis": -1}))

_NAN0 = "; derivative 0 at the NaN entries"

# fmt: off
composite("nansum", np.nansum, nansum, examples=_REDUCE, complex=True,
          doc="sum(where(isnan(a), 0, a))" + _NAN0)
composite("nanprod", np.nanprod, nanprod, examples=_REDUCE, complex=True,
          doc="prod(where(isnan(a), 1, a))" + _NAN0)
composite("nanmean", np.nanmean, nanmean, examples=_REDUCE, complex=True,
          doc="nansum / count of the entries that are not NaN" + _NAN0)
composite("nanmax", np.nanmax, nanmax, examples=_REDUCE, analytic=False, smooth=False,
          doc="max(where(isnan(a), -inf, a)), NaN for an all-NaN slice; ties as max" + _NAN0)
composite("nanmin", np.nanmin, nanmin, examples=_REDUCE, analytic=False, smooth=False,
          doc="min(where(isnan(a), inf, a)), NaN for an all-NaN slice; ties as min" + _NAN0)
composite("nanvar", np.nanvar, nanvar, examples=_MOMENT, analytic=False, complex=True,
          doc="sum |x - m|^2 / (count - ddof) over the entries that are not NaN" + _NAN0)
composite("nanstd", np.nanstd, nanstd, examples=_MOMENT, analytic=False, complex=True,
          doc="sqrt(nanvar), derivative 0 where it is 0 (as std)" + _NAN0)
composite("nancumsum", np.nancumsum, nancumsum, examples=_SCAN, complex=True,
          doc="cumsum, NaN read as 0" + _NAN0)
composite("nancumprod", np.nancumprod, nancumprod, examples=_SCAN, complex=True,
          doc="cumprod, NaN read as 1 (right at zeros, as cumprod)" + _NAN0)
nondiff("nanargmax", np.nanargmax, complex=True, doc="index of the max ignoring NaN: a constant")
nondiff("nanargmin", np.nanargmin, complex=True, doc="index of the min ignoring NaN: a constant")
# fmt: on
