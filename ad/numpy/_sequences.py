"""Sequences holding traced values, turned into one traced array by the registered ops."""

from __future__ import annotations

import numpy as np

from ad.trace import Box


def holds_traced(obj) -> bool:
    """Whether obj is a traced value, or a (nested) list or tuple holding one."""
    if isinstance(obj, Box):
        return True
    return isinstance(obj, list | tuple) and any(holds_traced(o) for o in obj)


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
    """The operands of stack/concatenate as arrays when any holds a traced value (the registered
    ops then see arrays only, never lists); otherwise untouched, for NumPy."""
    if isinstance(arrays, list | tuple) and holds_traced(arrays):
        return [stacked(a) for a in arrays]
    return arrays
