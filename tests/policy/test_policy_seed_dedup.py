# .venv/bin/python -m pytest -q -p no:cacheprovider tests/policy/test_policy_seed_dedup.py
"""Seed fidelity (issue 13): the seed blocks release on near-duplicate pressure, so rules/release.yaml's
`dedup.near` is a block rule (its threshold stays data in the file); a corpus at 13.6% near duplicates is
`blocked`, not `warn` with exit 0. The shipped example plan is still approved."""

from __future__ import annotations

from policy_support import REPO

from picogate import evaluate, load_rules, preflight
from picogate.policy.ruletests import run_rule_tests
from picogate.yamlstrict import load_file

CASE = "a corpus with 13.6% near duplicates is blocked"


def test_near_dup_rule_blocks_with_its_threshold_in_the_file() -> None:
    rule = next(r for r in load_rules("release").rules if r.id == "dedup.near")
    assert rule.severity == "block" and rule.check == "dedup.near_dup_rate <= 0.10"


def test_rule_test_case_pins_it() -> None:
    cases = load_file(REPO / "rules" / "tests" / "release_test.yaml").data["cases"]
    case = next(c for c in cases if c["name"].startswith(CASE))
    assert case["metrics"]["dedup.near_dup_rate"] == 0.136 and case["expect"]["status"] == "blocked"
    report = run_rule_tests([REPO / "rules" / "tests" / "release_test.yaml"], select=CASE)
    assert [(r.passed, r.status, r.failing) for r in report.results] == [(True, "blocked", ["dedup.near"])]


def test_near_dup_pressure_blocks_in_both_release_profiles() -> None:
    run = {"run_id": "r", "dedup.near_dup_rate": 0.136, "dedup.near_dup_count": 163, "dedup.documents": 1200}
    for profile in ("release", "skill_release"):
        checks = evaluate(run, profile, stage="preflight").checks
        row = checks.filter(checks["rule_id"] == "dedup.near").row(0, named=True)
        assert (row["outcome"], row["effect"]) == ("fail", "block")


def test_example_plan_is_still_approved() -> None:
    """The demo's first plan (examples/plan.yaml) has no near duplicates: still approved."""
    assert preflight(REPO / "examples" / "plan.yaml").status == "approved"
