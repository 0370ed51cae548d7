"""Compiled tapes: replay against the eager engines, op by op and on random programs; guards."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ad
from ad import registry, testing
from ad.trace import apply

COMPILED_OPS = [op for op in registry.all_ops() if op.instruction is not None and op.kind == "elementwise"]


@pytest.mark.parametrize("op", COMPILED_OPS, ids=lambda op: op.name)
def test_replay_matches_the_eager_engines_on_each_scalar_op(op):
    arity = len(op.derivs)
    rng = np.random.default_rng(8)
    doms = op.domain if len(op.domain) == arity else op.domain * arity
    x = np.array([registry.DOMAINS[d](rng, ()) for d in doms], dtype=float)
    f = lambda v: apply(op, [v[i] for i in range(arity)], {})  # noqa: E731
    c = ad.compile(f, x)
    for trial in range(3):
        xi = x if trial == 0 else np.array([registry.DOMAINS[d](rng, ()) for d in doms], dtype=float)
        testing.assert_close(c(xi), f(xi), 1e-15, 0, f"{op.name} value")
        J = ad.jacfwd(f)(xi)
        testing.assert_close(c.grad(xi), J, 1e-13, 1e-15, f"{op.name} compiled grad")
        testing.assert_close(c.jacfwd(xi), J, 1e-13, 1e-15, f"{op.name} compiled jacfwd")
        testing.assert_close(c.jacrev(xi), J, 1e-13, 1e-15, f"{op.name} compiled jacrev")


def test_array_program_with_shape_ops_sum_and_matmul():
    A = np.random.default_rng(9).standard_normal((3, 4))

    def f(x):
        h = np.tanh(A @ x)
        return np.concatenate([h[::-1], np.sum(x.reshape(2, 2), axis=0) ** 2, np.mean(h)[None]])

    x = np.array([0.3, -0.5, 1.2, 0.8])
    c = ad.compile(f, x)
    for xi in (x, x[::-1].copy()):
        testing.assert_close(c(xi), f(xi), 1e-14, 1e-15, "value")
        J = ad.jacrev(f)(xi)
        testing.assert_close(c.jacfwd(xi), J, 1e-13, 1e-14, "jacfwd")
        testing.assert_close(c.jacrev(xi), J, 1e-13, 1e-14, "jacrev")
        v, w = np.arange(4.0), np.arange(6.0)
        testing.assert_close(c.jvp(xi, v)[1], J @ v, 1e-13, 1e-14, "jvp")
        testing.assert_close(c.vjp(xi, w)[1], w @ J, 1e-13, 1e-14, "vjp")


@pytest.mark.parametrize(
    "contraction",
    [
        lambda x, B: np.inner(x.reshape(3, 4), B),  # (3, 2, 3): b's stack is not a's to broadcast
        lambda x, B: np.inner(x.reshape(2, 3, 2), B[..., :2]),
        lambda x, B: np.dot(x.reshape(2, 3, 2), B[:, :2, :]),
        lambda x, B: np.tensordot(x.reshape(3, 4), B, axes=([0, 1], [1, 2])),
    ],
    ids=["inner 2-d 3-d", "inner 3-d 3-d", "dot 3-d 3-d", "tensordot"],
)
def test_contractions_above_2d_record_numpys_result(contraction):
    B = np.random.default_rng(12).standard_normal((2, 3, 4))
    f = lambda x: np.ravel(contraction(x, B))  # noqa: E731
    x = np.random.default_rng(13).standard_normal(12)
    c = ad.compile(f, x)
    testing.assert_close(c(x), f(x), 1e-13, 1e-14, "value")
    testing.assert_close(c.jacrev(x), ad.jacrev(f)(x), 1e-13, 1e-14, "jacrev")


def test_matmul_of_a_0d_operand_raises_as_numpy_does():
    with pytest.raises(ValueError, match="0-d"):
        ad.compile(lambda x: np.matmul(x[0], x), np.ones(3))


def test_rosenbrock_gradient_matches_eager():
    f = lambda x: np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)  # noqa: E731
    x = np.random.default_rng(10).uniform(-1, 1, 6)
    c = ad.compile(f, x)
    value, g = c.value_and_grad(x)
    assert np.isclose(value, f(x), rtol=1e-14)
    testing.assert_close(g, ad.grad(f)(x), 1e-13, 1e-13, "rosenbrock grad")


def test_a_failed_guard_re_records_instead_of_returning_the_wrong_branch():
    def f(x):
        if x > 0:
            return x * x
        return np.sin(x) * 3.0

    c = ad.compile(f, 1.0)
    assert c.grad(2.0) == 4.0 and c.records == 1
    assert np.isclose(c.grad(-2.0), 3.0 * np.cos(-2.0))  # the other branch: re-recorded
    assert c.records == 2
    assert np.isclose(c.grad(-1.0), 3.0 * np.cos(-1.0)) and c.records == 2
    assert c.grad(0.5) == 1.0 and c.records == 3


def test_guards_cover_elementwise_comparisons_and_where():
    f = lambda x: np.sum(np.where(x > 0, x**2, -x))  # noqa: E731
    c = ad.compile(f, np.array([1.0, -1.0]))
    np.testing.assert_allclose(c.grad(np.array([2.0, -3.0])), [4.0, -1.0])
    np.testing.assert_allclose(c.grad(np.array([-2.0, 3.0])), [-1.0, 6.0])
    assert c.records == 2


def test_a_new_input_shape_re_records():
    c = ad.compile(lambda x: np.sum(x**2), np.ones(3))
    np.testing.assert_allclose(c.grad(np.arange(5.0)), 2 * np.arange(5.0))


def test_grad_refuses_a_new_input_shape_whose_output_is_not_scalar():
    c = ad.compile(lambda x: np.sin(x) * 2.0, 0.5)  # a scalar output at the recorded input
    np.testing.assert_allclose(c.grad(0.5), 2 * np.cos(0.5))
    with pytest.raises(TypeError, match=r"grad needs a scalar output; got shape \(3,\)"):
        c.grad(np.array([0.1, 0.2, 0.3]))  # recorded again: three outputs, not the first one's grad


def test_unsupported_ops_and_value_leaks_raise_clearly():
    with pytest.raises(NotImplementedError, match="no compiled rule for inv"):
        ad.compile(lambda x: np.sum(np.linalg.inv(x.reshape(2, 2))), np.eye(2).ravel() + 1.0)
    # np.einsum is no contraction the tape compiles: the message names those it does
    with pytest.raises(NotImplementedError, match=r"einsum\. .*the contractions dot, inner, matmul"):
        ad.compile(lambda x: np.sum(np.einsum("i,i->", x, x)), np.ones(2))
    with pytest.raises(TypeError, match="float"):
        ad.compile(lambda x: x * float(x), 1.0)
    with pytest.raises(TypeError, match="scalar output"):
        ad.compile(lambda x: x * 2.0, np.ones(2)).grad(np.ones(2))
    with pytest.raises(TypeError, match="float input"):
        ad.compile(lambda x: x, np.array([1, 2]))


@pytest.mark.parametrize(
    "leak",
    [float, int, lambda x: x.item(), lambda x: x.tolist(), math.sin, lambda x: np.ones(3)[x], bool],
    ids=["float", "int", "item", "tolist", "math.sin", "index", "bool"],
)
def test_concretizing_a_recorded_value_raises_a_type_error(leak):
    """Each would bake this call's value into the tape, unguarded: the recorder refuses."""
    with pytest.raises(TypeError, match="compiled"):
        ad.compile(lambda x: x * leak(x[0]), np.array([1.0, 2.0]))


