"""Contractions: matmul, dot, inner, outer, vdot, tensordot, einsum, trace.

All but matmul are einsums underneath: their JVPs and VJPs are einsums with a tangent or
cotangent in one operand's place (`_einsum_in`, `_einsum_vjp`), and a leading batch axis
is an ellipsis added to that operand and to the output. matmul calls BLAS directly.
"""

import string
from collections import Counter

import numpy as np

from ad.kernels import F64
from ad.kernels.outer import outer
from ad.ops.reductions import examples_from, reject
from ad.registry import bilinear, general, linear
from ad.rules import align, is_eye, ndim, nonneg_axis, product_with_eye, real_dtype, shape, unbroadcast
from ad.trace import is_complex

# -- einsum machinery ----------------------------------------------------------------------


def _split(spec: str) -> tuple[list[str], str]:
    ins, out = spec.split("->")
    return ins.split(","), out


def _join(ins, out: str) -> str:
    return ",".join(ins) + "->" + out


def _fresh(used, n: int) -> list[str]:
    free = [c for c in string.ascii_letters if c not in used]
    if len(free) < n:
        raise ValueError("einsum: ad needs more than the 52 index letters; split the contraction")
    return free[:n]


def _einsum(spec, *operands):
    return np.einsum(spec, *operands, optimize=True)


def _explicit(subscripts: str, shapes) -> str:
    """The subscripts with every '...' spelled out in letters and the output written out.

    The rules can then add a batch axis as '...'. An axis of size 1 that broadcasts
    against a longer one gets a letter of its own, summed over (a no-op), so that its VJP
    sums the broadcast away.
    """
    s = subscripts.replace(" ", "")
    ins, out = s.split("->") if "->" in s else (s, None)
    terms = ins.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: {len(terms)} subscripts for {len(shapes)} operands")
    widths = [len(sh) - len(t) + 3 if "..." in t else 0 for t, sh in zip(terms, shapes, strict=True)]
    ell = "".join(_fresh(set(s), max(widths, default=0)))
    full = [t.replace("...", ell[len(ell) - w :]) for t, w in zip(terms, widths, strict=True)]
    if any(len(t) != len(sh) for t, sh in zip(full, shapes, strict=True)):
        raise ValueError(f"einsum: subscripts {subscripts!r} do not fit operands of shapes {list(shapes)}")
    if out is None:  # NumPy's implicit output: the ellipsis, then letters used once, sorted
        once = Counter("".join(terms).replace(".", ""))
        out = ell + "".join(sorted(c for c, n in once.items() if n == 1))
    elif "..." not in out and ell:
        raise ValueError("einsum: the output subscripts need '...' when an operand has '...' axes")
    labelled = [list(zip(t, sh, strict=True)) for t, sh in zip(full, shapes, strict=True)]
    size = {}
    for c, n in (cn for axes in labelled for cn in axes):
        size[c] = n if size.get(c, 1) == 1 else size[c]  # 1 broadcasts, even against 0
    spare = iter(_fresh(set(s) | set(ell), sum(n != size[c] for axes in labelled for c, n in axes)))
    full = ["".join(c if n == size[c] else next(spare) for c, n in axes) for axes in labelled]
    return _join(full, out.replace("...", ell))


def _einsum_in(spec, operands, i: int, batched: bool):
    """einsum(spec, *operands) where operand i may carry a leading batch axis."""
    if not batched:
        return _einsum(spec, *operands)
    ins, out = _split(spec)
    ins[i] = "..." + ins[i]
    return _einsum(_join(ins, "..." + out), *operands)


