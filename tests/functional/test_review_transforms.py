"""An adversarial review of the functional transforms against JAX: dtypes through nested
transforms, complex inputs in every hvp mode, results that must be the caller's own, and
random compositions of transforms compared number for number."""

import numpy as np
import pytest

import ad
from ad.testing import assert_trees_close

HVP_MODES = ("fwd-rev", "rev-fwd", "rev-rev", "fwd-fwd")


def assert_tree_equal_to_jax(got, want, rtol=1e-10, atol=None):
    """Same pytree structure, shapes, dtypes and numbers as JAX's answer: to rtol, and to atol
    (by default rtol times the largest finite entry: an entry that cancels to near zero
    carries the rounding of the terms that cancelled)."""
    if atol is None:
        assert_trees_close(got, want, rtol, 0.0, scaled=rtol, dtypes=True)
    else:
        assert_trees_close(got, want, rtol, atol, dtypes=True)


# -- float32 in, float32 out, also where f computes in float64 ---------------------------------
C64 = np.array([2.0, 3.0])  # a float64 constant f closes over: f computes in float64
X32 = np.array([0.5, 1.5], np.float32)


def _f(a):
    return np.sum((a * C64) ** 2)


def _f_jax(a):
    import jax.numpy as jnp

    return jnp.sum((a * C64) ** 2)


