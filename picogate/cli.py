"""The `picogate` command line.

Exit status (DESIGN.md): 0 approved (and warn, unless --fail-on warn), 1 blocked,
2 the gate could not run — always with a one-line reason, never a traceback
(set PICOGATE_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence

from picogate.errors import PicogateError
from picogate.output import FORMATS, add_output_args
from picogate.verdict import EXIT_CANNOT_RUN


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return dispatch(parser, args)
    except KeyboardInterrupt:
        _die("interrupted", code=130)
    except BrokenPipeError:  # `picogate ... | head`: the reader left; the report was not all delivered
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        _die("output closed before the report was written (broken pipe)")
    except Exception as exc:  # the contract: one line and exit 2, never a traceback
        if os.environ.get("PICOGATE_DEBUG"):
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        _die(f"internal error: {type(exc).__name__}: {first} (set PICOGATE_DEBUG=1 for a traceback)")
    return EXIT_CANNOT_RUN


def dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run the command `args` chose, with the exit-2 contract in one place for `picogate` and `-m picogate.policy`.

    No command: the help, exit 2. A `PicogateError`: one `picogate: error: ...` line, exit 2.
    """
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_CANNOT_RUN
    try:
        return int(args.func(args))
    except PicogateError as exc:
        _say(f"picogate: error: {exc}")
        return EXIT_CANNOT_RUN


def _say(line: str) -> None:
    """One stderr line; what it quotes from data (file names, values) cannot start a CI command."""
    from picogate.escape import text

    print(text(line), file=sys.stderr)


def _die(message: str, code: int = EXIT_CANNOT_RUN) -> None:
    _say(f"picogate: error: {message}")
    raise SystemExit(code)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="picogate", description="Preflight and release gates for small LM runs.")
    sub = parser.add_subparsers(metavar="COMMAND")

    ev = sub.add_parser("evaluate", help="judge a metrics table against rules")
    ev.add_argument("metrics", help="metrics file: .parquet, .json, .jsonl or .csv (one row per run_id), "
                                    "or mlflow:EXPERIMENT (the experiment's runs)")
    ev.add_argument("--rules", "-r", required=True, help="rule file or shipped profile name")
    ev.add_argument("--stage", choices=("preflight", "postrun"), help="only rules of this stage")
    ev.add_argument("--baseline", help="metrics of a previous run, for baseline.<name> in checks")
    add_output_args(ev)
    from picogate.integrations.mlflow import add_mlflow_args

    add_mlflow_args(ev)
    ev.set_defaults(func=cmd_evaluate)

    rules = sub.add_parser("rules", help="work with rule files")
    rsub = rules.add_subparsers(metavar="ACTION")

    from picogate.policy.cli import add_rules_commands

    add_rules_commands(rsub)

    from picogate.preflight.cli import add_preflight_command

    add_preflight_command(sub)

    from picogate.postrun.cli import add_postrun_command

    add_postrun_command(sub)

    from picogate.postrun.history import add_history_command

    add_history_command(sub)

    from picogate.postrun.attach import add_attach_command

    add_attach_command(sub)

    from picogate.schema import add_schema_command

    add_schema_command(sub)

    from picogate.demo import add_demo_arguments, run_demo

    demo = sub.add_parser("demo", help="the whole story on the shipped examples: preflight, train a tiny model, "
                                       "eval, post-run gate")
    demo.add_argument("--format", choices=FORMATS, default="text")  # the post-run report's format
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


def cmd_evaluate(args: argparse.Namespace) -> int:
    from picogate.evaluate import evaluate
    from picogate.integrations.mlflow import log_results, metrics_from_args
    from picogate.output import GateReport, emit

    metrics = metrics_from_args(args)  # a path, or the runs of mlflow:EXPERIMENT
    result = evaluate(metrics, args.rules, stage=args.stage, baseline=args.baseline)
    code = emit(GateReport(result, "evaluate"), args)
    if args.log_to_mlflow:  # after the report: the verdict is shown even when the store refuses it
        log_results(result, metrics, tracking_uri=args.tracking_uri)
    return code