def _einsum_vjp(spec, g, operands, i: int, batched: bool):
    """VJP of an einsum in operand i: the einsum of g with the other operands into i's indices.

    An index repeated in operand i (a diagonal) goes back through an identity matrix; an
    index that operand i alone sums over goes back through a vector of ones.
    """
    ins, out = _split(spec)
    size = dict(zip(ins[i], shape(operands[i]), strict=True))
    new = iter(_fresh(set(spec), len(ins[i])))
    b = "..." if batched else ""
    terms = [b + out] + ins[:i] + ins[i + 1 :]
    extra, target, dtype = [], "", real_dtype(g)
    for c in ins[i]:
        if c in target:
            d = next(new)
            terms.append(c + d)
            extra.append(np.eye(size[c], dtype=dtype))
            target += d
        else:
            target += c
    for c in dict.fromkeys(ins[i]):
        if c not in "".join(terms):
            terms.append(c)
            extra.append(np.ones(size[c], dtype=dtype))
    return _einsum(_join(terms, b + target), g, *operands[:i], *operands[i + 1 :], *extra)


def _einsum_jvp(ts, xs, out, p, batched):
    """JVP of einsum: the sum over operands of einsum with that operand's tangent in its place."""
    xs = list(xs)
    terms = [
        _einsum_in(p["spec"], xs[:i] + [t] + xs[i + 1 :], i, batched)
        for i, t in enumerate(ts)
        if t is not None
    ]
    return sum(terms[1:], terms[0])


def _einsum_vjps(g, xs, out, p, batched, needs):
    """VJP of einsum in operand i: einsum of g with every other operand."""
    return tuple(
        _einsum_vjp(p["spec"], g, list(xs), i, batched) if need else None for i, need in enumerate(needs)
    )


_SUBLIST_LETTERS = string.ascii_uppercase + string.ascii_lowercase  # NumPy's: 0 is 'A', 26 is 'a'


def _sublist_letters(sublist) -> str:
    """A sublist ([0, 1, Ellipsis]) as subscripts ('AB...')."""
    out = ""
    for s in sublist:
        if s is Ellipsis:
            out += "..."
        elif isinstance(s, int | np.integer) and 0 <= s < len(_SUBLIST_LETTERS):
            out += _SUBLIST_LETTERS[s]
        else:
            raise ValueError(f"numpy.einsum: subscript {s!r} is not within the valid range [0, 52)")
    return out


def _from_sublists(args) -> tuple[str, tuple]:
    """einsum(a, [0, 1], b, [1, 2], [0, 2]) as ('AB,BC->AC', (a, b)); the output sublist is optional."""
    pairs, out = (args[:-1], args[-1]) if len(args) % 2 else (args, None)
    spec = ",".join(_sublist_letters(s) for s in pairs[1::2])
    return spec + ("" if out is None else "->" + _sublist_letters(out)), tuple(pairs[0::2])


def _einsum_parse(*args, optimize=False, **options):
    subscripts, *operands = args
    if not isinstance(subscripts, str):  # the sublist form
        subscripts, operands = _from_sublists(args)
    reject("einsum", **options)
    return operands, {"spec": _explicit(subscripts, [shape(x) for x in operands]), "optimize": optimize}


# -- bilinear contractions: each an einsum whose subscripts depend on the operands' ndims ---

_ABC = string.ascii_lowercase


def _contraction(name, handles, spec, **kw):
    """A bilinear op equal to einsum(spec(ndim_a, ndim_b, **params), a, b)."""

    def transpose(g, xs, out, p, batched, needs):
        s = spec(*map(ndim, xs), **p)
        return tuple(_einsum_vjp(s, g, list(xs), i, batched) if needs[i] else None for i in (0, 1))

    def batched_impl(a, b, which, **p):
        return _einsum_in(spec(ndim(a) - (which == 0), ndim(b) - (which == 1), **p), (a, b), which, True)

    return bilinear(name, handles, transpose, batched_impl=batched_impl, einsum=spec, **kw)


def _dot_spec(na, nb):
    """dot: a's last axis against b's second-to-last (or only) axis; a scalar multiplies."""
    a, b = _ABC[:na], _ABC[na : na + nb]
    if na and nb:
        b = a[-1] if nb == 1 else b[:-2] + a[-1] + b[-1]
    return _join([a, b], (a[:-1] + b.replace(a[-1], "")) if na and nb else a + b)


