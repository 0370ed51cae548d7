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


def _complex64(v):
    """v in complex64 where it is a float, with an imaginary part."""
    if isinstance(v, np.ndarray) and v.dtype == np.float64:
        return (v + 0.25j).astype(np.complex64)
    if isinstance(v, np.float64 | float) and not isinstance(v, bool):
        return np.complex64(v + 0.25j)
    return v


def _single_cases(op, single=_single):
    """(operands, params, idx) in single precision, where NumPy keeps it (its own output single)."""
    for operands, params, idx in testing.cases(op):
        operands = [single(x) for x in operands]
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


def _check(op, single=_single) -> list:
    """Where op's derivatives leave single precision, as (what, dtypes) pairs."""
    rng = np.random.default_rng(0)
    found = []
    for operands, params, idx in _single_cases(op, single):
        level = new_level()
        duals = list(operands)
        for i in idx:
            tangent = rng.standard_normal(np.shape(operands[i])).astype(rules.tangent_dtype(operands[i]))
            duals[i] = Dual(operands[i], tangent, level)
        out = apply(op, duals, params)
        found += [("JVP", d) for d in _leaks(out, level)]
        if op.kind == "composite":  # its parts are checked as ops of their own
            continue
        ts = [
            rng.standard_normal(np.shape(x)).astype(rules.tangent_dtype(x)) if i in idx else None
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


OPS = [op for op in testing.differentiable_ops() if op.second_order]


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


def test_a_constant_written_into_a_float32_dual_keeps_its_tangent_float32():
    from ad.ops.update import setitem

    level = new_level()
    y = Dual(np.zeros(3, np.float32), np.ones(3, np.float32), level)
    assert setitem(y, np.array([True, False, True]), 0.5).tangent.dtype == np.float32


COMPLEX_OPS = [op for op in OPS if op.complex]


@pytest.mark.parametrize("op", COMPLEX_OPS, ids=lambda op: op.name)
def test_complex64_stays_complex64_in_first_and_second_order_rules(op):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        found = _check(op, _complex64)
    assert not found, f"{op.name}: derivatives leave complex64: {sorted(set(found))}"


def apply_dual(f, x):
    """f at a Dual of x with a tangent of ones in x's dtype."""
    return f(Dual(x, np.ones_like(x), new_level()))


@pytest.mark.parametrize("method", ["linear", "midpoint", "averaged_inverted_cdf", "weibull"])
@pytest.mark.parametrize(
    "q",
    [0.3, np.float64(0.3), np.float32(0.3), np.array(0.3), np.array([0.3, 0.8], np.float32), np.array([0.3])],
    ids=["python", "float64 scalar", "float32 scalar", "float64 0-d", "float32 array", "float64 array"],
)
@pytest.mark.parametrize("f,scale", [(np.quantile, 1), (np.percentile, 100), (np.nanpercentile, 100)])
def test_quantile_of_float32_data_has_numpys_dtype_for_every_kind_of_q(f, scale, q, method):
    """A Python-number q keeps float32 data float32; a NumPy float q takes part in the result
    dtype (np.float64 included, which NumPy does not take as a Python number)."""
    a = np.random.default_rng(2).uniform(-1, 1, (2, 7)).astype(np.float32)
    q = q * scale if type(q) is float else np.asarray(q * scale, dtype=np.result_type(q))[()]
    expected = f(a, q, axis=1, method=method)
    out = apply_dual(lambda x: f(x, q, axis=1, method=method), a)
    assert out.primal.dtype == expected.dtype and out.tangent.dtype == expected.dtype
    np.testing.assert_allclose(out.primal, expected, rtol=2e-7 if expected.dtype == np.float32 else 1e-15)


def test_linspace_to_a_python_int_keeps_float32_start_float32():
    start = np.float32(0.3)
    out = apply_dual(lambda s: np.linspace(s, 2, num=5), start)
    assert out.primal.dtype == out.tangent.dtype == np.float32
    np.testing.assert_array_equal(out.primal, np.linspace(start, 2, num=5))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
@pytest.mark.parametrize("base", [10.0, 2, 1.5 + 0.5j, np.float64(3.0), np.array([2.0, 3.0])])
def test_logspace_has_numpys_dtype_and_values_for_every_kind_of_base(dtype, base):
    start, stop = np.array([0.25, -0.5], dtype=dtype), np.array([1.0, 0.75], dtype=dtype)
    expected = np.logspace(start, stop, num=4, base=base, axis=1)
    out = apply_dual(lambda s: np.logspace(s, stop, num=4, base=base, axis=1), start)
    assert out.primal.dtype == out.tangent.dtype == expected.dtype
    single = np.result_type(expected) in SINGLE
    np.testing.assert_allclose(out.primal, expected, rtol=1e-6 if single else 1e-15)


def test_a_python_number_to_a_float32_power_keeps_its_tangent_float32():
    out = apply_dual(lambda x: 10.0**x, np.array([0.5, 1.5], np.float32))
    assert out.tangent.dtype == np.float32
