"""Second order of the abs-based norms (ord 1, -1, inf, -inf) and of cond(A, p) through them on
complex input, against JAX: d|z| = Re(conj(z) dz) / |z| is itself differentiable away from 0.

A real function of complex z is differentiated as a function of (Re z, Im z) for hessian and
the nested Jacobians, as JAX's hessian takes it; hvp takes complex z directly, in grad's
convention, against jax.jvp(jax.grad(f)). Points are random, away from ties and zeros."""

import numpy as np
import pytest

import ad

RNG = np.random.default_rng(11)


def _c(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


VECTOR, MATRIX, STACK = _c(5), _c(3, 3) + 2 * np.eye(3), _c(2, 3, 4)

# real losses of one complex array, written once for NumPy and jax.numpy
LOSSES = {
    "vector 1-norm": (lambda xp, z: xp.linalg.norm(z, 1), VECTOR),
    "vector inf-norm": (lambda xp, z: xp.linalg.norm(z, np.inf), VECTOR),
    "vector -inf-norm": (lambda xp, z: xp.linalg.norm(z, -np.inf), VECTOR),
    "matrix 1-norm": (lambda xp, a: xp.linalg.norm(a, 1), MATRIX),
    "matrix -1-norm": (lambda xp, a: xp.linalg.norm(a, -1), MATRIX),
    "matrix inf-norm": (lambda xp, a: xp.linalg.norm(a, np.inf), MATRIX),
    "matrix -inf-norm": (lambda xp, a: xp.linalg.norm(a, -np.inf), MATRIX),
    "stacked matrix norms": (
        lambda xp, a: xp.sum(xp.linalg.norm(a, 1, axis=(1, 2)) * xp.linalg.norm(a, -np.inf, axis=(2, 1))),
        STACK,
    ),
    "cond 1": (lambda xp, a: xp.linalg.cond(a, 1), MATRIX),
    "cond -1": (lambda xp, a: xp.linalg.cond(a, -1), MATRIX),
    "cond inf": (lambda xp, a: xp.linalg.cond(a, np.inf), MATRIX),
    "cond -inf": (lambda xp, a: xp.linalg.cond(a, -np.inf), MATRIX),
}


def _of_parts(xp, loss):
    """loss as a real function of p = (Re z, Im z) stacked on a leading axis."""
    return lambda p: loss(xp, p[0] + 1j * p[1])


def _parts(z):
    return np.stack([z.real, z.imag])


@pytest.fixture(scope="module")
def expected_hessians(jax64):
    """JAX's Hessian in (Re z, Im z) of every loss, all in one compiled call (run op by op
    they take seconds; compiled one by one, as long again)."""
    jnp = jax64.numpy

    @jax64.jit
    def hessians(parts):
        return {name: jax64.hessian(_of_parts(jnp, loss))(parts[name]) for name, (loss, _) in LOSSES.items()}

    expected = hessians({name: _parts(z) for name, (_, z) in LOSSES.items()})
    return {name: np.asarray(h) for name, h in expected.items()}


NESTINGS = {
    "hessian": lambda f: ad.hessian(f),
    "jacfwd(jacrev)": lambda f: ad.jacfwd(ad.jacrev(f)),
    "jacrev(jacrev)": lambda f: ad.jacrev(ad.jacrev(f)),
    "jacfwd(jacfwd)": lambda f: ad.jacfwd(ad.jacfwd(f)),
    "jacrev(jacfwd)": lambda f: ad.jacrev(ad.jacfwd(f)),
}


@pytest.mark.parametrize("nesting", NESTINGS)
@pytest.mark.parametrize("name", LOSSES)
def test_the_hessian_of_an_abs_based_norm_of_complex_input_matches_jax(name, nesting, expected_hessians):
    loss, z = LOSSES[name]
    hessian = NESTINGS[nesting](_of_parts(np, loss))(_parts(z))
    np.testing.assert_allclose(hessian, expected_hessians[name], rtol=1e-9, atol=1e-12)


DIRECTIONS = {name: _c(*z.shape) for name, (_, z) in LOSSES.items()}  # v of each loss's hvp


@pytest.fixture(scope="module")
def expected_hvps(jax64):
    """JAX's jvp(grad(loss)) along v of every loss, for all four modes, in one compiled call."""
    jnp = jax64.numpy

    @jax64.jit
    def hvps(zs):
        def hvp(loss, z, v):
            return jax64.jvp(jax64.grad(lambda z: loss(jnp, z)), (z,), (v,))[1]

        return {name: hvp(loss, zs[name], DIRECTIONS[name]) for name, (loss, _) in LOSSES.items()}

    expected = hvps({name: z for name, (_, z) in LOSSES.items()})
    return {name: np.asarray(hv) for name, hv in expected.items()}


@pytest.mark.parametrize("mode", ad.functional.HVP_MODES)
@pytest.mark.parametrize("name", LOSSES)
def test_hvp_of_an_abs_based_norm_of_complex_input_matches_jax(name, mode, expected_hvps):
    loss, z = LOSSES[name]
    _, hv = ad.hvp(lambda z: loss(np, z), (z,), (DIRECTIONS[name],), mode=mode)
    np.testing.assert_allclose(hv, expected_hvps[name], rtol=1e-9, atol=1e-12)


def test_a_tensor_backward_twice_through_a_complex_1_norm_matches_jax(jax64):
    """create_graph: the gradient (PyTorch's convention, the conjugate of JAX's) is itself
    differentiated; its pairing with v has JAX's hvp for gradient."""
    z, v = VECTOR, _c(5)
    _, expected = jax64.jvp(jax64.grad(lambda z: jax64.numpy.linalg.norm(z, 1) ** 3), (z,), (v,))
    t = ad.tensor(z, requires_grad=True)
    (g,) = ad.autograd.grad(np.linalg.norm(t, 1) ** 3, t, create_graph=True)
    # Re sum(conj(g) v) is the directional derivative of the loss along v
    (hv,) = ad.autograd.grad(np.real(np.sum(np.conj(g) * v)), t)
    np.testing.assert_allclose(np.conj(hv.numpy()), np.asarray(expected), rtol=1e-9)


def test_a_zero_entry_keeps_abs_derivative_zero_at_second_order():
    """abs'(0) = 0: the entry at 0 gets a zero gradient and zero rows and columns of the
    Hessian, and the other entries the Hessian of the norm without it."""
    z = np.array([0j, 1 + 2j, -0.5 + 0.3j])
    f = _of_parts(np, lambda xp, z: xp.linalg.norm(z, 1) ** 2)
    g = ad.grad(f)(_parts(z))
    hessian = ad.jacfwd(ad.jacrev(f))(_parts(z))
    assert np.all(np.isfinite(hessian)) and np.all(g[:, 0] == 0)
    assert np.all(hessian[:, 0] == 0) and np.all(hessian[:, :, :, 0] == 0)
    without = ad.hessian(f)(_parts(z[1:]))
    np.testing.assert_allclose(hessian[:, 1:, :, 1:], without, rtol=1e-12)
