"""Reverse-mode transforms: record, vjp, grad, value_and_grad, jacrev (m VJPs, in chunks of k)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from ad import rules
from ad.reverse import engine
from ad.reverse.grad_mode import recording
from ad.reverse.graph import Sweep
from ad.reverse.record import edge
from ad.reverse.tensor import Tensor, leaf
from ad.trace import new_level, raw
from ad.transform import (
    Argnums,
    as_tangent,
    cast_like,
    describe,
    float_input,
    fresh,
    jacobian_block,
    jacobian_tree,
    numeric_outputs,
    one_hot_chunks,
    output_only,
    private,
    require_complex,
    require_real,
    returned_aux,
    run_passes,
    seed_one,
    select,
    spans,
    split_aux,
)
from ad.tree import LEAF, flatten

_NO_AUX = ((), flatten(None)[1])  # a recording's aux leaves and structure without has_aux
_ONE_LEAF = flatten(0.0)[1]  # the structure of a single leaf


class Recording:
    """f recorded once on fresh leaves at a new level; `pullback` runs reverse sweeps through it."""

    __slots__ = ("level", "values", "inputs", "in_tree", "outputs", "out_tree", "aux_leaves", "aux_tree")

    def __init__(self, level: int, values: list, inputs: list, in_tree, result, has_aux: bool, who: str):
        self.level = level
        self.values = values  # the input leaves' values (checked by float_input)
        self.inputs = inputs  # the leaf Tensors f was called with over them, one per input leaf
        self.in_tree = in_tree
        self.aux_leaves, self.aux_tree = _NO_AUX  # the aux f returned beside its output (has_aux)
        if has_aux:
            result, aux = split_aux(result, who)
            self.aux_leaves, self.aux_tree = flatten(aux)
        if type(result) is Tensor:  # one output leaf, the common case: flatten's answer without it
            self.outputs, self.out_tree = [result], _ONE_LEAF
        else:
            self.outputs, self.out_tree = flatten(result)  # f's output leaves as it returned them

    def traced(self, y) -> bool:
        """Whether the output leaf y depends on the inputs (a cotangent can flow from it)."""
        return isinstance(y, Tensor) and y.level == self.level and y.requires_grad

    @property
    def out_leaves(self) -> list:
        """f's output leaves as values (unboxed at this level)."""
        return [y.data if isinstance(y, Tensor) and y.level == self.level else y for y in self.outputs]

    @property
    def out(self):
        return self.out_tree(self.out_leaves)

    @property
    def aux(self):
        """The aux f returned beside its output (has_aux=True), unboxed at this level, its
        arrays copies (returned_aux); None without has_aux."""
        unboxed = [y.data if isinstance(y, Tensor) and y.level == self.level else y for y in self.aux_leaves]
        return returned_aux(unboxed, self.aux_tree)

    def pullback(
        self, cotangents: Sequence, *, batch: int | None = None, retain_graph: bool = False, mixed=None
    ) -> list:
        """The cotangent of each input leaf (None where none flows) given one per output leaf
        (None for zero): one reverse sweep, over `batch` directions on a leading axis if given.
        With retain_graph the recording can be swept again. ``mixed`` says why a cotangent
        sums several outputs' directions (Sweep.mixed: hooks then refuse), or is None."""
        roots, cts, inputs = [], [], []
        for y, ct in zip(self.outputs, cotangents):
            if ct is not None and self.traced(y):
                roots.append(edge(y))
                cts.append(ct)
        for x in self.inputs:  # a loop, not a comprehension: no frame of its own
            inputs.append(edge(x))
        # A sweep that returns its inputs' cotangents writes nothing into its Sweep record
        # (only one that stores gradients does: Sweep.owned), so the plain ones are shared
        sweep = _SWEEPS[batch is not None] if mixed is None else Sweep(batched=batch is not None, mixed=mixed)
        return engine.run_backward(roots, cts, retain_graph=retain_graph, sweep=sweep, inputs=inputs)


# The Sweep record of a pullback without `mixed`, by whether it is batched (Recording.pullback)
_SWEEPS = {False: Sweep(), True: Sweep(batched=True)}


def record(f: Callable, primals: Sequence, *, who: str = "record", has_aux: bool = False) -> Recording:
    """Run f(*primals) on fresh leaves at a new level, recording what a pullback needs. With
    has_aux, f returns (output, aux): the output is recorded, the aux kept as it is (`aux`).

    Recording is on whatever the caller's mode (as torch.func.grad under no_grad): an eager
    backward() runs rules with recording off, and a rule may itself be a transform.
    """
    leaves, in_tree = flatten(tuple(primals))
    # float_input's first test inline: an array of floats, the common case, as it is
    leaves = [p if type(p) is np.ndarray and p.dtype.kind == "f" else float_input(p, who) for p in leaves]
    level = new_level()
    inputs = [leaf(p, level) for p in leaves]  # checked by float_input
    return Recording(level, leaves, inputs, in_tree, recording(f, in_tree(inputs)), has_aux, who)


