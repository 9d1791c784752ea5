# .venv/bin/python -m pytest tests/policy/test_policy_show_github.py -q
"""`picogate rules show`, GitHub annotations and job summary, the pre-commit hooks, editor schemas."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from policy_support import REPO, rules_main, rules_process

from picogate.policy.github import annotation, append_step_summary
from picogate.policy.show import show
from picogate.yamlstrict import load_file


def test_show_skill_release_lists_inherited_and_per_category_rules():
    text = show("skill_release", fmt="text")
    assert "profile skill_release" in text
    for rid in ("budget.planned_to_target", "skill.pass_rate.math", "coverage.sft.identity"):
        assert rid in text
    md = show("skill_release", fmt="markdown")
    assert "| `skill.pass_rate.math` | postrun | block | `eval.math.pass_rate >= 0.3` | >= 0.3 |" in md
    assert "| `budget.planned_to_target` | preflight | block | `planned_to_target_ratio >= 0.9` | >= 0.9 |" in md
    assert "rules/release.yaml" in md and "rules/skill_release.yaml" in md
    data = json.loads(show("skill_release", fmt="json", stage="postrun"))
    assert {r["stage"] for r in data["rules"]} == {"postrun"}
    math_rule = next(r for r in data["rules"] if r["id"] == "skill.pass_rate.math")
    assert math_rule["threshold"] == ">= 0.3" and "math" in math_rule["fix"]


def test_show_marks_overrides(tmp_path: Path, capsys):
    child = tmp_path / "child.yaml"
    child.write_text("profile: child\nextends: [release]\nrules:\n"
                     "  - {id: budget.planned_to_target, stage: preflight, severity: warn,"
                     " check: 'planned_to_target_ratio >= 0.5', message: m, fix: f}\n")
    assert rules_main("show", child, "--format", "markdown") == 0
    md = capsys.readouterr().out
    assert "- `budget.planned_to_target` from rules/release.yaml:" in md and "is overridden by" in md
    assert "| `budget.planned_to_target` | preflight | warn | `planned_to_target_ratio >= 0.5` | >= 0.5 |" in md
    assert "(overrides rules/release.yaml:" in md
    assert rules_main("show", child) == 0
    text = capsys.readouterr().out
    assert "note: rule budget.planned_to_target" in text and "warn*" in text
    assert rules_main("show", "no_such_profile") == 2


def test_annotation_escaping():
    assert annotation("error", "a%b\nc", file="r,x:y.yaml", line=3, col=4, title="t: u") == \
        "::error file=r%2Cx%3Ay.yaml,line=3,col=4,title=t%3A u::a%25b%0Ac"
    assert annotation("warning", "plain") == "::warning::plain"
    with pytest.raises(ValueError):
        annotation("fatal", "x")


def test_rules_check_github_annotations_and_summary(tmp_path: Path, monkeypatch, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("profile: t\nrules:\n  - id: a.b\n    stage: postrun\n    severity: block\n"
                   "    check: eval.math.pass_rte >= 0.3\n    message: m\n    fix: f\n")
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code = rules_main("check", bad, "release", "--format", "github")
    out, err = capsys.readouterr()
    assert code == 2
    line = next(x for x in out.splitlines() if x.startswith("::error"))
    assert line.startswith("::error file=") and "bad.yaml,line=6,col=12,title=picogate rules check::" in line
    assert "rule 'a.b': unknown metric 'eval.math.pass_rte' (did you mean 'eval.math.pass_rate'?)" in line
    assert "ok release: profile 'release'" in out and "bad.yaml:6:12" in err
    text = summary.read_text()
    assert "picogate rules check: 1 invalid file(s)" in text and "| `release` | ✅ profile `release`" in text
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    assert append_step_summary("x") is False
    assert rules_main("check", "release", "--format", "text") == 0
    assert "::" not in capsys.readouterr().out


def test_rules_check_github_is_automatic_under_actions(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("profile: t\nrules:\n  - id: a\n    severty: block\n")
    proc = rules_process("check", bad, env={"GITHUB_ACTIONS": "true"})
    assert proc.returncode == 2 and "::error file=" in proc.stdout and "unknown key 'severty'" in proc.stdout
    proc = rules_process("check", bad)
    assert proc.returncode == 2 and "::error" not in proc.stdout


def test_pre_commit_hooks_file():
    hooks = load_file(REPO / ".pre-commit-hooks.yaml").data
    by_id = {h["id"]: h for h in hooks}
    assert by_id["picogate-rules-check"]["entry"] == "picogate rules check"
    assert by_id["picogate-rules-test"]["entry"] == "picogate rules test"
    assert by_id["picogate-rules-test"]["pass_filenames"] is False
    for h in hooks:
        assert {"id", "name", "entry", "language"} <= set(h) and h["language"] == "python"


def test_shipped_rule_files_reference_the_rules_schema_and_validate():
    """yaml-language-server reads the first-line comment; the path must resolve from the file."""
    schema_path = REPO / "schemas" / "rules.schema.json"
    schema = json.loads(schema_path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    for f in sorted((REPO / "rules").glob("*.yaml")):
        first = f.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../schemas/rules.schema.json", f
        assert (f.parent / first.split("=", 1)[1]).resolve() == schema_path.resolve()
        jsonschema.validate(load_file(f).data, schema)
