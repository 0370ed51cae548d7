"""`ad.numpy`'s functions take array_likes holding traced values, as autograd's do.

NumPy reads a list argument as an array_like; ad.numpy reads a list holding traced values as
their stack (`ad.numpy.array` of it), so `np.sum([a, b])` is the sum of an array of a and b,
with autograd's value and derivative. Each case is written once against a namespace `np` and a
list constructor `L`: the list itself for ad.numpy, for NumPy on plain values and for autograd
where autograd accepts it; `jnp.array` for JAX, whose functions take arrays only.
"""

import warnings

import numpy
import pytest

import ad
import ad.numpy as anp

X = numpy.array([0.7, -1.3, 2.1])


def _as_is(v):
    return v


CASES = {
    # reductions
    "sum": lambda np, L, x: np.sum(L([x[0], x[1] * x[2], 2.0])),
    "sum of nested lists over an axis": lambda np, L, x: np.sum(L([[x[0], 1.0], [x[1], x[2] ** 2]]), axis=0),
    "sum of a tuple": lambda np, L, x: np.sum(L((x[0], x[1]))),
    "sum of traced arrays": lambda np, L, x: np.sum(L([x, x**2]), axis=1),
    "prod": lambda np, L, x: np.prod(L([x[0], x[1], x[2] + 1.0])),
    "max": lambda np, L, x: np.max(L([x[0], x[1] * 2.0, 0.5])),
    "min": lambda np, L, x: np.min(L([x[0], x[1] * 2.0, 0.5])),
    "amax over an axis": lambda np, L, x: np.amax(L([[x[0], x[1]], [x[2], 0.5]]), axis=1),
    "amin": lambda np, L, x: np.amin(L([x[0], x[1]])),
    "mean": lambda np, L, x: np.mean(L([x[0], x[1] ** 2])),
    "std with ddof": lambda np, L, x: np.std(L([x[0], x[1], 2.0 * x[2]]), ddof=1),
    "var over an axis": lambda np, L, x: np.var(L([[x[0], x[1]], [x[2], 0.5]]), axis=1),
    "cumsum": lambda np, L, x: np.cumsum(L([x[0], x[1] * x[2], 1.0])),
    "cumprod": lambda np, L, x: np.cumprod(L([x[0], x[1], x[2]])),
    "any (no derivative)": lambda np, L, x: x * np.any(L([x[0] - 0.7, x[1]])),
    "all (no derivative)": lambda np, L, x: x * np.all(L([x[0], x[1] - x[1]])),
    "linalg.norm": lambda np, L, x: np.linalg.norm(L([x[0], x[1] * x[2], 1.0])),
    "linalg.norm of a matrix": lambda np, L, x: np.linalg.norm(L([[x[0], 1.0], [x[1], x[2]]])),
    "average with weights": lambda np, L, x: np.average(L([x[0], x[1]]), weights=L([x[2] ** 2, 1.0])),
    # products
    "dot of a list and a vector": lambda np, L, x: np.dot(L([x[0], x[1] ** 2, 1.0]), x),
    "dot of a vector and a list": lambda np, L, x: np.dot(x, L([x[2], 1.0, x[0]])),
    "matmul of lists": lambda np, L, x: np.matmul(L([[x[0], x[1]]]), L([[x[2]], [1.0]])),
    "inner": lambda np, L, x: np.inner(L([x[0], x[1]]), L([1.0, x[2]])),
    "outer": lambda np, L, x: np.outer(L([x[0], x[1]]), x),
    "einsum": lambda np, L, x: np.einsum("i,ij->j", L([x[0], x[1]]), L([[x[2], 1.0], [x[0], 2.0]])),
    "cross": lambda np, L, x: np.cross(L([x[0], x[1], 1.0]), x),
    "linalg.det": lambda np, L, x: np.linalg.det(L([[x[0], 1.0], [2.0, x[1]]])),
    "linalg.inv": lambda np, L, x: np.linalg.inv(L([[x[0], 1.0], [2.0, x[1]]])),
    "linalg.solve": lambda np, L, x: np.linalg.solve(L([[x[0], 1.0], [2.0, x[1]]]), L([x[2], 1.0])),
    "fft.fft": lambda np, L, x: np.real(np.fft.fft(L([x[0], x[1], x[2] ** 2]))),
    # ufuncs
    "sin": lambda np, L, x: np.sin(L([x[0], x[1]])),
    "exp of a nested list": lambda np, L, x: np.exp(L([[x[0]], [x[1] * x[2]]])),
    "add": lambda np, L, x: np.add(L([x[0], x[1]]), 1.0),
    "power": lambda np, L, x: np.power(L([x[0], x[2]]), 3),
    "abs": lambda np, L, x: np.abs(L([x[0], x[1]])),
    "maximum of a list and a traced array": lambda np, L, x: np.maximum(L([x[1], 0.5, x[0]]), x),
    "add of a traced array and a list": lambda np, L, x: np.add(x, L([x[0], 1.0, x[2]])),
    # shapes and selections
    "trace": lambda np, L, x: np.trace(L([[x[0], 1.0], [2.0, x[1] * x[2]]])),
    "diag": lambda np, L, x: np.diag(L([x[0], x[1]])),
    "transpose": lambda np, L, x: np.transpose(L([[x[0], x[1], 3.0]])),
    "reshape": lambda np, L, x: np.reshape(L([x[0], x[1], x[2], 1.0]), (2, 2)),
    "atleast_2d": lambda np, L, x: np.atleast_2d(L([x[0], x[1]])),
    "tile": lambda np, L, x: np.tile(L([x[0], x[1]]), 2),
    "sort": lambda np, L, x: np.sort(L([x[0], x[1], x[2]])),
    "where": lambda np, L, x: np.where(numpy.array([True, False, True]), L([x[1], x[0], 1.0]), x),
    "clip": lambda np, L, x: np.clip(L([x[0], x[1], x[2]]), -1.0, 1.0),
    "full": lambda np, L, x: np.full((2, 2), L([x[0], x[1]])),
    # sequences of arrays: each entry its own array_like
    "concatenate of lists of several lengths": lambda np, L, x: np.concatenate(
        [L([x[0]]), L([x[1], 3.0]), x**2]
    ),
    "column_stack": lambda np, L, x: np.column_stack([L([x[0], x[1]]), x[1:]]),
    "dstack": lambda np, L, x: np.dstack([L([x[0], x[1]]), x[1:]]),
    "select": lambda np, L, x: np.select([x < 0.0, x >= 0.0], [L([x[1], x[1], x[1]]), x**2]),
    "choose": lambda np, L, x: np.choose(numpy.array([0, 1, 0]), [L([x[0], x[1], x[2]]), x**2]),
}

