"""Linear-algebra functions written with registered ops: lstsq, matrix_power, multi_dot,
tensorsolve, tensorinv, cond; and matrix_rank, an integer (a constant).

A composite runs on the traced values through dispatch, so its derivatives in both modes,
batching, second order and complex numbers come from its parts (pinv, svd, matmul, inv,
solve, norm, reshape). Its value is computed the same way: NumPy's to rounding.
"""

import math
import operator

import numpy as np

from ad.ops.factorizations import with_eigenvalues, with_singular_values
from ad.registry import composite, nondiff
from ad.rules import ndim, shape
from ad.trace import raw


def _square_stack(a, name: str):
    if ndim(a) < 2 or shape(a)[-1] != shape(a)[-2]:
        raise np.linalg.LinAlgError(
            f"numpy.linalg.{name}: the last 2 dimensions of the array must be square; got shape {shape(a)}"
        )


def lstsq(a, b, rcond=None):
    """x = pinv(a, rcond) b, LAPACK's cutoff (rcond = eps max(m, n) by default); residuals
    sum |b - a x|^2 when a is tall and of full rank, else empty (as NumPy); rank an integer
    (a constant); the singular values from svd."""
    if ndim(a) != 2:
        raise np.linalg.LinAlgError(f"{ndim(a)}-dimensional array given. Array must be two-dimensional")
    m, n = shape(a)
    if rcond is None:
        rcond = np.finfo(np.result_type(raw(a), raw(b), 1.0)).eps * max(m, n)
    s = np.linalg.svd(a, compute_uv=False)
    values = raw(s)
    rank = np.int32(np.sum(values > rcond * values[0])) if values.size else np.int32(0)
    x = np.matmul(np.linalg.pinv(a, rcond=rcond), b)
    if rank == n and m > n:
        # |r|^2 through norm, whose derivative r / |r| stays bounded: where |r|^2 overflows, both
        # modes then agree on NaN rather than one multiplying huge numbers sooner than the other
        resid = np.linalg.norm(b - np.matmul(a, x), axis=0) ** 2
        resid = np.reshape(resid, (1,)) if ndim(b) == 1 else resid
    else:
        resid = np.empty((0,), dtype=np.result_type(values))
    return x, resid, rank, s


def matrix_power(a, n):
    """a^n by repeated squaring with matmul; n < 0 through inv(a); n = 0 the identity (a constant)."""
    try:
        n = operator.index(n)
    except TypeError as e:
        raise TypeError(f"exponent must be an integer; got {n!r}") from e
    _square_stack(a, "matrix_power")
    if n == 0:
        return np.broadcast_to(np.eye(shape(a)[-1], dtype=np.result_type(raw(a))), shape(a)).copy()
    if n < 0:
        a, n = np.linalg.inv(a), -n
    result, z = None, None
    while n > 0:
        z = a if z is None else np.matmul(z, z)
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else np.matmul(result, z)
    return result


