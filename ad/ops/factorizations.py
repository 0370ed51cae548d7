"""General (non-symmetric) factorizations: svd, eig, eigvals, qr, pinv.

Each rule is the derivative of the factors LAPACK returns, under the conditions that make
them differentiable: distinct singular values (distinct and nonzero for U and Vh of a
non-square matrix), distinct eigenvalues, a full-rank matrix for qr. Where a condition
fails the derivative does not exist; what is returned there is stated per op (in the
docstrings and in docs/ops.md), as JAX and PyTorch state theirs.

Cotangents of complex values pair by Re sum(x * y), JAX's convention, so the VJP of an
R-linear JVP is its transpose in that pairing (no conjugation of the cotangent).
"""

import numpy as np

from ad.ops.reductions import split_ties
from ad.registry import general
from ad.rules import real_dtype, shape
from ad.trace import is_complex, raw


def mT(a):
    """a^T over the last two axes."""
    return np.swapaxes(a, -1, -2)


def conj(a):
    """conj(a), without a copy (or a traced conj) for real a."""
    return np.conjugate(a) if is_complex(a) else a


def mH(a):
    return conj(mT(a))


def real(x):
    """Re x, without a copy (or a traced real) for real x."""
    return np.real(x) if is_complex(x) else x


def diagonal(m):
    """The diagonal of the last two axes (as a sum, which batches and nests like any product)."""
    return np.sum(m * np.eye(shape(m)[-1], dtype=real_dtype(m)), axis=-1)


def diag(v):
    """diag(v) over the last axis."""
    return np.expand_dims(v, -2) * np.eye(shape(v)[-1], dtype=real_dtype(v))


def live(ct) -> bool:
    """Whether a cotangent carries anything: terms that divide by gaps are skipped otherwise,
    so the derivative of what does not need them stays finite where a gap is zero."""
    return ct is not None and bool(np.any(raw(ct)))


def sum_terms(terms):
    """The sum of the terms that are not None; None when none is."""
    terms = [t for t in terms if t is not None]
    return None if not terms else terms[0] if len(terms) == 1 else sum(terms[1:], terms[0])


# Eigenvalues within CLOSE eps max|w| of each other make gapped's terms NaN: the division by
# their gap would leave a relative error of about 1/CLOSE or more (a tenth of a percent)
CLOSE = 1024


def gapped(w, m, near=None):
    """F ∘ m, F_ij = 1 / (w_j - w_i) off the diagonal and 0 on it: the eigenvector terms of the
    factorizations' rules, for eigenvalues w (the squared singular values for svd). ``near``
    holds the values whose closeness is tested, w by default: svd passes the singular values,
    whose gaps fix its vectors (s = 1e-7 and 5e-8 are far apart against s = 1, though their
    squares are within CLOSE eps of each other against 1).

    Where two eigenvalues are within CLOSE eps max|w| of each other (repeated, or repeated to
    rounding) and column i or j of m is not 0, the entry is NaN: the eigenvectors of such a
    pair are fixed only to about eps / gap (not at all where they repeat), a relative error
    of 1/CLOSE or more in a derivative through them, which near a gap of eps keeps no correct
    digit; NaN says so where the division gave a finite wrong number. Wider gaps keep the
    finite gradient, with its error of eps / gap. m's column j is V^T times the cotangent of
    vector j (or the tangent's image), so a loss that reads neither vector of the pair leaves
    both columns 0: its entries are 0 and its gradient stays finite and right, repeated
    eigenvalues included. The closeness is read off the values: a constant at every order."""
    dtype = real_dtype(w)
    eye = np.eye(shape(w)[-1], dtype=dtype)
    rw = raw(w if near is None else near)
    apart = np.abs(np.expand_dims(rw, -2) - np.expand_dims(rw, -1))
    scale = np.expand_dims(np.max(np.abs(rw), axis=-1, keepdims=True), -1)
    close = (apart <= CLOSE * np.finfo(dtype).eps * scale) & (eye == 0)
    d = np.expand_dims(w, -2) - np.expand_dims(w, -1)
    out = (1 - eye) / (np.where(close, 1, d) + eye) * m
    if not close.any():
        return out
    read = np.any(raw(m) != 0, axis=-2)  # per column: does the loss, or the tangent, reach it
    return np.where(close & (np.expand_dims(read, -2) | np.expand_dims(read, -1)), np.nan, out)


