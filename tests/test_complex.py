"""Complex numbers, in JAX's convention, iterated from the registry.

An R-linear JVP t -> a t + b conj(t) has the VJP ct -> a ct + conj(b) conj(ct), so that for
every u and w, Re sum((J u) w) = Re sum(u vjp(w)), with no conjugation: for the VJP,
Re(u (a w + conj(b) conj(w))) = Re(a u w) + Re(conj(conj(u) b w)) = Re((a u + b conj(u)) w).
Every op declared with complex rules is checked in both modes against central differences
in the real and the imaginary direction of each input (C as R^2) and by that identity;
every op declared without them must refuse complex input.
"""

import inspect

import numpy as np
import pytest

import ad
from ad import registry, testing
from ad.trace import apply, new_level

COMPLEX_OPS = [op for op in registry.all_ops() if op.complex and op.kind != "nondiff"]
REAL_ONLY_OPS = [op for op in registry.all_ops() if not op.complex]
IMAG = 0.5  # the imaginary parts added to each op's real examples: inside every domain's cuts


def _complexified(op, operands, idx, rng):
    """The operands with an imaginary part added to those at idx (their domains keep it valid)."""
    out = list(operands)
    for i in idx:
        x = np.asarray(operands[i], float)
        out[i] = x + 1j * IMAG * rng.uniform(-1, 1, np.shape(x))
    return out


def complex_cases(op, seed=0):
    """(operands, params, idx) of op's examples, differentiated operands made complex."""
    rng = np.random.default_rng(seed + 17)
    for operands, params, idx in testing.cases(op, seed):
        yield _complexified(op, operands, idx, rng), params, idx


def _random_like(y, rng):
    """A random cotangent for output y: complex for a complex output, real for a real one."""
    if isinstance(y, tuple | list):
        return testing.tree_map(lambda v: _random_like(v, rng), y)
    w = rng.standard_normal(np.shape(y))
    return w + 1j * rng.standard_normal(np.shape(y)) if np.iscomplexobj(y) else w


def _pair(a, b) -> tuple[float, float]:
    """Re sum(a b) over flattened values, and the scale sum |a| |b| it is accurate to."""
    a, b = testing._flat(a), testing._flat(b)
    return float(np.real(np.sum(a * b))), float(np.sum(np.abs(a) * np.abs(b)))


def _directions(x, rng):
    """A random real direction r and i r: the real and imaginary directions of x."""
    r = rng.standard_normal(np.shape(x))
    return [("real", r + 0j), ("imaginary", 1j * r)]


@pytest.mark.parametrize("op", COMPLEX_OPS, ids=lambda op: op.name)
def test_both_modes_match_central_differences_on_complex_input(op):
    rng = np.random.default_rng(1)
    cases = list(complex_cases(op))
    assert cases, f"{op.name} has no differentiable example"
    for operands, params, idx in cases:
        for i in idx:
            f = testing.op_function(op, operands, params, [i])
            x = operands[i]
            out, vjp_fn = ad.vjp(f, x)
            w = _random_like(out, rng)
            (g,) = vjp_fn(w)
            assert np.shape(g) == np.shape(x) and np.iscomplexobj(g), (
                f"{op.name}{params}: cotangent of complex operand {i} is {np.asarray(g).dtype} {np.shape(g)}"
            )
            for name, u in _directions(x, rng):
                fd = testing.central_difference(f, [x], [u])
                what = f"{op.name}{params} operand {i}, {name} direction"
                testing.assert_close(
                    testing._flat(ad.jvp(f, (x,), (u,))[1]),
                    fd,
                    testing.FD_RTOL,
                    testing.FD_ATOL,
                    f"{what}: JVP",
                )
                lhs, scale = _pair(fd, w)
                rhs, _ = _pair(u, g)
                assert abs(lhs - rhs) <= testing.FD_RTOL * max(1.0, scale), f"{what}: VJP {rhs} != FD {lhs}"


