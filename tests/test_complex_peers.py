"""Complex derivatives op by op against the peers: grad and jvp against JAX's, Tensor.backward
against PyTorch's on the same complex tensors (its gradient is the conjugate of JAX's)."""

import functools
from types import SimpleNamespace

import numpy as np
import pytest

import ad

RNG = np.random.default_rng(0)


def _c(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


Z, W, X = _c(4), _c(4), RNG.standard_normal(4)
A, B = _c(3, 3), _c(3, 3)
ZP = np.abs(Z) + 0.5 + 0.3j  # off log's and power's branch cut
R = np.arange(4.0)

# real losses of complex (and mixed real) inputs, written once for NumPy and jax.numpy
LOSSES = {
    "abs, angle": (lambda xp, z: xp.sum(xp.abs(z) + xp.angle(z)), Z),
    "abs at 0": (lambda xp, z: xp.sum(xp.abs(z) ** 3 + xp.abs(z)), np.array([0j, 1 + 1j])),
    "power with a complex exponent": (lambda xp, z, w: xp.sum(xp.real(z**w)), ZP, W),
    "power of a real base": (lambda xp, z: xp.sum(xp.imag(xp.power(2.0, z))), Z),
    "reciprocal, tanh, arcsin": (lambda xp, z: xp.sum(xp.real(1 / z + xp.tanh(z) + xp.arcsin(0.3 * z))), Z),
    "sqrt, log, log1p, expm1": (
        lambda xp, z: xp.sum(xp.imag(xp.sqrt(z) + xp.log(z) + xp.log1p(z) + xp.expm1(z))),
        ZP,
    ),
    "conj, real, imag": (lambda xp, z: xp.sum(xp.real(xp.conj(z) * z * (1 + 2j)) + z.real * z.imag), Z),
    "prod, cumprod": (lambda xp, z: xp.real(xp.prod(z)) + xp.sum(xp.imag(xp.cumprod(z))), Z),
    "prod with a zero": (lambda xp, z: xp.abs(xp.prod(z)), np.array([0j, 1 + 1j, 2 - 1j])),
    "mean, var, std": (lambda xp, z: xp.real(xp.mean(z * z)) + xp.var(z, ddof=1) + xp.std(z), Z),
    "norms": (lambda xp, a: xp.linalg.norm(a) + xp.linalg.norm(a, "nuc") + xp.linalg.norm(a[0], 3), A),
    "matmul, dot, inner": (
        lambda xp, a, z: xp.real(xp.sum(a @ a)) + xp.imag(xp.dot(z[:3], a[0]) + xp.inner(z[:3], z[1:])),
        A,
        Z,
    ),
    "vdot": (lambda xp, z, w: xp.imag(xp.vdot(z, w)) + xp.real(xp.vdot(z, z)), Z, W),
    "vecdot, matvec, vecmat": (
        lambda xp, a, z: xp.imag(xp.vecdot(z, z * 2) + xp.sum(xp.matvec(a, z[:3]) + xp.vecmat(z[:3], a))),
        A,
        Z,
    ),
    "einsum, outer, tensordot": (
        lambda xp, a, b: xp.real(
            xp.einsum("ij,jk->", a, b) + xp.sum(xp.outer(a[0], b[1])) + xp.tensordot(a, b)
        ),
        A,
        B,
    ),
    "solve, inv": (
        lambda xp, a, z: xp.real(xp.sum(xp.linalg.solve(a, z[:3]))) + xp.imag(xp.sum(xp.linalg.inv(a))),
        A,
        Z,
    ),
    "det": (lambda xp, a: xp.real(xp.linalg.det(a)) + xp.abs(xp.linalg.det(a)), A),
    "qr, eigvals, pinv": (
        lambda xp, a: xp.real(
            xp.sum(xp.linalg.qr(a)[1]) + xp.sum(xp.linalg.eigvals(a) ** 2) + xp.sum(xp.linalg.pinv(a))
        ),
        A,
    ),
    "fft, ifft": (
        lambda xp, z: xp.sum(xp.abs(xp.fft.fft(z)) ** 2 * R) + xp.real(xp.sum(xp.fft.ifft(z, 6) * (1 + 3j))),
        Z,
    ),
    "rfft, irfft, hfft": (
        lambda xp, x, z: (
            xp.sum(xp.abs(xp.fft.rfft(x)) * R[:3])
            + xp.sum(xp.fft.irfft(z, 7) * xp.arange(7.0))
            + xp.sum(xp.fft.hfft(z) * xp.arange(6.0))
        ),
        X,
        Z,
    ),
    "fft2 with norm": (lambda xp, a: xp.sum(xp.abs(xp.fft.fft2(a, norm="ortho")) * R[:3]), A),
    "indexing": (
        lambda xp, z: xp.real(xp.sum(z[::2] * z[1::2])) + xp.imag(xp.sum(z[np.array([0, 0, 2])] ** 2)),
        Z,
    ),
    "where, select": (
        lambda xp, z, x: (
            xp.sum(xp.abs(xp.where(x > 0, z * z, x))) + xp.sum(xp.abs(xp.select([x > 0], [z], 1.0)))
        ),
        Z,
        X,
    ),
    "real times complex, broadcast": (
        lambda xp, a, x: xp.imag(xp.sum(a * x[:3, None] ** 2)) + xp.sum(xp.abs(x * (1 + 2j))),
        A,
        X,
    ),
    "concatenate, stack": (
        lambda xp, z, x: xp.sum(xp.abs(xp.concatenate([z, x])) ** 3) + xp.sum(xp.abs(xp.stack([z, x])) ** 3),
        Z,
        X,
    ),
    "sort": (lambda xp, z: xp.real(xp.sum(xp.sort(z) * R)), Z),
    "polyval, convolve, roots": (
        lambda xp, z, w: (
            xp.imag(xp.sum(xp.polyval(z, w)) + xp.sum(xp.convolve(z, w) ** 2))
            + xp.real(xp.sum(xp.roots(z) ** 2))
        ),
        Z,
        W,
    ),
}


@functools.cache  # JAX compiles each op on first use: the two tests share its gradients
def _jax_grad(jax, name):
    f, *args = LOSSES[name]
    return [
        np.asarray(g) for g in jax.grad(lambda *a: f(jax.numpy, *a), argnums=tuple(range(len(args))))(*args)
    ]


@pytest.mark.parametrize("name", list(LOSSES))
def test_grad_and_jvp_match_jax(name, jax64):
    f, *args = LOSSES[name]
    argnums = tuple(range(len(args)))
    expected = _jax_grad(jax64, name)
    for g, e, x in zip(ad.grad(lambda *a: f(np, *a), argnums=argnums)(*args), expected, args):
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-12)
        assert g.dtype == x.dtype
    ts = tuple(
        RNG.standard_normal(x.shape) + (1j * RNG.standard_normal(x.shape) if x.dtype.kind == "c" else 0)
        for x in args
    )
    _, jt = jax64.jvp(lambda *a: f(jax64.numpy, *a), tuple(args), ts)
    np.testing.assert_allclose(
        ad.jvp(lambda *a: f(np, *a), args, ts)[1], np.asarray(jt), rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize("name", list(LOSSES))
def test_backward_leaves_the_conjugate_of_jaxs_gradient(name, jax64):
    f, *args = LOSSES[name]
    leaves = [ad.tensor(x, requires_grad=True) for x in args]
    f(np, *leaves).backward()
    for t, e in zip(leaves, _jax_grad(jax64, name)):
        np.testing.assert_allclose(t.grad.numpy(), np.conj(e), rtol=1e-9, atol=1e-12)


def _torch_style_loss(lib, z, a):
    """One loss through lib's functions: torch's, or NumPy's under torch's names."""
    return (
        lib.sum(lib.abs(z) ** 3)
        + lib.sum(lib.real(lib.conj(z) * z * (1 + 2j)))
        + lib.vector_norm(z)
        + lib.imag(lib.sum(a @ a))
        + lib.abs(lib.det(a))
        + lib.real(lib.sum(lib.inv(a)))
        + lib.imag(lib.vdot(z, z * z))
    )


def test_backward_matches_torch_on_complex_tensors():
    torch = pytest.importorskip("torch")
    numpys = SimpleNamespace(
        sum=np.sum, abs=np.abs, real=np.real, imag=np.imag, conj=np.conj, vdot=np.vdot,
        vector_norm=np.linalg.norm, det=np.linalg.det, inv=np.linalg.inv,
    )  # fmt: skip
    torchs = SimpleNamespace(
        sum=torch.sum, abs=torch.abs, real=torch.real, imag=torch.imag, conj=torch.conj, vdot=torch.vdot,
        vector_norm=torch.linalg.vector_norm, det=torch.linalg.det, inv=torch.linalg.inv,
    )  # fmt: skip
    ours = [ad.tensor(Z, requires_grad=True), ad.tensor(A, requires_grad=True)]
    theirs = [torch.tensor(Z, requires_grad=True), torch.tensor(A, requires_grad=True)]
    _torch_style_loss(numpys, *ours).backward()
    _torch_style_loss(torchs, *theirs).backward()
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-10)
    # a complex output with gradient=v, in PyTorch's convention
    v = _c(4)
    z, tz = ad.tensor(Z, requires_grad=True), torch.tensor(Z, requires_grad=True)
    (z * z * np.conj(z)).backward(gradient=v)
    (tz * tz * tz.conj()).backward(gradient=torch.tensor(v))
    np.testing.assert_allclose(z.grad.numpy(), tz.grad.numpy(), rtol=1e-12)


