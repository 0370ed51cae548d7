"""The ndarray methods on traced values: each one, called on a Dual (jacfwd) and on a Tensor
(grad, and eager backward), against central differences of the same call on a plain array;
the non-differentiable ones give NumPy's plain value; signatures are ndarray's."""

import inspect

import numpy as np
import pytest

import ad
from ad import testing
from ad.trace import Box

X = np.random.default_rng(0).uniform(-2, 2, (3, 4))
W = np.random.default_rng(1).standard_normal  # cotangents: W(shape)
C = 2 + 3j

# Each call works on a plain array (NumPy's method: the oracle) and on a Dual or a Tensor.
DIFFERENTIABLE = {
    "copy": lambda x: x.copy(),
    "astype": lambda x: x.astype(np.float64) * 2,
    "T": lambda x: x.T,
    "mT": lambda x: x.reshape(2, 3, 2).mT,
    "real": lambda x: (x * C).real,
    "imag": lambda x: (x * C).imag,
    "conj": lambda x: (x * C).conj().imag,
    "conjugate": lambda x: (x * C).conjugate().imag,
    "reshape": lambda x: x.reshape(4, 3),
    "reshape-tuple": lambda x: x.reshape((2, -1), order="C"),
    "reshape-copy": lambda x: x.reshape(12, copy=True),
    "transpose": lambda x: x.transpose(1, 0),
    "transpose-tuple": lambda x: x.reshape(2, 3, 2).transpose((2, 0, 1)),
    "swapaxes": lambda x: x.swapaxes(0, 1),
    "flatten": lambda x: x.flatten(),
    "ravel": lambda x: x.ravel(),
    "squeeze": lambda x: x.reshape(1, 3, 1, 4).squeeze(),
    "squeeze-axis": lambda x: x.reshape(1, 3, 1, 4).squeeze(axis=0),
    "sum": lambda x: x.sum(),
    "sum-axis": lambda x: x.sum(1, keepdims=True),
    "mean": lambda x: x.mean(axis=0),
    "std": lambda x: x.std(axis=1, ddof=1),
    "var": lambda x: x.var(keepdims=True),
    "prod": lambda x: x.prod(axis=1),
    "max": lambda x: x.max(axis=0),
    "min": lambda x: x.min(keepdims=True),
    "cumsum": lambda x: x.cumsum(axis=1),
    "cumprod": lambda x: x.cumprod(),
    "dot": lambda x: x.dot(x.T),
    "clip": lambda x: x.clip(-0.5, 0.5),
    "clip-min": lambda x: x.clip(min=0.1),
    "repeat": lambda x: x.repeat(2, axis=0),
    "repeat-flat": lambda x: x.repeat([1, 0, 2] * 4),
    "take": lambda x: x.take([0, 2, 2], axis=1),
    "take-flat": lambda x: x.take([5, 0], mode="wrap"),
    "diagonal": lambda x: x.diagonal(1),
    "trace": lambda x: x.trace(-1),
    "mod": lambda x: x % 0.7,
    "rmod": lambda x: 5.0 % x,
    "divmod": lambda x: divmod(x, 0.7)[1],
    "rdivmod": lambda x: divmod(5.0, x)[1],
    "pow": lambda x: pow(x, 3),
}

NON_DIFFERENTIABLE = {
    "round": lambda x: x.round(1),
    "all": lambda x: (x - X).all(axis=0),
    "any": lambda x: x.any(),
    "argmax": lambda x: x.argmax(axis=1),
    "argmin": lambda x: x.argmin(keepdims=True),
    "nonzero": lambda x: x.nonzero(),
    "astype-int": lambda x: x.astype(np.int64),
    "astype-bool": lambda x: x.astype(bool),
    "floordiv": lambda x: x // 0.7,
    "rfloordiv": lambda x: 5.0 // x,
    "divmod-quotient": lambda x: divmod(x, 0.7)[0],
    "less": lambda x: x < 0.5,
    "greater-equal": lambda x: x >= 0.5,
    "equal": lambda x: x == X,
}