MIXED_OPS = [op for op in COMPLEX_OPS if any(len(idx) > 1 for _, _, idx in testing.cases(op))]


@pytest.mark.parametrize("op", MIXED_OPS, ids=lambda op: op.name)
def test_a_real_operand_among_complex_ones_gets_a_real_cotangent(op):
    """The real operand is promoted to complex by NumPy: its cotangent is the real part."""
    rng = np.random.default_rng(5)
    for (operands, params, idx), (real, _, _) in zip(complex_cases(op), testing.cases(op)):
        for i in idx:
            mixed = list(operands)
            mixed[i] = x = np.asarray(real[i], float)
            f = testing.op_function(op, mixed, params, [i])
            out, vjp_fn = ad.vjp(f, x)
            w = _random_like(out, rng)
            (g,) = vjp_fn(w)
            what = f"{op.name}{params} real operand {i}"
            assert np.shape(g) == np.shape(x) and not np.iscomplexobj(g), f"{what}: {np.asarray(g).dtype}"
            (rule,) = testing.rule_vjp(op, mixed, params, [i], w)  # the rules alone, no engine
            assert not np.iscomplexobj(rule), f"{what}: the VJP rule gives {np.asarray(rule).dtype}"
            r = rng.standard_normal(np.shape(x))
            fd = testing.central_difference(f, [x], [r])
            jvp = testing._flat(ad.jvp(f, (x,), (r,))[1])
            testing.assert_close(jvp, fd, testing.FD_RTOL, testing.FD_ATOL, f"{what}: JVP")
            lhs, scale = _pair(fd, w)
            rhs, _ = _pair(r, g)
            assert abs(lhs - rhs) <= testing.FD_RTOL * max(1.0, scale), f"{what}: VJP {rhs} != FD {lhs}"


@pytest.mark.parametrize("op", COMPLEX_OPS, ids=lambda op: op.name)
def test_dot_product_with_the_real_pairing(op):
    """Re sum((J u) w) == Re sum(u vjp(w)), from our own JVP and VJP, u and w complex."""
    rng = np.random.default_rng(2)
    for operands, params, idx in complex_cases(op):
        f = testing.op_function(op, operands, params, idx)
        xs = [operands[i] for i in idx]
        us = [rng.standard_normal(np.shape(x)) + 1j * rng.standard_normal(np.shape(x)) for x in xs]
        out, Ju = ad.jvp(f, tuple(xs), tuple(us))
        w = _random_like(out, rng)
        gs = ad.vjp(f, *xs)[1](w)
        lhs, scale = _pair(Ju, w)
        rhs, _ = _pair(us, gs)
        assert abs(lhs - rhs) <= 1e-11 * max(1.0, scale), f"{op.name}{params}: {lhs} != {rhs}"


@pytest.mark.parametrize("op", COMPLEX_OPS, ids=lambda op: op.name)
def test_batched_rules_on_complex_input_equal_one_direction_at_a_time(op):
    rng = np.random.default_rng(3)
    k = 2
    for operands, params, idx in complex_cases(op):
        f = testing.op_function(op, operands, params, idx)
        xs = [operands[i] for i in idx]
        Us = [
            rng.standard_normal((k,) + np.shape(x)) + 1j * rng.standard_normal((k,) + np.shape(x)) for x in xs
        ]
        level = new_level()
        out = f(*(ad.Dual(x, U, level, k) for x, U in zip(xs, Us)))
        batched = testing._tangent(out, level, (k,))
        W = _random_like(apply(op, list(operands), params), rng)
        W = testing.tree_map(lambda w: np.stack([w, 2j * w]), W)
        cts = testing.rule_vjp(op, operands, params, idx, W, batched=True)
        for j in range(k):
            one = ad.jvp(f, tuple(xs), tuple(U[j] for U in Us))[1]
            b = [t[j] for t in batched] if isinstance(batched, list) else batched[j]
            what = f"{op.name}{params} direction {j}"
            testing.assert_close(testing._flat(b), testing._flat(one), 1e-12, 1e-12, what + ": JVP")
            wj = testing.direction(W, j)
            for c, o in zip(cts, testing.rule_vjp(op, operands, params, idx, wj)):
                testing.assert_close(c[j], o, 1e-12, 1e-12, what + ": VJP")


