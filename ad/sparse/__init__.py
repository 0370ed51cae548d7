"""Sparse Jacobians and Hessians: detect the pattern by tracing, color it, compress the passes."""

from ad.sparse.detect import hessian_sparsity, jacobian_sparsity
from ad.sparse.tracer import ValueDependenceError

__all__ = ["ValueDependenceError", "hessian_sparsity", "jacobian_sparsity"]
