"""NumPy's writing functions on a Tensor: fill_diagonal, put, place, put_along_axis, copyto.

Each is an in-place write with PyTorch's semantics. Each scenario is written once against a
small table of write functions, NumPy's on ad's Tensors and their PyTorch spellings
(fill_diagonal_, put_, scatter_, index assignment, where) on torch's; the expected gradients
are derived by hand, and where torch is installed they must match it too.
"""

import numpy as np
import pytest

import ad

W = np.arange(1.0, 10.0).reshape(3, 3)  # the weights of the scalar each scenario differentiates


def _ad(data, requires_grad=False, dtype=float):
    return ad.tensor(np.asarray(data, dtype=dtype), requires_grad=requires_grad)


def _grad(t):
    return np.asarray(t.grad.detach().numpy())


class NumPyWrites:
    """The functions under test, as a user calls them on ad's Tensors."""

    T = staticmethod(_ad)
    fill_diagonal = staticmethod(np.fill_diagonal)
    put = staticmethod(np.put)
    place = staticmethod(np.place)
    put_along_axis = staticmethod(np.put_along_axis)
    copyto = staticmethod(np.copyto)


def _torch_writes():
    """PyTorch's spelling of each write, for the same scenarios on torch tensors."""
    torch = pytest.importorskip("torch")

    class TorchWrites:
        @staticmethod
        def T(data, requires_grad=False, dtype=float):
            dtype = torch.complex128 if dtype is complex else torch.float64
            return torch.tensor(np.asarray(data), dtype=dtype, requires_grad=requires_grad)

        @staticmethod
        def fill_diagonal(a, val, wrap=False):
            if isinstance(val, torch.Tensor):  # fill_diagonal_ takes a number: index a tensor value in
                i = torch.arange(min(a.shape))
                a[i, i] = val
            else:
                a.fill_diagonal_(val, wrap=wrap)

        @staticmethod
        def put(a, ind, v):
            a.put_(torch.as_tensor(ind), v)

        @staticmethod
        def place(arr, mask, vals):
            arr[torch.as_tensor(mask)] = vals

        @staticmethod
        def put_along_axis(arr, indices, values, axis):
            arr.scatter_(axis, torch.as_tensor(indices), values)

        @staticmethod
        def copyto(dst, src, where=True):
            dst.copy_(torch.where(torch.as_tensor(where), src, dst))

    return TorchWrites


# -- scenarios: (leaves, their expected gradients) ------------------------------------------


def _fill_diagonal_with_a_number(w):
    x = w.T(np.ones((3, 3)), True)
    y = x * 2
    w.fill_diagonal(y, 5.0)
    (y * w.T(W)).sum().backward()
    return [x], [2 * W * (1 - np.eye(3))]


def _fill_diagonal_with_a_traced_value(w):
    x = w.T(np.ones((3, 3)), True)
    v = w.T([1.0, 2.0, 3.0], True)
    y = x * 1
    w.fill_diagonal(y, v * v)
    (y * w.T(W)).sum().backward()
    return [x, v], [W * (1 - np.eye(3)), 2 * np.array([1.0, 2.0, 3.0]) * np.diag(W)]


def _fill_diagonal_of_a_tall_matrix_wraps(w):
    x = w.T(np.ones((7, 3)), True)
    y = x * 1
    w.fill_diagonal(y, 0.0, wrap=True)
    (y * y).sum().backward()
    kept = np.ones((7, 3))
    kept[[0, 1, 2, 4, 5, 6], [0, 1, 2, 0, 1, 2]] = 0.0  # row 3 is the gap NumPy leaves
    return [x], [2 * kept]


def _fill_diagonal_through_a_view(w):
    x = w.T(np.ones((3, 3)), True)
    y = x * 3
    corner = y[1:, 1:]
    w.fill_diagonal(corner, 0.0)
    (y * w.T(W)).sum().backward()
    kept = np.ones((3, 3))
    kept[[1, 2], [1, 2]] = 0.0
    return [x], [3 * W * kept]


def _put_flat_positions(w):
    x = w.T(np.ones((3, 3)), True)
    v = w.T([2.0, -1.0], True)
    y = x * 1
    w.put(y, [0, 7], v)
    (y * w.T(W)).sum().backward()
    kept = np.ones(9)
    kept[[0, 7]] = 0.0
    return [x, v], [W * kept.reshape(3, 3), W.ravel()[[0, 7]]]


def _place_where_the_mask_is_true(w):
    x = w.T(np.ones((3, 3)), True)
    v = w.T([4.0, 5.0, 6.0], True)
    mask = np.fliplr(np.eye(3, dtype=bool)).copy()  # the anti-diagonal, row by row: (0, 2), (1, 1), (2, 0)
    y = x * 1
    w.place(y, mask, v * 2)
    (y * w.T(W)).sum().backward()
    return [x, v], [W * ~mask, 2 * W[mask]]