def _complex_call(op, rng):
    """op's first example with every float operand made complex."""
    operands, params = testing.examples(op)[0]
    floats = [i for i, x in enumerate(operands) if np.issubdtype(np.result_type(x), np.floating)]
    operands = _complexified(op, operands, floats, rng)
    nin = getattr(op.impl, "nin", 0)  # a ufunc's operand count: a nondiff op's examples sample one
    return operands + operands[:1] * (nin - len(operands)), params


@pytest.mark.parametrize("op", REAL_ONLY_OPS, ids=lambda op: op.name)
def test_ops_without_complex_rules_refuse_complex_input(op):
    operands, params = _complex_call(op, np.random.default_rng(4))
    z = next(i for i, x in enumerate(operands) if np.iscomplexobj(x))
    message = f"{op.name} has no complex rule"

    def f(x):
        return apply(op, [x if j == z else v for j, v in enumerate(operands)], params)

    with pytest.raises(TypeError, match=message):
        ad.jvp(f, (operands[z],), (np.ones_like(operands[z]),))
    with pytest.raises(TypeError, match=message):
        ad.vjp(f, operands[z])


def test_real_only_ops_still_differentiate_real_input():
    x = np.array([0.5, -1.5])
    assert ad.grad(lambda v: np.sum(np.maximum(v, 0.0) + np.sign(v)))(x).tolist() == [1.0, 0.0]


def test_comparisons_and_rounding_of_complex_values_are_constants():
    z = np.array([1 + 2j, -0.5 + 0.25j])

    def f(v):
        mask = (v == z) & ~np.isnan(v) & (v > -1)
        return np.where(mask, v * v, np.round(v))

    out, tangent = ad.jvp(f, (z,), (np.ones_like(z),))
    np.testing.assert_allclose(tangent, 2 * z)


# -- hand-derived values -------------------------------------------------------------------

Z = np.array([3 + 4j])


def test_gradient_of_abs_of_z_squared_is_jax_s():
    """|z^2| = x^2 + y^2: grad = df/dx - i df/dy = 2x - 2iy = 6 - 8i at 3 + 4i."""
    f = lambda z: np.sum(np.abs(z * z))  # noqa: E731
    np.testing.assert_allclose(ad.grad(f)(Z), [6 - 8j], rtol=1e-15)
    out, vjp_fn = ad.vjp(f, Z)
    np.testing.assert_allclose(vjp_fn(1.0)[0], [6 - 8j], rtol=1e-15)


def test_gradient_of_modulus_squared_is_twice_the_conjugate():
    for f in (lambda z: np.sum(np.abs(z) ** 2), lambda z: np.sum(np.real(z * np.conj(z)))):
        np.testing.assert_allclose(ad.grad(f)(Z), 2 * np.conj(Z), rtol=1e-15)


def test_parts_of_a_complex_number():
    """grad = df/dx - i df/dy: real -> 1, imag -> -i, abs -> conj(z)/|z|, angle -> -i/z."""
    cases = [(np.real, 1.0), (np.imag, -1j), (np.abs, np.conj(Z) / 5), (np.angle, -1j / Z)]
    for part, expected in cases:
        g = ad.grad(lambda z, part=part: np.sum(part(z)))(Z)
        np.testing.assert_allclose(g, np.broadcast_to(expected, Z.shape), rtol=1e-15, err_msg=part.__name__)
        assert g.dtype == complex
    np.testing.assert_allclose(np.angle(Z) + 0j, np.arctan2(4.0, 3.0))  # -i/z = (-y - ix) / |z|^2
    np.testing.assert_allclose(-1j / Z, (-4 - 3j) / 25)


