"""PyTorch's autograd semantics on ad.Tensor, one test per rule (docs/reverse.md)."""

import gc
import weakref

import numpy as np
import pytest

import ad


def test_requires_grad_only_on_leaves():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    assert x.is_leaf and not y.is_leaf and y.requires_grad
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_()


def test_requires_grad_rejects_integer_tensors():
    with pytest.raises(TypeError, match="floating-point"):
        ad.tensor([1, 2, 3], requires_grad=True)


def test_grad_is_none_until_backward_then_accumulates():
    x = ad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert x.grad is None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])
    first = x.grad
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0, 12.0])
    assert x.grad is first  # accumulated in place, like PyTorch
    x.grad = None
    (3.0 * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0, 3.0])


def test_only_leaves_get_grad_unless_retain_grad():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    k = x * 5.0
    k.retain_grad()
    (h * k).sum().backward()
    with pytest.warns(UserWarning, match="not a leaf"):
        assert h.grad is None
    np.testing.assert_allclose(k.grad.numpy(), h.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), 30.0 * x.detach().numpy())


def test_backward_on_non_scalar_needs_gradient():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    with pytest.raises(RuntimeError, match="implicitly created only for scalar"):
        y.backward()
    with pytest.raises(RuntimeError, match="shape"):
        y.backward(gradient=np.ones(3))


def test_backward_with_gradient_computes_v_transpose_j():
    x = ad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = np.array([0.5, -1.0, 2.0])
    (x * x).backward(gradient=v)
    np.testing.assert_allclose(x.grad.numpy(), v * 2.0 * np.array([1.0, 2.0, 3.0]))


def test_sum_backward_equals_backward_with_ones():
    a = ad.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
    b = ad.tensor(a.detach().numpy().copy(), requires_grad=True)
    np.sin(a * a).sum().backward()
    np.sin(b * b).backward(gradient=np.ones((2, 2)))
    np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


def test_second_backward_raises_unless_retain_graph():
    x = ad.tensor(2.0, requires_grad=True)
    y = np.exp(x) * x
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * 3 * np.exp(2.0))
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_saved_values_are_released_after_backward():
    x = ad.tensor(np.linspace(0.1, 1.0, 5), requires_grad=True)
    y = np.exp(x)  # exp saves its output for the VJP
    z = (y * y).sum()
    saved = weakref.ref(y.data)
    del y
    gc.collect()
    assert saved() is not None  # the graph holds it until backward
    z.backward()
    gc.collect()
    assert saved() is None


def test_retain_graph_keeps_saved_values():
    x = ad.tensor(np.ones(3), requires_grad=True)
    y = np.exp(x)
    y.sum().backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)


def test_create_graph_records_the_backward_pass():
    x = ad.tensor(1.5, requires_grad=True)
    y = x**3
    y.backward(create_graph=True)
    g = x.grad
    assert g.requires_grad and g.grad_fn is not None
    np.testing.assert_allclose(g.numpy() if not g.requires_grad else g.detach().numpy(), 3 * 1.5**2)
    x.grad = None
    g.backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * 1.5)


def test_no_grad_records_nothing():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    with ad.no_grad():
        y = x * 2.0
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert ad.is_grad_enabled()


def test_detach_shares_memory_and_cuts_the_graph():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    d = y.detach()
    assert d.grad_fn is None and not d.requires_grad
    assert np.shares_memory(d.numpy(), y.data)


def test_requires_grad_underscore_on_leaf():
    x = ad.tensor([1.0, 2.0]).requires_grad_()
    assert x.requires_grad
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_grad_fn_names_the_op_and_links_inputs():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    y = np.sin(x)
    z = y * 2.0
    assert z.grad_fn.name == "MultiplyBackward"
    assert z.grad_fn.next_nodes[0] is y.grad_fn
    assert z.grad_fn.next_functions == ((y.grad_fn, 0), (None, 0))
    (acc,) = y.grad_fn.next_nodes
    assert acc.name == "AccumulateGrad" and acc.variable is x


def test_tensor_copies_from_numpy_shares():
    a = np.array([1.0, 2.0, 3.0])
    t = ad.tensor(a)
    s = ad.from_numpy(a)
    assert ad.Tensor.from_numpy(a).numpy() is a
    a += 1.0
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(s.numpy(), [2.0, 3.0, 4.0])
    s += 1.0  # in place through the Tensor: seen through the array
    np.testing.assert_array_equal(a, [3.0, 4.0, 5.0])
    s[0] = 10.0
    assert a[0] == 10.0
    s = s + 1.0  # out of place: a new Tensor, the array keeps its values
    assert a[1] == 4.0 and s.numpy()[1] == 5.0


