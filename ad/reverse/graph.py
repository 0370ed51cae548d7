"""The backward graph: nodes joined by edges fixed when each node is recorded.

An edge is a pair ``(node, output_nr)``: the node that produced a value and which of its
outputs the value was. A node's ``next_edges`` point at the producers of its inputs as
they were when it was recorded, so an in-place change that later gives a Tensor a new
history cannot reach back and rewire what was recorded before (PyTorch's ``grad_fn``,
``next_functions``). Every node also takes a sequence number when it is made: a node's inputs were made
before it, so their producers' numbers are lower, and the engine can run a sweep in
decreasing sequence order without first counting dependencies (PyTorch orders its ready
queue the same way). Three kinds of node:

- `OpNode`: a registered op, run backward by the registry's rules; it keeps only what its
  VJP reads (guarded by version counters, see `saved`), and shapes and dtypes for the rest.
- `AccumulateGrad`: the end of every path into a leaf that requires grad; it adds the
  cotangent into the leaf's ``.grad``.
- `CopySlices`: an in-place write through a view, ``base[view] = result``; its cotangent
  splits into the old base's (zero on the written region) and the result's (the region).
"""

from __future__ import annotations

import dis
import functools
import inspect
import itertools
import threading
import types
import weakref

import numpy as np

from ad import rules
from ad.reverse import saved
from ad.trace import is_complex
from ad.trace import raw as raw_value

FREED = (
    "backward through the graph a second time: its saved values were freed by the first "
    "backward. Pass retain_graph=True to the first backward() (or use ad.vjp, whose "
    "vjp_fn may be called many times)."
)


class Sweep:
    """How one backward sweep runs: batched cotangents, whether it records itself, whether
    leaves receive the conjugate (PyTorch's convention), and how to rebuild a saved value as
    a Tensor that leads back into the graph (create_graph): ``rebuild(value, edge, counter)``,
    counter the version counter of the Tensor the value was saved from, or None.
    ``mixed``: why each cotangent of this sweep is a sum of several outputs' cotangents (a
    colored pass of a sparse Jacobian), or None; a hook, which sees one gradient at a time,
    then refuses to run, as it would see the sum instead."""

    __slots__ = ("batched", "create_graph", "conjugate", "rebuild", "owned", "mixed")

    def __init__(self, *, batched=False, create_graph=False, conjugate=False, rebuild=None, mixed=None):
        self.batched = batched
        self.create_graph = create_graph
        self.conjugate = conjugate
        self.rebuild = rebuild
        self.mixed = mixed
        # ids of the cotangents of the node being run that nothing but the sweep holds (the
        # engine counts references when a node that stores gradients runs): one of them may
        # become a .grad without a copy. Empty for a node run outside a sweep.
        self.owned = _NONE

    def owns(self, g) -> bool:
        return type(g) is np.ndarray and id(g) in self.owned and g.base is None and g.flags.writeable


_NONE = frozenset()
# module globals: np.float64 is a global and an attribute lookup, a hot loop's measurable cost
_ARRAY, _FLOAT64 = np.ndarray, np.float64
_sequence = itertools.count()


class Node:
    """A step of the backward graph: cotangents of its outputs in, of its inputs' producers out.

    ``seq`` orders the sweep: every edge leads from a node to one with a lower number.
    ``retained`` is None for a node whose outputs' cotangents go straight into its VJP,
    else output_nr -> `Hooks`: the hooks registered on the Tensor that output was, and the
    Tensor whose .grad keeps its cotangent (retain_grad). AccumulateGrad, which stores its
    own gradient, has an empty one, or its leaf's hooks (`LeafHooks`).
    """

    __slots__ = ("next_edges", "retained", "seq", "__weakref__")
    num_outputs = 1

    @property
    def name(self) -> str:
        return type(self).__name__

    def __repr__(self):
        return f"<{self.name}>"

    @property
    def next_functions(self) -> tuple:
        """(node, output_nr) per input, (None, 0) for a constant (as PyTorch's)."""
        return tuple((None, 0) if e is None else e for e in self.next_edges)

    @property
    def next_nodes(self) -> tuple:
        return tuple(None if e is None else e[0] for e in self.next_edges)

    def apply(self, cotangents: list, sweep: Sweep):  # pragma: no cover - abstract
        raise NotImplementedError

    def release(self):
        """Drop what was saved for the VJP (after a backward without retain_graph)."""


