"""The operator registry: one `Op` record per operation, carrying the rules both engines read.

An op has exactly one rule kind:

- ``elementwise``: per-argument partial derivatives ``d_i(*xs, y)``; JVP ``sum_i t_i * d_i``,
  VJP ``unbroadcast(g * d_i)``.
- ``linear``: JVP applies the op to the tangent; VJP applies the declared transpose.
- ``bilinear``: JVP ``op(ta, b) + op(a, tb)``; VJP by the transposes in each argument.
- ``general``: explicit ``jvp`` and ``vjp``.
- ``nondiff``: zero derivative; the engines return a plain (constant) value.
- ``composite``: a NumPy function written with registered ops (``np.diff`` as a slice and a
  subtraction): dispatch runs it on the traced values, so both modes, batching, second
  order and complex numbers come from its parts, as JAX builds ``jnp`` functions on ``lax``.

Rules are written with NumPy functions on their arguments, so when those arguments are
themselves Duals or Tensors of a lower level the rule dispatches again: that is how second
order works. Tangents and cotangents may carry one leading batch axis of k directions;
``batched`` tells a rule so. A rule that cannot vectorise over that axis runs once per
direction (``Op.batch`` says which: ``"vector"`` or ``"loop"``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

KINDS = ("elementwise", "linear", "bilinear", "general", "nondiff", "composite")

# Input domains the tests sample from, per operand (every op declares its own).
DOMAINS: dict[str, Callable[[np.random.Generator, tuple], np.ndarray]] = {
    "real": lambda rng, s: rng.uniform(-2.0, 2.0, s),
    "positive": lambda rng, s: rng.uniform(0.3, 3.0, s),
    "unit": lambda rng, s: rng.uniform(-0.9, 0.9, s),
    "gt1": lambda rng, s: rng.uniform(1.2, 3.0, s),
    "nonzero": lambda rng, s: rng.choice([-1.0, 1.0], s) * rng.uniform(0.3, 2.0, s),
    "bool": lambda rng, s: rng.uniform(size=s) > 0.5,
}
# Operands drawn from these domains are not differentiated (masks, indices).
CONSTANT_DOMAINS = ("bool", "int")
# How a compiled tape (ad.compile) writes an op as scalar instructions: Op.lowering.
LOWERINGS = ("moves", "select", "sum", "mean", "shapes")


@dataclass(eq=False)
class Op:
    """One differentiable (or explicitly non-differentiable) operation. Equal only to itself,
    and hashable: the engines cache what they derive from an op by the op itself (a name may
    be registered again for another op)."""

    name: str
    kind: str
    impl: Callable  # the primal on plain arrays: impl(*operands, **params)
    handles: tuple = ()  # the NumPy callables dispatched to this op
    parse: Callable | None = None  # (args, kwargs) -> (operands, params)
    derivs: tuple = ()  # elementwise: d_i(*xs, y) for each operand
    jvp_rule: Callable | None = None  # general: (tangents, primals, out, params, batched)
    vjp_rule: Callable | None = None  # general / linear / bilinear transposes
    batched_impl: Callable | None = None  # linear: impl over a leading batch axis
    examples: Callable | None = None  # rng -> list of (operands, params) to test on
    domain: tuple = ("real",)
    # real-analytic and NumPy evaluates it on complex input: the complex-step check applies
    analytic: bool = True
    smooth: bool = True  # False: finite differences may straddle a kink; tests keep off it
    # The rules are right on complex operands, in JAX's convention (holomorphic ops: the
    # rules as written; the others their own). False: a complex operand raises a TypeError
    # rather than get a wrong derivative.
    complex: bool = False
    kernel: Any = None  # the numba kernel module (ad/kernels) that runs for the op, if any
    second_order: bool = True  # rules dispatch again on boxed values; checked by the tests
    # Unary elementwise ops: fused(x) -> (y, dy/dx) in one pass on a plain array, or None
    # where it does not pay; forward mode, which needs both at once, uses it.
    fused: Callable | None = None
    # Unary elementwise ops: times(g, x, y) -> g * d(x, y) in one pass on plain arrays (a new
    # array), or None where it does not pay; the reverse engine, which would otherwise make
    # the partial and then the product, uses it. Read off the partial's own `times`
    # attribute when not given (ad/kernels/elementwise.py: tanh's and sigmoid's).
    times: Callable | None = None
    # Elementwise ops NumPy's scalars implement as Python operators (+, -, *, /, unary -):
    # the operator, which on NumPy scalars gives the ufunc's result bit for bit, at a tenth
    # of a ufunc call's cost (0.04 us against 0.55 us for np.add on two float64 scalars).
    # The reverse engine's fast path computes the primal with it.
    scalar: Callable | None = None
    doc: str = ""
    loop_batch: bool = False  # rules run once per direction on batched input
    # The output may share memory with operand 0 (basic indexing, reshape, transpose ...):
    # a Tensor then makes it a view of that operand's base, with one version counter, and an
    # in-place write through either is seen by the other's gradient. Whether a given call
    # views is read off the arrays (NumPy copies for fancy indices, some reshapes). An op
    # of several outputs (split's pieces) views operand j with output j when it has as many
    # outputs as operands, else operand 0 with every output; such views cannot be written
    # in place with grad mode on (as in PyTorch), see Tensor's views.
    view: bool = False
    # A composite whose result's structure is read off values (unique, compress, histogram):
    # (read, moved), the names of the parameters whose values decide which elements the result
    # holds or where they go, and of the parameters whose elements it moves (None: the read
    # ones). Sparsity detection refuses such an op where those values vary with x.
    orders_by: tuple | None = None
    # How ad.compile's recorder writes the op as scalar instructions, where `instruction` and
    # `einsum` below do not say (docs/compiled.md); None: it cannot, and refuses the op. One of
    # LOWERINGS, each a fact about the op that the recorder relies on:
    #   "moves"   each output entry is an entry of an operand, placed by the shapes and params
    #             alone (reshape, transpose, getitem, concatenate, ...): the op applied to the
    #             slots that hold the entries moves them, and emits nothing
    #   "select"  the same for the operands after the first, whose values pick the entries
    #             (where's condition): the first must be a plain array, a comparison's result
    #   "sum"     a sum over axes: a pairwise tree of additions per output entry
    #   "mean"    that sum, times 1 over the number of entries summed
    #   "shapes"  a non-differentiable op whose value reads only its operands' shapes
    #             (zeros_like, ndim, ...): a constant of the tape
    lowering: str | None = None
    # An elementwise op (or a non-differentiable one, comparisons included) that is one scalar
    # instruction of a compiled tape: the instruction's name ("sin", "maximum", "greater") in
    # ad/reverse/replay.py, whose function gives the value and the partials of `derivs` for one
    # element, or for a comparison the outcome a guard checks.
    instruction: str | None = None
    # A bilinear op equal to np.einsum(einsum(ndim(a), ndim(b), **params), a, b) (matmul, dot,
    # inner, tensordot, ...): its subscripts, '...' allowed, no letter twice in one operand. The
    # compiled recorder writes it as a broadcast product and a sum.
    einsum: Callable | None = None
    # A general op whose VJP reads only its operands' shapes and dtypes (setitem): the
    # reverse engine then keeps no values alive for it.
    vjp_reads_shapes: bool = False
    # Linear in each operand with the others fixed, each coefficient of its JVP in one operand a
    # sum of products of the others' entries: every bilinear op (set for them here), and a
    # general op declared so (np.einsum). Its VJP in an operand reads the others alone, and
    # sparsity detection reads each operand's map with the others at their structure.
    multilinear: bool = False
    # A composite that writes into its first operand and returns None, as NumPy's fill_diagonal,
    # put, place, put_along_axis and copyto do: a Tensor records the write through its item
    # assignment, other traced values refuse it. Such an op has no functional form to run
    # forward and reverse side by side, so the registry suites skip it, visibly.
    mutates: bool = False
    # What the engines derive from this op's rules (which values its VJP reads, which
    # partials a node may keep), kept with the op so that it goes when the op goes (an
    # ad.checkpoint(f) op, say) and never outlives it to answer for another op of its name.
    derived: dict = field(default_factory=dict, repr=False)
    # How a Tensor records this op, per pattern of operands that need a cotangent (the
    # pattern's bits as the key): worked out on first use and kept with the op, as `derived` is.
    plans: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"op {self.name!r}: unknown rule kind {self.kind!r}; use one of {KINDS}")
        if self.lowering is not None and self.lowering not in LOWERINGS:
            raise ValueError(f"op {self.name!r}: unknown lowering {self.lowering!r}; use one of {LOWERINGS}")
        # Whether the VJP reads the primal values (so the tape must save them and watch their
        # versions): linear ops and constant-partial elementwise ops read only shapes.
        # A VJP rule that takes `needs` skips the cotangents of operands nothing depends on
        # (a constant matrix in A @ x): None in their place.
        self.vjp_takes_needs = (
            self.vjp_rule is not None and "needs" in inspect.signature(self.vjp_rule).parameters
        )
        self.multilinear = self.multilinear or self.kind == "bilinear"
        if self.times is None and self.kind == "elementwise" and len(self.derivs) == 1:
            self.times = getattr(self.derivs[0], "times", None)
        self.reads_values = not (
            self.vjp_reads_shapes
            or self.kind == "linear"
            or (self.kind == "elementwise" and not any(callable(d) for d in self.derivs))
        )

    @property
    def batch(self) -> str:
        return "loop" if self.loop_batch else "vector"

    def call(self, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        """Split a NumPy-style call into differentiable operands and static params."""
        if self.parse is not None:
            return self.parse(*args, **kwargs)
        return tuple(args), dict(kwargs)


_BY_NAME: dict[str, Op] = {}
_BY_CALLABLE: dict[Any, Op] = {}


def register(op: Op) -> Op:
    """Add an op to the registry (the same function the library uses for its own ops). An op
    that answers to a NumPy callable another op answered to takes it over until it is
    unregistered; the other op then answers again."""
    if op.name in _BY_NAME:
        raise ValueError(f"op {op.name!r} is already registered; pick another name")
    _BY_NAME[op.name] = op
    for f in op.handles:
        _BY_CALLABLE[f] = op
    _changed()
    return op


def unregister(name: str) -> None:
    """Remove a user op (tests that register throwaway ops clean up with this); a NumPy
    callable it had taken over answers to the op it displaced again."""
    op = _BY_NAME.pop(name)
    for f in op.handles:
        if _BY_CALLABLE.get(f) is op:  # the latest op registered for f that is left answers
            owners = [o for o in _BY_NAME.values() if f in o.handles]
            if owners:
                _BY_CALLABLE[f] = owners[-1]
            else:
                del _BY_CALLABLE[f]
    _changed()


def on_change(forget: Callable[[], None]) -> None:
    """Have forget() called whenever an op is registered or unregistered: for a cache of
    lookups (Python's operators on traced values keep the op they found)."""
    _WATCHERS.append(forget)


def _changed() -> None:
    for forget in _WATCHERS:
        forget()


_WATCHERS: list = []


# lookup(func): the op that answers to a NumPy callable, or None. The dict's own method:
# dispatch calls it once per op, and a Python wrapper would double its cost.
lookup = _BY_CALLABLE.get


def get(name: str) -> Op:
    return _BY_NAME[name]


def all_ops() -> list[Op]:
    return sorted(_BY_NAME.values(), key=lambda op: op.name)


# ---------------------------------------------------------------------------------------
# Declaration helpers: most ops are one line through these (JAX's deflinear/defbilinear).


def _callables(handles) -> tuple:
    hs = tuple(handles) if isinstance(handles, Sequence) else (handles,)
    # a function of ad.numpy answers for the NumPy callable it wraps: NumPy dispatches to that
    return tuple(_wrapped(f) if getattr(f, "__module__", "").startswith("ad.numpy") else f for f in hs)


def _wrapped(f):
    return getattr(f, "__wrapped__", f)


def elementwise(
    name: str,
    handles,
    *derivs: Callable,
    impl: Callable | None = None,
    domain: tuple = ("real",),
    **kw,
) -> Op:
    """An op whose derivative in each operand is an array ``d_i(*xs, y)`` of the output's shape."""
    hs = _callables(handles)
    return register(Op(name, "elementwise", impl or hs[0], hs, derivs=derivs, domain=domain, **kw))


def linear(
    name: str,
    handles,
    transpose: Callable,
    *,
    impl: Callable | None = None,
    batched_impl: Callable | None = None,
    **kw,
) -> Op:
    """An op linear in its operands; ``transpose(ct, primals, out, params, batched)``."""
    hs = _callables(handles)
    kw.setdefault("loop_batch", batched_impl is None)
    return register(
        Op(name, "linear", impl or hs[0], hs, vjp_rule=transpose, batched_impl=batched_impl, **kw)
    )


def bilinear(
    name: str, handles, transpose: Callable, *, impl=None, batched_impl: Callable | None = None, **kw
) -> Op:
    """An op linear in each of its two operands; ``transpose`` returns both cotangents.

    ``batched_impl(a, b, which, **params)`` applies the op when operand ``which`` (0 or 1)
    carries a leading batch axis; without it, batched rules run once per direction.
    """
    hs = _callables(handles)
    kw.setdefault("loop_batch", batched_impl is None)
    return register(
        Op(name, "bilinear", impl or hs[0], hs, vjp_rule=transpose, batched_impl=batched_impl, **kw)
    )


def general(name: str, handles, jvp: Callable, vjp: Callable, *, impl=None, **kw) -> Op:
    """An op with explicit rules ``jvp(tangents, primals, out, params, batched)`` and vjp."""
    hs = _callables(handles)
    return register(Op(name, "general", impl or hs[0], hs, jvp_rule=jvp, vjp_rule=vjp, **kw))


def nondiff(name: str, handles, *, impl=None, **kw) -> Op:
    """An op with zero derivative everywhere it is defined (comparisons, floor, argmax ...)."""
    hs = _callables(handles)
    return register(Op(name, "nondiff", impl or hs[0], hs, **kw))


def composite(name: str, handles, impl: Callable, **kw) -> Op:
    """A NumPy function written with registered ops: ``impl(*args, **kwargs)`` takes the call
    as NumPy does and must not call the function it answers to. Its derivatives are its
    parts'; ``complex=True`` only where every part accepts complex input."""
    return register(Op(name, "composite", impl, _callables(handles), **kw))
