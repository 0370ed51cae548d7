"""Saved values: what a node keeps for its VJP, and the version check that guards it.

Every Tensor's memory carries a version counter: a one-element list ``[n]``, shared by the
views of that memory, that each in-place write bumps. A node keeps the raw values its VJP
reads, and for each one that came from a Tensor a guard ``(counter, version, index)``: the
counter's reading when the value was saved. A node refuses to run its VJP if a counter
has moved since (`modified` is the error): backward raises instead of returning a gradient
computed from overwritten numbers. Plain tuples and lists, not objects: this runs once per op.
"""

from __future__ import annotations


def modified(node, index: int, num_inputs: int, version: int, now: int) -> RuntimeError:
    """The error for a saved value written in place after it was saved."""
    what = f"its input {index}" if index < num_inputs else f"its output {index - num_inputs}"
    return RuntimeError(
        f"a value needed to differentiate {node.op.name} ({node.name}), {what}, was "
        f"modified by an in-place operation (version {version} when recorded, "
        f"{now} now); the gradient would be wrong. Use an out-of-place "
        "operation (y = y + 1, not y += 1) or clone the value before modifying it."
    )
