"""Linear algebra: norm, inv, solve, det, slogdet, cholesky, eigh, eigvalsh.

Decompositions assume what makes them differentiable: invertible matrices (inv, solve,
det, slogdet), distinct eigenvalues (eigh's eigenvectors). cholesky reads (A + A^H) / 2;
eigh and eigvalsh read the triangle UPLO names, as NumPy does, so their derivatives flow
into that triangle only (and, for complex A, into the real part of its diagonal).
"""

import numpy as np

from ad.ops.factorizations import (
    conj,
    diag,
    diagonal,
    gapped,
    live,
    mH,
    mT,
    real,
    spectral_norm_weight,
    sum_terms,
)
from ad.ops.reductions import examples_from, product_of_others, reject, split_ties
from ad.ops.special import keep, reduced_axes
from ad.registry import general
from ad.rules import align, ndim, negative_axes, real_dtype, shape, unbroadcast, zeros
from ad.trace import is_complex, raw

# -- norm --------------------------------------------------------------------------------

# Vector norms take any number as ord (0 counts the nonzero entries).
_MATRIX_ORDS = (None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf)


def _norm_parse(x, ord=None, axis=None, keepdims=False):
    nd = ndim(x)
    if axis is None and ord is not None:
        axis = tuple(range(nd))
    if axis is not None:  # negative, in the caller's order (a matrix norm's rows, then columns)
        axis = negative_axes(axis, nd)
        if len(axis) > 2:
            raise ValueError(f"numpy.linalg.norm: improper number of axes {axis}: give one or two")
        if isinstance(ord, str) if len(axis) == 1 else ord not in _MATRIX_ORDS:
            kind = "vectors" if len(axis) == 1 else f"matrices (one of {_MATRIX_ORDS})"
            raise ValueError(f"numpy.linalg.norm: invalid norm order {ord!r} for {kind}")
    return (x,), {"ord": ord, "axis": axis, "keepdims": bool(keepdims)}


def _norm_weight(x, y, p):
    """dy/dx entrywise. 2-norms: x / y, and 0 at x = 0 (the convention norm'(0) = 0).

    The 1 and inf norms (vector and matrix) sum |x| over some axes, then take an extremum
    over the rest: d = sign(x) times the indicator of the extremal sums, ties sharing it.
    """
    ord, axis = p["ord"], p["axis"]
    if len(axis or ()) == 2 and ord in ("nuc", 2, -2):
        return spectral_norm_weight(x, ord, axis)
    if len(axis or ()) == 1 and ord not in (None, 2, 1, np.inf, -np.inf):
        return _p_norm_weight(x, y, p)
    if ord in (None, 2, "fro"):
        y = keep(y, reduced_axes(axis, ndim(x)), p["keepdims"])
        return x / np.where(y == 0, np.inf, y)
    if len(axis) == 1:
        summed, extremal = (axis, ()) if ord == 1 else ((), axis)
    else:
        summed, extremal = (axis[:1], axis[1:]) if ord in (1, -1) else (axis[1:], axis[:1])
    sums = np.sum(np.abs(x), axis=summed, keepdims=True)
    best = (np.max if ord > 0 else np.min)(sums, axis=extremal, keepdims=True)
    return _unit(x) * split_ties(sums == best, extremal, real_dtype(x))


def _unit(x):
    """d|x|/dx as a direction: sign(x) for real x, x / |x| for complex x (whose own derivative
    exists away from 0, so that second order does too); 0 at x = 0, the convention abs'(0) = 0."""
    if not is_complex(x):
        return np.sign(x)
    a = np.abs(x)
    return x / np.where(a == 0, np.inf, a)


def _p_norm_weight(x, y, p):
    """Vector p-norms: d = sign(x) (|x| / y)^(p - 1), 0 where x_i = 0 or y = 0 (where p < 1 has no
    derivative: the symmetric one, like abs'(0) = 0); ord 0 counts nonzero entries: d = 0."""
    if p["ord"] == 0:
        return zeros(x)
    y = keep(y, p["axis"], p["keepdims"])
    a = np.abs(x)
    off = (raw(a) == 0) | (raw(y) == 0)
    a, y = np.where(off, 1.0, a), np.where(off, 1.0, y)  # the other branch of where must be finite
    return np.where(off, 0.0, x / a * (a / y) ** (p["ord"] - 1))


