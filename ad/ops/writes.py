"""NumPy's functions that write into an array: fill_diagonal, put, place, putmask, put_along_axis, copyto.

Each finds the positions it writes on the plain values (NumPy's own index arithmetic, run on
labels 0, 1, ..., n - 1 where it is intricate), then writes through the array's own item
assignment, a[index] = v. A Tensor records that as an in-place write with PyTorch's
semantics (through views, with version counters; a leaf that requires grad refuses); every
other traced value refuses it with the out-of-place spelling, as it refuses a[index] = v.
Where NumPy writes one position twice the last write wins, and only that one is written, so
no overwritten value gets a derivative. Each returns None, as NumPy's. Bad input raises
before anything is written.
"""

import math

import numpy as np

from ad import rules
from ad.registry import composite
from ad.trace import raw


def _cycled(values, n: int):
    """The first n entries of values raveled and repeated as often as needed (NumPy's rule
    for a short v in put, place and fill_diagonal)."""
    flat = np.ravel(values)
    size = rules.shape(flat)[0]
    return flat if size == n else np.take(flat, np.arange(n) % size)


def _write(a, flat, values):
    """a at the flat (C-order) positions <- values, one per position; of positions written
    more than once, the last write alone."""
    flat = np.ravel(flat)
    if not flat.size:
        return
    last = flat.size - 1 - np.unique(flat[::-1], return_index=True)[1]
    if last.size != flat.size:
        keep = np.sort(last)
        flat, values = flat[keep], np.take(values, keep)
    shape = tuple(rules.shape(a))
    if not shape:  # a 0-d array: its one position
        a[...] = np.reshape(values, ())
        return
    a[np.unravel_index(flat, shape)] = values


def _fill_diagonal(a, val, wrap=False):
    """a's main diagonal (of a 2-D array; of a cube, a[i, i, ..., i]) <- val, repeated; a tall
    matrix's diagonal restarts below the square block with wrap, as in NumPy."""
    shape = tuple(rules.shape(a))
    if len(shape) < 2:
        raise ValueError("array must be at least 2-d")
    if len(shape) == 2:
        step, end = shape[1] + 1, None if wrap else shape[1] * shape[1]
    else:
        if any(n != shape[0] for n in shape):
            raise ValueError("All dimensions of input must be of equal length")
        step, end = 1 + int(np.sum(np.cumprod(shape[:-1]))), None
    flat = np.arange(math.prod(shape))[:end:step]
    if np.size(raw(val)):  # NumPy writes nothing from an empty val
        _write(a, flat, _cycled(val, flat.size))


def _put(a, ind, v, mode="raise"):
    """a.flat[ind] <- v, repeated; mode 'wrap' or 'clip' brings indices into range, 'raise'
    refuses those out of range."""
    if mode not in ("raise", "wrap", "clip"):
        raise ValueError(f"clipmode must be one of 'clip', 'raise', or 'wrap' (got {mode!r})")
    ind = np.asarray(raw(ind))
    ind = ind if ind.dtype.kind in "iu" else ind.astype(np.intp)  # NumPy truncates other indices
    n = int(np.size(raw(a)))
    if n == 0 and ind.size:
        raise IndexError("cannot replace elements of an empty array")
    flat = np.take(np.arange(n), ind, mode=mode)  # NumPy's bounds check and wrapping
    if np.size(raw(v)):  # NumPy writes nothing from an empty v
        _write(a, flat, _cycled(v, flat.size))


def _place(arr, mask, vals):
    """arr[mask] <- the first vals, repeated: the k-th true entry of mask gets vals[k % len(vals)]."""
    mask = np.asarray(raw(mask), dtype=bool)
    if mask.size != int(np.size(raw(arr))):
        raise ValueError("place: mask and data must be the same size")
    flat = np.flatnonzero(mask)
    if flat.size and not np.size(raw(vals)):
        raise ValueError("Cannot insert from an empty array!")
    if flat.size:
        _write(arr, flat, _cycled(vals, flat.size))


def _putmask(a, mask, values):
    """a.flat[n] <- values.flat[n % len(values)] where mask.flat[n] is true: values repeated by
    position in a (place takes them in the order of the true entries)."""
    mask = np.asarray(raw(mask), dtype=bool)
    np.putmask(np.array(raw(a)), mask, raw(values))  # NumPy's checks (sizes, casting) on a copy
    flat = np.flatnonzero(mask)
    size = int(np.size(raw(values)))
    if flat.size and size:  # NumPy writes nothing from an empty values
        _write(a, flat, np.take(np.ravel(values), flat % size))


def _put_along_axis(arr, indices, values, axis):
    """arr <- values at indices along axis (axis None: of arr raveled), values broadcast to
    the indices' shape: the inverse of take_along_axis."""
    labels = np.arange(int(np.size(raw(arr)))).reshape(rules.shape(arr))
    indices = np.asarray(raw(indices))
    if axis is None:
        if indices.ndim != 1:
            raise ValueError("when axis=None, `indices` must have a single dimension.")
        labels, axis = labels.ravel(), 0
    flat = np.take_along_axis(labels, indices, axis)  # NumPy's checks: ndim, integer, bounds
    _write(arr, flat, np.ravel(np.broadcast_to(values, flat.shape)))


def _copyto(dst, src, casting="same_kind", where=True):
    """dst <- src broadcast to dst's shape, where `where` is true."""
    target = np.asarray(raw(dst))
    mask = np.asarray(raw(where), dtype=bool)
    # NumPy's own checks (broadcasting, casting) on a scratch array, so that nothing is written
    # when they fail
    np.copyto(np.empty_like(target), raw(src), casting=casting, where=mask)
    if mask.all():
        dst[...] = src
        return
    mask = np.broadcast_to(mask, target.shape)
    dst[mask] = np.broadcast_to(src, target.shape)[mask]


_DOC = "writes through a[index] = v: a Tensor records it (PyTorch's semantics), other traced values refuse it"
# fmt: off
composite("fill_diagonal", np.fill_diagonal, _fill_diagonal, mutates=True, complex=True,
          doc="a[diag] = val, repeated; " + _DOC)
composite("put", np.put, _put, mutates=True, complex=True,
          doc="a.flat[ind] = v, repeated, the last of repeated indices winning; " + _DOC)
composite("place", np.place, _place, mutates=True, complex=True,
          doc="a[mask] = the first vals, repeated; " + _DOC)
composite("putmask", np.putmask, _putmask, mutates=True, complex=True,
          doc="a[mask] = values at the same positions, repeated; " + _DOC)
composite("put_along_axis", np.put_along_axis, _put_along_axis, mutates=True, complex=True,
          doc="the inverse of take_along_axis, the last of repeated indices winning; " + _DOC)
composite("copyto", np.copyto, _copyto, mutates=True, complex=True,
          doc="dst[where] = src, broadcast, NumPy's casting checks; " + _DOC)
# fmt: on
