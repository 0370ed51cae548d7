"""Forward mode's public behaviour: jvp and jacfwd on plain NumPy code, pytrees, errors."""

import numpy as np
import pytest

import ad
from ad import registry


def test_jvp_of_plain_numpy_function():
    x, v = np.array([0.3, -1.2]), np.array([1.0, 2.0])
    out, t = ad.jvp(lambda x: np.sin(x) * np.exp(x), (x,), (v,))
    np.testing.assert_allclose(out, np.sin(x) * np.exp(x))
    np.testing.assert_allclose(t, (np.cos(x) + np.sin(x)) * np.exp(x) * v, rtol=1e-14)


def test_jvp_accepts_pytrees_and_scalars():
    def f(p, s):
        return {"y": p["a"] * s + np.sin(p["b"][0])}

    p = {"a": np.array([1.0, 2.0]), "b": [np.array(0.5)]}
    t = {"a": np.array([1.0, 0.0]), "b": [np.array(2.0)]}
    out, tan = ad.jvp(f, (p, 3.0), (t, 1.0))
    np.testing.assert_allclose(out["y"], np.array([3.0, 6.0]) + np.sin(0.5))
    np.testing.assert_allclose(tan["y"], np.array([3.0, 0.0]) + np.array([1.0, 2.0]) + 2 * np.cos(0.5))


def test_jvp_of_a_constant_output_is_zero():
    out, t = ad.jvp(lambda x: np.ones(3), (np.array([1.0]),), (np.array([1.0]),))
    np.testing.assert_array_equal(t, np.zeros(3))


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, None])
def test_jacfwd_in_chunks_matches_the_analytic_jacobian(chunk):
    A = np.arange(15.0).reshape(3, 5) / 10
    x = np.linspace(-1, 1, 5)
    J = ad.jacfwd(lambda x: np.tanh(A @ x), chunk=chunk)(x)
    np.testing.assert_allclose(J, (1 - np.tanh(A @ x) ** 2)[:, None] * A, rtol=1e-14)


def test_jacfwd_shape_is_out_shape_plus_in_shape_and_argnums():
    x, y = np.ones((2, 3)), np.ones(4)
    J0, J1 = ad.jacfwd(lambda x, y: np.sum(x) * y, argnums=(0, 1))(x, y)
    assert J0.shape == (4, 2, 3) and J1.shape == (4, 4)
    np.testing.assert_allclose(J1, 6.0 * np.eye(4))


def test_op_with_no_rule_raises_naming_the_function():
    with pytest.raises(NotImplementedError, match=r"numpy\.packbits.*forward mode"):
        ad.jvp(lambda x: np.packbits(x), (np.ones(4),), (np.ones(4),))


def test_ufunc_methods_and_out_arguments_raise_clearly():
    with pytest.raises(NotImplementedError, match="maximum.accumulate"):
        ad.jvp(lambda x: np.maximum.accumulate(x), (np.ones(3),), (np.ones(3),))
    t, dt = ad.jvp(lambda x: np.add.accumulate(x), (np.ones(3),), (np.arange(3.0),))  # it is cumsum
    np.testing.assert_array_equal(dt, [0.0, 1.0, 3.0])
    buf = np.zeros(3)
    with pytest.raises(NotImplementedError, match="out="):
        ad.jvp(lambda x: np.sin(x, out=buf), (np.ones(3),), (np.ones(3),))
    assert not buf.any()


def test_tangent_of_the_wrong_shape_raises_and_mutates_nothing():
    x, v = np.array([1.0, 2.0]), np.array([1.0, 2.0, 3.0])
    x0, v0 = x.copy(), v.copy()
    with pytest.raises(ValueError, match=r"tangent shape \(3,\) does not match primal shape \(2,\)"):
        ad.jvp(np.sin, (x,), (v,))
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(v, v0)
    with pytest.raises(ValueError, match="tangent"):
        ad.jvp(np.sin, (x,), (v, v))
    with pytest.raises(TypeError, match="tuples"):
        ad.jvp(np.sin, x, x)


def test_integer_inputs_to_jacfwd_and_jvp_raise():
    x = np.array([1, 2, 3])
    with pytest.raises(TypeError, match="floating-point.*astype"):
        ad.jacfwd(np.sin)(x)
    with pytest.raises(TypeError, match="floating-point"):
        ad.jvp(np.sin, (2,), (1.0,))
    np.testing.assert_array_equal(x, [1, 2, 3])