SECOND_ORDER = {
    "hessian": (lambda f: ad.hessian(f), lambda jax, f: jax.hessian(f)),
    "jacfwd(grad)": (lambda f: ad.jacfwd(ad.grad(f)), lambda jax, f: jax.jacfwd(jax.grad(f))),
    "jacfwd(jacrev)": (lambda f: ad.jacfwd(ad.jacrev(f)), lambda jax, f: jax.jacfwd(jax.jacrev(f))),
    "jacrev(grad)": (lambda f: ad.jacrev(ad.grad(f)), lambda jax, f: jax.jacrev(jax.grad(f))),
    "jacrev(jacfwd)": (lambda f: ad.jacrev(ad.jacfwd(f)), lambda jax, f: jax.jacrev(jax.jacfwd(f))),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_second_derivatives_of_float32_input_stay_float32_when_f_computes_in_float64(jax64, name):
    ours, theirs = SECOND_ORDER[name]
    got = ours(_f)(X32)
    want = theirs(jax64, _f_jax)(X32)
    assert got.dtype == np.float32
    assert_tree_equal_to_jax(got, want, rtol=1e-6)


def test_jvp_of_grad_of_float32_input_is_float32_when_f_computes_in_float64(jax64):
    got = ad.jvp(ad.grad(_f), (X32,), (X32,))
    want = jax64.jvp(jax64.grad(_f_jax), (X32,), (X32,))
    assert_tree_equal_to_jax(got, want, rtol=1e-6)


@pytest.mark.parametrize("mode", HVP_MODES)
def test_hvp_of_float32_input_is_float32_in_every_mode_when_f_computes_in_float64(jax64, mode):
    value, Hv = ad.hvp(_f, (X32,), (X32,), mode=mode)
    want = jax64.jvp(jax64.grad(_f_jax), (X32,), (X32,))[1]
    assert Hv.dtype == np.float32
    np.testing.assert_allclose(Hv, want, rtol=1e-6)
    np.testing.assert_allclose(value, _f(X32), rtol=1e-12)


def test_mixed_precision_hessian_blocks_keep_each_inputs_dtype(jax64):
    jnp = jax64.numpy
    a32 = np.array([0.3, -1.2, 0.8], np.float32)
    b64 = np.array([0.4, 2.0])

    def f(a, b, np=np):
        return np.sum((a[:2] * b) ** 2) + np.sum(np.sin(a))

    got = ad.hessian(f, argnums=(0, 1))(a32, b64)
    want = jax64.hessian(lambda a, b: f(a, b, np=jnp), argnums=(0, 1))(a32, b64)
    assert_tree_equal_to_jax(got, want, rtol=1e-6)


# -- complex inputs: every hvp mode is JAX's jvp of grad -----------------------------------------
COMPLEX_FUNCTIONS = {
    "|z|^2": (lambda z, np=np: np.sum(np.abs(z) ** 2)),
    "Re sin z": (lambda z, np=np: np.sum(np.real(np.sin(z)))),
    "Re(exp(conj z) z)": (lambda z, np=np: np.real(np.sum(np.exp(np.conj(z)) * z))),
    "|z|^3": (lambda z, np=np: np.sum(np.abs(z) ** 3)),
}


@pytest.mark.parametrize("mode", HVP_MODES)
@pytest.mark.parametrize("name", sorted(COMPLEX_FUNCTIONS))
def test_hvp_of_a_real_function_of_complex_z_is_jaxs_jvp_of_grad_in_every_mode(jax64, name, mode):
    f = COMPLEX_FUNCTIONS[name]
    rng = np.random.default_rng(0)
    z = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    w = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    value, Hv = ad.hvp(f, (z,), (w,), mode=mode)
    want = jax64.jvp(jax64.grad(lambda u: f(u, np=jax64.numpy)), (z,), (w,))[1]
    assert_tree_equal_to_jax(Hv, want)
    np.testing.assert_allclose(value, f(z), rtol=1e-12)


@pytest.mark.parametrize("mode", HVP_MODES)
def test_hvp_of_a_pytree_with_complex_and_real_leaves_is_jaxs_in_every_mode(jax64, mode):
    jnp = jax64.numpy
    rng = np.random.default_rng(1)
    x = {"z": rng.standard_normal(2) + 1j * rng.standard_normal(2), "r": rng.standard_normal(3)}
    v = {"z": rng.standard_normal(2) + 1j * rng.standard_normal(2), "r": rng.standard_normal(3)}

    def f(t, np=np):
        return np.sum(np.abs(t["z"] * t["r"][0]) ** 2) + np.sum(np.sin(t["r"])) * np.real(t["z"][1])

    _, Hv = ad.hvp(f, (x,), (v,), mode=mode)
    want = jax64.jvp(jax64.grad(lambda t: f(t, np=jnp)), (x,), (v,))[1]
    assert_tree_equal_to_jax(Hv, want)


NOT_ONE_REAL_NUMBER = {
    "a vector": lambda a: a**2,
    "a tuple": lambda a: (np.sum(a), np.sum(a)),
    "an integer": lambda a: np.argmax(a),
    "a complex number": lambda a: np.sum(a) * 1j,
}


@pytest.mark.parametrize("mode", HVP_MODES)
@pytest.mark.parametrize("what", sorted(NOT_ONE_REAL_NUMBER))
def test_hvp_of_what_is_not_one_real_number_raises_in_every_mode(mode, what):
    x = np.array([0.5, 1.0, 2.0])
    with pytest.raises(TypeError, match="one real float|float scalar|scalar output|real outputs"):
        ad.hvp(NOT_ONE_REAL_NUMBER[what], (x,), (np.ones(3),), mode=mode)


@pytest.mark.parametrize("mode", HVP_MODES)
def test_hvp_of_a_size_one_output_is_shaped_like_the_tangent_in_every_mode(mode):
    x, v = np.array([0.5, 1.0, 2.0]), np.array([1.0, -2.0, 0.5])
    value, Hv = ad.hvp(lambda a: np.sum(a**3, keepdims=True), (x,), (v,), mode=mode)
    assert value.shape == (1,)
    np.testing.assert_allclose(Hv, 6 * x * v, rtol=1e-14)


# -- results are the caller's own ---------------------------------------------------------------
def test_jvp_of_a_constant_output_does_not_return_the_array_f_closes_over():
    c = np.arange(3.0)
    out, tangent = ad.jvp(lambda a: (a * 2.0, c), (np.ones(3),), (np.ones(3),))
    assert not np.shares_memory(out[1], c)
    out[1][...] = -1.0
    np.testing.assert_array_equal(c, np.arange(3.0))
    np.testing.assert_array_equal(tangent[1], np.zeros(3))


@pytest.mark.parametrize("mode", HVP_MODES)
def test_hvp_value_is_not_the_array_f_returns_from_its_closure(mode):
    c = np.array(2.5)
    value, Hv = ad.hvp(lambda a: c, (np.ones(2),), (np.ones(2),), mode=mode)
    value[...] = -1.0
    assert c == 2.5
    np.testing.assert_array_equal(Hv, np.zeros(2))


def test_value_and_grad_value_is_not_the_array_f_returns_from_its_closure():
    c = np.array(2.5)
    value, _ = ad.value_and_grad(lambda a: c)(np.ones(2))
    value[...] = -1.0
    assert c == 2.5


# -- edge values ---------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["hessian", "jacrev(grad)"])
def test_mixed_second_derivative_of_power_at_a_zero_exponent_is_one_over_x(jax64, how):
    p = np.array([2.0, 0.0])  # x**y at x = 2, y = 0: d2/dx dy = x**(y-1) (1 + y log x) = 1/2

    def f(q, np=np):
        return np.power(q[0], q[1])

    ours = ad.hessian(f) if how == "hessian" else ad.jacrev(ad.grad(f))
    H = ours(p)
    want = jax64.hessian(lambda q: f(q, np=jax64.numpy))(p)
    np.testing.assert_allclose(want[0, 1], 0.5, rtol=1e-15)  # the math, and JAX, agree
    np.testing.assert_allclose(H, H.T, rtol=1e-12)
    assert_tree_equal_to_jax(H, want)


# -- what forward mode and checkpoint do not yet do -----------------------------------------------
def _writes_through_a_view(a):
    u = a * 1.0
    tail = u[1:]
    tail *= 2.0  # NumPy writes into u: the function is u = (a0, 2 a1, 2 a2), squared
    return u * u


def test_reverse_mode_follows_numpy_through_a_write_into_a_view():
    x = np.array([1.0, 2.0, 3.0])
    want = np.diag(2 * np.array([1.0, 4.0, 4.0]) * x)  # d/da of (a0^2, 4 a1^2, 4 a2^2)
    np.testing.assert_allclose(ad.jacrev(_writes_through_a_view)(x), want)
    np.testing.assert_allclose(ad.vjp(_writes_through_a_view, x)[0], _writes_through_a_view(x))


def _writes_into_what_a_view_views(a):
    u = a * 1.0
    tail = u[1:]
    u *= 2.0  # NumPy's tail sees the doubled values
    return tail


def _writes_through_a_flip(a):
    u = a * 1.0
    back = np.flip(u)  # a view in NumPy, though no registered view op
    back += 1.0
    return u


def _writes_through_real(a):
    u = a * 1.0
    r = np.real(u)  # u itself, for real u
    r *= 3.0
    return u


@pytest.mark.parametrize(
    "f",
    [_writes_through_a_view, _writes_into_what_a_view_views, _writes_through_a_flip, _writes_through_real],
)
@pytest.mark.parametrize("how", ["jacfwd", "jacobian", "jvp"])
def test_forward_mode_refuses_an_in_place_write_numpy_would_pass_on_to_a_view(f, how):
    x = np.array([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="shares memory with another one still in use"):
        if how == "jvp":
            ad.jvp(f, (x,), (np.ones(3),))
        else:
            getattr(ad, how)(f, **({"mode": "forward"} if how == "jacobian" else {}))(x)


def _rebinds_a_view_of_a_dead_temporary(a):
    h = (a * 2.0).reshape(3, 1)
    h += 1.0  # writes into (a * 2.0) too, which nothing else holds
    return h


def _rebinds_values_that_own_their_memory(a):
    u = a * 1.0
    u += a
    u *= 3.0
    s = a[0] * 1.0
    s += u[2]
    return u * s


@pytest.mark.parametrize("f", [_rebinds_a_view_of_a_dead_temporary, _rebinds_values_that_own_their_memory])
def test_forward_mode_takes_in_place_writes_no_other_live_value_sees(f):
    x = np.array([1.0, 2.0, 3.0])
    out, _ = ad.jvp(f, (x,), (np.ones(3),))
    np.testing.assert_allclose(out, f(x.copy()), rtol=1e-15)
    np.testing.assert_allclose(ad.jacfwd(f)(x), ad.jacrev(f)(x), rtol=1e-14)


def test_checkpoint_takes_an_integer_argument_in_reverse_mode(jax64):
    x = np.array([0.3, -0.7, 1.1])
    got = ad.grad(lambda a: np.sum(ad.checkpoint(lambda b, n: b**n)(a, 3)))(x)
    np.testing.assert_allclose(got, 3 * x**2, rtol=1e-12)


def test_checkpoint_takes_a_none_argument_in_reverse_mode():
    x = np.array([0.3, -0.7, 1.1])
    got = ad.grad(lambda a: np.sum(ad.checkpoint(lambda b, unused: b * b)(a, None)))(x)
    np.testing.assert_allclose(got, 2 * x, rtol=1e-12)


@pytest.mark.parametrize("how", ["grad", "jacfwd"])
def test_checkpoint_of_a_function_returning_a_dict(how):
    x = np.array([0.3, -0.7, 1.1])

    def f(a):
        return np.sum(ad.checkpoint(lambda b: {"u": b * 3.0, "v": None})(a)["u"])

    np.testing.assert_allclose(getattr(ad, how)(f)(x), np.full(3, 3.0), rtol=1e-12)


# -- random programs under random transforms, number for number against JAX ---------------------
hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

N = 3
W = np.random.default_rng(2).standard_normal((N, N)) / N
C = np.random.default_rng(3).standard_normal(N)

# each step maps an array whose last axis has N entries to one of the same shape; `m` is
# numpy or jax.numpy, so that one program runs under ad and under JAX
STEPS = {
    "sin": lambda a, m: m.sin(a),
    "tanh": lambda a, m: m.tanh(a),
    "square": lambda a, m: a * a,
    "exp": lambda a, m: m.exp(0.3 * a),
    "reverse": lambda a, m: a[..., ::-1],
    "cumsum": lambda a, m: m.cumsum(a, axis=-1),
    "matmul": lambda a, m: a @ W,
    "matmul_left": lambda a, m: W @ a if a.ndim == 1 else a @ W.T,
    "maximum": lambda a, m: m.maximum(a, 0.1),
    "where": lambda a, m: m.where(a > 0, a, 0.5 * a * a),
    "sort": lambda a, m: m.sort(a, axis=-1),
    "center": lambda a, m: a - m.mean(a, axis=-1, keepdims=True),
    "soft_norm": lambda a, m: m.sqrt(a * a + 1.0),
    "broadcast_mul": lambda a, m: a * C,
    "self_product": lambda a, m: a * a[..., :1],
    "divide": lambda a, m: a / (1.0 + a * a),
    "power": lambda a, m: (a * a + 0.5) ** 1.5,
    "arctan2": lambda a, m: m.arctan2(a, 1.0 + a * a),
}

program_steps = st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=4)
shapes = st.sampled_from([(N,), (2, N)])
layouts = st.sampled_from(["contiguous", "transposed", "strided", "read-only", "reversed"])


def _program(steps):
    def vector(a, m=np):
        for name in steps:
            a = STEPS[name](a, m)
        return a

    def scalar(a, m=np):
        return m.sum(vector(a, m) * C) + 0.1 * m.sum(m.sin(a) * a)

    return vector, scalar


def _input(seed, shape, layout):
    rng = np.random.default_rng(seed)
    if layout == "transposed":
        return rng.standard_normal(shape[::-1]).T
    if layout == "strided":
        return rng.standard_normal(shape[:-1] + (2 * N,))[..., ::2]
    if layout == "reversed":
        return rng.standard_normal(shape)[..., ::-1]
    x = rng.standard_normal(shape)
    if layout == "read-only":
        x.flags.writeable = False
    return x


SETTINGS = hypothesis.settings(max_examples=12, deadline=None, derandomize=True)
SECOND_ORDER_SETTINGS = hypothesis.settings(max_examples=6, deadline=None, derandomize=True)


@SETTINGS
@hypothesis.given(steps=program_steps, shape=shapes, layout=layouts, seed=st.integers(0, 2**16))
def test_first_order_transforms_of_random_programs_equal_jaxs(jax64, steps, shape, layout, seed):
    jnp = jax64.numpy
    vector, scalar = _program(steps)
    x = _input(seed, shape, layout)
    x_before = x.copy()
    v = np.random.default_rng(seed + 1).standard_normal(shape)
    jx = jnp.asarray(x)
    vec_j, sc_j = (lambda a: vector(a, jnp)), (lambda a: scalar(a, jnp))
    assert_tree_equal_to_jax(ad.grad(scalar)(x), jax64.grad(sc_j)(jx))
    assert_tree_equal_to_jax(ad.value_and_grad(scalar)(x), jax64.value_and_grad(sc_j)(jx))
    want_J = jax64.jacfwd(vec_j)(jx)
    for chunk in (None, 1, 4):
        assert_tree_equal_to_jax(ad.jacfwd(vector, chunk=chunk)(x), want_J)
        assert_tree_equal_to_jax(ad.jacrev(vector, chunk=chunk)(x), want_J)
    for mode in ("auto", "forward", "reverse"):
        assert_tree_equal_to_jax(ad.jacobian(vector, mode=mode)(x), want_J)
    assert_tree_equal_to_jax(ad.jvp(vector, (x,), (v,)), jax64.jvp(vec_j, (jx,), (v,)))
    out, vjp_fn = ad.vjp(vector, x)
    assert_tree_equal_to_jax((out, vjp_fn(v)), (vec_j(jx), jax64.vjp(vec_j, jx)[1](v)))
    np.testing.assert_array_equal(x, x_before)


@SECOND_ORDER_SETTINGS
@hypothesis.given(steps=program_steps, shape=shapes, layout=layouts, seed=st.integers(0, 2**16))
def test_second_order_transforms_of_random_programs_equal_jaxs(jax64, steps, shape, layout, seed):
    jnp = jax64.numpy
    vector, scalar = _program(steps)
    x = _input(seed, shape, layout)
    v = np.random.default_rng(seed + 1).standard_normal(shape)
    jx = jnp.asarray(x)
    vec_j, sc_j = (lambda a: vector(a, jnp)), (lambda a: scalar(a, jnp))
    want_H = jax64.hessian(sc_j)(jx)
    assert_tree_equal_to_jax(ad.hessian(scalar)(x), want_H)
    assert_tree_equal_to_jax(ad.jacrev(ad.grad(scalar))(x), want_H)
    assert_tree_equal_to_jax(ad.jacrev(ad.jacfwd(scalar))(x), want_H)
    assert_tree_equal_to_jax(ad.jacfwd(ad.jacfwd(scalar))(x), want_H)
    want_Hv = jax64.jvp(jax64.grad(sc_j), (jx,), (v,))[1]
    for mode in HVP_MODES:
        value, Hv = ad.hvp(scalar, (x,), (v,), mode=mode)
        assert_tree_equal_to_jax(Hv, want_Hv)
        np.testing.assert_allclose(value, sc_j(jx), rtol=1e-12)
    want_JJ = jax64.jacrev(jax64.jacfwd(vec_j))(jx)
    assert_tree_equal_to_jax(ad.jacrev(ad.jacfwd(vector))(x), want_JJ)
    assert_tree_equal_to_jax(ad.jacfwd(ad.jacrev(vector, chunk=2))(x), want_JJ)
    assert_tree_equal_to_jax(
        ad.grad(lambda a: np.sum(ad.grad(scalar)(a) * v))(x),
        jax64.grad(lambda a: jnp.sum(jax64.grad(sc_j)(a) * v))(jx),
    )
    assert_tree_equal_to_jax(ad.vjp(ad.grad(scalar), x)[1](v), jax64.vjp(jax64.grad(sc_j), jx)[1](v))


TRANSFORMS_OF_TWO_ARGUMENTS = st.sampled_from(
    ["grad", "value_and_grad", "jacfwd", "jacrev", "hessian", "jacobian-forward", "jacobian-reverse"]
)
ARGNUMS = st.sampled_from([0, 1, -1, -2, (0,), (1,), (0, 1), (1, 0), (-1, 0)])


@SETTINGS
@hypothesis.given(
    steps=program_steps,
    transform=TRANSFORMS_OF_TWO_ARGUMENTS,
    argnums=ARGNUMS,
    chunk=st.sampled_from([None, 1, 2, 5]),
    layout=layouts,
    seed=st.integers(0, 2**16),
)
def test_transforms_of_two_pytree_arguments_with_any_argnums_equal_jaxs(
    jax64, steps, transform, argnums, chunk, layout, seed
):
    """f(d, w) with d = {"x": array, "s": (scalar, None)} and w an array of another layout."""
    jnp = jax64.numpy
    vector, _ = _program(steps)
    rng = np.random.default_rng(seed)
    d = {"x": _input(seed, (N,), layout), "s": (np.array(rng.standard_normal()), None)}
    w = _input(seed + 1, (2, N), layout)

    def f(d, w, m=np):
        y = vector(d["x"] * d["s"][0] + m.sum(w, axis=0), m)
        return {"y": y, "z": [m.tanh(w) * y]}

    def scalar(d, w, m=np):
        out = f(d, w, m)
        return m.sum(out["y"] * C) + 0.1 * m.sum(out["z"][0] ** 2)

    jd = {"x": jnp.asarray(d["x"]), "s": (jnp.asarray(d["s"][0]), None)}
    jw = jnp.asarray(w)
    if transform in ("grad", "value_and_grad", "hessian"):
        ours = getattr(ad, transform)(scalar, argnums=argnums)(d, w)
        theirs = getattr(jax64, transform)(lambda a, b: scalar(a, b, jnp), argnums=argnums)(jd, jw)
    else:
        if transform.startswith("jacobian"):
            mode = transform.split("-")[1]
            ours = ad.jacobian(f, argnums=argnums, mode=mode, chunk=chunk)(d, w)
            oracle = jax64.jacfwd if mode == "forward" else jax64.jacrev
        else:
            ours = getattr(ad, transform)(f, argnums=argnums, chunk=chunk)(d, w)
            oracle = getattr(jax64, transform)
        theirs = oracle(lambda a, b: f(a, b, jnp), argnums=argnums)(jd, jw)
    assert_tree_equal_to_jax(ours, theirs)
