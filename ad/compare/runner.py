"""The runner: every mode on every problem (timed, memory-measured, checked against the
others), the scaling sweeps in n and m, and reverse-mode memory against depth."""

from __future__ import annotations

import datetime
import math
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

import ad
from ad.compare import measure, model, peers
from ad.compare.modes import EXACT_TOL, MODES, Mode, NotApplicable, as_matrix
from ad.compare.problems import Problem, tanh_affine
from ad.forward.api import DEFAULT_CHUNK
from ad.reverse.checkpoint import STRATEGIES


@dataclass(frozen=True)
class Config:
    """How long to time, and the sizes of the sweeps."""

    chunk: int = DEFAULT_CHUNK  # k, directions per batched pass
    budget: float = 0.5  # seconds of repeats per timing (after one warm-up call)
    max_repeats: int = 25
    min_repeats: int = 3
    sweep_fixed: int = 256  # m in the sweep over n, n in the sweep over m
    sweep_sizes: tuple[int, ...] = (4, 16, 64, 256, 1024)
    depth_width: int = 512  # D, the width of the chain in the memory sweep
    depths: tuple[int, ...] = (2, 4, 8, 16, 32, 64, 128)
    quick: bool = False


QUICK = Config(
    budget=0.01,
    max_repeats=3,
    min_repeats=1,
    sweep_fixed=32,
    sweep_sizes=(4, 32, 256),
    depth_width=128,
    depths=(2, 8, 32),
    quick=True,
)


@dataclass
class Row:
    """One mode of ad, or a peer's counterpart, on one problem."""

    problem: str
    n: int
    m: int
    mode: str
    library: str  # "ad" or the peer's name
    passes: int | None = None  # the model's passes over f
    flops: float | None = None  # the model's multiply-adds for the whole Jacobian
    seconds: float | None = None  # median wall time of the whole Jacobian
    peak: int | None = None  # tracemalloc peak of one pass, bytes
    rel_diff: float | None = None  # against the consensus of ad's exact modes
    tol: float = EXACT_TOL
    note: str = ""  # why a measurement is missing

    @property
    def agrees(self) -> bool | None:
        """True, False, or None when the mode did not produce a Jacobian to check."""
        if self.rel_diff is None:
            return None if self.library != "ad" or self.note.startswith("n/a") else False
        return self.rel_diff <= self.tol


@dataclass
class ProblemResult:
    problem: Problem
    prediction: model.Prediction
    rows: list[Row]

    def fastest(self) -> Row | None:
        timed = [r for r in self.rows if r.library == "ad" and r.seconds is not None]
        return min(timed, key=lambda r: r.seconds) if timed else None

    def time_ratio(self, forward: str, reverse: str) -> float | None:
        """Time of mode `forward` / time of mode `reverse` (> 1: reverse won), if both ran."""
        t = {r.mode: r.seconds for r in self.rows if r.library == "ad" and r.seconds is not None}
        return t[forward] / t[reverse] if forward in t and reverse in t else None


@dataclass
class SweepPoint:
    axis: str  # "n" (m fixed) or "m" (n fixed)
    n: int
    m: int
    mode: str
    seconds: float | None
    rel_diff: float | None
    tol: float
    note: str = ""  # the error, if the mode raised


@dataclass
class DepthPoint:
    strategy: str  # a checkpoint strategy, or "forward" (one JVP)
    depth: int
    width: int
    peak: int
    rel_diff: float  # gradient against the un-checkpointed one


