# .venv/bin/python -m pytest -q -p no:cacheprovider tests/output/test_formats.py
"""One output vocabulary (issue 12): every command that judges or checks, in every format, through the real
CLI (`picogate.cli.main`): preflight, postrun, evaluate, rules check, rules test, rules diff.

`--out FILE` writes exactly what stdout shows in the chosen format; SARIF is valid against the official
SARIF 2.1.0 JSON Schema, vendored as tests/output/sarif-schema-2.1.0.json (no network at test time) from
https://github.com/oasis-tcs/sarif-spec, sarif-2.1/schema/sarif-schema-2.1.0.json (the OASIS errata01
schema, https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json);
JUnit parses; `github` is one located `::error`/`::warning` per finding; under GitHub Actions the
markdown report goes to the job summary.
"""

from __future__ import annotations

import importlib.util
import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from output_support import command_lines, github_annotations, parse_junit, validate_sarif

from picogate.cli import main

REPO = Path(__file__).resolve().parents[2]
FORMATS = ("text", "json", "markdown", "junit", "github", "sarif")


@dataclass(frozen=True)
class Command:
    argv: list[str]
    code: int  # the exit status every format must give
    findings: int  # non-passing checks / invalid files / failing cases / rules that move runs
    blocks: bool  # whether some findings are errors (else all are warnings)


def cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `picogate ARGV` run in this process."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _profile(folder: Path, name: str, rules: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(rules).lstrip("\n"), encoding="utf-8")
    return path


