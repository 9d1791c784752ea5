"""`picogate rules check | test | diff` as `picogate.output.Report`s: the same six formats as every gate.

- check: a finding per invalid rule file, on the file, line and column of the fault;
- test: a finding per failing rule-test case, on the line of the case in its test file;
- diff: a finding per rule that changes the verdict of past runs, on that rule's line in the new
  file (a warning; an error with --fail-on-change, which is also when the command exits 1).

Each keeps its own text, markdown and json; JUnit is one testcase per file, case or changed run.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

from picogate.errors import RuleError
from picogate.escape import md, md_code, text, xml
from picogate.output import Finding, Report, RuleInfo
from picogate.verdict import EXIT_APPROVED, EXIT_BLOCKED, EXIT_CANNOT_RUN, INVALID_ICON, VALID_ICON

if TYPE_CHECKING:
    from picogate.policy.diff import RulesDiff
    from picogate.policy.ruletests import TestReport
    from picogate.rules import RuleSet

INVALID_FILE, CASE_FAILS = "picogate.rules.invalid_file", "picogate.rules.test_case_fails"


def _junit(name: str, suites: Iterable[ET.Element]) -> str:
    root = ET.Element("testsuites", name=name)
    root.extend(suites)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# -- rules check -------------------------------------------------------------------------------------
class RuleCheckReport(Report):
    """Each rule file loaded, or the `RuleError` that names its file, line and column."""

    command = "rules check"

    def __init__(self, loaded: list[tuple[str, RuleSet | RuleError]]) -> None:
        self.loaded = loaded
        self.bad = sum(isinstance(r, RuleError) for _, r in loaded)
        self.status = "blocked" if self.bad else "approved"

    @classmethod
    def load(cls, refs: Iterable[str], err: TextIO | None = None) -> RuleCheckReport:
        """Load every file; each fault is also rendered (with its caret line) to `err`, as a compiler would."""
        from picogate.rules import load_rules

        loaded: list[tuple[str, RuleSet | RuleError]] = []
        for ref in refs:
            try:
                loaded.append((ref, load_rules(ref)))
            except RuleError as exc:
                loaded.append((ref, exc))
                if err is not None:
                    print(exc.render(), file=err)
        return cls(loaded)

    @property
    def code(self) -> int:
        return EXIT_CANNOT_RUN if self.bad else EXIT_APPROVED  # an invalid rule file: the gate could not run

    @staticmethod
    def _extra(rs: RuleSet) -> str:
        return f", {len(rs.overrides)} override(s)" if rs.overrides else ""

    def write_own(self, fmt: str, out: TextIO) -> None:
        if fmt == "json":
            files = [{"file": ref, "valid": False, "error": {"file": r.file, "line": r.line, "column": r.column,
                                                              "rule_id": r.rule_id, "reason": r.reason}}
                     if isinstance(r, RuleError) else
                     {"file": ref, "valid": True, "profile": r.profile, "checks": len(r.rules),
                      "overrides": len(r.overrides)} for ref, r in self.loaded]
            out.write(json.dumps({"valid": len(self.loaded) - self.bad, "invalid": self.bad, "files": files},
                                 indent=2, ensure_ascii=False) + "\n")
        elif fmt == "markdown":
            out.write(self.markdown())
        elif fmt == "junit":
            suite = ET.Element("testsuite", name="picogate.rules_check", tests=str(len(self.loaded)),
                               failures=str(self.bad), errors="0")
            for ref, r in self.loaded:
                case = ET.SubElement(suite, "testcase", classname="picogate.rules_check", name=xml(ref))
                if isinstance(r, RuleError):
                    ET.SubElement(case, "failure", message=xml(r)).text = r.render()
            out.write(_junit("picogate.rules_check", [suite]))
        else:
            out.write(self.headline())

    def markdown(self) -> str:
        title = (f"{INVALID_ICON} picogate rules check: {self.bad} invalid file(s)" if self.bad
                 else f"{VALID_ICON} picogate rules check: all valid")
        rows = [f"| {md_code(ref)} | {INVALID_ICON} {md(r)} |" if isinstance(r, RuleError) else
                f"| {md_code(ref)} | {VALID_ICON} profile {md_code(r.profile)}, {len(r.rules)} checks{self._extra(r)} |"
                for ref, r in self.loaded]
        return f"## {title}\n\n| file | result |\n|---|---|\n" + "\n".join(rows) + "\n"

    def headline(self) -> str:
        """One line per file: `ok FILE: profile 'p', N checks` or `invalid FILE: the fault`."""
        return "".join((f"invalid {text(r)}\n" if r.file == ref else f"invalid {text(ref)}: {text(r)}\n")
                       if isinstance(r, RuleError) else
                       f"ok {text(ref)}: profile '{text(r.profile)}', {len(r.rules)} checks{self._extra(r)}\n"
                       for ref, r in self.loaded)

    def findings(self) -> Iterator[Finding]:
        for ref, r in self.loaded:
            if isinstance(r, RuleError):
                rule = f"rule '{r.rule_id}': " if r.rule_id else ""
                body = rule + r.reason + (f"\n{r.detail}" if r.detail else "")
                yield Finding("error", INVALID_FILE, body, "picogate rules check", r.file or ref, r.line, r.column)

    def rules(self) -> Iterator[RuleInfo]:
        yield RuleInfo(INVALID_FILE, "a rule file must load: valid YAML, schema, metric names and expressions",
                       "fix the rule file at the line and column shown")


# -- rules test ---------------------------------------------------------------------------------------
class RuleTestsReport(Report):
    """Rule-test cases (metrics in, expected verdict out); a failing case is a finding on its test-file line."""

    command = "rules test"

    def __init__(self, report: TestReport, *, verbose: bool = False) -> None:
        self.report = report
        self.verbose = verbose
        self.status = "approved" if report.ok else "blocked"

    def write_own(self, fmt: str, out: TextIO) -> None:
        from picogate.policy.ruletests import to_junit_xml, to_text

        if fmt == "json":
            out.write(json.dumps(self.report.to_dict(), indent=2, ensure_ascii=False) + "\n")
        elif fmt == "markdown":
            out.write(self.markdown())
        elif fmt == "junit":
            out.write(to_junit_xml(self.report))
        else:
            out.write(to_text(self.report, verbose=self.verbose))

    def markdown(self) -> str:
        from picogate.policy.ruletests import to_markdown

        return to_markdown(self.report)

    def headline(self) -> str:
        return f"picogate rules test: {self.report.passed} passed, {self.report.failed} failed\n"

    def findings(self) -> Iterator[Finding]:
        for r in self.report.results:
            if not r.passed:
                yield Finding("error", CASE_FAILS, f"rule test '{r.name}' failed:\n" + "\n".join(r.problems),
                              f"picogate rules test ({r.profile})", r.file, r.line, None,
                              {"case": r.name, "profile": r.profile, "status": r.status, "failing": r.failing})

    def rules(self) -> Iterator[RuleInfo]:
        yield RuleInfo(CASE_FAILS, "a rule-test case must get the verdict and failing rules it expects",
                       "fix the rule the case pins, or update the case's expectation in the same pull request")


# -- rules diff ---------------------------------------------------------------------------------------
class DiffReport(Report):
    """Past runs whose verdict a rule change moves. Without --fail-on-change a move is a warning (exit 0),
    with it an error (exit 1): github, sarif and JUnit say the same as the exit status."""

    command = "rules diff"

    def __init__(self, diff: RulesDiff, *, max_runs: int = 50, fail_on_change: bool = False) -> None:
        self.diff = diff
        self.max_runs = max_runs
        self.fail = fail_on_change and diff.n_changed > 0
        self.status = "blocked" if self.fail else "warn" if diff.n_changed else "approved"

    @property
    def code(self) -> int:
        return EXIT_BLOCKED if self.fail else EXIT_APPROVED

    def write_own(self, fmt: str, out: TextIO) -> None:
        d = self.diff
        if fmt == "json":
            out.write(d.to_json())
        elif fmt == "markdown":
            out.write(self.markdown())
        elif fmt == "junit":
            out.write(_junit("picogate.rules_diff", [self._suite()]))
        else:
            out.write(d.to_text(max_runs=self.max_runs))

    def _suite(self) -> ET.Element:
        """One testcase per run that changes verdict: <failure> with --fail-on-change, else <skipped>."""
        d = self.diff
        suite = ET.Element("testsuite", name=xml(f"{d.old_label} -> {d.new_label}"),
                           tests=str(max(d.n_changed, 1)), failures=str(d.n_changed if self.fail else 0),
                           errors="0", skipped=str(0 if self.fail else d.n_changed))
        if not d.n_changed:
            ET.SubElement(suite, "testcase", classname="picogate.rules_diff",
                          name=f"no run changes verdict ({d.total_runs} past runs judged)")
        for run in d.changed.iter_rows(named=True):
            case = ET.SubElement(suite, "testcase", classname="picogate.rules_diff", name=xml(run["run_id"]))
            message = f"{run['old']} -> {run['new']} because of {', '.join(map(xml, run['causes']))}"
            ET.SubElement(case, "failure" if self.fail else "skipped", message=message)
        return suite

    def markdown(self) -> str:
        return self.diff.to_markdown(max_runs=self.max_runs)

    def headline(self) -> str:
        return self.diff.to_text(max_runs=self.max_runs).splitlines()[0] + "\n"

    def _where(self, rule_id: str) -> tuple[Any, str | None, int | None, int | None]:
        """(rule, file, line, column): the rule as the new file has it; a removed one is located at the new
        file (the old one may be a checkout of a git ref, gone once the command ends)."""
        d = self.diff
        new = next((r for r in d.new.rules if r.id == rule_id), None)
        if new is not None:
            return new, new.source.file, new.source.line, new.source.column
        old = next((r for r in d.old.rules if r.id == rule_id), None)
        return old, d.new.files[-1] if d.new.files else None, None, None

    def findings(self) -> Iterator[Finding]:
        d = self.diff
        level = "error" if self.fail else "warning"
        for row in d.impact.iter_rows(named=True):
            _, file, line, col = self._where(row["rule_id"])
            message = (f"rule {row['rule_id']} moves {row['runs']} past run(s) from {row['before']} to "
                       f"{row['after']} ({d.old_label} -> {d.new_label})")
            yield Finding(level, str(row["rule_id"]), message, f"picogate rules diff: {row['rule_id']}", file, line,
                          col, {"runs": row["runs"], "before": row["before"], "after": row["after"]})

    def rules(self) -> Iterator[RuleInfo]:
        for rid in dict.fromkeys(self.diff.impact.get_column("rule_id").to_list()):
            r, file, line, _ = self._where(rid)
            if r is not None:
                yield RuleInfo(rid, r.message, r.fix, "error" if self.fail else "warning", file, line,
                               {"check": r.check, "stage": r.stage, "severity": r.severity})

    def properties(self) -> dict[str, Any]:
        d = self.diff
        return {"status": self.status, "old": d.old_label, "new": d.new_label, "runs": d.total_runs,
                "changed": d.n_changed}
