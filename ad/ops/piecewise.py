"""Values defined piece by piece or replaced: piecewise, interp, nan_to_num, real_if_close."""

import numpy as np

from ad import rules
from ad.ops.differences import as_array
from ad.ops.update import setitem
from ad.registry import composite, general
from ad.trace import Box, raw

# ---------------------------------------------------------------------------------------
# piecewise: each function sees only the entries where its condition is the last to hold, so
# that a function is never evaluated where its value is discarded: no branch that would be
# NaN or infinite there (sqrt of the negatives) adds a NaN to a derivative, in either mode.
# NumPy passes a function every entry of its condition and overwrites the later ones: the
# same values wherever the functions act entry by entry, as they are meant to.


def _conditions(condlist, x) -> list:
    """The conditions as plain boolean arrays, a lone condition put in a list (NumPy's rule)."""
    if np.isscalar(condlist) or (not isinstance(condlist[0], list | np.ndarray) and rules.ndim(x) != 0):
        condlist = [condlist]
    return list(np.asarray([raw(c) for c in condlist], dtype=bool))


def _piecewise(x, condlist, funclist, *args, **kw):
    """f_i(x) where cond_i is the last condition to hold; 0 where none does."""
    x = as_array(x)
    conds = _conditions(condlist, x)
    n = len(conds)
    if len(funclist) == n + 1:  # the last function holds where no condition does
        conds.append(~np.any(conds, axis=0))
    elif len(funclist) != n:
        raise ValueError(f"with {n} condition(s), either {n} or {n + 1} functions are expected")
    later = np.zeros_like(conds[0])
    for i in reversed(range(len(conds))):
        conds[i], later = conds[i] & ~later, later | conds[i]
    y = np.zeros_like(x)
    for cond, func in zip(conds, funclist):
        if not callable(func):  # a value, a plain one in y's dtype as NumPy's assignment casts it
            y = setitem(y, cond, func if isinstance(func, Box) else np.asarray(func, dtype=raw(y).dtype))
            continue
        picked = x[cond]
        if np.size(raw(picked)):
            y = setitem(y, cond, func(picked, *args, **kw))
    return y


# ---------------------------------------------------------------------------------------
# interp


def _interp(x, xp, fp, left=None, right=None, period=None):
    """fp[j] + slope_j (x - xp[j]) on the segment of x; x is clipped to [xp[0], xp[-1]], so
    the derivative in x is the segment's slope inside and 0 outside."""
    if isinstance(xp, Box):
        raise NotImplementedError(
            "ad: numpy.interp differentiates in x, fp, left and right, not in the sample points "
            "xp; pass xp as a plain array"
        )
    xp, fp, x = np.asarray(xp, dtype=np.float64), as_array(fp), as_array(x)
    if xp.ndim != 1 or rules.ndim(fp) != 1:
        raise ValueError("numpy.interp needs 1-d sample points xp and values fp")
    if len(xp) != rules.shape(fp)[0]:
        raise ValueError("fp and xp are not of the same length.")
    if len(xp) == 0:
        raise ValueError("array of sample points is empty")
    if period is not None:
        if period == 0:
            raise ValueError("period must be a non-zero value")
        period, left, right = abs(period), None, None
        x = np.remainder(x, period)
        xp = np.remainder(xp, period)
        order = np.argsort(xp)
        xp, fp = xp[order], fp[order]
        xp = np.concatenate((xp[-1:] - period, xp, xp[:1] + period))
        fp = np.concatenate((fp[-1:], fp, fp[:1]))
    if len(xp) == 1:  # one sample: a segment of length 0 from it to itself
        xp, fp = np.concatenate((xp, xp)), np.concatenate((fp, fp))
    lo, hi = xp[0], xp[-1]
    inside = np.clip(x, lo, hi)
    at = raw(inside)
    i = np.clip(np.searchsorted(xp, at, side="right") - 1, 0, len(xp) - 2)
    j = i + (at == hi)  # the last sample is reached from itself, so that it gives fp[-1] exactly
    width = xp[i + 1] - xp[i]
    slope = (fp[i + 1] - fp[i]) / np.where(width == 0, np.inf, width)  # repeated samples: slope 0
    y = fp[j] + slope * (inside - xp[j])
    if left is not None:
        y = np.where(raw(x) < lo, left, y)
    if right is not None:
        y = np.where(raw(x) > hi, right, y)
    return y


# ---------------------------------------------------------------------------------------
# nan_to_num, real_if_close


