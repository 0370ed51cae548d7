"""The cross-mode agreement suite: for every registered op, our forward and reverse engines
against each other (dot-product test, jacfwd == jacrev) and batched against one at a time."""

import numpy as np
import pytest

import ad
from ad import testing

DIFF_OPS = testing.differentiable_ops()


@pytest.mark.parametrize("op", DIFF_OPS, ids=lambda op: op.name)
def test_forward_and_reverse_engines_pass_the_dot_product_test(op):
    rng = np.random.default_rng(6)
    for operands, params, idx in testing.cases(op):
        f = testing.op_function(op, operands, params, idx)
        xs = [np.asarray(operands[i], float) for i in idx]
        us = [rng.standard_normal(x.shape) for x in xs]
        out, vjp_fn = ad.vjp(f, *xs)
        w = testing.random_cotangent(out, rng)
        Ju = testing.jvp_flat(f, xs, us)
        JTw = vjp_fn(w)
        lhs = testing.pairing(Ju, w)
        rhs = testing.pairing(list(us), list(JTw))
        assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs)), f"{op.name}{params}: {lhs} vs {rhs}"


@pytest.mark.parametrize("op", DIFF_OPS, ids=lambda op: op.name)
def test_jacfwd_equals_jacrev(op):
    for operands, params, idx in testing.cases(op):
        if isinstance(testing.apply(op, list(operands), params), tuple | list):
            continue  # multi-output ops: covered by the dot-product test above
        for i in idx:
            x = np.asarray(operands[i], float)
            for f in _real_parts(testing.op_function(op, operands, params, [i]), x):
                testing.assert_close(
                    ad.jacfwd(f, chunk=2)(x),
                    ad.jacrev(f, chunk=3)(x),
                    testing.EXACT_RTOL,
                    testing.EXACT_ATOL,
                    f"{op.name}{params} operand {i}",
                )


def _real_parts(f, x) -> list:
    """[f], or the real and imaginary parts of a complex f (jacfwd and jacrev take real outputs)."""
    if not np.iscomplexobj(f(x)):
        return [f]
    return [lambda x: np.real(f(x)), lambda x: np.imag(f(x))]
