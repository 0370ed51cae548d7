"""ad.stop_gradient: the identity on values with a zero derivative in both modes, at every level
of nesting, on pytrees, under checkpoint and in eager Tensors; ad.compile refuses it by name.
JAX's lax.stop_gradient is the oracle."""

import numpy as np
import pytest

import ad
from ad import registry
from ad.testing import assert_trees_close
from ad.trace import Box
from ad.tree import flatten

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy
lax = jax.lax

X = np.array([0.3, -1.2, 2.0])
V = np.array([1.0, 0.5, -2.0])


def scalar_f(np_, stop):
    """sum(sin(x) * stop(x)^2 + x * stop(exp(x))): the stopped factors are constants."""
    return lambda x: np_.sum(np_.sin(x) * stop(x) ** 2 + x * stop(np_.exp(x)))


def vector_f(np_, stop):
    return lambda x: np_.tanh(x) * stop(x[::-1] * x) + stop(x)


OURS, THEIRS = (np, ad.stop_gradient), (jnp, lax.stop_gradient)


@pytest.mark.parametrize(
    "name, ours, theirs",
    [
        ("grad", lambda: ad.grad(scalar_f(*OURS))(X), lambda: jax.grad(scalar_f(*THEIRS))(X)),
        ("jacfwd", lambda: ad.jacfwd(vector_f(*OURS))(X), lambda: jax.jacfwd(vector_f(*THEIRS))(X)),
        ("jacrev", lambda: ad.jacrev(vector_f(*OURS))(X), lambda: jax.jacrev(vector_f(*THEIRS))(X)),
        (
            "jacfwd-chunked",
            lambda: ad.jacfwd(vector_f(*OURS), chunk=2)(X),
            lambda: jax.jacfwd(vector_f(*THEIRS))(X),
        ),
        (
            "jvp",
            lambda: ad.jvp(vector_f(*OURS), (X,), (V,)),
            lambda: jax.jvp(vector_f(*THEIRS), (X,), (V,)),
        ),
        (
            "vjp",
            lambda: ad.vjp(vector_f(*OURS), X)[1](V),
            lambda: jax.vjp(vector_f(*THEIRS), X)[1](V),
        ),
        ("hessian", lambda: ad.hessian(scalar_f(*OURS))(X), lambda: jax.hessian(scalar_f(*THEIRS))(X)),
        (
            "jacrev-of-jacrev",
            lambda: ad.jacrev(ad.jacrev(vector_f(*OURS)))(X),
            lambda: jax.jacrev(jax.jacrev(vector_f(*THEIRS)))(X),
        ),
        (
            "jacfwd-of-jacfwd",
            lambda: ad.jacfwd(ad.jacfwd(vector_f(*OURS)))(X),
            lambda: jax.jacfwd(jax.jacfwd(vector_f(*THEIRS)))(X),
        ),
        (
            "checkpoint",
            lambda: ad.grad(ad.checkpoint(scalar_f(*OURS)))(X),
            lambda: jax.grad(jax.checkpoint(scalar_f(*THEIRS)))(X),
        ),
        (
            "linearize",
            lambda: ad.linearize(vector_f(*OURS), X)[1](V),
            lambda: jax.linearize(vector_f(*THEIRS), X)[1](V),
        ),
    ],
)
def test_derivatives_through_stop_gradient_equal_jaxs(name, ours, theirs):
    assert_trees_close(ours(), theirs(), what=name)


@pytest.mark.parametrize("mode", ["fwd-rev", "rev-fwd", "rev-rev", "fwd-fwd"])
def test_every_hvp_mode_sees_a_zero_derivative(mode):
    _, Hv = ad.hvp(scalar_f(*OURS), (X,), (V,), mode=mode)
    want = jax.jvp(jax.grad(scalar_f(*THEIRS)), (X,), (V,))[1]
    assert_trees_close(Hv, want)


def test_stop_gradient_of_an_outer_value_inside_an_inner_transform_is_zero_at_every_level():
    """Stopping x inside grad-of-grad stops it at both levels, as JAX's."""

    def build(np_, grad, stop):
        def outer(x):
            inner = grad(lambda y: y**3 * stop(x * y) + np_.sin(x) * y)
            return inner(x) * x

        return outer

    for ours, theirs in [(ad.grad, jax.grad), (ad.jacfwd, jax.jacfwd), (ad.jacrev, jax.jacrev)]:
        got = ours(build(np, ad.grad, ad.stop_gradient))(0.7)
        want = theirs(build(jnp, jax.grad, lax.stop_gradient))(0.7)
        assert_trees_close(got, want, what=ours.__name__)
        # the second derivative too: no level lets a derivative through the stopped factor
        got2 = ad.grad(ours(build(np, ad.grad, ad.stop_gradient)))(0.7)
        want2 = jax.grad(theirs(build(jnp, jax.grad, lax.stop_gradient)))(0.7)
        assert_trees_close(got2, want2, what=f"grad of {ours.__name__}")


