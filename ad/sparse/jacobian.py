"""Sparse Jacobians and Hessians from c compressed passes: J S by JVPs, S^T J by VJPs, H S by HVPs.

A Jacobian with c column colors costs c JVPs, whatever n is (a tridiagonal one: 3); with c
row colors, c VJPs. The cost model picks the side with fewer colors, as it picks n against m
for a dense Jacobian. Detecting the pattern costs more than a pass, so it is done once by
`prepare_sparse_jacobian` (or `prepare_sparse_hessian`) and reused at every x.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ad import rules
from ad.reverse.api import grad, record
from ad.sparse import coloring
from ad.sparse.detect import hessian_sparsity, jacobian_sparsity, real_input
from ad.transform import DEFAULT_CHUNK, hooks_refused, push_tangents, run_passes

MODES = ("auto", "forward", "reverse")


@dataclass(frozen=True)
class SparsePlan:
    """Which side a sparse Jacobian is compressed on, and the cost model's reasons (colors)."""

    mode: str
    n: int  # input size
    m: int  # output size
    forward_colors: int | None  # column colors: JVPs (None: not computed)
    reverse_colors: int | None  # row colors: VJPs
    passes: int  # batched passes of up to `chunk` directions
    chunk: int
    reason: str


def plan(
    forward_colors: int | None, reverse_colors: int | None, n: int, m: int, chunk: int | None = None
) -> SparsePlan:
    """The cost model with colors in place of n and m: c_fwd JVPs against c_rev VJPs, fewer wins,
    forward on a tie (it keeps no tape). A side whose colors were not computed is not chosen."""
    k = max(1, chunk or DEFAULT_CHUNK)
    if reverse_colors is None or (forward_colors is not None and forward_colors <= reverse_colors):
        mode, c = "forward", forward_colors
        why = f"{c} column colors: {c} JVPs in place of n = {n}"
        if reverse_colors is not None:
            why += f", against {reverse_colors} row colors (VJPs); forward also keeps no tape"
    else:
        mode, c = "reverse", reverse_colors
        why = f"{c} row colors: {c} VJPs in place of m = {m}"
        if forward_colors is not None:
            why += f", against {forward_colors} column colors (JVPs)"
    return SparsePlan(mode, n, m, forward_colors, reverse_colors, math.ceil(c / k) if c else 0, k, why)


def _prepared_input(x, shape: tuple, who: str) -> np.ndarray:
    """x for a Jacobian or Hessian prepared at `shape`, or an error saying to prepare again."""
    x = real_input(x, who)
    if x.shape != shape:
        raise ValueError(
            f"{who}: prepared for x of shape {shape}; got {x.shape}: prepare again for this shape"
        )
    return x


def _pattern(sparsity, shape: tuple, who: str) -> sp.csr_array:
    P = coloring.boolean(sparsity)
    if P.shape != shape:
        raise ValueError(
            f"{who}: sparsity has shape {P.shape}, but f needs {shape} (outputs x inputs, flattened)"
        )
    return P


def _chunks(S: np.ndarray, chunk: int) -> list:
    return [S[i : i + chunk] for i in range(0, S.shape[0], chunk)]


# -- the passes: module-level functions, so an executor can ship them to other processes -------
def forward_passes(f: Callable, x: np.ndarray, seeds: list) -> list:
    """J @ s for each block of tangents s (k, n): (k, m) blocks, one batched JVP each."""
    out = []
    for T in seeds:
        k = T.shape[0]
        ys, ts, _ = push_tangents(f, [x], [T.reshape((k, *x.shape))], batch=k)
        m = int(np.size(ys[0]))
        out.append(np.zeros((k, m)) if ts[0] is None else np.reshape(ts[0], (k, m)))
    return out


