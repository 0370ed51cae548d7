"""ad.numpy.vectorize: NumPy's vectorize on plain values; on traced ones pyfunc runs on each
entry of the broadcast arguments and the results are stacked, keeping their derivatives."""

import numpy
import pytest

import ad
import ad.numpy as anp


def _leaky(a, slope=0.1):
    return a * a if a > 0 else slope * a


X = numpy.array([0.7, -1.3, 2.1, -0.4])


def test_vectorize_of_plain_values_is_numpys():
    got = anp.vectorize(_leaky)(X)
    numpy.testing.assert_array_equal(got, numpy.vectorize(_leaky)(X))
    assert got.dtype == numpy.float64


@pytest.mark.parametrize("mode", ["grad", "jacfwd"])
def test_vectorize_of_a_branching_function_has_the_branches_derivative(mode):
    g = getattr(ad, mode)(lambda x: anp.sum(anp.vectorize(_leaky)(x)))(X)
    numpy.testing.assert_allclose(g, numpy.where(X > 0, 2 * X, 0.1))
    assert ad.gradcheck(lambda x: anp.sum(anp.vectorize(_leaky)(x) ** 2), X)


def test_vectorize_has_the_hessian_of_the_entrywise_function():
    H = ad.hessian(lambda x: anp.sum(anp.vectorize(lambda a: anp.sin(a) * a**2)(x)))(X)
    numpy.testing.assert_allclose(
        H, numpy.diag(2 * numpy.sin(X) + 4 * X * numpy.cos(X) - X**2 * numpy.sin(X))
    )


def test_vectorize_broadcasts_the_arguments_and_passes_excluded_ones_as_they_are():
    x, y = X.reshape(2, 2), numpy.array([1.0, 3.0])
    f = anp.vectorize(lambda a, b, slope: _leaky(a * b, slope), excluded={"slope"})
    out = f(x, y, slope=0.5)
    numpy.testing.assert_allclose(out, numpy.vectorize(lambda a, b: _leaky(a * b, 0.5))(x, y))
    assert ad.gradcheck(lambda x, y: anp.sum(f(x, y, slope=0.5)), x, y)


def test_vectorize_of_a_function_with_two_outputs_gives_two_arrays():
    f = anp.vectorize(lambda a: (a * a, anp.exp(a) if a > 0 else a))
    squares, others = ad.jvp(f, (X,), (numpy.ones_like(X),))[0]
    numpy.testing.assert_allclose(squares, X**2)
    numpy.testing.assert_allclose(others, numpy.where(X > 0, numpy.exp(X), X))
    g = ad.grad(lambda x: anp.sum(f(x)[0]) + anp.sum(f(x)[1]))(X)
    numpy.testing.assert_allclose(g, 2 * X + numpy.where(X > 0, numpy.exp(X), 1.0))


def test_vectorize_with_a_signature_of_traced_values_is_refused_by_name():
    f = anp.vectorize(lambda v: anp.sum(v), signature="(n)->()")
    with pytest.raises(NotImplementedError, match=r"vectorize\(\.\.\., signature=\.\.\.\) of traced values"):
        ad.grad(lambda x: anp.sum(f(x.reshape(2, 2))))(X)
