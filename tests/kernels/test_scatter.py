"""The scatter-add kernel against np.add.at: the same sums, added in the same order."""

import numpy as np
import pytest

import ad
from ad.kernels import scatter as C

rng = np.random.default_rng(0)


def _ct(shape, index):
    ct = rng.standard_normal(np.zeros(shape)[index].shape)
    if ct.size > 3:
        ct.flat[:3] = [np.nan, np.inf, -np.inf]
    return ct


KERNEL_CASES = {
    "rows": ((5, 3), (np.array([0, 4, 4, 1, 0, 0]),)),
    "rows, negative indices": ((5, 3), (np.array([-1, 4, -5, 0]),)),
    "take along axis 1": ((2, 6), (slice(None), np.array([[5, 0], [5, 5]]))),
    "middle axis, trailing slices": ((2, 6, 3, 2), (slice(None), np.array([1, 1, 5]), slice(None))),
    "two arrays and an int": ((4, 5, 3, 2), (np.array([[1], [3]]), 2, np.array([0, 2, 2]))),
    "one array, int32": ((5, 3), (np.array([3, 3], dtype=np.int32),)),
    "empty index": ((5, 3), (np.array([], dtype=int),)),
    "empty rows": ((5, 0), (np.array([1, 1]),)),
}


@pytest.mark.parametrize("case", list(KERNEL_CASES))
def test_kernel_adds_what_np_add_at_adds(case, forced, spy):
    shape, index = KERNEL_CASES[case]
    calls = spy(C, "_scatter_add")
    ct = _ct(shape, index)
    np.testing.assert_array_equal(C.scatter_add(ct, shape, index), C.scatter_add_twin(ct, shape, index))
    assert len(calls) == 1


def test_non_contiguous_cotangents(forced, spy):
    calls = spy(C, "_scatter_add")
    index = (np.array([2, 0, 2]),)
    for ct in [rng.standard_normal((4, 3)).T, rng.standard_normal((3, 8))[:, ::-2]]:
        np.testing.assert_array_equal(C.scatter_add(ct, (3, 4), index), C.scatter_add_twin(ct, (3, 4), index))
    assert len(calls) == 2


TWIN_CASES = {
    "1-d: np.add.at's own fast path": ((6,), (np.array([1, 1, 5]),)),
    "a mask": ((4, 3), (np.array([True, False, True, True]),)),
    "a partial slice": ((4, 3), (slice(1, 3), np.array([0, 0]))),
    "arrays apart": ((4, 3, 2), (np.array([0, 1]), slice(None), np.array([1, 1]))),
    "a new axis": ((4, 3), (None, np.array([0, 0]))),
    "basic indices only": ((4, 3), (1, slice(None))),
}


@pytest.mark.parametrize("case", list(TWIN_CASES))
def test_other_indices_take_the_twin(case, forced, spy):
    shape, index = TWIN_CASES[case]
    calls = spy(C, "_scatter_add")
    ct = _ct(shape, index)
    np.testing.assert_array_equal(C.scatter_add(ct, shape, index), C.scatter_add_twin(ct, shape, index))
    assert calls == []


def test_an_index_out_of_range_raises_numpys_error(forced):
    for index in [(np.array([0, 5]),), (np.array([-6]),), (np.array([0]), np.array([3]))]:
        ct = np.ones((len(index[0]), 3) if len(index) == 1 else (1,))
        with pytest.raises(IndexError):
            C.scatter_add(ct, (5, 3), index)


def test_small_cotangents_and_other_dtypes_take_the_twin(spy):
    calls = spy(C, "_scatter_add")
    index = (np.array([0, 2, 2]),)
    C.scatter_add(np.ones((3, 2)), (4, 2), index)
    z = C.scatter_add(np.ones((3, 100), dtype=complex), (4, 100), index)
    assert calls == [] and z.dtype == complex
    C.scatter_add(np.ones((3, 100)), (4, 100), index)
    assert len(calls) == 1


def test_gradient_of_an_embedding_lookup_counts_each_row(spy):
    calls = spy(C, "_scatter_add")
    table, ids = rng.standard_normal((10, 32)), np.array([3, 1, 3, 3, 9, 1])
    g = ad.grad(lambda w: np.sum(w[ids]))(table)
    np.testing.assert_array_equal(g[:, 0], np.bincount(ids, minlength=10))
    assert len(calls) == 1
    # batched: jacrev scatters k cotangents at once, one per output
    j = ad.jacrev(lambda w: np.take(w, ids, axis=0)[:, 0])(table[:, :1])
    np.testing.assert_array_equal(j[:, :, 0], np.eye(10)[ids])
