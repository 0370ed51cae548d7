"""The backward graph: edges fixed at record time, in-place writes, views (PyTorch's semantics).

Each scenario is written once against the Tensor API both libraries share and run on ad;
where torch is installed it runs there too and the gradients must match. The expected
values are also derived by hand, so the tests check something without torch.
"""

import numpy as np
import pytest

import ad


def _ad(data, requires_grad=False):
    return ad.tensor(np.asarray(data, dtype=float), requires_grad=requires_grad)


def _grad(t):
    return None if t.grad is None else np.asarray(t.grad.detach().numpy())


def _rebind_then_old_output(T):
    x = T([1.0, 2.0], True)
    y = x * 2
    z = y + 1
    y *= 3
    z.sum().backward()
    return [x], [[2.0, 2.0]]


def _rebind_then_new_output(T):
    x = T([1.0, 2.0], True)
    y = x * 2
    y + 1
    y *= 3
    y.sum().backward()
    return [x], [[6.0, 6.0]]


def _write_through_slice(T):
    x = T([1.0, 2.0, 3.0], True)
    y = x * 1
    v = y[0:2]
    v *= 10
    y.sum().backward()
    return [x], [[10.0, 10.0, 1.0]]


def _sibling_view_sees_the_write(T):
    x = T([1.0, 2.0, 3.0], True)
    y = x * 1
    v = y[0:2]
    w = y[1:3]  # made before the write; shares y[1]
    v *= 10
    (w * w).sum().backward()
    # w = (10 x1, x2): d/dx1 (100 x1^2) = 200 x1, d/dx2 x2^2 = 2 x2
    return [x], [[0.0, 400.0, 6.0]]


def _write_through_base_seen_by_view(T):
    x = T([1.0, 2.0, 3.0], True)
    y = x * 1
    v = y[1:]
    y *= 2
    (v * v).sum().backward()  # v = 2 x[1:]: gradient 8 x[1:]
    return [x], [[0.0, 16.0, 24.0]]


def _write_a_differentiable_value_through_a_view(T):
    x = T([1.0, 2.0, 3.0], True)
    w = T([5.0], True)
    y = x * 1
    v = y[0:2]
    v[0] = (w * 3)[0]
    (y * y).sum().backward()
    # y = (3w, x1, x2): d/dx = (0, 2 x1, 2 x2), d/dw = 2 * 3w * 3
    return [x, w], [[0.0, 4.0, 6.0], [90.0]]


def _view_of_a_view(T):
    x = T([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], True)
    y = x * 1
    c = y.T[1]  # the column y[:, 1], through transpose then an integer index
    c *= 3
    (y * y).sum().backward()
    return [x], [[[2.0, 36.0, 6.0], [8.0, 90.0, 12.0]]]


def _reshape_view_with_a_grad_operand(T):
    x = T([[1.0, 2.0], [3.0, 4.0]], True)
    s = T([2.0, 3.0], True)
    y = x * 1
    r = y.reshape(4)
    r[1:3] *= s
    (y * y).sum().backward()
    # y = [[x00, 2 x01], [3 x10, x11]]
    gx = [[2.0, 2 * 2.0 * 2.0 * 2.0], [2 * 3.0 * 3.0 * 3.0, 8.0]]
    gs = [2 * 2.0 * 2.0 * 2.0, 2 * 3.0 * 3.0 * 3.0]
    return [x, s], [gx, gs]


def _write_into_a_plain_tensor(T):
    b = T([0.0, 0.0, 0.0])
    x = T([1.0, 2.0], True)
    v = b[1:]
    v += x * x
    (b * b).sum().backward()  # b = (0, x0^2, x1^2): gradient 4 x^3
    return [x], [[4.0, 32.0]]


def _retained_grad_follows_the_new_value(T):
    x = T([1.0, 2.0], True)
    y = x * 2
    y.retain_grad()
    y *= 3
    (y * y).sum().backward()
    return [x, y], [[72.0, 144.0], [12.0, 24.0]]


SCENARIOS = [
    _rebind_then_old_output,
    _rebind_then_new_output,
    _write_through_slice,
    _sibling_view_sees_the_write,
    _write_through_base_seen_by_view,
    _write_a_differentiable_value_through_a_view,
    _view_of_a_view,
    _reshape_view_with_a_grad_operand,
    _write_into_a_plain_tensor,
    _retained_grad_follows_the_new_value,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__.strip("_"))
