"""np.var and np.std with dtype=: the moment is computed in dtype (a differentiable cast
first, as np.sum and np.mean do), checked against NumPy's values and JAX's derivatives in
both modes, for widening and narrowing casts; a complex dtype, or a float one of a complex
input, is refused by name (NumPy returns the moment as a complex number there, or drops the
imaginary part)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ad
import ad.numpy as anp

jax.config.update("jax_enable_x64", True)

RNG = np.random.default_rng(11)
X64 = RNG.standard_normal((3, 4))
CASES = [  # (input, dtype, tolerance of the derivative against JAX's)
    (X64.astype(np.float32), np.float64, 1e-6),
    (X64, np.float32, 1e-5),
    (X64, np.float64, 1e-12),
]
MOMENTS = ["var", "std"]


def _ids(case):
    x, dtype, _ = case
    return f"{x.dtype}->{np.dtype(dtype)}"


@pytest.mark.parametrize("moment", MOMENTS)
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_a_moment_with_dtype_has_numpys_value_and_dtype(moment, case):
    x, dtype, _ = case
    expected = getattr(np, moment)(x, axis=1, dtype=dtype, ddof=1)
    got = ad.jvp(lambda x: getattr(anp, moment)(x, 1, dtype, ddof=1), (x,), (np.ones_like(x),))[0]
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-6 if np.float32 in (x.dtype, dtype) else 1e-14)


@pytest.mark.parametrize("moment", MOMENTS)
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_a_moment_with_dtype_has_jaxs_gradient_in_both_modes(moment, case):
    x, dtype, tol = case

    def f(m):
        return lambda x: m.sum(getattr(m, moment)(x, axis=1, dtype=dtype) ** 2)

    expected = jax.grad(f(jnp))(x)
    reverse, forward = ad.grad(f(anp))(x), ad.jacfwd(f(anp))(x)
    assert reverse.dtype == expected.dtype
    np.testing.assert_allclose(reverse, expected, rtol=tol, atol=tol)
    np.testing.assert_allclose(forward, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("moment", MOMENTS)
def test_a_moment_with_dtype_has_jaxs_hessian(moment):
    x = X64[0]

    def f(m):
        return lambda x: getattr(m, moment)(x, dtype=np.float32).astype(np.float64)

    np.testing.assert_allclose(ad.hessian(f(anp))(x), jax.hessian(f(jnp))(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("moment", MOMENTS)
@pytest.mark.parametrize("dtype", [np.int64, bool])
def test_a_moment_in_an_integer_dtype_of_a_traced_value_is_refused_by_name(moment, dtype):
    with pytest.raises(NotImplementedError, match=rf"numpy\.{moment}\(\.\.\., dtype=.*float or complex"):
        ad.grad(lambda x: getattr(anp, moment)(x, dtype=dtype))(X64[0])


def test_a_moment_of_a_complex_input_with_no_dtype_still_has_jaxs_gradient():
    z = X64 + 1j * RNG.standard_normal((3, 4))
    expected = jax.grad(lambda z: jnp.sum(jnp.std(z, axis=0)))(z)
    np.testing.assert_allclose(ad.grad(lambda z: anp.sum(anp.std(z, axis=0)))(z), expected, rtol=1e-12)


@pytest.mark.parametrize("moment", MOMENTS)
@pytest.mark.parametrize(
    ("x", "dtype"), [(X64[0], np.complex128), (X64[0], np.complex64), (X64[0] + 1j, np.float64)]
)
def test_a_moment_in_a_complex_dtype_or_of_a_complex_input_in_a_float_one_is_refused(moment, x, dtype):
    with pytest.raises(NotImplementedError, match=rf"numpy\.{moment}\(\.\.\., dtype=.*give a float dtype"):
        ad.grad(lambda x: anp.real(getattr(anp, moment)(x, dtype=dtype)))(x)
