"""`python -m ad compare`: its options, the checks made before anything is measured, and
the run that prints the table and writes the report."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import pathlib
import sys

from ad.compare.modes import DEFAULT_CHUNK
from ad.compare.problems import NAMES

DEFAULT_OUT = pathlib.Path("ad-report")
QUICK_OUT = pathlib.Path("ad-report-quick")  # --quick never overwrites a full report


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="small sizes and short timings: well under a minute")
    p.add_argument(
        "--problems",
        type=_names,
        default=None,
        metavar="NAMES",
        help=f"comma-separated subset of: {','.join(NAMES)} (default: all)",
    )
    p.add_argument(
        "--function",
        metavar="MODULE:NAME",
        help="compare the modes on your own function f (found on sys.path or in the current folder) "
        "instead of the built-in problems; needs --input",
    )
    p.add_argument(
        "--input",
        metavar="MODULE:NAME",
        help="the point x for --function: an array or a pytree (tuple, list, dict) of arrays, or a "
        "zero-argument function returning one",
    )
    p.add_argument(
        "--out",
        type=pathlib.Path,
        default=None,
        metavar="DIR",
        help=f"report folder (default: {DEFAULT_OUT}/, or {QUICK_OUT}/ with --quick)",
    )
    p.add_argument(
        "--peers", action="store_true", help="add columns for jax, torch and autograd where installed"
    )
    p.add_argument(
        "--threads",
        type=_positive("--threads"),
        default=1,
        metavar="N",
        help="BLAS/OpenMP threads for ad and every peer alike (default 1)",
    )
    p.add_argument(
        "--chunk",
        type=_positive("--chunk"),
        default=None,
        metavar="K",
        help=f"directions per batched pass (default {DEFAULT_CHUNK})",
    )
    p.add_argument(
        "--no-sweeps",
        action="store_true",
        help="skip the sweeps over n, m and depth (and so the plots of them)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _names(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in names if s not in NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown problem(s) {unknown}; choose from {','.join(NAMES)}")
    return names


def _positive(option: str):
    def parse(text: str) -> int:
        try:
            k = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{option} takes a whole number; got {text!r}") from None
        if k < 1:
            raise argparse.ArgumentTypeError(f"{option} must be at least 1; got {k}")
        return k

    return parse


class UsageError(Exception):
    """A problem with the command line, found before anything is measured (exit status 2)."""


def check_out(out: pathlib.Path) -> None:
    """The report folder can be written: an existing folder we may write in, or a new one
    whose nearest existing parent we may write in."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is an existing file, not a folder; choose another path")
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out}: {probe} is not writable; choose a folder you can write to")


def load(spec: str, option: str):
    """The object MODULE:NAME, its module imported from sys.path or the current folder."""
    module, sep, name = spec.partition(":")
    if not sep or not module or not name:
        raise UsageError(f"{option} {spec!r}: expected MODULE:NAME, e.g. {option} mymodel:loss")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise UsageError(
            f"{option} {spec!r}: cannot import {module!r} ({e}); run from the folder that holds "
            "it, or add that folder to PYTHONPATH"
        ) from None
    except Exception as e:
        raise UsageError(f"{option} {spec!r}: importing {module!r} raised {type(e).__name__}: {e}") from None
    try:
        return getattr(mod, name)
    except AttributeError:
        raise UsageError(f"{option} {spec!r}: module {module!r} has no {name!r}") from None


def _user_problem(args):
    from ad.compare import problems

    if args.input is None:
        raise UsageError("--function needs --input MODULE:NAME, the point to differentiate at")
    if args.problems is not None:
        raise UsageError("--function compares the modes on your function alone: drop --problems")
    if args.peers:
        raise UsageError(
            "--peers runs the built-in problems through jax, torch and autograd; for your own "
            "function pass the peers' versions from Python: ad.compare.compare(f, x, peers={...})"
        )
    f = load(args.function, "--function")
    if not callable(f):
        raise UsageError(f"--function {args.function!r} is a {type(f).__name__}, not a function")
    x = load(args.input, "--input")
    if callable(x):
        try:
            x = x()
        except Exception as e:
            raise UsageError(f"--input {args.input!r}: calling it raised {type(e).__name__}: {e}") from None
    try:
        return problems.user(f, x, args.function.partition(":")[2])
    except ValueError as e:
        raise UsageError(f"--function {args.function!r}: {e}") from None


def run(args: argparse.Namespace, command: str) -> int:
    """Run the comparison; 0 when every mode agrees, 1 otherwise, 2 for a usage error.
    `command` is for the report."""
    try:
        return _run(args, command)
    except UsageError as e:
        print(f"python -m ad compare: error: {e}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, command: str) -> int:
    from ad.compare import modes, peers, plots, problems, report, runner

    out = args.out or (QUICK_OUT if args.quick else DEFAULT_OUT)
    check_out(out)
    if args.input is not None and args.function is None:
        raise UsageError("--input goes with --function MODULE:NAME")
    config = runner.QUICK if args.quick else runner.Config()
    config = dataclasses.replace(config, chunk=args.chunk or config.chunk, threads=args.threads)
    if args.function is not None:
        chosen, sweeps = [_user_problem(args)], False
    else:
        names = args.problems or list(NAMES)
        chosen, sweeps = [p for p in problems.suite(args.quick) if p.name in names], not args.no_sweeps
    peer_libs = peers.PEERS if args.peers else ()
    res = runner.run(chosen, modes.MODES, config, peer_libs, sweeps=sweeps, progress=not args.quiet)
    figures = []
    if plots.available():
        figures = plots.draw(res, out)
    else:
        print(plots.MISSING, file=sys.stderr)
    files = report.write(res, out, figures, command)
    sys.stdout.write(report.text(res))
    written = ", ".join(f.name for f in files) + "".join(f", {name}" for name in figures)
    print(f"\nreport: {out}/ ({written}); {res.seconds:.0f} s")
    return 1 if res.failures() else 0
