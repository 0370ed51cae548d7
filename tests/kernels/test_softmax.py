"""The row kernels of logsumexp, softmax and log_softmax, and of their rules, against the twins."""

import numpy as np
import pytest

import ad
from ad.kernels import softmax as S


def arrays():
    """Rows with nan, +inf, all -inf, -inf among finite; empty and non-contiguous arrays."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-5, 5, (6, 7))
    x[1, 2] = np.nan
    x[2, 3] = np.inf
    x[3] = -np.inf
    x[4, :3] = -np.inf
    x[5] *= 300  # exp would overflow without the shift
    return {
        "matrix": x,
        "3d": rng.uniform(-5, 5, (2, 3, 4)),
        "vector": rng.uniform(-5, 5, 9),
        "empty rows": np.zeros((0, 4)),
        "empty row": np.zeros((3, 0)),
        "empty": np.zeros(0),
        "transpose": x.T,
        "steps": x[::2, ::-2],
    }


PRIMALS = [
    ("logsumexp", S.logsumexp, S.logsumexp_twin, "_logsumexp"),
    ("softmax", S.softmax, S.softmax_twin, "_softmax"),
    ("log_softmax", S.log_softmax, S.log_softmax_twin, "_log_softmax"),
]


def _params(name, x):
    axes = [-1, x.ndim - 1, None]
    if name == "logsumexp":
        return [{"axis": a, "keepdims": k} for a in axes for k in (False, True)]
    return [{"axis": a} for a in axes]


@pytest.mark.parametrize("name,dispatch,twin,kernel", PRIMALS, ids=[p[0] for p in PRIMALS])
@pytest.mark.parametrize("which", list(arrays()))
def test_primal_kernel_matches_its_twin(name, dispatch, twin, kernel, which, forced, spy):
    x = arrays()[which]
    calls = spy(S, kernel)
    for params in _params(name, x):
        with np.errstate(all="ignore"):  # the twin warns on inf - inf, log(0), exp overflow
            expected = twin(x, **params)
        out = dispatch(x, **params)
        assert out.shape == np.shape(expected), params
        np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-15, err_msg=str(params))
    assert len(calls) == len(_params(name, x))


def test_primals_are_the_textbook_formulas_where_nothing_overflows(forced):
    x = np.random.default_rng(2).uniform(-3, 3, (4, 5))
    lse = np.log(np.sum(np.exp(x), axis=-1, keepdims=True))
    for f in (S.logsumexp, S.logsumexp_twin):
        np.testing.assert_allclose(f(x, -1, True), lse, rtol=1e-14)
    for f in (S.softmax, S.softmax_twin):
        np.testing.assert_allclose(f(x, -1), np.exp(x) / np.exp(lse), rtol=1e-14)
    for f in (S.log_softmax, S.log_softmax_twin):
        np.testing.assert_allclose(f(x, -1), x - lse, rtol=1e-14)


def test_other_axes_long_rows_of_large_arrays_and_boxes_take_the_twin(spy):
    calls = spy(S, "_softmax")
    x = np.random.default_rng(3).uniform(-1, 1, (4, 5))
    np.testing.assert_allclose(S.softmax(x, axis=0), S.softmax_twin(x, axis=0))
    S.softmax(np.zeros((S.PRIMAL_SIZE_UPTO // 64 + 1, 64)))  # rows of 64, more than the size limit
    assert calls == []
    S.softmax(np.zeros((S.PRIMAL_SIZE_UPTO, S.PRIMAL_ROW_UPTO)))  # short rows: any size
    S.softmax(np.zeros((2, S.PRIMAL_SIZE_UPTO // 2)))  # small: any row length
    assert len(calls) == 2


RULES = [
    (
        "softmax_product",
        S.softmax_product,
        S.softmax_twin,
        lambda s, v: s * (v - np.sum(s * v, -1, keepdims=True)),
    ),
    (
        "log_softmax_jvp",
        S.log_softmax_jvp,
        S.log_softmax_twin,
        lambda y, t: t - np.sum(np.exp(y) * t, -1, keepdims=True),
    ),
    (
        "log_softmax_vjp",
        S.log_softmax_vjp,
        S.log_softmax_twin,
        lambda y, g: g - np.exp(y) * np.sum(g, -1, keepdims=True),
    ),
]


@pytest.mark.parametrize("name,rule,primal,formula", RULES, ids=[r[0] for r in RULES])
def test_rule_kernel_matches_the_formula(name, rule, primal, formula, forced, spy):
    rng = np.random.default_rng(4)
    calls = spy(S, "_" + name)
    for shape in [(5, 6), (2, 3, 4), (7,), (3, 0), (0, 2)]:
        with np.errstate(divide="ignore"):  # log(0) of an empty row
            p = primal(rng.uniform(-3, 3, shape), -1)
        for v in [
            rng.standard_normal(shape),  # one direction
            rng.standard_normal((3,) + shape),  # k = 3 directions on a leading axis
            rng.standard_normal(shape[::-1]).T,  # a transpose
            rng.standard_normal((3,) + shape[:-1] + (2 * shape[-1],))[..., ::2],  # strided
        ]:
            np.testing.assert_allclose(rule(p, v, (-1,)), formula(p, v), rtol=1e-13, atol=1e-14)
    assert len(calls) == 20
    v = rng.standard_normal((4, 5))
    p = primal(rng.uniform(-3, 3, (4, 5)), -1)
    whole = formula(p.reshape(1, -1), v.reshape(1, -1)).reshape(4, 5)  # one row of every element
    np.testing.assert_allclose(rule(p, v, (-2, -1)), whole)
    d = rule(p, ad.Dual(v, np.ones_like(v)), (-1,))
    assert isinstance(d, ad.Dual) and len(calls) == 21
    np.testing.assert_allclose(d.primal, formula(p, v))


@pytest.fixture(params=["kernels", "twins"])
def either(request, monkeypatch):
    """Run a test once with every kernel forced on and once with every kernel off."""
    if request.param == "kernels":
        request.getfixturevalue("forced")
    else:
        monkeypatch.setattr(S, "plain", lambda *a: False)


def test_jacobians_of_softmax_are_diag_s_minus_s_s_transpose(either):
    x = np.random.default_rng(5).uniform(-2, 2, 6)
    s = S.softmax_twin(x)
    expected = np.diag(s) - np.outer(s, s)
    np.testing.assert_allclose(ad.jacrev(ad.softmax)(x), expected, atol=1e-15)
    np.testing.assert_allclose(ad.jacfwd(ad.softmax)(x), expected, atol=1e-15)
    np.testing.assert_allclose(ad.jacrev(ad.log_softmax)(x), np.eye(6) - s, atol=1e-15)
    np.testing.assert_allclose(ad.jacfwd(ad.log_softmax)(x), np.eye(6) - s, atol=1e-15)


def test_hessian_of_logsumexp_is_diag_s_minus_s_s_transpose_row_by_row(either):
    x = np.random.default_rng(6).uniform(-2, 2, (3, 4))
    s = S.softmax_twin(x)
    expected = np.zeros((3, 4, 3, 4))
    for i, r in enumerate(s):
        expected[i, :, i, :] = np.diag(r) - np.outer(r, r)
    np.testing.assert_allclose(ad.hessian(lambda x: np.sum(ad.logsumexp(x, -1)))(x), expected, atol=1e-14)


def test_hessian_through_every_rule_is_symmetric(either):
    x = np.random.default_rng(6).uniform(-2, 2, (3, 4))
    w = np.random.default_rng(7).standard_normal((3, 4))
    f = lambda x: np.sum(w * ad.softmax(x)) + np.sum(ad.log_softmax(x)[:, 0]) + np.sum(ad.logsumexp(x, -1))
    h = ad.hessian(f)(x).reshape(12, 12)
    np.testing.assert_allclose(h, h.T, atol=1e-13)
