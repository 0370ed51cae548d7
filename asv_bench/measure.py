"""The performance targets' measurements, side by side in one process, as a Markdown table.

    python asv_bench/measure.py                 # everything: ~10 minutes on 2 cores
    python asv_bench/measure.py --quick         # fewer samples: ~5 minutes
    python asv_bench/measure.py --only chain,mlp --out ratios.md

It times the asv suites' own workloads (benchmarks/workloads.py), interleaving the samples
of every library on one problem so that a change of machine load hits them alike, and
prints medians and ratios: a ratio below 1 means ad is faster. Peers that are not
installed appear as "-". Threads: AD_BENCH_THREADS (default 1) for every library, see
benchmarks/__init__.py.

The weight-gradient target (n = 1000) is measured for each library alone in a fresh child
process, once on the default heap and once on a retained one (HEAPS), because its 8 MB
gradients cost as much in page faults as in arithmetic when the allocator returns freed
memory to the system, and how often glibc does so depends on what else the process holds.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchmarks import workloads as w  # noqa: E402  (sets the thread variables before NumPy)

SECTIONS = ("chain", "mlp", "jacobian", "hvp", "memory")

# The two allocator regimes, as environment variables read by glibc when a process starts.
# "retained": serve blocks up to 64 MiB from the heap (not a fresh mmap each) and never give
# freed heap back, so a loop that allocates the same 8 MB arrays reuses pages it has already
# touched, as a long-running process gets from jemalloc or tcmalloc.
HEAPS = {
    "default": {},
    "retained": {"MALLOC_MMAP_THRESHOLD_": str(64 << 20), "MALLOC_TRIM_THRESHOLD_": str(256 << 20)},
}

# ad / torch at n = 1000, the large-array throughput before the per-op work: the MLP table of
# docs/peers-measured.md measured on 2026-11-29 (commit 57e8730), default heap.
THROUGHPUT_BEFORE = {"x": 0.84, "weights": 0.64}

VERDICTS: list[str] = []  # every target's verdict line, gathered for the summary at the end


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer samples per timing")
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    ap.add_argument("--out", help="also write the Markdown to this file")
    ap.add_argument("--alone", help=argparse.SUPPRESS)  # a child of weight_gradient_alone
    args = ap.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown section(s) {sorted(unknown)}; choose from {SECTIONS}")
    global REPEAT, BUDGET
    REPEAT, BUDGET = (7, 1.0) if args.quick else (21, 4.0)
    if args.alone:
        print(json.dumps(time_weight_gradient(args.alone)))
        return 0

    load0 = os.getloadavg()
    t0 = time.time()
    command = " ".join(["python asv_bench/measure.py", *(sys.argv[1:] if argv is None else argv)])
    parts = [
        f"# ad against its peers ({datetime.date.today().isoformat()})",
        "",
        f"Written by `{command}`: the asv workloads, timed side by side in one process, the "
        "samples of every library interleaved so that a change of machine load hits them alike "
        f"(medians of up to {REPEAT} samples of at least {MIN_SAMPLE * 1e3:.0f} ms). Single readings "
        "move by tens of percent between runs on a shared machine: read the ratios, and the "
        "verdicts near their thresholds, with that in mind. The two heaps of the weight-gradient "
        "target are explained in [benchmarks.md](benchmarks.md#two-heaps-what-fresh-memory-costs).",
        "",
    ]
    body = []
    for name in only:
        body += globals()[f"section_{name}"]()
        if name == "mlp":
            body += weight_gradient_alone(args.quick)
        print(f"[measure] {name} done after {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    parts += machine_notes(load0, os.getloadavg(), time.time() - t0)
    summary = ["## Verdicts", ""] + [f"- {v}" for v in VERDICTS] + [""]
    text = "\n".join(parts + body + summary) + "\n"
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text)
    return 0


def heap_regime() -> str:
    """The allocator regime of this process, from its environment, as the report names it."""
    preload = os.environ.get("LD_PRELOAD", "")
    for lib in ("jemalloc", "tcmalloc", "mimalloc"):
        if lib in preload:
            return f"{lib} (LD_PRELOAD)"
    tuned = {k: v for k, v in os.environ.items() if k.startswith("MALLOC_") and k.endswith("_")}
    for name, env in HEAPS.items():
        if tuned == env:
            return name
    return "glibc tuned by " + ", ".join(f"{k}={v}" for k, v in sorted(tuned.items()))


def time_weight_gradient(lib: str) -> dict:
    """f and its gradient in (W1, W2) at n = 1000, interleaved, and the page faults per gradient."""
    f, g = w.mlp(lib, 1000, "weights")
    t_f, t_g = w.median_times([f, g], repeat=REPEAT, budget=BUDGET, min_sample=MIN_SAMPLE)
    return {"heap": heap_regime(), "f": t_f, "g": t_g, "faults": w.faults_per_call(g)}


def weight_gradient_alone(quick: bool) -> list[str]:
    """The weight-gradient target for each library alone in a fresh process, on each heap."""
    if platform.libc_ver()[0] != "glibc":
        return [f"The weight-gradient target per heap is measured on glibc only; this Python runs on "
                f"{platform.libc_ver()[0] or 'another C library'}.", ""]  # fmt: skip
    base = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    rows, targets, floors = [], [], {}
    for env in HEAPS.values():
        for lib in ("ad", "by hand", *w.PEERS):
            cmd = [sys.executable, str(pathlib.Path(__file__).resolve()), "--alone", lib]
            run = subprocess.run(
                cmd + (["--quick"] if quick else []), env=base | env, capture_output=True, text=True
            )
            if run.returncode:
                if "NotImplementedError" in run.stderr:  # a peer that is not installed
                    continue
                raise RuntimeError(f"measure.py --alone {lib} failed:\n{run.stderr[-2000:]}")
            r = json.loads(run.stdout.strip().splitlines()[-1])
            faults = "-" if r["faults"] is None else f"{r['faults']:.0f}"
            rows.append([r["heap"], lib, fmt_t(r["f"]), fmt_t(r["g"]), ratio(r["g"], r["f"]), faults])
            if lib == "by hand":
                floors[r["heap"]] = r
            if lib == "ad":
                role = "the target's verdict" if r["heap"] == "retained" else "reported beside it"
                name = f"weight gradient at n = 1000, grad / f, {r['heap']} heap ({role})"
                targets.append("- " + target(name, r["g"] / r["f"], 3))
    return (
        [
            "## The weight-gradient target: gradient of sum(tanh(W2 @ tanh(W1 @ x))) in (W1, W2), "
            "n = 1000, each library alone in a fresh process, on each heap",
            "",
        ]
        + table(
            ["heap", "lib", "function", "gradient", "gradient / function", "page faults per gradient"], rows
        )
        + [
            "The default heap is glibc's as a process starts: freed blocks of 8 MB go back to the "
            "system and come back as fresh pages, faulted in one by one. The retained heap keeps them "
            "(see docs/benchmarks.md). Target: the gradient within 3x of f, judged on the retained heap; "
            "the default heap's verdict is printed too.",
            "",
            '"by hand" is no library: the same gradient written out in NumPy with the products ad\'s '
            "rules call (BLAS's matrix-vector products, the streamed outer product of kernels.outer) and "
            "no engine. Its ratio is the floor for this machine in this run: forward, one more "
            "matrix-vector product and two 8 MB matrices written. "
            + " ".join(f"On the {h} heap the floor is {ratio(r['g'], r['f'])} f." for h, r in floors.items()),
            "",
        ]
        + targets
        + [""]
    )


REPEAT, BUDGET = 21, 4.0
# Each sample runs a callable as many times as fill 10 ms (asv's default sample_time): a
# sample of one 2 ms call, as the eager scalar chain's would be otherwise, is one draw of
# the machine's noise (a timer interrupt, another process's burst), and its median moved by
# a factor of two between runs.
MIN_SAMPLE = 10e-3


# --------------------------------------------------------------------------- helpers
def build(factory, *args):
    """factory(*args), or None where the peer is absent or the mode not offered."""
    try:
        return factory(*args)
    except NotImplementedError:
        return None


def timed(fns: dict) -> dict:
    """Medians (seconds) of the callables in fns, samples interleaved; None stays None."""
    live = {k: f for k, f in fns.items() if f is not None}
    meds = w.median_times(list(live.values()), repeat=REPEAT, budget=BUDGET, min_sample=MIN_SAMPLE)
    out = dict.fromkeys(fns)
    out.update(zip(live, meds))
    return out


def fmt_t(t) -> str:
    if t is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if t >= scale:
            return f"{t / scale:.3g} {unit}"
    return f"{t / 1e-9:.3g} ns"


def ratio(a, b) -> str:
    return "-" if a is None or b is None else f"{a / b:.2f}x"


def verdict(value, target) -> str:
    if value is None:
        return "n/a"
    return f"{'met' if value <= target else 'NOT met'} ({value:.2f}x, target ≤ {target}x)"


def target(name: str, value, limit) -> str:
    """One target's verdict line, also kept for the summary at the end of the report."""
    line = f"{name}: {verdict(value, limit)}"
    VERDICTS.append(line)
    return line


