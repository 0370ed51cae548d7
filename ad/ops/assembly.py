"""Arrays assembled or rearranged: append, column_stack, block, hsplit/vsplit/dsplit, rot90, rollaxis.

All but block are written with the registered shape ops (composites); block is one linear op,
so that a nested layout of many pieces costs one node and one copy, as NumPy's does.
"""

import operator

import numpy as np

from ad import rules
from ad.registry import composite, linear

# ---------------------------------------------------------------------------------------
# Joins.


def _append(arr, values, axis=None):
    """concatenate((arr, values), axis), both raveled first when axis is None."""
    if axis is None:
        return np.concatenate((np.ravel(arr), np.ravel(values)))
    return np.concatenate((arr, values), axis=axis)


def _column_stack(tup):
    """concatenate along axis 1, each 0-d or 1-d operand made a column first."""
    return np.concatenate([v if rules.ndim(v) >= 2 else np.reshape(v, (-1, 1)) for v in tup], axis=1)


def _block_tree(arrays, where="arrays"):
    """The leaves of a nested list, its shape as nested tuples of leaf numbers, and its depth."""
    if isinstance(arrays, tuple):
        raise TypeError(
            f"{where} is a tuple. Only lists can be used to arrange blocks, and np.block does "
            "not allow implicit conversion from tuple to ndarray."
        )
    if not isinstance(arrays, list):
        return [arrays], 0, 0
    if not arrays:
        raise ValueError(f"List at {where} cannot be empty")
    leaves, nodes, depths = [], [], []
    for i, a in enumerate(arrays):
        sub, node, depth = _block_tree(a, f"{where}[{i}]")
        nodes.append(_shift(node, len(leaves)))
        leaves += sub
        depths.append(depth)
    if len(set(depths)) > 1:
        raise ValueError(f"List depths are mismatched: the elements of {where} are nested {depths} deep")
    return leaves, tuple(nodes), depths[0] + 1


def _shift(node, n: int):
    return node + n if isinstance(node, int) else tuple(_shift(c, n) for c in node)


def _first_leaf(node) -> int:
    while not isinstance(node, int):
        node = node[0]
    return node


def _block_parse(arrays):
    """The leaves as operands, each given the result's number of axes (leading 1s, as NumPy does)."""
    leaves, tree, depth = _block_tree(arrays)
    nd = max([depth] + [rules.ndim(v) for v in leaves])
    leaves = tuple(ndmin(v, nd) for v in leaves)
    return leaves, {"tree": tree, "depth": depth}


def ndmin(v, nd: int):
    """v with leading axes of length 1 up to nd axes (NumPy's ndmin)."""
    s = tuple(rules.shape(v))
    return v if len(s) >= nd else np.reshape(v, (1,) * (nd - len(s)) + s)


def _layout(tree, xs):
    return xs[tree] if isinstance(tree, int) else [_layout(c, xs) for c in tree]


def _block(*xs, tree, depth):
    """np.block of the leaves laid out as tree; with a leading batch axis too, since every leaf
    has the result's number of axes and the joins run along the last `depth` of them."""
    return np.block(_layout(tree, xs))


def _block_transpose(ct, xs, out, p, batched):
    """VJP of block: split the cotangent where the pieces met, level by level."""
    cts = [None] * len(xs)

    def split(node, c, level):
        if isinstance(node, int):
            cts[node] = c
            return
        axis = level - p["depth"]
        # every leaf of a sub-block has that sub-block's length along this level's axis
        sizes = [rules.shape(xs[_first_leaf(child)])[axis] for child in node]
        for child, piece in zip(node, np.split(c, list(np.cumsum(sizes)[:-1]), axis=axis)):
            split(child, piece, level + 1)

    split(p["tree"], ct, 0)
    return tuple(cts)


# ---------------------------------------------------------------------------------------
# Splits and rearrangements.


def _axis_split(name: str, min_ndim: int, axis):
    def split(ary, indices_or_sections):
        nd = rules.ndim(ary)
        if nd < min_ndim:
            raise ValueError(f"{name} only works on arrays of {min_ndim} or more dimensions")
        return np.split(ary, indices_or_sections, axis=axis(nd))

    split.__doc__ = f"numpy.{name} as numpy.split along its axis."
    return split