UNARY = [op for op in COMPILED_OPS if len(op.derivs) == 1 and op.domain == ("real",) and op.smooth]
BINARY = [op for op in COMPILED_OPS if len(op.derivs) == 2 and set(op.domain) == {"real"} and op.smooth]


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(UNARY + BINARY), st.integers(0, 20), st.integers(0, 20)),
        min_size=1,
        max_size=10,
    ),
    seed=st.integers(0, 1000),
)
def test_random_programs_replay_like_the_eager_engines(steps, seed):
    def f(x):
        vals = [x]
        for op, i, j in steps:
            args = [vals[i % len(vals)], vals[j % len(vals)]][: len(op.derivs)]
            vals.append(np.tanh(apply(op, args, {})))
        return vals[-1]

    x = np.random.default_rng(seed).uniform(-1, 1, 3)
    c = ad.compile(f, x)
    testing.assert_close(c(x), f(x), 1e-14, 1e-15, "value")
    J = ad.jacfwd(f)(x)
    testing.assert_close(c.jacfwd(x), J, 1e-12, 1e-14, "jacfwd")
    testing.assert_close(c.jacrev(x), J, 1e-12, 1e-14, "jacrev")


def test_results_do_not_alias_the_reused_buffers():
    c = ad.compile(lambda x: np.sum(np.sin(x)), np.zeros(2))
    g1 = c.grad(np.array([0.1, 0.2]))
    c.grad(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g1, np.cos([0.1, 0.2]))


@pytest.mark.parametrize("specialize", [False, True])
def test_specialized_straight_line_code_agrees_with_the_interpreter(specialize):
    def f(x):
        y = np.sum(np.tanh(x[1:] * x[:-1]) + np.exp(-(x[1:] ** 2)))
        if y > 1.0:
            return y * np.log1p(y)
        return np.sqrt(y + 1.0)

    x = np.random.default_rng(11).uniform(-1, 1, 5)
    c = ad.compile(f, x, specialize=specialize)
    for xi in (x, 2.0 * x, 0.1 * x):
        value, g = c.value_and_grad(xi)
        assert np.isclose(value, f(xi), rtol=1e-14)
        testing.assert_close(g, ad.grad(f)(xi), 1e-13, 1e-14, f"specialize={specialize}")
    assert (c._vg is not None) == specialize


@pytest.mark.parametrize(
    "program",
    [lambda A, x: np.sum(A[0] * x * x), lambda A, x: np.sum(np.tanh(A @ x))],
    ids=["elementwise", "matmul"],
)
def test_a_replay_sees_a_changed_closure_array_and_records_again(program):
    A = np.array([[2.0, 3.0], [0.5, -1.0]])
    f = lambda x: program(A, x)  # noqa: E731
    x = np.array([1.0, 0.5])
    c = ad.compile(f, x)
    np.testing.assert_allclose(c.grad(x), ad.grad(f)(x), rtol=1e-12)
    A[:] = [[10.0, -4.0], [1.5, 2.0]]  # changed in place after the recording
    np.testing.assert_allclose(c.grad(x), ad.grad(f)(x), rtol=1e-12)
    np.testing.assert_allclose(c(x), f(x), rtol=1e-12)
    assert c.records == 2