def _put_along_axis_inverts_take_along_axis(w):
    x = w.T(np.ones((3, 3)), True)
    v = w.T([[1.0], [2.0], [3.0]], True)
    idx = np.array([[2], [0], [1]])
    y = x * 1
    w.put_along_axis(y, idx, v, 1)
    (y * w.T(W)).sum().backward()
    written = np.zeros((3, 3), bool)
    written[[0, 1, 2], [2, 0, 1]] = True
    return [x, v], [W * ~written, W[[0, 1, 2], [2, 0, 1]].reshape(3, 1)]


def _copyto_where(w):
    x = w.T(np.ones((3, 3)), True)
    s = w.T([1.0, 2.0, 3.0], True)
    mask = np.array([[True, False, True]] * 2 + [[False, False, True]])
    y = x * 1
    w.copyto(y, s * s, where=mask)
    (y * w.T(W)).sum().backward()
    return [x, s], [W * ~mask, 2 * np.array([1.0, 2.0, 3.0]) * np.sum(W * mask, axis=0)]


def _copyto_everything(w):
    x = w.T(np.ones((3, 3)), True)
    s = w.T([1.0, 2.0, 3.0], True)
    y = x * 1
    w.copyto(y, s)
    (y * w.T(W)).sum().backward()
    return [x, s], [np.zeros((3, 3)), np.sum(W, axis=0)]


def _put_a_complex_value(w):
    x = w.T(np.full((3, 3), 1 + 1j), True, complex)
    v = w.T([2 - 1j], True, complex)
    y = x * 1
    w.put(y, [4], v * v)
    (y * y.conj()).real.sum().backward()  # |y|^2: PyTorch's gradient is 2 y
    kept = np.ones((3, 3))
    kept[1, 1] = 0.0
    # |v^2|^2 = |v|^4: PyTorch's gradient 2 d/d(conj v) = 4 |v|^2 v
    return [x, v], [2 * (1 + 1j) * kept, [4 * abs(2 - 1j) ** 2 * (2 - 1j)]]


SCENARIOS = [
    _fill_diagonal_with_a_number,
    _fill_diagonal_with_a_traced_value,
    _fill_diagonal_of_a_tall_matrix_wraps,
    _fill_diagonal_through_a_view,
    _put_flat_positions,
    _place_where_the_mask_is_true,
    _put_along_axis_inverts_take_along_axis,
    _copyto_where,
    _copyto_everything,
    _put_a_complex_value,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__.strip("_"))
def test_scenario_gradients_by_hand(scenario):
    leaves, expected = scenario(NumPyWrites)
    for t, want in zip(leaves, expected):
        np.testing.assert_allclose(_grad(t), want, rtol=1e-12)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__.strip("_"))
def test_scenario_gradients_match_pytorch(scenario):
    ours, _ = scenario(NumPyWrites)
    theirs, _ = scenario(_torch_writes())
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(_grad(a), b.grad.numpy(), rtol=1e-12)


# -- what each write returns, changes and refuses -------------------------------------------

# one call of each, on a 3 x 3 target; the value written is a scalar
CALLS = {
    "fill_diagonal": lambda a, v: np.fill_diagonal(a, v),
    "put": lambda a, v: np.put(a, [1, 5], v),
    "place": lambda a, v: np.place(a, np.eye(3, dtype=bool), v),
    "put_along_axis": lambda a, v: np.put_along_axis(a, np.array([[0], [1], [2]]), v, 1),
    "copyto": lambda a, v: np.copyto(a, v, where=np.eye(3, dtype=bool)),
}


@pytest.mark.parametrize("name", CALLS)
def test_writes_return_none_and_change_the_tensor_in_place_as_numpy_changes_an_array(name):
    a, t = np.ones((3, 3)), _ad(np.ones((3, 3)))
    memory, version = t.numpy(), t._version
    assert CALLS[name](t, 7.0) is None
    CALLS[name](a, 7.0)
    np.testing.assert_array_equal(t.numpy(), a)
    assert np.shares_memory(t.numpy(), memory) and t._version == version + 1


