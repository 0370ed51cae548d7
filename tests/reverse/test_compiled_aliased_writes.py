"""ad.compile's recorder rebinds x on x op= y: refused where NumPy would write into another
live value too (a view and what it views), allowed where nothing else shares x's memory."""

import numpy as np
import pytest

import ad

X = np.array([1.0, 2.0, 3.0])


def _through_a_view(x):
    y = x * 1.0
    v = y[1:]
    v *= x[:2]
    return np.sum(y**2)


def _into_a_viewed_base(x):
    y = x * 1.0
    v = y[1:]
    y *= 2.0
    return np.sum(v**2)


@pytest.mark.parametrize("f", [_through_a_view, _into_a_viewed_base], ids=["view", "base"])
def test_a_write_that_numpy_sees_through_an_alias_is_refused(f):
    with pytest.raises(TypeError, match="shares memory with another one still in use"):
        ad.compile(f, X)


def test_a_write_with_no_live_alias_rebinds_and_is_right():
    def f(x):
        y = x * 1.0
        s = np.sum(y[0:2])  # the view is gone when y is written
        y *= 2.0
        y += s
        return np.sum(y**2)

    c = ad.compile(f, X)
    assert np.isclose(c(X), f(X), rtol=1e-14)
    np.testing.assert_allclose(c.grad(X), ad.grad(f)(X), rtol=1e-13)
