"""has_aux=True on every transform that JAX gives it: f returns (output, aux), the output is
differentiated and aux comes back beside the result as plain values, checked against JAX."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import ad
from ad.testing import assert_trees_close
from ad.trace import Box
from ad.tree import flatten

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

X = np.array([0.3, -1.2, 2.0])
V = np.array([1.0, 0.5, -2.0])


def scalar_f(np_):
    """A scalar f with an aux of every pytree kind, for ad (np_ = np) and JAX (np_ = jnp)."""

    def f(x):
        s = np_.sin(x)
        loss = np_.sum(s * x**2)
        return loss, {"s": s, "parts": (np_.cos(x)[0], [x * 2.0, None]), "n": None}

    return f


def vector_f(np_):
    def f(x):
        y = np_.tanh(x) * x[0]
        return y, {"y": y, "norm": (np_.sum(y**2),)}

    return f


def plain(tree):
    """Every leaf of tree is a plain value: nothing traced, arrays as NumPy arrays."""
    for leaf in flatten(tree)[0]:
        assert not isinstance(leaf, Box), leaf
        assert isinstance(leaf, np.ndarray | np.generic | float | int | str), type(leaf)


# (name, ad call, JAX call): each gives (result, aux)
CASES = {
    "grad": (
        lambda: ad.grad(scalar_f(np), has_aux=True)(X),
        lambda: jax.grad(scalar_f(jnp), has_aux=True)(X),
    ),
    "value_and_grad": (
        lambda: _swap(ad.value_and_grad(scalar_f(np), has_aux=True)(X)),
        lambda: _swap(jax.value_and_grad(scalar_f(jnp), has_aux=True)(X)),
    ),
    "jacfwd": (
        lambda: ad.jacfwd(vector_f(np), has_aux=True)(X),
        lambda: jax.jacfwd(vector_f(jnp), has_aux=True)(X),
    ),
    "jacrev": (
        lambda: ad.jacrev(vector_f(np), has_aux=True)(X),
        lambda: jax.jacrev(vector_f(jnp), has_aux=True)(X),
    ),
    "jacobian-forward": (
        lambda: ad.jacobian(vector_f(np), mode="forward", has_aux=True)(X),
        lambda: jax.jacfwd(vector_f(jnp), has_aux=True)(X),
    ),
    "jacobian-reverse": (
        lambda: ad.jacobian(vector_f(np), mode="reverse", has_aux=True)(X),
        lambda: jax.jacrev(vector_f(jnp), has_aux=True)(X),
    ),
    "jacobian-auto": (
        lambda: ad.jacobian(scalar_f(np), has_aux=True)(X),
        lambda: jax.jacrev(scalar_f(jnp), has_aux=True)(X),
    ),
    "hessian": (
        lambda: ad.hessian(scalar_f(np), has_aux=True)(X),
        lambda: jax.hessian(scalar_f(jnp), has_aux=True)(X),
    ),
    "jvp": (
        lambda: _jvp_pair(ad.jvp(vector_f(np), (X,), (V,), has_aux=True)),
        lambda: _jvp_pair(jax.jvp(vector_f(jnp), (X,), (V,), has_aux=True)),
    ),
    "vjp": (
        lambda: _vjp_pair(ad.vjp(vector_f(np), X, has_aux=True)),
        lambda: _vjp_pair(jax.vjp(vector_f(jnp), X, has_aux=True)),
    ),
    "linearize": (
        lambda: _linearize_pair(ad.linearize(vector_f(np), X, has_aux=True)),
        lambda: _linearize_pair(jax.linearize(vector_f(jnp), X, has_aux=True)),
    ),
}


def _swap(result):
    (value, aux), g = result
    return (value, g), aux


def _jvp_pair(result):
    out, tangent, aux = result
    return (out, tangent), aux


def _vjp_pair(result):
    out, vjp_fn, aux = result
    return (out, vjp_fn(np.ones_like(np.asarray(out)))), aux


def _linearize_pair(result):
    out, f_jvp, aux = result
    return (out, f_jvp(V)), aux


@pytest.mark.parametrize("name", sorted(CASES))
def test_has_aux_gives_jaxs_result_and_aux_as_plain_values(name):
    ours, theirs = CASES[name]
    result, aux = ours()
    want_result, want_aux = theirs()
    assert_trees_close(result, want_result, what=f"{name} result")
    assert_trees_close(aux, want_aux, what=f"{name} aux")
    plain(aux)


def test_grad_with_argnums_tuple_and_aux_matches_jax():
    def f(np_):
        return lambda a, b, c: (np_.sum(a * b**2 * c["w"]), {"ab": a * b, "c": c})

    a, b, c = np.array([1.0, 2.0]), 3.0, {"w": np.array([0.5, -1.0])}
    g, aux = ad.grad(f(np), argnums=(0, 2), has_aux=True)(a, b, c)
    g_jax, aux_jax = jax.grad(f(jnp), argnums=(0, 2), has_aux=True)(a, b, c)
    assert_trees_close(g, g_jax)
    assert_trees_close(aux, aux_jax)
    J, aux = ad.jacrev(f(np), argnums=(-1, 1), has_aux=True)(a, b, c)
    J_jax, _ = jax.jacrev(f(jnp), argnums=(-1, 1), has_aux=True)(a, b, c)
    assert_trees_close(J, J_jax)
    plain(aux)


def test_holomorphic_grad_and_jacobians_with_aux_match_jax():
    z = np.array([0.5 + 1.0j, -0.3 + 0.2j])

    def f(np_):
        return lambda z: (np_.sum(z**3), {"z2": z**2})

    def h(np_):
        return lambda z: (np_.sin(z) * z, [z.real])

    for ours, theirs, fn in [(ad.grad, jax.grad, f), (ad.jacfwd, jax.jacfwd, h), (ad.jacrev, jax.jacrev, h)]:
        got, aux = ours(fn(np), holomorphic=True, has_aux=True)(z)
        want, want_aux = theirs(fn(jnp), holomorphic=True, has_aux=True)(z)
        assert_trees_close(got, want)
        assert_trees_close(aux, want_aux)
        plain(aux)


def test_aux_of_a_nested_transform_carries_the_outer_derivative_as_in_jax():
    """JAX strips the transform's own level from aux, not the enclosing ones': the outer
    derivative flows through it."""

    def inner_grad(np_, grad):
        return lambda x: grad(lambda y: (y * y, np_.sin(x) * y), has_aux=True)(x)[1]

    def inner_jvp(np_, jvp):
        return lambda x: jvp(lambda y: (y * y, np_.sin(x) * y**2), (x,), (1.0,), has_aux=True)[2]

    def inner_vjp(np_, vjp):
        return lambda x: vjp(lambda y: (y * 3.0, np_.exp(x * y)), x, has_aux=True)[2]

    def inner_jacfwd(np_, jacfwd):
        return lambda x: np_.sum(jacfwd(lambda y: (y * 2.0, y**3 * x), has_aux=True)(x)[1])

    for ours_outer, jax_outer in [(ad.grad, jax.grad), (ad.jacfwd, jax.jacfwd), (ad.jacrev, jax.jacrev)]:
        for build, ours_inner, jax_inner in [
            (inner_grad, ad.grad, jax.grad),
            (inner_jvp, ad.jvp, jax.jvp),
            (inner_vjp, ad.vjp, jax.vjp),
            (inner_jacfwd, ad.jacfwd, jax.jacfwd),
        ]:
            got = ours_outer(build(np, ours_inner))(0.7)
            want = jax_outer(build(jnp, jax_inner))(0.7)
            assert_trees_close(got, want, what=f"{ours_outer.__name__} of {build.__name__}")


def test_hessian_with_aux_inside_grad_matches_jax():
    def outer(np_, hessian):
        return lambda w: np_.sum(
            hessian(lambda x: (np_.sum(np_.sin(x) * w), np_.cos(x) * w), has_aux=True)(X)[1]
        )

    assert_trees_close(ad.grad(outer(np, ad.hessian))(V), jax.grad(outer(jnp, jax.hessian))(V))


def test_aux_keeps_non_array_leaves_and_dtypes():
    def f(x):
        return np.sum(x**2), {"name": "loss", "step": 3, "half": x.astype(np.float32), "none": None}

    x32 = X.astype(np.float32)
    g, aux = ad.grad(f, has_aux=True)(x32)
    assert g.dtype == np.float32
    assert aux["name"] == "loss" and aux["step"] == 3 and aux["none"] is None
    assert aux["half"].dtype == np.float32
    np.testing.assert_array_equal(aux["half"], x32)


AUX_OF = {
    "grad": lambda f: ad.grad(f, has_aux=True)(X)[1],
    "value_and_grad": lambda f: ad.value_and_grad(f, has_aux=True)(X)[0][1],
    "jacfwd": lambda f: ad.jacfwd(f, has_aux=True)(X)[1],
    "jacrev": lambda f: ad.jacrev(f, has_aux=True)(X)[1],
    "jacobian": lambda f: ad.jacobian(f, has_aux=True)(X)[1],
    "hessian": lambda f: ad.hessian(f, has_aux=True)(X)[1],
    "jvp": lambda f: ad.jvp(f, (X,), (V,), has_aux=True)[2],
    "vjp": lambda f: ad.vjp(f, X, has_aux=True)[2],
    "linearize": lambda f: ad.linearize(f, X, has_aux=True)[2],
}


@pytest.mark.parametrize("name", sorted(AUX_OF))
def test_aux_arrays_are_the_callers_to_change(name):
    """aux is a copy: writing into it changes neither the input nor an array f closes over."""
    x, kept = X.copy(), np.array([1.0, 2.0])

    def f(y):
        return np.sum(np.tanh(y)), {"x": y, "t": np.tanh(y), "kept": kept}

    aux = AUX_OF[name](f)
    for leaf in aux.values():
        leaf[...] = 99.0
    np.testing.assert_array_equal(X, x)
    np.testing.assert_array_equal(kept, [1.0, 2.0])


def test_vjp_fn_after_writing_into_aux_still_gives_the_vjp():
    def f(x):
        y = np.tanh(x)  # tanh's VJP reads its output: the value aux holds
        return y, y

    out, vjp_fn, aux = ad.vjp(f, X, has_aux=True)
    aux[:] = 5.0
    out[:] = 7.0
    (g,) = vjp_fn(np.ones(3))
    np.testing.assert_allclose(g, 1 - np.tanh(X) ** 2, rtol=1e-14)


@pytest.mark.parametrize(
    "call",
    [
        lambda f: ad.grad(f, has_aux=True)(X),
        lambda f: ad.value_and_grad(f, has_aux=True)(X),
        lambda f: ad.jacfwd(f, has_aux=True)(X),
        lambda f: ad.jacrev(f, has_aux=True)(X),
        lambda f: ad.jacobian(f, has_aux=True)(X),
        lambda f: ad.jacobian(f, mode="forward", has_aux=True)(X),
        lambda f: ad.hessian(f, has_aux=True)(X),
        lambda f: ad.jvp(f, (X,), (V,), has_aux=True),
        lambda f: ad.vjp(f, X, has_aux=True),
        lambda f: ad.linearize(f, X, has_aux=True),
    ],
)
@pytest.mark.parametrize(
    "returns, got",
    [
        (lambda x: x * 2.0, "an array of dtype float64 and shape (3,)"),
        (lambda x: (np.sum(x),), "a tuple of length 1"),
        (lambda x: (np.sum(x), 1, 2), "a tuple of length 3"),
        (lambda x: {"out": np.sum(x), "aux": 1}, "a dict of 2 entries"),
    ],
)
def test_f_that_does_not_return_a_pair_is_refused_naming_what_it_returned(call, returns, got):
    with pytest.raises(
        TypeError, match=r"has_aux=True\) needs f to return a pair \(output, aux\); it returned"
    ) as e:
        call(returns)
    assert got in str(e.value)
    assert "drop has_aux=True" in str(e.value)


def test_a_list_of_two_is_a_pair_as_in_jax():
    g, aux = ad.grad(lambda x: [np.sum(x**2), "ok"], has_aux=True)(X)
    np.testing.assert_allclose(g, 2 * X)
    assert aux == "ok"


def test_grad_refuses_a_non_scalar_output_beside_aux():
    with pytest.raises(TypeError, match="scalar"):
        ad.grad(lambda x: (x * 2.0, None), has_aux=True)(X)


def test_jacobians_with_aux_run_their_passes_on_an_executor():
    f = vector_f(np)
    want, want_aux = jax.jacfwd(vector_f(jnp), has_aux=True)(X)
    with ThreadPoolExecutor(2) as pool:
        for jac in (ad.jacfwd, ad.jacrev):
            J, aux = jac(f, chunk=1, executor=pool, has_aux=True)(X)
            assert_trees_close(J, want)
            assert_trees_close(aux, want_aux)


def test_jacobians_with_aux_in_several_chunks_match_one_pass():
    f = vector_f(np)
    for jac in (ad.jacfwd, ad.jacrev):
        J1, aux1 = jac(f, has_aux=True)(X)
        J2, aux2 = jac(f, chunk=1, has_aux=True)(X)
        assert_trees_close(J1, J2)
        assert_trees_close(aux1, aux2)


def test_jacobian_explain_with_aux_gives_the_pair_and_the_plan():
    (J, aux), plan = ad.jacobian(vector_f(np), has_aux=True, explain=True)(X)
    assert plan.m == 3 and plan.n == 3  # the aux's entries are not counted as outputs
    want, want_aux = jax.jacfwd(vector_f(jnp), has_aux=True)(X)
    assert_trees_close(J, want)
    assert_trees_close(aux, want_aux)


def test_without_has_aux_a_pair_is_an_output_pytree():
    """has_aux is off by default: a pair is then differentiated as a pytree output, as JAX."""
    J = ad.jacrev(lambda x: (x * 2.0, np.sin(x)))(X)
    want = jax.jacrev(lambda x: (x * 2.0, jnp.sin(x)))(X)
    assert_trees_close(J, want)


def test_hessian_and_jacfwd_with_argnums_tuple_and_aux_match_jax():
    def f(np_):
        return lambda a, b: (np_.sum(np_.sin(a)) * np_.sum(b**2 * a[0]), {"a": a, "ab": (a * b[0], None)})

    a, b = np.array([0.2, -0.7]), np.array([1.5, 0.4, -1.0])
    for ours, theirs in [(ad.hessian, jax.hessian), (ad.jacfwd, jax.jacfwd)]:
        got, aux = ours(f(np), argnums=(1, 0), has_aux=True)(a, b)
        want, want_aux = theirs(f(jnp), argnums=(1, 0), has_aux=True)(a, b)
        assert_trees_close(got, want, what=ours.__name__)
        assert_trees_close(aux, want_aux)
        plain(aux)


def test_holomorphic_hessian_with_aux_matches_jax():
    z = np.array([0.5 + 1.0j, -0.3 + 0.2j])

    def f(np_):
        return lambda z: (np_.sum(z**3 * np_.exp(z)), {"e": np_.exp(z)})

    got, aux = ad.hessian(f(np), holomorphic=True, has_aux=True)(z)
    want, want_aux = jax.hessian(f(jnp), holomorphic=True, has_aux=True)(z)
    assert_trees_close(got, want)
    assert_trees_close(aux, want_aux)
    plain(aux)


def test_hessian_with_aux_runs_its_passes_on_an_executor():
    f = scalar_f(np)
    want, want_aux = jax.hessian(scalar_f(jnp), has_aux=True)(X)
    with ThreadPoolExecutor(2) as pool:
        H, aux = ad.hessian(f, chunk=1, executor=pool, has_aux=True)(X)
    assert_trees_close(H, want)
    assert_trees_close(aux, want_aux)
    plain(aux)
