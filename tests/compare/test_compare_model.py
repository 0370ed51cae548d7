"""The cost model: the notes' formulas, the passes, and which mode it says should win."""

import numpy as np
import pytest

from ad.compare import model, problems


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
