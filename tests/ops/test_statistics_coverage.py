"""Statistics, order statistics and signal functions: sort, partition, median, quantile and
percentile, the nan reductions, convolve and correlate, cumprod at zeros, einsum's sublist
form and zero-size axes, average, ptp, cov and corrcoef. Values against NumPy, derivatives
against hand-derived values in both modes, and against JAX where it is installed."""

import numpy as np
import pytest

import ad

RNG = np.random.default_rng(0)


def _both(f, *xs, argnums=0):
    """jacfwd and jacrev of f."""
    return ad.jacfwd(f, argnums=argnums)(*xs), ad.jacrev(f, argnums=argnums)(*xs)


def _assert_jacobians(f, x, expected, **kw):
    for jac in _both(f, x):
        np.testing.assert_allclose(jac, expected, rtol=1e-12, atol=1e-14, **kw)


def _against_jax(jax, ours, theirs, *xs, argnums=0):
    """Our jacfwd and jacrev of `ours` equal JAX's jacfwd of `theirs` (and the values agree)."""
    expected = jax.jacfwd(theirs, argnums=argnums)(*xs)
    np.testing.assert_allclose(ours(*xs), theirs(*xs), rtol=1e-13, atol=1e-14)
    for jac in _both(ours, *xs, argnums=argnums):
        if isinstance(jac, tuple):
            for a, b in zip(jac, expected, strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)
        else:
            np.testing.assert_allclose(jac, expected, rtol=1e-11, atol=1e-13)


# -- sort and partition ------------------------------------------------------------------


def test_sort_derivative_at_ties_follows_the_permutation_numpy_returns():
    x = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    for kind in ("stable", None):
        perm = np.argsort(x, kind=kind)
        _assert_jacobians(lambda v, kind=kind: np.sort(v, kind=kind), x, np.eye(5)[perm])
    _assert_jacobians(lambda v: np.sort(v, stable=True), x, np.eye(5)[np.argsort(x, kind="stable")])


def test_sort_at_ties_matches_jax_which_sorts_stably(jax64):
    x = np.array([[2.0, 1.0, 2.0, 1.0], [0.5, 0.5, -1.0, 0.5]])
    _against_jax(jax64, lambda v: np.sort(v, axis=1, kind="stable"), lambda v: jax64.numpy.sort(v, axis=1), x)


def test_sort_of_complex_values_permutes_tangents_as_numpy_orders_them():
    z = np.array([1 + 2j, 1 - 1j, -3 + 0j])
    t = np.array([0.1 + 1j, 2.0 - 0.5j, -1j])
    perm = np.argsort(z)
    out, tangent = ad.jvp(np.sort, (z,), (t,))
    np.testing.assert_array_equal(out, np.sort(z))
    np.testing.assert_array_equal(tangent, t[perm])


def test_partition_is_a_valid_partition_and_its_derivative_follows_argpartition():
    x = RNG.uniform(-2, 2, 9)
    kth = 4
    out = ad.jvp(lambda v: np.partition(v, kth), (x,), (np.ones(9),))[0]
    assert out[kth] == np.sort(x)[kth]
    assert np.all(out[:kth] <= out[kth]) and np.all(out[kth + 1 :] >= out[kth])
    _assert_jacobians(lambda v: np.partition(v, kth), x, np.eye(9)[np.argpartition(x, kth)])
    # the kth entry's derivative is the one-hot of the kth smallest entry
    _assert_jacobians(lambda v: np.partition(v, kth)[kth], x, np.eye(9)[np.argsort(x)[kth]])


def test_argpartition_and_nanargmax_are_constants():
    x = np.array([3.0, np.nan, -1.0, 2.0])
    idx = ad.jvp(lambda v: np.argpartition(v, 1), (x,), (np.ones(4),))[0]
    np.testing.assert_array_equal(idx, np.argpartition(x, 1))
    assert np.array_equal(ad.grad(lambda v: v[np.nanargmax(v)] + v[np.nanargmin(v)])(x), [1.0, 0.0, 1.0, 0.0])


