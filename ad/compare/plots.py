"""The report's figures: time against n and against m with the calibrated model and the
arithmetic slopes, the model's seconds against the measured ones, the forward/reverse
ratio predicted and measured, and reverse-mode memory against depth.

matplotlib (the dev extra) is imported only here, and only its Figure class: PNGs are
drawn by the Agg canvas, without pyplot, so the caller's backend and figures are left
alone. Without matplotlib the report has its tables and CSV files and no figures.
"""

from __future__ import annotations

import math
import pathlib

import numpy as np

from ad.compare import model
from ad.compare.runner import Results

MISSING = (
    "plots skipped: matplotlib is not installed "
    "(python -m pip install -e '.[dev]', or python -m pip install matplotlib)"
)


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.subplots()


def _color(i: int):
    import matplotlib

    return matplotlib.colormaps["tab10"](i % 10)


def draw(res: Results, out: pathlib.Path) -> list[str]:
    """Write the figures the results allow into `out`; return their file names."""
    out = pathlib.Path(out)
    written = []
    for axis in ("n", "m"):
        if any(s.axis == axis and s.timing for s in res.sweeps):
            written.append(_save(_scaling(res, axis), out, f"cost_vs_{axis}.png"))
    if any(r.predicted and r.timing for r in res.rows):
        written.append(_save(_model_vs_measured(res), out, "model_vs_measured.png"))
    if any(pr.time_ratio("forward", "reverse") for pr in res.problems):
        written.append(_save(_forward_vs_reverse(res), out, "forward_vs_reverse.png"))
    if res.depths:
        written.append(_save(_memory(res), out, "memory_vs_depth.png"))
    return written


def _save(fig, out: pathlib.Path, name: str) -> str:
    out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out / name, dpi=90)
    return name


def _ticks(ax, values) -> None:
    """Tick the x axis at the measured sizes, written plainly (4, 16, 64, not 4 x 10^0)."""
    from matplotlib.ticker import NullFormatter

    ax.set_xticks(sorted(set(values)))
    ax.set_xticklabels([str(int(v)) for v in sorted(set(values))])
    ax.xaxis.set_minor_formatter(NullFormatter())


def slope(xs, ys, last: int = 3) -> float:
    """Least-squares slope of log y against log x over the last `last` points."""
    lx, ly = np.log(xs[-last:]), np.log(ys[-last:])
    return float(np.polyfit(lx, ly, 1)[0]) if len(lx) > 1 else float("nan")


