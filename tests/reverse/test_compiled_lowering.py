"""What an op declares for the compiled recorder (Op.lowering, Op.instruction, Op.einsum) is
true of the op: checked over the whole registry, so an op cannot be added with a declaration
the recorder would turn into a wrong program."""

import numpy as np
import pytest

import ad
from ad import registry, testing
from ad.reverse import replay
from ad.trace import apply

OPS = registry.all_ops()
MOVES = [op for op in OPS if op.lowering in ("moves", "select")]
REDUCTIONS = [op for op in OPS if op.lowering in ("sum", "mean")]
CONTRACTIONS = [op for op in OPS if op.einsum is not None]
SHAPES = [op for op in OPS if op.lowering == "shapes"]
INSTRUCTIONS = [op for op in OPS if op.instruction is not None]
DECLARED = [op for op in OPS if op.lowering or op.einsum or op.instruction]
LOWERED = [op for op in DECLARED if op.kind != "nondiff"]


def ids(op):
    return op.name


def real(operands):
    return not any(np.iscomplexobj(x) for x in operands if not callable(x))


def test_every_instruction_is_declared_by_an_op_and_every_declared_one_exists():
    assert {op.instruction for op in INSTRUCTIONS} == set(replay.OPCODES)


@pytest.mark.parametrize("op", DECLARED, ids=ids)
def test_an_op_declares_one_way_to_lower_it_that_its_rule_kind_reaches(op):
    """Non-differentiable ops reach the recorder's constants (shapes, rounding, guards); the
    others its instructions, moves, reductions and contractions."""
    assert sum(x is not None for x in (op.lowering, op.instruction, op.einsum)) == 1
    if op.lowering == "shapes" or replay.OPCODES.get(op.instruction, 0) >= replay.ZERO_DERIVATIVE:
        assert op.kind == "nondiff"
    elif op.instruction is not None:
        assert op.kind == "elementwise" and len(op.derivs) in (1, 2)  # an instruction reads two slots
    elif op.einsum is not None:
        assert op.kind == "bilinear"
    elif op.lowering in ("sum", "mean"):
        assert op.kind == "linear"
    else:
        assert op.kind in ("linear", "elementwise", "general")


@pytest.mark.parametrize("op", MOVES, ids=ids)
def test_an_op_that_moves_entries_applied_to_their_numbers_places_them_as_it_places_values(op):
    """The recorder applies the op to the slots that hold the entries: that is right exactly
    when op(values) is the values at op(numbers of the entries), for every call."""
    picks = 1 if op.lowering == "select" else 0
    for operands, params in testing.examples(op):
        moved = [np.asarray(x) for x in operands[picks:]]
        starts = np.cumsum([0] + [x.size for x in moved])
        numbers = [np.arange(s, s + x.size).reshape(x.shape) for s, x in zip(starts, moved)]
        flat = np.concatenate([x.ravel() for x in moved])
        placed = op.impl(*operands[:picks], *numbers, **params)
        values = op.impl(*operands, **params)
        pieces = zip(placed, values) if isinstance(values, tuple | list) else [(placed, values)]
        for where, value in pieces:
            assert np.asarray(where).dtype.kind == "i", f"{op.name}: the numbers came back as {where!r}"
            np.testing.assert_array_equal(flat[where], value, err_msg=op.name)


@pytest.mark.parametrize("op", REDUCTIONS, ids=ids)
def test_an_op_lowered_to_a_sum_is_that_sum_or_mean(op):
    reduce = np.sum if op.lowering == "sum" else np.mean
    for (x,), params in testing.examples(op):
        expected = reduce(x, axis=params.get("axis"), keepdims=params.get("keepdims", False))
        np.testing.assert_allclose(op.impl(x, **params), expected, rtol=1e-14, err_msg=op.name)


@pytest.mark.parametrize("op", CONTRACTIONS, ids=ids)
def test_a_contraction_equals_the_einsum_it_declares(op):
    for (a, b), params in testing.examples(op):
        spec = op.einsum(np.ndim(a), np.ndim(b), **params)
        assert all(len(set(t)) == len(t) for t in spec.split("->")[0].replace("...", "").split(","))
        np.testing.assert_allclose(
            op.impl(a, b, **params), np.einsum(spec, a, b), rtol=1e-13, err_msg=op.name
        )