# -- median, quantile, percentile ----------------------------------------------------------


def test_median_derivative_goes_to_the_middle_entries():
    _assert_jacobians(np.median, np.array([3.0, 1.0, 2.0]), [0.0, 0.0, 1.0])
    _assert_jacobians(np.median, np.array([4.0, 1.0, 3.0, 2.0]), [0.0, 0.0, 0.5, 0.5])
    x = np.array([[5.0, 1.0, 3.0], [2.0, 8.0, 4.0]])
    for jac in _both(lambda v: np.median(v, axis=0), x):
        np.testing.assert_allclose(jac, np.full((3, 2, 3), 0.5) * np.eye(3)[:, None, :])


def test_median_of_a_slice_with_nan_is_nan_with_a_zero_derivative(quiet):
    x = np.array([[1.0, np.nan, 3.0], [2.0, 5.0, 4.0]])
    f = lambda v: np.median(v, axis=1)  # noqa: E731
    np.testing.assert_array_equal(quiet(lambda: f(x)), quiet(lambda: np.median(x, axis=1)))
    for jac in _both(f, x):
        np.testing.assert_array_equal(jac[0], np.zeros((2, 3)))
        np.testing.assert_array_equal(jac[1], [[0, 0, 0], [0, 0, 1.0]])


def test_linear_quantile_interpolates_between_order_statistics_in_a_and_in_q():
    x = np.array([4.0, 0.0, 3.0, 1.0, 2.0])  # sorted 0..4: q = 0.3 reads 1.2, between 1 and 2
    _assert_jacobians(lambda v: np.quantile(v, 0.3), x, [0.0, 0.0, 0.0, 0.8, 0.2])
    _assert_jacobians(lambda v: np.percentile(v, 30.0), x, [0.0, 0.0, 0.0, 0.8, 0.2])
    # d/dq = (x_(2) - x_(1)) (n - 1) = 4; percentile divides by 100
    for jac in _both(lambda q: np.quantile(x, q), 0.3):
        np.testing.assert_allclose(jac, 4.0, rtol=1e-14)
    for jac in _both(lambda q: np.percentile(x, q), 30.0):
        np.testing.assert_allclose(jac, 0.04, rtol=1e-14)


METHODS = ["linear", "lower", "higher", "nearest", "midpoint", "inverted_cdf", "averaged_inverted_cdf",
           "closest_observation", "interpolated_inverted_cdf", "hazen", "weibull", "median_unbiased",
           "normal_unbiased"]  # fmt: skip


@pytest.mark.parametrize("method", METHODS)
def test_quantile_values_equal_numpys_for_every_method_axis_and_keepdims(method):
    x = RNG.uniform(-2, 2, (3, 4, 5))
    q = np.array([0.0, 0.137, 0.5, 0.873, 1.0])
    for kw in ({}, {"axis": 1}, {"axis": (0, 2), "keepdims": True}, {"axis": -1, "keepdims": True}):
        for f in (np.quantile, np.nanquantile):
            ours = ad.jvp(lambda v: f(v, q, method=method, **kw), (x,), (np.ones_like(x),))[0]
            np.testing.assert_allclose(ours, f(x, q, method=method, **kw), rtol=1e-15, atol=1e-15)
        ours = ad.jvp(lambda v: np.percentile(v, 41.9, method=method, **kw), (x,), (np.ones_like(x),))[0]
        np.testing.assert_allclose(ours, np.percentile(x, 41.9, method=method, **kw), rtol=1e-15)


def test_quantile_keeps_float32_for_a_python_number_q_as_numpy_does():
    x = RNG.uniform(-2, 2, 6).astype(np.float32)
    out, tangent = ad.jvp(lambda v: np.quantile(v, 0.3), (x,), (np.ones(6, np.float32),))
    assert out.dtype == np.quantile(x, 0.3).dtype == np.float32 and tangent.dtype == np.float32


