"""Recording: an op on Tensors becomes new Tensors and a node keeping what its VJP reads.

Here too: the histories that views and in-place writes give a Tensor (edges, a view's
refresh), and `_new`, the constructor without checks that every path making a Tensor shares.
"""

from __future__ import annotations

import weakref
from types import MappingProxyType

import numpy as np

from ad.reverse.grad_mode import _state
from ad.reverse.graph import (
    STORES_ITSELF,
    AccumulateGrad,
    LeafHooks,
    OpNode,
    _sequence,
    reads,
    retain,
    shaped_nan,
    stand_in,
    stored_partials,
    unretain,
)
from ad.reverse.views import View
from ad.trace import Box, apply, is_complex, matrix_error, raw


def _process(cls, op, operands, params, level):
    """op on operands, recorded when one of them requires grad: one pass over the
    operands (primals, edges to their producers), the primal, the new Tensors, and a node
    keeping what the op's VJP reads (its plan for this pattern of needed cotangents).

    The pass also checks what apply's level scan and complex check would (see
    Box._checks_levels): NotImplemented for an operand that is a box of a higher level
    than `level`, or for a complex value where the op has no complex rule."""
    enabled = _state.enabled
    real = not op.complex
    primals, edges = [], []
    needs, bit, boxed = 0, 1, False  # needs: bit i set when operand i needs a cotangent
    for x in operands:
        if type(x) is Tensor and x.level == level:
            if x._view is not None and x._view.version != x._vc[0]:
                _refresh_view(x)
            p = x._data
            if x._grad_fn is not None:
                edges.append((x._grad_fn, x._output_nr))
                needs |= bit
            elif x._requires_grad and enabled:
                edges.append(_leaf_edge(x))
                needs |= bit
            else:
                edges.append(None)
        else:
            p = x
            edges.append(None)
        if type(p) is np.ndarray:
            if real and p.dtype.kind == "c":
                return NotImplemented
        elif isinstance(p, Box):  # an operand of another level, or a value of one in x
            if p is x and p.level > level or real and is_complex(p):
                return NotImplemented
            boxed = True
        elif isinstance(p, np.matrix):
            raise matrix_error()
        elif real and type(p) is not float and is_complex(p):
            return NotImplemented
        primals.append(p)
        bit <<= 1
    # Values of lower levels go through dispatch again; plain ones straight to NumPy.
    out = apply(op, primals, params) if boxed else op.impl(*primals, **params)
    multi = type(out) is tuple or type(out) is list
    if multi:
        outs = [_new(o, level, [0]) for o in out]
        t = outs[0]
    else:  # _new's fields, inline: a call costs as much as half of them
        t = _alloc(Tensor)
        t._data = out
        t.level = level
        t._vc = [0]
        t._grad_fn = None
        t._output_nr = 0
        t._requires_grad = False
        t._grad = None
        t._retains_grad = False
        t._accumulator = None
        t._view = None
    if op.view:  # output j views operand j if there are as many, else operand 0 (Op.view)
        views = outs if multi else (t,)
        paired = len(views) == len(operands)
        for j, o in enumerate(views):
            i = j if paired else 0
            _mark_view(o, operands[i], op, params, primals[i], level, of_several=multi)
    if not (needs and enabled):
        return type(out)(outs) if multi else t
    needs, read, unread, read_out, n, _ = op.plans.get(needs | bit) or _plan(op, needs | bit)
    guards = ()  # a tuple: most nodes guard one value or none
    for i in read:
        x = operands[i]
        # a Tensor, of this level or below (a constant here), is saved with its version
        if type(x) is Tensor:
            guards += ((x._vc, x._vc[0], i),)
    # the primals list becomes the node's: a stand-in where the VJP reads no value
    saved_in = list(primals) if boxed else primals  # a lower level was handed the list
    for i in unread:
        p = saved_in[i]
        if type(p) is np.ndarray:
            s = _STAND_INS.get((p.shape, p.dtype))
            saved_in[i] = _stand_in(p) if s is None else s
    if not multi:
        if read_out:
            guards += ((t._vc, t._vc[0], n),)
            saved_out = [out]
        else:
            s = _STAND_INS.get((out.shape, out.dtype)) if type(out) is np.ndarray else out
            saved_out = [_stand_in(out) if s is None else s]
        # OpNode's fields, inline (see OpNode): its __init__ is a frame per recorded op
        t._grad_fn = node = _alloc(OpNode)
        node.seq = next(_sequence)
        node.op = op
        node.params = params
        node.next_edges = tuple(edges)
        node.needs = needs
        node.saved_in = saved_in
        node.saved_out = saved_out
        node.guards = guards
        node.num_outputs = 0
        node.kept_partials = None
        node.retained = None
        t._requires_grad = True
        return t
    if read_out:
        guards += tuple((t._vc, t._vc[0], n + j) for j, t in enumerate(outs))
        saved_out = [t._data for t in outs]
    else:
        saved_out = [_stand_in(t._data) for t in outs]
    node = OpNode(op, params, tuple(edges), needs, saved_in, saved_out, guards, len(outs))
    for j, t in enumerate(outs):
        t._grad_fn, t._output_nr, t._requires_grad = node, j, True
    return type(out)(outs)


