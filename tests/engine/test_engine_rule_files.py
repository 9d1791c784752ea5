# .venv/bin/python -m pytest tests/engine/test_engine_rule_files.py -q
"""Rule files through `load_rules`: every bad file is a `RuleError` naming the file, the rule
id (where there is one), and the exact line and column of the fault in the file we wrote.

Schema faults point at the key whose value is wrong (`severity: fatal` -> the `severity` key);
expression faults point inside the check text itself."""

from __future__ import annotations

import textwrap

import pytest

from picogate import RuleError, evaluate, load_rules

HEAD = """\
profile: t
metrics:
  x: {type: float, description: test metric}
rules:
"""
RULE = """\
  - id: r.one
    stage: postrun
    severity: block
    check: x >= 0.5
    message: m
    fix: f
"""


def pos(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """1-based line and column of the nth occurrence of `needle` in `text`."""
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    line = text.count("\n", 0, at) + 1
    return line, at - (text.rfind("\n", 0, at) + 1) + 1


def load_bad(tmp_path, text: str, name: str = "bad.yaml") -> RuleError:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RuleError) as info:
        load_rules(path)
    err = info.value
    assert err.file is not None and err.file.endswith(name)
    assert str(err).count("\n") == 0 and "Traceback" not in str(err)
    return err


BAD = {
    # name: (text, needle whose position is the fault, nth occurrence, rule id, reason substring)
    "python_tag": (HEAD + RULE.replace("check: x >= 0.5", "check: !!python/object/apply:os.system ['true']"),
                   "!!python", 0, None, "tags such as"),
    "custom_tag": (HEAD + RULE.replace("message: m", "message: !env HOME"), "!env", 0, None, "tags such as"),
    "dup_key": (HEAD + RULE.replace("    fix: f\n", "    fix: f\n    severity: warn\n"), "severity", 1, None,
                "duplicate key 'severity'"),
    "dup_top_key": (HEAD + RULE + "profile: u\n", "profile", 1, None, "duplicate key 'profile'"),
    "merge_key": (HEAD + RULE.replace("    fix: f\n", "    fix: f\n    <<: {severity: warn}\n"), "<<", 0, None,
                  "'<<' merge keys are not allowed"),
    "anchor": ("profile: t\nbase: &b {severity: warn}\nrules: []\n", "&b", 0, None, "anchors"),
    "yaml11_bool_on": (HEAD + RULE + "    on: yes\n", "yes", 0, None, "'yes' is ambiguous"),
    "severity_no": (HEAD + RULE.replace("severity: block", "severity: no"), "no\n", 0, None, "'no' is ambiguous"),
    "severity_unknown": (HEAD + RULE.replace("severity: block", "severity: fatal"), "severity: fatal", 0, "r.one",
                         "'fatal' is not one of block, warn"),
    "stage_number": (HEAD + RULE.replace("stage: postrun", "stage: 3.10"), "stage: 3.10", 0, "r.one", "not one of"),
    "misspelled": (HEAD + RULE.replace("severity: block", "severty: block"), "severty", 0, "r.one",
                   "unknown key 'severty' (did you mean 'severity'?)"),
    "top_misspelled": (HEAD.replace("metrics:", "metrcs:") + RULE, "metrcs", 0, None, "did you mean 'metrics'"),
    "nan_threshold": (HEAD + RULE.replace("check: x >= 0.5", "per_category:\n      name: c\n      values: "
                                          "{a: .nan}\n    check: x >= {threshold}"), ".nan", 0, None,
                      "'.nan' is not a finite number"),
    "inf_threshold": (HEAD + RULE.replace("check: x >= 0.5", "per_category:\n      name: c\n      values: "
                                          "{a: -.inf}\n    check: x >= {threshold}"), "-.inf", 0, None,
                      "not a finite number"),
    "string_threshold": (HEAD + RULE.replace("check: x >= 0.5", "per_category:\n      name: c\n      values: "
                                             "{a: '0.5'}\n    check: x >= {threshold}"), "a: '0.5'", 0, "r.one",
                         "is not valid"),
    "octal": (HEAD + RULE.replace("check: x >= 0.5", "per_category:\n      name: c\n      values: "
                                  "{a: 010}\n    check: x >= {threshold}"), "010", 0, None, "leading zero"),
    "tab": (HEAD + RULE.replace("    fix: f", "\tfix: f"), "\t", 0, None, "tabs are not allowed"),
    "typo_metric": (HEAD + RULE.replace("check: x >= 0.5", "check: eval.math.pass_rat >= 0.5"), "eval.math", 0,
                    "r.one", "did you mean 'eval.math.pass_rate'"),
    "malformed_expr": (HEAD + RULE.replace("check: x >= 0.5", "check: x >= 0.5 garbage"), "garbage", 0, "r.one",
                       "after a complete expression"),
    "quoted_expr": (HEAD + RULE.replace("check: x >= 0.5", "check: \"x >> 0.5\""), "> 0.5", 0, "r.one",
                    "unexpected '>'"),
    "import_payload": (HEAD + RULE.replace("check: x >= 0.5", "check: \"__import__('os').system('id') == 0\""),
                       "__import__", 0, "r.one", "names starting with '__'"),
    "type_error": (HEAD + RULE.replace("check: x >= 0.5", "check: x and true"), "x and", 0, "r.one",
                   "operands of 'and' must be conditions"),
    "dup_rule_id": (HEAD + RULE + RULE, "id: r.one", 1, "r.one", "duplicate rule id 'r.one'"),
    "unknown_placeholder": (HEAD + RULE.replace("message: m", "message: \"got {observd}\""), "message: \"got", 0,
                            "r.one",
                            "placeholder '{observd}'"),
    "expr_placeholder_no_table": (HEAD + RULE.replace("check: x >= 0.5", "check: x >= {threshold}"), "{threshold}", 0,
                                  "r.one", "needs a per_category table"),
    "unknown_category_placeholder": (HEAD + RULE.replace("check: x >= 0.5", "per_category:\n      name: c\n      "
                                                         "values: {a: 1}\n    check: x >= {limit}"), "{limit}", 0,
                                     "r.one.a", "unknown placeholder {limit}"),
    "not_a_mapping": ("- just\n- a list\n", None, 0, None, "must be a mapping"),
    "empty": ("", None, 0, None, "the file is empty"),
    "comment_only": ("# nothing here\n", None, 0, None, "the file is empty"),
}


