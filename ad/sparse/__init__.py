"""Sparse Jacobians and Hessians: detect the pattern by tracing, color it, compress the passes."""

from ad.sparse.coloring import (
    column_coloring,
    is_column_coloring,
    is_row_coloring,
    is_star_coloring,
    row_coloring,
    star_coloring,
)
from ad.sparse.detect import hessian_sparsity, jacobian_sparsity
from ad.sparse.jacobian import (
    SparseHessian,
    SparseJacobian,
    SparsePlan,
    plan,
    prepare_sparse_hessian,
    prepare_sparse_jacobian,
    sparse_hessian,
    sparse_jacobian,
)
from ad.sparse.tracer import ValueDependenceError

__all__ = [
    "SparseHessian",
    "SparseJacobian",
    "SparsePlan",
    "ValueDependenceError",
    "column_coloring",
    "hessian_sparsity",
    "is_column_coloring",
    "is_row_coloring",
    "is_star_coloring",
    "jacobian_sparsity",
    "plan",
    "prepare_sparse_hessian",
    "prepare_sparse_jacobian",
    "row_coloring",
    "sparse_hessian",
    "sparse_jacobian",
    "star_coloring",
]
