"""Ops registered with ad.defop against JAX's custom_jvp and custom_vjp, the oracle for what a
user expects: the rule is used, never the op's own derivative; a JVP alone serves reverse mode;
a VJP alone refuses forward mode; zeros for arguments not differentiated; pytrees; fixed
keyword arguments; every mode, batched, nested; float32. A rule that forgets the leading axis
of k directions, or returns a cotangent of another shape, raises instead of giving a wrong
Jacobian."""

import numpy as np
import pytest

import ad
from ad import registry
from ad.testing import assert_trees_close

X = np.array([0.3, -0.7, 1.1])
A = np.array([[2.0, 1.0, 0.0], [0.5, 3.0, 1.0], [0.0, -1.0, 4.0]])


@pytest.fixture
def defop():
    """ad.defop, with every op it registers unregistered after the test."""
    made = []

    def register(name, *args, **kwargs):
        f = ad.defop(name, *args, **kwargs)
        made.append(f.op.name)
        return f

    yield register
    for name in made:
        registry.unregister(name)


@pytest.fixture(scope="module")
def jax(jax64):
    return jax64


def _close(a, b, rtol=1e-12, atol=1e-12):
    assert_trees_close(a, b, rtol, atol)


# -- the rule is used, in every mode -------------------------------------------------------------
def _clip_gradient(defop, lo, hi):
    """The identity, whose derivative is clipped to [lo, hi]: a rule no primal derivative gives."""
    return defop(
        "clip_gradient",
        lambda x: x.copy(),
        jvp=lambda ts, ps, out, params, batched: np.clip(ts[0], lo, hi),
        vjp=lambda ct, ps, out, params, batched: (np.clip(ct, lo, hi),),
    )


def test_the_registered_rule_is_used_not_the_ops_own_derivative(defop, jax):
    import jax.numpy as jnp

    clip = _clip_gradient(defop, -0.1, 0.1)

    @jax.custom_vjp
    def jclip(x):
        return x

    jclip.defvjp(lambda x: (x, None), lambda _, g: (jnp.clip(g, -0.1, 0.1),))

    def loss(np, clip):
        return lambda x: np.sum(clip(x) * np.array([5.0, -0.05, 2.0]))

    expected = jax.grad(loss(jnp, jclip))(X)
    np.testing.assert_array_equal(expected, [0.1, -0.05, 0.1])
    _close(ad.grad(loss(np, clip))(X), expected)
    _close(ad.jacrev(lambda x: clip(x) * 5.0)(X), 0.1 * np.eye(3))
    _close(ad.jacfwd(lambda x: clip(x * 5.0))(X), 0.1 * np.eye(3))  # the JVP clips the tangent 5 e_i


def test_a_straight_through_estimator_in_both_modes_and_second_order(defop, jax):
    import jax.numpy as jnp

    # round(x) with the derivative of x ** 2 / 2: a rule unrelated to the primal
    rnd = defop(
        "straight_through",
        np.round,
        jvp=lambda ts, ps, out, params, batched: ts[0] * ps[0],
        vjp=lambda ct, ps, out, params, batched: (ct * ps[0],),
    )

    @jax.custom_jvp
    def jrnd(x):
        return jnp.round(x)

    jrnd.defjvp(lambda p, t: (jrnd(p[0]), t[0] * p[0]))  # the primal through the op: its rule again

    def f(np, r):
        return lambda x: np.sum(np.sin(r(x)) * x)

    for ours, theirs in [(ad.grad, jax.grad), (ad.jacfwd, jax.jacfwd), (ad.hessian, jax.hessian)]:
        _close(ours(f(np, rnd))(X), theirs(f(jnp, jrnd))(X))
    v = np.array([1.0, -2.0, 0.5])
    expected = jax.jvp(jax.grad(f(jnp, jrnd)), (X,), (v,))[1]
    for mode in ("fwd-rev", "rev-fwd", "rev-rev", "fwd-fwd"):
        _close(ad.hvp(f(np, rnd), (X,), (v,), mode=mode)[1], expected)