def reverse_passes(f: Callable, x: np.ndarray, seeds: list) -> list:
    """s @ J for each block of cotangents s (k, m): (k, n) blocks, one recording, one sweep each."""
    rec = record(f, (x,))
    (y,) = rec.out_leaves
    out = []
    for i, C in enumerate(seeds):
        k = C.shape[0]
        last = i == len(seeds) - 1
        # a color of several rows sums their cotangents: no hook may see that sum
        mixed = (
            "a compressed reverse pass of sparse_jacobian"
            if (np.count_nonzero(C, axis=1) > 1).any()
            else None
        )
        (g,) = rec.pullback([C.reshape((k, *np.shape(y)))], batch=k, retain_graph=not last, mixed=mixed)
        out.append(np.zeros((k, x.size)) if g is None else np.reshape(g, (k, x.size)))
    return out


def hvp_passes(f: Callable, x: np.ndarray, seeds: list) -> list:
    """H @ s for each block s (k, n): forward over reverse, one batched JVP of the gradient each."""
    return forward_passes(grad(f), x, seeds)


def _local_again(prep, x: np.ndarray, detect: Callable):
    """A pattern detected with local=True holds for the branches taken where it was detected:
    at another x, detect again, and keep the coloring if the new pattern lies inside the old
    (an entry of the old one outside the new then reads an exact zero), else recolor."""
    if prep.at is None or np.array_equal(x, prep.at):
        return prep
    P = detect(prep.f, x, local=True)
    if P.shape == prep.pattern.shape and not (P > prep.pattern).nnz:  # >: in P, not in the old
        return prep
    return prep.again(x, P)  # a branch with more entries, or another output size (x[x > 0])


class SparseJacobian:
    """f's Jacobian pattern, coloring and mode, prepared once: ``prep(x)`` is J at x as a scipy
    CSR matrix (m, n), from ``plan.passes`` compressed passes. Prepared with ``local=True``, the
    pattern holds for the branches taken at the x it was detected at (``at``): at any other x
    it is detected again, and the coloring redone when the new pattern is not inside the old."""

    def __init__(self, f, shape, pattern, colors, plan: SparsePlan, at=None, again=None):
        self.f, self.shape = f, shape
        self.pattern, self.colors, self.plan = pattern, colors, plan
        self.at, self.again = at, again

    @property
    def ncolors(self) -> int:
        return coloring.ncolors(self.colors)

    def __call__(self, x, executor=None) -> sp.csr_array:
        x = _prepared_input(x, self.shape, "sparse_jacobian")
        self = _local_again(self, x, jacobian_sparsity)
        S = _chunks(coloring.seeds(self.colors), self.plan.chunk)
        if self.plan.mode == "forward":
            with hooks_refused("sparse_jacobian (column colors: JVPs)", "pass mode='reverse', which runs it"):
                B = run_passes(forward_passes, self.f, x, S, executor)
            J = coloring.decompress_columns(
                self.pattern, self.colors, np.concatenate(B or [np.zeros((0, self.plan.m))]).T
            )
        else:
            B = run_passes(reverse_passes, self.f, x, S, executor)
            J = coloring.decompress_rows(
                self.pattern, self.colors, np.concatenate(B or [np.zeros((0, self.plan.n))])
            )
        return J.astype(rules.tangent_dtype(x), copy=False)


def prepare_sparse_jacobian(
    f: Callable,
    x,
    mode: str = "auto",
    sparsity=None,
    *,
    order: str = "best",
    local: bool = False,
    chunk: int | None = None,
) -> SparseJacobian:
    """Detect (unless ``sparsity`` is given: an (m, n) boolean matrix), color and plan J_f once,
    for x's shape; the result, called at any x of that shape, returns J there."""
    if mode not in MODES:
        raise ValueError(f'sparse_jacobian: mode must be "auto", "forward" or "reverse"; got {mode!r}')
    x = real_input(x, "sparse_jacobian")
    if sparsity is None:
        P = jacobian_sparsity(f, x, local=local)
    else:
        # f recorded, as the reverse passes run it, not run on plain arrays: an f that calls
        # Tensor methods (register_hook) runs here wherever it runs there
        m = int(np.size(record(f, (x,), who="sparse_jacobian").out))
        P = _pattern(sparsity, (m, x.size), "sparse_jacobian")
    return _colored_jacobian(f, x, P, mode, order, chunk, local and sparsity is None)


