"""Scatter-add, the transpose of indexing: zeros(shape) with ct added at index, repeats accumulating.

The twin is np.add.at, whose fast path (NumPy >= 1.25) covers a 1-d target indexed by one
integer array: a numba loop is no faster there, so the twin keeps that case. Scattering rows
(x[i] of a matrix, take along an axis, repeat, a batch of k cotangents) goes through NumPy's
general ufunc.at machinery, one element at a time: the kernel, a plain triple loop, is 2x
faster at 1e3 elements and 6-30x from 1e5.
"""

from __future__ import annotations

import math

import numpy as np

from ad.kernels import jit, plain


def scatter_add_twin(ct, shape, index):
    z = np.zeros(shape, dtype=np.result_type(ct, 0.0))  # a float dtype, float32 kept
    if any(isinstance(i, np.ndarray) and np.issubdtype(i.dtype, np.integer) for i in index):
        np.add.at(z, index, ct)
    else:
        z[index] = ct  # basic indices and masks never repeat an element: a plain write
    return z


@jit
def _scatter_add(z, flat, ct):
    """z[p, flat[j], q] += ct[p, j, q], in the order np.add.at adds them; a negative flat[j]
    counts from the end. False, z untouched, when an index is out of range."""
    n = z.shape[1]
    for j in range(flat.size):
        if flat[j] < -n or flat[j] >= n:
            return False
    for p in range(ct.shape[0]):
        for j in range(ct.shape[1]):
            k = flat[j] + n if flat[j] < 0 else flat[j]
            for q in range(ct.shape[2]):
                z[p, k, q] += ct[p, j, q]
    return True


def _full(i) -> bool:
    return isinstance(i, slice) and i == slice(None)


def _integer(i) -> bool:
    if isinstance(i, np.ndarray):
        return i.dtype.kind == "i"  # unsigned ones, rare, stay with the twin
    return isinstance(i, int | np.integer) and not isinstance(i, bool)


def _plan(shape: tuple, index: tuple):
    """((pre, K, post), flat, ct_shape) when the kernel takes the index: full slices, then
    adjacent integer arrays or ints (an array among them), then full slices, with rows to move
    (pre or post > 1). The scatter is then into z.reshape(pre, K, post)[:, flat, :], flat the
    raveled position of each index tuple among the K entries of the indexed axes, from a ct of
    ct_shape. None for any other index (a partial slice, a mask, None, arrays apart)."""
    a = 0
    while a < len(index) and _full(index[a]):
        a += 1
    b = a
    while b < len(index) and _integer(index[b]):
        b += 1
    if b > len(shape) or not all(_full(i) for i in index[b:]):
        return None
    pre, post, group = math.prod(shape[:a]), math.prod(shape[b:]), index[a:b]
    if (pre == 1 and post == 1) or not any(isinstance(i, np.ndarray) for i in group):
        return None
    if len(group) == 1:
        flat = group[0]
    else:  # several arrays: their raveled positions, counted from the start
        dims = shape[a:b]
        try:
            flat = np.ravel_multi_index(tuple(np.where(i < 0, i + n, i) for i, n in zip(group, dims)), dims)
        except ValueError:  # out of range: the twin raises NumPy's IndexError
            return None
    ct_shape = shape[:a] + np.shape(flat) + shape[b:]
    return (pre, math.prod(shape[a:b]), post), np.ascontiguousarray(flat, dtype=np.intp).ravel(), ct_shape


SCATTER_ADD_FROM = 128  # ratio to np.add.at: ~1.1 at 32 elements, 0.5-0.85 at 128, 0.03-0.2 at 1e5


def scatter_add(ct, shape, index):
    """zeros(shape) with ct added at index (np.add.at semantics)."""
    if plain(ct) and ct.size >= SCATTER_ADD_FROM and len(shape) > 1:  # a 1-d z: np.add.at's fast path
        plan = _plan(tuple(shape), index)
        if plan is not None and ct.shape == plan[2]:
            z = np.zeros(shape)
            ct3 = np.ascontiguousarray(ct).reshape(plan[0][0], plan[1].size, plan[0][2])
            if _scatter_add(z.reshape(plan[0]), plan[1], ct3):
                return z
    return scatter_add_twin(ct, shape, index)
