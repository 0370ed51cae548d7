"""Reductions and scans: sum, mean, prod, max/min, var/std, cumsum, cumprod; argmax/argmin, all/any (nondiff).

`parse` turns every axis into a tuple of negative axes (`reduced_axes`), so each rule
indexes the same axes whether or not a tangent carries a leading batch axis.
"""

import math

import numpy as np

from ad.ops.special import keep, reduced_axes
from ad.registry import general, linear, nondiff
from ad.rules import ndim, negative_axis, real_dtype, shape, tangent_dtype
from ad.trace import Box, is_complex, raw


def reject(name: str, **options):
    """Raise for NumPy options ad cannot differentiate through (out=, dtype=, where= ...)."""
    if not options:  # the common call: parse runs on every traced reduction
        return
    given = sorted(k for k, v in options.items() if v is not None)
    if given:
        raise NotImplementedError(f"numpy.{name}: options {given} are not supported by ad; drop them")


def split_ties(hit, axes, dtype, extra=0):
    """hit / (number of hits along axes + extra), in dtype: tied extrema share the derivative
    evenly, as in JAX (extra counts tied candidates outside hit, as max's initial=)."""
    hit = np.asarray(hit, dtype=dtype)
    return hit / (np.sum(hit, axis=axes, keepdims=True) + extra)


def _count(x, axes) -> int:
    return int(np.prod([shape(x)[a] for a in axes], dtype=int))


def _lead(value, batched: bool) -> tuple:
    """(k,) when value carries a leading batch axis of k directions, else ()."""
    return tuple(shape(value)[:1]) if batched else ()


# where= of sum, prod and mean: the entries left out become the identity (0, or 1 for prod),
# so that they add nothing to the result and get a zero derivative (as in JAX); a mean then
# counts the entries kept, n / count times the mean of all n
_IDENTITY = {"sum": 0, "prod": 1, "mean": 0}


def _masked(name: str, a, where, axes):
    """a with the identity of the reduction `name` where `where` (broadcast to a's shape) is
    false, and for a mean scaled by the number of entries over the number kept."""
    mask = np.broadcast_to(np.asarray(raw(where), dtype=bool), shape(a))  # NumPy's broadcast check
    a = np.where(mask, a, _IDENTITY[name])
    if name == "mean":
        with np.errstate(divide="ignore", invalid="ignore"):  # NumPy's nan for no entry kept
            scale = _count(a, axes) / np.sum(mask, axis=axes, keepdims=True)
        # in the mean's real dtype: a float32 mean stays float32 (the counts are float64), and
        # an integer array's mean is float64, as NumPy's (the scale is no integer)
        a = a * scale.astype(real_dtype(a), copy=False)
    return a