def _elementwise(op, operands, level):
    """_process for the common case of an elementwise op of one or two operands called
    without options: every operand a Tensor of this level over a real array, or a real
    constant. No lower level to dispatch to, no complex rule to choose, one output: the
    operands checked one by one, then the node. Three operands or more take _process.

    It repeats _process's recording steps (guards, stand-ins) inline on purpose: one
    shared helper for both measured 8% slower on the eager scalar chain (hot_path.py,
    side by side), and each operand has a block of its own, where a loop over them,
    with its lists and counters, cost about 0.2 us of the 1.5 us of a recorded scalar
    op. A change to what a node keeps is made in both places."""
    if len(operands) == 2:
        a, b = operands
    elif len(operands) == 1:
        a, b = operands[0], _ABSENT
    else:
        return NotImplemented
    enabled = _state.enabled
    arrays = False
    if type(a) is Tensor:
        if a.level != level:
            return NotImplemented
        if a._view is not None and a._view.version != a._vc[0]:
            _refresh_view(a)
        pa = a._data
        if type(pa) is _FLOAT64:
            pass
        elif type(pa) is _ARRAY:
            if pa.dtype.kind == "c":
                return NotImplemented
            arrays = True
        else:
            if not isinstance(pa, _ARRAYS) or pa.dtype.kind == "c":
                return NotImplemented
            # an ndarray subclass computes by the ufunc: it may give its operators another
            # meaning
            arrays = isinstance(pa, np.ndarray)
        if a._grad_fn is not None:
            ea, needs = (a._grad_fn, a._output_nr), 1
        elif a._requires_grad and enabled:
            ea, needs = _leaf_edge(a), 1
        else:
            ea, needs = None, 0
    elif type(a) is float or type(a) is int:
        pa, ea, needs = a, None, 0
    elif isinstance(a, _ARRAYS) and a.dtype.kind != "c":
        if isinstance(a, np.matrix):
            raise matrix_error()
        pa, ea, needs = a, None, 0
        arrays = isinstance(a, np.ndarray)
    else:
        return NotImplemented
    if b is _ABSENT:
        # Scalars only: an ndarray subclass may give an operator another meaning (np.matrix's *)
        out = op.impl(pa) if arrays or op.scalar is None else op.scalar(pa)
        primals, edges, key = [pa], (ea,), needs | 2
    else:
        if type(b) is Tensor:
            if b.level != level:
                return NotImplemented
            if b._view is not None and b._view.version != b._vc[0]:
                _refresh_view(b)
            pb = b._data
            if type(pb) is _FLOAT64:
                pass
            elif type(pb) is _ARRAY:
                if pb.dtype.kind == "c":
                    return NotImplemented
                arrays = True
            else:
                if not isinstance(pb, _ARRAYS) or pb.dtype.kind == "c":
                    return NotImplemented
                # an ndarray subclass computes by the ufunc: it may give its operators
                # another meaning
                arrays = arrays or isinstance(pb, np.ndarray)
            if b._grad_fn is not None:
                eb, needs = (b._grad_fn, b._output_nr), needs | 2
            elif b._requires_grad and enabled:
                eb, needs = _leaf_edge(b), needs | 2
            else:
                eb = None
        elif type(b) is float or type(b) is int:
            pb, eb = b, None
        elif isinstance(b, _ARRAYS) and b.dtype.kind != "c":
            if isinstance(b, np.matrix):
                raise matrix_error()
            pb, eb = b, None
            arrays = arrays or isinstance(b, np.ndarray)
        else:
            return NotImplemented
        out = op.impl(pa, pb) if arrays or op.scalar is None else op.scalar(pa, pb)
        primals, edges, key = [pa, pb], (ea, eb), needs | 4
    if type(out) is tuple:
        return NotImplemented
    # _new's fields, inline: a call costs as much as half of them
    t = _alloc(Tensor)
    t._data = out
    t.level = level
    t._vc = [0]
    t._output_nr = 0
    t._grad = None
    t._retains_grad = False
    t._accumulator = None
    t._view = None
    if not (needs and enabled):
        t._grad_fn, t._requires_grad = None, False
        return t
    needs, read, unread, read_out, n, partials = op.plans.get(key) or _plan(op, key)
    guards = ()
    for i in read:
        x = operands[i]
        if type(x) is Tensor:
            guards += ((x._vc, x._vc[0], i),)
    if read_out:
        guards += ((t._vc, 0, n),)
    if type(out) is _FLOAT64:
        # Scalars: every value kept as itself (a stand-in would cost more than it saves),
        # and the plan's partials that cost nothing to keep, for a one-multiply VJP: a
        # partial that is a value is its index into the values kept here, read in backward
        saved_out = [out]
    else:
        for i in unread:  # the primals list becomes the node's, with stand-ins
            p = primals[i]
            if type(p) is np.ndarray:
                s = _STAND_INS.get((p.shape, p.dtype))
                primals[i] = _stand_in(p) if s is None else s
        if read_out:
            saved_out = [out]
        else:
            s = _STAND_INS.get((out.shape, out.dtype)) if type(out) is np.ndarray else out
            saved_out = [_stand_in(out) if s is None else s]
        partials = None
    # OpNode's fields, inline (see OpNode): its __init__ is a frame per recorded op
    t._grad_fn = node = _alloc(OpNode)
    node.seq = next(_sequence)
    node.op = op
    node.params = _NO_PARAMS
    node.next_edges = edges
    node.needs = needs
    node.saved_in = primals
    node.saved_out = saved_out
    node.guards = guards
    node.num_outputs = 0
    node.kept_partials = partials
    node.retained = None
    t._requires_grad = True
    return t


