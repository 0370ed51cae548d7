"""Measurements: median wall time, tracemalloc peak of one call, relative difference of Jacobians."""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable

import numpy as np


def median_seconds(fn: Callable, budget: float, max_repeats: int, min_repeats: int = 3):
    """(median seconds per call, fn's first result): one warm-up call, then repeats until
    `budget` seconds have passed (at least min_repeats, at most max_repeats calls).

    The garbage collector never runs inside a timed call; its young generations are
    collected once before the repeats (a full collection can take 0.1 s once torch is loaded).
    """
    result = fn()
    gc.collect(1)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_repeats or (len(times) < max_repeats and time.perf_counter() - start < budget):
        gc.disable()
        try:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        finally:
            gc.enable()
    return statistics.median(times), result


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
    """max |a - b| / max |b|: the difference relative to the Jacobian's scale (inf if shapes differ)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    scale = float(np.max(np.abs(b)))
    err = float(np.max(np.abs(a - b)))
    if not np.isfinite(err):
        return float("inf")
    return err / scale if scale > 0 else err


def consensus(jacobians: list[np.ndarray]) -> np.ndarray:
    """The elementwise median: one wrong Jacobian among three or more cannot move it."""
    return np.median(np.stack([np.asarray(J, float) for J in jacobians]), axis=0)
