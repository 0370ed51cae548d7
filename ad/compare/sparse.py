"""Sparse Jacobians in the comparison: problems whose Jacobian is sparse, dense forward and reverse
against sparse forward and reverse (c colors in place of n or m), and a sweep over n at fixed
bandwidth, where the dense Jacobian grows like n^2 and the sparse one like n.

The sparse modes are timed prepared (`ad.prepare_sparse_jacobian`: pattern and coloring found
once, as a user reusing them at many x would); detection's own time is a column of its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import ad
from ad.compare import measure
from ad.compare.modes import EXACT_TOL


@dataclass(frozen=True)
class SparseProblem:
    """f: R^n -> R^n at x0, with a sparse Jacobian."""

    name: str
    about: str
    f: Callable
    x0: np.ndarray


def reaction_diffusion(n: int = 400) -> SparseProblem:
    """The residual of u_t = D u_xx + r u (1 - u) on n points, Dirichlet ends: tridiagonal J."""
    h, D, r = 1.0 / (n + 1), 0.1, 1.0

    def f(u):
        inner = D * (u[2:] - 2.0 * u[1:-1] + u[:-2]) / h**2 + r * u[1:-1] * (1.0 - u[1:-1])
        return np.concatenate([u[:1], inner, u[-1:]])

    x = np.sin(np.pi * np.linspace(0.0, 1.0, n)) * 0.5 + 0.25
    return SparseProblem("reaction-diffusion", f"1-D reaction-diffusion residual, n = {n}: tridiagonal", f, x)


def stencil(n: int = 400) -> SparseProblem:
    """A nonlinear 2-D five-point Laplacian on a k x k grid (n = k^2, zero outside), u^3 added."""
    k = max(2, math.isqrt(n))

    def f(z):
        u = np.reshape(z, (k, k))
        zr, zc = np.zeros((1, k)), np.zeros((k, 1))
        up = np.concatenate([zr, u[:-1]], axis=0)
        down = np.concatenate([u[1:], zr], axis=0)
        left = np.concatenate([zc, u[:, :-1]], axis=1)
        right = np.concatenate([u[:, 1:], zc], axis=1)
        return np.ravel(4.0 * u - up - down - left - right + u**3)

    x = np.random.default_rng(8).uniform(0.0, 1.0, k * k)
    return SparseProblem("stencil", f"2-D five-point stencil + u^3 on a {k}x{k} grid, n = {k * k}", f, x)


def arrowhead(n: int = 400) -> SparseProblem:
    """y_i = x_i^2 + x_0 (i > 0), y_0 = sum(x): a dense first row and column, and the diagonal."""

    def f(x):
        return np.concatenate([np.sum(x, keepdims=True), x[1:] ** 2 + x[0]])

    x = np.random.default_rng(9).uniform(-1.0, 1.0, n)
    return SparseProblem("arrowhead", f"arrowhead (dense first row and column), n = {n}", f, x)


PROBLEMS = {"reaction-diffusion": reaction_diffusion, "stencil": stencil, "arrowhead": arrowhead}


def _dense(jac):
    return lambda f: lambda x: jac(f)(x)


def _sparse(mode: str):
    return lambda f, x: ad.prepare_sparse_jacobian(f, x, mode)


# name -> (f, x) -> (x -> J): a dense array, or a scipy.sparse matrix from the sparse modes,
# which prepare once, here. The timing stops at the sparse matrix: its dense copy, made for the
# agreement check alone, costs more than the sparse Jacobian itself at large n
MODES: dict[str, Callable] = {
    "dense forward": lambda f, x: ad.jacfwd(f),
    "dense reverse": lambda f, x: ad.jacrev(f),
    "sparse forward": _sparse("forward"),
    "sparse reverse": _sparse("reverse"),
}


@dataclass
class SparseRow:
    problem: str
    n: int
    mode: str
    passes: int  # JVPs or VJPs: n or m dense, the colors sparse
    timing: measure.Timing | None = None
    rel_diff: float | None = None
    note: str = ""

    @property
    def seconds(self) -> float | None:
        return None if self.timing is None else self.timing.median


@dataclass
class SparseResults:
    rows: list[SparseRow] = field(default_factory=list)  # every mode on every problem
    sweep: list[SparseRow] = field(default_factory=list)  # reaction-diffusion over n
    detection: dict[str, float] = field(default_factory=dict)  # problem -> seconds to detect
    colors: dict[str, tuple[int, int]] = field(default_factory=dict)  # problem -> (column, row)

    def failures(self) -> list[str]:
        return [
            f"sparse {r.problem} n={r.n}: {r.mode}: "
            + (r.note if r.rel_diff is None else f"rel diff {r.rel_diff:.2e} > {EXACT_TOL:g}")
            for r in self.rows + self.sweep
            if not r.note.startswith("n/a") and (r.rel_diff is None or r.rel_diff > EXACT_TOL)
        ]


def _row(p: SparseProblem, mode: str, policy, colors, ref) -> tuple[SparseRow, np.ndarray | None]:
    """One mode timed on p, checked against ref."""
    n = p.x0.size
    passes = {
        "dense forward": n,
        "dense reverse": n,
        "sparse forward": colors[0],
        "sparse reverse": colors[1],
    }
    row = SparseRow(p.name, n, mode, passes[mode])
    try:
        jac = MODES[mode](p.f, p.x0)
        row.timing, J = measure.timing(lambda: jac(p.x0), policy)
    except Exception as e:  # reported in the table, not raised
        row.note = f"error: {type(e).__name__}: {e}"
        return row, None
    if hasattr(J, "toarray"):
        J = J.toarray()
    if ref is not None:
        row.rel_diff = measure.rel_diff(J, ref)
    return row, J


def run(policy: measure.Policy, size: int, sweep: tuple[int, ...], dense_upto: int, bar=None):
    """Every mode on every problem at n = size, and the sweep of reaction-diffusion over
    `sweep` (the dense modes up to n = dense_upto: they grow like n^2)."""
    res = SparseResults()
    for name, make in PROBLEMS.items():
        p = make(size)
        t, P = measure.timing(lambda p=p: ad.jacobian_sparsity(p.f, p.x0), policy)
        res.detection[name] = t.median
        res.colors[name] = (
            int(ad.sparse.column_coloring(P).max()) + 1,
            int(ad.sparse.row_coloring(P).max()) + 1,
        )
        ref = ad.jacfwd(p.f)(p.x0)
        for mode in MODES:
            if bar:
                bar.step(f"sparse {name}: {mode}")
            res.rows.append(_row(p, mode, policy, res.colors[name], ref)[0])
    for n in sweep:
        p = reaction_diffusion(n)
        ref = ad.sparse_jacobian(p.f, p.x0, "reverse").toarray()  # checks the others: cheap at any n
        for mode in ("sparse forward", "dense forward", "dense reverse"):
            if bar:
                bar.step(f"sparse sweep n={n}: {mode}")
            if mode.startswith("dense") and n > dense_upto:
                res.sweep.append(
                    SparseRow(p.name, n, mode, n, note=f"n/a: dense timed up to n = {dense_upto}")
                )
                continue
            res.sweep.append(_row(p, mode, policy, (3, 3), ref)[0])
    return res


def steps(sweep) -> int:
    """Progress steps `run` takes."""
    return len(PROBLEMS) * len(MODES) + 3 * len(sweep)


def _seconds(r: SparseRow) -> str:
    return f"{r.seconds:.3g}" if r.seconds is not None else r.note


def markdown(res: SparseResults) -> str:
    """The report's section on sparse Jacobians."""
    md = ["## Sparse Jacobians", ""]
    md += [
        "Dense: n JVPs (forward) or m VJPs (reverse). Sparse: c compressed passes, c the colors of "
        "the columns (forward) or rows (reverse) of the detected pattern; timed prepared "
        "(pattern and coloring found once: `ad.prepare_sparse_jacobian`). docs/sparse.md.",
        "",
        "| problem | n | colors (columns, rows) | detection s | "
        + " | ".join(f"{m} s" for m in MODES)
        + " |",
        "|" + "---|" * (4 + len(MODES)),
    ]
    for name in PROBLEMS:
        rows = {r.mode: r for r in res.rows if r.problem == name}
        n = next(iter(rows.values())).n
        c, r = res.colors[name]
        cells = [f"{_seconds(rows[m])} ({rows[m].passes})" for m in MODES]
        md.append(f"| {name} | {n} | {c}, {r} | {res.detection[name]:.3g} | " + " | ".join(cells) + " |")
    md += ["", "In parentheses: passes (JVPs or VJPs).", ""]
    if res.sweep:
        sizes = sorted({r.n for r in res.sweep})
        md += ["Reaction-diffusion over n (3 colors at every n): seconds per Jacobian.", ""]
        md += ["| mode | " + " | ".join(f"n={n}" for n in sizes) + " |", "|---|" + "---|" * len(sizes)]
        for mode in ("sparse forward", "dense forward", "dense reverse"):
            by_n = {r.n: r for r in res.sweep if r.mode == mode}
            md.append(
                f"| {mode} | " + " | ".join(_seconds(by_n[n]) if n in by_n else "" for n in sizes) + " |"
            )
        md.append("")
    fails = res.failures()
    md += ["**Disagreements:**", ""] + [f"- {f}" for f in fails] if fails else ["Sparse and dense agree."]
    return "\n".join(md) + "\n"


def records(res: SparseResults) -> list[dict]:
    """sparse.csv: one record per timed cell."""
    return [
        {
            "section": "problems" if r in res.rows else "sweep",
            "problem": r.problem,
            "n": r.n,
            "mode": r.mode,
            "passes": r.passes,
            "seconds": r.seconds,
            "rel_diff": r.rel_diff,
            "note": r.note,
        }
        for r in res.rows + res.sweep
    ]