def over(a, b):
    return None if a is None or b is None else a / b


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return lines + [""]


def machine_notes(load0, load1, seconds) -> list[str]:
    cpu = platform.processor() or "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        root = HERE.parent
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "ad"], capture_output=True, text=True
        ).stdout.strip()
        commit = f"{commit}{' + uncommitted changes in ad/' if dirty else ''}" if commit else "?"
    except OSError:
        commit = "?"
    import ad

    v = w.versions()
    peers = ", ".join(f"{k} {v[k] or 'absent'}" for k in w.PEERS)
    return [
        "## Machine",
        "",
        f"- {cpu}, {os.cpu_count()} logical CPUs; Python {platform.python_version()}; "
        f"NumPy {v['numpy']}, numba {v['numba']}; {peers}",
        f"- ad from {pathlib.Path(ad.__file__).parent} (commit {commit})",
        f"- the same threads for every library (AD_BENCH_THREADS): {w.THREADS}, "
        f"torch.set_num_threads({w.bench_threads}), XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}; "
        "float64 everywhere (jax_enable_x64)",
        f"- load average {load0[0]:.2f} at start, {load1[0]:.2f} at the end "
        f"({seconds:.0f} s); medians of up to {REPEAT} interleaved samples",
        "- ratios are ad's time over the peer's: below 1 means ad is faster",
        "",
    ]