def test_jvp_of_the_parts_is_their_real_linear_map():
    t = np.array([0.3 - 1.1j])
    cases = [
        (np.real, np.real(t)),
        (np.imag, np.imag(t)),
        (np.conj, np.conj(t)),
        (np.abs, np.real(np.conj(Z) * t) / 5),
        (np.angle, np.imag(t / Z)),
    ]
    for part, expected in cases:
        np.testing.assert_allclose(ad.jvp(part, (Z,), (t,))[1], expected, rtol=1e-15, err_msg=part.__name__)


def test_vjp_of_conj_conjugates_the_cotangent():
    ct = np.array([0.5 + 2j])
    np.testing.assert_allclose(ad.vjp(np.conj, Z)[1](ct)[0], np.conj(ct))
    np.testing.assert_allclose(ad.vjp(lambda z: z.conj(), Z)[1](ct)[0], np.conj(ct))
    np.testing.assert_allclose(ad.vjp(np.imag, Z)[1](np.array([2.0]))[0], [-2j])


def test_holomorphic_chain_gives_its_complex_derivative():
    """exp(sin z): JVP t f'(z) (C-linear in t), VJP ct f'(z), no conjugation."""
    z = np.array([0.3 + 0.7j, -1.2 - 0.4j])
    d = np.exp(np.sin(z)) * np.cos(z)
    f = lambda v: np.exp(np.sin(v))  # noqa: E731
    for t in (np.ones(2) + 0j, 1j * np.ones(2), np.array([0.5 - 2j, 1 + 1j])):
        np.testing.assert_allclose(ad.jvp(f, (z,), (t,))[1], t * d, rtol=1e-14)
        np.testing.assert_allclose(ad.vjp(f, z)[1](t)[0], t * d, rtol=1e-14)


@pytest.mark.parametrize(
    "f", [np.arcsin, np.arccos, np.arctan, np.arcsinh, np.arccosh, np.arctanh, np.log, np.sqrt, np.log1p]
)
def test_inverse_functions_follow_numpys_branches_across_the_plane(f):
    """The registry's examples sit near the real domain; these points lie in every quadrant, off the cuts."""
    z = np.array([-2 + 0.5j, -0.5 - 1.5j, 1.5 + 1.5j, 0.3 - 0.2j, -1.2 - 0.7j])
    fd = (f(z + 1e-6) - f(z - 1e-6)) / 2e-6
    np.testing.assert_allclose(ad.jvp(f, (z,), (np.ones_like(z),))[1], fd, rtol=1e-8)
    np.testing.assert_allclose(ad.vjp(f, z)[1](np.ones_like(z))[0], fd, rtol=1e-8)


def test_a_real_input_of_a_complex_computation_gets_a_real_gradient():
    """x -> Re(c x): the cotangent of the real x is Re(c ct), the transpose of promotion."""
    c = np.array([1 + 2j, -0.5 + 1j])
    x = np.array([0.7, -1.3])
    g = ad.grad(lambda v: np.sum(np.real(c * v * v)))(x)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, 2 * np.real(c) * x, rtol=1e-15)
    ct = np.array([1 + 1j, 2 - 1j])
    (g,) = ad.vjp(lambda v: c * v, x)[1](ct)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, np.real(c * ct), rtol=1e-15)
    A = np.array([[1 + 1j, 2.0], [0.5j, -1.0]])
    (g,) = ad.vjp(lambda v: A @ v, x)[1](ct)
    np.testing.assert_allclose(g, np.real(A.T @ ct), rtol=1e-15)


def test_power_of_a_real_negative_base_to_a_complex_exponent():
    """NumPy promotes the base: d/dy (-2)**y = log(-2 + 0j) (-2)**y, not NaN."""
    y = np.array([0.5 + 1j, -1.5 + 0.25j])
    expected = np.log(-2 + 0j) * np.power(-2.0, y)
    np.testing.assert_allclose(ad.vjp(lambda y: np.power(-2.0, y), y)[1](np.ones(2, complex))[0], expected)
    np.testing.assert_allclose(ad.jvp(lambda y: np.power(-2.0, y), (y,), (np.ones(2, complex),))[1], expected)


