"""Ops and flops of one evaluation of f, counted by running f on an array that tallies every
NumPy call it meets: what the cost model needs of a function it has never seen.

An op is one NumPy call on a value that depends on x (a ufunc, a function, an operator,
indexing, a method such as `.reshape`): what a pass of ad's engines pays its per-op
overhead for; work on constants alone is not traced by the engines and not counted here.
Flops are multiply-adds: a product (m x k) @ (k x n) counts m k n, a solve of order n
counts n^3, an op that only moves values (indexing, reshape, concatenate) none, any other
op the size of its largest operand or result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Tally:
    """What one evaluation of f did."""

    ops: int = 0
    flops: float = 0.0
    escaped: bool = False  # f turned a counted value into a plain array: later ops went uncounted

    def add(self, flops: float) -> None:
        self.ops += 1
        self.flops += flops


_CONTRACTIONS = {np.dot, np.inner, np.vdot, np.outer, np.tensordot, np.kron, np.einsum}
_CUBIC = {np.linalg.solve, np.linalg.inv, np.linalg.det, np.linalg.slogdet, np.linalg.cholesky}


def _flops(func, args, out) -> float:
    arrays = [a for a in args if isinstance(a, np.ndarray | np.generic)]
    sizes = [int(np.size(a)) for a in arrays] + [int(np.size(out))]
    if func is np.matmul and len(arrays) == 2:
        return float(np.size(out)) * (np.shape(arrays[0])[-1] if np.ndim(arrays[0]) else 1)
    if func in _CONTRACTIONS and len(arrays) == 2:
        # a contraction of a and b: sqrt(|a| |b| |out|) is m k n for (m x k)(k x n)
        return float(np.sqrt(float(sizes[0]) * sizes[1] * sizes[2]))
    if func in _MOVES:
        return 0.0
    if func in _CUBIC and arrays:
        return float(np.shape(arrays[0])[-1]) ** 3
    return float(max(sizes))


def _getitem(a, index):
    return a[index]


# ops that move or view values and do no arithmetic
_MOVES = {_getitem, np.reshape, np.transpose, np.ravel, np.squeeze, np.expand_dims, np.swapaxes}
_MOVES |= {np.moveaxis, np.broadcast_to, np.concatenate, np.stack, np.copy, np.diagonal, np.diag}


class Counted(np.lib.mixins.NDArrayOperatorsMixin):
    """An array that counts the NumPy calls made on it, then makes them on its value."""

    __array_priority__ = 10_000.0

    def __init__(self, value, tally: Tally):
        self.value, self.tally = value, tally

    def _call(self, func, args, kwargs, kind=None):
        """func(*args, **kwargs) on the values, counted as the NumPy function `kind` (func's own)."""
        raw_args, raw_kwargs = _unwrap(args), _unwrap(kwargs)
        out = func(*raw_args, **raw_kwargs)
        self.tally.add(_flops(kind or func, raw_args, out))
        return _wrap(out, self.tally)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method == "__call__":
            return self._call(ufunc, inputs, kwargs)
        return self._call(getattr(ufunc, method), inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return self._call(func, args, kwargs)

    def __array__(self, dtype=None, copy=None):
        self.tally.escaped = True
        return np.asarray(self.value, dtype=dtype)

    def __getitem__(self, index):
        return self._call(_getitem, (self, _unwrap(index)), {})

    def __getattr__(self, name):
        if name.startswith("__"):  # NumPy's __array_interface__ and friends: go through __array__
            raise AttributeError(name)
        attr = getattr(self.value, name)
        if name in ("shape", "ndim", "size", "dtype"):
            return attr
        if callable(attr):  # x.reshape(...), x.sum(...): counted as np.reshape, np.sum

            def method(*a, **k):
                return self._call(
                    lambda v, *a, **k: getattr(v, name)(*a, **k), (self, *a), k, getattr(np, name, None)
                )

            return method
        self.tally.add(0.0)  # .T, .real, ...: a view, one op
        return _wrap(attr, self.tally)

    def __len__(self):
        return len(self.value)

    def __iter__(self):
        return (self[i] for i in range(len(self.value)))

    def __float__(self):
        return float(self.value)

    def __int__(self):
        return int(self.value)

    def __index__(self):
        return int(self.value)

    def __bool__(self):
        return bool(self.value)


def _unwrap(x):
    if isinstance(x, Counted):
        return x.value
    if isinstance(x, tuple | list):
        return type(x)(_unwrap(v) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap(v) for k, v in x.items()}
    return x


def _wrap(x, tally: Tally):
    if isinstance(x, np.ndarray | np.generic):
        return Counted(x, tally)
    if isinstance(x, tuple | list):
        return type(x)(_wrap(v, tally) for v in x)
    return x


def count(f, x) -> Tally:
    """The ops and flops of one evaluation f(x)."""
    tally = Tally()
    f(Counted(np.asarray(x, dtype=float), tally))
    return tally