@pytest.mark.parametrize("method", ["linear", "nearest", "midpoint"])
def test_quantile_derivatives_match_jax(method, jax64):
    x = RNG.uniform(-2, 2, (4, 6))
    x[1, 2] = x[1, 4]  # a tie: both sort stably
    q = np.array([0.137, 0.5, 0.873])
    _against_jax(jax64, lambda v: np.quantile(v, q, axis=1, method=method),
                 lambda v: jax64.numpy.quantile(v, q, axis=1, method=method), x)  # fmt: skip
    _against_jax(jax64, lambda v: np.median(v, axis=0), lambda v: jax64.numpy.median(v, axis=0), x)
    if method == "linear":
        _against_jax(
            jax64, lambda q: np.quantile(x, q, axis=1), lambda q: jax64.numpy.quantile(x, q, axis=1), q
        )


def test_nan_quantiles_skip_nan_entries_whose_derivative_is_zero():
    x = np.array([[np.nan, 4.0, 0.0, 2.0, 1.0, 3.0], [1.0, np.nan, np.nan, 2.0, np.nan, 5.0]])
    for f, q in ((np.nanquantile, 0.3), (np.nanpercentile, 30.0)):
        np.testing.assert_allclose(f(x, q, axis=1), ad.jvp(lambda v: f(v, q, axis=1), (x,), (x * 0,))[0])
        # row 0: 0..4 without the NaN, 0.3 reads 1.2; row 1: [1, 2, 5], 0.3 reads 0.6
        expected = np.zeros((2, 2, 6))
        expected[0, 0, [4, 3]] = [0.8, 0.2]
        expected[1, 1, [0, 3]] = [0.4, 0.6]
        _assert_jacobians(lambda v: f(v, q, axis=1), x, expected)
    middle = np.zeros((2, 2, 6))
    middle[0, 0, 3] = middle[1, 1, 3] = 1.0  # 2 of 0..4 and 2 of [1, 2, 5]: both at index 3
    _assert_jacobians(lambda v: np.nanmedian(v, axis=1), x, middle)


def test_nanmedian_and_nanquantile_of_an_all_nan_slice_are_nan_with_the_warning():
    x = np.array([[np.nan, np.nan], [1.0, 2.0]])
    with pytest.warns(RuntimeWarning, match="All-NaN slice"):
        out = ad.jvp(lambda v: np.nanmedian(v, axis=1), (x,), (np.ones_like(x),))
    assert np.isnan(out[0][0]) and out[0][1] == 1.5 and np.array_equal(out[1], [0.0, 1.0])
    with pytest.warns(RuntimeWarning, match="All-NaN slice"):
        g = ad.grad(lambda v: np.nanquantile(v, 0.5, axis=1)[1])(x)
    np.testing.assert_array_equal(g, [[0, 0], [0.5, 0.5]])


def test_quantile_options_ad_does_not_take_raise_clearly():
    x = ad.tensor(np.arange(4.0), requires_grad=True)
    with pytest.raises(ValueError, match="not a valid method"):
        np.quantile(x, 0.5, method="cubic")
    with pytest.raises(ValueError, match=r"Quantiles must be in the range \[0, 1\]"):
        np.quantile(x, 1.5)
    with pytest.raises(ValueError, match=r"Percentiles must be in the range \[0, 100\]"):
        np.percentile(x, -1.0)
    with pytest.raises(NotImplementedError, match="weights"):
        np.quantile(x, 0.5, method="inverted_cdf", weights=np.ones(4))
    with pytest.raises(NotImplementedError, match="out"):
        np.median(x, out=np.zeros(()))


def test_order_statistics_refuse_complex_input_by_name():
    z = np.array([1 + 1j, 2 - 1j])
    for f, name in ((np.median, "median"), (lambda v: np.quantile(v, 0.5), "quantile")):
        with pytest.raises(TypeError, match=f"{name} has no complex rule"):
            ad.jvp(f, (z,), (np.ones_like(z),))


# -- nan reductions ---------------------------------------------------------------------------