def _norm_partial(x, y, p):
    """dy/dx; for complex x, 2 ∂y/∂x = conj of the same formula (conj(x) / norm for the 2-norm)."""
    d = _norm_weight(x, y, p)
    return np.conjugate(d) if is_complex(x) else d


def _norm_jvp(ts, xs, y, p, batched):
    """JVP of norm: sum(d * t) over the normed axes, d = dy/dx (x / norm for the 2-norm); Re for complex x."""
    (t,), (x,) = ts, xs
    dy = np.sum(_norm_partial(x, y, p) * t, axis=reduced_axes(p["axis"], ndim(x)), keepdims=p["keepdims"])
    return np.real(dy) if is_complex(x) else dy


def _norm_vjp(g, xs, y, p, batched):
    """VJP of norm: g * d, d = dy/dx (conj(x) / norm for the 2-norm)."""
    (x,) = xs
    return (keep(g, reduced_axes(p["axis"], ndim(x)), p["keepdims"]) * _norm_partial(x, y, p),)


# -- inverse, solve, determinants ---------------------------------------------------------


def _inv_jvp(ts, xs, y, p, batched):
    """JVP of inv: -Y T Y."""
    return -np.matmul(y, np.matmul(ts[0], y))


def _inv_vjp(g, xs, y, p, batched):
    """VJP of inv: -Y^T G Y^T."""
    return (-np.matmul(mT(y), np.matmul(g, mT(y))),)


def _column(v, vector: bool):
    """A right-hand side as a matrix: a vector b becomes a column (NumPy 2: only 1-D b is a vector)."""
    return np.expand_dims(v, -1) if vector else v


def _solve_jvp(ts, xs, x, p, batched):
    """JVP of solve: A^{-1} (tb - tA x)."""
    (ta, tb), (a, b) = ts, xs
    vec = ndim(b) == 1
    xm = _column(x, vec)
    rhs = []
    if tb is not None:
        rhs.append(align(_column(tb, vec), ndim(b) + vec, ndim(xm), batched))
    if ta is not None:
        rhs.append(-np.matmul(align(ta, ndim(a), ndim(xm), batched), xm))
    dx = np.linalg.solve(a, sum(rhs[1:], rhs[0]))
    return np.squeeze(dx, axis=-1) if vec else dx


def _solve_vjp(g, xs, x, p, batched, needs):
    """VJP of solve: b̄ = A^{-T} g, Ā = -b̄ x^T (summed over broadcast stacks)."""
    a, b = xs
    vec = ndim(b) == 1
    gb = np.linalg.solve(mT(a), _column(g, vec))
    ga = unbroadcast(-np.matmul(gb, mT(_column(x, vec))), shape(a), batched) if needs[0] else None
    gb = unbroadcast(gb, shape(_column(b, vec)), batched)
    return ga, (np.squeeze(gb, axis=-1) if vec else gb)


def _logdet_jvp(a, t):
    """d log|det A| = trace(A^{-1} T) = sum(A^{-T} * T)."""
    return np.sum(mT(np.linalg.inv(a)) * t, axis=(-2, -1))


def _logdet_vjp(a, g):
    """VJP of log|det A|: g A^{-T}."""
    return np.expand_dims(g, (-2, -1)) * mT(np.linalg.inv(a))


def _cofactors(a):
    """adj(A)^T = d det / dA, through the SVD A = U S Vh: det(U Vh) conj(U diag(c) Vh), c_i the
    product of the other singular values. No inverse: exact at any rank (a singular A has a
    derivative, det being a polynomial) and where det underflows to 0."""
    u, s, vh = np.linalg.svd(a)
    phase = np.linalg.det(u) * np.linalg.det(vh)
    return np.expand_dims(phase, (-2, -1)) * np.conjugate(
        np.matmul(u * np.expand_dims(product_of_others(s, (-1,)), -2), vh)
    )


def _det_jvp(ts, xs, d, p, batched):
    """JVP of det: det(A) trace(A^{-1} T), or sum(adj(A)^T * T) where det(A) is 0."""
    if np.any(raw(d) == 0):
        return np.sum(_cofactors(xs[0]) * ts[0], axis=(-2, -1))
    return d * _logdet_jvp(xs[0], ts[0])


def _det_vjp(g, xs, d, p, batched):
    """VJP of det: g det(A) A^{-T}, or g adj(A)^T where det(A) is 0."""
    if np.any(raw(d) == 0):
        return (np.expand_dims(g, (-2, -1)) * _cofactors(xs[0]),)
    return (_logdet_vjp(xs[0], g * d),)


