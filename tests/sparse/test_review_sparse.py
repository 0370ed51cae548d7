"""An adversarial review of sparse Jacobians and Hessians, hunting silent wrong numbers: a
pattern that misses a dependence at some x (global patterns claim every x), a coloring that
puts two columns of one row in one color, a prepared Jacobian reused where its pattern no
longer holds. Oracles: ad.jacfwd and ad.hessian (dense), and jax where it is installed."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import ad
import ad.trace
from ad import testing
from ad.sparse import ValueDependenceError, coloring

X0 = np.array([1.0, -2.0, 3.0, -0.5])
X1 = np.array([-1.0, 2.0, 0.5, 4.0])  # every sign flipped, the order changed


def _assert_pattern_holds(f, xs, P=None):
    """The global pattern, detected at xs[0], holds every nonzero of the dense Jacobian at each x."""
    P = ad.jacobian_sparsity(f, xs[0]).toarray() if P is None else P
    for x in xs:
        J = ad.jacfwd(f)(x).reshape(P.shape)
        missed = (J != 0) & ~P
        assert not missed.any(), f"nonzeros outside the pattern at x = {x}: {np.argwhere(missed)}"
    return P


# -- a value that varies with x, mixed with traced elements, is no constant ------------------
MIXED = {
    "outer": lambda u: np.outer(u, np.concatenate([u, (u > 0) * 1.0])).ravel(),
    "matmul": lambda u: np.stack([u, (u > 0) * 1.0]) @ u,
    "dot": lambda u: np.atleast_1d(np.dot(np.concatenate([u[:2], (u[2:] > 0) * 1.0]), u)),
    "convolve": lambda u: np.convolve(np.concatenate([u[:1], (u[1:] > 0) * 1.0]), u),
    "sliced": lambda u: np.concatenate([u, np.floor(u / 10)])[4:] @ np.outer(u, u),
}


@pytest.mark.parametrize("name", list(MIXED))
def test_a_bilinear_op_does_not_keep_the_zeros_of_a_mask_joined_to_traced_values(name):
    # concatenate([x, x > 0]) has rows only for x's half; the mask's half varies with x, and
    # reading its zeros at X0 as structural dropped the dependence where X1 makes them ones
    _assert_pattern_holds(MIXED[name], [X0, X1])


def test_the_hessian_of_a_bilinear_op_with_a_mixed_operand_holds_at_another_x():
    f = lambda u: np.dot(np.concatenate([u[:2], (u[2:] > 0) * 1.0]), u) ** 2  # noqa: E731
    P = ad.hessian_sparsity(f, X0).toarray()
    for x in (X0, X1):
        assert not ((ad.hessian(f)(x) != 0) & ~P).any()


# -- composite ops that pick elements off plain values --------------------------------------
SORTED = {
    "unique": lambda u: np.unique(u),
    "unique_values": lambda u: np.unique_values(u),
    "unique_counts": lambda u: np.unique_counts(u).values,
    "union1d": lambda u: np.union1d(u, np.array([1.0, 3.0])),
    "intersect1d": lambda u: np.intersect1d(u, np.array([1.0, 3.0])),
    "setdiff1d": lambda u: np.setdiff1d(u, np.array([1.0, 3.0])),
    "setxor1d": lambda u: np.setxor1d(u, np.array([1.0, 3.0])),
    "trim_zeros": lambda u: np.trim_zeros(u * (u > 0)),
    "compress": lambda u: np.compress(u > 0, u),
    "extract": lambda u: np.extract(u > 0, u),
    "choose": lambda u: np.choose((u > 0).astype(int), [u, 2 * u[::-1]]),
    "insert": lambda u: np.insert(u, np.argmax(u), 5.0),
    "delete": lambda u: np.delete(u, np.argmax(u)),
    "interp in x and fp": lambda u: np.interp(u[:2], [-3.0, 0.0, 3.0, 4.0], u),
    "histogram weights": lambda u: np.histogram(u, bins=[-5, 0, 2, 10], weights=u)[0],
}


@pytest.mark.parametrize("name", list(SORTED))
def test_a_composite_that_orders_traced_elements_by_their_values_refuses_global_detection(name):
    f = SORTED[name]
    with pytest.raises(ValueDependenceError, match=name.split()[0].split("_")[0]):
        ad.jacobian_sparsity(f, X0)
    P = ad.jacobian_sparsity(f, X0, local=True).toarray()  # the pattern at X0: still allowed
    J = ad.jacfwd(f)(X0).reshape(P.shape)
    assert not ((J != 0) & ~P).any()


def test_a_composite_that_orders_only_constants_by_x_gives_a_derived_value():
    # compress of a constant by x > 0: no dependence, but a value that varies with x, so a
    # bilinear op may not keep its zeros
    f = lambda u: np.outer(u, np.concatenate([np.compress(u > 0, np.ones(4)), np.zeros(4)])[:4]).ravel()  # noqa: E731
    _assert_pattern_holds(f, [X0, np.abs(X0)])


def test_the_same_composites_on_constants_or_with_x_as_the_moved_operand_only_still_work():
    xa, xb = np.array([5.0, -2.0, 3.0, -0.5]), np.array([1.0, 2.0, 3.0, 7.5])
    cases = [
        lambda u: np.interp(u, [-3.0, 0.0, 3.0], [1.0, 2.0, 0.0]),  # x is differentiated, fp constant
        lambda u: np.compress([True, False, True, True], u),
        lambda u: np.insert(u, 1, u[:2]),
        lambda u: np.choose([0, 1, 0, 1], [u, 2 * u[::-1]]),
        lambda u: np.histogram(u, bins=[-5, 0, 2, 10])[0] * 1.0,
    ]
    for f in cases:
        _assert_pattern_holds(f, [xa, xb])


# -- every registered op: the global pattern holds at random points, and does not move ---------
def _numpy_call(op, operands, params, idx):
    """op through its NumPy callable (a composite meets the tracer's NumPy protocol, as in user
    code), z -> its outputs raveled and joined; None where the example has no real output."""
    shapes = [np.shape(operands[i]) for i in idx]
    bounds = np.cumsum([0, *(int(np.prod(s, dtype=int)) for s in shapes)])
    call = op.handles[0] if op.kind == "composite" and op.handles else None

    def f(z):
        full = list(operands)
        for i, a, b, s in zip(idx, bounds, bounds[1:], shapes):
            full[i] = np.reshape(z[a:b], s)
        y = call(*full, **params) if call is not None else testing.apply(op, full, params)
        ys = list(y) if isinstance(y, tuple | list) else [y]
        ys = [v for v in ys if np.asarray(ad.trace.raw(v)).dtype.kind == "f"]
        return np.concatenate([np.ravel(v) for v in ys]) if ys else np.zeros(0)

    z = np.concatenate([np.ravel(np.asarray(operands[i], float)) for i in idx])
    return f, z


OPS = [op for op in testing.differentiable_ops() if not op.mutates and op.name != "astype"]


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_the_global_pattern_of_every_op_holds_at_random_points_and_does_not_depend_on_x(op):
    rng = np.random.default_rng(11)
    for operands, params, idx in testing.cases(op):
        f, z = _numpy_call(op, operands, params, idx)
        try:
            y = f(z)
        except Exception:  # noqa: BLE001 - an example the NumPy call does not take as written
            continue
        if np.iscomplexobj(y) or not z.size or not y.size:
            continue
        try:
            P = ad.jacobian_sparsity(f, z).toarray()
        except (ValueDependenceError, TypeError):
            continue  # refused (a value-dependent structure, or a NumPy call that converts): not wrong
        for t in range(4):
            zt = z if t == 0 else z * (1 + 0.2 * rng.standard_normal(z.shape))
            try:
                J = ad.jacfwd(f)(zt)
            except (ValueError, FloatingPointError):
                continue
            assert J.shape == P.shape, f"{op.name}{params}: the output's size moved with x"
            missed = (J != 0) & ~np.isnan(J) & ~P
            assert not missed.any(), f"{op.name}{params}: nonzeros outside the pattern at {zt}"
            assert (ad.jacobian_sparsity(f, zt).toarray() == P).all(), f"{op.name}{params}: moved"


@pytest.mark.parametrize("op", [op for op in OPS if op.kind != "linear"], ids=lambda op: op.name)
def test_the_global_hessian_pattern_of_every_op_holds_at_random_points(op):
    rng = np.random.default_rng(12)
    for operands, params, idx in list(testing.cases(op))[:3]:
        f, z = _numpy_call(op, operands, params, idx)
        try:
            y = f(z)
        except Exception:  # noqa: BLE001 - an example the NumPy call does not take as written
            continue
        if np.iscomplexobj(y) or not z.size or not y.size:
            continue
        w = rng.uniform(0.5, 1.5, y.size)
        h = lambda z, f=f, w=w: w @ f(z)  # noqa: E731 - linear in f's outputs
        try:
            P = ad.hessian_sparsity(h, z).toarray()
        except (ValueDependenceError, TypeError):
            continue
        assert (P == P.T).all()
        for t in range(3):
            zt = z if t == 0 else z * (1 + 0.2 * rng.standard_normal(z.shape))
            try:
                H = ad.hessian(h)(zt)
            except (ValueError, FloatingPointError):
                continue
            missed = (H != 0) & ~np.isnan(H) & ~P
            assert not missed.any(), f"{op.name}{params}: Hessian nonzeros outside the pattern at {zt}"


# -- a locally detected pattern, prepared once, reused where other branches are taken ----------
def test_a_jacobian_prepared_with_local_patterns_is_right_where_another_branch_is_taken():
    g = lambda u: np.where(u > 0, u[::-1], u)  # noqa: E731 - where in local mode: the side at x
    for mode in ("forward", "reverse", "auto"):
        prep = ad.prepare_sparse_jacobian(g, np.array([1.0, 2.0, 3.0]), mode, local=True)
        for x in (np.array([-1.0, 2.0, 3.0]), np.array([1.0, -2.0, -3.0]), np.array([1.0, 2.0, 3.0])):
            np.testing.assert_array_equal(prep(x).toarray(), ad.jacfwd(g)(x))

    def branchy(u):
        return u[:1] * u[1:] if np.sum(u) > 0 else u[::-1][1:] ** 2

    prep = ad.prepare_sparse_jacobian(branchy, np.ones(3), local=True)
    for x in (-np.ones(3), np.array([2.0, -1.0, 0.5]), np.array([-2.0, 1.0, 0.5])):
        np.testing.assert_array_equal(prep(x).toarray(), ad.jacfwd(branchy)(x))


def test_a_hessian_prepared_with_local_patterns_is_right_where_another_branch_is_taken():
    h = lambda u: np.sum(np.where(u > 0, u[::-1] * u, u))  # noqa: E731
    for first, then in [([-1.0, 2.0, -3.0], [1.0, 2.0, 3.0]), ([1.0, 2.0, 3.0], [-1.0, 2.0, -3.0])]:
        prep = ad.prepare_sparse_hessian(h, np.array(first), local=True)
        for x in (np.array(then), np.array(first)):
            np.testing.assert_array_equal(prep(x).toarray(), ad.hessian(h)(x))


def test_a_globally_prepared_jacobian_holds_where_a_mask_or_a_where_flips():
    fs = [
        lambda u: u * (u > 0) + np.roll(u, 1) * (u < 0),
        lambda u: np.where(u > 0, u[::-1], u**2),
        lambda u: np.maximum(u, u[::-1]) + np.clip(u, -1.0, 1.0) * np.abs(np.roll(u, 2)),
    ]
    rng = np.random.default_rng(5)
    for f in fs:
        for mode in ("forward", "reverse"):
            prep = ad.prepare_sparse_jacobian(f, rng.standard_normal(6), mode)
            for _ in range(5):
                x = rng.standard_normal(6)
                np.testing.assert_allclose(prep(x).toarray(), ad.jacfwd(f)(x), rtol=1e-12, atol=1e-14)


# -- colorings, checked on the pattern directly -----------------------------------------------
@st.composite
def patterns(draw, square=False):
    m = draw(st.integers(0, 12))
    n = m if square else draw(st.integers(0, 12))
    density = draw(st.sampled_from([0.0, 0.1, 0.3, 0.7, 1.0]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    A = rng.uniform(size=(m, n)) < density
    if m and n and draw(st.booleans()):  # a dense row or column, and some empty ones
        A[draw(st.integers(0, m - 1)), :] = True
        A[:, draw(st.integers(0, n - 1))] = True
        A[draw(st.integers(0, m - 1)), :] = False
    if square:
        A = A | A.T
        if draw(st.booleans()):
            np.fill_diagonal(A, True)
        if m and draw(st.booleans()):  # an empty row and column
            k = draw(st.integers(0, m - 1))
            A[k, :] = A[:, k] = False
    return A


def _columns_share_no_row(A, colors):
    return all(len(set(colors[np.flatnonzero(row)])) == int(row.sum()) for row in A)


@settings(max_examples=150, deadline=None)
@given(patterns(), st.sampled_from(coloring.ORDERS), st.integers(0, 2**31 - 1))
def test_column_and_row_colorings_separate_every_row_and_decompress_exactly(A, order, seed):
    rng = np.random.default_rng(seed)
    J = np.where(A, rng.standard_normal(A.shape), 0.0)
    P = sp.csr_array(A)
    c = coloring.column_coloring(P, order)
    assert c.shape == (A.shape[1],) and _columns_share_no_row(A, c)
    got = coloring.decompress_columns(P, c, J @ coloring.seeds(c).T).toarray()
    np.testing.assert_array_equal(got, J)
    r = coloring.row_coloring(P, order)
    assert r.shape == (A.shape[0],) and _columns_share_no_row(A.T, r)
    got = coloring.decompress_rows(P, r, coloring.seeds(r) @ J).toarray()
    np.testing.assert_array_equal(got, J)


def _two_colored_path_on_four(A, colors):
    B = A.copy()
    np.fill_diagonal(B, False)
    for b, c in zip(*np.nonzero(B)):
        for a in np.flatnonzero(B[b]):
            for d in np.flatnonzero(B[c]):
                if len({a, b, c, d}) == 4 and len({colors[a], colors[b], colors[c], colors[d]}) == 2:
                    return True
    return False


@settings(max_examples=150, deadline=None)
@given(patterns(square=True), st.sampled_from(coloring.ORDERS), st.integers(0, 2**31 - 1))
def test_star_colorings_are_star_colorings_and_decompress_a_symmetric_matrix_exactly(A, order, seed):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal(A.shape)
    H = np.where(A, W + W.T, 0.0)
    P = sp.csr_array(A)
    c = coloring.star_coloring(P, order)
    off = A & ~np.eye(len(A), dtype=bool)
    assert not (off & (c[:, None] == c[None, :])).any(), "two neighbors share a color"
    assert not _two_colored_path_on_four(A, c)
    assert coloring.is_star_coloring(P, c)
    got = coloring.decompress_star(P, c, H @ coloring.seeds(c).T).toarray()
    np.testing.assert_allclose(got, H, rtol=1e-15, atol=0)


# -- random sparse programs: sparse Jacobians and Hessians equal the dense ones ----------------
def _steps(xp):
    """Vector -> vector steps, written once for NumPy and jax.numpy: banded, block, arrow and
    dense structures, data-dependent selections (where, maximum, abs, clip, sort), structural
    zeros (a constant mask, a constant matrix), reshapes and joins."""
    rng = np.random.default_rng(0)
    mats = {k: np.where(rng.uniform(size=(k, k)) < 0.3, rng.standard_normal((k, k)), 0.0) for k in range(13)}
    masks = {k: (rng.uniform(size=k) < 0.5) * 1.0 for k in range(13)}
    return {
        "sin": lambda u: xp.sin(u),
        "mul_shift": lambda u: u * xp.roll(u, 2),
        "diff": lambda u: xp.diff(u) if u.shape[0] > 1 else u,
        "cumsum": lambda u: xp.cumsum(u),
        "tridiagonal": lambda u: (
            xp.concatenate([u[:1], u[:-2] - 2 * u[1:-1] + u[2:], u[-1:]]) if u.shape[0] > 2 else u
        ),
        "block": lambda u: (
            (u.reshape(-1, 2) * u.reshape(-1, 2)[:, ::-1]).ravel() if u.shape[0] % 2 == 0 else u
        ),
        "arrow": lambda u: u * xp.sum(u[:2]) + u[0],
        "dense_row": lambda u: xp.concatenate([u, xp.sum(u**2)[None]]),
        "flip": lambda u: u[::-1],
        "pad": lambda u: xp.pad(u, (1, 2)),
        "where": lambda u: xp.where(u > 0, u[::-1], 0.5 * u**2),
        "maximum": lambda u: xp.maximum(u, xp.roll(u, 1)),
        "abs_clip": lambda u: xp.abs(u) + xp.clip(u, -0.5, 0.5),
        "sort": lambda u: xp.sort(u),
        "take": lambda u: u[np.random.default_rng(u.shape[0]).integers(0, u.shape[0], u.shape[0])] * u,
        "convolve": lambda u: xp.convolve(u, np.array([1.0, 0.0, -2.0])),
        "mask": lambda u: u * masks[u.shape[0]] if u.shape[0] in masks else u,
        "matrix": lambda u: mats[u.shape[0]] @ u if u.shape[0] in mats else u,
        "zero": lambda u: 0.0 * u,
        "interleave": lambda u: xp.concatenate([u[::2], u[1::2]]),
        "cumprod": lambda u: xp.cumprod(1 + 0.1 * xp.tanh(u)),
        "einsum": lambda u: xp.einsum("ij,j->i", mats[u.shape[0]], u) if u.shape[0] in mats else u,
        "outer": lambda u: xp.outer(u[:2], u[-2:]).ravel(),
        "max_rows": lambda u: xp.max(u.reshape(-1, 2), axis=1) if u.shape[0] % 2 == 0 else u,
        "first": lambda u: u[:1] ** 3,
    }


STEPS = _steps(np)


def _program(names, xp=np):
    steps = _steps(xp) if xp is not np else STEPS

    def f(u):
        for name in names:
            u = steps[name](u)
        return u

    return f


programs = st.tuples(
    st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=4),
    st.integers(1, 8),
    st.integers(0, 2**31 - 1),
)


def _dense(f, x):
    y = f(x)
    return ad.jacfwd(f)(x).reshape(np.size(y), x.size)


@settings(max_examples=120, deadline=None)
@given(programs)
def test_sparse_jacobians_of_random_programs_equal_the_dense_one_in_every_mode(program):
    names, n, seed = program
    f = _program(names)
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal(n) for _ in range(3)]
    preps = {mode: ad.prepare_sparse_jacobian(f, xs[0], mode) for mode in ("forward", "reverse", "auto")}
    for x in xs:
        J = _dense(f, x)
        assert not ((J != 0) & ~preps["auto"].pattern.toarray()).any(), f"{names}: outside the pattern"
        assert (ad.jacobian_sparsity(f, x) != preps["auto"].pattern).nnz == 0, f"{names}: the pattern moved"
        for mode, prep in preps.items():
            np.testing.assert_allclose(
                prep(x).toarray(), J, rtol=1e-12, atol=1e-13, err_msg=f"{names} {mode}"
            )
        np.testing.assert_allclose(
            ad.sparse_jacobian(f, x, chunk=2).toarray(), J, rtol=1e-12, atol=1e-13, err_msg=str(names)
        )


@settings(max_examples=80, deadline=None)
@given(programs, st.sampled_from(["sum_squares", "sum_sin", "quartic"]))
def test_sparse_hessians_of_random_programs_equal_the_dense_one(program, reduce):
    names, n, seed = program
    g = _program(names)
    f = {
        "sum_squares": lambda u: np.sum(g(u) ** 2),
        "sum_sin": lambda u: np.sum(np.sin(g(u))),
        "quartic": lambda u: np.sum(g(u) ** 4) + np.sum(u[1:] * u[:-1]),
    }[reduce]
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal(n) for _ in range(3)]
    prep = ad.prepare_sparse_hessian(f, xs[0])
    for x in xs:
        H = ad.hessian(f)(x)
        assert not ((H != 0) & ~prep.pattern.toarray()).any(), f"{names}: outside the Hessian pattern"
        assert (ad.hessian_sparsity(f, x) != prep.pattern).nnz == 0, f"{names}: the pattern moved"
        np.testing.assert_allclose(prep(x).toarray(), H, rtol=1e-12, atol=1e-12, err_msg=str(names))


@settings(max_examples=6, deadline=None)
@given(programs)
def test_sparse_jacobians_and_hessians_of_random_programs_equal_jax(program):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    names, n, seed = program
    f, fj = _program(names), _program(names, jnp)
    x = np.random.default_rng(seed).standard_normal(n)
    J = np.asarray(jax.jacfwd(fj)(x)).reshape(-1, n)
    np.testing.assert_allclose(
        ad.sparse_jacobian(f, x).toarray(), J, rtol=1e-12, atol=1e-13, err_msg=str(names)
    )
    np.testing.assert_allclose(
        ad.sparse_jacobian(f, x, "reverse").toarray(), J, rtol=1e-12, atol=1e-13, err_msg=str(names)
    )
    h, hj = (lambda u: np.sum(np.sin(f(u)))), (lambda u: jnp.sum(jnp.sin(fj(u))))
    H = np.asarray(jax.hessian(hj)(x))
    np.testing.assert_allclose(
        ad.sparse_hessian(h, x).toarray(), H, rtol=1e-12, atol=1e-12, err_msg=str(names)
    )


@settings(max_examples=25, deadline=None)
@given(programs)
def test_an_executor_gives_the_serial_numbers_bit_for_bit(program):
    names, n, seed = program
    f = _program(names)
    h = lambda u: np.sum(np.sin(f(u)))  # noqa: E731
    x = np.random.default_rng(seed).standard_normal(n)
    with ThreadPoolExecutor(2) as pool:
        for mode in ("forward", "reverse"):
            prep = ad.prepare_sparse_jacobian(f, x, mode, chunk=1)
            a, b = prep(x), prep(x, executor=pool)
            np.testing.assert_array_equal(a.toarray(), b.toarray())
            assert a.dtype == b.dtype
        prep = ad.prepare_sparse_hessian(h, x, chunk=1)
        np.testing.assert_array_equal(prep(x).toarray(), prep(x, executor=pool).toarray())


@settings(max_examples=40, deadline=None)
@given(programs)
def test_float32_input_gives_float32_jacobians_close_to_the_float64_ones(program):
    names, n, seed = program
    f = _program(names)
    x = np.random.default_rng(seed).standard_normal(n).astype(np.float32)
    for mode in ("forward", "reverse"):
        J = ad.sparse_jacobian(f, x, mode)
        dense = ad.jacfwd(f)(x).reshape(J.shape)
        if f(x).dtype == np.float32:  # a float64 constant in f (the mask) makes f float64
            assert J.dtype == dense.dtype == np.float32
        np.testing.assert_allclose(J.toarray(), dense, rtol=2e-5, atol=2e-5, err_msg=f"{names} {mode}")


def test_a_constant_coefficient_far_below_a_unit_one_in_its_row_stays_in_the_pattern():
    # the probes read a row whose coefficients sum to exactly 1.0 as a copy of one element: with
    # the constant's own values, 1 + 1e-17 did, and J[0, 1] = 1e-17 came back as 0
    x = np.array([1.0, 2.0, 3.0])
    A = np.array([[1.0, 1e-17, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    k = np.array([1.0, 1e-18])
    for f in (lambda u: A @ u, lambda u: u @ A.T, lambda u: np.convolve(u, k), lambda u: np.dot(A, u)):
        J = ad.jacfwd(f)(x)
        assert not ((J != 0) & ~ad.jacobian_sparsity(f, x).toarray()).any()
        for mode in ("forward", "reverse"):
            np.testing.assert_array_equal(ad.sparse_jacobian(f, x, mode).toarray(), J)
    h = lambda u: np.sum((A @ u) ** 2)  # noqa: E731
    np.testing.assert_allclose(ad.sparse_hessian(h, x).toarray(), ad.hessian(h)(x), rtol=1e-15, atol=0)


def test_edge_sizes_empty_one_scalar_and_all_zero_jacobians():
    cases = [
        (lambda u: u * 2, np.zeros(0)),
        (lambda u: np.concatenate([u, np.ones(1)]), np.zeros(0)),
        (lambda u: u[:0], np.ones(3)),
        (lambda u: np.sin(u), np.ones(1)),
        (lambda u: np.sin(u) * u, np.array(0.7)),
        (lambda u: np.atleast_1d(np.sum(u**2)), np.ones(3)),
        (lambda u: 0.0 * u + 1.0, np.ones(3)),
        (lambda u: np.ones(4), np.ones(3)),
        (lambda u: (u @ u.T).ravel(), np.arange(6.0).reshape(2, 3)),
        (lambda u: np.sum(u) * u, np.arange(4.0)),
    ]
    for f, x in cases:
        for mode in ("auto", "forward", "reverse"):
            J = ad.sparse_jacobian(f, x, mode)
            np.testing.assert_array_equal(J.toarray(), np.reshape(ad.jacfwd(f)(x), J.shape))
    hessians = [
        (lambda u: np.sum(u**2), np.zeros(0)),
        (lambda u: np.sum(u**3), np.ones(1)),
        (lambda u: u**3, np.array(2.0)),
        (lambda u: np.sum(u) * 0 + 1.0, np.ones(3)),
        (lambda u: np.sum(u), np.ones(3)),
        (lambda u: np.sum(u @ u.T), np.arange(6.0).reshape(2, 3)),
    ]
    for f, x in hessians:
        H = ad.sparse_hessian(f, x)
        np.testing.assert_array_equal(H.toarray(), np.reshape(ad.hessian(f)(x), H.shape))


def test_a_given_sparsity_with_stored_zeros_reads_them_as_no_entry():
    # a float scipy matrix with an explicitly stored 0.0 at (0, 2): the coloring ignored it
    # (column 2 shared column 0's color), the reading back did not, and J[0, 2] came back as J[0, 0]
    f = lambda u: np.stack([u[0] + 2 * u[1], 3 * u[1]])  # noqa: E731
    x = np.ones(3)
    S = sp.csr_array(([1.0, 1.0, 0.0, 1.0], [0, 1, 2, 1], [0, 3, 4]), shape=(2, 3))
    for mode in ("forward", "reverse", "auto"):
        np.testing.assert_array_equal(ad.sparse_jacobian(f, x, mode, sparsity=S).toarray(), ad.jacfwd(f)(x))
    h = lambda u: u[0] ** 2 + u[1] * u[2] + u[0] * u[2]  # noqa: E731
    H = sp.csr_array(([1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0], [0, 1, 2, 0, 2, 0, 1], [0, 3, 5, 7]), shape=(3, 3))
    np.testing.assert_array_equal(
        ad.sparse_hessian(h, np.ones(3), sparsity=H).toarray(), ad.hessian(h)(np.ones(3))
    )
    P = sp.csr_array(([True, False], [0, 1], [0, 1, 2]), shape=(2, 2))  # a stored False
    assert coloring.is_column_coloring(P, np.array([0, 0]))


def test_a_ufunc_option_taken_from_x_is_refused_not_recursed_into():
    f = lambda u: np.add(u, 1.0, where=u > 0)  # noqa: E731
    with pytest.raises(ValueDependenceError, match="where"):
        ad.jacobian_sparsity(f, X0)
    # at x, NumPy would leave the masked entries uninitialised: refused as every where= is
    with pytest.raises(NotImplementedError, match="without out="):
        ad.jacobian_sparsity(f, X0, local=True)


INDEXED = {
    "x.take(argsort)": lambda u: u.take(np.argsort(u)),
    "x.take(argmax)": lambda u: u.take(np.argmax(u)) * np.ones(1),
    "x.repeat(counts)": lambda u: u.repeat((u > 0).astype(int)),
    "list index": lambda u: u[[np.argmax(u), 0]],
    "nested list index": lambda u: u[[[np.argmax(u)]]],
    "x.sum(axis=)": lambda u: u.sum(axis=np.argmax(u[:1])) * np.ones(1),
}


@pytest.mark.parametrize("name", list(INDEXED))
def test_an_index_from_x_through_a_method_or_a_list_is_refused(name):
    # x.take and x.repeat hand their indices to the op's parse, which read the plain value, and a
    # list index held the marked value one level down: both gave the pattern of this x only
    with pytest.raises(ValueDependenceError):
        ad.jacobian_sparsity(INDEXED[name], np.array([5.0, -2.0, 3.0, -0.5]))


def test_a_value_that_varies_with_x_but_depends_on_no_input_passes_through_any_function():
    # np.cumsum ravels its operand in its parse, so the check that an index was kept as an
    # operand lost track of it and refused np.cumsum(np.floor(x)): a false ValueDependenceError
    x = np.array([5.0, -2.0, 3.0, -0.5])
    for f in (
        lambda u: np.cumsum(np.floor(u)) * u,
        lambda u: np.cumprod(np.floor(u)) @ np.outer(u, u),
        lambda u: np.average(u, weights=np.floor(np.abs(u)) + 1.0) * u,
    ):
        _assert_pattern_holds(f, [x, -x, x[::-1]])


def test_an_op_failing_on_the_values_at_x_is_a_branch_point_not_a_pattern():
    # f catches a value-dependent failure and takes another branch: detected where the op fails,
    # the except branch's pattern (the reversal) was returned as the pattern for every x. (Where
    # the op succeeds, no tracer can see the branch not taken: try/except on x's values is not
    # traceable, as in JAX.)
    def g(u):
        with np.errstate(divide="raise", invalid="raise"):
            try:
                return np.log(u)
            except FloatingPointError:
                return u[::-1]

    def c(u):
        try:
            return np.linalg.cholesky(np.diag(u)).ravel()
        except np.linalg.LinAlgError:
            return np.concatenate([u[::-1]] * 3)

    x = np.array([1.0, -2.0, 3.0])
    for f in (g, c):
        with pytest.raises(ValueDependenceError, match="Error at this x"):
            ad.jacobian_sparsity(f, x)
        J = ad.jacfwd(f)(x)
        assert not ((J != 0) & ~ad.jacobian_sparsity(f, x, local=True).toarray()).any()


def test_the_local_pattern_keeps_a_coefficient_far_below_a_unit_one_of_a_general_op():
    # a general op's JVP read at x: the four probes' sums absorbed the 1e-17 beside the exact 1
    A = np.array([[1.0, 1e-17, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    x = np.array([1.0, 2.0, 3.0])
    for f in (lambda u: np.einsum("ij,j->i", A, u), lambda u: np.linalg.solve(A, u)):
        for mode in ("forward", "reverse"):
            np.testing.assert_array_equal(
                ad.sparse_jacobian(f, x, mode, local=True).toarray(), ad.jacfwd(f)(x)
            )
    # the selections a general op does make stay selections: sort's permutation, where's sides
    P = ad.jacobian_sparsity(lambda u: np.where(u > 1.5, np.sort(u)[::-1], u), x, local=True).toarray()
    np.testing.assert_array_equal(P, [[1, 0, 0], [0, 1, 0], [1, 0, 0]])


def test_the_trace_method_of_a_traced_array():
    # Pattern kept its Trace in a slot named trace, which hid x.trace(): 'Trace' is not callable
    x = np.array([1.0, 2.0, 3.0, 4.0])
    f = lambda u: u.reshape(2, 2).trace() * u  # noqa: E731
    _assert_pattern_holds(f, [x, -x])
    with pytest.raises(ValueDependenceError):
        ad.jacobian_sparsity(lambda u: np.outer(u, u).trace(np.argmax(u)) * u, x)


MASK = np.array([True, False, True, False])
IDIOMS = {
    "cumsum": lambda u: np.cumsum(u),
    "cumsum reversed": lambda u: np.cumsum(u[::-1])[::-1],
    "cumprod": lambda u: np.cumprod(u),
    "diff along an axis": lambda u: np.diff(u.reshape(2, 2), axis=0).ravel(),
    "transpose chain": lambda u: np.transpose(u.reshape(2, 2)).ravel()[::-1] * np.roll(u, 1),
    "split and join": lambda u: np.concatenate(np.split(u, 2)[::-1]),
    "array_split piece": lambda u: np.array_split(u, 3)[1],
    "stack on axis 1": lambda u: np.stack([u, u[::-1]], axis=1).ravel(),
    "flip": lambda u: np.flip(u.reshape(2, 2), axis=0).ravel(),
    "take_along_axis": lambda u: np.take_along_axis(u, np.array([3, 0, 0, 2]), axis=0),
    "constant mask": lambda u: u[MASK],
    "integer array": lambda u: u[[0, 0, 3]],
    "2-d fancy": lambda u: u.reshape(2, 2)[[1, 0], [0, 0]],
    "ellipsis and newaxis": lambda u: u.reshape(2, 2)[..., None, ::-1].ravel(),
    "convolve": lambda u: np.convolve(u, u),
    "convolve same": lambda u: np.convolve(u, np.array([1.0, 2.0, 0.0]), mode="same"),
    "correlate": lambda u: np.correlate(u, np.array([0.0, 1.0]), mode="full"),
    "einsum structural zeros": lambda u: np.einsum("ij,jk->ik", u.reshape(2, 2), np.diag([1.0, 0.0])).ravel(),
    "matmul structural zeros": lambda u: (u.reshape(2, 2) @ np.diag([1.0, 0.0])).ravel(),
    "tensordot": lambda u: np.tensordot(u.reshape(2, 2), np.eye(2), axes=1).ravel(),
    "kron": lambda u: np.kron(u[:2], np.array([1.0, 0.0])),
    "pad reflect": lambda u: np.pad(u, (2, 1), mode="reflect"),
    "pad wrap": lambda u: np.pad(u, (2, 1), mode="wrap"),
    "roll 2-d": lambda u: np.roll(u.reshape(2, 2), 1, axis=1).ravel(),
    "sort then slice": lambda u: np.sort(u)[:2],
    "argsort of a constant": lambda u: u[np.argsort(np.array([3.0, 1.0, 2.0, 0.0]))],
    "abs, maximum, minimum": lambda u: np.minimum(np.abs(u), u[::-1]) + np.maximum(u, 0.5),
    "clip with traced bounds": lambda u: np.clip(u, u[::-1], 2.0),
    "where on x": lambda u: np.where(u > 0, u, u[::-1] ** 2),
    "where on a constant": lambda u: np.where(MASK, u, u[::-1]),
    "select on a constant": lambda u: np.select([MASK], [u], 0.0),
    "mask as a factor": lambda u: u * (u > 0) + np.roll(u, 1) * (u <= 0),
    "max along an axis": lambda u: (np.max(u.reshape(2, 2), axis=0, keepdims=True) * u.reshape(2, 2)).ravel(),
    "solve": lambda u: np.linalg.solve(np.eye(4) + np.diag(np.ones(3), 1), u),
    "norm along an axis": lambda u: np.linalg.norm(u.reshape(2, 2), axis=1),
    "triu of an outer": lambda u: np.triu(np.outer(u, u)).ravel(),
    "repeat, tile, broadcast_to": lambda u: np.concatenate(
        [np.repeat(u, [1, 0, 2, 1]), np.tile(u[:2], 2), np.broadcast_to(u[:2], (2, 2)).ravel()]
    ),
    "power with a traced exponent": lambda u: np.abs(u) ** u[::-1],
    "argmax as a factor": lambda u: u * np.argmax(u),
}


@pytest.mark.parametrize("name", list(IDIOMS))
def test_the_global_pattern_of_data_dependent_idioms_holds_where_the_data_changes(name):
    rng = np.random.default_rng(8)
    xs = [np.array([1.0, -2.0, 3.0, -0.5])] + [rng.standard_normal(4) * 2 for _ in range(6)]
    P = _assert_pattern_holds(IDIOMS[name], xs)
    f = IDIOMS[name]
    for mode in ("forward", "reverse"):
        prep = ad.prepare_sparse_jacobian(f, xs[0], mode, sparsity=P)
        for x in xs:
            np.testing.assert_allclose(
                prep(x).toarray(), ad.jacfwd(f)(x).reshape(P.shape), rtol=1e-12, atol=1e-14
            )


def test_a_locally_prepared_jacobian_follows_an_output_size_that_changes_with_x():
    f = lambda u: u[u > 0] * u[0]  # noqa: E731
    prep = ad.prepare_sparse_jacobian(f, np.array([1.0, -1.0, 2.0]), local=True)
    for x in (np.array([1.0, 1.0, 2.0]), np.array([-1.0, 1.0, -2.0]), np.array([1.0, -1.0, 2.0])):
        np.testing.assert_array_equal(prep(x).toarray(), ad.jacfwd(f)(x))
