"""ad: forward and reverse automatic differentiation of plain NumPy code, side by side."""

from ad import (
    functional,
    numpy,  # noqa: F401  (ad.numpy: NumPy with constructors that take traced values)
    ops,  # noqa: F401  (registers every op)
)
from ad.custom import defop
from ad.forward.api import jacfwd, jvp
from ad.forward.dual import Dual
from ad.functional import hessian, hvp, jacobian
from ad.implicit import implicit_root
from ad.ops.special import log_softmax, logsumexp, relu, sigmoid, softmax, softplus
from ad.reverse.api import grad, jacrev, value_and_grad, vjp
from ad.reverse.checkpoint import checkpoint, checkpoint_sequential
from ad.reverse.compiled import compile
from ad.reverse.optim import SGD
from ad.reverse.tensor import Tensor, enable_grad, from_numpy, is_grad_enabled, no_grad, tensor
from ad.testing import gradcheck

__all__ = [
    "compile",
    "checkpoint",
    "checkpoint_sequential",
    "functional",
    "hessian",
    "hvp",
    "implicit_root",
    "jacobian",
    "SGD",
    "Dual",
    "Tensor",
    "defop",
    "enable_grad",
    "from_numpy",
    "grad",
    "gradcheck",
    "is_grad_enabled",
    "jacfwd",
    "jacrev",
    "jvp",
    "log_softmax",
    "logsumexp",
    "no_grad",
    "relu",
    "sigmoid",
    "softmax",
    "softplus",
    "tensor",
    "value_and_grad",
    "vjp",
]
