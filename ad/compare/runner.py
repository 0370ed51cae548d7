"""The runner: every mode on every problem (timed with its spread, memory-measured, checked
against the others, predicted by the calibrated model), the scaling sweeps in n and m, and
reverse-mode memory against depth, with threads pinned alike for ad and every peer."""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

import ad
from ad.compare import calibrate, environment, measure, model, sparse
from ad.compare import peers as peer_lib
from ad.compare.modes import (
    DEFAULT_CHUNK,
    EXACT_TOL,
    FD_TOL,
    MODES,
    Mode,
    NotApplicable,
    as_matrix,
    complex_step_jacobian,
    fd_floor,
)
from ad.compare.problems import Problem, tanh_affine, user
from ad.compare.progress import Progress
from ad.transform import check_chunk

STRATEGIES = tuple(s for s in model.MEMORY_GROWTH if s != "forward")  # ad.checkpoint_sequential's


@dataclass(frozen=True)
class Config:
    """How to time, the threads, and the sizes of the probes and sweeps."""

    chunk: int = DEFAULT_CHUNK  # k, directions per batched pass
    policy: measure.Policy = measure.Policy()
    threads: int = 1  # BLAS/OpenMP threads, for ad and every peer alike
    probe_size: int = 256  # n = m of the model's arithmetic probe
    sweep_fixed: int = 256  # m in the sweep over n, n in the sweep over m
    sweep_sizes: tuple[int, ...] = (4, 16, 64, 256, 1024)
    depth_width: int = 512  # D, the width of the chain in the memory sweep
    depths: tuple[int, ...] = (2, 4, 8, 16, 32, 64, 128)
    sparse_size: int = 400  # n of the sparse problems
    sparse_sweep: tuple[int, ...] = (250, 1000, 4000)  # n of the sparse sweep
    sparse_dense_upto: int = 1000  # the dense modes in that sweep: they grow like n^2
    quick: bool = False


QUICK = Config(
    policy=measure.Policy(min_sample=0.002, repeats=5, retries=1),
    probe_size=64,
    sweep_fixed=32,
    sweep_sizes=(4, 32, 256),
    depth_width=128,
    depths=(2, 8, 32),
    sparse_size=100,
    sparse_sweep=(100, 400, 1600),
    sparse_dense_upto=400,
    quick=True,
)


# A difference within this many times a mode's floor (what it cannot resolve at the point) is
# "unresolved": FD_TOL assumes f's values and derivatives of one scale, which a point where the
# Jacobian is far below f's rounding breaks
FLOOR_MARGIN = 10.0
# The largest distance of the exact modes' consensus from the complex step at which the complex
# step is taken as the truth that sets their floor (runner._rounding_floor)
TRUSTED = 1e-2


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
    timing: measure.Timing | None = None  # the whole Jacobian, per call
    predicted: model.Estimate | None = None  # the calibrated model's seconds
    ops: int | None = None  # what a pass pays overhead for: NumPy calls, or a compiled tape's instructions
    compiled: bool = False  # a replay of a compiled tape (its ops are instructions)
    peak: int | None = None  # tracemalloc peak of one whole Jacobian, bytes
    rel_diff: float | None = None  # against the consensus of ad's exact modes
    tol: float = EXACT_TOL
    note: str = ""  # why a measurement is missing
    # the rel diff this mode cannot resolve at this point (finite differences: modes.fd_floor)
    floor: float = 0.0

    @property
    def unresolved(self) -> bool:
        """A difference above tol, but within what the mode can resolve here (FLOOR_MARGIN
        times its floor): neither an agreement nor a disagreement."""
        return self.rel_diff is not None and self.tol < self.rel_diff <= FLOOR_MARGIN * self.floor

    @property
    def seconds(self) -> float | None:
        return None if self.timing is None else self.timing.median

    @property
    def stable(self) -> bool | None:
        return None if self.timing is None else self.timing.stable

    @property
    def agrees(self) -> bool | None:
        """True, False, or None when the mode did not produce a Jacobian to check."""
        if self.rel_diff is None:
            return None if self.library != "ad" or self.note.startswith("n/a") else False
        if self.unresolved:
            return None
        return self.rel_diff <= self.tol


@dataclass
class ProblemResult:
    problem: Problem
    prediction: model.Prediction
    rows: list[Row]

    def timed(self) -> list[Row]:
        return sorted((r for r in self.rows if r.library == "ad" and r.timing), key=lambda r: r.seconds)

    def fastest(self) -> Row | None:
        timed = self.timed()
        return timed[0] if timed else None

    def row(self, mode: str) -> Row | None:
        return next((r for r in self.rows if r.library == "ad" and r.mode == mode and r.timing), None)

    def time_ratio(self, forward: str, reverse: str) -> float | None:
        """Time of mode `forward` / time of mode `reverse` (> 1: reverse won), if both ran."""
        a, b = self.row(forward), self.row(reverse)
        return a.seconds / b.seconds if a and b else None


