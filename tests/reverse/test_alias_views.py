"""Ops whose NumPy result is memory of their operand (flip, broadcast_to, atleast_nd, split)
are views: one version counter with the operand, and writes seen or refused, never lost."""

import numpy as np
import pytest

import ad

X = np.arange(1.0, 7.0).reshape(2, 3)


def _graph():
    x = ad.tensor(X.copy(), requires_grad=True)
    return x, x * 1.0


@pytest.mark.parametrize(
    "alias",
    [np.flip, np.fliplr, np.flipud, np.rot90, np.atleast_2d, lambda y: np.broadcast_to(y, (2, 2, 3))],
    ids=["flip", "fliplr", "flipud", "rot90", "atleast_2d", "broadcast_to"],
)
def test_a_saved_alias_sees_a_write_into_its_operand(alias):
    x, y = _graph()
    w = np.sin(alias(y))  # sin saves its operand: memory of y
    y += 1.0
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        np.sum(w).backward()


@pytest.mark.parametrize("alias", [np.flip, np.rot90, np.atleast_1d], ids=["flip", "rot90", "atleast_1d"])
def test_a_write_into_an_alias_reaches_its_operands_gradient(alias):
    x, y = _graph()
    z = alias(y)
    z *= 2.0
    np.testing.assert_array_equal(y.detach().numpy(), 2 * X)  # as in NumPy
    np.sum(y * y).backward()
    np.testing.assert_allclose(x.grad, 2 * X * 4, rtol=1e-15)  # y = 2x


@pytest.mark.parametrize(
    "pieces",
    [
        lambda y: np.split(y, 3, axis=1),
        lambda y: np.array_split(y, 2, axis=1),
        lambda y: np.atleast_1d(y, y[0]),
    ],
    ids=["split", "array_split", "atleast_1d of two"],
)
def test_one_output_of_several_is_not_written_in_place_in_grad_mode(pieces):
    x, y = _graph()
    before = y.detach().numpy().copy()
    piece = pieces(y)[1]
    with pytest.raises(RuntimeError, match="one output of several"):
        piece *= 2.0
    np.testing.assert_array_equal(y.detach().numpy(), before)


def test_a_piece_is_refused_after_its_base_is_written_in_grad_mode():
    x, y = _graph()
    a, b, c = np.split(y, 3, axis=1)
    y *= 2.0
    with pytest.raises(RuntimeError, match="one output of several.*written in place"):
        np.sum(b * b)


def test_pieces_written_under_no_grad_or_of_plain_tensors_behave_as_in_numpy():
    x, y = _graph()
    a, b, c = np.split(y, 3, axis=1)
    with ad.no_grad():
        b *= 2.0
    np.testing.assert_array_equal(y.detach().numpy(), X * [1, 2, 1])
    np.sum(a * a).backward()  # a's history is split of x * 1: untouched by the no_grad write
    np.testing.assert_array_equal(x.grad, 2 * X * [1, 0, 0])
    t = ad.tensor(X.copy())
    p, q, r = np.split(t, 3, axis=1)
    q *= 2.0  # nothing requires grad: NumPy's semantics
    np.testing.assert_array_equal(t.numpy(), X * [1, 2, 1])


def test_pieces_still_differentiate():
    x, y = _graph()
    a, b, c = np.split(y, 3, axis=1)
    np.sum(a * 1.0 + 3.0 * c).backward()
    np.testing.assert_array_equal(x.grad, np.broadcast_to([1.0, 0.0, 3.0], X.shape))


def test_a_write_through_a_view_inside_two_reverse_levels_is_recorded_at_both():
    """hvp rev-rev: at the inner level every value is a Tensor of the outer one; a view
    there is still a view, and the write reaches the second derivative."""

    def f(x):
        y = x * 1.0
        v = y[1:]
        v *= x[:2]  # y = [x0, x1 x0, x2 x1]
        return np.sum(y**3)

    x, t = np.array([0.5, -1.5, 2.0]), np.array([1.0, 0.25, -0.5])
    _, hv = ad.hvp(f, (x,), (t,), mode="rev-rev")
    g = ad.grad(f)
    h = 1e-5
    fd = (g(x + h * t) - g(x - h * t)) / (2 * h)
    np.testing.assert_allclose(hv, fd, rtol=1e-7, atol=1e-9)