# -- svd ----------------------------------------------------------------------------------
# A = U diag(s) V^H. With k = min(m, n), U1 = U[:, :k], V1 = V[:, :k], dP = U1^H dA V1:
#   ds = Re diag(dP)
#   dU1 = U1 (F ∘ (dP S + S dP^H) + i diag(c + Im diag(dP) / s)) + (I - U1 U1^H) dA V1 S^{-1}
#   dV1 = V1 (F ∘ (S dP + dP^H S) + i diag(c)) + (I - V1 V1^H) dA^H U1 S^{-1},  F_ij = 1 / (s_j^2 - s_i^2).
# For real A, c = 0 and every term is real. A complex pair (u_j, v_j) is fixed only up to a
# common phase; the SVD equations fix Im diag(U1^H dU1 - V1^H dV1) alone, and c fixes the
# rest the way LAPACK does: NumPy's complex V has a real first row when m >= n, and U a real
# first row when m < n (the bidiagonal reduction leaves that coordinate alone), so c_j keeps
# that entry real and the derivative is that of the factors NumPy returns.
# full_matrices adds the columns U2 (or V2) that complete an orthonormal basis; any basis of
# that complement will do, so their derivative is a convention: dU2 = -U1 dU1^H U2, the one
# that keeps [U1 U2] unitary and rotates nothing inside the complement. It is the true
# derivative of anything that does not depend on the basis chosen (the projector U2 U2^H).


def _svd_parse(a, full_matrices=True, compute_uv=True, hermitian=False):
    if hermitian:
        raise NotImplementedError(
            "numpy.linalg.svd(..., hermitian=True) is not supported by ad: drop hermitian=True "
            "(the general SVD of a Hermitian matrix has the same singular values)"
        )
    return (a,), {"full_matrices": bool(full_matrices), "compute_uv": bool(compute_uv)}


def _svd(a, full_matrices, compute_uv):
    out = np.linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
    return tuple(out) if compute_uv else out


def _reduced(out, a):
    """(U1, s, V1) of an SVD's output: the first k = min(m, n) singular vectors."""
    u, s, vh = out
    k = shape(s)[-1]
    return u[..., :k], s, mH(vh[..., :k, :])


def _real_row_of_v(a) -> bool:
    """Whether LAPACK's phase makes V's first row real (m >= n), rather than U's (m < n)."""
    m, n = shape(a)[-2:]
    return m >= n


def _svd_jvp(ts, xs, out, p, batched):
    """JVP of svd: ds = Re diag(U1^H T V1); dU, dV as in the comment above."""
    (t,), (a,) = ts, xs
    if not p["compute_uv"]:
        u, _, vh = np.linalg.svd(a, full_matrices=False)
        return real(diagonal(np.matmul(mH(u), np.matmul(t, mH(vh)))))
    (m, n), (u, s, vh) = shape(a)[-2:], out
    u1, s, v1 = _reduced(out, a)
    k = shape(s)[-1]
    dp = np.matmul(mH(u1), np.matmul(t, v1))
    row, col = np.expand_dims(s, -1), np.expand_dims(s, -2)  # s_i and s_j in entry ij
    with np.errstate(divide="ignore", invalid="ignore"):  # zero s: dU, dV inf or NaN
        du = np.matmul(u1, gapped(s * s, dp * col + mH(dp) * row, near=s))
        dv = np.matmul(v1, gapped(s * s, dp * row + mH(dp) * col, near=s))
        if m > k:
            du = du + (np.matmul(t, v1) - np.matmul(u1, dp)) / col
        if n > k:
            dv = dv + (np.matmul(mH(t), u1) - np.matmul(v1, mH(dp))) / col
        if is_complex(dp):
            du = du + 1j * u1 * np.expand_dims(np.imag(diagonal(dp)) / s, -2)
            x, dx = (v1, dv) if _real_row_of_v(a) else (u1, du)
            c = -np.imag(dx[..., 0, :]) / np.real(x[..., 0, :])
            du, dv = du + 1j * u1 * np.expand_dims(c, -2), dv + 1j * v1 * np.expand_dims(c, -2)
    if p["full_matrices"] and m > k:
        u2 = u[..., k:]
        du = np.concatenate([du, -np.matmul(u1, np.matmul(mH(du), u2))], axis=-1)
    if p["full_matrices"] and n > k:
        v2 = mH(vh[..., k:, :])
        dv = np.concatenate([dv, -np.matmul(v1, np.matmul(mH(dv), v2))], axis=-1)
    return du, real(diagonal(dp)), mH(dv)


