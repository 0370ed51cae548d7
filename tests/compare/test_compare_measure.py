"""Timings on a fake clock: calls grouped into samples, repeats, spread, noisy cells taken
again and marked; verdicts that rest on noise say so."""

import itertools

import pytest

from ad.compare import measure, model, problems, report, runner
from ad.compare.measure import Policy, Timing


class FakeClock:
    """A clock that advances only when the timed function runs, by scripted durations."""

    def __init__(self, durations):
        self.now = 0.0
        self.durations = iter(durations)

    def __call__(self):
        return self.now

    def fn(self):
        self.now += next(self.durations)
        return "J"


def test_calls_are_grouped_until_a_sample_lasts_min_sample():
    clock = FakeClock(itertools.repeat(1e-4))
    assert measure.calls_per_sample(clock.fn, 0.02, clock) >= 200
    clock = FakeClock(itertools.repeat(0.5))
    assert measure.calls_per_sample(clock.fn, 0.02, clock) == 1


def test_a_steady_function_is_timed_once_with_the_repeats_asked_for():
    clock = FakeClock(itertools.repeat(0.03))
    t, result = measure.timing(clock.fn, Policy(min_sample=0.02, repeats=5), clock)
    assert result == "J"
    assert len(t.samples) == 5 and t.number == 1 and t.attempts == 1
    assert t.median == pytest.approx(0.03) and t.spread == pytest.approx(0.0) and t.stable


def test_a_noisy_timing_is_taken_again_and_kept_when_it_settles():
    # warm-up, one call to size the samples, 5 noisy samples, then 5 steady ones
    noisy = [0.03, 0.09, 0.03, 0.09, 0.03]
    clock = FakeClock([0.03, 0.03, *noisy, *[0.03] * 5])
    t, _ = measure.timing(clock.fn, Policy(min_sample=0.02, repeats=5, noise=0.1, retries=2), clock)
    assert t.attempts == 2 and t.stable and t.median == pytest.approx(0.03)


def test_a_timing_that_stays_noisy_is_marked_unstable_after_the_retries():
    clock = FakeClock(itertools.cycle([0.03, 0.09]))
    t, _ = measure.timing(clock.fn, Policy(min_sample=0.02, repeats=5, noise=0.1, retries=2), clock)
    assert t.attempts == 3 and not t.stable
    q1, q3 = t.quartiles
    assert t.spread == pytest.approx((q3 - q1) / t.median) and t.spread > 0.1


def _row(mode, samples, noise=0.1):
    r = runner.Row("p", 3, 3, mode, "ad")
    r.timing = Timing(tuple(samples), 1, 1, noise)
    return r


def _problem(rows):
    p = problems.tanh_affine(3, 3, name="p")
    return runner.ProblemResult(p, model.predict(p.cost, 3, 3, 8), rows)


def test_a_verdict_on_noisy_overlapping_cells_says_noisy():
    fwd = _row("forward", [1.0, 1.0, 2.0, 3.0, 3.0])  # spread far above 10%
    rev = _row("reverse", [1.5, 1.5, 1.5, 1.5, 1.5])
    pr = _problem([fwd, rev])
    assert not fwd.stable and measure.overlap(fwd.timing, rev.timing)
    assert report.verdict(pr, "forward", "reverse", reverse_predicted=True) == "noisy"
    assert report.fastest(pr) == "reverse (noisy)"  # the lower median, not settled
    assert "p: forward" in runner.Results(runner.Config(), (), [pr]).noisy()


def test_a_noisy_cell_far_from_the_other_keeps_its_verdict():
    fwd = _row("forward", [10.0, 10.0, 20.0, 30.0, 30.0])
    rev = _row("reverse", [1.0] * 5)
    pr = _problem([fwd, rev])
    assert not fwd.stable and not measure.overlap(fwd.timing, rev.timing)
    assert report.verdict(pr, "forward", "reverse", reverse_predicted=True) == "yes"
    assert report.verdict(pr, "forward", "reverse", reverse_predicted=False) == "no"
    assert report.fastest(pr) == "reverse"


def test_the_time_cell_shows_the_median_and_half_the_iqr():
    r = _row("forward", [0.9e-3, 1.0e-3, 1.0e-3, 1.0e-3, 1.1e-3])
    assert report.timed(r) == "1 ms ±0%"
    r = _row("forward", [0.8e-3, 0.9e-3, 1.0e-3, 1.1e-3, 1.2e-3])
    assert report.timed(r) == "1 ms ±10%"  # IQR 0.2 ms: half of it is 10% of the median
