"""The comparison says what its figures show: functions whose counted arithmetic is zero,
empty and non-finite Jacobians, inputs that are matrices or pytrees, a calibration whose
probes took no time, the units and ratios of the report, and advice that agrees with the
table it comes from."""

import dataclasses

import numpy as np
import pytest

import ad
from ad.compare import MODES, compare, measure, model, problems, report, runner
from ad.compare.measure import Timing
from ad.compare.runner import ProblemResult, Row

QUICK = dict(quick=True)


# -- functions the cost model has no arithmetic for ----------------------------------------------
@pytest.mark.parametrize(
    "f",
    [lambda x: x, lambda x: x[::-1], lambda x: np.ones(2)],
    ids=["the identity", "a reversal", "a constant"],
)
def test_a_function_whose_counted_arithmetic_is_zero_is_compared_without_dividing_by_zero(f):
    """count.py finds no multiply-adds in these; the model used to divide 0 by 0. With no
    arithmetic, what is left is the passes: n JVPs against m VJPs."""
    x = np.array([0.5, 1.0, 2.0])
    res = compare(f, x, **QUICK)
    (pr,) = res.problems
    assert pr.prediction.ratio == pytest.approx(x.size / np.size(f(x)))
    assert res.failures() == []
    assert "advice for" in report.text(res)


def test_an_empty_output_is_refused_clearly():
    with pytest.raises(ValueError, match="no entries"):
        compare(lambda x: x[:0], np.ones(3), **QUICK)


def test_the_prediction_ratio_is_forward_cost_over_reverse_cost():
    cost = model.generic(6, 2, 10.0)
    assert model.predict(cost, 6, 2, 4).ratio == 3.0  # 6 JVPs against 2 VJPs: reverse, 3x
    assert report._winner(3.0) == "reverse, 3x" and report._winner(1 / 3) == "forward, 3x"


# -- inputs that are not one vector ------------------------------------------------------------
def test_finite_differences_run_on_a_matrix_input():
    """The steps were rows of np.eye(n) added to x of shape (2, 3): every matrix input
    failed there, and the run reported a disagreement."""
    res = compare(lambda X: np.sin(X) @ X.T, np.linspace(0.1, 0.6, 6).reshape(2, 3), **QUICK)
    assert res.failures() == []
    (fd,) = [r for r in res.rows if r.mode == "finite differences"]
    assert fd.rel_diff is not None and fd.rel_diff < 1e-7


def _pytree_f(p):
    h = np.tanh(p["w"] @ p["x"]) + p["b"]
    return {"h": h, "s": (np.sum(h**2) * p["scale"],)}


def _pytree_point():
    rng = np.random.default_rng(0)
    return {"w": rng.standard_normal((3, 2)), "x": rng.standard_normal(2), "b": np.zeros(3), "scale": 2.0}


def test_a_pytree_input_and_output_are_compared_flattened_in_ads_leaf_order():
    p = _pytree_point()
    prob = problems.user(_pytree_f, p)
    assert (prob.n, prob.m) == (6 + 2 + 3 + 1, 3 + 1)
    # the problem's f is f on the flattened input, returning the flattened output: its
    # Jacobian is ad's Jacobian of f, blocks laid out in ad.tree's leaf order
    J = ad.jacfwd(prob.f())(prob.x)
    blocks = ad.jacrev(_pytree_f)(p)
    keys = ("b", "scale", "w", "x")  # sorted, as ad.tree visits a dict
    rows = [
        np.concatenate(
            [np.reshape(blocks[out][k] if out == "h" else blocks[out][0][k], (size, -1)) for k in keys],
            axis=1,
        )
        for out, size in (("h", 3), ("s", 1))
    ]
    np.testing.assert_allclose(J, np.concatenate(rows), rtol=1e-14)
    res = compare(_pytree_f, p, **QUICK)
    assert res.failures() == []
    assert "pytree" in res.problems[0].problem.about


def test_a_tuple_of_arrays_of_different_shapes_is_a_pytree_not_an_error():
    res = compare(lambda t: np.sum(np.sin(t[0])) * t[1], (np.ones(3), np.array([2.0, 3.0])), **QUICK)
    assert (res.problems[0].problem.n, res.problems[0].problem.m) == (5, 2)
    assert res.failures() == []


def test_peers_with_a_pytree_are_refused_clearly():
    with pytest.raises(ValueError, match="one array"):
        problems.user(_pytree_f, _pytree_point(), peers={"jax": _pytree_f})


@pytest.mark.parametrize("x", [{"a": "text"}, {"a": np.array([1 + 1j])}, {}])
def test_an_input_that_is_not_real_numbers_is_refused_naming_it(x):
    with pytest.raises(ValueError, match="real numbers"):
        problems.user(lambda p: p, x)


# -- agreement where the Jacobian is not finite --------------------------------------------------
def test_identical_nan_and_inf_entries_agree_and_different_ones_do_not():
    J = np.array([[1.0, np.nan], [np.inf, -2.0]])
    assert measure.rel_diff(J, J.copy()) == 0.0
    assert measure.rel_diff(J + 1e-3, J) == pytest.approx(1e-3 / 2)
    assert measure.rel_diff(np.where(np.isnan(J), 0.0, J), J) == np.inf
    assert measure.rel_diff(np.where(np.isinf(J), -np.inf, J), J) == np.inf
    assert measure.rel_diff(np.full((1, 2), np.nan), np.full((1, 2), np.nan)) == 0.0