# -- what an op's VJP reads ---------------------------------------------------------------
def _arguments_read(d, n: int) -> tuple:
    """Per argument of a partial d(x_1, ..., x_n, y): does its body read it? (True if unsure.)"""
    code = getattr(d, "__code__", None)
    if code is None or code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS):
        return (True,) * (n + 1)
    names = code.co_varnames[: code.co_argcount]
    if len(names) != n + 1:
        return (True,) * (n + 1)
    loaded = set(code.co_cellvars)  # an argument a nested function reads
    for ins in dis.get_instructions(code):
        if ins.opname.startswith("LOAD_"):
            loaded.update(ins.argval if isinstance(ins.argval, tuple) else (ins.argval,))
    return tuple(name in loaded for name in names)


def reads(op, needs: tuple) -> tuple[tuple, bool]:
    """Which operands, and whether the output, op's VJP reads for the cotangents in needs.

    Linear ops and constant partials read shapes only; an elementwise op reads what the
    partials of the needed operands name (the partial of x*y in x reads y alone); a bilinear
    op reads, for each needed operand, the other one (a @ b keeps b for a's cotangent), and a
    multilinear one the others (einsum's VJP in an operand is an einsum of the rest), never
    the output.
    """
    found = op.derived.get(needs)  # cached with the op (Op.derived), per set of needs
    if found is None:
        found = op.derived[needs] = _reads(op, needs)
    return found


def _reads(op, needs):
    n = len(needs)
    if not op.reads_values:
        return (False,) * n, False
    if op.multilinear:
        # the cotangent of each operand is a product of the others: an operand is read when
        # another one needs a cotangent
        wanted = sum(needs)
        return tuple(wanted - need > 0 for need in needs), False
    if op.kind != "elementwise":
        return (True,) * n, True
    per = [_arguments_read(d, n) if callable(d) else (False,) * (n + 1) for d in op.derivs]
    used = [False] * (n + 1)
    for need, args in zip(needs, per):
        if need:
            used = [u or a for u, a in zip(used, args)]
    return tuple(used[:n]), used[n]


def stored_partials(op) -> tuple | None:
    """Per operand of an elementwise op, its partial where it takes no computation: the
    number it is declared as, or the index of the argument it returns (the partial of x*y
    in x is y: index 1; of exp, its output: index n). None if some partial computes.

    A node over scalars keeps these instead of recomputing them in backward: its VJP is
    then one multiply per operand, as PyTorch's derivatives.yaml keeps `other` for mul.
    Computed partials (cos for sin) stay in backward: evaluated at record time they would
    run, and warn at singular points, for values nobody differentiates."""
    try:
        return op.derived["stored partials"]
    except KeyError:
        found = op.derived["stored partials"] = _stored(op) if op.kind == "elementwise" else None
        return found


def _stored(op):
    n = len(op.derivs)
    out = []
    for d in op.derivs:
        if not callable(d):
            out.append(ONE if d == 1 else float(d))
            continue
        code = getattr(d, "__code__", None)
        if code is None or code.co_argcount != n + 1 or code.co_flags & inspect.CO_VARARGS:
            return None
        body = [i for i in dis.get_instructions(code) if i.opname not in ("RESUME", "NOP")]
        if len(body) != 2 or body[0].opname != "LOAD_FAST" or body[1].opname != "RETURN_VALUE":
            return None
        out.append(code.co_varnames.index(body[0].argval))
    return tuple(out)


# The partial 1 as stored_partials gives it: a node that keeps this object passes its
# cotangent on without a multiply, as ct * 1.0 (a Python float takes ct's dtype) is ct's
# value. Told by identity: an operand kept as a partial is multiplied whatever its value.
ONE = 1.0


def stand_in(x):
    """An array of x's shape and dtype that costs no memory, kept in x's place where a VJP
    reads only shapes and dtypes. It is NaN where it can be, so that a rule that reads it
    by mistake poisons its result instead of passing silently."""
    return shaped_nan(x.shape, x.dtype)


@functools.lru_cache(maxsize=1024)
def shaped_nan(shape, dtype):
    """stand_in by shape and dtype (cached: one read-only array per pair)."""
    fill = np.nan if rules.differentiable(dtype) else 0
    return np.broadcast_to(np.array(fill, dtype=dtype), shape)


