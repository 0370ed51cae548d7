"""The cost model: the notes' formulas, the passes, and which mode it says should win."""

import numpy as np
import pytest

from ad.compare import calibrate, count, model, problems
from ad.compare.modes import MODES


@pytest.mark.parametrize(
    "n,m,winner", [(10, 1000, "forward"), (3, 50, "forward"), (1000, 10, "reverse"), (50, 3, "reverse")]
)
def test_the_model_picks_forward_for_tall_and_reverse_for_wide_jacobians(n, m, winner):
    p = problems.tanh_affine(n, m)
    pred = model.predict(p.cost, p.n, p.m, k=8)
    assert pred.plan.mode == winner
    assert pred.ratio == pytest.approx(n / m)  # forward cost / reverse cost: n JVPs against m VJPs
    assert (pred.ratio > 1) == (winner == "reverse")


def test_chain_costs_are_the_notes_formulas():
    K, D, M = 3, 5, 2
    c = model.chain(K, D, M)
    assert c.forward == M * D**2 + K * D**3
    assert c.reverse == M**2 * D + K * M * D**2
    assert c.finite_differences == 2 * D * (K * D**2 + M * D)
    assert c.forward / c.reverse == pytest.approx(D / M)


def test_tanh_of_an_affine_map_costs_what_a_chain_without_hidden_layers_costs():
    n, m = 7, 4
    generic, chain = problems.tanh_affine(n, m).cost, model.chain(0, n, m)
    assert (generic.forward, generic.reverse) == (chain.forward, chain.reverse)


def test_passes_are_batched_passes_sweeps_or_evaluations():
    assert model.passes("forward", 300, 5, 128) == 3
    assert model.passes("reverse", 300, 5, 128) == 1
    assert model.passes("forward", 300, 5, 1) == 300
    assert model.passes("finite differences", 300, 5, 128) == 600


@pytest.mark.parametrize("quick", [True, False])
def test_the_suite_has_the_problems_of_the_design_with_their_sizes(quick):
    suite = problems.suite(quick)
    assert [p.name for p in suite] == list(problems.NAMES)
    assert set(problems.NAMES) == {"mlp", "dag", "chain", "tall", "wide", "rosenbrock", "logistic", "ridge"}
    for p in suite:
        assert np.size(p.f()(p.x)) == p.m, p.name
    by_name = {p.name: p for p in suite}
    assert by_name["tall"].n < by_name["tall"].m and by_name["wide"].n > by_name["wide"].m
    np.testing.assert_array_equal(by_name["dag"].x, [0.5, 1.3])


def test_predicted_seconds_are_passes_times_ops_times_overhead_plus_flops_over_throughput():
    cal = model.Calibration({"forward": 2e-6}, {"forward": 1e9})
    est = model.seconds(cal, "forward", passes=10, ops=5, flops=4e6)
    assert est.seconds == pytest.approx(10 * 5 * 2e-6 + 4e6 / 1e9)
    assert est.overhead == pytest.approx(1e-4) and est.bound == "arithmetic"
    assert model.seconds(cal, "forward", passes=1000, ops=5, flops=4e6).bound == "overhead"
    assert model.seconds(cal, "reverse", passes=1, ops=1, flops=1.0) is None  # not calibrated


def test_a_calibrated_cost_per_call_is_added_once_whatever_the_passes():
    cal = model.Calibration({"reverse": 2e-6}, {"reverse": 1e9}, per_call={"reverse": 5e-5})
    for passes in (1, 10):
        est = model.seconds(cal, "reverse", passes=passes, ops=5, flops=4e6)
        assert est.seconds == pytest.approx(5e-5 + passes * 5 * 2e-6 + 4e6 / 1e9)
        assert est.overhead == pytest.approx(5e-5 + passes * 5 * 2e-6)
    assert model.seconds(cal, "reverse", passes=1, ops=1, flops=1e4).bound == "overhead"  # the call dominates


def test_calibration_recovers_the_call_overhead_and_throughput_that_made_the_probe_times():
    call, over, thr = 4e-5, 3e-6, 2e9
    probe_t, probe_o, probe_a = (2, 2), (2, 32), (2, 2, 8e6)  # (passes, ops) and (passes, ops, flops)
    t_trivial = call + probe_t[0] * probe_t[1] * over
    t_over = call + probe_o[0] * probe_o[1] * over
    t_arith = call + probe_a[0] * probe_a[1] * over + probe_a[2] / thr
    got = model.calibrate_mode(t_trivial, probe_t, t_over, probe_o, t_arith, probe_a)
    assert got == pytest.approx((call, over, thr))


