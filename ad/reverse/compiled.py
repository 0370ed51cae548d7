"""Compiled tapes: record a function once into flat arrays, replay it in numba.

`ad.compile(f, x)` runs f once on a recorder (a Box at its own level, so it is one more
level of the shared dispatch) that lowers every op to scalar instructions as the op's
declaration says (`Op.instruction`, `Op.lowering`, `Op.einsum`: it names no op).
Elementwise ops become one instruction per element, shape ops (reshape, transpose,
indexing, concatenate, ...) only rearrange which slots hold which element and cost
nothing, and sums, means and contractions become multiplies and trees of adds. The
result is a straight-line program of scalar instructions (ReverseDiff.jl's compiled tapes; the
static-graph idea of torch.compile) that ad/reverse/replay.py sweeps forward, in reverse
and in tangent mode, batched or not: one recording gives value, grad, vjp, jvp, jacfwd
and jacrev.

Branches: every comparison made while recording (`if x > 0:`, `max(x, y)`, `x[x > 0]`)
becomes a guard. A replay whose guards fail re-records at the new input; it never
returns the gradient of the branch it did not take.

What f reads besides its argument is checked at each replay (Environment), and a change
records f again; so does a new input shape. Results come back in the input's float dtype.

Limits: one array (or float) argument; arrays small enough that one instruction per
element is sensible (thousands to a few hundred thousand); ops without a compiled rule
(linear algebra beyond the contractions, cumulative ops, ...) raise NotImplementedError at
recording time. Buffers are reused between calls: one Compiled object per thread.
"""

from __future__ import annotations

import string
from collections.abc import Callable

import numpy as np

from ad import registry, rules
from ad.reverse.environment import Environment
from ad.reverse.tensor import Tensor
from ad.trace import Box, Rebinding, new_level, note_views, raw

SCRATCH = -1  # placeholder for the scratch slot, resolved when the program is finished


class Program:
    """Instructions and slot values, appended in chunks while recording."""

    def __init__(self, environment: Environment):
        self.n_slots = 0
        self.values: list[np.ndarray] = []
        self.chunks: list[tuple] = []  # (code, a, b, out) arrays
        self.guards: list[tuple] = []  # (code, a, b, outcome) arrays
        # What f reads besides its argument: a replay checks it is unchanged, and records
        # again if not. The arrays that become constants of the tape are watched too.
        self.environment = environment

    def new_slots(self, values) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        slots = np.arange(self.n_slots, self.n_slots + values.size).reshape(values.shape)
        self.n_slots += values.size
        self.values.append(values.ravel())
        return slots

    def emit(self, code: int, A, B, values) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        out = self.new_slots(values)
        n = values.size
        b = np.full(n, SCRATCH) if B is None else np.broadcast_to(B, values.shape).ravel()
        self.chunks.append((np.full(n, code), np.broadcast_to(A, values.shape).ravel(), b, out.ravel()))
        return out

    def guard(self, code: int, A, B, expected):
        expected = np.asarray(expected)
        A, B = np.broadcast_to(A, expected.shape).ravel(), np.broadcast_to(B, expected.shape).ravel()
        self.guards.append((np.full(A.size, code), A, B, expected.ravel().astype(np.int64)))

    def finish(self):
        """The flat arrays replay.py sweeps: (instructions, guards, slot values)."""
        from ad.reverse import replay

        scratch = self.n_slots  # unary instructions read their b operand here: always 0

        def cat(chunks, i):
            parts = [c[i] for c in chunks]
            arr = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
            return np.ascontiguousarray(np.where(arr == SCRATCH, scratch, arr), dtype=np.int64)

        instructions = tuple(cat(self.chunks, i) for i in range(4))
        guards = tuple(cat(self.guards, i) for i in range(4))
        values = np.concatenate(self.values + [np.zeros(1)])
        return replay, instructions, guards, values