# autograd turns a list into an array of objects and applies the function to it, which works
# where each entry's operators do the work; for the others its oracle is given an array. Its
# np.where and np.concatenate of such lists give the value but drop the derivative of the list's
# entries (JAX, and ad, keep it), and it has no derivative for np.average
AUTOGRAD_LACKS = {"average with weights"}
AUTOGRAD_NEEDS_AN_ARRAY = {
    "where",
    "concatenate of lists of several lengths",
    "add of a traced array and a list",
    "dot of a list and a vector",
    "dot of a vector and a list",
    "outer",
    "cross",
    "linalg.det",
    "linalg.inv",
    "linalg.solve",
    "fft.fft",
    "sin",
    "exp of a nested list",
}


def _sum_cubed(np, L, f):
    return lambda x: np.sum(np.reshape(f(np, L, x), (-1,)) ** 3)


@pytest.mark.parametrize("name", list(CASES))
def test_the_value_is_numpys_on_the_plain_values(name):
    f = CASES[name]
    expected = f(numpy, _as_is, X)
    y = f(anp, _as_is, ad.tensor(X, requires_grad=True))
    assert (
        isinstance(y, ad.Tensor)
        and y.shape == numpy.shape(expected)
        and y.dtype == numpy.result_type(expected)
    )
    numpy.testing.assert_allclose(y.detach().numpy(), expected, rtol=1e-14)


@pytest.mark.parametrize("name", list(CASES))
def test_jacobians_and_hessians_are_jaxs(name, jax64):
    import jax.numpy as jnp

    f = CASES[name]
    value, _ = ad.value_and_grad(_sum_cubed(anp, _as_is, f))(X)
    numpy.testing.assert_allclose(
        value, jax64.value_and_grad(_sum_cubed(jnp, jnp.array, f))(X)[0], rtol=1e-13
    )
    expected = jax64.jacfwd(lambda x: f(jnp, jnp.array, x))(X)
    for mode in ("forward", "reverse"):
        J = ad.jacobian(lambda x: f(anp, _as_is, x), mode=mode)(X)
        numpy.testing.assert_allclose(J, expected, rtol=1e-12, atol=1e-14, err_msg=mode)
    numpy.testing.assert_allclose(
        ad.hessian(_sum_cubed(anp, _as_is, f))(X),
        jax64.hessian(_sum_cubed(jnp, jnp.array, f))(X),
        rtol=1e-10,
        atol=1e-12,
    )