def test_a_compiled_mode_is_calibrated_per_instruction_from_the_same_equations():
    # a replay: 10 us per call, 5 ns per scalar instruction of the tape, one sweep (passes = 1)
    call, per_instruction, thr = 1e-5, 5e-9, 1e9
    t_trivial, t_over = call + 4 * per_instruction, call + 1024 * per_instruction
    t_arith = call + 131072 * per_instruction + 3.4e7 / thr
    got = model.calibrate_mode(t_trivial, (1, 4), t_over, (1, 1024), t_arith, (1, 131072, 3.4e7))
    assert got == pytest.approx((call, per_instruction, thr))


def test_a_compiled_sweep_whose_buffer_fits_in_the_cache_runs_at_the_in_cache_throughput():
    cal = model.Calibration(
        {"compiled forward": 1e-8}, {"compiled forward": 2e8}, per_call={"compiled forward": 1e-5},
        in_cache={"compiled forward": 1e9}, cache_bytes=32e6,
    )  # fmt: skip
    fixed = 1e-5 + 1000 * 1e-8  # one sweep of 1000 instructions
    small = model.seconds(cal, "compiled forward", passes=1, ops=1000, flops=1e6, buffer=4e6)
    large = model.seconds(cal, "compiled forward", passes=1, ops=1000, flops=1e6, buffer=64e6)
    assert small.seconds == pytest.approx(fixed + 1e6 / 1e9)
    assert large.seconds == pytest.approx(fixed + 1e6 / 2e8)
    unknown = model.Calibration(cal.overhead, cal.throughput, per_call=cal.per_call, in_cache=cal.in_cache)
    assert model.seconds(unknown, "compiled forward", 1, 1000, 1e6, buffer=4e6).seconds == pytest.approx(
        large.seconds
    )


def test_the_sweep_buffer_is_instructions_times_directions_doubles_for_the_compiled_modes_only():
    p = problems.tanh_affine(3, 5)
    by_name = {m.name: m for m in MODES}
    assert calibrate.sweep_bytes(by_name["compiled forward"], p, 100) == 8 * 100 * 3
    assert calibrate.sweep_bytes(by_name["compiled reverse"], p, 100) == 8 * 100 * 5
    assert calibrate.sweep_bytes(by_name["batched forward"], p, 100) == 0.0


def test_noisy_probes_give_no_negative_term_and_a_finite_throughput():
    # the overhead probe measured faster than the trivial one, the arithmetic probe faster than both
    call, over, thr = model.calibrate_mode(2e-4, (1, 2), 1e-4, (1, 32), 5e-5, (1, 2, 1e6))
    assert over == pytest.approx(0.1 * 1e-4 / 32)  # at least a tenth of the probe over its ops
    assert call == pytest.approx(2e-4 - 2 * over) and call >= 0
    assert np.isfinite(thr) and thr == pytest.approx(1e6 / 5e-6)  # overhead held to 90% of the time


def test_the_counter_counts_each_numpy_call_and_its_multiply_adds():
    A = np.ones((3, 4))
    t = count.count(lambda x: np.tanh(A @ x), np.ones(4))
    assert (t.ops, t.flops) == (2, 3 * 4 + 3)
    t = count.count(lambda x: np.sum(x.reshape(2, 2)[0] * 2.0), np.ones(4))
    assert t.ops == 4 and t.flops == 0 + 0 + 2 + 2  # reshape, getitem: no arithmetic
    t = count.count(lambda x: np.linalg.solve(np.eye(3) + x[0], np.ones(3)), np.ones(2))
    assert t.ops == 3 and t.flops == 0 + 9 + 27  # x[0], eye + x[0], the solve
    assert not t.escaped
    assert count.count(lambda x: np.asarray(x) * 2, np.ones(3)).escaped


def test_the_counted_flops_of_the_suite_match_the_notes_formulas():
    for p in problems.suite():
        if p.name in ("dag", "ridge"):  # a few flops, or work on constants the counter skips
            continue
        assert count.count(p.f(), p.x).flops == pytest.approx(p.cost.forward / p.n, rel=0.1), p.name
