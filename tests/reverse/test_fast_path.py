"""The eager fast path (elementwise ops on one level of real operands, partials kept for
scalars) and the sequence-ordered sweep give what the general path and PyTorch give."""

from __future__ import annotations

import weakref

import numpy as np
import pytest

import ad
from ad import registry
from ad.reverse.graph import stored_partials


def chain(y, n=5):
    for _ in range(n):
        y = np.sin(y) * 1.01 + y
    return y


def chain_derivative(x, n=5):
    d = 1.0
    for _ in range(n):
        d *= np.cos(x) * 1.01 + 1.0
        x = np.sin(x) * 1.01 + x
    return d


def test_the_scalar_chain_gradient_is_the_chain_rule_product():
    x = ad.tensor(0.5, requires_grad=True)
    chain(x).backward()
    assert x.grad.numpy() == pytest.approx(chain_derivative(0.5), rel=1e-14)


def test_kept_partials_are_constants_or_the_argument_the_rule_returns():
    assert stored_partials(registry.get("add")) == (1.0, 1.0)
    assert stored_partials(registry.get("subtract")) == (1.0, -1.0)
    assert stored_partials(registry.get("multiply")) == (1, 0)  # x*y: y for x, x for y
    assert stored_partials(registry.get("exp")) == (1,)  # exp's partial is its output
    assert stored_partials(registry.get("sin")) is None  # cos(x) computes: kept for backward
    assert stored_partials(registry.get("matmul")) is None


def test_create_graph_through_scalar_nodes_gives_the_second_derivative():
    # y = x * x * exp(x): y'' = (2 + 4x + x^2) e^x, through nodes that keep partials
    x = ad.tensor(0.7, requires_grad=True)
    y = x * x * np.exp(x)
    y.backward(create_graph=True)
    first = x.grad
    assert first.detach().numpy() == pytest.approx((2 * 0.7 + 0.7**2) * np.exp(0.7), rel=1e-14)
    x.grad = None
    first.backward()
    assert x.grad.numpy() == pytest.approx((2 + 4 * 0.7 + 0.7**2) * np.exp(0.7), rel=1e-14)


def test_an_in_place_write_to_a_value_a_scalar_node_kept_raises_as_in_pytorch():
    x = ad.tensor(0.5, requires_grad=True)
    h = x * 1.0
    y = h * h  # multiply keeps h for both partials
    h += 1.0
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_an_in_place_write_to_a_value_no_partial_reads_is_allowed():
    x = ad.tensor(0.5, requires_grad=True)
    h = x * 1.0
    y = h + 2.0  # add keeps no value
    h += 1.0
    y.backward()
    assert x.grad.numpy() == 1.0


def test_jacrev_of_a_scalar_program_batches_through_kept_partials():
    f = lambda x: np.stack([chain(x[0], 3) * x[1], np.exp(x[0]) - x[1]])
    x = np.array([0.3, -0.8])
    J = ad.jacrev(f)(x)
    Jf = ad.jacfwd(f)(x)
    assert np.allclose(J, Jf, rtol=1e-13, atol=0)


def test_a_diamond_runs_each_node_once_with_every_contribution():
    # z = a*b with a = sin(x), b = cos(x) both from x, and x used again directly
    x = ad.tensor(0.4, requires_grad=True)
    a, b = np.sin(x), np.cos(x)
    z = a * b + x
    z.backward()
    assert x.grad.numpy() == pytest.approx(np.cos(0.8) + 1.0, rel=1e-14)


def test_a_gradient_shared_by_a_retained_output_and_a_leaf_is_copied_for_one():
    # add passes one cotangent array to both operands: h (retained) and b (a leaf)
    a = ad.tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = ad.tensor(np.array([3.0, 4.0]), requires_grad=True)
    h = a * 3.0
    h.retain_grad()
    y = (h + b) * 2.0  # the add receives a fresh array, not the caller's
    y.backward(gradient=np.ones(2))
    assert not np.shares_memory(h.grad.numpy(), b.grad.numpy())
    b.grad.numpy()[...] += 1.0  # .grad is updated in place by later backwards: alone
    assert np.array_equal(h.grad.numpy(), [2.0, 2.0])