# --------------------------------------------------------------------------- sections
def section_chain() -> list[str]:
    libs = w.CHAIN_LIBS
    t = timed({lib: build(w.scalar_chain, lib) for lib in libs})
    names = {
        "numpy": "function alone (NumPy on a float)",
        "ad.grad": "ad.grad",
        "ad.Tensor": "ad.tensor + backward()",
        "ad.compile": "ad.compile(f, x).grad (compiled tape)",
        "ad.compile(specialize)": "ad.compile(f, x, specialize=True).grad",
        "torch": "PyTorch eager (0-d tensor)",
        "autograd": "autograd.grad",
        "jax.jit": "jax.jit(jax.grad) on a float",
    }
    rows = [
        [names[lib], fmt_t(t[lib]), fmt_t(t[lib] / (3 * w.CHAIN_OPS)) if t[lib] else "-"]
        + [ratio(t[lib], t[p]) for p in ("torch", "autograd", "jax.jit")]
        for lib in libs
    ]
    best = min(t[k] for k in ("ad.grad", "ad.Tensor"))  # the faster of ad's two eager APIs
    return (
        [
            "## The eager scalar-chain target: gradient of y = sin(y) * 1.01 + y, x100 (300 ops)",
            "",
        ]
        + table(["", "median", "per op", "/ torch", "/ autograd", "/ jax.jit"], rows)
        + [
            "Targets (eager ad, the faster of ad.grad and ad.Tensor):",
            "",
            "- " + target("eager scalar chain, ad / PyTorch eager", over(best, t["torch"]), 0.5),
            "- " + target("eager scalar chain, ad / autograd", over(best, t["autograd"]), 0.25),
            "",
        ]
        + compiled_targets(t)
    )


