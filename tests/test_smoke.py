# .venv/bin/python -m pytest tests/test_smoke.py
"""The shipped profiles load and judge the shipped example runs."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from picogate import evaluate, load_rules, preflight

REPO = Path(__file__).resolve().parents[1]


def test_shipped_profiles_load():
    rs = load_rules("skill_release")
    ids = [r.id for r in rs.rules]
    assert "budget.planned_to_target" in ids
    assert {f"skill.pass_rate.{s}" for s in ("identity", "refusal", "choice", "math", "spelling")} <= set(ids)


def test_examples_verdicts():
    """The example runs tell the release story: complete preflight and post-run evidence, one skill below its
    gate blocks a release, a skill that clears its gate on too few rows warns, a run still training blocks."""
    result = evaluate(REPO / "examples" / "metrics.jsonl", "skill_release")
    assert dict(result.runs.select("run_id", "status").iter_rows()) == {
        "d20-release": "approved", "d26-weak-math": "blocked", "d20-baseline": "warn", "d32-training": "blocked"}
    skills = result.checks.filter(pl.col("rule_id").str.starts_with("skill.pass_rate."))
    outcome = {(r["run_id"], r["category"]): r["outcome"] for r in skills.iter_rows(named=True)}
    assert outcome[("d26-weak-math", "math")] == "fail"
    assert [r for r, o in outcome.items() if o == "fail"] == [("d26-weak-math", "math")]  # one skill fails
    assert outcome[("d32-training", "spelling")] == "missing"
    assert evaluate(REPO / "examples" / "metrics.jsonl", "skill_release", stage="preflight").status == "approved"
    assert result.status == "blocked"


def test_example_plans_preflight():
    assert preflight(REPO / "examples" / "plan.yaml").status == "approved"
    result = preflight(REPO / "examples" / "plan_undertrained.yaml")
    assert result.status == "blocked"
    failing = result.checks.filter(pl.col("outcome") != "pass")
    assert "budget.planned_to_target" in failing["rule_id"].to_list()
    assert any("8:1" in m for m in failing["message"].to_list())
