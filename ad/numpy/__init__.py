"""NumPy, made to take array_likes holding traced values where NumPy would convert them.

`import ad.numpy as np` gives every public name of NumPy (np.linalg, np.random, np.fft, ...).
Each function that NumPy dispatches on its array arguments (np.sum, np.dot, np.linalg.norm,
np.fft.fft ...) and each ufunc (np.sin, np.add ...) also takes a (nested) list or tuple holding
Duals or Tensors wherever NumPy takes an array_like: the list becomes their stack, as
`ad.numpy.array` makes it, so `np.sum([a, b])` is `np.sum(np.array([a, b]))`, the way autograd
reads it. The constructors NumPy cannot intercept (array, asarray, asanyarray, r_, c_, full,
full_like) accept traced values themselves, and vectorize calls its function on each traced
entry. Every other name is NumPy's own.
Plain NumPy code needs none of this: np.stack([a, b]) of traced values already dispatches.
"""

import builtins as _builtins

import numpy as _np
from numpy import *  # noqa: F403  (NumPy's public names; those that take arrays are lifted below)

import ad.numpy.fft as fft  # noqa: F401  (ours, in place of the star import's numpy.fft)
import ad.numpy.linalg as linalg  # noqa: F401  (ours, in place of the star import's numpy.linalg)
from ad.numpy._lifting import lift_namespace as _lift_namespace
from ad.numpy._lifting import lifting as _lifting_function
from ad.numpy._sequences import holds_traced as _holds_traced
from ad.numpy._sequences import stacked as _stacked
from ad.numpy._vectorize import vectorize  # noqa: F401  (ours, in place of the star import's)
from ad.ops.assembly import ndmin as _ndmin
from ad.rules import differentiable as _differentiable
from ad.trace import Box as _Box
from ad.trace import raw as _raw

__all__ = list(_np.__all__)

_lift_namespace(_np, globals(), __name__)


def __getattr__(name):
    # a name NumPy leaves out of __all__ is still NumPy's
    return getattr(_np, name)


def _typed(x, dtype, ndmin=0, who="array"):
    """A traced array with the dtype and at least the ndim asked for: a float or complex dtype
    is a differentiable cast (astype); an integer or bool one would drop the derivative."""
    if dtype is not None and _np.dtype(dtype) != x.dtype:
        if not _differentiable(_np.dtype(dtype)):
            raise TypeError(
                f"ad.numpy.{who}(..., dtype={_np.dtype(dtype)}) of traced values of dtype {x.dtype}: "
                "a cast to a dtype with no derivative would drop it silently. Leave dtype out, "
                "or make the rounding explicit (np.round, np.floor) on the traced array."
            )
        x = x.astype(dtype)
    return _ndmin(x, ndmin)


def _traced_array(obj, dtype, copy, ndmin, who):
    """NumPy's array/asarray of obj holding traced values, copy= as NumPy reads it: True always
    gives a new array (never obj, whose later in-place writes would reach it), None copies
    only where it must, False refuses to copy."""
    casts = dtype is not None and isinstance(obj, _Box) and _np.dtype(dtype) != obj.dtype
    if copy is False and (casts or not isinstance(obj, _Box)):
        raise ValueError(
            f"ad.numpy.{who}(..., copy=False): building this array needs a copy (a stack of the "
            "list's entries, or a cast); pass copy=None (asarray's default) to allow it"
        )
    if not isinstance(obj, _Box):
        return _typed(_stacked(obj), dtype, ndmin, who)
    x = _np.copy(obj) if copy and not casts else obj  # astype copies already
    return _typed(x, dtype, ndmin, who)


def array(object, dtype=None, *, copy=True, ndmin=0, **kwargs):
    """numpy.array; a (nested) list or tuple holding traced values is their stack."""
    if not _holds_traced(object):
        return _np.array(object, dtype, copy=copy, ndmin=ndmin, **kwargs)
    return _traced_array(object, dtype, copy, ndmin, "array")


def asarray(a, dtype=None, order=None, *, copy=None, **kwargs):
    """numpy.asarray; a traced value is itself (a copy with copy=True), a sequence holding
    traced values their stack."""
    if not _holds_traced(a):
        return _np.asarray(a, dtype, order, copy=copy, **kwargs)
    return _traced_array(a, dtype, copy, 0, "asarray")


def asanyarray(a, dtype=None, order=None, *, copy=None, **kwargs):
    """numpy.asanyarray; a traced value is itself (traced values are arrays already), a sequence
    holding traced values their stack."""
    if not _holds_traced(a):
        return _np.asanyarray(a, dtype, order, copy=copy, **kwargs)
    return _traced_array(a, dtype, copy, 0, "asanyarray")


