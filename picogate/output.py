"""One output vocabulary for every command that judges or checks: the same --format, --out and job summary.

    picogate evaluate runs.jsonl --rules skill_release --format sarif --out gate.sarif

A command (evaluate, preflight, postrun, rules check|test|diff) builds a `Report` and calls
`emit`: the chosen format goes to stdout and, with --out, atomically to a file; under GitHub
Actions the markdown report is appended to the job summary; the exit status comes back.
Each report writes its own text, json, markdown and junit; the github and sarif formats are
built here, for every command alike, from the report's `findings()` (what did not pass, and
the file and line that asked for it) and `rules()`.

This module imports nothing of the commands (they import it), so a new command registers itself
from its own module: `add_output_args(parser)`, then `emit(SomeReport(...), args)`.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from picogate.escape import text
from picogate.policy.github import annotation, append_step_summary, in_github_actions
from picogate.verdict import WORST_FIRST, exit_code

if TYPE_CHECKING:
    from picogate.result import GateResult

FORMATS = ("text", "json", "markdown", "junit", "github", "sarif")


def add_output_args(p: argparse.ArgumentParser, *, fail_on: bool = True) -> None:
    """`--format`, `--out`, `--verbose` and (for gates with a warn verdict) `--fail-on`, the same on every
    command."""
    p.add_argument("--format", "-f", choices=FORMATS, default=None,
                   help="report format (default: text; github under GitHub Actions)")
    p.add_argument("--out", "-o", metavar="FILE", help="also write the report, in the chosen format, to FILE "
                                                       "(atomically)")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="text: every check (or case), not only what did not pass")
    if fail_on:
        p.add_argument("--fail-on", choices=("block", "warn"), default="block",
                       help="exit 1 on blocked (default) or also on warn")


def resolve_format(fmt: str | None) -> str:
    """The format asked for; without one, `github` under GitHub Actions (annotations in the log, the
    report in the job summary) and `text` elsewhere."""
    if fmt is not None:
        return fmt
    return "github" if in_github_actions() else "text"


@dataclass(frozen=True)
class Finding:
    """One thing that did not pass, where its rule is written: a `::error`/`::warning` line, a SARIF result."""

    level: str  # "error" (it blocks) or "warning"
    rule_id: str
    message: str  # complete: observed vs required, the run, the fix
    title: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleInfo:
    """A rule as SARIF describes it: what it checks, and the fix as help text."""

    id: str
    description: str
    help: str
    level: str = "error"
    file: str | None = None
    line: int | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)


class Report(ABC):
    """A command's result, writable in every format of `FORMATS`."""

    command: str = "picogate"
    status: str = "approved"  # approved | warn | blocked, for the exit status and the headline
    verbose: bool = False  # text: every check or case, not only what did not pass (--verbose)

    @abstractmethod
    def write_own(self, fmt: str, out: TextIO) -> None:
        """Write `fmt` (text, json, markdown or junit) to `out`."""

    @abstractmethod
    def markdown(self) -> str:
        """The markdown report (also the GitHub job summary)."""

    @abstractmethod
    def findings(self) -> Iterator[Finding]:
        """What did not pass, in report order (may be streamed: never all held at once)."""

    @abstractmethod
    def headline(self) -> str:
        """Plain lines that end the github format, after the annotations (escape data with `text`)."""

    def rules(self) -> Iterable[RuleInfo]:
        return ()

    def properties(self) -> dict[str, Any]:
        """Facts about the whole invocation for SARIF's `runs[0].properties` (profile, status, ...)."""
        return {"status": self.status}

    def write(self, fmt: str, out: TextIO) -> None:
        if fmt == "github":
            write_github(self, out)
        elif fmt == "sarif":
            from picogate.sarif import write_sarif

            write_sarif(self, out)
        elif fmt in FORMATS:
            self.write_own(fmt, out)
        else:
            raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")

    def render(self, fmt: str) -> str:
        buf = io.StringIO()
        self.write(fmt, buf)
        return buf.getvalue()


def write_github(report: Report, out: TextIO) -> None:
    """One workflow command per finding on the file and line of its rule, then the headline.

    Messages and properties are percent-encoded (`policy.github.annotation`), so data never starts
    a line of its own; the headline is escaped by `escape.text`.
    """
    for f in report.findings():
        out.write(annotation(f.level, f.message, file=f.file, line=f.line, col=f.column, title=f.title) + "\n")
    out.write(report.headline().rstrip("\n") + "\n")