def _scaling(res: Results, axis: str):
    """Median time against n (m fixed) or m (n fixed), log-log, with the interquartile range;
    the calibrated model's seconds (dotted) and the notes' pure-arithmetic slope (dashed,
    through each mode's largest point); an x where a mode stops applying, and why."""
    fig, ax = _figure(7.6, 5.4)
    here = [s for s in res.sweeps if s.axis == axis]
    pts = [s for s in here if s.timing]
    size = lambda s: s.n if axis == "n" else s.m  # noqa: E731
    fixed = pts[0].m if axis == "n" else pts[0].n
    stops = []
    for i, mode in enumerate(res.modes):
        mine = sorted((s for s in pts if s.mode == mode.name), key=size)
        if not mine:
            continue
        xs = np.array([size(s) for s in mine], float)
        ys = np.array([s.seconds for s in mine])
        lo = ys - np.array([s.timing.quartiles[0] for s in mine])
        hi = np.array([s.timing.quartiles[1] for s in mine]) - ys
        c = _color(i)
        predicted = model.SLOPES[axis].get(mode.family)
        label = f"{mode.name}: slope {slope(xs, ys):.2f}" + (
            f" (arithmetic {predicted:g})" if predicted else ""
        )
        ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o-", color=c, label=label, ms=4, capsize=2)
        if predicted:
            ax.plot(xs, ys[-1] * (xs / xs[-1]) ** predicted, "--", color=c, alpha=0.45, lw=1)
        model_pts = sorted(
            (size(s), s.predicted.seconds) for s in here if s.mode == mode.name and s.predicted
        )
        if model_pts:
            mx, my = np.array(model_pts).T
            ax.plot(mx, my, ":", color=c, lw=1.6, alpha=0.9)
        stopped = sorted((s for s in here if s.mode == mode.name and s.note.startswith("n/a")), key=size)
        if stopped:
            ax.plot(xs[-1], ys[-1], "x", color=c, ms=11, mew=2)
            stops.append(f"{mode.name} stops after {axis} = {xs[-1]:.0f}: {stopped[0].note[5:]}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _ticks(ax, [size(s) for s in pts])
    times = [s.seconds for s in pts]
    ax.set_ylim(min(times) / 3, max(times) * 3)  # the model's lines, not the data, would set it
    other = "m" if axis == "n" else "n"
    ax.set_title(
        f"Jacobian of tanh(A x), {other} = {fixed}: time against {axis}\n"
        "(bars: IQR; dotted: the calibrated model; dashed: arithmetic slope)",
        fontsize=10,
    )
    ax.set_xlabel(f"{axis} ({'inputs' if axis == 'n' else 'outputs'})")
    ax.set_ylabel("median time of the Jacobian [s]")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    if stops:
        fig.text(0.01, 0.005, "x: " + "; ".join(stops), fontsize=6.5, va="bottom", wrap=True)
    return fig


def _model_vs_measured(res: Results):
    """Each timed cell: the calibrated model's seconds against the measured median, one
    color per mode, labelled with its problem; the band is a factor of 2."""
    fig, ax = _figure(7.2, 6.2)
    cells = [r for r in res.rows if r.library == "ad" and r.predicted and r.timing]
    vals = [v for r in cells for v in (r.predicted.seconds, r.seconds)]
    lo, hi = min(vals) / 3, max(vals) * 3
    grid = np.array([lo, hi])
    ax.fill_between(grid, grid / 2, grid * 2, color="tab:green", alpha=0.1, lw=0, label="within 2x")
    ax.plot(grid, grid, "k--", lw=1, label="predicted = measured")
    for i, mode in enumerate(res.modes):
        mine = [r for r in cells if r.mode == mode.name]
        if not mine:
            continue
        ax.plot(
            [r.seconds for r in mine],
            [r.predicted.seconds for r in mine],
            "o",
            color=_color(i),
            label=mode.name,
            alpha=0.85,
        )
        for r in mine:
            ax.annotate(
                r.problem,
                (r.seconds, r.predicted.seconds),
                textcoords="offset points",
                xytext=(4, 2),
                fontsize=6.5,
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    good, total = res.predicted_within(2.0)
    ax.set_xlabel("measured: median time of the Jacobian [s]")
    ax.set_ylabel("model: call + passes x ops x overhead + flops / throughput [s]")
    ax.set_title(
        f"The calibrated model against the measurement\n({good} of {total} cells within 2x)", fontsize=10
    )
    ax.legend(fontsize=7, loc="upper left")
    return fig


def _forward_vs_reverse(res: Results):
    """Each problem: the model's forward/reverse cost ratio (n/m) against the measured time
    ratio, of the one-direction modes (which the model counts) and of the batched ones."""
    fig, ax = _figure(6.4, 5.2)
    series = [
        ("forward / reverse", "o", "tab:blue", ("forward", "reverse")),
        ("batched forward / batched reverse", "s", "tab:orange", ("batched forward", "batched reverse")),
    ]
    pts = {
        label: [(pr.problem.name, pr.prediction.ratio, pr.time_ratio(*pair)) for pr in res.problems]
        for label, _, _, pair in series
    }
    vals = [v for ps in pts.values() for _, a, b in ps if b is not None for v in (a, b)] + [1.0]
    lo, hi = min(vals) / 3, max(vals) * 3
    ax.fill_between([1, hi], 1, hi, color="tab:green", alpha=0.08, lw=0)
    ax.fill_between([lo, 1], lo, 1, color="tab:green", alpha=0.08, lw=0)
    ax.loglog([lo, hi], [lo, hi], "k--", lw=1, label="measured = model")
    for label, marker, color, _ in series:
        ps = [p for p in pts[label] if p[2] is not None]
        if not ps:
            continue
        ax.loglog([p[1] for p in ps], [p[2] for p in ps], marker, color=color, label=label, alpha=0.8)
        for name, predicted, measured in ps:
            ax.annotate(
                name,
                (predicted, measured),
                textcoords="offset points",
                xytext=(5, 3),
                fontsize=7,
                color=color,
            )
    ax.axhline(1, color="grey", lw=0.5)
    ax.axvline(1, color="grey", lw=0.5)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("model: forward cost / reverse cost (n JVPs / m VJPs)")
    ax.set_ylabel("measured: forward time / reverse time")
    ax.set_title("Which mode wins, by how much\n(shaded: model and measurement pick the same mode)")
    ax.legend(fontsize=8, loc="upper left")
    return fig


def _memory(res: Results):
    """Peak memory of one gradient against depth L, per checkpoint strategy, and of one JVP."""
    fig, ax = _figure(7, 4.8)
    growth = {"all": lambda L: L, "sqrt": math.sqrt, "recursive": math.log2, "forward": lambda L: 1.0}
    width = res.depths[0].width
    for i, strategy in enumerate(model.MEMORY_GROWTH):
        mine = sorted((d.depth, d.peak) for d in res.depths if d.strategy == strategy)
        if not mine:
            continue
        Ls, peaks = np.array(mine, dtype=float).T
        c = _color(i)
        label = (
            "forward, one JVP" if strategy == "forward" else f"reverse, checkpoint {strategy!r}"
        ) + f" (model ~ {model.MEMORY_GROWTH[strategy]})"
        ax.loglog(Ls, peaks / 1e6, "o-", color=c, label=label)
        g = np.array([growth[strategy](L) for L in Ls])
        ax.loglog(Ls, peaks[-1] / 1e6 * g / g[-1], "--", color=c, alpha=0.5, lw=1)
    _ticks(ax, [d.depth for d in res.depths])
    ax.set_title(f"Peak memory against depth: L maps tanh(W h) of R^{width}\n(dashed: the model's growth)")
    ax.set_xlabel("depth L (layers)")
    ax.set_ylabel("tracemalloc peak of one pass [MB]")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    return fig