def test_scenario_gradients_by_hand(scenario):
    leaves, expected = scenario(_ad)
    for t, want in zip(leaves, expected):
        np.testing.assert_allclose(_grad(t), want, rtol=1e-12)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__.strip("_"))
def test_scenario_gradients_match_pytorch(scenario):
    torch = pytest.importorskip("torch")

    def T(data, requires_grad=False):
        return torch.tensor(data, dtype=torch.float64, requires_grad=requires_grad)

    ours, _ = scenario(_ad)
    theirs, _ = scenario(T)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(_grad(a), b.grad.numpy(), rtol=1e-12)


def test_views_share_memory_and_the_version_counter():
    y = _ad([[1.0, 2.0], [3.0, 4.0]]) * 1
    views = [y[0], y[:, 1], y.T, y.reshape(4), y.ravel(), np.expand_dims(y, 0), np.squeeze(y[None])]
    views += [np.swapaxes(y, 0, 1), np.moveaxis(y, 0, 1), np.diagonal(y), y[...], y[None]]
    for v in views:
        assert np.shares_memory(v.data, y.data)
        before = v._version
        y += 1.0
        assert v._version == y._version == before + 1


def test_a_copy_is_not_a_view():
    y = _ad([1.0, 2.0, 3.0]) * 1
    c = y[[0, 2]]  # fancy indexing copies, as in NumPy
    c += 1.0
    np.testing.assert_array_equal(y.data, [1.0, 2.0, 3.0])
    assert c._version == 1 and y._version == 0


def test_inplace_on_a_view_of_a_leaf_requiring_grad_raises_and_mutates_nothing():
    x = _ad([1.0, 2.0, 3.0], True)
    v = x[0:2]
    with pytest.raises(RuntimeError, match="view of a leaf"):
        v *= 2
    np.testing.assert_array_equal(x.data, [1.0, 2.0, 3.0])
    assert x._version == 0
    with ad.no_grad():
        v *= 2
    np.testing.assert_array_equal(x.data, [2.0, 4.0, 3.0])
    assert x._version == 1


def test_a_saved_value_changed_through_its_base_makes_backward_raise():
    x = _ad([1.0, 2.0, 3.0], True)
    y = x * 1
    v = y[0:2]
    z = v * v  # saves v
    y *= 2
    with pytest.raises(RuntimeError, match="multiply.*in-place"):
        z.sum().backward()


def test_a_saved_value_changed_through_a_view_makes_backward_raise():
    x = _ad([1.0, 2.0, 3.0], True)
    y = x * 1
    z = y * y  # saves y
    y[0:1] += 1.0
    with pytest.raises(RuntimeError, match="multiply.*in-place"):
        z.sum().backward()


def test_a_saved_plain_tensor_changed_in_place_makes_backward_raise():
    x = _ad([1.0, 2.0], True)
    w = _ad([3.0, 4.0])
    y = x * w  # saves w
    w += 1.0
    with pytest.raises(RuntimeError, match="in-place"):
        y.sum().backward()


def test_inplace_result_that_cannot_be_stored_raises_and_mutates_nothing():
    y = _ad([1.0, 2.0]) * 1
    with pytest.raises(TypeError, match="cannot be stored"):
        y *= 1j
    np.testing.assert_array_equal(y.data, [1.0, 2.0])
    assert y._version == 0


def test_reading_grad_of_a_non_leaf_warns_and_retain_grad_silences_it():
    x = _ad([1.0], True)
    y = x * 2
    with pytest.warns(UserWarning, match="retain_grad"):
        assert y.grad is None
    y.retain_grad()
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [4.0])


def test_earlier_nodes_keep_their_edges_after_an_inplace_rebind():
    x = _ad([1.0, 2.0], True)
    y = x * 2
    z = y + 1
    old = y.grad_fn
    y *= 3
    assert z.grad_fn.next_nodes[0] is old
    assert y.grad_fn is not old and y.grad_fn.next_nodes[0] is old


def test_float32_leaves_get_float32_gradients():
    x = ad.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def _second_order_through_a_view_write(T, exp):
    x = T([1.0, 2.0, 3.0], True)
    y = x * x
    v = y[0:2]
    v *= x[1:3]
    exp(y).sum().backward(create_graph=True)
    g = x.grad
    x.grad = None
    (g * g).sum().backward()
    return x.grad