@dataclass
class Results:
    config: Config
    modes: tuple[Mode, ...]
    problems: list[ProblemResult]
    sweeps: list[SweepPoint] = field(default_factory=list)
    depths: list[DepthPoint] = field(default_factory=list)
    peers: list[str] = field(default_factory=list)
    peers_missing: dict[str, str] = field(default_factory=dict)
    machine: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def failures(self) -> list[str]:
        """One line per disagreement or error; empty when every mode agrees."""
        out = []
        for pr in self.problems:
            for r in pr.rows:
                if r.agrees is False:
                    who = r.mode if r.library == "ad" else f"{r.library} ({r.mode})"
                    why = f"rel diff {r.rel_diff:.2e} > {r.tol:g}" if r.rel_diff is not None else r.note
                    out.append(f"{pr.problem.name}: {who}: {why}")
        for s in self.sweeps:
            if s.note.startswith("n/a"):
                continue
            if s.rel_diff is None or s.rel_diff > s.tol:
                why = s.note if s.rel_diff is None else f"rel diff {s.rel_diff:.2e} > {s.tol:g}"
                out.append(f"sweep tanh(A x) n={s.n} m={s.m}: {s.mode}: {why}")
        for d in self.depths:
            if d.rel_diff > EXACT_TOL:
                out.append(f"depth {d.depth}: {d.strategy}: gradient rel diff {d.rel_diff:.2e}")
        return out


class Progress:
    """`[ 12/140   8.1s] label` lines on stderr, one per measurement."""

    def __init__(self, total: int, enabled: bool = True, stream=None):
        self.total, self.done, self.enabled = total, 0, enabled
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()

    def step(self, label: str) -> None:
        self.done += 1
        if self.enabled:
            w = len(str(self.total))
            t = time.perf_counter() - self.start
            print(f"[{self.done:>{w}}/{self.total} {t:6.1f}s] {label}", file=self.stream, flush=True)


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu}, {os.cpu_count()} logical CPUs",
        "system": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def compare(
    problems: Sequence[Problem],
    modes: Sequence[Mode] = MODES,
    config: Config = Config(),
    peer_libs: Sequence[str] = (),
    sweeps: bool = True,
    progress: bool = True,
) -> Results:
    """Run every mode (and peer) on every problem, then the sweeps; nothing is printed but progress."""
    t0 = time.perf_counter()
    found, missing = peers.available(peer_libs) if peer_libs else ([], {})
    n_sweep = 2 * len(config.sweep_sizes) * len(modes) + len(config.depths) * (len(STRATEGIES) + 1)
    total = len(problems) * len(modes) * (1 + len(found)) + (n_sweep if sweeps else 0)
    bar = Progress(total, progress)
    res = Results(config, tuple(modes), [], peers=found, peers_missing=missing)
    res.machine = machine()
    for lib in found:
        res.machine[lib] = peers.version(lib)
    for p in problems:
        res.problems.append(run_problem(p, modes, config, found, bar))
    if sweeps:
        res.sweeps = run_sweeps(modes, config, bar)
        res.depths = run_depths(config, bar)
    res.seconds = time.perf_counter() - t0
    return res


def _time(fn, config: Config):
    return measure.median_seconds(fn, config.budget, config.max_repeats, config.min_repeats)


def _agreement(jacobians: dict[str, np.ndarray], modes: Sequence[Mode], shape) -> np.ndarray | None:
    """The reference: elementwise median of the exact modes' Jacobians of the right shape."""
    exact = [jacobians[m.name] for m in modes if m.exact and m.name in jacobians]
    ok = [J for J in exact if J.shape == shape] or [J for J in jacobians.values() if J.shape == shape]
    return measure.consensus(ok) if ok else None


def run_problem(p: Problem, modes: Sequence[Mode], config: Config, peer_libs=(), bar=None) -> ProblemResult:
    f, x, k = p.f(), p.x, config.chunk
    bar = bar or Progress(0, enabled=False)
    rows, jacobians = [], {}
    for mode in modes:
        bar.step(f"{p.name}: {mode.name}")
        row = Row(p.name, p.n, p.m, mode.name, "ad", tol=mode.tol)
        row.passes = model.passes(mode.family, p.n, p.m, mode.directions(k))
        row.flops = p.cost.flops(mode.family)
        try:
            row.seconds, J = _time(lambda mode=mode: as_matrix(mode.jacobian(f, x, k), p.n), config)
            row.peak, _ = measure.peak_bytes(lambda mode=mode: mode.one_pass(f, x, k))
            jacobians[mode.name] = J
        except NotApplicable as e:
            row.note = f"n/a: {e}"
        except Exception as e:  # a broken mode is reported in the table, not raised
            row.note = f"error: {type(e).__name__}: {e}"
        rows.append(row)
    ref = _agreement(jacobians, modes, (p.m, p.n))
    for row in rows:
        if row.mode in jacobians and ref is not None:
            row.rel_diff = measure.rel_diff(jacobians[row.mode], ref)
    for lib in peer_libs:
        for mode in modes:
            bar.step(f"{p.name}: {lib} {mode.name}")
            rows.append(_peer_row(lib, mode, p, config, ref))
    return ProblemResult(p, model.predict(p.cost, p.n, p.m, k), rows)


