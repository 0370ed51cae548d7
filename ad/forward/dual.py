"""`Dual`: a primal and its tangent (or k tangents along a leading batch axis) at one level."""

from __future__ import annotations

import numpy as np

from ad import rules
from ad.trace import EAGER_DUAL, Box, Rebinding, apply, matrix_error, note_views, raw


class Dual(Rebinding, Box):
    """primal + tangent * eps, with eps^2 = 0; ``batch`` is k when the tangent is (k, *shape)."""

    # aliases: the Duals whose primals share memory with this one's (see trace.Rebinding)
    __slots__ = ("primal", "tangent", "level", "batch", "aliases", "__weakref__")
    mode = "forward"

    def __init__(self, primal, tangent, level: int = EAGER_DUAL, batch: int | None = None):
        if isinstance(primal, np.matrix) or isinstance(tangent, np.matrix):
            raise matrix_error()
        # what a Dual holds lives below its level: a value at it or above would share the Dual's
        # perturbation (perturbation confusion) or be held as a constant by a higher level
        if isinstance(primal, Box) and primal.level >= level:
            raise _level_error(primal, "primal", level)
        if isinstance(tangent, Box) and tangent.level >= level:
            raise _level_error(tangent, "tangent", level)
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
            ys = type(out)(o if ti is None else Dual(o, ti, level, batch) for o, ti in zip(out, t))
            note_views(operands, [y for y in ys if isinstance(y, Dual)], _memory)
            return ys
        if t is None:
            return out
        y = Dual(out, t, level, batch)
        note_views(operands, (y,), _memory)  # x op= y is refused while a view of x lives (Rebinding)
        return y


def _level_error(part: Box, name: str, level: int) -> TypeError:
    """A Dual's primal and tangent live below its level: a value at its level or above would
    have its perturbation mixed with the Dual's own, or be held as a constant by its engine."""
    if level != EAGER_DUAL:
        return TypeError(
            f"a Dual of level {level} cannot hold a {name} of level {part.level}: it must be lower"
        )
    if part.level == EAGER_DUAL:
        why = (
            "is itself a hand-made Dual. Hand-made Duals share one level, so a Dual of Duals would "
            "mix up their perturbations"
        )
    else:
        why = (
            f"is a value traced by a transform ({part.mode} mode). A hand-made Dual sits below every "
            "transform's level, so the transform would hold it as a constant and drop its derivative"
        )
    return TypeError(
        f"ad.Dual(primal, tangent): the {name} {why}. Nest transforms instead: "
        "ad.jvp(f, (x,), (t,)) called inside a transform opens a level of its own"
    )


def _memory(d: Dual):
    return raw(d.primal)