def _fd_jacobian(f, x, h=testing.FD_STEP):
    """d f(x) / dx by central differences, shape out.shape + x.shape."""
    cols = []
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = h
        e = e.reshape(x.shape)
        cols.append((f(x + e) - f(x - e)) / (2 * h))
    return np.moveaxis(np.array(cols), 0, -1).reshape(np.shape(f(x)) + x.shape)


def _close(actual, expected, what):
    testing.assert_close(actual, expected, testing.FD_RTOL, testing.FD_ATOL, what)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_method_on_a_dual_matches_finite_differences(name):
    f = DIFFERENTIABLE[name]
    _close(ad.jacfwd(f)(X), _fd_jacobian(f, X), f"{name}: jacfwd")
    out, _ = ad.jvp(f, (X,), (np.ones_like(X),))
    np.testing.assert_allclose(out, f(X), rtol=1e-15, err_msg=name)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_method_on_a_tensor_matches_finite_differences(name):
    f = DIFFERENTIABLE[name]
    w = W(np.shape(f(X)))
    expected = np.tensordot(w, _fd_jacobian(f, X), axes=w.ndim)
    _close(ad.grad(lambda v: np.sum(f(v) * w))(X), expected, f"{name}: grad")
    x = ad.tensor(X, requires_grad=True)
    y = f(x)
    np.testing.assert_allclose(y.detach().numpy(), f(X), rtol=1e-15, err_msg=name)
    y.backward(gradient=w)
    _close(x.grad.numpy(), expected, f"{name}: eager backward")


@pytest.mark.parametrize("name", NON_DIFFERENTIABLE)
def test_non_differentiable_methods_give_numpys_plain_value_and_a_zero_derivative(name):
    f = NON_DIFFERENTIABLE[name]
    expected = f(X)
    pieces = lambda y: y if isinstance(y, tuple) else (y,)  # noqa: E731
    for y in (f(ad.tensor(X, requires_grad=True)), ad.jvp(f, (X,), (np.ones_like(X),))[0]):
        for got, want in zip(pieces(y), pieces(expected), strict=True):
            assert type(got) is type(want) and not isinstance(got, Box), name
            np.testing.assert_array_equal(got, want, err_msg=name)
    if not isinstance(expected, tuple):
        assert not np.any(ad.jacfwd(lambda v: f(v) * 1.0)(X)), name


# -- astype: dtypes and the complex cases ------------------------------------------------


def test_astype_float32_casts_the_tangent_and_the_cotangent_returns_in_float64():
    out, tangent = ad.jvp(lambda v: v.astype(np.float32), (X,), (np.full_like(X, 0.5),))
    assert out.dtype == tangent.dtype == np.float32
    np.testing.assert_array_equal(tangent, np.full(X.shape, 0.5, np.float32))
    x = ad.tensor(X, requires_grad=True)
    y = x.astype(np.float32)
    assert y.dtype == np.float32
    w = W(X.shape).astype(np.float32)
    y.backward(gradient=w)
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.numpy(), w.astype(np.float64))


def test_astype_float32_to_float64_and_the_function_spelling():
    x32 = X.astype(np.float32)
    out, tangent = ad.jvp(lambda v: v.astype(np.float64) ** 2, (x32,), (np.ones_like(x32),))
    assert out.dtype == np.float64 and tangent.dtype == np.float64
    np.testing.assert_allclose(tangent, 2 * x32.astype(np.float64), rtol=1e-15)
    if hasattr(np, "astype"):
        np.testing.assert_allclose(
            ad.grad(lambda v: np.sum(np.astype(v, np.float32) * 3))(X), np.full(X.shape, 3.0)
        )