def settled(a: Row, b: Row) -> bool:
    """Whether the order of a and b does not rest on noise: both timings stable, or their
    samples do not even overlap."""
    return (a.stable and b.stable) or not measure.overlap(a.timing, b.timing)


@dataclass
class SweepPoint:
    axis: str  # "n" (m fixed) or "m" (n fixed)
    n: int
    m: int
    mode: str
    timing: measure.Timing | None
    predicted: model.Estimate | None
    rel_diff: float | None
    tol: float
    note: str = ""  # the error, or why the mode does not apply

    @property
    def seconds(self) -> float | None:
        return None if self.timing is None else self.timing.median


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
    sparse: sparse.SparseResults | None = None  # the sparse Jacobians section
    peers: list[str] = field(default_factory=list)
    peers_missing: dict[str, str] = field(default_factory=dict)
    machine: dict[str, str] = field(default_factory=dict)
    calibration: model.Calibration | None = None
    load: tuple[float | None, float | None] = (None, None)  # 1-minute load average at start, end
    seconds: float = 0.0

    @property
    def rows(self) -> list[Row]:
        """Every row of the table: each mode (and peer) on each problem."""
        return [r for pr in self.problems for r in pr.rows]

    def to_markdown(self) -> str:
        """The report (report.md) as Markdown."""
        from ad.compare import report

        return report.markdown(self)

    def to_csv(self, path) -> None:
        """The table, one row per mode and problem (table.csv)."""
        from ad.compare import report

        report.table_csv(self, path)

    def write(self, out, command: str = "ad.compare.compare") -> list[str]:
        """The report folder: report.md, the CSV files and the figures; returns the file names."""
        from ad.compare import plots, report

        figures = plots.draw(self, out) if plots.available() else []
        return [f.name for f in report.write(self, out, figures, command)] + figures

    def predicted_within(self, factor: float = 2.0) -> tuple[int, int]:
        """(cells whose predicted seconds are within `factor` of the measured, cells predicted)."""
        pairs = [(r.predicted.seconds, r.seconds) for r in self.rows if r.predicted and r.seconds]
        pairs += [(s.predicted.seconds, s.seconds) for s in self.sweeps if s.predicted and s.seconds]
        return sum(1 / factor <= p / t <= factor for p, t in pairs), len(pairs)

    def noisy(self) -> list[str]:
        """The cells whose timing stayed noisy after being taken again."""
        cells = [
            f"{r.problem}: {r.mode}" + ("" if r.library == "ad" else f" ({r.library})")
            for r in self.rows
            if r.stable is False
        ]
        cells += [f"sweep n={s.n} m={s.m}: {s.mode}" for s in self.sweeps if s.timing and not s.timing.stable]
        return cells

    def unresolved(self) -> list[str]:
        """One line per mode whose difference from the others is within what it can resolve
        at the point (Row.unresolved): neither agreement nor disagreement."""
        return [_unresolved_line(pr.problem.name, r) for pr in self.problems for r in pr.rows if r.unresolved]

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
        return out + (self.sparse.failures() if self.sparse else [])


def run(
    problems: Sequence[Problem],
    modes: Sequence[Mode] = MODES,
    config: Config = Config(),
    peer_libs: Sequence[str] = (),
    sweeps: bool = True,
    progress: bool | Progress = True,
) -> Results:
    """Calibrate the model, then every mode (and peer) on every problem, then the sweeps,
    all with config.threads threads; nothing is printed but progress."""
    with warnings.catch_warnings():
        # the peers' deprecation notices (torch.func's use of torch.jit, ...) are for their users
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return _run(problems, modes, config, peer_libs, sweeps, progress)