class OpNode(Node):
    """A recorded op: its rule, its params, and what its VJP reads.

    Tensor's recording paths set these fields inline, without __init__ (a frame per
    recorded op): a field added here is added there too."""

    __slots__ = ("op", "params", "needs", "saved_in", "saved_out", "guards", "num_outputs", "kept_partials")

    def __init__(
        self, op, params, next_edges, needs, saved_in, saved_out, guards, num_outputs, partials=None
    ):
        self.seq = next(_sequence)
        # per operand, its partial derivative kept from record time (None: not needed), or
        # None for the node: a number, or the int i for the value of operand i (of the
        # output for i == len(saved_in)), read in the saved values; one tuple shared by the
        # nodes of an op and pattern. The engine multiplies by kept partials itself, without
        # calling apply (a frame per node); apply always runs the op's rule on the saved
        # values, which a node with kept partials also holds
        self.kept_partials = partials
        self.op = op
        self.params = params
        self.next_edges = next_edges
        self.needs = needs
        self.saved_in = saved_in  # per operand: its value, a stand-in, or the constant itself
        self.saved_out = saved_out  # per output: its value or a stand-in
        self.guards = guards  # (counter, version, index) per saved value that came from a Tensor
        self.num_outputs = num_outputs  # 0 for an op with one, unpacked, output
        self.retained = None

    @property
    def name(self) -> str:
        return "".join(w.capitalize() for w in self.op.name.split("_")) + "Backward"

    @property
    def partials(self):
        """The kept partials as values: kept_partials itself when every one is a number or
        None, else a list with each index replaced by the value it names (None once the
        saved values are freed)."""
        kept = self.kept_partials
        if kept is None or all(type(d) is not int for d in kept):
            return kept
        if self.saved_in is None:
            return None
        n = len(self.saved_in)
        return [
            self.saved_in[d] if type(d) is int and d < n else self.saved_out[0] if type(d) is int else d
            for d in kept
        ]

    def apply(self, cotangents, sweep):
        primals = self.saved_in
        if primals is None:
            raise RuntimeError(FREED)
        for counter, version, index in self.guards:
            if counter[0] != version:
                raise saved.modified(self, index, len(primals), version, counter[0])
        outs = self.saved_out
        if sweep.create_graph:  # saved values that require grad lead back into the graph
            read_in, read_out = reads(self.op, self.needs)
            # each with its Tensor's version counter, so that the nodes this sweep records,
            # which save it again, refuse a later in-place write to it as this node does
            counters = {index: counter for counter, _, index in self.guards}
            primals = [
                sweep.rebuild(v, e, counters.get(i)) if r and e is not None else v
                for i, (v, e, r) in enumerate(zip(primals, self.next_edges, read_in))
            ]
            if read_out:
                n = len(primals)
                outs = [sweep.rebuild(v, (self, j), counters.get(n + j)) for j, v in enumerate(outs)]
        if self.num_outputs == 0:
            op = self.op
            if op.kind == "elementwise":
                if len(primals) == 1 and not sweep.batched:
                    # a unary elementwise op over a real output, the commonest node: rules.vjp's
                    # steps for it, without its frame and loop (its output's cotangent has the
                    # operand's shape, so nothing is unbroadcast, and nothing is made real)
                    x, y = primals[0], outs[0]
                    if op.times is not None:  # the product in one pass, where it has one (on
                        g = op.times(cotangents[0], x, y)  # plain float64 arrays alone)
                        if g is not None:
                            return [g]
                    d = op.derivs[0]
                    if (
                        callable(d)
                        and (type(y) is _FLOAT64 or type(y) is _ARRAY and y.dtype.kind != "c")
                        and (type(x) is _FLOAT64 or type(x) is _ARRAY)
                    ):
                        g = cotangents[0] * d(x, y)
                        if type(g) is _FLOAT64 or type(g) is _ARRAY and g.shape == x.shape:
                            return [g]
                        return [rules.unbroadcast(g, x.shape)]
            elif not sweep.batched:
                # a rule of another kind, unbatched, over a real output (matmul, sum): rules.vjp's
                # steps for it, without its frame. A rule that returns a wrong number of
                # cotangents goes on to rules.vjp, which runs it again and raises
                y = outs[0]
                if type(y) is _FLOAT64 or type(y) is _ARRAY and y.dtype.kind != "c":
                    if op.vjp_takes_needs:
                        cts = tuple(
                            op.vjp_rule(cotangents[0], primals, y, self.params, False, needs=self.needs)
                        )
                    else:
                        cts = tuple(op.vjp_rule(cotangents[0], primals, y, self.params, False))
                    if len(cts) == len(primals):
                        return cts
            return rules.vjp(op, cotangents[0], primals, outs[0], self.params, sweep.batched, self.needs)
        out = tuple(outs)
        ct = _fill(cotangents, out, sweep.batched)
        return rules.vjp(self.op, ct, primals, out, self.params, sweep.batched, self.needs)

    def release(self):
        self.saved_in = self.saved_out = None


