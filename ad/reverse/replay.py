"""numba sweeps over a recorded scalar program: forward (values and local partials),
reverse (VJP), tangent (JVP), and the batched forms of the last two.

A program is flat arrays, one entry per instruction i:
    code[i]          the opcode (the table below)
    a[i], b[i]       the operand slots (a unary op reads b = the scratch slot, whose value is 0)
    out[i]           the slot it writes
    live_a, live_b   whether a derivative flows through that operand (below)
    da[i], db[i]     the operand slots the derivative sweeps read: a[i], b[i] where live,
                     else the scratch slot, whose tangent is always -0.0
and four more for the guards: their comparison code, operand slots, and the outcome seen
while recording; the entries called once per replay take them packed in one array (pack,
at the end). Slots hold every scalar of the program: inputs, constants, results. The
forward sweep stores each instruction's partials pa[i] = d out/d a, pb[i] = d out/d b, so
the other sweeps are one multiply-add per operand, without branches, and never
re-evaluate a transcendental.

An op names the instruction that computes it (`Op.instruction`, declared with the op in
ad/ops); OPCODES maps that name to its opcode, and the recorder reads nothing else of the op.

Values at the edges are the eager engines' (NaN, ±inf and ±0 included): each instruction's
function below is its op's declaration written for one float, in the same algebraic form
(sqrt' = 0.5 / y, tanh' = 1 - y*y, NumPy's own logaddexp, maximum, sign), and the sweeps
keep the eager engines' symbolic zeros:
- an operand that is a constant, or whose instruction feeds nothing the outputs depend
  on, is not live: its partial is stored as 0 and the sweeps read the scratch slot in
  its place, so its term is 0 * -0.0 = -0.0, which adds nothing, where the eager engines
  skip the term (0 * inf never becomes NaN there);
- cotangents and tangents start at -0.0, the identity of IEEE addition (x + -0.0 == x,
  -0.0 + -0.0 == -0.0), so a sum of contributions is exactly the eager sum, signed zeros
  included; a slot that gets no contribution at all is a symbolic zero, which the caller
  returns as +0.0.
NaN and inf propagate (NumPy's error model: 1/0 is inf).

Why the partials are written here a second time, rather than compiled from the ops'
`derivs`: those are array code, written to dispatch again on traced values (second order)
and to take complex input; several are not numba code at all (np.where over both branches
as 0-d arrays, a branch on the dtype, plain Python helpers shared by several ops, a bool
where a float is due), and the others would compile to code that builds arrays per element.
Compiling them also puts the partials in other files than the sweeps that call them, and
numba's disk cache of a sweep is invalidated by changes to its own file only: a replay
would keep a partial's old code after its declaration changed. So each function below is
its declaration for one float, kept next to the sweeps; tests/reverse/test_compiled_lowering.py
checks every instruction's value and partials against its op's impl and derivs, and
tests/reverse/test_compiled_edges.py at NaN, ±inf and ±0.
"""

from __future__ import annotations

import math

import numpy as np

from ad.kernels import _compile

# Opcodes, in three runs: instructions with derivatives; from ZERO_DERIVATIVE, instructions
# of zero derivative, whose results are constants to the sweeps (as to the eager engines);
# from GUARD, comparisons, recorded as guards rather than instructions.
(ADD, SUBTRACT, MULTIPLY, DIVIDE, POWER, NEGATIVE, SIN, COS, TAN, EXP, LOG, SQRT, TANH, ABS,
 MAXIMUM, MINIMUM, SQUARE, RECIPROCAL, EXPM1, LOG1P, SINH, COSH, ARCTAN, ARCSIN, ARCCOS,
 ARCSINH, ARCTANH, LOG2, LOG10, EXP2, CBRT, SIGMOID, SOFTPLUS, RELU, LOGADDEXP, ARCTAN2,
 HYPOT, ARCCOSH,
 FLOOR, CEIL, SIGN, TRUNC, RINT,
 GREATER, GREATER_EQUAL, LESS, LESS_EQUAL, EQUAL, NOT_EQUAL) = range(49)  # fmt: skip
