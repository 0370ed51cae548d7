"""The report: the environment, the summary and detail tables (Markdown, printed as is), the
advice for one function, CSV files, and the report folder that holds them with the plots."""

from __future__ import annotations

import csv
import pathlib

from ad.compare import environment, sparse
from ad.compare.modes import EXACT_TOL, FD_TOL
from ad.compare.runner import ProblemResult, Results, Row, settled

LEGEND = f"""\
- **model: n JVPs vs m VJPs**: the notes' cost model (arithmetic), checked against the
  one-direction modes (**measured**: forward time / reverse time). **plan**: what
  ad.jacobian(mode="auto", chunk=k) runs, from ad.functional.plan, which compares n with m
  (ties go to forward, which keeps no tape; the mode is the same for every k), with the
  passes that implies, ceil(n/k) forward against ceil(m/k) reverse; checked against the
  batched modes (**measured batched**), which run k directions per pass.
  **right** is "noisy" when the two timings it compares are not both stable and their
  samples overlap: the measurement cannot tell.
- **passes**: JVP passes, VJP sweeps (after one recording) or evaluations of f; batched
  modes carry k directions per pass, the compiled modes all of them in one sweep.
- **model cost**: the notes' arithmetic for the whole Jacobian, relative to the cheapest
  mode (forward n f, reverse m f, finite differences 2n f; docs/cost-model.md).
- **time**: median wall time of the whole Jacobian, ± half the interquartile range of the
  samples, relative to the median; **stable**: "NOISY" when that range stayed above the
  stated fraction of the median after the cell was timed again. **time ratio**: relative
  to the fastest mode.
- **predicted**: the calibrated model, call + passes x ops x overhead + flops / throughput
  (ops: a compiled tape's instructions; flops: multiply-adds), and which part is larger
  (overhead or arithmetic); **pred/meas**: predicted over measured.
- **peak**: tracemalloc peak of one whole Jacobian (the m x n result included): forward,
  the tangents carried through f; reverse, the tape (every value saved for the VJPs)
  plus the cotangents; finite differences, two evaluations of f.
- **rel diff**: max |J - J_ref| / max |J_ref|, where J_ref is the elementwise median of the
  exact modes' Jacobians; a mode disagrees above {EXACT_TOL:g} (exact modes and peers) or
  {FD_TOL:g} (finite differences). **check** "unresolved": finite differences differ by more
  than {FD_TOL:g}, but by less than ten times what they can resolve at this point (the
  rounding of f's values, eps |f(x)| / h, against the Jacobian's largest entry): where the
  derivatives are far below f's values over x's, their check says nothing, and only the
  exact modes decide. An exact mode is "unresolved" when it differs from the consensus by
  less than ten times the consensus's own distance from the complex step (the Jacobian to
  rounding, where f takes complex values): the modes then differ by rounding, not by a rule.
"""


def seconds(s: float | None) -> str:
    if s is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s * 1e9:.3g} ns"


def timed(r) -> str:
    """'1.23 ms ±2%': the median and half the IQR relative to it."""
    if r.timing is None:
        return "-"
    return f"{seconds(r.timing.median)} ±{50 * r.timing.spread:.0f}%"


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


def _factor(r: float) -> str:
    """A ratio of times for a sentence: '1.03x', '2.5x', '12x' (never '1x' for 1.03)."""
    return f"{r:.3g}x" if r < 10 else f"{r:.0f}x"


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


def verdict(pr: ProblemResult, forward: str, reverse: str, reverse_predicted: bool) -> str:
    """Whether the measured faster of two modes is the predicted one: yes, no, noisy, or -."""
    a, b = pr.row(forward), pr.row(reverse)
    if a is None or b is None:
        return "-"
    if not settled(a, b):
        return "noisy"
    return "yes" if reverse_predicted == (a.seconds > b.seconds) else "no"


def fastest(pr: ProblemResult) -> str:
    """The fastest mode, marked noisy when its lead over the next rests on noise."""
    ranked = pr.timed()
    if not ranked:
        return "-"
    if len(ranked) > 1 and not settled(ranked[0], ranked[1]):
        return f"{ranked[0].mode} (noisy)"
    return ranked[0].mode


