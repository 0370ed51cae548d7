"""Derivatives keep the input's float dtype; inputs that are not floats are refused before any
tracing; complex functions follow JAX's API (holomorphic=True for f'(z))."""

import numpy as np
import pytest

import ad


def loss(x):
    return np.sum(np.tanh(x) * x + np.sin(x) ** 2)


def vec(x):
    return np.tanh(x) * 2.0 + np.sum(x * x)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_every_transform_keeps_the_inputs_float_dtype(dtype):
    x = np.array([0.25, -0.5, 1.0], dtype=dtype)
    v = np.ones(3, dtype=dtype)
    results = {
        "grad": ad.grad(loss)(x),
        "value_and_grad": ad.value_and_grad(loss)(x)[1],
        "jvp": ad.jvp(vec, (x,), (v,))[1],
        "vjp": ad.vjp(vec, x)[1](v)[0],
        "jacfwd": ad.jacfwd(vec)(x),
        "jacrev": ad.jacrev(vec)(x),
        "jacobian": ad.jacobian(vec)(x),
        "hessian": ad.hessian(loss)(x),
        "jacfwd of a constant": ad.jacfwd(lambda x: np.ones(2, dtype) * 3)(x),
        "jacrev of a constant": ad.jacrev(lambda x: np.ones(2, dtype) * 3)(x),
    }
    for mode in ad.functional.HVP_MODES:
        results[f"hvp {mode}"] = ad.hvp(loss, (x,), (v,), mode=mode)[1]
    for name, r in results.items():
        assert r.dtype == dtype, f"{name}: {r.dtype}"
    # and the numbers are the float64 ones, rounded
    tol = {np.float32: 1e-5, np.float16: 1e-2}[dtype]
    np.testing.assert_allclose(results["grad"], ad.grad(loss)(x.astype(float)), rtol=tol, atol=tol)


def test_a_float64_tangent_of_a_float32_primal_is_taken_in_float32():
    x = np.ones(2, np.float32)
    out, t = ad.jvp(np.sin, (x,), (np.ones(2),))
    assert out.dtype == t.dtype == np.float32


def test_a_complex_tangent_or_cotangent_of_a_real_value_is_refused():
    x = np.ones(2)
    with pytest.raises(TypeError, match="complex128"):
        ad.jvp(np.sin, (x,), (np.ones(2) * 1j,))
    _, pull = ad.vjp(np.sin, x)
    with pytest.raises(TypeError, match="cotangent"):
        pull(np.ones(2) * 1j)


@pytest.mark.parametrize(
    "bad,what",
    [
        ("abc", "a str"),
        (b"abc", "a bytes"),
        (np.array(["a", "b"]), "an array of dtype <U1"),
        (np.array([1.0, None], dtype=object), "an array of dtype object"),
        (np.array([1, 2]), r"an array of dtype int64 and shape \(2,\)"),
        (np.array([True, False]), "an array of dtype bool"),
        (3, r"3 \(an int, dtype int64\)"),
    ],
)
def test_inputs_that_are_not_floats_are_refused_before_any_tracing(bad, what):
    calls = []

    def f(x):
        calls.append(x)
        return np.sum(x * 1.0)

    runs = [
        lambda: ad.grad(f)(bad),
        lambda: ad.jacfwd(f)(bad),
        lambda: ad.jacrev(f)(bad),
        lambda: ad.jacobian(f)(bad),
        lambda: ad.hessian(f)(bad),
        lambda: ad.vjp(f, bad),
        lambda: ad.jvp(f, (bad,), (np.ones(np.shape(bad)),)),
        lambda: ad.hvp(f, (bad,), (np.ones(np.shape(bad)),)),
    ]
    for run in runs:
        with pytest.raises(TypeError, match=f"floating-point inputs; got {what}.*astype"):
            run()
    assert not calls


