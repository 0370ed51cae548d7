"""where= with dtype= in sum, prod and mean, and where= with initial= in max, min, amax and
amin: NumPy's values, and derivatives against JAX in both modes, batched and at second order.
Entries outside where get a zero derivative; tied extrema share it evenly. Also the exact
zeros of cumsum's VJP, which sparse Hessians rely on."""

import numpy as np
import pytest

import ad

RNG = np.random.default_rng(3)
X = RNG.uniform(0.5, 2.0, (3, 4))  # positive, distinct: no ties unless made on purpose
MASK = np.array([[True, False, True, True], [False, True, True, False], [True, True, False, True]])
ROW_MASK = np.array([True, False, True, True])  # broadcast over the rows

# (NumPy's function, kwargs) written once for NumPy and jax.numpy: xp.<name>(x, **kwargs)
CASES = {
    "sum where dtype": ("sum", {"where": MASK, "dtype": "float64"}),
    "sum where dtype axis": ("sum", {"axis": 1, "where": ROW_MASK, "dtype": "float64"}),
    "sum dtype float32": ("sum", {"axis": 0, "dtype": "float32"}),
    "prod where dtype": ("prod", {"axis": 1, "where": MASK, "dtype": "float64", "keepdims": True}),
    "mean where dtype": ("mean", {"axis": 0, "where": MASK, "dtype": "float64"}),
    "mean where dtype all": ("mean", {"where": ROW_MASK, "dtype": "float64"}),
    "max where initial": ("max", {"axis": 1, "where": MASK, "initial": 0.0}),
    "max where initial wins": ("max", {"axis": 0, "where": MASK, "initial": 1.5}),
    "min where initial": ("min", {"axis": 0, "where": MASK, "initial": 5.0, "keepdims": True}),
    "amax where initial all": ("amax", {"where": ROW_MASK, "initial": -1.0}),
    "amin where initial": ("amin", {"axis": (0, 1), "where": MASK, "initial": 1.0}),
    "max initial": ("max", {"axis": 1, "initial": 1.5}),
}


def _call(xp, name, kwargs):
    kwargs = dict(kwargs)
    if "dtype" in kwargs:
        kwargs["dtype"] = getattr(xp, kwargs["dtype"])
    return lambda x: getattr(xp, name)(x, **kwargs)


def _jax_jacobian(jax64, name, kwargs):
    return np.asarray(jax64.jacrev(_call(jax64.numpy, name, kwargs))(X))


@pytest.mark.parametrize("case", CASES)
def test_the_value_is_numpys(case):
    name, kwargs = CASES[case]
    expected = _call(np, name, kwargs)(X)
    for x in (ad.tensor(X, requires_grad=True), ad.Dual(X, np.ones_like(X))):
        value = _call(np, name, kwargs)(x)
        got = value.detach().numpy() if isinstance(value, ad.Tensor) else value.primal
        # NumPy sums a where= reduction in another order than ad's sum of the entries kept
        assert got.dtype == expected.dtype
        np.testing.assert_allclose(got, expected, rtol=4 * np.finfo(expected.dtype).eps, atol=0)


