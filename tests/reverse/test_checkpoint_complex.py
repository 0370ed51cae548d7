"""ad.checkpoint on complex values: the gradients of f itself, in every mode, as JAX's and
PyTorch's conventions give them; an op of f without complex rules still refuses by name."""

import numpy as np
import pytest
import scipy.special as sc

import ad

jax = pytest.importorskip("jax")
jnp = jax.numpy
jax.config.update("jax_enable_x64", True)

_RNG = np.random.default_rng(0)
Z = _RNG.normal(size=3) + 1j * _RNG.normal(size=3)
W = _RNG.normal(size=3) + 1j * _RNG.normal(size=3)


def _body(m):
    return lambda z: m.exp(z) * m.conj(z) + m.abs(z) * z[::-1]


def _loss(f, m):
    return lambda z: m.sum(m.abs(f(z)) ** 2) + m.real(m.sum(f(z) * W))


def test_checkpointed_complex_function_matches_jax_in_every_transform():
    ours, theirs = ad.checkpoint(_body(np)), _body(jnp)
    np.testing.assert_allclose(ad.grad(_loss(ours, np))(Z), jax.grad(_loss(theirs, jnp))(Z), rtol=1e-12)
    np.testing.assert_allclose(ad.jvp(ours, (Z,), (W,))[1], jax.jvp(theirs, (Z,), (W,))[1], rtol=1e-12)
    np.testing.assert_allclose(ad.vjp(ours, Z)[1](W)[0], jax.vjp(theirs, Z)[1](W)[0], rtol=1e-12)
    want = jax.jvp(jax.grad(_loss(theirs, jnp)), (Z,), (W,))[1]
    for mode in ("fwd-rev", "rev-fwd", "rev-rev", "fwd-fwd"):
        np.testing.assert_allclose(ad.hvp(_loss(ours, np), (Z,), (W,), mode=mode)[1], want, rtol=1e-11)


def test_checkpointed_complex_function_on_a_tensor_matches_the_function_itself():
    x = ad.tensor(Z, requires_grad=True)
    np.sum(np.abs(ad.checkpoint(_body(np))(x)) ** 2).backward()
    y = ad.tensor(Z, requires_grad=True)
    np.sum(np.abs(_body(np)(y)) ** 2).backward()
    np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-12)


def test_real_input_with_complex_values_inside_and_out():
    r = _RNG.normal(size=3)
    inside = ad.checkpoint(_body(np))
    got = ad.grad(lambda x: np.sum(np.abs(inside(x * (1 + 2j))) ** 2))(r)
    want = jax.grad(lambda x: jnp.sum(jnp.abs(_body(jnp)(x * (1 + 2j))) ** 2))(r)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    out = ad.checkpoint(lambda x: np.exp(1j * x))
    got = ad.grad(lambda x: np.sum(np.real(out(x) * W)))(r)
    np.testing.assert_allclose(got, jax.grad(lambda x: jnp.sum(jnp.real(jnp.exp(1j * x) * W)))(r), rtol=1e-12)


def test_an_op_without_complex_rules_inside_a_checkpoint_refuses_by_name():
    f = ad.checkpoint(lambda z: sc.gamma(z))
    with pytest.raises(TypeError, match="gamma has no complex rule"):
        ad.grad(lambda z: np.sum(np.abs(f(z)) ** 2))(Z)
