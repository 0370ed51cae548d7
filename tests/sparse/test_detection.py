"""Sparsity detection against the nonzeros of the dense Jacobian and Hessian at random x:
every registered op (iterated from the registry), the benchmark problems, control flow."""

import numpy as np
import pytest

import ad
from ad import testing
from ad.compare import sparse as sparse_problems
from ad.sparse import ValueDependenceError
from ad.trace import is_complex

DIFF_OPS = [op for op in testing.differentiable_ops() if op.kind != "composite"]
EXACT = ("elementwise", "linear")  # rule kinds whose pattern is exact, not a superset


def _flat_function(op, operands, params, idx):
    """z -> op's outputs raveled and concatenated, z the differentiated operands raveled."""
    shapes = [np.shape(operands[i]) for i in idx]
    bounds = np.cumsum([0, *(int(np.prod(s, dtype=int)) for s in shapes)])
    g = testing.op_function(op, operands, params, idx)

    def f(z):
        y = g(*(np.reshape(z[a:b], s) for a, b, s in zip(bounds, bounds[1:], shapes)))
        ys = list(y) if isinstance(y, tuple | list) else [y]
        # a complex output as its real and imaginary parts: jacfwd takes real outputs
        ys = [p for v in ys for p in ((np.real(v), np.imag(v)) if is_complex(v) else (v,))]
        return np.concatenate([np.ravel(v) for v in ys]) if len(ys) > 1 else np.ravel(ys[0])

    z = np.concatenate([np.ravel(np.asarray(operands[i], float)) for i in idx])
    return f, z


def _real_cases(op, most: int = 3):
    """Up to `most` of op's examples with a real output, as (f, z, params)."""
    for operands, params, idx in list(testing.cases(op))[:most]:
        f, z = _flat_function(op, operands, params, idx)
        if np.iscomplexobj(f(z)) or not z.size:
            continue
        yield f, z, params


@pytest.mark.parametrize("op", DIFF_OPS, ids=lambda op: op.name)
def test_jacobian_pattern_contains_every_nonzero_of_the_jacobian(op):
    checked = 0
    for f, z, params in _real_cases(op):
        P = ad.jacobian_sparsity(f, z).toarray()
        J = ad.jacfwd(f)(z)
        nonzero = J != 0
        assert P.shape == nonzero.shape
        assert not (nonzero & ~P).any(), f"{op.name}{params}: a nonzero outside the pattern"
        if op.kind in EXACT and op.smooth and op.analytic:
            # at three nearby random points, so that a derivative vanishing at one point does not
            # count; an op whose derivative vanishes on all real input (angle) has nothing to match
            rng = np.random.default_rng(4)
            for _ in range(2):
                nonzero |= ad.jacfwd(f)(z * (1 + 0.01 * rng.uniform(size=z.shape))) != 0
            if nonzero.any():
                assert (P == nonzero).all(), f"{op.name}{params}: pattern larger than the Jacobian"
        if op.kind == "general":  # the local pattern reads its JVP at z, rounded unlike jacfwd's
            local = ad.jacobian_sparsity(f, z, local=True).toarray()
            clear = np.abs(J) > 1e-12 * np.abs(J).max(initial=0)
            assert not (clear & ~local).any() and not (local & ~P).any()
        checked += 1
    assert checked or op.complex, f"{op.name}: no real example checked"


@pytest.mark.parametrize("op", [op for op in DIFF_OPS if op.kind != "linear"], ids=lambda op: op.name)
def test_hessian_pattern_contains_every_nonzero_of_the_hessian(op):
    rng = np.random.default_rng(3)
    for f, z, params in _real_cases(op, most=2):
        w = rng.uniform(0.5, 1.5, f(z).size)
        h = lambda z, f=f, w=w: w @ f(z)  # linear in f's outputs: the second order is the op's
        P = ad.hessian_sparsity(h, z).toarray()
        nonzero = ad.hessian(h)(z) != 0
        assert (P == P.T).all()
        assert not (nonzero & ~P).any(), f"{op.name}{params}: a Hessian nonzero outside the pattern"


