"""`python -m picogate.policy ACTION ...`: the `picogate rules` actions on their own (check, test, diff, show)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from picogate.cli import dispatch
from picogate.policy.cli import add_rules_commands


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m picogate.policy", description="picogate rules actions")
    add_rules_commands(parser.add_subparsers(metavar="ACTION"))
    return dispatch(parser, parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
