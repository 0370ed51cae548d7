"""NumPy 2's numpy.linalg functions of the array API: matmul, outer, tensordot, trace, diagonal, ....

Also matrix_transpose, vecdot, cross, svdvals, matrix_norm and vector_norm. Each is its
numpy-namespace counterpart fixed to the last axes (trace, diagonal, matrix_norm) or to
stricter operands (outer of vectors, cross of 3-vectors), written with registered ops
(matmul, outer, tensordot, trace, diagonal, swapaxes, vecdot, cross, svd, norm, reshape,
transpose), so derivatives, batching, second order and complex numbers come from the parts.
"""

import math

import numpy as np

from ad import rules
from ad.ops.factorizations import with_singular_values
from ad.registry import composite
from ad.trace import raw


def _matmul(x1, x2, /):
    """x1 @ x2."""
    return np.matmul(x1, x2)


def _outer(x1, x2, /):
    """x1_i x2_j of two vectors (numpy.outer ravels; numpy.linalg.outer refuses other shapes)."""
    if rules.ndim(x1) != 1 or rules.ndim(x2) != 1:
        raise ValueError(
            "Input arrays must be one-dimensional, but they are "
            f"x1.ndim={rules.ndim(x1)} and x2.ndim={rules.ndim(x2)}."
        )
    return np.outer(x1, x2)


def _tensordot(x1, x2, /, *, axes=2):
    """The sum over the paired axes of x1 and x2 (numpy.tensordot, axes keyword-only)."""
    return np.tensordot(x1, x2, axes=axes)


def _trace(x, /, *, offset=0, dtype=None):
    """The sum of the offset diagonal of each matrix (the last two axes)."""
    if dtype is not None and np.dtype(dtype) != raw(x).dtype:
        x = x.astype(dtype)
    return np.trace(x, offset, -2, -1)


def _diagonal(x, /, *, offset=0):
    """The offset diagonal of each matrix (the last two axes): a view, as in NumPy."""
    return np.diagonal(x, offset, -2, -1)


def _matrix_transpose(x, /):
    """The last two axes swapped."""
    return np.matrix_transpose(x)


def _vecdot(x1, x2, /, *, axis=-1):
    """sum(conj(x1) * x2) over axis."""
    return np.vecdot(x1, x2, axis=axis)


def _cross(x1, x2, /, *, axis=-1):
    """x1 x x2 of 3-vectors along axis (numpy.cross also takes 2-vectors; this refuses them)."""
    n1, n2 = rules.shape(x1)[axis], rules.shape(x2)[axis]
    if n1 != 3 or n2 != 3:
        raise ValueError(
            "Both input arrays must be (arrays of) 3-dimensional vectors, "
            f"but they are {n1} and {n2} dimensional instead."
        )
    return np.cross(x1, x2, axis=axis)


def _svdvals(x, /):
    """The singular values of each matrix, in decreasing order: svd(x, compute_uv=False)."""
    return np.linalg.svd(x, compute_uv=False)


def _matrix_norm(x, /, *, keepdims=False, ord="fro"):
    """norm(x, ord) of each matrix (the last two axes)."""
    return np.linalg.norm(x, ord, axis=(-2, -1), keepdims=keepdims)


def _vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    """The ord-norm of x's entries over axis taken together as one vector: every entry for
    axis None, the entries of each slice for a tuple (a vector norm, never a matrix norm)."""
    nd, shape = rules.ndim(x), tuple(rules.shape(x))
    axes = rules.negative_axes(axis, nd)
    if axis is None:
        v, along = np.ravel(x), 0
    elif isinstance(axis, tuple):
        if len(set(axes)) != len(axes):
            raise ValueError("repeated axis")
        rest = tuple(a for a in range(-nd, 0) if a not in axes)
        moved = np.transpose(x, axes + rest)
        v, along = np.reshape(moved, (math.prod(shape[a] for a in axes), *(shape[a] for a in rest))), 0
    else:
        v, along = x, rules.negative_axis(axis, nd)
    y = np.linalg.norm(v, ord, axis=along)
    if not keepdims:
        return y
    return np.reshape(y, tuple(1 if a - nd in axes else n for a, n in enumerate(shape)))


# -- examples: the call as NumPy takes it ---------------------------------------------------


def _u(rng, *shape):
    return rng.uniform(-2.0, 2.0, shape)


def _examples(*calls):
    return lambda rng: [call(rng) for call in calls]


def _one(kwargs, *shape):
    """A call on one operand of the given shape."""
    return lambda rng: ((_u(rng, *shape),), kwargs)


