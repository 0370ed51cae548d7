"""numpy.fft, polynomials, and the construction, selection and floating-point functions:
hand-derived derivatives, the decisions read off the primal, and JAX as an oracle."""

import numpy as np
import pytest

import ad

RNG = np.random.default_rng(0)


# ---------------------------------------------------------------------------------------
# FFT: hand-derived


def test_the_vjp_of_the_orthonormal_fft_is_its_inverse_conjugated():
    """F/sqrt(n) is symmetric and unitary: in JAX's convention its VJP is F^T ct = F ct, which
    is conj(ifft(conj(ct))), the adjoint's conjugate; and Parseval holds for the gradient."""
    z = RNG.standard_normal(8) + 1j * RNG.standard_normal(8)
    ct = RNG.standard_normal(8) + 1j * RNG.standard_normal(8)
    (g,) = ad.vjp(lambda z: np.fft.fft(z, norm="ortho"), z)[1](ct)
    np.testing.assert_allclose(g, np.conj(np.fft.ifft(np.conj(ct), norm="ortho")), atol=1e-14)
    # sum |fft(z)|^2 = sum |z|^2: the gradient (df/dx - i df/dy) is 2 conj(z), as of sum |z|^2
    grad = ad.grad(lambda z: np.sum(np.abs(np.fft.fft(z, norm="ortho")) ** 2))(z)
    np.testing.assert_allclose(grad, 2 * np.conj(z), atol=1e-13)


def test_fft_with_padding_and_cropping_transposes_to_cropping_and_padding():
    x = RNG.standard_normal(5)
    for n in (3, 8):
        F = np.fft.fft(np.eye(5), n=n, axis=0)  # the n x 5 matrix of x -> fft(x, n)
        J = ad.jacfwd(lambda x, n=n: np.real(np.fft.fft(x, n)))(x)
        np.testing.assert_allclose(J, F.real, atol=1e-14)
        ct = RNG.standard_normal(n) + 1j * RNG.standard_normal(n)
        (g,) = ad.vjp(lambda x, n=n: np.fft.fft(x, n), x)[1](ct)
        np.testing.assert_allclose(g, np.real(F.T @ ct), atol=1e-13)  # real input: real part


