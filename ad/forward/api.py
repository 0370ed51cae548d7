"""Forward-mode transforms: jvp, linearize and jacfwd (n JVPs, seeded in chunks of k directions)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from ad import rules
from ad.trace import raw
from ad.transform import (
    Argnums,
    as_tangent,
    cast_like,
    check_chunk,
    describe,
    float_input,
    fresh,
    jacobian_block,
    jacobian_tree,
    numeric_outputs,
    one_hot_chunks,
    output_and_aux,
    push_tangents,
    require_complex,
    require_real,
    returned_aux,
    run_passes,
    select,
    spans,
    split_pair,
)
from ad.tree import flatten


def jvp(f: Callable, primals: Sequence, tangents: Sequence, has_aux: bool = False):
    """(f(*primals), J_f(primals) @ tangents): one forward pass, no tape. With has_aux, f
    returns (output, aux) and jvp gives (output, its tangent, aux), as JAX's."""
    if not isinstance(primals, tuple | list) or not isinstance(tangents, tuple | list):
        raise TypeError("jvp(f, primals, tangents): primals and tangents must be tuples, e.g. (x,) and (v,)")
    return _jvp(f, primals, tangents, has_aux, "jvp")


def _jvp(f: Callable, primals: Sequence, tangents: Sequence, has_aux: bool, who: str):
    p_leaves, p_tree = flatten(tuple(primals))
    t_leaves, t_tree = flatten(tuple(tangents))
    if t_tree != p_tree:
        raise ValueError(
            f"{who}: tangents have the structure {t_tree} but primals {p_tree}: give one tangent "
            "per primal, with the same structure"
        )
    p_leaves = [float_input(p, who) for p in p_leaves]
    t_leaves = [as_tangent(t, p, who) for t, p in zip(t_leaves, p_leaves)]
    out, ts, out_tree = push_tangents(output_and_aux(f, who) if has_aux else f, p_tree(p_leaves), t_leaves)
    if has_aux:  # the aux leaves come unboxed at this level, as the outputs do
        out, out_tree, aux, aux_tree = split_pair(out, out_tree)
        ts = ts[: len(out)]
    numeric_outputs(out, who)  # a function or a string among them has no tangent to give
    # an output that does not depend on the primals may be an array f closes over, returned
    # as it is: the caller's copy must not be it (as vjp copies its outputs)
    out = [y.copy() if t is None and isinstance(y, np.ndarray) else y for y, t in zip(out, ts)]
    ts = [rules.zeros(y) if t is None else cast_like(t, y) for y, t in zip(out, ts)]
    result = fresh((out_tree(out), out_tree(ts)), caller=p_leaves + t_leaves)
    return (*result, returned_aux(aux, aux_tree)) if has_aux else result


def linearize(f: Callable, *primals, has_aux: bool = False):
    """(f(*primals), f_jvp) where f_jvp(*tangents) is J_f(primals) @ tangents at these primals
    (one tangent per primal, shaped like it), as JAX's linearize; with has_aux, f returns
    (output, aux) and linearize gives (output, f_jvp, aux).

    Cost: f_jvp runs f's JVP in forward mode again on each call (about one to three times f's
    cost), where JAX evaluates a linear program without re-running the primal; the primals are
    copied on entry, so changing them in place later does not change what f_jvp returns.
    """
    leaves, tree = flatten(primals)
    for i, p in enumerate(leaves):
        _refuse_integer_primal(p, i)
    kept = [float_input(p, "linearize") for p in leaves]
    kept = [p.copy() if isinstance(p, np.ndarray) else p for p in kept]
    primals = tree(kept)
    # the output, from a JVP along zero tangents: f meets forward mode now, not at f_jvp's call
    first = _jvp(f, primals, tree([rules.zeros(p) for p in kept]), has_aux, "linearize")

    def f_jvp(*tangents):
        if len(tangents) != len(primals):
            raise TypeError(
                f"f_jvp takes one tangent per primal given to linearize: {len(primals)}; got "
                f"{len(tangents)}: call f_jvp(*tangents) with each shaped like its primal"
            )
        return _jvp(f, primals, tangents, has_aux, "f_jvp")[1]

    return (first[0], f_jvp, first[2]) if has_aux else (first[0], f_jvp)