def _inner_spec(na, nb):
    """inner: the last axes of a and b; a scalar multiplies."""
    a, b = _ABC[:na], _ABC[na : na + nb]
    if na and nb:
        return _join([a, b[:-1] + a[-1]], a[:-1] + b[:-1])
    return _join([a, b], a + b)


def _tensordot_spec(na, nb, axes):
    """tensordot: a's axes[0] against b's axes[1]; a's free axes, then b's."""
    a, b = _ABC[:na], list(_ABC[na : na + nb])
    for i, j in zip(*axes, strict=True):
        b[j] = a[i]
    free_a = "".join(c for i, c in enumerate(a) if i not in axes[0])
    free_b = "".join(c for j, c in enumerate(b) if j not in axes[1])
    return _join([a, "".join(b)], free_a + free_b)


def _pair_parser(name):
    def parse(a, b, **options):
        if options:  # the common call has none: parse runs on every traced product
            reject(name, **options)
        return (a, b), {}

    return parse


def _tensordot_parse(a, b, axes=2):
    na, nb = ndim(a), ndim(b)
    if np.ndim(axes) == 0:
        pairs = (range(na - axes, na), range(axes))
    else:
        pairs = [(ax,) if np.ndim(ax) == 0 else ax for ax in axes]
    axes = (tuple(nonneg_axis(i, na) for i in pairs[0]), tuple(nonneg_axis(j, nb) for j in pairs[1]))
    return (a, b), {"axes": axes}


def _vdot_parse(a, b):
    """vdot flattens its operands: b takes a's shape (same size) so the contraction is sum(a * b)."""
    return (a, b if shape(b) == shape(a) else np.reshape(b, shape(a))), {}


def _vdot_spec(na, nb):
    """vdot of the parsed operands, which share a's shape: every axis summed."""
    return _join([_ABC[:na]] * 2, "")


def _conj(x):
    """conj(x), without an op where x is real."""
    return np.conjugate(x) if is_complex(x) else x


def _vdot_transpose(g, xs, out, p, batched, needs):
    """vdot(a, b) = sum(conj(a) b) is conjugate-linear in a: VJP in a conj(g b), in b g conj(a)."""
    a, b = xs
    s = _vdot_spec(ndim(a), ndim(b))
    return (
        _conj(_einsum_vjp(s, g, [a, b], 0, batched)) if needs[0] else None,
        _einsum_vjp(s, g, [_conj(a), b], 1, batched) if needs[1] else None,
    )


def _vdot_batched(a, b, which, **p):
    """vdot with operand `which` carrying a batch axis: the einsum of conj(a) and b."""
    return _einsum_in(_vdot_spec(ndim(a) - (which == 0), ndim(b) - (which == 1)), (_conj(a), b), which, True)


def _outer_parse(a, b, out=None):
    reject("outer", out=out)
    return tuple(x if ndim(x) == 1 else np.ravel(x) for x in (a, b)), {}


# -- matmul: BLAS directly, 1-D operands promoted by hand ----------------------------------


def _matmul_spec(na: int, nb: int) -> str:
    """matmul as an einsum: a's last axis against b's second-to-last over broadcast stacks, a
    vector operand promoted to a row (a) or a column (b) and the promoted axis dropped."""
    if na == 0 or nb == 0:
        raise ValueError("matmul: an operand is 0-d; multiply by a scalar with * instead")
    a, b = ("...ij" if na > 1 else "j"), ("...jk" if nb > 1 else "j")
    out = ("..." if max(na, nb) > 1 else "") + ("i" if na > 1 else "") + ("k" if nb > 1 else "")
    return _join([a, b], out)


def _promoted(da: int, db: int) -> tuple:
    """The axes matmul adds for 1-D operands: a row for a (-2), a column for b (-1)."""
    return ((-2,) if da == 1 else ()) + ((-1,) if db == 1 else ())


def _as_matrices(a, b, da: int, db: int):
    return (np.expand_dims(a, -2) if da == 1 else a), (np.expand_dims(b, -1) if db == 1 else b)


