"""Calibrating the cost model on this machine, at the start of a run: each mode's overhead
per op of a pass, and the throughput of its arithmetic, from two probes.

The overhead probe (problems.overhead_probe) is 32 elementwise ops on a 2-vector: its
arithmetic is negligible, so its time over (passes x ops) is the mode's cost per op of a
pass (dispatch, rule lookup, the tape's nodes). The arithmetic probe is tanh(A x) with A
square (a matrix product and an elementwise op, the work of the suite's dense problems):
its time less the overhead just measured, over its flops, is the mode's throughput.
"""

from __future__ import annotations

from collections.abc import Sequence

from ad.compare import measure, model, problems
from ad.compare.modes import Mode, as_matrix


def _seconds(mode: Mode, p: problems.Problem, k: int, policy: measure.Policy) -> float:
    f = p.f()
    t, _ = measure.timing(lambda: as_matrix(mode.jacobian(f, p.x, k), p.n), policy)
    return t.median


def _shape(mode: Mode, p: problems.Problem, k: int) -> tuple[int, int, float]:
    """(passes, ops, flops) of mode's whole Jacobian of p."""
    passes = model.passes(mode.family, p.n, p.m, mode.directions(k, p.n, p.m))
    return passes, p.ops, p.cost.flops(mode.family)


def calibrate(
    modes: Sequence[Mode], k: int, size: int, policy: measure.Policy, step=None
) -> model.Calibration:
    """Each mode timed on both probes; a mode that cannot run a probe is left uncalibrated."""
    over_p, arith_p = problems.overhead_probe(), problems.tanh_affine(size, size, name="arithmetic probe")
    overhead, throughput = {}, {}
    for mode in modes:
        if step:
            step(f"calibrating the model: {mode.name}")
        try:
            t_over = _seconds(mode, over_p, k, policy)
            t_arith = _seconds(mode, arith_p, k, policy)
        except Exception:  # e.g. the compiled modes past their instruction limit: no prediction
            continue
        passes, ops, _ = _shape(mode, over_p, k)
        overhead[mode.name], throughput[mode.name] = model.calibrate_mode(
            t_over, (passes, ops), t_arith, _shape(mode, arith_p, k)
        )
    probes = f"{over_p.about}; tanh(A x), A {size}x{size}: the arithmetic probe"
    return model.Calibration(overhead, throughput, probes)
