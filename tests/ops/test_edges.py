"""Values at the edges: derivatives at 0, tiny, huge, infinite and NaN inputs, as JAX and
PyTorch give them (hand-derived values; the peers as oracles where installed), and every
registered op evaluated there in both modes, which must agree."""

import warnings
import zlib

import numpy as np
import pytest

import ad
from ad import testing


def _torch_grad(f, *xs):
    """PyTorch's gradient of a scalar f at float64 xs, one array per argument."""
    torch = pytest.importorskip("torch")
    ts = [torch.tensor(np.asarray(x, float), requires_grad=True) for x in xs]
    f(torch, *ts).backward()
    return [t.grad.numpy() for t in ts]


def _both_modes(f, x):
    """jacfwd and jacrev of f at x (each checked against the expected value by the caller)."""
    return ad.jacfwd(f)(x), ad.jacrev(f)(x)


def _nested(f, x):
    """f'' at a scalar x by forward-over-forward, reverse-over-reverse and both mixtures."""
    return [
        ad.jacfwd(ad.jacfwd(f))(x),
        ad.grad(ad.grad(f))(x),
        ad.jacfwd(ad.grad(f))(x),
        ad.grad(ad.jacfwd(f))(x),
    ]


# ---------------------------------------------------------------------------------------
# power: x**0 and 0**p


def test_derivative_of_x_to_the_zero_is_zero_everywhere_even_at_zero(quiet):
    x = np.array([0.0, 2.0, -3.0, np.inf])
    for power in (np.power, np.float_power):
        for jac in quiet(lambda: _both_modes(lambda x: power(x, 0.0), x)):
            assert np.array_equal(jac, np.zeros((4, 4)))


def test_derivative_of_zero_to_the_p_in_p_is_zero_for_p_at_least_zero(quiet):
    p = np.array([0.0, 0.5, 2.0])
    for jac in quiet(lambda: _both_modes(lambda p: np.power(0.0, p), p)):
        assert np.array_equal(jac, np.zeros((3, 3)))
    # 0**p = inf for p < 0: d/dp = log(0) * inf = -inf, as in PyTorch
    assert quiet(lambda: ad.grad(lambda p: np.power(0.0, p))(-1.0)) == -np.inf


def test_power_at_zero_base_gives_zero_one_or_inf_like_the_peers(quiet):
    expected = {2.0: 0.0, 1.0: 1.0, 0.5: np.inf, 0.0: 0.0}
    for p, d in expected.items():
        for mode in (ad.grad, ad.jacfwd):
            assert quiet(lambda: mode(lambda x: x**p)(0.0)) == d, (p, mode)


def test_second_derivative_of_x_to_the_one_at_zero_is_zero_in_every_nesting(quiet):
    assert quiet(lambda: _nested(lambda x: x**1.0, 0.0)) == [0.0] * 4  # PyTorch: 0; JAX: nan
    assert quiet(lambda: _nested(lambda x: x**3.0, 0.0)) == [0.0] * 4


def test_power_edges_match_jax_and_pytorch(jax64):
    both = [(0.0, 2.0), (0.0, 0.5), (0.0, 1.0), (2.0, 0.0), (0.0, 3.0), (-2.0, 2.0)]
    # 0**0: JAX's d/dx is nan; 0**-1: JAX's d/dp is nan. PyTorch (and ad) give 0 and -inf.
    torch_only = [(0.0, 0.0), (0.0, -1.0)]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        ours = [np.array(ad.grad(lambda x, p: x**p, argnums=(0, 1))(x, p)) for x, p in both + torch_only]
        x, p = np.array(both).T
        peer = np.array(jax64.vmap(jax64.grad(lambda x, p: x**p, argnums=(0, 1)))(x, p)).T
        np.testing.assert_array_equal(ours[: len(both)], peer, err_msg="JAX")
        x, p = np.array(both + torch_only).T
        peer = np.array(_torch_grad(lambda t, x, p: t.sum(x**p), x, p)).T
        np.testing.assert_array_equal(ours, peer, err_msg="PyTorch")


# ---------------------------------------------------------------------------------------
# sinc at 0


