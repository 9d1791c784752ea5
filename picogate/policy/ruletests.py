"""Rule tests as data: a metrics fixture per case, and the verdict a profile must give it.

    # rules/tests/release_test.yaml
    profile: release
    base: {target_param_data_ratio: 20.0, planned_to_target_ratio: 1.0, ...}   # a run that clears every rule
    cases:
      - name: a run scheduling 8:1 while claiming 20:1 is blocked
        metrics: {planned_to_target_ratio: 0.4}
        expect: {status: blocked, failing: [budget.planned_to_target]}

Like `opa test` or `conftest verify`: a pull request that changes a threshold also changes
(or breaks) the cases that pin it. Files are read with `picogate.yamlstrict` and validated by
`RuleTestFile` (picogate/policy/ruletest_spec.py, from which `schemas/rule_tests.schema.json` is
generated); each case is one `evaluate` of one run, so what is tested is exactly what the gate does.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from picogate.errors import InputError, PicogateError, RuleError
from picogate.escape import md, md_code, text, xml
from picogate.evaluate import evaluate
from picogate.metrics import flatten
from picogate.paths import RULES_DIR
from picogate.policy.ruletest_spec import RuleTestFile
from picogate.result import NO_CHECK_PASSED
from picogate.rules import RuleSet, load_rules
from picogate.rules.loader import _find, display_path
from picogate.validation import Fault, validate
from picogate.verdict import INVALID_ICON, VALID_ICON
from picogate.yamlstrict import Document, YAMLError, load_file


@dataclass(frozen=True)
class Case:
    name: str
    line: int | None
    stage: str | None
    metrics: dict[str, Any]
    status: str
    failing: tuple[str, ...] | None
    outcomes: dict[str, str]


@dataclass(frozen=True)
class TestFile:
    path: Path
    file: str  # as shown to users
    ruleset: RuleSet
    cases: tuple[Case, ...]


@dataclass
class CaseResult:
    file: str
    line: int | None
    name: str
    profile: str
    status: str  # what the gate said
    failing: list[str]
    problems: list[str] = field(default_factory=list)  # empty: the case passed

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass
class TestReport:
    results: list[CaseResult]
    files: list[str]

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def ok(self) -> bool:
        return self.failed == 0 and bool(self.results)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "failed": self.failed, "files": self.files,
                "cases": [{"file": r.file, "line": r.line, "name": r.name, "profile": r.profile,
                           "passed": r.passed, "status": r.status, "failing": r.failing, "problems": r.problems}
                          for r in self.results]}


# -- loading ------------------------------------------------------------------------------------

def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Test files named by `paths` (files, or folders searched recursively for *.yaml / *.yml).

    Anything that is not a folder is kept, so that a FIFO or a device among them is refused by name
    when it is read (`load_file` reads regular files only), not skipped or waited on.
    """
    out: list[Path] = []
    for ref in paths:
        p = Path(ref)
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix in (".yaml", ".yml") and not f.is_dir())
        elif os.path.lexists(p):
            out.append(p)
        else:
            raise PicogateError(f"{ref}: no such file or folder of rule tests")
    return out


def default_dir() -> Path:
    """`rules/tests` under the working directory; an error when there is none.

    Never the shipped tests instead: they test the shipped profiles, so "65 passed" would say nothing
    about the user's own rules (issue 13).
    """
    local = Path("rules") / "tests"
    if local.is_dir():
        return local
    raise PicogateError(f"no rules/tests/ folder in {Path.cwd()}: nothing to test. Name the rule-test files or "
                        f"folders to run (picogate rules test PATH...), or create rules/tests/*.yaml "
                        f"(docs/workflow.md); the shipped examples are in {RULES_DIR / 'tests'}")