def _postrun_support() -> object:
    """tests/postrun/conftest.py's run-directory builder (a scripted model recorded as a trainer would)."""
    pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location("postrun_runs", REPO / "tests" / "postrun" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("formats")
    (d / "typo.yaml").write_text("profile: t\nrules:\n  - id: a.b\n    stage: postrun\n    severity: block\n"
                                 "    check: x >= 0.5 garbage\n    message: m\n    fix: f\n")
    (d / "cases").mkdir()
    (d / "cases" / "t.yaml").write_text(textwrap.dedent(f"""
        profile: {REPO / 'rules' / 'release.yaml'}
        stage: preflight
        cases:
          - {{name: undertrained, metrics: {{planned_to_target_ratio: 0.4}}, expect: {{status: approved}}}}
          - {{name: fine, metrics: {{planned_to_target_ratio: 0.4}}, expect: {{status: blocked}}}}
        """).lstrip("\n"))
    head = ("profile: p\nmetrics:\n  score: {type: float, description: a score}\n"
            "  loss: {type: float, description: a loss}\nrules:\n")
    rule = "  - {{id: {}, stage: postrun, severity: {}, check: '{}', message: '{{observed}}', fix: f}}\n"
    (d / "old.yaml").write_text(head + rule.format("score.min", "block", "score >= 0.3")
                                + rule.format("loss.max", "warn", "loss < 3"))
    (d / "new.yaml").write_text(head + rule.format("score.min", "block", "score >= 0.35")
                                + rule.format("loss.max", "warn", "loss < 2"))
    pl.DataFrame({"run_id": ["r-ok", "r-edge", "r-loss"], "score": [0.9, 0.30, 0.9],
                  "loss": [1.0, 1.0, 2.5]}).write_parquet(d / "history.parquet")
    return d


@pytest.fixture(scope="module")
def blocked_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recorded run whose math answers are wrong: the release gate blocks it on skill.pass_rate.math."""
    support = _postrun_support()
    root = tmp_path_factory.mktemp("run")
    return support.record_run(root / "run", support.make_data(root / "data"), wrong=("math",), run_id="weak-math")


def _evaluate_findings() -> int:
    from picogate.evaluate import evaluate

    return evaluate(REPO / "examples" / "metrics.jsonl", "skill_release").failing().height


COMMANDS: dict[str, Callable[[Path, Callable[[], Path]], Command]] = {
    "evaluate": lambda d, run: Command(["evaluate", REPO / "examples" / "metrics.jsonl", "--rules", "skill_release"],
                                       1, _evaluate_findings(), True),
    "preflight": lambda d, run: Command(["preflight", REPO / "examples" / "plan_undertrained.yaml", "-q",
                                         "--results", d / "pf.json"], 1, -1, True),
    "postrun": lambda d, run: Command(["postrun", run(), "--no-files"], 1, -1, True),
    "rules check": lambda d, run: Command(["rules", "check", *sorted((REPO / "rules").glob("*.yaml")),
                                           d / "typo.yaml"], 2, 1, True),
    "rules test": lambda d, run: Command(["rules", "test", REPO / "rules" / "tests", d / "cases"], 1, 1, True),
    "rules diff": lambda d, run: Command(["rules", "diff", d / "old.yaml", d / "new.yaml", "--history",
                                          d / "history.parquet"], 0, 2, False),
}


@pytest.fixture
def command(request: pytest.FixtureRequest, files: Path) -> Command:
    return COMMANDS[request.param](files, lambda: request.getfixturevalue("blocked_run"))


def _check(fmt: str, out: str, cmd: Command) -> None:
    """What each format must be, on any command."""
    assert out.strip(), fmt
    if fmt == "github":
        found = github_annotations(out)
        if cmd.findings >= 0:
            assert len(found) == cmd.findings, out
        errors = [line for line in found if line.startswith("::error ")]
        assert found and bool(errors) == cmd.blocks
        assert not out.splitlines()[-1].startswith("::")  # a closing summary line
        return
    assert not command_lines(out), (fmt, out)  # no other format contains a workflow command
    if fmt == "json":
        json.loads(out)
    elif fmt == "markdown":
        assert out.lstrip().startswith("#")
    elif fmt == "junit":
        root = parse_junit(out)
        bad = len(list(root.iter("failure"))) + len(list(root.iter("error")))
        assert (bad > 0) == cmd.blocks, out
    elif fmt == "sarif":
        log = validate_sarif(out)
        results = log["runs"][0]["results"]
        if cmd.findings >= 0:
            assert len(results) == cmd.findings
        assert results and ("error" in {r["level"] for r in results}) == cmd.blocks
        for r in results:
            region = r["locations"][0]["physicalLocation"]["region"]
            assert region["startLine"] >= 1
            assert r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(".yaml")


@pytest.mark.parametrize("command", list(COMMANDS), indirect=True)
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_on_every_command_and_out_writes_it(command: Command, fmt: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    out_file = tmp_path / "deep" / f"report.{fmt}"
    code, out, err = cli([*command.argv, "--format", fmt, "--out", out_file], capsys)
    assert code == command.code, err
    _check(fmt, out, command)
    assert out_file.read_text(encoding="utf-8") == out  # --out is exactly the chosen format
    assert not [p for p in out_file.parent.iterdir() if p.name.startswith(".")]  # atomic: no temp file left


@pytest.mark.parametrize("command", list(COMMANDS), indirect=True)
def test_job_summary_and_github_default_under_actions(command: Command, tmp_path: Path, monkeypatch,
                                                      capsys: pytest.CaptureFixture) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, _ = cli(command.argv, capsys)  # no --format: github under Actions
    assert code == command.code
    assert github_annotations(out)
    first = summary.read_text(encoding="utf-8")
    assert first.startswith("#") and not command_lines(first)
    code, out, _ = cli([*command.argv, "--format", "json"], capsys)  # an explicit format is kept as asked
    assert code == command.code and not command_lines(out)
    json.loads(out)
    assert summary.read_text(encoding="utf-8") == first * 2  # appended again: GitHub's protocol


def test_annotations_point_at_the_failing_rule(files: Path, capsys: pytest.CaptureFixture) -> None:
    from picogate.rules import load_rules

    code, out, _ = cli(["evaluate", REPO / "examples" / "metrics.jsonl", "--rules", "skill_release", "-f", "github"],
                    capsys)
    assert code == 1
    gate = next(r for r in load_rules("skill_release").rules if r.id == "skill.pass_rate.math")
    line = next(a for a in github_annotations(out) if "skill.pass_rate.math::run d26-weak-math" in a)
    assert line.startswith(f"::error file={gate.source.file},line={gate.source.line},col={gate.source.column},")
    assert "required >= 0.3" in line and "%0Afix: " in line
    assert out.splitlines()[-1].startswith("picogate evaluate: blocked (profile skill_release")
    log = validate_sarif(cli(["evaluate", REPO / "examples" / "metrics.jsonl", "--rules", "skill_release",
                              "-f", "sarif"], capsys)[1])
    driver = log["runs"][0]["tool"]["driver"]
    rule = next(r for r in driver["rules"] if r["id"] == "skill.pass_rate.math")
    assert rule["help"]["text"] == gate.fix and rule["defaultConfiguration"]["level"] == "error"
    assert rule["shortDescription"]["text"] == gate.message.replace("{", "{{").replace("}", "}}")  # SARIF 3.11.5
    result = next(r for r in log["runs"][0]["results"]
                  if r["ruleId"] == "skill.pass_rate.math" and r["properties"]["run_id"] == "d26-weak-math")
    assert result["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": gate.source.file},
        "region": {"startLine": gate.source.line, "startColumn": gate.source.column}}
    assert "run d26-weak-math" in result["message"]["text"] and "required >= 0.3" in result["message"]["text"]


@pytest.fixture
def warn_rules(tmp_path: Path) -> Path:
    """One passing block rule and one failing warn rule per stage: every run judged with it is `warn`."""
    return _profile(tmp_path, "warn.yaml", """
        profile: warn_only
        rules:
          - {id: budget.ok, stage: preflight, severity: block, check: "planned_to_target_ratio >= 0",
             message: m, fix: f}
          - {id: budget.generous, stage: preflight, severity: warn, check: "planned_to_target_ratio >= 5",
             message: "planned {observed}", fix: "plan more"}
          - {id: math.ok, stage: postrun, severity: block, check: "eval.math.pass_rate >= 0", message: m, fix: f}
          - {id: math.perfect, stage: postrun, severity: warn, check: "eval.math.pass_rate > 1",
             message: "math {observed}", fix: "be perfect"}
        """)


WARN_ONLY: dict[str, Callable[[Path, Path, Callable[[], Path]], list]] = {
    "evaluate": lambda rules, d, run: ["evaluate", d / "m.jsonl", "--rules", rules],
    "preflight": lambda rules, d, run: ["preflight", REPO / "examples" / "plan.yaml", "-q", "--profile", rules,
                                        "--results", d / "pf.json"],
    "postrun": lambda rules, d, run: ["postrun", run(), "--no-files", "--profile", rules],
}


@pytest.mark.parametrize("name", list(WARN_ONLY))
def test_a_warn_only_run_is_not_a_failure(name: str, warn_rules: Path, tmp_path: Path, request,
                                          capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "m.jsonl").write_text('{"run_id": "a", "planned_to_target_ratio": 1.0, "eval.math.pass_rate": 0.5}\n'
                                      '{"run_id": "b", "planned_to_target_ratio": 2.0, "eval.math.pass_rate": 0.9}\n')
    argv = WARN_ONLY[name](warn_rules, tmp_path, lambda: request.getfixturevalue("blocked_run"))
    code, out, _ = cli([*argv, "--format", "junit"], capsys)
    assert code == 0, out
    root = parse_junit(out)
    assert not list(root.iter("failure")) and not list(root.iter("error"))
    skipped = list(root.iter("skipped"))
    assert skipped and all(s.get("message", "").startswith("warning (fail)") for s in skipped)
    code, out, _ = cli([*argv, "--format", "github"], capsys)
    assert code == 0 and all(line.startswith("::warning ") for line in github_annotations(out))
    log = validate_sarif(cli([*argv, "--format", "sarif"], capsys)[1])
    assert {r["level"] for r in log["runs"][0]["results"]} == {"warning"}
    assert cli([*argv, "--fail-on", "warn"], capsys)[0] == 1


def test_preflight_out_is_the_report_and_results_the_evidence(tmp_path: Path, capsys) -> None:
    """`preflight --format junit --out X` once wrote JSON to X; now X is the JUnit report, the evidence JSON
    goes beside the plan or to --results."""
    results, report = tmp_path / "pf.json", tmp_path / "pf.xml"
    code, out, _ = cli(["preflight", REPO / "examples" / "plan_undertrained.yaml", "-q", "--format", "junit",
                     "--out", report, "--results", results], capsys)
    assert code == 1 and report.read_text() == out
    assert parse_junit(report.read_text()).find("testsuite").get("failures") != "0"
    evidence = json.loads(results.read_text())
    assert evidence["status"] == "blocked" and evidence["evidence"]["model.params"] == 40_000


def test_postrun_reports_folder_and_out_file(blocked_run: Path, tmp_path: Path, capsys) -> None:
    code, out, _ = cli(["postrun", blocked_run, "--format", "sarif", "--out", tmp_path / "gate.sarif",
                     "--reports", tmp_path / "reports"], capsys)
    assert code == 1 and (tmp_path / "gate.sarif").read_text() == out
    assert {p.name for p in (tmp_path / "reports").iterdir()} >= {"report.md", "skills.svg", "postrun.json"}
    ids = {r["ruleId"] for r in validate_sarif(out)["runs"][0]["results"]}
    assert "skill.pass_rate.math" in ids
    code, _, err = cli(["postrun", blocked_run, "--no-files", "--out", tmp_path / "reports"], capsys)
    assert code == 2 and "--out" in err  # a folder is refused by name, nothing written


def test_rules_diff_fails_on_change_as_errors(files: Path, capsys) -> None:
    argv = ["rules", "diff", files / "old.yaml", files / "new.yaml", "--history", files / "history.parquet",
            "--fail-on-change"]
    code, out, _ = cli([*argv, "--format", "github"], capsys)
    assert code == 1
    found = github_annotations(out)
    assert len(found) == 2 and all(line.startswith("::error ") for line in found)
    assert any("rule score.min moves 1 past run(s) from ok to block" in line for line in found)
    code, out, _ = cli([*argv, "--format", "junit"], capsys)
    root = parse_junit(out)
    assert code == 1 and len(list(root.iter("failure"))) == 2 and not list(root.iter("skipped"))