def compiled_targets(t) -> list[str]:
    found = [t[k] for k in ("ad.compile", "ad.compile(specialize)") if t.get(k) is not None]
    if not found:
        return []
    c = min(found)  # the faster of the interpreted and the specialised replay
    return [
        "Compiled tapes (the faster of the interpreted and the specialised replay):",
        "",
        "- " + target("compiled scalar chain, ad.compile / jax.jit(grad)", over(c, t["jax.jit"]), 0.5),
        "- " + target("compiled scalar chain, ad.compile / PyTorch eager", over(c, t["torch"]), 0.05),
        "",
    ]


def section_mlp() -> list[str]:
    libs = ["ad", "torch", "autograd", "jax"]
    grad_rows, ratio_rows, targets = [], [], []
    for wrt in ("x", "weights"):
        for n in w.MLP_SIZES:
            pairs = {lib: build(w.mlp, lib, n, wrt) for lib in libs}
            fns = {}
            for lib, p in pairs.items():
                fns[(lib, "f")] = p[0] if p else None
                fns[(lib, "g")] = p[1] if p else None
            t = timed(fns)
            g = {lib: t[(lib, "g")] for lib in libs}
            f = {lib: t[(lib, "f")] for lib in libs}
            grad_rows.append(
                [wrt, n]
                + [fmt_t(g[lib]) for lib in libs]
                + [ratio(g["ad"], g[p]) for p in ("torch", "autograd", "jax")]
            )
            ratio_rows.append(
                [wrt, n, fmt_t(f["ad"]), fmt_t(g["ad"])] + [ratio(g[lib], f[lib]) for lib in libs]
            )
            if n == 100:
                name = f"MLP gradient in {wrt} at n = 100, ad / torch"
                targets.append(target(name, over(g["ad"], g["torch"]), 0.7))
            if n == 1000:
                before = THROUGHPUT_BEFORE[wrt]
                name = (
                    f"large-array throughput, gradient in {wrt} at n = 1000, ad / torch (before: {before}x)"
                )
                targets.append(target(name, over(g["ad"], g["torch"]), before))
    return (
        ["## The MLP-gradient targets: gradient of sum(tanh(W2 @ tanh(W1 @ x))), n = h", ""]
        + table(
            ["wrt", "n", "ad", "torch", "autograd", "jax.jit", "ad / torch", "ad / autograd", "ad / jax.jit"],
            grad_rows,
        )
        + ["Gradient over function, each library against its own forward (NumPy, torch no_grad, jit):", ""]
        + table(["wrt", "n", "ad function", "ad grad", "ad", "torch", "autograd", "jax.jit"], ratio_rows)
        + [
            f"Targets (ad within 0.7x of torch at n = 100; at n = 1000, ad / torch no higher than "
            f"before, on the {heap_regime()} heap of this process):",
            "",
        ]
        + [f"- {line}" for line in targets]
        + [""]
    )


