"""numpy.linalg's array-API functions, fftfreq, apply_over_axes, histogramdd and histogram2d,
the set routines and unique_*, and the writing functions: hand-derived derivatives, NumPy's
values and errors, and JAX as an oracle (one jitted function per family)."""

import numpy as np
import pytest

import ad
from ad import registry

RNG = np.random.default_rng(0)


def _u(*shape):
    return RNG.uniform(-2.0, 2.0, shape)


# ---------------------------------------------------------------------------------------
# numpy.linalg: NumPy's values, its errors, and the derivatives by hand

A, B, V, W3 = _u(3, 3), _u(3, 4), _u(3), _u(3)

LINALG_CALLS = [
    ("matmul", (A, B), {}),
    ("outer", (V, W3), {}),
    ("tensordot", (B, B.T), {"axes": 1}),
    ("trace", (_u(2, 3, 4),), {"offset": 1}),
    ("diagonal", (_u(2, 4, 3),), {"offset": -1}),
    ("matrix_transpose", (_u(2, 3, 4),), {}),
    ("vecdot", (B, _u(4)), {}),
    ("cross", (_u(2, 3), W3), {}),
    ("svdvals", (B,), {}),
    ("matrix_norm", (_u(2, 3, 4),), {"ord": "nuc", "keepdims": True}),
    ("vector_norm", (_u(2, 3, 4),), {"axis": (2, 0), "ord": 3, "keepdims": True}),
    ("vector_norm", (_u(2, 3, 4),), {}),
]


@pytest.mark.parametrize("name, args, kwargs", LINALG_CALLS, ids=[c[0] for c in LINALG_CALLS])
def test_linalg_functions_dispatch_to_their_ops_and_give_numpys_values(name, args, kwargs):
    func = getattr(np.linalg, name)
    assert registry.lookup(func) is not None, f"np.linalg.{name} has no op"
    x = ad.tensor(args[0], requires_grad=True)
    out = func(x, *args[1:], **kwargs)
    assert out.grad_fn is not None
    expected = func(*args, **kwargs)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-13, atol=1e-13)


def test_linalg_diagonal_of_a_tensor_is_a_view_as_numpys():
    y = ad.tensor(_u(2, 3, 3)) * 1
    d = np.linalg.diagonal(y, offset=1)
    assert np.shares_memory(d.numpy(), y.numpy())


def test_linalg_trace_sums_the_offset_diagonal_of_the_last_two_axes():
    x = _u(2, 3, 4)
    J = ad.jacrev(lambda x: np.linalg.trace(x, offset=1))(x)
    mask = np.eye(3, 4, k=1)
    np.testing.assert_array_equal(J, np.einsum("ij,kl->ijkl", np.eye(2), mask).reshape(2, 2, 3, 4))
    y = np.linalg.trace(ad.tensor(x), dtype=np.float32)
    assert y.dtype == np.float32 and np.allclose(y.numpy(), np.linalg.trace(x, dtype=np.float32))


def test_linalg_outer_and_cross_refuse_what_numpy_refuses():
    for call in (
        lambda x: np.linalg.outer(x, V),  # numpy.outer would ravel a matrix
        lambda x: np.linalg.cross(x[:, :2], x[:, :2]),  # numpy.cross takes 2-vectors
    ):
        with pytest.raises(ValueError) as ours:
            call(ad.tensor(A))
        with pytest.raises(ValueError) as numpys:
            call(A)
        assert str(ours.value) == str(numpys.value)


def test_vecdot_conjugates_its_first_operand():
    z1, z2 = _u(4) + 1j * _u(4), _u(4) + 1j * _u(4)
    t1, t2 = _u(4) + 1j * _u(4), _u(4) + 1j * _u(4)
    out, tangent = ad.jvp(lambda a, b: np.linalg.vecdot(a, b), (z1, z2), (t1, t2))
    np.testing.assert_allclose(out, np.sum(np.conj(z1) * z2), rtol=1e-13)
    np.testing.assert_allclose(tangent, np.sum(np.conj(t1) * z2 + np.conj(z1) * t2), rtol=1e-13)


