# .venv/bin/python -m pytest tests/policy/test_policy_ruletests.py -q
"""`picogate rules test`: rule tests as data, the shipped tests, the diff shown on failure, exit codes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import pytest
from policy_support import REPO, rules_main, rules_process

from picogate.errors import RuleError
from picogate.policy.ruletests import load_test_file, run_rule_tests, to_junit_xml, to_text


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    """A rules folder with one profile and its tests folder, like rules/ and rules/tests/."""
    write(tmp_path / "rules" / "gate.yaml", """
        profile: gate
        metrics:
          score: {type: float, description: a score}
          ok_flag: {type: bool, description: a flag}
        rules:
          - id: score.min
            stage: postrun
            severity: block
            check: score >= 0.5
            message: "score {observed}"
            fix: train more
          - id: flag.set
            stage: postrun
            severity: warn
            check: ok_flag == true
            message: flag unset
            fix: set the flag
        """)
    return tmp_path / "rules"


def test_shipped_rule_tests_all_pass():
    report = run_rule_tests([REPO / "rules" / "tests"])
    assert report.failed == 0, to_text(report)
    assert report.passed >= 30
    assert {r.profile for r in report.results} >= {"release", "skill_release"}


def test_every_shipped_profile_has_tests():
    profiles = set()
    for f in (REPO / "rules").glob("*.yaml"):
        first = next(line for line in f.read_text().splitlines() if line.startswith("profile:"))
        profiles.add(first.split(":", 1)[1].strip())
    tested = {load_test_file(f).ruleset.profile for f in (REPO / "rules" / "tests").glob("*.yaml")}
    assert profiles <= tested, f"profiles without rule tests: {sorted(profiles - tested)}"


def test_passing_and_failing_cases_with_diff(suite: Path):
    write(suite / "tests" / "gate_test.yaml", """
        profile: gate
        base: {score: 0.9, ok_flag: true}
        cases:
          - name: good run
            expect: {status: approved, failing: []}
          - name: wrong expectation
            metrics: {score: 0.4, ok_flag: false}
            expect: {status: warn, failing: [flag.set, score.mn], outcomes: {score.min: missing}}
        """)
    report = run_rule_tests([suite / "tests"])
    assert (report.passed, report.failed) == (1, 1)
    text = to_text(report)
    assert "FAIL  wrong expectation" in text and "gate_test.yaml:6" in text
    assert "status: expected warn, got blocked" in text
    assert "? score.mn" in text and "did you mean 'score.min'" in text
    assert "+ score.min" in text and "observed 0.4, required >= 0.5" in text
    assert "outcome of score.min: expected missing, got fail" in text
    assert text.rstrip().endswith("1 passed, 1 failed")
    junit = to_junit_xml(report)
    assert 'failures="1"' in junit and "wrong expectation" in junit


def test_expected_failing_rule_that_passes_is_reported(suite: Path):
    write(suite / "tests" / "t.yaml", """
        profile: gate
        cases:
          - name: flag off only
            metrics: {score: 0.9, ok_flag: false}
            expect: {status: warn, failing: [flag.set, score.min]}
        """)
    report = run_rule_tests([suite / "tests"])
    (r,) = report.results
    assert "  - score.min" in "\n".join(r.problems) and "pass, observed 0.9" in "\n".join(r.problems)


def test_fail_closed_cases_as_data(suite: Path):
    """null, NaN (quoted: strict YAML refuses .nan), absent and unreadable evidence never approve."""
    write(suite / "tests" / "t.yaml", """
        profile: gate
        base: {score: 0.9, ok_flag: true}
        cases:
          - {name: null score, metrics: {score: null}, expect: {status: blocked, outcomes: {score.min: missing}}}
          - {name: nan score, metrics: {score: "nan"}, expect: {status: blocked, outcomes: {score.min: missing}}}
          - {name: absent score, drop: [score], expect: {status: blocked, outcomes: {score.min: missing}}}
          - {name: text score, metrics: {score: "high"}, expect: {status: blocked, outcomes: {score.min: error}}}
          - name: nothing at all
            drop: [score, ok_flag]
            expect: {status: blocked, failing: [flag.set, score.min]}
        """)
    report = run_rule_tests([suite / "tests"])
    assert report.failed == 0, to_text(report)


def test_nested_metrics_and_stage(suite: Path, tmp_path: Path):
    write(suite / "tests" / "t.yaml", """
        profile: gate
        stage: preflight
        cases:
          - name: no preflight rules means nothing passed
            metrics: {score: 1.0}
            expect: {status: blocked, failing: [picogate.nothing_passed]}
          - name: postrun stage
            stage: postrun
            metrics: {score: 1.0, ok_flag: true}
            expect: {status: approved, failing: []}
        """)
    assert run_rule_tests([suite / "tests"]).failed == 0


def test_profile_by_path_and_rules_dir(suite: Path, tmp_path: Path):
    write(tmp_path / "elsewhere" / "t.yaml", """
        profile: ../rules/gate.yaml
        cases: [{name: a, metrics: {score: 1, ok_flag: true}, expect: {status: approved}}]
        """)
    write(tmp_path / "elsewhere2" / "t.yaml", """
        profile: gate
        cases: [{name: a, metrics: {score: 1, ok_flag: true}, expect: {status: approved}}]
        """)
    assert run_rule_tests([tmp_path / "elsewhere"]).failed == 0
    assert run_rule_tests([tmp_path / "elsewhere2"], rules_dir=suite).failed == 0
    with pytest.raises(RuleError, match=r"t\.yaml:1:1: profile: no profile named 'gate'"):
        run_rule_tests([tmp_path / "elsewhere2"])


@pytest.mark.parametrize(("body", "where", "reason"), [
    ("profile: gate\ncases:\n  - name: a\n    expect: {status: approved}\n    metrcs: {score: 1}\n",
     ":5:5", "unknown key 'metrcs' (did you mean 'metrics'?)"),
    ("profile: gate\ncases:\n  - name: a\n    expect: {status: aproved}\n", ":4:14", "'aproved' is not one of"),
    ("profile: gate\ncases:\n  - name: a\n    name: b\n    expect: {status: approved}\n", ":4:5", "duplicate key"),
    ("profile: gate\ncases:\n  - name: a\n    expect: {status: approved}\n  - name: a\n    expect: {status: warn}\n",
     ":5", "duplicate case name 'a'"),
    ("profile: gate\ncases:\n  - name: a\n    drop: [nope]\n    expect: {status: approved}\n", ":4", "not in base"),
    ("profile: gate\ncases:\n  - name: a\n    metrics: {score: no}\n    expect: {status: approved}\n", ":4:22",
     "ambiguous"),
    ("profile: gate\ncases: []\n", ":2:1", "should be non-empty"),
    ("- just a list\n", ":1", "must be a mapping"),
])
def test_bad_test_files_name_file_line_column(suite: Path, body: str, where: str, reason: str):
    path = suite / "tests" / "bad.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(body)
    with pytest.raises(RuleError) as info:
        load_test_file(path)
    assert f"bad.yaml{where}" in str(info.value) and reason in str(info.value)


def test_cli_exit_codes(suite: Path, tmp_path: Path, capsys):
    good = write(suite / "tests" / "good.yaml", """
        profile: gate
        cases: [{name: a, metrics: {score: 1, ok_flag: true}, expect: {status: approved, failing: []}}]
        """)
    bad = write(tmp_path / "failing" / "bad.yaml", f"""
        profile: {suite / 'gate.yaml'}
        cases: [{{name: b, metrics: {{score: 0.1, ok_flag: true}}, expect: {{status: approved}}}}]
        """)
    broken = write(tmp_path / "broken" / "x.yaml", "profile: gate\ncases: [{name: a}]\n")
    assert rules_main("test", good) == 0
    assert rules_main("test", bad) == 1
    assert rules_main("test", broken) == 2
    assert rules_main("test", good, "--run", "no such case") == 1
    capsys.readouterr()
    assert rules_main("test", good, bad, "--format", "json") == 1
    data = json.loads(capsys.readouterr().out)
    assert (data["passed"], data["failed"]) == (1, 1)


def test_cli_process_one_line_error_and_github_annotations(tmp_path: Path):
    broken = write(tmp_path / "broken" / "x.yaml", "profile: gate\ncases: [{name: a}]\n")
    proc = rules_process("test", broken)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "x.yaml:2" in proc.stderr
    failing = write(tmp_path / "f" / "t.yaml", f"""
        profile: {REPO / 'rules' / 'release.yaml'}
        stage: preflight
        cases: [{{name: undertrained, metrics: {{planned_to_target_ratio: 0.4}}, expect: {{status: approved}}}}]
        """)
    summary = tmp_path / "summary.md"
    proc = rules_process("test", failing, env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert proc.returncode == 1
    assert "::error file=" in proc.stdout and ",line=3," in proc.stdout
    assert "rule test 'undertrained' failed" in proc.stdout
    assert "picogate rule tests: 0 passed, 1 failed" in summary.read_text()


def test_shipped_test_files_reference_their_schema_and_validate():
    schema = json.loads((REPO / "schemas" / "rule_tests.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    files = sorted((REPO / "rules" / "tests").glob("*.yaml"))
    assert files
    for f in files:
        first = f.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../../schemas/rule_tests.schema.json", f
        assert (f.parent / first.split("=", 1)[1]).resolve() == (REPO / "schemas" / "rule_tests.schema.json")


def test_a_metric_given_nested_and_dotted_in_a_case_is_an_error(tmp_path: Path):
    """Rule-test metrics flatten through the evidence boundary: a name given twice is refused, never last-wins."""
    path = tmp_path / "twice_test.yaml"
    path.write_text("profile: release\nstage: preflight\nbase: {model.params: 1}\ncases:\n"
                    "  - name: twice\n    metrics:\n      launch.world_size: 2\n      launch: {world_size: 3}\n"
                    "    expect: {status: blocked}\n")
    with pytest.raises(RuleError, match=r"twice_test\.yaml:6:\d+: 'launch\.world_size' is given twice"):
        load_test_file(path)
