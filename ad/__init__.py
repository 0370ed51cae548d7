"""ad: forward and reverse automatic differentiation of plain NumPy code, side by side."""

from ad import ops  # noqa: F401  (registers every op)
from ad.forward.api import jacfwd, jvp
from ad.forward.dual import Dual
from ad.ops.special import log_softmax, logsumexp, relu, sigmoid, softmax, softplus
from ad.registry import defop

__all__ = [
    "Dual",
    "defop",
    "jacfwd",
    "jvp",
    "log_softmax",
    "logsumexp",
    "relu",
    "sigmoid",
    "softmax",
    "softplus",
]