def record_arguments(
    f: Callable, args: tuple, nums: Argnums, *, who: str, has_aux: bool = False
) -> Recording:
    """record(g, primals) for (primals, g) = select(f, args, nums): f recorded with fresh
    leaves in the arguments nums names, the others held. When each of those arguments is an
    array of floats (the common case) the leaves go into place directly, without select's
    closure, its flattening and its checks, which cost as much as a small op's recording."""
    positions = nums.positions(len(args))
    for i in positions:
        p = args[i]
        if type(p) is not np.ndarray or p.dtype.kind != "f":
            primals, g = select(f, args, nums)
            return record(g, primals, who=who, has_aux=has_aux)
    level = new_level()
    full = list(args)
    values, inputs = [], []
    for i in positions:
        x = leaf(args[i], level)
        full[i] = x
        values.append(args[i])
        inputs.append(x)
    in_tree = _ARRAY_TUPLES.get(len(values))  # the structure of a tuple of that many arrays
    if in_tree is None:
        in_tree = _ARRAY_TUPLES[len(values)] = flatten(tuple(values))[1]
    return Recording(level, values, inputs, in_tree, recording(f, full), has_aux, who)


_ARRAY_TUPLES: dict = {}  # record_arguments' input structures, by number of arrays


def _input_cotangents(rec: Recording, cts: list) -> list:
    """Input cotangents with zeros made concrete, each in its input's dtype."""
    out = []
    for x, g in zip(rec.values, cts):
        if type(g) is np.ndarray and type(x) is np.ndarray and g.dtype == x.dtype:
            out.append(g)  # the common case, as it is (cast_like's first test, without its call)
        else:
            out.append(rules.zeros(x) if g is None else cast_like(g, x))
    return out


def vjp(f: Callable, *primals, has_aux: bool = False):
    """(f(*primals), vjp_fn) where vjp_fn(ct) is the tuple of ct^T J, one per primal; with
    has_aux, f returns (output, aux) and vjp gives (output, vjp_fn, aux), as JAX's.

    The primals are copied on entry, so changing them in place later does not change what
    vjp_fn returns; the graph is kept until vjp_fn is dropped, so it may be called many times.
    """
    leaves, in_tree = flatten(primals)
    kept = [float_input(p, "vjp") for p in leaves]
    kept = [p.copy() if isinstance(p, np.ndarray) else p for p in kept]
    rec = record(f, in_tree(kept), who="vjp", has_aux=has_aux)
    out_leaves = rec.out_leaves
    numeric_outputs(out_leaves, "vjp")  # a function or a string has no cotangent to pull

    def vjp_fn(ct):
        ct_leaves, ct_tree = flatten(ct)
        if ct_tree != rec.out_tree:
            raise ValueError(
                f"vjp_fn: the cotangent has the structure {ct_tree} but f's output {rec.out_tree}; "
                "pass one cotangent shaped like each output, in the same structure"
            )
        ct_leaves = [as_tangent(c, y, "vjp_fn", "cotangent", "output") for c, y in zip(ct_leaves, out_leaves)]
        cts = rec.pullback(ct_leaves, retain_graph=True)
        return fresh(rec.in_tree(_input_cotangents(rec, cts)), caller=ct_leaves + kept)

    # a copy of the output: it is the caller's to change, and the tape may have saved it
    out = rec.out_tree([y.copy() if isinstance(y, np.ndarray) else y for y in out_leaves])
    return (out, vjp_fn, rec.aux) if has_aux else (out, vjp_fn)


def _describe_output(out, tree) -> str:
    if tree.kind is LEAF or tree.kind is None:
        return describe(out)
    return f"a {type(out).__name__} (a pytree {tree})"


def _complex_inputs(x, who: str) -> None:
    """holomorphic=True differentiates with respect to complex inputs only (as JAX)."""
    require_complex([float_input(p, who) for p in flatten(x)[0]], who, "input")


def value_and_grad(
    f: Callable, argnums: int | Sequence[int] = 0, holomorphic: bool = False, *, has_aux: bool = False
) -> Callable:
    """x -> (f(x), grad f(x)), the gradient shaped like x; f returns one number (any size-1
    array). For complex x, grad f = df/dRe(x) - i df/dIm(x); with holomorphic=True, f'(x).
    With has_aux, f returns (number, aux) and the result is ((f(x), aux), grad f(x)), as JAX's."""
    nums = Argnums(argnums, "grad")

    def vg(*args):
        if holomorphic:
            primals, g = select(f, args, nums)
            _complex_inputs(primals, "grad")
            rec = record(g, primals, who="grad", has_aux=has_aux)
        else:
            rec = record_arguments(f, args, nums, who="grad", has_aux=has_aux)
        y, ct = _scalar_output(rec, holomorphic)
        grads = _input_cotangents(rec, rec.pullback([ct]))
        # neither the value (f may return a view of x) nor a gradient may share memory with
        # an argument
        y, *grads = private([y, *grads], caller=[*args, *rec.values])
        if has_aux:
            return (y, rec.aux), nums.unpack(rec.in_tree(grads))
        return y, nums.unpack(rec.in_tree(grads))

    return vg