def _peer_row(lib: str, mode: Mode, p: Problem, config: Config, ref) -> Row:
    row = Row(p.name, p.n, p.m, mode.name, lib, tol=EXACT_TOL)
    try:
        run = peers.prepare(lib, mode.name, p, config.chunk)
        if run is None:
            row.note = "-"
            return row
        row.seconds, J = _time(run, config)
    except Exception as e:  # the peer lacks a rule (e.g. autograd's JVP of solve)
        row.note = f"n/a: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        return row
    if ref is not None:
        row.rel_diff = measure.rel_diff(J, ref)
    return row


def run_sweeps(modes: Sequence[Mode], config: Config, bar=None) -> list[SweepPoint]:
    """Every mode on tanh(A x), over n at m fixed, then over m at n fixed."""
    bar = bar or Progress(0, enabled=False)
    points, c = [], config.sweep_fixed
    for axis in ("n", "m"):
        for size in config.sweep_sizes:
            n, m = (size, c) if axis == "n" else (c, size)
            p = tanh_affine(n, m)
            f, jacobians, here = p.f(), {}, []
            for mode in modes:
                bar.step(f"sweep over {axis}: n={n} m={m}: {mode.name}")
                point = SweepPoint(axis, n, m, mode.name, None, None, mode.tol)
                try:
                    point.seconds, jacobians[mode.name] = _time(
                        lambda mode=mode: as_matrix(mode.jacobian(f, p.x, config.chunk), n), config
                    )
                except NotApplicable as e:
                    point.note = f"n/a: {e}"
                except Exception as e:
                    point.note = f"error: {type(e).__name__}: {e}"
                here.append(point)
            ref = _agreement(jacobians, modes, (m, n))
            for point in here:
                if point.mode in jacobians and ref is not None:
                    point.rel_diff = measure.rel_diff(jacobians[point.mode], ref)
            points += here
    return points


def run_depths(config: Config, bar=None) -> list[DepthPoint]:
    """Peak memory of one gradient of a chain of L maps h -> tanh(W h) of R^D, by checkpoint
    strategy, and of one JVP (forward mode keeps no tape)."""
    bar = bar or Progress(0, enabled=False)
    D = config.depth_width
    rng = np.random.default_rng(7)
    W = rng.standard_normal((D, D)) / math.sqrt(D)
    x, v = rng.uniform(-1, 1, D), rng.standard_normal(D)
    layer = lambda h: np.tanh(W @ h)  # noqa: E731
    points = []
    for L in config.depths:
        plain = None
        for strategy in STRATEGIES:
            bar.step(f"memory at depth {L}: reverse, checkpoint {strategy!r}")
            net = ad.checkpoint_sequential([layer] * L, strategy)
            peak, g = measure.peak_bytes(lambda net=net: ad.grad(lambda x: np.sum(net(x)))(x))
            plain = g if plain is None else plain
            points.append(DepthPoint(strategy, L, D, peak, measure.rel_diff(g, plain)))
        bar.step(f"memory at depth {L}: forward, one JVP")
        net = ad.checkpoint_sequential([layer] * L, "all")
        peak, (_, t) = measure.peak_bytes(lambda net=net: ad.jvp(lambda x: np.sum(net(x)), (x,), (v,)))
        points.append(DepthPoint("forward", L, D, peak, measure.rel_diff(t, plain @ v)))
    return points