def test_create_graph_differentiates_through_a_write_into_a_view():
    def f(x):  # the same program, out of place
        y = x * x
        return np.sum(np.exp(np.concatenate([y[0:2] * x[1:3], y[2:]])))

    def g_squared(x):
        g = ad.grad(f)(x)
        return np.sum(g * g)

    x0 = np.array([1.0, 2.0, 3.0])
    ours = _second_order_through_a_view_write(_ad, np.exp)
    np.testing.assert_allclose(_grad_of(ours), ad.grad(g_squared)(x0), rtol=1e-10)


def test_create_graph_through_a_view_write_matches_pytorch():
    torch = pytest.importorskip("torch")
    ours = _second_order_through_a_view_write(_ad, np.exp)
    theirs = _second_order_through_a_view_write(
        lambda d, r=False: torch.tensor(d, dtype=torch.float64, requires_grad=r), torch.exp
    )
    np.testing.assert_allclose(_grad_of(ours), theirs.detach().numpy(), rtol=1e-10)


def _grad_of(g):
    return np.asarray(g.detach().numpy())


def _write_through_real_and_imaginary_parts(T, real):
    x = T([1.0, 2.0], True)
    w = T([0.5, -1.0], True)
    y = x * (1 + 1j)
    re = real(y)  # a view of the real parts of y's memory
    re *= w
    im = y.imag
    im *= 2
    (abs(y) ** 2).sum().backward()
    # y = x w + 2 i x, |y|^2 = x^2 w^2 + 4 x^2
    return [x, w], [[8.5, 20.0], [1.0, -8.0]]


def test_writes_through_real_and_imaginary_parts_by_hand():
    leaves, expected = _write_through_real_and_imaginary_parts(_ad, np.real)
    for t, want in zip(leaves, expected):
        np.testing.assert_allclose(_grad(t), want, rtol=1e-12)


def test_writes_through_real_and_imaginary_parts_match_pytorch():
    torch = pytest.importorskip("torch")
    ours, _ = _write_through_real_and_imaginary_parts(_ad, np.real)
    theirs, _ = _write_through_real_and_imaginary_parts(
        lambda d, r=False: torch.tensor(d, dtype=torch.float64, requires_grad=r), torch.real
    )
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(_grad(a), b.grad.numpy(), rtol=1e-12)


def test_real_and_imaginary_parts_share_the_version_counter():
    y = _ad([1.0, 2.0]) * (1 + 2j)
    r, i = np.real(y), y.imag
    assert np.shares_memory(r.data, y.data) and r._vc is y._vc and i._vc is y._vc


@pytest.mark.parametrize("op", [op for op in ad.registry.all_ops() if op.view], ids=lambda op: op.name)
def test_every_view_op_shares_the_counter_exactly_when_numpy_shares_memory(op):
    from ad.testing import examples
    from ad.trace import apply

    for operands, params in examples(op):
        base = np.array(operands[0], dtype=complex if op.name in ("real", "imag") else float)
        t = ad.tensor(base)
        out = apply(op, (t, *operands[1:]), params)
        outs = out if isinstance(out, tuple | list) else [out]
        shares = np.shares_memory(outs[0].data, t.data)
        assert (outs[0]._vc is t._vc) == shares, f"{op.name}{params}: counter shared != memory shared"


# -- programs found by the random comparison with PyTorch (tests/reverse/test_random_programs.py)
def test_writing_the_input_of_tanh_leaves_its_gradient_alone():
    # tanh' = 1 - tanh^2 reads the output only, so a later write into the input is harmless
    # (PyTorch saves only the output too).
    x = _ad([0.5, -1.0], True)
    y = x * 1
    t = np.tanh(y)
    y *= 3
    t.sum().backward()
    np.testing.assert_allclose(_grad(x), 1 - np.tanh([0.5, -1.0]) ** 2, rtol=1e-14)


def test_writing_the_output_of_a_product_leaves_its_gradient_alone():
    # The VJP of a @ b reads a and b, not a @ b: scaling the product afterwards is harmless.
    a = _ad([[1.0, 2.0], [3.0, 4.0]], True)
    b = _ad([5.0, -1.0], True)
    y = a @ b
    y *= 2
    y.sum().backward()
    np.testing.assert_allclose(_grad(a), [[10.0, -2.0], [10.0, -2.0]], rtol=1e-14)
    np.testing.assert_allclose(_grad(b), [8.0, 12.0], rtol=1e-14)