def test_complex64_stays_complex64_in_every_transform():
    z, v = Z.astype(np.complex64), W.astype(np.complex64)
    loss = lambda z: np.sum(np.abs(z * 1j) ** 2)  # noqa: E731
    assert ad.grad(loss)(z).dtype == np.complex64
    assert ad.hvp(loss, (z,), (v,))[1].dtype == np.complex64
    assert ad.jacfwd(lambda z: z * z, holomorphic=True)(z).dtype == np.complex64
    assert ad.jacrev(lambda z: z * z, holomorphic=True)(z).dtype == np.complex64
    t = ad.tensor(z, requires_grad=True)
    loss(t).backward()
    assert t.grad.numpy().dtype == np.complex64


@pytest.mark.parametrize("mode", ["fwd-rev", "rev-fwd", "rev-rev", "fwd-fwd"])
def test_hvp_of_a_real_function_of_complex_input_matches_jax(mode, jax64):
    def f(xp, z):
        return xp.sum(xp.abs(xp.sin(z)) ** 2 * xp.real(z)) + xp.var(z) + xp.real(xp.vdot(z, z * z))

    _, expected = jax64.jvp(jax64.grad(lambda z: f(jax64.numpy, z)), (Z,), (W,))
    np.testing.assert_allclose(
        ad.hvp(lambda z: f(np, z), (Z,), (W,), mode=mode)[1], np.asarray(expected), rtol=1e-10
    )


def test_the_hessian_of_a_holomorphic_function_matches_jax(jax64):
    def f(xp, z):
        return xp.sum(xp.sin(z) * z)

    expected = jax64.hessian(lambda z: f(jax64.numpy, z), holomorphic=True)(Z)
    np.testing.assert_allclose(ad.hessian(lambda z: f(np, z), holomorphic=True)(Z), np.asarray(expected))