def _refuse_integer_primal(x, i: int) -> None:
    """JAX's linearize takes an integer primal and its f_jvp then wants a float0 tangent for it
    (its only tangent, zero), which ad does not model: refuse, naming the two ways out."""
    v = raw(x)
    if (v.dtype if isinstance(v, np.ndarray | np.generic) else np.asarray(v).dtype).kind in "biu":
        raise TypeError(
            f"linearize differentiates with respect to floating-point inputs; primal leaf {i} is "
            f"{describe(x)}: JAX's linearize takes an integer and asks f_jvp for a float0 tangent "
            "there, which ad does not model. Pass it as a float (x.astype(float), or 3.0 for 3) to "
            "differentiate along it, or hold it fixed by closing over it: "
            "linearize(lambda y: f(n, y), y)"
        )


def tangent_passes(f: Callable, primals: Sequence, chunks: Iterable) -> list:
    """(output leaves, their tangents, output structure) of f(*primals) for each chunk (k, seeds)
    of tangents: one batched JVP each, zero tangents made concrete."""
    out = []
    for kk, seeds in chunks:
        ys, ts, tree = push_tangents(f, primals, seeds, batch=kk)
        out.append((ys, [rules.zeros(y, (kk,)) if t is None else t for y, t in zip(ys, ts)], tree))
    return out


def jacfwd(
    f: Callable,
    argnums: int | Sequence[int] = 0,
    chunk: int | None = None,
    holomorphic: bool = False,
    executor=None,
    *,
    has_aux: bool = False,
) -> Callable:
    """Jacobian by forward mode: for each output leaf and input leaf, out.shape + in.shape,
    nested as the output pytree of input pytrees; ceil(n / chunk) batched passes, each a task
    of ``executor`` (any concurrent.futures.Executor) when one is given. With has_aux, f
    returns (output, aux) and the result is (Jacobian, aux), as JAX's."""
    nums = Argnums(argnums, "jacfwd")
    check_chunk(chunk, "jacfwd")
    f = output_and_aux(f, "jacfwd") if has_aux else f

    def jac(*args):
        primals, g = select(f, args, nums)
        leaves, in_tree = flatten(primals)
        leaves = [float_input(p, "jacfwd") for p in leaves]
        (require_complex if holomorphic else require_real)(leaves, "jacfwd", "input")

        if in_tree.flat and in_tree.kind is tuple:  # the arguments are the leaves: g as it is
            g_flat = g
        else:

            def g_flat(*xs):
                return g(*in_tree(xs))

        passes = run_passes(tangent_passes, g_flat, leaves, one_hot_chunks(leaves, chunk), executor)
        if len(passes) == 1:
            out, ts, out_tree = passes[0]
            blocks_by_pass = [(t,) for t in ts]
        elif passes:
            out, _, out_tree = passes[-1]
            # the tangents of output leaf j, one entry per pass
            blocks_by_pass = list(zip(*(ts for _, ts, _ in passes)))
        else:  # no input entries: run f once for the output's structure
            out, _, out_tree = push_tangents(g_flat, leaves, [None] * len(leaves))
            blocks_by_pass = [[rules.zeros(y, (0,))] for y in out]
        if has_aux:  # the aux leaves come unboxed at this level, as the outputs do
            out, out_tree, aux, aux_tree = split_pair(out, out_tree)
        numeric_outputs(out, "jacfwd")
        if holomorphic:
            require_complex(out, "jacfwd", "output")
        in_spans = spans([tuple(rules.shape(x)) for x in leaves])
        blocks = []  # blocks[j][i]: output leaf j in input leaf i
        for y, b in zip(out, blocks_by_pass):
            T = b[0] if len(b) == 1 else np.concatenate(b, axis=0)  # (n,) + shape of y
            ys = tuple(rules.shape(y))
            last = (*range(1, len(ys) + 1), 0)  # the directions' axis moved last, as a view
            blocks.append([cast_like(jacobian_block(T, o0, o1, ys + s, last), y) for s, o0, o1 in in_spans])
        J = jacobian_tree(blocks, out_tree, in_tree, nums, caller=[*args, *leaves])
        return (J, returned_aux(aux, aux_tree)) if has_aux else J

    return jac