# Why a view is cut from its base's history (View.cut), as the errors that refuse it begin
_NO_GRAD = (
    "a view made under no_grad, of a Tensor in the graph, cannot follow it (make the view and "
    "the write both inside the no_grad block, where the write is not recorded, or both outside "
    "it, where it is): "
)
_OF_SEVERAL = (
    "a view that is one output of several (np.split's pieces, np.atleast_1d(a, b)) cannot follow "
    "its base (index the base instead: a basic slice is a view that can): "
)
_CUT_VIEW_FIX = (
    ". Whether the write should reach the gradient is ambiguous, and PyTorch refuses it too; "
    "or write into a copy (v.clone())"
)
_ARRAYS = (np.ndarray, np.generic)
# module globals: np.float64 is a global and an attribute lookup, a hot loop's measurable cost
_ARRAY, _FLOAT64 = np.ndarray, np.float64
_ABSENT = object()  # the second operand of a unary op, in Tensor._elementwise
# The params of every node _elementwise records (elementwise rules take none): one
# read-only mapping rather than a new dict per node, 2% of the eager scalar chain
_NO_PARAMS = MappingProxyType({})


def _plan(op, key):
    """How a Tensor records op when the operands whose bits are set in key need a cotangent
    (key's highest bit, 1 << n for n operands, marks where they end), worked out once per
    op and pattern and kept in op.plans, as the tuple (needs, read, unread, read_out, n,
    partials):
    - needs: one tuple of bools, shared by every node of the pattern;
    - read, unread: the indices of the operands the VJP reads (saved, guarded when they are
      Tensors) and of those it does not (stand-ins); read_out: whether it reads the output;
    - partials, for a node over scalars (graph.stored_partials): None when the VJP runs the
      rule; else per operand its partial: a number (a float), the value of operand i or of
      the output for i == n (the int i, which the sweep reads in the node's saved values),
      or None for an operand nothing differentiates. The same tuple for every node."""
    n = key.bit_length() - 1
    needs = tuple(bool(key >> i & 1) for i in range(n))
    read_in, read_out = reads(op, needs)
    read = tuple(i for i in range(n) if read_in[i])
    unread = tuple(i for i in range(n) if not read_in[i])
    partials = stored_partials(op)
    if partials is not None:
        partials = tuple(d if need else None for d, need in zip(partials, needs))
    plan = op.plans[key] = (needs, read, unread, read_out, n, partials)
    return plan


_alloc = object.__new__


def _new(data, level, counter, t=None) -> Tensor:
    """A Tensor for a value (the constructor's checks, skipped: this is the hot path), or
    t itself given those fields. Tensor._process and _elementwise set the same fields
    inline: a field added here is added there too. One statement a field, there as here:
    a tuple assignment of four fields or more builds a tuple and unpacks it, 30% dearer."""
    if t is None:
        t = _alloc(Tensor)
    t._data = data
    t.level = level
    t._vc = counter
    t._grad_fn = None
    t._output_nr = 0
    t._requires_grad = False
    t._grad = None
    t._retains_grad = False
    t._accumulator = None
    t._view = None
    return t