def test_variance_and_norm_of_complex_values_are_real_valued():
    z = np.array([1 + 2j, 3 - 1j, 0.5j])
    m = np.mean(z)
    np.testing.assert_allclose(ad.grad(np.var)(z), 2 * np.conj(z - m) / 3, rtol=1e-14)
    np.testing.assert_allclose(ad.grad(np.linalg.norm)(z), np.conj(z) / np.linalg.norm(z), rtol=1e-14)
    t = np.array([1j, 0.5, -1 + 1j])
    np.testing.assert_allclose(ad.jvp(np.var, (z,), (t,))[1], 2 * np.real(np.sum(np.conj(z - m) * t)) / 3)


def test_second_order_through_the_non_holomorphic_rules():
    """The rules dispatch again on traced values: grad of grad, and the JVP of grad, against
    central differences of grad (in C as R^2)."""

    def f(z):
        return (
            np.sum(np.abs(z) ** 3 * np.real(z) + np.angle(z) * np.imag(z) ** 2)
            + np.var(z)
            + np.linalg.norm(z)
        )

    z = np.array([0.8 + 0.3j, -1.1 + 0.6j, 0.4 - 0.9j])
    t, w, h = np.array([0.3 - 1j, 0.5j, 1.0]), np.array([1 - 1j, 2.0, 0.5j]), 1e-6
    g = ad.grad(f)
    fd = (g(z + h * t) - g(z - h * t)) / (2 * h)
    np.testing.assert_allclose(ad.jvp(g, (z,), (t,))[1], fd, rtol=1e-7, atol=1e-8)

    def phi(v):
        return np.real(np.sum(ad.grad(f)(v) * w))

    expected = [
        (phi(z + h * e) - phi(z - h * e) - 1j * (phi(z + 1j * h * e) - phi(z - 1j * h * e))) / (2 * h)
        for e in np.eye(3)
    ]
    np.testing.assert_allclose(ad.grad(phi)(z), expected, rtol=1e-7, atol=1e-8)


def test_the_refusal_names_the_op_and_what_to_do():
    with pytest.raises(TypeError, match=r"maximum has no complex rule.*np\.real") as info:
        ad.grad(lambda z: np.sum(np.abs(np.maximum(z, 0.0))))(Z)
    assert "ad.defop(..., complex=True)" in str(info.value)
    with pytest.raises(TypeError, match="sign has no complex rule"):
        ad.jvp(np.sign, (Z,), (Z,))


def test_compiled_tapes_refuse_complex_constants():
    """Their slots are float64: a complex constant would lose its imaginary part."""
    k = np.array([1 + 2j, 1 + 2j])
    with pytest.raises(TypeError, match="complex constant"):
        ad.compile(lambda x: np.sum(np.abs(x * k)), np.array([1.0, 2.0]))


def test_a_user_op_declared_complex_is_differentiated():
    cube = ad.defop("test_complex_cube", lambda x: x**3, derivs=(lambda x, y: 3 * x * x,), complex=True)
    square = ad.defop("test_complex_square", lambda x: x * x, derivs=(lambda x, y: 2 * x,))
    try:
        np.testing.assert_allclose(ad.vjp(cube, Z)[1](np.ones(1))[0], 3 * Z**2)
        with pytest.raises(TypeError, match="test_complex_square has no complex rule"):
            ad.vjp(square, Z)
    finally:
        registry.unregister("test_complex_cube")
        registry.unregister("test_complex_square")


# -- JAX as an oracle ----------------------------------------------------------------------


def _m(xp, z):
    return xp.reshape(z, (2, 2))


