"""The reverse sweep: run a backward graph from its roots, each node once, without recursion.

A node runs when every node that consumes one of its outputs has run, so the cotangent of
each output is the sum of the contributions of all its uses (dependency counts over
``next_edges``, as PyTorch's engine). Cotangents wait in one buffer per (node, output);
None is a symbolic zero: no work is done for it, and a node whose outputs all received
zero is skipped.
"""

from __future__ import annotations

from ad.reverse.graph import AccumulateGrad, Sweep, accumulate
from ad.trace import is_complex


def _dependencies(roots) -> dict:
    """For every node reachable from roots: how many edges of reachable nodes point at it."""
    deps: dict = {}
    expanded = set(roots)
    stack = list(roots)
    while stack:
        for edge in stack.pop().next_edges:
            if edge is not None:
                child = edge[0]
                deps[child] = deps.get(child, 0) + 1
                if child not in expanded:
                    expanded.add(child)
                    stack.append(child)
    return deps


def run_backward(roots, cotangents, *, retain_graph: bool, sweep: Sweep, inputs=None):
    """Pull cotangents from root edges back through the graph.

    Without ``inputs``, leaves receive their gradients (AccumulateGrad) and outputs that
    asked for retain_grad get theirs. With ``inputs`` (a list of edges), nothing is
    accumulated: the cotangent arriving at each of those edges is returned, None for zero.
    """
    buffers: dict = {}
    # Which cotangents a leaf may keep without a copy matters only where leaves accumulate:
    # with ``inputs`` nothing does, and the count is not kept.
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
            slot = buffers[node] = [None] * max(node.num_outputs, 1)
        slot[nr] = ct if slot[nr] is None else slot[nr] + ct
    root_nodes = list(dict.fromkeys(node for node, _ in roots))
    deps = _dependencies(root_nodes)
    captured = None if inputs is None else {edge: None for edge in inputs}
    ready = [node for node in root_nodes if node not in deps]
    while ready:
        node = ready.pop()
        cts = buffers.pop(node, None)
        outs = None
        if captured is not None:
            if cts is not None:
                for nr, ct in enumerate(cts):
                    if (node, nr) in captured:
                        captured[(node, nr)] = ct
            if type(node) is AccumulateGrad:
                continue
        elif node.retained is not None and cts is not None:
            for nr, ref in node.retained.items():
                t = ref()
                if t is not None and cts[nr] is not None:
                    accumulate(t, cts[nr], sweep)
        # A buffer is made only for a cotangent that is not None, so a one-output node's is
        # never all zero; a multi-output node's may be, and is then skipped.
        if cts is not None and (len(cts) == 1 or any(ct is not None for ct in cts)):
            outs = node.apply(cts, sweep)
            if not retain_graph:
                node.release()
        for i, edge in enumerate(node.next_edges):
            if edge is None:
                continue
            child, nr = edge
            if outs is not None:
                g = outs[i]
                if g is not None:
                    if deliveries is not None:
                        deliveries[id(g)] = deliveries.get(id(g), 0) + 1
                    slot = buffers.get(child)
                    if slot is None:
                        slot = buffers[child] = [None] * max(child.num_outputs, 1)
                    if slot[nr] is None:
                        slot[nr] = g
                    else:
                        total = slot[nr] + g
                        if deliveries is not None:
                            deliveries[id(total)] = 1
                        slot[nr] = total
            left = deps[child] - 1
            deps[child] = left
            if left == 0:
                ready.append(child)
    if captured is not None:
        return [captured[edge] for edge in inputs]
    return None