def test_sinc_derivative_at_zero_is_zero_and_its_second_derivative_minus_pi_squared_over_three():
    assert ad.grad(np.sinc)(0.0) == 0.0 and ad.jacfwd(np.sinc)(0.0) == 0.0
    np.testing.assert_allclose(_nested(np.sinc, 0.0), [-(np.pi**2) / 3] * 4, rtol=1e-15)


def test_sinc_derivative_near_zero_is_accurate_on_both_sides_of_the_series_switch(quiet):
    # sinc'(x) = (pi x cos(pi x) - sin(pi x)) / (pi x^2), to 1e-15 where it cancels least;
    # near 0, its series: -pi^2 x / 3 + pi^4 x^3 / 30
    x = np.array([1e-300, 1e-8, 1e-3, 0.00999, 0.01001, 0.3, 2.5])
    series = -(np.pi**2) * x / 3 + np.pi**4 * x**3 / 30
    direct = quiet(lambda: (np.pi * x * np.cos(np.pi * x) - np.sin(np.pi * x)) / (np.pi * x * x))
    expected = np.where(x < 1e-3, series, direct)
    for jac in _both_modes(np.sinc, x):
        np.testing.assert_allclose(np.diag(jac), expected, rtol=1e-11)


def test_sinc_derivatives_match_jax(jax64):
    x = np.array([0.0, 1e-3, -0.25, 1.5])
    first, second = (
        jax64.vmap(jax64.grad(jax64.numpy.sinc)),
        jax64.vmap(jax64.grad(jax64.grad(jax64.numpy.sinc))),
    )
    # rel 1e-10: at 1e-3, JAX's (cos(pi x) - sinc(x)) / x loses 1e-11 to cancellation
    np.testing.assert_allclose([ad.grad(np.sinc)(v) for v in x], first(x), rtol=1e-10)
    np.testing.assert_allclose([ad.grad(ad.grad(np.sinc))(v) for v in x], second(x), rtol=1e-9)


# ---------------------------------------------------------------------------------------
# logsumexp, softmax, log_softmax at any magnitude


MAGNITUDES = (1e17, 1e300, -1e308)


def test_logsumexp_gradient_is_softmax_at_any_magnitude_in_both_modes():
    for v in MAGNITUDES:
        for jac in _both_modes(ad.logsumexp, np.array([v, v, -np.inf, v])):
            np.testing.assert_array_equal(jac, [1 / 3, 1 / 3, 0.0, 1 / 3])
        x = np.array([[v, v], [v, -np.inf]])
        for jac in _both_modes(lambda x: ad.logsumexp(x, axis=1, keepdims=True), x):
            np.testing.assert_array_equal(jac[:, 0], [[[0.5, 0.5], [0, 0]], [[0, 0], [1.0, 0.0]]])


def test_logsumexp_of_only_minus_inf_has_a_nan_gradient_like_the_peers(jax64, quiet):
    x = np.array([-np.inf, -np.inf])
    peer = np.asarray(jax64.grad(jax64.scipy.special.logsumexp)(x))
    assert np.all(np.isnan(peer))
    for jac in quiet(lambda: _both_modes(ad.logsumexp, x)):
        assert np.all(np.isnan(jac))


def test_logsumexp_gradient_matches_jax_at_huge_inputs(jax64):
    x = np.array([[v, v / 2, -np.inf, v] for v in MAGNITUDES])
    peer = jax64.vmap(jax64.grad(jax64.scipy.special.logsumexp))(x)
    np.testing.assert_array_equal([ad.grad(ad.logsumexp)(row) for row in x], peer)


def test_softmax_and_log_softmax_jacobians_are_exact_at_huge_inputs():
    for v in MAGNITUDES:
        x = np.array([v, v, -np.inf])
        s = np.array([0.5, 0.5, 0.0])
        for jac in _both_modes(ad.softmax, x):
            np.testing.assert_array_equal(jac, np.diag(s) - np.outer(s, s))
        for jac in _both_modes(ad.log_softmax, x):
            np.testing.assert_array_equal(jac[:2], (np.eye(3) - s)[:2])  # row 3 is -inf - ...: its own