class Rec(Rebinding, Box):
    """A recorded array: which slots hold its elements, and their values at recording time."""

    __slots__ = ("slots", "value", "level", "program", "aliases", "__weakref__")
    mode = "compiled"
    _write_fix = (
        "differentiate with the eager engines (ad.grad, ad.vjp, ad.jacrev), which record in-place writes"
    )

    def __init__(self, slots, value, level, program):
        self.slots, self.value, self.level, self.program = slots, value, level, program
        self.aliases = None  # see trace.Rebinding

    @property
    def _value(self):
        return self.value

    def __bool__(self):
        # Box allows bool() (truth is piecewise constant), but a compiled tape would bake in
        # this call's branch without a guard; float(), int(), .item() ... raise through Box.
        if self.value.size == 1:
            raise TypeError(
                "ad.compile cannot record bool() of a traced value: the compiled program would "
                "bake in this call's branch. Compare with <, >, ... (recorded as guards) instead."
            )
        return bool(self.value)

    def register_hook(self, hook):
        """Refused: a hook is Python code run on a gradient in a sweep, and a compiled tape's
        sweeps run in numba (a hook left out would leave c.grad differing from ad.grad)."""
        raise NotImplementedError(
            "ad.compile cannot record register_hook: the compiled tape's sweeps run in numba, "
            "where a Python hook cannot run, and leaving it out would change the gradient. "
            "Differentiate this function with the eager engines (ad.grad, ad.vjp, ad.jacrev), "
            "where the hook runs"
        )

    @classmethod
    def _constant(cls, op, operands, params):
        """A non-differentiable op: a constant if it reads only shapes, else its instruction
        (rounding, sign) or, for a comparison, a guard on the outcome seen now."""
        from ad.reverse.replay import GUARD, OPCODES

        if op.lowering == "shapes":
            return op.impl(*(raw(x) for x in operands), **params)
        if op.instruction is None:
            raise NotImplementedError(
                f"ad.compile has no compiled rule for {op.name}: its value would be baked in "
                "unguarded. Use the eager engines (ad.grad, ad.jacrev, ...) for this function."
            )
        recs = [x for x in operands if isinstance(x, Rec)]
        prog, level = recs[0].program, max(x.level for x in recs)
        code = OPCODES[op.instruction]
        value = op.impl(*(raw(x) for x in operands), **params)
        slots = [_slots(x, prog, level) for x in operands]
        if code >= GUARD:
            prog.guard(code, slots[0], slots[1], value)
            return value
        return Rec(prog.emit(code, slots[0], None, value), np.asarray(value, float), level, prog)

    @classmethod
    def _process(cls, op, operands, params, level):
        from ad.reverse.replay import OPCODES

        prog = next(x.program for x in operands if isinstance(x, Rec) and x.level == level)
        if op.instruction is not None:
            slots = [_slots(x, prog, level) for x in operands]
            value = op.impl(*(_values(x, level) for x in operands), **params)
            b = slots[1] if len(slots) > 1 else None
            if b is not None:
                slots[0], b = np.broadcast_arrays(slots[0], b)
            code = OPCODES[op.instruction]
            return Rec(prog.emit(code, slots[0], b, value), np.asarray(value, float), level, prog)
        if op.lowering in ("moves", "select"):
            return _move(op, operands, params, level, prog)
        if op.lowering in ("sum", "mean"):
            return _sum(operands[0], params, level, prog, mean=op.lowering == "mean")
        if op.einsum is not None:
            return _contract(op.einsum(*map(rules.ndim, operands), **params), *operands)
        ops = registry.all_ops()
        compiled = sorted(o.name for o in ops if o.instruction is not None and o.kind != "nondiff")
        contractions = sorted(o.name for o in ops if o.einsum is not None)
        raise NotImplementedError(
            f"ad.compile has no compiled rule for {op.name}. It compiles the elementwise ops that have a "
            f"compiled instruction ({', '.join(compiled)}); shape and indexing ops, where, sums and "
            f"means; and the contractions {', '.join(contractions)}. Use the eager engines (ad.grad, "
            "ad.jacrev, ...) for this function."
        )


