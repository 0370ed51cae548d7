"""The elementwise kernels against their NumPy twins, and the dispatch between them."""

import numpy as np
import pytest

from ad.kernels import elementwise as E


def arrays():
    """Random float64 arrays with nan and +-inf, empty ones, and non-contiguous views."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-40, 40, (6, 9))
    x[0, :4] = [np.nan, np.inf, -np.inf, -0.0]
    return {
        "matrix": x,
        "vector": rng.uniform(-800, 800, 50),
        "scalar": np.array(0.3),
        "empty": np.zeros(0),
        "empty rows": np.zeros((0, 4)),
        "transpose": x.T,
        "steps": x[::2, ::-3],
    }


CASES = [
    ("sigmoid", E.sigmoid, E.sigmoid_twin, "_sigmoid_from_exp"),
    ("sigmoid'", lambda y: E.sigmoid_derivative(None, y), lambda y: y * (1 - y), "_sigmoid_derivative"),
    ("tanh'", lambda y: E.tanh_derivative(None, y), lambda y: 1 - y * y, "_tanh_derivative"),
]


@pytest.mark.parametrize("name,dispatch,twin,kernel", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("which", list(arrays()))
def test_kernel_matches_its_twin(name, dispatch, twin, kernel, which, forced, spy):
    x = arrays()[which]
    calls = spy(E, kernel)
    out = dispatch(x)
    strided = not (x.flags.c_contiguous or x.flags.f_contiguous)
    # a derivative kernel leaves strided arrays to NumPy; sigmoid copies them and runs
    assert len(calls) == (0 if strided and name != "sigmoid" else 1)
    assert type(out) is np.ndarray and out.shape == x.shape
    with np.errstate(invalid="ignore"):  # the twin's logaddexp warns on nan
        expected = twin(x)
    np.testing.assert_allclose(out, expected, rtol=1e-14, atol=1e-300)


def test_sigmoid_is_exact_at_the_limits(forced):
    out = E.sigmoid(np.array([-np.inf, -800.0, -0.0, 0.0, 800.0, np.inf, np.nan]))
    np.testing.assert_array_equal(out, [0.0, 0.0, 0.5, 0.5, 1.0, 1.0, np.nan])


def test_small_arrays_other_dtypes_and_subclasses_take_the_twin(spy):
    calls = spy(E, "_sigmoid_from_exp")
    E.sigmoid(np.linspace(-1, 1, E.SIGMOID_FROM - 1))
    E.sigmoid(np.linspace(-1, 1, 500, dtype=np.float32))
    E.sigmoid(np.ma.masked_array(np.linspace(-1, 1, 500)))
    assert calls == []
    assert E.sigmoid(np.linspace(-1, 1, 500, dtype=np.float32)).dtype == np.float32
    E.sigmoid(np.linspace(-1, 1, E.SIGMOID_FROM))
    assert len(calls) == 1


def test_boxed_values_take_the_twin(forced, spy):
    import ad

    calls = spy(E, "_tanh_derivative")
    y = np.tanh(np.linspace(-2, 2, 300))
    d = E.tanh_derivative(None, ad.Dual(y, np.ones_like(y)))
    assert calls == [] and isinstance(d, ad.Dual)
    np.testing.assert_allclose(d.primal, 1 - y * y)
    np.testing.assert_allclose(d.tangent, -2 * y)


def test_second_derivatives_at_sizes_where_the_kernels_run(spy):
    import ad

    sigmoid_calls, tanh_calls = spy(E, "_sigmoid_from_exp"), spy(E, "_tanh_derivative")
    x = np.linspace(-3, 3, 300)
    h = ad.hessian(lambda x: np.sum(ad.sigmoid(x) + np.tanh(x) + ad.softplus(x)))(x)
    s, t = E.sigmoid_twin(x), np.tanh(x)
    expected = s * (1 - s) * (1 - 2 * s) - 2 * t * (1 - t * t) + s * (1 - s)
    np.testing.assert_allclose(h, np.diag(expected), atol=1e-14)
    assert sigmoid_calls and tanh_calls
