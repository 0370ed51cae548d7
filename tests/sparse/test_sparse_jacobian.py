"""Sparse Jacobians and Hessians against dense jacfwd, jacrev and hessian; prepare and reuse."""

import numpy as np
import pytest
import scipy.sparse as sp

import ad
from ad.compare import sparse as problems

TOL = 1e-12


def _close(A, B):
    return np.abs(A - B).max() <= TOL * max(1.0, np.abs(B).max())


@pytest.mark.parametrize("name", list(problems.PROBLEMS))
@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
def test_sparse_jacobian_equals_the_dense_one(name, mode):
    p = problems.PROBLEMS[name](n=49)
    J = ad.sparse_jacobian(p.f, p.x0, mode)
    assert isinstance(J, sp.csr_array)
    assert _close(J.toarray(), ad.jacfwd(p.f)(p.x0)) and _close(J.toarray(), ad.jacrev(p.f)(p.x0))


def test_auto_picks_the_side_with_fewer_colors():
    f = lambda x: x**2 + x[0]  # a dense first column: 2 column colors, n row colors  # noqa: E731
    prep = ad.prepare_sparse_jacobian(f, np.ones(20))
    assert prep.plan.mode == "forward" and prep.plan.forward_colors == 2 and prep.plan.reverse_colors == 20
    g = lambda x: np.concatenate([np.sum(x, keepdims=True), x[1:] ** 2])  # a dense first row  # noqa: E731
    prep = ad.prepare_sparse_jacobian(g, np.ones(20))
    assert prep.plan.mode == "reverse" and prep.plan.reverse_colors == 2
    assert prep.plan.passes == 1 and "2 row colors" in prep.plan.reason


def test_prepared_jacobian_is_reused_at_new_points():
    p = problems.reaction_diffusion(30)
    prep = ad.prepare_sparse_jacobian(p.f, p.x0)
    assert prep.ncolors == 3
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.uniform(0, 1, 30)
        assert _close(prep(x).toarray(), ad.jacfwd(p.f)(x))
    with pytest.raises(ValueError, match="prepared for x of shape"):
        prep(np.ones(31))


def test_a_given_sparsity_is_used_and_checked():
    p = problems.reaction_diffusion(20)
    P = ad.jacobian_sparsity(p.f, p.x0)
    assert _close(ad.sparse_jacobian(p.f, p.x0, sparsity=P).toarray(), ad.jacfwd(p.f)(p.x0))
    with pytest.raises(ValueError, match="sparsity has shape"):
        ad.sparse_jacobian(p.f, p.x0, sparsity=P[:5])


def test_small_chunks_give_the_same_jacobian():
    p = problems.stencil(25)
    J = ad.sparse_jacobian(p.f, p.x0, chunk=2)
    assert ad.prepare_sparse_jacobian(p.f, p.x0, chunk=2).plan.passes == 3  # 5 colors, 2 a pass
    assert _close(J.toarray(), ad.jacfwd(p.f)(p.x0))


def test_float32_in_float32_out():
    J = ad.sparse_jacobian(lambda x: x * x, np.ones(4, np.float32))
    assert J.dtype == np.float32


@pytest.mark.parametrize("name", list(problems.PROBLEMS))
def test_sparse_hessian_equals_the_dense_one(name):
    p = problems.PROBLEMS[name](n=36)
    w = np.linspace(0.5, 1.5, p.x0.size)
    f = lambda x: np.sum(w * p.f(x) ** 2)  # noqa: E731
    H = ad.sparse_hessian(f, p.x0)
    assert isinstance(H, sp.csr_array)
    assert _close(H.toarray(), ad.hessian(f)(p.x0))


def test_hessian_of_an_arrowhead_takes_two_colors():
    f = lambda x: np.sum(x[0] * np.sin(x[1:])) + np.sum(x**4)  # noqa: E731
    x = np.linspace(0.1, 1.0, 30)
    prep = ad.prepare_sparse_hessian(f, x)
    assert prep.ncolors == 2
    assert _close(prep(x).toarray(), ad.hessian(f)(x))
    assert _close(prep(2 * x).toarray(), ad.hessian(f)(2 * x))


def test_bad_mode_and_non_scalar_hessian_are_refused():
    with pytest.raises(ValueError, match="mode"):
        ad.sparse_jacobian(lambda x: x, np.ones(3), "sideways")
    with pytest.raises(TypeError, match="scalar"):
        ad.sparse_hessian(lambda x: x, np.ones(3))