@pytest.mark.parametrize("name", list(CASES))
def test_gradients_are_autograds_in_both_modes(name):
    autograd = pytest.importorskip("autograd")
    agnp = pytest.importorskip("autograd.numpy")

    if name in AUTOGRAD_LACKS:
        pytest.skip("autograd has no derivative for it; the JAX test checks it")
    f = CASES[name]
    L = agnp.array if name in AUTOGRAD_NEEDS_AN_ARRAY else _as_is
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected_g, expected_value = autograd.grad_and_aux(lambda x: (_sum_cubed(agnp, L, f)(x),) * 2)(X)
        expected = numpy.asarray(expected_g, dtype=float)
    value = ad.value_and_grad(_sum_cubed(anp, _as_is, f))(X)[0]
    assert value == pytest.approx(float(expected_value), rel=1e-13)
    for transform in (ad.grad, ad.jacfwd):
        numpy.testing.assert_allclose(
            transform(_sum_cubed(anp, _as_is, f))(X), expected, rtol=1e-12, atol=1e-14
        )


@pytest.mark.parametrize("name", ["sum", "max", "linalg.norm", "dot of a list and a vector", "cumsum", "sin"])
def test_hessians_are_autograds(name):
    autograd = pytest.importorskip("autograd")
    agnp = pytest.importorskip("autograd.numpy")

    f = CASES[name]
    L = agnp.array if name in AUTOGRAD_NEEDS_AN_ARRAY else _as_is
    expected = autograd.hessian(_sum_cubed(agnp, L, f))(X)
    numpy.testing.assert_allclose(ad.hessian(_sum_cubed(anp, _as_is, f))(X), expected, rtol=1e-10, atol=1e-12)


def test_hand_derived_gradients_of_reductions_of_lists():
    x0, x1, x2 = X
    cases = [
        (lambda x: anp.sum([x[0] * x[1], x[2], 1.0]), [x1, x0, 1.0]),
        (lambda x: anp.prod((x[0], x[1] ** 2)), [x1**2, 2 * x0 * x1, 0.0]),
        (lambda x: anp.max([x[0], x[1], x[2]]), [0.0, 0.0, 1.0]),
        (lambda x: anp.mean([[x[0], x[1]], [x[2], 3.0]]), [0.25, 0.25, 0.25]),
        (lambda x: anp.linalg.norm([x[0], x[2]]), [x0 / numpy.hypot(x0, x2), 0.0, x2 / numpy.hypot(x0, x2)]),
        (lambda x: anp.dot([x[0], x[1], 1.0], [x[2], 2.0, x[0]]), [x2 + 1.0, 2.0, x0]),
    ]
    for f, expected in cases:
        for transform in (ad.grad, ad.jacfwd, ad.jacrev):
            numpy.testing.assert_allclose(transform(f)(X), expected, rtol=1e-14)


def test_a_float32_list_keeps_float32_and_a_python_float_makes_float64_as_in_numpy():
    x32 = X.astype(numpy.float32)
    seen = []

    def f(x):
        seen.append((anp.sum([x[0], x[1]]).dtype, anp.sum([x[0], 2.0]).dtype))
        return anp.sum([x[0], x[1] * x[2]])

    g = ad.grad(f)(x32)
    assert g.dtype == numpy.float32
    assert seen[0] == (numpy.sum([x32[0], x32[1]]).dtype, numpy.sum([x32[0], 2.0]).dtype)
    assert seen[0] == (numpy.float32, numpy.float64)


def test_eager_tensors_in_a_list_backpropagate():
    a, b = ad.tensor(1.5, requires_grad=True), ad.tensor(-2.0, requires_grad=True)
    y = anp.sum(anp.exp([a * b, a])) + anp.dot([a, b], [b, 1.0]) + anp.linalg.norm((a, b))
    assert isinstance(y, ad.Tensor)
    y.backward()
    av, bv = 1.5, -2.0
    r = numpy.hypot(av, bv)
    assert a.grad.item() == pytest.approx(bv * numpy.exp(av * bv) + numpy.exp(av) + bv + av / r)
    assert b.grad.item() == pytest.approx(av * numpy.exp(av * bv) + av + 1.0 + bv / r)


