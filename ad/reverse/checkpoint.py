"""Checkpointing: store a function's inputs only and recompute it inside backward.

`checkpoint(f)` wraps f as one op whose VJP is a transform: it re-runs f on a fresh level,
records it, and pulls the cotangent back through that short-lived tape. The outer tape
holds one node (f's inputs and output) instead of every intermediate of f.
`checkpoint_sequential` applies it to a chain of layers with a strategy.

A recomputation must see what the first run saw. NumPy's global random state (np.random.*)
is set back to where the first run found it, as PyTorch's checkpoint does with its own; any
other difference (a np.random.Generator, an array f reads changed in between) shows in the
recomputed output, which is compared with the stored one: an error, never a gradient of
another function.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ad import rules
from ad.custom import ClosedOver, LeafCall
from ad.registry import Op
from ad.reverse.api import record
from ad.trace import Box, apply, raw
from ad.transform import push_tangents
from ad.tree import flatten

STRATEGIES = ("all", "sqrt", "recursive")


def checkpoint(f: Callable) -> Callable:
    """f, differentiated by recomputation: same values and gradients, less stored.

    f's arguments and results may be pytrees. Its float leaves (and traced values) are the
    op's operands; the other leaves (ints, strings, ...) are held as they are, as JAX's
    checkpoint holds non-differentiable arguments. Under forward mode alone (jvp, jacfwd),
    which stores nothing, f simply runs once."""
    name = getattr(f, "__name__", "f")

    def jvp_rule(tangents, primals, out, params, batched):
        k = next(rules.shape(t)[0] for t in tangents if t is not None) if batched else None
        call = params["call"]
        again, ts, out_tree = _replayed(call, lambda: push_tangents(call.flat, primals, tangents, batch=k))
        _same_output(name, again, out)
        return out_tree(ts)

    def vjp_rule(ct, primals, out, params, batched):
        cts = list(ct) if isinstance(ct, tuple | list) else [ct]
        k = rules.shape(next(c for c in cts if c is not None))[0] if batched else None
        call = params["call"]
        rec = _replayed(call, lambda: record(call.flat, primals, who="checkpoint"))
        _same_output(name, rec.out_leaves, out)
        return tuple(rec.pullback(cts, batch=k))

    # Not registered: a checkpoint is a one-off op for this f, not a NumPy function. Its first
    # run reads the operands' own arrays, which f must not write into: the write would change
    # the caller's values unrecorded (a traced value of a lower level records its writes).
    def impl(*xs, call):
        try:
            return _writeable(call.flat(*map(_read_only, xs)))
        except ValueError as e:
            if not _fails_for_read_only(call, xs):
                raise
            raise ValueError(_WRITES.format(name=name)) from e

    # complex: its rules are f's own ops' rules, which refuse complex input themselves where
    # they have no complex rule (when backward records f, with the op's name)
    op = Op(f"checkpoint({name})", "general", impl, jvp_rule=jvp_rule, vjp_rule=vjp_rule, complex=True)

    def wrapped(*args, **kwargs):
        if not _under_reverse_mode((args, kwargs)):
            return f(*args, **kwargs)
        # keyword arguments are leaves like the positional ones (as jax.checkpoint takes them)
        call = LeafCall(lambda a, k: f(*a, **k), (args, kwargs), inner_only=True)
        call.random_state = state = np.random.get_state()
        try:
            out = apply(op, [call.leaves[i] for i in call.operands], {"call": call})
        except ClosedOver:
            # f closes over a value an inner transform traces, above a level its arguments carry:
            # as one op of that level it would hide the value's derivative, so f runs as it is
            np.random.set_state(state)
            return f(*args, **kwargs)
        except AttributeError as e:
            if e.name not in ("register_hook", "retain_grad"):
                raise
            raise RuntimeError(_HOOKED.format(name=name, method=e.name)) from None
        if _same_state(state, np.random.get_state()):
            call.random_state = None  # f drew no global random numbers: nothing to keep (2.5 kB)
        return call.out_tree(list(out) if isinstance(out, tuple) else [out])

    wrapped.__name__ = f"checkpoint({name})"
    wrapped.op = op
    return wrapped


# A hook inside f: the first run, on plain arrays, has no Tensor to hook. Running it on
# Tensors that record nothing instead would let the hooks run when backward recomputes f
# (as PyTorch's non-reentrant checkpoint does), at about 1.7 us an op in every forward run
# of every checkpointed function: half again the cost of a layer tanh(W h) of width 256.
_HOOKED = (
    "ad.checkpoint({name}): {name} calls {method}, a hook on a gradient, which a checkpointed "
    "function cannot: its forward run computes on plain arrays (that is what saves the memory), "
    "so its Tensors exist only while backward recomputes it. Call {method} outside the "
    "checkpoint, on the Tensor it returns or on the one it is given, or do not checkpoint {name}"
)


_WRITES = (
    "ad.checkpoint({name}): {name} writes into a read-only array, most likely its argument "
    "(x *= 2, x[i] = v, a view's write), "
    "which a checkpointed function cannot: its first run computes on the arrays of the values it "
    "is given, so the write would change them unrecorded. Write it out of place (x = x * 2, "
    "np.where, np.concatenate), or do not checkpoint {name}"
)


def _read_only(x):
    """A plain array as a view that refuses writes; anything else as it is."""
    if isinstance(x, np.ndarray) and x.flags.writeable:
        x = x.view()
        x.flags.writeable = False
    return x


def _fails_for_read_only(call, xs) -> bool:
    """Whether f's ValueError came from the read-only views alone: f runs again, from the same
    global random state, on writeable copies of the arrays, and succeeds. Asked of the outcome,
    not of NumPy's wording of the error; it costs a second run on this error path only."""
    views = [isinstance(x, np.ndarray) and x.flags.writeable for x in xs]
    if not any(views):  # no view was made read-only here: the error is f's own
        return False
    if call.random_state is not None:
        np.random.set_state(call.random_state)
    try:
        call.flat(*(x.copy() if view else x for x, view in zip(xs, views)))
    except Exception:
        return False
    return True


