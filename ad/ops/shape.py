"""Shape ops (reshapes, axis permutations, joins, splits, flips, rolls, tiles, triangles); zeros_like and
the index-valued functions (argsort, nonzero, searchsorted ...)."""

import numpy as np

from ad import rules
from ad.registry import linear, nondiff
from ad.trace import Box, raw

# Parses store axes as negative numbers: they then name the same axis of a tangent or
# cotangent that carries a leading batch axis, so most batched rules are the op itself.


def _lead(t, batched: bool) -> tuple:
    """The batch axis of t as a shape prefix: (k,) when batched, else ()."""
    return (rules.shape(t)[0],) if batched else ()


def _only_c_order(name: str, order):
    if order not in ("C", None):  # None is NumPy's 'C' for reshape and ravel
        raise NotImplementedError(f"ad: numpy.{name}(..., order={order!r}) is not supported; use order='C'")


def _self_transpose(f):
    """The transpose of an op that is its own adjoint (swapaxes, flip, triu): apply it again."""
    return lambda ct, xs, out, p, batched: (f(ct, **p),)


def _reshape_back(ct, xs, out, p, batched):
    """VJP of any reshape: the cotangent reshaped to x's shape."""
    return (np.reshape(ct, _lead(ct, batched) + tuple(rules.shape(xs[0]))),)


# ---------------------------------------------------------------------------------------
# Reshapes and permutations.


def _reshape_parse(a, shape=None, order="C", *, newshape=None, copy=None):
    _only_c_order("reshape", order)
    shape = newshape if shape is None else shape
    return (a,), {"shape": (shape,) if np.ndim(shape) == 0 else tuple(shape)}


def _ravel_parse(a, order="C"):
    _only_c_order("ravel", order)
    return (a,), {}


_ATLEAST = {  # the shape atleast_{n}d gives an operand of shape s
    1: lambda s: (1,) * (1 - len(s)) + s,
    2: lambda s: (1,) * (2 - len(s)) + s,
    3: lambda s: {0: (1, 1, 1), 1: (1, *s, 1), 2: (*s, 1)}.get(len(s), s),
}


def _atleast_parse(n: int):
    """The parse of atleast_{n}d: each operand becomes a reshape."""
    return lambda *arys: (arys, {"shapes": tuple(_ATLEAST[n](tuple(rules.shape(a))) for a in arys)})


def _reshape_each(*xs, shapes, batched=False):
    """Each operand reshaped to its shape; one array back for one operand (like atleast_1d)."""
    outs = tuple(np.reshape(x, _lead(x, batched) + s) for x, s in zip(xs, shapes, strict=True))
    return outs[0] if len(outs) == 1 else outs


def _reshape_each_back(ct, xs, out, p, batched):
    cts = (ct,) if len(xs) == 1 else ct
    return tuple(
        np.reshape(c, _lead(c, batched) + tuple(rules.shape(x))) for c, x in zip(cts, xs, strict=True)
    )


def _transpose_parse(a, axes=None):
    nd = rules.ndim(a)
    axes = range(nd - 1, -1, -1) if axes is None else axes
    return (a,), {"axes": tuple(rules.nonneg_axis(i, nd) for i in axes)}


def _permute(t, axes, batched=False):
    return np.transpose(t, (0, *(i + 1 for i in axes)) if batched else axes)


def _transpose_back(ct, xs, out, p, batched):
    """VJP of transpose: the inverse permutation, argsort(axes)."""
    return (_permute(ct, tuple(int(i) for i in np.argsort(p["axes"])), batched),)


def _swapaxes_parse(a, axis1, axis2):
    nd = rules.ndim(a)
    return (a,), {"axis1": rules.negative_axis(axis1, nd), "axis2": rules.negative_axis(axis2, nd)}


def _moveaxis_parse(a, source, destination):
    nd = rules.ndim(a)
    return (a,), {
        "source": rules.negative_axes(source, nd),
        "destination": rules.negative_axes(destination, nd),
    }


