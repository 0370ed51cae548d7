"""NumPy 2's array-API functions: cumulative_sum and _prod, vecdot, matvec, vecmat, matrix_transpose, unstack.

Each is written with registered ops (cumsum, cumprod, concatenate, matmul, sum, conj,
swapaxes, getitem), so derivatives, batching, second order and complex numbers come from
the parts. vecdot and vecmat conjugate their first operand, as NumPy does.
"""

import numpy as np

from ad import rules
from ad.registry import composite
from ad.trace import is_complex, raw


def _refuse(name: str, kwargs: dict):
    if kwargs:
        raise NotImplementedError(
            f"ad: numpy.{name} options {sorted(kwargs)} are not supported; move the axes with "
            "np.moveaxis and cast the operands first"
        )


def _cumulative(name: str, running, initial: float):
    def cumulative(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
        """The running sum (product) along axis; include_initial puts 0 (1) first."""
        if out is not None:
            raise NotImplementedError(f"ad: numpy.{name}(..., out=...) is not supported; assign the result")
        nd = rules.ndim(x)
        if axis is None:
            if nd != 1:
                raise ValueError("axis must be specified for multi-dimensional arrays.")
            axis = 0
        axis = rules.negative_axis(axis, nd)
        if dtype is not None and np.dtype(dtype) != raw(x).dtype:
            x = x.astype(dtype)
        y = running(x, axis=axis)
        if not include_initial:
            return y
        shape = list(rules.shape(x))
        shape[axis] = 1
        return np.concatenate([np.full(shape, initial, raw(y).dtype), y], axis=axis)

    return cumulative


def _last(x, axis: int):
    """x with axis moved last (NumPy's gufunc axis= picks the core axis of each operand)."""
    return x if axis == -1 else np.moveaxis(x, axis, -1)


def _conj(x):
    return np.conjugate(x) if is_complex(x) else x


def _vecdot(x1, x2, /, *, axis=-1, **kwargs):
    """sum(conj(x1) * x2) over the last axis (or axis), broadcasting the others."""
    _refuse("vecdot", kwargs)
    return np.sum(_conj(_last(x1, axis)) * _last(x2, axis), axis=-1)


def _matvec(x1, x2, /, **kwargs):
    """x1 @ x2 for stacks of matrices x1 (..., m, n) and vectors x2 (..., n)."""
    _refuse("matvec", kwargs)
    return np.matmul(x1, x2[..., None])[..., 0]


def _vecmat(x1, x2, /, **kwargs):
    """conj(x1) @ x2 for stacks of vectors x1 (..., n) and matrices x2 (..., n, m)."""
    _refuse("vecmat", kwargs)
    return np.matmul(_conj(x1)[..., None, :], x2)[..., 0, :]


def _matrix_transpose(x, /):
    """The last two axes swapped."""
    if rules.ndim(x) < 2:
        raise ValueError("Input array must be at least 2-dimensional")
    return np.swapaxes(x, -1, -2)


def _unstack(x, /, *, axis=0):
    """The slices along axis, as a tuple."""
    if rules.ndim(x) == 0:
        raise ValueError("Input array must be at least 1-d.")
    moved = np.moveaxis(x, axis, 0)
    return tuple(moved[i] for i in range(rules.shape(moved)[0]))


# -- examples: the call as NumPy takes it ---------------------------------------------------


def _u(rng, *shape):
    return rng.uniform(-2.0, 2.0, shape)


def _examples(*calls):
    return lambda rng: [call(rng) for call in calls]


_CUMULATIVE = _examples(
    lambda rng: ((_u(rng, 5),), {}),
    lambda rng: ((_u(rng, 3, 4),), {"axis": 1, "include_initial": True}),
    lambda rng: ((_u(rng, 2, 3, 2),), {"axis": 0}),
)
# fmt: off
composite("cumulative_sum", np.cumulative_sum, _cumulative("cumulative_sum", np.cumsum, 0.0),
          examples=_CUMULATIVE, complex=True, doc="cumsum, with include_initial a zero first")
composite("cumulative_prod", np.cumulative_prod, _cumulative("cumulative_prod", np.cumprod, 1.0),
          examples=_CUMULATIVE, complex=True, doc="cumprod, with include_initial a one first")
composite("vecdot", np.vecdot, _vecdot, complex=True, analytic=False,
          examples=_examples(lambda rng: ((_u(rng, 3, 4), _u(rng, 4)), {}),
                             lambda rng: ((_u(rng, 3, 2), _u(rng, 3, 2)), {"axis": 0})),
          doc="sum(conj(x1) * x2, axis): conjugates x1, so not holomorphic in it")
composite("matvec", np.matvec, _matvec, complex=True,
          examples=_examples(lambda rng: ((_u(rng, 3, 4), _u(rng, 4)), {}),
                             lambda rng: ((_u(rng, 2, 3, 4), _u(rng, 1, 4)), {})))
composite("vecmat", np.vecmat, _vecmat, complex=True, analytic=False,
          examples=_examples(lambda rng: ((_u(rng, 3), _u(rng, 3, 4)), {}),
                             lambda rng: ((_u(rng, 2, 3), _u(rng, 3, 2)), {})),
          doc="conj(x1) @ x2: conjugates x1, so not holomorphic in it")
composite("matrix_transpose", np.matrix_transpose, _matrix_transpose, complex=True,
          examples=_examples(lambda rng: ((_u(rng, 3, 4),), {}), lambda rng: ((_u(rng, 2, 3, 4),), {})))
composite("unstack", np.unstack, _unstack, complex=True,
          examples=_examples(lambda rng: ((_u(rng, 3, 4),), {}),
                             lambda rng: ((_u(rng, 2, 3, 4),), {"axis": -1})))
# fmt: on