@pytest.mark.parametrize("n", [6, 7])
def test_irfft_vjp_doubles_the_interior_bins(n):
    """irfft(y) = Re(B y), B_jk = c_k exp(2 pi i jk / n) / n: its VJP is B^T ct, c = 2 on the
    bins 1..(n-1)//2 and 1 on bin 0 and (n even) bin n/2."""
    h = n // 2 + 1
    y = RNG.standard_normal(h) + 1j * RNG.standard_normal(h)
    ct = RNG.standard_normal(n)
    c = np.where((np.arange(h) >= 1) & (np.arange(h) <= (n - 1) // 2), 2.0, 1.0)
    B = c * np.exp(2j * np.pi * np.outer(np.arange(n), np.arange(h)) / n) / n
    np.testing.assert_allclose(np.real(B @ y), np.fft.irfft(y, n), atol=1e-14)
    (g,) = ad.vjp(lambda y: np.fft.irfft(y, n), y)[1](ct)
    np.testing.assert_allclose(g, B.T @ ct, atol=1e-14)


def test_rfft_vjp_is_the_real_part_of_the_transpose():
    x = RNG.standard_normal(6)
    A = np.fft.rfft(np.eye(6), axis=0)  # 4 x 6
    ct = RNG.standard_normal(4) + 1j * RNG.standard_normal(4)
    (g,) = ad.vjp(np.fft.rfft, x)[1](ct)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, np.real(A.T @ ct), atol=1e-14)


def test_fftshift_is_a_roll_and_options_refused_clearly():
    x = np.arange(6.0)
    np.testing.assert_array_equal(ad.jacfwd(np.fft.fftshift)(x), np.roll(np.eye(6), 3, axis=0))
    with pytest.raises(NotImplementedError, match="out="):
        ad.jacfwd(lambda x: np.fft.fft(x, out=np.zeros(6, complex)))(x)
    with pytest.raises(ValueError, match="norm"):
        ad.jacfwd(lambda x: np.real(np.fft.fft(x, norm="unitary")))(x)


def test_float32_stays_single_precision_through_fft():
    x = RNG.standard_normal(4).astype(np.float32)
    assert ad.grad(lambda x: np.sum(np.abs(np.fft.rfft(x)) ** 2))(x).dtype == np.float32


# ---------------------------------------------------------------------------------------
# FFT: JAX as the oracle (one jitted function per comparison)


def test_fft_family_gradients_match_jax(jax64):
    jnp = jax64.numpy
    x = RNG.standard_normal((4, 6))
    z = RNG.standard_normal((4, 5)) + 1j * RNG.standard_normal((4, 5))
    W = RNG.standard_normal((4, 6))

    def real_input(np_):
        def f(x):
            fft = np_.fft
            a = np_.sum(np_.abs(fft.rfft(x, n=7, axis=1, norm="ortho")) ** 2)
            b = np_.sum(fft.irfftn(fft.rfftn(x * x), s=(4, 6), axes=(0, 1)) * W)
            c = np_.sum(
                np_.real(fft.fft2(x, s=(3, 8), norm="forward")) * np_.imag(fft.ifftn(x, axes=(0,))[:3, :1])
            )
            return a + b + c

        return f

    def complex_input(np_):
        def f(z):
            fft = np_.fft
            a = np_.sum(np_.real(fft.fftn(z, norm="ortho") * np_.conj(z)))
            b = np_.sum(fft.irfft(z, n=5, axis=0) ** 2) + np_.sum(fft.irfft2(z, norm="forward") * 0.3)
            c = np_.sum(np_.abs(fft.hfft(z, 6)))
            return a + b + c

        return f

    np.testing.assert_allclose(
        ad.grad(real_input(np))(x), jax64.jit(jax64.grad(real_input(jnp)))(x), atol=1e-12
    )
    np.testing.assert_allclose(
        ad.grad(complex_input(np))(z), jax64.jit(jax64.grad(complex_input(jnp)))(z), atol=1e-12
    )


# ---------------------------------------------------------------------------------------
# Polynomials


def test_polynomial_arithmetic_derivatives_by_hand():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0])
    np.testing.assert_allclose(ad.jacfwd(lambda b: np.polyadd(a, b))(b), [[0, 0], [1, 0], [0, 1]])
    np.testing.assert_allclose(ad.jacrev(lambda b: np.polysub(a, b))(b), [[0, 0], [-1, 0], [0, -1]])
    np.testing.assert_allclose(
        ad.jacrev(lambda a: np.polymul(a, b))(a), [[4, 0, 0], [5, 4, 0], [0, 5, 4], [0, 0, 5]]
    )
    np.testing.assert_allclose(ad.jacfwd(np.polyder)(a), [[2, 0, 0], [0, 1, 0]])  # (2 a0, a1)
    k = 7.0
    # NumPy dispatches polyint on p alone: a traced k needs a traced p
    J = ad.jacrev(lambda a, k: np.polyint(a, k=k), argnums=(0, 1))(a, k)[1]
    np.testing.assert_array_equal(J, [0, 0, 0, 1])  # the constant of integration
    np.testing.assert_allclose(np.polyint(a, k=k), [1 / 3, 1.0, 3.0, 7.0])


def test_roots_derivative_is_minus_p_of_r_over_p_prime_of_r():
    """For a simple root r of p, dr = -(dp)(r) / p'(r): in coefficient k, -r^(n-k) / p'(r)."""
    p = np.poly([1.0, -2.0, 3.0])
    r = np.sort(np.roots(p))
    J = ad.jacfwd(lambda p: np.sort(np.roots(p)))(p)
    dp = np.polyval(np.polyder(p), r)
    expected = -np.vander(r, 4) / dp[:, None]
    np.testing.assert_allclose(J, expected, atol=1e-10)


