"""A ufunc called with where= and no out= is refused: NumPy leaves the skipped entries
uninitialised, and no derivative of them is meaningful."""

import numpy as np
import pytest

import ad

X = np.array([1.0, 2.0, 3.0])
MASK = np.array([True, False, True])


@pytest.mark.parametrize("transform", [ad.jacfwd, ad.jacrev], ids=["forward", "reverse"])
def test_a_ufunc_with_where_and_no_out_is_refused_naming_the_fix(transform):
    with pytest.raises(NotImplementedError, match=r"where=mask\) without out=.*np.where\(mask"):
        transform(lambda x: np.sin(x, where=MASK))(X)


def test_the_np_where_spelling_differentiates():
    J = ad.jacrev(lambda x: np.where(MASK, np.sin(x), 0.0))(X)
    np.testing.assert_allclose(J, np.diag(np.cos(X) * MASK), rtol=1e-15)


def test_where_true_is_the_plain_call():
    np.testing.assert_allclose(ad.grad(lambda x: np.sum(np.sin(x, where=True)))(X), np.cos(X), rtol=1e-15)
