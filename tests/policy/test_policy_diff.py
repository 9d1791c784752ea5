# .venv/bin/python -m pytest tests/policy/test_policy_diff.py -q
"""`picogate rules diff`: a rule change previewed over past runs, in one pass, agreeing with two evaluations."""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
import textwrap
from pathlib import Path

import polars as pl
import pytest
from policy_support import rules_main

from picogate.evaluate import evaluate
from picogate.policy.diff import diff_rules
from picogate.policy.gitref import materialize

METRICS = """
metrics:
  score: {type: float, description: a score}
  loss: {type: float, description: a loss}
  tag: {type: string, description: a tag}
"""


def profile(tmp_path: Path, name: str, rules: str, metrics: str = METRICS) -> Path:
    path = tmp_path / name
    path.write_text(f"profile: p\n{textwrap.dedent(metrics).strip()}\nrules:\n{textwrap.dedent(rules)}")
    return path


def rule(rid: str, check: str, severity: str = "block", missing: str = "fail") -> str:
    return (f"  - {{id: {rid}, stage: postrun, severity: {severity}, missing: {missing}, check: \"{check}\", "
            f"message: m, fix: f}}\n")


HISTORY = pl.DataFrame({
    "run_id": ["r-ok", "r-edge", "r-low", "r-null", "r-warn"],
    "score": [0.9, 0.30, 0.1, None, 0.8],
    "loss": [2.0, 2.0, 2.0, 2.0, 3.5],
})


def test_a_stricter_threshold_flips_a_historical_run(tmp_path: Path):
    old = profile(tmp_path, "old.yaml", rule("score.min", "score >= 0.3") + rule("loss.max", "loss < 3", "warn"))
    new = profile(tmp_path, "new.yaml", rule("score.min", "score >= 0.35") + rule("loss.max", "loss < 3", "warn"))
    d = diff_rules(old, new, HISTORY)
    assert d.total_runs == 5
    assert d.changed.to_dicts() == [{"run_id": "r-edge", "old": "approved", "new": "blocked",
                                     "causes": ["score.min"]}]
    assert d.transitions.to_dicts() == [{"old": "approved", "new": "blocked", "runs": 1}]
    assert d.impact.to_dicts() == [{"rule_id": "score.min", "before": "ok", "after": "block", "runs": 1}]
    assert [(c.rule_id, c.change) for c in d.rule_changes] == [("score.min", "changed")]
    md = d.to_markdown()
    assert "1 of 5 past runs change verdict (1 stricter, 0 looser)" in md
    assert "| `r-edge` | ✅ approved | ⛔ blocked | `score.min`: pass → fail, observed 0.3, " \
           "required >= 0.35 (was >= 0.3) |" in md
    assert "| ✅ approved | ⛔ blocked | 1 |" in md


def test_loosening_severity_and_new_and_removed_rules(tmp_path: Path):
    old = profile(tmp_path, "old.yaml", rule("score.min", "score >= 0.3") + rule("loss.max", "loss < 3", "warn")
                  + rule("tag.known", "tag in ['a', 'b']", "warn", missing="pass"))
    new = profile(tmp_path, "new.yaml", rule("score.min", "score >= 0.3", "warn") + rule("loss.cap", "loss < 3.2"))
    d = diff_rules(old, new, HISTORY)
    got = {r["run_id"]: (r["old"], r["new"], sorted(r["causes"])) for r in d.changed.to_dicts()}
    assert got == {
        "r-low": ("blocked", "warn", ["score.min"]),
        "r-null": ("blocked", "warn", ["score.min"]),
        "r-warn": ("warn", "blocked", ["loss.cap", "loss.max"]),
    }
    changes = {c.rule_id: c.change for c in d.rule_changes}
    assert changes == {"score.min": "changed", "loss.max": "removed", "tag.known": "removed", "loss.cap": "added"}
    text = d.to_text()
    assert "loss.cap (new rule): fail, observed 3.5, required < 3.2" in text
    assert "loss.max (removed): was fail" in text


def test_identical_rules_change_nothing(tmp_path: Path):
    old = profile(tmp_path, "old.yaml", rule("score.min", "score >= 0.3"))
    d = diff_rules(old, old, HISTORY)
    assert d.n_changed == 0 and d.rule_changes == [] and d.impact.height == 0
    assert "no run changes verdict (5 past runs judged)" in d.to_markdown()


def test_a_metric_redeclared_with_another_type_is_read_per_set(tmp_path: Path):
    old = profile(tmp_path, "old.yaml", rule("tag.ok", "tag == 'x'"), "metrics:\n  tag: {type: string, description: t}")
    new = profile(tmp_path, "new.yaml", rule("tag.ok", "tag >= 1"), "metrics:\n  tag: {type: float, description: t}")
    hist = pl.DataFrame({"run_id": ["a", "b", "c"], "tag": ["x", "2", "0"]})
    d = diff_rules(old, new, hist)
    got = {r["run_id"]: (r["old"], r["new"]) for r in d.changed.to_dicts()}
    assert got == {"a": ("approved", "blocked"), "b": ("blocked", "approved")}  # 'x' is unreadable as a number