def _run(problems, modes, config, peer_libs, sweeps, progress) -> Results:
    t0 = time.perf_counter()
    xla = environment.xla_flags(config.threads) if "jax" in peer_libs else None
    found, missing = peer_lib.available(peer_libs, config.threads) if peer_libs else ([], {})
    n_sweep = 2 * len(config.sweep_sizes) * len(modes) + len(config.depths) * (len(STRATEGIES) + 1)
    n_sweep += sparse.steps(config.sparse_sweep)
    total = len(modes) + len(problems) * len(modes) * (1 + len(found)) + (n_sweep if sweeps else 0)
    bar = progress if isinstance(progress, Progress) else Progress(total, enabled=progress)
    res = Results(config, tuple(modes), [], peers=found, peers_missing=missing)
    load_start = environment.load()
    with environment.pinned(config.threads):
        res.machine = environment.describe(config.threads, xla, {lib: peer_lib.version(lib) for lib in found})
        res.calibration = calibrate.calibrate(modes, config.chunk, config.probe_size, config.policy, bar.step)
        for p in problems:
            res.problems.append(run_problem(p, modes, config, res.calibration, found, bar))
        if sweeps:
            res.sweeps = run_sweeps(modes, config, res.calibration, bar)
            res.depths = run_depths(config, bar)
            res.sparse = sparse.run(
                config.policy, config.sparse_size, config.sparse_sweep, config.sparse_dense_upto, bar
            )
    res.load = (load_start, environment.load())
    bar.close()
    res.seconds = time.perf_counter() - t0
    return res


def compare(
    f: Callable,
    x,
    peers: bool | Mapping[str, Callable] = False,
    *,
    quick: bool = False,
    chunk: int | None = None,
    threads: int = 1,
    name: str | None = None,
    progress: bool = False,
) -> Results:
    """Every mode of ad on your f at x: agreement, time with its spread, memory, the plan of
    ad.jacobian(mode="auto") and the calibrated model's prediction.

    `peers` is False, or maps a peer ("jax", "torch", "autograd") to the same function
    written with that library's arrays (a NumPy function cannot run through them).
    `x` is an array or a pytree of arrays (tuples, lists, dicts), or a zero-argument callable
    returning one; a pytree x, or f(x), is compared flattened into one vector.
    """
    if peers is True:
        raise ValueError(
            "peers=True needs f written for each peer: pass peers={'jax': f_jax, 'torch': f_torch, ...} "
            "with the same function in that library's arrays, or leave peers=False"
        )
    libs = dict(peers or {})
    unknown = sorted(set(libs) - set(peer_lib.PEERS))
    if unknown:
        raise ValueError(f"unknown peer(s) {unknown}; choose from {peer_lib.PEERS}")
    if callable(x):
        x = x()
    config = QUICK if quick else Config()
    check_chunk(chunk, "compare")
    if chunk is not None or threads != 1:
        config = dataclasses.replace(config, chunk=chunk or config.chunk, threads=threads)
    problem = user(f, x, name, libs)
    return run([problem], MODES, config, tuple(libs), sweeps=False, progress=progress)


def _time(fn, config: Config):
    return measure.timing(fn, config.policy)


def _agreement(jacobians: dict[str, np.ndarray], modes: Sequence[Mode], shape) -> np.ndarray | None:
    """The reference: elementwise median of the exact modes' Jacobians of the right shape."""
    exact = [jacobians[m.name] for m in modes if m.exact and m.name in jacobians]
    ok = [J for J in exact if J.shape == shape] or [J for J in jacobians.values() if J.shape == shape]
    return measure.consensus(ok) if ok else None


def _unresolved_line(problem: str, r: Row) -> str:
    if r.tol == FD_TOL:
        return (
            f"{problem}: {r.mode}: rel diff {r.rel_diff:.1e}, where the rounding of f's values alone "
            f"(eps |f(x)| / h, over the Jacobian's largest entry) is {r.floor:.1e}: this Jacobian is "
            "too small against f's values to check this way; the exact modes decide"
        )
    return (
        f"{problem}: {r.mode}: rel diff {r.rel_diff:.1e} from the consensus, which is itself "
        f"{r.floor:.1e} from the complex step (the Jacobian to rounding): the exact modes differ "
        "here by rounding, as the Jacobian's entries are far below f's values, not by a rule"
    )


def _rounding_floor(off: list[Row], jacobians: dict, f, x, ref) -> None:
    """Exact modes that differ from their consensus: a wrong rule, or rounding where the
    Jacobian's entries are far below f's values (tanh' computed from a tanh rounded next to 1
    keeps few digits, in ad as in PyTorch and JAX). The complex step tells them apart where f
    takes complex values: it is right to rounding in every entry, so the consensus's distance
    from it is what the modes' rounding costs here. That becomes the floor (Row.unresolved)
    of each mode that is not itself FLOOR_MARGIN times closer to the complex step than the
    consensus (such a mode is right and the consensus wrong: a rule the others share), when
    that distance is below TRUSTED; above it the complex step itself is suspect (f not
    analytic: abs, a comparison on x's size), and the rows stay disagreements."""
    truth = complex_step_jacobian(f, x)
    if truth is None or truth.shape != ref.shape:
        return
    base = measure.rel_diff(ref, truth)
    if base <= TRUSTED:
        for row in off:
            if FLOOR_MARGIN * measure.rel_diff(jacobians[row.mode], truth) >= base:
                row.floor = base