def load_test_file(path: str | Path, *, rules_dir: str | Path | None = None) -> TestFile:
    """Read, validate and resolve one test file (its profile is loaded too)."""
    path = Path(path)
    try:
        doc = load_file(path, "rule-test")
    except YAMLError as exc:
        raise RuleError(exc.reason, file=display_path(path), line=exc.line, column=exc.column) from None
    doc.file = display_path(path)
    if not isinstance(doc.data, dict):
        raise RuleError("a rule-test file must be a mapping with 'profile:' and 'cases:'", file=doc.file, line=1)
    try:
        spec = validate(RuleTestFile, doc.data)
    except Fault as fault:
        line, col = doc.where(fault.path)
        raise RuleError(str(fault), file=doc.file, line=line, column=col) from None
    ruleset = _load_profile(spec.profile, path, rules_dir, doc)
    base = _flatten(spec.base, doc, ("base",))
    names: dict[str, int] = {}
    cases = []
    for i, raw in enumerate(spec.cases):
        line, _ = doc.where(("cases", i))
        if raw.name in names:
            raise RuleError(f"cases.{i}.name: duplicate case name '{raw.name}' "
                            f"(first at case #{names[raw.name]})", file=doc.file, line=line)
        names[raw.name] = i + 1
        metrics = dict(base)
        for name in raw.drop:
            if name not in metrics:
                dl, dc = doc.where(("cases", i, "drop"))
                raise RuleError(f"cases.{i}.drop: '{name}' is not in base", file=doc.file, line=dl, column=dc)
            del metrics[name]
        metrics.update(_flatten(raw.metrics, doc, ("cases", i, "metrics")))
        expect = raw.expect
        failing = tuple(expect.failing) if expect.failing is not None else None
        cases.append(Case(raw.name, line, raw.stage or spec.stage, metrics, expect.status, failing,
                          dict(expect.outcomes)))
    return TestFile(path, doc.file, ruleset, tuple(cases))


def _load_profile(ref: str, path: Path, rules_dir: str | Path | None, doc: Document) -> RuleSet:
    """A path is relative to the test file; a name is looked up in `rules_dir`, or beside the tests' folder
    (rules/ for rules/tests/), then among the shipped profiles."""
    try:
        if ref.endswith((".yaml", ".yml")):
            target = Path(ref) if Path(ref).is_absolute() else path.parent / ref
            return load_rules(target)
        near = Path(rules_dir) if rules_dir is not None else path.parent.parent
        return load_rules(_find(ref, near))
    except RuleError as exc:
        if exc.file and exc.file != ref:
            raise  # a fault inside the rule file: report it where it is
        line, col = doc.where(("profile",))
        raise RuleError(f"profile: {exc.reason}", file=doc.file, line=line, column=col) from None


def _flatten(obj: Mapping[str, Any], doc: Document, path: tuple) -> dict[str, Any]:
    """Nested metrics to dotted names with the evidence boundary's own rule (a name given twice is an error)."""
    try:
        return flatten(obj, doc.file)
    except InputError as exc:
        line, col = doc.where(path)
        raise RuleError(str(exc).removeprefix(f"{doc.file}: "), file=doc.file, line=line, column=col) from None


# -- running ------------------------------------------------------------------------------------

def run_rule_tests(paths: Iterable[str | Path] | None = None, *, rules_dir: str | Path | None = None,
                   select: str | None = None) -> TestReport:
    """Run every case in `paths` (default: `rules/tests/` in the working directory, which must exist).
    `select` keeps cases whose name contains it.

    >>> run_rule_tests(["rules/tests"]).failed
    0
    """
    files = discover(paths if paths is not None else [default_dir()])
    if not files:
        raise PicogateError("no rule-test files found (*.yaml under the given folders)")
    results: list[CaseResult] = []
    shown: list[str] = []
    for path in files:
        tf = load_test_file(path, rules_dir=rules_dir)
        shown.append(tf.file)
        for case in tf.cases:
            if select and select not in case.name:
                continue
            results.append(run_case(tf, case))
    return TestReport(results, shown)