# ---------------------------------------------------------------------------------------
# where and select


def _sqrt_where(z):
    return np.sum(np.where(z > 0, np.sqrt(z), 0.0))


def test_where_in_forward_mode_picks_tangents_so_the_branch_not_taken_adds_no_nan(quiet):
    z = np.array([0.0, 4.0])
    assert np.array_equal(quiet(lambda: ad.jacfwd(_sqrt_where)(z)), [0.0, 0.25])
    _, t = quiet(lambda: ad.jvp(lambda z: np.where(z > 0, np.log(z), z), (z,), (np.ones(2),)))
    assert np.array_equal(t, [1.0, 0.25])


def test_where_in_reverse_mode_gets_nan_from_the_branch_not_taken_like_the_peers(jax64, quiet):
    z = np.array([0.0, 4.0])
    g = quiet(lambda: ad.grad(_sqrt_where)(z))
    assert np.isnan(g[0]) and g[1] == 0.25  # 0 * sqrt'(0) = 0 * inf
    jnp = jax64.numpy

    def peer_f(z):
        return jnp.sum(jnp.where(z > 0, jnp.sqrt(z), 0.0))

    np.testing.assert_array_equal(g, jax64.grad(peer_f)(z))
    np.testing.assert_array_equal(jax64.jacfwd(peer_f)(z), [0.0, 0.25])  # and forward mode as ours


def test_where_matches_pytorch_in_reverse_mode(quiet):
    z = np.array([0.0, 4.0])
    peer = _torch_grad(lambda t, z: t.sum(t.where(z > 0, t.sqrt(z), 0.0)), z)[0]
    np.testing.assert_array_equal(quiet(lambda: ad.grad(_sqrt_where)(z)), peer)