def edge(t):
    """Where t's cotangent goes: (node, output_nr) of what produced it, its leaf's
    AccumulateGrad, or None when nothing upstream requires grad."""
    if t._view is not None and t._view.version != t._vc[0]:
        _refresh_view(t)
    if t._grad_fn is not None:
        return (t._grad_fn, t._output_nr)
    if t._requires_grad:
        return _leaf_edge(t)
    return None


def _leaf_edge(t):
    """The edge into a leaf's AccumulateGrad, made on first use and shared while it lives."""
    held = t._accumulator  # None, a weak reference to its AccumulateGrad, or its LeafHooks
    acc = held() if held is not None else None
    if acc is None:  # AccumulateGrad's fields, inline (a transform's leaves are new each call)
        acc = _alloc(AccumulateGrad)
        acc.seq = next(_sequence)
        acc.variable = t
        acc.next_edges = ()
        if type(held) is LeafHooks:
            held.attach(acc)
        else:
            acc.retained = STORES_ITSELF
            t._accumulator = weakref.ref(acc)
    return (acc, 0)


def _stand_in(p):
    """What a node keeps of a value its VJP does not read: a shape-and-dtype stand-in for an
    array, the value itself for a constant (a number, a NumPy scalar: immutable and small)."""
    if type(p) is not np.ndarray:
        return p
    key = (p.shape, p.dtype)
    s = _STAND_INS.get(key)
    if s is None:
        if len(_STAND_INS) >= 1024:  # bounded, as shaped_nan's own cache is
            _STAND_INS.clear()
        s = _STAND_INS[key] = shaped_nan(p.shape, p.dtype)
    return s


# (shape, dtype) -> shaped_nan's stand-in: the recording paths read it inline, since a
# plain dict's lookup costs half of a call into shaped_nan's lru_cache
_STAND_INS: dict = {}


def _set_history(t, node, output_nr):
    """t's value is now the output output_nr of node (after an in-place write); a retained
    gradient moves with it."""
    if t._retains_grad:  # hooks stay with the old node, as in PyTorch
        unretain(t._grad_fn, t._output_nr)
        retain(node, output_nr, t)
    t._grad_fn, t._output_nr, t._requires_grad = node, output_nr, True


def _mark_view(out, x, op, params, primal, level, of_several=False):
    """Make out a view of x's base when NumPy returned a view of x's memory. A view made
    under no_grad, or as one output of several (of_several), is cut: see View."""
    if not (type(x) is Tensor and x.level == level):
        return
    # the arrays under any lower levels' values (a Tensor of the level below, nested): a
    # view there is a view here too
    a, b = raw(out._data), raw(primal)
    if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.may_share_memory(a, b)):
        return
    step = (op, params, stand_in(primal), stand_in(out._data))
    if x._view is None:
        base, steps, cut = x, (step,), None
    else:
        base, steps, cut = x._view.base, x._view.steps + (step,), x._view.cut
    if cut is None and of_several:
        cut = (base._grad_fn, _OF_SEVERAL)
    elif cut is None and not _state.enabled:
        cut = (base._grad_fn, _NO_GRAD)
    out._vc = x._vc
    out._view = View(base, steps, x._vc[0], cut)


def _refresh_view(v):
    """v's memory was written since its history was set: its value is now the base's,
    read through the view ops, so its history is those ops applied to the base's. A view
    cut from the graph (made under no_grad) stays cut, unless a recorded write has given
    its base a new history: then it has none it could take, and using it raises."""
    view = v._view
    if view.cut is not None and view.base._grad_fn is not view.cut[0]:
        raise RuntimeError(
            view.cut[1] + "its base, or another view of the base, was then written in place "
            "with grad mode on" + _CUT_VIEW_FIX
        )
    view.version = v._vc[0]
    if view.cut is not None:  # its own history stays
        return
    base_edge = edge(view.base)
    if base_edge is None:
        v._grad_fn, v._requires_grad = None, False
        return
    link = base_edge
    for op, params, x, y in view.steps:
        link = (OpNode(op, params, (link,), (True,), [x], [y], (), 0), 0)
    _set_history(v, link[0], 0)


def _rebuilt(value, level, history, counter):
    """A saved value as a Tensor that leads back into the graph (for create_graph), sharing
    the version counter of the Tensor it was saved from (counter; None for a constant)."""
    t = _new(value, level, [0] if counter is None else counter)
    t._requires_grad = True
    node, nr = history
    if type(node) is AccumulateGrad:
        t._accumulator = weakref.ref(node)
    else:
        t._grad_fn, t._output_nr = node, nr
    return t


# Imported after this module's own names, which tensor.py imports (it and backward.py do the
# same), so any of the three can be imported first. A plain global: the recording paths test
# `type(x) is Tensor` on every operand
from ad.reverse.tensor import Tensor  # noqa: E402