def _colored_jacobian(f, x, P, mode, order, chunk, local: bool) -> SparseJacobian:
    m, n = P.shape
    fwd = coloring.column_coloring(P, order) if mode in ("auto", "forward") else None
    rev = coloring.row_coloring(P, order) if mode in ("auto", "reverse") else None
    p = plan(*(None if c is None else coloring.ncolors(c) for c in (fwd, rev)), n, m, chunk)
    colors = fwd if p.mode == "forward" else rev
    if not local:
        return SparseJacobian(f, x.shape, P, colors, p)
    again = lambda x, P: _colored_jacobian(f, x, P, mode, order, chunk, True)  # noqa: E731
    return SparseJacobian(f, x.shape, P, colors, p, at=x.copy(), again=again)


def sparse_jacobian(
    f: Callable,
    x,
    mode: str = "auto",
    sparsity=None,
    *,
    order: str = "best",
    local: bool = False,
    chunk: int | None = None,
    executor=None,
) -> sp.csr_array:
    """J_f(x) as a scipy CSR matrix (m, n) over flattened x and f(x), from c compressed JVPs
    (column colors) or VJPs (row colors), whichever is fewer under mode="auto"."""
    return prepare_sparse_jacobian(f, x, mode, sparsity, order=order, local=local, chunk=chunk)(
        x, executor=executor
    )


class SparseHessian:
    """A scalar f's Hessian pattern and star coloring, prepared once: ``prep(x)`` is H at x as a
    symmetric scipy CSR matrix (n, n), from c HVPs (c = star colors). Prepared with
    ``local=True``, detected again at another x, as SparseJacobian is."""

    def __init__(self, f, shape, pattern, colors, chunk: int, at=None, again=None):
        self.f, self.shape, self.pattern, self.colors, self.chunk = f, shape, pattern, colors, chunk
        self.at, self.again = at, again

    @property
    def ncolors(self) -> int:
        return coloring.ncolors(self.colors)

    def __call__(self, x, executor=None) -> sp.csr_array:
        x = _prepared_input(x, self.shape, "sparse_hessian")
        self = _local_again(self, x, hessian_sparsity)
        S = _chunks(coloring.seeds(self.colors), self.chunk)
        B = run_passes(hvp_passes, self.f, x, S, executor)
        B = np.concatenate(B or [np.zeros((0, x.size))]).T
        return coloring.decompress_star(self.pattern, self.colors, B).astype(
            rules.tangent_dtype(x), copy=False
        )


def prepare_sparse_hessian(
    f: Callable, x, sparsity=None, *, order: str = "best", local: bool = False, chunk: int | None = None
) -> SparseHessian:
    """Detect (unless ``sparsity`` is given: a symmetric (n, n) boolean matrix) and star-color
    the Hessian of a scalar f once, for x's shape."""
    x = real_input(x, "sparse_hessian")
    if sparsity is None:
        P = hessian_sparsity(f, x, local=local)
    else:
        P = _pattern(sparsity, (x.size, x.size), "sparse_hessian")
        P = (P + P.T).tocsr()
    return _colored_hessian(f, x, P, order, chunk, local and sparsity is None)


def _colored_hessian(f, x, P, order, chunk, local: bool) -> SparseHessian:
    colors, k = coloring.star_coloring(P, order), max(1, chunk or DEFAULT_CHUNK)
    if not local:
        return SparseHessian(f, x.shape, P, colors, k)
    again = lambda x, P: _colored_hessian(f, x, P, order, chunk, True)  # noqa: E731
    return SparseHessian(f, x.shape, P, colors, k, at=x.copy(), again=again)


def sparse_hessian(
    f: Callable,
    x,
    sparsity=None,
    *,
    order: str = "best",
    local: bool = False,
    chunk: int | None = None,
    executor=None,
) -> sp.csr_array:
    """The Hessian of a scalar f at x as a symmetric scipy CSR matrix (n, n), from c HVPs
    (forward over reverse) with a star coloring of its pattern."""
    return prepare_sparse_hessian(f, x, sparsity, order=order, local=local, chunk=chunk)(x, executor=executor)