@pytest.mark.parametrize("text,needle,nth,rule_id,reason", BAD.values(), ids=BAD.keys())
def test_bad_rule_file(tmp_path, text, needle, nth, rule_id, reason):
    err = load_bad(tmp_path, text)
    assert reason in err.reason, err
    assert err.rule_id == rule_id
    if needle is None:
        assert err.line == 1
    else:
        assert (err.line, err.column) == pos(text, needle, nth), err


def test_alias_bomb(tmp_path):
    text = 'profile: t\na: &a ["lol","lol"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n'
    err = load_bad(tmp_path, text)
    assert "anchors (&name) are not allowed" in err.reason
    assert (err.line, err.column) == pos(text, "&a")


def test_deep_nesting_5000(tmp_path):
    text = "profile: t\nrules: " + "[" * 5000 + "]" * 5000 + "\n"
    err = load_bad(tmp_path, text)
    assert "nesting deeper than 32 levels" in err.reason
    assert err.line == 1 + 1


def test_deep_block_nesting(tmp_path):
    text = "profile: t\nx:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 60))
    err = load_bad(tmp_path, text)
    assert "nesting deeper than" in err.reason


def test_unquoted_1e_number_is_a_float(write_rules):
    text = HEAD + RULE.replace("check: x >= 0.5", "per_category:\n      name: c\n      values: {a: 1e-4, b: 1:20}"
                               "\n    check: x >= {threshold}")
    p = write_rules(text, "ok.yaml")
    with pytest.raises(RuleError) as info:  # 1:20 is text, not 80 (YAML 1.1 sexagesimal)
        load_rules(p)
    assert "is not valid" in info.value.reason or "1:20" in str(info.value)
    p = write_rules(text.replace(", b: 1:20", ""), "ok2.yaml")
    (rule,) = load_rules(p).rules
    assert rule.params["threshold"] == 1e-4 and isinstance(rule.params["threshold"], float)


