"""What a recorded multilinear op keeps: np.einsum's VJP in an operand is an einsum of the
cotangent with the other operands, so its node keeps those operands and a stand-in for the
output and for every operand no other one needs (PyTorch's einsum saves its operands only)."""

from __future__ import annotations

import numpy as np
import pytest

import ad
from ad import registry
from ad.reverse.graph import reads


def t(v, requires_grad=True):
    return ad.tensor(np.array(v, dtype=float), requires_grad=requires_grad)


def stands_in(value) -> bool:
    """Whether a node keeps a stand-in here: NaN of the value's shape, owning no memory."""
    return isinstance(value, np.ndarray) and not value.flags.writeable and np.isnan(value).all()


A = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
B = [[1.0, -1.0, 2.0], [0.5, 3.0, -2.0]]
C = [2.0, -1.0, 0.5]


def test_einsum_is_read_as_the_other_operands_for_each_needed_one():
    op = registry.get("einsum")
    assert reads(op, (True, False, False)) == ((False, True, True), False)
    assert reads(op, (False, True, False)) == ((True, False, True), False)
    assert reads(op, (True, True, False)) == ((True, True, True), False)
    assert reads(op, (True,)) == ((False,), False)  # one operand: a linear map, shapes only


def test_a_recorded_einsum_keeps_stand_ins_for_its_output_and_the_unread_operand():
    a, b, c = t(A), t(B, requires_grad=False), t(C, requires_grad=False)
    y = np.einsum("ij,jk,k->i", a, b, c)
    node = y.grad_fn
    assert all(stands_in(v) for v in node.saved_out)
    assert stands_in(node.saved_in[0])  # a's own value: its cotangent reads b and c
    assert node.saved_in[1] is b.data and node.saved_in[2] is c.data
    y.sum().backward()
    # d/dA sum_i sum_jk A_ij B_jk c_k = (B c)_j for every row i
    np.testing.assert_allclose(a.grad.numpy(), np.tile(np.array(B) @ np.array(C), (3, 1)), rtol=1e-14)


def test_every_operand_needed_keeps_every_operand_and_still_no_output():
    a, b, c = t(A), t(B), t(C)
    y = np.einsum("ij,jk,k->i", a, b, c)
    node = y.grad_fn
    assert stands_in(node.saved_out[0])
    assert [v is x.data for v, x in zip(node.saved_in, (a, b, c))] == [True] * 3
    g = np.array([1.0, 2.0, -1.0])
    y.backward(gradient=g)
    Av, Bv, Cv = np.array(A), np.array(B), np.array(C)
    np.testing.assert_allclose(a.grad.numpy(), np.outer(g, Bv @ Cv), rtol=1e-14)
    np.testing.assert_allclose(b.grad.numpy(), np.outer(Av.T @ g, Cv), rtol=1e-14)
    np.testing.assert_allclose(c.grad.numpy(), Bv.T @ (Av.T @ g), rtol=1e-14)


def test_a_one_operand_einsum_keeps_no_value():
    a = t([[1.0, 2.0], [3.0, 4.0]])
    y = np.einsum("ii->i", a)
    assert stands_in(y.grad_fn.saved_in[0]) and stands_in(y.grad_fn.saved_out[0])
    y.backward(gradient=np.array([2.0, -1.0]))
    np.testing.assert_array_equal(a.grad.numpy(), np.diag([2.0, -1.0]))


def _written_output(lib, a, b):
    y = lib.einsum("ij,jk->ik", a, b)
    y *= 2.0  # the einsum's output, overwritten: its VJP never reads it
    y.sum().backward()
    return a.grad, b.grad


def test_writing_an_einsum_s_output_in_place_leaves_its_gradient_alone():
    a, b = t(A), t(B)
    ga, gb = _written_output(np, a, b)
    # d/dA sum(2 A B) = 2 (row sums of B) in every row; d/dB: 2 (column sums of A) in every column
    rows_b, cols_a = np.array(B).sum(axis=1), np.array(A).sum(axis=0)
    np.testing.assert_allclose(ga.numpy(), 2.0 * np.tile(rows_b, (3, 1)), rtol=1e-14)
    np.testing.assert_allclose(gb.numpy(), 2.0 * np.tile(cols_a[:, None], (1, 3)), rtol=1e-14)


def test_writing_an_einsum_s_output_in_place_agrees_with_pytorch():
    torch = pytest.importorskip("torch")
    ours = _written_output(np, t(A), t(B))
    theirs = _written_output(
        torch,
        torch.tensor(A, dtype=torch.float64, requires_grad=True),
        torch.tensor(B, dtype=torch.float64, requires_grad=True),
    )
    for o, w in zip(ours, theirs):
        np.testing.assert_allclose(o.numpy(), w.numpy(), rtol=1e-14)


def test_writing_an_operand_the_vjp_reads_still_raises():
    a, b = t(A), t(B)
    w = b * 1.0
    y = np.einsum("ij,jk->ik", a, w)
    w *= 3.0  # a's cotangent reads w
    with pytest.raises(RuntimeError, match="its input 1, was modified by an in-place operation"):
        y.sum().backward()


def test_einsum_under_create_graph_differentiates_the_operands_it_reads():
    # second order through the kept operands: d/da of sum(grad_b) where grad_b = a^T 1 c^T
    a, c = t([[1.0, 2.0], [3.0, 4.0]]), t([2.0, -1.0])
    b = t([[1.0, 0.5], [-1.0, 2.0]])
    y = np.einsum("ij,jk,k->", a, b, c)
    (gb,) = ad.autograd.grad(y, [b], create_graph=True)
    (gc,) = ad.autograd.grad(gb.sum(), [c])
    # gb[j, k] = sum_i a_ij c_k, so d sum(gb) / dc_k = sum_ij a_ij
    np.testing.assert_allclose(gc.numpy(), [10.0, 10.0], rtol=1e-14)
