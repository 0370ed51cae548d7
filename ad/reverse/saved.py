"""Saved values: what a node keeps for its VJP, and the version check that guards it.

Every Tensor's memory carries a version counter: a one-element list ``[n]``, shared by the
views of that memory, that each in-place write bumps. A node saves a value with the counter's reading at
that moment, and `unpack` refuses the value if the counter has moved since: backward
raises instead of returning a gradient computed from overwritten numbers.
"""

from __future__ import annotations


class SavedValue:
    """A value a VJP reads, the counter of its memory, and the version it had when saved.

    ``history`` is the (node, output_nr) edge that produced it, or the AccumulateGrad of a
    leaf, so that a backward that records itself (create_graph) can rebuild a Tensor that
    still leads back through the graph.
    """

    __slots__ = ("value", "counter", "version", "history", "requires_grad")

    def __init__(self, value, counter, history, *, requires_grad: bool):
        self.value = value
        self.counter = counter
        self.version = counter[0]
        self.history = history
        self.requires_grad = requires_grad

    def unpack(self, node, what: str):
        if self.counter[0] != self.version:
            raise RuntimeError(
                f"a value needed to differentiate {node.op.name} ({node.name}), {what}, was "
                f"modified by an in-place operation (version {self.version} when recorded, "
                f"{self.counter[0]} now); the gradient would be wrong. Use an out-of-place "
                "operation (y = y + 1, not y += 1) or clone the value before modifying it."
            )
        return self.value
