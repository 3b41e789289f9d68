"""``python -m docs.quotes [--check | --write]``: the README's and the docs' quoted numbers
against the committed result files (exit 1 naming each difference), or rewritten from them."""

from __future__ import annotations

import argparse
import sys

from docs.quotes import QuoteError, check, write


def main(argv: list[str] | None = None) -> int:
    """Check (default) or rewrite the quote blocks; 0 current, 1 differences, 2 a block
    that cannot be rendered (its template, file or claim named)."""
    parser = argparse.ArgumentParser(prog="python -m docs.quotes", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="check only (the default)")
    mode.add_argument("--write", action="store_true", help="rewrite the blocks in place")
    parser.add_argument("--results", metavar="DIR", help="result files (default: results/)")
    args = parser.parse_args(argv)
    try:
        if args.write:
            for page in write(results=args.results):
                print(f"rewrote {page}")
        problems = check(results=args.results)
    except QuoteError as err:
        print(f"quotes: {err}", file=sys.stderr)
        return 2
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        print(
            f"quotes: {len(problems)} problem(s); `make quotes` rewrites the blocks from "
            "results/, a number outside a block goes into one (docs/quotes/*.md.j2)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
