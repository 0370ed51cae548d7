"""Calibrating the cost model on this machine, at the start of a run: each mode's cost per
call, its overhead per op of a pass, and the throughput of its arithmetic, from three probes.

The trivial and overhead probes (problems.overhead_probe, 1 and 16 x (tanh, scale) on a
2-vector) have negligible arithmetic, so their two times give the mode's fixed cost per call
(pytree handling, recording setup, seeding, the output) and its cost per op of a pass
(dispatch, rule lookup, the tape's nodes). A compiled mode costs per scalar instruction of
its tape instead, a few nanoseconds, so its overhead probe is longer (256 x) and its ops are
the tape's instructions. The arithmetic probe is tanh(A x) with A square (a matrix product
and an elementwise op, the work of the suite's dense problems): its time less the two
overheads just measured, over its flops, is the mode's throughput.
"""

from __future__ import annotations

from collections.abc import Sequence

from ad.compare import measure, model, problems
from ad.compare.modes import Mode, as_matrix, instructions

COMPILED_PROBE = 256  # (tanh, scale) pairs of a compiled mode's overhead probe: ~1000 instructions


def ops(mode: Mode, p: problems.Problem, f) -> int:
    """What a pass of mode pays overhead for on p: its NumPy calls, or for a compiled mode the
    scalar instructions of f's tape (f the very function timed, whose recording is kept)."""
    return instructions(f, p.x) if mode.compiled else p.ops


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
    per_call, overhead, throughput = {}, {}, {}
    for mode in modes:
        if step:
            step(f"calibrating the model: {mode.name}")
        try:
            t_trivial, s_trivial = _seconds(mode, trivial_p, k, policy)
            t_over, s_over = _seconds(mode, over_p[mode.compiled], k, policy)
            t_arith, s_arith = _seconds(mode, arith_p, k, policy)
        except Exception:  # e.g. the compiled modes past their instruction limit: no prediction
            continue
        per_call[mode.name], overhead[mode.name], throughput[mode.name] = model.calibrate_mode(
            t_trivial, s_trivial[:2], t_over, s_over[:2], t_arith, s_arith
        )
    probes = (
        f"{trivial_p.about.split(':')[0]} and {over_p[False].about.split(':')[0]} "
        f"({over_p[True].about.split(':')[0]} for a compiled tape): the overhead probes; "
        f"tanh(A x), A {size}x{size}: the arithmetic probe"
    )
    return model.Calibration(overhead, throughput, probes, per_call)
