"""The report: the summary and detail tables (Markdown, printed as is), CSV files, and the
report folder that holds them with the plots."""

from __future__ import annotations

import csv
import pathlib

from ad.compare.modes import EXACT_TOL, FD_TOL
from ad.compare.runner import Results, Row

LEGEND = f"""\
- **model: n JVPs vs m VJPs**: the notes' cost model (arithmetic), checked against the
  one-direction modes (**measured**: forward time / reverse time). **plan: passes**:
  ad.functional.plan, ceil(n/k) forward passes vs ceil(m/k) reverse sweeps (ties go to
  forward, which keeps no tape), what ad.jacobian(mode="auto") runs; checked against the
  batched modes.
- **passes**: JVP passes, VJP sweeps (after one recording) or evaluations of f; batched
  modes carry k directions per pass.
- **model cost**: the cost model's arithmetic for the whole Jacobian, relative to the
  cheapest mode (forward n f, reverse m f, finite differences 2n f; docs/cost-model.md).
- **time**: median wall time of the whole Jacobian; **time ratio**: relative to the fastest mode.
- **peak/pass**: tracemalloc peak of one pass: forward, the tangents carried through f;
  reverse, the tape (every value saved for the VJPs) plus the cotangents; finite
  differences, two evaluations of f.
- **rel diff**: max |J - J_ref| / max |J_ref|, where J_ref is the elementwise median of the
  exact modes' Jacobians; a mode disagrees above {EXACT_TOL:g} (exact modes and peers) or
  {FD_TOL:g} (finite differences).
"""


def seconds(s: float | None) -> str:
    if s is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s * 1e9:.3g} ns"


def nbytes(b: int | None) -> str:
    if b is None:
        return "-"
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if b >= scale:
            return f"{b / scale:.3g} {unit}"
    return f"{b} B"


def ratio(r: float | None) -> str:
    if r is None:
        return "-"
    return f"{r:.2g}x" if r < 10 else f"{r:.0f}x"


def _winner(r: float | None) -> str:
    """A forward/reverse time ratio as 'reverse, 12x'."""
    if r is None:
        return "-"
    return f"reverse, {ratio(r)}" if r > 1 else f"forward, {ratio(1 / r)}"


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table padded to line up in a terminal too."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join(
        [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows]
    )


def summary_table(res: Results) -> str:
    """One row per problem: each prediction next to its measurement.

    The notes' model counts arithmetic, n JVPs against m VJPs: it is checked against the
    one-direction modes. The plan counts batched passes, ceil(n/k) against ceil(m/k), and
    picks what ad.jacobian(mode="auto") runs: it is checked against the batched modes.
    """
    rows = []
    for pr in res.problems:
        p, pred, fastest = pr.problem, pr.prediction, pr.fastest()
        single = pr.time_ratio("forward", "reverse")
        batched = pr.time_ratio("batched forward", "batched reverse")
        bad = sum(r.agrees is False for r in pr.rows)
        rows.append(
            [
                p.name,
                str(p.n),
                str(p.m),
                _winner(pred.ratio),
                _winner(single),
                _right(pred.ratio > 1, single),
                f"{pred.plan.mode} ({pred.plan.forward_passes} vs {pred.plan.reverse_passes})",
                _winner(batched),
                _right(pred.plan.mode == "reverse", batched),
                fastest.mode if fastest else "-",
                "yes" if not bad else f"NO ({bad})",
            ]
        )
    headers = [
        "problem",
        "n",
        "m",
        "model: n JVPs vs m VJPs",
        "measured",
        "right",
        "plan: passes",
        "measured batched",
        "right",
        "fastest mode",
        "agree",
    ]
    return markdown_table(headers, rows)


def _right(reverse_predicted: bool, measured: float | None) -> str:
    """Whether the measured forward/reverse time ratio names the predicted winner."""
    return "-" if measured is None else "yes" if reverse_predicted == (measured > 1) else "no"


def _peer_cell(r: Row) -> str:
    if r.seconds is None:
        return "n/a" if r.note.startswith("n/a") else "-"
    return seconds(r.seconds) + ("" if r.agrees else f" (DIFF {r.rel_diff:.1e})")