def _fill(cts, outs, batched):
    """Zero cotangents for the outputs of a multi-output op that nothing used."""
    k = next(rules.shape(c)[0] for c in cts if c is not None) if batched else None
    pre = (k,) if batched else ()
    return tuple(rules.zeros(o, pre) if c is None else c for c, o in zip(cts, outs))


class AccumulateGrad(Node):
    """The sink of a leaf that requires grad: adds the cotangent into ``leaf.grad``.
    (tensor._leaf_edge sets these fields inline, without __init__; ``retained`` is the
    leaf's hooks when it has some.)"""

    __slots__ = ("variable",)

    def __init__(self, variable):
        self.seq = next(_sequence)
        self.variable = variable
        self.next_edges = ()
        self.retained = STORES_ITSELF

    def apply(self, cotangents, sweep):
        accumulate(self.variable, cotangents[0], sweep)
        return ()


# AccumulateGrad's `retained`: no output of it is retained, but it stores a gradient all the
# same (its apply does), so that the engine tells every node that stores one by one test.
STORES_ITSELF = types.MappingProxyType({})


def accumulate(t, g, sweep: Sweep):
    """Add a cotangent into t.grad (PyTorch's accumulation: zeroing is the user's).

    .grad is later updated in place, so the first gradient is stored without a copy only
    when the sweep owns it (no other path, no caller holds it) and it has t's dtype.
    """
    if sweep.conjugate and is_complex(g):
        g = np.conj(g)
    with _ACCUMULATING:
        _accumulate(t, g, sweep)


# backward() from several threads into one leaf adds every gradient (PyTorch's AccumulateGrad
# holds a mutex too): reading .grad and storing it are one step
_ACCUMULATING = threading.Lock()


def _accumulate(t, g, sweep: Sweep):
    if t._grad is None:
        if type(g) is type(t) and g._requires_grad:
            # a graph-carrying gradient (create_graph; gradient=v reaching a leaf unchanged is
            # one too): its own copy, recorded as PyTorch's clone is, since the sweep may hand
            # the same Tensor to another leaf (x + w); in t's dtype, as every .grad is
            t._grad = _with_memory(np.copy(g) if g.dtype == t.dtype else g.astype(t.dtype))
        elif g.dtype == t.dtype and sweep.owns(g):
            t._grad = type(t)(g, level=t.level)
        else:
            t._grad = type(t)(np.array(raw_value(g), dtype=t.dtype, copy=True), level=t.level)
    elif (
        type(g) is type(t) or t._grad._grad_fn is not None and (sweep.create_graph or t._grad_fn is not None)
    ):
        # out of place and recorded, as PyTorch adds when grad mode is on: the sum carries
        # the history of both terms (or the derivative of an enclosing transform's values).
        # So is a non-leaf's retained .grad that has history, as PyTorch's retain_grad adds it.
        # (A plain cotangent into a .grad without history is added in place whatever the
        # mode: the same value, and no history to keep)
        if g.dtype != t.dtype:
            g = g.astype(t.dtype)
        t._grad = _with_memory(t._grad + g)
    else:
        # in place, like PyTorch: p.grad stays the same object, and its version moves on, so
        # that a node that saved the old .grad (w * x.grad) refuses at backward, as in PyTorch.
        # A .grad with history (from a create_graph backward) keeps it, as PyTorch's does: what
        # this sweep adds is a constant to it
        t._grad._data += g
        t._grad._vc[0] += 1


def _with_memory(grad):
    """grad, its value a 0-d array if it was a NumPy scalar (a computed 0-d value): the
    in-place addition into .grad then keeps its dtype, where a scalar would be promoted."""
    if isinstance(grad._data, np.generic):
        grad._data = np.asarray(grad._data)
    return grad


