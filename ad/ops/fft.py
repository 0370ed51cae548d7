"""The discrete Fourier transforms of numpy.fft: linear maps transposed in JAX's complex convention.

Every transform is a sequence of 1-D steps along axes, as NumPy computes it: each step
crops or zero-pads its axis to n, then applies an n-point transform. For the real pairing
Re sum(p q), the transpose of a C-linear map t -> A t is ct -> A^T ct, and the DFT matrices
are symmetric, so the VJP of fft is fft of the cotangent cut back to the input's length
(ifft likewise), with the same norm. rfft (real in, first n//2 + 1 bins out) is t -> A t on
real t: its VJP is Re(A^T ct), the cotangent zero-padded to n bins, fft'd, real part.
irfft returns Re(B y) with B_jk = c_k w^(jk) scale, w = exp(2 pi i / n), c_k = 2 for the
interior bins 1 <= k <= (n - 1) // 2 (each stands for itself and its mirror image n - k) and
1 for bin 0 and, n even, bin n / 2 (their imaginary parts are dropped): its VJP is
B^T ct = c * ifft(ct)[:n//2 + 1]. fftshift and ifftshift are rolls; fftfreq and rfftfreq are
k / (n d), differentiable in the spacing d.
"""

import operator
import warnings

import numpy as np

from ad import rules
from ad.ops.reductions import along
from ad.registry import composite, linear
from ad.trace import is_complex

_NORMS = {None: "backward", "backward": "backward", "ortho": "ortho", "forward": "forward"}
_SWAPPED = {"backward": "forward", "ortho": "ortho", "forward": "backward"}
_ND = {"fft": np.fft.fftn, "ifft": np.fft.ifftn, "rfft": np.fft.rfftn, "irfft": np.fft.irfftn}


def _norm(norm) -> str:
    if norm not in _NORMS:
        raise ValueError(f'Invalid norm value {norm}; should be "backward", "ortho" or "forward".')
    return _NORMS[norm]


def _no_out(name: str, out):
    if out is not None:
        raise NotImplementedError(f"ad: numpy.fft.{name}(..., out=...) is not supported; assign the result")


def _fit(g, axis: int, m: int):
    """g cropped or zero-padded to length m along a negative axis (the transpose of the other)."""
    n = rules.shape(g)[axis]
    if m <= n:
        return g if m == n else g[along(axis, slice(0, m))]
    widths = [(0, 0)] * rules.ndim(g)
    widths[axis] = (0, m - n)
    return np.pad(g, widths)


# ---------------------------------------------------------------------------------------
# Parses: params {"s": lengths, "axes": negative axes, "norm"} for NumPy's n-d function.


def _default_n(kind: str, m: int) -> int:
    return 2 * (m - 1) if kind == "irfft" else m


def _one_d(kind: str):
    def parse(a, n=None, axis=-1, norm=None, out=None):
        _no_out(kind, out)
        axis = rules.negative_axis(axis, rules.ndim(a))
        n = _default_n(kind, rules.shape(a)[axis]) if n is None else operator.index(n)
        return (a,), {"s": (n,), "axes": (axis,), "norm": _norm(norm)}

    return parse


def _n_d(kind: str, default_axes=None):
    def parse(a, s=None, axes=default_axes, norm=None, out=None):
        _no_out(kind + ("2" if default_axes else "n"), out)
        nd, shape = rules.ndim(a), rules.shape(a)
        if axes is None:
            if s is not None:
                warnings.warn(
                    "`axes` should not be `None` if `s` is not `None` (deprecated in NumPy 2.0): "
                    "pass axes explicitly",
                    DeprecationWarning,
                    stacklevel=4,
                )
            axes = range(-(nd if s is None else len(s)), 0)
        axes = tuple(rules.negative_axis(i, nd) for i in axes)
        if s is None:
            s = [shape[i] for i in axes]
            if kind == "irfft":
                s[-1] = _default_n(kind, shape[axes[-1]])
        elif len(s) != len(axes):
            raise ValueError("Shape and axes have different lengths.")
        else:  # -1 keeps the axis' length; NumPy's deprecated None, the 1-D default
            last = len(s) - 1
            s = [
                shape[i]
                if n == -1
                else _default_n(kind if j == last else "fft", shape[i])
                if n is None
                else n
                for j, (n, i) in enumerate(zip(s, axes))
            ]
        return (a,), {"s": tuple(operator.index(n) for n in s), "axes": axes, "norm": _norm(norm)}

    return parse


# ---------------------------------------------------------------------------------------
# Transposes: NumPy's 1-D steps undone in reverse order.