def _matmul(a, b):
    """a @ b. A float64 matrix times a vector, or a vector times a matrix, goes to ndarray.dot
    when the matrix is contiguous (in either order): the same BLAS product, bit for bit,
    without the matmul ufunc's dispatch (1.15 against 1.74 us at n = 100). A strided matrix
    stays with matmul, whose loop for it sums in another order than dot's copy; every other
    case (stacks, traced values, other dtypes) is matmul's."""
    if type(a) is np.ndarray and type(b) is np.ndarray and a.dtype is F64 and b.dtype is F64:
        if a.ndim == 2 and b.ndim == 1:
            m = a
        elif a.ndim == 1 and b.ndim == 2:
            m = b
        else:
            return np.matmul(a, b)
        if m.flags.c_contiguous or m.flags.f_contiguous:
            return a.dot(b)
    return np.matmul(a, b)


def _matmul_batched(a, b, which):
    """a @ b with k directions on operand `which`: 1-D operands are promoted first, and the
    batched operand gets unit axes so that k lines up with no axis of the other."""
    da, db = ndim(a) - (which == 0), ndim(b) - (which == 1)
    if which == 1 and da == 2 and db == 1:  # A @ (k vectors): one matrix product T A^T, not k
        if type(a) is np.ndarray and is_eye(b) and b.shape[0] == a.shape[1]:
            product = product_with_eye(np.swapaxes(a, -1, -2), b)  # every direction: A^T
            if product is not None:
                return product
        return np.matmul(b, np.swapaxes(a, -1, -2))
    a, b = _as_matrices(a, b, da, db)
    if which == 0:
        a = align(a, max(da, 2), max(db, 2), True)
    else:
        b = align(b, max(db, 2), max(da, 2), True)
    out, axes = np.matmul(a, b), _promoted(da, db)
    return np.squeeze(out, axis=axes) if axes else out


def _outer(u, v):
    """u v^T, over any leading batch axes: the matrix's cotangent in matrix @ vector or vector @ matrix.

    Two plain real vectors of one dtype go to kernels.outer (BLAS while the result fits in
    cache, non-temporal stores past it), with the same products; every other case (a batch
    axis, traced values, complex or mixed dtypes) is the multiply, which differentiates again.
    """
    if type(u) is np.ndarray and type(v) is np.ndarray and u.ndim == v.ndim == 1 and u.dtype == v.dtype:
        if u.dtype.char in "fd":
            return outer(u, v)
    return u[..., :, None] * v[..., None, :]


def _times_matrix(u, w):
    """u @ w for u a vector or a matrix (a batch of vectors) and w a matrix. Two plain arrays
    go to ndarray.dot, the same BLAS product without the matmul ufunc's dispatch (1.1 against
    1.7 us for a vector and a 100 x 100 matrix); traced values to matmul, which differentiates
    again."""
    if type(u) is np.ndarray and type(w) is np.ndarray:
        return u.dot(w)
    return np.matmul(u, w)


def _matmul_transpose(g, xs, out, p, batched, needs):
    """VJP of matmul in A: G @ B^T; in B: A^T @ G (summed over broadcast stacks)."""
    a, b = xs
    # plain arrays' ndim read directly: ndim() costs a call per operand on the hot path
    da = a.ndim if type(a) is np.ndarray else ndim(a)
    db = b.ndim if type(b) is np.ndarray else ndim(b)
    if da == 2 and db == 1:  # matrix @ vector, the common case: an outer product and g @ A
        gb = None
        if needs[1]:
            if batched and type(a) is np.ndarray and is_eye(g) and g.shape[0] == a.shape[0]:
                gb = product_with_eye(a, g)  # every direction: I A is A
            if gb is None:
                gb = _times_matrix(g, a)
        return (_outer(g, b) if needs[0] else None), gb
    if da == 1 and db == 2:  # vector @ matrix (x @ W): g @ B^T and an outer product
        ga = _times_matrix(g, np.swapaxes(b, -1, -2)) if needs[0] else None
        return ga, (_outer(a, g) if needs[1] else None)
    a2, b2 = _as_matrices(a, b, da, db)
    axes = _promoted(da, db)
    g2 = np.expand_dims(g, axes) if axes else g
    ga = gb = None
    if needs[0]:
        # With a vector b the contraction has length 1: an outer product, which a broadcast
        # multiply does several times faster than matmul's (m, 1) @ (1, n) path.
        bt = np.swapaxes(b2, -1, -2)
        ga = unbroadcast(g2 * bt if db == 1 else np.matmul(g2, bt), shape(a2), batched)
        ga = np.squeeze(ga, axis=-2) if da == 1 else ga
    if needs[1]:
        at = np.swapaxes(a2, -1, -2)
        gb = unbroadcast(at * g2 if da == 1 else np.matmul(at, g2), shape(b2), batched)
        gb = np.squeeze(gb, axis=-1) if db == 1 else gb
    return ga, gb