def _cast(name: str, a, dtype):
    """a in dtype, which NumPy's sum, prod, mean, var and std reduce in: a differentiable cast
    to a float or complex dtype (an integer or bool one would have no derivative, and mean and sum would
    return another dtype than NumPy's)."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "fc":
        raise NotImplementedError(
            f"numpy.{name}(..., dtype={dtype}) of a traced value is not supported by ad: give a float "
            f"or complex dtype, or cast the result (np.{name}(x).astype(...))"
        )
    if isinstance(a, Box | np.ndarray):
        return a if a.dtype == dtype else a.astype(dtype)
    return np.asarray(a, dtype=dtype)


def _extremum_options(name: str, a, where, initial) -> dict:
    """max's and min's where= and initial= as params: the mask broadcast to a's shape (NumPy's
    broadcast check), and initial, a constant that competes with the entries kept."""
    params = {}
    if initial is not None:
        if isinstance(initial, Box):
            raise NotImplementedError(
                f"numpy.{name}(..., initial=) takes a constant in ad, not a traced value: write "
                f"np.{'maximum' if name == 'max' else 'minimum'}(np.{name}(x, ...), initial)"
            )
        params["initial"] = initial
    if where is not True:
        params["where"] = np.broadcast_to(np.asarray(raw(where), dtype=bool), shape(a))
    return params


def _reduction_parser(name):
    def parse(a, axis=None, *, keepdims=False, **options):
        if axis is None:  # every axis, read off the ndim alone
            nd = ndim(a)
            axes = _ALL_AXES[nd] if nd < len(_ALL_AXES) else tuple(range(-nd, 0))
        else:
            axes = reduced_axes(axis, ndim(a))
        params = {"axis": axes, "keepdims": bool(keepdims)}
        if options:  # the common call has none: parse runs on every traced reduction
            where = options.pop("where", True)
            if name in _IDENTITY:
                dtype = options.pop("dtype", None)
                if dtype is not None:
                    a = _cast(name, a, dtype)
                if where is not True:
                    a = _masked(name, a, where, axes)
            else:
                params.update(_extremum_options(name, a, where, options.pop("initial", None)))
            reject(name, **options)
        return (a,), params

    return parse


# reduced_axes(None, ndim) for the common ndims, made once
_ALL_AXES = tuple(tuple(range(-nd, 0)) for nd in range(8))


def _moment_dtype(name: str, a, dtype) -> np.dtype:
    """dtype, a float one for real a: NumPy returns var and std in a complex dtype as complex
    numbers (the moment, with imaginary part 0), and of complex a in a float one drops a's
    imaginary part, neither of which ad's real moment of a complex input is."""
    dtype = np.dtype(dtype)
    if dtype.kind == "c" or (dtype.kind == "f" and is_complex(a)):
        raise NotImplementedError(
            f"numpy.{name}(..., dtype={dtype}) of a traced {raw(a).dtype} value is not supported "
            f"by ad (NumPy would return the moment as a complex number, or drop the imaginary part): give "
            f"a float dtype for a real input, or no dtype (np.{name} of a complex input is real)"
        )
    return dtype


def _moment_parser(name):
    def parse(a, axis=None, dtype=None, *, ddof=0, keepdims=False, **options):
        reject(name, **options)
        if dtype is not None:  # NumPy computes the moment in dtype: cast first, as sum and mean do
            a = _cast(name, a, _moment_dtype(name, a, dtype))
        return (a,), {"axis": reduced_axes(axis, ndim(a)), "ddof": ddof, "keepdims": bool(keepdims)}

    return parse


def _scan_parser(name):
    def parse(a, axis=None, dtype=None, **options):  # axis=None scans the flattened array, as in NumPy
        reject(name, **options)
        if dtype is not None:  # NumPy scans in dtype: cast first, as sum does
            a = _cast(name, a, dtype)
        if axis is None:
            return (np.ravel(a),), {"axis": -1}
        return (a,), {"axis": negative_axis(axis, ndim(a))}

    return parse


# -- sum, mean: linear --------------------------------------------------------------------


def _sum(a, axis, keepdims):
    """np.sum(a, axis, keepdims=keepdims): NumPy's own reduce straight away for an array,
    without np.sum's Python wrapper (it costs more than the sum of a small vector)."""
    if type(a) is np.ndarray:
        return np.add.reduce(a, axis=axis, keepdims=keepdims)
    return np.sum(a, axis=axis, keepdims=keepdims)


def _spread(g, x_shape: tuple, batched: bool):
    """g, which has the keepdims form of a reduction of an x_shape array, broadcast to it.
    A plain array of at most _SMALL entries is filled in: cheaper than np.broadcast_to's view."""
    target = _lead(g, batched) + x_shape
    if type(g) is np.ndarray or isinstance(g, np.generic):
        if g.ndim == 0 and math.prod(target) <= _SMALL:
            return _filled(g, target)
    return np.broadcast_to(g, target)


def _filled(g, target: tuple):
    """np.full(target, g) for a 0-d g, without np.full's Python wrapper (0.25 us against 0.65
    for 100 entries)."""
    out = np.empty(target, g.dtype)
    out[...] = g
    return out


_SMALL = 4096


