"""Numba kernels beside their plain-NumPy twins: which one runs, and numba loaded only on first use.

A kernel runs only on plain float64 ndarrays (never a Dual or Tensor, a scalar, another dtype or
an ndarray subclass) and only at the sizes where it measured faster than its twin
(asv_bench/benchmarks/kernels.py); everything else takes the twin, which is written with NumPy
functions so that it also differentiates again at second order. ``import ad`` neither imports
numba (0.3 s on its own) nor compiles anything: `jit` does both on a kernel's first call, and
``cache=True`` keeps the machine code on disk for the next process.

Where the cache goes is numba's own choice: NUMBA_CACHE_DIR if set, else ``__pycache__`` beside
the source, else (a read-only install) the user's cache dir, ``~/.cache/numba``. When none of
these is writable the kernel still compiles, only without a disk cache.
"""

from __future__ import annotations

import numpy as np

F64 = np.dtype(np.float64)


def plain(*arrays) -> bool:
    """Every argument a plain float64 ndarray: the only values a kernel takes."""
    for a in arrays:  # a loop, not all(...): this check runs on every call of a rule
        if type(a) is not np.ndarray or a.dtype != F64:
            return False
    return True


class jit:
    """``numba.njit(cache=True, error_model="numpy")`` of a function, compiled on its first call.

    ``error_model="numpy"``: a division by zero gives inf or nan, as in the twin, not an exception.
    """

    def __init__(self, py_func):
        self.py_func = py_func
        self.dispatcher = None
        self.__name__ = py_func.__name__
        self.__doc__ = py_func.__doc__

    def __call__(self, *args):
        if self.dispatcher is None:
            self.dispatcher = _compile(self.py_func)
        return self.dispatcher(*args)

    def __repr__(self):
        return f"<numba kernel {self.__name__}{'' if self.dispatcher is None else ' (loaded)'}>"


def _compile(py_func):
    import numba

    try:
        return numba.njit(cache=True, error_model="numpy")(py_func)
    except RuntimeError as e:  # no writable cache dir anywhere: compile in memory only
        if "no locator available" not in str(e):
            raise
        return numba.njit(error_model="numpy")(py_func)


def contiguous(x: np.ndarray) -> tuple[np.ndarray, str]:
    """x (a C copy when strided) and the order, "C" or "F", that walks it in memory order."""
    if x.flags.c_contiguous:
        return x, "C"
    if x.flags.f_contiguous:  # a transpose
        return x, "F"
    return np.ascontiguousarray(x), "C"


def unary(kernel, x: np.ndarray) -> np.ndarray:
    """``kernel(x, y)`` on 1-d views of x and of a new y laid out like it."""
    x, order = contiguous(x)
    y = np.empty(x.shape, order=order)
    kernel(x.ravel(order), y.ravel(order))  # ravel of an array contiguous in that order is a view
    return y