def test_where_routes_cotangents_to_the_branch_taken_and_unbroadcasts_them():
    x, y = np.array([[1.0, -2.0, 3.0]]), np.array([[5.0], [6.0]])
    c = np.array([[True, False, True], [False, False, True]])
    gx, gy = ad.grad(lambda x, y: np.sum(np.where(c, x, y) * 2.0), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(gx, [[2.0, 0.0, 4.0]])
    np.testing.assert_array_equal(gy, [[2.0], [4.0]])
    _, t = ad.jvp(lambda x, y: np.where(c, x, y), (x, y), (np.ones((1, 3)), np.full((2, 1), 10.0)))
    np.testing.assert_array_equal(t, np.where(c, 1.0, 10.0))


def test_where_with_one_argument_is_refused_with_the_fix():
    with pytest.raises(NotImplementedError, match="both branches"):
        ad.jacfwd(lambda x: np.where(x))(np.ones(2))


def test_select_picks_tangents_and_cotangents_like_where(quiet):
    x = np.array([-1.0, 0.0, 4.0])

    def f(x):
        return np.select([x > 1, x < 0], [np.sqrt(x), -x], 3.0 * x)

    fwd = quiet(lambda: ad.jacfwd(f)(x))
    np.testing.assert_array_equal(fwd, np.diag([-1.0, 3.0, 0.25]))  # no NaN from sqrt(-1), sqrt'(0)
    rev = quiet(lambda: ad.jacrev(f)(x))
    assert np.all(np.isnan(rev[:, :2])) and np.array_equal(rev[:, 2], [0.0, 0.0, 0.25])  # as where


# ---------------------------------------------------------------------------------------
# fmax, fmin: NaN ignored; maximum, minimum: NaN propagated


def _partials(f, x, y):
    return np.array(ad.grad(f, argnums=(0, 1))(x, y)), np.array(ad.jacfwd(f, argnums=(0, 1))(x, y))


def test_fmax_and_fmin_send_the_derivative_to_the_operand_that_is_not_nan():
    nan = np.nan
    for f in (np.fmax, np.fmin):
        cases = {(nan, 1.0): [0, 1], (1.0, nan): [1, 0], (nan, nan): [1, 0], (2.0, 2.0): [0.5, 0.5]}
        for (x, y), d in cases.items():
            for got in _partials(f, x, y):
                np.testing.assert_array_equal(got, d, err_msg=f"{f.__name__}({x}, {y})")
    np.testing.assert_array_equal(_partials(np.fmax, 3.0, 1.0)[0], [1, 0])
    np.testing.assert_array_equal(_partials(np.fmin, 3.0, 1.0)[0], [0, 1])


def test_maximum_and_minimum_propagate_nan_with_a_zero_derivative_like_jax():
    for f in (np.maximum, np.minimum):
        for got in _partials(f, np.nan, 1.0) + _partials(f, 1.0, np.nan):
            np.testing.assert_array_equal(got, [0.0, 0.0])


def test_fmax_and_fmin_match_jax_and_pytorch_where_a_nan_is_ignored(jax64):
    for name in ("fmax", "fmin"):
        for x, y in ((np.nan, 1.0), (1.0, np.nan), (np.nan, np.nan)):
            ours = np.array(ad.grad(getattr(np, name), argnums=(0, 1))(x, y))
            np.testing.assert_array_equal(ours, jax64.grad(getattr(jax64.numpy, name), argnums=(0, 1))(x, y))
            peer = _torch_grad(lambda t, x, y: getattr(t, name)(x, y), x, y)
            np.testing.assert_array_equal(ours, np.array(peer).ravel())


# ---------------------------------------------------------------------------------------
# eigh, eigvalsh: NumPy's triangle, and repeated eigenvalues


def _fold(g, uplo):
    """A symmetric matrix's gradient as the UPLO triangle receives it: the diagonal, and the
    off-diagonal pair summed into the triangle."""
    tri = np.tril if uplo == "L" else np.triu
    return tri(g) + tri(g.T, -1 if uplo == "L" else 1)


def test_eigh_and_eigvalsh_read_the_triangle_numpy_reads_and_differentiate_only_it():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((3, 3))  # not symmetric: the other triangle must not matter
    for uplo in ("L", "U"):
        S = np.tril(A) + np.tril(A, -1).T if uplo == "L" else np.triu(A) + np.triu(A, 1).T
        w, V = np.linalg.eigh(S)
        v = V[:, -1]
        expected = _fold(np.outer(v, v), uplo)  # d w_max / dS = v v^T, folded onto the triangle
        for f in (
            lambda A: np.linalg.eigvalsh(A, UPLO=uplo)[-1],
            lambda A: np.linalg.eigh(A, UPLO=uplo)[0][-1],
        ):
            np.testing.assert_allclose(f(A), w[-1], rtol=1e-14)
            g = ad.grad(f)(A)
            np.testing.assert_allclose(g, expected, rtol=1e-10, atol=1e-14)
            np.testing.assert_allclose(ad.jacfwd(f)(A), g, rtol=1e-10, atol=1e-14)
        other = np.triu(np.ones((3, 3)), 1) if uplo == "L" else np.tril(np.ones((3, 3)), -1)
        assert not np.any(g * other)


def test_eigh_gradient_is_the_derivative_of_what_numpy_computes():
    rng = np.random.default_rng(4)
    A = rng.standard_normal((4, 4))
    assert ad.gradcheck(lambda A: np.linalg.eigvalsh(A) @ np.arange(4.0), A)
    assert ad.gradcheck(lambda A: np.linalg.eigvalsh(A, UPLO="U") @ np.arange(4.0), A)


def test_eigenvalue_gradient_is_finite_at_repeated_eigenvalues():
    eye = np.eye(3)
    for f in (lambda A: np.sum(np.linalg.eigvalsh(A)), lambda A: np.sum(np.linalg.eigh(A)[0])):
        np.testing.assert_allclose(ad.grad(f)(eye), eye, atol=1e-15)
        np.testing.assert_allclose(ad.jacfwd(f)(eye), eye, atol=1e-15)
    A = np.diag([1.0, 1.0, 2.0])
    g = ad.grad(lambda A: np.linalg.eigh(A)[0][-1] * 3.0)(A)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, np.diag([0.0, 0.0, 3.0]), atol=1e-15)


