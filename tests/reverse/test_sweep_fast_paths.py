"""The reverse sweep's shortcuts give what the long way gives: which cotangent a .grad may
keep without a copy (reference counts alone), the next node run without the heap, a kept
partial of 1 passing its cotangent on, scalar products taken without shape checks, sum's
filled cotangent and matmul's 1-D transposes."""

from __future__ import annotations

import numpy as np
import pytest

import ad
from ad import registry
from ad.reverse import engine
from ad.reverse.graph import Sweep
from ad.reverse.record import edge


# -- what a .grad keeps without a copy ---------------------------------------------------------
@pytest.mark.parametrize("shape", [(), (3,)], ids=["0-d", "vector"])
def test_a_callers_gradient_passed_on_unchanged_never_becomes_a_grad(shape):
    # add passes its cotangent on as it is (a kept partial 1 on scalars, d == 1 on arrays),
    # so the caller's own array reaches the leaf
    x = ad.tensor(np.full(shape, 0.5), requires_grad=True)
    v = np.full(shape, 2.0)
    (x + 1.0).backward(gradient=v)
    assert not np.shares_memory(x.grad.numpy(), v)
    (x + 1.0).backward(gradient=v)  # accumulates into .grad in place
    assert np.array_equal(v, np.full(shape, 2.0))
    assert np.array_equal(x.grad.numpy(), np.full(shape, 4.0))


def test_a_callers_cotangent_handed_over_through_an_iterator_is_still_copied():
    # no list of the caller's holds it during the sweep: the caller's own reference counts
    x = ad.tensor(np.array([1.0, 2.0]), requires_grad=True)
    v = np.array([3.0, -1.0])
    engine.run_backward([edge(x)], iter([v]), retain_graph=False, sweep=Sweep())
    assert not np.shares_memory(x.grad.numpy(), v)
    x.grad.numpy()[...] += 1.0
    assert np.array_equal(v, [3.0, -1.0])


def test_a_leaf_node_run_outside_a_sweep_copies_its_cotangent():
    x = ad.tensor(np.array([1.0, 2.0]), requires_grad=True)
    (acc, _) = edge(x)
    g = np.array([5.0, 6.0])
    acc.apply([g], Sweep())
    assert not np.shares_memory(x.grad.numpy(), g)


def test_one_array_handed_to_two_leaves_and_a_retained_output_is_copied_for_each():
    x = ad.tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = ad.tensor(np.array([3.0, 4.0]), requires_grad=True)
    h = x + w  # add hands its cotangent to x and w unchanged
    h.retain_grad()
    y = (h * 2.0).sum()
    y.backward(retain_graph=True)
    grads = [x.grad.numpy(), w.grad.numpy(), h.grad.numpy()]
    for i in range(3):
        for j in range(i):
            assert not np.shares_memory(grads[i], grads[j])
    y.backward()  # every .grad updated in place, each alone
    assert all(np.array_equal(g, [4.0, 4.0]) for g in grads)


def test_a_gradient_a_retained_output_keeps_is_never_summed_into_for_a_leaf():
    # h's cotangent becomes h.grad and passes on unchanged (add) into a's buffer, where the
    # second use of a is added: out of place, since h.grad holds the array
    x = ad.tensor(np.array([0.2, -0.4]), requires_grad=True)
    a = x * 3.0
    h = a + 0.0
    h.retain_grad()
    y = (h * 2.0).sum() + (a * 5.0).sum()
    y.backward()
    assert np.array_equal(h.grad.numpy(), [2.0, 2.0])
    assert np.array_equal(x.grad.numpy(), [21.0, 21.0])


# -- the order of the sweep, with and without the heap -----------------------------------------
def _counting_identity(calls):
    def vjp(ct, primals, out, params, batched):
        calls.append(np.array(ct))
        return (ct,)

    return ad.defop(
        "sweep_counting_identity",
        lambda x: x.copy(),
        jvp=lambda ts, ps, out, params, batched: ts[0],
        vjp=vjp,
    )


