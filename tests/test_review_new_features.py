"""A review of recent features against NumPy, JAX and finite differences: where= in mean keeps
float32, np.ix_ of a traced mask, x / 0j, ufunc accumulate's axis=None, and a compiled tape's
check of dicts, sets and attributes f reads."""

import warnings

import numpy as np
import pytest

import ad

X = np.array([[0.5, 1.5, 2.0, 0.7], [1.2, 0.3, 0.9, 1.1], [0.4, 2.2, 1.3, 0.8]])
MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, True]])


def test_mean_where_keeps_float32_in_value_and_both_modes():
    x32 = X.astype(np.float32)
    expected = np.mean(x32, axis=0, where=MASK)
    t = ad.tensor(x32, requires_grad=True)
    y = np.mean(t, axis=0, where=MASK)
    assert y.dtype == expected.dtype == np.float32
    np.testing.assert_allclose(y.detach().numpy(), expected, rtol=1e-6)
    assert ad.jacfwd(lambda x: np.mean(x, axis=0, where=MASK))(x32).dtype == np.float32
    assert ad.jacrev(lambda x: np.mean(x, axis=0, where=MASK))(x32).dtype == np.float32


def test_mean_where_derivative_is_one_over_count_of_kept_entries():
    g = ad.grad(lambda x: np.sum(np.mean(x, axis=1, where=MASK)))(X)
    np.testing.assert_allclose(g, MASK / MASK.sum(axis=1, keepdims=True))


def test_ix_of_traced_boolean_mask_gives_numpys_indices():
    mask = np.array([True, False, True])
    got = np.ix_(ad.tensor(mask), [0, 1])
    expected = np.ix_(mask, [0, 1])
    assert [np.asarray(g).tolist() for g in got] == [e.tolist() for e in expected]


def test_ix_of_traced_values_differentiates_as_a_reshape():
    a, b = np.array([0.5, 1.0, 2.0]), np.array([3.0, -1.0])
    ga, gb = ad.grad(lambda a, b: np.sum(np.prod(np.ix_(a, b)[0] * np.ix_(a, b)[1])), argnums=(0, 1))(a, b)
    outer = np.prod(a[:, None] * b)
    np.testing.assert_allclose(ga, 2 * outer / a)
    np.testing.assert_allclose(gb, 3 * outer / b)


def test_division_by_python_complex_zero_follows_numpy_in_both_modes():
    z = np.array([1.0 + 0.5j, -2.0 + 0.0j])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        value, tangent = ad.jvp(lambda z: z / 0j, (z,), (np.ones_like(z),))
        g = ad.grad(lambda z: np.sum(np.real(z / 0j)))(z)
        expected = z / np.complex128(0j)
    np.testing.assert_array_equal(value, expected)
    assert not np.isfinite(tangent).any() and not np.isfinite(g).any()


def test_accumulate_refuses_axis_none_as_numpy_does():
    with pytest.raises(ValueError, match="multiple axes"):
        np.add.accumulate(ad.tensor(X), axis=None)


def _grad_after(f, change):
    """The compiled gradient after change(), the eager one, and the number of recordings."""
    x = np.array([1.0, 2.0, 3.0])
    compiled = ad.compile(f, x)
    compiled.grad(x)
    assert compiled.records == 1  # nothing changed: no second recording
    change()
    return compiled.grad(x), ad.grad(f)(x), compiled.records


def test_compiled_records_again_when_a_dict_gains_a_key():
    params = {"a": 2.0}

    def f(x):
        return params.get("b", 1.0) * sum(v for v in params.values()) * np.sum(x**2)

    got, expected, records = _grad_after(f, lambda: params.update(b=3.0))
    np.testing.assert_allclose(got, expected)
    assert records == 2


def test_compiled_records_again_when_a_set_gains_a_member():
    scales = {2.0}

    def f(x):
        return sum(scales) * np.sum(x**2)

    got, expected, records = _grad_after(f, lambda: scales.add(5.0))
    np.testing.assert_allclose(got, expected)
    assert records == 2


def test_compiled_records_again_when_an_object_gains_an_attribute():
    class Model:
        pass

    model = Model()
    model.w = 2.0

    def f(x):
        return getattr(model, "v", 1.0) * model.w * np.sum(x**2)

    got, expected, records = _grad_after(f, lambda: setattr(model, "v", 3.0))
    np.testing.assert_allclose(got, expected)
    assert records == 2


def test_compiled_checks_of_arrays_in_tuples_and_lists_and_bound_methods():
    class Odd:  # __eq__ that answers True to anything: the check compares by identity
        def __init__(self):
            self.w = np.array(2.0)

        def __eq__(self, other):
            return True

        __hash__ = object.__hash__

        def f(self, x):
            return np.sum(self.w * pair[0] * arrays[1] * x**2)

    pair, arrays = (np.array([1.0, 2.0, 3.0]),), [np.zeros(1), np.array(2.0)]
    odd = Odd()
    for change in [
        lambda: pair[0].__setitem__(0, 9.0),
        lambda: arrays[1].__setitem__((), 5.0),
        lambda: setattr(odd, "w", np.array(4.0)),
    ]:
        got, expected, records = _grad_after(odd.f, change)
        np.testing.assert_allclose(got, expected)
        assert records == 2
