"""Differences, sums and products along axes: diff, ediff1d, gradient, trapezoid, cross, kron, polyval.

Each is written with registered ops (slices, arithmetic, concatenate, sum), the way NumPy
computes it, so derivatives, batching, second order and complex numbers come from the parts.
"""

import operator

import numpy as np

from ad import rules
from ad.ops.reductions import along
from ad.registry import composite
from ad.trace import Box, raw

_NOT_GIVEN = object()  # diff's prepend/append: None is a value NumPy would try to use


def as_array(v):
    """v itself when traced, else as a NumPy array (a list of numbers, a scalar)."""
    return v if isinstance(v, Box) else np.asarray(v)


def _step(a, axis: int):
    """a[1:] - a[:-1] along axis."""
    return a[along(axis, slice(1, None))] - a[along(axis, slice(None, -1))]


# ---------------------------------------------------------------------------------------
# diff, ediff1d


def _diff_end(v, a, axis: int):
    """prepend/append as NumPy joins it: a scalar becomes one slice of a's shape along axis."""
    if rules.ndim(v) == 0:
        shape = list(rules.shape(a))
        shape[axis] = 1
        return np.broadcast_to(v, tuple(shape))
    return v


def _diff(a, n=1, axis=-1, prepend=_NOT_GIVEN, append=_NOT_GIVEN):
    """The n-th difference a[1:] - a[:-1], applied n times along axis."""
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"order must be non-negative but got {n}")
    if n == 0:
        return a
    a = as_array(a)
    if rules.ndim(a) == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = rules.negative_axis(axis, rules.ndim(a))
    ends = [_diff_end(v, a, axis) if v is not _NOT_GIVEN else None for v in (prepend, append)]
    if any(v is not None for v in ends):
        a = np.concatenate([v for v in (ends[0], a, ends[1]) if v is not None], axis=axis)
    for _ in range(n):
        a = _step(a, axis)
    return a


def _ediff1d(ary, to_end=None, to_begin=None):
    """ravel(ary)[1:] - ravel(ary)[:-1], with to_begin and to_end (raveled) at its ends, in the
    operands' common dtype (NumPy casts to ary's, and refuses a complex to_begin for a real ary)."""
    x = np.ravel(ary)
    parts = [np.ravel(v) for v in (to_begin,) if v is not None]
    parts.append(_step(x, -1))
    parts += [np.ravel(v) for v in (to_end,) if v is not None]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


# ---------------------------------------------------------------------------------------
# gradient: second-order central differences inside, one-sided differences of order
# edge_order at the two ends; uniform spacing h, or sample coordinates.


def _uniform(f, axis, h, edge_order):
    d = _step(f, axis)  # written with differences, so that no derivative cancels terms of f's size
    s = lambda sl: d[along(axis, sl)]  # noqa: E731
    inside = (s(slice(1, None)) + s(slice(None, -1))) / (2.0 * h)
    if edge_order == 1:
        first, last = s(slice(0, 1)) / h, s(slice(-1, None)) / h
    else:  # f'(0) = (-3 f0 + 4 f1 - f2) / 2h = (3 d0 - d1) / 2h, and its mirror image at the end
        first = (3.0 * s(slice(0, 1)) - s(slice(1, 2))) / (2.0 * h)
        last = (3.0 * s(slice(-1, None)) - s(slice(-2, -1))) / (2.0 * h)
    return np.concatenate([first, inside, last], axis=axis)


def _nonuniform(f, axis, dx, edge_order):
    """The same for steps dx: the slope at each sample of the parabola through it and its neighbours."""
    d = _step(f, axis)
    s = lambda sl: d[along(axis, sl)]  # noqa: E731
    column = (-1,) + (1,) * (-axis - 1)
    h1, h2 = np.reshape(dx[:-1], column), np.reshape(dx[1:], column)
    inside = h2 / (h1 * (h1 + h2)) * s(slice(None, -1)) + h1 / (h2 * (h1 + h2)) * s(slice(1, None))
    if edge_order == 1:
        first, last = s(slice(0, 1)) / dx[0], s(slice(-1, None)) / dx[-1]
    else:  # the slope of the parabola through the first (last) three samples, at the end one
        h1, h2 = dx[0], dx[1]
        d1, d2 = s(slice(0, 1)), s(slice(1, 2))
        first = (2 * h1 + h2) / (h1 * (h1 + h2)) * d1 - h1 / (h2 * (h1 + h2)) * d2
        h1, h2 = dx[-2], dx[-1]
        d1, d2 = s(slice(-2, -1)), s(slice(-1, None))
        last = (2 * h2 + h1) / (h2 * (h1 + h2)) * d2 - h2 / (h1 * (h1 + h2)) * d1
    return np.concatenate([first, inside, last], axis=axis)