@pytest.mark.parametrize("name", CALLS)
def test_writes_into_a_leaf_that_requires_grad_raise_and_mutate_nothing(name):
    x = _ad(np.ones((3, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Tensor that requires grad is used in an in-place"):
        CALLS[name](x, 7.0)
    np.testing.assert_array_equal(x.detach().numpy(), np.ones((3, 3)))
    with ad.no_grad():  # a parameter update
        CALLS[name](x, 7.0)
    a = np.ones((3, 3))
    CALLS[name](a, 7.0)
    np.testing.assert_array_equal(x.detach().numpy(), a)
    assert x.grad_fn is None and x.requires_grad


@pytest.mark.parametrize("name", CALLS)
def test_writes_in_forward_mode_raise_the_item_assignment_error(name):
    def item_assignment(a):
        a[0, 0] = 7.0

    def write(a):
        CALLS[name](a, 7.0)

    x, u = np.ones((3, 3)), np.ones((3, 3))
    with pytest.raises(TypeError) as expected:
        ad.jvp(item_assignment, (x,), (u,))
    with pytest.raises(TypeError) as raised:
        ad.jvp(write, (x,), (u,))
    assert str(raised.value) == str(expected.value)
    assert "out of place" in str(raised.value)


@pytest.mark.parametrize("name", CALLS)
def test_a_write_over_a_value_backward_needs_makes_backward_raise(name):
    x = _ad([[0.1, 0.2, 0.3]] * 3, requires_grad=True)
    h = np.exp(x)  # exp's VJP reads its output, which the write changes
    CALLS[name](h, 7.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        h.sum().backward()


@pytest.mark.parametrize("name", CALLS)
def test_a_traced_value_into_a_plain_array_raises_and_writes_nothing(name):
    a = np.ones((3, 3))
    v = _ad(7.0, requires_grad=True)
    with pytest.raises(TypeError, match="would drop its derivative"):
        CALLS[name](a, v)
    np.testing.assert_array_equal(a, np.ones((3, 3)))


BAD = [
    (lambda a: np.fill_diagonal(a[0], 1.0), ValueError, "at least 2-d"),
    (lambda a: np.put(a, [9], 1.0), IndexError, "out of bounds"),
    (lambda a: np.put(a, [0], 1.0, mode="bounce"), ValueError, "clipmode"),
    (lambda a: np.place(a, np.ones(3, bool), 1.0), ValueError, "same size"),
    (lambda a: np.place(a, np.ones((3, 3), bool), []), ValueError, "empty array"),
    (lambda a: np.put_along_axis(a, np.array([[3]]), 1.0, 1), IndexError, "out of bounds"),
    (lambda a: np.copyto(a, np.ones(2)), ValueError, "broadcast"),
    (lambda a: np.copyto(a, 1j), TypeError, "same_kind"),
]


@pytest.mark.parametrize("call, error, message", BAD)
def test_bad_input_raises_numpys_error_and_writes_nothing(call, error, message):
    t = _ad(np.ones((3, 3))) * 1
    version = t._version
    with pytest.raises(error, match=message):
        call(t)
    with pytest.raises(error, match=message):  # NumPy itself, for the same call
        call(np.ones((3, 3)))
    np.testing.assert_array_equal(t.numpy(), np.ones((3, 3)))
    assert t._version == version


def test_repeated_positions_leave_the_last_write_alone_differentiable():
    def f(x, v):
        y = x * 1
        np.put(y, [0, 2, 0], v)  # v[0] is overwritten by v[2]
        return y

    x, v = np.arange(4.0), np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(f(x, v), [3.0, 1.0, 2.0, 3.0])
    jx, jv = ad.jacrev(f, argnums=(0, 1))(x, v)
    np.testing.assert_array_equal(jx, np.diag([0.0, 1.0, 0.0, 1.0]))
    np.testing.assert_array_equal(jv, [[0, 0, 1], [0, 0, 0], [0, 1, 0], [0, 0, 0]])


def test_short_values_repeat_and_modes_wrap_and_clip_as_in_numpy():
    def f(x, v):
        y = x * 1
        np.put(y, [-1, 6], v, mode="wrap")  # positions 5 and 0
        np.put(y, [-3, 9], v[:1], mode="clip")  # positions 0 and 5: v[0] twice
        np.fill_diagonal(np.reshape(y, (2, 3)), v[1:])  # a view of y: positions 0 and 4
        return y

    x, v = np.zeros(6), np.array([1.0, 2.0])
    a = x.copy()
    np.put(a, [-1, 6], v, mode="wrap")
    np.put(a, [-3, 9], v[:1], mode="clip")
    np.fill_diagonal(a.reshape(2, 3), v[1:])
    np.testing.assert_array_equal(f(x, v), a)
    g = ad.grad(lambda x, v: np.sum(f(x, v) * np.arange(1.0, 7.0)), argnums=(0, 1))(x, v)[1]
    np.testing.assert_array_equal(g, [6.0, 1.0 + 5.0])  # v[0] at position 5; v[1] at 0 and 4


def _second_order_through_a_put(w):
    x = w.T([1.0, 2.0, 3.0], True)
    y = x * x
    w.put(y, [1], (x[0] * x[2]).reshape(1))
    (y * y).sum().backward(create_graph=True)  # x0^4 + (x0 x2)^2 + x2^4
    g = x.grad
    x.grad = None
    g[0].backward()  # d/dx (4 x0^3 + 2 x0 x2^2): the Hessian's first row
    return x.grad


def test_second_order_through_a_write_by_hand():
    x0, _, x2 = 1.0, 2.0, 3.0
    ours = _second_order_through_a_put(NumPyWrites).detach().numpy()
    np.testing.assert_allclose(ours, [12 * x0**2 + 2 * x2**2, 0.0, 4 * x0 * x2], rtol=1e-12)


def test_second_order_through_a_write_matches_pytorch():
    theirs = _second_order_through_a_put(_torch_writes())
    ours = _second_order_through_a_put(NumPyWrites)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)
