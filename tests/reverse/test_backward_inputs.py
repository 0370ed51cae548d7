"""Selective backward: Tensor.backward(inputs=...) accumulates into the named Tensors alone,
ad.autograd.grad returns gradients and accumulates nothing, and both run only the nodes
that lead to what they compute (PyTorch's rules; the torch tests run the same programs)."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import ad


def t(v, requires_grad=True, dtype=float):
    return ad.tensor(np.array(v, dtype=dtype), requires_grad=requires_grad)


def product():
    """x, w, y = x * w (retained), loss = sum(2y): d loss/dx = 2w, d loss/dw = 2x, d loss/dy = 2."""
    x, w = t([1.0, 2.0]), t([3.0, 4.0])
    y = x * w
    y.retain_grad()
    return x, w, y, (y * 2.0).sum()


# -- backward(inputs=...) ------------------------------------------------------------------------
def test_backward_with_inputs_accumulates_into_them_alone():
    x, w, y, loss = product()
    calls = []
    x.register_hook(lambda g: calls.append("x"))
    loss.backward(inputs=[w])
    assert x.grad is None and calls == []  # nothing leading to x alone ran
    assert w.grad.tolist() == [2.0, 4.0]
    assert y.grad.tolist() == [2.0, 2.0]  # retained on the way to w


def test_backward_takes_a_single_tensor_as_inputs_and_accumulates_on_repeat():
    x, w, _, loss = product()
    loss.backward(inputs=w, retain_graph=True)
    loss.backward(inputs=(w,))
    assert w.grad.tolist() == [4.0, 8.0] and x.grad is None


def test_a_non_leaf_named_in_inputs_gets_its_grad_and_keeps_retaining_it():
    x = t([1.0, 2.0])
    z = x * 2.0
    out = (z * 3.0).sum()
    out.backward(inputs=[z], retain_graph=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "reading .grad of a non-leaf" warning
        assert z.grad.tolist() == [3.0, 3.0]
    assert x.grad is None
    out.backward()  # marked retain_grad, as PyTorch marks it
    assert z.grad.tolist() == [6.0, 6.0] and x.grad.tolist() == [6.0, 6.0]


def test_a_retained_input_accumulates_once_per_backward():
    x, w, y, loss = product()
    loss.backward(inputs=[y], retain_graph=True)
    loss.backward(inputs=[y])
    assert y.grad.tolist() == [4.0, 4.0]


def test_an_input_the_output_does_not_reach_is_left_alone():
    _, w, _, loss = product()
    u = t([1.0])
    loss.backward(inputs=[u, w])
    assert u.grad is None and w.grad.tolist() == [2.0, 4.0]


def test_an_input_named_twice_accumulates_once():
    x = t([1.0, 2.0])
    (x * x).sum().backward(inputs=[x, x])
    assert x.grad.tolist() == [2.0, 4.0]


def test_backward_inputs_runs_nothing_off_the_path_a_value_written_since_included():
    x, w = t([1.0, 2.0]), t([3.0, 4.0])
    e = np.exp(x * 1.0)  # exp's VJP reads its output
    loss = e.sum() + (w * 2.0).sum()
    e += 1.0  # only the path to x needs it
    loss.backward(inputs=[w], retain_graph=True)
    assert w.grad.tolist() == [2.0, 2.0]
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


@pytest.mark.parametrize(
    "inputs, error, words",
    [
        ([], RuntimeError, "inputs is empty"),
        ([ad.tensor(1.0)], RuntimeError, "inputs\\[0\\] does not require grad"),
        ([np.ones(2)], TypeError, "inputs\\[0\\] is a ndarray, not a Tensor"),
        (3.0, TypeError, "a Tensor or a sequence of Tensors; got float"),
    ],
    ids=["empty", "no-grad", "array", "number"],
)
def test_backward_refuses_inputs_it_cannot_accumulate_into(inputs, error, words):
    x, w, y, loss = product()
    with pytest.raises(error, match=words):
        loss.backward(inputs=inputs)
    assert x.grad is None and w.grad is None and y.grad is None


def test_backward_inputs_under_create_graph_records_the_gradient():
    x = t(2.0)
    w = t(3.0)
    (x**3 * w).backward(inputs=[x], create_graph=True)
    assert x.grad.item() == 36.0 and w.grad is None  # 3 x^2 w
    (second,) = ad.autograd.grad(x.grad, [x])
    assert second.item() == 36.0  # 6 x w


# -- ad.autograd.grad ------------------------------------------------------------------------------
def test_grad_returns_a_tuple_and_accumulates_nothing():
    x, w, y, loss = product()
    gx, gw = ad.autograd.grad(loss, [x, w])
    assert gx.tolist() == [6.0, 8.0] and gw.tolist() == [2.0, 4.0]
    assert x.grad is None and w.grad is None
    assert y.grad.tolist() == [2.0, 2.0]  # a retained output on the way still gets its gradient


def test_grad_of_a_single_input_is_a_one_tuple():
    x, _, _, loss = product()
    (gx,) = ad.autograd.grad(loss, x)
    assert gx.tolist() == [6.0, 8.0] and gx.is_leaf and not gx.requires_grad


def test_grad_refuses_an_input_the_outputs_do_not_use_unless_allowed():
    x, _, _, loss = product()
    u = t([1.0])
    with pytest.raises(
        RuntimeError, match="index 1 appears to not have been used in the graph.*allow_unused=True"
    ):
        ad.autograd.grad(loss, [x, u], retain_graph=True)
    gx, gu = ad.autograd.grad(loss, [x, u], allow_unused=True)
    assert gx.tolist() == [6.0, 8.0] and gu is None


def test_grad_with_respect_to_a_non_leaf_stops_there():
    x, w, y, loss = product()
    calls = []
    x.register_hook(lambda g: calls.append("x"))
    y.register_hook(lambda g: g * 10.0)
    (gy,) = ad.autograd.grad(loss, [y])
    assert gy.tolist() == [20.0, 20.0]  # after y's own hook, as PyTorch
    assert calls == []


def test_grad_of_an_output_with_respect_to_itself_is_the_seed():
    _, _, _, loss = product()
    (g,) = ad.autograd.grad(loss, [loss])
    assert g.item() == 1.0


def test_grad_takes_grad_outputs_and_sums_over_several_outputs():
    x, w, y, loss = product()
    (g,) = ad.autograd.grad([y], [x], grad_outputs=[np.array([1.0, -1.0])], retain_graph=True)
    assert g.tolist() == [3.0, -4.0]
    (g,) = ad.autograd.grad([loss, y], x, grad_outputs=[None, np.ones(2)], retain_graph=True)
    assert g.tolist() == [9.0, 12.0]  # 2w + w
    (g,) = ad.autograd.grad(y, x, grad_outputs=ad.tensor([2.0, 2.0]))
    assert g.tolist() == [6.0, 8.0]


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda x, y: ad.autograd.grad(y, [x]), RuntimeError, "implicitly created only for scalar"),
        (lambda x, y: ad.autograd.grad(ad.tensor(1.0), [x]), RuntimeError, "output 0 does not require grad"),
        (
            lambda x, y: ad.autograd.grad(y.sum(), [ad.tensor(1.0)]),
            RuntimeError,
            "inputs\\[0\\] does not require",
        ),
        (
            lambda x, y: ad.autograd.grad(y, x, grad_outputs=[np.ones(2)] * 2),
            RuntimeError,
            "2 gradients .* 1 outputs",
        ),
        (
            lambda x, y: ad.autograd.grad(y, x, grad_outputs=np.ones(3)),
            RuntimeError,
            "gradient has shape \\(3,\\)",
        ),
        (lambda x, y: ad.autograd.grad([], x), RuntimeError, "outputs is empty"),
    ],
    ids=["non-scalar", "constant-output", "constant-input", "count", "shape", "no-outputs"],
)
def test_grad_refuses_what_it_cannot_differentiate(call, error, words):
    x = t([1.0, 2.0])
    y = x * 3.0
    with pytest.raises(error, match=words):
        call(x, y)


def test_grad_frees_the_graph_unless_asked_to_keep_it():
    x = t(2.0)
    y = x**3
    ad.autograd.grad(y, x, retain_graph=True)
    ad.autograd.grad(y, x)
    with pytest.raises(RuntimeError, match="a second time"):
        ad.autograd.grad(y, x)


def test_grad_with_create_graph_can_be_differentiated_again():
    x = t(2.0)
    (g,) = ad.autograd.grad(x**3, x, create_graph=True)
    assert g.item() == 12.0 and g.requires_grad
    (h,) = ad.autograd.grad(g, x)
    assert h.item() == 12.0  # 6x
    assert x.grad is None


def test_grad_keeps_the_input_s_dtype():
    x = t([1.0, 2.0], dtype=np.float32)
    (g,) = ad.autograd.grad((x * np.float64(2.0)).sum(), x)
    assert g.dtype == np.float32 and g.tolist() == [2.0, 2.0]


def test_grad_returns_arrays_no_retained_grad_shares():
    x, w, y, loss = product()
    (gy,) = ad.autograd.grad(loss, [y])
    assert not np.shares_memory(gy.numpy(), y.grad.numpy())
    y.grad.numpy()[...] = 0.0
    assert gy.tolist() == [2.0, 2.0]


def test_grad_skips_nodes_off_the_path_and_their_in_place_checks():
    x, w = t([1.0, 2.0]), t([3.0, 4.0])
    e = np.exp(x * 1.0)
    loss = e.sum() + (w * 2.0).sum()
    e += 1.0
    (gw,) = ad.autograd.grad(loss, [w])
    assert gw.tolist() == [2.0, 2.0]


def test_grad_of_a_complex_input_is_the_gradient_backward_stores():
    z = ad.tensor(np.array([3 + 4j]), requires_grad=True)
    loss = np.sum(np.abs(z * z))
    (g,) = ad.autograd.grad(loss, z, retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(g.numpy(), z.grad.numpy())
    np.testing.assert_allclose(g.numpy(), [6 + 8j])


def test_autograd_backward_sums_several_outputs_in_one_sweep():
    x, w, y, loss = product()
    ad.autograd.backward([loss, y], [None, np.ones(2)], retain_graph=True, inputs=[x])
    assert x.grad.tolist() == [9.0, 12.0] and w.grad is None
    ad.autograd.backward(loss * 1.0)
    assert w.grad.tolist() == [2.0, 4.0]


# -- the same programs on PyTorch -------------------------------------------------------------------
def _program(lib, seed, names):
    """A small DAG with hooks, retained values and an in-place write; the gradients
    autograd.grad gives for `names`, then those backward(inputs=names) leaves, the hook log."""
    torch = lib == "torch"
    rng = np.random.default_rng(seed)
    make = (
        (lambda v: lib.tensor(v, requires_grad=True))
        if torch
        else (lambda v: ad.tensor(v, requires_grad=True))
    )
    a, b, c = (make(rng.standard_normal(3)) for _ in range(3))
    sin = lib.sin if torch else np.sin
    log = []

    def hook(name):
        return lambda g: log.append(name) or g * 1.5

    h = a * b
    h.register_hook(hook("h"))
    k = sin(h) + c
    k.retain_grad()
    m = k * 1.0
    m *= b
    m.register_hook(hook("m"))
    n = (m * c).sum() + (h * h).sum()
    b.register_hook(hook("b"))
    tensors = {"a": a, "b": b, "c": c, "h": h, "k": k, "m": m}
    grads = (lib.autograd if torch else ad.autograd).grad(n, [tensors[v] for v in names], retain_graph=True)
    n.backward(inputs=[tensors[v] for v in names])
    stored = {v: None if tensors[v].grad is None else tensors[v].grad.detach().numpy() for v in tensors}
    return [g.detach().numpy() for g in grads], stored, log


@pytest.mark.parametrize("names", [("a",), ("b", "c"), ("h",), ("k", "a"), ("m", "b", "h"), ("c",)])
@pytest.mark.parametrize("seed", range(2))
def test_selective_backward_agrees_with_pytorch(names, seed):
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both warn when .grad of a non-leaf is read
        got_grads, got_stored, got_log = _program(ad, seed, names)
        want_grads, want_stored, want_log = _program(torch, seed, names)
    for g, w in zip(got_grads, want_grads, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12)
    assert got_stored.keys() == want_stored.keys()
    for k in got_stored:
        if want_stored[k] is None:
            assert got_stored[k] is None, k
        else:
            np.testing.assert_allclose(got_stored[k], want_stored[k], rtol=1e-12, err_msg=k)
    assert sorted(got_log) == sorted(want_log)


# -- the module ---------------------------------------------------------------------------------
def test_autograd_imports_as_torch_autograd_does():
    # in a fresh interpreter: `from ad.autograd import grad` needs a module, not a name in ad
    program = (
        "from ad.autograd import backward, grad\n"
        "import ad\n"
        "assert ad.autograd.grad is grad and ad.autograd.backward is backward\n"
        "x = ad.tensor([1.0, 2.0], requires_grad=True)\n"
        "(g,) = grad((x * x).sum(), x)\n"
        "assert g.tolist() == [2.0, 4.0]\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "autograd" in ad.__all__