def _move(op, operands, params, level, prog):
    """An op that only moves entries, applied to the slots that hold them: no instruction.
    A "select" op's first operand picks the entries by its values, so it must be a constant."""
    picks = operands[:1] if op.lowering == "select" else ()
    if any(isinstance(x, Box) for x in picks):
        raise NotImplementedError(
            f"ad.compile: the first operand of {op.name} must be a plain array (a comparison's "
            "result, which the tape guards), not a traced value"
        )
    moved = operands[len(picks) :]
    slots = [*picks, *(_slots(x, prog, level) for x in moved)]
    values = [*picks, *(_values(x, level) for x in moved)]
    out = _wrap(op.impl(*slots, **params), op.impl(*values, **params), level, prog)
    # NumPy's result shares an operand's memory where the slots do: x op= y is refused while
    # such a view lives (Rebinding)
    note_views(operands, out if isinstance(out, tuple | list) else (out,), _memory)
    return out


def _memory(r: Rec):
    return r.slots


def _slots(x, prog, level):
    if isinstance(x, Rec) and x.level == level:
        return x.slots
    if isinstance(x, Box):
        if isinstance(x, Tensor):
            raise NotImplementedError(
                f"ad.compile: f reads a Tensor of shape {np.shape(x)} besides its input x; a compiled tape "
                "differentiates in x alone and would carry no gradient to it. Pass its array "
                "(t.detach().numpy()) if it is a constant, or use the eager engines (ad.grad, backward())"
            )
        raise NotImplementedError("ad.compile records one level: call it outside other transforms")
    if isinstance(x, np.ndarray):
        prog.environment.watch(x)
    return prog.new_slots(_real_constant(x))


def _values(x, level):
    return x.value if isinstance(x, Rec) and x.level == level else _real_constant(x)


def _real_constant(x):
    """A constant of the program as float64, like every slot; a complex one would lose its imaginary part."""
    if np.iscomplexobj(x):
        raise TypeError(
            "ad.compile records real programs only; f uses a complex constant: "
            "differentiate it with the eager engines (ad.grad, ad.vjp) instead"
        )
    return np.asarray(x, dtype=float)


def _wrap(slots, values, level, prog):
    if isinstance(slots, tuple | list):
        return type(slots)(Rec(s, v, level, prog) for s, v in zip(slots, values))
    return Rec(np.asarray(slots), np.asarray(values, float), level, prog)


def _sum(x, params, level, prog, mean):
    """A pairwise tree of add instructions over the reduced axes (log depth, like NumPy's)."""
    from ad.reverse.replay import ADD

    S, V = x.slots, x.value
    axis, keepdims = params.get("axis"), params.get("keepdims", False)
    axes = tuple(range(S.ndim)) if axis is None else tuple(np.atleast_1d(axis) % max(S.ndim, 1))
    rest = [d for d in range(S.ndim) if d not in axes]
    kept = tuple(S.shape[d] for d in rest)
    r = int(np.prod([S.shape[d] for d in axes], dtype=int))
    S = np.transpose(S, rest + list(axes)).reshape(kept + (r,))
    V = np.transpose(V, rest + list(axes)).reshape(kept + (r,))
    if r == 0:
        S, V = prog.new_slots(np.zeros(kept)), np.zeros(kept)
    else:
        while S.shape[-1] > 1:
            m = S.shape[-1] // 2
            vals = V[..., 0 : 2 * m : 2] + V[..., 1 : 2 * m : 2]
            new = prog.emit(ADD, S[..., 0 : 2 * m : 2], S[..., 1 : 2 * m : 2], vals)
            S = np.concatenate([new, S[..., 2 * m :]], axis=-1)
            V = np.concatenate([vals, V[..., 2 * m :]], axis=-1)
        S, V = S[..., 0], V[..., 0]
    out_shape = tuple(1 if d in axes else n for d, n in enumerate(x.slots.shape)) if keepdims else kept
    out = Rec(S.reshape(out_shape), V.reshape(out_shape), level, prog)
    return out * (1.0 / r) if mean else out


