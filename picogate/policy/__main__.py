"""`python -m picogate.policy ACTION ...`: the `picogate rules` actions on their own (check, test, diff, show)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from picogate.errors import PicogateError
from picogate.policy.cli import add_rules_commands, cmd_rules_check


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m picogate.policy", description="picogate rules actions")
    rsub = parser.add_subparsers(metavar="ACTION")
    check = rsub.add_parser("check", help="validate rule files (schema, names, expressions)")
    check.add_argument("files", nargs="+", help="rule files or profile names")
    check.add_argument("--format", choices=("text", "github"), default=None,
                       help="github: also ::error annotations (default when GITHUB_ACTIONS=true)")
    check.set_defaults(func=cmd_rules_check)
    add_rules_commands(rsub)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except PicogateError as exc:
        print(f"picogate: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