@pytest.mark.parametrize("transform", ["jacfwd", "jacrev"])
@pytest.mark.parametrize("case", CASES)
def test_the_jacobian_matches_jax_in_both_modes(case, transform, jax64):
    name, kwargs = CASES[case]
    jacobian = getattr(ad, transform)(_call(np, name, kwargs))(X)
    rtol = 1e-6 if kwargs.get("dtype") == "float32" else 1e-12
    np.testing.assert_allclose(jacobian, _jax_jacobian(jax64, name, kwargs), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("case", [case for case, (_, kwargs) in CASES.items() if "where" in kwargs])
def test_entries_outside_where_get_a_zero_derivative(case):
    name, kwargs = CASES[case]
    left_out = ~np.broadcast_to(kwargs["where"], X.shape)
    g = ad.grad(lambda x: np.sum(_call(np, name, kwargs)(x) ** 2))(X)
    assert np.all(g[left_out] == 0) and np.any(g != 0)


@pytest.mark.parametrize("case", CASES)
def test_batched_tangents_give_the_jacobian_one_direction_at_a_time(case):
    """One pass of k directions (a batched Dual and a batched VJP) against k single passes."""
    name, kwargs = CASES[case]
    f = _call(np, name, kwargs)
    rtol = 1e-6 if kwargs.get("dtype") == "float32" else 1e-12
    directions = RNG.standard_normal((5,) + X.shape)
    batched = ad.Dual(X, directions, batch=5)
    tangents = f(batched).tangent
    for i, d in enumerate(directions):
        np.testing.assert_allclose(tangents[i], ad.jvp(f, (X,), (d,))[1], rtol=rtol, atol=1e-15)
    out, pullback = ad.vjp(f, X)
    cts = RNG.standard_normal((3,) + np.shape(out))
    jacobian = ad.jacrev(f)(X)
    for ct in cts:
        np.testing.assert_allclose(
            pullback(ct)[0], np.tensordot(ct, jacobian, np.ndim(ct)), rtol=rtol, atol=1e-15
        )


SECOND_ORDER_CASES = [case for case, (_, kw) in CASES.items() if kw.get("dtype") != "float32"]


def _second_order_loss(xp, case):
    name, kwargs = CASES[case]
    f = _call(xp, name, kwargs)
    return lambda x: xp.sum(xp.sin(f(x * x)) * f(x))


@pytest.fixture(scope="module")
def jax_hessians(jax64):
    """JAX's Hessian of every case's loss at X, all in one compiled call (op by op, seconds)."""
    hessians = jax64.jit(
        lambda x: {
            case: jax64.hessian(_second_order_loss(jax64.numpy, case))(x) for case in SECOND_ORDER_CASES
        }
    )
    return {case: np.asarray(h) for case, h in hessians(X).items()}


@pytest.mark.parametrize("nesting", ["hessian", "jacrev(jacrev)", "jacrev(jacfwd)"])
@pytest.mark.parametrize("case", SECOND_ORDER_CASES)
def test_second_order_matches_jax(case, nesting, jax_hessians):
    transform = {
        "hessian": ad.hessian,
        "jacrev(jacrev)": lambda f: ad.jacrev(ad.jacrev(f)),
        "jacrev(jacfwd)": lambda f: ad.jacrev(ad.jacfwd(f)),
    }[nesting]
    got = transform(_second_order_loss(np, case))(X)
    np.testing.assert_allclose(got, jax_hessians[case], rtol=1e-10, atol=1e-12)


def test_tied_maxima_share_the_derivative_and_a_tied_initial_takes_its_share():
    x = np.array([[3.0, 1.0, 3.0, 3.0], [2.0, 2.0, 0.5, 1.0]])
    where = np.array([[True, True, True, False], [True, True, True, True]])
    jacobian = ad.jacrev(lambda x: np.max(x, axis=1, where=where, initial=2.0))(x)
    # row 0: two tied 3s kept (the third is left out); row 1: two 2s tied with initial = 2
    np.testing.assert_array_equal(jacobian[0, 0], [0.5, 0, 0.5, 0])
    np.testing.assert_array_equal(jacobian[1, 1], [1 / 3, 1 / 3, 0, 0])
    forward = ad.jacfwd(lambda x: np.max(x, axis=1, where=where, initial=2.0))(x)
    np.testing.assert_array_equal(forward, jacobian)


def test_a_slice_with_no_entry_kept_takes_initial_with_a_zero_derivative():
    where = np.zeros_like(MASK)
    where[0] = True
    f = lambda x: np.min(x, axis=1, where=where, initial=7.0)  # noqa: E731
    assert np.array_equal(f(ad.tensor(X)).numpy(), [X[0].min(), 7.0, 7.0])
    jacobian = ad.jacfwd(f)(X)
    assert np.all(jacobian[1:] == 0) and jacobian[0].sum() == 1


def test_tensor_methods_take_where_and_initial():
    x = ad.tensor(X, requires_grad=True)
    (x.max(axis=1, where=MASK, initial=0.0).sum() + x.sum(where=MASK, dtype=np.float64)).backward()
    f = lambda x: np.sum(np.max(x, axis=1, where=MASK, initial=0.0)) + np.sum(x, where=MASK)  # noqa: E731
    expected = ad.grad(f)(X)
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_a_float32_sum_of_float64_input_gives_numpys_float32_value_and_the_inputs_dtype():
    x = ad.tensor(X, requires_grad=True)
    y = np.sum(x, where=MASK, dtype=np.float32)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.detach().numpy(), np.sum(X, where=MASK, dtype=np.float32), rtol=1e-6)
    y.backward()
    assert x.grad.dtype == np.float64 and np.array_equal(x.grad.numpy(), MASK * 1.0)


