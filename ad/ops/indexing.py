"""Indexing, the other gathers (take, repeat, diag, diagonal, pad, sort), scatter-add, where and select."""

import numpy as np

from ad import rules
from ad.kernels import scatter as scatter_kernels
from ad.registry import composite, general, linear
from ad.trace import Box, apply, raw

# ---------------------------------------------------------------------------------------
# The index is a param, normalised once by the parse: a tuple with the Ellipsis spelled out.
# Such an index leaves every trailing axis alone, so the batched rules move the k directions
# last, index, and move them back to the front: whatever NumPy does with advanced indices
# (it moves their axes to the front when they are not adjacent), a trailing axis stays last.


def _item(i):
    i = raw(i)
    return np.asarray([raw(v) for v in i]) if isinstance(i, list) else i


def _consumed(i) -> int:
    """How many axes of x one index item uses up (a boolean mask uses its ndim)."""
    if i is None or i is Ellipsis:
        return 0
    if isinstance(i, bool | np.bool_ | np.ndarray) and np.issubdtype(np.result_type(i), np.bool_):
        return np.ndim(i)
    return 1


def normalize_index(index, nd: int) -> tuple:
    """index as a tuple of plain items with no Ellipsis, for an nd-array."""
    items = [_item(i) for i in (index if isinstance(index, tuple) else (index,))]
    dots = [j for j, i in enumerate(items) if i is Ellipsis]
    if len(dots) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if dots:
        items[dots[0] : dots[0] + 1] = (slice(None),) * (nd - sum(map(_consumed, items)))
    return tuple(items)


def gather(t, index, batched: bool = False):
    """t[index]; batched: the same index for each of the k directions along t's axis 0."""
    if batched:
        return np.moveaxis(np.moveaxis(t, 0, -1)[index], -1, 0)
    return t[index]


def scatter(ct, shape: tuple, index, batched: bool = False):
    """The transpose of gather, through the scatter_add op (so that it differentiates too)."""
    if batched:
        params = {"shape": tuple(shape) + (rules.shape(ct)[0],), "index": index}
        return np.moveaxis(apply(SCATTER_ADD, (np.moveaxis(ct, 0, -1),), params), -1, 0)
    return apply(SCATTER_ADD, (ct,), {"shape": tuple(shape), "index": index})


def _gather_transpose(ct, xs, out, p, batched):
    """VJP of x[index]: scatter-add the cotangent into zeros shaped like x."""
    return (scatter(ct, rules.shape(xs[0]), p["index"], batched),)


def _gather_op(name: str, handles, parse, examples, **kw):
    """An op that is x[index] for the index its parse builds: getitem's rules under another signature.

    Its VJP scatter-adds through the numba kernel when the index picks rows (or a batch of
    cotangents rides along), hence ``kernel``."""
    return linear(
        name,
        handles,
        _gather_transpose,
        impl=lambda x, index: x[index],
        batched_impl=lambda t, index: gather(t, index, True),
        parse=parse,
        examples=examples,
        kernel=scatter_kernels,
        lowering="moves",
        **kw,
    )


# ---------------------------------------------------------------------------------------
# Parses: each NumPy signature becomes an explicit index.


def _getitem_parse(x, index):
    return (x,), {"index": normalize_index(index, rules.ndim(x))}


def _take_parse(a, indices, axis=None, out=None, mode="raise"):
    """take(a, i, axis) = a[:, ..., :, i] with i at axis; axis=None reads a flattened."""
    if out is not None:
        raise NotImplementedError("ad: numpy.take(..., out=...) would drop the derivative; assign the result")
    if axis is None:
        a, axis = np.ravel(a), 0
    axis = rules.nonneg_axis(axis, rules.ndim(a))
    n, i = rules.shape(a)[axis], np.asarray(raw(indices))
    if mode == "wrap":
        i = i % n
    elif mode == "clip":
        i = np.clip(i, 0, n - 1)
    elif mode != "raise":
        raise ValueError(f"numpy.take: mode must be 'raise', 'wrap' or 'clip', not {mode!r}")
    return (a,), {"index": (slice(None),) * axis + (i,)}


def _along_axis_index(indices, shape: tuple, axis: int) -> tuple:
    """The index take_along_axis reads: `indices` at axis, a broadcast arange along every other axis."""
    nd = len(shape)
    if np.ndim(indices) != nd:
        raise ValueError("`indices` and `arr` must have the same number of dimensions")
    axis = rules.nonneg_axis(axis, nd)
    return tuple(
        indices if d == axis else np.arange(n).reshape((1,) * d + (-1,) + (1,) * (nd - d - 1))
        for d, n in enumerate(shape)
    )


