"""`python -m ad compare`: its options, and the run that prints the table and writes the report."""

from __future__ import annotations

import argparse
import pathlib
import sys

from ad.compare.problems import NAMES
from ad.forward.api import DEFAULT_CHUNK


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="small sizes and short timings: well under a minute")
    p.add_argument(
        "--problems",
        type=_names,
        default=list(NAMES),
        metavar="NAMES",
        help=f"comma-separated subset of: {','.join(NAMES)} (default: all)",
    )
    p.add_argument(
        "--out",
        type=pathlib.Path,
        default=pathlib.Path("ad-report"),
        metavar="DIR",
        help="report folder (default: ad-report/)",
    )
    p.add_argument(
        "--peers", action="store_true", help="add columns for jax, torch and autograd where installed"
    )
    p.add_argument(
        "--chunk",
        type=_positive,
        default=None,
        metavar="K",
        help=f"directions per batched pass (default {DEFAULT_CHUNK})",
    )
    p.add_argument(
        "--no-sweeps",
        action="store_true",
        help="skip the sweeps over n, m and depth (and so the plots of them)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def _names(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in names if s not in NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown problem(s) {unknown}; choose from {','.join(NAMES)}")
    return names


def _positive(text: str) -> int:
    k = int(text)
    if k < 1:
        raise argparse.ArgumentTypeError(f"--chunk must be at least 1; got {k}")
    return k


def run(args: argparse.Namespace, command: str) -> int:
    """Run the comparison; 0 when every mode agrees, 1 otherwise. `command` is for the report."""
    import dataclasses

    from ad.compare import modes, peers, plots, problems, report, runner

    config = runner.QUICK if args.quick else runner.Config()
    if args.chunk is not None:
        config = dataclasses.replace(config, chunk=args.chunk)
    chosen = [p for p in problems.suite(args.quick) if p.name in args.problems]
    peer_libs = peers.PEERS if args.peers else ()
    res = runner.compare(
        chosen, modes.MODES, config, peer_libs, sweeps=not args.no_sweeps, progress=not args.quiet
    )
    figures = []
    if plots.available():
        figures = plots.draw(res, args.out)
    else:
        print(plots.MISSING, file=sys.stderr)
    files = report.write(res, args.out, figures, command)
    sys.stdout.write(report.text(res))
    written = ", ".join(f.name for f in files) + "".join(f", {name}" for name in figures)
    print(f"\nreport: {args.out}/ ({written}); {res.seconds:.0f} s")
    return 1 if res.failures() else 0