def test_zero_rules_never_approve(write_rules):
    path = write_rules("profile: nothing\nrules: []\n")
    rs = load_rules(path)
    assert len(rs) == 0
    result = evaluate({"run_id": "a", "x": 1.0}, rs)
    assert result.status == "blocked"
    assert result.checks.get_column("outcome").cast(str).to_list() == ["missing"]


def test_every_rule_missing_pass_with_no_evidence_is_blocked(write_rules):
    text = HEAD + RULE.replace("fix: f", "fix: f\n    missing: pass") + RULE.replace("r.one", "r.two").replace(
        "fix: f", "fix: f\n    missing: pass").replace("check: x >= 0.5", "check: x < 9")
    rs = load_rules(write_rules(text))
    result = evaluate({"run_id": "a", "other": 1.0}, rs)
    assert result.status == "blocked"
    assert set(result.checks.get_column("outcome").cast(str)) == {"missing"}
    assert evaluate({"run_id": "a", "x": 1.0}, rs).status == "approved"


def test_extends_with_override_recorded_and_reported(tmp_path):
    (tmp_path / "base.yaml").write_text(HEAD.replace("profile: t", "profile: base") + RULE + RULE.replace(
        "r.one", "r.two").replace("x >= 0.5", "x < 10"), encoding="utf-8")
    child_text = "profile: child\nextends: [base]\nrules:\n" + RULE.replace("x >= 0.5", "x >= 0.9").replace(
        "severity: block", "severity: warn")
    (tmp_path / "child.yaml").write_text(child_text, encoding="utf-8")
    rs = load_rules(tmp_path / "child.yaml")
    assert [r.id for r in rs.rules] == ["r.one", "r.two"]  # the override keeps the parent's position
    assert rs.rules[0].severity == "warn" and rs.rules[0].check == "x >= 0.9"
    (ov,) = rs.overrides
    assert ov.rule_id == "r.one"
    assert ov.replaced.file.endswith("base.yaml") and ov.replaced.line == 5
    assert ov.by.file.endswith("child.yaml") and ov.by.line == 4
    result = evaluate({"run_id": "a", "x": 0.7}, rs)
    assert result.status == "warn"
    assert "r.one" in result.to_markdown() and "overridden" in result.to_markdown()
    assert result.to_dict()["overrides"][0]["rule_id"] == "r.one"