def _take_along_axis_parse(arr, indices, axis=-1):
    if axis is None:
        arr, axis = np.ravel(arr), 0
    return (arr,), {"index": _along_axis_index(np.asarray(raw(indices)), tuple(rules.shape(arr)), axis)}


def _repeat_parse(a, repeats, axis=None):
    """repeat(a, r, axis) = take(a, [0]*r0 + [1]*r1 + ..., axis)."""
    if axis is None:
        a, axis = np.ravel(a), 0
    axis = rules.nonneg_axis(axis, rules.ndim(a))
    runs = np.repeat(np.arange(rules.shape(a)[axis]), raw(repeats))
    return (a,), {"index": (slice(None),) * axis + (runs,)}


# ---------------------------------------------------------------------------------------
# Diagonals: diag reads or writes the k-th diagonal; diagonal reads it along two axes.


def _diag_index(k: int, rows: int, cols: int) -> tuple:
    """(row, column) indices of the k-th diagonal of a rows x cols matrix."""
    i = np.arange(max(0, min(rows, cols - k) - max(0, -k))) + max(0, -k)
    return i, i + k


def _diag_parse(v, k=0):
    if rules.ndim(v) not in (1, 2):
        raise ValueError("Input must be 1- or 2-d.")
    return (v,), {"k": int(k)}


def _diag_batched(t, k):
    s = tuple(rules.shape(t)[1:])
    if len(s) == 1:
        n = s[0] + abs(k)
        return scatter(t, (n, n), _diag_index(k, n, n), True)
    return gather(t, _diag_index(k, *s), True)


def _diag_transpose(ct, xs, out, p, batched):
    """VJP of diag: read the k-th diagonal back (vector input) or scatter onto it (matrix input)."""
    x = xs[0]
    if rules.ndim(x) == 1:
        n = rules.shape(x)[0] + abs(p["k"])
        return (gather(ct, _diag_index(p["k"], n, n), batched),)
    return (scatter(ct, rules.shape(x), _diag_index(p["k"], *rules.shape(x)), batched),)


def _diagonal_parse(a, offset=0, axis1=0, axis2=1):
    nd = rules.ndim(a)
    return (a,), {
        "offset": int(offset),
        "axis1": rules.negative_axis(axis1, nd),
        "axis2": rules.negative_axis(axis2, nd),
    }


def _diagonal_transpose(ct, xs, out, p, batched):
    """VJP of diagonal: scatter onto the diagonal of zeros with axis1, axis2 last; move them back."""
    s, a1, a2 = tuple(rules.shape(xs[0])), p["axis1"], p["axis2"]
    rest = tuple(n for i, n in enumerate(s) if i - len(s) not in (a1, a2))
    index = (slice(None),) * len(rest) + _diag_index(p["offset"], s[a1], s[a2])
    return (np.moveaxis(scatter(ct, rest + (s[a1], s[a2]), index, batched), (-2, -1), (a1, a2)),)


# ---------------------------------------------------------------------------------------
# pad is affine: constant mode embeds x at an index of the output; the other linear modes
# (edge, reflect, symmetric, wrap) gather x at np.ix_ of the padded aranges.

_GATHER_PAD_MODES = ("edge", "reflect", "symmetric", "wrap")


def _holds_box(v) -> bool:
    return isinstance(v, Box) or (isinstance(v, list | tuple) and any(map(_holds_box, v)))


def _pad_parse(array, pad_width, mode="constant", **kwargs):
    s = tuple(rules.shape(array))
    widths = np.broadcast_to(np.round(np.asarray(raw(pad_width))).astype(int), (len(s), 2))
    if np.any(widths < 0):
        raise ValueError("index can't contain negative values")
    if mode == "constant":
        if _holds_box(kwargs.get("constant_values")):
            raise NotImplementedError(
                "ad: numpy.pad does not differentiate constant_values; pad with 0 and "
                "add the constant times a mask instead"
            )
        index = tuple(slice(b, b + n) for (b, _), n in zip(widths, s, strict=True))
    elif mode in _GATHER_PAD_MODES and kwargs.get("reflect_type", "even") == "even":
        index = np.ix_(*(np.pad(np.arange(n), w, mode) for n, w in zip(s, widths, strict=True)))
    else:
        raise NotImplementedError(
            f"ad: numpy.pad mode {mode!r} with options {kwargs} is not supported; "
            f"use 'constant', or one of {_GATHER_PAD_MODES} with reflect_type='even'"
        )
    pad_width = tuple((int(b), int(e)) for b, e in widths)
    return (array,), {"pad_width": pad_width, "mode": mode, "index": index, **kwargs}


