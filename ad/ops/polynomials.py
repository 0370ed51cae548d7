"""Polynomials as coefficient arrays, highest power first: poly, polyadd, polysub, polymul, polydiv, ....

Also polyder, polyint, polyfit, roots. Each is written with registered ops the way NumPy
computes it (convolve for products, a running long division, lstsq for the fit, eigvals
of the companion matrix for the roots), so derivatives, batching, second order and complex
numbers come from the parts. Decisions NumPy takes on values (trimming the remainder's
leading zeros, the roots' leading and trailing zeros) are taken on the primal.
"""

import operator

import numpy as np

from ad import rules
from ad.ops.differences import as_array
from ad.registry import composite
from ad.trace import is_complex, raw


def _coefficients(p, name: str):
    p = np.atleast_1d(p)
    if rules.ndim(p) != 1:
        raise ValueError(f"numpy.{name}: coefficients must be 1-D; got shape {rules.shape(p)}")
    return p


def _front_padded(a1, a2):
    """a1 and a2 with zeros in front of the shorter, as NumPy aligns them (highest power first)."""
    n1, n2 = rules.shape(a1)[0], rules.shape(a2)[0]
    if n1 < n2:
        a1 = np.concatenate([np.zeros(n2 - n1, raw(a1).dtype), a1])
    elif n2 < n1:
        a2 = np.concatenate([np.zeros(n1 - n2, raw(a2).dtype), a2])
    return a1, a2


def _polyadd(a1, a2):
    """a1 + a2, aligned at the constant term."""
    a1, a2 = _front_padded(_coefficients(a1, "polyadd"), _coefficients(a2, "polyadd"))
    return a1 + a2


def _polysub(a1, a2):
    """a1 - a2, aligned at the constant term."""
    a1, a2 = _front_padded(_coefficients(a1, "polysub"), _coefficients(a2, "polysub"))
    return a1 - a2


def _polymul(a1, a2):
    """The product: the full convolution of the coefficients."""
    return np.convolve(_coefficients(a1, "polymul"), _coefficients(a2, "polymul"))


def _polyder(p, m=1):
    """The m-th derivative: p_k (n - k) for each power n - k, m times."""
    m = operator.index(m)
    if m < 0:
        raise ValueError("Order of derivative must be positive (see polyint)")
    p = _coefficients(p, "polyder")
    for _ in range(m):
        p = p[:-1] * np.arange(rules.shape(p)[0] - 1, 0, -1)
    return p


def _polyint(p, m=1, k=None):
    """The m-th antiderivative: p_k / (n - k + 1), then the integration constant k[i] appended."""
    m = operator.index(m)
    if m < 0:
        raise ValueError("Order of integral must be positive (see polyder)")
    k = np.zeros(m) if k is None else k
    if rules.ndim(k) == 0 or rules.shape(k) == (1,):
        k = [np.reshape(k, ())] * m
    elif rules.ndim(k) == 1 and rules.shape(k)[0] >= m:
        k = [k[i] for i in range(m)]
    else:
        raise ValueError("k must be a scalar or a rank-1 array of length 1 or >m.")
    p = _coefficients(p, "polyint")
    for i in range(m):
        n = rules.shape(p)[0]
        p = np.concatenate([p / np.arange(n, 0, -1), np.reshape(k[i], (1,))])
    return p


def _polydiv(u, v):
    """(q, r) with u = q v + r, by long division as NumPy's; r's leading (near-)zeros, which
    NumPy drops while allclose(r[0], 0, rtol=1e-14), are judged on the primal."""
    u, v = _coefficients(u, "polydiv") + 0.0, _coefficients(v, "polydiv") + 0.0
    m, n = rules.shape(u)[0] - 1, rules.shape(v)[0] - 1
    scale = 1.0 / v[0]
    r = [u[i] for i in range(m + 1)]
    q = []
    for k in range(m - n + 1):
        d = scale * r[k]
        q.append(d)
        for j in range(n + 1):
            r[k + j] = r[k + j] - d * v[j]
    q = np.stack(q) if q else np.zeros(1, np.result_type(raw(u), raw(v)))
    r = np.stack(r)
    start = 0
    while start < m and np.allclose(raw(r[start]), 0, rtol=1e-14):
        start += 1
    return q, r[start:]