def test_converting_a_dual_to_an_array_raises_instead_of_dropping_the_tangent():
    with pytest.raises(TypeError, match="drop its derivative.*np.stack"):
        ad.jvp(lambda x: np.asarray(x), (np.ones(2),), (np.ones(2),))


def test_non_differentiable_ops_give_zero_derivative():
    x = np.array([0.3, 1.7, -2.2])
    J = ad.jacfwd(lambda x: np.floor(x) + np.sign(x) * x + (x > 0))(x)
    np.testing.assert_array_equal(J, np.diag(np.sign(x)))


def test_relu_and_abs_at_zero_follow_the_documented_convention():
    J = ad.jacfwd(lambda x: ad.relu(x) + np.abs(x))(np.array([0.0, 1.0]))
    np.testing.assert_array_equal(np.diag(J), [0.0, 2.0])


def test_nan_and_inf_propagate_without_crashing():
    with np.errstate(all="ignore"):
        out, t = ad.jvp(lambda x: np.log(x), (np.array([-1.0, 0.0, np.inf, np.nan]),), (np.ones(4),))
        g = ad.grad(lambda x: np.sqrt(x))(0.0)
    assert np.isnan(out[0]) and np.isneginf(out[1]) and np.isposinf(out[2]) and np.isnan(out[3])
    assert t[0] == -1.0 and np.isposinf(t[1]) and t[2] == 0.0 and np.isnan(t[3])
    assert np.isposinf(g)


def test_user_op_through_defop_works_in_both_modes():
    cube = ad.defop("test_cube", lambda x: x**3, derivs=(lambda x, y: 3 * x * x,))
    try:
        x = np.array([1.0, -2.0])
        np.testing.assert_allclose(ad.jacfwd(cube)(x), np.diag(3 * x * x))
        np.testing.assert_allclose(ad.grad(lambda x: np.sum(cube(x)))(x), 3 * x * x)
        assert ad.gradcheck(lambda x: cube(x), x)
    finally:
        registry.unregister("test_cube")


def test_jvp_tangents_must_have_the_primals_structure():
    p = {"a": np.ones(2), "b": np.ones(1)}
    with pytest.raises(ValueError, match=r"tangents have the structure \(\{'a': \*\},\) but primals"):
        ad.jvp(lambda p: p["a"], (p,), ({"a": np.ones(2)},))


def test_jacfwd_of_the_last_argument_by_a_negative_argnum():
    # d/db sum(a * b^3) = 3 a b^2
    J = ad.jacfwd(lambda *a: np.sum(a[0] * a[-1] ** 3), argnums=-1)(np.ones(1), 2 * np.ones(1))
    np.testing.assert_array_equal(J, [12.0])


def test_jacfwd_of_a_dict_in_chunks_matches_the_analytic_blocks():
    # f(p) = (w * x, sum(x)): d/dx = diag(w), d/dw = diag(x), d sum/dx = 1, d sum/dw = 0
    p = {"w": np.array([2.0, 3.0]), "x": np.array([5.0, 7.0])}
    for chunk in (1, 3, None):
        J = ad.jacfwd(lambda p: (p["w"] * p["x"], np.sum(p["x"])), chunk=chunk)(p)
        np.testing.assert_array_equal(J[0]["x"], np.diag(p["w"]))
        np.testing.assert_array_equal(J[0]["w"], np.diag(p["x"]))
        np.testing.assert_array_equal(J[1]["x"], [1.0, 1.0])
        np.testing.assert_array_equal(J[1]["w"], [0.0, 0.0])


def test_push_tangents_returns_symbolic_zeros_for_outputs_without_a_tangent():
    from ad.transform import push_tangents

    out, tangents, tree = push_tangents(
        lambda x, c: (x * 2.0, c + 1.0), (np.ones(2), np.ones(3)), [np.ones(2), None]
    )
    assert tree(out)[1].shape == (3,) and tangents[1] is None
    np.testing.assert_array_equal(tangents[0], [2.0, 2.0])


def test_item_assignment_on_a_dual_raises_with_the_out_of_place_spelling():
    def f(x):
        y = x * 1.0
        y[0] = 5.0
        return np.sum(y)

    with pytest.raises(TypeError, match=r"np\.where\(mask, v, x\)"):
        ad.jacfwd(f)(np.ones(2))
    np.testing.assert_array_equal(ad.grad(f)(np.ones(2)), [0.0, 1.0])  # reverse mode records it