def _pad(x, pad_width, mode, index, **kwargs):
    return np.pad(x, pad_width, mode, **kwargs)


def _pad_jvp(ts, xs, out, p, batched):
    """JVP of pad: the tangent embedded in zeros (constant mode) or gathered like x (other modes)."""
    if p["mode"] == "constant":
        return scatter(ts[0], rules.shape(out), p["index"], batched)
    return gather(ts[0], p["index"], batched)


def _pad_vjp(ct, xs, out, p, batched):
    """VJP of pad: crop the cotangent (constant mode) or scatter-add it back (other modes)."""
    if p["mode"] == "constant":
        return (gather(ct, p["index"], batched),)
    return (scatter(ct, rules.shape(xs[0]), p["index"], batched),)


# ---------------------------------------------------------------------------------------
# sort: a permutation of x, which take_along_axis applies to tangents and cotangents.


def _sort_parse(a, axis=-1, kind=None, order=None, *, stable=None):
    if order is not None:
        raise NotImplementedError("ad: numpy.sort(..., order=...) sorts structured arrays; not supported")
    if axis is None:
        a, axis = np.ravel(a), -1
    return (a,), {"axis": rules.negative_axis(axis, rules.ndim(a)), "kind": "stable" if stable else kind}


def _sort_jvp(ts, xs, out, p, batched):
    """JVP of sort: take_along_axis(t, argsort(x))."""
    perm = np.argsort(xs[0], axis=p["axis"], kind=p["kind"])
    return np.take_along_axis(ts[0], perm[None] if batched else perm, axis=p["axis"])


def _sort_vjp(ct, xs, out, p, batched):
    """VJP of sort: the inverse permutation, take_along_axis(g, argsort(argsort(x)))."""
    inverse = np.argsort(np.argsort(xs[0], axis=p["axis"], kind=p["kind"]), axis=p["axis"])
    return (np.take_along_axis(ct, inverse[None] if batched else inverse, axis=p["axis"]),)


# ---------------------------------------------------------------------------------------
# where and select pick each entry from one operand: tangents and cotangents are picked the
# same way, so the branch not taken contributes nothing to a JVP, not even a NaN (a blend
# c * ta + (1 - c) * tb would make 0 * nan = nan). A VJP still multiplies the zero cotangent
# it routes to that branch by the branch's own derivative: sqrt'(0) = inf makes 0 * inf = nan
# in np.where(x > 0, np.sqrt(x), 0) at x = 0, in reverse mode, exactly as in JAX and PyTorch.


def _where_parse(condition, *branches):
    if len(branches) != 2:
        raise NotImplementedError(
            "ad: numpy.where(condition) with one argument is numpy.nonzero, which returns indices "
            "and has no derivative; pass both branches, numpy.where(condition, x, y)"
        )
    return (condition, *branches), {}


def _picked(t, x, out, batched):
    """A tangent of operand x ready to be picked into out's shape (0 where symbolically zero)."""
    return 0.0 if t is None else rules.align(t, rules.ndim(x), rules.ndim(out), batched)


def _full(t, out, batched, k):
    """t broadcast to out's shape (with the k directions in front when batched)."""
    target = rules.out_shape(out, batched, k)
    return t if tuple(rules.shape(t)) == target else np.broadcast_to(t, target)


def _lead_size(ts, batched):
    return next(rules.shape(t)[0] for t in ts if t is not None) if batched else None


def _where_jvp(ts, xs, out, p, batched):
    """JVP of where: where(c, ta, tb)."""
    (c, x, y), (_, ta, tb) = xs, ts
    t = np.where(raw(c), _picked(ta, x, out, batched), _picked(tb, y, out, batched))
    return _full(t, out, batched, _lead_size(ts, batched))


def _where_vjp(g, xs, out, p, batched, needs):
    """VJP of where: where(c, g, 0) to x, where(c, 0, g) to y."""
    c, x, y = xs
    c = raw(c)
    gx = rules.unbroadcast(np.where(c, g, 0.0), tuple(rules.shape(x)), batched) if needs[1] else None
    gy = rules.unbroadcast(np.where(c, 0.0, g), tuple(rules.shape(y)), batched) if needs[2] else None
    return None, gx, gy


def _select_parse(condlist, choicelist, default=0.0):
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    return (default, *choicelist), {"conds": tuple(np.asarray(raw(c)) for c in condlist)}