def test_roots_drops_leading_and_keeps_trailing_zeros_as_numpy_does():
    p = np.array([0.0, 1.0, -3.0, 2.0, 0.0])  # x (x - 1)(x - 2), with a leading zero
    out, vjp_fn = ad.vjp(np.roots, p)
    np.testing.assert_allclose(np.sort(out), np.sort(np.roots(p)))
    (g,) = vjp_fn(np.ones(3))
    assert g.shape == (5,) and g[0] == 0.0 and g[-1] == 0.0


def test_polydiv_against_finite_differences_and_by_hand():
    u, v = np.array([2.0, -1.0, 3.0, 0.5, 1.0]), np.array([1.5, 0.3, -0.7])
    assert np.polydiv(u, v)[1].shape == (2,)  # the remainder's leading zeros dropped, as NumPy's
    assert ad.gradcheck(lambda u, v: np.concatenate(np.polydiv(u, v)), u, v)
    # q is linear in u: dq/du_0 is the quotient of x^4 by v
    dq = ad.jacfwd(lambda u: np.polydiv(u, v)[0])(u)[:, 0]
    np.testing.assert_allclose(dq, np.polydiv([1.0, 0.0, 0.0, 0.0, 0.0], v)[0], rtol=1e-14)


def test_polyfit_matches_jax(jax64):
    jnp = jax64.numpy
    x = np.linspace(-1, 1, 8)  # no sample at 0, where JAX's Vandermonde derivative is NaN
    y = np.cos(2 * x)
    ours = ad.jacrev(lambda x, y: np.polyfit(x, y, 3), argnums=(0, 1))(x, y)
    peer = jax64.jit(jax64.jacrev(lambda x, y: jnp.polyfit(x, y, 3), argnums=(0, 1)))(x, y)
    for o, q in zip(ours, peer):
        np.testing.assert_allclose(o, q, atol=1e-10)


def test_poly_of_a_matrix_is_its_characteristic_polynomial():
    A = np.array([[2.0, 1.0], [0.5, -1.0]])
    # det(x I - A) = x^2 - tr(A) x + det(A): d/dA of (-tr A, det A) = (-I, cof(A))
    J = ad.jacfwd(np.poly)(A)
    np.testing.assert_allclose(J[0], np.zeros((2, 2)), atol=1e-14)
    np.testing.assert_allclose(J[1], -np.eye(2), atol=1e-12)
    np.testing.assert_allclose(J[2], np.linalg.det(A) * np.linalg.inv(A).T, atol=1e-12)


# ---------------------------------------------------------------------------------------
# Construction, selection, floating point


def test_full_like_derivative_is_the_number_of_copies():
    x = np.ones((2, 3))
    assert ad.grad(lambda v: np.sum(np.full_like(x * v, v)))(2.0) == 6.0
    assert ad.grad(lambda v: np.sum(np.full_like(np.ones(3, int) * v, v)))(2.0) == 3.0
    assert ad.jacfwd(lambda v: np.full_like(np.arange(3) * v, v, dtype=int))(2.0).tolist() == [0, 0, 0]


def test_trim_zeros_and_unique_read_their_decisions_off_the_primal():
    x = np.array([0.0, 1.0, 0.0, 2.0, 0.0, 0.0])
    np.testing.assert_array_equal(ad.grad(lambda v: np.sum(np.trim_zeros(v) ** 2))(x), 2 * x)
    g = ad.grad(lambda v: np.sum(np.trim_zeros(v, "f")))(x)
    np.testing.assert_array_equal(g, [0, 1, 1, 1, 1, 1])
    u = np.array([3.0, 1.0, 3.0, 2.0, 1.0])  # unique: [1, 2, 3] from indices 1, 3, 0
    g = ad.grad(lambda v: np.unique(v) @ np.array([1.0, 10.0, 100.0]))(u)
    np.testing.assert_array_equal(g, [100.0, 1.0, 0.0, 10.0, 0.0])
    values, counts = np.unique(ad.Dual(u, np.ones(5), ad.trace.new_level()), return_counts=True)
    np.testing.assert_array_equal(counts, [2, 1, 2])