NAN_X = np.array([[1.5, np.nan, -2.0, 0.5], [np.nan, 3.0, 0.25, -1.0], [2.0, -0.5, np.nan, 4.0]])


@pytest.mark.parametrize(
    "name",
    ["nansum", "nanmean", "nanprod", "nanmax", "nanmin", "nanvar", "nanstd", "nancumsum", "nancumprod"],
)
def test_nan_reductions_equal_numpy_and_have_a_zero_derivative_at_nan(name):
    f = getattr(np, name)
    calls = [{}, {"axis": 0}, {"axis": 1}] + ([{"axis": 1, "keepdims": True}] if "cum" not in name else [])
    if name in ("nanvar", "nanstd"):
        calls.append({"axis": 1, "ddof": 1})
    nan = np.isnan(NAN_X)
    for kw in calls:
        g = lambda v, kw=kw: f(v, **kw)  # noqa: E731
        out = ad.jvp(g, (NAN_X,), (np.ones_like(NAN_X),))[0]
        np.testing.assert_allclose(out, f(NAN_X, **kw), rtol=1e-14)
        for jac in _both(g, NAN_X):
            assert np.all(jac[..., nan] == 0), (name, kw)
            assert np.all(np.isfinite(jac))


@pytest.mark.parametrize("name", ["nansum", "nanmean", "nanprod", "nanmax", "nanmin", "nanvar", "nanstd",
                                  "nancumsum", "nancumprod"])  # fmt: skip
def test_nan_reductions_match_jax(name, jax64):
    kw = {} if "cum" in name else {"axis": 1}
    _against_jax(
        jax64, lambda v: getattr(np, name)(v, **kw), lambda v: getattr(jax64.numpy, name)(v, **kw), NAN_X
    )


def test_nanmean_and_nanvar_by_hand():
    x = np.array([1.0, np.nan, 3.0, 5.0])
    _assert_jacobians(np.nanmean, x, [1 / 3, 0.0, 1 / 3, 1 / 3])
    # nanvar = sum((x - 3)^2) / 3: derivative 2 (x - 3) / 3; nanstd: (x - 3) / (3 std)
    _assert_jacobians(np.nanvar, x, [-4 / 3, 0.0, 0.0, 4 / 3])
    std = np.sqrt(8 / 3)
    _assert_jacobians(np.nanstd, x, [-2 / (3 * std), 0.0, 0.0, 2 / (3 * std)])
    _assert_jacobians(lambda v: np.nanvar(v, ddof=1), x, [-2.0, 0.0, 0.0, 2.0])


def test_nanstd_of_a_constant_slice_has_a_zero_derivative_like_std():
    x = np.array([2.0, np.nan, 2.0])
    _assert_jacobians(np.nanstd, x, [0.0, 0.0, 0.0])
    _assert_jacobians(np.std, np.array([2.0, 2.0]), [0.0, 0.0])


def test_nan_reductions_of_an_all_nan_slice_are_nan_with_numpys_warning(quiet):
    x = np.array([[np.nan, np.nan], [1.0, 3.0]])
    for f, message in ((np.nanmean, "Mean of empty slice"), (np.nanmax, "All-NaN slice"),
                       (np.nanvar, "Degrees of freedom"), (np.nanstd, "Degrees of freedom")):  # fmt: skip
        with pytest.warns(RuntimeWarning, match=message):
            out, tangent = ad.jvp(lambda v, f=f: f(v, axis=1), (x,), (np.ones_like(x),))
        assert np.isnan(out[0]) and tangent[0] == 0.0, f.__name__
        np.testing.assert_allclose(out[1], quiet(lambda f=f: f(x, axis=1))[1])
        with pytest.warns(RuntimeWarning, match=message):
            g = ad.grad(lambda v, f=f: np.sum(f(v, axis=1)[1:]))(x)
        assert np.all(g[0] == 0) and np.all(np.isfinite(g)), f.__name__


# -- cumprod at zeros ------------------------------------------------------------------------