def _slogdet_jvp(ts, xs, out, p, batched):
    """JVP of slogdet: with τ = trace(A^{-1} T), d logabsdet = Re τ and d sign = i Im τ sign
    (real A: sign is constant)."""
    tau = _logdet_jvp(xs[0], ts[0])
    if not is_complex(tau):
        return None, tau
    return 1j * np.imag(tau) * out[0], np.real(tau)


def _slogdet_vjp(ct, xs, out, p, batched):
    """VJP of slogdet: c A^{-T}, c = ḡ_logabsdet + i Im(ḡ_sign sign) (the transpose of the JVP)."""
    gs, gl = ct
    c = gl
    if gs is not None and is_complex(out[0]):
        phase = 1j * np.imag(gs * out[0])
        c = phase if gl is None else gl + phase
    return (None,) if c is None else (_logdet_vjp(xs[0], c),)


# -- Hermitian decompositions: cholesky reads (A + A^H) / 2, eigh the triangle UPLO names ----
# For complex A every transpose below is a conjugate transpose; the VJPs are the transposes of
# the JVPs for the real pairing Re sum(x y) (docs/complex.md), hence conj(V) where V^H appears.


def _herm(a):
    """(a + a^H) / 2: the Hermitian part (the symmetric part of a real a)."""
    return (a + mH(a)) / 2


def _cholesky(a):
    return np.linalg.cholesky(_herm(a))


def _eigh(a, UPLO):
    return tuple(np.linalg.eigh(a, UPLO))


def _triangle(n: int, uplo: str, dtype):
    """0/1 masks, in dtype, of the strict triangle eigh reads (off the diagonal) and of the diagonal."""
    ones = np.ones((n, n), dtype=dtype)
    return (np.tril(ones, -1) if uplo == "L" else np.triu(ones, 1)), np.eye(n, dtype=dtype)


def _read(t, uplo: str):
    """The Hermitian matrix eigh sees in t: the UPLO triangle, mirrored (conjugated) onto the
    other, and the real part of the diagonal (LAPACK ignores its imaginary part)."""
    strict, eye = _triangle(shape(t)[-1], uplo, real_dtype(t))
    return t * strict + mH(t * strict) + real(t) * eye


def _read_transpose(g, uplo: str):
    """VJP of _read: g + conj(g^T) on the strict triangle, Re g on the diagonal, 0 on the other triangle."""
    strict, eye = _triangle(shape(g)[-1], uplo, real_dtype(g))
    return (g + mH(g)) * strict + real(g) * eye


def _phi(m):
    """The lower triangle of m with half its diagonal."""
    n = shape(m)[-1]
    dtype = real_dtype(m)
    return m * (np.tril(np.ones((n, n), dtype=dtype)) - np.eye(n, dtype=dtype) / 2)


def _cholesky_jvp(ts, xs, L, p, batched):
    """JVP of cholesky: L Φ(L^{-1} dS L^{-H}), dS = herm(T), Φ = lower triangle with half the diagonal."""
    l_inv_ds = np.linalg.solve(L, _herm(ts[0]))
    return np.matmul(L, _phi(np.linalg.solve(L, mH(l_inv_ds))))  # dS Hermitian: L^{-1} (L^{-1} dS)^H


def _cholesky_vjp(g, xs, L, p, batched):
    """VJP of cholesky: herm(L^{-T} Φ(L^T Ḡ) conj(L)^{-1})."""
    lt_inv_p = np.linalg.solve(mT(L), _phi(np.matmul(mT(L), g)))
    return (_herm(mT(np.linalg.solve(mH(L), mT(lt_inv_p)))),)  # X conj(L)^{-1} = (L^{-H} X^T)^T


def _gauge_row(v, uplo: str) -> int:
    """The row LAPACK makes real in complex eigenvectors: the first for UPLO 'L', the last for 'U'
    (its reduction to a real tridiagonal matrix leaves that coordinate alone)."""
    return 0 if uplo == "L" else shape(v)[-2] - 1