def test_extends_cycle(tmp_path):
    (tmp_path / "a.yaml").write_text("profile: a\nextends: [b]\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("profile: b\nextends: [a]\n", encoding="utf-8")
    with pytest.raises(RuleError) as info:
        load_rules(tmp_path / "a.yaml")
    assert "cycle" in info.value.reason


def test_extends_unknown_profile(tmp_path):
    (tmp_path / "a.yaml").write_text("profile: a\nextends: [no_such_profile]\n", encoding="utf-8")
    with pytest.raises(RuleError) as info:
        load_rules(tmp_path / "a.yaml")
    assert "no profile named 'no_such_profile'" in info.value.reason


def test_per_category_expansion_and_missing_category(write_rules):
    text = textwrap.dedent("""\
        profile: skills
        rules:
          - id: skill.rate
            stage: postrun
            severity: block
            per_category:
              name: skill
              values: {math: 0.30, spelling: 0.40, code: {threshold: 0.2, note: hard}}
            check: eval.{skill}.pass_rate >= {threshold}
            message: "{skill} ({note}): {observed} vs {required}"
            fix: practise {skill}
        """).replace("({note})", "")
    rs = load_rules(write_rules(text))
    assert [r.id for r in rs.rules] == ["skill.rate.math", "skill.rate.spelling", "skill.rate.code"]
    assert [r.category for r in rs.rules] == ["math", "spelling", "code"]
    assert rs.rules[2].fix == "practise code"
    result = evaluate({"run_id": "r", "eval": {"math": {"pass_rate": 0.30}, "spelling": {"pass_rate": 0.9}}}, rs)
    outcomes = dict(result.checks.select("rule_id", pl_str("outcome")).iter_rows())
    assert outcomes == {"skill.rate.math": "pass", "skill.rate.spelling": "pass", "skill.rate.code": "missing"}
    assert result.status == "blocked"


def pl_str(col: str):  # type: ignore[no-untyped-def]
    import polars as pl

    return pl.col(col).cast(pl.String)


def test_shipped_profiles_parse_and_never_approve_empty_evidence():
    for profile in ("release", "skill_release"):
        rs = load_rules(profile)
        assert len(rs) > 0 and rs.profile == profile
        assert all(r.severity in ("block", "warn") and r.stage in ("preflight", "postrun") for r in rs.rules)
        assert evaluate({"run_id": "empty"}, rs).status == "blocked"
    skill = load_rules("skill_release")
    gates = {r.category: r.params["threshold"] for r in skill.rules if r.base_id == "skill.pass_rate"}
    assert gates == {"identity": 0.60, "refusal": 0.75, "choice": 0.50, "math": 0.30, "spelling": 0.40}


def test_non_specific_tag_is_text() -> None:
    """`! 1` is YAML's non-specific tag on a plain scalar: the text "1", never the number."""
    from picogate.yamlstrict import YAMLError, load_text

    assert load_text("a: ! 1\nb: 1\nc: ! true\n").data == {"a": "1", "b": 1, "c": "true"}
    for text, reason in (("a: *x\n", "aliases"), ("a: !foo [1]\n", "tags such as '!foo'"),
                         ("a: ! [1]\n", "tags such as '!'"), ("a: &x 1\n", "anchors")):
        with pytest.raises(YAMLError, match=reason):
            load_text(text)


def test_yaml_limits_at_their_edges() -> None:
    """The event loop keeps its state in locals: the depth limit is exact, a collection is never a key,
    and every value keeps the position of its key (a list item its own)."""
    from picogate.yamlstrict import YAMLError, load_text

    assert load_text("a: " + "[" * 31 + "]" * 31 + "\n").data["a"] is not None  # 32 levels with the root
    with pytest.raises(YAMLError, match="nesting deeper than 32 levels"):
        load_text("a: " + "[" * 32 + "]" * 32 + "\n")
    for text in ("? [1]\n: 2\n", "? {a: 1}\n: 2\n", "a:\n  ? [b]\n  : c\n"):
        with pytest.raises(YAMLError, match="mapping keys must be plain text"):
            load_text(text)
    doc = load_text("a:\n  b: [1, 'x']\n  c: {d: null}\n")
    assert doc.data == {"a": {"b": [1, "x"], "c": {"d": None}}}
    assert doc.positions == {(): (1, 1), ("a",): (1, 1), ("a", "b"): (2, 3), ("a", "b", 0): (2, 7),
                             ("a", "b", 1): (2, 10), ("a", "c"): (3, 3), ("a", "c", "d"): (3, 7)}
    assert doc.styles == {("a", "b", 0): "", ("a", "b", 1): "'", ("a", "c", "d"): ""}  # libyaml: "" is plain
    assert doc.scalars[("a", "b", 1)] == (2, 10) and doc.scalars[("a", "c", "d")] == (3, 10)