def _contract(spec, a, b):
    """einsum(spec, a, b) through the recorder's own rules: both operands laid out on the axes
    of every letter (the broadcast '...' ones first, then in the order they appear), one
    broadcast multiply, and a sum over the letters the output lacks.

    '...' stands for the same letters in both operands, right-aligned as NumPy broadcasts."""
    terms, out = spec.split("->")
    terms = terms.split(",")
    spans = [rules.ndim(x) - len(t) + 3 if "..." in t else 0 for t, x in zip(terms, (a, b))]
    dots = "".join(c for c in string.ascii_letters if c not in spec)[: max(spans)]
    terms = [t.replace("...", dots[len(dots) - n :]) for t, n in zip(terms, spans)]
    out = out.replace("...", dots)
    letters = dots + "".join(c for c in dict.fromkeys("".join(terms)) if c not in dots)
    product = _lay_out(a, terms[0], letters) * _lay_out(b, terms[1], letters)
    summed = tuple(i for i, c in enumerate(letters) if c not in out)
    if summed:
        product = np.sum(product, axis=summed)
    kept = [c for c in letters if c in out]
    return product if kept == list(out) else np.transpose(product, [kept.index(c) for c in out])


def _lay_out(x, term, letters):
    """x, whose axes are term's letters, with its axes in the order of letters and a size-1
    axis for each letter it lacks."""
    order = sorted(term, key=letters.index)
    if order != list(term):
        x = np.transpose(x, [term.index(c) for c in order])
    missing = [i for i, c in enumerate(letters) if c not in term]
    return np.expand_dims(x, missing) if missing else x


