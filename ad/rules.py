"""How each rule kind becomes a JVP and a VJP; the engines call only `jvp` and `vjp` here.

Tangents/cotangents are None for a symbolic zero (JAX's `Zero`): no work is done for them.
With ``batched`` they carry one leading axis of k directions.
"""

from __future__ import annotations

import operator

import numpy as np

from ad.trace import apply, is_complex, raw


def ndim(x) -> int:
    try:  # not hasattr, then the attribute: a Tensor's ndim is a property, read once this way
        return x.ndim
    except AttributeError:  # a Python number or sequence
        return np.ndim(x)


def shape(x) -> tuple:
    try:
        return x.shape
    except AttributeError:  # a Python number or sequence
        return np.shape(x)


def differentiable(dtype) -> bool:
    """Whether values of dtype have tangents: floating and complex; not int, bool, str or object."""
    return np.dtype(dtype).kind in "fc"  # np.issubdtype(dtype, np.inexact), without its cost


def tangent_dtype(x) -> np.dtype:
    """The dtype of x's tangents and cotangents: x's own when differentiable, float64 otherwise."""
    v = raw(x)
    dt = v.dtype if hasattr(v, "dtype") else np.asarray(v).dtype
    return dt if differentiable(dt) else np.dtype(np.float64)


def real_dtype(x) -> np.dtype:
    """The real float dtype of x's tangents: float32 for float32 and complex64 x (the dtype of
    a 0/1 mask, an identity or a count a rule builds beside them)."""
    return np.finfo(tangent_dtype(x)).dtype


def zeros(x, prefix: tuple = (), dtype=None) -> np.ndarray:
    """A symbolic zero made concrete: prefix + shape(x), in x's tangent dtype unless dtype is given."""
    return np.zeros(prefix + tuple(shape(x)), dtype=tangent_dtype(x) if dtype is None else dtype)


_EYES: dict = {}


def eye(n: int, dtype) -> np.ndarray:
    """The n x n identity in dtype, read-only and cached (a few at a time): a one-pass set of
    one-hot seeds is a view of it, and a rule that receives all of it may skip its product
    with it (is_eye). Read-only, so that no rule can change a later seed."""
    key = (n, np.dtype(dtype))
    found = _EYES.get(key)
    if found is None:
        if len(_EYES) >= 8:
            _EYES.clear()
        found = _EYES[key] = np.eye(n, dtype=dtype)
        found.flags.writeable = False
    return found


def is_eye(t) -> bool:
    """Whether t is a whole cached identity (eye), itself or a view of all of it: a batch of
    tangents or cotangents that seeds every direction at once, so that a linear rule may
    return its own matrix (A I = A) instead of a product with it."""
    if type(t) is not np.ndarray or t.ndim != 2 or t.shape[0] != t.shape[1]:
        return False
    found = _EYES.get((t.shape[0], t.dtype))
    return found is not None and (t is found or (t.base is found and t.strides == found.strides))


def product_with_eye(m, seed):
    """m times the identity seed (m I = I m = m) as NumPy's product gives it, made without
    the product: a new array m + 0.0 in the product's dtype (the product's sums of zeros turn
    -0.0 into +0.0), computed now, so that a later in-place write to m does not reach it.
    None where m has an inf or a NaN: there 0 * inf puts NaNs in the product, which only the
    product itself reproduces, and a Jacobian must not depend on how many passes made it."""
    if m.dtype.kind not in "biufc" or not np.isfinite(m).all():  # object arrays: the product's own error
        return None
    return np.add(m, 0.0, dtype=np.result_type(m.dtype, seed.dtype))


def negative_axis(axis, nd: int) -> int:
    """axis of an nd-array as a negative number, which names the same axis past a leading batch axis."""
    if isinstance(axis, bool | np.bool_):  # operator.index takes True as 1; NumPy refuses it
        raise TypeError(f"an integer is required for the axis; got the bool {axis!r}")
    axis = operator.index(axis)
    if not -nd <= axis < nd:
        raise np.exceptions.AxisError(axis, nd)
    return axis - nd if axis >= 0 else axis


def nonneg_axis(axis, nd: int) -> int:
    """axis of an nd-array as a number in [0, nd), for rules that name axes by position in the primal."""
    return negative_axis(axis, nd) + nd


def negative_axes(axis, nd: int) -> tuple:
    """axis (None: every axis, an int, or a sequence) as a tuple of negative axes, in the order given."""
    if axis is None:
        return tuple(range(-nd, 0))
    return tuple(negative_axis(a, nd) for a in ((axis,) if np.ndim(axis) == 0 else axis))


def align(t, in_ndim: int, out_ndim: int, batched: bool):
    """Give a batched tangent of an in_ndim operand the axes that broadcast it to out_ndim."""
    if not batched or in_ndim >= out_ndim:
        return t
    s = shape(t)
    return np.reshape(t, (s[0],) + (1,) * (out_ndim - in_ndim) + tuple(s[1:]))


def unbroadcast(g, target_shape: tuple, batched: bool = False):
    """Sum g over the axes broadcasting added to an operand of target_shape (VJP of broadcast)."""
    b = 1 if batched else 0
    if tuple(shape(g)[b:]) == target_shape:
        return g
    extra = ndim(g) - b - len(target_shape)
    if extra > 0:
        g = np.sum(g, axis=tuple(range(b, b + extra)))
    gs = shape(g)
    axes = tuple(b + i for i, s in enumerate(target_shape) if s == 1 and gs[b + i] != 1)
    if axes:
        g = np.sum(g, axis=axes, keepdims=True)
    return g


def out_shape(out, batched: bool, k: int | None):
    s = tuple(shape(out))
    return ((k,) + s) if batched else s