def _eigh_jvp(ts, xs, out, p, batched):
    """JVP of eigh: dw = Re diag(P), dV = U + V diag(i c), U = V (F ∘ P), P = V^H dS V, dS the
    tangent's UPLO triangle mirrored; c_j = -Im(U_kj) / V_kj keeps LAPACK's real row k real."""
    w, v = out
    m = np.matmul(mH(v), np.matmul(_read(ts[0], p["UPLO"]), v))
    with np.errstate(divide="ignore", invalid="ignore"):  # near-repeated eigenvalues: NaN (gapped); dw right
        dv = np.matmul(v, gapped(w, m))
        if is_complex(v):
            k = _gauge_row(v, p["UPLO"])
            c = np.imag(dv[..., k, :]) / np.real(v[..., k, :])
            dv = dv - 1j * v * np.expand_dims(c, -2)
    return real(diagonal(m)), dv


def _eigh_vjp(ct, xs, out, p, batched):
    """VJP of eigh: conj(V) (diag(w̄) + F ∘ V^T G) V^T, folded onto the UPLO triangle, with
    G = V̄ - i e_k Im(h) / V_k, h_j = sum_i V_ij V̄_ij (the transpose of LAPACK's gauge, above).

    The F term divides by eigenvalue gaps; it is left out when V̄ is zero, so the gradient of
    the eigenvalues alone is finite at repeated eigenvalues too."""
    (gw, gv), (w, v) = ct, out
    terms = [None if gw is None else diag(gw)]
    if live(gv):
        with np.errstate(divide="ignore", invalid="ignore"):
            if is_complex(v):
                k = _gauge_row(v, p["UPLO"])
                h = np.imag(np.sum(v * gv, axis=-2)) / np.real(v[..., k, :])
                row = np.eye(shape(v)[-2], dtype=real_dtype(v))[:, k : k + 1]
                gv = gv - 1j * row * np.expand_dims(h, -2)
            terms.append(gapped(w, np.matmul(mT(v), gv)))
    inner = sum_terms(terms)
    if inner is None:
        return (None,)
    return (_read_transpose(np.matmul(conj(v), np.matmul(inner, mT(v))), p["UPLO"]),)


def _eigvalsh_jvp(ts, xs, w, p, batched):
    """JVP of eigvalsh: Re diag(V^H dS V) = Re sum_k conj(V_ki) (dS V)_ki."""
    v = np.linalg.eigh(xs[0], p["UPLO"])[1]
    return real(np.sum(conj(v) * np.matmul(_read(ts[0], p["UPLO"]), v), axis=-2))


def _eigvalsh_vjp(g, xs, w, p, batched):
    """VJP of eigvalsh: conj(V) diag(w̄) V^T, folded onto the UPLO triangle."""
    v = np.linalg.eigh(xs[0], p["UPLO"])[1]
    return (_read_transpose(np.matmul(conj(v) * np.expand_dims(g, -2), mT(v)), p["UPLO"]),)


def _square_parser(name):
    def parse(a, **options):
        reject(f"linalg.{name}", **options)
        return (a,), {}

    return parse


def _eigh_parse(a, UPLO="L"):
    if UPLO not in ("L", "U"):
        raise ValueError(f"UPLO argument must be 'L' or 'U'; got {UPLO!r}")
    return (a,), {"UPLO": UPLO}


# -- examples: (operand shapes..., keyword arguments), each call through the op's parse -----


def _well_conditioned(rng, *lead, n=3):
    """Diagonally dominant, so inverses and solves are accurate."""
    return rng.uniform(-1, 1, lead + (n, n)) + n * np.eye(n)


def _spd(rng, *lead, n=3):
    m = rng.uniform(-1, 1, lead + (n, n))
    return np.matmul(m, np.swapaxes(m, -1, -2)) + n * np.eye(n)


def _square_examples(make):
    return lambda rng: [((make(rng),), {}), ((make(rng, 2),), {}), ((make(rng, n=1),), {})]


def _solve_examples(rng):
    return [((_well_conditioned(rng, *lead), rng.uniform(-2, 2, b)), {}) for lead, b in _SOLVE]


# fmt: off
_NORM = [((3, 4), {}), ((2, 3, 4), {}), ((5,), {}), ((3, 4), {"axis": 1}),
         ((3, 4), {"axis": -2, "keepdims": True}), ((5,), {"ord": 1}), ((5,), {"ord": np.inf}),
         ((5,), {"ord": -np.inf}), ((3, 4), {"ord": 1, "axis": 1}), ((3, 4), {"ord": "fro"}),
         ((3, 4), {"ord": 1}), ((3, 4), {"ord": -1}), ((3, 4), {"ord": np.inf}),
         ((3, 4), {"ord": -np.inf}), ((2, 3, 4), {"ord": 1, "axis": (-1, 0), "keepdims": True}),
         ((2, 3, 4), {"ord": np.inf, "axis": (1, 2)}), ((5,), {"ord": 3}), ((3,), {"ord": 1.5}),
         ((5,), {"ord": -1}), ((5,), {"ord": -2}), ((2, 4), {"ord": 0, "axis": 1}),
         ((3, 4), {"ord": 2}), ((3, 4), {"ord": -2}), ((4, 3), {"ord": "nuc"}),
         ((2, 3, 4), {"ord": "nuc", "axis": (2, 0)}),
         ((2, 3, 4), {"ord": -2, "axis": (-1, -2), "keepdims": True})]
