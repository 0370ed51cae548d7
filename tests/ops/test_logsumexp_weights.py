"""ad.logsumexp's weights b= and return_sign=, as scipy.special.logsumexp takes them: values
against SciPy, derivatives in x and b against JAX, at zero weights against the exact
derivative exp(x - out) in b (JAX's, which masks a zero weight out, reads 0 there)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special
from jax.scipy.special import logsumexp as jax_logsumexp

import ad
import ad.numpy as anp

jax.config.update("jax_enable_x64", True)

RNG = np.random.default_rng(5)
X = RNG.uniform(-2, 2, (3, 4))
CALLS = [  # (b, keyword arguments)
    (RNG.uniform(0.1, 2, (3, 4)), {}),
    (RNG.uniform(0.1, 2, 4), {"axis": 1}),
    (RNG.uniform(0.1, 2, (3, 1)), {"axis": 0, "keepdims": True}),
    (RNG.uniform(0.1, 2, (2, 3, 4)), {"axis": (1, 2)}),
    (np.array([1.0, 0.0, 0.5, 2.0]), {"axis": -1}),
]


@pytest.mark.parametrize(("b", "kw"), CALLS)
def test_weighted_logsumexp_has_scipys_value(b, kw):
    expected = scipy.special.logsumexp(X, b=b, **kw)
    got = ad.logsumexp(X, b=b, **kw)
    assert np.shape(got) == np.shape(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-14)


@pytest.mark.parametrize(("b", "kw"), CALLS)
def test_weighted_logsumexp_has_jaxs_gradient_in_x_in_both_modes(b, kw):
    def f(m, lse):
        return lambda x: m.sum(m.sin(lse(x, b=b, **kw)))

    expected = jax.jit(jax.grad(f(jnp, jax_logsumexp)))(X)
    np.testing.assert_allclose(ad.grad(f(anp, ad.logsumexp))(X), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ad.jacfwd(f(anp, ad.logsumexp))(X), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("b", "kw"), CALLS[:4])
def test_weighted_logsumexp_has_jaxs_gradient_and_hessian_in_positive_weights(b, kw):
    def f(m, lse):
        return lambda b: m.sum(lse(X, b=b, **kw) ** 2)

    # JAX's compiled: its Hessian run op by op takes seconds
    np.testing.assert_allclose(
        ad.grad(f(anp, ad.logsumexp))(b), jax.jit(jax.grad(f(jnp, jax_logsumexp)))(b), rtol=1e-12
    )
    np.testing.assert_allclose(
        ad.hessian(f(anp, ad.logsumexp))(b),
        jax.jit(jax.hessian(f(jnp, jax_logsumexp)))(b),
        rtol=1e-10,
        atol=1e-14,
    )


def test_the_derivative_in_a_zero_weight_is_exp_of_x_minus_the_result():
    x, b = X[0], np.array([1.0, 0.0, 0.5, 0.0])
    out = scipy.special.logsumexp(x, b=b)
    got = ad.grad(lambda b: ad.logsumexp(x, b=b))(b)
    np.testing.assert_allclose(got, np.exp(x - out), rtol=1e-14)
    h = 1e-7  # a one-sided difference: the weights stay nonnegative
    for i in np.flatnonzero(b == 0):
        step = scipy.special.logsumexp(x, b=b + h * np.eye(4)[i]) - out
        np.testing.assert_allclose(got[i], step / h, rtol=1e-6)
    # where the weight is nonzero JAX agrees; where it is 0 JAX masks the entry out and reads 0
    expected = jax.jit(jax.grad(lambda b: jax_logsumexp(x, b=b)))(b)
    np.testing.assert_allclose(got[b != 0], expected[b != 0], rtol=1e-14)


def test_the_derivative_in_x_of_a_zero_weight_entry_is_zero_even_where_that_entry_is_largest():
    x, b = np.array([1000.0, 0.5, -0.3]), np.array([0.0, 1.0, 2.0])
    np.testing.assert_allclose(ad.logsumexp(x, b=b), scipy.special.logsumexp(x, b=b), rtol=1e-14)
    expected = jax.jit(jax.grad(lambda x: jax_logsumexp(x, b=b)))(x)
    np.testing.assert_allclose(ad.grad(lambda x: ad.logsumexp(x, b=b))(x), expected, rtol=1e-14)


def test_weighted_logsumexp_is_exact_at_large_magnitudes():
    x, b = np.array([1e17, 1e17 - 64.0]), np.array([2.0, 3.0])
    np.testing.assert_allclose(ad.logsumexp(x, b=b), scipy.special.logsumexp(x, b=b), rtol=1e-16)
    expected = jax.jit(jax.grad(lambda x: jax_logsumexp(x, b=b)))(x)
    np.testing.assert_allclose(ad.grad(lambda x: ad.logsumexp(x, b=b))(x), expected, rtol=1e-14)


def test_return_sign_gives_scipys_magnitude_and_sign_and_jaxs_gradient_with_negative_weights():
    b = np.array([1.0, -2.0, 0.5, -0.25])
    for got, expected in zip(
        ad.logsumexp(X, axis=1, b=b, return_sign=True),
        scipy.special.logsumexp(X, axis=1, b=b, return_sign=True),
        strict=True,
    ):
        np.testing.assert_allclose(got, expected, rtol=1e-13)

    def f(lse, m):
        return lambda x, b: m.sum(lse(x, axis=1, b=b, return_sign=True)[0])

    expected = jax.jit(jax.grad(f(jax_logsumexp, jnp), argnums=(0, 1)))(X, b)
    for got, want in zip(ad.grad(f(ad.logsumexp, anp), argnums=(0, 1))(X, b), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_return_sign_without_weights_gives_a_sign_of_one():
    out, sign = ad.logsumexp(X, axis=0, return_sign=True)
    np.testing.assert_allclose(out, scipy.special.logsumexp(X, axis=0), rtol=1e-14)
    np.testing.assert_array_equal(sign, np.ones(4))


def test_a_negative_weight_without_return_sign_is_refused_by_name():
    with pytest.raises(ValueError, match=r"nonnegative weights b.*return_sign=True"):
        ad.grad(lambda x: ad.logsumexp(x, b=np.array([1.0, -1.0, 1.0, 1.0])))(X[0])


def test_weighted_logsumexp_of_complex_input_is_refused_by_name():
    with pytest.raises(TypeError, match=r"logsumexp\(x, b=\.\.\.\) takes real x and b"):
        ad.logsumexp(X[0] + 1j, b=np.ones(4))
