"""The shortcuts an MLP's ops take, held to the general way: nodes and accumulators built
without their constructors, parse skipping reject and reduced_axes for the default call,
NumPy's protocols calling parse directly, and a unary elementwise node's VJP without
rules.vjp. Each must give what the general way gives, bit for bit, and the same errors."""

import numpy as np
import pytest

import ad
from ad import registry, rules
from ad.reverse.graph import STORES_ITSELF, AccumulateGrad, OpNode, Sweep
from ad.reverse.tensor import Tensor, leaf
from ad.trace import new_level

SLOTS = ("op", "params", "needs", "saved_in", "saved_out", "guards", "num_outputs", "partials")


def _fields(node):
    return {k: getattr(node, k) for k in SLOTS + ("next_edges", "retained", "seq")}


@pytest.mark.parametrize(
    "make",
    [
        lambda x, W: W @ x,  # _process, one operand a constant
        lambda x, W: np.tanh(x),  # _elementwise over an array
        lambda x, W: np.sum(x),  # _process through __array_function__
        lambda x, W: x * 2.0,  # _elementwise, a constant operand
    ],
)
def test_a_node_recorded_inline_has_every_field_a_constructed_one_has(make):
    x = ad.tensor(np.linspace(-1.0, 1.0, 4), requires_grad=True)
    W = np.arange(16.0).reshape(4, 4)
    y = make(x, W)
    node = y.grad_fn
    assert type(node) is OpNode
    got = _fields(node)
    built = OpNode(
        node.op,
        node.params,
        node.next_edges,
        node.needs,
        node.saved_in,
        node.saved_out,
        node.guards,
        0,
        node.partials,
    )
    want = _fields(built)
    assert got.keys() == want.keys()
    for k in got:
        if k != "seq":
            assert got[k] is want[k], k
    assert got["retained"] is None and got["num_outputs"] == 0
    acc = node.next_edges[-1][0] if node.next_edges[-1] is not None else node.next_edges[0][0]
    assert type(acc) is AccumulateGrad
    assert acc.seq < node.seq < built.seq
    assert acc.retained is STORES_ITSELF and acc.next_edges == () and acc.variable is x


def test_a_scalar_node_recorded_inline_keeps_its_partials():
    x = ad.tensor(0.5, requires_grad=True)
    w = ad.tensor(2.0, requires_grad=True)
    y = x * w
    assert y.grad_fn.partials is not None
    y.backward()
    assert float(x.grad) == 2.0 and float(w.grad) == 0.5


def test_a_leaf_made_per_call_gets_its_own_accumulator_each_call():
    level = new_level()
    x = np.linspace(0.0, 1.0, 3)
    seen = set()
    for _ in range(3):
        t = leaf(x, level)
        y = np.sin(t)
        acc = y.grad_fn.next_edges[0][0]
        assert acc.variable is t and t._accumulator() is acc
        seen.add(id(acc))
        del y
    g = ad.grad(lambda v: np.sum(np.sin(v)))(x)
    np.testing.assert_array_equal(g, np.cos(x))


# -- parse: options refused as before, every axis for axis=None at any ndim ------------------


@pytest.mark.parametrize("nd", range(11))
def test_sum_over_every_axis_at_any_ndim(nd):
    shape = (2,) * min(nd, 3) + (1,) * max(nd - 3, 0)
    x = np.arange(1.0, 1.0 + int(np.prod(shape))).reshape(shape)
    t = ad.tensor(x, requires_grad=True)
    y = np.sum(t)
    assert y.grad_fn.params["axis"] == tuple(range(-nd, 0))
    assert y.grad_fn.params["keepdims"] is False
    y.backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.ones(shape))
    np.testing.assert_array_equal(ad.grad(lambda v: np.sum(v * v))(x), 2 * x)


@pytest.mark.parametrize("keepdims", [True, 1, np.True_])
def test_sum_keepdims_is_a_bool_in_params(keepdims):
    t = ad.tensor(np.ones((2, 3)), requires_grad=True)
    y = np.sum(t, axis=1, keepdims=keepdims)
    assert y.grad_fn.params == {"axis": (-1,), "keepdims": True}
    assert y.shape == (2, 1)


