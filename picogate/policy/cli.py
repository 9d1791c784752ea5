"""`picogate rules check | test | diff | show`, added to the `picogate rules` subcommand.

Exit status as everywhere (DESIGN.md): 2 when the command could not run (a bad rule or test
file, an unreadable history), else `rules test` 1 when a case fails, `rules diff` 1 only with
`--fail-on-change` and a changed verdict, `rules check` 2 on an invalid file, `rules show` 0.
`check`, `test` and `diff` share every gate's `--format text|json|markdown|junit|github|sarif` and
`--out FILE` (picogate.output; their reports: picogate.policy.reports); under GitHub Actions they
default to `github` and append a markdown summary to `$GITHUB_STEP_SUMMARY`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from picogate.output import add_output_args, emit
from picogate.verdict import EXIT_APPROVED, EXIT_BLOCKED


def add_rules_commands(rules_subparsers: Any) -> None:
    """Register `check`, `test`, `diff` and `show` on the subparsers of `picogate rules`; check, test and
    diff take the shared `--format` and `--out` (picogate.output)."""
    c = rules_subparsers.add_parser("check", help="validate rule files (schema, names, expressions)")
    c.add_argument("files", nargs="+", help="rule files or profile names")
    add_output_args(c, fail_on=False)
    c.set_defaults(func=cmd_rules_check)

    t = rules_subparsers.add_parser("test", help="run rule tests (YAML cases: metrics -> expected verdict)")
    t.add_argument("paths", nargs="*", help="test files or folders (default: rules/tests in the working "
                                            "directory; exit 2 when there is none)")
    t.add_argument("--rules-dir", help="where profile names in the tests are looked up (default: beside the tests)")
    t.add_argument("--run", "-k", dest="select", help="only cases whose name contains this text")
    add_output_args(t, fail_on=False)  # with --verbose: passing cases too
    t.set_defaults(func=cmd_rules_test)

    d = rules_subparsers.add_parser("diff", help="which past runs change verdict under new rules, and why")
    d.add_argument("old", help="old rules: file, profile name, or git:REV:path")
    d.add_argument("new", help="new rules: file, profile name, or git:REV:path")
    d.add_argument("--history", required=True, help="past runs: .parquet/.jsonl/.json/.csv, one row per run_id")
    d.add_argument("--stage", choices=("preflight", "postrun"), help="only rules of this stage")
    add_output_args(d, fail_on=False)
    d.add_argument("--max-runs", type=int, default=50, help="changed runs listed in the report (default 50)")
    d.add_argument("--fail-on-change", action="store_true", help="exit 1 when any run changes verdict")
    d.set_defaults(func=cmd_rules_diff)

    s = rules_subparsers.add_parser("show", help="the effective rules of a profile after extends, as a table")
    s.add_argument("profile", help="profile name or rule file")
    s.add_argument("--stage", choices=("preflight", "postrun"), help="only rules of this stage")
    s.add_argument("--format", "-f", choices=("text", "markdown", "json"), default="text")
    s.set_defaults(func=cmd_rules_show)


def cmd_rules_check(args: argparse.Namespace) -> int:
    """Load each file: exit 0 when all are valid, 2 otherwise (faults with their caret line on stderr)."""
    from picogate.policy.reports import RuleCheckReport

    report = RuleCheckReport.load(args.files, err=sys.stderr)
    return emit(report, args, code=report.code)


def cmd_rules_test(args: argparse.Namespace) -> int:
    from picogate.policy.reports import RuleTestsReport
    from picogate.policy.ruletests import run_rule_tests

    report = run_rule_tests(args.paths or None, rules_dir=args.rules_dir, select=args.select)
    if not report.results:
        print("picogate: no rule-test case matched", file=sys.stderr)
        return EXIT_BLOCKED
    return emit(RuleTestsReport(report, verbose=args.verbose), args)


def cmd_rules_diff(args: argparse.Namespace) -> int:
    from picogate.policy.diff import diff_rules
    from picogate.policy.gitref import is_git_ref, materialize
    from picogate.policy.reports import DiffReport

    with ExitStack() as stack:
        def resolve(ref: str) -> str | Path:
            if not is_git_ref(ref):
                return ref
            return materialize(ref, stack.enter_context(tempfile.TemporaryDirectory(prefix="picogate-git-")))

        d = diff_rules(resolve(args.old), resolve(args.new), args.history, stage=args.stage,
                       old_label=args.old, new_label=args.new)
        report = DiffReport(d, max_runs=args.max_runs, fail_on_change=args.fail_on_change)
        return emit(report, args, code=report.code)  # inside: a git checkout's rule file still exists


def cmd_rules_show(args: argparse.Namespace) -> int:
    from picogate.policy.show import show

    sys.stdout.write(show(args.profile, fmt=args.format, stage=args.stage))
    return EXIT_APPROVED
