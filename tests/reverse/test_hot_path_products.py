"""The reverse engine's one-pass products and shortcuts on the MLP's path give what the
general way gives, bit for bit, and step aside for every value they do not take."""

import numpy as np
import pytest

import ad
from ad import registry
from ad.kernels import elementwise as E


def _vectors():
    rng = np.random.default_rng(3)
    y = np.tanh(rng.standard_normal(40))
    return {
        "vector": y,
        "one": y[:1],
        "empty": y[:0],
        "strided": y[::2],
        "float32": y.astype(np.float32),
        "matrix": y.reshape(5, 8),
        "0-d": np.array(0.25),
    }


@pytest.mark.parametrize("which", list(_vectors()))
@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_the_one_pass_vjp_of_tanh_and_sigmoid_is_the_cotangent_times_the_partial(name, which):
    op = registry.get(name)
    y = _vectors()[which]
    g = np.cos(np.arange(y.size, dtype=y.dtype)).reshape(y.shape)
    want = g * op.derivs[0](None, y)
    got = op.times(g, None, y)
    if which == "empty" and got is None:  # an empty vector may go either way: NumPy's is the same
        return
    if which in ("vector", "one", "empty"):  # the values it takes: plain contiguous float64 vectors
        assert type(got) is np.ndarray and got.shape == y.shape and got.dtype == want.dtype
        assert np.array_equal(got, want)
        y[...] = 0.5  # a new array, not a view of y or g
        assert np.array_equal(got, want)
    else:
        assert got is None


def test_tanh_and_sigmoid_take_their_one_pass_vjp_from_their_partials():
    assert registry.get("tanh").times is E.tanh_vjp
    assert registry.get("sigmoid").times is E.sigmoid_vjp
    assert registry.get("sin").times is None and registry.get("multiply").times is None


@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_a_node_uses_the_one_pass_vjp_only_where_it_applies(name, monkeypatch):
    op = registry.get(name)
    calls = []
    times = op.times
    monkeypatch.setattr(op, "times", lambda g, x, y: calls.append(y.shape) or times(g, x, y))
    fn = np.tanh if name == "tanh" else ad.sigmoid
    for shape in [(7,), (3, 4)]:
        x = ad.tensor(np.linspace(-1, 1, int(np.prod(shape))).reshape(shape), requires_grad=True)
        y = fn(x)
        g = np.full(shape, 0.5)
        y.backward(g)
        d = op.derivs[0](None, y.detach().numpy())
        assert np.array_equal(x.grad.numpy(), g * d)
    assert calls == [(7,), (3, 4)]  # asked each time; the matrix's product is NumPy's


def test_the_one_pass_vjp_keeps_second_order():
    x = np.linspace(-1.5, 1.5, 6)
    h = ad.hessian(lambda x: np.sum(np.tanh(x) + ad.sigmoid(x)))(x)
    t, s = np.tanh(x), 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(h, np.diag(-2 * t * (1 - t * t) + s * (1 - s) * (1 - 2 * s)), atol=1e-14)
    w = ad.tensor(x, requires_grad=True)
    np.sum(np.tanh(w)).backward(create_graph=True)  # the rule on Tensors: NumPy's product
    first = w.grad
    w.grad = None
    np.sum(first).backward()
    np.testing.assert_allclose(first.detach().numpy(), 1 - t * t, atol=1e-15)
    np.testing.assert_allclose(w.grad.numpy(), -2 * t * (1 - t * t), atol=1e-14)


def _products():
    rng = np.random.default_rng(5)
    W, x, y = rng.standard_normal((7, 9)), rng.standard_normal(9), rng.standard_normal(7)
    big = rng.standard_normal((14, 18))
    return {
        "matrix @ vector": (W, x),
        "vector @ matrix": (y, W),
        "F-ordered matrix": (np.asfortranarray(W), x),
        "strided matrix": (big[::2, ::2], x),
        "strided vector": (W, rng.standard_normal(18)[::2]),
        "matrices": (W, W.T),
        "vectors": (x, x),
        "stack": (rng.standard_normal((2, 7, 9)), x),
        "float32": (W.astype(np.float32), x.astype(np.float32)),
        "mixed dtypes": (W.astype(np.float32), x),
        "complex": (W + 1j, x),
    }


@pytest.mark.parametrize("which", list(_products()))
def test_matmuls_primal_is_numpys_bit_for_bit(which):
    a, b = _products()[which]
    got = registry.get("matmul").impl(a, b)
    want = np.matmul(a, b)
    assert type(got) is type(want) and got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want)


def test_a_recorded_matrix_vector_product_is_numpys_and_differentiates():
    a, b = _products()["matrix @ vector"]
    W = ad.tensor(a, requires_grad=True)
    out = W @ b
    assert np.array_equal(out.detach().numpy(), a @ b)
    np.sum(np.tanh(out)).backward()
    np.testing.assert_allclose(W.grad.numpy(), np.outer(1 - np.tanh(a @ b) ** 2, b), rtol=1e-14)


def test_a_transforms_input_used_several_times_gets_the_sum_and_no_leaf_gets_a_grad():
    w = ad.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)  # an eager leaf f closes over

    def f(x, W):
        return np.sum(np.tanh(W @ x) * x + np.sin(x) * w)

    rng = np.random.default_rng(2)
    x, W = rng.standard_normal(3), rng.standard_normal((3, 3))
    gx, gW = ad.grad(f, (0, 1))(x, W)
    assert isinstance(gx, ad.Tensor)  # x's gradient depends on w: a Tensor of w's graph
    h = np.tanh(W @ x)
    want_x = W.T @ ((1 - h * h) * x) + h + np.cos(x) * w.detach().numpy()
    np.testing.assert_allclose(gx.detach().numpy(), want_x, rtol=1e-13)
    np.testing.assert_allclose(gW, np.outer((1 - h * h) * x, x), rtol=1e-13)
    assert w.grad is None  # a pullback returns cotangents: it accumulates into no leaf's .grad
    vx, vW = ad.vjp(f, x, W)[1](1.0)  # the same sweep, over the kept graph
    np.testing.assert_allclose(vx.detach().numpy(), want_x, rtol=1e-13)
    np.testing.assert_array_equal(vW, gW)
    assert w.grad is None


def test_a_hook_on_a_transforms_input_still_runs_on_its_total_cotangent():
    def f(x):  # two uses of x: the hook sees their sum once, and what it returns is the gradient
        x.register_hook(lambda g: np.round(g * 3.0, 6))
        return np.sum(x * x + np.tanh(x))

    x = np.array([0.3, -0.7])
    total = 2 * x + 1 - np.tanh(x) ** 2
    np.testing.assert_array_equal(ad.grad(f)(x), np.round(3 * total, 6))