def _nan_to_num_parse(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """The fill values are operands: a traced fill value is differentiated where it is used."""
    if not copy:
        raise NotImplementedError(
            "ad: numpy.nan_to_num(x, copy=False) would overwrite a traced array in place; "
            "use copy=True (the default) and assign the result"
        )
    dt = np.result_type(raw(x))
    big = np.finfo(dt if rules.differentiable(dt) else np.float64).max
    return (x, nan, big if posinf is None else posinf, -big if neginf is None else neginf), {}


def _nan_to_num(x, nan, posinf, neginf):
    return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


def _filled_from(x) -> tuple:
    """Where each operand gives the value: x where finite, each fill value where it replaces."""
    inf = np.isinf(x)
    return np.isfinite(x), np.isnan(x), inf & ~np.signbit(x), inf & np.signbit(x)


def _nan_to_num_jvp(ts, xs, out, p, batched):
    """Each entry's tangent is picked from the operand that gave its value (as where's is), so
    that a replaced entry has tangent 0 even when x's tangent there is infinite or NaN."""
    x, acc = xs[0], None
    for t, operand, mask in zip(ts, xs, _filled_from(x)):
        if t is not None:
            term = np.where(mask, rules.align(t, rules.ndim(operand), rules.ndim(x), batched), 0.0)
            acc = term if acc is None else acc + term
    return acc


def _nan_to_num_vjp(g, xs, out, p, batched, needs):
    """The cotangent of each operand: g where it gave the value, 0 elsewhere (summed for a fill value)."""
    return tuple(
        rules.unbroadcast(np.where(mask, g, 0.0), tuple(rules.shape(operand)), batched) if need else None
        for operand, mask, need in zip(xs, _filled_from(xs[0]), needs)
    )


def _real_if_close(a, tol=100):
    """real(a) when every imaginary part is below tol (in machine epsilons when tol > 1), else a."""
    v = raw(a)
    if not np.iscomplexobj(v):
        return a
    if tol > 1:
        tol = tol * np.finfo(v.dtype).eps
    return np.real(a) if np.all(np.abs(np.imag(v)) < tol) else a


# ---------------------------------------------------------------------------------------
# Examples: (operands, params) as NumPy takes them; float operands are differentiated.


def _piecewise_examples(rng):
    x = rng.uniform(-2, 2, (3, 4))
    v = rng.uniform(-2, 2, 5)
    return [
        ((x, [x < -0.5, x > 0.5], [np.sin, lambda t: t * t, 0.5]), {}),
        ((v, [v > 0, v > 1], [lambda t, c: c * t**3, lambda t, c: c * t]), {"c": 2.0}),
        ((v, v < 0, [lambda t: -t, np.exp]), {}),
        ((rng.uniform(-2, 2), [True, False], [np.cos, np.sin]), {}),
    ]


def _interp_examples(rng):
    xp = np.array([-2, -1, 0, 1, 3])  # integers: the sample points are not differentiated
    fp = rng.uniform(-2, 2, 5)
    x = rng.uniform(-2.5, 3.5, (3, 4))
    return [
        ((x, xp, fp), {}),
        ((x, xp, fp, rng.uniform(-2, 2), rng.uniform(-2, 2)), {}),
        ((rng.uniform(-6, 6, 7), xp, fp), {"period": 4.5}),
        ((x, np.array([1]), fp[:1], -1.0, 2.0), {}),
    ]


def _nan_to_num_examples(rng):
    x = np.array([[1.5, np.nan, np.inf], [-np.inf, -0.5, 2.0]])
    # fill values of moderate size: finite differences cannot move the default, the largest float
    fill = lambda: {name: rng.uniform(-2, 2) for name in ("nan", "posinf", "neginf")}  # noqa: E731
    return [_nan_to_num_parse(x, **fill()), _nan_to_num_parse(rng.uniform(-2, 2, 3), **fill())]


def _real_if_close_examples(rng):
    x = rng.uniform(-2, 2, (2, 3))
    return [((x,), {}), ((x,), {"tol": 1e300})]


# fmt: off
composite("piecewise", np.piecewise, _piecewise, examples=_piecewise_examples, domain=("real", "bool", "int"),
          complex=True, doc="constant conditions; each function sees only the entries where its condition "
                            "is the last to hold (no NaN from values NumPy overwrites)")
composite("interp", np.interp, _interp, orders_by=(("x",), ("fp", "left", "right")),
          examples=_interp_examples, analytic=False, smooth=False,
          doc="differentiable in x, fp, left and right (when x or fp is traced), not in xp. d/dx: the "
              "segment's slope (the right one at a sample, the last one at xp[-1]), 0 outside the samples")
general("nan_to_num", np.nan_to_num, _nan_to_num_jvp, _nan_to_num_vjp, impl=_nan_to_num,
        parse=_nan_to_num_parse, examples=_nan_to_num_examples, analytic=False,
        doc="d/dx: 1 where x is finite, 0 where replaced (picked, as where's); each fill value (when x is "
            "traced) gets the entries it fills")
composite("real_if_close", np.real_if_close, _real_if_close, examples=_real_if_close_examples, analytic=False,
          complex=True, doc="real(a) or a, chosen on a's value")
# fmt: on
