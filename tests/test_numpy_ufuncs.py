"""ad.numpy's ufuncs are functions (they take lists of traced values), not numpy.ufunc objects:
what a program reads of a ufunc is NumPy's, and each method differentiates or refuses by name."""

import numpy
import pytest

import ad
import ad.numpy as anp

X = numpy.array([0.5, -1.2, 2.0])
UFUNCS = [name for name in numpy.__all__ if isinstance(getattr(numpy, name), numpy.ufunc)]
ATTRIBUTES = ("nin", "nout", "nargs", "ntypes", "types", "identity", "signature", "__name__", "__doc__")


@pytest.mark.parametrize("name", UFUNCS)
def test_a_ufuncs_attributes_are_numpys(name):
    ours, numpys = getattr(anp, name), getattr(numpy, name)
    assert not isinstance(ours, numpy.ufunc) and ours.__wrapped__ is numpys
    assert all(getattr(ours, a) == getattr(numpys, a) for a in ATTRIBUTES)
    assert all(callable(getattr(ours, m)) for m in ("reduce", "accumulate", "reduceat", "outer", "at"))


REDUCTIONS = {
    "add": lambda np, x: np.add.reduce(np.outer(x, x), axis=1)[1] + np.add.reduce(np.asarray([x[0], x[2]])),
    "multiply": lambda np, x: np.multiply.reduce(x),
    "maximum": lambda np, x: np.maximum.reduce(x),
    "minimum": lambda np, x: np.sum(np.minimum.reduce(np.stack([x, x**2]), keepdims=True)),
}


@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reduce_differentiates_as_jax_does(name, jax64):
    import jax.numpy as jnp

    f = REDUCTIONS[name]
    expected = numpy.asarray(jax64.grad(lambda x: f(jnp, x))(X))
    numpy.testing.assert_allclose(ad.grad(lambda x: f(anp, x))(X), expected, rtol=1e-14)
    numpy.testing.assert_allclose(ad.jacfwd(lambda x: f(anp, x))(X), expected, rtol=1e-14)


def test_reduce_takes_a_list_of_traced_values_as_their_stack():
    assert ad.grad(lambda x: anp.add.reduce([x[0], 3 * x[2]]))(X).tolist() == [1.0, 0.0, 3.0]


METHODS = {
    "accumulate": lambda np, x: np.maximum.accumulate(x),
    "reduceat": lambda np, x: np.add.reduceat(x, [0, 2]),
    "reduce": lambda np, x: np.logaddexp.reduce(x),
}


@pytest.mark.parametrize("module", [numpy, anp], ids=["numpy", "ad.numpy"])
@pytest.mark.parametrize("method", list(METHODS))
def test_other_methods_refuse_naming_the_method_and_the_mode(method, module):
    f = METHODS[method]
    for jac, mode in [(ad.jacfwd, "forward"), (ad.jacrev, "reverse")]:
        with pytest.raises(
            NotImplementedError, match=rf"numpy\.\w+\.{method} is not supported in {mode} mode"
        ):
            jac(lambda x: f(module, x))(X)


def test_at_refuses_to_write_a_traced_value_into_a_plain_array():
    def f(x):
        a = numpy.zeros(3)
        anp.add.at(a, [0, 0], x[:2])
        return anp.sum(a)

    with pytest.raises(NotImplementedError, match=r"numpy\.add\.at is not supported in reverse mode"):
        ad.grad(f)(X)


def test_outer_and_accumulate_differentiate_as_jax_does(jax64):
    import jax.numpy as jnp

    def f(np, x):
        return np.sum(np.subtract.outer(x, x**2) ** 2) + np.sum(np.add.accumulate(x) ** 2)

    expected = numpy.asarray(jax64.grad(lambda x: f(jnp, x))(X))
    numpy.testing.assert_allclose(ad.grad(lambda x: f(numpy, x))(X), expected, rtol=1e-14)


def test_outer_with_keyword_arguments_refuses_naming_them():
    for jac, mode in [(ad.jacfwd, "forward"), (ad.jacrev, "reverse")]:
        with pytest.raises(
            NotImplementedError, match=rf"add\.outer takes no keyword arguments in {mode} mode \(got dtype\)"
        ):
            jac(lambda x: numpy.add.outer(x, x, dtype=numpy.float64))(X)
