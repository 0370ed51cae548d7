"""Measurements: warmed, repeated wall times with their spread; tracemalloc peak of one call;
relative difference of Jacobians.

A timing is `repeats` samples of `number` calls each, `number` grown until a sample lasts
at least `min_sample` seconds (so a 10 us Jacobian is timed over thousands of calls, not
one). Its spread is the interquartile range over the median; a timing whose spread exceeds
`noise` is taken again, up to `retries` times, and is marked unstable if it stays noisy.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Policy:
    """How a cell is timed."""

    min_sample: float = 0.02  # seconds one sample lasts at least (calls grouped to reach it)
    repeats: int = 5  # samples per timing
    noise: float = 0.1  # IQR / median above which a timing is taken again
    retries: int = 2  # times a noisy timing is taken again before it is marked unstable


@dataclass(frozen=True)
class Timing:
    """Seconds per call: the samples (each the mean of `number` calls) and their summary."""

    samples: tuple[float, ...]
    number: int  # calls per sample
    attempts: int = 1  # 1 + the times it was taken again because it was noisy
    noise: float = Policy.noise

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def quartiles(self) -> tuple[float, float]:
        q1, q3 = np.percentile(self.samples, [25, 75])
        return float(q1), float(q3)

    @property
    def spread(self) -> float:
        """IQR / median: 0.05 means the middle half of the samples lies within 5% of the median."""
        q1, q3 = self.quartiles
        return (q3 - q1) / self.median if self.median > 0 else 0.0

    @property
    def low(self) -> float:
        return min(self.samples)

    @property
    def high(self) -> float:
        return max(self.samples)

    @property
    def stable(self) -> bool:
        return self.spread <= self.noise


def _sample(fn: Callable, number: int, clock: Callable[[], float]) -> float:
    """Seconds per call over `number` calls, with the garbage collector held off."""
    gc.disable()
    try:
        t0 = clock()
        for _ in range(number):
            fn()
        return (clock() - t0) / number
    finally:
        gc.enable()


def calls_per_sample(fn: Callable, min_sample: float, clock: Callable[[], float] = time.perf_counter) -> int:
    """How many calls make one sample last min_sample: grown from one call until it does."""
    number = 1
    while True:
        per_call = _sample(fn, number, clock)
        if per_call * number >= min_sample:
            return number
        # aim 20% past the target, at least doubling, so this loop runs a few times at most
        number = max(2 * number, math.ceil(1.2 * min_sample / max(per_call, 1e-9)))


def timing(fn: Callable, policy: Policy = Policy(), clock: Callable[[], float] = time.perf_counter):
    """(Timing of fn, fn's first result): one warm-up call, then `repeats` samples, taken
    again while their spread exceeds policy.noise (up to policy.retries times); the
    attempt with the smallest spread is kept."""
    result = fn()
    gc.collect(1)  # young generations now, not inside a sample (a full one can take 0.1 s)
    number = calls_per_sample(fn, policy.min_sample, clock)
    best = None
    for attempt in range(1, policy.retries + 2):
        samples = tuple(_sample(fn, number, clock) for _ in range(policy.repeats))
        t = Timing(samples, number, attempt, policy.noise)
        best = t if best is None or t.spread < best.spread else dataclasses.replace(best, attempts=attempt)
        if best.stable:
            break
    return best, result


def peak_bytes(fn: Callable):
    """(peak bytes, fn's result): the most allocated at once (NumPy buffers and Python
    objects, as tracemalloc sees them) during one call of fn, above the level it started at."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before, result


def rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |b| over the finite entries: the difference relative to the
    Jacobian's scale. A NaN or an infinity counts as equal to the same in the other (every
    mode gives NaN where f is NaN) and as an infinite difference to anything else; shapes
    that differ are an infinite difference too."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        return float("inf")
    finite = np.isfinite(a) & np.isfinite(b)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    if not np.all(finite | same):
        return float("inf")
    if not finite.any():
        return 0.0
    scale = float(np.max(np.abs(b[finite])))
    err = float(np.max(np.abs(a[finite] - b[finite])))
    return err / scale if scale > 0 else err


def consensus(jacobians: list[np.ndarray]) -> np.ndarray:
    """The elementwise median: one wrong Jacobian among three or more cannot move it."""
    return np.median(np.stack([np.asarray(J, float) for J in jacobians]), axis=0)


def overlap(a: Timing, b: Timing) -> bool:
    """Whether the samples of a and b interleave (their ranges overlap): then which is
    faster is not settled by the samples."""
    return a.low <= b.high and b.low <= a.high
