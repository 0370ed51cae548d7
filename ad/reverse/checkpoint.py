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
from ad.trace import apply
from ad.transform import push_tangents

STRATEGIES = ("all", "sqrt", "recursive")


def checkpoint(f: Callable) -> Callable:
    """f, differentiated by recomputation: same values and gradients, less stored."""

    def jvp_rule(tangents, primals, out, params, batched):
        k = next(rules.shape(t)[0] for t in tangents if t is not None) if batched else None
        _, ts, out_tree = push_tangents(f, primals, tangents, batch=k)
        return out_tree(ts)

    def vjp_rule(ct, primals, out, params, batched):
        cts = list(ct) if isinstance(ct, tuple | list) else [ct]
        k = rules.shape(next(c for c in cts if c is not None))[0] if batched else None
        return tuple(record(f, primals, who="checkpoint").pullback(cts, batch=k))

    name = getattr(f, "__name__", "f")
    # Not registered: a checkpoint is a one-off op for this f, not a NumPy function.
    op = Op(f"checkpoint({name})", "general", f, jvp_rule=jvp_rule, vjp_rule=vjp_rule)

    def wrapped(*args):
        return apply(op, args, {})

    wrapped.__name__ = f"checkpoint({name})"
    wrapped.op = op
    return wrapped


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
