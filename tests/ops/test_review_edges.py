"""Operator rules against JAX (64-bit) at the edges of their domains: every elementwise op on a
grid of edge values, and the cases where a review found a wrong or NaN derivative. Where JAX
and ad differ by design, the op's doc or docs/ says so and PyTorch or the math decides."""

import warnings

import numpy as np
import pytest

import ad
from ad import registry

EDGES = np.array(
    [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e300, -1e300, 1e-300, -1e-300, 0.5, -0.5, 2.0, -2.0]
    + [np.pi / 2, 3.0, 1e17, 710.0, -745.0]
)
# XLA on CPU flushes subnormal results to zero, and JAX's rules square tiny or huge operands
# on the way (d/dy x / y as -x / y^2): a derivative ad gets right below 1e-250 JAX gives as 0.
UNDERFLOW = 1e-250


def _quiet(f):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return f()


def _torch_grad(f, *xs):
    """PyTorch's gradient of sum(f(*xs)) at float64 xs, one array per argument."""
    torch = pytest.importorskip("torch")
    ts = [torch.tensor(np.asarray(x, float), requires_grad=True) for x in xs]
    f(torch, *ts).sum().backward()
    return [t.grad.numpy() for t in ts]


def _jax_name(op):
    if op.name == "i1":
        return "i1"
    for h in op.handles:
        if isinstance(h, np.ufunc) or getattr(h, "__module__", "").startswith("numpy"):
            return h.__name__
    return {"relu": "relu", "sigmoid": "sigmoid", "softplus": "softplus"}.get(op.name)


def _jax_function(jax, op):
    name = _jax_name(op)
    if op.name in ("relu", "sigmoid", "softplus"):
        return getattr(jax.nn, name)
    if op.name == "i1":
        import jax.scipy.special

        return jax.scipy.special.i1
    return getattr(jax.numpy, name, None) if name else None


# Where ad differs from JAX on purpose: (op, operand) -> the points where it does, and why.
def _deliberate(name, i, xs):
    x = xs[0]
    if name in ("abs", "copysign") and i == 0:
        return x == 0  # abs'(0) = 0 (docs/forward.md); copysign follows abs there, as PyTorch
    if name in ("fmax", "fmin", "maximum", "minimum"):
        return xs[0] == xs[1]  # ties share the derivative evenly (the ops' docs)
    if name == "clip":
        # 1 to x at a bound, as PyTorch; lo = hi is a tie of the bounds, which JAX splits
        return (x == xs[1]) | (x == xs[2]) | (xs[1] == xs[2])
    if name == "hypot":
        # NaN at (0, 0), as PyTorch (the op's doc); at 1e300 JAX's own rule overflows
        return ((xs[0] == 0) & (xs[1] == 0)) | (np.abs(xs[0]) > 1e150) & (np.abs(xs[1]) > 1e150)
    return np.zeros(x.shape, bool)


def _edge_grid(k):
    if k == 3:  # clip(x, lo, hi): x at the edges, the bounds at a few values around them
        return np.meshgrid(EDGES, [-0.5, 0.0, 1.0, np.inf], [-1.0, 0.0, 0.5], indexing="ij")
    return np.meshgrid(*[EDGES] * k, indexing="ij")


ELEMENTWISE = [op for op in registry.all_ops() if op.kind == "elementwise" and _jax_name(op)]