@pytest.mark.parametrize("name", list(sparse_problems.PROBLEMS))
def test_the_benchmark_problems_patterns_equal_their_jacobians_nonzeros(name):
    problem = sparse_problems.PROBLEMS[name](n=40)
    rng = np.random.default_rng(0)
    for _ in range(2):
        x = problem.x0 + 0.1 * rng.standard_normal(problem.x0.shape)
        P = ad.jacobian_sparsity(problem.f, x).toarray()
        assert (P == (ad.jacfwd(problem.f)(x) != 0)).all()


def test_a_linear_op_that_subtracts_an_input_from_itself_keeps_the_superset():
    x = np.arange(1.0, 5.0)
    P = ad.jacobian_sparsity(lambda u: (u - u) + u[::-1] * 0.0, x).toarray()
    assert P.diagonal().all()  # x - x is zero, but only by cancellation: the pattern keeps it
    assert P[::-1].diagonal().all()


def test_a_constant_matrix_keeps_its_zeros_and_a_traced_one_does_not():
    A = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]])
    P = ad.jacobian_sparsity(lambda u: A @ u, np.ones(3)).toarray()
    assert (P == (A != 0)).all()
    P = ad.jacobian_sparsity(lambda u: np.outer(u[:2], u) @ u, np.ones(3)).toarray()
    assert P.all()


def test_global_detection_refuses_a_branch_on_x_and_names_the_comparison():
    def f(u):
        return u * 2 if u[0] > 0 else u**3

    with pytest.raises(ValueDependenceError, match="numpy.greater"):
        ad.jacobian_sparsity(f, np.ones(3))
    with pytest.raises(ValueDependenceError, match="argmax"):
        ad.jacobian_sparsity(lambda u: u[np.argmax(u)], np.ones(3))
    with pytest.raises(ValueDependenceError, match="take"):
        ad.jacobian_sparsity(lambda u: np.take(u, np.argmax(u)), np.ones(3))


def test_local_detection_takes_the_branch_at_x():
    def f(u):
        return u[:1] * u[1:] if np.sum(u) > 0 else u[1:]

    assert (ad.jacobian_sparsity(f, np.ones(3), local=True).toarray() == [[1, 1, 0], [1, 0, 1]]).all()
    assert (ad.jacobian_sparsity(f, -np.ones(3), local=True).toarray() == [[0, 1, 0], [0, 0, 1]]).all()


def test_a_mask_from_a_comparison_is_a_constant_factor():
    P = ad.jacobian_sparsity(lambda u: u * (u > 0) + np.sum(u[:2]), np.ones(3)).toarray()
    assert (P == [[1, 1, 0], [1, 1, 0], [1, 1, 1]]).all()


def test_general_ops_are_dense_over_their_operands():
    P = ad.jacobian_sparsity(lambda u: np.concatenate([np.sort(u[:3]), u[3:]]), np.ones(5)).toarray()
    assert P[:3, :3].all() and not P[:3, 3:].any() and (P[3:, 3:] == np.eye(2)).all()


def test_hessian_pattern_of_a_chain_is_tridiagonal_and_skips_elements_that_do_not_reach_f():
    f = lambda u: np.sum(u[1:] * u[:-1])
    P = ad.hessian_sparsity(f, np.ones(5)).toarray()
    assert (P == (np.abs(np.subtract.outer(range(5), range(5))) <= 1)).all()
    P = ad.hessian_sparsity(lambda u: np.sin(u)[0], np.ones(4)).toarray()
    assert P[0, 0] and P.sum() == 1


def test_detection_refuses_complex_and_integer_input():
    with pytest.raises(TypeError, match="real"):
        ad.jacobian_sparsity(lambda u: u, np.ones(2, complex))
    with pytest.raises(TypeError, match="floating-point"):
        ad.jacobian_sparsity(lambda u: u, np.ones(2, int))