def _sum_transpose(g, xs, out, p, batched):
    """VJP of sum: g broadcast back over the reduced axes.

    An unbatched 0-d g (a sum over every axis, the loss of most programs) is its own
    keepdims form: it fills x's shape straight away."""
    (x,) = xs
    if not batched and type(x) is np.ndarray and (type(g) is np.ndarray or isinstance(g, np.generic)):
        if g.ndim == 0 and x.size <= _SMALL:
            return (_filled(g, x.shape),)
    return (_spread(keep(g, p["axis"], p["keepdims"]), tuple(shape(x)), batched),)


def _mean_transpose(g, xs, out, p, batched):
    """VJP of mean: g / n broadcast back over the reduced axes."""
    (x,) = xs
    g = keep(g, p["axis"], p["keepdims"]) / _count(x, p["axis"])
    return (_spread(g, tuple(shape(x)), batched),)


# -- prod: zero-safe through the product of the other entries ------------------------------


def _exclusive_cumprod(x, axis):
    """prod_{j<i} x_j along axis (1 for the first entry), with no division."""
    head = list(shape(x))
    head[axis] = min(head[axis], 1)  # an empty axis stays empty
    before = np.cumprod(x[along(axis, slice(None, -1))], axis=axis)
    return np.concatenate([np.ones(head, dtype=tangent_dtype(x)), before], axis=axis)


def along(axis, s) -> tuple:
    """An index applying slice s to the (negative) axis."""
    return (Ellipsis, s) + (slice(None),) * (-axis - 1)


def product_of_others(x, axes):
    """prod_{j != i} x_j over the block of axes, with no division (right where x has zeros).

    Along one axis: the left exclusive cumprod times the right one. Over several: the
    others along axes[0] through i, times the others of prod(x, axes[0]) over the rest.
    """
    a, rest = axes[0], axes[1:]
    flip = along(a, slice(None, None, -1))
    others = _exclusive_cumprod(x, a) * _exclusive_cumprod(x[flip], a)[flip]
    return others * product_of_others(np.prod(x, axis=a, keepdims=True), rest) if rest else others


def _prod_jvp(ts, xs, out, p, batched):
    """JVP of prod: sum of t times the product of the other entries."""
    (t,), (x,) = ts, xs
    if not p["axis"]:
        return t
    return np.sum(t * product_of_others(x, p["axis"]), axis=p["axis"], keepdims=p["keepdims"])


def _prod_vjp(g, xs, out, p, batched):
    """VJP of prod: g times the product of the other entries."""
    (x,) = xs
    if not p["axis"]:
        return (g,)
    return (keep(g, p["axis"], p["keepdims"]) * product_of_others(x, p["axis"]),)


# -- max, min: the cotangent goes to the extremum, shared evenly between ties --------------


def _extremum_weights(x, out, p):
    """1 / (number of ties) on the entries equal to the extremum, where= kept; initial=, when
    tied with them, counts as one more (it gets its share, and it is a constant)."""
    best = keep(out, p["axis"], p["keepdims"])
    hit = x == best
    if "where" in p:
        hit = hit & p["where"]
    tied_initial = (raw(best) == p["initial"]) if "initial" in p else 0
    return split_ties(hit, p["axis"], real_dtype(x), tied_initial)


def _extremum_jvp(ts, xs, out, p, batched):
    """JVP of max: the mean of t over the entries equal to the max."""
    (t,), (x,) = ts, xs
    return np.sum(t * _extremum_weights(x, out, p), axis=p["axis"], keepdims=p["keepdims"])


def _extremum_vjp(g, xs, out, p, batched):
    """VJP of max: g shared evenly between the entries equal to the max."""
    (x,) = xs
    return (keep(g, p["axis"], p["keepdims"]) * _extremum_weights(x, out, p),)


# -- var, std -------------------------------------------------------------------------------


def _centred(x, p):
    """(x - mean(x)) / (n - ddof): half the derivative of var. Conjugated for complex x, where
    var is the real mean(|x - m|^2) n / (n - ddof): then 2 ∂var/∂x, and the JVP takes Re."""
    c = (x - np.mean(x, axis=p["axis"], keepdims=True)) / (_count(x, p["axis"]) - p["ddof"])
    return np.conjugate(c) if is_complex(x) else c