@pytest.mark.parametrize("order", ["newer second", "newer first"])
def test_a_node_waits_for_a_newer_consumer_reached_later(order):
    # z's operands are u and v = 2u, v newer than u: u must run once, after v, with the sum
    calls = []
    ident = _counting_identity(calls)
    try:
        x = ad.tensor(np.array([0.3, 0.7]), requires_grad=True)
        u = ident(np.sin(x))
        v = u * 2.0
        z = (u + v) if order == "newer second" else (v + u)
        z.sum().backward()
        assert len(calls) == 1 and np.array_equal(calls[0], [3.0, 3.0])
        assert np.allclose(x.grad.numpy(), 3.0 * np.cos([0.3, 0.7]), rtol=1e-15)
    finally:
        registry.unregister("sweep_counting_identity")


def test_a_child_waits_for_a_pending_node_newer_than_it():
    # y = p + q with p = 2a, q = 3a, q newer: q's child a is older than p, still pending,
    # which also feeds a: a runs once, after both
    calls = []
    ident = _counting_identity(calls)
    try:
        x = ad.tensor(np.array([0.5, -1.5]), requires_grad=True)
        a = ident(x * 1.0)
        p = a * 2.0
        q = a * 3.0
        (p + q).sum().backward()
        assert len(calls) == 1 and np.array_equal(calls[0], [5.0, 5.0])
        assert np.array_equal(x.grad.numpy(), [5.0, 5.0])
    finally:
        registry.unregister("sweep_counting_identity")


def test_a_long_chain_and_a_long_fan_in_give_the_chain_rule():
    x = ad.tensor(0.4, requires_grad=True)
    y = x
    for _ in range(200):
        y = y * 1.001  # a chain: every node's one child runs next
    terms = [x * float(k) for k in range(50)]  # a fan-in: fifty pending nodes
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    (y + total).backward()
    assert float(x.grad) == pytest.approx(1.001**200 + sum(range(50)), rel=1e-13)


def test_a_vjp_rule_returning_too_few_cotangents_is_refused_by_name():
    short = ad.defop(
        "sweep_short_vjp",
        lambda x, w: x * w,
        jvp=lambda ts, ps, out, params, batched: None,
        vjp=lambda ct, ps, out, params, batched: (ct * ps[1],),  # w's is missing
    )
    try:
        x = ad.tensor(np.array([1.0, 2.0]), requires_grad=True)
        w = ad.tensor(np.array([3.0, 4.0]), requires_grad=True)
        with pytest.raises(ValueError, match="'sweep_short_vjp' returned 1 cotangents for 2 operands"):
            short(x, w).sum().backward()
    finally:
        registry.unregister("sweep_short_vjp")


# -- scalar products -------------------------------------------------------------------------
def test_a_0d_operand_broadcast_against_an_array_is_summed():
    x = ad.tensor(0.5, requires_grad=True)
    w = np.array([1.0, 2.0, 4.0])
    (np.sin(x) * w).sum().backward()
    assert x.grad.shape == () and float(x.grad) == pytest.approx(7.0 * np.cos(0.5), rel=1e-15)


def test_float32_scalars_keep_their_dtype_through_computed_partials():
    x = ad.tensor(np.float32(0.3), requires_grad=True)
    y = np.sin(np.cos(x)) * x
    y.backward()
    assert x.grad.dtype == np.float32
    want = np.cos(np.cos(0.3)) * -np.sin(0.3) * 0.3 + np.sin(np.cos(0.3))
    assert float(x.grad) == pytest.approx(want, rel=1e-6)


def test_a_complex_output_of_a_real_scalar_gives_a_real_gradient():
    g = ad.grad(lambda x: np.real(np.exp(x * 1j) * np.sin(x)))(0.3)
    assert np.isrealobj(g)
    # d/dx cos(x) sin(x) = cos(2x)
    assert float(g) == pytest.approx(np.cos(0.6), rel=1e-14)


# -- derivatives from a kernel, sum's cotangent filled in, matmul's 1-D transposes --------------
def _vectors():
    rng = np.random.default_rng(1)
    y = np.tanh(rng.uniform(-3.0, 3.0, 40))
    y[:5] = [np.nan, np.inf, -0.0, 1e-300, -1.0]
    return {
        "empty": y[:0],
        "one": y[5:6],
        "vector": y,
        "strided": y[::3],
        "reversed": y[::-1],
        "float32": y.astype(np.float32),
        "matrix": y.reshape(5, 8),
        "0-d": np.array(0.25),
    }