@pytest.mark.parametrize("op", SHAPES, ids=ids)
def test_an_op_lowered_as_a_constant_reads_only_shapes(op):
    for operands, params in testing.examples(op):
        a = op.impl(*operands, **params)
        others = [  # other values of the same shapes and dtypes (a subscripts string kept)
            x
            if isinstance(x, str)
            else np.random.default_rng(5).uniform(-3, 3, np.shape(x)).astype(np.asarray(x).dtype)
            for x in operands
        ]
        b = op.impl(*others, **params)
        if op.name == "einsum_path":  # (path, report): the same plan
            assert a == b, op.name
            continue
        assert np.shape(a) == np.shape(b) and np.asarray(a).dtype == np.asarray(b).dtype, op.name
        if op.impl is not np.empty_like:  # its entries are whatever the memory held
            np.testing.assert_array_equal(a, b, err_msg=op.name)


@pytest.mark.parametrize("op", INSTRUCTIONS, ids=ids)
def test_an_instruction_computes_its_ops_value_and_partials(op):
    """replay's function for the instruction against op.impl and op.derivs, element by element,
    on the op's own domain: the scalar form is the declaration's (test_compiled_edges.py
    compares them at NaN, ±inf and ±0)."""
    code = replay.OPCODES[op.instruction]
    arity = 2 if code >= replay.GUARD else max(len(op.derivs), 1)
    rng = np.random.default_rng(3)
    doms = op.domain if len(op.domain) == arity else op.domain * arity
    xs = [registry.DOMAINS[d](rng, (40,)) for d in doms]
    if arity == 2 and doms[0] == doms[1]:
        xs[1][:10] = xs[0][:10]  # ties: where comparisons, maximum and minimum decide by their rule
    y = op.impl(*xs)
    if code >= replay.GUARD:
        got = [replay.compare(code, *pair) for pair in zip(*xs)]
        np.testing.assert_array_equal(got, y, err_msg=op.name)
        return
    scalar = np.array([replay.step(code, xs[0][i], xs[1][i] if arity == 2 else 0.0) for i in range(40)])
    partials = [np.broadcast_to(d(*xs, y) if callable(d) else d, y.shape) for d in op.derivs]
    partials += [np.zeros(40)] * (3 - 1 - len(partials))
    for what, got, want in zip(("value", "d/dx", "d/dy"), scalar.T, [y, *partials]):
        testing.assert_close(got, np.asarray(want, dtype=float), 1e-13, 1e-15, f"{op.name} {what}")


def as_function_of_one_vector(op, operands, params, idx):
    """(f, x): f(x) is op with the operands idx read from the vector x, its outputs raveled
    into one vector (the form ad.compile takes)."""
    shapes = [np.shape(operands[i]) for i in idx]
    ends = np.cumsum([int(np.prod(s)) for s in shapes])

    def f(v):
        full = list(operands)
        for i, shape, start, end in zip(idx, shapes, [0, *ends[:-1]], ends):
            full[i] = np.reshape(v[start:end], shape)
        out = apply(op, full, params)
        return np.concatenate([np.ravel(y) for y in (out if isinstance(out, tuple | list) else [out])])

    return f, np.concatenate([np.ravel(operands[i]) for i in idx]).astype(float)


@pytest.mark.parametrize("op", LOWERED, ids=ids)
def test_a_lowered_op_records_the_function_the_eager_engines_differentiate(op):
    """Every real example of every op the recorder lowers, as a compiled tape: values and both
    Jacobians against the eager engines."""
    checked = 0
    for operands, params, idx in testing.cases(op):
        if not real(operands):
            continue
        f, x = as_function_of_one_vector(op, operands, params, idx)
        c = ad.compile(f, x)
        testing.assert_close(c(x), f(x), 1e-13, 1e-14, f"{op.name} value")
        testing.assert_close(c.jacrev(x), ad.jacrev(f)(x), 1e-13, 1e-14, f"{op.name} jacrev")
        testing.assert_close(c.jacfwd(x), ad.jacfwd(f)(x), 1e-13, 1e-14, f"{op.name} jacfwd")
        checked += 1
    assert checked, f"{op.name}: no real example to record"
