"""Nesting without perturbation confusion, against JAX or by hand: inner transforms that close
over the outer variable (called twice, at the outer variable, through closures made inside),
Jacobians of Jacobians of closures, third order, Hessians of pytrees in JAX's layout, Hessians
of programs in every nesting and chunking, and hvp in every mode."""

import numpy as np
import pytest

import ad
from ad.testing import assert_trees_close


def D_fwd(f):
    return lambda x: ad.jvp(f, (x,), (np.ones_like(x),))[1]


def D_rev(f):
    return ad.grad(f)


ENGINES = {"fwd": D_fwd, "rev": D_rev}
NESTINGS = [(o, i) for o in ENGINES for i in ENGINES]
ONE = np.float64(1.0)


def _close_to_jax(got, want, rtol=1e-12):
    assert_trees_close(got, want, rtol, 1e-13, scaled=1e-13)


# -- the inner transform closes over the outer variable ------------------------------------------
@pytest.mark.parametrize("outer,inner", NESTINGS)
def test_inner_derivative_called_twice_holds_the_outer_variable_fixed(outer, inner):
    Do, Di = ENGINES[outer], ENGINES[inner]
    # d/dy (x y) = x and d/dy (x^2 y) = x^2: their product x^3 has derivative 3 at x = 1
    f = lambda x: Di(lambda y: x * y)(ONE) * Di(lambda y: x * x * y)(2 * ONE)  # noqa: E731
    assert float(Do(f)(ONE)) == 3.0


@pytest.mark.parametrize("outer,inner", NESTINGS)
def test_inner_derivative_taken_at_the_outer_variable(outer, inner):
    Do, Di = ENGINES[outer], ENGINES[inner]
    # d/dy (x y^2) at y = x is 2 x^2, whose derivative is 4 x: 6 at x = 1.5
    assert np.isclose(float(Do(lambda x: Di(lambda y: x * y * y)(x))(np.float64(1.5))), 6.0, rtol=1e-15)


@pytest.mark.parametrize("outer,inner", NESTINGS)
def test_inner_derivative_through_a_closure_made_inside_the_outer_function(outer, inner):
    Do, Di = ENGINES[outer], ENGINES[inner]

    def f(x):
        make = lambda c: lambda y: Di(lambda z: c * z**2)(y)  # noqa: E731
        g = make(x)  # d/dz (x z^2) = 2 x z, a function of y that closes over x
        return g(x) + g(2 * x)  # 2 x^2 + 4 x^2 = 6 x^2

    assert np.isclose(float(Do(f)(np.float64(0.7))), 12 * 0.7, rtol=1e-15)


@pytest.mark.parametrize("outer,inner", NESTINGS)
def test_an_inner_derivative_function_built_once_and_called_at_outer_values(outer, inner):
    Do, Di = ENGINES[outer], ENGINES[inner]
    dsin = Di(np.sin)  # built outside, called inside: cos at the outer variable
    f = lambda x: dsin(x) * x  # noqa: E731
    x = np.float64(0.4)
    assert np.isclose(float(Do(f)(x)), np.cos(x) - x * np.sin(x), rtol=1e-15)


def _closure_jacobian(jac, xp, A):
    def f(x):
        inner = lambda y: xp.tanh(A @ (x * y)) + xp.sum(xp.sin(x[0] * y))  # noqa: E731
        return jac(inner)(x * 2)

    return f


@pytest.mark.parametrize("outer", ["jacfwd", "jacrev"])
@pytest.mark.parametrize("inner", ["jacfwd", "jacrev"])
def test_jacobian_of_a_jacobian_of_a_closure_equals_jax(jax64, outer, inner):
    jnp = jax64.numpy
    rng = np.random.default_rng(0)
    A, x = rng.standard_normal((4, 3)), rng.standard_normal(3)
    got = getattr(ad, outer)(_closure_jacobian(getattr(ad, inner), np, A))(x)
    want = jax64.jit(getattr(jax64, outer)(_closure_jacobian(getattr(jax64, inner), jnp, A)))(jnp.asarray(x))
    _close_to_jax(got, want)


# -- third order ----------------------------------------------------------------------------------
def _cubic(xp):
    return lambda x: xp.sin(x[0]) * xp.exp(x[1] * x[0]) + xp.sum(x**3) * x[2] + xp.prod(xp.tanh(x))


