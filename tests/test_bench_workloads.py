"""The benchmarks' reference workloads compute what they claim to."""

import pathlib
import sys

import numpy as np
import pytest

import ad

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "asv_bench"))
from benchmarks import workloads  # noqa: E402


@pytest.mark.parametrize("n", [3, 600])  # 600: the streamed outer kernel
def test_mlp_by_hand_is_ad_s_gradient(n):
    """The floor the weight-gradient target is read against must be the same gradient."""
    x, W1, W2 = workloads.mlp_data(n, seed=1)
    f = lambda x, W1, W2: np.sum(np.tanh(W2 @ np.tanh(W1 @ x)))
    dW1, dW2 = workloads.mlp_by_hand(x, W1, W2, "weights")
    want = ad.grad(f, (1, 2))(x, W1, W2)
    np.testing.assert_allclose(dW1, want[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dW2, want[1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(workloads.mlp_by_hand(x, W1, W2, "x"), ad.grad(f)(x, W1, W2), rtol=1e-12)