@pytest.mark.parametrize(
    "call",
    [
        lambda t: np.sum(t, dtype=np.int64),
        lambda t: np.sum(t, out=np.empty(())),
        lambda t: np.sum(t, initial=1.0),
        lambda t: np.mean(t, dtype=np.int64),
        lambda t: np.dot(t, t, out=np.empty(())),
    ],
)
def test_options_are_refused_as_before(call):
    t = ad.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(NotImplementedError, match="not supported by ad"):
        call(t)


def test_options_given_as_none_are_the_defaults():
    t = ad.tensor(np.arange(3.0), requires_grad=True)
    assert float(np.sum(t, dtype=None, out=None)) == 3.0
    assert float(np.dot(t, t, out=None)) == 5.0


def test_matmul_out_is_refused_through_the_ufunc_protocol():
    t = ad.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(NotImplementedError, match="out="):
        np.matmul(np.ones((3, 3)), t, out=np.empty(3))


def test_the_protocols_still_route_composites_and_unknown_functions():
    x = np.array([1.0, 4.0, 9.0, 16.0])
    np.testing.assert_array_equal(ad.grad(lambda v: np.sum(np.diff(v) ** 2))(x), [-6.0, -4.0, -4.0, 14.0])
    with pytest.raises(NotImplementedError, match="ad has no rule"):
        np.busday_count(ad.tensor(np.ones(2), requires_grad=True), 1)


# -- a unary elementwise node's VJP, inline, against rules.vjp -----------------------------

UNARY = ["tanh", "sin", "exp", "log", "sqrt", "negative", "abs", "square"]


def _values():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.3, 2.0, (4, 5))
    return [
        base,
        base.astype(np.float32),
        base[:, ::2],  # strided
        base[::-1],  # reversed
        np.empty((0, 3)),
        np.array(0.7),  # 0-d array
        np.float64(0.7),  # a NumPy scalar
        base + 1j * base[::-1],  # complex input (abs: a real output of it)
    ]


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("which", range(8))
def test_a_unary_nodes_vjp_equals_rules_vjp(name, which):
    op = registry.get(name)
    x = _values()[which]
    level = new_level()
    t = leaf(x, level)
    y = Tensor._process(op, (t,), {}, level)
    node = y._grad_fn
    ct = np.ones_like(y._data) * 0.5 if np.ndim(y._data) else y._data.dtype.type(0.5)
    got = node.apply([ct], Sweep())
    want = rules.vjp(op, ct, node.saved_in, node.saved_out[0], node.params, False, node.needs)
    assert len(got) == len(want) == 1
    g, w = got[0], want[0]
    assert type(g) is type(w)
    assert np.shape(g) == np.shape(x) and np.result_type(g) == np.result_type(w)
    np.testing.assert_array_equal(g, w)
    assert not np.may_share_memory(g, x)


def test_a_unary_node_over_a_broadcast_cotangent_is_unbroadcast():
    level = new_level()
    t = leaf(np.array([[0.5], [1.0]]), level)
    y = np.tanh(t)
    # a cotangent wider than the output, as a rule might hand one on
    (g,) = y.grad_fn.apply([np.ones((2, 3))], Sweep())
    np.testing.assert_allclose(g, 3 * (1 - np.tanh(t._data) ** 2))


def test_the_mlp_gradient_equals_the_chain_rule():
    rng = np.random.default_rng(1)
    n = 7
    x, W1, W2 = rng.standard_normal(n), rng.standard_normal((n, n)), rng.standard_normal((n, n))
    f = lambda x, W1, W2: np.sum(np.tanh(W2 @ np.tanh(W1 @ x)))
    h1 = np.tanh(W1 @ x)
    h2 = np.tanh(W2 @ h1)
    ga2 = 1 - h2 * h2
    ga1 = (W2.T @ ga2) * (1 - h1 * h1)
    np.testing.assert_allclose(ad.grad(f)(x, W1, W2), W1.T @ ga1, rtol=1e-13)
    gW1, gW2 = ad.grad(f, (1, 2))(x, W1, W2)
    np.testing.assert_allclose(gW2, np.outer(ga2, h1), rtol=1e-13)
    np.testing.assert_allclose(gW1, np.outer(ga1, x), rtol=1e-13)
