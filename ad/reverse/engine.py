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

from ad.reverse.graph import ONE, STORES_ITSELF, AccumulateGrad, OpNode, Sweep, accumulate
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


def run_backward(roots, cotangents, *, retain_graph: bool, sweep: Sweep, inputs=None, only=None):
    """Pull cotangents from root edges back through the graph.

    Without ``inputs``, leaves receive their gradients (AccumulateGrad) and outputs that
    asked for retain_grad get theirs. With ``inputs`` (a list of edges), nothing is
    accumulated: the cotangent arriving at each of those edges is returned, None for zero.
    With ``only`` (a list of edges), the sweep is PyTorch's selective one (backward(inputs=),
    autograd.grad): it runs only the nodes on a path from the roots to those edges, a named
    node runs itself only if it leads to another one, and retain_grad outputs on the way get
    their gradients even with ``inputs``. Hooks run on every node that runs (before its
    cotangents are captured, stored or pulled through it).
    """
    buffers: dict = {}  # node -> its cotangents so far, one per output
    pending: list = []  # (-seq, node) of the nodes in buffers (seq is unique)
    # node -> (capture its cotangents, run it) for the nodes a sweep treats apart (the inputs
    # it returns, a selective sweep's targets), or None for a node a selective sweep skips.
    # No plan in a plain backward.
    plan = captured = None
    stores = True  # whether retained outputs get their .grad: not in a transform's pullback
    if only is not None:
        plan = _selective(roots, only, () if inputs is None else inputs)
        captured = None if inputs is None else {}
    elif inputs is not None:
        plan, captured, stores = {}, {}, False
        for e in inputs:  # a loop, not a comprehension: no frame of its own
            if e is None:
                continue
            if type(e[0]) is AccumulateGrad and e[0].retained is STORES_ITSELF:
                # a leaf without hooks: its cotangents are summed in a buffer that is never run
                # (there are no edges to pull them on through, no hooks to call, and nothing is
                # accumulated into .grad when cotangents are returned), so it stays off the heap
                buffers[e[0]] = captured[e[0]] = [None]
            else:
                plan[e[0]] = _CAPTURE
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
        if node.retained is not None or plan is not None and node in plan:
            # the nodes treated apart: with hooks or retained outputs, leaves, a plan's
            if plan is not None:
                todo = plan.get(node, _RUN)
                if todo is None:
                    continue  # off every path to what a selective sweep computes
                if todo[0]:
                    captured[node] = cts  # the list: it holds what the hooks below return
            retained = node.retained
            if retained:  # hooks: what they return is what is kept and pulled on
                for nr, hooks in retained.items():
                    cts[nr] = hooks.run(cts[nr], sweep)
            if stores and retained is not None:
                # A node that stores gradients may keep, as a .grad, a cotangent that nothing
                # outside this buffer holds: not another node's buffer (add hands one array to
                # both operands), not a .grad stored before, not the caller, not a rule that
                # kept it. Such an array is the sweep's alone, and .grad may be updated in
                # place later.
                owned = set()
                for nr in range(len(cts)):
                    if cts[nr] is not None and _references(cts[nr], None) <= _BUFFER_ONLY:
                        owned.add(id(cts[nr]))
                sweep.owned = owned
                for nr, hooks in retained.items():  # outputs that asked for retain_grad
                    t = None if hooks.keeper is None else hooks.keeper()
                    if t is not None and cts[nr] is not None:
                        accumulate(t, cts[nr], sweep)
            if plan is not None and (not todo[1] or captured is not None and type(node) is AccumulateGrad):
                continue  # not run; nothing is accumulated into a leaf when cotangents are returned
        # A buffer is made only for a cotangent that is not None, so a one-output node's is
        # never all zero; a multi-output node's may be, and is then skipped.
        if cts[0] is None and all(ct is None for ct in cts):
            continue
        edges = node.next_edges
        if type(node) is OpNode:
            partials = node.kept_partials
            if partials is not None and not create_graph and node.saved_in is not None:
                # partials kept at record time (scalar ops): the VJP is one multiply per
                # operand, run here rather than through apply's frame, which would run the rule
                for counter, version, _ in node.guards:
                    if counter[0] != version:
                        node.apply(cts, sweep)  # raises the in-place error
                ct = cts[0]
                outs = []
                for p in partials:
                    if p is None or p is ONE:
                        outs.append(None if p is None else ct)
                    elif type(p) is int:  # the value of operand p, or of the output for p == n
                        saved = node.saved_in
                        outs.append(ct * (saved[p] if p < len(saved) else node.saved_out[0]))
                    else:
                        outs.append(ct * p)
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
    found, late = [], set()
    for e in inputs:
        cts = None if e is None else captured.get(e[0])
        if cts is not None and e[0] not in plan and e[0].retained and e[0] not in late:
            # a leaf kept off the heap whose hooks were registered during the sweep (by another
            # tensor's hook): they run on its total, as they would had it run as a node
            late.add(e[0])
            for nr, hooks in e[0].retained.items():
                if cts[nr] is not None:
                    cts[nr] = hooks.run(cts[nr], sweep)
        found.append(None if cts is None else cts[e[1]])
    return found


# What run_backward's plan says of a node: (capture its cotangents, run it)
_RUN = (False, True)  # a node no plan names: run as usual
_CAPTURE = (True, True)  # an input of a pullback: captured, and run unless it is a leaf's


def _selective(roots, targets, inputs) -> dict:
    """The plan of a sweep that runs only what leads from the roots to the targets' nodes
    (PyTorch's exec_info): every node reachable from the roots that leads to none is
    skipped (None); a target's hooks and retained outputs run, it is captured if it is one
    of the inputs, and it runs if it leads to another target, or if it is a leaf's
    AccumulateGrad that backward(inputs=) accumulates into (a target not captured)."""
    reached, seen = [], set()
    stack = [e[0] for e in roots if e is not None]
    while stack:  # no recursion: a chain of 100,000 nodes is fine
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        reached.append(node)
        for e in node.next_edges:
            if e is not None and e[0] not in seen:
                stack.append(e[0])
    wanted = {e[0] for e in targets if e is not None}
    capture = {e[0] for e in inputs if e is not None}
    needed, plan = set(), {}
    reached.sort(key=_seq)  # every edge leads to a lower number: children are decided first
    for node in reached:
        leads = False
        for e in node.next_edges:
            if e is not None and e[0] in needed:
                leads = True
                break
        if node in wanted:
            needed.add(node)
            kept = node in capture
            plan[node] = (kept, leads or not kept and type(node) is AccumulateGrad)
        elif leads:
            needed.add(node)
        else:
            plan[node] = None
    return plan


def _seq(node):
    return node.seq