def _laid_out(x, order, who):
    """x in the memory layout order asks for ('C' or 'F'; others keep x's): a copy where its
    primal is not laid out so. The values, and so the derivative, are x's."""
    if order not in (None, "C", "F", "A", "K"):
        raise ValueError(f"ad.numpy.{who}: order must be one of 'C', 'F', 'A', 'K' (got {order!r})")
    flags = x.flags
    if order == "C" and not flags.c_contiguous or order == "F" and not flags.f_contiguous:
        return _np.copy(x, order=order)
    return x


def ascontiguousarray(a, dtype=None, *, like=None):
    """numpy.ascontiguousarray; a traced value is itself, or its C-ordered copy (as jnp's)."""
    if like is not None or not _holds_traced(a):
        return _np.ascontiguousarray(a, dtype, like=like)
    return _laid_out(_traced_array(a, dtype, None, 1, "ascontiguousarray"), "C", "ascontiguousarray")


def asfortranarray(a, dtype=None, *, like=None):
    """numpy.asfortranarray; a traced value is itself, or its Fortran-ordered copy."""
    if like is not None or not _holds_traced(a):
        return _np.asfortranarray(a, dtype, like=like)
    return _laid_out(_traced_array(a, dtype, None, 1, "asfortranarray"), "F", "asfortranarray")


def require(a, dtype=None, requirements=None, *, like=None):
    """numpy.require; a traced value is itself, cast to dtype, or its copy where NumPy would copy
    its primal to meet the requirements (a layout, writeable, owning its data)."""
    if like is not None or not _holds_traced(a):
        return _np.require(a, dtype, requirements, like=like)
    x = _traced_array(a, dtype, None, 0, "require")
    met = _np.require(_raw(x), None, requirements)  # NumPy's reading of the requirements
    if met is _raw(x):
        return x
    return _np.copy(x, order="F" if met.flags.f_contiguous and not met.flags.c_contiguous else "C")


def asarray_chkfinite(a, dtype=None, order=None):
    """numpy.asarray_chkfinite; a traced value is itself (laid out in order), after NumPy's check
    that its primal holds no inf or NaN."""
    if not _holds_traced(a):
        return _np.asarray_chkfinite(a, dtype, order)
    x = _traced_array(a, dtype, None, 0, "asarray_chkfinite")
    if x.dtype.kind in "fc" and not _np.isfinite(_raw(x)).all():
        raise ValueError("array must not contain infs or NaNs")
    return _laid_out(x, order, "asarray_chkfinite")


@_lifting_function
def full(shape, fill_value, dtype=None, order="C", **kwargs):
    """numpy.full; a traced fill_value is broadcast to shape, and its derivative flows."""
    if not isinstance(fill_value, _Box):
        return _np.full(shape, fill_value, dtype, order, **kwargs)
    return _np.full_like(fill_value, fill_value, dtype, shape=shape)


@_lifting_function
def full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, **kwargs):
    """numpy.full_like, also of a plain a and a traced fill_value (NumPy dispatches on a only)."""
    if not isinstance(fill_value, _Box) or isinstance(a, _Box):
        return _np.full_like(a, fill_value, dtype, order, subok, shape, **kwargs)
    a = _np.asarray(a)
    return _np.full_like(
        fill_value, fill_value, a.dtype if dtype is None else dtype, shape=a.shape if shape is None else shape
    )


class _Concatenator:
    """np.r_ (axis 0, items at least 1-d) or np.c_ (last axis, items at least 2-d, a 1-d item
    a column); with traced items each becomes an array and one concatenate joins them."""

    def __init__(self, plain, column: bool):
        self.plain, self.column = plain, column

    def __getitem__(self, key):
        items = key if isinstance(key, tuple) else (key,)
        if not _holds_traced(items):
            return self.plain[key]
        if _builtins.any(isinstance(item, str) for item in items):
            raise NotImplementedError(
                "ad.numpy.r_ / c_ with a directive string ('r', 'c', '0,2,1' ...) and traced "
                "values: join them with ad.numpy.concatenate or stack and an axis instead"
            )
        pieces = [self._piece(item) for item in items]
        # NumPy's rule: a Python or NumPy scalar item takes part in the result's dtype as a
        # value (1.0 beside float32 entries leaves them float32); every other item by its dtype
        dtype = _np.result_type(
            *(item if type(item) in _np.ScalarType else piece.dtype for item, piece in zip(items, pieces))
        )
        pieces = [p if isinstance(p, _Box) else p.astype(dtype, copy=False) for p in pieces]
        return _np.concatenate(pieces, axis=-1 if self.column else 0)

    def _piece(self, item):
        x = _np.r_[item] if isinstance(item, slice) else _stacked(item)
        if self.column:
            return _np.reshape(x, (-1, 1)) if _np.ndim(x) < 2 else x
        return _np.reshape(x, (1,)) if _np.ndim(x) == 0 else x


r_ = _Concatenator(_np.r_, column=False)
c_ = _Concatenator(_np.c_, column=True)