# -- complex numbers -------------------------------------------------------------------------
def test_holomorphic_grad_is_the_complex_derivative():
    z = 1 + 2j
    g = ad.grad(lambda z: z**2, holomorphic=True)(z)
    assert g == 2 + 4j  # f'(z) = 2z
    v, g = ad.value_and_grad(lambda z: z * z * z, holomorphic=True)(np.complex64(z))
    np.testing.assert_allclose(g, 3 * z**2, rtol=1e-6)
    assert np.result_type(g) == np.complex64


def test_grad_of_a_complex_output_needs_holomorphic():
    with pytest.raises(TypeError, match="holomorphic=True"):
        ad.grad(lambda z: z**2)(1 + 2j)
    with pytest.raises(TypeError, match="complex128"):
        ad.value_and_grad(lambda x: x * 1j)(1.0)


def test_holomorphic_with_a_real_input_or_output_is_refused():
    for transform in (ad.grad, ad.jacfwd, ad.jacrev, ad.jacobian):
        with pytest.raises(TypeError, match=r"holomorphic=True\) needs complex inputs; got dtype float64"):
            transform(lambda z: z * z, holomorphic=True)(np.array(2.0))
    with pytest.raises(TypeError, match="needs complex outputs"):
        ad.grad(lambda z: 1.0, holomorphic=True)(1j)


def test_holomorphic_jacobians_are_f_prime_in_both_modes():
    z = np.array([1 + 2j, -0.5 + 1j])
    want = np.diag(3 * z**2)
    for jac in (ad.jacfwd, ad.jacrev, ad.jacobian):
        np.testing.assert_allclose(jac(lambda z: z**3, holomorphic=True)(z), want, rtol=1e-14)
    np.testing.assert_allclose(
        ad.jacobian(lambda z: z**3, mode="forward", holomorphic=True)(z), want, rtol=1e-14
    )


def test_without_holomorphic_each_jacobian_refuses_the_complex_side_it_cannot_define():
    z = np.array([1 + 2j])
    with pytest.raises(TypeError, match="jacfwd needs real inputs.*holomorphic=True"):
        ad.jacfwd(lambda z: z * z)(z)
    with pytest.raises(TypeError, match="jacrev needs real outputs.*holomorphic=True"):
        ad.jacrev(lambda x: x * 1j)(np.ones(1))
    for mode in ("forward", "reverse"):
        with pytest.raises(TypeError, match="jacobian needs real inputs"):
            ad.jacobian(lambda z: z * z, mode=mode)(z)
    # a complex output of real inputs: forward mode defines it (jacfwd's, as JAX's), reverse refuses
    with pytest.raises(TypeError, match="real outputs"):
        ad.jacobian(lambda x: x * 1j, mode="reverse")(np.ones(1))
    for mode in ("forward", "auto"):
        assert ad.jacobian(lambda x: x * 1j, mode=mode)(np.ones(1)) == ad.jacfwd(lambda x: x * 1j)(np.ones(1))


def test_holomorphic_grad_matches_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    z = np.array(0.3 - 1.2j)
    ours = ad.grad(lambda z: z * z * z + 2 * z, holomorphic=True)(z)
    theirs = jax.jit(jax.grad(lambda z: z * z * z + 2 * z, holomorphic=True))(z)
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-14)
    zs = np.array([0.3 - 1.2j, 2.0 + 0.5j])
    np.testing.assert_allclose(
        ad.jacrev(lambda z: z * z, holomorphic=True)(zs),
        np.asarray(jax.jit(jax.jacrev(lambda z: z * z, holomorphic=True))(zs)),
        rtol=1e-14,
    )


def test_grad_of_a_real_function_of_complex_z_is_df_dx_minus_i_df_dy():
    # |z|^2 = x^2 + y^2: 2x - 2iy, JAX's convention (the conjugate of PyTorch's)
    assert ad.grad(lambda z: np.real(z * np.conj(z)))(1 + 2j) == 2 - 4j