def test_cumprod_derivative_at_exact_zeros_is_the_product_of_the_other_entries():
    x = np.array([2.0, 0.0, 3.0, 0.0, 0.5])
    # dy_i / dx_j = prod_{l <= i, l != j} x_l for j <= i
    expected = np.zeros((5, 5))
    for i in range(5):
        for j in range(i + 1):
            expected[i, j] = np.prod([x[k] for k in range(i + 1) if k != j])
    _assert_jacobians(np.cumprod, x, expected)
    assert expected[2, 1] == 6.0 and expected[4, 3] == 0.0  # one zero left out: nonzero; two: zero
    # nancumprod reads the NaN as 1: its output repeats the last one, and its derivative is 0
    with_nan = np.pad(expected, ((0, 1), (0, 1)))
    with_nan[5, :5] = expected[4]
    _assert_jacobians(np.nancumprod, np.append(x, np.nan), with_nan)


def test_cumprod_at_zeros_matches_jax(jax64):
    x = np.array([[2.0, 0.0, 3.0, 0.0], [0.0, -1.5, 2.0, 0.5]])
    _against_jax(jax64, lambda v: np.cumprod(v, axis=1), lambda v: jax64.numpy.cumprod(v, axis=1), x)
    _against_jax(jax64, lambda v: np.cumprod(v, axis=0), lambda v: jax64.numpy.cumprod(v, axis=0), x)


# -- convolve, correlate -----------------------------------------------------------------------


def _convolution_matrix(v, n):
    """C with convolve(a, v, 'full') = C a for a of length n: C[k, i] = v[k - i]."""
    m = len(v)
    return np.array([[v[k - i] if 0 <= k - i < m else 0.0 for i in range(n)] for k in range(n + m - 1)])


@pytest.mark.parametrize("n, m", [(5, 3), (3, 5), (4, 4), (1, 3), (6, 1), (2, 7)])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_convolve_and_correlate_values_and_jacobians_by_hand(n, m, mode):
    a, v = RNG.uniform(-2, 2, n), RNG.uniform(-2, 2, m)
    full = _convolution_matrix(v, n)
    start = {"full": 0, "same": (min(n, m) - 1) // 2, "valid": min(n, m) - 1}[mode]
    rows = slice(start, start + len(np.convolve(a, v, mode)))
    _assert_jacobians(lambda x: np.convolve(x, v, mode), a, full[rows])
    np.testing.assert_allclose(
        ad.jvp(lambda x: np.convolve(x, v, mode), (a,), (a,))[0], np.convolve(a, v, mode)
    )
    for jac in _both(lambda x, y: np.convolve(x, y, mode), a, v, argnums=(0, 1)):
        np.testing.assert_allclose(jac[1], _convolution_matrix(a, m)[rows], rtol=1e-12)
    out = ad.jvp(lambda x, y: np.correlate(x, y, mode), (a, v), (a, v))[0]
    np.testing.assert_allclose(out, np.correlate(a, v, mode), rtol=1e-14)
    # correlate is linear in a: its Jacobian is the correlate of the basis vectors
    basis = np.stack([np.correlate(e, v, mode) for e in np.eye(n)], axis=1)
    _assert_jacobians(lambda x: np.correlate(x, v, mode), a, basis)


def test_convolve_and_correlate_match_jax(jax64):
    for n, m, mode in ((6, 3, "full"), (3, 6, "same"), (4, 4, "valid")):
        a, v = RNG.uniform(-2, 2, n), RNG.uniform(-2, 2, m)
        for name in ("convolve", "correlate"):
            ours = lambda x, y, name=name: getattr(np, name)(x, y, mode)  # noqa: E731
            theirs = lambda x, y, name=name: getattr(jax64.numpy, name)(x, y, mode)  # noqa: E731
            _against_jax(jax64, ours, theirs, a, v, argnums=(0, 1))


def test_convolve_of_complex_sequences_and_bad_input():
    a, v = np.array([1 + 1j, 2 - 1j, 0.5j]), np.array([1j, -1.0])
    t = np.array([0.5, 1j, -1.0])
    out, tangent = ad.jvp(lambda x: np.convolve(x, v), (a,), (t,))
    np.testing.assert_allclose(tangent, np.convolve(t, v))  # linear in a: its own JVP
    with pytest.raises(ValueError, match="1-D"):
        ad.grad(lambda x: np.sum(np.convolve(x, np.ones(2))))(np.ones((2, 2)))
    with pytest.raises(ValueError, match="mode must be one of"):
        ad.grad(lambda x: np.sum(np.convolve(x, np.ones(2), "wide")))(np.ones(3))


# -- einsum ------------------------------------------------------------------------------


def test_einsum_sublist_form_equals_the_string_form_in_both_modes():
    A, B = RNG.uniform(-2, 2, (3, 4)), RNG.uniform(-2, 2, (4, 2))
    pairs = [
        (lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [0, 2]), lambda a, b: np.einsum("ij,jk->ik", a, b)),
        (lambda a, b: np.einsum(a, [0, 1], b, [1, 2]), lambda a, b: np.einsum("ij,jk", a, b)),
        (
            lambda a, b: np.einsum(a, [Ellipsis, 1], b, [1, 2]),
            lambda a, b: np.einsum("...j,jk", a, b),
        ),
    ]
    for sub, string in pairs:
        np.testing.assert_allclose(ad.jvp(sub, (A, B), (A, B))[0], string(A, B), rtol=1e-14)
        for got, want in zip(
            _both(sub, A, B, argnums=(0, 1)), _both(string, A, B, argnums=(0, 1)), strict=True
        ):
            for g, w in zip(got, want, strict=True):
                np.testing.assert_allclose(g, w, rtol=1e-14)
    with pytest.raises(ValueError, match="valid range"):
        ad.grad(lambda a: np.sum(np.einsum(a, [0, 60])))(A)


