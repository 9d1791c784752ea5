"""GitHub Actions output: `::error file=…,line=…::` annotations and the markdown job summary.

Annotations put a finding (a failing check, an invalid rule file, a failing rule test) on the
line of the rule file that asked for it; the job summary (`$GITHUB_STEP_SUMMARY`) shows the
report on the run page. Both follow GitHub's workflow-command format: data escapes `%`, CR and
LF; properties also escape `:` and `,` (`picogate.escape.gh_data` / `gh_property`). Every judging
command uses them through `picogate.output` (`--format github`, the default under Actions).

    picogate rules check rules/*.yaml --format github     # automatic when GITHUB_ACTIONS=true
"""

from __future__ import annotations

import os

from picogate.escape import gh_data, gh_property


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


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


def append_step_summary(markdown: str) -> bool:
    """Append to `$GITHUB_STEP_SUMMARY` when it is set (GitHub renders it on the run page); True if written."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return False
    with open(target, "a", encoding="utf-8") as fh:  # GitHub owns the file; appending is its protocol
        fh.write(markdown.rstrip("\n") + "\n\n")
    return True
