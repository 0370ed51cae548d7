"""Compiled tapes equal the eager engines at NaN, ±inf, ±0 and the extremes of float64.

Every opcode of the compiled tape is recorded once, over all its special inputs at once
(and, for binary ops, all their pairs, with each operand also as a constant), and its
value, reverse sweep (vjp, jacrev) and tangent sweep (jvp, jacfwd) are compared with
ad.vjp / ad.jvp / ad.jacrev / ad.jacfwd of the same op. "Equal" is `assert_same`: NaN
in the same places, the same infinities, the same signed zeros; finite nonzero values
within a few ulps (libm and NumPy's SIMD loops round transcendentals differently).
"""

import itertools

import numpy as np
import pytest

import ad
from ad import registry
from ad.reverse.replay import GUARD, OPCODES
from ad.trace import apply

SPECIAL = np.array([0.0, -0.0, 1e-300, -1e-300, 1e300, -1e300, np.inf, -np.inf, np.nan])
PAIRS = np.array(list(itertools.product(SPECIAL, SPECIAL))).T  # (2, 81): every ordered pair
SEEDS = (1.0, -1.0, 0.0, -0.0)  # cotangents and tangents: zeros meet the infinite partials
ULPS = 4

# every op that is one instruction with a derivative or a constant result (not a guard)
COMPILED = [op for op in registry.all_ops() if OPCODES.get(op.instruction, GUARD) < GUARD]


def arity(op):
    return len(op.derivs) if op.kind == "elementwise" else 1


