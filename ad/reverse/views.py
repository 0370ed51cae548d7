"""Views: a Tensor that shares memory with a base Tensor, and the view ops that lead to it.

A view and its base share one version counter, so a value saved through either is caught
when either is written in place. An in-place write through a view is recorded into the
base's history with a `CopySlices` node, which reads and transposes the region through
the chain of view ops kept here, each run by its registered rule.
"""

from __future__ import annotations

import numpy as np

from ad import rules


class View:
    """The base a view's memory belongs to, and the view ops that lead from the base to the
    view, in order: (op, params, and stand-ins for the op's input and output)."""

    __slots__ = ("base", "steps", "version")

    def __init__(self, base, steps, version):
        self.base = base
        self.steps = steps
        self.version = version  # of the shared counter when the view's history was last set

    def forward(self, x, batched=False):
        """x read through the view ops (x shaped like the base, or k of them)."""
        for op, params, x_in, y in self.steps:
            x = rules.jvp(op, [x], [x_in], y, params, batched)
        return x

    def transpose(self, ct, batched=False):
        """The transpose of `forward`: ct shaped like the view, placed into the base's shape."""
        for op, params, x_in, y in reversed(self.steps):
            (ct,) = rules.vjp(op, ct, [x_in], y, params, batched)
        return ct

    def region(self) -> np.ndarray:
        """A boolean mask, shaped like the base, of the elements the view covers."""
        ones = np.ones(np.shape(self.steps[0][2]))  # a mask: its dtype is not the base's concern
        return self.transpose(self.forward(ones)) != 0
