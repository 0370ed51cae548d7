"""Views: a Tensor that shares memory with a base Tensor, and the view ops that lead to it.

A view and its base share one version counter, so a value saved through either is caught
when either is written in place. An in-place write through a view is recorded into the
base's history with a `CopySlices` node, which reads and transposes the region through
the chain of view ops kept here, each run by its registered rule.
"""

from __future__ import annotations

import numpy as np

from ad import rules
from ad.trace import is_complex


class View:
    """The base a view's memory belongs to, and the view ops that lead from the base to the
    view, in order: (op, params, and stand-ins for the op's input and output).

    A view made under no_grad, one output of an op that returns several views (np.split),
    or a view of either, is cut from its base's history (PyTorch's CreationMeta NO_GRAD_MODE
    and MULTI_OUTPUT_NODE): ``cut`` holds the base's history when the view was made, and the
    view keeps its own history (none for no_grad) while the base keeps that one. A recorded
    write through it, or using it after a recorded write to its base, is refused: whether
    the write should reach the graph is ambiguous, and guessing would give a wrong gradient.
    A cut view's steps are never read."""

    __slots__ = ("base", "steps", "version", "cut")

    def __init__(self, base, steps, version, cut=None):
        self.base = base
        self.steps = steps
        self.version = version  # of the shared counter when the view's history was last set
        self.cut = cut  # None, or (the base's grad_fn then, why it is cut: the errors' first words)

    def steps_only(self) -> View:
        """The same view ops without the base (what a CopySlices node keeps)."""
        return View(None, self.steps, self.version, self.cut)

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

    @property
    def is_part(self) -> bool:
        """Whether the view is a real part of complex memory (`.real`, `.imag`), not a
        selection of elements."""
        return any(x.dtype.kind == "c" and y.dtype.kind != "c" for _, _, x, y in self.steps)

    def read(self, ct, batched=False):
        """The cotangent of what was written through the view, given the base's.

        Cotangents follow JAX's convention, in which the transpose of an R-linear map t -> a t
        + b conj(t) is ct -> a ct + conj(b) conj(ct); so a map that is not C-linear (taking a
        real part) is read as conj(V(conj(ct))), which for a selection of elements is V(ct)."""
        if not is_complex(ct):
            return self.forward(ct, batched)
        return np.conj(self.forward(np.conj(ct), batched))

    def outside(self, ct, region, batched=False):
        """The cotangent of the base's old value, given the new base's: zero where the view
        wrote. For a real part of complex memory the rest is the other part: ct minus the
        transpose of what `read` takes."""
        if self.is_part:
            return ct - self.transpose(self.read(ct, batched), batched)
        return np.where(region, 0, ct)
