"""Sequences holding traced values, turned into one traced array by the registered ops."""

from __future__ import annotations

import numpy as np

from ad.trace import Box

# Entries that are never a traced value nor a sequence that could hold one: skipped at the
# cost of a set lookup, so that a shape tuple or a list of numbers is scanned quickly
_PLAIN = frozenset({int, float, complex, bool, str, type(None), np.ndarray, np.float64, np.float32, np.int64})


def holds_traced(obj) -> bool:
    """Whether obj is a traced value, or a (nested) list or tuple holding one."""
    if isinstance(obj, Box):
        return True
    if isinstance(obj, list | tuple):
        for o in obj:
            if o.__class__ not in _PLAIN and holds_traced(o):
                return True
    return False


def stacked(obj):
    """A (nested) list or tuple as one array: np.stack of its rows, so a traced entry keeps its
    derivative; anything without traced values is NumPy's own np.asarray."""
    if isinstance(obj, Box):
        return obj
    if isinstance(obj, list | tuple) and holds_traced(obj):
        return np.stack([stacked(o) for o in obj])
    return np.asarray(obj)


def lifted(a):
    """a as an array when it is a sequence holding traced values; otherwise a, untouched."""
    return stacked(a) if isinstance(a, list | tuple) and holds_traced(a) else a


def each_lifted(arrays):
    """A sequence of arrays with each entry that holds traced values made an array (the
    registered ops then see arrays only, never lists); otherwise untouched, for NumPy."""
    if isinstance(arrays, list | tuple) and holds_traced(arrays):
        return [stacked(a) for a in arrays]
    return arrays