def _phase_transpose(a, u1, v1, gu1, gv1):
    """The transpose of c: -i Im(diag(U1^T Ū1) + diag(V1^T V̄1)) / x_0 added to row 0 of the
    cotangent of x, the factor whose first row LAPACK makes real (V1 when m >= n, else U1)."""
    h = sum_terms(
        [None if g is None else np.imag(diagonal(np.matmul(mT(x), g))) for x, g in ((u1, gu1), (v1, gv1))]
    )
    x = v1 if _real_row_of_v(a) else u1
    extra = (
        -1j * np.eye(shape(x)[-2], dtype=real_dtype(x))[:, :1] * np.expand_dims(h / np.real(x[..., 0, :]), -2)
    )
    if _real_row_of_v(a):
        return gu1, extra if gv1 is None else gv1 + extra
    return extra if gu1 is None else gu1 + extra, gv1


def _svd_vjp(ct, xs, out, p, batched):
    """VJP of svd: conj(U1) (diag(s̄) + (J + J^H) S + S (K + K^H) + i diag(Im j / s)) V1^T,
    j = U1^T Ū1, J = F ∘ j, k = V1^T V̄1, K = F ∘ k, V̄1 = Vh̄1^H, plus (I - conj(U1) U1^T) Ū1 S^{-1} V1^T
    and conj(U1) S^{-1} ((I - conj(V1) V1^T) V̄1)^H for non-square A. For complex A the phase
    term first adds -i Im(diag(j) + diag(k)) / x_0 to row 0 of Ū1 (m < n) or V̄1 (m >= n), x_0
    that real row of U1 or V1: the transpose of c (_phase_transpose).

    Terms of Ū and V̄ are left out where those cotangents are zero, so the gradient of the
    singular values alone is finite at repeated and zero singular values."""
    (a,) = xs
    if not p["compute_uv"]:
        u, _, vh = np.linalg.svd(a, full_matrices=False)
        return (conj(np.matmul(u * np.expand_dims(ct, -2), vh)),)
    (m, n), (gu, gs, gvh), (u, _, vh) = shape(a)[-2:], ct, out
    u1, s, v1 = _reduced(out, a)
    k = shape(s)[-1]
    row, col = np.expand_dims(s, -1), np.expand_dims(s, -2)
    gu1 = gv1 = None
    if live(gu):
        gu1 = gu[..., :k]
        if p["full_matrices"] and m > k:  # the transposes of dU2 = -U1 dU1^H U2, dV2 = -V1 dV1^H V2
            u2 = u[..., k:]
            gu1 = gu1 - conj(np.matmul(u2, np.matmul(mT(gu[..., k:]), u1)))
    if live(gvh):
        gv1 = mH(gvh[..., :k, :])
        if p["full_matrices"] and n > k:
            v2 = mH(vh[..., k:, :])
            gv1 = gv1 - np.matmul(conj(v2), np.matmul(gvh[..., k:, :], conj(v1)))
    complex_a = is_complex(u1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if complex_a and (gu1 is not None or gv1 is not None):
            gu1, gv1 = _phase_transpose(a, u1, v1, gu1, gv1)
        inner, outside = [None if gs is None else diag(gs)], []
        if gu1 is not None:
            j = np.matmul(mT(u1), gu1)
            fj = gapped(s * s, j, near=s)
            inner.append((fj + mH(fj)) * col)
            if complex_a:
                inner.append(1j * diag(np.imag(diagonal(j)) / s))
            if m > k:
                outside.append(np.matmul((gu1 - np.matmul(conj(u1), j)) / col, mT(v1)))
        if gv1 is not None:
            kv = np.matmul(mT(v1), gv1)
            fk = gapped(s * s, kv, near=s)
            inner.append(row * (fk + mH(fk)))
            if n > k:
                outside.append(np.matmul(conj(u1), mH(gv1 - np.matmul(conj(v1), kv)) / row))
    core = sum_terms(inner)
    ga = sum_terms([None if core is None else np.matmul(conj(u1), np.matmul(core, mT(v1))), *outside])
    return (ga,)


# -- eig, eigvals ---------------------------------------------------------------------------
# A V = V diag(w). With P = V^{-1} dA V: dw = diag(P), and dV = V (F ∘ P) + V diag(c),
# F_ij = 1 / (w_j - w_i). The eigenvalue equation leaves c free; LAPACK fixes it by giving
# each eigenvector unit 2-norm and a real largest-magnitude entry, and (as JAX does) the
# rules differentiate that choice: c_j = -Re(v_j^H u_j) - i Im(u_kj) / v_kj, u = V (F ∘ P),
# k = argmax_i |v_ij|.


def _eig(a):
    return tuple(np.linalg.eig(a))


def _largest(v) -> np.ndarray:
    """0/1 mask of each column's largest-magnitude entry (the one LAPACK makes real)."""
    r = np.abs(raw(v))
    mask = np.zeros(r.shape, dtype=r.dtype)
    np.put_along_axis(mask, np.argmax(r, axis=-2)[..., None, :], 1.0, axis=-2)
    return mask


def _eig_jvp(ts, xs, out, p, batched):
    """JVP of eig: dw = diag(P), dV = V (F ∘ P) + V diag(c), P = V^{-1} T V, c LAPACK's normalisation."""
    (t,), (w, v) = ts, out
    pm = np.matmul(np.linalg.solve(v, t), v)
    with np.errstate(divide="ignore", invalid="ignore"):  # (near-)repeated eigenvalues: NaN (gapped)
        u = np.matmul(v, gapped(w, pm))
    c = -np.real(np.sum(conj(v) * u, axis=-2))
    if is_complex(u):
        mask = _largest(v)
        c = c - 1j * np.imag(np.sum(mask * u, axis=-2)) / np.real(np.sum(mask * v, axis=-2))
    return diagonal(pm), u + v * np.expand_dims(c, -2)


def _eig_vjp(ct, xs, out, p, batched):
    """VJP of eig: V^{-T} (diag(w̄) + F ∘ V^T G) V^T, G = V̄ - conj(V) Re(h) - i M Im(h) / v_k,
    h_j = sum_i V_ij V̄_ij, M the mask of the entries k made real (the transpose of c)."""
    (gw, gv), (w, v) = ct, out
    terms = [None if gw is None else diag(gw)]
    if live(gv):
        h = np.sum(v * gv, axis=-2)
        g = gv - conj(v) * np.expand_dims(np.real(h), -2)
        if is_complex(h) or is_complex(v):
            mask = _largest(v)
            vk = np.real(np.sum(mask * v, axis=-2))
            g = g - 1j * mask * np.expand_dims(np.imag(h) / vk, -2)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms.append(gapped(w, np.matmul(mT(v), g)))
    inner = sum_terms(terms)
    if inner is None:
        return (None,)
    return (np.linalg.solve(mT(v), np.matmul(inner, mT(v))),)


def _eigvals_vectors(a, w):
    """The eigenvectors of a (from eig), in the order eigvals returned w."""
    w2, v = np.linalg.eig(a)
    if np.array_equal(raw(w), raw(w2)):  # LAPACK computes them alike: always, in practice
        return v
    order = np.argmin(np.abs(raw(w)[..., :, None] - raw(w2)[..., None, :]), axis=-1)
    return np.take_along_axis(v, np.expand_dims(order, -2), axis=-1)


def _eigvals_jvp(ts, xs, w, p, batched):
    """JVP of eigvals: diag(V^{-1} T V) = sum_i (V^{-1} T)_ji V_ij."""
    (t,), (a,) = ts, xs
    v = _eigvals_vectors(a, w)
    return np.sum(np.linalg.solve(v, t) * mT(v), axis=-1)


def _eigvals_vjp(g, xs, w, p, batched):
    """VJP of eigvals: V^{-T} diag(w̄) V^T."""
    v = _eigvals_vectors(xs[0], w)
    return (np.linalg.solve(mT(v), np.expand_dims(g, -1) * mT(v)),)


# -- qr -------------------------------------------------------------------------------------
# A = QR, m >= n (reduced). With Y = dA R^{-1} and M = Q^H Y, the skew part dO = L - L^H
# (L the strict lower triangle of M; plus i Im diag(M) for complex A, which keeps LAPACK's
# real diagonal of R real) gives dQ = Q (dO - M) + Y, dR = (M - dO) R. A wide A = [A1 A2]
# (m < n) factors as A1 = Q R1 and R2 = Q^H A2, so dR2 = dQ^H A2 + Q^H dA2.


def _qr_parse(a, mode="reduced"):
    m, n = shape(a)[-2:]
    if mode == "complete" and m <= n:
        mode = "reduced"  # the same factors
    if mode not in ("reduced", "r"):
        raise NotImplementedError(
            f"numpy.linalg.qr(..., mode={mode!r}) is not supported by ad: use mode='reduced' or 'r'"
            + (
                " (mode='complete' adds m - n columns of Q that are any basis of a complement: "
                "they have no derivative)"
                if mode == "complete"
                else ""
            )
        )
    return (a,), {"mode": mode}


def _qr(a, mode):
    return tuple(np.linalg.qr(a)) if mode == "reduced" else np.linalg.qr(a, mode="r")


def _right_solve(y, r):
    """y R^{-1}."""
    return mT(np.linalg.solve(mT(r), mT(y)))


def _skew(mm):
    """dO = L - L^H (+ i Im diag(M) if complex), L = tril(M, -1)."""
    low = np.tril(mm, -1)
    do = low - mH(low)
    return do + 1j * np.eye(shape(mm)[-1], dtype=real_dtype(mm)) * np.imag(mm) if is_complex(mm) else do


def _thin_qr_jvp(q, r, t):
    y = _right_solve(t, r)
    mm = np.matmul(mH(q), y)
    do = _skew(mm)
    return np.matmul(q, do - mm) + y, np.matmul(mm - do, r)


def _thin_qr_vjp(q, r, gq, gr):
    """Transpose of _thin_qr_jvp: D = Q^T Q̄ - R̄ R^T, M̄ = tril(D - D^H, -1) - D (+ i Im diag D),
    Ȳ = conj(Q) M̄ + Q̄, Ā = Ȳ R^{-T}."""
    d = sum_terms(
        [None if gq is None else np.matmul(mT(q), gq), None if gr is None else -np.matmul(gr, mT(r))]
    )
    gm = np.tril(d - mH(d), -1) - d
    if is_complex(d):
        gm = gm + 1j * np.eye(shape(d)[-1], dtype=real_dtype(d)) * np.imag(d)
    gy = np.matmul(conj(q), gm)
    return mT(np.linalg.solve(r, mT(gy if gq is None else gy + gq)))


def _qr_factors(a, out, mode):
    return out if mode == "reduced" else tuple(np.linalg.qr(a))


def _qr_jvp(ts, xs, out, p, batched):
    """JVP of qr: dQ = Q (dO - M) + Y, dR = (M - dO) R (a wide A: dR2 = dQ^H A2 + Q^H dA2)."""
    (t,), (a,) = ts, xs
    q, r = _qr_factors(a, out, p["mode"])
    m, n = shape(a)[-2:]
    if m >= n:
        dq, dr = _thin_qr_jvp(q, r, t)
    else:
        dq, dr1 = _thin_qr_jvp(q, r[..., :m], t[..., :m])
        dr2 = np.matmul(mH(dq), a[..., m:]) + np.matmul(mH(q), t[..., m:])
        dr = np.concatenate([dr1, dr2], axis=-1)
    return (dq, dr) if p["mode"] == "reduced" else dr


def _qr_vjp(ct, xs, out, p, batched):
    """VJP of qr, the transpose of its JVP (a wide A: Q̄ += conj(A2) R̄2^H, Ā2 = conj(Q) R̄2)."""
    (a,) = xs
    q, r = _qr_factors(a, out, p["mode"])
    gq, gr = ct if p["mode"] == "reduced" else (None, ct)
    m, n = shape(a)[-2:]
    if m >= n:
        return (_thin_qr_vjp(q, r, gq, gr),)
    gr2 = gr[..., m:]
    gq = sum_terms([gq, np.matmul(conj(a[..., m:]), mH(gr2))])
    ga1 = _thin_qr_vjp(q, r[..., :m], gq, gr[..., :m])
    return (np.concatenate([ga1, np.matmul(conj(q), gr2)], axis=-1),)


# -- pinv -----------------------------------------------------------------------------------


def _pinv_parse(a, rcond=None, hermitian=False, **rtol):
    if hermitian:
        raise NotImplementedError(
            "numpy.linalg.pinv(..., hermitian=True) is not supported by ad: drop hermitian=True "
            "(the same pseudo-inverse for a Hermitian matrix)"
        )
    return (a,), {"rcond": rcond, **rtol}


def _pinv_jvp(ts, xs, pa, p, batched):
    """JVP of pinv (Golub & Pereyra): -P T P + P P^H T^H (I - A P) + (I - P A) T^H P^H P."""
    (t,), (a,) = ts, xs
    th = mH(t)
    return (
        -np.matmul(pa, np.matmul(t, pa))
        + np.matmul(np.matmul(pa, mH(pa)), th - np.matmul(np.matmul(th, a), pa))
        + np.matmul(th - np.matmul(pa, np.matmul(a, th)), np.matmul(mH(pa), pa))
    )


def _pinv_vjp(g, xs, pa, p, batched):
    """VJP of pinv: -P^T Ḡ P^T + (I - conj(A P)) Ḡ^H conj(P) P^T + P^T conj(P) Ḡ^H (I - conj(P A))."""
    (a,) = xs
    gh, pc, ac, pt = mH(g), conj(pa), conj(a), mT(pa)
    return (
        -np.matmul(pt, np.matmul(g, pt))
        + np.matmul(gh - np.matmul(ac, np.matmul(pc, gh)), np.matmul(pc, pt))
        + np.matmul(np.matmul(pt, pc), gh - np.matmul(np.matmul(gh, pc), ac)),
    )


# -- matrix norms read off the singular values (used by norm) ---------------------------------


def spectral_norm_weight(x, ord, axis):
    """d norm / dx for ord 'nuc', 2, -2 over axis = (rows, columns): U diag(c) V^H, c = 1 for
    'nuc'; for 2 (-2), 1 on the largest (smallest) singular value, ties sharing it evenly."""
    u, s, vh = np.linalg.svd(np.moveaxis(x, axis, (-2, -1)), full_matrices=False)
    if ord == "nuc":
        c = np.ones(shape(s), dtype=real_dtype(s))
    else:
        c = split_ties(s == (np.max if ord == 2 else np.min)(s, axis=-1, keepdims=True), -1, real_dtype(s))
    return np.moveaxis(np.matmul(u * np.expand_dims(c, -2), vh), (-2, -1), axis)


# -- examples ---------------------------------------------------------------------------------


def _orthogonal(rng, *lead, n):
    q, r = np.linalg.qr(rng.standard_normal(lead + (n, n)))
    return q * np.expand_dims(np.sign(np.diagonal(r, axis1=-2, axis2=-1)), -2)


def with_singular_values(rng, s, *lead, m, n):
    """A (..., m, n) matrix whose singular values are s (well separated: the rules divide by gaps)."""
    k = len(s)
    u, v = _orthogonal(rng, *lead, n=m)[..., :k], _orthogonal(rng, *lead, n=n)[..., :k]
    return np.matmul(u * np.asarray(s, float), mT(v))


def with_eigenvalues(rng, w, *lead):
    """A (..., n, n) real matrix with eigenvalues w, its eigenvectors well conditioned."""
    n = len(w)
    s = np.eye(n) + 0.4 * rng.uniform(-1, 1, lead + (n, n))
    return np.matmul(s * np.asarray(w, float), np.linalg.inv(s))


_S3, _S4 = (3.0, 1.8, 0.7), (2.5, 1.6, 1.0, 0.4)


def _svd_examples(rng):
    return [
        ((with_singular_values(rng, _S3, m=4, n=3),), {"full_matrices": False, "compute_uv": True}),
        ((with_singular_values(rng, _S3, 2, m=3, n=5),), {"full_matrices": False, "compute_uv": True}),
        ((with_singular_values(rng, _S4, m=4, n=4),), {"full_matrices": True, "compute_uv": True}),
        ((with_singular_values(rng, _S3, 2, m=3, n=4),), {"full_matrices": True, "compute_uv": False}),
    ]


def _eig_examples(rng):
    return [
        ((with_eigenvalues(rng, (-1.5, 0.5, 2.0)),), {}),
        ((with_eigenvalues(rng, (3.0, 1.0, -0.8, 0.2), 2),), {}),
    ]


def _qr_examples(rng):
    return [
        ((rng.uniform(-1, 1, (4, 3)),), {"mode": "reduced"}),
        ((rng.uniform(-1, 1, (2, 3, 3)),), {"mode": "reduced"}),
        ((rng.uniform(-1, 1, (3, 5)),), {"mode": "reduced"}),
        ((rng.uniform(-1, 1, (4, 2)),), {"mode": "r"}),
    ]


def _pinv_examples(rng):
    return [
        ((with_singular_values(rng, _S3, m=4, n=3),), {"rcond": None}),
        ((with_singular_values(rng, _S3, 2, m=3, n=5),), {"rcond": None}),
        ((with_singular_values(rng, _S3, m=3, n=3),), {"rcond": None}),
    ]


# -- the table --------------------------------------------------------------------------------
# fmt: off
general("svd", np.linalg.svd, _svd_jvp, _svd_vjp, impl=_svd, parse=_svd_parse, examples=_svd_examples,
        analytic=False, complex=True,
        doc="(U, S, Vh) as a tuple, or S (compute_uv=False). U and Vh need distinct singular values (and "
            "nonzero, for non-square or complex A); where two are equal or within 1024 eps of each other "
            "(relative), the derivative of their vectors does not exist or keeps no correct digit: it is NaN "
            "where the loss reaches a vector of such a pair, finite where it reaches neither, and left out "
            "when the cotangents of U and Vh are zero, so S's gradient alone is finite everywhere "
            "(PyTorch's rule). Complex A: each singular pair's phase is LAPACK's (V's first row real "
            "for m >= n, U's for m < n), and the rule differentiates that choice. full_matrices: the "
            "extra columns of U (rows of Vh) get the tangent -U1 dU1^H U2, which keeps the basis unitary "
            "and is exact for anything that does not depend on the basis chosen")
general("eig", np.linalg.eig, _eig_jvp, _eig_vjp, impl=_eig, examples=_eig_examples, analytic=False,
        complex=True,
        doc="(w, V) as a tuple, complex unless every eigenvalue is real (as NumPy returns them). "
            "Eigenvectors are fixed only up to a scalar: like JAX, the rule differentiates LAPACK's "
            "choice (unit 2-norm, largest-magnitude entry real). Needs distinct eigenvalues: where two "
            "are equal or within 1024 eps of each other (relative), dV is NaN where the loss reaches a "
            "vector of the pair, finite where it reaches neither; the gradient of w alone stays finite")
general("eigvals", np.linalg.eigvals, _eigvals_jvp, _eigvals_vjp, examples=_eig_examples, analytic=False,
        complex=True, doc="w; JVP diag(V^{-1} T V), VJP V^{-T} diag(w̄) V^T; needs a diagonalisable A")
general("qr", np.linalg.qr, _qr_jvp, _qr_vjp, impl=_qr, parse=_qr_parse, examples=_qr_examples,
        analytic=False, complex=True,
        doc="mode 'reduced' (Q, R) or 'r' (R), tall, square or wide (its first m columns "
            "invertible); 'complete' where it equals 'reduced'; A of full rank. R's diagonal keeps "
            "LAPACK's signs (complex: real), as JAX differentiates it")
general("pinv", np.linalg.pinv, _pinv_jvp, _pinv_vjp, parse=_pinv_parse, examples=_pinv_examples,
        analytic=False, complex=True,
        doc="Golub & Pereyra's derivative, exact where the rank (after rcond's cutoff) is locally "
            "constant: for a full-rank A, always. At a rank change pinv jumps; the value returned "
            "there is that same formula (the derivative along matrices of the same rank), as in JAX")
# fmt: on