def test_a_traced_value_nested_anywhere_in_an_argument_is_found():
    f = lambda x: anp.sum([[1.0, 2.0], (3.0, [x[0], x[1]][1])])  # noqa: E731
    numpy.testing.assert_array_equal(ad.grad(f)(X), [0.0, 1.0, 0.0])
    g = lambda x: anp.sum(anp.add.reduce([[x[0], 1.0], [2.0, x[2]]], axis=0))  # noqa: E731
    numpy.testing.assert_array_equal(ad.jacfwd(g)(X), [1.0, 0.0, 1.0])


def test_every_engine_differentiates_through_a_list_the_same():
    from ad.reverse.compiled import compile as compile_tape
    from ad.sparse import sparse_jacobian

    def f(x):  # R^3 -> R^3, a lower-triangular Jacobian
        return anp.cumsum([x[0] * x[0], anp.sum([x[1], x[0]]), anp.max([x[2], -5.0]) * x[1]])

    def g(x):  # what a compiled tape records: elementwise ops, sums, contractions, stacks
        return anp.sum(anp.exp([x[0] * x[1], x[2]])) + anp.dot([x[0], x[2]], [x[1], 1.0])

    J = ad.jacrev(f)(X)
    numpy.testing.assert_array_equal(numpy.triu(J, 1), 0.0)
    numpy.testing.assert_allclose(ad.jacfwd(f)(X), J, rtol=1e-15)
    numpy.testing.assert_allclose(sparse_jacobian(f, X).toarray(), J, rtol=1e-15)
    expected = ad.grad(g)(X)
    numpy.testing.assert_allclose(compile_tape(g, X).grad(X), expected, rtol=1e-14)
    numpy.testing.assert_allclose(ad.grad(ad.checkpoint(g))(X), expected, rtol=1e-14)
    v = numpy.array([0.3, -0.2, 0.5])
    numpy.testing.assert_allclose(ad.jvp(f, (X,), (v,))[1], J @ v, rtol=1e-14)
    numpy.testing.assert_allclose(ad.vjp(f, X)[1](v)[0], v @ J, rtol=1e-14)


def test_nested_transforms_through_lists_keep_their_levels_apart():
    # D(x -> x * D(y -> x + y)(1))(1) == 1, with the sums written over lists
    inner = lambda x: ad.grad(lambda y: anp.sum([x, y]))(1.0)  # noqa: E731
    assert ad.grad(lambda x: anp.prod([x, inner(x)]))(1.0) == 1.0
    assert ad.jacfwd(lambda x: anp.prod([x, ad.jacfwd(lambda y: anp.sum((x, y)))(1.0)]))(1.0) == 1.0
    # d/dx d/dy max([x y, y^2]) at (2, 3): the second entry wins, and d/dx of 2y is 0
    assert ad.grad(lambda x: ad.grad(lambda y: anp.max([x * y, y * y]))(3.0))(2.0) == 0.0
    assert ad.grad(lambda x: ad.grad(lambda y: anp.max([x * y, y * y]))(1.0))(2.0) == 1.0


# -- what stays refused ---------------------------------------------------------------------
def test_plain_numpy_still_refuses_a_list_of_traced_values_and_names_ad_numpy():
    with pytest.raises(TypeError, match="ad.numpy.array"):
        ad.grad(lambda x: numpy.sum([x[0], x[1]]))(X)


def test_a_ragged_list_is_refused_as_numpy_refuses_it():
    with pytest.raises(ValueError, match="inhomogeneous"):
        numpy.sum([X, X[:2]])
    with pytest.raises(ValueError, match="same shape"):
        ad.grad(lambda x: anp.sum([x, x[:2]]))(X)


def test_a_function_without_a_rule_says_so_after_the_list_is_stacked():
    with pytest.raises(NotImplementedError, match="no rule for numpy.unpackbits"):
        ad.grad(lambda x: anp.sum(anp.unpackbits([x[0], x[1]])))(X)


