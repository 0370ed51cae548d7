"""ad.implicit_root against JAX: the implicit function theorem's formula, and differentiating
the solver unrolled. Pytrees of parameters, closures, every mode and nesting, float32."""

import numpy as np
import pytest

import ad

A = np.array([[1.0, 0.5, -0.3], [0.2, 0.1, 0.7], [-1.0, 0.4, 0.9]])
THETA = np.array([0.4, -0.2, 0.9])
V = np.array([0.3, 1.0, -0.5])


@pytest.fixture(scope="module")
def jax(jax64):
    return jax64


def F(x, theta):
    """x + 0.3 tanh(A x) = theta: a contraction, so a fixed-point iteration solves it."""
    return x + 0.3 * np.tanh(A @ x) - theta


def fixed_point(np, theta, scale=1.0, steps=200):
    x = np.zeros(3)
    for _ in range(steps):
        x = theta - 0.3 * np.tanh(scale * A @ x)
    return x


def _plain_solve(theta):
    assert type(theta) is np.ndarray, "the solver runs on plain arrays, never on traced values"
    return fixed_point(np, theta)


ROOT = ad.implicit_root(F, _plain_solve)


def _ift_jacobian(jax, theta):
    """-(dF/dx)^-1 dF/dtheta at the root, from JAX."""
    import jax.numpy as jnp

    x = fixed_point(jnp, theta)
    Fx = lambda x, t: x + 0.3 * jnp.tanh(A @ x) - t  # noqa: E731
    return -jnp.linalg.solve(jax.jacfwd(Fx, 0)(x, theta), jax.jacfwd(Fx, 1)(x, theta))


def _loss(np, root):
    return lambda t: np.sum(root(t) ** 3 * np.arange(1.0, 4.0))


@pytest.mark.parametrize("jac", [ad.jacfwd, ad.jacrev])
def test_the_jacobian_is_the_ift_formula_and_the_unrolled_solvers(jac, jax):
    import jax.numpy as jnp

    J = jac(ROOT)(THETA)
    np.testing.assert_allclose(J, _ift_jacobian(jax, THETA), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(J, jax.jacrev(lambda t: fixed_point(jnp, t))(THETA), rtol=1e-10, atol=1e-12)


def test_gradient_hessian_and_every_hvp_mode_match_the_unrolled_solver(jax):
    import jax.numpy as jnp

    unrolled = _loss(jnp, lambda t: fixed_point(jnp, t))
    np.testing.assert_allclose(ad.grad(_loss(np, ROOT))(THETA), jax.grad(unrolled)(THETA), rtol=1e-10)
    H = jax.hessian(unrolled)(THETA)
    np.testing.assert_allclose(ad.hessian(_loss(np, ROOT))(THETA), H, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ad.jacrev(ad.grad(_loss(np, ROOT)))(THETA), H, rtol=1e-8, atol=1e-10)
    for mode in ("fwd-rev", "rev-fwd", "rev-rev", "fwd-fwd"):
        np.testing.assert_allclose(ad.hvp(_loss(np, ROOT), (THETA,), (V,), mode=mode)[1], H @ V, rtol=1e-8)
    second = jax.jacfwd(jax.jacrev(lambda t: fixed_point(jnp, t)))(THETA)
    np.testing.assert_allclose(ad.jacfwd(ad.jacrev(ROOT))(THETA), second, rtol=1e-8, atol=1e-10)


def test_fewer_unknowns_than_parameters_and_matrix_unknowns(jax):
    import jax.numpy as jnp

    B = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])

    def newton(np, t):  # x^3 + x = B t, elementwise
        x = np.zeros(2)
        for _ in range(60):
            x = x - (x**3 + x - B @ t) / (3 * x**2 + 1)
        return x

    cubic = ad.implicit_root(lambda x, t: x**3 + x - B @ t, lambda t: newton(np, t))
    for ours, theirs in ((ad.jacrev, jax.jacrev), (ad.jacfwd, jax.jacfwd)):
        np.testing.assert_allclose(ours(cubic)(THETA), theirs(lambda t: newton(jnp, t))(THETA), rtol=1e-12)

    def quadratic(np, T):  # X @ X + X = T
        X = np.zeros_like(T)
        for _ in range(200):
            X = X - 0.5 * (X @ X + X - T)
        return X

    T = np.array([[0.3, 0.1], [0.05, 0.2]])
    matrix_root = ad.implicit_root(lambda X, T: X @ X + X - T, lambda T: quadratic(np, T))
    for ours, theirs in ((ad.jacrev, jax.jacrev), (ad.jacfwd, jax.jacfwd)):
        np.testing.assert_allclose(ours(matrix_root)(T), theirs(lambda T: quadratic(jnp, T))(T), rtol=1e-10)