REAL_VALUED = {
    "abs of z^2": lambda xp, z: xp.sum(xp.abs(z * z)),
    "Re(exp(sin z) conj z)": lambda xp, z: xp.sum(xp.real(xp.exp(xp.sin(z)) * xp.conj(z))),
    "norm": lambda xp, z: xp.linalg.norm(z),
    "angle times imag": lambda xp, z: xp.sum(xp.angle(z) * xp.imag(z)),
    "var and std": lambda xp, z: xp.var(z) + xp.std(z) * xp.abs(xp.prod(z)),
    "matmul, cumsum": lambda xp, z: xp.abs(xp.sum(xp.cumsum(_m(xp, z) @ _m(xp, z).T))),
    "log, sqrt, power": lambda xp, z: xp.sum(xp.real(xp.log(z) * xp.sqrt(z) ** 1.5) + xp.imag(z ** (1 - 1j))),
    "det, inv": lambda xp, z: xp.abs(xp.linalg.det(_m(xp, z))) + xp.sum(xp.imag(xp.linalg.inv(_m(xp, z)))),
    "tanh, arcsinh, divide": lambda xp, z: xp.sum(xp.abs(xp.tanh(z) / (1 + xp.arcsinh(z)))),
    "vdot, conjugate-linear in a": lambda xp, z: xp.imag(xp.vdot(z, xp.exp(z))) + xp.real(xp.vdot(z, z)),
}  # fmt: skip
HOLOMORPHIC = {
    "exp(sin z)": lambda xp, z: xp.sum(xp.exp(xp.sin(z))),
    "z^3 / (1 + z), prod": lambda xp, z: xp.sum(z**3 / (1 + z)) + xp.prod(z),
    "einsum": lambda xp, z: xp.einsum("i,i->", z, xp.cos(z)),
}
Z4 = np.array([0.8 + 0.3j, 1.1 - 0.6j, 0.4 + 0.9j, 1.5 + 0.2j])


@pytest.mark.parametrize("name", REAL_VALUED)
def test_grad_of_real_valued_functions_matches_jax(jax64, name):
    f = REAL_VALUED[name]
    expected = np.asarray(jax64.grad(lambda z: f(jax64.numpy, z))(jax64.numpy.asarray(Z4)))
    np.testing.assert_allclose(ad.grad(lambda z: f(np, z))(Z4), expected, rtol=1e-12, atol=1e-14)


def test_jvp_and_vjp_of_a_non_holomorphic_map_match_jax(jax64):
    jnp = jax64.numpy

    def f(xp, z):
        return xp.conj(z) * xp.exp(z) + xp.abs(z) + 1j * xp.angle(z) * xp.real(z)

    t = np.array([0.2 - 1j, 1.5 + 0.5j, -0.3j, 1.0, 0.7 + 0.1j][:4])
    ct = np.array([1 - 1j, 0.5j, 2.0, -1 + 0.3j])
    _, jt = jax64.jvp(lambda z: f(jnp, z), (jnp.asarray(Z4),), (jnp.asarray(t),))
    np.testing.assert_allclose(ad.jvp(lambda z: f(np, z), (Z4,), (t,))[1], np.asarray(jt), rtol=1e-12)
    (jg,) = jax64.vjp(lambda z: f(jnp, z), jnp.asarray(Z4))[1](jnp.asarray(ct))
    np.testing.assert_allclose(ad.vjp(lambda z: f(np, z), Z4)[1](ct)[0], np.asarray(jg), rtol=1e-12)


@pytest.mark.parametrize("name", HOLOMORPHIC)
def test_holomorphic_grad_matches_jax(jax64, name):
    if "holomorphic" not in inspect.signature(ad.grad).parameters:
        pytest.skip("ad.grad has no holomorphic flag yet")
    f = HOLOMORPHIC[name]
    expected = np.asarray(jax64.grad(lambda z: f(jax64.numpy, z), holomorphic=True)(jax64.numpy.asarray(Z4)))
    np.testing.assert_allclose(ad.grad(lambda z: f(np, z), holomorphic=True)(Z4), expected, rtol=1e-12)
