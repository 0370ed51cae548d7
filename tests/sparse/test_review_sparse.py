"""An adversarial review of sparse Jacobians and Hessians, hunting silent wrong numbers: a
pattern that misses a dependence at some x (global patterns claim every x), a coloring that
puts two columns of one row in one color, a prepared Jacobian reused where its pattern no
longer holds. Oracles: ad.jacfwd and ad.hessian (dense), and jax where it is installed."""

import numpy as np
import pytest

import ad
import ad.trace
from ad import testing
from ad.sparse import ValueDependenceError

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
