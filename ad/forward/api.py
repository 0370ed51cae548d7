"""Forward-mode transforms: jvp and jacfwd (n JVPs, seeded in chunks of k directions)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ad import rules
from ad.forward.dual import Dual, float_primal
from ad.trace import new_level
from ad.tree import flatten

DEFAULT_CHUNK = 128


def _tangent_at(x, level: int, zero_shape_prefix: tuple = ()):
    if isinstance(x, Dual) and x.level == level:
        return x.primal, x.tangent
    return x, np.zeros(zero_shape_prefix + tuple(rules.shape(x)))


def jvp(f: Callable, primals: Sequence, tangents: Sequence):
    """(f(*primals), J_f(primals) @ tangents): one forward pass, no tape."""
    if not isinstance(primals, tuple | list) or not isinstance(tangents, tuple | list):
        raise TypeError("jvp(f, primals, tangents): primals and tangents must be tuples, e.g. (x,) and (v,)")
    p_leaves, rebuild = flatten(tuple(primals))
    t_leaves, _ = flatten(tuple(tangents))
    if len(p_leaves) != len(t_leaves):
        raise ValueError(
            f"jvp got {len(p_leaves)} primal leaves and {len(t_leaves)} tangent leaves: "
            "give one tangent per primal, with the same structure"
        )
    level = new_level()
    duals = []
    for p, t in zip(p_leaves, t_leaves):
        p = float_primal(p, "jvp")
        t = t if hasattr(t, "shape") else np.asarray(t, dtype=float)
        if tuple(rules.shape(t)) != tuple(rules.shape(p)):
            raise ValueError(
                f"jvp: tangent shape {tuple(rules.shape(t))} does not match primal shape "
                f"{tuple(rules.shape(p))}; pass a tangent shaped like its primal"
            )
        duals.append(Dual(p, t, level))
    out = f(*rebuild(duals))
    o_leaves, o_rebuild = flatten(out)
    pairs = [_tangent_at(o, level) for o in o_leaves]
    return o_rebuild([p for p, _ in pairs]), o_rebuild([t for _, t in pairs])


def push_tangents(f: Callable, primals: Sequence, tangents: Sequence, batched: bool = False):
    """f's output tangent(s) for the given tangents (None for zero), k-batched or not: the
    JVP of a whole function, for ops whose forward rule is a transform (checkpoint, ...)."""
    level = new_level()
    k = next(rules.shape(t)[0] for t in tangents if t is not None) if batched else None
    pre = (k,) if batched else ()
    duals = [
        Dual(p, np.zeros(pre + tuple(rules.shape(p))) if t is None else t, level, k)
        for p, t in zip(primals, tangents)
    ]
    out = f(*duals)
    if isinstance(out, tuple | list):
        return type(out)(_tangent_at(o, level, pre)[1] for o in out)
    return _tangent_at(out, level, pre)[1]


def jacfwd(f: Callable, argnums: int | Sequence[int] = 0, chunk: int | None = None) -> Callable:
    """Jacobian by forward mode, shape out.shape + in.shape: ceil(n / chunk) batched passes."""

    def jac(*args):
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        jacs = tuple(_jacfwd_one(f, args, i, chunk) for i in nums)
        return jacs[0] if isinstance(argnums, int) else jacs

    return jac


def _jacfwd_one(f, args, i, chunk):
    if i >= len(args):
        raise IndexError(f"jacfwd: argnums {i} but f was called with {len(args)} arguments")
    x = float_primal(args[i], "jacfwd")
    xs = tuple(rules.shape(x))
    n = int(np.prod(xs, dtype=int))
    k = max(1, min(n, chunk or DEFAULT_CHUNK))
    blocks, out_shape = [], None
    for start in range(0, max(n, 1), k):
        kk = min(k, n - start) if n else 0
        seed = np.zeros((kk, n))
        seed[np.arange(kk), start + np.arange(kk)] = 1.0
        level = new_level()
        out = f(*args[:i], Dual(x, seed.reshape((kk,) + xs), level, kk), *args[i + 1 :])
        _, t = _tangent_at(out, level, (kk,))
        out_shape = tuple(rules.shape(out))
        blocks.append(t)
        if n == 0:
            break
    J = blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=0)
    return np.reshape(np.moveaxis(J, 0, -1), out_shape + xs)
