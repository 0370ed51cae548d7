"""Every registered op's JVP, iterated from the registry: against central differences, the
complex step where the op is real-analytic, and batched tangents against one at a time."""

import numpy as np
import pytest

import ad  # noqa: F401  (registers the ops)
from ad import testing

DIFF_OPS = testing.differentiable_ops()


def _directions(operands, idx, rng, k=None):
    shape = lambda x: (() if k is None else (k,)) + np.shape(x)  # noqa: E731
    return [rng.standard_normal(shape(operands[i])) for i in idx]


@pytest.mark.parametrize("op", DIFF_OPS, ids=lambda op: op.name)
def test_jvp_matches_central_differences(op):
    rng = np.random.default_rng(1)
    cases = list(testing.cases(op))
    assert cases, f"{op.name} has no differentiable example"
    for operands, params, idx in cases:
        f = testing.op_function(op, operands, params, idx)
        xs = [np.asarray(operands[i], float) for i in idx]
        vs = _directions(operands, idx, rng)
        testing.assert_close(
            testing.jvp_flat(f, xs, vs),
            testing.central_difference(f, xs, vs),
            testing.FD_RTOL,
            testing.FD_ATOL,
            f"{op.name}{params} JVP vs finite differences",
        )


@pytest.mark.parametrize("op", [op for op in DIFF_OPS if op.analytic], ids=lambda op: op.name)
def test_jvp_matches_complex_step(op):
    rng = np.random.default_rng(2)
    for operands, params, idx in testing.cases(op):
        f = testing.op_function(op, operands, params, idx)
        xs = [np.asarray(operands[i], float) for i in idx]
        vs = _directions(operands, idx, rng)
        testing.assert_close(
            testing.jvp_flat(f, xs, vs),
            testing.complex_step(f, xs, vs),
            testing.CS_RTOL,
            testing.CS_ATOL,
            f"{op.name}{params} JVP vs complex step",
        )


@pytest.mark.parametrize("op", DIFF_OPS, ids=lambda op: op.name)
def test_batched_jvp_equals_one_direction_at_a_time(op):
    rng = np.random.default_rng(3)
    k = 3
    for operands, params, idx in testing.cases(op):
        f = testing.op_function(op, operands, params, idx)
        xs = [np.asarray(operands[i], float) for i in idx]
        Vs = _directions(operands, idx, rng, k)
        batched = testing.batched_jvp(f, xs, Vs)
        flat_b = [testing._flat(testing.direction(batched, j)) for j in range(k)]
        for j in range(k):
            one = testing.jvp_flat(f, xs, [V[j] for V in Vs])
            testing.assert_close(
                flat_b[j],
                one,
                testing.EXACT_RTOL,
                testing.EXACT_ATOL,
                f"{op.name}{params} batched direction {j}",
            )