def test_numpy_refuses_a_tensor_that_requires_grad():
    x = ad.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()


def test_inplace_on_leaf_requiring_grad_raises():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        x += 1.0
    np.testing.assert_array_equal(x.detach().numpy(), [1.0, 2.0])  # nothing mutated
    with ad.no_grad():
        x -= 1.0
    np.testing.assert_array_equal(x.detach().numpy(), [0.0, 1.0])


def test_inplace_change_of_a_saved_value_makes_backward_raise_naming_the_op():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    z = np.sin(h)  # sin saves its input h
    h += 1.0
    with pytest.raises(RuntimeError, match="sin.*in-place"):
        z.sum().backward()


def test_inplace_on_a_value_its_node_saved_makes_backward_raise():
    # exp saves its output; overwriting it in place would make exp's VJP read the new value
    # (PyTorch raises here too). A clone before the write keeps it.
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    h = np.exp(x)
    h *= 2.0
    with pytest.raises(RuntimeError, match="exp.*in-place"):
        h.sum().backward()
    h = np.exp(x).clone()
    h *= 2.0
    h += x
    assert h.grad_fn.name == "AddBackward"
    h.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0]) + 1)


def test_setitem_on_a_non_leaf_is_differentiable():
    x = ad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1.0
    y[1] = x[0] * 10.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [11.0, 0.0, 1.0])


def test_long_chain_backpropagates_without_recursion():
    x = ad.tensor(0.5, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_tensor_ops_keep_plain_numpy_code_working():
    W = ad.tensor(np.eye(3) * 2.0, requires_grad=True)
    x = np.array([1.0, 2.0, 3.0])
    loss = np.sum(np.tanh(W @ x) ** 2)
    loss.backward()
    t = np.tanh(2.0 * x)
    np.testing.assert_allclose(W.grad.numpy(), np.outer(2 * t * (1 - t**2), x))


def test_gradients_sharing_a_cotangent_stay_independent():
    # add hands the same cotangent to both operands; z adds into x.grad while h's node still
    # waits on that cotangent: neither may see the other's in-place accumulation.
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    u = ad.tensor([3.0, 4.0], requires_grad=True)
    h = x * 2.0
    out = (x + h) + (x * 3.0) + u
    v = np.array([1.0, -1.0])
    out.backward(gradient=v)
    np.testing.assert_allclose(x.grad.numpy(), 6.0 * v)
    np.testing.assert_allclose(u.grad.numpy(), v)
    assert not np.shares_memory(u.grad.numpy(), v)
    u.grad.zero_()
    np.testing.assert_allclose(x.grad.numpy(), 6.0 * v)


def test_no_grad_also_works_as_a_decorator():
    @ad.no_grad()
    def update(x):
        return x * 2.0

    y = update(ad.tensor([1.0], requires_grad=True))
    assert not y.requires_grad and ad.is_grad_enabled()


@pytest.mark.parametrize(
    "program",
    [
        lambda x, u: (x + u).sum(),  # add hands one cotangent to both leaves
        lambda x, u: (x * 1.0 + u * 1.0).sum(),
        lambda x, u: (x @ np.eye(3) + u).sum(),
        lambda x, u: np.sum(np.tanh(x) + np.tanh(u)),
    ],
)
def test_leaf_gradients_never_share_memory(program):
    x = ad.tensor(np.linspace(0.1, 0.3, 3), requires_grad=True)
    u = ad.tensor(np.linspace(0.4, 0.6, 3), requires_grad=True)
    program(x, u).backward()
    assert not np.shares_memory(x.grad.numpy(), u.grad.numpy())
    before = x.grad.numpy().copy()
    u.grad.zero_()
    np.testing.assert_array_equal(x.grad.numpy(), before)


def test_leaf_gradient_never_shares_memory_with_the_callers_cotangent():
    x = ad.tensor(np.ones(3), requires_grad=True)
    v = np.array([1.0, 2.0, 3.0])
    (x * 1.0).backward(gradient=v)
    (x + 0.0).backward(gradient=v)
    assert not np.shares_memory(x.grad.numpy(), v)
    np.testing.assert_array_equal(v, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0, 6.0])