def _real_part(x, tangent):
    """The tangent of var or std, which are real: Re for complex x."""
    return np.real(tangent) if is_complex(x) else tangent


def _var_jvp(ts, xs, out, p, batched):
    """JVP of var: 2 sum((x - m) t) / (n - ddof); its real part, with conj(x - m), for complex x."""
    (t,), (x,) = ts, xs
    return _real_part(x, np.sum(2 * _centred(x, p) * t, axis=p["axis"], keepdims=p["keepdims"]))


def _var_vjp(g, xs, out, p, batched):
    """VJP of var: 2 g (x - m) / (n - ddof); conj(x - m) for complex x."""
    (x,) = xs
    return (2 * keep(g, p["axis"], p["keepdims"]) * _centred(x, p),)


def _std_scale(out, p):
    """1 / std, and 0 where std = 0 (a kink: the convention abs'(0) = 0, docs/forward.md)."""
    s = keep(out, p["axis"], p["keepdims"])
    return 1 / np.where(s == 0, np.inf, s)


def _std_jvp(ts, xs, out, p, batched):
    """JVP of std: sum((x - m) t) / ((n - ddof) std); 0 where std = 0."""
    (t,), (x,) = ts, xs
    d = _centred(x, p) * _std_scale(out, p)
    return _real_part(x, np.sum(d * t, axis=p["axis"], keepdims=p["keepdims"]))


def _std_vjp(g, xs, out, p, batched):
    """VJP of std: g (x - m) / ((n - ddof) std); 0 where std = 0."""
    (x,) = xs
    return (keep(g, p["axis"], p["keepdims"]) * _centred(x, p) * _std_scale(out, p),)


# -- cumsum, cumprod ------------------------------------------------------------------------


def _cumsum_transpose(g, xs, out, p, batched):
    """VJP of cumsum: the reversed cumsum of g, x̄_j = sum_{i >= j} g_i, summed from the end (so
    that x̄_j is exactly 0 where every g_i after it is, which sum(g) - cumsum(g) + g is not)."""
    flip = along(p["axis"], slice(None, None, -1))
    return (np.cumsum(g[flip], axis=p["axis"])[flip],)


def _cumprod_jacobian(x, axis):
    """D[..., j, i, ...] = dy_i/dx_j = prod_{l <= i, l != j} x_l for i >= j, else 0.

    Right where entries are zero (no division by x); it costs O(n^2) memory along the axis.
    """
    n, r = shape(x)[axis], -axis - 1
    others = np.arange(n)[:, None] != np.arange(n)
    later = np.arange(n)[:, None] <= np.arange(n)
    z = np.where(np.reshape(others, (n, n) + (1,) * r), np.expand_dims(x, axis - 1), 1.0)
    return np.cumprod(z, axis=axis) * np.reshape(later, (n, n) + (1,) * r)


def _cumprod_jvp(ts, xs, out, p, batched):
    """JVP of cumprod: dy_i = sum_{j <= i} t_j prod_{l <= i, l != j} x_l."""
    (t,), (x,), axis = ts, xs, p["axis"]
    return np.sum(np.expand_dims(t, axis) * _cumprod_jacobian(x, axis), axis=axis - 1)


def _cumprod_vjp(g, xs, out, p, batched):
    """VJP of cumprod: x̄_j = sum_{i >= j} g_i prod_{l <= i, l != j} x_l."""
    (x,), axis = xs, p["axis"]
    return (np.sum(np.expand_dims(g, axis - 1) * _cumprod_jacobian(x, axis), axis=axis),)


# -- examples: (operand shapes..., keyword arguments), each call through the op's parse -----


def examples_from(parse, calls):
    """An op's `examples`: operands drawn uniformly from [-2, 2] with the given shapes."""
    return lambda rng: [parse(*(rng.uniform(-2, 2, s) for s in shapes), **kw) for *shapes, kw in calls]