class CopySlices(Node):
    """``base[view] = result`` recorded into the base's history.

    Cotangent of the old base: the new base's, zero on the written region; of the result:
    the new base's cotangent read through the view. Both come from the view ops' own
    registered rules, so any view op works here.
    """

    __slots__ = ("view", "_region")

    def __init__(self, view, base_edge, result_edge):
        self.seq = next(_sequence)
        # the view ops alone, without the base Tensor: the base holds this node (its
        # grad_fn), and holding the base back would keep its array alive until gc runs
        self.view = view.steps_only()
        self.next_edges = (base_edge, result_edge)
        self._region = None
        self.retained = None

    def apply(self, cotangents, sweep):
        ct = cotangents[0]
        base_edge, result_edge = self.next_edges
        to_base = to_result = None
        if base_edge is not None:
            if self._region is None and not self.view.is_part:
                self._region = self.view.region()
            to_base = self.view.outside(ct, self._region, sweep.batched)
        if result_edge is not None:
            to_result = self.view.read(ct, sweep.batched)
        return [to_base, to_result]


# -- what runs on a cotangent before its node does: hooks and retain_grad ---------------------
class Hooks:
    """What the sweep does with the total cotangent of one output of a node before it runs
    the node: each hook in registration order (``fns``, by handle key), each given what the
    one before returned; then ``keeper``, a weak reference to the Tensor whose .grad keeps
    the result (retain_grad), or None. PyTorch's order: retain_grad's store comes last,
    whenever it was asked for."""

    __slots__ = ("fns", "keeper")

    def __init__(self):
        self.fns = {}
        self.keeper = None

    def add(self, fn) -> RemovableHandle:
        """Append fn(ct, sweep) -> ct; the handle takes it out again."""
        key = next(_hook_keys)
        self.fns[key] = fn
        return RemovableHandle(self.fns, key)

    def run(self, ct, sweep: Sweep):
        """ct through every hook. A leaf receives the conjugate of the sweep's cotangent when
        the sweep follows PyTorch's convention, and so does a hook; a batched cotangent goes
        through the hooks one direction at a time."""
        if not self.fns:
            return ct
        if sweep.mixed is not None:
            raise RuntimeError(
                f"a hook (register_hook) cannot run in {sweep.mixed}: its cotangent "
                "sums the gradients of several outputs, and the hook would see that sum, not each "
                "one's gradient. Take the Jacobian with ad.jacrev, which sweeps one output at a "
                "time, or register the hook outside the function"
            )
        if sweep.batched and ct is not None:
            return np.stack([self._run(c, sweep) for c in ct])
        return self._run(ct, sweep)

    def _run(self, ct, sweep):
        flip = sweep.conjugate and ct is not None and is_complex(ct)
        if flip:
            ct = np.conj(ct)
        for fn in list(self.fns.values()):  # a hook may remove itself (or another) as it runs
            ct = fn(ct, sweep)
        return np.conj(ct) if flip else ct


_hook_keys = itertools.count()


class RemovableHandle:
    """What register_hook returns: ``remove()`` takes the hook out (twice is harmless)."""

    __slots__ = ("_fns", "id")

    def __init__(self, fns: dict, key: int):
        self._fns = fns
        self.id = key

    def remove(self):
        self._fns.pop(self.id, None)


def output_hooks(node, output_nr: int) -> Hooks:
    """The Hooks of node's output output_nr, made on first use."""
    if node.retained is None:
        node.retained = {}
    found = node.retained.get(output_nr)
    if found is None:
        found = node.retained[output_nr] = Hooks()
    return found


def retain(node, output_nr: int, tensor):
    """Have backward store the cotangent of node's output into tensor.grad (retain_grad)."""
    output_hooks(node, output_nr).keeper = weakref.ref(tensor)


def unretain(node, output_nr: int):
    """Undo `retain` (the Tensor's value has a new node now); the hooks stay with the node."""
    found = None if node is None or node.retained is None else node.retained.get(output_nr)
    if found is not None:
        found.keeper = None


class LeafHooks:
    """A leaf's hooks. They belong to the leaf, which outlives any one graph, while its
    AccumulateGrad lives only as long as a graph uses it (the leaf holds it weakly). Once a
    hook is registered, this takes the place of that weak reference in the leaf: called,
    it gives the current AccumulateGrad or None, and each AccumulateGrad made for the leaf
    takes ``retained`` from here, so that it runs the hooks."""

    __slots__ = ("ref", "retained")

    def __init__(self, acc):
        self.ref = None
        self.retained = {0: Hooks()}
        if acc is not None:
            self.attach(acc)

    def __call__(self):
        return None if self.ref is None else self.ref()

    def attach(self, acc):
        """acc is the leaf's AccumulateGrad from now on."""
        acc.retained = self.retained
        self.ref = weakref.ref(acc)