# -- a JVP alone, a VJP alone ----------------------------------------------------------------------
def test_a_jvp_rule_alone_serves_reverse_mode_transposed_as_jax_does(defop, jax):
    import jax.numpy as jnp

    # JAX's custom_jvp example: log(1 + e^x), whose derivative by the chain rule is NaN at x = 1000
    log1pexp = defop(
        "log1pexp",
        lambda x: np.log1p(np.exp(x)),
        jvp=lambda ts, ps, out, params, batched: ts[0] * (1.0 - 1.0 / (1.0 + np.exp(ps[0]))),
    )

    @jax.custom_jvp
    def jlog1pexp(x):
        return jnp.log1p(jnp.exp(x))

    jlog1pexp.defjvp(lambda p, t: (jlog1pexp(p[0]), t[0] * (1.0 - 1.0 / (1.0 + jnp.exp(p[0])))))
    x = np.array([-3.0, 0.5, 1000.0])
    with np.errstate(over="ignore"):
        for ours, theirs in [(ad.jacrev, jax.jacrev), (ad.jacfwd, jax.jacfwd)]:
            _close(ours(log1pexp)(x), theirs(jlog1pexp)(x))
        g = ad.grad(lambda x: np.sum(log1pexp(x)))(x)
        _close(g, jax.grad(lambda x: jnp.sum(jlog1pexp(x)))(x))
        assert g[2] == 1.0
        f = lambda np, op: lambda x: np.sum(op(x) ** 3)  # noqa: E731
        _close(ad.hessian(f(np, log1pexp))(X), jax.hessian(f(jnp, jlog1pexp))(X))
        _close(ad.jacrev(ad.grad(f(np, log1pexp)))(X), jax.hessian(f(jnp, jlog1pexp))(X))
        t = ad.tensor(X, requires_grad=True)
        log1pexp(t).sum().backward()
        _close(t.grad.numpy(), jax.grad(lambda x: jnp.sum(jlog1pexp(x)))(X))


def test_a_jvp_rule_alone_with_two_arguments_transposes_in_each(defop, jax):
    import jax.numpy as jnp

    hyp = defop(
        "hypot_jvp_only",
        np.hypot,
        jvp=lambda ts, ps, out, params, batched: (ts[0] * ps[0] + ts[1] * ps[1]) / out,
    )
    y = np.array([1.5, 0.2, -2.0])
    for argnums in (0, 1, (0, 1)):
        _close(
            ad.jacrev(hyp, argnums=argnums)(X, y),
            jax.jacrev(jnp.hypot, argnums=argnums)(X, y),
        )


def test_a_jvp_rule_alone_that_reverse_mode_cannot_transpose_says_to_give_a_vjp(defop):
    opaque = defop(
        "opaque_jvp",
        np.sin,
        jvp=lambda ts, ps, out, params, batched: np.asarray(ts[0]) * np.cos(ps[0]),  # a plain copy of t
    )
    np.testing.assert_allclose(ad.jacfwd(opaque)(X), np.diag(np.cos(X)))
    with pytest.raises(TypeError, match="transposes the JVP rule of 'opaque_jvp'.*vjp= rule"):
        ad.grad(lambda x: np.sum(opaque(x)))(X)


def test_a_vjp_rule_alone_refuses_forward_mode_and_serves_reverse_at_any_order(defop, jax):
    import jax.numpy as jnp

    cube = defop(
        "cube_vjp_only", lambda x: x**3, vjp=lambda ct, ps, out, params, batched: (3.0 * ps[0] ** 2 * ct,)
    )

    @jax.custom_vjp
    def jcube(x):
        return x**3

    jcube.defvjp(lambda x: (x**3, x), lambda x, g: (3.0 * x**2 * g,))
    f = lambda np, c: lambda x: np.sum(np.sin(c(x)))  # noqa: E731
    _close(ad.grad(f(np, cube))(X), jax.grad(f(jnp, jcube))(X))
    _close(ad.jacrev(cube)(X), jax.jacrev(jcube)(X))
    _close(ad.jacrev(ad.grad(f(np, cube)))(X), jax.jacrev(jax.grad(f(jnp, jcube)))(X))
    v = np.array([1.0, 2.0, -1.0])
    _close(ad.hvp(f(np, cube), (X,), (v,), mode="rev-rev")[1], jax.hessian(f(jnp, jcube))(X) @ v)
    for forward in (
        lambda: ad.jvp(cube, (X,), (v,)),
        lambda: ad.jacfwd(cube)(X),
        lambda: ad.hessian(f(np, cube))(X),
    ):
        with pytest.raises(
            NotImplementedError, match=r"'cube_vjp_only'.*VJP rule only.*jvp= rule.*reverse mode"
        ):
            forward()


