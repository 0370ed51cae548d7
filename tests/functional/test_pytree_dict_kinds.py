"""OrderedDict and defaultdict in pytrees, as JAX has them: an OrderedDict keeps its own key
order and type, a defaultdict its type and default factory, through every transform."""

from collections import OrderedDict, defaultdict

import numpy as np
import pytest

import ad
from ad.tree import flatten

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

B = np.array([0.5, -1.5])


def f(np_, d):
    return np_.sum(np_.sin(d["b"])) * d["a"] ** 2


def g(np_, d):
    return OrderedDict(z=np_.sin(d["b"]) * d["a"], y=d["a"] ** 3)


def _same(mine, theirs):
    if isinstance(theirs, dict):
        assert type(mine) is type(theirs)
        assert list(mine) == list(theirs)
        if isinstance(theirs, defaultdict):
            assert mine.default_factory is theirs.default_factory
        for k in theirs:
            _same(mine[k], theirs[k])
    else:
        np.testing.assert_allclose(mine, np.asarray(theirs), rtol=1e-13)


@pytest.mark.parametrize(
    "make",
    [
        lambda: OrderedDict(b=B, a=2.0),
        lambda: OrderedDict(a=2.0, b=B),
        lambda: defaultdict(list, b=B, a=2.0),
    ],
    ids=["OrderedDict b-a", "OrderedDict a-b", "defaultdict"],
)
def test_gradients_and_jacobians_keep_the_dict_kind_and_order_as_jax(make):
    _same(ad.grad(lambda d: f(np, d))(make()), jax.grad(lambda d: f(jnp, d))(make()))
    expected = jax.jacfwd(lambda d: g(jnp, d))(make())
    _same(ad.jacfwd(lambda d: g(np, d))(make()), expected)
    _same(ad.jacrev(lambda d: g(np, d))(make()), expected)
    _same(ad.hessian(lambda d: f(np, d))(make()), jax.hessian(lambda d: f(jnp, d))(make()))


def test_two_orders_of_an_ordered_dict_are_two_structures():
    (_, one), (_, other) = flatten(OrderedDict(a=1.0, b=2.0)), flatten(OrderedDict(b=2.0, a=1.0))
    assert one != other
    assert flatten({"a": 1.0, "b": 2.0})[1] == flatten({"b": 2.0, "a": 1.0})[1]
    leaves, tree = flatten(OrderedDict(b=2.0, a=1.0))
    assert leaves == [2.0, 1.0] and list(tree(leaves)) == ["b", "a"]


def test_a_defaultdict_comes_back_with_its_factory():
    grads = ad.grad(lambda d: d["x"] * 3.0)(defaultdict(int, x=1.0))
    assert type(grads) is defaultdict and grads.default_factory is int and grads["x"] == 3.0