def _poly(seq_of_zeros):
    """The monic polynomial with those roots: the product of the factors (x - z); a square
    matrix stands for its eigenvalues. Conjugate pairs of roots give real coefficients."""
    seq = as_array(seq_of_zeros)
    s = rules.shape(seq)
    if len(s) == 2 and s[0] == s[1] and s[0] != 0:
        seq = np.linalg.eigvals(seq)
    elif len(s) == 0:
        seq = np.reshape(seq, (1,))
    elif len(s) != 1:
        raise ValueError("input must be 1d or non-empty square 2d array.")
    if rules.shape(seq)[0] == 0:
        return 1.0
    a = np.ones(1, np.result_type(raw(seq).dtype, 1.0))
    zero = np.zeros(1, raw(a).dtype)
    for i in range(rules.shape(seq)[0]):  # a(x) (x - z): a's coefficients shifted, minus z times them
        a = np.concatenate([a, zero]) - seq[i] * np.concatenate([zero, a])
    if is_complex(a):
        roots = np.asarray(raw(seq), complex)
        if np.all(np.sort(roots) == np.sort(roots.conjugate())):
            a = np.real(a)
    return a


def _roots(p):
    """The eigenvalues of the companion matrix [-p[1:] / p[0]; I 0], with p's leading zeros
    dropped and its trailing zeros given back as zero roots (both read off the primal)."""
    p = _coefficients(p, "roots")
    nonzero = np.flatnonzero(raw(p))
    if not nonzero.size:
        return np.zeros(0, raw(p).dtype)
    trailing = rules.shape(p)[0] - nonzero[-1] - 1
    p = p[int(nonzero[0]) : int(nonzero[-1]) + 1]
    n = rules.shape(p)[0]
    if n > 1:
        shift = np.eye(n - 2, n - 1, dtype=raw(p).dtype)
        companion = np.concatenate([np.reshape(-p[1:] / p[0], (1, n - 1)), shift])
        roots = np.linalg.eigvals(companion)
    else:
        roots = np.zeros(0, raw(p).dtype)
    return np.concatenate([roots, np.zeros(trailing, raw(roots).dtype)]) if trailing else roots


def _polyfit(x, y, deg, rcond=None, full=False, w=None, cov=False):
    """Least squares on the Vandermonde matrix, its columns scaled to unit norm as NumPy's."""
    if cov:
        raise NotImplementedError(
            "ad: numpy.polyfit(..., cov=True) is not supported; compute the covariance from "
            "the residuals returned with full=True"
        )
    order = operator.index(deg) + 1
    if order < 1:
        raise ValueError("expected deg >= 0")
    x, y = x + 0.0, y + 0.0
    if rules.ndim(x) != 1 or rules.shape(x)[0] == 0 or rules.ndim(y) not in (1, 2):
        raise TypeError("expected a non-empty 1-D x and a 1-D or 2-D y")
    if rules.shape(x)[0] != rules.shape(y)[0]:
        raise TypeError("expected x and y to have same length")
    if rcond is None:
        rcond = rules.shape(x)[0] * np.finfo(raw(x).dtype).eps
    lhs, rhs = np.vander(x, order), y
    if w is not None:
        lhs = lhs * w[:, None]
        rhs = rhs * (w[:, None] if rules.ndim(rhs) == 2 else w)
    scale = np.sqrt(np.sum(lhs * lhs, axis=0))
    lhs = lhs / scale
    if not np.all(np.isfinite(raw(lhs))):  # as NumPy's lstsq, in both modes alike
        raise np.linalg.LinAlgError("SVD did not converge in Linear Least Squares")
    c, resids, rank, s = np.linalg.lstsq(lhs, rhs, rcond)
    c = (c.T / scale).T
    if full:
        return c, resids, rank, s, rcond
    return c


# -- examples: the call as NumPy takes it ---------------------------------------------------


def _u(rng, *shape):
    return rng.uniform(-2.0, 2.0, shape)


def _examples(*calls):
    return lambda rng: [call(rng) for call in calls]


