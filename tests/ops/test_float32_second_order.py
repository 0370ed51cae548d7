"""float32 in, float32 derivatives out, at second order too: every registered op whose examples
take float inputs, run on float32 values where NumPy's own value is float32, must keep float32
in its value and JVP, in the derivative of its JVP and of its VJP (forward over either), and in
its VJP recorded on a tape (reverse over reverse). The transforms cast their results to the
input's dtype, so this reads the values the rules build, where a float64 constant (np.eye,
np.ones, a np.float64 scalar, 0.5 * a mask) promotes everything after it."""

import warnings

import numpy as np
import pytest

import ad
from ad import rules, testing
from ad.forward.dual import Dual
from ad.trace import apply, new_level, raw
from ad.tree import flatten

SINGLE = (np.dtype(np.float32), np.dtype(np.complex64))

# Ops whose rules, in files this suite does not own the fix of, still promote; each with the fix.
LEAKS = {
    "exp2": "ad/ops/elementwise.py: LN2, LN10 = np.log(2.0), np.log(10.0) are np.float64 scalars, "
    "which promote float32 (NEP 50): make them Python floats, math.log(2.0), math.log(10.0)",
    "log2": "as exp2: LN2 is a np.float64 scalar",
    "log10": "as exp2: LN10 is a np.float64 scalar",
    "logaddexp": "ad/ops/elementwise.py _logaddexp_partial: at_inf = (a == y) * np.where(a == b, 0.5, "
    "1.0) is float64; build it as np.asarray(..., dtype=np.result_type(raw(y)))",
    "logaddexp2": "as logaddexp",
    "softplus": "its derivative sigmoid(x) = exp(-logaddexp(0, -x)) meets logaddexp's float64 partial",
    "einsum": "ad/ops/contractions.py _einsum_vjp: np.eye(size[c]) and np.ones(size[c]) are float64; "
    "give them the cotangent's real dtype, dtype=np.finfo(rules.tangent_dtype(g)).dtype",
    "trace": "ad/ops/contractions.py _trace_mask: np.eye(shp[axis1], shp[axis2], k=offset) is float64; "
    "pass x's real dtype through to np.eye(..., dtype=...)",
    "logspace": "ad/ops/ranges.py _logspace: a Python-number base becomes a float64 array (ndmin, "
    "expand_dims) and promotes float32 start and stop; NumPy broadcasts base only when "
    "`not isinstance(base, (float, int)) and np.ndim(base)`, else takes np.power(base, y): do the same",
    "quantile": "ad/ops/quantiles.py _order_statistic: t = virtual - below is float64 (n and below are "
    "int64), and only a Python-number q casts it back; cast it to NumPy's result dtype for any q: "
    "dt = np.result_type(dtype, qv.dtype) unless weak, then t = t.astype(dt) for a traced t, "
    "np.asarray(t, dtype=dt) for a plain one",
    "percentile": "as quantile",
    "nanquantile": "as quantile",
    "nanpercentile": "as quantile",
    "roots": "ad/ops/polynomials.py _roots: the companion matrix's np.eye(n - 2, n - 1) is float64 and "
    "promotes float32 coefficients: np.eye(n - 2, n - 1, dtype=raw(p).dtype)",
}


def _single(v):
    """v in single precision where it is a float (an operand or a float in a list of them)."""
    if isinstance(v, np.ndarray) and v.dtype == np.float64:
        return v.astype(np.float32)
    if isinstance(v, np.float64 | float) and not isinstance(v, bool):
        return np.float32(v)
    return v


def _leaks(tree, level=None) -> list:
    """The float dtypes other than float32 and complex64 in tree: a Dual's of `level` primal
    and tangent, another value's own."""
    found = []
    for leaf in flatten(tree)[0]:
        parts = (leaf.primal, leaf.tangent) if isinstance(leaf, Dual) and leaf.level == level else (leaf,)
        for part in parts:
            if part is None:
                continue
            dt = (
                rules.tangent_dtype(part)
                if isinstance(part, ad.Tensor | Dual)
                else np.asarray(raw(part)).dtype
            )
            if dt.kind in "fc" and dt not in SINGLE:
                found.append(str(dt))
    return found


def _numpys(op, operands, params):
    """NumPy's own value: a composite's NumPy function on the call as NumPy takes it (its
    implementation in ad runs only on traced values), another op's impl on its parsed call."""
    if op.kind == "composite" and op.handles:
        return op.handles[0](*operands, **params)
    return apply(op, list(operands), params)


