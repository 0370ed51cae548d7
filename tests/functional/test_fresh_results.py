"""The functional transforms never read a caller's array after returning, and what they return
is the caller's alone: writable, and shared with no input, cotangent, tangent or other result."""

import numpy as np
import pytest

import ad


def _private(results, *others):
    """Every array among results is writable and shares memory with nothing else given."""
    leaves = [a for a in _leaves(results) if isinstance(a, np.ndarray)]
    others = [a for a in _leaves(others) if isinstance(a, np.ndarray)]
    for i, a in enumerate(leaves):
        assert a.flags.writeable, f"result {i} is read-only"
        for b in leaves[:i] + others:
            assert not np.shares_memory(a, b), f"result {i} shares memory"
    return True


def _leaves(tree):
    from ad.tree import flatten

    return flatten(tree)[0]


def test_vjp_fn_does_not_see_later_changes_to_the_primals():
    x = np.array([0.3, -0.7, 1.1])
    out, pull = ad.vjp(lambda x: np.tanh(x) * x, x)
    before = pull(np.ones(3))[0].copy()
    x[:] = 5.0
    np.testing.assert_array_equal(pull(np.ones(3))[0], before)
    np.testing.assert_allclose(out, np.tanh([0.3, -0.7, 1.1]) * [0.3, -0.7, 1.1])


def test_vjp_fn_does_not_see_changes_to_the_returned_output():
    # tanh's VJP reads its output (1 - y^2): the output handed back must be a copy
    x = np.array([0.3, -0.7])
    out, pull = ad.vjp(np.tanh, x)
    out[:] = 0.0
    np.testing.assert_allclose(pull(np.ones(2))[0], 1 - np.tanh(x) ** 2)


def test_vjp_of_identity_does_not_return_the_callers_cotangent():
    x, ct = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    out, pull = ad.vjp(lambda x: x, x)
    (g,) = pull(ct)
    assert g is not ct and _private((out, g), x, ct)
    g[:] = 0.0
    np.testing.assert_array_equal(ct, [3.0, 4.0])


def test_vjp_of_a_sum_is_a_writable_array_not_a_broadcast_view():
    _, pull = ad.vjp(np.sum, np.ones((2, 3)))
    (g,) = pull(2.0)
    assert g.shape == (2, 3) and _private(g)
    g += 1.0
    np.testing.assert_array_equal(g, 3.0)


def test_results_of_a_function_returning_one_value_twice_are_not_aliased():
    x, t = np.array([1.0, 2.0]), np.array([0.5, 0.5])
    out, tan = ad.jvp(lambda x: (x, x), (x,), (t,))
    assert _private((out, tan), x, t)
    for jac in (ad.jacfwd, ad.jacrev):
        assert _private(jac(lambda x: (x, x))(x), x)
    _, pull = ad.vjp(lambda a, b: a + b, x, x)
    assert _private(pull(t), x, t)


def test_jvp_of_identity_does_not_return_the_callers_arrays():
    x, t = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    out, tan = ad.jvp(lambda x: x, (x,), (t,))
    assert tan is not t and _private((out, tan), x, t)


@pytest.mark.parametrize(
    "transform",
    [
        lambda f, x: ad.grad(f)(x),
        lambda f, x: ad.value_and_grad(f)(x),
        lambda f, x: ad.jacfwd(lambda x: x * f(x))(x),
        lambda f, x: ad.jacrev(lambda x: x * f(x))(x),
        lambda f, x: ad.hessian(f)(x),
        lambda f, x: ad.hvp(f, (x,), (np.ones_like(x),)),
    ],
)
def test_results_are_private_and_the_input_is_untouched(transform):
    x = np.array([0.5, -1.5])
    x0 = x.copy()
    res = transform(lambda x: np.sum(x), x)  # linear: derivatives are broadcasts of seeds
    assert _private(res, x)
    np.testing.assert_array_equal(x, x0)


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_grad_that_is_the_cotangent_one_itself_is_a_private_writable_copy(shape, dtype):
    # grad seeds the sweep with a cached read-only 1: where the gradient is that 1 unchanged
    # (f(x) = x), the caller gets a writable copy, and writing it changes no later gradient
    x = np.full(shape, 2.0, dtype=dtype)
    g = ad.grad(lambda x: x)(x)
    assert g.dtype == dtype and g.shape == shape and _private(g, x)
    g[...] = 7.0
    again = ad.grad(lambda x: x)(x)
    np.testing.assert_array_equal(again, np.ones(shape, dtype))
    v, g2 = ad.value_and_grad(lambda x: x.sum())(x)
    g2[...] = -1.0
    np.testing.assert_array_equal(ad.grad(lambda x: x.sum())(x), np.ones(shape, dtype))
