"""Reverse-mode transforms: vjp, grad, value_and_grad, jacrev (m VJPs, in chunks of k)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ad import rules
from ad.forward.dual import float_primal
from ad.reverse import tape
from ad.reverse.tensor import Tensor, enable_grad
from ad.trace import new_level
from ad.tree import flatten

DEFAULT_CHUNK = 128


def _trace(f, primals, who):
    """Run f on fresh leaves at a new level; return (level, leaves, rebuild, outputs, rebuild).

    Recording is on whatever the caller's mode (as torch.func.grad under no_grad): an eager
    backward() runs rules with recording off, and a rule may itself be a transform.
    """
    leaves, rebuild = flatten(tuple(primals))
    level = new_level()
    xs = [Tensor(float_primal(p, who), level=level) for p in leaves]
    for x in xs:
        x._requires_grad = True
    with enable_grad():
        out = f(*rebuild(xs))
    out_leaves, out_rebuild = flatten(out)
    return level, xs, rebuild, out_leaves, out_rebuild


def _unbox(y, level):
    return y._data if isinstance(y, Tensor) and y.level == level else y


def _pullback(level, xs, out_leaves, cts, batched, retain_graph, k=None):
    """Cotangents of the leaves xs given cotangents of the outputs (one reverse sweep)."""
    found: dict[int, object] = {}

    def sink(t, g):
        found[id(t)] = g if id(t) not in found else found[id(t)] + g

    roots = [
        (y, ct)
        for y, ct in zip(out_leaves, cts)
        if isinstance(y, Tensor) and y.level == level and y._requires_grad
    ]
    tape.backprop(roots, sink, batched=batched, retain_graph=retain_graph)
    pre = (k,) if batched else ()
    return [found[id(x)] if id(x) in found else np.zeros(pre + tuple(rules.shape(x._data))) for x in xs]


def _check_ct(ct, y, batched=False):
    want = tuple(rules.shape(_unboxed(y)))
    got = tuple(rules.shape(ct))
    if (got[1:] if batched else got) != want:
        raise ValueError(
            f"vjp: cotangent shape {got} does not match output shape {want}; "
            "pass one cotangent shaped like each output"
        )


def _unboxed(y):
    return y._data if isinstance(y, Tensor) else y


def vjp(f: Callable, *primals):
    """(f(*primals), vjp_fn) where vjp_fn(ct) is the tuple of ct^T J, one per primal.

    The graph is kept until vjp_fn is dropped, so vjp_fn may be called many times.
    """
    level, xs, rebuild, out_leaves, out_rebuild = _trace(f, primals, "vjp")
    out = out_rebuild([_unbox(y, level) for y in out_leaves])

    def vjp_fn(ct):
        ct_leaves, _ = flatten(ct)
        if len(ct_leaves) != len(out_leaves):
            raise ValueError(
                f"vjp_fn got {len(ct_leaves)} cotangent leaves for {len(out_leaves)} outputs; "
                "pass a cotangent with the structure of f's output"
            )
        ct_leaves = [c if hasattr(c, "shape") else np.asarray(c, float) for c in ct_leaves]
        for c, y in zip(ct_leaves, out_leaves):
            _check_ct(c, y)
        return tuple(rebuild(_pullback(level, xs, out_leaves, ct_leaves, False, True)))

    return out, vjp_fn


def _of_argnums(f, args, argnums, who):
    """The argument positions to differentiate, and f as a function of those arguments only."""
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if i >= len(args):
            raise IndexError(f"{who}: argnums {i} but f was called with {len(args)} arguments")

    def f_of(*diff):
        full = list(args)
        for i, d in zip(nums, diff):
            full[i] = d
        return f(*full)

    return nums, f_of


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """x -> (f(x), grad f(x)); f must return a scalar."""

    def vg(*args):
        nums, f_of = _of_argnums(f, args, argnums, "grad")
        level, xs, rebuild, out_leaves, _ = _trace(f_of, [args[i] for i in nums], "grad")
        if len(out_leaves) != 1 or tuple(rules.shape(_unboxed(out_leaves[0]))) not in ((), (1,)):
            shape = [tuple(rules.shape(_unboxed(y))) for y in out_leaves]
            raise TypeError(
                f"grad needs a scalar output; got shape {shape[0] if len(shape) == 1 else shape}: "
                "pass a cotangent to ad.vjp, use ad.jacrev, or reduce first (e.g. .sum())"
            )
        (y,) = out_leaves
        ct = np.ones(rules.shape(_unboxed(y)))
        gs = rebuild(_pullback(level, xs, out_leaves, [ct], False, False))
        value = _unbox(y, level)
        return value, (gs[0] if isinstance(argnums, int) else tuple(gs))

    return vg


def grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """x -> grad f(x), shaped like x; f must return a scalar."""
    vg = value_and_grad(f, argnums)
    return lambda *args: vg(*args)[1]


def jacrev(f: Callable, argnums: int | Sequence[int] = 0, chunk: int | None = None) -> Callable:
    """Jacobian by reverse mode, shape out.shape + in.shape: ceil(m / chunk) batched sweeps."""

    def jac(*args):
        nums, f_of = _of_argnums(f, args, argnums, "jacrev")
        level, xs, _, out_leaves, _ = _trace(f_of, [args[i] for i in nums], "jacrev")
        if len(out_leaves) != 1:
            raise TypeError("jacrev: f must return one array (pytree outputs are not supported yet)")
        (y,) = out_leaves
        ys = tuple(rules.shape(_unboxed(y)))
        m = int(np.prod(ys, dtype=int))
        k = max(1, min(m, chunk or DEFAULT_CHUNK))
        blocks = [[] for _ in xs]
        for start in range(0, m, k):
            kk = min(k, m - start)
            seed = np.zeros((kk, m))
            seed[np.arange(kk), start + np.arange(kk)] = 1.0
            last = start + kk >= m
            cts = _pullback(level, xs, [y], [seed.reshape((kk,) + ys)], True, not last, kk)
            for b, c in zip(blocks, cts):
                b.append(c)
        jacs = []
        for x, b in zip(xs, blocks):
            xshape = tuple(rules.shape(x._data))
            J = (b[0] if len(b) == 1 else np.concatenate(b, axis=0)) if b else np.zeros((0,) + xshape)
            jacs.append(np.reshape(J, ys + xshape))
        return jacs[0] if isinstance(argnums, int) else tuple(jacs)

    return jac