def _gradient_axes(axis, nd: int) -> tuple:
    axes = rules.negative_axes(axis, nd)
    if len(set(axes)) != len(axes):
        raise ValueError("repeated axis")
    return axes


def _gradient(f, *varargs, axis=None, edge_order=1):
    """df/dx along each axis by finite differences; one array for one axis, else a tuple."""
    f = as_array(f)
    if not isinstance(f, Box) and not rules.differentiable(f.dtype):
        f = f.astype(np.float64)
    nd = rules.ndim(f)
    axes = _gradient_axes(axis, nd)
    if not varargs:
        spacing = [1.0] * len(axes)
    elif len(varargs) == 1 and rules.ndim(varargs[0]) == 0:
        spacing = list(varargs) * len(axes)
    elif len(varargs) == len(axes):
        spacing = list(varargs)
    else:
        raise TypeError("invalid number of arguments")
    if edge_order not in (1, 2):
        raise ValueError(f"edge_order must be 1 or 2, got {edge_order}")
    out = []
    for ax, h in zip(axes, spacing):
        n = rules.shape(f)[ax]
        if n < edge_order + 1:
            raise ValueError(
                "Shape of array too small to calculate a numerical gradient, "
                "at least (edge_order + 1) elements are required."
            )
        if rules.ndim(h) == 0:
            out.append(_uniform(f, ax, h, edge_order))
            continue
        if rules.ndim(h) != 1:
            raise ValueError("distances must be either scalars or 1d")
        if rules.shape(h)[0] != n:
            raise ValueError("when 1d, distances must match the length of the corresponding dimension")
        h = as_array(h)
        dx = _step(h if isinstance(h, Box) or rules.differentiable(h.dtype) else h.astype(float), -1)
        # equal constant steps: the uniform formulas, as NumPy picks them (traced coordinates
        # keep the general ones, whose derivative in each coordinate is the right one)
        if not isinstance(dx, Box) and np.all(dx == dx[0]):
            out.append(_uniform(f, ax, dx[0], edge_order))
        else:
            out.append(_nonuniform(f, ax, dx, edge_order))
    return out[0] if len(out) == 1 else tuple(out)


# ---------------------------------------------------------------------------------------
# trapezoid, cross, kron, polyval


def _trapezoid(y, x=None, dx=1.0, axis=-1):
    """sum of d (y[1:] + y[:-1]) / 2 along axis, d = diff(x) or dx."""
    y = as_array(y)
    axis = rules.negative_axis(axis, rules.ndim(y))
    if x is None:
        d = dx
    else:
        x = as_array(x)
        if rules.ndim(x) == 1:
            d = np.reshape(_step(x, -1), (-1,) + (1,) * (-axis - 1))
        else:
            d = _step(x, axis)
    ends = y[along(axis, slice(1, None))] + y[along(axis, slice(None, -1))]
    return np.sum(d * ends / 2.0, axis=axis)


def _component(v, i: int, n: int):
    """Component i of vectors v along the last axis, None for the z of 2-vectors."""
    return v[..., i] if i < n else None


def _minus(p, q):
    """p - q where None is zero (a product with a missing z component)."""
    if q is None:
        return p
    return -q if p is None else p - q


def _times(a, b):
    return None if a is None or b is None else a * b


