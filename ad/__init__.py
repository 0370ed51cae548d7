"""ad: forward and reverse automatic differentiation of plain NumPy code, side by side."""

from ad import (
    autograd,  # ad.autograd.grad/backward: PyTorch's torch.autograd on Tensors
    functional,
    numpy,  # noqa: F401  (ad.numpy: NumPy with constructors that take traced values)
    ops,  # noqa: F401  (registers every op)
)
from ad.custom import defop
from ad.forward.api import jacfwd, jvp, linearize
from ad.forward.dual import Dual
from ad.functional import hessian, hvp, jacobian
from ad.implicit import implicit_root
from ad.ops.barriers import stop_gradient
from ad.ops.special import log_softmax, logsumexp, relu, sigmoid, softmax, softplus
from ad.reverse.api import grad, jacrev, value_and_grad, vjp
from ad.reverse.checkpoint import checkpoint, checkpoint_sequential
from ad.reverse.compiled import compile
from ad.reverse.grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from ad.reverse.optim import SGD
from ad.reverse.tensor import Tensor, from_numpy, tensor
from ad.sparse import (
    hessian_sparsity,
    jacobian_sparsity,
    prepare_sparse_hessian,
    prepare_sparse_jacobian,
    sparse_hessian,
    sparse_jacobian,
)
from ad.testing import gradcheck

__all__ = [
    "autograd",
    "compile",
    "checkpoint",
    "checkpoint_sequential",
    "functional",
    "hessian",
    "hvp",
    "implicit_root",
    "inference_mode",
    "jacobian",
    "SGD",
    "Dual",
    "Tensor",
    "defop",
    "enable_grad",
    "from_numpy",
    "grad",
    "gradcheck",
    "hessian_sparsity",
    "is_grad_enabled",
    "jacfwd",
    "jacrev",
    "jacobian_sparsity",
    "jvp",
    "linearize",
    "log_softmax",
    "logsumexp",
    "no_grad",
    "prepare_sparse_hessian",
    "prepare_sparse_jacobian",
    "relu",
    "set_grad_enabled",
    "sigmoid",
    "softmax",
    "softplus",
    "sparse_hessian",
    "sparse_jacobian",
    "stop_gradient",
    "tensor",
    "value_and_grad",
    "vjp",
]
