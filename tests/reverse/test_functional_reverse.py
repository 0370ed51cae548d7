"""The functional reverse API: vjp, grad, value_and_grad, jacrev; pytrees and errors."""

import numpy as np
import pytest

import ad


def test_grad_of_a_pytree_argument():
    def loss(p):
        return np.sum(np.tanh(p["W"] @ p["x"])) + p["b"][0] ** 2

    p = {"W": np.arange(6.0).reshape(2, 3) / 10, "x": np.array([1.0, -1.0, 0.5]), "b": [np.array(0.3)]}
    g = ad.grad(loss)(p)
    assert set(g) == {"W", "x", "b"} and g["W"].shape == (2, 3)
    t = 1 - np.tanh(p["W"] @ p["x"]) ** 2
    np.testing.assert_allclose(g["W"], np.outer(t, p["x"]))
    np.testing.assert_allclose(g["x"], p["W"].T @ t)
    np.testing.assert_allclose(g["b"][0], 0.6)


def test_vjp_fn_can_be_called_many_times_and_checks_shapes():
    out, vjp_fn = ad.vjp(lambda x: np.sin(x) * 2.0, np.array([0.1, 0.2]))
    (a,) = vjp_fn(np.array([1.0, 0.0]))
    (b,) = vjp_fn(np.array([0.0, 1.0]))
    np.testing.assert_allclose(a + b, 2 * np.cos([0.1, 0.2]))
    with pytest.raises(ValueError, match="cotangent shape"):
        vjp_fn(np.ones(3))


def test_value_and_grad_and_argnums():
    f = lambda x, y: np.sum(x * y**2)  # noqa: E731
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    v, (gx, gy) = ad.value_and_grad(f, argnums=(0, 1))(x, y)
    assert v == 1 * 9 + 2 * 16
    np.testing.assert_allclose(gx, y**2)
    np.testing.assert_allclose(gy, 2 * x * y)


def test_grad_of_a_non_scalar_output_raises_with_advice():
    with pytest.raises(TypeError, match=r"grad needs a scalar output; got shape \(3,\)"):
        ad.grad(lambda x: x * 2.0)(np.ones(3))


def test_integer_inputs_to_grad_raise():
    with pytest.raises(TypeError, match="floating-point"):
        ad.grad(lambda x: np.sum(x * 2.0))(np.array([1, 2]))


def test_jacrev_chunks_and_a_constant_output():
    A = np.arange(12.0).reshape(4, 3)
    for chunk in (1, 3, None):
        np.testing.assert_allclose(ad.jacrev(lambda x: A @ x, chunk=chunk)(np.ones(3)), A)
    np.testing.assert_array_equal(ad.jacrev(lambda x: np.ones(2))(np.ones(3)), np.zeros((2, 3)))


def test_vjp_fn_checks_the_cotangent_structure():
    _, pull = ad.vjp(lambda x: {"a": x, "b": (x, 2 * x)}, np.ones(2))
    with pytest.raises(
        ValueError, match=r"structure \{'a': \*\} but f's output \{'a': \*, 'b': \(\*, \*\)\}"
    ):
        pull({"a": np.ones(2)})
    g = pull({"a": np.ones(2), "b": (np.ones(2), np.ones(2))})
    np.testing.assert_array_equal(g[0], [4.0, 4.0])


def test_record_pullback_serves_batched_sweeps_many_times():
    A = np.arange(6.0).reshape(2, 3)
    rec = ad.reverse.api.record(lambda x: A @ x, (np.ones(3),))
    np.testing.assert_array_equal(rec.out, A @ np.ones(3))
    (rows,) = rec.pullback([np.eye(2)], batch=2, retain_graph=True)
    np.testing.assert_array_equal(rows, A)  # e_i^T A, one direction per row
    (again,) = rec.pullback([np.array([1.0, -1.0])])
    np.testing.assert_array_equal(again, A[0] - A[1])


def test_jacrev_of_a_tuple_output_is_a_tuple_of_blocks():
    # f(x) = (x^2, sum(x)): blocks diag(2x) of shape (2, 2) and ones of shape (2,)
    x = np.array([1.0, 3.0])
    for chunk in (1, None):
        J = ad.jacrev(lambda x: (x**2, np.sum(x)), chunk=chunk)(x)
        np.testing.assert_array_equal(J[0], np.diag(2 * x))
        np.testing.assert_array_equal(J[1], [1.0, 1.0])