def test_astype_real_to_complex_and_back_through_real():
    """f(x) = Re((x + 0j) * c) = 2 x: the cotangent of the complex cast is its real part."""
    f = lambda v: np.sum(v.astype(np.complex128).__mul__(C).real)  # noqa: E731
    np.testing.assert_allclose(ad.grad(f)(X), np.full(X.shape, C.real), rtol=1e-15)
    np.testing.assert_allclose(ad.jacfwd(f)(X), np.full(X.shape, C.real), rtol=1e-15)


def test_astype_complex_to_real_keeps_the_real_part_with_numpys_warning():
    z, t, w = X + 1j * X[::-1], 0.3 * X - 0.7j, W(X.shape)
    with pytest.warns(np.exceptions.ComplexWarning, match="imaginary"):
        out, tangent = ad.jvp(lambda v: v.astype(np.float64), (z,), (t,))
    np.testing.assert_array_equal(out, z.real)
    np.testing.assert_array_equal(tangent, t.real)
    # grad of a real f of z is df/dx - i df/dy (JAX); Tensor.backward gives df/dx + i df/dy
    with pytest.warns(np.exceptions.ComplexWarning):
        np.testing.assert_array_equal(ad.grad(lambda v: np.sum(v.astype(np.float32) * w))(z), w + 0j)
        x = ad.tensor(z, requires_grad=True)
        x.astype(np.float64).backward(gradient=w)
    np.testing.assert_array_equal(x.grad.numpy(), w + 0j)
    with pytest.warns(np.exceptions.ComplexWarning):
        np.testing.assert_array_equal(ad.tensor(z).astype(np.int64), z.real.astype(np.int64))
    np.testing.assert_array_equal(ad.tensor(z).astype(bool), np.ones(X.shape, bool))  # z != 0: no warning


def test_astype_follows_numpys_casting_rule_and_copy_false():
    with pytest.raises(TypeError, match="same_kind"):
        ad.jvp(lambda v: v.astype(np.int32, casting="same_kind"), (X,), (X,))
    t = ad.tensor(X)
    assert t.astype(np.float64, copy=False) is t
    assert t.astype(np.float64) is not t


# -- views and copies --------------------------------------------------------------------


def test_flatten_and_copy_are_copies_and_ravel_a_view_of_a_tensor():
    for method, shares in [("flatten", False), ("copy", False), ("ravel", True), ("T", True)]:
        t = ad.tensor(X)
        y = getattr(t, method)
        y = y() if callable(y) else y
        y += 1.0
        assert np.array_equal(t.numpy(), X + 1.0) == shares, method


def test_reshape_copy_false_raises_where_numpy_must_copy():
    t = ad.tensor(X)
    with pytest.raises(ValueError, match="copy"):
        t.T.reshape(12, copy=False)
    assert np.shares_memory(t.reshape(4, 3, copy=False).numpy(), t.numpy())


# -- the in-place methods: a Tensor records them, a Dual refuses ---------------------------


def test_sort_in_place_on_a_tensor_permutes_the_gradient():
    w = np.array([1.0, 10.0, 100.0, 1000.0])
    x0 = np.array([3.0, -1.0, 2.0, 0.5])
    expected = w[np.argsort(np.argsort(x0))]  # entry i lands at its rank

    def f(v):
        y = v * 1.0
        assert y.sort() is None
        return np.sum(y * w)

    np.testing.assert_array_equal(ad.grad(f)(x0), expected)
    x = ad.tensor(x0, requires_grad=True)
    y = x * 1.0
    y.sort()
    np.testing.assert_array_equal(y.detach().numpy(), np.sort(x0))
    np.sum(y * w).backward()
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_sort_along_an_axis_matches_np_sort():
    x = ad.tensor(X, requires_grad=True)
    y = x * 1.0
    y.sort(axis=0)
    np.testing.assert_array_equal(y.detach().numpy(), np.sort(X, axis=0))
    w = W(X.shape)
    y.backward(gradient=w)
    expected = np.tensordot(w, _fd_jacobian(lambda v: np.sort(v, axis=0), X), axes=2)
    _close(x.grad.numpy(), expected, "sort(axis=0)")


