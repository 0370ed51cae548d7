"""Checkpointing: store a function's inputs only and recompute it inside backward.

`checkpoint(f)` wraps f as one op whose VJP is a transform: it re-runs f on a fresh level,
records it, and pulls the cotangent back through that short-lived tape. The outer tape
holds one node (f's inputs and output) instead of every intermediate of f.
`checkpoint_sequential` applies it to a chain of layers with a strategy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from ad import rules
from ad.registry import Op
from ad.reverse.api import record
from ad.trace import Box, apply
from ad.transform import push_tangents
from ad.tree import flatten

STRATEGIES = ("all", "sqrt", "recursive")


def checkpoint(f: Callable) -> Callable:
    """f, differentiated by recomputation: same values and gradients, less stored.

    f's arguments and results may be pytrees. Its float leaves (and traced values) are the
    op's operands; the other leaves (ints, strings, ...) are held as they are, as JAX's
    checkpoint holds non-differentiable arguments."""

    def jvp_rule(tangents, primals, out, params, batched):
        k = next(rules.shape(t)[0] for t in tangents if t is not None) if batched else None
        _, ts, out_tree = push_tangents(params["call"].flat, primals, tangents, batch=k)
        return out_tree(ts)

    def vjp_rule(ct, primals, out, params, batched):
        cts = list(ct) if isinstance(ct, tuple | list) else [ct]
        k = rules.shape(next(c for c in cts if c is not None))[0] if batched else None
        return tuple(record(params["call"].flat, primals, who="checkpoint").pullback(cts, batch=k))

    name = getattr(f, "__name__", "f")
    # Not registered: a checkpoint is a one-off op for this f, not a NumPy function.
    impl = lambda *xs, call: call.flat(*xs)  # noqa: E731
    op = Op(f"checkpoint({name})", "general", impl, jvp_rule=jvp_rule, vjp_rule=vjp_rule)

    def wrapped(*args):
        call = _Call(f, args)
        out = apply(op, [call.leaves[i] for i in call.operands], {"call": call})
        return call.out_tree(list(out) if isinstance(out, tuple) else [out])

    wrapped.__name__ = f"checkpoint({name})"
    wrapped.op = op
    return wrapped


class _Call:
    """One call of a checkpointed f: its argument leaves, which of them are the op's operands,
    and f as a function of those alone (flat), with f's output structure from its first run."""

    def __init__(self, f, args):
        self.f = f
        self.leaves, self.in_tree = flatten(args)
        self.operands = [i for i, a in enumerate(self.leaves) if _differentiable(a)]
        self.out_tree = None

    def flat(self, *xs):
        """f on the operand leaves, the others held; its output leaves, one or a tuple."""
        full = list(self.leaves)
        for i, x in zip(self.operands, xs):
            full[i] = x
        outs, tree = flatten(self.f(*self.in_tree(full)))
        if self.out_tree is None:
            self.out_tree = tree
        return outs[0] if len(outs) == 1 else tuple(outs)


def _differentiable(a) -> bool:
    """A leaf checkpoint passes to its op: a traced value or a number or array of floats."""
    if isinstance(a, Box):
        return True
    dt = getattr(a, "dtype", None)
    if dt is not None:
        return rules.differentiable(dt)
    return isinstance(a, float | complex) and not isinstance(a, bool)


def _compose(layers):
    def run(x):
        for layer in layers:
            x = layer(x)
        return x

    return run


def checkpoint_sequential(layers: Sequence[Callable], strategy: str = "sqrt") -> Callable:
    """x -> layers[-1](...layers[0](x)), with intermediate values stored by strategy.

    "all": no checkpointing, L values stored, no recomputation.
    "sqrt": segments of ceil(sqrt(L)) layers, each checkpointed: O(sqrt L) stored at once,
            each layer recomputed once.
    "recursive": halve the chain recursively, checkpointing both halves: O(log L) stored,
            O(L log L) recomputation (the binomial strategy's simplest form).
    """
    layers = list(layers)
    if strategy not in STRATEGIES:
        raise ValueError(f"checkpoint_sequential: strategy must be one of {STRATEGIES}; got {strategy!r}")
    if not layers:
        raise ValueError("checkpoint_sequential needs at least one layer")
    if strategy == "all":
        return _compose(layers)
    if strategy == "sqrt":
        s = max(1, math.ceil(math.sqrt(len(layers))))
        return _compose([checkpoint(_compose(layers[i : i + s])) for i in range(0, len(layers), s)])
    return _recursive(layers)


def _recursive(layers):
    if len(layers) <= 2:
        return _compose(layers)
    mid = len(layers) // 2
    return _compose([checkpoint(_recursive(layers[:mid])), checkpoint(_recursive(layers[mid:]))])