def test_unregistering_an_op_that_took_over_a_numpy_function_gives_it_back():
    x = np.array([0.3, -0.7])
    library_sin = registry.lookup(np.sin)
    doubled = ad.defop("doubled_sin", np.sin, derivs=(lambda x, y: 2.0 * np.cos(x),), handles=np.sin)
    try:
        np.testing.assert_allclose(ad.grad(lambda x: np.sum(np.sin(x)))(x), 2.0 * np.cos(x))
    finally:
        registry.unregister(doubled.op.name)
        given_back = registry.lookup(np.sin)
        if given_back is not library_sin:  # put it back for the rest of the session
            registry.unregister(library_sin.name)
            registry.register(library_sin)
    assert given_back is library_sin


def test_defop_without_rules_or_with_both_kinds_says_what_to_give():
    with pytest.raises(TypeError, match="derivs=.*jvp= rule, a vjp= rule or both"):
        ad.defop("no_rules", np.sin)
    with pytest.raises(TypeError, match="not both"):
        ad.defop("both_kinds", np.sin, derivs=(np.cos,), vjp=lambda *a: a)


# -- zeros, fixed arguments, pytrees ----------------------------------------------------------------
def test_a_rule_gets_zeros_for_an_argument_not_differentiated_as_jaxs_custom_jvp(defop, jax):
    import jax.numpy as jnp

    seen = []

    def jvp(ts, ps, out, params, batched):
        seen.append([np.shape(t) for t in ts])
        return ts[0] * ps[1] + ts[1] * ps[0]

    mul = defop(
        "mul_with_zeros", lambda a, b: a * b, jvp=jvp, vjp=lambda ct, ps, out, p, b: (ct * ps[1], ct * ps[0])
    )
    y = X[::-1] + 1.0
    for argnums in (0, 1, (0, 1)):
        _close(ad.jacfwd(mul, argnums=argnums)(X, y), jax.jacfwd(jnp.multiply, argnums=argnums)(X, y))
        _close(ad.jacrev(mul, argnums=argnums)(X, y), jax.jacrev(jnp.multiply, argnums=argnums)(X, y))
    assert ad.jvp(lambda a: mul(a, 2.0), (X,), (np.ones(3),))[1].tolist() == [2.0, 2.0, 2.0]
    assert seen[-1] == [(3,), ()] and all(len(s) == 2 for s in seen)


def test_keyword_arguments_are_fixed_and_a_traced_one_is_refused(defop):
    scale = defop(
        "scale_by",
        lambda a, s=1.0: a * s,
        jvp=lambda ts, ps, out, params, batched: ts[0] * params["s"],
        vjp=lambda ct, ps, out, params, batched: (ct * params["s"],),
    )
    _close(ad.jacfwd(lambda a: scale(a, s=3.0))(X), 3.0 * np.eye(3))
    _close(ad.grad(lambda a: np.sum(scale(a, s=3.0)))(X), np.full(3, 3.0))
    with pytest.raises(TypeError, match="'scale_by'.*keyword argument.*bypass.*positional"):
        ad.grad(lambda s: np.sum(scale(X, s=s)))(2.0)


def test_an_integer_argument_is_held_with_no_tangent(defop, jax):
    def jvp(ts, ps, out, params, batched):
        assert ts[1] is None and ps[1] == 3
        return ts[0] * ps[1] * ps[0] ** (ps[1] - 1)

    power = defop("int_power", lambda x, n: x**n, jvp=jvp)
    _close(ad.jacfwd(lambda x: power(x, 3))(X), jax.jacfwd(lambda x: x**3)(X))
    _close(ad.grad(lambda x: np.sum(power(x, 3)))(X), 3 * X**2)


def _pytree_op(defop):
    """(p, [x, y]) -> ({"u": W x + b}, y * x): rules written on the same pytrees."""

    def impl(p, xs):
        x, y = xs
        return {"u": p["W"] @ x + p["b"]}, y * x

    def jvp(ts, ps, out, params, batched):
        (tp, (tx, ty)), (p, (x, y)) = ts, ps
        tu = np.matmul(tp["W"], x) + np.matmul(tx, p["W"].T) + tp["b"]
        return {"u": tu}, ty * x + y * tx

    def vjp(ct, ps, out, params, batched):
        (cu, cv), (p, (x, y)) = ct, ps
        gu = cu["u"]
        gW = gu[..., :, None] * x
        return {"W": gW, "b": gu}, [np.matmul(gu, p["W"]) + cv * y, cv * x]

    return defop("pytree_op", impl, jvp=jvp, vjp=vjp)