ZERO_DERIVATIVE, GUARD = FLOOR, GREATER
# Each instruction by the name an op declares it with (Op.instruction).
OPCODES = {
    "add": ADD, "subtract": SUBTRACT, "multiply": MULTIPLY, "divide": DIVIDE, "power": POWER,
    "negative": NEGATIVE, "sin": SIN, "cos": COS, "tan": TAN, "exp": EXP, "log": LOG,
    "sqrt": SQRT, "tanh": TANH, "abs": ABS, "maximum": MAXIMUM, "minimum": MINIMUM,
    "square": SQUARE, "reciprocal": RECIPROCAL, "expm1": EXPM1, "log1p": LOG1P, "sinh": SINH,
    "cosh": COSH, "arctan": ARCTAN, "arcsin": ARCSIN, "arccos": ARCCOS, "arcsinh": ARCSINH,
    "arctanh": ARCTANH, "log2": LOG2, "log10": LOG10, "exp2": EXP2, "cbrt": CBRT,
    "sigmoid": SIGMOID, "softplus": SOFTPLUS, "relu": RELU, "logaddexp": LOGADDEXP,
    "arctan2": ARCTAN2, "hypot": HYPOT, "arccosh": ARCCOSH,
    "floor": FLOOR, "ceil": CEIL, "sign": SIGN, "trunc": TRUNC, "rint": RINT,
    "greater": GREATER, "greater_equal": GREATER_EQUAL, "less": LESS, "less_equal": LESS_EQUAL,
    "equal": EQUAL, "not_equal": NOT_EQUAL,
}  # fmt: skip
# numba.njit(cache=True, error_model="numpy"), or without the disk cache where no cache
# directory is writable (the same fallback as ad/kernels).
kernel = _compile
LN2, LN10 = math.log(2.0), math.log(10.0)


# NumPy's own scalar algorithms where libm's differ at the edges.
@kernel
def _maximum(x, y):
    """np.maximum: NaN if either is NaN; y when they compare equal (so maximum(0.0, -0.0) is -0.0)."""
    return x if x > y or x != x else y


@kernel
def _minimum(x, y):
    """np.minimum: NaN if either is NaN; y when they compare equal."""
    return x if x < y or x != x else y


@kernel
def _sign(x):
    """np.sign: -1, 0 or 1; sign(-0.0) is 0.0 and sign(NaN) is NaN."""
    if x > 0:
        return 1.0
    if x < 0:
        return -1.0
    return x if x != x else 0.0


@kernel
def _logaddexp(x, y):
    """np.logaddexp: log(e^x + e^y) without overflow; equal infinities give that infinity."""
    if x == y:
        return x + LN2
    d = x - y
    if d > 0:
        return x + math.log1p(math.exp(-d))
    if d <= 0:
        return y + math.log1p(math.exp(d))
    return d  # NaN


@kernel
def _sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@kernel
def _ties(x, y):
    """d max(x, y)/dx: 1 where x > y, 1/2 where equal, else 0 (NaN compares unequal: 0)."""
    if x > y:
        return 1.0
    if x == y:
        return 0.5
    return 0.0


def _op(f):
    return kernel(f)


# One small function per opcode: (x, y) -> (value, d value/dx, d value/dy), each partial in
# the form its registry declaration has (o is the value). The interpreter (`step`) and the
# generated straight-line code (ad/reverse/specialize.py) both call these.
@kernel
def _power(x, y):
    """d/dx: y x**(y-1), 0 where y = 0; d/dy: log(x) x**y, 0 at x = 0 for y >= 0."""
    o = x**y
    base = 1.0 if x == 0 and y == 0 else x  # no 0 * 0**-1; the eager rule's derivative in y is 1/x
    return o, y * base ** (y - 1.0), math.log(1.0 if x == 0 and y >= 0 else x) * o


@kernel
def _tan(x):
    o = math.tan(x)
    return o, 1.0 + o * o, 0.0


@kernel
def _tanh(x):
    o = math.tanh(x)
    return o, 1.0 - o * o, 0.0


@kernel
def _sqrt(x):
    o = math.sqrt(x)
    return o, 0.5 / o, 0.0


@kernel
def _reciprocal(x):
    o = 1.0 / x
    return o, -(o * o), 0.0


@kernel
def _expm1(x):
    o = math.expm1(x)
    return o, o + 1.0, 0.0


@kernel
def _exp(x):
    o = math.exp(x)
    return o, o, 0.0


@kernel
def _exp2(x):
    o = np.exp2(x)
    return o, o * LN2, 0.0


@kernel
def _cbrt(x):
    o = np.cbrt(x)
    return o, 1.0 / (3.0 * o * o), 0.0


@kernel
def _sigmoid_op(x):
    o = _sigmoid(x)
    return o, o * (1.0 - o), 0.0


@kernel
def _logaddexp_op(x, y):
    """At an infinite output, the limits the eager rule takes: 1 to the operand equal to it,
    1/2 each on a tie."""
    o = _logaddexp(x, y)
    if math.isinf(o):
        if x == y:
            return o, 0.5, 0.5
        return o, 1.0 if x == o else 0.0, 1.0 if y == o else 0.0
    return o, math.exp(x - o), math.exp(y - o)


