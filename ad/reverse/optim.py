"""A minimal optimizer with PyTorch's contract: step() updates leaves in place, zero_grad() clears."""

from __future__ import annotations

from collections.abc import Iterable

from ad.reverse.grad_mode import no_grad
from ad.reverse.tensor import Tensor


class SGD:
    """torch.optim.SGD: with d = p.grad + weight_decay * p and, given momentum, the buffer
    b <- momentum * b + (1 - dampening) * d (b = d at the first step), p <- p - lr * s where
    s is b, or d + momentum * b with nesterov=True, or d without momentum.

    Leaves that do not require grad (a frozen layer) may be listed: a parameter whose .grad
    is None is skipped, as in PyTorch."""

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ):
        self.params = list(params)
        if not self.params:
            raise ValueError("SGD got an empty parameter list; pass the Tensors to optimise")
        for p in self.params:
            if not isinstance(p, Tensor):
                raise TypeError(f"SGD optimises Tensors; got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(
                    "SGD can't optimise a Tensor computed from others (not a leaf); "
                    "optimise the leaves it was computed from"
                )
        for name, value in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay)):
            if value < 0:
                raise ValueError(f"SGD: {name} must be 0 or more, got {value}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov=True needs a momentum > 0 and dampening=0")
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov
        self._buffers: dict[int, object] = {}  # id(p) -> its momentum buffer

    def step(self):
        with no_grad():
            for p in self.params:
                if p.grad is None:
                    continue
                d = p.grad.data  # its history, if backward recorded one, plays no part
                if self.weight_decay:
                    d = d + self.weight_decay * p.data
                if self.momentum:
                    b = self._buffers.get(id(p))
                    if b is None:
                        b = d.copy()
                    else:
                        b = self.momentum * b + (1 - self.dampening) * d
                    self._buffers[id(p)] = b
                    d = d + self.momentum * b if self.nesterov else b
                p.data[...] -= self.lr * d
                p._vc[0] += 1

    def zero_grad(self, set_to_none: bool = True):
        """Clear every .grad: None, or with set_to_none=False zeros in place (a .grad with
        history is detached first, as PyTorch's zero_grad does)."""
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                g = p.grad
                if g.grad_fn is not None:
                    g.detach_()
                else:
                    g.requires_grad_(False)
                with no_grad():
                    g.zero_()
