"""Sparsity detection through np.pad and np.einsum: the detected pattern against the nonzeros of
the dense Jacobian (ad.jacfwd, and jax.jacfwd for einsum) at random x in [1, 2), where no
coefficient vanishes by accident, and the sparse Jacobian built from it against the dense one.

pad's VJP reads only x's shape (Op.vjp_reads_shapes), so detection reads its exact linear map;
einsum is declared linear in each operand (Op.multilinear), a contraction read as a bilinear op
is. Both patterns are exact."""

import numpy as np
import pytest

import ad
from ad.sparse import coloring

PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")
SEEDS = range(4)


def _nonzeros(f, x, P_shape):
    return ad.jacfwd(f)(x).reshape(P_shape) != 0


def _pattern(f, x):
    return ad.jacobian_sparsity(f, x).toarray()


def _assert_sparse_equals_dense(f, x, P):
    J = ad.jacfwd(f)(x).reshape(P.shape)
    for mode in ("forward", "reverse"):
        np.testing.assert_array_equal(ad.sparse_jacobian(f, x, mode, sparsity=P).toarray(), J)


# -- np.pad ----------------------------------------------------------------------------------
def _pad_case(mode: str, seed: int):
    """A random shape of 1 to 3 axes and widths up to twice an axis (reflections fold back)."""
    rng = np.random.default_rng([seed, PAD_MODES.index(mode)])
    shape = tuple(int(n) for n in rng.integers(1, 5, rng.integers(1, 4)))
    widths = tuple((int(rng.integers(0, 2 * n + 1)), int(rng.integers(0, 2 * n + 1))) for n in shape)
    options = {"constant_values": 1.5} if mode == "constant" else {}
    x = rng.uniform(1.0, 2.0, int(np.prod(shape)))
    return shape, widths, options, x


def _padded(pad, mode, seed):
    shape, widths, options, x = _pad_case(mode, seed)
    return (lambda u: np.ravel(pad(np.reshape(u, shape), widths, mode=mode, **options))), x


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mode", PAD_MODES)
def test_np_pad_pattern_holds_every_nonzero_and_gives_the_dense_jacobian(mode, seed):
    f, x = _padded(np.pad, mode, seed)
    P = _pattern(f, x)
    assert not (_nonzeros(f, x, P.shape) & ~P).any()
    _assert_sparse_equals_dense(f, x, P)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mode", PAD_MODES)
def test_np_pad_has_the_exact_pattern_of_every_mode(mode, seed):
    f, x = _padded(np.pad, mode, seed)
    P = _pattern(f, x)
    np.testing.assert_array_equal(P, _nonzeros(f, x, P.shape))
    _assert_sparse_equals_dense(f, x, P)
    # a copy of one element each: a selection, one input per output element that has any
    assert P.sum(axis=1).max() == 1


def test_np_pad_keeps_a_padded_stencil_at_three_colors():
    x = np.random.default_rng(0).uniform(1.0, 2.0, 42)  # a multiple of 3: wrap closes the band
    for mode in PAD_MODES:
        P = _pattern(_stencil(np.pad, mode), x)
        assert coloring.ncolors(coloring.column_coloring(P)) == 3, mode


def _stencil(pad, mode):
    def f(u):
        v = pad(np.sin(u), 1, mode=mode)
        return v[:-2] - 2.0 * v[1:-1] + v[2:]

    return f


# -- np.einsum ---------------------------------------------------------------------------------
# (subscripts or sublists, operand shapes, each operand's source): "x" a slice of its own of the
# input, "c" a constant with zeros, a digit k the same traced array as operand k.
EINSUM = [
    ("ij,jk->ik", [(3, 4), (4, 2)], "xx"),
    ("ij,jk", [(3, 4), (4, 2)], "xx"),
    ("ij,jk->ik", [(3, 4), (4, 2)], "xc"),
    ("ij,jk->ik", [(3, 4), (4, 2)], "cx"),
    ("ij,jk->ik", [(3, 3), (3, 3)], "x0"),
    ("ij,ij->i", [(3, 4), (3, 4)], "x0"),
    ("ii->i", [(3, 3)], "x"),
    ("ii", [(3, 3)], "x"),
    ("iji->ij", [(3, 2, 3)], "x"),
    ("iij,j->ij", [(3, 3, 2), (2,)], "xx"),
    ("ij->", [(2, 3)], "x"),
    ("ij->j", [(2, 3)], "x"),
    ("ba", [(2, 3)], "x"),
    ("b...a", [(2, 2, 3)], "x"),
    ("i,j->ij", [(3,), (4,)], "xx"),
    ("i,i->", [(4,), (4,)], "xx"),
    ("i,i", [(4,), (4,)], "xc"),
    ("ij,j,jk->ki", [(2, 3), (3,), (3, 4)], "xxx"),
    ("ij,j,jk->ki", [(2, 3), (3,), (3, 4)], "xcx"),
    ("ij,jk,kl->il", [(2, 3), (3, 3), (3, 2)], "xcx"),
    ("i,jk,jk->i", [(2,), (2, 3), (2, 3)], "xxc"),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 2)], "xx"),
    ("i...,i->...", [(3, 2, 2), (3,)], "xx"),
    ("ij,ij->ij", [(1, 3), (2, 3)], "xx"),
    ("ij,kj->i", [(2, 3), (4, 3)], "xx"),
    ("bij,bjk->bik", [(2, 3, 2), (2, 2, 3)], "xx"),
    (([0, 1], [1, 2], [0, 2]), [(3, 4), (4, 2)], "xx"),
    (([0, 1], [1, 2]), [(3, 4), (4, 2)], "xc"),
    (([Ellipsis, 0], [0, Ellipsis]), [(2, 2, 3)], "x"),
]
EINSUM_IDS = [f"{s if isinstance(s, str) else 'sublists'}-{src}" for s, _, src in EINSUM]


