"""Adversarial checks of has_aux, stop_gradient, linearize, grad modes, ad.compile's check of
what f reads, reductions' where=/initial=, scipy.special's rules and dict pytrees, against
JAX, PyTorch and finite differences."""

import os
import pathlib
import subprocess
import sys
from collections import OrderedDict, defaultdict

import numpy as np
import pytest
import scipy.special as sc  # noqa: F401  (the rules dispatch on its ufuncs)

import ad

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy
jsc = pytest.importorskip("jax.scipy.special")

X = np.array([0.3, 0.7])


# -- ad.compile's check of what f reads ----------------------------------------------------------
_LARGE_ARRAY_PROGRAM = """
import numpy as np, ad
x = np.array([0.3, 0.7])
big = np.ones(20_000)  # 160 KiB: compared in place as 64-bit words
c = ad.compile(lambda x: np.sum(x**2) * big.sum(), x)
assert np.allclose(c.grad(x), 2 * x * big.sum())
big[-1] = 2.0
assert np.allclose(c.grad(x), 2 * x * big.sum()) and c.records == 2
"""


def test_compiled_f_reaching_a_large_array_replays_in_a_fresh_process():
    # a fresh process: the check's first ndarray.any() there imports, which reads __builtins__
    env = dict(os.environ, PYTHONPATH=str(pathlib.Path(ad.__file__).parents[1]))
    done = subprocess.run(
        [sys.executable, "-c", _LARGE_ARRAY_PROGRAM], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-300:]


# -- has_aux, stop_gradient, linearize nested ---------------------------------------------------
def _inner(grad, xp):
    def f(y):
        return xp.sum(xp.sin(y) ** 2), {"a": y**3, "b": None, "c": ()}

    return grad(f, has_aux=True)


def test_an_inner_grads_aux_carries_the_outer_jacobian_as_jax():
    got = ad.jacfwd(lambda x: _inner(ad.grad, np)(x)[1]["a"])(X)
    want = jax.jacfwd(lambda x: _inner(jax.grad, jnp)(x)[1]["a"])(X)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    got = ad.jacrev(lambda x: _inner(ad.grad, np)(x)[1]["a"])(X)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    g, aux = _inner(ad.grad, np)(X)
    assert aux["b"] is None and aux["c"] == ()


def test_grad_of_grad_with_has_aux_uses_both_parts_as_jax():
    def outer(grad, xp):
        inner = lambda x: grad(lambda y: (xp.sin(y) * x, y * x), has_aux=True)(x)  # noqa: E731
        return lambda x: inner(x)[0] + inner(x)[1]

    assert np.isclose(ad.grad(outer(ad.grad, np))(0.5), jax.grad(outer(jax.grad, jnp))(0.5), rtol=1e-13)


def test_stop_gradient_under_every_pair_of_jacobians_matches_jax_hessian():
    f = lambda x: np.sum(x**2 * ad.stop_gradient(x)) + np.sum(ad.stop_gradient(x**2) * x)  # noqa: E731
    fj = lambda x: jnp.sum(x**2 * jax.lax.stop_gradient(x)) + jnp.sum(jax.lax.stop_gradient(x**2) * x)  # noqa: E731
    want = jax.hessian(fj)(X)
    for outer in (ad.jacfwd, ad.jacrev):
        for inner in (ad.jacfwd, ad.jacrev):
            np.testing.assert_allclose(outer(inner(f))(X), want, rtol=1e-13)


def test_linearize_under_grad_matches_jax():
    def h(lin, xp):
        def g(x):
            _, f_jvp = lin(lambda y: xp.sin(y) * x, x)
            return xp.sum(f_jvp(xp.ones_like(x)))

        return g

    want = jax.grad(h(jax.linearize, jnp))(X)
    np.testing.assert_allclose(ad.grad(h(ad.linearize, np))(X), want, rtol=1e-13)
    np.testing.assert_allclose(ad.jacfwd(h(ad.linearize, np))(X), want, rtol=1e-13)


def test_ordered_dict_input_keeps_its_order_under_jacrev_as_jax():
    d = OrderedDict([("b", X), ("a", 2 * X)])
    got = ad.jacrev(lambda d: d["b"] * d["a"])(d)
    want = jax.jacrev(lambda d: d["b"] * d["a"])(d)
    assert type(got) is OrderedDict and list(got) == ["b", "a"]
    for k in d:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-13)
    out = ad.jacfwd(lambda x: defaultdict(int, {"b": x, "a": 2 * x}))(X)
    assert type(out) is defaultdict and out.default_factory is int