# -- trace: linear, an einsum with the offset diagonal's mask ------------------------------


def _trace_spec(nd, axis1, axis2):
    a = _ABC[:nd]
    return _join([a, a[axis1] + a[axis2]], "".join(c for i, c in enumerate(a) if i not in (axis1, axis2)))


def _trace_mask(shp, offset, axis1, axis2, dtype):
    return np.eye(shp[axis1], shp[axis2], k=offset, dtype=dtype)


def _trace_batched(t, offset, axis1, axis2):
    x_shape = shape(t)[1:]
    mask = _trace_mask(x_shape, offset, axis1, axis2, real_dtype(t))
    return _einsum_in(_trace_spec(len(x_shape), axis1, axis2), (t, mask), 0, True)


def _trace_transpose(g, xs, out, p, batched):
    """VJP of trace: g on the (offset) diagonal of the two axes, zero elsewhere."""
    (x,) = xs
    mask = _trace_mask(shape(x), p["offset"], p["axis1"], p["axis2"], real_dtype(x))
    return (_einsum_vjp(_trace_spec(ndim(x), p["axis1"], p["axis2"]), g, [x, mask], 0, batched),)


def _trace_parse(a, offset=0, axis1=0, axis2=1, **options):
    reject("trace", **options)
    nd = ndim(a)
    return (a,), {"offset": offset, "axis1": nonneg_axis(axis1, nd), "axis2": nonneg_axis(axis2, nd)}


# -- examples: (operand shapes..., keyword arguments), each call through the op's parse -----


def _einsum_examples(rng):
    strings = [_einsum_parse(s, *(rng.uniform(-2, 2, sh) for sh in shapes)) for s, *shapes in _EINSUM]
    a, b, c = rng.uniform(-2, 2, (3, 4)), rng.uniform(-2, 2, (4, 2)), rng.uniform(-2, 2, (2, 2, 3))
    sublists = [(a, [0, 1], b, [1, 2], [0, 2]), (a, [0, 1], b, [1, 2]), (c, [Ellipsis, 0], [0, Ellipsis])]
    empty = [("ij,jk->ik", (0, 3), (3, 2)), ("ij,jk->ik", (2, 0), (0, 3)), ("ij->j", (0, 3))]
    return (
        strings
        + [_einsum_parse(*args) for args in sublists]
        + [_einsum_parse(s, *(rng.uniform(-2, 2, sh) for sh in shapes)) for s, *shapes in empty]
    )


_parse_matmul, _parse_dot, _parse_inner = (_pair_parser(n) for n in ("matmul", "dot", "inner"))

# fmt: off
_MATMUL = [((3, 4), (4, 2), {}), ((4,), (4, 2), {}), ((3, 4), (4,), {}), ((4,), (4,), {}),
           ((2, 3, 4), (4, 5), {}), ((2, 3, 4), (2, 4, 5), {}), ((2, 1, 3, 4), (5, 4, 2), {}),
           ((4,), (2, 4, 3), {}), ((2, 3, 4), (4,), {})]
_DOT = [((3, 4), (4, 2), {}), ((4,), (4,), {}), ((4,), (4, 2), {}), ((2, 3, 4), (4,), {}),
        ((2, 3, 4), (5, 4, 2), {}), ((), (2, 3), {}), ((3,), (), {})]