@kernel
def _divide(x, y):
    o = x / y
    return o, 1.0 / y, -o / y


@kernel
def _arctan2(x, y):
    """d/dx: y / h / h, d/dy: -x / h / h with h = hypot(x, y) (no overflow, no underflow)."""
    h = math.hypot(x, y)
    return math.atan2(x, y), y / h / h, -x / h / h


@kernel
def _hypot(x, y):
    o = math.hypot(x, y)
    return o, x / o, y / o


op_add = _op(lambda x, y: (x + y, 1.0, 1.0))
op_subtract = _op(lambda x, y: (x - y, 1.0, -1.0))
op_multiply = _op(lambda x, y: (x * y, y, x))
op_divide = _divide
op_power = _power
op_negative = _op(lambda x, y: (-x, -1.0, 0.0))
op_sin = _op(lambda x, y: (math.sin(x), math.cos(x), 0.0))
op_cos = _op(lambda x, y: (math.cos(x), -math.sin(x), 0.0))
op_tan = _op(lambda x, y: _tan(x))
op_exp = _op(lambda x, y: _exp(x))
op_log = _op(lambda x, y: (math.log(x), 1.0 / x, 0.0))
op_sqrt = _op(lambda x, y: _sqrt(x))
op_tanh = _op(lambda x, y: _tanh(x))
op_abs = _op(lambda x, y: (abs(x), _sign(x), 0.0))
op_maximum = _op(lambda x, y: (_maximum(x, y), _ties(x, y), _ties(y, x)))
op_minimum = _op(lambda x, y: (_minimum(x, y), _ties(y, x), _ties(x, y)))
op_square = _op(lambda x, y: (x * x, 2.0 * x, 0.0))
op_reciprocal = _op(lambda x, y: _reciprocal(x))
op_expm1 = _op(lambda x, y: _expm1(x))
op_log1p = _op(lambda x, y: (math.log1p(x), 1.0 / (1.0 + x), 0.0))
op_sinh = _op(lambda x, y: (math.sinh(x), math.cosh(x), 0.0))
op_cosh = _op(lambda x, y: (math.cosh(x), math.sinh(x), 0.0))
op_arctan = _op(lambda x, y: (math.atan(x), 1.0 / (1.0 + x * x), 0.0))
op_arcsin = _op(lambda x, y: (math.asin(x), 1.0 / math.sqrt(1.0 - x * x), 0.0))
op_arccos = _op(lambda x, y: (math.acos(x), -1.0 / math.sqrt(1.0 - x * x), 0.0))
op_arcsinh = _op(lambda x, y: (math.asinh(x), 1.0 / math.sqrt(x * x + 1.0), 0.0))
op_arctanh = _op(lambda x, y: (math.atanh(x), 1.0 / (1.0 - x * x), 0.0))
op_log2 = _op(lambda x, y: (math.log2(x), 1.0 / (x * LN2), 0.0))
op_log10 = _op(lambda x, y: (math.log10(x), 1.0 / (x * LN10), 0.0))
op_exp2 = _op(lambda x, y: _exp2(x))
op_cbrt = _op(lambda x, y: _cbrt(x))
op_sigmoid = _op(lambda x, y: _sigmoid_op(x))
op_softplus = _op(lambda x, y: (_logaddexp(0.0, x), _sigmoid(x), 0.0))
op_relu = _op(lambda x, y: (_maximum(x, 0.0), 1.0 if x > 0 else 0.0, 0.0))
op_logaddexp = _logaddexp_op
op_arctan2 = _arctan2
op_hypot = _hypot
op_arccosh = _op(lambda x, y: (math.acosh(x), 1.0 / (math.sqrt(x - 1.0) * math.sqrt(x + 1.0)), 0.0))
op_floor = _op(lambda x, y: (np.floor(x), 0.0, 0.0))
op_ceil = _op(lambda x, y: (np.ceil(x), 0.0, 0.0))
op_sign = _op(lambda x, y: (_sign(x), 0.0, 0.0))
op_trunc = _op(lambda x, y: (np.trunc(x), 0.0, 0.0))
op_rint = _op(lambda x, y: (np.rint(x), 0.0, 0.0))

OPS = {name: globals()[f"op_{name}"] for name in OPCODES if OPCODES[name] < GUARD}