# -- scipy.special at the edges of their domains ------------------------------------------------
def test_gammainc_derivative_at_zero_with_shape_one_is_the_exponential_density():
    assert ad.grad(lambda x: sc.gammainc(1.0, x))(0.0) == pytest.approx(1.0)
    assert ad.grad(lambda x: sc.gammaincc(1.0, x))(0.0) == pytest.approx(-1.0)


def test_rgamma_derivative_at_the_poles_of_gamma_is_finite():
    for x, want in [(0.0, 1.0), (-1.0, -1.0), (-2.0, 2.0)]:
        h = 1e-6
        assert (sc.rgamma(x + h) - sc.rgamma(x - h)) / (2 * h) == pytest.approx(want, rel=1e-6)
        assert ad.grad(lambda x: sc.rgamma(x))(x) == pytest.approx(want, rel=1e-9)


def test_gammaln_and_digamma_at_negative_non_integers_match_jax():
    for x in (-2.5, -0.5, -3.7):
        assert ad.grad(lambda x: sc.gammaln(x))(x) == pytest.approx(
            float(jax.grad(jsc.gammaln)(x)), rel=1e-12
        )
        assert ad.hessian(lambda x: sc.gammaln(x))(x) == pytest.approx(
            float(jax.hessian(jsc.gammaln)(x)), rel=1e-10
        )
        assert ad.grad(lambda x: sc.digamma(x))(x) == pytest.approx(sc.polygamma(1, x), rel=1e-12)
        assert ad.hessian(lambda x: sc.digamma(x))(x) == pytest.approx(sc.polygamma(2, x), rel=1e-10)


def test_erfinv_at_plus_and_minus_one_has_an_infinite_slope_as_jax():
    for x in (1.0, -1.0):
        assert ad.grad(lambda x: sc.erfinv(x))(x) == np.inf == float(jax.grad(jsc.erfinv)(x))


def test_bessel_jv_at_zero_first_and_second_order():
    # J_0'' (0) = -1/2, J_1'(0) = 1/2, J_2''(0) = 1/4 (J_v ~ (x/2)^v / v!)
    assert ad.grad(lambda x: sc.jv(0.0, x))(0.0) == 0.0
    assert ad.hessian(lambda x: sc.jv(0.0, x))(0.0) == pytest.approx(-0.5)
    assert ad.grad(lambda x: sc.jv(1.0, x))(0.0) == pytest.approx(0.5)
    assert ad.hessian(lambda x: sc.jv(2.0, x))(0.0) == pytest.approx(0.25)
    assert ad.grad(lambda x: sc.j1(x))(0.0) == pytest.approx(0.5)


def test_log_ndtr_far_in_the_left_tail_matches_jax():
    got = ad.grad(lambda x: sc.log_ndtr(x))(-40.0)
    assert got == pytest.approx(float(jax.grad(jsc.log_ndtr)(-40.0)), rel=1e-9)


# -- reductions' where= and initial= ------------------------------------------------------------
A = np.array([[1.0, 3.0, 3.0, 2.0], [5.0, 0.5, 5.0, 1.0], [2.0, 2.0, 2.0, 2.0]])
W = np.array([[True, True, True, False], [False] * 4, [True, False, True, True]])


def test_max_with_where_splits_ties_and_gives_an_all_masked_row_nothing():
    # row 0: a tie of two kept entries; row 1: all left out (the value is initial);
    # row 2: three kept entries tied with initial, which takes its share
    got = ad.grad(lambda a: np.sum(np.max(a, axis=1, where=W, initial=2.0)))(A)
    want = np.array([[0, 0.5, 0.5, 0], [0, 0, 0, 0], [0.25, 0, 0.25, 0.25]])
    np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(ad.jacfwd(lambda a: np.max(a, axis=1, where=W, initial=2.0))(A).sum(0), want)
    # without an initial tie, JAX agrees (it weighs a tied initial otherwise)
    f = lambda xp: lambda a: xp.sum(xp.max(a, axis=1, where=W, initial=-np.inf)[np.array([0, 2])])  # noqa: E731
    np.testing.assert_allclose(ad.grad(f(np))(A), jax.grad(f(jnp))(A), rtol=1e-13)


def test_mean_and_prod_with_where_match_jax_including_zeros():
    for f in (
        lambda xp: lambda a: xp.sum(xp.mean(a, axis=1, where=W)[np.array([0, 2])]),
        lambda xp: lambda a: xp.sum(xp.prod(a - 2.0, axis=1, where=W)),
    ):
        np.testing.assert_allclose(ad.grad(f(np))(A), jax.grad(f(jnp))(A), rtol=1e-13)