def _expand_dims_parse(a, axis):
    added = 1 if np.ndim(axis) == 0 else len(axis)
    return (a,), {"axis": rules.negative_axes(axis, rules.ndim(a) + added)}


def _squeeze_parse(a, axis=None):
    s = tuple(rules.shape(a))
    if axis is None:
        return (a,), {"axis": tuple(i - len(s) for i, n in enumerate(s) if n == 1)}
    return (a,), {"axis": rules.negative_axes(axis, len(s))}


def _broadcast_to_parse(array, shape, subok=False):
    return (array,), {"shape": (shape,) if np.ndim(shape) == 0 else tuple(shape)}


def _broadcast_to_batched(t, shape):
    return np.broadcast_to(rules.align(t, rules.ndim(t) - 1, len(shape), True), _lead(t, True) + shape)


# ---------------------------------------------------------------------------------------
# Joins and splits. Variadic ops take their operands flattened out of the sequence.


def _join_operands(name: str, arrays, out=None, dtype=None, casting="same_kind") -> tuple:
    """The operands of a join, each cast to dtype (or to their common dtype) under the casting
    rule first, as NumPy casts them: to a float or complex dtype a differentiable cast (astype),
    to an integer one (casting="unsafe") a constant."""
    if out is not None:
        raise NotImplementedError(
            f"ad: numpy.{name}(..., out=...) writes into a plain array, which would drop the "
            "derivative; assign the result instead"
        )
    arrays = tuple(arrays)
    for i, a in enumerate(arrays):
        if type(a) is list or type(a) is tuple:
            _refuse_traced_sequence(name, i, a)
    if dtype is None and casting == "same_kind":  # the common call: NumPy's promotion, no check
        return arrays
    values = [a if isinstance(a, Box) else np.asarray(a) for a in arrays]
    target = np.result_type(*(raw(v) for v in values)) if dtype is None else np.dtype(dtype)
    return tuple(v if v.dtype == target else v.astype(target, casting=casting) for v in values)


def _refuse_traced_sequence(name: str, i: int, entry) -> None:
    """Refuses an entry of a join that is a list or tuple holding a traced value: NumPy would
    make it a plain array and drop that value's derivative (JAX refuses a list entry too)."""
    from ad.numpy._sequences import holds_traced  # ad.numpy's own test; imported once ad is

    if holds_traced(entry):
        raise TypeError(
            f"ad: numpy.{name}'s entry {i} is a {type(entry).__name__} holding a traced value, which "
            "NumPy would convert to a plain array, dropping its derivative; make that entry an "
            f"array first (np.stack(entry), or np.reshape(s, (1,)) for one value s), or use "
            f"`import ad.numpy as np`, whose {name} does so"
        )


