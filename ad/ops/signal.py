"""Discrete convolution and correlation of 1-D sequences: convolve (bilinear), correlate (composite).

Every mode is a window of the full convolution y_k = sum_j a_{k-j} v_j (length N + M - 1):
'full' all of it, 'same' max(N, M) entries from (min(N, M) - 1) // 2, 'valid' the
max(N, M) - min(N, M) + 1 entries from min(N, M) - 1. The transpose of that window pads the
cotangent back with zeros (gfull); the VJP in a is then sum_l gfull_{i+l} v_l, a 'valid'
convolution of gfull with v reversed, and the same with a in v's place.
"""

import numpy as np

from ad.registry import bilinear, composite
from ad.rules import ndim, shape
from ad.trace import is_complex

MODES = ("full", "same", "valid")


def _window(n: int, m: int, mode: str) -> tuple[int, int]:
    """(start, stop) of mode's output in the full convolution of lengths n and m."""
    short, long = min(n, m), max(n, m)
    if mode == "full":
        return 0, n + m - 1
    if mode == "same":
        return (short - 1) // 2, (short - 1) // 2 + long
    return short - 1, long


def _mode(mode) -> str:
    """NumPy's mode names, and its old integer codes 0, 1, 2 (valid, same, full)."""
    mode = {0: "valid", 1: "same", 2: "full"}.get(mode, mode) if not isinstance(mode, str) else mode
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    return mode


def _sequences(name, a, v):
    if ndim(a) != 1 or ndim(v) != 1:
        raise ValueError(f"numpy.{name}: a and v must be 1-D; got shapes {shape(a)} and {shape(v)}")
    if not shape(a)[0] or not shape(v)[0]:
        raise ValueError(f"numpy.{name}: a and v cannot be empty")


def _convolve_parse(a, v, mode="full"):
    _sequences("convolve", a, v)
    return (a, v), {"mode": _mode(mode)}


def _sliding(x, w, rows):
    """sum_l x[..., m + l] w_l for each m in rows: a gather of windows, then one product.

    The batched form of a convolution (np.convolve takes 1-D operands only): O(k len(rows)
    len(w)) time and memory, what k separate convolutions cost."""
    return x[..., rows[:, None] + np.arange(shape(w)[0])] @ w


def _convolve_batched(a, v, which, mode):
    """convolve(a, v, mode) with k directions on operand `which`: the batched one's windows
    (padded by the other's length - 1) against the other reversed (convolution commutes)."""
    t, w = (a, v) if which == 0 else (v, a)
    n, m = shape(t)[-1], shape(w)[0]
    start, stop = _window(n, m, mode)
    padded = np.pad(t, ((0, 0), (m - 1, m - 1)))
    return _sliding(padded, w[::-1], np.arange(start, stop))


def _convolve_transpose(g, xs, out, p, batched, needs):
    """VJP of convolve in a: sum_l gfull_{i+l} v_l; in v: sum_l gfull_{j+l} a_l (g padded: gfull)."""
    a, v = xs
    n, m = shape(a)[0], shape(v)[0]
    start, stop = _window(n, m, p["mode"])
    gfull = np.pad(g, ((0, 0),) * batched + ((start, n + m - 1 - stop),))

    def valid(w, size):
        if batched:
            return _sliding(gfull, w, np.arange(size))
        return np.convolve(gfull, w[::-1], "valid")

    return (valid(v, n) if needs[0] else None), (valid(a, m) if needs[1] else None)


def correlate(a, v, mode="valid"):
    """c_k = sum_n a_{n+k} conj(v_n): the convolution of a with conj(v) reversed, windowed as NumPy does.

    NumPy computes it with the shorter operand slid along the longer; for 'same' with a
    shorter than v, that centres the window on the other side of the full output."""
    _sequences("correlate", a, v)
    mode, n, m = _mode(mode), shape(a)[0], shape(v)[0]
    w = (np.conjugate(v) if is_complex(v) else v)[::-1]
    if mode == "same" and n < m:
        start = n // 2
        return np.convolve(a, w, "full")[start : start + m]
    return np.convolve(a, w, mode)


# -- examples: the call as NumPy takes it ---------------------------------------------------

_CALLS = [(5, 3, "full"), (3, 5, "full"), (6, 4, "same"), (4, 7, "same"), (5, 5, "same"),
          (7, 3, "valid"), (2, 6, "valid"), (1, 4, "same"), (4, 1, "full")]  # fmt: skip


def _convolve_examples(rng):
    return [_convolve_parse(rng.uniform(-2, 2, n), rng.uniform(-2, 2, m), mode) for n, m, mode in _CALLS]


def _correlate_examples(rng):
    return [((rng.uniform(-2, 2, n), rng.uniform(-2, 2, m)), {"mode": mode}) for n, m, mode in _CALLS]


CONVOLVE = bilinear(
    "convolve",
    np.convolve,
    _convolve_transpose,
    batched_impl=_convolve_batched,
    parse=_convolve_parse,
    examples=_convolve_examples,
    complex=True,
    doc="modes full, same, valid; JVP convolve(ta, v) + convolve(a, tv); VJP: 'valid' convolutions "
    "of the zero-padded cotangent with the other operand reversed",
)
composite(
    "correlate",
    np.correlate,
    correlate,
    examples=_correlate_examples,
    complex=True,
    analytic=False,  # conj(v): not holomorphic in v
    doc="convolve(a, conj(v)[::-1]) in NumPy's window for each mode",
)