class Compiled:
    """f recorded at an example input; replayed by numba for values and derivatives."""

    def __init__(self, f: Callable, x, specialize: bool = False):
        self.f = f
        self.specialize = specialize
        self.records = 0
        self._record(_as_float64(np.asarray(x)))

    def _record(self, x):
        environment = Environment(self.f)
        drawn = environment.random_states()
        prog, level = Program(environment), new_level()
        inputs = prog.new_slots(x)
        y = self.f(Rec(inputs, x.copy(), level, prog))
        if environment.random_states() != drawn:
            raise ValueError(
                "ad.compile: f drew random numbers while being recorded (from np.random or a "
                "generator it reads); a compiled tape would replay the same draw on every call. "
                "Differentiate f with the eager engines (ad.grad, ad.vjp), or draw the numbers "
                "outside f into an array f reads (a change to it records f again)"
            )
        if isinstance(y, tuple | list | dict):
            raise TypeError("ad.compile: f must return one array or scalar")
        if not (isinstance(y, Rec) and y.level == level):
            y = Rec(prog.new_slots(np.asarray(raw(y), float)), np.asarray(raw(y), float), level, prog)
        replay, (code, a, b, out), guards, v0 = prog.finish()
        environment.finish()
        self.environment = environment
        self.in_shape, self.in_slots = x.shape, np.ascontiguousarray(inputs.ravel())
        self.n_in = x.size  # inputs are the first slots: 0 .. n_in - 1
        self.out_shape, self.out_slots = y.slots.shape, np.ascontiguousarray(y.slots.ravel())
        self.result = int(self.out_slots[0]) if self.out_slots.size == 1 else None  # grad's slot
        scratch = len(v0) - 1
        live_a, live_b = np.zeros(len(code), dtype=bool), np.zeros(len(code), dtype=bool)
        reached = np.zeros(len(v0), dtype=bool)
        replay.liveness(code, a, b, out, self.n_in, self.out_slots, len(v0), live_a, live_b, reached)
        da, db = np.where(live_a, a, scratch), np.where(live_b, b, scratch)
        # Symbolic zeros, which the eager engines return as +0.0 (the sweeps leave -0.0):
        # inputs no output depends on, and outputs that depend on no input.
        self.unreached_inputs = np.flatnonzero(~reached[self.in_slots])
        self.constant_outputs = np.flatnonzero(~reached[self.out_slots])
        # The replay's two arrays (replay.pack): the calls once per replay take just these;
        # the attributes below are views of them, for the other sweeps.
        self.replay, self.v0 = replay, v0
        self.program = replay.pack(code, a, b, out, live_a, live_b, da, db, guards, len(v0), self.result)
        self.work = np.zeros(replay.work_size(self.program))
        sections = replay.sections.py_func(self.program)
        self.code, self.a, self.b, self.out, self.live_a, self.live_b, self.da, self.db = sections[:8]
        self.guards = sections[8:]
        self.v, self.pa, self.pb, self.ct = replay.workspace.py_func(self.program, self.work)
        self.v[:] = v0
        self.v_in = self.v[: self.n_in].reshape(x.shape)  # views of the input slots
        self.ct_in = self.ct[: self.n_in].reshape(x.shape)
        self.records += 1
        self._vg = None
        if self.specialize and self.out_slots.size == 1:
            from ad.reverse import specialize

            self._vg = specialize.value_and_grad(self.program, self.n_in)

    @property
    def n_instructions(self) -> int:
        return len(self.code)

    def _load(self, x):
        """Write x into the input slots (results are overwritten); record again for a new
        shape, or when what f reads besides x has changed since the recording. The sweeps
        compute in float64; results are given in x's float dtype (float32 in, float32 out)."""
        x = np.asarray(x)
        self.dtype = x.dtype
        if self.dtype is not _F64:  # the common case, on every call, makes no more checks
            x = _as_float64(x)
        if x.shape != self.in_shape or self.environment.changed():
            self._record(x)
        self.v_in[...] = x
        return x

    def _cast(self, *results):
        if self.dtype is _F64:
            return results
        return tuple(np.asarray(r).astype(self.dtype) for r in results)

    def _forward(self, x):
        y = self._load(x)
        if self.replay.value(self.program, self.work) >= 0:
            self._record(y)  # a guard failed: this input takes another branch
            return self._forward(x)  # the caller's x: _load reads its dtype again
        return y

    def __call__(self, x):
        self._forward(x)
        return self._cast(self.v[self.out_slots].reshape(self.out_shape))[0]

    def grad(self, x):
        """grad f(x) in one numba call: forward and reverse sweeps."""
        y = self._load(x)  # records again for a new shape: then the output's shape is new too
        if self.result is None:
            raise TypeError(f"grad needs a scalar output; got shape {self.out_shape}: use vjp or jacrev")
        if self._vg is not None:
            failed = self._vg(self.work)
        else:
            failed = self.replay.value_and_grad(self.program, self.work)
        if failed >= 0:
            self._record(y)
            return self.grad(x)  # the caller's x: _load reads its dtype again
        g = self._input_zeros(self.ct_in.copy())  # buffers are reused
        return g if self.dtype is _F64 else g.astype(self.dtype)

    def value_and_grad(self, x):
        """(f(x), grad f(x)): grad's sweeps leave f(x) in the output's slot."""
        g = self.grad(x)
        value = self.v[self.result]
        return (value, g) if self.dtype is _F64 else (self.dtype.type(value), g)

    def _input_zeros(self, g):
        """g with +0.0 for the inputs no output depends on (g's last axes are the input's)."""
        if self.unreached_inputs.size:
            g.reshape(g.shape[: g.ndim - len(self.in_shape)] + (-1,))[..., self.unreached_inputs] = 0.0
        return g

    def _output_zeros(self, t):
        """t with +0.0 for the outputs that depend on no input (t's first axes are the output's)."""
        if self.constant_outputs.size:
            t.reshape((-1,) + t.shape[len(self.out_shape) :])[self.constant_outputs] = 0.0
        return t

    def vjp(self, x, ct):
        """(f(x), ct^T J)."""
        self._forward(x)
        ct = np.asarray(ct, dtype=float)
        if ct.shape != self.out_shape:
            raise ValueError(f"vjp: cotangent shape {ct.shape} does not match output shape {self.out_shape}")
        c = np.full(len(self.v0), -0.0)
        np.add.at(c, self.out_slots, ct.ravel())
        self.replay.reverse(self.da, self.db, self.out, self.pa, self.pb, c)
        return self._cast(
            self.v[self.out_slots].reshape(self.out_shape),
            self._input_zeros(c[self.in_slots].reshape(self.in_shape)),
        )

    def jvp(self, x, t):
        """(f(x), J t)."""
        self._forward(x)
        t = np.asarray(t, dtype=float)
        if t.shape != self.in_shape:
            raise ValueError(f"jvp: tangent shape {t.shape} does not match input shape {self.in_shape}")
        tv = np.full(len(self.v0), -0.0)
        tv[self.in_slots] = t.ravel()
        self.replay.tangent(self.da, self.db, self.out, self.pa, self.pb, tv)
        return self._cast(
            self.v[self.out_slots].reshape(self.out_shape),
            self._output_zeros(tv[self.out_slots].reshape(self.out_shape)),
        )

    def jacfwd(self, x):
        """Jacobian by one batched tangent sweep over all n input directions."""
        self._forward(x)
        n = self.in_slots.size
        T = np.full((len(self.v0), n), -0.0)
        T[self.in_slots] = np.eye(n)
        self.replay.tangent_batched(self.da, self.db, self.out, self.pa, self.pb, T)
        return self._cast(self._output_zeros(T[self.out_slots].reshape(self.out_shape + self.in_shape)))[0]

    def jacrev(self, x):
        """Jacobian by one batched reverse sweep over all m output cotangents."""
        self._forward(x)
        m = self.out_slots.size
        C = np.full((len(self.v0), m), -0.0)
        C[self.out_slots] = 0.0  # the one-hot seeds' zeros are +0.0, as the eager engines'
        np.add.at(C, (self.out_slots, np.arange(m)), 1.0)
        self.replay.reverse_batched(self.da, self.db, self.out, self.pa, self.pb, C)
        return self._cast(self._input_zeros(C[self.in_slots].T.reshape(self.out_shape + self.in_shape)))[0]


def _as_float64(x: np.ndarray) -> np.ndarray:
    """x as float64; refused unless it holds real floats no wider than float64."""
    dtype = x.dtype
    if dtype is _F64:
        return x
    if dtype.kind != "f":
        raise TypeError(
            f"ad.compile differentiates with respect to a float input; got dtype {dtype}: "
            "pass x.astype(float)"
        )
    if dtype.itemsize > _F64.itemsize:  # long double: float64 would round it
        raise TypeError(
            f"ad.compile computes in float64 and would round a {dtype} input; "
            "use the eager engines (ad.grad, ad.vjp) for it"
        )
    return x.astype(float)


_F64 = np.dtype(np.float64)


def compile(f: Callable, x, specialize: bool = False) -> Compiled:  # noqa: A001  (like jax.jit)
    """Record f at x into a compiled tape; the result gives f, grad, vjp, jvp, jacfwd, jacrev.

    ``specialize=True`` also generates straight-line code for value_and_grad/grad of
    programs up to ad.reverse.specialize.MAX_INSTRUCTIONS instructions: a second or so of
    compilation per recording, then several times faster per call than the interpreter.
    """
    return Compiled(f, x, specialize)