def test_stop_gradient_is_the_identity_on_values_leaf_by_leaf_of_a_pytree():
    tree = {"a": X, "b": (1, 2.5, None), "c": [np.float32(3.0), "name"], "d": None}
    out = ad.stop_gradient(tree)
    assert flatten(out)[1] == flatten(tree)[1]
    np.testing.assert_array_equal(out["a"], X)
    assert out["b"] == (1, 2.5, None) and out["d"] is None
    assert out["c"][0] == np.float32(3.0) and out["c"][0].dtype == np.float32 and out["c"][1] == "name"


def test_stop_gradient_in_a_pytree_stops_every_traced_leaf():
    def f(np_, stop):
        def g(x):
            t = stop({"s": np_.sin(x), "pair": (x * 2.0, x**2)})
            return np_.sum(t["s"] * x + t["pair"][0] * t["pair"][1] * x)

        return g

    assert_trees_close(ad.grad(f(*OURS))(X), jax.grad(f(*THEIRS))(X))


def test_stop_gradient_returns_plain_arrays_that_are_copies():
    seen = []

    def f(x):
        s = ad.stop_gradient(x)
        seen.append(s)
        assert not isinstance(s, Box)
        s[0] = 100.0  # writing into the result touches neither x nor what the tape saved
        return np.sum(np.sin(x) * s)

    g = ad.grad(f)(X)
    np.testing.assert_allclose(g, np.cos(X) * np.r_[100.0, X[1:]], rtol=1e-14)
    assert type(seen[0]) is np.ndarray
    x = X.copy()
    out = ad.stop_gradient(x)
    out[:] = 0.0
    np.testing.assert_array_equal(x, X)


def test_stop_gradient_keeps_float32_and_complex_values():
    x32 = X.astype(np.float32)
    g = ad.grad(lambda x: np.sum(x * ad.stop_gradient(x)))(x32)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, x32)
    z = np.array([0.5 + 1.0j, -0.3 + 0.2j])
    got = ad.grad(lambda z: np.sum(z**2 * ad.stop_gradient(z)), holomorphic=True)(z)
    want = jax.grad(lambda z: jnp.sum(z**2 * lax.stop_gradient(z)), holomorphic=True)(z)
    assert_trees_close(got, want)
    got = ad.grad(lambda z: np.sum(np.abs(z * ad.stop_gradient(z)) ** 2))(z)
    want = jax.grad(lambda z: jnp.sum(jnp.abs(z * lax.stop_gradient(z)) ** 2))(z)
    assert_trees_close(got, want)


def test_an_eager_tensor_gets_no_gradient_through_stop_gradient_as_torchs_detach():
    torch = pytest.importorskip("torch")
    x = ad.tensor(X, requires_grad=True)
    (np.sin(x) * ad.stop_gradient(x) ** 2).sum().backward()
    t = torch.tensor(X, requires_grad=True)
    (torch.sin(t) * t.detach() ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-14)


def test_compile_refuses_stop_gradient_by_name_rather_than_drop_it():
    with pytest.raises(NotImplementedError, match="ad.compile.*stop_gradient") as e:
        ad.compile(scalar_f(*OURS), X)
    assert "eager" in str(e.value)  # it says what to use instead


def test_sparsity_detection_sees_no_dependence_through_stop_gradient():
    pattern = ad.jacobian_sparsity(lambda x: x * ad.stop_gradient(x[::-1]), X)
    np.testing.assert_array_equal(pattern.toarray(), np.eye(3, dtype=bool))
    J = ad.sparse_jacobian(lambda x: x * ad.stop_gradient(x[::-1]), X)
    np.testing.assert_allclose(J.toarray(), np.diag(X[::-1]))


def test_stop_gradient_is_a_registered_zero_derivative_op():
    op = registry.get("stop_gradient")
    assert op.kind == "nondiff" and op.handles == ()


def test_a_dual_number_has_a_zero_tangent_through_stop_gradient():
    d = ad.Dual(X, V)
    y = np.sin(d) * ad.stop_gradient(d)
    np.testing.assert_allclose(y.tangent, np.cos(X) * X * V, rtol=1e-14)
    assert type(ad.stop_gradient(d)) is np.ndarray
