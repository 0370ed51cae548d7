"""The performance targets' measurements, side by side in one process, as a Markdown table.

    python asv_bench/measure.py                 # everything: ~10 minutes on 2 cores
    python asv_bench/measure.py --quick         # fewer samples: ~5 minutes
    python asv_bench/measure.py --only chain,mlp --out ratios.md

It times the asv suites' own workloads (benchmarks/workloads.py), interleaving the samples
of every library on one problem so that a change of machine load hits them alike, and
prints medians and ratios: a ratio below 1 means ad is faster. Peers that are not
installed appear as "-". Threads: AD_BENCH_THREADS (default 1) for every library, see
benchmarks/__init__.py.
"""

from __future__ import annotations

import argparse
import datetime
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer samples per timing")
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    ap.add_argument("--out", help="also write the Markdown to this file")
    args = ap.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown section(s) {sorted(unknown)}; choose from {SECTIONS}")
    global REPEAT, BUDGET
    REPEAT, BUDGET = (7, 1.0) if args.quick else (21, 4.0)

    load0 = os.getloadavg()
    t0 = time.time()
    parts = [f"# ad against its peers ({datetime.date.today().isoformat()})", ""]
    body = []
    for name in only:
        body += globals()[f"section_{name}"]()
        print(f"[measure] {name} done after {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    parts += machine_notes(load0, os.getloadavg(), time.time() - t0)
    text = "\n".join(parts + body) + "\n"
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text)
    return 0


REPEAT, BUDGET = 21, 4.0


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
    meds = w.median_times(list(live.values()), repeat=REPEAT, budget=BUDGET)
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
    best = min((t[k] for k in ("ad.grad", "ad.Tensor")), default=None)
    r = None if t["torch"] is None else best / t["torch"]
    return (
        [
            "## The eager scalar-chain target: gradient of y = sin(y) * 1.01 + y, x100 (300 ops)",
            "",
        ]
        + table(["", "median", "per op", "/ torch", "/ autograd", "/ jax.jit"], rows)
        + [f"The eager scalar-chain target, eager ad at most 0.3x PyTorch eager: {verdict(r, 0.3)}.", ""]
        + compiled_targets(t)
    )


def compiled_targets(t) -> list[str]:
    found = [t[k] for k in ("ad.compile", "ad.compile(specialize)") if t.get(k) is not None]
    if not found:
        return []
    c = min(found)  # the faster of the interpreted and the specialised replay
    rj = None if t["jax.jit"] is None else c / t["jax.jit"]
    rt = None if t["torch"] is None else c / t["torch"]
    return [
        f"The compiled-tape targets: at most 0.5x jax.jit(grad) {verdict(rj, 0.5)}; "
        f"at most 0.05x PyTorch eager {verdict(rt, 0.05)}.",
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
                r = None if g["torch"] is None else g["ad"] / g["torch"]
                targets.append(f"- n=100, gradient in {wrt}: ad / torch {verdict(r, 0.7)}")
            if n == 1000:
                r = g["ad"] / f["ad"]
                targets.append(f"- n=1000, gradient in {wrt}: grad / function {verdict(r, 3)}")
    return (
        ["## The MLP-gradient targets: gradient of sum(tanh(W2 @ tanh(W1 @ x))), n = h", ""]
        + table(
            ["wrt", "n", "ad", "torch", "autograd", "jax.jit", "ad / torch", "ad / autograd", "ad / jax.jit"],
            grad_rows,
        )
        + ["Gradient over function, each library against its own forward (NumPy, torch no_grad, jit):", ""]
        + table(["wrt", "n", "ad function", "ad grad", "ad", "torch", "autograd", "jax.jit"], ratio_rows)
        + ["Targets (ad within 0.7x of torch at n = 100; a gradient within 3x of f at n = 1000):", ""]
        + targets
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
        rj = None if best("jax") is None else ad_best / best("jax")
        rt = None if best("torch") is None else ad_best / best("torch")
        targets.append(
            f"- {n} x {m}: faster ad mode / faster jax.jit {verdict(rj, 1.5)}; "
            f"/ faster torch.func {verdict(rt, 0.5)}"
        )
    return (
        ["## The full-Jacobian targets: Jacobian of f(x) = tanh(A x), n inputs x m outputs", ""]
        + table(["n x m"] + [c[2] for c in cols], rows)
        + ["Ratios (ad's default chunk of 128 directions per pass; 'best' = the faster mode of each):", ""]
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
