"""GitHub Actions output: `::error file=…,line=…::` annotations and the markdown job summary.

Annotations put a rule-file fault on the line of the pull request that caused it; the job
summary (`$GITHUB_STEP_SUMMARY`) shows a verdict or a rule-change impact table on the run
page. Both follow GitHub's workflow-command format: data escapes `%`, CR and LF; properties
also escape `:` and `,` (`picogate.escape.gh_data` / `gh_property`).

    picogate rules check rules/*.yaml --format github     # automatic when GITHUB_ACTIONS=true
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TextIO

from picogate.errors import RuleError
from picogate.escape import gh_data, gh_property, md, md_code, text


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def wants_github(fmt: str | None) -> bool:
    """`--format github`, or no explicit format while running under GitHub Actions."""
    return fmt == "github" or (fmt is None and in_github_actions())


def annotation(level: str, message: str, *, file: str | None = None, line: int | None = None,
               col: int | None = None, title: str | None = None) -> str:
    """One workflow command line.

    >>> annotation("error", "unknown metric", file="rules/a.yaml", line=3, col=12)
    '::error file=rules/a.yaml,line=3,col=12::unknown metric'
    """
    if level not in ("error", "warning", "notice"):
        raise ValueError(f"annotation level must be error, warning or notice, not {level!r}")
    props = []
    if file:
        props.append(f"file={gh_property(file)}")
        if line:
            props.append(f"line={line}")
            if col:
                props.append(f"col={col}")
    if title:
        props.append(f"title={gh_property(title)}")
    return f"::{level}{' ' + ','.join(props) if props else ''}::{gh_data(message)}"


def rule_error_annotation(exc: RuleError) -> str:
    """A `RuleError` as an annotation on its file, line and column (the caret detail in the body)."""
    rule = f"rule '{exc.rule_id}': " if exc.rule_id else ""
    body = rule + exc.reason + (f"\n{exc.detail}" if exc.detail else "")
    return annotation("error", body, file=exc.file, line=exc.line, col=exc.column, title="picogate rules check")


def append_step_summary(markdown: str) -> bool:
    """Append to `$GITHUB_STEP_SUMMARY` when it is set (GitHub renders it on the run page); True if written."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return False
    with open(target, "a", encoding="utf-8") as fh:  # GitHub owns the file; appending is its protocol
        fh.write(markdown.rstrip("\n") + "\n\n")
    return True


def check_rule_files(refs: Iterable[str], *, github: bool | None = None, out: TextIO | None = None,
                     err: TextIO | None = None) -> int:
    """`picogate rules check`: load each rule file; 0 when all are valid, 2 otherwise.

    With `github` (default: when GITHUB_ACTIONS=true) every fault is also printed as an
    `::error` annotation and a markdown table goes to the job summary.
    """
    from picogate.rules import load_rules

    github = in_github_actions() if github is None else github
    out = out or sys.stdout
    err = err or sys.stderr
    rows: list[tuple[str, str]] = []
    bad = 0
    for ref in refs:
        try:
            rs = load_rules(ref)
        except RuleError as exc:
            bad += 1
            print(exc.render(), file=err)
            if github:
                print(rule_error_annotation(exc), file=out)
            rows.append((ref, "❌ " + md(exc)))
            continue
        extra = f", {len(rs.overrides)} override(s)" if rs.overrides else ""
        print(f"ok {text(ref)}: profile '{text(rs.profile)}', {len(rs.rules)} checks{extra}", file=out)
        rows.append((ref, f"✅ profile {md_code(rs.profile)}, {len(rs.rules)} checks{extra}"))
    if github:
        title = f"❌ picogate rules check: {bad} invalid file(s)" if bad else "✅ picogate rules check: all valid"
        table = "\n".join(f"| {md_code(ref)} | {result} |" for ref, result in rows)
        append_step_summary(f"## {title}\n\n| file | result |\n|---|---|\n{table}\n")
    return 2 if bad else 0
