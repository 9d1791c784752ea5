"""`picogate rules test | diff | show`, added to the `picogate rules` subcommand.

Exit status as everywhere (DESIGN.md): 2 when the command could not run (a bad rule or test
file, an unreadable history), else `rules test` 1 when a case fails, `rules diff` 1 only with
`--fail-on-change` and a changed verdict, `rules show` 0. Under GitHub Actions a markdown summary
is appended to `$GITHUB_STEP_SUMMARY` and failing test cases become `::error` annotations.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any


def add_rules_commands(rules_subparsers: Any) -> None:
    """Register `test`, `diff` and `show` on the subparsers of `picogate rules`."""
    t = rules_subparsers.add_parser("test", help="run rule tests (YAML cases: metrics -> expected verdict)")
    t.add_argument("paths", nargs="*", help="test files or folders (default: rules/tests)")
    t.add_argument("--rules-dir", help="where profile names in the tests are looked up (default: beside the tests)")
    t.add_argument("--run", "-k", dest="select", help="only cases whose name contains this text")
    t.add_argument("--format", "-f", choices=("text", "json", "markdown", "junit", "github"), default="text")
    t.add_argument("--verbose", "-v", action="store_true", help="list passing cases too")
    t.set_defaults(func=cmd_rules_test)

    d = rules_subparsers.add_parser("diff", help="which past runs change verdict under new rules, and why")
    d.add_argument("old", help="old rules: file, profile name, or git:REV:path")
    d.add_argument("new", help="new rules: file, profile name, or git:REV:path")
    d.add_argument("--history", required=True, help="past runs: .parquet/.jsonl/.json/.csv, one row per run_id")
    d.add_argument("--stage", choices=("preflight", "postrun"), help="only rules of this stage")
    d.add_argument("--format", "-f", choices=("text", "markdown", "json"), default="text")
    d.add_argument("--max-runs", type=int, default=50, help="changed runs listed in the report (default 50)")
    d.add_argument("--out", "-o", help="also write the report to this file (atomically)")
    d.add_argument("--fail-on-change", action="store_true", help="exit 1 when any run changes verdict")
    d.set_defaults(func=cmd_rules_diff)

    s = rules_subparsers.add_parser("show", help="the effective rules of a profile after extends, as a table")
    s.add_argument("profile", help="profile name or rule file")
    s.add_argument("--stage", choices=("preflight", "postrun"), help="only rules of this stage")
    s.add_argument("--format", "-f", choices=("text", "markdown", "json"), default="text")
    s.set_defaults(func=cmd_rules_show)


def cmd_rules_test(args: argparse.Namespace) -> int:
    from picogate.policy import github
    from picogate.policy.ruletests import run_rule_tests, to_junit_xml, to_markdown, to_text

    report = run_rule_tests(args.paths or None, rules_dir=args.rules_dir, select=args.select)
    if not report.results:
        print("picogate: no rule-test case matched", file=sys.stderr)
        return 1
    fmt = args.format
    if fmt == "json":
        import json

        sys.stdout.write(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
    elif fmt == "markdown":
        sys.stdout.write(to_markdown(report))
    elif fmt == "junit":
        sys.stdout.write(to_junit_xml(report))
    else:
        sys.stdout.write(to_text(report, verbose=args.verbose))
    if fmt == "github" or github.in_github_actions():
        for r in report.results:
            if not r.passed:
                print(github.annotation("error", f"rule test '{r.name}' failed:\n" + "\n".join(r.problems),
                                        file=r.file, line=r.line, title=f"picogate rules test ({r.profile})"))
        github.append_step_summary(to_markdown(report))
    return 0 if report.ok else 1


def cmd_rules_diff(args: argparse.Namespace) -> int:
    from picogate.policy import github
    from picogate.policy.diff import diff_rules
    from picogate.policy.gitref import is_git_ref, materialize

    with ExitStack() as stack:
        def resolve(ref: str) -> str | Path:
            if not is_git_ref(ref):
                return ref
            return materialize(ref, stack.enter_context(tempfile.TemporaryDirectory(prefix="picogate-git-")))

        d = diff_rules(resolve(args.old), resolve(args.new), args.history, stage=args.stage,
                       old_label=args.old, new_label=args.new)
        if args.format == "json":
            text = d.to_json()
        elif args.format == "markdown":
            text = d.to_markdown(max_runs=args.max_runs)
        else:
            text = d.to_text(max_runs=args.max_runs)
        sys.stdout.write(text)
        if args.out:
            from picogate.io import atomic_write_text

            atomic_write_text(Path(args.out), text)
        if github.in_github_actions():
            github.append_step_summary(text if args.format == "markdown" else d.to_markdown(max_runs=args.max_runs))
    return 1 if (args.fail_on_change and d.n_changed) else 0


def cmd_rules_show(args: argparse.Namespace) -> int:
    from picogate.policy.show import show

    sys.stdout.write(show(args.profile, fmt=args.format, stage=args.stage))
    return 0


def cmd_rules_check(args: argparse.Namespace) -> int:
    """`picogate rules check` with `--format text|github` (github: default under GitHub Actions)."""
    from picogate.policy.github import check_rule_files, wants_github

    return check_rule_files(args.files, github=wants_github(getattr(args, "format", None)))
