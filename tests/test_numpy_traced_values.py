"""NumPy functions on traced values that once refused them, against JAX in both modes and NumPy's values."""

import numpy as np
import pytest

import ad
import ad.numpy as anp

X = np.array([[0.3, -1.7, 2.4], [-0.6, 1.2, 0.9]])
MASK = np.array([[True, False, True], [False, True, True]])


def _both_modes(f, x, jf, jax):
    """grad of sum(f(x) * w) and the JVP of f along t, each against JAX's, and f's value against NumPy."""
    w = np.linspace(0.5, 1.5, np.size(f(x))).reshape(np.shape(f(x)))
    t = np.cos(np.arange(x.size)).reshape(x.shape)
    ours = ad.grad(lambda x: np.sum(f(x) * w))(x)
    theirs = jax.grad(lambda x: jax.numpy.sum(jf(x) * w))(x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
    out, tangent = ad.jvp(f, (x,), (t,))
    jout, jtangent = jax.jvp(jf, (x,), (t,))
    np.testing.assert_allclose(out, f(x), rtol=1e-15, atol=0)
    np.testing.assert_allclose(out, jout, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(tangent, jtangent, rtol=1e-12, atol=1e-14)


def test_fix_rounds_toward_zero_with_a_zero_derivative(jax64):
    f = lambda x: np.fix(3 * x) * x  # noqa: E731
    _both_modes(f, X, lambda x: jax64.numpy.trunc(3 * x) * x, jax64)  # jnp.fix, now deprecated for trunc
    np.testing.assert_array_equal(np.fix(-0.5 * X), np.trunc(-0.5 * X))
    np.testing.assert_array_equal(ad.jvp(np.fix, (X,), (X,))[1], np.zeros_like(X))


@pytest.mark.parametrize(
    "name", ["ascontiguousarray", "asfortranarray", "asarray_chkfinite", "asarray", "asanyarray"]
)
def test_ad_numpy_conversions_are_the_identity_on_a_traced_value(name, jax64):
    ours, theirs = getattr(anp, name), jax64.numpy.asarray  # JAX keeps asarray alone
    _both_modes(lambda x: ours(x) ** 2, X, lambda x: theirs(x) ** 2, jax64)
    _both_modes(lambda x: ours(x.T) * x.T, X, lambda x: theirs(x.T) * x.T, jax64)


def test_the_conversions_lay_out_the_primal_as_numpy_does():
    c, f = [], []
    ad.grad(lambda x: c.append(anp.ascontiguousarray(x.T)) or f.append(anp.asfortranarray(x)) or np.sum(x))(X)
    assert c[0].flags.c_contiguous and not np.isfortran(c[0])
    assert f[0].flags.f_contiguous and np.isfortran(f[0])
    out = ad.jvp(lambda x: anp.require(x, np.float32, "F"), (X,), (X,))
    assert out[0].dtype == np.float32 and out[1].dtype == np.float32 and out[0].flags.f_contiguous
    np.testing.assert_array_equal(out[1], X.astype(np.float32))
    assert ad.jvp(anp.ascontiguousarray, (np.float64(2.0),), (np.float64(1.0),))[0].shape == (1,)


def test_asarray_chkfinite_refuses_a_non_finite_primal_as_numpy_does():
    with pytest.raises(ValueError, match="infs or NaNs"):
        ad.grad(lambda x: np.sum(anp.asarray_chkfinite(np.log(x))))(X)
    with pytest.raises(ValueError, match="infs or NaNs"):
        ad.jvp(lambda x: anp.asarray_chkfinite(np.log(x - x)), (X,), (X,))


@pytest.mark.parametrize(
    "convert",
    [np.asarray, np.asanyarray, np.ascontiguousarray, np.asfortranarray, np.require, np.asarray_chkfinite],
)
def test_numpys_own_conversions_still_refuse_and_name_the_way_out(convert):
    # NumPy converts without asking the value, so it cannot be handed a traced one: it refuses
    for run in (lambda f: ad.grad(f)(X), lambda f: ad.jvp(f, (X,), (X,))):
        with pytest.raises(TypeError, match="would drop its derivative.*ad.numpy"):
            run(lambda x: np.sum(convert(x)))


def test_shape_only_indices_are_constants_of_every_engine():
    for name in ("diag_indices_from", "tril_indices_from", "triu_indices_from"):
        square = X[:, :2]
        expected = getattr(np, name)(square)
        seen = []
        ad.grad(lambda x: seen.append(getattr(np, name)(x)) or np.sum(x[getattr(np, name)(x)] ** 2))(square)
        ad.jvp(lambda x: seen.append(getattr(np, name)(x)) or x, (square,), (square,))
        for got in seen:
            assert all(type(i) is np.ndarray for i in got)
            np.testing.assert_array_equal(np.stack(got), np.stack(expected))
        assert ad.registry.lookup(getattr(np, name)).lowering == "shapes"
    g = ad.grad(lambda x: np.sum(x[np.triu_indices_from(x, k=1)] ** 2))(X[:, :2])
    np.testing.assert_array_equal(g, 2 * np.triu(X[:, :2], k=1))


def test_putmask_writes_into_a_tensor_as_numpy_writes_into_an_array():
    values = np.array([10.0, 20.0])
    expected = X.copy()
    np.putmask(expected, MASK, values)

    def f(x, v):
        y = x * 1.0
        np.putmask(y, MASK, v)
        return y

    np.testing.assert_array_equal(f(X, values), expected)
    gx, gv = ad.jacrev(f, argnums=(0, 1))(X, values)
    # every written entry forgets x and reads values[n % 2] at its flat position n
    flat = np.flatnonzero(MASK)
    jx = np.eye(X.size)
    jx[flat, flat] = 0
    jv = np.zeros((X.size, 2))
    jv[flat, flat % 2] = 1
    np.testing.assert_array_equal(gx.reshape(X.size, X.size), jx)
    np.testing.assert_array_equal(gv.reshape(X.size, 2), jv)
    with pytest.raises(TypeError, match="forward mode"):
        ad.jvp(lambda x: f(x, values), (X,), (X,))
    with pytest.raises(ValueError, match="same size"):
        ad.grad(lambda x: np.sum(f(x, values[:1]) if np.putmask(x * 1.0, MASK[0], values) else x))(X)


def test_histogram_bin_edges_follow_min_and_max_as_jax(jax64):
    jnp = jax64.numpy
    for bins in (4, 1):
        _both_modes(
            lambda x: np.histogram_bin_edges(x, bins), X, lambda x: jnp.histogram_bin_edges(x, bins), jax64
        )
    # given edges or a range, the edges are constants of x (and given traced edges are themselves)
    _both_modes(lambda x: x[0] * np.histogram_bin_edges(x, 2, range=(-1, 1)).sum(), X,
                lambda x: x[0] * jnp.histogram_bin_edges(x, 2, range=(-1, 1)).sum(), jax64)  # fmt: skip
    _both_modes(lambda x: np.histogram_bin_edges(X, np.sort(x[0])), X,
                lambda x: jnp.histogram_bin_edges(X, jnp.sort(x[0])), jax64)  # fmt: skip
    flat = np.full(3, 0.7)  # NumPy and JAX widen an empty range by 0.5 on each side
    _both_modes(lambda x: np.histogram_bin_edges(x, 2), flat, lambda x: jnp.histogram_bin_edges(x, 2), jax64)
    with pytest.raises(NotImplementedError, match="bin estimator.*non-smooth"):
        ad.grad(lambda x: np.sum(np.histogram_bin_edges(x, "auto")))(X)


def test_layout_attributes_read_the_primal_and_are_never_traced():
    seen = []

    def f(x):
        y = x.T
        seen.append((np.isfortran(x), np.isfortran(y), x.nbytes, y.itemsize, y.flags.f_contiguous))
        return np.sum(y)

    ad.grad(f)(X)
    ad.jvp(f, (X,), (X,))
    ad.grad(f)(X.astype(np.float32))
    assert seen == [(False, True, 48, 8, True)] * 2 + [(False, True, 24, 4, True)]
    t = ad.tensor(X)
    with pytest.raises(AttributeError):
        t.nbytes = 0


@pytest.mark.parametrize("name", ["sum", "prod", "mean"])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_reductions_take_where_as_jax(name, axis, jax64):
    ours, theirs = getattr(np, name), getattr(jax64.numpy, name)
    _both_modes(
        lambda x: ours(x, axis=axis, where=MASK), X, lambda x: theirs(x, axis=axis, where=MASK), jax64
    )
    row = MASK[1]  # broadcast along the rows
    _both_modes(lambda x: ours(x, axis=axis, where=row, keepdims=True), X,
                lambda x: theirs(x, axis=axis, where=row, keepdims=True), jax64)  # fmt: skip


def test_ufunc_reduce_takes_where_as_sum():
    g = ad.grad(lambda x: np.add.reduce(x * x, axis=None, where=MASK))(X)
    np.testing.assert_array_equal(g, np.where(MASK, 2 * X, 0.0))
    assert ad.jvp(lambda x: np.add.reduce(x, where=MASK), (X,), (X,))[0] == pytest.approx(
        np.add.reduce(X, where=MASK)
    )


@pytest.mark.parametrize("dtype", [np.int64, np.float32, np.complex64])
def test_a_mean_with_where_has_numpys_values_and_dtype(dtype):
    # the count's scale was cast to the array's dtype: an integer array's mean lost it
    a = (np.arange(6).reshape(2, 3) + 1).astype(dtype)
    row = np.array([True, False, True])
    want = np.mean(a, axis=1, where=row)
    got = np.mean(ad.tensor(a), axis=1, where=row).numpy()
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_ix_reshapes_traced_sequences_to_an_open_mesh(jax64):
    a, b = X[0], X[1, :2]

    def mesh_product(ix):
        return lambda x: ix(x[0], x[1, :2])[0] * ix(x[0], x[1, :2])[1]

    _both_modes(mesh_product(np.ix_), X, mesh_product(jax64.numpy.ix_), jax64)
    mesh = ad.jvp(lambda a: np.ix_(a, [True, False, True]), (a,), (b[:1].repeat(3),))[0]
    np.testing.assert_array_equal(mesh[1], [[0, 2]])


def test_printing_a_traced_value_prints_its_primal():
    out = []
    ad.grad(lambda x: out.append((np.array_str(x), np.array_repr(x), np.array2string(x))) or np.sum(x))(X)
    assert out == [(np.array_str(X), np.array_repr(X), np.array2string(X))]


def test_jacobian_forward_takes_a_complex_output_of_real_inputs_as_jacfwd(jax64):
    f = lambda x: np.exp(1j * x) * x  # noqa: E731
    x = np.array([0.1, 0.2, 0.3])
    expected = jax64.jacfwd(lambda x: jax64.numpy.exp(1j * x) * x)(x)
    np.testing.assert_allclose(ad.jacfwd(f)(x), expected, rtol=1e-14)
    for mode in ("forward", "auto"):
        np.testing.assert_allclose(ad.jacobian(f, mode=mode)(x), expected, rtol=1e-14)