def _chain_splits(dims):
    """Where to split each sub-chain i..j of matrices dims[i] x dims[i+1] for the fewest
    multiplications (the classic dynamic programme NumPy also runs)."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j], split[i][j] = min(
                (cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1], k) for k in range(i, j)
            )
    return split


def multi_dot(arrays, *, out=None):
    """A0 @ A1 @ ... in the order with the fewest multiplications; a 1-d first (last) array
    is a row (column), as in NumPy."""
    if out is not None:
        raise NotImplementedError(
            "numpy.linalg.multi_dot(..., out=...) is not supported by ad; assign the result"
        )
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ValueError("Expecting at least two arrays.")
    for i, x in enumerate(arrays):
        allowed = (1, 2) if i in (0, len(arrays) - 1) else (2,)
        if ndim(x) not in allowed:
            raise np.linalg.LinAlgError(
                f"{ndim(x)}-dimensional array given. Array must be two-dimensional"
                + (" (one-dimensional only first or last)" if ndim(x) == 1 else "")
            )
    first, last = shape(arrays[0]), shape(arrays[-1])
    dims = [first[0] if len(first) == 2 else 1] + [shape(x)[-1] if ndim(x) == 2 else 1 for x in arrays[:-1]]
    dims.append(last[-1] if len(last) == 2 else 1)
    split = _chain_splits(dims)

    def product(i, j):
        if i == j:
            return arrays[i]
        k = split[i][j]
        return np.matmul(product(i, k), product(k + 1, j))

    return product(0, len(arrays) - 1)


def tensorsolve(a, b, axes=None):
    """x with tensordot(a, x, x.ndim) = b: solve on a reshaped to a square matrix; axes of a
    listed in axes move last first, as in NumPy."""
    if axes is not None:
        moved = [operator.index(k) % ndim(a) for k in axes]
        a = np.transpose(a, [k for k in range(ndim(a)) if k not in moved] + moved)
    x_shape = tuple(shape(a)[ndim(b) :])
    size = math.prod(x_shape)
    if math.prod(shape(a)[: ndim(b)]) != size:
        raise np.linalg.LinAlgError(
            "Input arrays must satisfy the requirement prod(a.shape[b.ndim:]) == prod(a.shape[:b.ndim])"
        )
    return np.reshape(np.linalg.solve(np.reshape(a, (size, size)), np.ravel(b)), x_shape)


def tensorinv(a, ind=2):
    """inv of a reshaped to prod(a.shape[:ind]) rows, reshaped to a.shape[ind:] + a.shape[:ind]."""
    if ind <= 0:
        raise ValueError("Invalid ind argument.")
    s = tuple(shape(a))
    inverse = np.linalg.inv(np.reshape(a, (math.prod(s[:ind]), -1)))
    return np.reshape(inverse, s[ind:] + s[:ind])


def cond(x, p=None):
    """s_max / s_min from svd (p None, 2; -2: s_min / s_max), else norm(x, p) norm(inv(x), p).
    Where x is singular the ratio is inf (NaN from 0 / 0 becomes inf, as in NumPy): a constant."""
    if p is not None and (isinstance(p, str) or p not in (2, -2)):
        _square_stack(x, "cond")
        return np.linalg.norm(x, p, axis=(-2, -1)) * np.linalg.norm(np.linalg.inv(x), p, axis=(-2, -1))
    # Singular x (s_min = 0, or no finite ratio): a constant, NumPy's value (inf; NaN only from a
    # NaN in x); cond_-2 = 0 there, like |x| at 0. Found on the plain values first, so that no
    # rule runs where no derivative exists.
    s = np.linalg.svd(raw(x), compute_uv=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = s[..., -1] / s[..., 0] if p == -2 else s[..., 0] / s[..., -1]
    singular = ~np.isfinite(value) | (s[..., -1] == 0)
    value = np.where(np.isnan(value) & ~np.any(np.isnan(raw(x)), axis=(-2, -1)), np.inf, value)
    if np.all(singular):
        return value
    s = np.linalg.svd(x, compute_uv=False)
    top, bottom = (s[..., -1], s[..., 0]) if p == -2 else (s[..., 0], s[..., -1])
    if not np.any(singular):
        return top / bottom
    return np.where(singular, value, top / np.where(singular, 1.0, bottom))


# -- examples: well-conditioned, full rank, distinct singular values -------------------------


def _lstsq_examples(rng):
    tall = with_singular_values(rng, (2.5, 1.5, 0.6), m=5, n=3)
    wide = with_singular_values(rng, (2.0, 0.9), m=2, n=4)
    return [
        ((tall, rng.uniform(-2, 2, 5)), {}),
        ((tall, rng.uniform(-2, 2, (5, 2))), {}),
        ((wide, rng.uniform(-2, 2, 2)), {}),
        (
            (with_singular_values(rng, (2.0, 1.2, 0.5), m=3, n=3), rng.uniform(-2, 2, (3, 2))),
            {"rcond": 1e-10},
        ),
    ]


def _well_conditioned(rng, *s):
    return rng.uniform(-1, 1, s) + s[-1] * np.eye(s[-1])


def _matrix_power_examples(rng):
    a, stack = 0.5 * _well_conditioned(rng, 3, 3), 0.5 * _well_conditioned(rng, 2, 3, 3)
    return [((a, n), {}) for n in (0, 1, 2, 5, -1, -3)] + [((stack, 3), {})]


def _multi_dot_examples(rng):
    return [((rng.uniform(-1, 1, (3, 3, 3)),), {}), ((rng.uniform(-1, 1, (4, 2, 2)),), {})]


def _tensorsolve_examples(rng):
    return [
        ((_well_conditioned(rng, 6, 6).reshape(2, 3, 6), rng.uniform(-2, 2, (2, 3))), {}),
        ((_well_conditioned(rng, 6, 6).reshape(6, 2, 3), rng.uniform(-2, 2, 6)), {}),
        ((_well_conditioned(rng, 4, 4).reshape(2, 2, 2, 2), rng.uniform(-2, 2, (2, 2))), {"axes": (0,)}),
    ]


def _tensorinv_examples(rng):
    return [
        ((_well_conditioned(rng, 6, 6).reshape(2, 3, 6),), {"ind": 2}),
        ((_well_conditioned(rng, 4, 4).reshape(4, 2, 2),), {"ind": 1}),
    ]


def _cond_examples(rng):
    a = with_singular_values(rng, (2.5, 1.4, 0.5), m=3, n=3)
    return [((a,), {}), ((with_singular_values(rng, (2.0, 0.8), 2, m=4, n=2),), {"p": -2})] + [
        ((with_eigenvalues(rng, (2.0, -1.0, 0.5)),), {"p": p}) for p in ("fro", "nuc", np.inf, 1)
    ]


# fmt: off
composite("lstsq", np.linalg.lstsq, lstsq, examples=_lstsq_examples, analytic=False, complex=True,
          doc="(x, residuals, rank, s): x = pinv(a) b (so full rank: exact; at a rank change, pinv's "
              "constant-rank derivative); residuals |b - a x|^2; rank an integer, no derivative; s from svd")
composite("matrix_power", np.linalg.matrix_power, matrix_power, examples=_matrix_power_examples,
          complex=True, doc="integer n by squaring (n < 0: of inv(a)); n = 0: the identity (a constant)")
composite("multi_dot", np.linalg.multi_dot, multi_dot, examples=_multi_dot_examples, complex=True,
          doc="matmul in the cheapest order")
composite("tensorsolve", np.linalg.tensorsolve, tensorsolve, examples=_tensorsolve_examples, complex=True,
          doc="solve on the reshaped square matrix")
composite("tensorinv", np.linalg.tensorinv, tensorinv, examples=_tensorinv_examples, complex=True,
          doc="inv on the reshaped square matrix")
composite("cond", np.linalg.cond, cond, examples=_cond_examples, analytic=False, smooth=False, complex=True,
          doc="p None/±2: a ratio of singular values from svd; inf, a constant, at a singular x. Other p: "
              "norm(x, p) norm(inv(x), p), which raises for a singular x where NumPy returns inf")
nondiff("matrix_rank", np.linalg.matrix_rank, complex=True, doc="an integer: a constant")
# fmt: on
