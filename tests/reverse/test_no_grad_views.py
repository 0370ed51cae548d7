"""Views made under no_grad: cut from the graph, and refused where PyTorch refuses them."""

import numpy as np
import pytest

import ad

X0 = np.arange(1.0, 7.0)


def _graph_value():
    x = ad.tensor(X0.copy(), requires_grad=True)
    return x, x * 1.0


def test_a_no_grad_view_of_a_plain_tensor_may_be_written_in_grad_mode():
    y = ad.tensor(X0.copy())
    with ad.no_grad():
        v = y[1:4]
    v *= 2
    np.testing.assert_array_equal(y.numpy(), X0 * np.array([1, 2, 2, 2, 1, 1]))


def test_writing_a_graph_value_through_a_no_grad_view_raises_and_changes_nothing():
    x, y = _graph_value()
    with ad.no_grad():
        v = y[1:4]
    version = y._version
    with pytest.raises(RuntimeError, match="made under no_grad.*both inside the no_grad block"):
        v *= 2
    np.testing.assert_array_equal(y.detach().numpy(), X0)
    assert y._version == version


def test_writing_a_value_that_requires_grad_through_a_no_grad_view_raises():
    y = ad.tensor(X0.copy())
    w = ad.tensor(np.ones(3), requires_grad=True)
    with ad.no_grad():
        v = y[1:4]
    with pytest.raises(RuntimeError, match="made under no_grad"):
        v *= w


def test_a_view_of_a_no_grad_view_is_cut_too():
    x, y = _graph_value()
    with ad.no_grad():
        v = y[1:5]
    w = v[1:]
    assert not w.requires_grad
    with pytest.raises(RuntimeError, match="made under no_grad"):
        w *= 2


def test_using_a_no_grad_view_after_a_recorded_write_to_its_base_raises():
    x, y = _graph_value()
    with ad.no_grad():
        v = y[1:5]
    y *= 2
    with pytest.raises(RuntimeError, match="written in place with grad mode on"):
        _ = v.requires_grad
    with pytest.raises(RuntimeError, match="written in place with grad mode on"):
        np.sum(v * v)


def test_a_no_grad_view_stays_cut_and_usable_after_its_base_is_written_under_no_grad():
    x, y = _graph_value()
    with ad.no_grad():
        v = y[1:5]
        y *= 2
    assert not v.requires_grad and v.grad_fn is None
    np.testing.assert_array_equal(v.numpy(), 2 * X0[1:5])
    (y * y).sum().backward()  # y's history is x * 1: the write was not recorded
    np.testing.assert_array_equal(x.grad, 2 * 2 * X0)


def test_the_same_programs_in_pytorch_refuse_and_allow_alike():
    torch = pytest.importorskip("torch")
    x = torch.tensor(X0.copy(), requires_grad=True)
    y = x * 1.0
    with torch.no_grad():
        v = y[1:4]
    with pytest.raises(RuntimeError, match="no_grad"):
        v *= 2
    y = torch.tensor(X0.copy())
    with torch.no_grad():
        v = y[1:4]
    v *= 2  # nothing requires grad: allowed in both
    x = torch.tensor(X0.copy(), requires_grad=True)
    y = x * 1.0
    with torch.no_grad():
        v = y[1:5]
    y *= 2
    with pytest.raises(RuntimeError, match="no_grad"):
        (v * v).sum()