def section_jacobian() -> list[str]:
    cols = [
        ("ad", "fwd_batched", "ad.jacfwd"),
        ("ad", "rev_batched", "ad.jacrev"),
        ("jax", "fwd", "jit(jax.jacfwd)"),
        ("jax", "rev", "jit(jax.jacrev)"),
        ("torch", "fwd", "torch.func.jacfwd"),
        ("torch", "rev", "torch.func.jacrev"),
        ("autograd", "fwd", "autograd fwd"),
        ("autograd", "rev", "autograd.jacobian"),
    ]
    rows, ratio_rows, targets = [], [], []
    for n, m in ((10, 1000), (1000, 10), (300, 300)):
        t = timed({(lib, mode): build(w.jacobian, lib, mode, n, m) for lib, mode, _ in cols})
        rows.append([f"{n} x {m}"] + [fmt_t(t[(lib, mode)]) for lib, mode, _ in cols])

        def best(lib, t=t):
            ts = [t[(lib, mo)] for li, mo, _ in cols if li == lib and t[(li, mo)] is not None]
            return min(ts) if ts else None

        ad_best = best("ad")
        ratio_rows.append(
            [
                f"{n} x {m}",
                ratio(t[("ad", "fwd_batched")], t[("jax", "fwd")]),
                ratio(t[("ad", "rev_batched")], t[("jax", "rev")]),
                ratio(t[("ad", "fwd_batched")], t[("torch", "fwd")]),
                ratio(t[("ad", "rev_batched")], t[("torch", "rev")]),
                ratio(ad_best, best("jax")),
                ratio(ad_best, best("torch")),
                ratio(ad_best, best("autograd")),
            ]
        )
        targets.append(
            "- "
            + target(
                f"full Jacobian {n} x {m}, faster ad mode / faster jax.jit", over(ad_best, best("jax")), 1.5
            )
        )
        targets.append(
            "- "
            + target(
                f"full Jacobian {n} x {m}, faster ad mode / faster torch.func",
                over(ad_best, best("torch")),
                0.5,
            )
        )
    return (
        ["## The full-Jacobian targets: Jacobian of f(x) = tanh(A x), n inputs x m outputs", ""]
        + table(["n x m"] + [c[2] for c in cols], rows)
        + ["Ratios (ad's default chunk: all directions in one pass up to 362; 'best' = the faster mode):", ""]
        + table(
            [
                "n x m",
                "jacfwd / jax",
                "jacrev / jax",
                "jacfwd / torch",
                "jacrev / torch",
                "best / best jax",
                "best / best torch",
                "best / best autograd",
            ],
            ratio_rows,
        )
        + ["Targets (the faster ad mode within 1.5x of jax.jit and 0.5x of torch.func):", ""]
        + targets
        + [""]
    )


def section_hvp() -> list[str]:
    libs = ["ad", "jax", "torch", "autograd"]
    rows, rel_rows = [], []
    for n in w.HVP_SIZES:
        t = timed({(lib, mode): build(w.hvp, lib, mode, n) for lib in libs for mode in w.HVP_MODES})
        rows.append([n] + [fmt_t(t[("ad", mode)]) for mode in w.HVP_MODES])
        for lib in libs:
            base = t[(lib, "fwd-rev")]
            if base is None:
                continue
            ranked = sorted((m for m in w.HVP_MODES if t[(lib, m)]), key=lambda m: t[(lib, m)])
            rel_rows.append(
                [lib, n]
                + [ratio(t[(lib, mode)], base) for mode in w.HVP_MODES]
                + [" < ".join(ranked), ratio(t[("ad", "fwd-rev")], base) if lib != "ad" else ""]
            )
    return (
        ["## Hessian-vector product of Rosenbrock in R^n, the four modes", ""]
        + table(["n", *(f"ad {m}" for m in w.HVP_MODES)], rows)
        + [
            "Each mode over the same library's fwd-rev (the notes' ranking: fwd-rev first, "
            "fwd-fwd grows with n); last column ad's fwd-rev over the peer's:",
            "",
        ]
        + table(["lib", "n", *w.HVP_MODES, "fastest first", "ad fwd-rev / peer"], rel_rows)
    )


def section_memory() -> list[str]:
    rows = []
    for L in w.DEPTHS:
        fns = {s: w.tanh_chain_grad("ad", s, L) for s in w.STRATEGIES}
        peaks = {s: w.peak_bytes(fn) / 2**20 for s, fn in fns.items()}
        t = timed(fns)
        for s in w.STRATEGIES:
            rows.append(
                [
                    L,
                    s,
                    f"{peaks[s]:.1f}",
                    f"{peaks[s] / peaks['all']:.2f}x",
                    fmt_t(t[s]),
                    ratio(t[s], t["all"]),
                ]
            )
    return (
        [
            "## Reverse-mode memory against depth, gradient of sum(tanh^L(x)), "
            f"x of {w.WIDTH} float64 ({w.WIDTH * 8 / 2**20:.0f} MiB per value)",
            "",
        ]
        + table(
            ["L", "strategy", "peak MiB (tracemalloc)", "peak / all", "time", "time / all"],
            rows,
        )
        + [
            "Peak is what the gradient allocates above what was live before (x itself not "
            "counted); asv's memory.CheckpointDepth.peakmem_grad has the process RSS.",
            "",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