_parse_sum, _parse_mean, _parse_prod = (_reduction_parser(n) for n in ("sum", "mean", "prod"))
_parse_max, _parse_min = _reduction_parser("max"), _reduction_parser("min")
_parse_var, _parse_std = _moment_parser("var"), _moment_parser("std")
_parse_cumsum, _parse_cumprod = _scan_parser("cumsum"), _scan_parser("cumprod")

# fmt: off
_REDUCE = [((3, 4), {}), ((3, 4), {"axis": 0}), ((3, 4), {"axis": -1, "keepdims": True}), ((5,), {}),
           ((2, 3, 4), {"axis": (0, 2)}), ((2, 3, 4), {"axis": (-1, 0), "keepdims": True}),
           ((3, 4), {"keepdims": True}), ((2, 3, 4), {"axis": ()})]
_MOMENT = _REDUCE + [((3, 4), {"axis": 1, "ddof": 1}), ((2, 3, 4), {"ddof": 1, "keepdims": True})]
_SCAN = [((3, 4), {}), ((3, 4), {"axis": 0}), ((3, 4), {"axis": -1}), ((2, 3, 4), {"axis": 1}), ((5,), {})]

# -- the table ------------------------------------------------------------------------------

linear("sum", np.sum, _sum_transpose, impl=_sum, batched_impl=np.sum, parse=_parse_sum,
       examples=examples_from(_parse_sum, _REDUCE), complex=True, doc="JVP sum(t); VJP g broadcast back",
       lowering="sum")
linear("mean", np.mean, _mean_transpose, batched_impl=np.mean, parse=_parse_mean, complex=True,
       examples=examples_from(_parse_mean, _REDUCE), doc="JVP mean(t); VJP g / n broadcast back",
       lowering="mean")
general("prod", np.prod, _prod_jvp, _prod_vjp, parse=_parse_prod,
        examples=examples_from(_parse_prod, _REDUCE), complex=True,
        doc="derivative: the product of the other entries (exclusive cumprods; right at zeros)")
general("max", (np.max, np.amax), _extremum_jvp, _extremum_vjp, parse=_parse_max,
        examples=examples_from(_parse_max, _REDUCE), analytic=False, smooth=False,
        doc="derivative: indicator of the max, shared evenly between ties (like JAX); where= entries "
            "left out get 0; an initial= tied with the max takes a share")
general("min", (np.min, np.amin), _extremum_jvp, _extremum_vjp, parse=_parse_min,
        examples=examples_from(_parse_min, _REDUCE), analytic=False, smooth=False,
        doc="derivative: indicator of the min, shared evenly between ties (like JAX); where= entries "
            "left out get 0; an initial= tied with the min takes a share")
general("var", np.var, _var_jvp, _var_vjp, parse=_parse_var, examples=examples_from(_parse_var, _MOMENT),
        analytic=False, complex=True, doc="mean((x - m)^2) n / (n - ddof); derivative 2 (x - m) / (n - ddof)")
general("std", np.std, _std_jvp, _std_vjp, parse=_parse_std, examples=examples_from(_parse_std, _MOMENT),
        analytic=False, complex=True, doc="sqrt(var); derivative (x - m) / ((n - ddof) std), 0 where std = 0")
linear("cumsum", np.cumsum, _cumsum_transpose, batched_impl=np.cumsum, parse=_parse_cumsum, complex=True,
       examples=examples_from(_parse_cumsum, _SCAN), doc="JVP cumsum(t); VJP reversed cumsum of g")
general("cumprod", np.cumprod, _cumprod_jvp, _cumprod_vjp, parse=_parse_cumprod,
        examples=examples_from(_parse_cumprod, _SCAN), complex=True,
        doc="derivative prod_{l <= i, l != j} x_l (right at zeros; O(n^2) memory along the axis)")
nondiff("argmax", np.argmax, complex=True, doc="index of the max: a constant")
nondiff("argmin", np.argmin, complex=True, doc="index of the min: a constant")
nondiff("all", np.all, complex=True, doc="whether every entry is nonzero: a constant")
nondiff("any", np.any, complex=True, doc="whether some entry is nonzero: a constant")
# fmt: on