@pytest.mark.parametrize("which", list(_vectors()))
def test_tanh_and_sigmoid_derivatives_give_their_twins_values_at_every_size(which):
    from ad.kernels import elementwise as E

    y = _vectors()[which]
    pairs = ((E.tanh_derivative, E.tanh_derivative_twin), (E.sigmoid_derivative, E.sigmoid_derivative_twin))
    for fast, twin in pairs:
        got, want = fast(None, y), twin(None, y)
        assert type(got) is type(want) and np.shape(got) == y.shape and got.dtype == want.dtype
        assert np.array_equal(got, want, equal_nan=True)
        kept = np.copy(got)
        y[...] = 0.5  # the derivative is a new array, not a view of y
        assert np.array_equal(got, kept, equal_nan=True)
        y = _vectors()[which]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("n", [5, 5000], ids=["filled", "broadcast"])
def test_the_cotangent_of_a_sum_of_everything_keeps_the_dtype(dtype, n):
    x = ad.tensor(np.ones(n, dtype=dtype), requires_grad=True)
    y = np.sum(x)
    y = np.abs(y) ** 2 if dtype == np.complex128 else y  # a real loss
    y.backward()
    assert x.grad.dtype == dtype
    want = 2.0 * n if dtype == np.complex128 else 1.0
    assert np.array_equal(x.grad.numpy(), np.full(n, want, dtype=dtype))
    x.grad.numpy()[0] += 1.0  # the gradient is the leaf's own, writable
    assert x.grad.numpy()[1] == want


def test_a_sum_with_keepdims_and_a_batch_of_cotangents():
    f = lambda x: np.sum(np.sin(x), keepdims=True) * np.array([1.0, 2.0])
    x = np.array([[0.1, 0.2], [0.3, 0.4]])
    assert np.allclose(ad.jacrev(f)(x), ad.jacfwd(f)(x), rtol=1e-14, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_of_a_matrix_and_a_vector_in_each_operand(dtype):
    rng = np.random.default_rng(0)
    W = rng.standard_normal((4, 3)).astype(dtype)
    x = rng.standard_normal(3).astype(dtype)
    u = rng.standard_normal(4).astype(dtype)
    gx = ad.grad(lambda x: np.tanh(W @ x) @ u)(x)
    gW = ad.grad(lambda W: np.tanh(W @ x) @ u)(W)
    gu = ad.grad(lambda u: u @ np.tanh(W @ x))(u)
    d = u * (1 - np.tanh(W @ x) ** 2)
    rtol = 1e-5 if dtype == np.float32 else 1e-14
    assert gx.dtype == gW.dtype == gu.dtype == dtype
    assert np.allclose(gx, W.T @ d, rtol=rtol)
    assert np.allclose(gW, np.outer(d, x), rtol=rtol)
    assert np.allclose(gu, np.tanh(W @ x), rtol=rtol)


def test_a_node_with_kept_partials_refuses_a_saved_value_written_in_place():
    # the sweep multiplies by kept partials itself; their guards still hold
    x = ad.tensor(0.5, requires_grad=True)
    y = x * 1.0
    z = y * y
    assert z.grad_fn.partials is not None
    y += 1
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.backward()


def test_kept_partials_give_what_the_rule_gives_on_the_saved_values():
    x = ad.tensor(0.5, requires_grad=True)
    w = ad.tensor(-1.5, requires_grad=True)
    for z in (x * w, x * 3.0, x - w, x + w, np.exp(x), -x):
        node = z.grad_fn
        assert node.partials is not None
        kept = [None if p is None else 0.25 * p for p in node.partials]
        by_rule = node.apply([np.float64(0.25)], Sweep())
        assert [g is None for g in kept] == [g is None for g in by_rule]
        for g, want in zip(kept, by_rule):
            if g is not None:
                np.testing.assert_allclose(g, want, rtol=1e-15)
