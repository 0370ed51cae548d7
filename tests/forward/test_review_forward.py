"""Forward mode at its edges, against JAX: chunk sizes, empty and 0-d inputs, mixed dtypes,
complex inputs, what jvp returns for outputs that are not numbers, the chunk= it accepts,
and hand-made Duals (their one level, and forward-over-reverse built by hand)."""

import numpy as np
import pytest

import ad
from ad.testing import assert_trees_close


def _tree_close(got, want, rtol=1e-12, dtypes=True):
    assert_trees_close(got, want, rtol, 1e-14, dtypes=dtypes)


# -- chunks and sizes ---------------------------------------------------------------------------
def _f(xp):
    return lambda x: xp.sin(x) * xp.cumsum(x) + x[::-1] ** 2


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 6, 7, 8, 100])
def test_jacfwd_in_chunks_that_do_not_divide_n_equals_jax(jax64, chunk):
    jnp = jax64.numpy
    x = np.linspace(-0.7, 1.1, 7)
    want = jax64.jacfwd(_f(jnp))(jnp.asarray(x))
    np.testing.assert_allclose(ad.jacfwd(_f(np), chunk=chunk)(x), want, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("chunk", [None, 1, 4])
def test_jacfwd_of_a_pytree_in_chunks_that_cut_through_leaves_equals_jax(jax64, chunk):
    jnp = jax64.numpy

    def f(xp):
        return lambda p: {"y": xp.tanh(p["a"] @ p["b"]) * p["c"][0], "z": (p["c"][1] * p["b"],)}

    p = {
        "a": np.arange(6.0).reshape(2, 3) / 7,
        "b": np.array([0.3, -0.2, 0.9]),
        "c": [np.float64(1.5), np.array(0.4)],
    }
    pj = jax64.tree_util.tree_map(jnp.asarray, p)
    _tree_close(ad.jacfwd(f(np), chunk=chunk)(p), jax64.jacfwd(f(jnp))(pj))


@pytest.mark.parametrize("shape", [(0,), (0, 3), (3, 0)])
def test_jacfwd_of_an_empty_input_has_jax_shape(jax64, shape):
    jnp = jax64.numpy
    f = lambda x: x.sum(0) * 2.0  # noqa: E731
    want = jax64.jacfwd(f)(jnp.zeros(shape))
    for chunk in (None, 1):
        got = ad.jacfwd(f, chunk=chunk)(np.zeros(shape))
        assert got.shape == want.shape
        assert got.dtype == np.float64


def test_jacfwd_of_a_0d_and_a_size_1_input_equals_jax(jax64):
    jnp = jax64.numpy
    f = lambda xp: lambda x: xp.stack([xp.sin(x) * x, x**3])  # noqa: E731
    for x in (np.array(0.3), np.array([0.3]), 0.3):
        got = ad.jacfwd(f(np))(x)
        want = jax64.jacfwd(f(jnp))(jnp.asarray(x))
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-14)


# -- dtypes ---------------------------------------------------------------------------------------
def test_mixed_float32_and_float64_leaves_give_jax_dtypes(jax64):
    """JAX: a jacfwd block has the output's dtype; a jvp's tangent the output's."""
    jnp = jax64.numpy

    def f(xp):
        return lambda d: (d["a"] * d["b"], d["a"] * 2)

    d = {"a": np.array([0.5, 0.25], np.float32), "b": np.array([1.5, -2.0])}
    dj = jax64.tree_util.tree_map(jnp.asarray, d)
    for chunk in (None, 1):
        _tree_close(ad.jacfwd(f(np), chunk=chunk)(d), jax64.jacfwd(f(jnp))(dj), rtol=1e-6)
    t = {"a": np.array([1.0, -1.0], np.float32), "b": np.array([0.5, 2.0])}
    got = ad.jvp(f(np), (d,), (t,))
    want = jax64.jvp(f(jnp), (dj,), (jax64.tree_util.tree_map(jnp.asarray, t),))
    _tree_close(got, want, rtol=1e-6)


