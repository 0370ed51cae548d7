"""Second order of every registered op, iterated from the registry: forward-over-forward
against finite differences of the JVP, and reverse-over-forward against forward-over-forward."""

import numpy as np
import pytest

import ad
from ad import testing

SECOND = [op for op in testing.differentiable_ops() if op.second_order]


@pytest.mark.parametrize("op", SECOND, ids=lambda op: op.name)
def test_second_order_forward_over_forward_and_reverse_over_forward(op):
    rng = np.random.default_rng(7)
    for operands, params, idx in testing.cases(op):
        f = testing.op_function(op, operands, params, idx)
        xs = [np.asarray(operands[i], float) for i in idx]
        us = [rng.standard_normal(x.shape) for x in xs]
        vs = [rng.standard_normal(x.shape) for x in xs]

        def jv(*ys):  # y -> J(y) v, a flat vector of Duals' tangents or arrays
            return ad.jvp(f, tuple(ys), tuple(vs))[1]

        ff = testing.jvp_flat(jv, xs, us)  # d/ds J(x + s u) v
        fd = testing.central_difference(jv, xs, us, h=1e-5)
        testing.assert_close(ff, fd, 1e-5, 1e-6, f"{op.name}{params} fwd-over-fwd vs FD")
        out, vjp_fn = ad.vjp(jv, *xs)
        w = testing.random_cotangent(out, rng)
        rf = vjp_fn(w)
        lhs = testing.pairing(ff, w)
        rhs = testing.pairing(list(us), list(rf))
        assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs)), f"{op.name}{params} rev-over-fwd: {lhs} vs {rhs}"