def test_einsum_sublist_form_matches_jax(jax64):
    A, B = RNG.uniform(-2, 2, (3, 4)), RNG.uniform(-2, 2, (4, 2))
    ours = lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [2, 0])  # noqa: E731
    theirs = lambda a, b: jax64.numpy.einsum(a, [0, 1], b, [1, 2], [2, 0])  # noqa: E731
    _against_jax(jax64, ours, theirs, A, B, argnums=(0, 1))


def test_einsum_with_zero_size_axes_gives_zero_derivatives_of_the_right_shape():
    A, B = np.ones((0, 3)), RNG.uniform(-2, 2, (3, 2))
    f = lambda a, b: np.einsum("ij,jk->ik", a, b)  # noqa: E731
    for jac in _both(f, A, B, argnums=(0, 1)):
        assert jac[0].shape == (0, 2, 0, 3) and jac[1].shape == (0, 2, 3, 2)
    ga, gb = ad.grad(lambda a, b: np.sum(np.einsum(a, [0, 1], b, [1, 2])), argnums=(0, 1))(A, B)
    assert ga.shape == (0, 3) and gb.shape == (3, 2) and not np.any(gb)
    # a contraction over an empty axis: the output is zeros, and so is its derivative in b
    C = np.ones((2, 0))
    gc, gd = ad.grad(lambda c, d: np.sum(np.einsum("ij,jk->ik", c, d) ** 2 + np.einsum("ij,jk", c, d)),
                     argnums=(0, 1))(C, np.ones((0, 3)))  # fmt: skip
    assert gc.shape == (2, 0) and gd.shape == (0, 3)
    for jac in _both(lambda d: np.einsum("ij,jk->ik", C, d), np.ones((0, 3))):
        assert jac.shape == (2, 3, 0, 3)


# -- average, ptp, cov, corrcoef ----------------------------------------------------------------


def test_average_differentiates_the_weights_by_hand():
    a, w = np.array([1.0, 2.0, 4.0]), np.array([1.0, 1.0, 2.0])
    avg = 11 / 4
    _assert_jacobians(lambda v: np.average(a, weights=v), w, (a - avg) / 4)
    _assert_jacobians(lambda v: np.average(v, weights=w), a, w / 4)
    out, scale = np.average(ad.tensor(a), weights=ad.tensor(w), returned=True)
    assert np.isclose(np.asarray(out), avg) and np.asarray(scale) == 4.0