# (the stack of A, the shape of b)
_SOLVE = [((), (3,)), ((), (3, 2)), ((2,), (2, 3, 2)), ((2,), (3,)), ((), (2, 3, 2)), ((2,), (3, 2))]
_EIGH = [((4, 4), {}), ((2, 3, 3), {}), ((3, 3), {"UPLO": "U"})]

# -- the table ------------------------------------------------------------------------------

general("norm", np.linalg.norm, _norm_jvp, _norm_vjp, parse=_norm_parse,
        examples=examples_from(_norm_parse, _NORM), analytic=False, smooth=False, complex=True,
        doc="every ord NumPy takes, over one axis or two; 2-norm: x / |x|, 0 at x = 0 (PyTorch's "
            "subgradient; JAX gives NaN); p-norms: sign(x) (|x| / |x|_p)^(p-1), 0 where an entry is 0; "
            "ord 0: zero; matrix 2, -2, nuc: U diag(c) V^H from svd (ties of the extreme singular value "
            "share it)")
general("inv", np.linalg.inv, _inv_jvp, _inv_vjp, parse=_square_parser("inv"), complex=True,
        examples=_square_examples(_well_conditioned), doc="JVP -Y T Y, VJP -Y^T G Y^T, Y = A^{-1}")
general("solve", np.linalg.solve, _solve_jvp, _solve_vjp, examples=_solve_examples, complex=True,
        doc="x = A^{-1} b, b a vector (1-D) or a stack of matrices; JVP A^{-1}(tb - tA x)")
general("det", np.linalg.det, _det_jvp, _det_vjp, parse=_square_parser("det"), complex=True,
        examples=_square_examples(_well_conditioned), doc="VJP g det(A) A^{-T}; A invertible")
general("slogdet", np.linalg.slogdet, _slogdet_jvp, _slogdet_vjp, impl=lambda a: tuple(np.linalg.slogdet(a)),
        parse=_square_parser("slogdet"), examples=_square_examples(_well_conditioned), analytic=False,
        complex=True,
        doc="(sign, log|det A|) as a tuple; τ = trace(A^{-1} T): d log|det| = Re τ, d sign = i Im τ sign "
            "(constant for real A); VJP (ḡ_log + i Im(ḡ_sign sign)) A^{-T}")
general("cholesky", np.linalg.cholesky, _cholesky_jvp, _cholesky_vjp, impl=_cholesky,
        parse=_square_parser("cholesky"), examples=_square_examples(_spd), analytic=False,
        complex=True,
        doc="lower L of (A + A^H) / 2 (like JAX), so every tangent is admissible; VJP Hermitian")
general("eigh", np.linalg.eigh, _eigh_jvp, _eigh_vjp, impl=_eigh, parse=_eigh_parse,
        examples=examples_from(_eigh_parse, _EIGH), analytic=False,
        doc="(w, V) as a tuple, of the UPLO triangle as NumPy reads it; the derivative flows into that "
            "triangle only (JAX's default, symmetrize_input, and PyTorch return a symmetric gradient); "
            "V needs distinct eigenvalues (NaN where the loss reaches a vector of a pair within 1024 eps "
            "of each other, relative), w alone does not. Complex V: each column's phase is "
            "LAPACK's (its first entry real for UPLO 'L', last for 'U'), and the rule differentiates "
            "that choice, as eig's does", complex=True)
general("eigvalsh", np.linalg.eigvalsh, _eigvalsh_jvp, _eigvalsh_vjp, impl=np.linalg.eigvalsh,
        parse=_eigh_parse, examples=examples_from(_eigh_parse, _EIGH), analytic=False,
        complex=True,
        doc="w of the UPLO triangle as NumPy reads it; VJP conj(V) diag(w̄) V^T folded onto that "
            "triangle; finite at repeated eigenvalues")
# fmt: on