def test_fill_on_a_tensor_cuts_the_old_value_and_passes_the_derivative_to_the_value():
    x = ad.tensor(X, requires_grad=True)
    c = ad.tensor(np.array(2.0), requires_grad=True)
    y = x + np.nan  # fill overwrites: the old NaN leaks into neither the value nor the gradient
    assert y.fill(c) is None
    np.testing.assert_array_equal(y.detach().numpy(), np.full(X.shape, 2.0))
    w = W(X.shape)
    y.backward(gradient=w)
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(X.shape))
    np.testing.assert_allclose(c.grad.numpy(), np.sum(w), rtol=1e-15)
    with pytest.raises(ValueError, match="scalar"):
        (x * 1.0).fill(np.ones(2))


@pytest.mark.parametrize(
    "call, fix", [(lambda v: v.sort(), "np.sort"), (lambda v: v.fill(0.0), "np.full_like")]
)
def test_in_place_methods_on_a_dual_raise_and_name_the_function(call, fix):
    with pytest.raises(TypeError, match=fix):
        ad.jacfwd(call)(X)
    with pytest.raises(TypeError, match=fix):
        call(ad.Dual(X, np.ones_like(X)))


def test_in_place_on_a_leaf_that_requires_grad_raises_as_in_pytorch():
    x = ad.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        x.sort()
    np.testing.assert_array_equal(x.detach().numpy(), X)


# -- refusals ------------------------------------------------------------------------------

OUT_CALLS = {
    "sum": (),
    "mean": (),
    "std": (),
    "var": (),
    "prod": (),
    "max": (),
    "min": (),
    "cumsum": (),
    "cumprod": (),
    "all": (),
    "any": (),
    "argmax": (),
    "argmin": (),
    "dot": (np.ones(4),),
    "clip": (0.0, 1.0),
    "round": (),
    "take": ([0],),
    "trace": (),
}


@pytest.mark.parametrize("name", OUT_CALLS)
def test_out_is_refused_and_the_array_left_alone(name):
    for x in (ad.Dual(X, np.ones_like(X)), ad.tensor(X, requires_grad=True)):
        buffer = np.full(8, 7.0)
        with pytest.raises(NotImplementedError, match=rf"x\.{name}\(\.\.\., out=\.\.\.\).*assign"):
            getattr(x, name)(*OUT_CALLS[name], out=buffer)
        assert np.all(buffer == 7.0)


def test_options_ad_does_not_differentiate_through_are_refused():
    x = ad.Dual(X, np.ones_like(X))
    with pytest.raises(NotImplementedError, match="initial"):
        x.sum(initial=1.0)
    with pytest.raises(NotImplementedError, match="initial"):
        x.prod(initial=2.0)
    with pytest.raises(NotImplementedError, match="order"):
        x.flatten(order="F")


def test_dtype_of_a_reduction_casts_first():
    out, tangent = ad.jvp(lambda v: v.sum(dtype=np.float32), (X,), (np.ones_like(X),))
    assert out.dtype == tangent.dtype == np.float32
    np.testing.assert_allclose(out, X.sum(dtype=np.float32), rtol=1e-6)
    np.testing.assert_allclose(ad.grad(lambda v: v.mean(dtype=np.float32))(X), np.full(X.shape, 1 / X.size))


def test_pow_with_a_modulus_is_refused():
    with pytest.raises(TypeError, match=r"\(x \*\* y\) % mod"):
        pow(ad.tensor(X), 2, 5)


def test_mT_needs_two_axes():
    with pytest.raises(ValueError, match="ndim < 2"):
        _ = ad.tensor(X[0]).mT


