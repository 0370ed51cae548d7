"""Where one recorded op's time goes on the eager hot path, piece by piece.

    python asv_bench/hot_path.py

Times each step that `np.sin(t)` and `t * c` take on a 0-d Tensor that requires grad, and
the backward step of each, in isolation (best of several repeats of many calls, so the
figure is each piece's cost, not the machine's noise), and the whole scalar chain
`y = sin(y) * 1.01 + y` (x100) forward and backward next to PyTorch eager when installed.
Prints a Markdown table; docs/hot-path.md quotes it.
"""

from __future__ import annotations

import os
import sys
import timeit

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import ad  # noqa: E402
from ad import registry  # noqa: E402


def best(stmt, number=20000, repeat=7) -> float:
    """Seconds per call: the best of `repeat` runs of `number` calls."""
    return min(timeit.repeat(stmt, number=number, repeat=repeat)) / number


def chain(y):
    for _ in range(100):
        y = np.sin(y) * 1.01 + y
    return y


def pieces() -> list[tuple[str, float]]:
    x = ad.tensor(0.3, requires_grad=True)
    x0 = np.asarray(0.3)

    class Hop:  # a type whose __array_ufunc__ returns at once: NumPy's protocol cost alone
        def __array_ufunc__(self, *a, **k):
            return None

    hop = Hop()

    def unrecorded():
        with ad.no_grad():
            np.sin(x)

    def context_alone():
        with ad.no_grad():
            pass

    def one_node():
        np.sin(x).backward()

    with_grad = best(lambda: np.sin(x))
    without = best(unrecorded) - best(context_alone)
    both = best(one_node, number=5000)
    return [
        ("NumPy's __array_ufunc__ hop", best(lambda: np.sin(hop))),
        ("registry lookup", best(lambda: registry.lookup(np.sin))),
        ("primal alone: np.sin on a 0-d array", best(lambda: np.sin(x0))),
        ("np.sin(t), not recorded (dispatch, levels, primal, a new Tensor)", without),
        ("np.sin(t), recorded", with_grad),
        ("of which recording (edges, saved values, node)", with_grad - without),
        ("t * 1.01, recorded", best(lambda: x * 1.01)),
        ("backward of that one node (engine, rule, accumulation into .grad)", both - with_grad),
    ]


def whole() -> list[tuple[str, float]]:
    def forward():
        chain(ad.tensor(0.3, requires_grad=True))

    def full():
        chain(ad.tensor(0.3, requires_grad=True)).backward()

    rows = [
        ("scalar chain, forward and record (300 ops)", best(forward, number=20)),
        ("scalar chain, forward and backward", best(full, number=20)),
    ]
    try:
        import torch
    except ImportError:
        return rows
    torch.set_num_threads(1)

    def torch_full():
        y = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
        for _ in range(100):
            y = torch.sin(y) * 1.01 + y
        y.backward()

    rows.append(("PyTorch eager, forward and backward", best(torch_full, number=20)))
    return rows


def main() -> int:
    print("| step | time per call |")
    print("| --- | --- |")
    for name, t in pieces() + whole():
        print(f"| {name} | {t * 1e6:.2f} µs |")
    print(
        f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; Python {sys.version.split()[0]}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