@pytest.mark.parametrize("op", ELEMENTWISE, ids=lambda op: op.name)
def test_elementwise_partials_match_jax_at_edge_values_where_jax_is_finite(op, jax64):
    """Both modes against jax.grad, at every point of the grid where the primal and JAX's
    partial are finite (elsewhere JAX's own NaN is no oracle)."""
    jf = _jax_function(jax64, op)
    if jf is None or op.name == "ldexp":
        pytest.skip(f"{op.name}: no jax.numpy function of that name takes float operands alone")
    k = len(op.derivs)
    xs = [g.ravel() for g in _edge_grid(k)]
    f = op.handles[0] if op.name not in ("relu", "sigmoid", "softplus") else getattr(ad, op.name)
    primal = _quiet(lambda: f(*xs))
    argnums = tuple(range(k))
    rev = _quiet(lambda: ad.grad(lambda *a: np.sum(f(*a)), argnums=argnums)(*xs))
    fwd = _quiet(lambda: ad.jacfwd(lambda *a: f(*a), argnums=argnums)(*xs))
    peer = jax64.grad(lambda *a: jax64.numpy.sum(jf(*a)), argnums=argnums)(*xs)
    for i in range(k):
        ours_fwd = np.diagonal(fwd[i])
        theirs = np.asarray(peer[i])
        judged = np.isfinite(primal) & np.isfinite(theirs) & ~_deliberate(op.name, i, xs)
        for mode, ours in (("reverse", np.asarray(rev[i])), ("forward", ours_fwd)):
            same = (ours == theirs) | np.isclose(ours, theirs, rtol=1e-12, atol=0)
            same |= (theirs == 0) & (np.abs(ours) < UNDERFLOW)
            if k > 1 and mode == "forward":
                # a one-hot tangent meets the other operand's partial: 0 * inf is NaN (in JAX too)
                judged_here = judged & np.all([np.isfinite(rev[j]) for j in range(k) if j != i], axis=0)
            else:
                judged_here = judged
            bad = np.nonzero(judged_here & ~same)[0]
            assert not bad.size, "; ".join(
                f"{op.name}{tuple(float(x[j]) for x in xs)} d/dx{i} {mode}: ad {ours[j]!r}, jax {theirs[j]!r}"
                for j in bad[:5]
            )


# ---------------------------------------------------------------------------------------
# clip


def test_clip_with_lo_above_hi_sends_the_derivative_to_hi_as_numpy_returns_hi(jax64):
    x = np.array([-2.0, 0.0, 1.0, 2.0])
    lo, hi = np.ones(4), -np.ones(4)
    assert np.array_equal(np.clip(x, lo, hi), hi)
    expected = [np.zeros((4, 4)), np.zeros((4, 4)), np.eye(4)]  # d/dx, d/dlo, d/dhi
    for jac in (ad.jacrev, ad.jacfwd):
        got = jac(np.clip, argnums=(0, 1, 2))(x, lo, hi)
        for g, e in zip(got, expected):
            np.testing.assert_array_equal(g, e, err_msg=jac.__name__)
    peer = jax64.jacrev(jax64.numpy.clip, argnums=(0, 1, 2))(x, lo, hi)
    for g, e in zip(peer, expected):
        np.testing.assert_array_equal(g, e, err_msg="JAX")
    torch_peer = _torch_grad(lambda t, x, lo, hi: t.clamp(x, lo, hi), x, lo, hi)
    np.testing.assert_array_equal(torch_peer, [np.diag(e) for e in expected], err_msg="PyTorch")


def test_clip_at_its_bounds_passes_the_whole_derivative_to_x_as_pytorch():
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    lo, hi = np.full(5, -0.5), np.full(5, 0.5)
    ours = ad.grad(lambda x, lo, hi: np.sum(np.clip(x, lo, hi)), argnums=(0, 1, 2))(x, lo, hi)
    peer = _torch_grad(lambda t, x, lo, hi: t.clamp(x, lo, hi), x, lo, hi)
    np.testing.assert_array_equal(ours, peer)


# ---------------------------------------------------------------------------------------
# prod over an empty axis


@pytest.mark.parametrize("axis", [0, None, (0, 1)])
def test_prod_over_an_empty_axis_has_a_zero_gradient_shaped_like_its_input(axis, jax64):
    x = np.zeros((0, 3))
    peer = np.asarray(jax64.grad(lambda x: jax64.numpy.sum(jax64.numpy.prod(x, axis=axis)))(x))
    for got in (
        ad.grad(lambda x: np.sum(np.prod(x, axis=axis)))(x),
        ad.grad(lambda x: np.sum(np.prod(x, axis=axis, keepdims=True)))(x),
    ):
        assert got.shape == peer.shape == x.shape
        np.testing.assert_array_equal(got, peer)


