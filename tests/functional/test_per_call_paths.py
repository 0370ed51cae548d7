"""What the transforms' cheap per-call paths must keep: JAX's argnums layouts, results that
share memory with nothing the caller holds (copied only when they would), and a default
chunk that runs small Jacobians in one pass with the chunked passes' values."""

import numpy as np
import pytest

import ad
from ad.transform import DEFAULT_CHUNK, SEED_ENTRIES, default_chunk, one_hot_chunks, private


def _f(a, b):
    return np.sum(np.sin(a) * b**2)


A_ = np.array([0.3, -1.2])
B_ = np.array([2.0, 0.5])


# -- argnums layouts ----------------------------------------------------------------------------
def test_argnums_naming_every_argument_in_order_gives_a_tuple_of_gradients():
    ga, gb = ad.grad(_f, (0, 1))(A_, B_)
    np.testing.assert_allclose(ga, np.cos(A_) * B_**2)
    np.testing.assert_allclose(gb, 2 * np.sin(A_) * B_)
    (only,) = ad.grad(lambda a: np.sum(a**2), (0,))(A_)  # a one-tuple argnums: a one-tuple
    np.testing.assert_allclose(only, 2 * A_)
    assert isinstance(ad.grad(lambda a: np.sum(a**2), 0)(A_), np.ndarray)


def test_argnums_in_another_order_gives_the_gradients_in_that_order():
    gb, ga = ad.grad(_f, (1, 0))(A_, B_)
    np.testing.assert_allclose(ga, np.cos(A_) * B_**2)
    np.testing.assert_allclose(gb, 2 * np.sin(A_) * B_)
    Jb, Ja = ad.jacrev(lambda a, b: np.sin(a) * b, (1, 0))(A_, B_)
    np.testing.assert_allclose(Ja, np.diag(np.cos(A_) * B_))
    np.testing.assert_allclose(Jb, np.diag(np.sin(A_)))


def test_one_transform_called_with_different_numbers_of_arguments():
    # argnums=-1 names a different position for each number of arguments
    g = ad.grad(lambda *xs: np.sum(xs[0] * xs[-1] ** 2), -1)
    np.testing.assert_allclose(g(A_, B_), 2 * A_ * B_)
    np.testing.assert_allclose(g(A_, A_, B_), 2 * A_ * B_)
    np.testing.assert_allclose(g(B_), 3 * B_**2)
    with pytest.raises(IndexError, match="f was called with 1 argument"):
        ad.grad(lambda *xs: np.sum(xs[0]), 1)(A_)


# -- results are the caller's alone -------------------------------------------------------------
def test_a_value_that_views_an_argument_is_returned_as_a_copy():
    x = np.array([1.5])
    y, g = ad.value_and_grad(lambda x: x.reshape(()))(x)
    assert not np.shares_memory(y, x) and y.flags.writeable
    np.testing.assert_array_equal(g, [1.0])
    c = np.array([2.5])  # not differentiated, but the caller's all the same
    y, g = ad.value_and_grad(lambda x, c: c.reshape(()))(x, c)
    assert not np.shares_memory(y, c) and y == 2.5
    np.testing.assert_array_equal(g, [0.0])


def test_private_copies_only_what_would_be_shared_or_is_read_only():
    caller = np.arange(6.0)
    own = np.ones(3)
    read_only = np.broadcast_to(np.ones(1), (3,))
    out = private([own, caller[2:], read_only, own, 7.0], caller=[caller])
    assert out[0] is own  # owns its memory and the caller does not hold it: kept, not copied
    assert out[1] is not caller[2:] and not np.shares_memory(out[1], caller)
    np.testing.assert_array_equal(out[1], [2.0, 3.0, 4.0, 5.0])
    assert out[2].flags.writeable and not np.shares_memory(out[2], read_only)
    assert out[3] is not own and not np.shares_memory(out[3], own)  # a second result, copied
    assert out[4] == 7.0


@pytest.mark.parametrize("jac", [ad.jacfwd, ad.jacrev])
def test_a_one_pass_jacobian_is_writable_and_private(jac):
    A = np.random.default_rng(0).standard_normal((5, 4))
    x = np.linspace(-1.0, 1.0, 4)
    J = jac(lambda x: np.tanh(A @ x))(x)
    assert J.flags.writeable and not np.shares_memory(J, x) and not np.shares_memory(J, A)
    expected = J.copy()
    J[:] = 0.0
    np.testing.assert_array_equal(jac(lambda x: np.tanh(A @ x))(x), expected)
    I = jac(lambda x: x)(x)  # the seed itself comes back: still writable, still private
    np.testing.assert_array_equal(I, np.eye(4))
    assert I.flags.writeable and not np.shares_memory(I, x)
    I[:] = 5.0  # and writing into it leaves the next call's seeds alone
    np.testing.assert_array_equal(jac(lambda x: x)(x), np.eye(4))
    np.testing.assert_array_equal(jac(lambda x: np.tanh(A @ x))(x), expected)