def test_builtin_round_with_digits_is_np_round_and_without_a_python_int_of_an_eager_tensor():
    np.testing.assert_array_equal(round(ad.tensor(X), 1), np.round(X, 1))
    np.testing.assert_array_equal(ad.jvp(lambda v: round(v, 1), (X,), (X,))[1], np.zeros(X.shape))
    assert round(ad.tensor(np.array(2.6))) == 3 and isinstance(round(ad.tensor(np.array(2.6))), int)
    with pytest.raises(TypeError, match="drop its derivative"):
        ad.grad(lambda v: round(v))(2.6)


# -- signatures ----------------------------------------------------------------------------

# ndarray's documented parameters (the runtime signatures hide some behind **kwargs).
DOCUMENTED = {
    "copy": "order",
    "astype": "dtype order casting subok copy",
    "conj": "",
    "conjugate": "",
    "reshape": "*shape order copy",
    "transpose": "*axes",
    "swapaxes": "axis1 axis2",
    "flatten": "order",
    "ravel": "order",
    "squeeze": "axis",
    "sum": "axis dtype out keepdims initial where",
    "mean": "axis dtype out keepdims where",
    "std": "axis dtype out ddof keepdims where mean",
    "var": "axis dtype out ddof keepdims where mean",
    "prod": "axis dtype out keepdims initial where",
    "max": "axis out keepdims initial where",
    "min": "axis out keepdims initial where",
    "cumsum": "axis dtype out",
    "cumprod": "axis dtype out",
    "dot": "other out",
    "clip": "min max out **kwargs",
    "round": "decimals out",
    "repeat": "repeats axis",
    "take": "indices axis out mode",
    "diagonal": "offset axis1 axis2",
    "trace": "offset axis1 axis2 dtype out",
    "all": "axis out keepdims where",
    "any": "axis out keepdims where",
    "argmax": "axis out keepdims",
    "argmin": "axis out keepdims",
    "nonzero": "",
    "sort": "axis kind order stable",
    "fill": "value",
}
OPERATORS = "mod rmod floordiv rfloordiv divmod rdivmod pow rpow lt le gt ge eq ne round".split()


def _spelled(p: inspect.Parameter) -> str:
    return {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "") + p.name


def _params(f) -> list[inspect.Parameter]:
    return list(inspect.signature(f).parameters.values())[1:]  # without self


@pytest.mark.parametrize("name", DOCUMENTED)
def test_method_has_ndarrays_parameters(name):
    ours = _params(getattr(Box, name))
    assert " ".join(map(_spelled, ours)) == DOCUMENTED[name]
    try:
        numpys = _params(getattr(np.ndarray, name))
    except ValueError:  # no runtime signature in this NumPy
        return
    kinds = {p.name: p.kind for p in ours}
    for p in numpys:
        if p.kind is not p.VAR_KEYWORD or name == "clip":
            assert kinds.get(p.name) == p.kind, f"{name}: {p} ({kinds.get(p.name)})"


def test_properties_and_operators_exist():
    for name in ("T", "mT", "real", "imag"):
        assert isinstance(inspect.getattr_static(Box, name), property), name
    for name in OPERATORS:
        assert callable(getattr(Box, f"__{name}__")), name


# -- a program written as users write it ---------------------------------------------------


def _program(x, xp=np, dtype=np.float32):
    y = x.copy().astype(dtype)
    return (xp.tanh(y).reshape(2, 3).T.mean(axis=1) ** 2).sum()


def test_a_program_with_copy_and_astype_float32_is_its_float64_twin_to_float32_rounding():
    x = np.linspace(-1.0, 1.5, 6)
    g = ad.grad(_program)(x)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, ad.grad(lambda v: _program(v, dtype=np.float64))(x), rtol=1e-6)
    np.testing.assert_allclose(ad.jacfwd(_program)(x), g, rtol=1e-6)


def test_a_program_with_copy_and_astype_float32_against_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    x = np.linspace(-1.0, 1.5, 6)
    expected = jax.jit(jax.grad(lambda v: _program(v, jax.numpy)))(x)
    np.testing.assert_allclose(ad.grad(_program)(x), expected, rtol=1e-6)