def _writeable(out):
    """f's output with the read-only views of its arguments it returns (f = lambda x: x.T) copied."""
    if isinstance(out, tuple):
        return tuple(map(_writeable, out))
    return out.copy() if isinstance(out, np.ndarray) and not out.flags.writeable else out


def _under_reverse_mode(args) -> bool:
    """Whether any traced value among the arguments has a level that is not forward mode: a
    tape (or a recorder) that checkpointing saves from storing f's intermediates."""
    for leaf in flatten(args)[0]:
        while isinstance(leaf, Box):
            if leaf.mode != "forward":
                return True
            leaf = leaf._value
    return False


def _same_state(a, b) -> bool:
    """Whether two of np.random.get_state()'s states are one (the Mersenne Twister's key and
    position, and the cached Gaussian)."""
    return a[2:] == b[2:] and np.array_equal(a[1], b[1])


def _replayed(call: LeafCall, run: Callable):
    """run() with NumPy's global random state where f's first run found it, if it drew any;
    the caller's state is left as it was."""
    if call.random_state is None:
        return run()
    now = np.random.get_state()
    np.random.set_state(call.random_state)
    try:
        return run()
    finally:
        np.random.set_state(now)


def _same_output(name: str, again: list, out) -> None:
    """Refuse a recomputation whose output differs from the first run's: its derivative would
    be that of another function."""
    first = list(out) if isinstance(out, tuple | list) else [out]
    for a, b in zip(again, first):
        a, b = np.asarray(raw(a)), np.asarray(raw(b))
        if a.dtype.kind in "fc":
            # Each entry to sqrt(eps) of itself, and a few ulps of the largest for entries near
            # zero: a tolerance scaled by the largest entry alone would let the small ones change
            eps = np.finfo(a.dtype).eps
            same = a.shape == b.shape and np.allclose(
                a, b, rtol=np.sqrt(eps), atol=16 * eps * np.max(np.abs(b), initial=0.0), equal_nan=True
            )
        else:
            same = np.array_equal(a, b)
        if not same:
            raise ValueError(
                f"ad.checkpoint({name}): recomputing it for the derivative gave another output "
                "than its first run, so the derivative would be another function's. It reads "
                "something besides its arguments that changed in between: random numbers other "
                "than np.random's global ones (which are replayed), such as a np.random.Generator, "
                "or an array modified after the first run. Draw the random numbers outside f and "
                "pass them in, and modify nothing f reads before the derivative is taken"
            )


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