@pytest.mark.parametrize(
    "name", ["grad grad grad", "jacfwd jacrev jacfwd", "jacrev jacrev jacrev", "jacfwd jacfwd jacfwd"]
)
def test_third_order_equals_jax(jax64, name):
    jnp = jax64.numpy
    x = np.array([0.3, -0.8, 0.5])
    if name == "grad grad grad":
        got = ad.grad(lambda x: ad.grad(lambda x: ad.grad(_cubic(np))(x)[0])(x)[1])(x)
        want = jax64.jit(jax64.grad(lambda x: jax64.grad(lambda x: jax64.grad(_cubic(jnp))(x)[0])(x)[1]))(
            jnp.asarray(x)
        )
    else:
        a, b, c = name.split()
        got = getattr(ad, a)(getattr(ad, b)(getattr(ad, c)(_cubic(np))))(x)
        want = jax64.jit(getattr(jax64, a)(getattr(jax64, b)(getattr(jax64, c)(_cubic(jnp)))))(jnp.asarray(x))
    _close_to_jax(got, want)


def test_scalar_third_derivative_in_every_composition_of_the_engines():
    f = lambda t: np.tanh(t) * t  # noqa: E731
    t = np.float64(0.7)
    s = 1 / np.cosh(t) ** 2
    want = 2 * s * (3 * np.tanh(t) ** 2 - 1) * t - 6 * s * np.tanh(t)  # (tanh t * t)'''
    for a in ENGINES.values():
        for b in ENGINES.values():
            for c in ENGINES.values():
                assert np.isclose(float(a(b(c(f)))(t)), want, rtol=1e-13)


# -- Hessians ------------------------------------------------------------------------------------
def _pytree_f(xp):
    def f(p):
        return (
            xp.sum(xp.sin(p["a"]) * p["b"][0] ** 2)
            + p["b"][1] * xp.sum(p["a"] ** 3)
            + p["c"] @ p["a"][:2] * p["b"][1]
        )

    return f


@pytest.mark.parametrize("chunk", [None, 1, 2, 5])
def test_hessian_of_a_dict_of_tuples_has_jax_layout_and_values(jax64, chunk):
    jnp = jax64.numpy
    rng = np.random.default_rng(1)
    p = {
        "a": rng.standard_normal(3),
        "b": (rng.standard_normal((2, 3)), np.float64(0.4)),
        "c": rng.standard_normal(2),
    }
    got = ad.hessian(_pytree_f(np), chunk=chunk)(p)
    want = jax64.jit(jax64.hessian(_pytree_f(jnp)))(jax64.tree_util.tree_map(jnp.asarray, p))
    _close_to_jax(got, want)
    assert got["b"][0]["a"].shape == (2, 3, 3)  # in.shape (b[0]) + in.shape (a)


@pytest.mark.parametrize("argnums", [0, 1, (0, 1), (1,), (1, 0)])
def test_hessian_over_argnums_has_jax_layout_and_values(jax64, argnums):
    jnp = jax64.numpy

    def f(xp):
        return lambda a, b, k: xp.sum(xp.sin(a)[:, None] * xp.cos(b) * (a[:, None] + b**2)) * k

    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(2), rng.standard_normal((2, 2))
    got = ad.hessian(f(np), argnums=argnums)(a, b, 3)
    want = jax64.jit(jax64.hessian(f(jnp), argnums=argnums))(jnp.asarray(a), jnp.asarray(b), 3)
    _close_to_jax(got, want)


_W = np.random.default_rng(3).standard_normal((4, 4))
_B = np.random.default_rng(4).standard_normal((3, 4))
_IDX = np.array([3, 0, 0, 2])


