"""ad.linearize(f, *primals) -> (out, f_jvp), checked against jax.linearize: pytrees, several
primals, complex values, nesting inside other transforms, and what f_jvp refuses."""

import numpy as np
import pytest

import ad
from ad.testing import assert_trees_close

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

X = np.array([0.3, -1.2, 2.0])
V = np.array([1.0, 0.5, -2.0])
W = np.array([[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0]])


def f(np_):
    return lambda x: np_.sin(x) * x**2


def g(np_):
    """Two primals, the first a dict; the output a tuple with a dict inside."""

    def g(p, b):
        h = np_.tanh(p["W"] @ p["x"] + b)
        return h, {"norm": np_.sum(h**2), "lin": p["x"] * 2.0}

    return g


P = {"W": W, "x": X}
B = np.array([0.1, -0.2])
TP = {"W": np.ones_like(W) * 0.3, "x": V}
TB = np.array([1.0, 2.0])


def test_output_and_jvp_equal_jaxs():
    out, f_jvp = ad.linearize(f(np), X)
    out_j, f_jvp_j = jax.linearize(f(jnp), X)
    assert_trees_close(out, out_j)
    for t in (V, np.ones(3), -2.0 * X):
        assert_trees_close(f_jvp(t), f_jvp_j(t))


def test_pytree_primals_and_outputs_equal_jaxs():
    out, f_jvp = ad.linearize(g(np), P, B)
    out_j, f_jvp_j = jax.linearize(g(jnp), P, B)
    assert_trees_close(out, out_j)
    assert_trees_close(f_jvp(TP, TB), f_jvp_j(TP, TB))
    assert_trees_close(f_jvp(TP, np.zeros(2)), f_jvp_j(TP, np.zeros(2)))


def test_f_jvp_equals_jvp_at_the_stored_primals_and_is_linear():
    _, f_jvp = ad.linearize(g(np), P, B)
    assert_trees_close(f_jvp(TP, TB), ad.jvp(g(np), (P, B), (TP, TB))[1])
    twice = f_jvp({"W": 2 * TP["W"], "x": 2 * TP["x"]}, 2 * TB)
    assert_trees_close(twice, jax.tree_util.tree_map(lambda t: 2 * t, f_jvp(TP, TB)))


def test_complex_values_equal_jaxs():
    z = np.array([0.5 + 1.0j, -0.3 + 0.2j])
    dz = np.array([1.0 - 0.5j, 0.25 + 2.0j])
    out, f_jvp = ad.linearize(lambda z: np.exp(z) * z, z)
    out_j, f_jvp_j = jax.linearize(lambda z: jnp.exp(z) * z, z)
    assert_trees_close(out, out_j)
    assert_trees_close(f_jvp(dz), f_jvp_j(dz))


def test_float32_stays_float32():
    x32 = X.astype(np.float32)
    out, f_jvp = ad.linearize(f(np), x32)
    assert out.dtype == np.float32
    assert f_jvp(V.astype(np.float32)).dtype == np.float32


def test_changing_the_primals_in_place_later_does_not_change_f_jvp():
    x = X.copy()
    _, f_jvp = ad.linearize(f(np), x)
    before = f_jvp(V)
    x[:] = 5.0
    assert_trees_close(f_jvp(V), before)


def test_linearize_inside_grad_and_jacfwd_equals_jax():
    def outer(np_, linearize):
        def h(w):
            _, f_jvp = linearize(lambda x: np_.sin(x * w) * x, X)
            return np_.sum(f_jvp(V) * w)

        return h

    w = np.array([0.7, -0.4, 1.1])
    for ours, theirs in [(ad.grad, jax.grad), (ad.jacrev, jax.jacrev), (ad.jacfwd, jax.jacfwd)]:
        got = ours(outer(np, ad.linearize))(w)
        want = theirs(outer(jnp, jax.linearize))(w)
        assert_trees_close(got, want, what=ours.__name__)


def test_f_jvp_differentiated_through_its_tangent_and_its_primal_equals_jax():
    """f_jvp is linear in the tangent (its Jacobian is J at the primals); a primal that is traced
    by an enclosing transform carries its derivative into f_jvp's result."""
    _, f_jvp = ad.linearize(f(np), X)
    _, f_jvp_j = jax.linearize(f(jnp), X)
    assert_trees_close(ad.jacrev(f_jvp)(V), jax.jacrev(f_jvp_j)(V))
    got = ad.grad(lambda x: np.sum(ad.linearize(f(np), x)[1](V)))(X)
    want = jax.grad(lambda x: jnp.sum(jax.linearize(f(jnp), x)[1](V)))(X)
    assert_trees_close(got, want)


def test_f_jvp_refuses_a_wrong_number_of_tangents():
    _, f_jvp = ad.linearize(g(np), P, B)
    with pytest.raises(TypeError, match=r"f_jvp takes one tangent per primal given to linearize: 2; got 1"):
        f_jvp(TP)


def test_f_jvp_refuses_tangents_of_another_structure_or_shape():
    _, f_jvp = ad.linearize(g(np), P, B)
    with pytest.raises(ValueError, match="f_jvp: tangents have the structure"):
        f_jvp({"W": TP["W"]}, TB)
    with pytest.raises(ValueError, match=r"f_jvp: tangent shape \(3,\) does not match primal shape \(2,\)"):
        f_jvp(TP, V)


def test_linearize_refuses_integer_primals_naming_them():
    with pytest.raises(TypeError, match="linearize differentiates with respect to floating-point inputs"):
        ad.linearize(f(np), np.arange(3))