# ---------------------------------------------------------------------------------------
# logaddexp at an infinite output: the limit, not inf - inf


LOGADDEXPS = ["logaddexp", "logaddexp2"]


@pytest.mark.parametrize("name", LOGADDEXPS)
def test_logaddexp_at_an_infinite_output_gives_the_limits_pytorch_gives(name):
    inf = np.inf
    a = np.array([0.0, inf, -inf, 1.0, 1e300, 2.0])
    b = np.array([inf, 0.0, 1.0, -inf, inf, 3.0])
    f = getattr(np, name)
    peer = _torch_grad(lambda t, a, b: getattr(t, name)(a, b), a, b)
    assert np.all(np.isfinite(peer))
    rev = ad.grad(lambda a, b: np.sum(f(a, b)), argnums=(0, 1))(a, b)
    fwd = [np.diagonal(j) for j in ad.jacfwd(f, argnums=(0, 1))(a, b)]
    for got in (rev, fwd):
        np.testing.assert_allclose(got, peer, rtol=1e-15)


@pytest.mark.parametrize("name", LOGADDEXPS)
def test_logaddexp_of_two_equal_infinities_shares_the_derivative_like_a_tie_of_maximum(name):
    # The peers give NaN (PyTorch) or 1 and 1 (JAX, whose partials then sum to 2); along the
    # diagonal a = b the derivative of logaddexp is 1/2 each, at any magnitude.
    f = getattr(np, name)
    x = np.array([np.inf, -np.inf])
    for got in (
        ad.grad(lambda a, b: np.sum(f(a, b)), argnums=(0, 1))(x, x),
        [np.diagonal(j) for j in ad.jacfwd(f, argnums=(0, 1))(x, x)],
    ):
        np.testing.assert_array_equal(got, np.full((2, 2), 0.5))


# ---------------------------------------------------------------------------------------
# remainder by an infinite divisor


@pytest.mark.parametrize("name", ["remainder", "fmod"])
def test_remainder_by_an_infinite_divisor_has_jaxs_partials(name, jax64):
    x = np.array([1.0, 1.0, -1.0, -1.0, 0.0, 5.5, -5.5])
    y = np.array([np.inf, -np.inf, np.inf, -np.inf, np.inf, 2.0, -3.0])
    f = getattr(np, name)
    peer = np.asarray(
        jax64.grad(lambda x, y: jax64.numpy.sum(getattr(jax64.numpy, name)(x, y)), argnums=(0, 1))(x, y)
    )
    rev = ad.grad(lambda x, y: np.sum(f(x, y)), argnums=(0, 1))(x, y)
    fwd = [np.diagonal(j) for j in ad.jacfwd(f, argnums=(0, 1))(x, y)]
    for got in (rev, fwd):
        np.testing.assert_array_equal(np.asarray(got), peer)


# ---------------------------------------------------------------------------------------
# det at a singular matrix: a polynomial has a derivative everywhere (the adjugate)

SINGULAR = [
    np.array([[1.0, 2.0], [2.0, 4.0]]),
    np.zeros((3, 3)),
    np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 2.0]),
    np.diag([1.0, 2.0, 0.0]),
    np.diag([1.0, 1.0, 0.0, 0.0]),
    np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]),
    1e-200 * np.eye(2),  # invertible, but det underflows to 0: adj = 1e-200 I, not 0 * inv
]


@pytest.mark.parametrize("a", SINGULAR, ids=range(len(SINGULAR)))
def test_det_gradient_at_a_singular_matrix_is_the_adjugate_as_jax(a, jax64):
    peer = np.asarray(jax64.grad(jax64.numpy.linalg.det)(a))
    for got in (ad.grad(np.linalg.det)(a), ad.jacfwd(np.linalg.det)(a)):
        np.testing.assert_allclose(got, peer, rtol=1e-12, atol=1e-14)