def test_eigvalsh_gradient_is_pytorchs_folded_onto_the_triangle():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((3, 3))
    S = A + A.T
    weights = np.array([1.0, -2.0, 0.5])
    peer = _torch_grad(lambda t, a: t.linalg.eigvalsh(a) @ t.tensor(weights), S)[0]  # symmetric
    np.testing.assert_allclose(
        ad.grad(lambda a: np.linalg.eigvalsh(a) @ weights)(S), _fold(peer, "L"), rtol=1e-10, atol=1e-14
    )


# ---------------------------------------------------------------------------------------
# hypot and arctan2 at tiny and huge inputs


def test_hypot_and_arctan2_derivatives_neither_overflow_nor_underflow():
    for scale in (1e-300, 1e300):
        a, b = 3.0 * scale, 4.0 * scale
        for got in _partials(np.hypot, a, b):
            np.testing.assert_allclose(got, [0.6, 0.8], rtol=1e-15)
        # d atan2(a, b) = (b, -a) / (a^2 + b^2)
        for got in _partials(np.arctan2, a, b):
            np.testing.assert_allclose(got, np.array([4.0, -3.0]) / (25.0 * scale), rtol=1e-15)


# ---------------------------------------------------------------------------------------
# Every registered op at the edges, forward against reverse. The seeds have no zero entry:
# a zero seed meeting an infinite partial derivative makes 0 * inf = nan in one mode's basis
# Jacobian and not in the other's (for sqrt at 0, in JAX and PyTorch too), which says nothing
# about the rules. Every op: <w, J u> by a JVP against <J^T w, u> by a VJP. Elementwise ops,
# whose Jacobian is diagonal, also entry by entry: J u and J^T u are both d * u. At +-1e300 a
# derivative that cancels quantities of that size (x - mean(x)) is rounding noise in both
# modes; there they must agree within how far each moves at the neighbouring float.

HUGE = 1e300
EDGES = (0.0, 5e-324, -5e-324, 1e-300, -1e-300, HUGE, -HUGE, np.inf, -np.inf, np.nan)
EXAMPLES_PER_OP = 2