def _select(default, *choices, conds):
    return np.select(list(conds), list(choices), default)


def _select_jvp(ts, xs, out, p, batched):
    """JVP of select: select(conds, tangents of the choices, tangent of the default)."""
    picked = [_picked(t, x, out, batched) for t, x in zip(ts, xs)]
    t = np.select(list(p["conds"]), picked[1:], picked[0])
    return _full(t, out, batched, _lead_size(ts, batched))


def _select_vjp(g, xs, out, p, batched, needs):
    """VJP of select: g where operand i was picked, 0 elsewhere (select of g and zeros)."""
    conds, n = list(p["conds"]), len(xs) - 1
    cts = []
    for i, (x, need) in enumerate(zip(xs, needs)):
        if not need:
            cts.append(None)
            continue
        picked = np.select(conds, [g if j == i - 1 else 0.0 for j in range(n)], g if i == 0 else 0.0)
        cts.append(rules.unbroadcast(picked, tuple(rules.shape(x)), batched))
    return tuple(cts)


# ---------------------------------------------------------------------------------------
# Examples the registry-driven tests run: post-parse (operands, params), operands float.


def _x(rng, *s):
    return rng.uniform(-2, 2, s)


def _getitem_examples(rng):
    x = _x(rng, 4, 5, 3)
    indices = [
        2,
        (slice(None, None, -2), 1),
        (Ellipsis, 0),
        (None, slice(1, 3), Ellipsis, None),
        np.array([0, 2, 2, 3]),  # a repeated row: its cotangent accumulates
        (slice(None), [4, 0, 4]),
        ([0, 3], slice(None), [1, 2]),  # advanced indices apart: NumPy moves their axis first
        (1, slice(None), [0, 2]),
        ([[0, 1], [3, 3]], Ellipsis, -1),
        x > 0,
        (rng.uniform(size=(4, 5)) > 0.5, 1),
        (Ellipsis, np.array([True, False, True])),
        (1, 2, 0),
    ]
    return [_getitem_parse(x, i) for i in indices] + [_getitem_parse(_x(rng), None)]


def _scatter_add_examples(rng):
    cases = [
        ((4, 5), (np.array([0, 0, 3, 0]),)),
        ((4, 5), (slice(1, 3), slice(None, None, 2))),
        ((4, 5), (rng.uniform(size=(4, 5)) > 0.5,)),
        ((4, 5, 3), (np.array([1, 1]), slice(None), np.array([2, 2]))),
    ]
    return [((_x(rng, *np.zeros(s)[i].shape),), {"shape": s, "index": i}) for s, i in cases]


def _take_examples(rng):
    x = _x(rng, 3, 4)
    return [
        _take_parse(x, [2, 0, 2], axis=1),
        _take_parse(x, [[0, 5], [11, 11]]),
        _take_parse(x, 1, axis=-2),
        _take_parse(x, [-1, 4, 7], axis=1, mode="wrap"),
        _take_parse(x, [-1, 4], axis=0, mode="clip"),
    ]


def _take_along_axis_examples(rng):
    x = _x(rng, 3, 4)
    return [
        _take_along_axis_parse(x, np.argsort(x, axis=1), axis=1),
        _take_along_axis_parse(x, np.array([[0, 2, 2, 1]]), axis=0),
        _take_along_axis_parse(x, np.array([[3], [0], [3]]), axis=-1),
        _take_along_axis_parse(x, np.array([11, 0, 0]), axis=None),
    ]


def _repeat_examples(rng):
    x = _x(rng, 2, 3)
    return [_repeat_parse(x, 2), _repeat_parse(x, [1, 0, 3], axis=1), _repeat_parse(x, 3, axis=-2)]


def _diag_examples(rng):
    return [
        _diag_parse(_x(rng, 4)),
        _diag_parse(_x(rng, 3), -2),
        _diag_parse(_x(rng, 3, 5)),
        _diag_parse(_x(rng, 3, 5), 2),
        _diag_parse(_x(rng, 4, 3), -1),
    ]


def _diagonal_examples(rng):
    x = _x(rng, 3, 4, 5)
    return [
        _diagonal_parse(_x(rng, 4, 4)),
        _diagonal_parse(x, 1),
        _diagonal_parse(x, -1, 2, 0),
        _diagonal_parse(x, 0, -1, -2),
    ]


