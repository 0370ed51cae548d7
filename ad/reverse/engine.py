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
from heapq import heappop, heappush, heapreplace

import numpy as np

from ad.reverse.graph import ONE, AccumulateGrad, OpNode, Sweep, accumulate
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
    buffers: dict = {}  # node -> its cotangents so far, one per output
    pending: list = []  # (-seq, node) of the nodes in buffers (seq is unique)
    wanted = captured = None
    if inputs is not None:
        wanted = set()  # nodes whose cotangents are returned
        for e in inputs:
            if e is not None:
                wanted.add(e[0])
        captured = {}
    # The next node to run, and its cotangents, when known without the heap: the first new
    # child of the node just run, when no pending node is newer (along a chain, every node).
    # No later node can reach it, so it skips the heap and the buffers.
    nxt = nxt_cts = None
    # The roots' cotangents are handed out as a node's outputs are, to the roots' edges.
    edges = roots
    create_graph = sweep.create_graph
    outs = [ct.conj() if is_complex(ct) else ct for ct in cotangents] if sweep.conjugate else list(cotangents)
    while True:
        i = 0
        for edge in edges:  # outs has one cotangent per edge: indexed, as zip costs 0.1 us a node
            g = outs[i]
            i += 1
            if g is None or edge is None:
                continue
            child, nr = edge
            slot = nxt_cts if child is nxt else buffers.get(child)
            if slot is None:
                if child.num_outputs > 1:
                    slot = [None] * child.num_outputs
                    slot[nr] = g
                else:
                    slot = [g]
                if nxt is None:
                    nxt, nxt_cts = child, slot
                else:
                    buffers[child] = slot
                    heappush(pending, (-child.seq, child))
            elif slot[nr] is None:
                slot[nr] = g
            elif type(slot[nr]) is np.ndarray:
                slot[nr] = _add(slot[nr], g)
            else:  # a NumPy scalar, a Tensor (create_graph): no array to write into
                slot[nr] = slot[nr] + g
        g = None  # no stray reference: reference counts decide what may be written
        if nxt is None:
            if not pending:
                break
            node = heappop(pending)[1]
            cts = buffers.pop(node)
        elif pending and pending[0][0] < -nxt.seq:  # a pending node is newer
            buffers[nxt] = nxt_cts
            node = heapreplace(pending, (-nxt.seq, nxt))[1]
            cts = buffers.pop(node)
        else:
            node, cts = nxt, nxt_cts
        nxt = nxt_cts = None
        edges = outs = ()  # what a node skipped below hands out (and no stray reference)
        if wanted is not None:
            if node in wanted:
                captured[node] = cts
            if type(node) is AccumulateGrad:
                continue
        elif node.retained is not None:
            # A node that stores gradients may keep, as a .grad, a cotangent that nothing
            # outside this buffer holds: not another node's buffer (add hands one array to
            # both operands), not a .grad stored before, not the caller, not a rule that kept
            # it. Such an array is the sweep's alone, and .grad may be updated in place later.
            owned = set()
            for nr in range(len(cts)):
                if cts[nr] is not None and _references(cts[nr], None) <= _BUFFER_ONLY:
                    owned.add(id(cts[nr]))
            sweep.owned = owned
            for nr, ref in node.retained.items():  # outputs that asked for retain_grad
                t = ref()
                if t is not None and cts[nr] is not None:
                    accumulate(t, cts[nr], sweep)
        # A buffer is made only for a cotangent that is not None, so a one-output node's is
        # never all zero; a multi-output node's may be, and is then skipped.
        if cts[0] is None and all(ct is None for ct in cts):
            continue
        edges = node.next_edges
        if type(node) is OpNode:
            partials = node.partials
            if partials is not None and not create_graph and node.saved_in is not None:
                # partials kept at record time (scalar ops): the VJP is one multiply per
                # operand, run here rather than through apply's frame, which would run the rule
                for counter, version, _ in node.guards:
                    if counter[0] != version:
                        node.apply(cts, sweep)  # raises the in-place error
                ct = cts[0]
                outs = []
                for p in partials:
                    outs.append(None if p is None else ct if p is ONE else ct * p)
            else:
                outs = node.apply(cts, sweep)
            if not retain_graph:
                node.saved_in = node.saved_out = None
        else:
            outs = node.apply(cts, sweep)
            if not retain_graph:
                node.release()
    if captured is None:
        return None
    found = []
    for e in inputs:
        cts = None if e is None else captured.get(e[0])
        found.append(None if cts is None else cts[e[1]])
    return found