def _dense(rng, shape):
    """A seed with no zero entry (and no entry near zero)."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 1.5, shape)


def _flat_output(f):
    """f with every output raveled and joined, so that one cotangent seeds them all."""

    def g(*xs):
        out = f(*xs)
        parts = out if isinstance(out, tuple | list) else (out,)
        return np.concatenate([np.ravel(p) for p in parts])

    return g


def _at_edge(operands, i, value):
    full = list(operands)
    full[i] = np.full(np.shape(operands[i]), value)
    return full


def _edge_cases():
    for op in testing.differentiable_ops():
        if op.mutates:  # writes into its argument: no functional form (see tests/conftest.py)
            continue
        for operands, params, idx in list(testing.cases(op))[:EXAMPLES_PER_OP]:
            for i in idx:
                for value in EDGES:
                    yield op, operands, params, idx, i, value


def _either(mode):
    """mode() or the type of the exception it raised: both modes must raise alike."""
    try:
        return mode()
    except Exception as e:  # noqa: BLE001 - the test compares what each mode raises
        return type(e)


def _same(a, b, noise=0.0) -> str | None:
    """Why a and b differ (NaN in one only, other infinities, finite values apart by more
    than rounding and the given noise), else None."""
    if isinstance(a, type) or isinstance(b, type):
        return None if a is b else f"forward gives {a}, reverse {b}"
    a, b = np.asarray(a, float), np.asarray(b, float)
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return f"NaN in one mode only: forward {a}, reverse {b}"
    if not np.array_equal(np.where(np.isinf(a), a, 0), np.where(np.isinf(b), b, 0)):
        return f"different infinities: forward {a}, reverse {b}"
    fin = np.isfinite(a)
    if not np.allclose(a[fin], b[fin], rtol=testing.EXACT_RTOL, atol=testing.EXACT_ATOL + 2 * noise):
        return f"finite values differ: forward {a[fin]}, reverse {b[fin]}"
    return None


def _seeds(op, operands, params, idx, rng):
    """Dense tangents for the differentiated operands and a dense cotangent for the output
    (None when the primal raises: then both modes must raise)."""
    f = _flat_output(testing.op_function(op, operands, params, idx))
    xs = [np.asarray(operands[j], float) for j in idx]
    out_shape = _either(lambda: np.shape(f(*xs)))
    w = None if isinstance(out_shape, type) else _dense(rng, out_shape)
    return [_dense(rng, x.shape) for x in xs], w


def _dot_products(op, operands, params, idx, us, w):
    """<w, J u> by forward mode and <J^T w, u> by reverse mode (or what each raised)."""
    f = _flat_output(testing.op_function(op, operands, params, idx))
    xs = [np.asarray(operands[j], float) for j in idx]

    def forward():
        return np.sum(w * ad.jvp(f, tuple(xs), tuple(us))[1])

    def reverse():
        cts = ad.vjp(f, *xs)[1](w)
        return sum(np.sum(c * u) for c, u in zip(cts, us))

    return _either(forward), _either(reverse)


def _rounding(pair, near) -> float:
    """How far each mode moves between the edge and its neighbouring float: the rounding
    noise of a derivative that cancels quantities of the edge's size (x - mean(x) at 1e300),
    within which the two modes cannot be told apart."""
    spread = [abs(p - q) for p, q in zip(pair, near) if not isinstance(p, type) and not isinstance(q, type)]
    finite = [d for d in spread if np.isfinite(d)]
    return max(finite, default=0.0)


def _diagonals(op, operands, params, i, rng):
    """d * u by a JVP and by a VJP in operand i, the Jacobian being diag(d); None if it is not."""
    if op.kind != "elementwise":
        return None
    f = testing.op_function(op, operands, params, [i])
    x = np.asarray(operands[i], float)
    if _either(lambda: np.shape(f(x))) != x.shape:
        return None  # broadcast (a VJP sums over the broadcast axes), or the primal raises
    u = _dense(rng, x.shape)
    return _either(lambda: ad.jvp(f, (x,), (u,))[1]), _either(lambda: ad.vjp(f, x)[1](u)[0])


def test_every_op_has_the_same_derivative_in_both_modes_at_the_edges():
    rngs = {}  # one stream per op, so that registering an op does not change another's seeds
    failures = []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for op, operands, params, idx, i, value in _edge_cases():
            rng = rngs.setdefault(op.name, np.random.default_rng(zlib.crc32(op.name.encode())))
            at = _at_edge(operands, i, value)
            us, w = _seeds(op, at, params, idx, rng)
            pair = _dot_products(op, at, params, idx, us, w)
            why = _same(*pair)
            if why and abs(value) == HUGE:  # within the rounding noise there?
                near = _at_edge(operands, i, np.nextafter(value, 0.0))
                why = _same(*pair, _rounding(pair, _dot_products(op, near, params, idx, us, w)))
            diagonals = _diagonals(op, at, params, i, rng)
            for what, reason in (("<w, J u>", why), ("diag(J) u", diagonals and _same(*diagonals))):
                if reason:
                    failures.append(f"{op.name}{params} operand {i} = {value}, {what}: {reason}")
    assert not failures, (
        f"{len(failures)} ops give different derivatives in the two modes (fix the op's rule):\n"
        + "\n".join(failures[:40])
    )


@pytest.mark.filterwarnings("ignore:divide by zero")
@pytest.mark.parametrize("zero", [0.0, -0.0, 0])
def test_division_by_a_python_zero_gives_jaxs_infinities_in_both_modes(zero, jax64):
    # the partial in x is 1 / zero: Python's division raised ZeroDivisionError inside the engine
    import jax.numpy as jnp

    x, v = np.array([1.0, -2.0]), np.array([1.0, 1.0])
    want_grad = np.asarray(jax64.grad(lambda a: jnp.sum(a / zero))(x))
    want_tangent = np.asarray(jax64.jvp(lambda a: a / zero, (x,), (v,))[1])
    np.testing.assert_array_equal(ad.grad(lambda a: np.sum(a / zero))(x), want_grad)
    np.testing.assert_array_equal(ad.jvp(lambda a: a / zero, (x,), (v,))[1], want_tangent)
    t = ad.tensor(1.5, requires_grad=True)
    (t / zero).backward()
    assert t.grad == want_grad[0]
