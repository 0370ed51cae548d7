"""The tape: one `Node` per recorded op, and `backprop`, the reverse sweep over them.

There is no global tape object: each Tensor points at the node that made it and each node
at its input Tensors, so the graph of one output is what is reachable from it (define by
run, as in PyTorch). `backprop` orders that graph without recursion and sums the
contribution of every use of a value before passing its cotangent on.
"""

from __future__ import annotations

import weakref

import numpy as np

from ad import rules

FREED = (
    "backward through the graph a second time: its saved values were freed by the first "
    "backward. Pass retain_graph=True to the first backward() (or use ad.vjp, whose "
    "vjp_fn may be called many times)."
)


class Node:
    """A recorded op: its inputs, what its VJP needs saved, and the versions it saw."""

    __slots__ = (
        "op",
        "inputs",
        "needs",
        "primals",
        "out",
        "params",
        "versions",
        "outputs",
        "saves",
        "retains",
    )

    def __init__(self, op, inputs, needs, primals, out, params):
        self.op = op
        self.inputs = inputs  # per operand: the Tensor at this level, or None for a constant
        self.needs = needs  # per operand: does its cotangent flow anywhere
        self.primals = primals
        self.out = out
        self.params = params
        self.saves = op.reads_values
        # The version of every input this op's VJP reads, to catch in-place changes later.
        self.versions = [None if t is None else t._version for t in inputs] if self.saves else None
        self.outputs: list = []  # weakrefs to the output Tensors, set by the engine
        self.retains = False  # an output asked for retain_grad()

    @property
    def name(self) -> str:
        return "".join(w.capitalize() for w in self.op.name.split("_")) + "Backward"

    def __repr__(self):
        return f"<{self.name}>"

    @property
    def next_nodes(self):
        return tuple(None if t is None else t.grad_fn for t in self.inputs or ())

    def check_versions(self):
        for i, (t, v) in enumerate(zip(self.inputs, self.versions)):
            if t is not None and t._version != v:
                raise RuntimeError(_modified(self, f"its input {i}", v, t._version))

    def free(self):
        self.primals = self.out = self.inputs = None


def _modified(node, what, before, now) -> str:
    return (
        f"a value needed to differentiate {node.op.name} ({node.name}), {what}, was "
        f"modified by an in-place operation (version {before} when recorded, {now} now); the "
        "gradient would be wrong. Use an out-of-place operation (y = y + 1, not y += 1) or "
        "clone the value before modifying it."
    )


def _toposort(roots):
    """Nodes reachable from roots, each after every node that consumes its output."""
    order, seen = [], set()
    stack = [(node, False) for node in roots]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.inputs is None:
            raise RuntimeError(FREED)
        stack.append((node, True))
        for t in node.inputs:
            if t is not None and t._node is not None and id(t._node) not in seen:
                stack.append((t._node, False))
    return order[::-1]


def _add(a, b):
    return b if a is None else a + b


def backprop(roots, sink, *, batched=False, retain_graph=False, create_graph=False, wrap=None):
    """Reverse sweep from roots [(tensor, cotangent)]; leaf cotangents go to sink(tensor, ct).

    With ``create_graph`` the rules run on the recorded Tensors themselves, so the sweep is
    recorded too (``wrap`` turns a plain cotangent into such a Tensor). Otherwise they run
    on the unboxed values, which are plain arrays, or Tensors and Duals of lower levels
    when this sweep is nested inside another transform.
    """
    pending: dict[int, list] = {}
    root_nodes = []
    for t, ct in roots:
        if create_graph and wrap is not None:
            ct = wrap(ct)
        if t._node is None:
            sink(t, ct)
            continue
        slot = pending.setdefault(id(t._node), [None] * len(t._node.outputs))
        slot[t._index] = _add(slot[t._index], ct)
        root_nodes.append(t._node)
    for node in _toposort(root_nodes):
        cts = pending.pop(id(node))
        if node.saves:
            node.check_versions()
        if node.retains or create_graph:
            outs = [ref() for ref in node.outputs]
            for out_t, ct in zip(outs, cts):
                if out_t is not None and out_t._retains_grad and ct is not None:
                    sink(out_t, ct)
        ct = _fill(cts, node.out, batched) if isinstance(node.out, tuple | list) else cts[0]
        if create_graph:
            primals = [p if t is None else t for p, t in zip(node.primals, node.inputs)]
            out = _live(outs, node.out)
        else:
            primals, out = node.primals, node.out
        in_cts = rules.vjp(node.op, ct, primals, out, node.params, batched, node.needs)
        for t, need, g in zip(node.inputs, node.needs, in_cts):
            if not need or g is None:
                continue
            if t._node is None:
                sink(t, g)
            else:
                slot = pending.setdefault(id(t._node), [None] * len(t._node.outputs))
                slot[t._index] = _add(slot[t._index], g)
        if not retain_graph:
            node.free()


def _live(tensors, values):
    """The output Tensors where they are still alive (to record through), else the values."""
    if not isinstance(values, tuple | list):
        return values if tensors[0] is None else tensors[0]
    return type(values)(v if t is None else t for t, v in zip(tensors, values))


def _fill(cts, outs, batched):
    """Zero cotangents for the outputs of a multi-output op that nothing used."""
    k = next(rules.shape(c)[0] for c in cts if c is not None) if batched else None
    return tuple(
        np.zeros(((k,) if batched else ()) + tuple(rules.shape(o))) if c is None else c
        for c, o in zip(cts, outs)
    )


def watch(node, outputs):
    """Record weak references from node to the Tensors it produced."""
    node.outputs = [weakref.ref(t) for t in outputs]
    for i, t in enumerate(outputs):
        t._node, t._index = node, i


def detach_output(node, index, snapshot):
    """An in-place change is about to overwrite output `index` of node: give the node the
    snapshot of the old value instead, so its own VJP stays right (only later readers of
    the overwritten value are caught, by their version check)."""
    if node.out is not None:
        if not isinstance(node.out, tuple | list):
            node.out = snapshot._data
        else:
            node.out = type(node.out)(snapshot._data if i == index else o for i, o in enumerate(node.out))
    node.outputs[index] = weakref.ref(snapshot)
