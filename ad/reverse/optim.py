"""A minimal optimizer with PyTorch's contract: step() updates leaves in place, zero_grad() clears."""

from __future__ import annotations

from collections.abc import Iterable

from ad.reverse.grad_mode import no_grad
from ad.reverse.tensor import Tensor


class SGD:
    """p <- p - lr * (p.grad + weight_decay * p), with optional momentum (PyTorch's form)."""

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        self.params = list(params)
        if not self.params:
            raise ValueError("SGD got an empty parameter list; pass the Tensors to optimise")
        for p in self.params:
            if not (isinstance(p, Tensor) and p.is_leaf and p.requires_grad):
                raise TypeError("SGD optimises leaf Tensors with requires_grad=True")
        if lr <= 0:
            raise ValueError(f"SGD: lr must be positive, got {lr}")
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self._velocity: dict[int, object] = {}

    def step(self):
        with no_grad():
            for p in self.params:
                if p.grad is None:
                    continue
                d = p.grad.numpy()
                if self.weight_decay:
                    d = d + self.weight_decay * p.data
                if self.momentum:
                    v = self._velocity.get(id(p))
                    v = d.copy() if v is None else self.momentum * v + d
                    self._velocity[id(p)] = v
                    d = v
                p.data[...] -= self.lr * d
                p._vc[0] += 1

    def zero_grad(self, set_to_none: bool = True):
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.data[...] = 0.0
