# .venv/bin/python -m pytest -q -p no:cacheprovider tests/policy/test_policy_categories.py
"""Named category tables (issue 13): each per-skill threshold stated once, a child profile changes one entry
with one line and every rule that reads it follows, typos are errors at file:line:col with a "did you
mean", and one category of a rule cannot be overridden by id without an error that says what to do."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from policy_support import REPO, rules_process

from picogate import RuleError, evaluate, load_rules
from picogate.expr import to_text
from picogate.rules.categories import effect
from picogate.yamlstrict import load_file

DESIGN_GATES = {"identity": 0.60, "refusal": 0.75, "choice": 0.50, "math": 0.30, "spelling": 0.40}
CHILD = "profile: child\nextends: [skill_release]\ncategories: {release_skills: {math: 0.35}}\n"


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body).lstrip("\n"), encoding="utf-8")
    return path


def load_bad(path: Path) -> RuleError:
    with pytest.raises(RuleError) as info:
        load_rules(path)
    err = info.value
    assert err.file == str(path) and "\n" not in str(err), str(err)
    return err


def threshold(ruleset, rule_id: str) -> object:  # type: ignore[no-untyped-def]
    return next(r for r in ruleset.rules if r.id == rule_id).params["threshold"]


# -- the shipped profile states each threshold once ------------------------------------------------------

def test_skill_release_states_each_threshold_once() -> None:
    """Was: the five gates written in both skill.pass_rate and skill.pass_rate_bound, free to drift apart."""
    data = load_file(REPO / "rules" / "skill_release.yaml").data
    assert data["categories"]["release_skills"] == DESIGN_GATES
    readers = {r["id"]: r["per_category"]["values"] for r in data["rules"] if "per_category" in r}
    assert readers["skill.pass_rate"] == readers["skill.pass_rate_bound"] == "release_skills"
    assert all(isinstance(v, str) for v in readers.values()), "every per-skill number lives in a table"
    rs = load_rules("skill_release")
    for skill, gate in DESIGN_GATES.items():
        assert threshold(rs, f"skill.pass_rate.{skill}") == threshold(rs, f"skill.pass_rate_bound.{skill}") == gate
    assert rs.changes == ()


# -- a child changes one entry, and the gate and its bound follow ----------------------------------------

def test_child_changes_math_with_one_line_and_both_rules_follow(tmp_path: Path) -> None:
    rs = load_rules(write(tmp_path, "child.yaml", CHILD))
    assert threshold(rs, "skill.pass_rate.math") == threshold(rs, "skill.pass_rate_bound.math") == 0.35
    gate = next(r for r in rs.rules if r.id == "skill.pass_rate.math")
    assert to_text(gate.node) == "eval.math.pass_rate >= 0.35"
    assert threshold(rs, "skill.pass_rate.spelling") == 0.40  # the rest as inherited
    assert str(gate.source).startswith("rules/skill_release.yaml:")  # still defined where it was written
    run = {"run_id": "r", "eval.math.pass_rate": 0.32, "eval.math.pass_rate_low": 0.31}
    outcome = {rid: o for rid, o in evaluate(run, rs, stage="postrun").checks.select("rule_id", "outcome").rows()}
    parent = {rid: o for rid, o in evaluate(run, "skill_release", stage="postrun").checks
              .select("rule_id", "outcome").rows()}
    assert (parent["skill.pass_rate.math"], outcome["skill.pass_rate.math"]) == ("pass", "fail")
    assert (parent["skill.pass_rate_bound.math"], outcome["skill.pass_rate_bound.math"]) == ("pass", "pass")


def test_child_change_is_recorded_with_its_direction(tmp_path: Path) -> None:
    rs = load_rules(write(tmp_path, "child.yaml", CHILD))
    (change,) = rs.changes
    assert (change.table, change.category, change.change, change.before, change.after) == \
        ("release_skills", "math", "changed", 0.3, 0.35)
    assert (change.by.file, change.by.line, change.by.column) == (str(tmp_path / "child.yaml"), 3, 31)
    assert str(change.replaced).startswith("rules/skill_release.yaml:")
    # the gate `>=` gets stricter; the bound reads the value both ways, so it only "changes"
    assert change.effects == (("skill.pass_rate.math", "strengthens"), ("skill.pass_rate_bound.math", "changes"))
    assert change.direction == "changes"


def test_lowering_a_threshold_weakens(tmp_path: Path) -> None:
    rs = load_rules(write(tmp_path, "lax.yaml", "profile: lax\nextends: [skill_release]\ncategories:\n"
                                                "  {release_skills: {refusal: 0.5}, skill_sft_rows: {math: 5}}\n"))
    by = {(c.table, c.category): c for c in rs.changes}
    assert by["release_skills", "refusal"].effects[0] == ("skill.pass_rate.refusal", "weakens")
    assert by["skill_sft_rows", "math"].effects == (("coverage.sft.math", "weakens"),)
    assert by["skill_sft_rows", "math"].direction == "weakens"


def test_restating_a_value_unchanged_is_not_a_change(tmp_path: Path) -> None:
    rs = load_rules(write(tmp_path, "same.yaml", "profile: same\nextends: [skill_release]\n"
                                                 "categories: {release_skills: {math: 0.30}}\n"))
    assert rs.changes == ()


def test_add_and_remove_are_explicit(tmp_path: Path) -> None:
    rs = load_rules(write(tmp_path, "mine.yaml", """
        profile: mine
        extends: [skill_release]
        categories:
          release_skills:
            math: 0.35
            add: {reasoning: 0.40}
            remove: [spelling]
        """))
    ids = {r.id for r in rs.rules}
    assert {"skill.pass_rate.reasoning", "skill.pass_rate_bound.reasoning"} <= ids
    assert not {"skill.pass_rate.spelling", "skill.pass_rate_bound.spelling"} & ids
    assert "skill.eval_rows.spelling" in ids  # other tables are untouched
    words = {(c.category, c.change): c.direction for c in rs.changes}
    assert words == {("math", "changed"): "changes", ("reasoning", "added"): "strengthens",
                     ("spelling", "removed"): "weakens"}


def test_grandchild_builds_on_the_child(tmp_path: Path) -> None:
    write(tmp_path, "child.yaml", CHILD)
    rs = load_rules(write(tmp_path, "grand.yaml", "profile: grand\nextends: [child]\n"
                                                  "categories: {release_skills: {choice: 0.55}}\n"))
    assert threshold(rs, "skill.pass_rate.math") == 0.35 and threshold(rs, "skill.pass_rate_bound.choice") == 0.55
    assert [(c.category, c.before, c.after) for c in rs.changes] == [("math", 0.3, 0.35), ("choice", 0.5, 0.55)]


# -- mistakes are errors at file:line:col -----------------------------------------------------------------

def test_misspelled_category_is_an_error_not_a_new_category(tmp_path: Path) -> None:
    path = write(tmp_path, "typo.yaml", "profile: typo\nextends: [skill_release]\n"
                                        "categories: {release_skills: {mathh: 0.35}}\n")
    err = load_bad(path)
    assert (err.line, err.column) == (3, 31)
    assert err.reason.startswith("categories.release_skills.mathh: 'mathh' is not a category of 'release_skills'")
    assert "did you mean 'math'?" in err.reason and "add:" in err.reason
    proc = rules_process("check", path)
    assert proc.returncode == 2 and f"{path}:3:31:" in proc.stdout + proc.stderr


@pytest.mark.parametrize(("body", "line", "col", "reason"), [
    ("categories:\n  release_skills:\n    add: {math: 0.5}\n", 5, 11, "'math' is already a category"),
    ("categories:\n  release_skills:\n    remove: [spelin]\n", 5, 14, "did you mean 'spelling'?"),
    ("categories:\n  release_skills:\n    math: 0.4\n    remove: [math]\n", 6, 14, "both removed and given a value"),
    ("categories:\n  release_skills:\n    remove: [identity, refusal, choice, math, spelling]\n", 5, 5,
     "removes every category"),
    ("categories:\n  release_skill: {math: 0.35}\n", 4, 3, "did you mean 'release_skills'?"),
    ("categories:\n  release_skills: {math: 9007199254740993}\n", 4, 26, "cannot be compared exactly"),
    ("categories:\n  release_skills: {math: '0.35'}\n", 4, 20, "'0.35' is not valid: expected a number or a mapping"),
])
def test_child_table_faults(tmp_path: Path, body: str, line: int, col: int, reason: str) -> None:
    err = load_bad(write(tmp_path, "bad.yaml", "profile: bad\nextends: [skill_release]\n" + body))
    assert (err.line, err.column) == (line, col), str(err)
    assert reason in err.reason, str(err)


def test_add_and_remove_only_change_an_inherited_table(tmp_path: Path) -> None:
    err = load_bad(write(tmp_path, "own.yaml", """
        profile: own
        metrics:
          zz.{k}.rate: {type: float, description: a rate}
        categories:
          gates: {a: 0.5, add: {b: 0.3}}
        rules:
          - {id: z, stage: postrun, severity: block, per_category: {name: k, values: gates},
             check: 'zz.{k}.rate >= {threshold}', message: m, fix: f}
        """))
    assert (err.line, err.column) == (5, 19) and "no parent profile has a 'gates' table" in err.reason


def test_unknown_table_name_in_a_rule(tmp_path: Path) -> None:
    err = load_bad(write(tmp_path, "r.yaml", """
        profile: r
        extends: [skill_release]
        rules:
          - id: mine.gate
            stage: postrun
            severity: block
            per_category: {name: skill, values: release_skils}
            check: eval.{skill}.pass_rate >= {threshold}
            message: m
            fix: f
        """))
    assert (err.line, err.column, err.rule_id) == (7, 41, "mine.gate")
    assert "no category table named 'release_skils' (did you mean 'release_skills'?)" in err.reason


def test_a_change_a_parent_rule_cannot_take_points_at_the_change(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", """
        profile: base
        metrics:
          zz.math.rate: {type: float, description: a rate}
        categories:
          gates: {math: 0.5}
        rules:
          - {id: z.rate, stage: postrun, severity: block, per_category: {name: k, values: gates},
             check: 'zz.{k}.rate >= {threshold}', message: m, fix: f}
        """)
    err = load_bad(write(tmp_path, "kid.yaml", "profile: kid\nextends: [base]\n"
                                               "categories:\n  gates:\n    add: {spelling: 0.4}\n"))
    assert (err.line, err.column, err.rule_id) == (5, 11, "z.rate.spelling")
    assert "rule 'z.rate' (" in err.reason and "zz.spelling.rate" in err.reason


# -- one category of a rule, by id ---------------------------------------------------------------------

def test_overriding_one_category_by_id_says_to_change_the_table(tmp_path: Path) -> None:
    """Was: "two rules expand to the same id 'skill.pass_rate.math'" with no file position and no hint."""
    path = write(tmp_path, "one.yaml", """
        profile: one
        extends: [skill_release]
        rules:
          - id: skill.pass_rate.math
            stage: postrun
            severity: block
            check: eval.math.pass_rate >= 0.35
            message: m
            fix: f
        """)
    err = load_bad(path)
    assert (err.line, err.column, err.rule_id) == (4, 5, "skill.pass_rate.math")
    assert "category 'math' of per-category rule 'skill.pass_rate'" in err.reason
    assert "categories: {release_skills: {math: ...}}" in err.reason


def test_overriding_one_inline_category_by_id_says_to_restate_the_rule(tmp_path: Path) -> None:
    err = load_bad(write(tmp_path, "h.yaml", """
        profile: h
        extends: [honesty]
        rules:
          - {id: honesty.stages.sft, stage: postrun, severity: warn, check: stages.sft.done == true,
             message: m, fix: f}
        """))
    assert (err.line, err.column) == (4, 6)
    assert "restate rule 'honesty.stages'" in err.reason


def test_same_file_expansion_clash_has_a_position(tmp_path: Path) -> None:
    err = load_bad(write(tmp_path, "c.yaml", """
        profile: c
        metrics:
          zz.a: {type: float, description: x}
          zz.a.b: {type: float, description: x}
        rules:
          - {id: zz.a, stage: postrun, severity: block, check: zz.a.b >= 1, message: m, fix: f}
          - {id: zz, stage: postrun, severity: block, per_category: {name: k, values: {a: 1}},
             check: 'zz.{k} >= {threshold}', message: m, fix: f}
        """))
    assert "two rules expand to the same id 'zz.a'" in err.reason and (err.line, err.column) == (7, 5)


# -- the direction of a change ---------------------------------------------------------------------------

@pytest.mark.parametrize(("check", "before", "after", "word"), [
    ("x >= {threshold}", 0.3, 0.35, "strengthens"),
    ("x > {threshold}", 0.3, 0.2, "weakens"),
    ("x <= {threshold}", 0.10, 0.05, "strengthens"),
    ("x < {threshold}", 0.10, 0.20, "weakens"),
    ("{threshold} <= x", 0.3, 0.4, "strengthens"),
    ("not (x < {threshold})", 0.3, 0.4, "strengthens"),
    ("not c or not (d < 0 and p < {threshold})", 0.05, 0.10, "strengthens"),
    ("x == {threshold}", 1, 2, "changes"),
    ("x >= {threshold} * 2", 1, 2, "changes"),
    ("x < {threshold} or y >= {threshold}", 0.3, 0.35, "changes"),
])
def test_direction_from_the_comparison(check: str, before: float, after: float, word: str) -> None:
    assert effect(check, {"k": "a", "threshold": before}, {"k": "a", "threshold": after}) == word


def test_named_values_combine() -> None:
    check = "x >= {low} and y <= {high}"
    assert effect(check, {"low": 1, "high": 5}, {"low": 2, "high": 4}) == "strengthens"
    assert effect(check, {"low": 1, "high": 5}, {"low": 2, "high": 6}) == "changes"
    assert effect(check, {"low": 1, "note": "a"}, {"low": 1, "note": "b"}) == "changes"  # not read by the check


# -- rules show, rules diff and gate reports show the change ----------------------------------------------

def test_rules_show_lists_the_change(tmp_path: Path) -> None:
    path = write(tmp_path, "child.yaml", CHILD)
    proc = rules_process("show", path, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    (change,) = data["changes"]
    assert (change["table"], change["category"], change["before"], change["after"]) == ("release_skills", "math",
                                                                                       0.3, 0.35)
    assert change["effects"][0] == {"rule_id": "skill.pass_rate.math", "direction": "strengthens"}
    assert data["categories"]["release_skills"]["values"]["math"] == 0.35
    md = rules_process("show", path, "--format", "markdown").stdout
    assert "- category release\\_skills.math: 0.3 -> 0.35 strengthens skill.pass\\_rate.math; changes " in md
    text = rules_process("show", path).stdout
    assert "note: category release_skills.math: 0.3 -> 0.35 strengthens skill.pass_rate.math" in \
        " ".join(text.split())


def test_rules_diff_reports_the_change_and_its_direction(tmp_path: Path) -> None:
    path = write(tmp_path, "child.yaml", CHILD)
    history = tmp_path / "h.jsonl"
    history.write_text('{"run_id": "a", "eval": {"math": {"pass_rate": 0.32, "pass_rate_low": 0.31}}}\n')
    proc = rules_process("diff", "skill_release", path, "--history", history, "--stage", "postrun", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    (change,) = json.loads(proc.stdout)["category_changes"]
    assert (change["table"], change["category"], change["before"], change["after"]) == ("release_skills", "math",
                                                                                       0.3, 0.35)
    assert [(e["rule_id"], e["direction"]) for e in change["effects"]] == \
        [("skill.pass_rate.math", "strengthens"), ("skill.pass_rate_bound.math", "changes")]
    text = rules_process("diff", "skill_release", path, "--history", history, "--stage", "postrun").stdout
    assert "category release_skills.math: 0.3 -> 0.35 strengthens skill.pass_rate.math; changes " \
           "skill.pass_rate_bound.math" in text
    md = rules_process("diff", "skill_release", path, "--history", history, "--stage", "postrun",
                       "--format", "markdown").stdout
    assert "| `release_skills.math` | 0.3 | 0.35 | strengthens skill.pass\\_rate.math; changes " in md


def test_rules_diff_reports_inline_value_changes_too(tmp_path: Path) -> None:
    old = write(tmp_path, "old.yaml", """
        profile: t
        metrics:
          zz.{k}.rows: {type: int, description: rows}
        rules:
          - {id: z.rows, stage: postrun, severity: block, per_category: {name: k, values: {a: 10, b: 10}},
             check: 'zz.{k}.rows >= {threshold}', message: m, fix: f}
        """)
    new = write(tmp_path, "new.yaml", old.read_text().replace("{a: 10, b: 10}", "{a: 10, b: 5}"))
    history = tmp_path / "h.jsonl"
    history.write_text('{"run_id": "a", "zz": {"a": {"rows": 10}, "b": {"rows": 7}}}\n')
    data = json.loads(rules_process("diff", old, new, "--history", history, "--format", "json").stdout)
    (change,) = data["category_changes"]
    assert (change["table"], change["category"], change["before"], change["after"], change["direction"]) == \
        ("z.rows", "b", 10, 5, "weakens")
    assert data["changed"] == 1


def test_gate_reports_note_the_change(tmp_path: Path) -> None:
    result = evaluate({"run_id": "r", "eval.math.pass_rate": 0.32}, load_rules(write(tmp_path, "child.yaml", CHILD)),
                      stage="postrun")
    assert result.to_dict()["changes"][0]["effects"][0] == {"rule_id": "skill.pass_rate.math",
                                                            "direction": "strengthens"}
    assert "- category release\\_skills.math: 0.3 -> 0.35 strengthens" in result.to_markdown()


def test_reports_escape_the_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, "ch`|[x](y).yaml", CHILD)
    md = evaluate({"run_id": "r"}, load_rules(path), stage="postrun").to_markdown()
    note = next(line for line in md.splitlines() if line.startswith("- category"))
    assert "ch\\`\\|\\[x\\](y).yaml" in note and "`|" not in note


def test_the_json_schema_knows_categories_and_tables_for_editors() -> None:
    """schemas/rules.schema.json (generated from the models) accepts what the loader accepts here."""
    import jsonschema

    schema = json.loads((REPO / "schemas" / "rules.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for name in ("release", "skill_release", "honesty"):
        assert not list(validator.iter_errors(load_file(REPO / "rules" / f"{name}.yaml").data)), name
    child = {"profile": "c", "extends": ["skill_release"],
             "categories": {"release_skills": {"math": 0.35, "add": {"reasoning": 0.4}, "remove": ["spelling"]}}}
    assert not list(validator.iter_errors(child))
    assert list(validator.iter_errors({"profile": "c", "categories": {"t": {"math": "high"}}}))
    assert list(validator.iter_errors({"profile": "c", "tables": {"near_dup": [{"jacard": 0.5}]}}))
