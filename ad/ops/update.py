"""Functional index update, the op behind in-place `t[index] = v` on a Tensor."""

import numpy as np

from ad.registry import general
from ad.rules import tangent_dtype, unbroadcast, zeros
from ad.trace import apply, raw


def _setitem(x, v, index):
    out = np.array(x, dtype=np.result_type(x, v), copy=True)
    out[index] = v
    return out


def _jvp(ts, primals, out, p, batched):
    (tx, tv), (x, v) = ts, primals
    dtype = tangent_dtype(out)  # a constant v may be a Python number, whose own would be float64
    tx = zeros(x, dtype=dtype) if tx is None else tx
    tv = zeros(v, dtype=dtype) if tv is None else tv
    return apply(SETITEM, (tx, tv), p)


def _vjp(g, primals, out, p, batched):
    """VJP in x: g with the overwritten entries zeroed; in v: g[index] where v's entry is
    the one left in place, summed to v's shape."""
    x, v = primals
    index = p["index"]
    gx = apply(SETITEM, (g, 0.0), p)
    gv = g[index]
    if _may_repeat(index):
        gv = np.where(_kept(np.shape(raw(x)), index), gv, 0.0)
    shape = np.shape(raw(v))
    extra = len(shape) - np.ndim(raw(gv))
    if extra > 0:  # NumPy drops v's leading length-1 axes to fit x[index]: put them back
        gv = np.reshape(gv, (1,) * extra + np.shape(raw(gv)))
    return gx, unbroadcast(gv, shape)


def _may_repeat(index) -> bool:
    """Whether index may name one position twice: it holds an integer array or a list."""
    for i in index if type(index) is tuple else (index,):
        if isinstance(i, list) or isinstance(i, np.ndarray) and i.dtype.kind != "b":
            return True
    return False


def _kept(shape, index):
    """Per element of x[index] (v broadcast to it): whether its write is the one a position
    keeps. NumPy's assignment keeps the last write to a position named twice, so the
    earlier ones are overwritten and receive no cotangent (as np.put and JAX's .at[].set)."""
    owner = np.full(shape, -1, dtype=np.intp)
    written = owner[index].shape
    ids = np.arange(int(np.prod(written)), dtype=np.intp).reshape(written)
    owner[index] = ids
    return owner[index] == ids


def _examples(rng):
    x = rng.uniform(-2, 2, (4, 3))
    return [
        ((x, rng.uniform(-2, 2, 3)), {"index": 1}),
        ((x, 0.5 + rng.uniform(size=())), {"index": (slice(1, 3), 0)}),
        ((x, rng.uniform(-2, 2, (2, 3))), {"index": np.array([0, 2])}),
    ]


SETITEM = general(
    "setitem",
    (),
    _jvp,
    _vjp,
    impl=_setitem,
    loop_batch=True,
    vjp_reads_shapes=True,
    examples=_examples,
    complex=True,
    doc="x with x[index] = v; differentiable in x and v (the last write wins)",
)


def setitem(x, index, v):
    """x with x[index] replaced by v, out of place."""
    return apply(SETITEM, (x, v), {"index": index})
