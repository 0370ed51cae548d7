"""Calibrating the cost model on this machine, at the start of a run: each mode's cost per
call, its overhead per op of a pass, and the throughput of its arithmetic, from three probes.

The trivial and overhead probes (problems.overhead_probe, 1 and 16 x (tanh, scale) on a
2-vector) have negligible arithmetic, so their two times give the mode's fixed cost per call
(pytree handling, recording setup, seeding, the output) and its cost per op of a pass
(dispatch, rule lookup, the tape's nodes). A compiled mode costs per scalar instruction of
its tape instead, a few nanoseconds, so its overhead probe is longer (256 x) and its ops are
the tape's instructions. The arithmetic probe is tanh(A x) with A square (a matrix product
and an elementwise op, the work of the suite's dense problems): its time less the two
overheads just measured, over its flops, is the mode's throughput. A compiled sweep streams
a buffer of (instructions x directions) doubles, several times faster while it fits in the
CPU's cache, so a compiled mode is timed on a second, small arithmetic probe (64 x 64: a 4 MB
buffer) for its in-cache throughput.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ad.compare import measure, model, problems
from ad.compare.modes import Mode, as_matrix, instructions

COMPILED_PROBE = 256  # (tanh, scale) pairs of a compiled mode's overhead probe: ~1000 instructions


def ops(mode: Mode, p: problems.Problem, f) -> int:
    """What a pass of mode pays overhead for on p: its NumPy calls, or for a compiled mode the
    scalar instructions of f's tape (f the very function timed, whose recording is kept)."""
    return instructions(f, p.x) if mode.compiled else p.ops


IN_CACHE_PROBE = 64  # size of a compiled mode's second arithmetic probe


def cache_bytes() -> int:
    """The largest CPU cache, from Linux's sysfs (0 where it cannot be read)."""
    sizes = []
    for f in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = f.read_text().strip()
        if text[:-1].isdigit() and text[-1] in "KM":
            sizes.append(int(text[:-1]) * {"K": 2**10, "M": 2**20}[text[-1]])
    return max(sizes, default=0)


def sweep_bytes(mode: Mode, p: problems.Problem, ops: int) -> float:
    """The buffer a compiled sweep streams: its instructions x directions (n forward, m
    reverse) doubles; 0 for the other modes."""
    return 8.0 * ops * (p.n if mode.family == "forward" else p.m) if mode.compiled else 0.0


def _seconds(
    mode: Mode, p: problems.Problem, k: int, policy: measure.Policy
) -> tuple[float, tuple[int, int, float]]:
    """Median seconds of mode's whole Jacobian of p, and its (passes, ops, flops)."""
    f = p.f()
    shape = ops(mode, p, f)
    t, _ = measure.timing(lambda: as_matrix(mode.jacobian(f, p.x, k), p.n), policy)
    passes = model.passes(mode.family, p.n, p.m, mode.directions(k, p.n, p.m))
    return t.median, (passes, shape, p.cost.flops(mode.family))


def calibrate(
    modes: Sequence[Mode], k: int, size: int, policy: measure.Policy, step=None
) -> model.Calibration:
    """Each mode timed on the three probes; a mode that cannot run one is left uncalibrated."""
    trivial_p, arith_p = problems.overhead_probe(1), problems.tanh_affine(size, size, name="arithmetic probe")
    over_p = {False: problems.overhead_probe(), True: problems.overhead_probe(COMPILED_PROBE)}
    small_p = problems.tanh_affine(IN_CACHE_PROBE, IN_CACHE_PROBE, name="in-cache probe")
    per_call, overhead, throughput, in_cache = {}, {}, {}, {}
    for mode in modes:
        if step:
            step(f"calibrating the model: {mode.name}")
        try:
            t_trivial, s_trivial = _seconds(mode, trivial_p, k, policy)
            t_over, s_over = _seconds(mode, over_p[mode.compiled], k, policy)
            t_arith, s_arith = _seconds(mode, arith_p, k, policy)
            t_small, s_small = _seconds(mode, small_p, k, policy) if mode.compiled else (0.0, None)
            call, over, thr = model.calibrate_mode(
                t_trivial, s_trivial[:2], t_over, s_over[:2], t_arith, s_arith
            )
        except Exception:  # e.g. the compiled modes past their instruction limit: no prediction
            continue
        per_call[mode.name], overhead[mode.name], throughput[mode.name] = call, over, thr
        if s_small and t_small > 0:
            in_cache[mode.name] = model.throughput(t_small, call, over, s_small)
    probes = (
        f"{trivial_p.about.split(':')[0]} and {over_p[False].about.split(':')[0]} "
        f"({over_p[True].about.split(':')[0]} for a compiled tape): the overhead probes; "
        f"tanh(A x), A {size}x{size}: the arithmetic probe ({IN_CACHE_PROBE}x{IN_CACHE_PROBE} also, "
        "in cache, for a compiled tape)"
    )
    return model.Calibration(overhead, throughput, probes, per_call, in_cache, cache_bytes())