def test_what_is_still_refused_says_what_to_do():
    x = ad.tensor(X, requires_grad=True)
    with pytest.raises(ValueError, match="initial"):  # NumPy's own: max has no identity
        np.max(x, where=MASK)
    with pytest.raises(NotImplementedError, match="float or complex dtype"):
        np.sum(x, where=MASK, dtype=np.int64)
    with pytest.raises(NotImplementedError, match="constant"):
        np.max(x, initial=ad.tensor(1.0, requires_grad=True))
    with pytest.raises(ValueError):  # a mask that does not broadcast, as NumPy
        np.max(x, where=np.ones(3, bool), initial=0.0)


XNAN = X.copy()
XNAN[0, 2] = XNAN[2, 0] = np.nan  # kept by MASK: the NaN-skipping forms skip them
NAN_CASES = {
    "nansum where dtype": ("nansum", {"axis": 1, "where": MASK, "dtype": "float64"}),
    "nanprod where": ("nanprod", {"axis": 0, "where": MASK}),
    "nanmean where dtype": ("nanmean", {"axis": 1, "where": MASK, "dtype": "float64"}),
    "nanmax where initial": ("nanmax", {"axis": 1, "where": MASK, "initial": 0.0}),
    "nanmin initial": ("nanmin", {"axis": 0, "initial": 1.0, "keepdims": True}),
}


@pytest.mark.parametrize("transform", ["jacfwd", "jacrev"])
@pytest.mark.parametrize("case", NAN_CASES)
def test_the_nan_skipping_reductions_take_where_dtype_and_initial_as_numpy(case, transform, jax64):
    name, kwargs = NAN_CASES[case]
    f = _call(np, name, kwargs)
    value = f(ad.tensor(XNAN)).numpy()
    expected = f(XNAN)
    assert value.dtype == expected.dtype
    np.testing.assert_allclose(value, expected, rtol=1e-15)
    jacobian = getattr(ad, transform)(f)(XNAN)
    theirs = np.asarray(jax64.jacrev(_call(jax64.numpy, name, kwargs))(XNAN))
    np.testing.assert_allclose(jacobian, theirs, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["nanmean", "nanvar", "nanstd", "nansum", "nanmax"])
def test_a_float32_nan_reduction_has_numpys_float32_value(name):
    x = XNAN.astype(np.float32)
    for a in (x, x[:, 1:3]):  # with NaNs, and without
        expected = getattr(np, name)(a, axis=1)
        got = getattr(np, name)(ad.tensor(a), axis=1).numpy()
        assert got.dtype == expected.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_cumsum_vjp_is_the_reversed_cumsum_with_exact_zeros_after_the_last_cotangent():
    g = np.array([[0.1, 0.7, 0.3, 1e-3, 0.0, 0.0], [2.3, -1.1, 0.0, 0.0, 0.0, 0.0]])
    (xbar,) = ad.vjp(lambda x: np.cumsum(x, axis=1), np.ones_like(g))[1](g)
    np.testing.assert_array_equal(xbar, np.cumsum(g[:, ::-1], axis=1)[:, ::-1])
    assert np.all(xbar[:, -2:] == 0) and np.all(xbar[1, 2:] == 0)