def _single_cases(op):
    """(operands, params, idx) in float32, where NumPy keeps float32 (its own output float32)."""
    for operands, params, idx in testing.cases(op):
        operands = [_single(x) for x in operands]
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                if _leaks(_numpys(op, operands, params)):
                    continue  # NumPy promotes float32 here itself (interp's float64 sample points)
            except Exception:  # ad takes a call NumPy does not (a traced q, say): ad's value decides
                if _leaks(apply(op, list(operands), params)):
                    continue
        yield operands, params, idx


def _float_cotangent(out, rng):
    return testing.tree_map(
        lambda o: np.asarray(testing.random_cotangent(raw(o), rng)).astype(np.result_type(raw(o))), out
    )


def _check(op) -> list:
    """Where op's derivatives leave float32, as (what, dtypes) pairs."""
    rng = np.random.default_rng(0)
    found = []
    for operands, params, idx in _single_cases(op):
        level = new_level()
        duals = list(operands)
        for i in idx:
            duals[i] = Dual(operands[i], rng.standard_normal(np.shape(operands[i])).astype(np.float32), level)
        out = apply(op, duals, params)
        found += [("JVP", d) for d in _leaks(out, level)]
        if op.kind == "composite":  # its parts are checked as ops of their own
            continue
        ts = [
            rng.standard_normal(np.shape(x)).astype(np.float32) if i in idx else None
            for i, x in enumerate(operands)
        ]
        found += [("forward over JVP", d) for d in _leaks(rules.jvp(op, ts, duals, out, params), level)]
        needs = [i in idx for i in range(len(operands))]
        ct = _float_cotangent(out, rng)
        cts = rules.vjp(op, ct, duals, out, params, False, needs)
        found += [("forward over VJP", d) for d in _leaks([cts[i] for i in idx], level)]
        tensors = list(operands)
        for i in idx:
            tensors[i] = ad.tensor(operands[i], requires_grad=True)
        out = apply(op, tensors, params)
        cts = [c for i, c in enumerate(rules.vjp(op, ct, tensors, out, params, False, needs)) if i in idx]
        found += [("VJP on a tape", d) for d in _leaks(cts)]
        recorded = [c for c in cts if isinstance(c, ad.Tensor) and c.requires_grad]
        if recorded:
            loss = sum(np.sum(np.real(c) * np.float32(0.5)) for c in recorded)
            grads = ad.autograd.grad(loss, [tensors[i] for i in idx], allow_unused=True)
            found += [("reverse over VJP", d) for d in _leaks([g for g in grads if g is not None])]
    return found


OPS = [
    pytest.param(op, marks=pytest.mark.xfail(strict=True, reason=LEAKS[op.name])) if op.name in LEAKS else op
    for op in testing.differentiable_ops()
    if op.second_order
]


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_float32_stays_float32_in_first_and_second_order_rules(op):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        found = _check(op)
    assert not found, f"{op.name}: derivatives leave float32: {sorted(set(found))}"


def test_float32_hessians_of_the_fixed_rules_are_float32_inside():
    """The rules fixed here, through the public transforms: a Tensor's create_graph gradient
    (not cast by any transform) stays float32, and the Hessian matches float64's."""
    x = np.random.default_rng(1).uniform(0.5, 2.0, (3, 3)) + 3 * np.eye(3)

    def loss(x):
        y = np.max(x, axis=0) * np.prod(x, axis=1) + np.maximum(x, 1.0).sum(axis=0)
        return (
            np.sum(y)
            + np.linalg.norm(x, 1)
            + np.sum(np.linalg.eigvalsh(x @ x.T))
            + np.remainder(x, 0.7).sum()
        )

    t = ad.tensor(x.astype(np.float32), requires_grad=True)
    (g,) = ad.autograd.grad(loss(t), t, create_graph=True)
    assert g.dtype == np.float32
    (h,) = ad.autograd.grad(np.sum(g * g), t)
    assert h.dtype == np.float32
    expected = ad.hessian(loss)(x)
    np.testing.assert_allclose(ad.hessian(loss)(x.astype(np.float32)), expected, rtol=2e-3, atol=2e-3)


@pytest.mark.xfail(
    strict=True,
    reason="ad/ops/update.py _jvp: a constant v's zero tangent is zeros(v), float64 for a Python "
    "number, so x[index] = 0.5 promotes a float32 x's tangent: make it zeros(v, dtype="
    "rules.tangent_dtype(out))",
)
def test_a_constant_written_into_a_float32_dual_keeps_its_tangent_float32():
    from ad.ops.update import setitem

    level = new_level()
    y = Dual(np.zeros(3, np.float32), np.ones(3, np.float32), level)
    assert setitem(y, np.array([True, False, True]), 0.5).tangent.dtype == np.float32
