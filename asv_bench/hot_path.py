"""Where one recorded op's time goes on the eager hot path, piece by piece.

    python asv_bench/hot_path.py [--breakdown]

Times each step that `np.sin(t)` and `t * c` take on a 0-d Tensor that requires grad, and
the backward step of each, in isolation (best of several repeats of many calls, so the
figure is each piece's cost, not the machine's noise), and the whole scalar chain
`y = sin(y) * 1.01 + y` (x100) forward and backward next to PyTorch eager when installed.
Prints a Markdown table; docs/hot-path.md quotes it. `--breakdown` adds a second table that
builds one recorded `y * 1.01` up from the engine's own pieces (internals, so it runs on
this version of `ad` only).
"""

from __future__ import annotations

import os
import sys
import time
import timeit

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import ad  # noqa: E402
from ad import registry  # noqa: E402


def best(stmt, number=20000, repeat=7) -> float:
    """Seconds per call: the best of `repeat` runs of `number` calls, in this process's CPU
    time (another process sharing the cores then inflates the figure less than wall time)."""
    return min(timeit.repeat(stmt, number=number, repeat=repeat, timer=time.process_time)) / number


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

    y = chain(ad.tensor(0.3, requires_grad=True))
    sweep = best(lambda: y.backward(retain_graph=True), number=20)
    rows = [
        ("scalar chain, forward and record (300 ops)", best(forward, number=20)),
        ("scalar chain, backward alone, per node (300 nodes)", sweep / 300),
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


def breakdown() -> list[tuple[str, float]]:
    """One recorded `y * 1.01` on a scalar, and its node's backward, built up step by step
    from the engine's own pieces (internals: this table follows the code, not the API)."""
    from ad.reverse import engine
    from ad.reverse import tensor as T
    from ad.reverse.graph import OpNode, Sweep

    mul = registry.get("multiply")
    y = np.sin(ad.tensor(0.3, requires_grad=True))  # a non-leaf over a NumPy scalar
    c = np.sin(ad.tensor(0.3))  # the same, recording nothing
    d = y.data
    node = (y * 1.01).grad_fn
    ct = np.float64(1.0)
    edge = (y.grad_fn, 0)
    leaf = ad.tensor(0.3, requires_grad=True)
    acc = T.edge(leaf)
    fast = T.Tensor._elementwise
    steps = [
        ("the primal as a ufunc call: np.multiply on a NumPy scalar", lambda: np.multiply(d, 1.01)),
        ("the primal as the fast path computes it: Op.scalar, the operator", lambda: mul.scalar(d, 1.01)),
        ("a new Tensor (its fields and version counter)", lambda: T._new(d, 1, [0])),
        (
            "a node by OpNode's constructor (recording sets its fields inline instead)",
            lambda: OpNode(mul, {}, (edge, None), (True, False), [d], [d], [], 0),
        ),
        ("the fast path, recording nothing: checks, primal, Tensor", lambda: fast(mul, (c, 1.01), 1)),
        ("the fast path, recorded: + edges, guards, kept partials, node", lambda: fast(mul, (y, 1.01), 1)),
        ("y * 1.01 from Python: + the operator's entry", lambda: y * 1.01),
        (
            "backward: the node's VJP by its rule (a sweep multiplies by the kept partial)",
            lambda: node.apply([ct], Sweep()),
        ),
        ("backward: accumulation into a leaf's .grad", lambda: acc[0].apply([ct], Sweep())),
        (
            "backward: the engine over that one leaf node (its buffers, the root handed out)",
            lambda: engine.run_backward([acc], [ct], retain_graph=True, sweep=Sweep()),
        ),
    ]
    return [(name, best(f, number=50000)) for name, f in steps]


def main() -> int:
    print("| step | time per call |")
    print("| --- | --- |")
    for name, t in pieces() + whole():
        print(f"| {name} | {t * 1e6:.2f} µs |")
    if "--breakdown" in sys.argv:
        print("\n| one recorded op, built up | time per call |")
        print("| --- | --- |")
        for name, t in breakdown():
            print(f"| {name} | {t * 1e6:.2f} µs |")
    print(
        f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; Python {sys.version.split()[0]}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
