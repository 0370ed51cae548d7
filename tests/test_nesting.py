"""Levels: every nesting of the two engines, and no perturbation confusion in any of them."""

import numpy as np
import pytest

import ad


def D_fwd(f):
    return lambda x: ad.jvp(f, (x,), (1.0,))[1]


def D_rev(f):
    return ad.grad(f)


ENGINES = {"fwd": D_fwd, "rev": D_rev}


@pytest.mark.parametrize("outer", ENGINES)
@pytest.mark.parametrize("inner", ENGINES)
def test_perturbation_confusion_is_impossible(outer, inner):
    Do, Di = ENGINES[outer], ENGINES[inner]
    # D(x -> x * D(y -> x + y)(1))(1): the inner derivative is 1, so the answer is 1, not 2.
    assert float(Do(lambda x: x * Di(lambda y: x + y)(1.0))(1.0)) == 1.0


@pytest.mark.parametrize("outer", ENGINES)
@pytest.mark.parametrize("inner", ENGINES)
def test_second_derivative_in_every_nesting(outer, inner):
    f = lambda x: np.sin(x) * x**2
    d2 = -np.sin(1.3) * 1.3**2 + 4 * 1.3 * np.cos(1.3) + 2 * np.sin(1.3)
    assert np.isclose(float(ENGINES[outer](ENGINES[inner](f))(1.3)), d2, rtol=1e-13)


def test_third_derivative_mixing_engines():
    f = lambda x: np.exp(2.0 * x)
    assert np.isclose(float(D_fwd(D_rev(D_fwd(f)))(0.4)), 8 * np.exp(0.8), rtol=1e-13)


def test_closure_over_an_outer_variable_is_a_constant_inside():
    # d/dx [ d/dy (x * y^2) at y=x ] = d/dx [2 x^2] = 4x
    g = lambda x: D_rev(lambda y: x * y**2)(x)
    assert np.isclose(float(D_fwd(g)(1.5)), 6.0) and np.isclose(float(D_rev(g)(1.5)), 6.0)


def test_hessian_by_jacfwd_of_grad_matches_jacrev_of_grad():
    A = np.array([[2.0, 0.5], [0.5, 1.0]])
    f = lambda x: 0.5 * x @ A @ x + np.sum(np.sin(x))
    x = np.array([0.3, -0.7])
    H = A - np.diag(np.sin(x))
    np.testing.assert_allclose(ad.jacfwd(ad.grad(f))(x), H, rtol=1e-13)
    np.testing.assert_allclose(ad.jacrev(ad.grad(f))(x), H, rtol=1e-13)
    np.testing.assert_allclose(ad.jacfwd(ad.jacfwd(f))(x), H, rtol=1e-13)
    np.testing.assert_allclose(ad.jacrev(ad.jacfwd(f))(x), H, rtol=1e-13)