def _programs(xp):
    return {
        "matmul": lambda x: xp.sum(xp.tanh(_W @ x) ** 2 * x),
        "matrix of x": lambda x: xp.sum((x.reshape(2, 2) @ x.reshape(2, 2).T) ** 2),
        "einsum": lambda x: xp.einsum("i,ij,j->", x, _W, xp.sin(x)),
        "gather": lambda x: xp.sum(x[_IDX] ** 3 * x[::-1]),
        "where": lambda x: xp.sum(xp.where(x > 0, x**3, xp.exp(x) * x)),
        "reductions": lambda x: xp.max(x**2) * xp.prod(x) + xp.mean(x) ** 3 + xp.std(x) ** 2,
        "concatenate": lambda x: xp.sum(xp.concatenate([x, x**2, xp.cumsum(x)]) ** 3),
        "sort": lambda x: xp.sum(xp.sort(x**2) * xp.arange(4.0)),
        "outer": lambda x: xp.sum(xp.outer(x, xp.sin(x)) * _W),
        "solve": lambda x: xp.sum(xp.linalg.solve(_W + 5 * xp.eye(4) * x[0], x) ** 2),
        "det": lambda x: xp.linalg.det(_W * x[:, None] + xp.eye(4)),
        "broadcast": lambda x: xp.sum((x[:, None] * _B.T) ** 2) + xp.sum(x[None, :] * x[:, None]),
        "logsumexp": lambda x: xp.log(xp.sum(xp.exp(_B @ x))),
        "norm": lambda x: xp.linalg.norm(x) ** 3 + xp.linalg.norm(x.reshape(2, 2)),
    }


_HESSIANS = {
    "jacfwd(jacfwd)": lambda f: ad.jacfwd(ad.jacfwd(f)),
    "jacfwd(jacfwd), chunks 1 of 3": lambda f: ad.jacfwd(ad.jacfwd(f, chunk=3), chunk=1),
    "jacfwd(jacfwd), chunks 3 of 3": lambda f: ad.jacfwd(ad.jacfwd(f, chunk=3), chunk=3),
    "jacfwd(jacrev)": lambda f: ad.jacfwd(ad.jacrev(f)),
    "jacfwd(jacrev), chunk 3": lambda f: ad.jacfwd(ad.jacrev(f), chunk=3),
    "jacrev(jacfwd)": lambda f: ad.jacrev(ad.jacfwd(f)),
    "jacrev(jacfwd), chunks 3 of 3": lambda f: ad.jacrev(ad.jacfwd(f, chunk=3), chunk=3),
    "jacrev(jacrev)": lambda f: ad.jacrev(ad.jacrev(f)),
    "hessian, chunk 3": lambda f: ad.hessian(f, chunk=3),
}


@pytest.mark.parametrize("program", list(_programs(np)))
def test_hessian_of_a_program_in_every_nesting_and_chunking_equals_jax(jax64, program):
    jnp = jax64.numpy
    x = np.random.default_rng(5).standard_normal(4)
    want = np.asarray(jax64.hessian(_programs(jnp)[program])(jnp.asarray(x)))
    for name, hessian in _HESSIANS.items():
        got = hessian(_programs(np)[program])(x)
        assert got.shape == want.shape, name
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12 * np.abs(want).max(), err_msg=name)