def _concatenate_parse(arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    arrays = _join_operands("concatenate", arrays, out, dtype, casting)
    if axis is None:
        return tuple(np.ravel(a) for a in arrays), {"axis": -1}
    return arrays, {"axis": rules.negative_axis(axis, rules.ndim(arrays[0]))}


def _hstack_parse(tup, *, dtype=None, casting="same_kind"):
    arrays = tuple(np.atleast_1d(a) for a in _join_operands("hstack", tup, dtype=dtype, casting=casting))
    nd = rules.ndim(arrays[0])
    return arrays, {"axis": rules.negative_axis(0 if nd == 1 else 1, nd)}


def _vstack_parse(tup, *, dtype=None, casting="same_kind"):
    arrays = tuple(np.atleast_2d(a) for a in _join_operands("vstack", tup, dtype=dtype, casting=casting))
    return arrays, {"axis": rules.negative_axis(0, rules.ndim(arrays[0]))}


def _concatenate(*xs, axis):
    return np.concatenate(xs, axis=axis)


def _concatenate_back(ct, xs, out, p, batched):
    """VJP of concatenate: split the cotangent where the operands met."""
    cuts = np.cumsum([rules.shape(x)[p["axis"]] for x in xs])[:-1]
    return tuple(np.split(ct, cuts, axis=p["axis"]))


def _stack_parse(arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    arrays = _join_operands("stack", arrays, out, dtype, casting)
    return arrays, {"axis": rules.negative_axis(axis, rules.ndim(arrays[0]) + 1)}


def _stack(*xs, axis):
    return np.stack(xs, axis=axis)


def _stack_back(ct, xs, out, p, batched):
    """VJP of stack: slice i of the cotangent along the new axis goes to operand i."""
    return tuple(np.take(ct, i, axis=p["axis"]) for i in range(len(xs)))


def _split_parse(ary, indices_or_sections, axis=0, *, even=True):
    """Every split as increasing cut points along a negative axis."""
    axis = rules.negative_axis(axis, rules.ndim(ary))
    n = rules.shape(ary)[axis]
    if np.ndim(indices_or_sections) == 0:
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError("number sections must be larger than 0.")
        size, extra = divmod(n, sections)
        if even and extra:
            raise ValueError("array split does not result in an equal division")
        cuts = np.cumsum([size + 1] * extra + [size] * (sections - extra))[:-1]
    else:
        cuts = [min(max(c + n if c < 0 else c, 0), n) for c in indices_or_sections]
        if any(b < a for a, b in zip(cuts, cuts[1:], strict=False)):
            raise NotImplementedError(
                "ad: numpy.split with decreasing indices makes overlapping pieces, "
                "which ad does not differentiate; pass increasing indices"
            )
    return (ary,), {"indices": tuple(int(c) for c in cuts), "axis": axis}


def _split(x, indices, axis):
    return np.split(x, list(indices), axis=axis)


def _split_back(ct, xs, out, p, batched):
    """VJP of split: concatenate the pieces' cotangents (one per piece, zeros where unused)."""
    return (np.concatenate(ct, axis=p["axis"]),)


# ---------------------------------------------------------------------------------------
# Flips, rolls, tiles, triangles.


def _flip_parse(m, axis=None):
    return (m,), {"axis": rules.negative_axes(axis, rules.ndim(m))}


def _roll_parse(a, shift, axis=None):
    if axis is None:
        return (a,), {"shift": (int(np.sum(shift)),), "axis": None}
    shift, axis = np.broadcast_arrays(np.asarray(shift), np.asarray(axis))
    return (a,), {
        "shift": tuple(int(s) for s in np.ravel(shift)),
        "axis": rules.negative_axes(np.ravel(axis), rules.ndim(a)),
    }


def _roll_batched(t, shift, axis):
    if axis is None:  # roll each direction flattened
        return np.reshape(np.roll(np.reshape(t, (rules.shape(t)[0], -1)), shift, axis=-1), rules.shape(t))
    return np.roll(t, shift, axis)


def _roll_back(ct, xs, out, p, batched):
    """VJP of roll: roll back by -shift."""
    back = tuple(-s for s in p["shift"])
    return (_roll_batched(ct, back, p["axis"]) if batched else np.roll(ct, back, p["axis"]),)


def _tile_parse(A, reps):
    reps = (int(reps),) if np.ndim(reps) == 0 else tuple(int(r) for r in reps)
    return (A,), {"reps": (1,) * (rules.ndim(A) - len(reps)) + reps}


def _tile_batched(t, reps):
    return np.tile(rules.align(t, rules.ndim(t) - 1, len(reps), True), (1,) + reps)


def _tile_back(ct, xs, out, p, batched):
    """VJP of tile: fold each axis into (reps, size) and sum over the reps."""
    reps, s = p["reps"], tuple(rules.shape(xs[0]))
    sizes = (1,) * (len(reps) - len(s)) + s
    folded = np.reshape(ct, _lead(ct, batched) + tuple(n for rn in zip(reps, sizes, strict=True) for n in rn))
    return (np.reshape(np.sum(folded, axis=tuple(range(-2 * len(reps), 0, 2))), _lead(ct, batched) + s),)


def _triangle_parse(m, k=0):
    """A vector is first broadcast to a square matrix, as NumPy's triu and tril do."""
    if rules.ndim(m) == 1:
        m = np.broadcast_to(m, 2 * tuple(rules.shape(m)))
    return (m,), {"k": int(k)}


# ---------------------------------------------------------------------------------------
# Examples the registry-driven tests run: post-parse (operands, params), operands float.


def _x(rng, *s):
    return rng.uniform(-2, 2, s)


def _cases(parse, *calls):
    """Examples parse(x, *args, **kwargs) for x of shape (3, 4, 2) and each (args, kwargs)."""
    return lambda rng: [parse(_x(rng, 3, 4, 2), *args, **kwargs) for args, kwargs in calls or [((), {})]]


def _reshape_examples(rng):
    x = _x(rng, 3, 4)
    return [
        _reshape_parse(x, (4, 3)),
        _reshape_parse(x, (2, -1, 3)),
        _reshape_parse(x, 12),
        _reshape_parse(_x(rng), (1, 1)),
    ]


def _atleast_examples(n: int):
    parse = _atleast_parse(n)
    return lambda rng: [parse(_x(rng)), parse(_x(rng, 3)), parse(_x(rng, 2, 3)), parse(_x(rng, 3), _x(rng))]


def _transpose_examples(rng):
    return [
        _transpose_parse(_x(rng, 2, 3, 4)),
        _transpose_parse(_x(rng, 2, 3, 4), (1, -1, 0)),
        _transpose_parse(_x(rng, 5)),
    ]


def _squeeze_examples(rng):
    return [
        _squeeze_parse(_x(rng, 1, 3, 1)),
        _squeeze_parse(_x(rng, 1, 3, 1), -1),
        _squeeze_parse(_x(rng, 1, 1)),
    ]


def _broadcast_to_examples(rng):
    return [
        _broadcast_to_parse(_x(rng, 3, 1), (2, 3, 4)),
        _broadcast_to_parse(_x(rng), 5),
        _broadcast_to_parse(_x(rng, 4), (3, 4)),
    ]


def _joins(parse, *groups, **kwargs):
    """Examples parse([x of each shape], **kwargs) for each group of shapes."""
    return lambda rng: [parse([_x(rng, *s) for s in group], **kwargs) for group in groups]


def _concatenate_examples(rng):
    return [
        _concatenate_parse([_x(rng, 2, 3), _x(rng, 4, 3)]),
        _concatenate_parse([_x(rng, 2, 3), _x(rng, 2, 1), _x(rng, 2, 2)], axis=-1),
        _concatenate_parse([_x(rng, 2, 2), _x(rng, 3)], axis=None),
    ]


def _stack_examples(rng):
    return [
        _stack_parse([_x(rng, 2, 3), _x(rng, 2, 3)]),
        _stack_parse([_x(rng, 2, 3)] * 3, axis=-1),
        _stack_parse([_x(rng), _x(rng)]),
    ]


def _split_examples(rng):
    x = _x(rng, 6, 4)
    return [
        _split_parse(x, 3),
        _split_parse(x, [1, -2]),
        _split_parse(x, 2, axis=-1),
        _split_parse(x, [0, 9]),
    ]


def _array_split_examples(rng):
    x = _x(rng, 7, 2)
    return [_split_parse(x, 3, even=False), _split_parse(x, 4, axis=1, even=False)]


def _tile_examples(rng):
    return [
        _tile_parse(_x(rng, 2, 3), 2),
        _tile_parse(_x(rng, 2, 3), (3, 1, 2)),
        _tile_parse(_x(rng, 2, 3, 2), (2, 1)),
        _tile_parse(_x(rng), 3),
    ]


def _triangle_examples(rng):
    return [
        _triangle_parse(_x(rng, 4, 4)),
        _triangle_parse(_x(rng, 2, 3, 5), 1),
        _triangle_parse(_x(rng, 4, 3), -1),
        _triangle_parse(_x(rng, 3)),
    ]


# ---------------------------------------------------------------------------------------
# The ops.


def _copy(a, order="K"):
    return np.copy(a, order=order)


def _copy_parse(a, order="K", subok=False):
    return (a,), ({} if order == "K" else {"order": order})


# fmt: off
linear("reshape", np.reshape, _reshape_back, impl=lambda x, shape: np.reshape(x, shape),
       batched_impl=lambda t, shape: np.reshape(t, _lead(t, True) + shape), parse=_reshape_parse,
       examples=_reshape_examples, view=True, complex=True, lowering="moves")
linear("ravel", np.ravel, _reshape_back, batched_impl=lambda t: np.reshape(t, (rules.shape(t)[0], -1)),
       parse=_ravel_parse, examples=_cases(_ravel_parse), view=True, complex=True, lowering="moves")
for _n, _f in [(1, np.atleast_1d), (2, np.atleast_2d), (3, np.atleast_3d)]:
    linear(f"atleast_{_n}d", _f, _reshape_each_back, impl=_reshape_each,
           batched_impl=lambda *ts, shapes: _reshape_each(*ts, shapes=shapes, batched=True),
           parse=_atleast_parse(_n), examples=_atleast_examples(_n), view=True, complex=True,
           lowering="moves")
linear("transpose", np.transpose, _transpose_back, batched_impl=lambda t, axes: _permute(t, axes, True),
       parse=_transpose_parse, examples=_transpose_examples, view=True, complex=True, lowering="moves")
linear("swapaxes", np.swapaxes, _self_transpose(np.swapaxes), batched_impl=np.swapaxes, parse=_swapaxes_parse,
       examples=_cases(_swapaxes_parse, ((0, 2), {}), ((-1, 1), {})), view=True, complex=True,
       lowering="moves")
linear("moveaxis", np.moveaxis, lambda ct, xs, out, p, b: (np.moveaxis(ct, p["destination"], p["source"]),),
       batched_impl=np.moveaxis, parse=_moveaxis_parse,
       examples=_cases(_moveaxis_parse, ((0, -1), {}), (((0, 1), (2, 0)), {})),
       doc="VJP of moveaxis: move the axes back, destination to source", view=True, complex=True,
       lowering="moves")
linear("expand_dims", np.expand_dims, lambda ct, xs, out, p, b: (np.squeeze(ct, p["axis"]),),
       batched_impl=np.expand_dims, parse=_expand_dims_parse,
       examples=_cases(_expand_dims_parse, ((0,), {}), ((-1,), {}), (((1, 4),), {})),
       doc="VJP of expand_dims: squeeze the new axes", view=True, complex=True, lowering="moves")
linear("squeeze", np.squeeze, lambda ct, xs, out, p, b: (np.expand_dims(ct, p["axis"]),),
       batched_impl=np.squeeze, parse=_squeeze_parse, examples=_squeeze_examples,
       doc="VJP of squeeze: expand_dims at the squeezed axes", view=True, complex=True, lowering="moves")
linear("broadcast_to", np.broadcast_to,
       lambda ct, xs, out, p, b: (rules.unbroadcast(ct, rules.shape(xs[0]), b),),
       batched_impl=_broadcast_to_batched, parse=_broadcast_to_parse, examples=_broadcast_to_examples,
       doc="VJP of broadcast_to: sum over the broadcast axes (unbroadcast)", view=True, complex=True,
       lowering="moves")
linear("concatenate", np.concatenate, _concatenate_back, impl=_concatenate, batched_impl=_concatenate,
       parse=_concatenate_parse, examples=_concatenate_examples, complex=True, lowering="moves")
linear("hstack", np.hstack, _concatenate_back, impl=_concatenate, batched_impl=_concatenate,
       parse=_hstack_parse, examples=_joins(_hstack_parse, [(2,), (), (3,)], [(2, 3), (2, 1)]),
       doc="concatenate along axis 1 (axis 0 for vectors)", complex=True, lowering="moves")
linear("vstack", np.vstack, _concatenate_back, impl=_concatenate, batched_impl=_concatenate,
       parse=_vstack_parse, examples=_joins(_vstack_parse, [(3,), (2, 3)], [(2, 3, 2), (1, 3, 2)]),
       doc="concatenate along axis 0 of atleast_2d", complex=True, lowering="moves")
linear("stack", np.stack, _stack_back, impl=_stack, batched_impl=_stack, parse=_stack_parse,
       examples=_stack_examples, complex=True, lowering="moves")
linear("split", np.split, _split_back, impl=_split, batched_impl=_split, parse=_split_parse,
       examples=_split_examples, doc="a list of pieces", view=True, complex=True, lowering="moves")
linear("array_split", np.array_split, _split_back, impl=_split, batched_impl=_split,
       parse=lambda *args, **kwargs: _split_parse(*args, **kwargs, even=False),
       examples=_array_split_examples, doc="a list of pieces, of sizes that may differ by one", view=True,
       complex=True, lowering="moves")
linear("flip", np.flip, _self_transpose(np.flip), batched_impl=np.flip, parse=_flip_parse,
       examples=_cases(_flip_parse, ((), {}), ((1,), {}), (((0, -1),), {})), view=True, complex=True,
       lowering="moves")
linear("fliplr", np.fliplr, _self_transpose(np.flip), impl=np.flip, batched_impl=np.flip,
       parse=lambda m: _flip_parse(m, 1), examples=_cases(lambda m: _flip_parse(m, 1)), view=True,
       complex=True, lowering="moves")
linear("flipud", np.flipud, _self_transpose(np.flip), impl=np.flip, batched_impl=np.flip,
       parse=lambda m: _flip_parse(m, 0), examples=_cases(lambda m: _flip_parse(m, 0)), view=True,
       complex=True, lowering="moves")
linear("roll", np.roll, _roll_back, batched_impl=_roll_batched, parse=_roll_parse,
       examples=_cases(_roll_parse, ((2,), {}), ((-1,), {"axis": 1}), (((1, 5), (0, -1)), {}),
                       ((3,), {"axis": (0, 2)})), complex=True, lowering="moves")
linear("tile", np.tile, _tile_back, batched_impl=_tile_batched, parse=_tile_parse, examples=_tile_examples,
       complex=True, lowering="moves")
linear("triu", np.triu, _self_transpose(np.triu), batched_impl=np.triu, parse=_triangle_parse,
       examples=_triangle_examples, doc="a mask, so its own transpose", complex=True)
linear("tril", np.tril, _self_transpose(np.tril), batched_impl=np.tril, parse=_triangle_parse,
       examples=_triangle_examples, doc="a mask, so its own transpose", complex=True)
linear("copy", np.copy, lambda ct, xs, out, p, b: (ct,), impl=_copy, batched_impl=_copy, parse=_copy_parse,
       examples=_cases(_copy_parse, ((), {}), ((), {"order": "F"})),
       complex=True, lowering="moves", doc="order= lays the primal out in memory; the values are a's")

for _name, _f in [("zeros_like", np.zeros_like), ("ones_like", np.ones_like), ("empty_like", np.empty_like)]:
    nondiff(_name, _f, complex=True, lowering="shapes")
for _name, _f in [
    ("argsort", np.argsort), ("nonzero", np.nonzero), ("flatnonzero", np.flatnonzero),
    ("argwhere", np.argwhere), ("count_nonzero", np.count_nonzero), ("searchsorted", np.searchsorted),
]:
    nondiff(_name, _f, complex=True)
# fmt: on