def assert_same(got, want, what):
    """Same NaN positions, same infinities, same signed zeros; finite values within ULPS."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, eager {want.shape}"
    with np.errstate(invalid="ignore", over="ignore"):
        exact = (got == want) & (np.signbit(got) == np.signbit(want))
        close = (
            np.isfinite(got)
            & np.isfinite(want)
            & (got != 0)
            & (np.signbit(got) == np.signbit(want))
            & (np.abs(got - want) <= ULPS * np.spacing(np.maximum(np.abs(got), np.abs(want))))
        )
    ok = exact | close | (np.isnan(got) & np.isnan(want))
    if not ok.all():
        bad = np.argwhere(~ok)[:5]
        rows = ", ".join(
            f"at {tuple(int(i) for i in b)}: {got[tuple(b)]!r} (eager {want[tuple(b)]!r})" for b in bad
        )
        raise AssertionError(f"{what}: {int((~ok).sum())} entries differ from eager; {rows}")


def check_program(name, f, g, X, args, specialize=False):
    """Compiled f(X) against eager g(*args), where X stacks args: values, vjp, jvp, jacobians."""
    with np.errstate(all="ignore"):
        c = ad.compile(f, X)
        y, vjp_fn = ad.vjp(g, *args)
        assert_same(c(X), y, f"{name} value")
        for s in SEEDS:
            ct = np.full(y.shape, s)
            assert_same(c.vjp(X, ct)[1], np.stack(vjp_fn(ct)), f"{name} vjp, cotangent {s}")
            _, t = ad.jvp(g, args, tuple(np.full(a.shape, s) for a in args))
            assert_same(c.jvp(X, np.full(X.shape, s))[1], t, f"{name} jvp, tangent {s}")
        # jacfwd of f itself: one input, so each direction's zeros reach every output, as in
        # the compiled sweep (eager jacfwd over several argnums would treat the other
        # arguments as constants). jacrev of g: eager transposes f's indexing by scatter-adding
        # into +0.0 zeros, which the compiled tape, moving slots, does not (docs/compiled.md).
        assert_same(c.jacfwd(X), ad.jacfwd(f)(X), f"{name} jacfwd")
        argnums = tuple(range(len(args)))
        assert_same(c.jacrev(X), np.stack(ad.jacrev(g, argnums)(*args), axis=1), f"{name} jacrev")
        if specialize:
            value, grad = ad.compile(lambda v: np.sum(f(v)), X, specialize=True).value_and_grad(X)
            assert_same(value, np.sum(y), f"{name} specialised value")
            assert_same(grad, np.stack(vjp_fn(np.ones(y.shape))), f"{name} specialised grad")


def test_every_compiled_opcode_is_covered():
    assert {op.instruction for op in COMPILED} == {n for n, c in OPCODES.items() if c < GUARD}
    assert all(arity(op) in (1, 2) for op in COMPILED)


@pytest.mark.parametrize("op", [op for op in COMPILED if arity(op) == 1], ids=lambda op: op.name)
def test_unary_opcode_equals_eager_at_special_values(op):
    def g(x):
        return apply(op, [x], {})

    check_program(op.name, lambda v: g(v[0]), g, SPECIAL[None], (SPECIAL,))


@pytest.mark.parametrize("op", [op for op in COMPILED if arity(op) == 2], ids=lambda op: op.name)
def test_binary_opcode_equals_eager_at_special_pairs(op):
    """Both operands traced; then each against a constant, whose term the eager engines skip."""
    a, b = PAIRS

    def g(x, y, x2, y2):
        return np.concatenate([apply(op, [x, y], {}), apply(op, [x2, b], {}), apply(op, [a, y2], {})])

    check_program(op.name, lambda v: g(v[0], v[1], v[2], v[3]), g, np.stack([a, b, a, b]), (a, b, a, b))


def test_specialised_code_equals_eager_on_live_and_constant_terms():
    """The straight-line code's reverse lines (compiled per program, so one small program):
    both operands traced, one a constant (its term skipped), partials of inf, signed zeros."""
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan])
    C = x[::-1].copy()

    def g(a, b, d):
        return np.concatenate([a * b, a * C, C * b, -d, np.log(d), np.sqrt(d)])

    X = np.stack([x, C, x])
    check_program("small program", lambda v: g(v[0], v[1], v[2]), g, X, tuple(X), specialize=True)


def chain(x):
    """A guarded chain of ops, each reading the last: a whole program at special values."""
    h = np.tanh(x) * 2.0 + np.exp(-np.abs(x))
    if np.sum(x) > 0:
        h = np.maximum(h, 0.5) + np.sqrt(np.square(x) + 1.0)
    else:
        h = np.log1p(np.abs(h)) - x / 3.0
    return np.sin(h) * x + np.logaddexp(h, x)


@pytest.mark.parametrize("fill", [-1.0, 1.0], ids=["else-branch", "if-branch"])
def test_guarded_chain_equals_eager_at_special_values(fill):
    x = np.concatenate([SPECIAL, [fill * 50.0]])  # the sum's sign picks the branch ...
    x = np.where(np.isnan(x), fill, x)  # ... so keep NaN out of the guard's operand
    x[np.isinf(x)] = fill * 1e300  # and inf: +inf + -inf in the sum would be NaN
    check_program("chain", lambda v: chain(v[0]), chain, x[None], (x,), specialize=fill > 0)
    with np.errstate(all="ignore"):
        y = ad.compile(lambda v: chain(v[0]), x[None]).vjp(x[None], np.ones(x.size))[1][0]
        assert_same(y, ad.vjp(chain, x)[1](np.ones(x.size))[0], "chain, same recording")


def test_an_unused_input_and_a_constant_output_are_plus_zero():
    """Symbolic zeros: no contribution is +0.0, as the eager engines return, never -0.0 or NaN."""

    def f(v):
        return np.stack([v[0] * 2.0, np.floor(v[1]), np.ones(())])

    x = np.array([-0.0, np.inf, 3.0])
    c = ad.compile(f, x)
    with np.errstate(all="ignore"):
        assert_same(c.vjp(x, np.ones(3))[1], ad.vjp(f, x)[1](np.ones(3))[0], "vjp")
        assert_same(c.jvp(x, np.ones(3))[1], ad.jvp(f, (x,), (np.ones(3),))[1], "jvp")
        assert_same(c.jacrev(x), ad.jacrev(f)(x), "jacrev")
        assert_same(c.jacfwd(x), ad.jacfwd(f)(x), "jacfwd")
    assert np.signbit(c.vjp(x, np.ones(3))[1][1:]).sum() == 0


@pytest.mark.parametrize("requires_grad", [True, False])
def test_a_tensor_f_closes_over_is_refused_naming_it_and_the_fix(requires_grad):
    w = ad.tensor(np.ones(3), requires_grad=requires_grad)
    with pytest.raises(NotImplementedError, match=r"reads a Tensor of shape \(3,\).*detach\(\)\.numpy\(\)"):
        ad.compile(lambda x: np.sum(np.sin(x) * w), np.ones(3))
    assert w.grad is None
