"""`python -m picogate.policy ACTION ...`: the `picogate rules` actions on their own (check, test, diff, show)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from picogate.cli import dispatch
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
    return dispatch(parser, parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