def test_pytree_arguments_and_results_in_every_mode(defop, jax):
    import jax.numpy as jnp

    op = _pytree_op(defop)
    P = {"W": A, "b": np.array([0.1, -0.2, 0.3])}
    y = np.array([1.0, 2.0, -0.5])

    def loss(np, op):
        def f(p, x):
            d, v = op(p, [x, y])
            return np.sum(np.tanh(d["u"]) * v) + np.sum(v**2)

        return f

    def jop(p, xs):
        x, y = xs
        return {"u": p["W"] @ x + p["b"]}, y * x

    expected = jax.grad(loss(jnp, jop), argnums=(0, 1))(P, X)
    _close(ad.grad(loss(np, op), argnums=(0, 1))(P, X), expected)
    _close(ad.jacfwd(loss(np, op), argnums=(0, 1))(P, X), expected)
    _close(ad.hessian(loss(np, op), argnums=1)(P, X), jax.hessian(loss(jnp, jop), argnums=1)(P, X))
    _close(ad.jacrev(lambda x: op(P, [x, y])[0]["u"])(X), A)
    d, v = op(P, [X, y])
    assert set(d) == {"u"} and np.allclose(v, y * X)


def test_a_traced_value_in_a_list_argument_of_an_elementwise_op_is_refused(defop):
    total = defop("list_total", lambda xs: xs[0] + xs[1], derivs=(lambda xs, y: 1.0,))
    with pytest.raises(TypeError, match="'list_total'.*inside a list.*bypass"):
        ad.grad(lambda x: np.sum(total([x, x])))(X)


def test_an_implementation_closing_over_a_traced_value_is_refused(defop):
    def loss(w):
        scaled = defop(
            "closes_over_w",
            lambda x: x * w,
            jvp=lambda ts, ps, out, params, batched: ts[0],
            vjp=lambda ct, ps, out, params, batched: (ct,),
        )
        return np.sum(scaled(X))

    with pytest.raises(TypeError, match="'closes_over_w' computed with a traced value it closes over"):
        ad.grad(loss)(2.0)


def test_several_outputs_one_unused(defop, jax):
    import jax.numpy as jnp

    sincos = defop(
        "sincos_pair",
        lambda a: (np.sin(a), np.cos(a)),
        jvp=lambda ts, ps, out, params, batched: (ts[0] * out[1], -ts[0] * out[0]),
        vjp=lambda ct, ps, out, params, batched: (ct[0] * out[1] - ct[1] * out[0],),
    )
    for which in (0, 1):
        f = lambda np, op: lambda x: np.sum(op(x)[which] ** 2 * x)  # noqa: E731
        jf = lambda x: jnp.sum((jnp.sin(x), jnp.cos(x))[which] ** 2 * x)  # noqa: E731
        _close(ad.grad(f(np, sincos))(X), jax.grad(jf)(X))
        _close(ad.hessian(f(np, sincos))(X), jax.hessian(jf)(X))
        _close(
            ad.jacfwd(lambda x: sincos(x)[which])(X), jax.jacfwd(lambda x: (jnp.sin(x), jnp.cos(x))[which])(X)
        )


# -- batched rules ---------------------------------------------------------------------------------
def _solve_ignoring_the_batch(defop, **kw):
    """A solve with A whose rules treat a batch of k tangents as one right-hand side."""
    return defop(
        "solve_with_A",
        lambda b: np.linalg.solve(A, b),
        jvp=lambda ts, ps, out, params, batched: np.linalg.solve(A, ts[0]),
        vjp=lambda ct, ps, out, params, batched: (np.linalg.solve(A.T, ct),),
        **kw,
    )


@pytest.mark.parametrize("jac", [ad.jacfwd, ad.jacrev])
def test_a_rule_that_forgets_the_batch_axis_raises_instead_of_a_transposed_jacobian(defop, jac):
    solve = _solve_ignoring_the_batch(defop)
    with pytest.raises(
        ValueError, match=r"'solve_with_A' gives other values for 3 directions.*loop_batch=True"
    ):
        jac(solve)(X)
    with pytest.raises(
        ValueError, match=r"'solve_with_A' (gives other values for|failed on) 3 directions at once"
    ):
        jac(solve, chunk=1)(X)  # one direction a pass: checked on three all the same
    # one direction at a time is right: grad, jvp, vjp never batch
    np.testing.assert_allclose(ad.grad(lambda b: np.sum(solve(b) * X))(X), np.linalg.solve(A.T, X))