def emit(report: Report, args: argparse.Namespace, *, code: int | None = None) -> int:
    """Write `report` as `args.format` to stdout and `args.out`, and its markdown to the job summary under
    GitHub Actions (or with --format github); returns `code`, or the gate's exit status from
    `report.status` and `args.fail_on`."""
    fmt = resolve_format(getattr(args, "format", None))
    report.verbose = bool(getattr(args, "verbose", False)) or report.verbose
    if getattr(args, "out", None):
        from picogate.io import atomic_write

        if Path(args.out).is_dir():
            from picogate.errors import PicogateError

            raise PicogateError(f"--out {args.out}: is a folder; --out takes a file for the {fmt} report")

        def write(tmp: Path) -> None:
            with open(tmp, "w", encoding="utf-8") as fh:
                report.write(fmt, fh)

        atomic_write(Path(args.out), write)
    report.write(fmt, sys.stdout)
    sys.stdout.flush()
    if fmt == "github" or in_github_actions():  # a no-op without $GITHUB_STEP_SUMMARY
        append_step_summary(report.markdown())
    return exit_code(report.status, getattr(args, "fail_on", "block")) if code is None else code


# -- the gate's report (evaluate, preflight; postrun builds on it) ----------------------------------
class GateReport(Report):
    """A `GateResult` in every format; github and sarif point at the rule file and line of each check."""

    def __init__(self, result: GateResult, command: str = "evaluate") -> None:
        self.result = result
        self.command = command
        self.status = result.status

    def write_own(self, fmt: str, out: TextIO) -> None:
        if fmt == "json":
            out.write(json.dumps(self.result.to_dict(), indent=2, ensure_ascii=False) + "\n")
        elif fmt == "markdown":
            out.write(self.result.to_markdown())
        elif fmt == "junit":  # streamed, run chunk by run chunk
            from picogate.report import write_junit_xml

            write_junit_xml(self.result, out)
        else:
            from picogate.report import print_text

            print_text(self.result, file=out, verbose=self.verbose)

    def markdown(self) -> str:
        return self.result.to_markdown()

    def headline(self) -> str:
        counts = self.result.counts()
        runs = ", ".join(f"{counts[s]} {s}" for s in WORST_FIRST if s in counts)
        stage = f", stage {self.result.stage}" if self.result.stage else ""
        return (f"picogate {self.command}: {self.status} (profile {text(self.result.ruleset.profile)}{stage}; "
                f"{sum(counts.values())} run(s): {runs})")

    def properties(self) -> dict[str, Any]:
        rs = self.result.ruleset
        return {"status": self.status, "profile": rs.profile, "stage": self.result.stage,
                "rule_files": list(rs.files), "runs": self.result.counts()}

    def _where(self) -> dict[str, tuple[str | None, int | None, int | None]]:
        where: dict[str, tuple[str | None, int | None, int | None]] = {
            r.id: (r.source.file, r.source.line, r.source.column) for r in self.result.ruleset.rules}
        from picogate.result import NO_CHECK_PASSED

        files = self.result.ruleset.files
        where[NO_CHECK_PASSED] = (files[0] if files else None, None, None)
        return where

    def rules(self) -> Iterator[RuleInfo]:
        from picogate.result import NO_CHECK_PASSED, nothing_passed_fix

        for r in self.result.ruleset.rules:
            yield RuleInfo(r.id, r.message, r.fix, "error" if r.severity == "block" else "warning",
                           r.source.file, r.source.line,
                           {"stage": r.stage, "severity": r.severity, "check": r.check, "missing": r.missing})
        files = self.result.ruleset.files
        yield RuleInfo(NO_CHECK_PASSED, "a run with no passing check is not approved",
                       nothing_passed_fix(self.result.ruleset), "error", files[0] if files else None)

    def findings(self) -> Iterator[Finding]:
        where = self._where()
        for chunk in self.result.chunks():  # check rows exist for one chunk of runs at a time
            yield from (check_finding(c, where, self.command) for c in chunk.failing().iter_rows(named=True))


def check_finding(c: Mapping[str, Any], where: Mapping[str, tuple[str | None, int | None, int | None]],
                  command: str) -> Finding:
    """One non-passing check row of a GateResult as a finding on its rule's file and line."""
    file, line, column = where.get(c["rule_id"], (None, None, None))
    message = (f"run {c['run_id']}: {c['message']} (observed {c['observed']}, required {c['required']}; "
               f"{c['outcome']})\nfix: {c['fix']}")
    return Finding("error" if c["effect"] == "block" else "warning", str(c["rule_id"]), message,
                   f"picogate {command}: {c['rule_id']}", file, line, column,
                   {"run_id": c["run_id"], "outcome": str(c["outcome"]), "severity": c["severity"],
                    "stage": c["stage"], "observed": c["observed"], "required": c["required"], "fix": c["fix"]})