def test_svdvals_derivatives_are_the_singular_vector_products():
    u, s, vt = np.linalg.svd(B, full_matrices=False)
    J = ad.jacfwd(np.linalg.svdvals)(B)
    np.testing.assert_allclose(J, np.einsum("ik,kj->kij", u, vt), atol=1e-12)  # ds_k/dA = u_k v_k^T


def test_matrix_norm_gradients_by_hand():
    u, s, vt = np.linalg.svd(A)
    col, row = np.argmax(np.sum(abs(A), axis=0)), np.argmax(np.sum(abs(A), axis=1))
    expected = {
        "fro": A / np.sqrt(np.sum(A * A)),
        "nuc": u @ vt,
        2: np.outer(u[:, 0], vt[0]),
        -2: np.outer(u[:, -1], vt[-1]),
        1: np.sign(A) * (np.arange(3) == col),
        np.inf: np.sign(A) * (np.arange(3) == row)[:, None],
    }
    for order, g in expected.items():
        np.testing.assert_allclose(
            ad.grad(lambda a, o=order: np.linalg.matrix_norm(a, ord=o))(A), g, atol=1e-12
        )


def test_vector_norm_over_an_axis_tuple_is_a_vector_norm_not_a_matrix_norm():
    x = _u(3, 4)
    for order, value, g in (
        (1, np.sum(abs(x)), np.sign(x)),  # the matrix 1-norm would be the largest column sum
        (np.inf, np.max(abs(x)), np.sign(x) * (abs(x) == np.max(abs(x)))),
        (2, np.sqrt(np.sum(x * x)), x / np.sqrt(np.sum(x * x))),
        (0, np.count_nonzero(x), np.zeros_like(x)),
    ):
        f = lambda x, o=order: np.linalg.vector_norm(x, axis=(0, 1), ord=o)  # noqa: E731
        assert np.isclose(f(x), value) and np.isclose(f(x), np.linalg.vector_norm(x, axis=(0, 1), ord=order))
        np.testing.assert_allclose(ad.grad(f)(x), g, atol=1e-14)
        np.testing.assert_allclose(ad.jacfwd(f)(x), g, atol=1e-14)
    assert np.linalg.matrix_norm(x, ord=1) != np.linalg.vector_norm(x, axis=(0, 1), ord=1)