def _cell(mode: Mode, p: Problem, config: Config) -> tuple[int, float]:
    """(passes, flops) of mode on p."""
    return model.passes(mode.family, p.n, p.m, mode.directions(config.chunk, p.n, p.m)), p.cost.flops(
        mode.family
    )


def _predict(mode: Mode, p: Problem, f, config: Config, cal: model.Calibration | None):
    """(the calibrated model's seconds for mode on p, timed with f, and the ops it counted
    per pass), or (None, None) without calibration."""
    if cal is None or not cal.covers(mode.name):
        return None, None
    (passes, flops), ops = _cell(mode, p, config), calibrate.ops(mode, p, f)
    return model.seconds(cal, mode.name, passes, ops, flops, calibrate.sweep_bytes(mode, p, ops)), ops


def run_problem(
    p: Problem,
    modes: Sequence[Mode],
    config: Config,
    cal: model.Calibration | None = None,
    peer_libs=(),
    bar=None,
) -> ProblemResult:
    f, x, k = p.f(), p.x, config.chunk
    bar = bar or Progress(0, enabled=False)
    rows, jacobians = [], {}
    for mode in modes:
        bar.step(f"{p.name}: {mode.name}")
        row = Row(p.name, p.n, p.m, mode.name, "ad", tol=mode.tol, compiled=mode.compiled)
        row.passes, row.flops = _cell(mode, p, config)
        jac = lambda mode=mode: as_matrix(mode.jacobian(f, x, k), p.n)  # noqa: E731
        try:
            row.predicted, row.ops = _predict(mode, p, f, config, cal)
            row.timing, J = _time(jac, config)
            row.peak, _ = measure.peak_bytes(jac)
            jacobians[mode.name] = J
        except NotApplicable as e:
            row.note, row.predicted = f"n/a: {e}", None
        except Exception as e:  # a broken mode is reported in the table, not raised
            row.note = f"error: {type(e).__name__}: {e}"
        rows.append(row)
    ref = _agreement(jacobians, modes, (p.m, p.n))
    off = []  # the exact modes that differ from the consensus
    for mode, row in zip(modes, rows):
        if row.mode in jacobians and ref is not None:
            row.rel_diff = measure.rel_diff(jacobians[row.mode], ref)
            if row.rel_diff > row.tol:
                if mode.exact:
                    off.append(row)
                else:
                    row.floor = fd_floor(f, x, ref)
    if off:
        _rounding_floor(off, jacobians, f, x, ref)
    for lib in peer_libs:
        for mode in modes:
            bar.step(f"{p.name}: {lib} {mode.name}")
            rows.append(_peer_row(lib, mode, p, config, ref))
    return ProblemResult(p, model.predict(p.cost, p.n, p.m, k), rows)


def _peer_row(lib: str, mode: Mode, p: Problem, config: Config, ref) -> Row:
    row = Row(p.name, p.n, p.m, mode.name, lib, tol=EXACT_TOL)
    try:
        run_peer = peer_lib.prepare(lib, mode.name, p, config.chunk)
        if run_peer is None:
            row.note = "-"
            return row
        row.timing, J = _time(run_peer, config)
    except Exception as e:  # the peer lacks a rule (e.g. autograd's JVP of solve)
        row.note = f"n/a: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        return row
    if ref is not None:
        row.rel_diff = measure.rel_diff(J, ref)
    return row


def run_sweeps(modes: Sequence[Mode], config: Config, cal: model.Calibration | None = None, bar=None):
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
                point = SweepPoint(axis, n, m, mode.name, None, None, None, mode.tol)
                try:
                    point.predicted, _ = _predict(mode, p, f, config, cal)
                    point.timing, jacobians[mode.name] = _time(
                        lambda mode=mode: as_matrix(mode.jacobian(f, p.x, config.chunk), n), config
                    )
                except NotApplicable as e:
                    point.note, point.predicted = f"n/a: {e}", None
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
            gradient = lambda net=net: ad.grad(lambda x: np.sum(net(x)))(x)  # noqa: E731
            gradient()  # once first: lazily built kernels and caches are not the tape
            peak, g = measure.peak_bytes(gradient)
            plain = g if plain is None else plain
            points.append(DepthPoint(strategy, L, D, peak, measure.rel_diff(g, plain)))
        bar.step(f"memory at depth {L}: forward, one JVP")
        net = ad.checkpoint_sequential([layer] * L, "all")
        peak, (_, t) = measure.peak_bytes(lambda net=net: ad.jvp(lambda x: np.sum(net(x)), (x,), (v,)))
        points.append(DepthPoint("forward", L, D, peak, measure.rel_diff(t, plain @ v)))
    return points
