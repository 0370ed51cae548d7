"""`Pattern`: a traced value that carries, for each of its elements, the set of inputs it depends on.

The sets are the rows of a boolean ``scipy.sparse`` matrix (one row per element, in C order;
one column per input). An op maps its operands' rows to its output's through a *structure
map* S per operand (output elements x operand elements, True where the output element can
depend on the operand element), derived from the op's rule kind:

- elementwise: S is the broadcast, each output element depends on the operand element
  at the same position;
- linear (and a general op whose VJP reads only shapes, which makes it linear): S is the
  structure of the op's own JVP map, read off with a few probes (`probe_map`);
- multilinear (a bilinear op, or einsum): the union over the operands, each read as a linear map with the
  others held at a structural value (1 where it varies with x or is a nonzero constant, 0 where
  it is a constant zero);
- general: every output element depends on every element of every operand (a conservative
  dense map), or, with ``local=True``, the structure of its JVP at x;
- nondiff: no dependence; in the global mode its result is marked as depending on x, so that
  a Python ``if`` on it (or an index taken from it) raises instead of following one branch.

The output's rows are the union over operands of S @ rows. Global patterns hold for every x:
nothing in them reads x's values. With ``record`` the maps are kept (a tape) for the Hessian.
"""

from __future__ import annotations

import inspect

import numpy as np
import scipy.sparse as sp

from ad import registry, rules
from ad.trace import Box, Rebinding, apply, new_level, note_views, raw

DENSE = "dense"  # the structure map of the dense fallback: every output on every operand element
PROBE_CHUNK = 256  # identity probes per batched JVP or VJP when a map is read column by column
VERIFY_PROBES = 48  # random half-probes that check a general op's selections (probe_map)


# Errors an op raises because of its operands' values, not their shapes: a `try` around one
# is a branch on x's values.
VALUE_ERRORS = (np.linalg.LinAlgError, FloatingPointError)


class ValueDependenceError(TypeError):
    """f's control flow or indexing depends on the values of x, so no pattern holds for every x."""


class Trace:
    """What the boxes of one detection share: n inputs, the mode, and for Hessians the tape."""

    def __init__(self, n: int, local: bool, record: bool):
        self.n = n
        self.local = local
        self.level = new_level()
        self.rng = np.random.default_rng(0)  # the probes' random weights: reproducible patterns
        # tape: per node, its size and (operand node, offset, size, S) for each traced operand;
        # cross: (node, A, B), a nonlinear node whose second derivative couples A's and B's rows
        self.nodes: list | None = [] if record else None
        self.cross: list = []

    def node(self, size: int, entries: list) -> int | None:
        if self.nodes is None:
            return None
        self.nodes.append((size, entries))
        return len(self.nodes) - 1


def empty(size: int, n: int) -> sp.csr_array:
    return sp.csr_array((size, n), dtype=bool)