def _scalar_output(rec: Recording, holomorphic: bool) -> tuple:
    """(f's output, the one number grad needs; its cotangent 1), or a TypeError naming what
    came back."""
    if rec.out_tree.kind is LEAF:  # the common case first: a float (complex) scalar
        y = rec.outputs[0]
        if isinstance(y, Tensor) and y.level == rec.level:
            y = y._data
        elif type(y) is np.ndarray:  # an array f did not compute (it closes over it): the caller's copy
            y = y.copy()
        v = y if type(y) is np.float64 or type(y) is np.ndarray else raw(y)
        kind = "c" if holomorphic else "f"
        if isinstance(v, _VALUES) and v.size == 1 and v.dtype.kind == kind:
            return y, seed_one(v.shape, v.dtype)
    out = rec.out
    v = raw(out) if rec.out_tree.kind is LEAF else None
    dt = None if v is None or isinstance(v, str | bytes) else np.asarray(v).dtype
    if dt is None or not rules.differentiable(dt):
        raise TypeError(
            f"grad needs f to return a float scalar; it returned {_describe_output(out, rec.out_tree)}: "
            "return one float (use ad.vjp or ad.jacrev for several outputs or a pytree)"
        )
    if np.size(v) != 1:
        raise TypeError(
            f"grad needs a scalar output; got shape {np.shape(v)}: "
            "pass a cotangent to ad.vjp, use ad.jacrev, or reduce first (e.g. .sum())"
        )
    (require_complex if holomorphic else require_real)([v], "grad", "output")
    return out, seed_one(np.shape(v), rules.tangent_dtype(v))


_VALUES = (np.ndarray, np.generic)


def grad(
    f: Callable, argnums: int | Sequence[int] = 0, holomorphic: bool = False, *, has_aux: bool = False
) -> Callable:
    """x -> grad f(x), shaped like x; f returns one number (any size-1 array). With has_aux,
    f returns (number, aux) and the result is (grad f(x), aux), as JAX's."""
    vg = value_and_grad(f, argnums, holomorphic, has_aux=has_aux)
    if has_aux:

        def grad_and_aux(*args):
            (_, aux), g = vg(*args)
            return g, aux

        return grad_and_aux
    return lambda *args: vg(*args)[1]


def sweeps(rec: Recording, chunks: Iterable) -> list:
    """The input cotangents for each chunk (k, seeds) of output cotangents: one batched sweep
    each through one recording, zero cotangents made concrete. The last sweep frees the
    graph as it goes."""
    out = []
    chunks = iter(chunks)
    here = next(chunks, None)
    while here is not None:
        kk, seeds = here
        here = next(chunks, None)
        cts = rec.pullback(seeds, batch=kk, retain_graph=here is not None)
        out.append([rules.zeros(x, (kk,)) if g is None else g for g, x in zip(cts, rec.values)])
    return out


def cotangent_passes(f: Callable, primals: Sequence, chunks: Sequence) -> list:
    """`sweeps` through a recording of f(*primals) made here (a task on a worker records its own)."""
    return sweeps(record(f, primals, who="jacrev"), chunks)


def jacrev(
    f: Callable,
    argnums: int | Sequence[int] = 0,
    chunk: int | None = None,
    holomorphic: bool = False,
    executor=None,
    *,
    has_aux: bool = False,
) -> Callable:
    """Jacobian by reverse mode: for each output leaf and input leaf, out.shape + in.shape,
    nested as the output pytree of input pytrees; ceil(m / chunk) batched sweeps. With an
    ``executor`` (any concurrent.futures.Executor) each sweep is a task that records f itself.
    With has_aux, f returns (output, aux) and the result is (Jacobian, aux), as JAX's."""
    nums = Argnums(argnums, "jacrev")

    def jac(*args):
        primals, g = select(f, args, nums)
        if holomorphic:
            _complex_inputs(primals, "jacrev")
        rec = record(g, primals, who="jacrev", has_aux=has_aux)
        out = rec.out_leaves
        numeric_outputs(out, "jacrev")
        (require_complex if holomorphic else require_real)(out, "jacrev", "output")
        chunks = one_hot_chunks(out, chunk)
        if executor is None:
            done = sweeps(rec, chunks)
        else:  # each task records f itself: its output alone
            task_f = output_only(g, "jacrev") if has_aux else g
            done = run_passes(cotangent_passes, task_f, primals, chunks, executor)
        out_spans = spans([tuple(rules.shape(y)) for y in out])
        blocks = [[] for _ in out]  # blocks[j][i]: output leaf j in input leaf i
        for i, x in enumerate(rec.values):
            # C: the cotangents of input leaf i, one row per output entry (the sweeps in order)
            if len(done) == 1:
                C = done[0][i]
            else:
                C = np.concatenate([cts[i] for cts in done]) if done else rules.zeros(x, (0,))
            xs = tuple(rules.shape(x))
            for row, (s, o0, o1) in zip(blocks, out_spans):
                row.append(cast_like(jacobian_block(C, o0, o1, s + xs), x))
        caller = [*args, *rec.values]
        J = jacobian_tree(blocks, rec.out_tree, rec.in_tree, nums, caller)
        return (J, rec.aux) if has_aux else J

    return jac