def test_linalg_functions_match_jax(jax64):
    jnp = jax64.numpy
    c = RNG.standard_normal(8)

    def f(xp):
        def f(a, b, v, w):
            la = xp.linalg
            parts = [
                xp.sum(la.matmul(a, b) * b[0]),
                xp.sum(la.outer(v, w) * a),
                xp.sum(la.tensordot(b, b.T, axes=1) * a),
                la.trace(b, offset=1) + xp.sum(la.diagonal(b, offset=-1) * v[:2]),
                xp.sum(la.matrix_transpose(b)[0] * v) + la.vecdot(v, w),
                xp.sum(la.cross(v, w) * v),
                xp.sum(la.svdvals(b) * w),
            ]
            norms = [la.matrix_norm(a, ord=o) for o in ("fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf)]
            norms += [la.vector_norm(b, axis=(1, 0), ord=o) for o in (1, 2, 3.5, -1.5, np.inf, -np.inf)]
            norms += [xp.sum(la.vector_norm(b, axis=0, ord=3, keepdims=True) * w[:, None])]
            return sum(parts) + xp.sum(xp.stack(norms[:8]) * c) + sum(norms[8:])

        return f

    args = (A, B, V, W3)
    ours = ad.grad(f(np), argnums=(0, 1, 2, 3))(*args)
    theirs = jax64.jit(jax64.grad(f(jnp), argnums=(0, 1, 2, 3)))(*args)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------
# fftfreq and rfftfreq: k / (n d)


@pytest.mark.parametrize("n", [1, 6, 7])
def test_fftfreq_and_rfftfreq_derivatives_are_minus_k_over_n_d_squared(n):
    d = 0.37
    for name, k in (("fftfreq", np.fft.fftfreq(n) * n), ("rfftfreq", np.fft.rfftfreq(n) * n)):
        numpys = getattr(np.fft, name)  # on a traced d, NumPy's own arithmetic (no dispatch)
        op = registry.get(name)
        for f in (lambda d: numpys(n, d), lambda d: ad.trace.apply(op, (n, d), {})):
            np.testing.assert_allclose(f(d), k / (n * d), rtol=1e-15)
            np.testing.assert_allclose(ad.jacfwd(f)(d), -k / (n * d * d), rtol=1e-14)
            np.testing.assert_allclose(ad.jacrev(f)(d), -k / (n * d * d), rtol=1e-14)


# ---------------------------------------------------------------------------------------
# apply_over_axes


def test_apply_over_axes_loops_over_the_axes_as_numpy():
    x = _u(2, 3, 4)
    for func, axes in ((np.sum, [0, 2]), (np.cumsum, 1), (np.max, [-1, 0])):
        np.testing.assert_array_equal(
            np.apply_over_axes(func, ad.tensor(x), axes).numpy(), np.apply_over_axes(func, x, axes)
        )
    g = ad.grad(lambda x: np.sum(np.apply_over_axes(np.sum, x, [0, 2]) ** 2))(x)
    np.testing.assert_allclose(g, np.broadcast_to(2 * np.sum(x, axis=(0, 2), keepdims=True), x.shape))
    with pytest.raises(ValueError, match="correct shape"):
        np.apply_over_axes(lambda a, axis: np.ravel(a), ad.tensor(x), 0)


# ---------------------------------------------------------------------------------------
# histogramdd and histogram2d

SAMPLE = np.array([[0.1, 0.5], [0.5, 2.2], [2.0, 0.9], [2.6, 1.6], [0.7, 0.2], [1.3, 1.4]])


def test_histogramdd_counts_are_linear_in_the_weights():
    w = _u(6)
    for bins in (3, (2, [0.0, 1.0, 3.0])):
        f = lambda w, b=bins: np.histogramdd(SAMPLE, b, weights=w)[0]  # noqa: E731
        basis = np.stack([np.histogramdd(SAMPLE, bins, weights=e)[0] for e in np.eye(6)], axis=-1)
        np.testing.assert_allclose(f(w), np.histogramdd(SAMPLE, bins, weights=w)[0], rtol=1e-14)
        np.testing.assert_array_equal(ad.jacfwd(f)(w), basis)
        np.testing.assert_array_equal(ad.jacrev(f)(w), basis)


def test_histogram_edges_follow_the_columns_min_and_max():
    """edges_k = min + k (max - min) / n where NumPy computes them so; constants where given."""
    x, y = SAMPLE[:, 0], SAMPLE[:, 1]
    counts, ex, ey = np.histogram2d(ad.tensor(x), ad.tensor(y), bins=(3, [0.0, 1.0, 3.0]))
    reference = np.histogram2d(x, y, bins=(3, [0.0, 1.0, 3.0]))
    for ours, numpys in zip((counts, ex, ey), reference):
        np.testing.assert_allclose(ours.numpy() if isinstance(ours, ad.Tensor) else ours, numpys, rtol=1e-15)
    J = ad.jacrev(lambda x: np.histogram2d(x, y, bins=(3, [0.0, 1.0, 3.0]))[1])(x)
    k = np.arange(4) / 3
    expected = np.zeros((4, 6))
    expected[:, np.argmin(x)], expected[:, np.argmax(x)] = 1 - k, k
    np.testing.assert_allclose(J, expected, atol=1e-15)
    assert ad.jacfwd(lambda y: np.histogram2d(x, y, bins=(3, [0.0, 1.0, 3.0]))[2])(y).shape == (3, 6)
    assert not ad.jacfwd(lambda y: np.histogram2d(x, y, bins=(3, [0.0, 1.0, 3.0]))[2])(y).any()


def test_histogramdd_takes_a_sequence_of_traced_columns():
    x, y = SAMPLE[:, 0], SAMPLE[:, 1]
    counts, edges = np.histogramdd([ad.tensor(x), ad.tensor(y)], bins=2, density=True)
    reference = np.histogramdd([x, y], bins=2, density=True)
    np.testing.assert_allclose(counts.numpy(), reference[0], rtol=1e-14)
    for e, r in zip(edges, reference[1]):
        np.testing.assert_allclose(e.numpy(), r, rtol=1e-15)


def test_histograms_match_jax(jax64):
    jnp = jax64.numpy
    c = RNG.standard_normal((3, 2))

    def f(xp):
        def f(sample, w):
            h, edges = xp.histogramdd(sample, bins=(3, 2), weights=w, density=True)
            h2, ex, ey = xp.histogram2d(sample[:, 0], sample[:, 1], bins=2, weights=w * w)
            return xp.sum(h * c) + xp.sum(h2 * c[:2]) + xp.sum(edges[0] * edges[0]) + xp.sum(ex * ey)

        return f

    w = RNG.uniform(0.5, 1.5, 6)
    ours = ad.grad(f(np), argnums=(0, 1))(SAMPLE, w)
    theirs = jax64.jit(jax64.grad(f(jnp), argnums=(0, 1)))(SAMPLE, w)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------
# the set routines and unique_*: NumPy's values, gathered from first occurrences

AR1 = np.array([3.0, 1.0, 2.0, 1.0, np.nan, 5.0, -0.5])
AR2 = np.array([[2.0, 7.0], [1.0, 1.0], [4.0, np.nan]])


@pytest.mark.parametrize("assume_unique", [False, True])
def test_set_routines_give_numpys_values_and_indices(assume_unique):
    t1, t2 = ad.tensor(AR1), ad.tensor(AR2)
    calls = [(np.union1d, {}), (np.intersect1d, {"assume_unique": assume_unique})]
    calls += [
        (np.setdiff1d, {"assume_unique": assume_unique}),
        (np.setxor1d, {"assume_unique": assume_unique}),
    ]
    for func, kw in calls:
        np.testing.assert_array_equal(func(t1, t2, **kw).numpy(), func(AR1, AR2, **kw))
    ours = np.intersect1d(t1, t2, assume_unique, return_indices=True)
    for a, b in zip(ours, np.intersect1d(AR1, AR2, assume_unique, return_indices=True)):
        np.testing.assert_array_equal(a.numpy() if isinstance(a, ad.Tensor) else a, b)


def test_set_values_carry_the_derivative_of_their_first_occurrence():
    a, b = np.array([3.0, 1.0, 3.0]), np.array([1.0, 5.0, 5.0])

    def J(func):
        return ad.jacrev(func, argnums=(0, 1))(a, b)

    ja, jb = J(np.union1d)  # [1, 3, 5]: a[1], a[0], b[1]
    np.testing.assert_array_equal(ja, [[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(jb, [[0, 0, 0], [0, 0, 0], [0, 1, 0]])
    ja, jb = J(np.intersect1d)  # [1], from a (as in JAX)
    np.testing.assert_array_equal(ja, [[0, 1, 0]])
    assert not jb.any()
    ja, jb = J(np.setdiff1d)  # [3]: a[0]; none in b
    np.testing.assert_array_equal(ja, [[1, 0, 0]])
    assert not jb.any()
    ja, jb = J(np.setxor1d)  # [3, 5]: a[0], b[1]
    np.testing.assert_array_equal(ja, [[1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(jb, [[0, 0, 0], [0, 1, 0]])


def test_unique_functions_return_numpys_named_results_with_differentiable_values():
    x = np.array([[3.0, 1.0], [2.0, 1.0], [np.nan, np.nan]])
    t = ad.tensor(x, requires_grad=True)
    for name in ("unique_counts", "unique_inverse", "unique_all"):
        ours, numpys = getattr(np, name)(t), getattr(np, name)(x)
        assert type(ours) is type(numpys)
        np.testing.assert_array_equal(ours.values.detach().numpy(), numpys.values)
        for field in numpys._fields[1:]:
            assert isinstance(getattr(ours, field), np.ndarray)
            np.testing.assert_array_equal(getattr(ours, field), getattr(numpys, field))
    np.testing.assert_array_equal(np.unique_values(t).detach().numpy(), np.unique_values(x))
    (np.unique_all(t).values * np.arange(5.0)).sum().backward()  # values [1, 2, 3, nan, nan]
    np.testing.assert_array_equal(t.grad.numpy(), [[2.0, 0.0], [1.0, 0.0], [3.0, 4.0]])


def test_set_routines_and_unique_match_jax(jax64):
    jnp = jax64.numpy
    a, b = np.array([3.0, 1.0, 3.0, -2.0, 0.5]), np.array([1.0, 5.0, 5.0, 0.5])
    c = RNG.standard_normal(6)

    def f(xp, sized):
        def s(n):
            return {"size": n} if sized else {}

        def f(a, b):
            return (
                xp.sum(xp.union1d(a, b, **s(5)) * c[:5])
                + xp.sum(xp.intersect1d(a, b, **s(2)) * c[:2])
                + xp.sum(xp.setdiff1d(a, b, **s(2)) * c[2:4])
                + xp.sum(xp.setxor1d(a, b, **s(3)) * c[3:6])
                + xp.sum(xp.unique_values(a, **s(4)) * c[:4])
                + xp.sum(xp.unique_counts(b, **s(3)).values * c[:3])
                + xp.sum(xp.unique_inverse(a, **s(4)).values * c[1:5])
                + xp.sum(xp.unique_all(b, **s(3)).values * c[3:])
            )

        return f

    ours = ad.grad(f(np, False), argnums=(0, 1))(a, b)
    theirs = jax64.jit(jax64.grad(f(jnp, True), argnums=(0, 1)))(a, b)
    for x, y in zip(ours, theirs):
        np.testing.assert_allclose(x, y, atol=1e-15)


# ---------------------------------------------------------------------------------------
# the writing functions: JAX's out-of-place versions as the oracle


def test_writes_match_jaxs_out_of_place_versions(jax64):
    jnp = jax64.numpy
    weights = RNG.standard_normal((3, 4))

    def ours(a, v):
        b = a * 1
        np.fill_diagonal(b, v[:2])
        np.put(b, [5, -1], v[1:3] * 2)
        np.place(b, np.array([[0, 1, 0, 0]] * 3, bool), v)
        np.put_along_axis(b, np.array([[3], [1], [0]]), v[:, None] ** 2, 1)
        return np.sum(b * weights)

    def theirs(a, v):
        b = jnp.fill_diagonal(a, v[:2], inplace=False)
        b = jnp.put(b, jnp.array([5, -1]), v[1:3] * 2, mode="wrap", inplace=False)
        b = jnp.place(b, np.array([[0, 1, 0, 0]] * 3, bool), v, inplace=False)
        b = jnp.put_along_axis(b, jnp.array([[3], [1], [0]]), v[:, None] ** 2, 1, inplace=False)
        return jnp.sum(b * weights)

    a, v = _u(3, 4), _u(3)
    np.testing.assert_allclose(ours(a, v), theirs(a, v), rtol=1e-14)
    for x, y in zip(ad.grad(ours, argnums=(0, 1))(a, v), jax64.jit(jax64.grad(theirs, argnums=(0, 1)))(a, v)):
        np.testing.assert_allclose(x, y, rtol=1e-14, atol=1e-15)


def test_copyto_gradient_by_hand():
    def f(a, s):
        b = a * 1
        np.copyto(b, s, where=np.array([[True, False], [False, True]]))
        return b

    ja, js = ad.jacrev(f, argnums=(0, 1))(_u(2, 2), _u(2))
    np.testing.assert_array_equal(ja.reshape(4, 4), np.diag([0.0, 1.0, 1.0, 0.0]))
    np.testing.assert_array_equal(js, [[[1, 0], [0, 0]], [[0, 0], [0, 1]]])
