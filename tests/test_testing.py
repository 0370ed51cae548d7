"""ad.testing's comparisons refuse what differs: a helper the suites lean on must fail when it should."""

from __future__ import annotations

import numpy as np
import pytest

from ad.testing import assert_trees_close

A = np.array([1.0, 2.0])


def test_trees_of_one_structure_and_close_values_pass():
    assert_trees_close({"a": A, "b": (A, None)}, {"b": (A + 1e-15, None), "a": A})


@pytest.mark.parametrize(
    "other, message",
    [
        ([A, A], "structure"),
        ((A,), "structure"),
        ((A, A + 1e-6), "mismatch"),
        ((A, A[:1]), "shape"),
    ],
)
def test_trees_that_differ_fail_naming_how(other, message):
    with pytest.raises(AssertionError, match=message):
        assert_trees_close((A, A), other)


def test_dtypes_are_compared_when_asked():
    assert_trees_close(A.astype(np.float32), A, 1e-6, 0.0)
    with pytest.raises(AssertionError, match="dtype"):
        assert_trees_close(A.astype(np.float32), A, 1e-6, 0.0, dtypes=True)


def test_the_scaled_tolerance_follows_the_largest_finite_entry():
    want = np.array([1e6, 0.0, np.inf])
    got = np.array([1e6, 1e-4, np.inf])
    assert_trees_close(got, want, 1e-12, 0.0, scaled=1e-9)  # 1e-9 * 1e6 = 1e-3 > 1e-4
    with pytest.raises(AssertionError, match="mismatch"):
        assert_trees_close(got, want, 1e-12, 0.0, scaled=1e-11)