def _cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """a x b of 3-vectors (2-vectors get z = 0; two 2-vectors give the z component alone)."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = np.moveaxis(as_array(a), axisa, -1), np.moveaxis(as_array(b), axisb, -1)
    na, nb = rules.shape(a)[-1], rules.shape(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError("incompatible dimensions for cross product\n(dimension must be 2 or 3)")
    a0, a1, a2 = (_component(a, i, na) for i in range(3))
    b0, b1, b2 = (_component(b, i, nb) for i in range(3))
    z = a0 * b1 - a1 * b0
    if na == 2 and nb == 2:
        return z
    x = _minus(_times(a1, b2), _times(a2, b1))
    y = _minus(_times(a2, b0), _times(a0, b2))
    shape = np.broadcast_shapes(*(tuple(rules.shape(c)) for c in (x, y, z)))
    return np.moveaxis(np.stack([np.broadcast_to(c, shape) for c in (x, y, z)], axis=-1), -1, axisc)


def _kron(a, b):
    """Blocks a[i] * b: a with a length-1 axis after each axis, times b with one before each, reshaped."""
    a, b = as_array(a), as_array(b)
    na, nb = rules.ndim(a), rules.ndim(b)
    if na == 0 or nb == 0:
        return a * b
    nd = max(na, nb)
    sa = (1,) * (nd - na) + tuple(rules.shape(a))
    sb = (1,) * (nd - nb) + tuple(rules.shape(b))
    spread_a = np.reshape(a, tuple(v for n in sa for v in (n, 1)))
    spread_b = np.reshape(b, tuple(v for n in sb for v in (1, n)))
    return np.reshape(spread_a * spread_b, tuple(p * q for p, q in zip(sa, sb)))


def _polyval(p, x):
    """p[0] x^(n-1) + ... + p[n-1] by Horner's rule.

    NumPy starts from y = 0 * x (NaN where x is infinite or NaN) and adds p[0]: the same
    value here, but 0 * x enters as a constant, whose derivative 0 never meets an infinite
    cotangent (0 * inf) in reverse mode."""
    if not isinstance(p, list | tuple):
        p = as_array(p)
    x = as_array(x)
    if len(p) == 0:
        return np.zeros_like(x)
    y = np.zeros_like(x) * raw(x) + p[0]
    for c in p[1:]:
        y = y * x + c
    return y


# ---------------------------------------------------------------------------------------
# Examples: (operands, params) as NumPy takes them; float operands are differentiated.


def _x(rng, *s):
    return rng.uniform(-2, 2, s)


def _diff_examples(rng):
    x = _x(rng, 3, 5)
    return [
        ((x,), {}),
        ((x, 2, 0), {}),
        ((x, 1, -1, _x(rng), _x(rng, 3, 2)), {}),
        ((_x(rng, 6), 3, 0, _x(rng, 2)), {}),
        ((x,), {"n": 0}),
    ]


def _ediff1d_examples(rng):
    return [((_x(rng, 2, 3),), {}), ((_x(rng, 4), _x(rng, 2), _x(rng)), {})]


def _gradient_examples(rng):
    f = _x(rng, 4, 5)
    return [
        ((f,), {}),
        ((f, rng.uniform(0.5, 2.0)), {"axis": 1, "edge_order": 2}),
        ((f, rng.uniform(0.5, 2.0), np.cumsum(rng.uniform(0.5, 1.5, 5))), {"edge_order": 1}),
        ((f, np.cumsum(rng.uniform(0.5, 1.5, 4))), {"axis": 0, "edge_order": 2}),
        ((_x(rng, 3), np.array([0.0, 0.5, 1.0])), {"edge_order": 2}),
    ]


def _trapezoid_examples(rng):
    y = _x(rng, 3, 5)
    return [
        ((y,), {}),
        ((y, np.cumsum(rng.uniform(0.5, 1.5, 3))), {"axis": 0}),
        ((y, np.cumsum(rng.uniform(0.5, 1.5, (3, 5)), axis=1)), {}),
        ((y,), {"dx": rng.uniform(0.5, 2.0)}),
    ]


def _cross_examples(rng):
    return [
        ((_x(rng, 4, 3), _x(rng, 4, 3)), {}),
        ((_x(rng, 3, 2), _x(rng, 2, 3)), {"axisa": 0, "axisc": 0}),
        ((_x(rng, 3), _x(rng, 4, 2)), {}),
        ((_x(rng, 2), _x(rng, 3)), {}),
        ((_x(rng, 5, 2), _x(rng, 2)), {}),
    ]


def _kron_examples(rng):
    return [
        ((_x(rng, 2, 3), _x(rng, 3, 2)), {}),
        ((_x(rng, 3), _x(rng, 2, 2)), {}),
        ((_x(rng, 2, 1, 2), _x(rng, 2)), {}),
        ((_x(rng), _x(rng, 3)), {}),
    ]


def _polyval_examples(rng):
    return [((_x(rng, 4), _x(rng, 3, 2)), {}), ((_x(rng, 3, 2), _x(rng, 2)), {}), ((_x(rng, 1), _x(rng)), {})]


# NumPy 2 renamed trapz to trapezoid, and later removed trapz
_TRAPEZOID = tuple(getattr(np, name) for name in ("trapezoid", "trapz") if hasattr(np, name))

# fmt: off
composite("diff", np.diff, _diff, examples=_diff_examples, complex=True,
          doc="a[1:] - a[:-1] n times along axis, after joining prepend and append")
composite("ediff1d", np.ediff1d, _ediff1d, examples=_ediff1d_examples, complex=True,
          doc="diff of the raveled array, with to_begin and to_end")
composite("gradient", np.gradient, _gradient, examples=_gradient_examples, complex=True,
          doc="central differences inside, one-sided of edge_order 1 or 2 at the ends; spacing "
              "scalars or coordinates (both differentiable)")
composite("trapezoid", _TRAPEZOID, _trapezoid, examples=_trapezoid_examples, complex=True,
          doc="sum of diff(x) (y[1:] + y[:-1]) / 2; differentiable in y, x and dx; also np.trapz")
composite("cross", np.cross, _cross, examples=_cross_examples, complex=True,
          doc="bilinear; 2-vectors get a zero z component")
composite("kron", np.kron, _kron, examples=_kron_examples, complex=True,
          doc="a product of a and b spread over interleaved axes, reshaped")
composite("polyval", np.polyval, _polyval, examples=_polyval_examples, complex=True,
          doc="Horner's rule; differentiable in the coefficients and in x")
# fmt: on