_PAIRS = _examples(lambda rng: ((_u(rng, 3), _u(rng, 5)), {}), lambda rng: ((_u(rng, 4), _u(rng, 2)), {}))


def _distinct_roots(rng):
    """Coefficients of a cubic with well-separated real roots (eigvals keeps a real dtype)."""
    return np.poly(np.array([-1.5, 0.25, 2.0]) + rng.uniform(-0.1, 0.1, 3)) * rng.uniform(0.5, 2.0)


def _fit_points(rng, n=7):
    return np.linspace(-1.0, 1.0, n) + rng.uniform(-0.05, 0.05, n)


# fmt: off
composite("polyadd", np.polyadd, _polyadd, examples=_PAIRS, complex=True)
composite("polysub", np.polysub, _polysub, examples=_PAIRS, complex=True)
composite("polymul", np.polymul, _polymul, examples=_PAIRS, complex=True)
composite("polyder", np.polyder, _polyder, complex=True, examples=_examples(
    lambda rng: ((_u(rng, 4),), {}), lambda rng: ((_u(rng, 5),), {"m": 2}),
    lambda rng: ((_u(rng, 2),), {"m": 3})))
composite("polyint", np.polyint, _polyint, complex=True, examples=_examples(
    lambda rng: ((_u(rng, 3),), {}), lambda rng: ((_u(rng, 3), 2, _u(rng, 2)), {}),
    lambda rng: ((_u(rng, 2),), {"m": 2, "k": _u(rng)})))
# In the first two examples of polydiv and polyfit one operand is an integer array, not
# differentiated: in the other the result is linear, so the edge-value suite's 1e300 and
# 1e-300 meet no overflowing product of both. The last examples differentiate both.
composite("polydiv", np.polydiv, _polydiv, complex=True, examples=_examples(
    lambda rng: ((_u(rng, 5), np.array([2, 1, -1])), {}),
    lambda rng: ((np.array([1, -2]), _u(rng, 3) + np.array([3.0, 0, 0])), {}),
    lambda rng: ((_u(rng, 5), np.concatenate([[1.5], _u(rng, 2)])), {})),
    doc="long division; the remainder's leading zeros dropped as NumPy judges them on the primal")
# The edge-value suite sets every root (coefficient) to 1e300 (5e-324) in the first two
# examples: there products of them overflow and the two modes meet inf - inf in different
# sums. Those are small; larger ones come after.
# The edge-value suite runs the first two examples, one and two roots: with three roots of
# 1e300 the coefficients overflow to inf of both signs, and <w, J u> is inf - inf summed in
# a different order by each mode. A matrix goes through eigvals, tested at the edges itself.
composite("poly", np.poly, _poly, complex=True, examples=_examples(
    lambda rng: ((_u(rng, 1),), {}), lambda rng: ((_u(rng, 2),), {}), lambda rng: ((_u(rng, 3),), {}),
    lambda rng: ((np.diag([1.0, 2.0, -1.0]) + 0.1 * _u(rng, 3, 3),), {})),
    doc="product of the factors (x - z); a square matrix: of its eigenvalues")
# A perturbed zero coefficient is no longer zero: the suites see none (the hand tests do).
composite("roots", np.roots, _roots, complex=True, analytic=False, examples=_examples(
    lambda rng: ((_u(rng, 2) + np.array([3.0, 0.0]),), {}), lambda rng: ((_distinct_roots(rng),), {}),
    lambda rng: ((_distinct_roots(rng)[:3],), {})),
    doc="eigvals of the companion matrix: no derivative at repeated roots (as eigvals)")
composite("polyfit", np.polyfit, _polyfit, analytic=False, examples=_examples(
    lambda rng: ((np.arange(-3, 4), _u(rng, 7), 2), {}),
    lambda rng: ((np.arange(6), _u(rng, 6, 2), 1), {"w": rng.uniform(0.5, 1.5, 6)}),
    lambda rng: ((_fit_points(rng, 6), _u(rng, 6, 2), 1), {"w": rng.uniform(0.5, 1.5, 6)}),
    lambda rng: ((_fit_points(rng, 5), _u(rng, 5), 3), {"full": True})),
    doc="least squares over lstsq, columns scaled as NumPy's; cov=True refused")
# fmt: on
