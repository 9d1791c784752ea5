"""The `picogate` command line.

Exit status (DESIGN.md): 0 approved (and warn, unless --fail-on warn), 1 blocked,
2 the gate could not run — always with a one-line reason, never a traceback
(set PICOGATE_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from picogate.errors import PicogateError

if TYPE_CHECKING:
    from picogate.result import GateResult

FORMATS = ("text", "json", "markdown", "junit")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return dispatch(parser, args)
    except KeyboardInterrupt:
        _die("interrupted", code=130)
    except Exception as exc:  # the contract: one line and exit 2, never a traceback
        if os.environ.get("PICOGATE_DEBUG"):
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        _die(f"internal error: {type(exc).__name__}: {first} (set PICOGATE_DEBUG=1 for a traceback)")
    return 2


def dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run the command `args` chose, with the exit-2 contract in one place for `picogate` and `-m picogate.policy`.

    No command: the help, exit 2. A `PicogateError`: one `picogate: error: ...` line, exit 2.
    """
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except PicogateError as exc:
        _say(f"picogate: error: {exc}")
        return 2


def _say(line: str) -> None:
    """One stderr line; what it quotes from data (file names, values) cannot start a CI command."""
    from picogate.escape import text

    print(text(line), file=sys.stderr)


def _die(message: str, code: int = 2) -> None:
    _say(f"picogate: error: {message}")
    raise SystemExit(code)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="picogate", description="Preflight and release gates for small LM runs.")
    sub = parser.add_subparsers(metavar="COMMAND")

    ev = sub.add_parser("evaluate", help="judge a metrics table against rules")
    ev.add_argument("metrics", help="metrics file: .parquet, .json, .jsonl or .csv (one row per run_id)")
    ev.add_argument("--rules", "-r", required=True, help="rule file or shipped profile name")
    ev.add_argument("--stage", choices=("preflight", "postrun"), help="only rules of this stage")
    ev.add_argument("--baseline", help="metrics of a previous run, for baseline.<name> in checks")
    _output_args(ev)
    ev.set_defaults(func=cmd_evaluate)

    rules = sub.add_parser("rules", help="work with rule files")
    rsub = rules.add_subparsers(metavar="ACTION")
    check = rsub.add_parser("check", help="validate rule files (schema, names, expressions)")
    check.add_argument("files", nargs="+", help="rule files or profile names")
    check.add_argument("--format", "-f", choices=("text", "github"), default=None,
                       help="github: also ::error annotations and a job summary (default under GitHub Actions)")
    check.set_defaults(func=cmd_rules_check)

    from picogate.policy.cli import add_rules_commands

    add_rules_commands(rsub)

    from picogate.preflight.cli import add_preflight_command

    add_preflight_command(sub)

    from picogate.postrun.cli import add_postrun_command

    add_postrun_command(sub)

    from picogate.demo import add_demo_arguments, run_demo

    demo = sub.add_parser("demo", help="the whole story on the shipped examples: preflight, train a tiny model, "
                                       "eval, post-run gate")
    demo.add_argument("--format", choices=FORMATS, default="text")
    add_demo_arguments(demo)
    demo.set_defaults(func=run_demo)

    try:  # the evaluator needs torch, an optional extra; without it `picogate eval` says so
        from picogate.evaluator.cli import add_eval_command
    except ImportError:
        ev2 = sub.add_parser("eval", help="run the torch evaluator (needs: pip install 'picogate[eval]')")
        ev2.set_defaults(func=lambda a: _die("the evaluator needs torch: pip install 'picogate[eval]'"))
    else:
        add_eval_command(sub)
    return parser


def _output_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", "-f", choices=FORMATS, default="text", help="report format (default: text)")
    p.add_argument("--out", "-o", help="also write the report to this file (atomically)")
    p.add_argument("--fail-on", choices=("block", "warn"), default="block",
                   help="exit 1 on blocked (default) or also on warn")


def render(result: GateResult, fmt: str) -> str:
    """The report of `result` in `fmt` as one string (see `write_report`)."""
    import io

    buf = io.StringIO()
    write_report(result, fmt, buf)
    return buf.getvalue()


def write_report(result: GateResult, fmt: str, out: TextIO) -> None:
    """Write the report of `result` in `fmt` to `out`; JUnit is written run chunk by run chunk, so a
    report of every run never holds every run's checks at once. Every format escapes its data
    (picogate.escape)."""
    if fmt == "json":
        out.write(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")
    elif fmt == "markdown":
        out.write(result.to_markdown())
    elif fmt == "junit":
        from picogate.report import write_junit_xml

        write_junit_xml(result, out)
    else:
        from picogate.report import print_text

        print_text(result, file=out)


def emit(result: GateResult, args: argparse.Namespace) -> int:
    if args.format == "text" and sys.stdout.isatty():
        from picogate.report import print_text

        print_text(result)
    else:
        write_report(result, args.format, sys.stdout)
    if getattr(args, "out", None):
        from picogate.io import atomic_write

        def write(tmp: Path) -> None:
            with open(tmp, "w", encoding="utf-8") as fh:
                write_report(result, args.format, fh)

        atomic_write(Path(args.out), write)
    return exit_code(result.status, getattr(args, "fail_on", "block"))


def exit_code(status: str, fail_on: str = "block") -> int:
    if status == "blocked" or (status == "warn" and fail_on == "warn"):
        return 1
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from picogate.evaluate import evaluate

    result = evaluate(args.metrics, args.rules, stage=args.stage, baseline=args.baseline)
    return emit(result, args)


def cmd_rules_check(args: argparse.Namespace) -> int:
    from picogate.policy.cli import cmd_rules_check as check

    return check(args)