def summary_table(res: Results) -> str:
    """One row per problem: each prediction next to its measurement.

    The notes' model counts arithmetic, n JVPs against m VJPs: it is checked against the
    one-direction modes. The plan compares n with m too, and picks what
    ad.jacobian(mode="auto") runs: it is checked against the batched modes.
    """
    rows = []
    for pr in res.problems:
        p, pred = pr.problem, pr.prediction
        bad = sum(r.agrees is False for r in pr.rows)
        rows.append(
            [
                p.name,
                str(p.n),
                str(p.m),
                _winner(pred.ratio),
                _winner(pr.time_ratio("forward", "reverse")),
                verdict(pr, "forward", "reverse", pred.ratio > 1),
                f"{pred.plan.mode} ({pred.plan.forward_passes} vs {pred.plan.reverse_passes} passes)",
                _winner(pr.time_ratio("batched forward", "batched reverse")),
                verdict(pr, "batched forward", "batched reverse", pred.plan.mode == "reverse"),
                fastest(pr),
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
        "plan (n vs m)",
        "measured batched",
        "right",
        "fastest mode",
        "agree",
    ]
    return markdown_table(headers, rows)


def _peer_cell(r: Row) -> str:
    if r.timing is None:
        return "n/a" if r.note.startswith("n/a") else "-"
    flag = "" if r.stable else " NOISY"
    return timed(r) + flag + ("" if r.agrees else f" (DIFF {r.rel_diff:.1e})")


def _check(r: Row) -> str:
    if r.agrees:
        return "ok"
    if r.unresolved:
        return "unresolved"
    return "n/a" if r.agrees is None else "ERROR" if r.rel_diff is None else "DISAGREES"


def detail_table(res: Results) -> str:
    """One row per problem and mode, with the peers' counterparts as extra columns."""
    rows = []
    for pr in res.problems:
        ours = [r for r in pr.rows if r.library == "ad"]
        cheapest = min((r.flops for r in ours if r.flops), default=None)
        best = pr.fastest()
        for r in ours:
            cells = [
                pr.problem.name,
                r.mode,
                str(r.passes),
                ratio(r.flops / cheapest) if cheapest else "-",
                timed(r),
                "-" if r.stable is None else "yes" if r.stable else "NOISY",
                "-" if r.predicted is None else f"{seconds(r.predicted.seconds)} ({r.predicted.bound})",
                f"{r.predicted.seconds / r.seconds:.2g}" if r.predicted and r.timing else "-",
                ratio(r.seconds / best.seconds) if r.timing and best else "-",
                nbytes(r.peak),
                "-" if r.rel_diff is None else f"{r.rel_diff:.1e}",
                _check(r),
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
        "stable",
        "predicted",
        "pred/meas",
        "time ratio",
        "peak",
        "rel diff",
        "check",
    ]
    return markdown_table(headers + list(res.peers), rows)


def calibration_table(res: Results) -> str:
    cal = res.calibration
    rows = [
        [
            mode.name,
            f"{cal.per_call.get(mode.name, 0.0) * 1e6:.3g} us",
            f"{cal.overhead[mode.name] * 1e6:.3g} us" + (" per instruction" if mode.compiled else ""),
            f"{cal.throughput[mode.name] / 1e9:.3g} G multiply-adds/s"
            + (f" ({cal.in_cache[mode.name] / 1e9:.3g} in cache)" if mode.name in cal.in_cache else ""),
        ]
        for mode in res.modes
        if cal.covers(mode.name)
    ]
    headers = ["mode", "per call", "overhead per op of a pass", "throughput of its arithmetic"]
    return markdown_table(headers, rows)


def header(res: Results) -> str:
    c, mach, pol = res.config, res.machine, res.config.policy
    lines = [
        f"{len(res.problems)} problem(s) x {len(res.modes)} modes, k = {c.chunk} directions per batched pass"
        + (" (--quick)" if c.quick else ""),
        f"{mach['date']}; {mach['cpu']}, {mach['cores']} logical cores; {mach['system']}",
        f"Python {mach['python']}, NumPy {mach['numpy']}, numba {mach['numba']}, SciPy {mach['scipy']}",
        f"threads: {mach['threads']} for ad and every peer (BLAS: {mach['blas']}"
        + (f"; XLA: {mach['xla']}" if "xla" in mach else "")
        + ")",
        _load_line(res),
        f"timing: median of {pol.repeats} samples of at least {seconds(pol.min_sample)} each "
        f"(calls grouped), after a warm-up; a cell whose IQR exceeds {pol.noise:.0%} of its median "
        f"is timed again (at most {pol.retries} more time(s)), then marked NOISY",
    ]
    libs = ", ".join(f"{lib} {mach[lib]}" for lib in res.peers)
    if libs or res.peers_missing:
        missing = "; ".join(f"{lib} {why}" for lib, why in res.peers_missing.items())
        lines.append("peers: " + "; ".join(s for s in (libs, missing) if s))
    warning = _busy(res)
    if warning:
        lines.append(f"WARNING: {warning}")
    return "\n".join(lines)


def _load_line(res: Results) -> str:
    start, end = res.load
    fmt = lambda v: "?" if v is None else f"{v:.2f}"  # noqa: E731
    return f"load average (1 min): {fmt(start)} at the start, {fmt(end)} at the end"


def _busy(res: Results) -> str:
    return environment.busy(*res.load, int(res.machine.get("cores") or 1), res.config.threads)


def model_line(res: Results) -> str:
    good, total = res.predicted_within(2.0)
    return f"The calibrated model predicts {good} of {total} timed cells within 2x of the measured median."


def notes(res: Results) -> list[str]:
    """What the table cannot show: errors and peers' missing rules."""
    out = []
    for pr in res.problems:
        for r in pr.rows:
            if r.note and r.note != "-":
                who = r.mode if r.library == "ad" else f"{r.library} {r.mode}"
                out.append(f"{pr.problem.name}, {who}: {r.note}")
    return out


def advice(pr: ProblemResult) -> str:
    """Which mode to use for this f, and why, from the measurements and the plan."""
    exact = [r for r in pr.timed() if r.agrees and r.tol == EXACT_TOL]
    if not exact:
        return "No exact mode gave a Jacobian that the others agree with: see the notes below."
    best, plan = exact[0], pr.prediction.plan
    auto = pr.row(f"batched {plan.mode}")
    text = [f"Use **{best.mode}**: the fastest exact mode, {timed(best)}"]
    if len(exact) > 1:
        text[-1] += f", {_factor(exact[1].seconds / best.seconds)} faster than {exact[1].mode}"
        if not settled(best, exact[1]):
            text[-1] += " (noisy: the two overlap; rerun on a quiet machine to settle it)"
    text[-1] += "."
    if auto is not None:
        same = "the same" if auto.mode == best.mode else f"{_factor(auto.seconds / best.seconds)} slower"
        text.append(
            f'ad.jacobian(mode="auto") runs batched {plan.mode} (with chunk={plan.chunk}, as measured '
            f"here: {plan.reason}): {same}."
        )
    if best.predicted:
        bound = best.predicted.bound
        work = f"{best.ops} instructions" if best.compiled else f"{best.ops} ops"
        text.append(
            f"The model predicts {seconds(best.predicted.seconds)}, {bound}-bound"
            f" ({best.passes} pass(es) of {work})"
            + (
                ": ad.compile's replay removes per-op overhead where f's ops are small."
                if bound == "overhead" and not best.compiled
                else "."
            )
        )
    leanest = min((r for r in exact if r.peak is not None), key=lambda r: r.peak, default=None)
    if leanest is not None and best.peak is not None and leanest is not best:
        text.append(f"Least memory: {leanest.mode} ({nbytes(leanest.peak)} against {nbytes(best.peak)}).")
    return " ".join(text)


def _tolerances() -> str:
    return f"rel diff <= {EXACT_TOL:g} exact, <= {FD_TOL:g} finite differences"


def _user_problems(res: Results) -> list[ProblemResult]:
    return [pr for pr in res.problems if pr.problem.yours]


def _but(unresolved: list[str]) -> str:
    return f", but for {len(unresolved)} unresolved" if unresolved else ""


def text(res: Results) -> str:
    """What `python -m ad compare` prints."""
    parts = [header(res), "", summary_table(res), "", detail_table(res), "", model_line(res)]
    parts += [f"advice for {pr.problem.name}: {advice(pr)}" for pr in _user_problems(res)]
    noisy = res.noisy()
    if noisy:
        parts += [f"noisy cells ({len(noisy)}): " + "; ".join(noisy)]
    parts += [""] + [f"note: {n}" for n in notes(res)] if notes(res) else []
    fails, unresolved = res.failures(), res.unresolved()
    parts += ["", "DISAGREEMENT:" if fails else f"all modes agree ({_tolerances()}){_but(unresolved)}."]
    parts += [f"  {f}" for f in fails]
    parts += [f"unresolved: {u}" for u in unresolved]
    parts += ["columns: see the end of report.md; the cost model: docs/cost-model.md"]
    return "\n".join(parts) + "\n"


def markdown(res: Results, figures: list[str] = (), command: str = "") -> str:
    """report.md."""
    md = ["# ad compare: forward against reverse mode", ""]
    if command:
        md += [f"`{command}`, {res.seconds:.0f} s.", ""]
    md += [header(res).replace("\n", "  \n"), ""]
    for pr in _user_problems(res):
        md += [f"## Which mode for {pr.problem.name}", "", advice(pr), ""]
    md += ["## The model against the measurement", "", summary_table(res), "", model_line(res), ""]
    md += ["## Problems", ""]
    md += [
        f"- **{pr.problem.name}**: {pr.problem.about}; model: {pr.problem.cost.formula}"
        for pr in res.problems
    ]
    md += ["", "## Every mode on every problem", "", detail_table(res), "", LEGEND]
    noisy = res.noisy()
    if noisy:
        md += [f"Noisy cells ({len(noisy)}), whose verdicts say so:", ""] + [f"- {c}" for c in noisy] + [""]
    md += ["Not measured:", ""] + [f"- {n}" for n in notes(res)] + [""] if notes(res) else []
    fails, unresolved = res.failures(), res.unresolved()
    md += (
        ["**Disagreements:**", ""] + [f"- {f}" for f in fails]
        if fails
        else [f"All modes agree ({_tolerances()}){_but(unresolved)}."]
    )
    md += (
        ["", "Unresolved (neither agreement nor disagreement):", ""] + [f"- {u}" for u in unresolved]
        if unresolved
        else []
    )
    if res.sparse:
        md += ["", sparse.markdown(res.sparse)]
    if res.calibration:
        md += ["", "## The model, calibrated on this machine", "", res.calibration.probes + ".", ""]
        md += [calibration_table(res)]
    if figures:
        md += ["", "## Figures", ""] + [f"![{name}]({name})" for name in figures]
    return "\n".join(md) + "\n"


def write(res: Results, out: pathlib.Path, figures: list[str], command: str) -> list[pathlib.Path]:
    """report.md, table.csv, sweeps.csv, memory.csv and sparse.csv in `out`; returns the files written."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "report.md", out / "table.csv"]
    files[0].write_text(markdown(res, figures, command))
    table_csv(res, files[1])
    if res.sweeps:
        files.append(out / "sweeps.csv")
        _csv(files[-1], [_sweep_record(s) for s in res.sweeps])
    if res.depths:
        files.append(out / "memory.csv")
        _csv(files[-1], [vars(d) for d in res.depths])
    if res.sparse:
        files.append(out / "sparse.csv")
        _csv(files[-1], sparse.records(res.sparse))
    return files


def _timing_record(t, predicted) -> dict:
    q1, q3 = t.quartiles if t else (None, None)
    return {
        "seconds": t.median if t else None,
        "q1": q1,
        "q3": q3,
        "low": t.low if t else None,
        "high": t.high if t else None,
        "spread": t.spread if t else None,
        "repeats": len(t.samples) if t else None,
        "calls_per_sample": t.number if t else None,
        "stable": t.stable if t else None,
        "predicted_seconds": predicted.seconds if predicted else None,
        "predicted_bound": predicted.bound if predicted else None,
    }


def table_csv(res: Results, path) -> None:
    records = [
        {
            "problem": r.problem,
            "n": r.n,
            "m": r.m,
            "mode": r.mode,
            "library": r.library,
            "passes": r.passes,
            "model_flops": r.flops,
            **_timing_record(r.timing, r.predicted),
            "peak_bytes": r.peak,
            "rel_diff": r.rel_diff,
            "tolerance": r.tol,
            "agrees": r.agrees,
            "note": r.note,
        }
        for r in res.rows
    ]
    _csv(pathlib.Path(path), records)


def _sweep_record(s) -> dict:
    return {
        "axis": s.axis,
        "n": s.n,
        "m": s.m,
        "mode": s.mode,
        **_timing_record(s.timing, s.predicted),
        "rel_diff": s.rel_diff,
        "tolerance": s.tol,
        "note": s.note,
    }


def _csv(path: pathlib.Path, records: list[dict]) -> None:
    with path.open("w", newline="") as fh:
        if records:
            w = csv.DictWriter(fh, fieldnames=list(records[0]))
            w.writeheader()
            w.writerows(records)