def test_holomorphic_jacfwd_in_chunks_equals_jax(jax64):
    jnp = jax64.numpy
    z = np.array([0.3 + 0.2j, -0.1 + 0.5j, 1.2 - 0.4j])
    f = lambda xp: lambda z: xp.sin(z) * z**2 + xp.exp(z[::-1])  # noqa: E731
    want = jax64.jacfwd(f(jnp), holomorphic=True)(jnp.asarray(z))
    for chunk in (None, 1, 2):
        got = ad.jacfwd(f(np), holomorphic=True, chunk=chunk)(z)
        assert got.dtype == np.complex128
        np.testing.assert_allclose(got, want, rtol=1e-14)


def test_jvp_of_a_non_holomorphic_complex_function_equals_jax(jax64):
    jnp = jax64.numpy
    z, t = np.array([0.3 + 0.2j, -0.1 + 0.5j]), np.array([1 + 1j, 2 - 1j])
    f = lambda xp: lambda z: xp.abs(z) ** 2 * z + xp.conj(z) * xp.real(z)  # noqa: E731
    got = ad.jvp(f(np), (z,), (t,))
    want = jax64.jvp(f(jnp), (jnp.asarray(z),), (jnp.asarray(t),))
    _tree_close(got, want, rtol=1e-14)


@pytest.mark.parametrize("x", [np.arange(3), np.array([True]), 3, np.array([1.0], dtype=object)])
def test_integer_bool_and_object_inputs_are_refused(x):
    for call in (lambda: ad.jacfwd(lambda x: x * 2.0)(x), lambda: ad.jvp(lambda x: x * 2.0, (x,), (x,))):
        with pytest.raises(TypeError, match="floating-point inputs"):
            call()


def test_complex_input_without_holomorphic_and_real_input_with_it_are_refused():
    f = lambda z: z * z  # noqa: E731
    with pytest.raises(TypeError, match="holomorphic=True"):
        ad.jacfwd(f)(np.array([1.0 + 1j]))
    with pytest.raises(TypeError, match="needs complex inputs"):
        ad.jacfwd(f, holomorphic=True)(np.array([1.0]))


def test_a_tangent_of_another_shape_is_refused_and_of_another_dtype_is_cast_to_the_primals():
    """JAX refuses a tangent of another dtype; ad casts it to the primal's tangent dtype
    (docs/api.md), and refuses one of another shape, broadcastable or batched-looking."""
    f = lambda x: x * x  # noqa: E731
    for t in (np.ones(1), np.ones((2, 3))):
        with pytest.raises(ValueError, match="does not match primal shape"):
            ad.jvp(f, (np.ones(3),), (t,))
    y, t = ad.jvp(f, (np.ones(2, np.float32),), (np.ones(2),))
    assert t.dtype == np.float32 and np.array_equal(t, [2.0, 2.0])
    with pytest.raises(TypeError, match="must be numbers of that kind"):
        ad.jvp(f, (np.ones(2),), (np.ones(2) * 1j,))


# -- what jvp returns ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "out",
    [lambda x: lambda y: x * y, lambda x: "label", lambda x: (x, lambda y: y)],
    ids=["a closure", "a string", "a closure among arrays"],
)
def test_jvp_refuses_an_output_that_is_not_numbers(out):
    """A function-valued f has a derivative (here y -> y), which jvp cannot give: JAX raises,
    and jvp used to return a zero tangent for it."""
    with pytest.raises(TypeError, match="return arrays of numbers"):
        ad.jvp(out, (np.float64(1.0),), (np.float64(1.0),))


def test_jvp_of_integer_and_constant_outputs_has_zero_tangents():
    x, t = np.array([0.3, 0.9, 0.1]), np.ones(3)
    (i, c), (ti, tc) = ad.jvp(lambda x: (np.argmax(x), 2.0), (x,), (t,))
    assert i == 1 and c == 2.0
    assert np.all(ti == 0) and np.all(tc == 0)


