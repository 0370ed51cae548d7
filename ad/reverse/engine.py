"""The reverse sweep: run a backward graph from its roots, each node once, without recursion.

A node runs when every node that consumes one of its outputs has run, so the cotangent of
each output is the sum of the contributions of all its uses (dependency counts over
``next_edges``, as PyTorch's engine). Cotangents wait in one buffer per (node, output);
None is a symbolic zero: no work is done for it, and a node whose outputs all received
zero is skipped.
"""

from __future__ import annotations

from ad.reverse.graph import AccumulateGrad, Sweep, accumulate


def _dependencies(roots) -> dict[int, int]:
    """For every node reachable from roots: how many edges of reachable nodes point at it."""
    deps: dict[int, int] = {}
    seen = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for edge in node.next_edges:
            if edge is not None:
                child = edge[0]
                deps[id(child)] = deps.get(id(child), 0) + 1
                if id(child) not in seen:
                    stack.append(child)
    return deps


def run_backward(roots, cotangents, *, retain_graph: bool, sweep: Sweep, inputs=None):
    """Pull cotangents from root edges back through the graph.

    Without ``inputs``, leaves receive their gradients (AccumulateGrad) and outputs that
    asked for retain_grad get theirs. With ``inputs`` (a list of edges), nothing is
    accumulated: the cotangent arriving at each of those edges is returned, None for zero.
    """
    buffers: dict[int, list] = {}
    for (node, nr), ct in zip(roots, cotangents):
        if ct is None:
            continue
        if sweep.conjugate and getattr(ct, "dtype", None) is not None and ct.dtype.kind == "c":
            ct = ct.conj()
        slot = buffers.setdefault(id(node), [None] * max(node.num_outputs, 1))
        slot[nr] = ct if slot[nr] is None else slot[nr] + ct
    root_nodes = list({id(node): node for node, _ in roots}.values())
    deps = _dependencies(root_nodes)
    captured = None
    if inputs is not None:
        captured = {(id(node), nr): None for node, nr in inputs}
    ready = [node for node in root_nodes if deps.get(id(node), 0) == 0]
    while ready:
        node = ready.pop()
        cts = buffers.pop(id(node), None)
        outs = ()
        if captured is not None:
            if cts is not None:
                for nr, ct in enumerate(cts):
                    if (id(node), nr) in captured:
                        captured[(id(node), nr)] = ct
            if type(node) is AccumulateGrad:
                continue
        elif node.retained is not None and cts is not None:
            for nr, ref in node.retained.items():
                t = ref()
                if t is not None and cts[nr] is not None:
                    accumulate(t, cts[nr], sweep)
        if cts is not None and any(ct is not None for ct in cts):
            outs = node.apply(cts, sweep)
            if not retain_graph:
                node.release()
        for i, edge in enumerate(node.next_edges):
            if edge is None:
                continue
            child, nr = edge
            g = outs[i] if outs else None
            if g is not None:
                slot = buffers.setdefault(id(child), [None] * max(child.num_outputs, 1))
                slot[nr] = g if slot[nr] is None else slot[nr] + g
            left = deps[id(child)] - 1
            deps[id(child)] = left
            if left == 0:
                ready.append(child)
    if captured is not None:
        return [captured[(id(node), nr)] for node, nr in inputs]
    return None