def test_a_detached_scalar_sees_inplace_writes_to_its_source():
    # np.sum returns a NumPy scalar, which has no memory to share: detach() must still give a
    # Tensor that sees later writes (PyTorch's detach shares memory, 0-d or not).
    x = _ad([1.0, 2.0], True)
    s = np.sum(x * x)
    d = s.detach()
    s += 1.0
    assert float(d) == 6.0 and d._version == s._version == 1
    d *= 2.0
    assert float(s) == 12.0 and s._version == 2


def test_numpy_of_a_scalar_shares_its_memory():
    s = np.sum(_ad([1.0, 2.0]) * 1)
    a = s.numpy()
    s += 1.0
    assert a == 4.0


def test_zero_fill_and_copy_overwrite_inf_and_nan():
    # The old value is dropped, not multiplied by zero: inf * 0 would leave NaN behind, in
    # the value and in every gradient that reads it.
    x = _ad([np.inf, np.nan, -2.0], True)
    w = _ad([1.0, 2.0, 3.0], True)
    y = x * 1
    y.copy_(w)
    np.testing.assert_array_equal(y.data, [1.0, 2.0, 3.0])
    (y * y).sum().backward()
    np.testing.assert_array_equal(_grad(x), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(_grad(w), [2.0, 4.0, 6.0])
    z = x * 1
    z.zero_()
    assert np.array_equal(z.data, [0.0, 0.0, 0.0]) and not np.signbit(z.data).any()
    z.fill_(3.0)
    np.testing.assert_array_equal(z.data, [3.0, 3.0, 3.0])


def test_copy_from_itself_saves_nothing_to_refuse():
    x = _ad([1.0, -2.0], True)
    y = x * 0.5
    y.copy_(y)
    (y * y).sum().backward()  # y = x / 2: gradient x / 2
    np.testing.assert_allclose(_grad(x), [0.5, -1.0], rtol=1e-14)


def test_a_write_whose_operand_overlaps_the_target_reads_it_first():
    # PyTorch refuses this write; ad computes the right-hand side, then writes, as NumPy.
    x = _ad([1.0, 2.0, 3.0], True)
    y = x * 1
    y[:2] += y[1:]
    np.testing.assert_array_equal(y.data, [3.0, 5.0, 3.0])
    (y * y).sum().backward()
    # y = (x0 + x1, x1 + x2, x2)
    np.testing.assert_allclose(_grad(x), [6.0, 16.0, 16.0], rtol=1e-14)


def test_a_view_taken_before_its_base_required_grad_can_be_written():
    x = _ad([1.0, 2.0, 3.0], True)
    b = _ad([0.0, 0.0, 0.0])
    v = b[1:]
    b.copy_(x)
    v *= 2
    assert v.requires_grad and not v.is_leaf
    (b * b).sum().backward()  # b = (x0, 2 x1, 2 x2)
    np.testing.assert_allclose(_grad(x), [2.0, 16.0, 24.0], rtol=1e-14)


@pytest.mark.parametrize("write", ["item", "iadd"])
def test_writing_a_traced_value_into_a_tensor_made_outside_the_transform_raises(write):
    outside = ad.tensor(np.zeros(2))

    def f(x):
        if write == "item":
            outside[0] = x[0] * 2
        else:
            outside.__iadd__(x)
        return np.sum(outside * outside)

    with pytest.raises(RuntimeError, match="cannot hold the derivative"):
        ad.grad(f)(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(outside.data, [0.0, 0.0])  # nothing written
    assert outside._version == 0


def test_second_order_reverse_over_reverse_through_an_item_assignment():
    def f(x):
        y = x * 1.0
        y[1] = x[0] * x[2]
        return np.sum(y * y)  # x0^2 + x0^2 x2^2 + x2^2

    x = np.array([1.0, 2.0, 3.0])
    _, hv = ad.hvp(f, (x,), (np.array([1.0, 0.0, 0.0]),), mode="rev-rev")
    # first column of the Hessian: d/dx0 of (2 x0 + 2 x0 x2^2, 0, 2 x0^2 x2 + 2 x2)
    np.testing.assert_allclose(hv, [2 + 2 * 9.0, 0.0, 4 * 1.0 * 3.0], rtol=1e-12)