# -- chunk= -------------------------------------------------------------------------------------
@pytest.mark.parametrize("chunk", [0, -1, 2.5, True, "4"])
def test_a_chunk_that_is_not_a_positive_whole_number_is_refused(chunk):
    """chunk=0 used to run the default chunk and chunk=-1 one direction per pass."""
    with pytest.raises((TypeError, ValueError), match="chunk"):
        ad.jacfwd(np.sin, chunk=chunk)
    with pytest.raises((TypeError, ValueError), match="chunk"):
        ad.jacrev(np.sin, chunk=chunk)(np.ones(3))
    with pytest.raises((TypeError, ValueError), match="chunk"):
        ad.jacobian(np.sin, chunk=chunk)(np.ones(3))


def test_numpy_integer_chunks_are_accepted():
    x = np.linspace(0.1, 1.0, 5)
    np.testing.assert_allclose(ad.jacfwd(np.sin, chunk=np.int64(2))(x), np.diag(np.cos(x)), rtol=1e-15)
    np.testing.assert_allclose(ad.jacrev(np.sin, chunk=np.int32(2))(x), np.diag(np.cos(x)), rtol=1e-15)


# -- hand-made Duals ------------------------------------------------------------------------------
def test_a_dual_over_an_eager_tensor_is_forward_over_reverse_by_hand():
    x = ad.tensor(np.array([1.0, 2.0]), requires_grad=True)
    v = np.array([1.0, 0.5])
    y = np.sum(ad.Dual(x, v) ** 3)
    assert np.isclose(float(y.primal.detach().numpy()), 9.0)
    y.tangent.backward()  # d/dx of the JVP 3 x^2 v is 6 x v
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.array([1.0, 2.0]) * v)


def test_grad_and_hessian_of_a_hand_made_dual_carry_its_tangent():
    """grad at Dual(x, v) is Dual(grad f(x), H v): a transform's level is above the Dual's."""
    x, v = np.array([1.0, 2.0]), np.array([1.0, 0.5])
    f = lambda x: np.sum(x**3)  # noqa: E731
    g = ad.grad(f)(ad.Dual(x, v))
    np.testing.assert_allclose(g.primal, 3 * x**2)
    np.testing.assert_allclose(g.tangent, 6 * x * v)
    _, Hv = ad.hvp(f, (x,), (v,))
    np.testing.assert_allclose(g.tangent, Hv)


def test_hand_made_duals_at_one_level_add_their_perturbations():
    a, b = ad.Dual(np.array(2.0), np.array(1.0)), ad.Dual(np.array(3.0), np.array(1.0))
    y = a * b
    assert y.primal == 6.0 and y.tangent == 5.0


@pytest.mark.parametrize("where", ["primal", "tangent"])
def test_a_hand_made_dual_of_hand_made_duals_is_refused(where):
    """Hand-made Duals share one level: Dual(3 + e1, 1) * (3 + e1) gave 9 + 3 e1 + (6 + e1) e2
    where (3 + e1)(3 + e1 + e2) is 9 + 6 e1 + (3 + e1) e2."""
    inner = ad.Dual(3.0, 1.0)
    args = (inner, 1.0) if where == "primal" else (3.0, inner)
    with pytest.raises(TypeError, match="hand-made Dual"):
        ad.Dual(*args)


def test_a_hand_made_dual_over_a_value_traced_by_a_transform_is_refused():
    """The transform's level is above the hand-made Dual's, so the Dual was a constant to it:
    jvp of x -> (Dual(x, 1) * x).tangent, which is x, gave a zero tangent, not v."""

    def f(x):
        return (ad.Dual(x, np.ones_like(x)) * x).tangent

    x, v = np.array([2.0, 3.0]), np.array([1.0, -1.0])
    with pytest.raises(TypeError, match="traced by a transform"):
        ad.jvp(f, (x,), (v,))
    with pytest.raises(TypeError, match="traced by a transform"):
        ad.grad(lambda x: np.sum(f(x)))(x)
    # the way to write it: an inner jvp, which opens a level of its own
    inner = lambda x: ad.jvp(lambda y: y * x, (x,), (np.ones_like(x),))[1]  # noqa: E731
    np.testing.assert_allclose(ad.jvp(inner, (x,), (v,))[1], v)