@pytest.mark.parametrize("seed", range(6))
def test_one_pass_agrees_with_two_separate_evaluations(tmp_path: Path, seed: int):
    """Differential: random thresholds, severities and missing-policies over data with nulls and NaN."""
    rng = random.Random(seed)

    def ruleset(name: str) -> Path:
        body = ""
        for i in range(6):
            metric = rng.choice(["score", "loss"])
            op = rng.choice([">=", "<", "<=", ">"])
            check = f"{metric} {op} {rng.choice([0.2, 0.5, 1.0, 2.5, 3.0])}"
            if rng.random() < 0.2:
                check = f"{check} or loss / score > 10"
            body += rule(f"r{i}", check, rng.choice(["block", "warn"]), rng.choice(["fail", "warn", "pass"]))
        return profile(tmp_path, name, body)

    old, new = ruleset("old.yaml"), ruleset("new.yaml")
    n = 300
    hist = pl.DataFrame({
        "run_id": [f"r{i}" for i in range(n)],
        "score": [rng.choice([None, math.nan, 0.0, rng.random(), rng.random() * 3]) for _ in range(n)],
        "loss": [rng.choice([None, rng.random() * 4, 3.0]) for _ in range(n)],
    })
    d = diff_rules(old, new, hist)
    a, b = evaluate(hist, old), evaluate(hist, new)
    want = a.runs.select("run_id", pl.col("status").alias("old")).join(
        b.runs.select("run_id", pl.col("status").alias("new")), on="run_id", maintain_order="left") \
        .filter(pl.col("old") != pl.col("new"))
    assert d.changed.select("run_id", "old", "new").equals(want)
    effects = a.checks.select("run_id", "rule_id", pl.col("effect").cast(pl.String).alias("o")).join(
        b.checks.select("run_id", "rule_id", pl.col("effect").cast(pl.String).alias("n")),
        on=["run_id", "rule_id"], how="full", coalesce=True).filter(pl.col("rule_id") != "picogate.nothing_passed")
    moved = effects.with_columns(pl.col("o", "n").fill_null("ok")).filter(pl.col("o") != pl.col("n"))
    for row in d.changed.iter_rows(named=True):
        expect = sorted(moved.filter(pl.col("run_id") == row["run_id"]).get_column("rule_id").to_list())
        assert sorted(row["causes"]) == expect


def test_history_file_formats_and_cli(tmp_path: Path, capsys):
    old = profile(tmp_path, "old.yaml", rule("score.min", "score >= 0.3"))
    new = profile(tmp_path, "new.yaml", rule("score.min", "score >= 0.35"))
    HISTORY.write_parquet(tmp_path / "runs.parquet")
    assert rules_main("diff", old, new, "--history", tmp_path / "runs.parquet") == 0
    out = capsys.readouterr().out
    assert "1 of 5 past runs change verdict" in out and "r-edge: approved -> blocked" in out
    assert rules_main("diff", old, new, "--history", tmp_path / "runs.parquet", "--fail-on-change") == 1
    capsys.readouterr()
    report = tmp_path / "pr-comment.md"
    assert rules_main("diff", old, new, "--history", tmp_path / "runs.parquet", "-f", "markdown", "-o", report) == 0
    assert report.read_text() == capsys.readouterr().out
    assert rules_main("diff", old, new, "--history", tmp_path / "runs.parquet", "-f", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["changed"] == 1 and data["changed_runs"][0]["causes"] == ["score.min"]
    assert rules_main("diff", old, new, "--history", tmp_path / "nope.parquet") == 2
    assert "nope.parquet" in capsys.readouterr().err


def test_diff_against_a_git_revision(tmp_path: Path):
    """git:REV:path takes the file's whole folder at REV, so `extends` sees the parent as it was."""
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    repo = tmp_path / "repo"
    (repo / "rules").mkdir(parents=True)
    parent = profile(repo / "rules", "parent.yaml", rule("score.min", "score >= 0.3"))
    parent.write_text(parent.read_text().replace("profile: p", "profile: parent"))
    (repo / "rules" / "child.yaml").write_text("profile: child\nextends: [parent]\nrules:\n"
                                               + rule("loss.max", "loss < 3", "warn"))

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                       capture_output=True)

    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "base")
    parent.write_text(parent.read_text().replace(">= 0.3", ">= 0.35"))  # the pull request edits the parent
    cwd = os.getcwd()
    os.chdir(repo)
    try:
        old = materialize("git:HEAD:rules/child.yaml", tmp_path / "old")
        assert (tmp_path / "old" / "parent.yaml").read_text().count(">= 0.3\"") == 1
        d = diff_rules(old, "rules/child.yaml", HISTORY, old_label="git:HEAD:rules/child.yaml")
        assert d.changed.select("run_id", "causes").to_dicts() == [{"run_id": "r-edge", "causes": ["score.min"]}]
        assert "`git:HEAD:rules/child.yaml`" in d.to_markdown()
        HISTORY.write_parquet(tmp_path / "runs.parquet")
        assert rules_main("diff", "git:HEAD:rules/child.yaml", "rules/child.yaml", "--history",
                          tmp_path / "runs.parquet", "--fail-on-change") == 1
        with pytest.raises(ValueError, match="does not exist at HEAD"):
            materialize("git:HEAD:rules/nope.yaml", tmp_path / "x")
        with pytest.raises(ValueError, match="write git:REV:path"):
            materialize("git:HEAD", tmp_path / "y")
        with pytest.raises(ValueError, match="git ls-tree"):
            materialize("git:no-such-rev:rules/child.yaml", tmp_path / "z")
    finally:
        os.chdir(cwd)
