"""Saved values: what a node keeps for its VJP, and the version check that guards it.

Every Tensor's memory carries a version counter: a one-element list ``[n]``, shared by the
views of that memory, that each in-place write bumps. A node keeps the raw values its VJP
reads, and for each one that came from a Tensor a guard ``(counter, version, index)``: the
counter's reading when the value was saved. `check` refuses to run the VJP if a counter
has moved since: backward raises instead of returning a gradient computed from
overwritten numbers. Plain tuples and lists, not objects: this runs once per op.
"""

from __future__ import annotations


def check(node, guards: tuple, num_inputs: int) -> None:
    """Raise if a value node saved was written in place since (index < num_inputs: an
    input; otherwise output index - num_inputs)."""
    for counter, version, index in guards:
        if counter[0] != version:
            what = f"its input {index}" if index < num_inputs else f"its output {index - num_inputs}"
            raise RuntimeError(
                f"a value needed to differentiate {node.op.name} ({node.name}), {what}, was "
                f"modified by an in-place operation (version {version} when recorded, "
                f"{counter[0]} now); the gradient would be wrong. Use an out-of-place "
                "operation (y = y + 1, not y += 1) or clone the value before modifying it."
            )