class Pattern(Rebinding, Box):
    """A primal value and, per element, the inputs it depends on (``rows``: size x n, boolean)."""

    __slots__ = (
        "primal",
        "rows",
        "level",
        "tracer",
        "node",
        "offset",
        "source",
        "varies",
        "aliases",
        "__weakref__",
    )
    mode = "sparsity"
    _write_fix = (
        "compute the Jacobian densely (ad.jacfwd, ad.jacrev), whose reverse mode records in-place writes"
    )

    def __init__(
        self,
        primal,
        rows,
        trace: Trace,
        node=None,
        offset: int = 0,
        source: str | None = None,
        varies: str | None = None,
    ):
        self.primal = primal
        self.rows = rows
        self.tracer = trace  # not .trace: x.trace() is NumPy's method
        self.level = trace.level
        self.node = node  # where its rows sit on the tape (Hessians only)
        self.offset = offset
        self.source = source  # the nondiff op whose result this is (global mode), else None
        # The nondiff op whose result was mixed into this value beside traced operands (the
        # concatenation of x and x > 0, say): an element with no inputs in its row may still
        # vary with x, so it is no constant whose zeros a bilinear op may keep (global mode).
        self.varies = varies
        self.aliases = None  # see trace.Rebinding

    @property
    def _value(self):
        return self.primal

    def __repr__(self):
        return f"Pattern(shape={np.shape(self.primal)}, nnz={self.rows.nnz})"

    # -- values that depend on x ------------------------------------------------------------
    @classmethod
    def _constant(cls, op, operands, params):
        value = op.impl(*(raw(x) for x in operands), **params)
        tr = next(x.tracer for x in operands if isinstance(x, Pattern))
        # a value read off shapes and dtypes alone (ndim, iscomplexobj) is the same at every x
        return value if tr.local or op.lowering == "shapes" else derived(value, tr, op.name)

    def _why(self) -> str:
        if self.source is not None:
            return f"the result of numpy.{self.source} on traced values"
        return "a traced value"

    def __bool__(self):
        if self.tracer.local:
            return bool(raw(self))
        raise value_dependence(f"a Python `if` (or bool()) on {self._why()}")

    def _concrete(self, call: str, fix: str):
        if self.source is not None and not self.tracer.local:
            raise value_dependence(f"{call} on {self._why()}")
        return super()._concrete(call, fix)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        boxed = [k for k, v in kwargs.items() if isinstance(v, Pattern)]
        if boxed:  # where=x > 0, say: an option, not an operand (it recursed into this hook)
            if not self.tracer.local:
                raise value_dependence(
                    f"numpy.{ufunc.__name__}(..., {boxed[0]}=) with {kwargs[boxed[0]]._why()}"
                )
            kwargs = {k: raw(v) for k, v in kwargs.items()}
        if registry.lookup(ufunc) is None and _only_derived(inputs):
            value = getattr(ufunc, method)(*(raw(x) for x in inputs), **kwargs)
            return derived(value, self.tracer, ufunc.__name__)
        return super().__array_ufunc__(ufunc, method, *inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        op = registry.lookup(func)
        # values that vary with x but depend on no input (an option too: weights=x is one) give
        # such a value, whatever the function: it need not be registered, nor its parse keep them
        if (_only_derived(list(args) + list(kwargs.values())) and not (op is not None and op.mutates)) or (
            op is not None
            and op.orders_by is not None
            and not self.tracer.local
            and _sorted_by_values(op, args, kwargs)
        ):
            value = func(*_raw_args(args), **{k: _raw_args([v])[0] for k, v in kwargs.items()})
            return derived(value, self.tracer, func.__name__ if op is None else op.name)
        if op is not None:
            _refuse_consumed(op, args, kwargs)
        return super().__array_function__(func, types, args, kwargs)

    def __getitem__(self, index):
        marked = _first_derived(index)
        if marked is not None:
            raise value_dependence(f"indexing with {marked._why()}")
        return super().__getitem__(index)

    def __and__(self, o):
        return np.logical_and(self, o)

    def __or__(self, o):
        return np.logical_or(self, o)

    def __invert__(self):
        return np.logical_not(self)

    __rand__, __ror__ = __and__, __or__

    # -- the engine's hook --------------------------------------------------------------------
    @classmethod
    def _process(cls, op, operands, params, level):
        mine = [isinstance(x, Pattern) and x.level == level for x in operands]
        tr = next(x.tracer for x, m in zip(operands, mine) if m)
        # an index or a size that varies with x, however it came (x.take(np.argsort(x)), a list
        # index [np.argmax(x), 0], x.repeat(counts)): the pattern of this x only
        marked = _first_derived(list(params.values()))
        if marked is not None:
            raise value_dependence(f"numpy.{op.name} with {marked._why()} as an index or a parameter")
        primals = [x.primal if m else x for x, m in zip(operands, mine)]
        try:
            out = apply(op, primals, params)
        except VALUE_ERRORS as e:  # f may catch it and take another branch than at other x
            if tr.local:
                raise
            raise value_dependence(
                f"numpy.{op.name} raising {type(e).__name__} at this x (f fails here, or catches it "
                "and branches)"
            ) from e
        outs = list(out) if isinstance(out, tuple | list) else [out]
        sizes = [int(np.size(raw(o))) for o in outs]
        total = sum(sizes)
        traced = [j for j, m in enumerate(mine) if m and operands[j].rows.nnz]
        varying = next(
            (x.source or x.varies for x, m in zip(operands, mine) if m and (x.source or x.varies)), None
        )
        if not traced:  # no input reaches the output; it still varies with x if an operand did
            source, varies = varying, None
            rows, node = empty(total, tr.n), None
        else:
            maps = structure_maps(op, tr, operands, primals, params, out, outs, traced)
            parts = [_push(S, operands[j].rows, total, tr.n) for j, S in zip(traced, maps)]
            rows = parts[0]
            for p in parts[1:]:
                rows = rows + p
            entries = [
                (operands[j].node, operands[j].offset, operands[j].rows.shape[0], S)
                for j, S in zip(traced, maps)
            ]
            node = tr.node(total, entries)
            if node is not None:
                _record_cross(op, tr, node, rows, parts, traced)
            source, varies = None, varying
        boxes, offset = [], 0
        for o, size in zip(outs, sizes):
            boxes.append(Pattern(o, rows[offset : offset + size], tr, node, offset, source, varies))
            offset += size
        note_views(operands, boxes, _memory)  # x op= y is refused while a view of x lives (Rebinding)
        return type(out)(boxes) if isinstance(out, tuple | list) else boxes[0]


def _memory(p: Pattern):
    return raw(p.primal)


def dependence(op) -> str:
    """How detection pushes dependence through op (the sparsity column of `python -m ad ops`)."""
    if op.kind == "general":
        if op.multilinear:
            return "multilinear"
        return "linear map" if not op.reads_values else "dense"
    return {
        "elementwise": "per element",
        "linear": "linear map",
        "bilinear": "bilinear",
        "nondiff": "none",
        "composite": "its parts",
    }[op.kind]


def _record_cross(op, tr: Trace, node: int, rows, parts: list, traced: list) -> None:
    """Where this op's second derivative can be nonzero, for the Hessian (conservatively)."""
    if op.kind == "elementwise":
        if any(callable(op.derivs[j]) for j in traced if j < len(op.derivs)):
            tr.cross.append((node, rows, rows))
    elif op.multilinear:  # the cross terms of two operands' inputs, nothing within one operand
        for a in range(len(traced)):
            for b in range(a + 1, len(traced)):
                tr.cross.append((node, parts[a], parts[b]))
    elif op.kind == "general" and op.reads_values:
        tr.cross.append((node, rows, rows))


def _push(S, rows, total: int, n: int):
    """The output's rows from one operand's: S @ rows, or every row the union for DENSE."""
    if S is not DENSE:
        return (S @ rows).tocsr()
    used = np.flatnonzero(np.asarray(rows.sum(axis=0)).ravel())
    indptr = np.arange(total + 1, dtype=np.int64) * used.size
    return sp.csr_array((np.ones(total * used.size, bool), np.tile(used, total), indptr), shape=(total, n))


# -- structure maps --------------------------------------------------------------------------
def structure_maps(op, tr: Trace, operands, primals, params, out, outs, traced) -> list:
    """One structure map per traced operand (output elements x operand elements)."""
    if op.kind == "elementwise":
        shape = np.shape(raw(out))
        return [_broadcast_map(np.shape(raw(primals[j])), shape) for j in traced]
    values = [raw(p) for p in primals]
    verify = False
    if op.multilinear:
        # each coefficient of its JVP in one operand is a sum of products of the others'
        # entries: the others at their structure (no negative entries, so no sum cancels) give
        # that JVP's structure for every value they take
        values = [_structural(x, p) for x, p in zip(operands, values)]
    elif op.kind == "general" and op.reads_values:
        if not tr.local:
            return [DENSE for _ in traced]
        verify = True  # its JVP at x (local mode): any coefficients
    return [probe_map(op, values, params, raw_out(out), j, tr.rng, verify) for j in traced]


def raw_out(out):
    return type(out)(raw(o) for o in out) if isinstance(out, tuple | list) else raw(out)


def _structural(x, value):
    """A multilinear op's other operand as its structure: 1 where it varies with x or is a nonzero
    constant (NaN too), 0 where it is a constant zero (a zero for every x). Ones, not the
    constant's values: [1, 1e-17] would sum to exactly 1 and pass for one element."""
    a = (np.asarray(value) != 0).astype(np.float64)
    if isinstance(x, Pattern):
        if x.source is not None or x.varies is not None:
            return np.ones_like(a)
        varies = np.asarray(x.rows.sum(axis=1)).ravel().reshape(np.shape(a)) > 0
        return np.where(varies, 1.0, a)
    return a


def _broadcast_map(in_shape: tuple, out_shape: tuple) -> sp.csr_array:
    """Output element o depends on the operand element broadcasting puts at o."""
    size = int(np.prod(in_shape, dtype=int))
    idx = np.broadcast_to(np.arange(size).reshape(in_shape), out_shape).ravel()
    return _selection(idx, size)


def _selection(idx: np.ndarray, size: int) -> sp.csr_array:
    """S with S[o, idx[o]] for idx[o] >= 0 (a negative idx: o depends on nothing)."""
    keep = idx >= 0
    indptr = np.concatenate([[0], np.cumsum(keep)])
    return sp.csr_array((np.ones(int(keep.sum()), bool), idx[keep], indptr), shape=(idx.size, size))


def probe_map(op, values: list, params: dict, out, j: int, rng, verify: bool = False) -> sp.csr_array:
    """The structure of t -> JVP of op in operand j (the others' tangents zero), from probes.

    Four probes tell which output elements copy exactly one operand element (the selections:
    getitem, reshape, concatenate, ...): ones, the index i+1, its square, and random weights w
    in [1, 2) give 1, i+1, (i+1)^2 and w_i at such an element. A combination c of several
    elements matches all four only if sum c = 1, sum c i = j, sum c i^2 = j^2 (impossible for
    c >= 0 unless c picks one element) and sum c w = w_j to the last bit, which random w makes
    a probability-zero event. The other elements (sums, contractions) are read exactly, with
    identity seeds: through the VJP when they are fewer than the operand's elements, else the
    JVP. Exact zeros of the op's coefficients are structural, so nothing cancels by chance.
    The sums round, though: beside a coefficient of exactly 1, one below half its ulp (1e-17)
    leaves all four probes unchanged. The coefficients probed in the global mode cannot be
    such (linear ops': 0, 1, 1/n, unit roots; bilinear ops' other operand enters as ones); a
    general op's JVP read at x (local mode: einsum with [[1, 1e-17]]) can, so with ``verify``
    each selection is checked by VERIFY_PROBES random weights on random halves of the elements:
    where the picked element's weight is 0, any other element in the sum shows, unrounded (it
    stays hidden from all of them with probability (3/4)^VERIFY_PROBES).
    """
    shape = np.shape(values[j])
    size = int(np.prod(shape, dtype=int))
    outs = list(out) if isinstance(out, tuple | list) else [out]
    out_shapes = [np.shape(o) for o in outs]
    total = sum(int(np.prod(s, dtype=int)) for s in out_shapes)

    def push(T):  # (k, size) tangents of operand j -> (k, total) output tangents
        k = T.shape[0]
        ts = [None] * len(values)
        ts[j] = T.reshape((k, *shape))
        r = rules.jvp(op, ts, values, out, params, batched=True)
        rs = list(r) if isinstance(r, tuple | list) else [r]
        return (
            np.concatenate(
                [
                    np.zeros((k, int(np.prod(s, dtype=int)))) if t is None else np.reshape(t, (k, -1))
                    for t, s in zip(rs, out_shapes)
                ],
                axis=1,
            )
            if rs
            else np.zeros((k, 0))
        )

    def pull(C):  # (k, total) output cotangents -> (k, size) cotangents of operand j
        k, parts, at = C.shape[0], [], 0
        for s in out_shapes:
            m = int(np.prod(s, dtype=int))
            parts.append(C[:, at : at + m].reshape((k, *s)))
            at += m
        ct = type(out)(parts) if isinstance(out, tuple | list) else parts[0]
        needs = [i == j for i in range(len(values))]
        g = rules.vjp(op, ct, values, out, params, batched=True, needs=needs)[j]
        return np.zeros((k, size)) if g is None else np.reshape(g, (k, size))

    a = np.arange(1.0, size + 1.0)
    w = rng.uniform(1.0, 2.0, size)
    probes = np.stack([np.ones(size), a, a * a, w])
    U = push(probes)
    picked = np.rint(np.real(U[1])).astype(np.int64) - 1
    inside = (U[1] == picked + 1) & (picked >= 0) & (picked < size)
    at = np.where(inside, picked, 0)
    select = inside & (U[0] == 1.0) & (U[2] == (at + 1.0) ** 2) & (U[3] == w[at])
    nothing = ~U.any(axis=0)
    # A complex operand has imaginary directions too, which the real probes miss (imag(z) is
    # zero along the real ones): a selection moves them along with the real ones (z, conj z,
    # Re z); any other output is read exactly below, in both directions.
    complex_in = np.iscomplexobj(values[j])
    complex_out = any(np.iscomplexobj(o) for o in outs)
    if complex_in:
        V = push(1j * probes)
        nothing &= ~V.any(axis=0)
        select &= np.all((V == 1j * U) | (V == -1j * U) | (V == 0), axis=0)
    if verify and select.any():
        chosen = np.flatnonzero(select)
        half = rng.uniform(size=(VERIFY_PROBES, size)) < 0.5
        T = half * w
        shown = push(T)[:, chosen] != 0
        if complex_in:
            shown |= push(1j * T)[:, chosen] != 0
        select[chosen[(shown & ~half[:, picked[chosen]]).any(axis=0)]] = False
    idx = np.where(select, picked, -1)
    S = _selection(idx, size)
    rest = np.flatnonzero(~select & ~nothing)
    if not rest.size:
        return S
    ri, ci = [], []
    if rest.size <= size:  # read the rows of the other outputs, k at a time, by VJPs
        for start in range(0, rest.size, PROBE_CHUNK):
            block = rest[start : start + PROBE_CHUNK]
            C = np.zeros((block.size, total))
            C[np.arange(block.size), block] = 1.0
            hits = pull(C) != 0  # NaN counts as a dependence
            if complex_out:  # the imaginary part's row (a real operand's cotangent is the real part)
                hits |= pull(1j * C) != 0
            r, c = np.nonzero(hits)
            ri.append(block[r])
            ci.append(c)
    else:  # read the columns by JVPs, and keep the other outputs' entries
        keep = np.zeros(total, bool)
        keep[rest] = True
        for start in range(0, size, PROBE_CHUNK):
            k = min(PROBE_CHUNK, size - start)
            T = np.zeros((k, size))
            T[np.arange(k), start + np.arange(k)] = 1.0
            hits = push(T) != 0
            if complex_in:
                hits |= push(1j * T) != 0
            c, r = np.nonzero(hits & keep)
            ri.append(r)
            ci.append(start + c)
    ri, ci = np.concatenate(ri), np.concatenate(ci)
    extra = sp.csr_array((np.ones(ri.size, bool), (ri, ci)), shape=(total, size))
    return (S + extra).tocsr()


# Methods whose arguments besides x are indices, sizes or axes: a Box method hands them to its
# op's parse, which reads an index array's plain value (np.take's does), so the NumPy protocol's
# check (_refuse_consumed) never sees them. Checked here instead.
INDEX_METHODS = (
    "take", "repeat", "diagonal", "trace", "reshape", "transpose", "swapaxes", "squeeze", "sum",
    "mean", "std", "var", "prod", "max", "min", "cumsum", "cumprod", "argmax", "argmin", "all",
    "any", "flatten", "ravel",
)  # fmt: skip


def _refusing(name: str):
    method = getattr(Box, name)

    def checked(self, *args, **kwargs):
        if not self.tracer.local:
            marked = _first_derived(list(args) + list(kwargs.values()))
            if marked is not None:
                raise value_dependence(f"x.{name}(...) with {marked._why()} as an index or a parameter")
        return method(self, *args, **kwargs)

    checked.__name__ = checked.__qualname__ = name
    checked.__doc__ = method.__doc__
    return checked


for _name in INDEX_METHODS:
    setattr(Pattern, _name, _refusing(_name))


# -- results that depend on x without a derivative --------------------------------------------
def derived(value, tr: Trace, name: str):
    """A nondiff result in the global mode: a Pattern with no dependence, marked as varying
    with x. Python ints and tuples of them (shape, ndim, size) stay plain."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, tuple | list):
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return value
        parts = [derived(v, tr, name) for v in value]
        return type(value)(*parts) if hasattr(value, "_fields") else type(value)(parts)
    return Pattern(value, empty(int(np.size(value)), tr.n), tr, source=name)


def _is_derived(x) -> bool:
    return isinstance(x, Pattern) and x.source is not None and not x.tracer.local


def _flat(args):
    for a in args:
        if isinstance(a, tuple | list):
            yield from _flat(a)
        else:
            yield a


def _first_derived(args):
    """The first value among args (nested in tuples and lists) derived from x's values, or None."""
    found = (a for a in _flat(args if isinstance(args, tuple | list) else (args,)) if _is_derived(a))
    return next(found, None)


def _only_derived(args) -> bool:
    boxes = [a for a in _flat(args) if isinstance(a, Pattern)]
    return bool(boxes) and all(b.source is not None for b in boxes)


def _raw_args(args):
    return [type(a)(_raw_args(a)) if isinstance(a, tuple | list) else raw(a) for a in args]


def _sorted_by_values(op, args, kwargs) -> bool:
    """Whether op (one with orders_by) reads its structure off a value that varies with x and
    its result is made of constants and derived values only (then it is derived: computed on the
    plain values, marked as varying with x); an error if it moves traced elements by it."""
    try:
        bound = inspect.signature(op.impl).bind(*args, **kwargs).arguments
    except TypeError:
        return False  # a wrong call: let the op's own error say so
    # Such a composite reads, off the plain values of some arguments (through raw, which no
    # tracer sees), which elements of the others go where, or how many there are. Its parts
    # see only constant indices, so in the global mode the pattern would be the one of this x.
    read, moved = op.orders_by
    moved = read if moved is None else moved
    varying = [a for name in read for a in _flat([bound.get(name)]) if _varies(a)]
    if not varying:
        return False
    if any(_traced(a) for name in moved for a in _flat([bound.get(name)])):
        raise value_dependence(f"numpy.{op.name}, which orders or picks elements by {varying[0]._why()},")
    # interp's x and histogram's a also reach the result through their own derivative, which
    # the op's parts carry: only a result of constants and derived values is derived itself
    return not any(_traced(a) for a in varying)


def _traced(x) -> bool:
    return isinstance(x, Pattern) and bool(x.rows.nnz)


def _varies(x) -> bool:
    return isinstance(x, Pattern) and bool(x.rows.nnz or x.source or x.varies)


def _refuse_consumed(op, args, kwargs) -> None:
    """A value that varies with x used as an index or a size (a param, not an operand) would fix
    the pattern to this x: refuse it."""
    if op.kind in ("elementwise", "nondiff", "composite"):
        return
    marked = [a for a in _flat(list(args) + list(kwargs.values())) if _is_derived(a)]
    if not marked:
        return
    operands, _ = op.call(args, kwargs)
    kept = {id(a) for a in _flat(operands)}
    for a in marked:
        if id(a) not in kept:
            raise value_dependence(f"numpy.{op.name} with {a._why()} as an index or a parameter")


def value_dependence(what: str) -> ValueDependenceError:
    return ValueDependenceError(
        f"sparsity detection: {what} makes f's structure depend on the values of x, so no pattern "
        "holds for every x. Pass local=True for the pattern at this x (valid where the same branch "
        "is taken), or write the branch without Python control flow (x * (x > 0) instead of "
        "`if x > 0`; np.where is dense in detection)."
    )