def test_hessian_of_a_size_1_output_is_in_shape_twice():
    """grad takes any one-number output, so hessian does too: in.shape + in.shape (JAX's
    hessian, which is jacfwd of jacrev, gives out.shape + in.shape + in.shape)."""
    H = ad.hessian(lambda x: np.sum(x**3, keepdims=True))(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(H, np.diag([6.0, 12.0]))


# -- hvp in every mode ---------------------------------------------------------------------------
def _hvp_f(xp):
    W, idx = _W[:, :4], np.array([0, 2, 2, 3])

    def f(x):
        h = xp.tanh(W @ x)
        g = h[idx] * x[::-1]
        w = xp.where(x > 0, x**3, xp.sin(x))
        return xp.sum(g**2) + xp.max(h) * xp.prod(w) + xp.mean(xp.cumsum(x) ** 2) + xp.linalg.norm(x) ** 3

    return f


@pytest.mark.parametrize("mode", ad.functional.HVP_MODES)
def test_hvp_with_matmul_indexing_where_and_reductions_equals_jax(jax64, mode):
    jnp = jax64.numpy
    rng = np.random.default_rng(6)
    x, v = rng.standard_normal(4), rng.standard_normal(4)
    value, Hv = ad.hvp(_hvp_f(np), (x,), (v,), mode=mode)
    want = jax64.jvp(jax64.grad(_hvp_f(jnp)), (jnp.asarray(x),), (jnp.asarray(v),))[1]
    np.testing.assert_allclose(Hv, want, rtol=1e-12)
    assert np.isclose(value, _hvp_f(np)(x), rtol=1e-15)


@pytest.mark.parametrize("mode", ad.functional.HVP_MODES)
def test_hvp_of_a_pytree_equals_jax(jax64, mode):
    jnp = jax64.numpy

    def f(xp):
        return lambda p: (
            xp.sum(xp.tanh(_W @ p["a"]) * p["b"][:4])
            + xp.sum(xp.where(p["b"] > 0, p["b"], 0.0) ** 3) * p["a"][0]
        )

    rng = np.random.default_rng(7)
    p = {"a": rng.standard_normal(4), "b": rng.standard_normal(6)}
    v = {"a": rng.standard_normal(4), "b": rng.standard_normal(6)}
    to_jax = lambda t: jax64.tree_util.tree_map(jnp.asarray, t)  # noqa: E731
    _, Hv = ad.hvp(f(np), (p,), (v,), mode=mode)
    _close_to_jax(Hv, jax64.jvp(jax64.grad(f(jnp)), (to_jax(p),), (to_jax(v),))[1])


@pytest.mark.parametrize("mode", ad.functional.HVP_MODES)
def test_hvp_of_a_real_function_of_complex_input_equals_jax(jax64, mode):
    jnp = jax64.numpy
    f = lambda xp: lambda z: xp.sum(xp.abs(z) ** 4) + xp.real(xp.sum(z**3))  # noqa: E731
    rng = np.random.default_rng(8)
    z = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    v = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    _, Hv = ad.hvp(f(np), (z,), (v,), mode=mode)
    want = jax64.jvp(jax64.grad(f(jnp)), (jnp.asarray(z),), (jnp.asarray(v),))[1]
    np.testing.assert_allclose(Hv, want, rtol=1e-12)


@pytest.mark.parametrize("mode", ad.functional.HVP_MODES)
def test_hvp_inside_an_outer_transform_differentiates_through_it(mode):
    """d/ds of H(x + s u) v at s = 0 is the third derivative contracted with u and v:
    for f = sum(x^4) it is 24 x u v."""
    x, u, v = np.array([0.5, -1.0]), np.array([1.0, 2.0]), np.array([0.3, 0.7])
    f = lambda y: np.sum(y**4)  # noqa: E731
    third = ad.jvp(lambda s: ad.hvp(f, (x + s * u,), (v,), mode=mode)[1], (0.0,), (1.0,))[1]
    np.testing.assert_allclose(third, 24 * x * u * v, rtol=1e-14)


# -- ad.jacobian inside other transforms ---------------------------------------------------------
_A = np.arange(6.0).reshape(3, 2) / 5
_X = np.array([0.3, -0.4])


def _tanh_affine(xp):
    return lambda x: xp.tanh(_A @ x) * x[0]


@pytest.fixture(scope="module")
def tanh_affine_by_jax(jax64):
    """JAX's second derivative of _tanh_affine and Hessian of its squared Jacobian's sum at _X,
    once for every mode and outer transform, in one compiled call (op by op it takes seconds)."""
    jnp, f = jax64.numpy, _tanh_affine(jax64.numpy)

    @jax64.jit
    def derivatives(x):
        return jax64.jacfwd(jax64.jacfwd(f))(x), jax64.hessian(lambda x: jnp.sum(jax64.jacfwd(f)(x) ** 2))(x)

    want, Hj = derivatives(_X)
    return np.asarray(want), np.asarray(Hj)


@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
@pytest.mark.parametrize("outer", ["jacfwd", "jacrev"])
def test_jacobian_in_every_mode_inside_another_transform_equals_jax(tanh_affine_by_jax, mode, outer):
    """mode="auto" sized f's output by the inputs' dtype through np.result_type, which has no
    rule on a traced input: every jacobian(mode="auto") inside a transform raised."""
    f, x = _tanh_affine(np), _X
    want, Hj = tanh_affine_by_jax
    got = getattr(ad, outer)(ad.jacobian(f, mode=mode))(x)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    H = ad.hessian(lambda x: np.sum(ad.jacobian(f, mode=mode)(x) ** 2))(x)
    np.testing.assert_allclose(H, Hj, rtol=1e-12)


def test_hessian_of_complex_input_is_refused_naming_what_takes_it():
    """It raised jacfwd's error, which says to pass holomorphic=True: hessian has no such option."""
    with pytest.raises(TypeError, match="hessian needs real inputs.*ad.hvp"):
        ad.hessian(lambda z: np.sum(np.abs(z) ** 2))(np.array([1.0 + 1j, 2.0]))
