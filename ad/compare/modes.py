"""The modes compared: ways to compute the full Jacobian (m x n) of f at x, and one pass of each.

A `Mode` is two functions of (f, x, k): `jacobian`, timed and checked, and `one_pass`, the
unit whose memory is measured (one JVP pass, one recording plus one VJP sweep, or one pair
of evaluations), with k directions when the mode batches. MODES is what the runner uses
by default; a new way to compute Jacobians joins the comparison as one more Mode here, with
no change to the runner, report or plots. The compiled modes replay one recording of f
(`ad.compile`), made on first use and kept, so their times are replays; a program the
compiled tape cannot hold (an op with no compiled rule, or more than COMPILED_LIMIT scalar
instructions, as dense matrix chains produce) is reported as not applicable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import ad
from ad.forward.api import push_tangents
from ad.reverse.api import _pullback, _trace
from ad.testing import central_difference

EXACT_TOL = 1e-10  # two exact methods in float64 (ad's modes, or a peer) on the same point
FD_TOL = 1e-6  # central differences: O(h^2) truncation + O(eps / h) rounding, h = eps^(1/3)


@dataclass(frozen=True)
class Mode:
    """One way to compute a Jacobian, with the family whose cost the model assigns it."""

    name: str
    family: str  # "forward", "reverse" or "finite differences": which cost of the model applies
    batched: bool  # k directions per pass, or one
    jacobian: Callable[[Callable, np.ndarray, int], np.ndarray]  # (f, x, k) -> J, shape (m, n)
    one_pass: Callable[[Callable, np.ndarray, int], object]  # (f, x, k) -> anything
    tol: float = EXACT_TOL

    @property
    def exact(self) -> bool:
        return self.family != "finite differences"

    def directions(self, k: int) -> int:
        return k if self.batched else 1


def as_matrix(J, n: int) -> np.ndarray:
    """A Jacobian of shape out.shape + (n,) as an (m, n) matrix."""
    return np.reshape(np.asarray(J, dtype=float), (-1, n))


def _basis(n: int, k: int) -> np.ndarray:
    """The first k basis vectors of R^n, as rows (without building the n x n identity)."""
    k = min(k, n)
    E = np.zeros((k, n))
    E[np.arange(k), np.arange(k)] = 1.0
    return E


def _jvp_pass(f, x, k):
    """One forward pass with the first k basis tangents (tangents carried on a batch axis)."""
    return push_tangents(f, (x,), (_basis(x.size, k),), batched=True)


def _jvp_one(f, x, k):
    return ad.jvp(f, (x,), (_basis(x.size, 1)[0],))


def _vjp_one(f, x, k):
    out, pull = ad.vjp(f, x)
    return pull(_basis(np.size(out), 1)[0].reshape(np.shape(out)))


def _vjp_pass(f, x, k):
    """Record f once, then one reverse sweep with the first k basis cotangents."""
    level, xs, _, (y,), _ = _trace(f, (x,), "compare")
    ys = np.shape(y._data if hasattr(y, "_data") else y)
    seed = _basis(int(np.prod(ys, dtype=int)), k)
    return _pullback(level, xs, [y], [seed.reshape((len(seed),) + ys)], True, False, len(seed))


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


def _steps(x: np.ndarray) -> np.ndarray:
    # eps^(1/3) balances truncation (h^2) against rounding (eps / h), scaled to each x_i
    return np.cbrt(np.finfo(float).eps) * np.maximum(1.0, np.abs(x))


def finite_differences(f, x, k):
    """Central differences, one column per input: 2n evaluations of f."""
    n, h = x.size, _steps(x)
    return np.stack([central_difference(f, (x,), (e,), hi) for e, hi in zip(np.eye(n), h)], axis=-1)


def _fd_pass(f, x, k):
    return central_difference(f, (x,), (_basis(x.size, 1)[0],), _steps(x)[0])


MODES: tuple[Mode, ...] = (
    Mode("forward", "forward", False, lambda f, x, k: ad.jacfwd(f, chunk=1)(x), _jvp_one),
    Mode("reverse", "reverse", False, lambda f, x, k: ad.jacrev(f, chunk=1)(x), _vjp_one),
    Mode("batched forward", "forward", True, lambda f, x, k: ad.jacfwd(f, chunk=k)(x), _jvp_pass),
    Mode("batched reverse", "reverse", True, lambda f, x, k: ad.jacrev(f, chunk=k)(x), _vjp_pass),
    Mode("finite differences", "finite differences", False, finite_differences, _fd_pass, FD_TOL),
    Mode(
        "compiled forward",
        "forward",
        True,
        lambda f, x, k: _compiled(f, x).jacfwd(x),
        lambda f, x, k: _compiled(f, x).jacfwd(x),
    ),
    Mode(
        "compiled reverse",
        "reverse",
        True,
        lambda f, x, k: _compiled(f, x).jacrev(x),
        lambda f, x, k: _compiled(f, x).jacrev(x),
    ),
)
