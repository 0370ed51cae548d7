"""Every registered op's VJP rule against its JVP by the dot-product test, and batched
cotangents against one at a time (the rules alone; the reverse engine is tested in tests/reverse)."""

import numpy as np
import pytest

import ad  # noqa: F401
from ad import testing

DIFF_OPS = testing.differentiable_ops()


@pytest.mark.parametrize("op", DIFF_OPS, ids=lambda op: op.name)
def test_dot_product_jvp_against_vjp(op):
    rng = np.random.default_rng(4)
    for operands, params, idx in testing.cases(op):
        lhs, rhs = testing.dot_product_test(op, operands, params, idx, rng)
        assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs)), (
            f"{op.name}{params}: <Ju,w>={lhs} <u,J^T w>={rhs}"
        )


@pytest.mark.parametrize("op", DIFF_OPS, ids=lambda op: op.name)
def test_batched_cotangents_equal_one_at_a_time(op):
    rng = np.random.default_rng(5)
    k = 3
    for operands, params, idx in testing.cases(op):
        out = testing.apply(op, list(operands), params)
        W = testing.random_cotangent(out, rng, k)
        batched = testing.rule_vjp(op, operands, params, idx, W, batched=True)
        for j in range(k):
            one = testing.rule_vjp(op, operands, params, idx, testing.direction(W, j))
            for b, o in zip(batched, one):
                testing.assert_close(
                    b[j],
                    o,
                    testing.EXACT_RTOL,
                    testing.EXACT_ATOL,
                    f"{op.name}{params} batched cotangent {j}",
                )