def test_modes_that_all_give_nan_where_f_is_nan_are_reported_as_agreeing():
    with np.errstate(all="ignore"):
        res = compare(lambda x: np.sqrt(x[0]) * x, np.array([-1.0, 4.0]), **QUICK)  # NaN everywhere
    assert res.failures() == []
    assert "DISAGREES" not in report.detail_table(res)


# -- the calibration ------------------------------------------------------------------------------
def test_probes_that_took_no_measurable_time_leave_the_mode_uncalibrated_not_infinite():
    with pytest.raises(ValueError, match="no measurable time"):
        model.calibrate_mode(0.0, (1, 2), 0.0, (1, 32), 0.0, (1, 2, 100.0))
    with pytest.raises(ValueError, match="no measurable time"):
        model.calibrate_mode(1e-6, (1, 2), 2e-6, (1, 32), float("nan"), (1, 2, 100.0))


def test_calibrate_skips_a_mode_whose_probes_took_no_time(monkeypatch):
    from ad.compare import calibrate

    monkeypatch.setattr(calibrate, "_seconds", lambda mode, p, k, policy: (0.0, (1, 2, 4.0)))
    cal = calibrate.calibrate(MODES[:2], 4, 8, measure.Policy(min_sample=0.0, repeats=1, retries=0))
    assert cal.overhead == {} and cal.throughput == {}


def test_predicted_within_skips_a_cell_measured_at_zero_seconds():
    res = compare(lambda x: np.sin(x), np.ones(2), **QUICK)
    row = next(r for r in res.rows if r.predicted)
    row.timing = Timing((0.0, 0.0, 0.0), 1)
    good, total = res.predicted_within()
    assert total == sum(1 for r in res.rows if r.predicted and r.seconds)


def test_the_throughput_is_labelled_in_multiply_adds():
    res = compare(lambda x: np.sin(x), np.ones(2), **QUICK)
    table = report.calibration_table(res)
    assert "multiply-adds/s" in table and "Gflop/s" not in table


# -- the advice agrees with the table ------------------------------------------------------------
def _result(best_mode: str, best_s: float, other_s: float, ops: int) -> ProblemResult:
    p = problems.user(lambda x: np.tanh(x) * 2.0, np.ones(3))
    rows = []
    for mode, s in ((best_mode, best_s), ("batched reverse", other_s)):
        rows.append(
            Row(
                p.name,
                p.n,
                p.m,
                mode,
                "ad",
                passes=1,
                flops=3.0,
                timing=Timing((s, s, s), 1),
                predicted=model.Estimate(s, 0.9 * s),
                peak=100,
                rel_diff=0.0,
                ops=ops,
                compiled=mode.startswith("compiled"),
            )
        )
    return ProblemResult(p, model.predict(p.cost, p.n, p.m, 128), rows)


def test_advice_for_a_compiled_mode_counts_its_instructions_and_does_not_suggest_compiling():
    text = report.advice(_result("compiled forward", 1e-5, 5e-5, ops=37))
    assert "37 instructions" in text
    assert "ad.compile's replay removes" not in text


def test_advice_for_an_eager_mode_suggests_compiling_when_overhead_bound():
    text = report.advice(_result("batched forward", 1e-5, 5e-5, ops=4))
    assert "4 ops" in text and "ad.compile" in text


def test_advice_never_says_one_x_faster():
    text = report.advice(_result("batched forward", 1.00e-5, 1.03e-5, ops=4))
    assert "1x faster" not in text and "1.03x faster" in text


def test_advice_names_the_chunk_its_plan_and_measurement_are_for():
    res = compare(lambda x: np.tanh(x) * 2.0, np.ones(3), chunk=2, **QUICK)
    text = report.advice(res.problems[0])
    assert 'ad.jacobian(mode="auto") runs batched forward' in text and "chunk=2" in text


def test_every_row_records_the_ops_its_prediction_used():
    res = compare(lambda x: np.tanh(x) * 2.0, np.ones(3), **QUICK)
    by_mode = {r.mode: r for r in res.rows}
    assert by_mode["batched forward"].ops == res.problems[0].problem.ops
    assert by_mode["compiled forward"].ops > 0


@pytest.mark.parametrize("chunk", [0, -2, 1.5])
def test_compare_refuses_a_chunk_that_is_not_a_positive_whole_number(chunk):
    """chunk=0 ran the default k, which the report would then state as the k it measured."""
    with pytest.raises((TypeError, ValueError), match="chunk"):
        compare(np.sin, np.ones(2), chunk=chunk, **QUICK)


def test_config_chunk_reaches_the_plan():
    cfg = dataclasses.replace(runner.QUICK, chunk=2)
    pr = runner.run_problem(problems.user(lambda x: x * 2.0, np.ones(5)), MODES[:4], cfg)
    assert pr.prediction.plan.forward_passes == 3 and pr.prediction.plan.chunk == 2
