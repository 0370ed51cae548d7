"""Coloring a pattern so that c compressed passes replace n JVPs or m VJPs, and reading it back.

- Columns (forward): columns of one color share no row, so J @ (sum of their basis vectors)
  holds each of their entries alone in its row: J[i, j] = (J S)[i, color(j)].
- Rows (reverse): the same on J^T, J[i, j] = (S^T J)[color(i), j].
- Star (symmetric Hessians): a distance-1 coloring of H's graph with no path on four vertices
  in two colors. Every edge (i, j) then has an end, say i, with exactly one neighbor of j's
  color, so H[i, j] = (H S)[i, color(j)]; the diagonal is (H S)[i, color(i)].

Greedy coloring visits the vertices in an order: "largest_first" (by degree, ties by index)
or "smallest_last" (Matula and Beck's degeneracy order); "best" (the default) runs both and
keeps the fewer colors, since neither wins everywhere: on the 2-D five-point stencil's columns
smallest-last finds the optimal 5 where largest-first takes 7, and on its Hessian star coloring
largest-first finds 5 where smallest-last takes 6. The kernels are in ad/kernels/coloring.py.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ad.kernels import coloring as kernels

ORDERS = ("best", "largest_first", "smallest_last")


def boolean(pattern) -> sp.csr_array:
    """pattern as a boolean CSR copy holding only its True entries: a stored False (a stored 0.0
    of a float matrix) is no entry, for the coloring and the reading back alike."""
    P = sp.csr_array(pattern, dtype=bool, copy=True)
    P.eliminate_zeros()
    return P


def _graph(A) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, indices) of a boolean square matrix's graph, without self-loops, in int64."""
    A = boolean(A)  # a copy: setdiag below must not touch the caller's pattern
    A.setdiag(False)
    A.eliminate_zeros()
    A.sort_indices()
    return A.indptr.astype(np.int64), A.indices.astype(np.int64)


def ncolors(colors) -> int:
    """How many colors a coloring uses: the largest color + 1 (0 for no vertices)."""
    return int(np.max(colors, initial=-1)) + 1


def _color(kernel, indptr, indices, order: str) -> np.ndarray:
    """kernel's coloring in the given vertex order ("best": the fewer colors of the two orders)."""
    if order == "largest_first":
        return kernel(indptr, indices, np.argsort(-np.diff(indptr), kind="stable").astype(np.int64))
    if order == "smallest_last":
        return kernel(indptr, indices, kernels.smallest_last(indptr, indices))
    if order == "best":
        tries = [_color(kernel, indptr, indices, o) for o in ORDERS[1:]]
        return min(tries, key=ncolors)
    raise ValueError(f"coloring order must be one of {ORDERS}; got {order!r}")


def column_coloring(pattern, order: str = "best") -> np.ndarray:
    """A color per column, no two columns of one color sharing a row (greedy on the graph of
    columns that share a row, P^T P)."""
    P = boolean(pattern)
    indptr, indices = _graph(P.T @ P)
    return _color(kernels.greedy, indptr, indices, order)


def row_coloring(pattern, order: str = "best") -> np.ndarray:
    """A color per row, no two rows of one color sharing a column."""
    return column_coloring(boolean(pattern).T, order)


def star_coloring(pattern, order: str = "best") -> np.ndarray:
    """A star coloring of a symmetric pattern's graph (see the module docstring)."""
    P = boolean(pattern)
    if P.shape[0] != P.shape[1] or (P != P.T).nnz:
        raise ValueError(f"star coloring needs a symmetric pattern; got shape {P.shape}, not symmetric")
    indptr, indices = _graph(P)
    return _color(kernels.star, indptr, indices, order)


def _colors(colors, size: int, who: str) -> np.ndarray:
    colors = np.asarray(colors)
    if colors.shape != (size,) or colors.dtype.kind not in "iu" or (size and colors.min() < 0):
        raise ValueError(f"{who}: need one nonnegative integer color per vertex ({size}); got {colors.shape}")
    return colors.astype(np.int64)


def is_column_coloring(pattern, colors) -> bool:
    """Whether no row holds two columns of one color."""
    P = sp.coo_array(boolean(pattern))
    c = _colors(colors, P.shape[1], "is_column_coloring")
    keys = P.row.astype(np.int64) * max(ncolors(c), 1) + c[P.col]
    return np.unique(keys).size == keys.size


def is_row_coloring(pattern, colors) -> bool:
    """Whether no column holds two rows of one color."""
    return is_column_coloring(boolean(pattern).T, colors)


def _neighbor_counts(rows, cols, colors, n: int, ncolors: int) -> np.ndarray:
    """count[i, c]: how many off-diagonal neighbors of i have color c."""
    off = rows != cols
    return np.bincount(rows[off] * ncolors + colors[cols[off]], minlength=n * ncolors).reshape(n, ncolors)


def is_star_coloring(pattern, colors) -> bool:
    """Whether the coloring is distance-1 and every edge has an end with exactly one neighbor of
    the other end's color (equivalently: no path on four vertices in two colors)."""
    P = sp.coo_array(boolean(pattern))
    n = P.shape[0]
    c = _colors(colors, n, "is_star_coloring")
    r, k = P.row.astype(np.int64), P.col.astype(np.int64)
    off = r != k
    if np.any(c[r[off]] == c[k[off]]):
        return False
    count = _neighbor_counts(r, k, c, n, ncolors(c))
    r, k = r[off], k[off]
    return bool(np.all((count[r, c[k]] == 1) | (count[k, c[r]] == 1)))


def seeds(colors) -> np.ndarray:
    """S^T: (c, n), row k the indicator of color k (the compressed passes' tangents or cotangents)."""
    c = np.asarray(colors, np.int64)
    S = np.zeros((ncolors(c), c.size))
    S[c, np.arange(c.size)] = 1.0
    return S


def _entries(pattern) -> tuple[sp.csr_array, np.ndarray]:
    """(pattern as CSR with sorted indices, the row of each stored entry)."""
    P = boolean(pattern)
    P.sort_indices()
    return P, np.repeat(np.arange(P.shape[0]), np.diff(P.indptr))


def _filled(P: sp.csr_array, data) -> sp.csr_array:
    """P's structure holding data, one value per stored entry."""
    return sp.csr_array((data, P.indices.copy(), P.indptr.copy()), shape=P.shape)


def decompress_columns(pattern, colors, B) -> sp.csr_array:
    """J from B = J S (m, c): J[i, j] = B[i, color(j)]."""
    P, rows = _entries(pattern)
    return _filled(P, np.asarray(B)[rows, np.asarray(colors)[P.indices]])


def decompress_rows(pattern, colors, B) -> sp.csr_array:
    """J from B = S^T J (c, n): J[i, j] = B[color(i), j]."""
    P, rows = _entries(pattern)
    return _filled(P, np.asarray(B)[np.asarray(colors)[rows], P.indices])


def decompress_star(pattern, colors, B) -> sp.csr_array:
    """H from B = H S (n, c) under a star coloring: each entry from the end of its edge that has
    one neighbor of the other's color (the diagonal from its own color)."""
    P, r = _entries(pattern)
    n = P.shape[0]
    c = np.asarray(colors, np.int64)
    k = P.indices.astype(np.int64)
    count = _neighbor_counts(r, k, c, n, B.shape[1])
    alone = (r == k) | (count[r, c[k]] == 1)
    if not np.all(alone | (count[k, c[r]] == 1)):
        raise ValueError("decompress_star: the coloring is not a star coloring of this pattern")
    return _filled(P, np.where(alone, B[r, c[k]], B[k, c[r]]))
