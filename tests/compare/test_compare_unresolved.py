"""Finite differences' check where they cannot resolve the Jacobian: a difference within their
rounding floor is "unresolved", neither agreement nor a failure; above it, still a failure."""

import numpy as np
import pytest

import ad
from ad.compare import MODES, Mode, compare, problems, report, runner
from ad.compare.measure import rel_diff
from ad.compare.modes import FD_TOL, complex_step_jacobian, fd_floor, finite_differences

EAGER_AND_FD = [m for m in MODES if not m.compiled]


def _tiny_slope(x):
    """Values of 1, derivatives of 1e-12: central differences see only f's rounding."""
    return 1.0 + 1e-12 * np.sin(x)


def test_finite_differences_below_their_floor_are_unresolved_not_a_disagreement():
    x = np.linspace(-1.0, 1.0, 4)
    res = compare(_tiny_slope, x, quick=True)
    (pr,) = res.problems
    fd = next(r for r in pr.rows if r.mode == "finite differences")
    assert fd.rel_diff > FD_TOL  # what the check alone would have called a disagreement
    assert fd.floor > fd.rel_diff / runner.FLOOR_MARGIN
    assert fd.unresolved and fd.agrees is None and report._check(fd) == "unresolved"
    assert all(r.agrees for r in pr.rows if r.mode != "finite differences")
    np.testing.assert_allclose(ad.jacrev(_tiny_slope)(x), np.diag(1e-12 * np.cos(x)), rtol=1e-15, atol=0)
    assert res.failures() == []
    (line,) = res.unresolved()
    assert "finite differences" in line and "the exact modes decide" in line
    assert "all modes agree" in report.text(res) and "but for 1 unresolved" in report.text(res)


def test_a_wrong_jacobian_is_still_a_disagreement_where_finite_differences_resolve_it():
    off = Mode(
        "finite differences",
        "finite differences",
        "one",
        lambda f, x, k: 1.01 * finite_differences(f, x, k),
        FD_TOL,
    )
    x = np.linspace(-1.0, 1.0, 4)
    pr = runner.run_problem(problems.user(np.sin, x), [*EAGER_AND_FD[:4], off], runner.QUICK)
    fd = pr.rows[-1]
    assert fd.floor < FD_TOL < fd.rel_diff
    assert fd.agrees is False and not fd.unresolved
    res = runner.Results(runner.QUICK, tuple(EAGER_AND_FD), [pr])
    assert any("finite differences" in f for f in res.failures())


def test_the_floor_is_the_rounding_of_f_over_the_smallest_step_on_the_jacobians_scale():
    x = np.array([0.5, 3.0])
    ref = np.diag([2.0, 4.0])
    h = np.cbrt(np.finfo(float).eps)  # the smallest step: |x_i| <= 1 takes h itself
    floor = fd_floor(lambda x: np.array([10.0, -20.0]), x, ref)
    assert floor == np.finfo(float).eps * 20.0 / h / 4.0


def _saturated(x):
    """tanh next to 1: derivatives of 4e-13, which tanh' = 1 - y^2 from a rounded y keeps to
    about 1e-4 (in ad as in PyTorch and JAX); the complex step keeps them to rounding."""
    return np.tanh(x + 15.0)


def _scaled(name, factor):
    """An exact mode that returns reverse mode's Jacobian times factor."""
    return Mode(name, "reverse", "one", lambda f, x, k: factor * ad.jacrev(f)(x))


def test_exact_modes_apart_by_rounding_are_unresolved_where_the_complex_step_says_so():
    x = np.linspace(-0.1, 0.1, 5)
    truth = complex_step_jacobian(_saturated, x)
    base = rel_diff(ad.jacrev(_saturated)(x), truth)
    assert 1e-6 < base < runner.TRUSTED  # the consensus itself is this far from the truth
    rounding = _scaled("rounding", 1 + 3 * base)  # apart from the others by rounding's size
    wrong = _scaled("wrong rule", 1.5)
    modes = [*EAGER_AND_FD[:4], rounding, wrong]
    pr = runner.run_problem(problems.user(_saturated, x), modes, runner.QUICK)
    rows = {r.mode: r for r in pr.rows}
    assert rows["rounding"].unresolved and rows["rounding"].agrees is None
    assert rows["rounding"].floor == pytest.approx(base, rel=1e-6)
    assert rows["wrong rule"].agrees is False and not rows["wrong rule"].unresolved
    res = runner.Results(runner.QUICK, tuple(modes), [pr])
    assert [f.split(":")[1].strip() for f in res.failures()] == ["wrong rule"]
    (line,) = res.unresolved()
    assert "rounding" in line and "complex step" in line


def test_without_a_complex_step_an_exact_mode_apart_stays_a_disagreement():
    """np.abs gives a real modulus of a complex value: no oracle, so no floor."""
    assert complex_step_jacobian(np.abs, np.ones(3)) is None
    x = np.linspace(0.5, 1.0, 3)
    pr = runner.run_problem(
        problems.user(np.abs, x), [*EAGER_AND_FD[:4], _scaled("apart", 1 + 1e-6)], runner.QUICK
    )
    apart = pr.rows[-1]
    assert apart.floor == 0.0 and apart.agrees is False