# Matrices whose extreme singular values and row and column sums of |x| are well apart:
# the 2, -2, nuc, 1 and inf norms are smooth there.
def _matrix_norm_examples(rng):
    a = with_singular_values(rng, (2.5, 1.4, 0.5), m=3, n=3)
    b = with_singular_values(rng, (2.0, 0.7), 2, m=4, n=2)  # a stack of two 4 x 2 matrices
    calls = [((a,), {}), ((b,), {"keepdims": True}), ((a,), {"ord": "nuc"}), ((b,), {"ord": 2})]
    calls += [((b,), {"ord": -2, "keepdims": True})]
    diagonal = np.diag([2.0, -1.0, 0.5]) + 0.1 * _u(rng, 3, 3)  # one row and one column dominate
    calls += [((diagonal,), {"ord": p}) for p in (1, -1, np.inf, -np.inf)]
    return calls


# fmt: off
composite("linalg_matmul", np.linalg.matmul, _matmul, complex=True, examples=_examples(
    lambda rng: ((_u(rng, 3, 4), _u(rng, 4, 2)), {}),
    lambda rng: ((_u(rng, 2, 3, 4), _u(rng, 4)), {})))
composite("linalg_outer", np.linalg.outer, _outer, complex=True,
          examples=_examples(lambda rng: ((_u(rng, 3), _u(rng, 4)), {})),
          doc="of two vectors; other shapes raise, as in NumPy")
composite("linalg_tensordot", np.linalg.tensordot, _tensordot, complex=True, examples=_examples(
    lambda rng: ((_u(rng, 2, 3, 4), _u(rng, 3, 4, 2)), {}),
    lambda rng: ((_u(rng, 3, 4), _u(rng, 4, 3)), {"axes": ([1, 0], [0, 1])}),
    lambda rng: ((_u(rng, 3), _u(rng, 2)), {"axes": 0})))
composite("linalg_trace", np.linalg.trace, _trace, complex=True, examples=_examples(
    _one({}, 3, 3), _one({"offset": 1}, 2, 3, 4), _one({"offset": -1}, 4, 3)),
    doc="over the last two axes")
composite("linalg_diagonal", np.linalg.diagonal, _diagonal, complex=True,
          examples=_examples(_one({}, 3, 4), _one({"offset": -1}, 2, 3, 3)),
          doc="of the last two axes; a view of x, as np.diagonal")
composite("linalg_matrix_transpose", np.linalg.matrix_transpose, _matrix_transpose, complex=True,
          examples=_examples(_one({}, 3, 4), _one({}, 2, 3, 4)))
composite("linalg_vecdot", np.linalg.vecdot, _vecdot, complex=True, analytic=False, examples=_examples(
    lambda rng: ((_u(rng, 3, 4), _u(rng, 4)), {}),
    lambda rng: ((_u(rng, 3, 2), _u(rng, 3, 1)), {"axis": 0})),
    doc="sum(conj(x1) * x2, axis): conjugates x1, so not holomorphic in it")
composite("linalg_cross", np.linalg.cross, _cross, complex=True, examples=_examples(
    lambda rng: ((_u(rng, 4, 3), _u(rng, 3)), {}),
    lambda rng: ((_u(rng, 3, 2), _u(rng, 3, 2)), {"axis": 0})),
    doc="of 3-vectors only; 2-vectors raise, as in NumPy")
composite("svdvals", np.linalg.svdvals, _svdvals, analytic=False, complex=True, examples=_examples(
    lambda rng: ((with_singular_values(rng, (3.0, 1.8, 0.7), m=4, n=3),), {}),
    lambda rng: ((with_singular_values(rng, (2.0, 0.6), 2, m=2, n=3),), {})),
    doc="svd(x, compute_uv=False): distinct singular values")
composite("matrix_norm", np.linalg.matrix_norm, _matrix_norm, examples=_matrix_norm_examples,
          complex=True, analytic=False, smooth=False,
          doc="norm(x, ord, axis=(-2, -1)): its conventions at ties and at 0")
composite("vector_norm", np.linalg.vector_norm, _vector_norm, complex=True, analytic=False, smooth=False,
          examples=_examples(
              _one({}, 3, 4), _one({"axis": (0, 2)}, 2, 3, 4),
              _one({"axis": (-1, 0), "keepdims": True}, 2, 3, 2),
              _one({"axis": 1, "ord": 1}, 3, 4), _one({"ord": np.inf}, 2, 3), _one({"ord": -np.inf}, 5),
              _one({"ord": 0, "axis": 0}, 2, 3), _one({"ord": 3.5, "keepdims": True}, 2, 2),
              _one({"ord": -1.5, "axis": (1,)}, 2, 3)),
          doc="norm of the entries over axis flattened into one vector; its conventions at ties and at 0")
# fmt: on