def _einsum_case(k: int, xp=np):
    """(f, x): f(u) the einsum of EINSUM[k] on slices of u (and constants), raveled."""
    spec, shapes, sources = EINSUM[k]
    rng = np.random.default_rng(k)
    constants = {
        i: rng.uniform(1.0, 2.0, s) * (np.arange(int(np.prod(s))).reshape(s) % 3 != 1)
        for i, (s, src) in enumerate(zip(shapes, sources))
        if src == "c"
    }
    sizes = [int(np.prod(s)) if src == "x" else 0 for s, src in zip(shapes, sources)]
    bounds = np.cumsum([0, *sizes])

    def f(u):
        operands = []
        for i, (s, src) in enumerate(zip(shapes, sources)):
            if src == "x":
                operands.append(xp.reshape(u[bounds[i] : bounds[i + 1]], s))
            elif src == "c":
                operands.append(constants[i])
            else:
                operands.append(operands[int(src)])
        if isinstance(spec, str):
            y = xp.einsum(spec, *operands)
        else:  # the sublist form: operand, sublist, operand, sublist, ..., [output sublist]
            args = [a for pair in zip(operands, spec) for a in pair] + list(spec[len(operands) :])
            y = xp.einsum(*args)
        return xp.reshape(y, -1)

    return f, rng.uniform(1.0, 2.0, int(bounds[-1]))


@pytest.mark.parametrize("k", range(len(EINSUM)), ids=EINSUM_IDS)
def test_np_einsum_pattern_holds_every_nonzero_and_gives_the_dense_jacobian(k):
    f, x = _einsum_case(k)
    P = _pattern(f, x)
    assert not (_nonzeros(f, x, P.shape) & ~P).any()
    _assert_sparse_equals_dense(f, x, P)


@pytest.mark.parametrize("k", range(len(EINSUM)), ids=EINSUM_IDS)
def test_np_einsum_has_the_exact_pattern_of_a_contraction(k):
    f, x = _einsum_case(k)
    P = _pattern(f, x)
    np.testing.assert_array_equal(P, _nonzeros(f, x, P.shape))
    _assert_sparse_equals_dense(f, x, P)


@pytest.mark.parametrize("k", range(len(EINSUM)), ids=EINSUM_IDS)
def test_np_einsum_pattern_equals_the_nonzeros_of_jax_jacobian(k):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    f, x = _einsum_case(k)
    fj, _ = _einsum_case(k, jnp)
    P = _pattern(f, x)
    np.testing.assert_array_equal(P, np.asarray(jax.jacfwd(fj)(x)).reshape(P.shape) != 0)


def test_np_einsum_pattern_is_the_agreement_of_shared_indices():
    # out[i, l] = sum_jk A[i, j] B[j, k] C[k, l], B a constant whose column k = 1 is zero: out[i, l]
    # depends on A[i, :] and on C[k, l] for k = 0, 2, and on nothing else
    f, x = _einsum_case(EINSUM_IDS.index("ij,jk,kl->il-xcx"))
    P = _pattern(f, x).reshape(2, 2, 2 * 3 + 3 * 2)
    A, C = P[..., :6].reshape(2, 2, 2, 3), P[..., 6:].reshape(2, 2, 3, 2)
    for i in range(2):
        for ll in range(2):
            np.testing.assert_array_equal(A[i, ll], np.arange(2)[:, None] == i + np.zeros(3))
            np.testing.assert_array_equal(C[i, ll], np.array([[1], [0], [1]]) * (np.arange(2) == ll))


def test_np_einsum_of_blocks_takes_the_colors_of_one_block():
    f = lambda u: np.einsum("bij,bjk->bik", u.reshape(-1, 2, 2), np.sin(u).reshape(-1, 2, 2)).ravel()  # noqa: E731
    x = np.random.default_rng(1).uniform(1.0, 2.0, 40)
    P = _pattern(f, x)
    assert coloring.ncolors(coloring.column_coloring(P)) == 4
    _assert_sparse_equals_dense(f, x, P)


@pytest.mark.parametrize("k", range(len(EINSUM)), ids=EINSUM_IDS)
def test_np_einsum_hessian_pattern_holds_every_nonzero(k):
    f, x = _einsum_case(k)
    w = np.random.default_rng(k).uniform(0.5, 1.5, f(x).size)
    h = lambda u: w @ f(u)  # noqa: E731
    P = ad.hessian_sparsity(h, x).toarray()
    assert not ((ad.hessian(h)(x) != 0) & ~P).any()


def test_np_einsum_hessian_couples_different_operands_only():
    # a . b . c summed: d2/da db is c's diagonal, never a with a
    f = lambda u: np.einsum("i,i,i->", u[:3], u[3:6], u[6:])  # noqa: E731
    P = ad.hessian_sparsity(f, np.ones(9)).toarray()
    blocks = P.reshape(3, 3, 3, 3)
    assert all(not blocks[a, :, a].any() for a in range(3))
    assert all(blocks[a, :, b].all() for a in range(3) for b in range(3) if a != b)