def test_ridge_regressions_derivative_in_the_penalty_is_the_closed_forms(jax):
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    M, b = rng.standard_normal((8, 3)), rng.standard_normal(8)
    ridge = ad.implicit_root(
        lambda w, lam: M.T @ (M @ w - b) + lam * w,
        lambda lam: np.linalg.solve(M.T @ M + lam * np.eye(3), M.T @ b),
    )
    closed = lambda lam: jnp.linalg.solve(M.T @ M + lam * jnp.eye(3), M.T @ b)  # noqa: E731
    np.testing.assert_allclose(ad.jacfwd(ridge)(0.7), jax.jacfwd(closed)(0.7), rtol=1e-12)
    np.testing.assert_allclose(ad.jacrev(ridge)(0.7), jax.jacrev(closed)(0.7), rtol=1e-12)
    np.testing.assert_allclose(
        ad.grad(lambda lam: np.sum(ridge(lam) ** 2))(0.7),
        jax.grad(lambda lam: jnp.sum(closed(lam) ** 2))(0.7),
    )


# -- parameters as a pytree; closures ---------------------------------------------------------------
def _scaled(p):
    assert all(type(v) is np.ndarray or type(v) is float for v in p.values()), "plain values only"
    return fixed_point(np, p["t"], p["s"])


SCALED = ad.implicit_root(lambda x, p: x + 0.3 * np.tanh(p["s"] * A @ x) - p["t"], _scaled)


def test_parameters_in_a_dict_each_get_their_derivative_and_the_solver_sees_plain_arrays(jax):
    import jax.numpy as jnp

    P = {"s": 1.2, "t": THETA}
    unrolled = lambda p: jnp.sum(fixed_point(jnp, p["t"], p["s"]) ** 2)  # noqa: E731
    expected = jax.grad(unrolled)(P)
    g = ad.grad(lambda p: np.sum(SCALED(p) ** 2))(P)
    assert set(g) == {"s", "t"}
    np.testing.assert_allclose(g["s"], expected["s"], rtol=1e-10)
    np.testing.assert_allclose(g["t"], expected["t"], rtol=1e-10)
    H = jax.hessian(lambda s: unrolled({"s": s, "t": THETA}))(1.2)
    np.testing.assert_allclose(
        ad.hessian(lambda s: np.sum(SCALED({"s": s, "t": THETA}) ** 2))(1.2), H, rtol=1e-8
    )


def test_a_traced_value_f_closes_over_is_refused_not_given_a_zero_derivative():
    # x*(s) depends on s through F, but s is not in theta: its derivative was silently 0.0
    def loss(s):
        root = ad.implicit_root(
            lambda x, t: x + 0.3 * np.tanh(s * A @ x) - t, lambda t: fixed_point(np, t, 1.2)
        )
        return np.sum(root(THETA) ** 2)

    with pytest.raises(TypeError, match="F closes over a value being differentiated.*inside theta"):
        ad.grad(loss)(1.2)
    with pytest.raises(TypeError, match="F closes over a value being differentiated"):
        ad.jacfwd(loss)(1.2)


def test_a_solver_that_computes_on_a_traced_value_is_refused():
    def loss(s):
        root = ad.implicit_root(F, lambda t: fixed_point(np, t) * (s / s))
        return np.sum(root(THETA))

    with pytest.raises(TypeError, match=r"returned a traced value.*inside theta"):
        ad.grad(loss)(1.2)


def test_a_solver_returning_several_arrays_or_f_of_another_shape_is_refused():
    pair = ad.implicit_root(F, lambda t: (fixed_point(np, t), 0.0))
    with pytest.raises(TypeError, match="must return one array x"):
        ad.grad(lambda t: np.sum(pair(t)))(THETA)
    short = ad.implicit_root(lambda x, t: F(x, t)[:2], _plain_solve)
    with pytest.raises(
        ValueError, match=r"F\(x, theta\) has shape \(2,\).*shape \(3,\).*one equation per unknown"
    ):
        ad.grad(lambda t: np.sum(short(t)))(THETA)


# -- dtype, eager tensors -----------------------------------------------------------------------------
def test_float32_parameters_get_a_float32_gradient_and_jacobian():
    A32 = A.astype(np.float32)
    root = ad.implicit_root(
        lambda x, t: x + np.float32(0.3) * np.tanh(A32 @ x) - t,
        lambda t: fixed_point(np, t).astype(np.float32),
    )
    t32 = THETA.astype(np.float32)
    for derivative in (ad.jacrev(root), ad.jacfwd(root), ad.grad(lambda t: np.sum(root(t) ** 2))):
        assert derivative(t32).dtype == np.float32
    np.testing.assert_allclose(ad.jacrev(root)(t32), ad.jacrev(ROOT)(THETA), rtol=1e-5, atol=1e-6)


def test_an_eager_tensor_backpropagates_through_the_root():
    t = ad.tensor(THETA, requires_grad=True)
    (ROOT(t) ** 2).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), ad.grad(lambda t: np.sum(ROOT(t) ** 2))(THETA), rtol=1e-14)
