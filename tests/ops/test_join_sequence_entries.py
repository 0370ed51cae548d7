"""A join's entry that is a list holding a traced value is refused by name; NumPy would
convert it to a plain array and drop its derivative. Lists of plain numbers still join."""

import numpy as np
import pytest

import ad
import ad.numpy as anp


@pytest.mark.parametrize("join", [np.concatenate, np.stack, np.hstack, np.vstack])
def test_a_list_entry_holding_a_traced_value_is_refused_by_name(join):
    def f(x):
        return np.sum(join([x[:1], [np.sum(x)]]))

    refusal = rf"numpy\.{join.__name__}'s entry 1 is a list holding a traced value"
    with pytest.raises(TypeError, match=refusal):
        ad.grad(f)(np.arange(3.0))


def test_a_list_entry_of_plain_numbers_joins_as_numpy_does():
    f = lambda x: np.sum(np.concatenate([x, [1.0, 2.0]]) ** 2)
    x = np.arange(3.0)
    np.testing.assert_array_equal(ad.grad(f)(x), 2 * x)


def test_ad_numpy_lifts_the_same_entry_and_differentiates_through_it():
    f = lambda x: anp.sum(anp.concatenate([x[1:] ** 2, [anp.sum(anp.sin(x))]]) * anp.arange(1.0, 4.0))
    x = np.array([0.3, -0.7, 1.1])
    expected = np.cos(x) * 3.0 + np.array([0.0, 2 * x[1] * 1.0, 2 * x[2] * 2.0])
    np.testing.assert_allclose(ad.grad(f)(x), expected, rtol=1e-13)