@kernel
def step(c, x, y):
    """The interpreter's dispatch: the op function of opcode c (a flat chain numba compiles well)."""
    if c == ADD:
        return op_add(x, y)
    if c == SUBTRACT:
        return op_subtract(x, y)
    if c == MULTIPLY:
        return op_multiply(x, y)
    if c == DIVIDE:
        return op_divide(x, y)
    if c == POWER:
        return op_power(x, y)
    if c == NEGATIVE:
        return op_negative(x, y)
    if c == SIN:
        return op_sin(x, y)
    if c == COS:
        return op_cos(x, y)
    if c == TAN:
        return op_tan(x, y)
    if c == EXP:
        return op_exp(x, y)
    if c == LOG:
        return op_log(x, y)
    if c == SQRT:
        return op_sqrt(x, y)
    if c == TANH:
        return op_tanh(x, y)
    if c == ABS:
        return op_abs(x, y)
    if c == MAXIMUM:
        return op_maximum(x, y)
    if c == MINIMUM:
        return op_minimum(x, y)
    if c == SQUARE:
        return op_square(x, y)
    if c == RECIPROCAL:
        return op_reciprocal(x, y)
    if c == EXPM1:
        return op_expm1(x, y)
    if c == LOG1P:
        return op_log1p(x, y)
    if c == SINH:
        return op_sinh(x, y)
    if c == COSH:
        return op_cosh(x, y)
    if c == ARCTAN:
        return op_arctan(x, y)
    if c == ARCSIN:
        return op_arcsin(x, y)
    if c == ARCCOS:
        return op_arccos(x, y)
    if c == ARCSINH:
        return op_arcsinh(x, y)
    if c == ARCTANH:
        return op_arctanh(x, y)
    if c == LOG2:
        return op_log2(x, y)
    if c == LOG10:
        return op_log10(x, y)
    if c == EXP2:
        return op_exp2(x, y)
    if c == CBRT:
        return op_cbrt(x, y)
    if c == SIGMOID:
        return op_sigmoid(x, y)
    if c == SOFTPLUS:
        return op_softplus(x, y)
    if c == RELU:
        return op_relu(x, y)
    if c == LOGADDEXP:
        return op_logaddexp(x, y)
    if c == ARCTAN2:
        return op_arctan2(x, y)
    if c == HYPOT:
        return op_hypot(x, y)
    if c == ARCCOSH:
        return op_arccosh(x, y)
    if c == FLOOR:
        return op_floor(x, y)
    if c == CEIL:
        return op_ceil(x, y)
    if c == SIGN:
        return op_sign(x, y)
    if c == TRUNC:
        return op_trunc(x, y)
    if c == RINT:
        return op_rint(x, y)
    return 0.0, 0.0, 0.0


@kernel
def compare(c, x, y):
    """The guard of comparison opcode c on (x, y)."""
    if c == GREATER:
        return x > y
    if c == GREATER_EQUAL:
        return x >= y
    if c == LESS:
        return x < y
    if c == LESS_EQUAL:
        return x <= y
    if c == EQUAL:
        return x == y
    return x != y


@kernel
def liveness(code, a, b, out, n_in, out_slots, n_slots, live_a, live_b, reached):
    """Which operands carry a derivative to the outputs; which slots get a cotangent.

    A slot is active if it depends on an input through ops with a derivative (the eager
    engines' traced values); an instruction is needed if an output depends on it. An
    operand is live if it is active and its instruction is active and needed: the eager
    engines compute exactly those terms. `reached[s]`: slot s gets a contribution.
    """
    active = np.zeros(n_slots, dtype=np.bool_)
    active[:n_in] = True
    for i in range(code.shape[0]):
        active[out[i]] = code[i] < ZERO_DERIVATIVE and (active[a[i]] or active[b[i]])
    reached[:] = False
    for s in out_slots:
        reached[s] = active[s]
    for i in range(code.shape[0] - 1, -1, -1):
        needed = reached[out[i]]
        live_a[i] = needed and active[a[i]]
        live_b[i] = needed and active[b[i]]
        if live_a[i]:
            reached[a[i]] = True
        if live_b[i]:
            reached[b[i]] = True


@kernel
def forward(code, a, b, out, live_a, live_b, v, pa, pb):
    """Run the program on the slot values v, storing values and the live operands' partials."""
    for i in range(code.shape[0]):
        r, p, q = step(code[i], v[a[i]], v[b[i]])
        v[out[i]] = r
        pa[i] = p if live_a[i] else 0.0
        pb[i] = q if live_b[i] else 0.0


