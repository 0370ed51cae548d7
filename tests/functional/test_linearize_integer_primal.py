"""linearize with an integer primal: refused by name, as jvp refuses it, where JAX's f_jvp
would accept only a float0 tangent for it."""

import numpy as np
import pytest

import ad


@pytest.mark.parametrize(
    "primals",
    [(3,), (np.int64(3),), (np.arange(3),), (np.array([True, False]),), (3, 2.0), ((1.0, {"n": 2}),)],
)
def test_linearize_refuses_an_integer_primal_and_names_the_fixes(primals):
    calls = []

    def f(*args):
        calls.append(args)
        return args[0]

    with pytest.raises(TypeError) as info:
        ad.linearize(f, *primals)
    message = str(info.value)
    assert "float0" in message
    assert "astype(float)" in message
    assert "linearize(lambda y: f(n, y), y)" in message
    assert calls == []  # refused before f runs


def test_linearize_with_the_integer_closed_over_matches_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    n, y = 3, 0.7
    out, f_jvp = ad.linearize(lambda y: np.sin(n * y) * y, y)
    j_out, j_f_jvp = jax.linearize(lambda y: jax.numpy.sin(n * y) * y, y)
    assert out == pytest.approx(float(j_out), rel=1e-15)
    assert f_jvp(1.5) == pytest.approx(float(j_f_jvp(1.5)), rel=1e-14)


def test_jax_linearize_with_an_integer_primal_accepts_only_a_float0_tangent():
    """The JAX behaviour the refusal stands in for: no float or integer tangent is accepted."""
    jax = pytest.importorskip("jax")
    _, f_jvp = jax.linearize(lambda n: n * 2, np.int64(3))
    for tangent in (1.0, 1):
        with pytest.raises((TypeError, ValueError), match="float0"):
            f_jvp(tangent)
    assert f_jvp(np.zeros((), dtype=jax.dtypes.float0)).dtype == jax.dtypes.float0
