"""jacobian by cost model, hessian and the four hvp modes, checkpointing, implicit roots."""

import tracemalloc

import numpy as np
import pytest

import ad
from ad import testing


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


X_LOGISTIC = np.random.default_rng(0).standard_normal((7, 4))
Y_LOGISTIC = np.array([0, 1, 1, 0, 1, 0, 1.0])


def logistic_loss(w):
    z = X_LOGISTIC @ w
    return np.sum(np.logaddexp(0.0, z) - Y_LOGISTIC * z)


def mlp_loss(p):
    W1, W2 = p[:12].reshape(4, 3), p[12:].reshape(2, 4)
    x = np.array([0.5, -1.0, 2.0])
    return np.sum(np.tanh(W2 @ np.tanh(W1 @ x)) ** 2)


def fd_hessian(f, x, h=1e-5):
    g = ad.grad(f)
    return np.stack([(g(x + h * e) - g(x - h * e)) / (2 * h) for e in np.eye(x.size)], axis=-1)


@pytest.mark.parametrize("f,n", [(rosenbrock, 5), (logistic_loss, 4), (mlp_loss, 20)])
def test_hessian_matches_finite_differences_of_the_gradient(f, n):
    x = np.random.default_rng(1).uniform(-1, 1, n)
    H = ad.hessian(f)(x)
    testing.assert_close(H, fd_hessian(f, x), 1e-6, 1e-5, f"hessian of {f.__name__}")
    np.testing.assert_allclose(H, H.T, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("f,n", [(rosenbrock, 5), (logistic_loss, 4), (mlp_loss, 20)])
def test_the_four_hvp_modes_agree_with_the_hessian(f, n):
    rng = np.random.default_rng(2)
    x, v = rng.uniform(-1, 1, n), rng.standard_normal(n)
    H = ad.hessian(f)(x)
    for mode in ad.functional.HVP_MODES:
        value, Hv = ad.hvp(f, (x,), (v,), mode=mode)
        assert np.isclose(value, f(x), rtol=1e-14), mode
        testing.assert_close(Hv, H @ v, 1e-11, 1e-11, f"hvp mode {mode}")


def test_hvp_rejects_bad_modes_and_shapes():
    with pytest.raises(ValueError, match="mode"):
        ad.hvp(rosenbrock, (np.ones(3),), (np.ones(3),), mode="sideways")
    with pytest.raises(ValueError, match="tangent shape"):
        ad.hvp(rosenbrock, (np.ones(3),), (np.ones(2),))


@pytest.mark.parametrize("n,m,expected", [(3, 50, "forward"), (50, 3, "reverse"), (200, 200, "forward")])
def test_jacobian_auto_follows_the_cost_model_and_says_why(n, m, expected):
    A = np.random.default_rng(3).standard_normal((m, n))
    f = lambda x: np.tanh(A @ x)  # noqa: E731
    x = np.ones(n)
    J, plan = ad.jacobian(f, explain=True, chunk=8)(x)
    assert plan.mode == expected and plan.n == n and plan.m == m
    assert plan.forward_passes == -(-n // 8) and plan.reverse_passes == -(-m // 8)
    assert str(n) in plan.reason
    for mode in ("forward", "reverse"):
        testing.assert_close(ad.jacobian(f, mode=mode)(x), J, 1e-12, 1e-12, mode)


def test_jacobian_rejects_unknown_modes():
    with pytest.raises(ValueError, match="auto"):
        ad.jacobian(np.sin, mode="sideways")


def _layers(L, seed=4):
    rng = np.random.default_rng(seed)
    Ws = [rng.standard_normal((4, 4)) / 2 for _ in range(L)]
    return [lambda h, W=W: np.tanh(W @ h) for W in Ws]


@pytest.mark.parametrize("strategy", ["sqrt", "recursive"])
def test_checkpointed_gradients_equal_plain_ones(strategy):
    layers = _layers(9)
    x = np.linspace(-1, 1, 4)
    plain = ad.checkpoint_sequential(layers, "all")
    ck = ad.checkpoint_sequential(layers, strategy)
    np.testing.assert_allclose(ck(x), plain(x), rtol=0, atol=0)
    g = lambda run: ad.grad(lambda x: np.sum(run(x) ** 2))(x)  # noqa: E731
    np.testing.assert_allclose(g(ck), g(plain), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(ad.jacrev(ck)(x), ad.jacfwd(ck)(x), rtol=1e-13, atol=1e-15)
    w = ad.tensor(x, requires_grad=True)
    np.sum(ck(w) ** 2).backward()
    np.testing.assert_allclose(w.grad.numpy(), g(plain), rtol=1e-14, atol=1e-15)


def _peak_bytes(run, x):
    w = ad.tensor(x, requires_grad=True)
    tracemalloc.start()
    tracemalloc.reset_peak()
    np.sum(run(w)).backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_checkpointing_keeps_fewer_values_alive_at_the_peak():
    L, n = 64, 20_000
    layers = [lambda h: np.tanh(h * 1.01) for _ in range(L)]
    x = np.random.default_rng(5).uniform(-1, 1, n)
    peak = {s: _peak_bytes(ad.checkpoint_sequential(layers, s), x) for s in ("all", "sqrt", "recursive")}
    one = 8 * n  # bytes of one stored value
    assert peak["all"] > L * one  # every layer's output (and tanh's) saved at once
    assert peak["sqrt"] < peak["all"] / 3
    assert peak["recursive"] < peak["all"] / 3


def test_checkpoint_of_a_function_of_several_arguments():
    f = ad.checkpoint(lambda a, b: np.sin(a) * b)
    a, b = np.array([0.3, 1.2]), np.array([2.0, -1.0])
    ga, gb = ad.grad(lambda a, b: np.sum(f(a, b)), argnums=(0, 1))(a, b)
    np.testing.assert_allclose(ga, np.cos(a) * b)
    np.testing.assert_allclose(gb, np.sin(a))


def test_ridge_by_implicit_differentiation_matches_finite_differences():
    rng = np.random.default_rng(6)
    A, b = rng.standard_normal((5, 3)), rng.standard_normal(5)

    def F(x, theta):  # the optimality condition of min |Ax - b|^2 / 2 + theta |x|^2 / 2
        return A.T @ (A @ x - b) + theta * x

    def solve(theta):  # any solver: here a direct one, never traced
        return np.linalg.solve(A.T @ A + theta * np.eye(3), A.T @ b)

    x_star = ad.implicit_root(F, solve)
    theta = 0.7
    np.testing.assert_allclose(F(x_star(theta), theta), 0.0, atol=1e-12)
    h = 1e-6
    fd = (solve(theta + h) - solve(theta - h)) / (2 * h)
    np.testing.assert_allclose(ad.jacfwd(x_star)(theta), fd, rtol=1e-7)
    np.testing.assert_allclose(ad.jacrev(x_star)(theta), fd, rtol=1e-7)
    # and the closed form, differentiated directly through solve: the same numbers
    direct = ad.jacfwd(solve)(theta)
    np.testing.assert_allclose(ad.jacrev(x_star)(theta), direct, rtol=1e-10)


def test_implicit_root_inside_an_eager_backward():
    rng = np.random.default_rng(7)
    A, b = rng.standard_normal((5, 3)), rng.standard_normal(5)
    F = lambda x, th: A.T @ (A @ x - b) + th * x  # noqa: E731
    solve = lambda th: np.linalg.solve(A.T @ A + th * np.eye(3), A.T @ b)  # noqa: E731
    t = ad.tensor(0.7, requires_grad=True)
    np.sum(ad.implicit_root(F, solve)(t) ** 2).backward()
    np.testing.assert_allclose(t.grad.item(), ad.grad(lambda th: np.sum(solve(th) ** 2))(0.7), rtol=1e-10)


def test_jacobian_auto_calls_f_once_per_input_signature_to_size_its_output():
    calls = []

    def f(x):
        calls.append(np.shape(x))
        return np.tanh(x[:2] * 3.0)

    jac = ad.jacobian(f)
    for n in (5, 5, 5, 7):
        J = jac(np.linspace(0.1, 0.5, n))
        testing.assert_close(J, ad.jacfwd(f)(np.linspace(0.1, 0.5, n)), 1e-12, 1e-12, "auto")
    # reverse mode (m = 2 < n) records f once per call; the output was sized once per shape
    del calls[:]
    jac(np.linspace(0.1, 0.5, 5))
    assert calls == [(5,)]


def test_jacobian_auto_with_a_stale_output_size_still_gives_the_jacobian():
    # the output's size depends on a value: the kept size picks a mode, the answer is exact
    def f(x, k):
        return np.sin(x[:k])

    jac = ad.jacobian(f)
    x = np.linspace(0.1, 0.9, 6)
    for k in (1, 6, 2):
        np.testing.assert_allclose(jac(x, k), np.diag(np.cos(x))[:k], rtol=1e-14)