# -- the default chunk ----------------------------------------------------------------------------
def test_the_default_chunk_is_one_pass_while_the_seed_fits_and_at_least_the_fixed_chunk():
    assert default_chunk(1) == 1 and default_chunk(300) == 300
    assert 362**2 <= SEED_ENTRIES < 363**2 and default_chunk(362) == 362
    assert default_chunk(363) == SEED_ENTRIES // 363 < 363  # two passes
    assert default_chunk(10**6) == DEFAULT_CHUNK


@pytest.mark.parametrize("n,passes", [(300, 1), (400, 2)])
def test_jacfwd_runs_the_passes_the_default_chunk_says(n, passes):
    calls = []

    def f(x):
        calls.append(1)
        return np.sin(x[:3]) * np.sum(x)

    ad.jacfwd(f)(np.linspace(0.0, 1.0, n))
    assert len(calls) == passes == -(-n // default_chunk(n))
    _, plan = ad.jacobian(f, mode="forward", explain=True)(np.linspace(0.0, 1.0, n))
    assert plan.forward_passes == passes and plan.forward_chunk == default_chunk(n)
    assert plan.reverse_chunk == 3 and plan.reverse_passes == 1 and plan.chunk == DEFAULT_CHUNK


def test_an_explicit_chunk_is_kept():
    calls = []

    def f(x):
        calls.append(1)
        return np.sin(x)

    ad.jacfwd(f, chunk=7)(np.ones(20))
    assert len(calls) == 3
    _, plan = ad.jacobian(f, explain=True, chunk=7)(np.ones(20))
    assert (plan.chunk, plan.forward_chunk, plan.reverse_chunk) == (7, 7, 7)


@pytest.mark.parametrize("jac", [ad.jacfwd, ad.jacrev])
def test_one_pass_equals_the_chunked_passes(jac):
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((6, 5)), rng.standard_normal((3, 2, 3))
    P = {"x": np.linspace(-1.0, 1.0, 5), "W": 0.3 * np.ones((2, 3))}

    def f(p):  # two input leaves and two output leaves: chunks straddle both
        return np.tanh(A @ p["x"]), np.einsum("ijk,jk->i", B, p["W"]) * np.sum(p["x"])

    one = jac(f)(P)
    for chunk in (1, 4, 7):
        chunked = jac(f, chunk=chunk)(P)
        for j in range(2):
            for k in ("x", "W"):
                np.testing.assert_allclose(one[j][k], chunked[j][k], rtol=1e-13, atol=1e-13)


def test_one_hot_seeds_are_the_identity_split_over_leaves_and_chunks():
    leaves = [np.zeros(2), np.zeros((2, 2), dtype=np.float32), np.zeros(())]
    for chunk in (1, 3, 7, None):
        rows = []
        for kk, seeds in one_hot_chunks(leaves, chunk):
            block = [
                np.zeros((kk, x.size)) if s is None else s.reshape(kk, -1) for s, x in zip(seeds, leaves)
            ]
            for s, x in zip(seeds, leaves):
                assert s is None or (s.shape == (kk, *x.shape) and s.dtype == x.dtype)
            rows.append(np.concatenate(block, axis=1))
        np.testing.assert_array_equal(np.concatenate(rows), np.eye(7))


@pytest.mark.parametrize("argnums", [0, 1, 2, -1, (0, 2), (2, 0), (1,), (0, 1, 2)])
def test_float_array_arguments_record_as_select_and_record_do(argnums):
    # arrays of floats take their leaves in place (record_arguments, no select closure): the
    # recording must be the one select + record make, and grad's results the same
    from ad.reverse import api
    from ad.transform import Argnums, select

    def f(x, W, s):
        return np.sum(np.tanh(W @ x) * s)

    args = (np.array([0.3, -0.7, 1.1]), np.arange(6.0).reshape(2, 3) / 6, np.array(1.5))
    nums = Argnums(argnums, "grad")
    fast = api.record_arguments(f, args, nums, who="grad")
    primals, g = select(f, args, nums)
    general = api.record(g, primals, who="grad")
    assert fast.in_tree == general.in_tree and fast.out_tree == general.out_tree
    assert all(a is b for a, b in zip(fast.values, general.values))
    np.testing.assert_array_equal(fast.out_leaves[0], general.out_leaves[0])
    for a, b in zip(fast.pullback([np.ones(())]), general.pullback([np.ones(())])):
        np.testing.assert_array_equal(a, b)
    # grad through it: private results in the layout argnums asks for
    grads = ad.grad(f, argnums)(*args)
    for gi in grads if isinstance(argnums, tuple) else (grads,):
        assert gi.flags.writeable and not any(np.shares_memory(gi, a) for a in args)
    # float32 among float64: each gradient in its own argument's dtype
    g32 = ad.grad(f, (0, 1))(args[0].astype(np.float32), *args[1:])
    assert (g32[0].dtype, g32[1].dtype) == (np.float32, np.float64)
