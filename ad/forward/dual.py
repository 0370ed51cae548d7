"""`Dual`: a primal and its tangent (or k tangents along a leading batch axis) at one level."""

from __future__ import annotations

import weakref

import numpy as np

from ad import rules
from ad.trace import EAGER_DUAL, Box, apply, matrix_error, raw


class Dual(Box):
    """primal + tangent * eps, with eps^2 = 0; ``batch`` is k when the tangent is (k, *shape)."""

    # aliases: None, or weak references to the Duals whose primals share memory with this
    # one's (a view and what it views), one list shared by all of them
    __slots__ = ("primal", "tangent", "level", "batch", "aliases", "__weakref__")
    mode = "forward"

    def __init__(self, primal, tangent, level: int = EAGER_DUAL, batch: int | None = None):
        if isinstance(primal, np.matrix) or isinstance(tangent, np.matrix):
            raise matrix_error()
        ps, ts = tuple(rules.shape(primal)), tuple(rules.shape(tangent))
        if batch is None and ts != ps:
            if len(ts) == len(ps) + 1 and ts[1:] == ps:
                batch = ts[0]
            else:
                raise ValueError(
                    f"tangent shape {ts} does not match primal shape {ps}: pass a tangent of "
                    f"shape {ps}, or ({'k, ' + str(ps)[1:] if ps else '(k,)'} for k directions"
                )
        elif batch is not None and ts != (batch,) + ps:
            raise ValueError(f"batched tangent shape {ts} is not ({batch},) + primal shape {ps}")
        self.primal = primal
        self.tangent = tangent
        self.level = level
        self.batch = batch
        self.aliases = None

    @property
    def _value(self):
        return self.primal

    def __repr__(self):
        b = f", batch={self.batch}" if self.batch is not None else ""
        return f"Dual({self.primal!r}, {self.tangent!r}, level={self.level}{b})"

    @classmethod
    def _process(cls, op, operands, params, level):
        if op.fused is not None and len(operands) == 1 and operands[0].level == level:
            x = operands[0]
            both = op.fused(x.primal)  # (y, dy/dx) in one pass, or None
            if both is not None:
                return Dual(both[0], x.tangent * both[1], level, x.batch)
        primals, tangents, batch = [], [], None
        for x in operands:
            if isinstance(x, Dual) and x.level == level:
                primals.append(x.primal)
                tangents.append(x.tangent)
                if x.batch is not None:
                    if batch is not None and batch != x.batch:
                        raise ValueError(f"{op.name}: tangents batched {batch} and {x.batch} ways meet")
                    batch = x.batch
            else:
                if isinstance(x, np.matrix):
                    raise matrix_error()
                primals.append(x)
                tangents.append(None)
        if batch is not None:  # an unbatched tangent at a batched level is the same for all k
            tangents = [
                t
                if t is None or rules.ndim(t) == rules.ndim(p) + 1
                else np.broadcast_to(t, (batch,) + tuple(rules.shape(t)))
                for t, p in zip(tangents, primals)
            ]
        out = apply(op, primals, params)
        t = rules.jvp(op, tangents, primals, out, params, batch is not None)
        if isinstance(out, tuple | list):
            return type(out)(o if ti is None else Dual(o, ti, level, batch) for o, ti in zip(out, t))
        if t is None:
            return out
        y = Dual(out, t, level, batch)
        v = raw(out)
        if isinstance(v, np.ndarray):  # a NumPy view (x[1:], x.T, np.flip(x) ...) or x itself
            view = v.base is not None
            for x in operands:
                if isinstance(x, Dual) and x.level == level:
                    p = raw(x.primal)
                    if p is v or view and np.may_share_memory(p, v):
                        _alias(x, y)
                        break
        return y

    # x op= y. A Dual is never changed in place (as a JAX tracer): Python falls back to
    # x = x op y. Where x is a view, or is viewed, NumPy would write through to the other
    # arrays; a rebound x would then differentiate another function than NumPy runs, so it
    # is refused.
    def _in_place(self, spelling: str):
        for r in self.aliases or ():
            other = r()
            if other is not None and other is not self:
                raise TypeError(
                    f"ad: x {spelling}= y on a forward-mode value that shares memory with another "
                    "one still in use (a view such as x[1:], x.T or x.reshape(...), or the array "
                    f"it views): NumPy would write into both, and a Dual is never changed in place. "
                    f"Write x = x {spelling} y and build the other value out of place (np.where, "
                    "np.concatenate), or differentiate in reverse mode (ad.grad, ad.vjp, ad.jacrev), "
                    "which records in-place writes"
                )
        return NotImplemented

    def __iadd__(self, o):
        return self._in_place("+")

    def __isub__(self, o):
        return self._in_place("-")

    def __imul__(self, o):
        return self._in_place("*")

    def __itruediv__(self, o):
        return self._in_place("/")

    def __ifloordiv__(self, o):
        return self._in_place("//")

    def __imod__(self, o):
        return self._in_place("%")

    def __ipow__(self, o):
        return self._in_place("**")

    def __imatmul__(self, o):
        return self._in_place("@")


def _alias(x: Dual, y: Dual) -> None:
    """Record that y's primal views x's: both join one list of weak references."""
    family = x.aliases
    if family is None:
        family = x.aliases = [weakref.ref(x)]
    family.append(weakref.ref(y))
    n = len(family)
    if n >= 32 and n & (n - 1) == 0:  # dead references dropped now and then: linear in the views
        family[:] = [r for r in family if r() is not None]
    y.aliases = family
