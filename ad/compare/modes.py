"""The modes compared: ways to compute the full Jacobian (m x n) of f at x.

A `Mode` is a function of (f, x, k) giving the Jacobian, timed, memory-measured and checked
against the others, with k directions per pass when the mode batches. MODES is what the
runner uses by default; a new way to compute Jacobians joins the comparison as one more
Mode here, with no change to the runner, report or plots. The compiled modes replay one
recording of f (`ad.compile`), made on first use and kept, so their times are replays; a
program the compiled tape cannot hold (an op with no compiled rule, or more than
COMPILED_LIMIT scalar instructions, as dense matrix chains produce) is reported as not
applicable.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import ad
from ad.testing import central_difference, complex_step

EXACT_TOL = 1e-10  # two exact methods in float64 (ad's modes, or a peer) on the same point
FD_TOL = 1e-6  # central differences: O(h^2) truncation + O(eps / h) rounding, h = eps^(1/3)
# the fewest directions a default batched pass carries (chunk=None: all of them while the
# seed fits, see ad.transform.default_chunk); the comparison's batched modes use this many
DEFAULT_CHUNK = ad.functional.plan(1, 1).chunk


@dataclass(frozen=True)
class Mode:
    """One way to compute a Jacobian, with the family whose cost the model assigns it."""

    name: str
    family: str  # "forward", "reverse" or "finite differences": which cost of the model applies
    batch: str  # directions per pass: "one", "k" (the chunk), or "all" (one sweep)
    jacobian: Callable[[Callable, np.ndarray, int], np.ndarray]  # (f, x, k) -> J, shape (m, n)
    tol: float = EXACT_TOL

    @property
    def exact(self) -> bool:
        return self.family != "finite differences"

    @property
    def batched(self) -> bool:
        return self.batch != "one"

    @property
    def compiled(self) -> bool:
        """A replay of a compiled tape (one sweep of all directions): it costs per instruction."""
        return self.batch == "all"

    def directions(self, k: int, n: int, m: int) -> int:
        """Directions carried by one pass."""
        return {"one": 1, "k": k, "all": max(n, m, 1)}[self.batch]


def as_matrix(J, n: int) -> np.ndarray:
    """A Jacobian of shape out.shape + (n,) as an (m, n) matrix."""
    return np.reshape(np.asarray(J, dtype=float), (-1, n))


class NotApplicable(Exception):
    """This mode cannot run this problem (reported as n/a, not as a disagreement)."""


COMPILED_LIMIT = 300_000  # scalar instructions: beyond this a tape of scalars is the wrong tool
_recordings: dict[tuple, object] = {}


def _compiled(f, x):
    key = (id(f), x.shape)
    if key not in _recordings:
        try:
            c = ad.compile(f, x)
        except NotImplementedError as e:
            raise NotApplicable(str(e).split(";")[0]) from None
        if c.n_instructions > COMPILED_LIMIT:
            raise NotApplicable(f"{c.n_instructions} scalar instructions (limit {COMPILED_LIMIT})")
        _recordings[key] = (f, c)  # f kept alive, so its id is not reused
    return _recordings[key][1]


def instructions(f, x) -> int:
    """Scalar instructions of the compiled tape of f at x, the one the compiled modes replay."""
    return _compiled(f, x).n_instructions


def _steps(x: np.ndarray) -> np.ndarray:
    # eps^(1/3) balances truncation (h^2) against rounding (eps / h), scaled to each x_i
    return np.cbrt(np.finfo(float).eps) * np.maximum(1.0, np.abs(x))


def finite_differences(f, x, k):
    """Central differences, one column per input entry (x of any shape): 2n evaluations of f."""
    n, h = x.size, _steps(x).ravel()
    steps = np.eye(n).reshape((n, *x.shape))
    return np.stack([central_difference(f, (x,), (e,), hi) for e, hi in zip(steps, h)], axis=-1)


def fd_floor(f, x: np.ndarray, ref: np.ndarray) -> float:
    """What central differences cannot resolve at x, on the scale rel_diff measures: the
    rounding of f's values, eps |f(x)| / h at the smallest step, over max |ref| (over 1 when
    ref is all zero, as rel_diff then measures absolute differences). Where a Jacobian's
    entries are far below f's values over x's (a saturated tanh: derivatives of 1e-11 against
    values of 1), this floor exceeds FD_TOL, and a difference under it says nothing of either
    side."""
    values = np.abs(np.asarray(f(x), dtype=float))
    top = float(np.max(values[np.isfinite(values)], initial=0.0))
    finite = np.abs(ref[np.isfinite(ref)])
    scale = float(np.max(finite, initial=0.0)) or 1.0
    return float(np.finfo(float).eps) * top / float(np.min(_steps(x), initial=1.0)) / scale


def complex_step_jacobian(f, x: np.ndarray) -> np.ndarray | None:
    """J by the complex step, one column per input entry as finite_differences gives them
    (ad.testing.complex_step, Squire and Trapp, 1998): free of cancellation, so right to
    rounding in every entry, however small, for a real-analytic f written in NumPy. None
    where f does not carry complex values through (it raises, or its values come back real,
    whose imaginary part would read as a zero derivative)."""
    n = x.size
    steps = np.eye(n).reshape((n, *x.shape))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NumPy's warning when f casts a complex value to real
        try:
            if not np.iscomplexobj(f(x.astype(complex))):
                return None
            return np.stack([complex_step(f, (x,), (e,), 1e-100) for e in steps], axis=-1)
        except Exception:  # noqa: BLE001 - any failure on complex input: no oracle
            return None


MODES: tuple[Mode, ...] = (
    Mode("forward", "forward", "one", lambda f, x, k: ad.jacfwd(f, chunk=1)(x)),
    Mode("reverse", "reverse", "one", lambda f, x, k: ad.jacrev(f, chunk=1)(x)),
    Mode("batched forward", "forward", "k", lambda f, x, k: ad.jacfwd(f, chunk=k)(x)),
    Mode("batched reverse", "reverse", "k", lambda f, x, k: ad.jacrev(f, chunk=k)(x)),
    Mode("finite differences", "finite differences", "one", finite_differences, FD_TOL),
    Mode("compiled forward", "forward", "all", lambda f, x, k: _compiled(f, x).jacfwd(x)),
    Mode("compiled reverse", "reverse", "all", lambda f, x, k: _compiled(f, x).jacrev(x)),
)
