"""Colorings: valid on random and structured patterns, kernels equal to their twins, the known
color counts, and validity checks that reject what they should."""

import numpy as np
import pytest
import scipy.sparse as sp

from ad.kernels import coloring as kernels
from ad.sparse import coloring


def _random_patterns():
    for seed in range(12):
        yield sp.random_array((30, 40), density=0.08, rng=seed, format="csr").astype(bool)


def _symmetric(P):
    S = (P[:, : P.shape[0]] + P[:, : P.shape[0]].T).tocsr()
    S.setdiag(True)
    return S


def _tridiagonal(n):
    return sp.diags_array(
        [np.ones(n - 1), np.ones(n), np.ones(n - 1)], offsets=[-1, 0, 1], dtype=bool
    ).tocsr()


def _five_point(k):
    T = _tridiagonal(k)
    eye = sp.identity(k, dtype=bool)
    return (sp.kron(eye, T) + sp.kron(T, eye)).astype(bool).tocsr()


@pytest.mark.parametrize("order", coloring.ORDERS)
def test_colorings_are_valid_on_random_patterns(order):
    for P in _random_patterns():
        assert coloring.is_column_coloring(P, coloring.column_coloring(P, order))
        assert coloring.is_row_coloring(P, coloring.row_coloring(P, order))
        S = _symmetric(P)
        assert coloring.is_star_coloring(S, coloring.star_coloring(S, order))


def _no_two_colored_path_on_four(S, colors):
    """Brute force: every path a-b-c-d uses at least three colors."""
    A = S.toarray()
    np.fill_diagonal(A, False)
    for b, c in zip(*np.nonzero(A)):
        for a in np.flatnonzero(A[b]):
            for d in np.flatnonzero(A[c]):
                if len({a, b, c, d}) == 4 and len({colors[a], colors[b], colors[c], colors[d]}) == 2:
                    return False
    return True


def test_star_coloring_has_no_two_colored_path_on_four_vertices():
    for P in list(_random_patterns())[:4]:
        S = _symmetric(P)
        colors = coloring.star_coloring(S)
        assert _no_two_colored_path_on_four(S, colors)


def test_kernels_equal_their_twins():
    for P in _random_patterns():
        S = _symmetric(P)
        indptr, indices = coloring._graph(S)
        order = np.argsort(-np.diff(indptr), kind="stable").astype(np.int64)
        assert (kernels.greedy(indptr, indices, order) == kernels.greedy_twin(indptr, indices, order)).all()
        assert (kernels.star(indptr, indices, order) == kernels.star_twin(indptr, indices, order)).all()
        assert (kernels.smallest_last(indptr, indices) == kernels.smallest_last_twin(indptr, indices)).all()


def test_smallest_last_is_a_permutation():
    for P in _random_patterns():
        indptr, indices = coloring._graph(_symmetric(P))
        assert sorted(kernels.smallest_last(indptr, indices)) == list(range(indptr.size - 1))


def test_known_color_counts():
    T = _tridiagonal(200)
    assert coloring.column_coloring(T).max() + 1 == 3
    assert coloring.row_coloring(T).max() + 1 == 3
    assert coloring.star_coloring(T).max() + 1 == 3
    L = _five_point(12)
    assert coloring.column_coloring(L).max() + 1 == 5
    assert coloring.star_coloring(L).max() + 1 == 5
    A = sp.lil_array((50, 50), dtype=bool)
    A.setdiag(True)
    A[0, :] = A[:, 0] = True
    assert coloring.star_coloring(A.tocsr()).max() + 1 == 2  # the arrowhead: a star


def test_coloring_leaves_the_pattern_untouched():
    T = _tridiagonal(10)
    before = T.copy()
    coloring.star_coloring(T)
    coloring.column_coloring(T)
    assert (T != before).nnz == 0


def test_validity_checks_reject_bad_colorings():
    T = _tridiagonal(6)
    assert not coloring.is_column_coloring(T, np.array([0, 1, 0, 1, 0, 1]))  # columns 0, 2 share row 1
    assert not coloring.is_row_coloring(T, np.zeros(6, int))
    assert not coloring.is_star_coloring(T, np.array([0, 1, 0, 1, 0, 1]))  # a two-colored path
    assert coloring.is_star_coloring(T, np.array([0, 1, 2, 0, 1, 2]))
    with pytest.raises(ValueError, match="one nonnegative integer color"):
        coloring.is_column_coloring(T, np.zeros(5, int))


def test_unknown_order_and_asymmetric_star_input_are_refused():
    with pytest.raises(ValueError, match="order"):
        coloring.column_coloring(_tridiagonal(4), "random")
    with pytest.raises(ValueError, match="symmetric"):
        coloring.star_coloring(sp.csr_array(np.triu(np.ones((3, 3), bool))))