def test_det_of_a_stack_with_one_singular_matrix_differentiates_each(jax64):
    a = np.stack([SINGULAR[0], np.array([[2.0, 1.0], [1.0, 3.0]])])
    peer = np.asarray(jax64.jacrev(jax64.numpy.linalg.det)(a))
    for jac in (ad.jacrev, ad.jacfwd):
        np.testing.assert_allclose(jac(np.linalg.det)(a), peer, rtol=1e-12, atol=1e-14)


def test_det_second_derivative_at_a_singular_matrix_matches_jax(jax64):
    a = np.diag([1.0, 2.0, 0.0])
    peer = np.asarray(jax64.hessian(jax64.numpy.linalg.det)(a))
    np.testing.assert_allclose(ad.hessian(np.linalg.det)(a), peer, rtol=1e-12, atol=1e-14)


def test_det_gradient_of_a_singular_complex_matrix_is_the_holomorphic_adjugate(jax64):
    # a zero column: det is exactly 0, its derivative in that column the nonzero cofactors
    a = np.array([[1.0 + 1.0j, 2.0 - 3.0j, 0.0], [1.0, 1.0j, 0.0], [0.5j, 2.0, 0.0]])
    assert np.linalg.det(a) == 0
    peer = np.asarray(jax64.jacfwd(jax64.numpy.linalg.det, holomorphic=True)(a))
    np.testing.assert_allclose(ad.jacfwd(np.linalg.det, holomorphic=True)(a), peer, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ad.jacrev(np.linalg.det, holomorphic=True)(a), peer, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------------------
# heaviside(x, h0) returns h0 where x = 0: its derivative in h0 is 1 there, not 0


def test_heaviside_derivative_in_h0_is_one_where_x_is_zero_as_jax(jax64):
    x = np.array([-1.0, 0.0, 2.0])
    h0 = np.array([0.5, 0.25, 0.75])
    peer = np.asarray(jax64.grad(lambda h: jax64.numpy.sum(jax64.numpy.heaviside(x, h)))(h0))
    np.testing.assert_array_equal(peer, [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(ad.grad(lambda h: np.sum(np.heaviside(x, h)))(h0), peer)
    np.testing.assert_array_equal(np.diagonal(ad.jacfwd(lambda h: np.heaviside(x, h))(h0)), peer)


# ---------------------------------------------------------------------------------------
# logsumexp of a 0-d array (a scalar loss written with it)


def test_logsumexp_of_a_0d_array_is_the_array_with_derivative_one(jax64):
    import jax.scipy.special

    x = np.array(3.0)
    np.testing.assert_array_equal(ad.logsumexp(x), jax.scipy.special.logsumexp(x))
    for mode in (ad.grad, ad.jacfwd):
        np.testing.assert_array_equal(mode(ad.logsumexp)(x), jax64.grad(jax.scipy.special.logsumexp)(x))


# ---------------------------------------------------------------------------------------
# float_power's mixed second derivative at a zero exponent (power's is pinned in
# tests/functional/test_review_transforms.py): d2(x**y)/dx dy = x**(y-1) (1 + y log x) = 1/x


@pytest.mark.parametrize("mode", ["rev-rev", "fwd-rev"])
def test_float_power_mixed_second_derivative_at_a_zero_exponent_is_one_over_x(mode, jax64):
    x, y = np.array([0.5, 2.0, 1e-3]), np.zeros(3)

    def d_dx(x, y):
        return ad.grad(lambda x, y: np.sum(np.float_power(x, y)))(x, y)

    if mode == "rev-rev":
        ours = ad.grad(lambda x, y: np.sum(d_dx(x, y)), argnums=1)(x, y)
    else:
        ours = np.diagonal(ad.jacfwd(d_dx, argnums=1)(x, y))
    jnp = jax64.numpy
    peer = jax64.grad(lambda x, y: jnp.sum(jax64.grad(lambda x, y: jnp.sum(jnp.float_power(x, y)))(x, y)), 1)(
        x, y
    )
    np.testing.assert_allclose(peer, 1 / x, rtol=1e-15)
    np.testing.assert_allclose(ours, peer, rtol=1e-15)
