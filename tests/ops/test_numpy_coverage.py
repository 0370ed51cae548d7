"""The numeric, assembly and shape functions of NumPy: derivatives against hand-derived values
in both modes, the options each takes, the errors for those it refuses, and JAX as an oracle."""

import warnings

import numpy as np
import pytest

import ad
from ad import registry

RNG = np.random.default_rng(11)
X = RNG.uniform(-2, 2, 5)


def _both(f, x):
    """jacfwd and jacrev of f at x."""
    return ad.jacfwd(f)(x), ad.jacrev(f)(x)


def _linear_map(f, shape):
    """The matrix of an affine map f, column by column from NumPy itself (no ad involved)."""
    n = int(np.prod(shape))
    at0 = np.ravel(f(np.zeros(shape)))
    return np.stack([np.ravel(f(e.reshape(shape))) - at0 for e in np.eye(n)], axis=-1)


def _assert_jacobian_is(f, x, expected, rtol=1e-13, atol=1e-14):
    for jac in _both(f, x):
        np.testing.assert_allclose(np.reshape(jac, expected.shape), expected, rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------
# remainder, fmod, divmod and the operators


def test_remainder_partials_are_one_and_minus_the_floor_quotient():
    x, y = np.array([5.3, -5.3, 7.0, -0.4]), np.array([2.0, 2.0, -3.0, 0.9])
    for f in (np.remainder, np.mod, lambda x, y: x % y):
        for jac in (ad.jacfwd, ad.jacrev):
            dx, dy = jac(f, argnums=(0, 1))(x, y)
            np.testing.assert_array_equal(dx, np.eye(4))
            np.testing.assert_array_equal(dy, np.diag([-2.0, 3.0, 3.0, 1.0]))  # -floor(x / y)


def test_fmod_partial_in_the_divisor_is_minus_the_truncated_quotient():
    x, y = np.array([5.3, -5.3, 7.0]), np.array([2.0, 2.0, -3.0])
    _, dy = ad.jacrev(np.fmod, argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(dy, np.diag([-2.0, 2.0, 2.0]))  # -trunc(x / y)


def test_floor_divide_is_registered_without_a_derivative():
    assert registry.lookup(np.floor_divide).kind == "nondiff"
    assert ad.grad(lambda x: np.sum((x // 0.5) * x))(X).tolist() == np.floor(X / 0.5).tolist()


def test_divmod_builtin_and_ufunc_give_a_constant_quotient_and_a_differentiable_remainder():
    x = np.array([5.3, -1.2])
    for f in (divmod, np.divmod):
        q, r = ad.jvp(lambda v, f=f: f(v, 2.0), (x,), (np.ones(2),))[0]
        np.testing.assert_array_equal(q, np.floor_divide(x, 2.0))
        assert ad.grad(lambda v, f=f: np.sum(f(v, 2.0)[1] + f(3.0, v)[1]))(x).tolist() == [
            1.0 - np.floor(3.0 / 5.3),
            1.0 - np.floor(3.0 / -1.2),
        ]
    with pytest.raises(NotImplementedError, match="divmod options"):
        ad.grad(lambda v: np.sum(np.divmod(v, 2.0, dtype=float)[1]))(x)


def test_percent_operators_on_eager_tensors_and_duals():
    t = ad.tensor(np.array([5.3, -1.2]), requires_grad=True)
    (t % 2.0 + 7.0 % t + t // 2.0).sum().backward()
    np.testing.assert_array_equal(t.grad, 1.0 - np.floor(7.0 / np.array([5.3, -1.2])))
    d = ad.Dual(np.array([5.3]), np.array([1.0]))
    r, q = (d % 2.0), (d // 2.0)
    assert r.tangent.tolist() == [1.0] and not isinstance(q, ad.Dual)
    q, r = divmod(d, 2.0)
    assert q.tolist() == [2.0] and r.tangent.tolist() == [1.0]


# ---------------------------------------------------------------------------------------
# real_if_close, nan_to_num


def test_real_if_close_drops_a_negligible_imaginary_part_and_keeps_a_large_one():
    z = np.array([1.5 + 1e-17j, -2.0 + 0j])
    g = ad.grad(lambda z: np.sum(np.real_if_close(z) ** 2))(z)
    np.testing.assert_allclose(g, 2 * np.real(z), rtol=1e-15)  # grad of x^2 in the real part
    out, t = ad.jvp(np.real_if_close, (z,), (np.array([1 + 2j, 3j]),))
    assert not np.iscomplexobj(out) and t.tolist() == [1.0, 0.0]
    big = np.array([1 + 1e-3j])
    out, t = ad.jvp(np.real_if_close, (big,), (np.array([2j]),))
    assert np.iscomplexobj(out) and t.tolist() == [2j]
    assert ad.jacfwd(np.real_if_close)(X).tolist() == np.eye(5).tolist()


def test_nan_to_num_passes_the_derivative_where_finite_and_sends_it_to_the_fill_values():
    x = np.array([1.5, np.nan, np.inf, -np.inf, -2.0])
    _assert_jacobian_is(np.nan_to_num, x, np.diag([1.0, 0, 0, 0, 1.0]))

    def f(x, fill):  # NumPy hands the call to ad when x is traced: fill is differentiated then
        return np.nan_to_num(x, nan=fill, posinf=2 * fill, neginf=-3 * fill)

    for jac in (ad.jacfwd, ad.jacrev):
        np.testing.assert_array_equal(jac(f, argnums=(0, 1))(x, 0.5)[1], [0.0, 1.0, 2.0, -3.0, 0.0])
    with pytest.raises(NotImplementedError, match="copy=False"):
        ad.grad(lambda v: np.sum(np.nan_to_num(v, copy=False)))(x)


# ---------------------------------------------------------------------------------------
# Splits, joins, rearrangements: linear maps, so the Jacobian is NumPy's own map


@pytest.mark.parametrize(
    "f, shape",
    [
        (lambda x: np.hsplit(x, [1, 3])[1], (2, 4)),
        (lambda x: np.hsplit(x, 2)[0], (6,)),
        (lambda x: np.vsplit(x, 2)[1], (4, 3)),
        (lambda x: np.dsplit(x, [1])[1], (2, 2, 3)),
        (lambda x: np.append(x, x[:1] * 2.0, axis=0), (2, 3)),
        (lambda x: np.append(x, 1.0), (2, 2)),
        (lambda x: np.column_stack([x[0], np.ones(3), x[1:].T]), (3, 3)),
        (lambda x: np.block([[x, np.zeros((2, 1))], [np.ones((1, 2)), x[:1, :1]]]), (2, 2)),
        (lambda x: np.block([x[0], 7.0, x[1]]), (2, 2)),
        (lambda x: np.rot90(x), (2, 3)),
        (lambda x: np.rot90(x, -1, axes=(2, 0)), (2, 3, 2)),
        (lambda x: np.rot90(x, 2), (3, 2)),
        (lambda x: np.rollaxis(x, 2), (2, 3, 4)),
        (lambda x: np.rollaxis(x, 0, 3), (2, 3, 4)),
        (lambda x: np.diff(x, 2, axis=0), (5, 2)),
        (lambda x: np.diff(x, prepend=0.5, append=x[:, :1]), (2, 3)),
        (lambda x: np.ediff1d(x, to_begin=[-1.0], to_end=x[0]), (2, 3)),
        (lambda x: np.gradient(x, 0.5, edge_order=2), (6,)),
        (lambda x: np.stack(np.gradient(x, [0.0, 0.4, 1.5], 2.0)), (3, 4)),
        (lambda x: np.gradient(x, np.array([0.0, 0.4, 1.5, 1.6]), axis=0, edge_order=2), (4, 2)),
        (lambda x: np.trapezoid(x, [0.0, 0.5, 2.0], axis=0), (3, 2)),
        (lambda x: np.trapezoid(x, dx=0.25), (2, 4)),
        (lambda x: np.kron(x, np.array([[1.0, -2.0], [0.5, 3.0]])), (2, 3)),
        (lambda x: np.cross(x, np.array([1.0, -2.0, 0.5])), (4, 3)),
        (lambda x: np.cross(np.array([1.0, -2.0, 0.5]), x, axisb=0, axisc=0), (3, 2)),
        (lambda x: np.polyval(x, 1.5), (4,)),
        (lambda x: np.interp([-1.0, 0.3, 0.5, 2.5, 9.0], [0.0, 0.5, 1.0, 3.0], x), (4,)),
        (
            lambda x: (
                np.piecewise(np.array([-1.0, 0.2, 4.0]), [[True, False, False]], [lambda t: t, 0.0]) * x
            ),
            (3,),
        ),
    ],
)
def test_jacobian_of_an_affine_function_is_numpys_own_map(f, shape):
    x = RNG.uniform(-2, 2, shape)
    _assert_jacobian_is(f, x, _linear_map(f, shape), rtol=1e-12, atol=1e-13)


def test_block_refuses_tuples_empty_lists_and_mismatched_depths():
    x = ad.Dual(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(TypeError, match="Only lists"):
        np.block((x, x))
    with pytest.raises(ValueError, match="cannot be empty"):
        np.block([[x], []])
    with pytest.raises(ValueError, match="depths are mismatched"):
        np.block([[x], x])


def test_splits_and_rearrangements_refuse_what_numpy_refuses():
    x = ad.Dual(np.ones(4), np.ones(4))
    with pytest.raises(ValueError, match="vsplit only works on arrays of 2"):
        np.vsplit(x, 2)
    with pytest.raises(ValueError, match="Axes must be different"):
        np.rot90(np.reshape(x, (2, 2)), axes=(0, 0))
    with pytest.raises(np.exceptions.AxisError):
        np.rollaxis(x, 0, 3)
    with pytest.raises(ValueError, match="order must be non-negative"):
        np.diff(x, -1)


# ---------------------------------------------------------------------------------------
# Nonlinear ones: hand-derived partials


def test_gradient_derivative_in_the_spacing_is_minus_the_gradient_over_h():
    f = RNG.uniform(-2, 2, 6)
    for order in (1, 2):
        expected = -np.gradient(f, 0.7, edge_order=order) / 0.7
        for jac in (ad.jacfwd, ad.jacrev):
            np.testing.assert_allclose(
                jac(lambda h: np.gradient(f, h, edge_order=order))(0.7), expected, rtol=1e-13
            )


def test_gradient_in_the_coordinates_matches_finite_differences_for_both_edge_orders():
    f = RNG.uniform(-2, 2, (5, 3))
    x = np.cumsum(RNG.uniform(0.5, 1.5, 5))
    for order in (1, 2):
        assert ad.gradcheck(lambda x: np.gradient(f, x, axis=0, edge_order=order), x)
    with pytest.raises(ValueError, match="at least"):
        np.gradient(ad.Dual(np.ones(2), np.ones(2)), edge_order=2)


def test_trapezoid_is_differentiable_in_the_samples_the_coordinates_and_dx():
    y = np.array([1.0, 3.0, 2.0])
    for jac in (ad.jacfwd, ad.jacrev):
        np.testing.assert_allclose(jac(lambda y: np.trapezoid(y, dx=0.5))(y), [0.25, 0.5, 0.25])
        np.testing.assert_allclose(jac(lambda h: np.trapezoid(y, dx=h))(0.5), 4.5)  # sum of the mids
        # d/dx_i of sum (x_{i+1} - x_i)(y_i + y_{i+1}) / 2: (y_{i-1} - y_{i+1}) / 2 inside
        np.testing.assert_allclose(
            jac(lambda x: np.trapezoid(y, x))(np.array([0.0, 1.0, 3.0])), [-2.0, -0.5, 2.5]
        )


def test_cross_partials_are_the_skew_matrices():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([-0.5, 4.0, 1.0])

    def skew(v):
        return np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])

    for jac in (ad.jacfwd, ad.jacrev):
        da, db = jac(np.cross, argnums=(0, 1))(a, b)
        np.testing.assert_allclose(da, -skew(b))
        np.testing.assert_allclose(db, skew(a))
    np.testing.assert_allclose(ad.grad(lambda a: np.cross(a, b[:2]))(a[:2]), [4.0, 0.5])  # z = a0 b1 - a1 b0


def test_kron_partial_in_a_is_kron_of_a_basis_matrix():
    a, b = RNG.uniform(-2, 2, (2, 2)), RNG.uniform(-2, 2, (3, 1))
    expected = np.stack([np.kron(e.reshape(2, 2), b).ravel() for e in np.eye(4)], axis=-1)
    _assert_jacobian_is(lambda a: np.kron(a, b), a, expected)


def test_polyval_derivatives_are_the_derivative_polynomial_and_the_powers():
    p, x = np.array([2.0, -1.0, 0.5, 3.0]), np.array([0.5, -1.5])
    _assert_jacobian_is(lambda x: np.polyval(p, x), x, np.diag(np.polyval(np.polyder(p), x)))
    _assert_jacobian_is(lambda p: np.polyval(p, x), p, x[:, None] ** np.arange(3, -1, -1))
    assert ad.grad(lambda c: np.polyval(np.stack([c, c * c, 1.0]), 2.0))(3.0) == 4.0 + 2 * 3.0 * 2.0


def test_linspace_partials_are_the_interpolation_weights():
    s = np.arange(5) / 4
    for jac in (ad.jacfwd, ad.jacrev):
        da, db = jac(lambda a, b: np.linspace(a, b, 5), argnums=(0, 1))(0.5, 2.0)
        np.testing.assert_allclose(da, 1 - s, atol=1e-15)
        np.testing.assert_array_equal(db, s)
    y, step = ad.jvp(lambda b: np.linspace(0.0, b, 4, endpoint=False, retstep=True), (2.0,), (1.0,))[1]
    np.testing.assert_allclose(y, np.arange(4) / 4)
    assert step == 0.25
    out = ad.jacfwd(lambda v: np.linspace(v, 1.0, 3, axis=-1))(np.array([0.0, 2.0]))
    np.testing.assert_allclose(out[1], [[0, 1.0], [0, 0.5], [0, 0]])
    with pytest.raises(NotImplementedError, match="dtype"):
        ad.jacfwd(lambda a: np.linspace(a, 2.0, 3, dtype=np.float32))(0.5)


def test_logspace_and_geomspace_partials():
    s = np.arange(4) / 3
    y = np.logspace(0.5, 2.0, 4, base=3.0)
    for jac in (ad.jacfwd, ad.jacrev):
        np.testing.assert_allclose(
            jac(lambda a: np.logspace(a, 2.0, 4, base=3.0))(0.5), np.log(3.0) * y * (1 - s)
        )
        np.testing.assert_allclose(
            jac(lambda c: np.logspace(0.5, 2.0, 4, base=c))(3.0), y * (0.5 + 1.5 * s) / 3.0
        )
    g = np.geomspace(-2.0, -8.0, 4)
    for jac in (ad.jacfwd, ad.jacrev):  # start^(1-s) stop^s: d/dstart = (1 - s) y / start
        np.testing.assert_allclose(jac(lambda a: np.geomspace(a, -8.0, 4))(-2.0), (1 - s) * g / -2.0)
    with pytest.raises(ValueError, match="cannot include zero"):
        ad.jacfwd(lambda a: np.geomspace(a, 0.0, 3))(1.0)


def test_piecewise_evaluates_each_function_only_where_it_gives_the_value():
    x = np.array([-4.0, -1.0, 0.25, 4.0])

    def f(x):
        return np.piecewise(x, [x < 0, x > 1], [lambda t: -(t**3), np.sqrt, lambda t: 2 * t])

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # sqrt of a negative would warn
        np.testing.assert_array_equal(f(x), [64.0, 1.0, 0.5, 2.0])
        expected = np.diag([-48.0, -3.0, 2.0, 0.25])
        _assert_jacobian_is(f, x, expected)
    # overlapping conditions: the later one wins, and the earlier function is not differentiated there
    g = lambda x: np.piecewise(x, [x > 0, x > 1], [np.log, lambda t: t * t])  # noqa: E731
    np.testing.assert_array_equal(g(x), np.piecewise(x, [x > 0, x > 1], [np.log, lambda t: t * t]))
    _assert_jacobian_is(g, x, np.diag([0.0, 0.0, 4.0, 8.0]))


def test_interp_derivatives_in_x_fp_left_and_right():
    xp, fp = np.array([0.0, 1.0, 3.0]), np.array([1.0, 3.0, -1.0])
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 5.0])
    # in x: the segment's slope (the right one at a sample, the last at xp[-1]), 0 outside
    _assert_jacobian_is(lambda x: np.interp(x, xp, fp), x, np.diag([0, 2.0, 2.0, -2.0, -2.0, -2.0, 0]))
    hat = np.array([[1, 0, 0], [1, 0, 0], [0.5, 0.5, 0], [0, 1, 0], [0, 0.5, 0.5], [0, 0, 1], [0, 0, 1.0]])
    _assert_jacobian_is(lambda fp: np.interp(x, xp, fp), fp, hat)
    for jac in (ad.jacfwd, ad.jacrev):  # NumPy hands the call to ad when x or fp is traced
        _, dl, dr = jac(lambda fp, lo, hi: np.interp(x, xp, fp, lo, hi), argnums=(0, 1, 2))(fp, 7.0, 8.0)
        np.testing.assert_array_equal(dl, [1, 0, 0, 0, 0, 0, 0])
        np.testing.assert_array_equal(dr, [0, 0, 0, 0, 0, 0, 1])
    assert np.interp(ad.Dual(3.0, 1.0), xp, fp).primal == -1.0  # exactly fp[-1] at xp[-1]
    # periodic: x and the samples taken modulo the period
    out = ad.jacfwd(lambda x: np.interp(x, [0.0, 1.0, 2.0], [0.0, 1.0, 4.0], period=3.0))(
        np.array([3.5, -0.5])
    )
    np.testing.assert_allclose(np.diag(out), [1.0, -4.0])
    with pytest.raises(NotImplementedError, match="xp"):
        ad.jacfwd(lambda v: np.interp(0.5, v, fp))(xp)


def test_row_stack_of_traced_values_is_vstack():
    if not hasattr(np, "row_stack"):
        pytest.skip("this NumPy has no row_stack")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        _assert_jacobian_is(lambda x: np.row_stack([x, 2 * x]), X, np.vstack([np.eye(5), 2 * np.eye(5)]))


# ---------------------------------------------------------------------------------------
# JAX as an oracle: the same code with xp = numpy under ad, xp = jax.numpy under JAX


def _u(*shape, lo=-2.0, hi=2.0):
    return RNG.uniform(lo, hi, shape)


ORACLE = {
    "remainder": (lambda xp, x: xp.remainder(x, 0.7) + xp.remainder(2.5, x), _u(4, lo=0.5)),
    "fmod": (lambda xp, x: xp.fmod(x * 3.0, x[::-1]), _u(4, lo=0.5)),
    "divmod": (lambda xp, x: xp.divmod(x * 5.0, x[::-1])[1], _u(4, lo=0.5)),
    "splits": (lambda xp, x: xp.hsplit(x, 2)[1] * xp.vsplit(x, 2)[0], _u(2, 2)),
    "dsplit": (lambda xp, x: xp.dsplit(x, [1])[1] ** 2, _u(2, 1, 3)),
    "append": (lambda xp, x: xp.append(x, x**2, axis=1), _u(2, 3)),
    "column_stack": (lambda xp, x: xp.column_stack([x[0], x[1:].T, xp.sin(x[0])]), _u(3, 3)),
    "block": (lambda xp, x: xp.block([[x, x[:, :1] ** 2], [x[:1] * 3, xp.ones((1, 1))]]), _u(2, 2)),
    "kron": (lambda xp, x: xp.kron(x, x[::-1] ** 2), _u(2, 2)),
    "cross": (lambda xp, x: xp.cross(x, xp.sin(x), axis=0), _u(3, 2)),
    "diff": (lambda xp, x: xp.diff(x**2, n=2, axis=0, prepend=x[:1]), _u(4, 2)),
    "ediff1d": (lambda xp, x: xp.ediff1d(x**3, to_begin=x[:1], to_end=x[-1:]), _u(4)),
    "gradient": (lambda xp, x: xp.gradient(x**2, x[0, 0] ** 2 + 0.5, axis=1), _u(2, 4)),
    "rot90": (lambda xp, x: xp.rot90(x**2, 3, axes=(1, 0)), _u(2, 3)),
    "rollaxis": (lambda xp, x: xp.rollaxis(x**2, -1, 1), _u(2, 3, 2)),
    "linspace": (lambda xp, x: xp.linspace(x[0], x[1:], 5, axis=1), _u(3)),
    "logspace": (lambda xp, x: xp.logspace(x[0], x[1], 4, base=x[2] + 3.0), _u(3, lo=-1, hi=1)),
    "geomspace": (lambda xp, x: xp.geomspace(x[0], x[1], 4, endpoint=False), _u(2, lo=0.5)),
    "select": (lambda xp, x: xp.select([x > 0.5, x < -0.5], [x**2, xp.sin(x)], x * 3), _u(6)),
    "piecewise": (lambda xp, x: xp.piecewise(x, [x < 0, x > 1], [xp.sin, xp.exp, lambda t: t * t]), _u(6)),
    "nan_to_num": (lambda xp, x: xp.nan_to_num(x / (x - 0.5), posinf=x[0]), np.array([0.5, 1.5, 2.0])),
    "trapezoid": (lambda xp, x: xp.trapezoid(x**2, x=xp.cumsum(x * x + 1)), _u(5)),
    "polyval": (lambda xp, x: xp.polyval(x[:3], x[3:]), _u(6)),
    "interp": (lambda xp, x: xp.interp(x, np.array([-1.0, 0, 2]), x[:3] ** 2), np.array([-1.5, 0.5, 1, 3])),
}  # fmt: skip


@pytest.fixture(scope="module")
def jax_jacobians(jax64):
    """JAX's forward-mode Jacobian of every function in ORACLE, compiled as one program (one
    compilation instead of one per function)."""

    def jacobians(xs):
        return {
            name: jax64.jacfwd(lambda v, f=f: f(jax64.numpy, v))(xs[name]) for name, (f, _) in ORACLE.items()
        }

    out = jax64.jit(jacobians)({name: x for name, (_, x) in ORACLE.items()})
    return {name: np.asarray(j) for name, j in out.items()}


def _ours(transform, name):
    f, x = ORACLE[name]
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return transform(lambda v: f(np, v))(x)


@pytest.mark.parametrize("name", [name for name in ORACLE if name != "nan_to_num"])
def test_jacobians_match_jax(jax_jacobians, name):
    for transform in (ad.jacfwd, ad.jacrev):
        np.testing.assert_allclose(
            _ours(transform, name), jax_jacobians[name], rtol=1e-12, atol=1e-13, err_msg=name
        )


def test_nan_to_num_matches_jax_in_each_mode(jax64, jax_jacobians):
    """A replaced entry's tangent is 0 even when the value came with an infinite one (as
    where's); in reverse mode the zero cotangent then meets that infinity, as in JAX."""
    np.testing.assert_allclose(_ours(ad.jacfwd, "nan_to_num"), jax_jacobians["nan_to_num"], rtol=1e-12)
    f, x = ORACLE["nan_to_num"]
    expected = np.asarray(jax64.jit(jax64.jacrev(lambda v: f(jax64.numpy, v)))(x))
    np.testing.assert_allclose(_ours(ad.jacrev, "nan_to_num"), expected, rtol=1e-12)
