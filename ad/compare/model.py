"""The cost model of the notes: what a full Jacobian costs in each mode, before running it.

A Jacobian of f: R^n -> R^m costs n JVPs forward or m VJPs reverse; one JVP or VJP costs a
small constant times f itself. Batching k directions per pass keeps the arithmetic and
divides the number of passes: ceil(n/k) forward, ceil(m/k) reverse (ad.functional.plan,
which also decides ties for forward, since forward keeps no tape). Finite differences
take 2n evaluations of f. docs/cost-model.md derives the formulas.

Seconds, not only winners: a calibration measured on the machine at the start of the run
gives each mode a fixed cost per call, its overhead per op of a pass (per instruction, for a
compiled tape) and the throughput of its arithmetic, and a cell's time is predicted as
call + passes x ops x overhead + flops / throughput.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

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
    """The plan for k directions per pass, and the arithmetic's forward/reverse ratio: n/m,
    the ratio of the passes, where f has no arithmetic to count (only moves or constants)."""
    ratio = cost.forward / cost.reverse if cost.reverse > 0 else n / max(m, 1)
    return Prediction(plan(n, m, k), ratio)


@dataclass(frozen=True)
class Calibration:
    """Per mode, as measured on this machine: seconds of overhead per op of one pass (per
    scalar instruction, for a compiled tape), flops per second of the arithmetic, and
    seconds per call whatever f is (docs/cost-model.md, "Seconds")."""

    overhead: dict[str, float]  # mode name -> seconds per op (or instruction) per pass
    throughput: dict[str, float]  # mode name -> multiply-adds per second
    probes: str = ""  # what was measured, for the report
    per_call: dict[str, float] = field(default_factory=dict)  # mode name -> seconds per call
    # compiled modes: multiply-adds per second while the sweep's buffer fits in the cache
    in_cache: dict[str, float] = field(default_factory=dict)
    cache_bytes: float = 0.0  # the largest CPU cache (0: unknown, the in-cache rates unused)

    def covers(self, mode: str) -> bool:
        return mode in self.overhead and mode in self.throughput


@dataclass(frozen=True)
class Estimate:
    """The model's seconds for one cell, and how much of it is overhead (per call and per op)."""

    seconds: float
    overhead: float  # seconds of it that are overhead: call + passes x ops x overhead per op

    @property
    def bound(self) -> str:
        """ "overhead" or "arithmetic": which term is the larger part of the prediction."""
        return "overhead" if self.overhead >= self.seconds - self.overhead else "arithmetic"


def seconds(
    cal: Calibration, mode: str, passes: int, ops: int, flops: float, buffer: float = 0.0
) -> Estimate | None:
    """call + passes x ops x overhead + flops / throughput: the time of a whole Jacobian, where
    ops are NumPy calls of f (scalar instructions of its tape, for a compiled mode) and flops
    the arithmetic of all its passes; a compiled sweep whose buffer (bytes) fits in the cache
    runs at its in-cache throughput (None if the mode was not calibrated)."""
    if not cal.covers(mode):
        return None
    over = cal.per_call.get(mode, 0.0) + passes * ops * cal.overhead[mode]
    fits = mode in cal.in_cache and 0 < buffer <= cal.cache_bytes
    return Estimate(over + flops / (cal.in_cache[mode] if fits else cal.throughput[mode]), over)


def calibrate_mode(
    t_trivial: float,
    probe_trivial: tuple[int, int],
    t_overhead: float,
    probe_overhead: tuple[int, int],
    t_arith: float,
    probe_arith: tuple[int, int, float],
) -> tuple[float, float, float]:
    """(per call, overhead per op, throughput) of one mode from its times on three probes.

    The trivial and overhead probes are few and many ops on a tiny vector (their arithmetic
    negligible): each time is call + passes x ops x overhead, two equations in the two
    unknowns. The arithmetic probe is a few ops with many flops: throughput = flops / (time -
    call - passes x ops x overhead). Noise is bounded rather than trusted: the overhead per op
    is at least a tenth of the overhead probe's time over its ops, the call cost at least 0,
    and the overhead part of the arithmetic probe at most 90% of its time, so that no probe
    can make a term negative or the throughput infinite.
    """
    times = (t_trivial, t_overhead, t_arith)
    if not all(math.isfinite(t) and t > 0 for t in times):
        raise ValueError(
            f"a probe took no measurable time (seconds {times}): the clock is too coarse for "
            "the probes, so this mode is left uncalibrated"
        )
    u_trivial = probe_trivial[0] * probe_trivial[1]
    u_over = probe_overhead[0] * probe_overhead[1]
    over = max((t_overhead - t_trivial) / (u_over - u_trivial), 0.1 * t_overhead / u_over)
    call = max(t_trivial - u_trivial * over, 0.0)
    return call, over, throughput(t_arith, call, over, probe_arith)


def throughput(t_arith: float, call: float, over: float, probe_arith: tuple[int, int, float]) -> float:
    """flops / (time - call - passes x ops x overhead) of an arithmetic probe, the overhead
    part held to at most 90% of its time."""
    passes, ops, flops = probe_arith
    return flops / max(t_arith - call - passes * ops * over, 0.1 * t_arith)


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
