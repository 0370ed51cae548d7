"""`python -m ad ops` prints the coverage table; `python -m ad compare` runs the comparison."""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ad", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("ops", help="print the Markdown table of every registered op")
    args, rest = parser.parse_known_args(argv)
    if args.command == "ops":
        import ad  # noqa: F401
        from ad.coverage import markdown

        sys.stdout.write(markdown())
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