def _batch_size(xs) -> int:
    for x in xs:
        if x is not None:
            return shape(x)[0]
    raise ValueError("no batched value to take the batch size from")


def _stack(parts):
    """Stack per-direction results, which may be None, arrays, or tuples of them."""
    first = parts[0]
    if isinstance(first, tuple | list):
        return tuple(_stack([p[i] for p in parts]) for i in range(len(first)))
    if first is None:
        return None
    return np.stack(parts)


def jvp(op, tangents, primals, out, params, batched=False):
    """Tangent of op's output given tangents of its operands (None where zero)."""
    if all(t is None for t in tangents):
        return None
    if batched and op.loop_batch:
        k = _batch_size(tangents)
        return _stack(
            [jvp(op, [None if t is None else t[i] for t in tangents], primals, out, params) for i in range(k)]
        )
    kind = op.kind
    if kind == "elementwise":
        acc = None
        ond = ndim(out)
        for t, d, x in zip(tangents, op.derivs, primals):
            if t is None:
                continue
            term = _scale(align(t, ndim(x), ond, batched), d, primals, out)
            acc = term if acc is None else acc + term
        target = out_shape(out, batched, shape(acc)[0] if batched else None)
        if tuple(shape(acc)) != target:
            acc = np.broadcast_to(acc, target)
        # A real output of complex input (abs, angle) declares d = 2 ∂f/∂z: its JVP is Re(t d).
        if is_complex(acc) and not is_complex(out):
            acc = np.real(acc)
        return acc
    if kind == "linear":
        # a zero tangent joins the others in their dtype (concatenate would promote otherwise)
        dt = np.result_type(*(tangent_dtype(t) for t in tangents if t is not None))
        pre = (_batch_size(tangents),) if batched else ()
        ts = [zeros(p, pre, dt) if t is None else t for t, p in zip(tangents, primals)]
        return op.batched_impl(*ts, **params) if batched else apply(op, ts, params)
    if kind == "bilinear":
        (a, b), (ta, tb) = primals, tangents
        impl = op.batched_impl if batched and op.batched_impl else None
        terms = []
        if ta is not None:
            terms.append(impl(ta, b, 0, **params) if impl else apply(op, (ta, b), params))
        if tb is not None:
            terms.append(impl(a, tb, 1, **params) if impl else apply(op, (a, tb), params))
        return terms[0] if len(terms) == 1 else terms[0] + terms[1]
    if kind == "general":
        return op.jvp_rule(tangents, primals, out, params, batched)
    raise TypeError(f"op {op.name!r} of kind {kind!r} has no JVP")


def vjp(op, ct, primals, out, params, batched=False, needs=None):
    """Cotangents of op's operands (a sequence, None where not needed) given the output's.

    Elementwise ops, the hottest rule kind (never looped over a batch), are done here
    without another call: unbroadcast(ct * d_i) for each needed operand i. An unbatched
    product that is a NumPy float64 scalar has its operand's shape already (a cotangent has
    its output's shape, and every operand of a 0-d output is 0-d) and is real, so that it
    needs neither unbroadcast nor the real part a complex output asks for.
    """
    if op.kind == "elementwise":
        cts = []
        scalars = not batched  # every product a float64 scalar so far
        i = 0
        for d in op.derivs:
            if needs is not None and not needs[i]:
                cts.append(None)
                i += 1
                continue
            if callable(d):
                g = ct * d(*primals, out)
            elif d == 1:
                g = ct
            else:
                g = -ct if d == -1 else ct * d
            if type(g) is not _FLOAT64 or batched:
                scalars = False
                x = primals[i]
                try:
                    shaped = not batched and g.shape == x.shape
                except AttributeError:  # a Python number
                    shaped = False
                if not shaped:
                    g = unbroadcast(g, tuple(shape(x)), batched)
            cts.append(g)
            i += 1
        if scalars or not op.complex:  # without complex rules, operands and output are real
            return cts
    elif batched and op.loop_batch:
        k = _batch_size(ct if isinstance(ct, tuple | list) else [ct])
        return _stack([vjp(op, _index(ct, i), primals, out, params, False, needs) for i in range(k)])
    else:
        if op.vjp_takes_needs:
            cts = tuple(op.vjp_rule(ct, primals, out, params, batched, needs=needs or [True] * len(primals)))
        else:
            cts = tuple(op.vjp_rule(ct, primals, out, params, batched))
        if len(cts) != len(primals):  # the reverse engine pairs them with the operands' edges
            raise ValueError(
                f"the VJP rule of {op.name!r} returned {len(cts)} cotangents for {len(primals)} "
                "operands: return one per operand, None for an operand that needs none"
            )
    t = type(out)  # the types of nearly every output answered first: is_complex costs a call
    if t is _FLOAT64 or t is _ARRAY and out.dtype.kind != "c":
        return cts
    return _real_where_real(tuple(cts), primals) if is_complex(out) else cts


# module globals: np.float64 is a global and an attribute lookup, a hot loop's measurable cost
_ARRAY, _FLOAT64 = np.ndarray, np.float64


def _real_where_real(cts, primals):
    """The cotangent of a real operand of a complex output is its real part: the transpose
    of NumPy's promotion of that operand to complex."""
    return tuple(
        np.real(c) if c is not None and is_complex(c) and not is_complex(x) else c
        for c, x in zip(cts, primals)
    )


def _scale(t, d, primals, out):
    """t * d, where a partial declared as the number 1 or -1 costs no multiply."""
    if callable(d):
        return t * d(*primals, out)
    if d == 1:
        return t
    if d == -1:
        return -t
    return t * d


def _index(ct, i):
    if isinstance(ct, tuple | list):
        return type(ct)(c[i] for c in ct)
    return ct[i]