def test_average_matches_numpy_and_jax_with_weights_along_axes(jax64):
    a = RNG.uniform(-2, 2, (2, 3, 4))
    w = RNG.uniform(0.5, 2, (4, 2))
    for kw in ({"axis": (2, 0)}, {"axis": (2, 0), "keepdims": True}):
        ours = ad.jvp(lambda x: np.average(x, weights=w, **kw), (a,), (a,))[0]
        np.testing.assert_allclose(ours, np.average(a, weights=w, **kw), rtol=1e-14)
    w1 = RNG.uniform(0.5, 2, 3)
    _against_jax(jax64, lambda x, v: np.average(x, axis=1, weights=v),
                 lambda x, v: jax64.numpy.average(x, axis=1, weights=v), a, w1, argnums=(0, 1))  # fmt: skip
    avg, scale = np.average(ad.tensor(a), axis=1, weights=w1, returned=True)
    np.testing.assert_allclose(np.asarray(scale), np.average(a, axis=1, weights=w1, returned=True)[1])


def test_average_refuses_what_numpy_refuses():
    x = ad.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ZeroDivisionError, match="Weights sum to zero"):
        np.average(x, axis=1, weights=np.array([1.0, -1.0, 0.0]))
    with pytest.raises(TypeError, match="Axis must be specified"):
        np.average(x, weights=np.ones(3))
    with pytest.raises(ValueError, match="Shape of weights"):
        np.average(x, axis=1, weights=np.ones(2))


def test_ptp_derivative_is_plus_one_at_the_max_and_minus_one_at_the_min():
    x = np.array([[1.0, 5.0, -2.0], [0.0, 3.0, 4.0]])
    expected = np.zeros((2, 2, 3))
    expected[0, 0, [1, 2]] = [1.0, -1.0]
    expected[1, 1, [2, 0]] = [1.0, -1.0]
    _assert_jacobians(lambda v: np.ptp(v, axis=1), x, expected)


@pytest.mark.parametrize(
    "kw",
    [{}, {"rowvar": False}, {"bias": True, "aweights": np.array([0.5, 1.0, 2.0, 1.5, 1.0])},
     {"fweights": np.array([1, 2, 1, 3, 1]), "aweights": np.array([0.5, 1.0, 2.0, 1.5, 1.0]), "ddof": 2}],
)  # fmt: skip
def test_cov_and_corrcoef_equal_numpy_and_match_jax(kw, jax64):
    m = RNG.uniform(-2, 2, (3, 5)) if kw.get("rowvar", True) else RNG.uniform(-2, 2, (5, 3))
    _against_jax(jax64, lambda x: np.cov(x, **kw), lambda x: jax64.numpy.cov(x, **kw), m)
    if set(kw) <= {"rowvar"}:
        _against_jax(jax64, lambda x: np.corrcoef(x, **kw), lambda x: jax64.numpy.corrcoef(x, **kw), m)


def test_cov_of_two_variables_by_hand_and_its_aweights_differentiated():
    x, y = np.array([1.0, 2.0, 4.0]), np.array([0.0, 1.0, -1.0])
    # cov(x, y)[0, 1] = sum((x - 7/3)(y - 0)) / 2: derivative in y is (x - 7/3) / 2
    _assert_jacobians(lambda v: np.cov(x, v)[0, 1], y, (x - 7 / 3) / 2)
    w = np.array([1.0, 2.0, 1.0])
    g = ad.grad(lambda v: np.cov(x, y, aweights=v)[0, 1])(w)
    h = 1e-6
    fd = [
        (np.cov(x, y, aweights=w + h * e)[0, 1] - np.cov(x, y, aweights=w - h * e)[0, 1]) / (2 * h)
        for e in np.eye(3)
    ]
    np.testing.assert_allclose(g, fd, rtol=1e-7)