def detail_table(res: Results) -> str:
    """One row per problem and mode, with the peers' counterparts as extra columns."""
    rows = []
    for pr in res.problems:
        ours = [r for r in pr.rows if r.library == "ad"]
        cheapest = min((r.flops for r in ours if r.flops), default=None)
        fastest = pr.fastest()
        for r in ours:
            cells = [
                pr.problem.name,
                r.mode,
                str(r.passes),
                ratio(r.flops / cheapest) if cheapest else "-",
                seconds(r.seconds),
                ratio(r.seconds / fastest.seconds) if r.seconds and fastest else "-",
                nbytes(r.peak),
                "-" if r.rel_diff is None else f"{r.rel_diff:.1e}",
                "ok"
                if r.agrees
                else ("n/a" if r.agrees is None else "ERROR" if r.rel_diff is None else "DISAGREES"),
            ]
            for lib in res.peers:
                cells.append(next(_peer_cell(q) for q in pr.rows if q.library == lib and q.mode == r.mode))
            rows.append(cells)
    headers = [
        "problem",
        "mode",
        "passes",
        "model cost",
        "time",
        "time ratio",
        "peak/pass",
        "rel diff",
        "check",
    ]
    return markdown_table(headers + list(res.peers), rows)


def header(res: Results) -> str:
    c, mach = res.config, res.machine
    libs = ", ".join(f"{lib} {mach[lib]}" for lib in res.peers)
    lines = [
        f"{len(res.problems)} problems x {len(res.modes)} modes, k = {c.chunk} directions per batched pass"
        + (" (--quick)" if c.quick else ""),
        f"{mach['date']}; {mach['cpu']}; {mach['system']}; Python {mach['python']}, NumPy {mach['numpy']}",
    ]
    if libs or res.peers_missing:
        missing = "; ".join(f"{lib} {why}" for lib, why in res.peers_missing.items())
        lines.append("peers (one thread each): " + "; ".join(s for s in (libs, missing) if s))
    return "\n".join(lines)


def notes(res: Results) -> list[str]:
    """What the table cannot show: errors and peers' missing rules."""
    out = []
    for pr in res.problems:
        for r in pr.rows:
            if r.note and r.note != "-":
                who = r.mode if r.library == "ad" else f"{r.library} {r.mode}"
                out.append(f"{pr.problem.name}, {who}: {r.note}")
    return out


def text(res: Results) -> str:
    """What `python -m ad compare` prints."""
    parts = [header(res), "", summary_table(res), "", detail_table(res)]
    parts += [""] + [f"note: {n}" for n in notes(res)] if notes(res) else []
    fails = res.failures()
    parts += ["", "DISAGREEMENT:" if fails else f"all modes agree ({_tolerances()})."]
    parts += [f"  {f}" for f in fails]
    parts += ["columns: see the end of report.md; the cost model: docs/cost-model.md"]
    return "\n".join(parts) + "\n"


def _tolerances() -> str:
    return f"rel diff <= {EXACT_TOL:g} exact, <= {FD_TOL:g} finite differences"


def write(res: Results, out: pathlib.Path, figures: list[str], command: str) -> list[pathlib.Path]:
    """report.md, table.csv, sweeps.csv and memory.csv in `out`; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    md = [
        "# ad compare: forward against reverse mode",
        "",
        f"`{command}`, {res.seconds:.0f} s.",
        "",
        header(res).replace("\n", "  \n"),
        "",
        "## The model against the measurement",
        "",
        summary_table(res),
        "",
        "## Problems",
        "",
        *[
            f"- **{pr.problem.name}**: {pr.problem.about}; model: {pr.problem.cost.formula}"
            for pr in res.problems
        ],
        "",
        "## Every mode on every problem",
        "",
        detail_table(res),
        "",
        LEGEND,
    ]
    md += ["Not measured:", ""] + [f"- {n}" for n in notes(res)] + [""] if notes(res) else []
    fails = res.failures()
    md += (
        ["**Disagreements:**", ""] + [f"- {f}" for f in fails]
        if fails
        else [f"All modes agree ({_tolerances()})."]
    )
    if figures:
        md += ["", "## Figures", ""] + [f"![{name}]({name})" for name in figures]
    files = [out / "report.md", out / "table.csv"]
    files[0].write_text("\n".join(md) + "\n")
    _csv(files[1], _table_records(res))
    if res.sweeps:
        files.append(out / "sweeps.csv")
        _csv(files[-1], [vars(s) for s in res.sweeps])
    if res.depths:
        files.append(out / "memory.csv")
        _csv(files[-1], [vars(d) for d in res.depths])
    return files


def _table_records(res: Results) -> list[dict]:
    return [
        {
            "problem": r.problem,
            "n": r.n,
            "m": r.m,
            "mode": r.mode,
            "library": r.library,
            "passes": r.passes,
            "model_flops": r.flops,
            "seconds": r.seconds,
            "peak_bytes": r.peak,
            "rel_diff": r.rel_diff,
            "tolerance": r.tol,
            "agrees": r.agrees,
            "note": r.note,
        }
        for pr in res.problems
        for r in pr.rows
    ]


def _csv(path: pathlib.Path, records: list[dict]) -> None:
    with path.open("w", newline="") as fh:
        if records:
            w = csv.DictWriter(fh, fieldnames=list(records[0]))
            w.writeheader()
            w.writerows(records)