def _pad_examples(rng):
    x = _x(rng, 3, 4)
    return [
        _pad_parse(x, 2),
        _pad_parse(x, ((1, 0), (2, 3)), constant_values=1.5),
        _pad_parse(x, (0, 2), mode="edge"),
        _pad_parse(x, ((2, 1), (5, 3)), mode="reflect"),
        _pad_parse(x, 4, mode="symmetric"),
        _pad_parse(x, ((7, 1), (0, 9)), mode="wrap"),
        _pad_parse(_x(rng, 5), (3, 1), mode="reflect"),
    ]


def _select_examples(rng):
    x = _x(rng, 3, 4)
    conds = [x > 0.5, x < -0.5, x > 0.0]
    return [
        _select_parse(conds, [_x(rng, 3, 4), _x(rng, 4), _x(rng, 3, 1)], _x(rng, 3, 4)),
        _select_parse(conds[:2], [_x(rng, 3, 4), _x(rng)], 0.0),
    ]


def _sort_examples(rng):
    x = _x(rng, 3, 5)
    return [_sort_parse(x), _sort_parse(x, axis=0), _sort_parse(x, axis=None, kind="stable")]


# ---------------------------------------------------------------------------------------
# The ops.


def _ix(*args):
    """np.ix_: each sequence reshaped to its own axis of an open mesh; a traced one keeps its
    values (a reshape), a plain one is NumPy's (bool masks become indices)."""
    plain = np.ix_(*(raw(a) for a in args))  # NumPy's checks and shapes
    # a boolean mask, traced or not, becomes NumPy's indices of its true entries
    traced = [isinstance(a, Box) and raw(a).dtype != bool for a in args]
    return tuple(np.reshape(a, p.shape) if t else p for a, p, t in zip(args, plain, traced))


def _ix_examples(rng):
    return [((rng.uniform(-1, 1, 3), rng.uniform(-1, 1, 2)), {})]


# fmt: off
_gather_op("getitem", np.ndarray.__getitem__, _getitem_parse, _getitem_examples,
           doc="x[index]: basic, integer-array and boolean indexing; VJP scatter-adds into zeros",
           view=True, complex=True)
SCATTER_ADD = linear("scatter_add", (), lambda ct, xs, out, p, batched: (gather(ct, p["index"], batched),),
                     impl=scatter_kernels.scatter_add, kernel=scatter_kernels,
                     batched_impl=lambda t, shape, index: scatter(t, shape, index, True),
                     examples=_scatter_add_examples,
                     doc="zeros(shape) with x added at index (np.add.at semantics); getitem's transpose "
                         "and vice versa", complex=True)
_gather_op("take", np.take, _take_parse, _take_examples, doc="x[:, ..., i] with i at axis", complex=True)
_gather_op("take_along_axis", np.take_along_axis, _take_along_axis_parse, _take_along_axis_examples,
           doc="x at `indices` along axis and an arange along the other axes", complex=True)
_gather_op("repeat", np.repeat, _repeat_parse, _repeat_examples,
           doc="a gather of each entry r times; VJP sums each run", complex=True)
linear("diag", np.diag, _diag_transpose, batched_impl=_diag_batched, parse=_diag_parse,
       examples=_diag_examples, doc="vector -> matrix (a scatter) or matrix -> its k-th diagonal (a gather)",
       complex=True)
linear("diagonal", np.diagonal, _diagonal_transpose, batched_impl=np.diagonal, parse=_diagonal_parse,
       examples=_diagonal_examples, complex=True, view=True, lowering="moves")
general("pad", np.pad, _pad_jvp, _pad_vjp, impl=_pad, parse=_pad_parse, examples=_pad_examples,
        doc="affine: constant mode embeds x (VJP crops); edge, reflect, symmetric, wrap gather from x",
        complex=True, vjp_reads_shapes=True)
general("sort", np.sort, _sort_jvp, _sort_vjp, parse=_sort_parse, examples=_sort_examples, complex=True,
        doc="a permutation of x: JVP and VJP permute by argsort(x) (same kind: at ties, NumPy's permutation)")
general("where", np.where, _where_jvp, _where_vjp, parse=_where_parse, domain=("bool", "real", "real"),
        complex=True, lowering="select",
        doc="JVP where(c, ta, tb): no NaN from the branch not taken; VJP where(c, g, 0): a NaN or inf "
            "derivative of the branch not taken gives NaN, as in JAX and PyTorch")
general("select", np.select, _select_jvp, _select_vjp, impl=_select, parse=_select_parse,
        examples=_select_examples, complex=True,
        doc="where with several conditions; tangents and cotangents picked alike")
composite("ix_", np.ix_, _ix, examples=_ix_examples, complex=True,
          doc="each traced sequence reshaped to its axis of the open mesh")
# fmt: on