@pytest.mark.parametrize("jac", [ad.jacfwd, ad.jacrev])
def test_loop_batch_runs_such_a_rule_once_per_direction(defop, jac):
    solve = _solve_ignoring_the_batch(defop, loop_batch=True)
    np.testing.assert_allclose(jac(solve)(X), np.linalg.inv(A), rtol=1e-14)


def test_a_rule_that_handles_the_batch_axis_passes_the_check_and_is_called_batched(defop, jax):
    calls = []

    def jvp(ts, ps, out, params, batched):
        calls.append(batched)
        return np.linalg.solve(A, ts[0].T).T if batched else np.linalg.solve(A, ts[0])

    solve = defop("solve_batched", lambda b: np.linalg.solve(A, b), jvp=jvp)
    np.testing.assert_allclose(ad.jacfwd(solve)(X), np.linalg.inv(A), rtol=1e-14)
    calls.clear()
    np.testing.assert_allclose(ad.jacfwd(solve)(X), np.linalg.inv(A), rtol=1e-14)
    assert calls == [True]  # checked once: the second Jacobian is one batched call


def test_a_cotangent_of_another_shape_is_refused_not_broadcast(defop):
    bad = defop(
        "summed_cotangent",
        lambda a: a * 2.0,
        jvp=lambda ts, ps, out, params, batched: ts[0] * 2.0,
        vjp=lambda ct, ps, out, params, batched: (np.sum(ct) * 2.0,),
    )
    with pytest.raises(
        ValueError, match=r"'summed_cotangent' returned shape \(\) for an operand of shape \(3,\)"
    ):
        ad.grad(lambda a: np.sum(bad(a) * np.arange(3.0)))(X)
    bare = defop(
        "bare_cotangent",
        lambda a: a * 2.0,
        jvp=lambda ts, ps, out, params, batched: ts[0] * 2.0,
        vjp=lambda ct, ps, out, params, batched: ct * 2.0,
    )
    with pytest.raises(
        TypeError, match="'bare_cotangent' returned a value of shape .*tuple with one cotangent per"
    ):
        ad.grad(lambda a: np.sum(bare(a)))(X)


# -- dtype, eager tensors ---------------------------------------------------------------------------
def test_float32_in_float32_out_though_the_rules_compute_in_float64(defop):
    twice = defop(
        "twice_f64_rules",
        lambda a: a * np.float32(2.0),
        jvp=lambda ts, ps, out, params, batched: ts[0] * np.ones(3) * 2.0,
        vjp=lambda ct, ps, out, params, batched: (ct * np.ones(3) * 2.0,),
    )
    x32 = X.astype(np.float32)
    for derivative in (ad.grad(lambda a: np.sum(twice(a))), ad.jacfwd(twice), ad.jacrev(twice)):
        assert derivative(x32).dtype == np.float32
    np.testing.assert_array_equal(ad.jacfwd(twice)(x32), 2.0 * np.eye(3, dtype=np.float32))


def test_an_eager_tensor_backpropagates_through_a_user_op_twice(defop):
    cube = defop(
        "cube_eager",
        lambda x: x**3,
        jvp=lambda ts, ps, out, params, batched: 3.0 * ps[0] ** 2 * ts[0],
        vjp=lambda ct, ps, out, params, batched: (3.0 * ps[0] ** 2 * ct,),
    )
    t = ad.tensor(X, requires_grad=True)
    y = cube(t).sum()
    y.backward(create_graph=True)
    g = t.grad
    np.testing.assert_allclose(g.detach().numpy(), 3 * X**2)
    t.grad = None
    g.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), 6 * X)


def test_a_user_op_that_takes_over_multiply_answers_to_the_operator_too():
    # Python's * on traced values keeps the op it found; registering another forgets it
    x = np.array([0.3, -0.7])
    assert np.array_equal(ad.grad(lambda x: np.sum(x * x))(x), 2 * x)  # the operator's op found
    halved = ad.defop(
        "halved_multiply",
        np.multiply,
        derivs=(lambda a, b, y: 0.5 * b, lambda a, b, y: 0.5 * a),
        handles=np.multiply,
    )
    try:
        for f in (lambda x: np.sum(x * x), lambda x: np.sum(np.multiply(x, x))):
            np.testing.assert_allclose(ad.grad(f)(x), x)
            np.testing.assert_allclose(ad.jacfwd(f)(x), x)
    finally:
        registry.unregister(halved.op.name)
    np.testing.assert_allclose(ad.grad(lambda x: np.sum(x * x))(x), 2 * x)