def _steps(kind: str, shape, s, axes) -> list:
    """The 1-D steps NumPy applies, in order: (kind, n, axis, the axis' length before)."""
    last = len(axes) - 1
    if kind in ("fft", "ifft"):
        order = [(kind, j) for j in reversed(range(len(axes)))]
    elif kind == "rfft":
        order = [("rfft", last)] + [("fft", j) for j in reversed(range(last))]
    else:
        order = [("ifft", j) for j in range(last)] + [("irfft", last)]
    lengths = list(shape)
    steps = []
    for k, j in order:
        n, axis = s[j], axes[j]
        steps.append((k, n, axis, lengths[axis]))
        lengths[axis] = n // 2 + 1 if k == "rfft" else n
    return steps


def _doubling(n: int, axis: int, dtype):
    """c_k along axis: 2 for the bins that stand for a mirror-image pair, else 1."""
    c = np.full(n // 2 + 1, 2.0, dtype=np.finfo(dtype).dtype)
    c[0] = 1.0
    if n % 2 == 0:
        c[-1] = 1.0
    return np.reshape(c, (-1,) + (1,) * (-axis - 1))


def _transpose_of(kind: str):
    def transpose(ct, xs, out, p, batched):
        """VJP: each 1-D step's transpose, in reverse order (see the module's docstring)."""
        g, norm = ct, p["norm"]
        for k, n, axis, m in reversed(_steps(kind, rules.shape(xs[0]), p["s"], p["axes"])):
            if k == "rfft":
                g = np.fft.fft(_fit(g, axis, n), axis=axis, norm=norm)
            elif k == "irfft":
                g = np.fft.ifft(g, axis=axis, norm=norm)
                g = _fit(g, axis, n // 2 + 1) * _doubling(n, axis, rules.tangent_dtype(g))
            else:
                g = getattr(np.fft, k)(g, axis=axis, norm=norm)
            g = _fit(g, axis, m)
        # irfft's output is real: the engines take no real part for a real input of it
        return (np.real(g) if kind == "irfft" and not is_complex(xs[0]) else g,)

    return transpose


def _nd(kind: str):
    f = _ND[kind]
    return lambda a, s, axes, norm: f(a, s=s, axes=axes, norm=norm)


# ---------------------------------------------------------------------------------------
# Composites: the Hermitian transforms and the shifts.


def _hfft(a, n=None, axis=-1, norm=None, out=None):
    """irfft of conj(a) with the opposite norm: the FFT of a signal whose spectrum is Hermitian."""
    _no_out("hfft", out)
    return np.fft.irfft(np.conjugate(a), n, axis, norm=_SWAPPED[_norm(norm)])


def _ihfft(a, n=None, axis=-1, norm=None, out=None):
    """conj(rfft(a)) with the opposite norm: hfft's inverse, of real input."""
    _no_out("ihfft", out)
    return np.conjugate(np.fft.rfft(a, n, axis, norm=_SWAPPED[_norm(norm)]))


def _shift(sign: int):
    def shift(x, axes=None):
        nd, shape = rules.ndim(x), rules.shape(x)
        axes = tuple(range(nd)) if axes is None else (axes,) if np.ndim(axes) == 0 else tuple(axes)
        return np.roll(x, tuple(sign * (shape[i] // 2) for i in axes), axes)

    return shift


def _frequencies(positive_only: bool):
    def frequencies(n, d=1.0, device=None):
        """k / (n d) for the integer frequencies k of an n-point transform (rfft's: k >= 0)."""
        n = operator.index(n)
        if positive_only:
            k = np.arange(n // 2 + 1, device=device)
        else:
            k = np.concatenate([np.arange((n - 1) // 2 + 1, device=device), np.arange(-(n // 2), 0)])
        # NumPy multiplies k by 1 / (n d): the same values to rounding, but where 1 / (n d)
        # overflows, 0 * inf would make the k = 0 entry's derivative NaN in forward mode alone
        return k / (n * d)

    return frequencies


# -- examples: real operands (test_complex makes them complex where the op takes it) --------

_SHAPES_1D = [((6,), {}), ((5,), {"n": 8}), ((3, 7), {"n": 4, "axis": 0}), ((2, 5), {"norm": "ortho"}),
              ((4, 3), {"axis": 0, "norm": "forward"}), ((1,), {})]  # fmt: skip
_SHAPES_ND = [((3, 4), {}), ((2, 3, 4), {"axes": (0, 2)}), ((3, 5), {"s": (4, 6), "axes": (0, 1)}),
              ((4, 5), {"s": (3, 3), "axes": (1, 0), "norm": "ortho"}), ((2, 3, 2), {"norm": "forward"}),
              ((4, 3), {"s": (-1, 5), "axes": (0, 1)})]  # fmt: skip
_SHAPES_2D = [((3, 4), {}), ((2, 3, 5), {"norm": "ortho"}), ((4, 6), {"s": (5, 4)}),
              ((3, 4, 2), {"axes": (0, 2), "norm": "forward"})]  # fmt: skip
_IRFFT_1D = [((4,), {}), ((4,), {"n": 7}), ((5,), {"n": 5}), ((3, 6), {"n": 4, "axis": 0}),
             ((2, 4), {"norm": "ortho"}), ((4, 3), {"axis": 0, "n": 6, "norm": "forward"}),
             ((1,), {"n": 1})]  # fmt: skip
_IRFFT_ND = [((3, 4), {}), ((2, 3, 4), {"axes": (0, 2)}), ((3, 4), {"s": (4, 5), "axes": (0, 1)}),
             ((4, 5), {"s": (3, 4), "axes": (1, 0), "norm": "ortho"}),
             ((2, 3, 3), {"norm": "forward"})]  # fmt: skip
_SHIFTS = [((5,), {}), ((4, 3), {}), ((4, 5), {"axes": 1}), ((2, 3, 4), {"axes": (0, 2)})]


def _examples(shapes, parse=None):
    """Real operands of the given shapes; parsed for a linear op, as called for a composite."""

    def examples(rng):
        calls = [((rng.uniform(-2, 2, shape),), kw) for shape, kw in shapes]
        return calls if parse is None else [parse(*args, **kw) for args, kw in calls]

    return examples


_C_LINEAR = "C-linear; VJP: {} of the cotangent (the DFT matrix is symmetric), cut back to the input's shape"
_R2C = "real input; VJP Re fft of the cotangent zero-padded to n bins, cut back to the input's shape"
_C2R = ("real output Re(B y); VJP c * ifft(ct)[:n//2+1], c = 2 on the bins that stand for a mirror "
        "pair, 1 on bin 0 and bin n/2 (whose imaginary parts irfft drops)")  # fmt: skip
for _kind, _shapes, _complex, _doc in (
    ("fft", (_SHAPES_1D, _SHAPES_2D, _SHAPES_ND), True, _C_LINEAR.format("fft")),
    ("ifft", (_SHAPES_1D, _SHAPES_2D, _SHAPES_ND), True, _C_LINEAR.format("ifft")),
    ("rfft", (_SHAPES_1D, _SHAPES_2D, _SHAPES_ND), False, _R2C),
    ("irfft", (_IRFFT_1D, _SHAPES_2D, _IRFFT_ND), True, _C2R),
):
    for _name, _parse, _calls in zip(
        (_kind, _kind + "2", _kind + "n"), (_one_d(_kind), _n_d(_kind, (-2, -1)), _n_d(_kind)), _shapes
    ):
        linear(_name, getattr(np.fft, _name), _transpose_of(_kind), impl=_nd(_kind), batched_impl=_nd(_kind),
               parse=_parse, examples=_examples(_calls, _parse), analytic=False, complex=_complex,
               doc=_doc)  # fmt: skip


def _spacings(rng):
    return [((5, rng.uniform(0.3, 2.0)), {}), ((6, 0.1), {}), ((1, rng.uniform(0.3, 2.0)), {})]


# fmt: off
composite("hfft", np.fft.hfft, _hfft, examples=_examples(_IRFFT_1D), analytic=False, complex=True,
          doc="irfft(conj(a)) with the opposite norm")
composite("ihfft", np.fft.ihfft, _ihfft, examples=_examples(_SHAPES_1D), analytic=False,
          doc="conj(rfft(a)) with the opposite norm; real input")
composite("fftshift", np.fft.fftshift, _shift(1), examples=_examples(_SHIFTS), complex=True,
          doc="roll by n // 2 along each axis")
composite("ifftshift", np.fft.ifftshift, _shift(-1), examples=_examples(_SHIFTS), complex=True,
          doc="roll by -(n // 2) along each axis")
# NumPy's fftfreq and rfftfreq do not dispatch through __array_function__: on a traced d they
# compute k * (1 / (n d)) with arithmetic on d, which does. These ops state the rule for the
# registry's checks (and for dispatch, should NumPy come to dispatch them).
composite("fftfreq", np.fft.fftfreq, _frequencies(False), examples=_spacings, complex=True,
          doc="k / (n d), k = 0, 1, ..., -2, -1: differentiable in d")
composite("rfftfreq", np.fft.rfftfreq, _frequencies(True), examples=_spacings, complex=True,
          doc="k / (n d), k = 0, ..., n // 2: differentiable in d")
# fmt: on
