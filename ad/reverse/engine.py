"""The reverse sweep: run a backward graph from its roots, each node once, without recursion.

A node runs when every node that consumes one of its outputs has run, so the cotangent of
each output is the sum of the contributions of all its uses. Consumers are made after
what they consume, so their sequence numbers are higher: running the nodes that received
a cotangent in decreasing sequence order (a heap) does that, with no dependency count
over the graph first, and never visits a node that received nothing. Cotangents wait in
one buffer per (node, output); None is a symbolic zero: no work is done for it, and a
node whose outputs all received zero is skipped.
"""

from __future__ import annotations

import sys
from heapq import heappop, heappush

import numpy as np

from ad.reverse.graph import AccumulateGrad, Sweep, accumulate
from ad.trace import is_complex


def _add(total, g):
    """total + g, written into total when nothing but the buffer holds it.

    A cotangent array a rule made is referenced by this buffer alone unless it was handed
    to several operands (add passes one array to both) or someone kept it; CPython's
    reference count says which, as NumPy's own elision of temporaries reads it. Only a
    plain array that owns its memory, of g's shape and dtype, is written.
    """
    if (
        type(total) is np.ndarray
        and type(g) is np.ndarray
        and sys.getrefcount(total) <= _BUFFER_ONLY
        and total.base is None
        and total.flags.writeable
        and total.shape == g.shape
        and total.dtype == g.dtype
    ):
        total += g
        return total
    return total + g


def _references(total, g):
    """getrefcount(total) as _add sees it (called the same way: a buffer's entry)."""
    return sys.getrefcount(total)


def _calibrate() -> int:
    """What getrefcount reports inside _add when only a buffer holds total, measured on this
    interpreter (how many references a call adds differs between Python versions), with
    tracing off: a debugger that reads frame locals adds references, which would make the
    threshold too high. Under such a tracer later, counts only rise: no array is ever taken
    for unshared that is not."""
    before = sys.gettrace()
    sys.settrace(None)
    try:
        buffer = [np.empty(0)]
        return _references(buffer[0], None)
    finally:
        sys.settrace(before)


_BUFFER_ONLY = _calibrate()


def run_backward(roots, cotangents, *, retain_graph: bool, sweep: Sweep, inputs=None):
    """Pull cotangents from root edges back through the graph.

    Without ``inputs``, leaves receive their gradients (AccumulateGrad) and outputs that
    asked for retain_grad get theirs. With ``inputs`` (a list of edges), nothing is
    accumulated: the cotangent arriving at each of those edges is returned, None for zero.
    """
    buffers: dict = {}
    pending: list = []  # (-seq, node) of every node holding a buffer (seq is unique)
    # Which cotangents a .grad may keep without a copy matters only where gradients are
    # stored (leaves, retained outputs): with ``inputs`` none are, and no count is kept.
    deliveries = sweep.deliveries if inputs is None else None
    for (node, nr), ct in zip(roots, cotangents):
        if ct is None:
            continue
        if deliveries is not None:
            deliveries[id(ct)] = 2  # the caller's: never kept without a copy
        if sweep.conjugate and is_complex(ct):
            ct = ct.conj()
        slot = buffers.get(node)
        if slot is None:
            slot = buffers[node] = [None] * (node.num_outputs or 1)
            heappush(pending, (-node.seq, node))
        slot[nr] = ct if slot[nr] is None else slot[nr] + ct
    ct = None  # no stray reference: reference counts below decide what may be written
    captured = None if inputs is None else {edge: None for edge in inputs}
    while pending:
        node = heappop(pending)[1]
        cts = buffers.pop(node)
        if captured is not None:
            for nr, ct in enumerate(cts):
                if (node, nr) in captured:
                    captured[(node, nr)] = ct
            if type(node) is AccumulateGrad:
                continue
        elif deliveries is not None and (type(node) is AccumulateGrad or node.retained is not None):
            # A .grad may keep a cotangent delivered once only if nothing outside the sweep
            # holds it too (a rule that returns an array it keeps, a cached zero)
            for nr in range(len(cts)):
                if cts[nr] is not None and _references(cts[nr], None) > _BUFFER_ONLY:
                    deliveries[id(cts[nr])] = 2
        if captured is None and node.retained is not None:
            for nr, ref in node.retained.items():
                t = ref()
                if t is not None and cts[nr] is not None:
                    accumulate(t, cts[nr], sweep)
        # A buffer is made only for a cotangent that is not None, so a one-output node's is
        # never all zero; a multi-output node's may be, and is then skipped.
        if len(cts) > 1 and all(ct is None for ct in cts):
            continue
        outs = node.apply(cts, sweep)
        if not retain_graph:
            node.release()
        for edge, g in zip(node.next_edges, outs):
            if edge is None or g is None:
                continue
            child, nr = edge
            slot = buffers.get(child)
            if slot is None:
                slot = buffers[child] = [None] * (child.num_outputs or 1)
                heappush(pending, (-child.seq, child))
            if deliveries is not None and (type(child) is AccumulateGrad or child.retained is not None):
                deliveries[id(g)] = deliveries.get(id(g), 0) + 1
                if slot[nr] is not None:
                    g = slot[nr] + g
                    deliveries[id(g)] = 1
                slot[nr] = g
            elif slot[nr] is None:
                slot[nr] = g
            else:
                slot[nr] = _add(slot[nr], g)
        outs = g = None  # no stray reference to a cotangent (see ct above)
    if captured is not None:
        return [captured[edge] for edge in inputs]
    return None
