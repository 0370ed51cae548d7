"""Every op with a numba kernel, from the registry: primal, JVP and VJP (one direction and
k at once) with every kernel forced on equal those with every kernel off, on the op's examples."""

import numpy as np
import pytest

from ad import registry, testing
from ad.kernels import elementwise, scatter, softmax
from ad.trace import apply

KERNEL_OPS = [op for op in registry.all_ops() if op.kernel is not None]


def _derivatives(op):
    """Everything the engines compute for op on its examples, flattened into one array."""
    rng = np.random.default_rng(0)
    parts = []
    for operands, params in testing.examples(op):
        out = apply(op, list(operands), params)
        parts.append(np.ravel(out))
        idx = testing.differentiable(op, operands)
        if not idx:
            continue
        f = testing.op_function(op, operands, params, idx)
        xs = [np.asarray(operands[i], float) for i in idx]
        parts.append(testing.jvp_flat(f, xs, [rng.standard_normal(np.shape(x)) for x in xs]))
        parts.append(testing.batched_jvp(f, xs, [rng.standard_normal((3,) + np.shape(x)) for x in xs]))
        parts.extend(testing.rule_vjp(op, operands, params, idx, testing.random_cotangent(out, rng)))
        parts.extend(testing.rule_vjp(op, operands, params, idx, testing.random_cotangent(out, rng, 3), True))
    return np.concatenate([np.ravel(p) for p in parts])


def test_the_coverage_table_marks_the_kernel_ops():
    assert {op.name for op in KERNEL_OPS} == {
        "getitem", "take", "take_along_axis", "repeat", "scatter_add",
        "sigmoid", "softplus", "tanh", "logsumexp", "softmax", "log_softmax", "sin", "cos",
    }  # fmt: skip


@pytest.mark.parametrize("op", KERNEL_OPS, ids=lambda op: op.name)
def test_kernels_on_and_off_give_the_same_derivatives(op, forced, monkeypatch):
    on = _derivatives(op)
    for module in (elementwise, softmax, scatter):
        monkeypatch.setattr(module, "plain", lambda *arrays: False)
    off = _derivatives(op)
    testing.assert_close(on, off, 1e-13, 1e-14, f"{op.name}: kernels on against off")
