"""The cost model of the notes: what a full Jacobian costs in each mode, before running it.

A Jacobian of f: R^n -> R^m costs n JVPs forward or m VJPs reverse; one JVP or VJP costs a
small constant times f itself. Batching k directions per pass keeps the arithmetic and
divides the number of passes: ceil(n/k) forward, ceil(m/k) reverse (ad.functional.plan,
which also decides ties for forward, since forward keeps no tape). Finite differences
take 2n evaluations of f. docs/cost-model.md derives the formulas.

Seconds, not only winners: a calibration measured on the machine at the start of the run
gives each mode its overhead per op of a pass and the throughput of its arithmetic, and a
cell's time is predicted as passes x (ops x overhead + flops per pass / throughput).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ad.functional import Plan, plan


@dataclass(frozen=True)
class Cost:
    """Multiply-adds of a full Jacobian in each family of modes."""

    forward: float
    reverse: float
    finite_differences: float
    formula: str  # how the numbers were obtained, for the report

    def flops(self, family: str) -> float:
        return {
            "forward": self.forward,
            "reverse": self.reverse,
            "finite differences": self.finite_differences,
        }[family]


def chain(K: int, D: int, M: int) -> Cost:
    """K maps R^D -> R^D then R^D -> R^M (dense layers), the notes' formulas.

    Forward: D JVPs, each K D^2 + M D: time O(M D^2 + K D^3), memory O(max(M, D)).
    Reverse: M VJPs, each M D + K D^2: time O(M^2 D + K M D^2), memory O(K D + M).
    """
    f = K * D * D + M * D
    return Cost(
        forward=M * D**2 + K * D**3,
        reverse=M**2 * D + K * M * D**2,
        finite_differences=2 * D * f,
        formula=f"chain K={K} D={D} M={M}: fwd M D^2 + K D^3, rev M^2 D + K M D^2",
    )


def generic(n: int, m: int, f_cost: float) -> Cost:
    """f: R^n -> R^m costing f_cost multiply-adds (one evaluation).

    Forward n * f_cost, reverse m * f_cost, finite differences 2 n * f_cost.
    """
    return Cost(
        forward=n * f_cost,
        reverse=m * f_cost,
        finite_differences=2 * n * f_cost,
        formula=f"n={n} m={m}, f = {f_cost:,.0f} flops: fwd n f, rev m f",
    )


def passes(family: str, n: int, m: int, k: int) -> int:
    """Passes over f: JVP passes, VJP sweeps (after one recording) or evaluations."""
    if family == "forward":
        return math.ceil(n / k)
    if family == "reverse":
        return math.ceil(m / k)
    return 2 * n


@dataclass(frozen=True)
class Prediction:
    """The model's verdict on one problem: which family should win, by how much, in how many passes."""

    plan: Plan  # ad.functional.plan(n, m, k): the batched mode ad.jacobian(mode="auto") runs
    ratio: float  # predicted forward time / reverse time (flops), > 1 when reverse should win


def predict(cost: Cost, n: int, m: int, k: int) -> Prediction:
    """The plan for k directions per pass, and the arithmetic's forward/reverse ratio."""
    return Prediction(plan(n, m, k), cost.forward / cost.reverse)


@dataclass(frozen=True)
class Calibration:
    """Per mode, as measured on this machine: seconds of overhead per op of one pass, and
    flops per second of the arithmetic (docs/cost-model.md, "Seconds")."""

    overhead: dict[str, float]  # mode name -> seconds per op per pass
    throughput: dict[str, float]  # mode name -> multiply-adds per second
    probes: str = ""  # what was measured, for the report

    def covers(self, mode: str) -> bool:
        return mode in self.overhead and mode in self.throughput


@dataclass(frozen=True)
class Estimate:
    """The model's seconds for one cell, and how much of it is per-op overhead."""

    seconds: float
    overhead: float  # seconds of it that are overhead: passes x ops x overhead per op

    @property
    def bound(self) -> str:
        """ "overhead" or "arithmetic": which term is the larger part of the prediction."""
        return "overhead" if self.overhead >= self.seconds - self.overhead else "arithmetic"


def seconds(cal: Calibration, mode: str, passes: int, ops: int, flops: float) -> Estimate | None:
    """passes x ops x overhead + flops / throughput: the time of a whole Jacobian, where flops
    are the arithmetic of all its passes (None if the mode was not calibrated)."""
    if not cal.covers(mode):
        return None
    over = passes * ops * cal.overhead[mode]
    return Estimate(over + flops / cal.throughput[mode], over)


def calibrate_mode(
    t_overhead: float, probe_overhead: tuple[int, int], t_arith: float, probe_arith: tuple[int, int, float]
) -> tuple[float, float]:
    """(overhead per op, throughput) of one mode from its times on the two probes.

    The overhead probe is many ops on a tiny vector (its arithmetic negligible): overhead =
    time / (passes x ops). The arithmetic probe is a few ops with many flops: throughput =
    flops / (time - passes x ops x overhead), the overhead part held to at most 90% of the
    time so that a noisy probe cannot make the throughput infinite.
    """
    passes, ops = probe_overhead
    over = t_overhead / (passes * ops)
    a_passes, a_ops, flops = probe_arith
    arith = max(t_arith - a_passes * a_ops * over, 0.1 * t_arith)
    return over, flops / arith


# Exponents of the notes' formulas for tanh(A x), A in R^{m x n} (a chain with K = 0):
# forward m n^2, reverse m^2 n, finite differences 2 m n^2. The report draws these on the
# log-log plots of time against n (m fixed) and against m (n fixed).
SLOPES = {
    "n": {"forward": 2.0, "reverse": 1.0, "finite differences": 2.0},
    "m": {"forward": 1.0, "reverse": 2.0, "finite differences": 1.0},
}
# Reverse-mode memory against depth L at fixed width, by checkpoint strategy (and forward).
MEMORY_GROWTH = {
    "all": "L",
    "sqrt": "sqrt(L)",
    "recursive": "log(L)",
    "forward": "1",
}