@kernel
def check(gcode, ga, gb, seen, v):
    """-1 if every guard has the outcome it had when recorded, else the first that does not."""
    for i in range(gcode.shape[0]):
        if compare(gcode[i], v[ga[i]], v[gb[i]]) != (seen[i] == 1):
            return i
    return -1


@kernel
def reverse(a, b, out, pa, pb, ct):
    """ct holds the output cotangents on -0.0 (in place); accumulate every slot's cotangent."""
    for i in range(a.shape[0] - 1, -1, -1):
        g = ct[out[i]]
        ct[a[i]] += g * pa[i]
        ct[b[i]] += g * pb[i]


@kernel
def reverse_batched(a, b, out, pa, pb, ct):
    """reverse() for k cotangents at once: ct has shape (slots, k)."""
    k = ct.shape[1]
    for i in range(a.shape[0] - 1, -1, -1):
        o, ai, bi, p, q = out[i], a[i], b[i], pa[i], pb[i]
        for j in range(k):
            g = ct[o, j]
            ct[ai, j] += g * p
            ct[bi, j] += g * q


@kernel
def tangent(a, b, out, pa, pb, t):
    """t holds the input tangents (-0.0 elsewhere); push them to every slot."""
    for i in range(a.shape[0]):
        t[out[i]] = pa[i] * t[a[i]] + pb[i] * t[b[i]]


@kernel
def tangent_batched(a, b, out, pa, pb, t):
    """tangent() for k directions at once: t has shape (slots, k)."""
    k = t.shape[1]
    for i in range(a.shape[0]):
        o, ai, bi, p, q = out[i], a[i], b[i], pa[i], pb[i]
        for j in range(k):
            t[o, j] = p * t[ai, j] + q * t[bi, j]


# A call from Python pays numba's dispatcher for each argument (typing and unboxing an array
# costs some 50 ns), so the entries called once per replay take a recorded program as two
# arrays: `program`, every integer array of the recording after a header of sizes, and
# `work`, every float buffer the sweeps write. The sweeps above run on views of them.
N, G, SLOTS, RESULT = range(4)  # the header: instructions, guards, slots, and grad's output slot
HEADER = 4


def pack(code, a, b, out, live_a, live_b, da, db, guards, n_slots, result) -> np.ndarray:
    """The program as one int64 array: the header, then each array in the order sections() reads.

    result is the scalar output slot grad seeds, or None when the output is not a scalar."""
    header = [len(code), len(guards[0]), n_slots, -1 if result is None else result]
    parts = [np.asarray(header), code, a, b, out, live_a, live_b, da, db, *guards]
    return np.concatenate([np.asarray(p, dtype=np.int64) for p in parts])


@kernel
def sections(program):
    """Views of a packed program's arrays: code, a, b, out, live_a, live_b, da, db, then the
    guards' gcode, ga, gb, seen."""
    n, g = program[N], program[G]
    i = program[HEADER : HEADER + 8 * n]
    j = program[HEADER + 8 * n : HEADER + 8 * n + 4 * g]
    return (i[:n], i[n : 2 * n], i[2 * n : 3 * n], i[3 * n : 4 * n], i[4 * n : 5 * n],
            i[5 * n : 6 * n], i[6 * n : 7 * n], i[7 * n :],
            j[:g], j[g : 2 * g], j[2 * g : 3 * g], j[3 * g :])  # fmt: skip


def work_size(program) -> int:
    """The length of a packed program's work array: slot values, two partials per
    instruction, slot cotangents."""
    return 2 * int(program[SLOTS]) + 2 * int(program[N])


@kernel
def workspace(program, work):
    """Views of the work array: slot values v, partials pa and pb, slot cotangents ct."""
    n, s = program[N], program[SLOTS]
    return work[:s], work[s : s + n], work[s + n : s + 2 * n], work[s + 2 * n : 2 * s + 2 * n]


@kernel
def value(program, work):
    """One call for the value: forward, then guards; -1 or the first guard that failed."""
    code, a, b, out, live_a, live_b, _, _, gcode, ga, gb, seen = sections(program)
    v, pa, pb, _ = workspace(program, work)
    forward(code, a, b, out, live_a, live_b, v, pa, pb)
    return check(gcode, ga, gb, seen, v)


@kernel
def value_and_grad(program, work):
    """One call for grad: forward, guards, then reverse from the scalar output slot."""
    failed = value(program, work)
    if failed >= 0:
        return failed
    _, _, _, out, _, _, da, db, _, _, _, _ = sections(program)
    _, pa, pb, ct = workspace(program, work)
    ct[:] = -0.0
    ct[program[RESULT]] = 1.0
    reverse(da, db, out, pa, pb, ct)
    return -1