def test_insert_and_delete_move_derivatives_with_the_elements():
    x = np.arange(4.0)
    J = ad.jacfwd(lambda v: np.insert(x, [1, 1], v))(np.array([5.0, 6.0]))
    np.testing.assert_array_equal(J, [[0, 0], [1, 0], [0, 1], [0, 0], [0, 0], [0, 0]])
    J = ad.jacrev(lambda x: np.delete(x, [0, 2]))(x)
    np.testing.assert_array_equal(J, [[0, 1, 0, 0], [0, 0, 0, 1]])
    J = ad.jacfwd(lambda v: np.insert(x, 2, v))(7.0)  # one value at one place
    np.testing.assert_array_equal(J, [0, 0, 1, 0, 0])


def test_histogram_counts_are_linear_in_the_weights_and_bincount_transposes_to_a_gather():
    a = np.array([0.1, 0.6, 0.6, 2.9])
    w = np.array([1.0, 2.0, 3.0, 4.0])
    J = ad.jacfwd(lambda w: np.histogram(a, bins=3, weights=w)[0])(w)
    np.testing.assert_array_equal(J, [[1, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1]])
    g = ad.grad(lambda w: np.bincount(np.array([2, 0, 2]), w) @ np.array([1.0, 2.0, 3.0]))(np.ones(3))
    np.testing.assert_array_equal(g, [3.0, 1.0, 3.0])


def test_modf_frexp_ldexp_derivatives_by_hand():
    x = np.array([-2.5, 0.3, 7.0, np.inf])
    d = np.diag(ad.jacrev(lambda x: np.modf(x)[0])(x))
    np.testing.assert_array_equal(d, [1.0, 1.0, 1.0, 0.0])
    x = np.array([3.0, 0.1, -40.0])
    np.testing.assert_array_equal(ad.grad(lambda x: np.sum(np.frexp(x)[0]))(x), 2.0 ** -np.frexp(x)[1])
    np.testing.assert_array_equal(ad.grad(lambda x: np.sum(np.ldexp(x, [1, 0, -2])))(x), [2.0, 1.0, 0.25])


def test_i0_derivatives_are_i1_and_its_own_at_zero():
    scipy_special = pytest.importorskip("scipy.special")
    x = np.array([0.0, 0.5, -2.0])
    np.testing.assert_allclose(ad.grad(lambda x: np.sum(np.i0(x)))(x), scipy_special.i1(x), rtol=1e-14)
    assert ad.grad(ad.grad(np.i0))(0.0) == 0.5  # i0'' = i1' = 1/2 at 0


def test_unwrap_derivative_is_the_identity():
    p = np.array([0.0, 3.0, -3.0, -0.1])
    np.testing.assert_array_equal(ad.jacfwd(np.unwrap)(p), np.eye(4))


def test_vecdot_conjugates_its_first_operand_like_jax(jax64):
    a = RNG.standard_normal(3) + 1j * RNG.standard_normal(3)
    b = RNG.standard_normal(3) + 1j * RNG.standard_normal(3)

    def loss(np_):
        return lambda a, b: np_.abs(np_.vecdot(a, b)) ** 2 + np_.real(np_.sum(np_.vecmat(a, np_.outer(b, a))))

    ours = ad.grad(loss(np), argnums=(0, 1))(a, b)
    peer = jax64.grad(loss(jax64.numpy), argnums=(0, 1))(a, b)
    for o, q in zip(ours, peer):
        np.testing.assert_allclose(o, q, atol=1e-12)


def test_nondifferentiable_functions_accept_traced_values():
    x = ad.Dual(np.array([1.0, np.inf, -np.inf]), np.ones(3), ad.trace.new_level())
    assert np.isposinf(x).tolist() == [False, True, False]
    assert np.isin(x, [1.0]).tolist() == [True, False, False]
    assert np.digitize(x, [0.0, 2.0]).tolist() == [1, 2, 0]
    assert np.isreal(x).all() and not np.iscomplex(x).any()
    assert np.lexsort((x,)).tolist() == [2, 0, 1]