def test_a_lower_level_tensor_goes_the_general_way():
    # grad of a function of an eager Tensor's value: levels differ, no fast path
    w = ad.tensor(2.0, requires_grad=True)
    g = ad.grad(lambda x: x * w)(3.0)
    assert float(g) == 2.0


def test_complex_scalars_go_the_general_way():
    z = ad.tensor(1.0 + 2.0j, requires_grad=True)
    y = np.abs(z * z)
    y.backward()
    torch = pytest.importorskip("torch")
    tz = torch.tensor(1.0 + 2.0j, dtype=torch.complex128, requires_grad=True)
    torch.abs(tz * tz).backward()
    assert np.allclose(z.grad.numpy(), tz.grad.numpy())


def test_fan_out_sums_every_use_and_writes_only_arrays_nothing_else_holds():
    # x feeds four uses; the sums of their cotangents may reuse an array the sweep made,
    # never one a rule handed to two operands (x + x) or one the caller holds
    x = ad.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    y = np.sin(x) + x * x + (x + x) + np.exp(x)
    v = np.array([1.0, 2.0, 3.0])
    y.backward(gradient=v)
    want = v * (np.cos([0.5, -1.0, 2.0]) + 2 * np.array([0.5, -1.0, 2.0]) + 2 + np.exp([0.5, -1.0, 2.0]))
    assert np.allclose(x.grad.numpy(), want, rtol=1e-14, atol=0)
    assert np.array_equal(v, [1.0, 2.0, 3.0])


def test_the_in_place_sum_never_writes_an_array_held_elsewhere():
    from ad.reverse import engine

    held = np.ones(3)
    keep = held  # a second holder
    assert engine._add(held, np.ones(3)) is not held
    assert np.array_equal(keep, np.ones(3))
    buffer = [np.ones(3)]
    alone = buffer[0]
    del alone
    total = engine._add(buffer[0], np.full(3, 2.0))
    assert total is buffer[0]  # only the buffer held it: written in place
    assert np.array_equal(total, np.full(3, 3.0))


_SPECIAL = [0.0, -0.0, 5e-324, -1e-300, 1.5, -2.0, 1e300, np.inf, -np.inf, np.nan]


_SCALAR_FORMS = [op for op in registry.all_ops() if op.scalar is not None]


@pytest.mark.parametrize("op", _SCALAR_FORMS, ids=lambda op: op.name)
def test_an_ops_scalar_form_gives_its_ufuncs_result_bit_for_bit(op, quiet):
    arity = len(op.derivs)
    kinds = [np.float64, np.float32, float, int]
    for a in _SPECIAL:
        for b in _SPECIAL[: 1 if arity == 1 else None]:
            for ka in kinds[:3]:
                for kb in kinds:
                    if kb is int and not np.isfinite(b) or ka is float and kb in (float, int):
                        continue  # the fast path always has a Tensor's NumPy value among them
                    args = quiet(lambda: (ka(a), kb(b))[:arity])  # float32(1e300) overflows
                    got, want = quiet(lambda: (op.scalar(*args), op.impl(*args)))
                    assert np.result_type(got) == np.result_type(want), (op.name, args)
                    same = np.asarray(got).tobytes() == np.asarray(want).tobytes()
                    assert same or (np.isnan(got) and np.isnan(want)), (op.name, args, got, want)


def test_the_scalar_fast_path_computes_arithmetic_with_operators():
    assert {op.name for op in _SCALAR_FORMS} >= {"add", "subtract", "multiply", "divide", "negative"}


def test_a_leaf_keeps_the_array_its_last_vjp_made_without_a_copy():
    made = []

    def vjp(ct, primals, out, params, batched):
        g = ct * 2.0
        made.append(weakref.ref(g))  # a strong reference would make the sweep copy it
        return (g,)

    double = ad.defop(
        "fast_path_double",
        lambda x: 2.0 * x,
        jvp=lambda ts, ps, out, params, batched: None if ts[0] is None else 2.0 * ts[0],
        vjp=vjp,
    )
    try:
        x = ad.tensor(np.array([1.0, 2.0]), requires_grad=True)
        (double(x) * 3.0).sum().backward()
        assert x.grad.numpy() is made[0]()  # the sweep's own array: no copy
        assert np.array_equal(x.grad.numpy(), [6.0, 6.0])
    finally:
        registry.unregister("fast_path_double")
