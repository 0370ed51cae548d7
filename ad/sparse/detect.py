"""Sparsity detection: the pattern of a Jacobian or a Hessian, by tracing index sets through f."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from ad.sparse.tracer import DENSE, Pattern, Trace
from ad.trace import raw
from ad.transform import float_input, require_real


def real_input(x, who: str) -> np.ndarray:
    """x as a plain array of real floats, or an error saying what to pass."""
    x = float_input(x, who)
    require_real([x], who, "input")
    return np.asarray(raw(x))


def _trace(f: Callable, x: np.ndarray, local: bool, record: bool, who: str):
    n = x.size
    tr = Trace(n, local, record)
    node = tr.node(n, [])
    eye = sp.identity(n, dtype=bool, format="csr")
    y = f(Pattern(x, eye, tr, node=node))
    if isinstance(y, tuple | list | dict):
        raise TypeError(
            f"{who}: f must return one array; got a {type(y).__name__}: stack or concatenate the outputs"
        )
    return tr, y


def _rows(y, tr: Trace, who: str):
    if isinstance(y, Pattern) and y.level == tr.level:
        return y.rows
    v = np.asarray(raw(y))
    if v.dtype.kind not in "biuf":
        raise TypeError(f"{who}: f returned an array of dtype {v.dtype}; return real numbers")
    return sp.csr_array((v.size, tr.n), dtype=bool)


def jacobian_sparsity(f: Callable, x, *, local: bool = False) -> sp.csr_array:
    """The pattern of J_f: an (m, n) boolean scipy.sparse matrix, True where dy_i/dx_j can be
    nonzero, for f: R^n -> R^m on flattened x and f(x) (C order).

    Global (the default): the pattern holds for every x, and a Python `if` on a value that
    depends on x raises. ``local=True``: the pattern for the branches taken at this x."""
    x = real_input(x, "jacobian_sparsity")
    tr, y = _trace(f, x, local, record=False, who="jacobian_sparsity")
    return _rows(y, tr, "jacobian_sparsity").tocsr()


def hessian_sparsity(f: Callable, x, *, local: bool = False) -> sp.csr_array:
    """The pattern of the Hessian of a scalar f: an (n, n) symmetric boolean scipy.sparse matrix.

    By Faa di Bruno, d2f/dx_i dx_j is a sum over the nodes v of f, of df/dv times v's second
    derivative in two of its operands times their derivatives in x_i and x_j: so the pattern is
    the union, over nonlinear nodes whose output reaches f, of (inputs of one operand) x (inputs
    of the other). Which elements reach f is read back through the structure maps."""
    x = real_input(x, "hessian_sparsity")
    tr, y = _trace(f, x, local, record=True, who="hessian_sparsity")
    if int(np.size(raw(y))) != 1:
        raise TypeError(
            f"hessian_sparsity needs a scalar f; got shape {np.shape(raw(y))}: reduce first, "
            "or take jacobian_sparsity of each output"
        )
    n = x.size
    H = sp.csr_array((n, n), dtype=bool)
    if not (isinstance(y, Pattern) and y.level == tr.level and y.node is not None):
        return H
    reach = [np.zeros(size, bool) for size, _ in tr.nodes]
    reach[y.node][y.offset] = True
    for node in range(len(tr.nodes) - 1, -1, -1):
        r = reach[node]
        if not r.any():
            continue
        for pnode, offset, size, S in tr.nodes[node][1]:
            if pnode is None:
                continue
            part = reach[pnode][offset : offset + size]  # a view: updated in place
            if S is DENSE:
                part[:] = True
            else:
                part |= (S.T @ r.astype(np.float64)) != 0
    for node, A, B in tr.cross:
        keep = np.flatnonzero(reach[node])
        if keep.size:
            H = H + (A[keep].T @ B[keep]).astype(bool)
    return (H + H.T).tocsr()