def test_an_argument_numpy_writes_into_or_hands_to_a_callback_is_not_stacked():
    # np.copyto writes into dst, so a list there is NumPy's error, not a copy written and lost
    with pytest.raises(TypeError, match="must be a numpy.ndarray"):
        ad.grad(lambda x: anp.copyto([x[0], x[1]], [1.0, 2.0]) or anp.sum(x))(X)
    # np.piecewise's funclist holds functions and constants, passed as they are
    f = lambda x: anp.piecewise(x, [x < 0, x >= 0], [lambda v: -v, x[0]])  # noqa: E731
    numpy.testing.assert_array_equal(ad.jacrev(f)(X), [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [1.0, 0.0, 0.0]])


# -- joins with dtype= -----------------------------------------------------------------------
JOINS = {
    "concatenate": lambda np, x, dtype: np.concatenate([x, x[:2] ** 2], dtype=dtype),
    "stack": lambda np, x, dtype: np.stack([x, 2.0 * x], axis=1, dtype=dtype),
    "hstack": lambda np, x, dtype: np.hstack([x[:1], x**2], dtype=dtype),
    "vstack": lambda np, x, dtype: np.vstack([x, x**3], dtype=dtype),
}


@pytest.mark.parametrize("name", list(JOINS))
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_a_join_casts_traced_operands_to_a_float_dtype_with_jaxs_jacobian(name, dtype, jax64):
    import jax.numpy as jnp

    f = JOINS[name]
    seen = []
    for mode in ("forward", "reverse"):
        J = ad.jacobian(lambda x: seen.append(f(anp, x, dtype).dtype) or f(anp, x, dtype), mode=mode)(X)
        expected = jax64.jacfwd(lambda x: f(jnp, x, dtype))(X)
        numpy.testing.assert_allclose(J, expected, rtol=1e-6 if dtype == numpy.float32 else 1e-14)
    assert set(seen) == {numpy.dtype(dtype)} == {f(numpy, X, dtype).dtype}


@pytest.mark.parametrize("name", list(JOINS))
def test_a_join_to_float32_of_float64_values_rounds_as_numpy_does(name):
    f = JOINS[name]
    seen = []
    ad.grad(lambda x: seen.append(f(anp, x, numpy.float32)) or anp.sum(f(anp, x, numpy.float32)))(X)
    t = f(anp, ad.tensor(X, requires_grad=True), numpy.float32)
    assert t.dtype == numpy.float32
    numpy.testing.assert_array_equal(t.detach().numpy(), f(numpy, X, numpy.float32))


def test_a_join_with_a_complex_dtype_differentiates_its_real_part():
    g = ad.grad(lambda x: anp.real(anp.sum(anp.concatenate([x, [x[0], 1.0]], dtype=complex) * (1 - 2j))))(X)
    numpy.testing.assert_array_equal(g, [2.0, 1.0, 1.0])


def test_a_join_to_an_integer_dtype_follows_numpys_casting_rule():
    # same_kind (NumPy's default) refuses float to int, as NumPy does
    with pytest.raises(TypeError, match="according to the rule 'same_kind'"):
        numpy.concatenate([X, X], dtype=int)
    with pytest.raises(TypeError, match="according to the rule 'same_kind'"):
        ad.grad(lambda x: anp.sum(anp.concatenate([x, x], dtype=int)))(X)
    # casting="unsafe" asks for the truncation: integer values, of zero derivative (x.astype(int))
    seen = []

    def f(x):
        y = anp.stack([x, [x[0], 2.5, x[2]]], dtype=int, casting="unsafe")
        seen.append(y)
        return anp.sum(y * x) + anp.sum(x)

    g = ad.grad(f)(X)
    numpy.testing.assert_array_equal(
        seen[0], numpy.stack([X, [X[0], 2.5, X[2]]], dtype=int, casting="unsafe")
    )
    numpy.testing.assert_array_equal(g, numpy.sum(seen[0], axis=0) + 1.0)


def test_a_join_with_dtype_of_eager_tensors_backpropagates_to_each():
    a, b = ad.tensor([1.0, 2.0], requires_grad=True), ad.tensor(3.0, requires_grad=True)
    y = anp.concatenate([a, [b, 1.0]], dtype=numpy.float32)
    assert y.dtype == numpy.float32
    (anp.sum(y * y)).backward()
    numpy.testing.assert_array_equal(a.grad, [2.0, 4.0])
    assert b.grad.item() == 6.0 and a.grad.dtype == numpy.float64