_INNER = [((4,), (4,), {}), ((3, 4), (2, 4), {}), ((2, 3, 4), (4,), {}), ((), (3,), {})]
_OUTER = [((3,), (4,), {}), ((2, 2), (3,), {})]
_VDOT = [((4,), (4,), {}), ((2, 3), (2, 3), {}), ((2, 3), (6,), {})]
_TENSORDOT = [((2, 3, 4), (3, 4, 5), {}), ((3, 4), (4, 2), {"axes": 1}), ((3,), (2,), {"axes": 0}),
              ((2, 3, 4), (4, 2, 3), {"axes": ([1, -1], [2, 0])}),
              ((3, 2), (2, 3), {"axes": ([0, 1], [1, 0])})]
_EINSUM = [("ij,jk->ik", (3, 4), (4, 2)), ("ij,jk", (3, 4), (4, 2)), ("ii->i", (3, 3)), ("ii", (3, 3)),
           ("ij->", (2, 3)), ("ij,j,jk->ki", (2, 3), (3,), (3, 4)), ("...ij,...jk->...ik", (2, 3, 4), (4, 2)),
           ("i...,i->...", (3, 2, 2), (3,)), ("ij,ij->ij", (1, 3), (2, 3)), ("ij,kj->i", (2, 3), (4, 3)),
           ("iij,j->ij", (3, 3, 2), (2,)), ("ba", (2, 3)), ("b...a", (2, 2, 3))]
_TRACE = [((3, 3), {}), ((3, 4), {"offset": 1}), ((4, 3), {"offset": -2}),
          ((2, 3, 4), {"axis1": -1, "axis2": 1}), ((3, 2, 3), {"axis1": 2, "axis2": 0})]

# -- the table ------------------------------------------------------------------------------

bilinear("matmul", np.matmul, _matmul_transpose, impl=_matmul, batched_impl=_matmul_batched,
         parse=_parse_matmul, einsum=_matmul_spec, complex=True,
         examples=examples_from(_parse_matmul, _MATMUL),
         doc="also @; VJP in A: G @ B^T, in B: A^T @ G")
_contraction("dot", np.dot, _dot_spec, parse=_parse_dot, examples=examples_from(_parse_dot, _DOT),
             complex=True, doc="a's last axis against b's second-to-last; VJPs: einsums of G with the other")
_contraction("inner", np.inner, _inner_spec, parse=_parse_inner, complex=True,
             examples=examples_from(_parse_inner, _INNER), doc="sum over the last axes; VJPs: einsums")
_contraction("outer", np.outer, lambda na, nb: "i,j->ij", parse=_outer_parse, complex=True,
             examples=examples_from(_outer_parse, _OUTER), doc="ravel(a) ravel(b)^T; VJP in a: G ravel(b)")
bilinear("vdot", np.vdot, _vdot_transpose, batched_impl=_vdot_batched, parse=_vdot_parse, einsum=_vdot_spec,
         examples=examples_from(_vdot_parse, _VDOT), analytic=False, complex=True,
         doc="sum(conj(a) * b), b of a's size; JVP vdot(ta, b) + vdot(a, tb); VJP in a: conj(g b), "
             "in b: g conj(a)")
_contraction("tensordot", np.tensordot, _tensordot_spec, parse=_tensordot_parse, complex=True,
             examples=examples_from(_tensordot_parse, _TENSORDOT), doc="axes an int or a pair of axis lists")
general("einsum", np.einsum, _einsum_jvp, _einsum_vjps, parse=_einsum_parse, examples=_einsum_examples,
        complex=True, multilinear=True,
        impl=lambda *xs, spec, optimize: np.einsum(spec, *xs, optimize=optimize),
        doc="subscripts as a string or as sublists, any number of operands, '...', zero-size axes; "
            "JVP sum_i einsum(.., t_i, ..)")
linear("trace", np.trace, _trace_transpose, batched_impl=_trace_batched, parse=_trace_parse,
       examples=examples_from(_trace_parse, _TRACE), complex=True, doc="JVP trace(T); VJP g on the diagonal")
# fmt: on
