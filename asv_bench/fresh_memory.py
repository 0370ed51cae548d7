"""What fresh memory costs: two 8 MB outer products held at once, in a loop, on each heap.

    python asv_bench/fresh_memory.py

The shape of the weight gradient of a two-layer MLP at n = 1000: two n x n arrays, made,
held together, dropped, made again. Each heap of measure.HEAPS runs in a child process
started with its environment (glibc reads it at start-up); in each, the products are timed
written into fresh arrays and into two arrays allocated once, by the broadcast multiply and
by BLAS (np.dot of (n, 1) by (1, n)), with the minor page faults per call. The difference
between "fresh" and "reused" is the price of the allocator giving memory back to the system.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

N = 1000


def child() -> dict:
    from benchmarks import workloads as w  # one BLAS thread, as every benchmark here

    np = w.np
    rng = np.random.default_rng(0)
    u, v = rng.standard_normal(N), rng.standard_normal(N)
    a, b = np.empty((N, N)), np.empty((N, N))
    col, row = u[:, None], v[None, :]
    cases = {
        "multiply, fresh": lambda: (col * v, col * v),
        "multiply, reused": lambda: (np.multiply(col, v, out=a), np.multiply(col, v, out=b)),
        "BLAS, fresh": lambda: (np.dot(col, row), np.dot(col, row)),
        "BLAS, reused": lambda: (np.dot(col, row, out=a), np.dot(col, row, out=b)),
    }
    times = w.median_times(list(cases.values()), repeat=21, budget=4.0)
    return {name: [t, w.faults_per_call(fn, 10)] for (name, fn), t in zip(cases.items(), times)}


def main() -> int:
    if sys.argv[1:] == ["--child"]:
        print(json.dumps(child()))
        return 0
    from measure import HEAPS

    base = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    print(
        f"Two {N} x {N} float64 outer products held at once (2 x {N * N * 8 / 2**20:.1f} MiB), one thread\n"
    )
    print("| heap | products | time per pair | page faults per pair |\n|---|---|---|---|")
    for heap, env in HEAPS.items():
        cmd = [sys.executable, __file__, "--child"]
        run = subprocess.run(cmd, env=base | env, capture_output=True, text=True, check=True)
        for name, (t, faults) in json.loads(run.stdout.strip().splitlines()[-1]).items():
            print(f"| {heap} | {name} | {t * 1e6:.0f} µs | {faults:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
