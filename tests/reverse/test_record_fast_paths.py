"""Recording's shortcuts keep what the long way kept: apply hands an op to the first box's
engine before the level scan and the complex check, which Tensor._process then makes in
its own pass; a node's needs come from a plan per op and pattern; stand-ins come from a
cache by shape and dtype; the elementwise fast path takes one or two operands."""

from __future__ import annotations

import numpy as np
import pytest

import ad
from ad.forward.dual import Dual
from ad.reverse.record import _STAND_INS
from ad.reverse.tensor import leaf
from ad.testing import gradcheck
from ad.trace import new_level, raw


# -- levels and complex values, checked in the engine's own pass ------------------------------
def test_an_op_whose_first_box_is_of_a_lower_level_is_recorded_at_the_highest():
    lo = leaf(np.array([[1.0, 2.0], [3.0, 4.0]]), new_level())
    hi = leaf(np.array([0.5, -1.0]), new_level())
    for y in (lo @ hi, np.matmul(lo, hi), np.sum(lo * hi, axis=1), np.sin(lo) + hi):
        assert type(y) is ad.Tensor and y.level == hi.level
        assert type(y.data) is ad.Tensor and y.data.level == lo.level
        assert y.grad_fn is not None and y.data.grad_fn is not None


def test_a_tensor_over_a_value_of_a_higher_level_still_computes_its_ops():
    # a hand-made Tensor over a hand-made Dual: its value's level is above the Tensor's
    t = ad.Tensor(Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0]), 2))
    assert np.allclose(raw(np.sin(t)), np.sin([1.0, 2.0]))
    assert raw(np.sum(t)) == 3.0
    assert raw(t @ np.ones(2)) == 3.0


@pytest.mark.parametrize(
    "f, name",
    [
        (lambda z: np.max(z), "max"),
        (lambda z: np.maximum(z, 1.0), "maximum"),
        (lambda z: np.hypot(1.0, z), "hypot"),
        (lambda z: np.clip(z, 0.0, 1.0), "clip"),
    ],
)
def test_complex_input_to_an_op_without_complex_rules_raises_the_general_error(f, name):
    z = ad.tensor(np.array([1 + 1j, 2 - 1j]), requires_grad=True)
    with pytest.raises(TypeError, match=rf"ad: {name} has no complex rule.*\(reverse mode\)"):
        f(z)


@pytest.mark.parametrize("constant", [1j, np.array([1j, 0j]), [1.0, 2j]], ids=["number", "array", "list"])
def test_a_complex_constant_beside_a_real_tensor_is_refused_too(constant):
    x = ad.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(TypeError, match=r"ad: hypot has no complex rule"):
        np.hypot(x, constant)


# -- what a node keeps ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_values_the_vjp_does_not_read_are_kept_as_nan_stand_ins(dtype):
    w = np.ones((3, 2), dtype)
    x = ad.tensor(np.array([1.0, 2.0], dtype), requires_grad=True)
    y = w @ x
    node = y.grad_fn
    assert node.saved_in[0] is w  # x's cotangent reads w
    for kept, value in ((node.saved_in[1], x.data), (node.saved_out[0], y.data)):
        assert kept is not value
        assert kept.shape == value.shape and kept.dtype == value.dtype
        assert np.isnan(kept).all() and not kept.flags.writeable
    s = np.sum(np.tanh(y))
    assert s.grad_fn.saved_in[0].shape == (3,) and np.isnan(s.grad_fn.saved_in[0]).all()


def test_the_stand_in_cache_stays_bounded_and_right():
    x = ad.tensor(np.ones(1), requires_grad=True)
    for n in range(1, 1100):
        y = np.reshape(np.tile(x, n), (n,))
        kept = (y * 2.0).grad_fn.saved_in[0]
        assert kept.shape == (n,) and np.isnan(kept).all()
    assert len(_STAND_INS) <= 1024


def test_nodes_of_one_op_and_pattern_share_their_needs():
    x = ad.tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = ad.tensor(np.array([3.0, 4.0]), requires_grad=True)
    c = np.array([5.0, 6.0])
    one, two, both = (x * c).grad_fn, (w * c).grad_fn, (x * w).grad_fn
    assert one.needs == (True, False) and one.needs is two.needs
    assert both.needs == (True, True) and both.needs is not one.needs
    assert (c * x).grad_fn.needs == (False, True)


def test_scalar_nodes_keep_the_values_their_partials_name():
    x, w = ad.tensor(0.5, requires_grad=True), ad.tensor(-2.0, requires_grad=True)
    y = np.sin(x)  # a non-leaf over a NumPy scalar: the fast path's scalar form
    v = np.sin(w)
    assert (y * v).grad_fn.partials == [v.data, y.data]
    assert (y * 3.0).grad_fn.partials == [3.0, None]
    e = np.exp(y)
    assert e.grad_fn.partials == [e.data]
    assert (y + v).grad_fn.partials == (1.0, 1.0)
    assert np.sin(y).grad_fn.partials is None  # cos computes: the rule runs in backward


def test_a_three_operand_elementwise_op_records_through_the_general_path():
    x = np.array([-2.0, 0.5, 3.0, 1.5])
    lo, hi = np.array(-1.0), np.array(2.0)
    assert gradcheck(lambda x, lo, hi: np.sum(np.clip(x, lo, hi) ** 2), x, lo, hi)
    xt, lt, ht = (ad.tensor(v, requires_grad=True) for v in (x, lo, hi))
    np.sum(np.clip(xt, lt, ht)).backward()
    assert np.array_equal(xt.grad.numpy(), [0.0, 1.0, 0.0, 1.0])
    assert lt.grad.numpy() == 1.0 and ht.grad.numpy() == 1.0


def test_nothing_recorded_without_grad_and_no_accumulator_made():
    w = np.ones((2, 2))
    x = ad.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with ad.no_grad():
        for y in (w @ x, np.sum(x), np.tanh(x), x * 2.0):
            assert y.grad_fn is None and not y.requires_grad
    assert x._accumulator is None


def test_a_guarded_output_written_in_place_is_caught():
    x = ad.tensor(np.array([0.5, -0.5]), requires_grad=True)
    y = np.tanh(x)  # tanh's VJP reads its output
    y += 1.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation|in-place"):
        np.sum(y).backward()