def _rot90(m, k=1, axes=(0, 1)):
    """k quarter turns from axes[0] towards axes[1]: flips and a transpose."""
    axes = tuple(axes)
    nd = rules.ndim(m)
    if len(axes) != 2:
        raise ValueError("len(axes) must be 2.")
    if axes[0] == axes[1] or abs(axes[0] - axes[1]) == nd:
        raise ValueError("Axes must be different.")
    if not all(-nd <= a < nd for a in axes):
        raise ValueError(f"Axes={axes} out of range for array of ndim={nd}.")
    k = operator.index(k) % 4
    if k == 0:
        return m[:]
    if k == 2:
        return np.flip(m, axes)
    perm = list(range(nd))
    a, b = axes[0] % nd, axes[1] % nd
    perm[a], perm[b] = perm[b], perm[a]
    if k == 1:
        return np.transpose(np.flip(m, axes[1]), perm)
    return np.flip(np.transpose(m, perm), axes[1])


def _rollaxis(a, axis, start=0):
    """The transpose that moves axis to just before start."""
    n = rules.ndim(a)
    axis = rules.nonneg_axis(axis, n)
    start = operator.index(start)
    if start < 0:
        start += n
    if not 0 <= start <= n:
        raise np.exceptions.AxisError(
            f"'start' arg requires {-n} <= start < {n + 1}, but {start} was passed in"
        )
    if axis < start:
        start -= 1
    if axis == start:
        return a[...]
    order = [i for i in range(n) if i != axis]
    order.insert(start, axis)
    return np.transpose(a, order)


# ---------------------------------------------------------------------------------------
# Examples: (operands, params) as NumPy takes them (block's: post-parse); float operands
# are differentiated. A sequence argument is an array, whose rows are its elements.


def _x(rng, *s):
    return rng.uniform(-2, 2, s)


def _append_examples(rng):
    return [
        ((_x(rng, 3, 4), _x(rng, 2, 4)), {"axis": 0}),
        ((_x(rng, 2, 3), _x(rng, 5)), {}),
        ((_x(rng, 3), _x(rng)), {}),
    ]


def _column_stack_examples(rng):
    return [((_x(rng, 3, 4),), {}), ((_x(rng, 2, 3, 2),), {}), ((_x(rng, 2),), {})]


def _block_examples(rng):
    return [
        _block_parse([[_x(rng, 2, 2), _x(rng, 2, 3)], [_x(rng, 1, 5)]]),
        _block_parse([_x(rng, 2), _x(rng), _x(rng, 3)]),
        _block_parse([[_x(rng), _x(rng)], [_x(rng), _x(rng)]]),
        _block_parse([[[_x(rng, 2, 1, 2)], [_x(rng, 2, 2, 2)]], [[_x(rng, 1, 3, 2)]]]),
        _block_parse(_x(rng, 2, 3)),
    ]


def _split_examples(shape, *sections):
    return lambda rng: [((_x(rng, *shape), s), {}) for s in sections]


def _rot90_examples(rng):
    return [
        ((_x(rng, 3, 4),), {}),
        ((_x(rng, 3, 4, 2),), {"k": 2, "axes": (1, 2)}),
        ((_x(rng, 3, 4),), {"k": -1, "axes": (-1, 0)}),
        ((_x(rng, 2, 3),), {"k": 4}),
    ]


def _rollaxis_examples(rng):
    x = _x(rng, 2, 3, 4)
    return [((x,), {"axis": 2}), ((x,), {"axis": 0, "start": 2}), ((x,), {"axis": -2, "start": 3})]


_SECTIONS = (2, np.array([1, 3]))

# fmt: off
composite("append", np.append, _append, examples=_append_examples, complex=True,
          doc="concatenate, both operands raveled when axis is None")
composite("column_stack", np.column_stack, _column_stack, examples=_column_stack_examples, complex=True,
          doc="concatenate along axis 1, 1-d operands as columns")
linear("block", np.block, _block_transpose, impl=_block, batched_impl=_block, parse=_block_parse,
       examples=_block_examples, complex=True,
       doc="nested lists joined along the last axes; VJP splits the cotangent")
composite("hsplit", np.hsplit, _axis_split("hsplit", 1, lambda nd: 1 if nd > 1 else 0),
          examples=_split_examples((4, 6), *_SECTIONS), complex=True, doc="split along axis 1 (0 for 1-d)")
composite("vsplit", np.vsplit, _axis_split("vsplit", 2, lambda nd: 0),
          examples=_split_examples((6, 2), *_SECTIONS), complex=True, doc="split along axis 0")
composite("dsplit", np.dsplit, _axis_split("dsplit", 3, lambda nd: 2),
          examples=_split_examples((2, 1, 4), *_SECTIONS), complex=True, doc="split along axis 2")
composite("rot90", np.rot90, _rot90, examples=_rot90_examples, complex=True, doc="flips and a transpose")
composite("rollaxis", np.rollaxis, _rollaxis, examples=_rollaxis_examples, complex=True, doc="a transpose")
# fmt: on
