"""`python -m ad ops` prints the coverage table; `python -m ad compare` runs the comparison."""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="python -m ad", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("ops", help="print the Markdown table of every registered op")
    from ad.compare import cli

    cli.add_arguments(
        sub.add_parser(
            "compare",
            help="run every mode on the problem suite; print the table, write the report",
            description="Forward against reverse mode (and finite differences, and peers) on the "
            "built-in problems: agreement, time, memory, and the cost model's prediction. "
            "Exits 1 if any mode disagrees.",
        )
    )
    args = parser.parse_args(argv)
    if args.command == "ops":
        import ad  # noqa: F401
        from ad.coverage import markdown

        sys.stdout.write(markdown())
        return 0
    return cli.run(args, " ".join(["python -m ad", *argv]))


if __name__ == "__main__":
    sys.exit(main())