def run_case(tf: TestFile, case: Case) -> CaseResult:
    """Judge one case's run with the file's profile and compare with what it expects."""
    metrics = {"run_id": case.name, **case.metrics}
    result = evaluate(metrics, tf.ruleset, stage=case.stage)
    checks = result.checks
    status = result.runs.get_column("status")[0]
    failing_rows = checks.filter(pl.col("effect") != "ok")
    failing = failing_rows.get_column("rule_id").to_list()
    by_id = {row["rule_id"]: row for row in checks.iter_rows(named=True)}
    out = CaseResult(tf.file, case.line, case.name, tf.ruleset.profile, status, failing)
    known = set(by_id) | {r.id for r in tf.ruleset.rules} | {NO_CHECK_PASSED}

    if status != case.status:
        out.problems.append(f"status: expected {case.status}, got {status}")
    if case.failing is not None:
        lines = []
        for rid in case.failing:
            if rid not in known:
                lines.append(f"  ? {rid:<32} no such rule in profile '{tf.ruleset.profile}'{_suggest(rid, known)}")
            elif rid not in failing:
                row = by_id.get(rid)
                why = "not judged at this stage" if row is None else f"{row['outcome']}, {_evidence(row)}"
                lines.append(f"  - {rid:<32} expected to fail, but it lets the run through ({why})")
        for rid in failing:
            if rid not in case.failing:
                row = by_id[rid]
                lines.append(f"  + {rid:<32} not expected: {row['effect']} ({row['outcome']}, {_evidence(row)})")
        if lines:
            out.problems.append("failing rules (- expected but not failing, + failing but not expected):")
            out.problems += lines
    for rid, want in case.outcomes.items():
        row = by_id.get(rid)
        if rid not in known:
            out.problems.append(f"outcome of {rid}: no such rule in profile '{tf.ruleset.profile}'"
                                f"{_suggest(rid, known)}")
        elif row is None:
            out.problems.append(f"outcome of {rid}: expected {want}, but the rule is not judged at this stage")
        elif row["outcome"] != want:
            out.problems.append(f"outcome of {rid}: expected {want}, got {row['outcome']} ({_evidence(row)})")
    return out


def _evidence(row: Mapping[str, Any]) -> str:
    return f"observed {row['observed']}, required {row['required']}"


def _suggest(rid: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(rid, sorted(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


# -- reports ------------------------------------------------------------------------------------

def to_text(report: TestReport, *, verbose: bool = False) -> str:
    """One line per failing case (and per passing one with `verbose`), its diff, then 'N passed, N failed'.

    Case names, file names and problems are escaped by `picogate.escape.text` (one line each, no `::`).
    """
    lines: list[str] = []
    current = None
    for r in report.results:
        if r.passed and not verbose:
            continue
        if r.file != current:
            lines.append(text(r.file))
            current = r.file
        where = f":{r.line}" if r.line else ""
        if r.passed:
            lines.append(f"  ok    {text(r.name)}")
            continue
        lines.append(f"  FAIL  {text(r.name)}  ({text(r.file)}{where}, profile {text(r.profile)})")
        lines += [f"        {text(p)}" for p in r.problems]
    lines.append(f"{report.passed} passed, {report.failed} failed")
    return "\n".join(lines) + "\n"


def to_markdown(report: TestReport) -> str:
    """A summary table of the failing cases (or the files run); names and problems escaped."""
    icon = VALID_ICON if report.ok else INVALID_ICON
    lines = [f"## {icon} picogate rule tests: {report.passed} passed, {report.failed} failed", ""]
    failed = [r for r in report.results if not r.passed]
    if failed:
        lines += ["| case | file | problems |", "|---|---|---|"]
        for r in failed:
            detail = "<br>".join(md(p.strip()) for p in r.problems)
            lines.append(f"| {md(r.name)} | {md_code(f'{r.file}:{r.line}')} | {detail} |")
    else:
        lines.append(f"{len(report.files)} file(s): {', '.join(md_code(f) for f in report.files)}")
    return "\n".join(lines) + "\n"


def to_junit_xml(report: TestReport) -> str:
    """One testsuite per file, one testcase per case; names and problems hold only XML-legal characters."""
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites", name="picogate.rule_tests")
    for file in report.files:
        rows = [r for r in report.results if r.file == file]
        suite = ET.SubElement(root, "testsuite", name=xml(file), tests=str(len(rows)),
                              failures=str(sum(not r.passed for r in rows)), errors="0")
        for r in rows:
            case = ET.SubElement(suite, "testcase", classname=f"picogate.rules.{xml(r.profile)}", name=xml(r.name),
                                 file=xml(file), line=str(r.line or 0))
            if not r.passed:
                ET.SubElement(case, "failure", message=xml(r.problems[0])).text = "\n".join(map(xml, r.problems))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
