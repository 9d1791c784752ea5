# .venv/bin/python -m pytest tests/engine/test_engine_inputs_outcomes.py -q
"""Metrics inputs (every reader, every bad value) and outcomes (verdicts and reports).

No malformed, missing or unreadable input may ever yield `approved`."""

from __future__ import annotations

import json
import random
import xml.etree.ElementTree as ET

import polars as pl
import pyarrow as pa
import pytest

from picogate import InputError, evaluate


def outcome(result) -> list[str]:  # type: ignore[no-untyped-def]
    return result.checks.filter(pl.col("rule_id") == "t.check").get_column("outcome").cast(pl.String).to_list()


@pytest.mark.parametrize("value,want", [
    (float("nan"), "missing"), (float("inf"), "missing"), (float("-inf"), "missing"), (None, "missing"),
    ("abc", "error"), ("0.7", "pass"), (0.5, "pass"), (0.4999999999999999, "fail"), (-0.0, "fail"),
    (1.7976931348623157e308, "pass"), (5e-324, "fail"), (True, "error")])
def test_cell_values(rules_file, value, want):
    result = evaluate({"run_id": "a", "x": value}, rules_file("x >= 0.5"))
    assert outcome(result) == [want]
    assert (result.status == "approved") == (want == "pass")


def test_zero_and_missing_are_distinct(rules_file):
    path = rules_file("x == 0")
    assert outcome(evaluate({"run_id": "a", "x": 0}, path)) == ["pass"]
    assert outcome(evaluate({"run_id": "a", "x": None}, path)) == ["missing"]
    assert outcome(evaluate({"run_id": "a"}, path)) == ["missing"]


def test_float32_threshold(rules_file):
    # float32(0.3) is 0.30000001192092896 > 0.3: the widened value passes `>= 0.3` (and fails `== 0.3`).
    df = pl.DataFrame({"run_id": ["a"], "x": pl.Series([0.3], dtype=pl.Float32)})
    assert outcome(evaluate(df, rules_file("x >= 0.3"))) == ["pass"]
    assert outcome(evaluate(df, rules_file("x == 0.3", name="eq.yaml"))) == ["fail"]


def test_literals_are_float64_even_beside_an_unnormalised_float32_column():
    """compile_check's own literals are typed Float64: a dynamic literal would take a Float32 column's
    width, and 0.1f32 <= 0.1 would pass as float32 while evaluate (which widens first) fails it."""
    from picogate.expr import compile_check, parse

    frame = pl.DataFrame({"x": pl.Series([0.1], dtype=pl.Float32)})
    assert frame.select(compile_check(parse("x <= 0.1")).outcome).item() == 1  # fail, as in float64


def test_readers_agree(rules_file, tmp_path):
    path = rules_file("x >= 0.5 and s_name == 'ok'")
    rows = [{"run_id": "a", "x": 0.5, "s_name": "ok"}, {"run_id": "b", "x": 0.1, "s_name": "ok"}]
    df = pl.DataFrame(rows)
    df.write_parquet(tmp_path / "m.parquet")
    df.write_csv(tmp_path / "m.csv")
    (tmp_path / "m.json").write_text(json.dumps(rows))
    (tmp_path / "m.jsonl").write_text("\n".join(map(json.dumps, rows)) + "\n")
    sources = [df, df.to_arrow(), pa.Table.from_pylist(rows), tmp_path / "m.parquet", tmp_path / "m.csv",
               str(tmp_path / "m.json"), tmp_path / "m.jsonl"]
    for src in sources:
        res = evaluate(src, path)
        assert dict(res.runs.select("run_id", "status").iter_rows()) == {"a": "approved", "b": "blocked"}, src


def test_nested_json_is_flattened(write_rules, tmp_path):
    (tmp_path / "n.jsonl").write_text(json.dumps({"run_id": "a", "eval": {"math": {"pass_rate": 0.3}}}) + "\n")
    res = evaluate(tmp_path / "n.jsonl", write_rules("""
        profile: nested
        rules:
          - {id: m.rate, stage: postrun, severity: block, check: eval.math.pass_rate >= 0.3, message: m, fix: f}
        """))
    assert res.status == "approved"


@pytest.mark.parametrize("name,content,message", [
    ("empty.jsonl", b"", "no runs"),
    ("dupes.jsonl", b'{"run_id": "a"}\n{"run_id": "a"}\n', "duplicate run_id 'a'"),
    ("latin1.jsonl", b'{"run_id": "a"}\n{"run_id": "\xe9"}\n', "latin1.jsonl:2: not valid UTF-8"),
    ("list.jsonl", b'{"run_id": "a"}\n[1, 2]\n', "list.jsonl:2: each line must be a JSON object"),
    ("nan.json", b'{"run_id": "a", "x": NaN}', "NaN is not valid JSON"),
    ("dupkey.json", b'{"run_id": "a", "x": 1, "x": 2}', "duplicate key 'x'"),
    ("broken.json", b'{"run_id": "a", "x": ', "invalid JSON"),
    ("trunc.parquet", b"PAR1\x00\x00garbage", "trunc.parquet: cannot read as parquet"),
    ("m.txt", b"x", "unknown file type"),
    ("norunid.csv", b"x\n1\n2\n", "no 'run_id' column"),
])
def test_unreadable_inputs(rules_file, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        evaluate(path, rules_file("x >= 0.5"))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_truncated_real_parquet(rules_file, tmp_path):
    pl.DataFrame({"run_id": ["a"] * 1000, "x": [0.9] * 1000}).with_row_index().write_parquet(tmp_path / "t.parquet")
    raw = (tmp_path / "t.parquet").read_bytes()
    (tmp_path / "t.parquet").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError, match=r"t\.parquet"):
        evaluate(tmp_path / "t.parquet", rules_file("x >= 0.5"))
    with pytest.raises(InputError, match="no such file"):
        evaluate(tmp_path / "absent.parquet", rules_file("x >= 0.5"))


def test_baseline(rules_file):
    path = rules_file("x >= baseline.x - 0.05")
    assert outcome(evaluate({"run_id": "a", "x": 0.5}, path, baseline={"x": 0.52})) == ["pass"]
    assert outcome(evaluate({"run_id": "a", "x": 0.4}, path, baseline={"x": 0.52})) == ["fail"]
    assert outcome(evaluate({"run_id": "a", "x": 0.5}, path)) == ["missing"]
    assert outcome(evaluate({"run_id": "a", "x": 0.5}, path, baseline={"y": 1.0})) == ["missing"]
    assert outcome(evaluate({"run_id": "a", "x": 0.5}, path, baseline={"x": "bad"})) == ["error"]


def _two_rules(write_rules, n_warn: int):  # type: ignore[no-untyped-def]
    rules = "".join(f"""
          - {{id: w.r{i}, stage: postrun, severity: warn, check: x > 100, message: m, fix: f}}"""
        for i in range(n_warn))
    return write_rules(f"""
        profile: sev
        metrics:
          x: {{type: float, description: d}}
        rules:
          - {{id: b.one, stage: postrun, severity: block, check: x > 0, message: m, fix: f}}{rules}
        """)


def test_block_beats_warns_and_warn_only(write_rules):
    path = _two_rules(write_rules, 20)
    assert evaluate({"run_id": "a", "x": -1}, path).status == "blocked"
    assert evaluate({"run_id": "a", "x": 1}, path).status == "warn"
    assert evaluate({"run_id": "a", "x": 101}, path).status == "approved"


def test_fail_and_error_reported_separately(write_rules):
    path = write_rules("""
        profile: sep
        metrics:
          x: {type: float, description: d}
          y: {type: float, description: d}
          w: {type: float, description: d}
        rules:
          - {id: a.fail, stage: postrun, severity: block, check: x > 10, message: m, fix: f}
          - {id: a.error, stage: postrun, severity: warn, check: x / y > 0, message: m, fix: f}
          - {id: a.missing, stage: postrun, severity: warn, check: w > 0, message: m, fix: f}
          - {id: a.pass, stage: postrun, severity: block, check: x > 0, message: m, fix: f}
        """)
    res = evaluate(pl.DataFrame({"run_id": ["r"], "x": [1.0], "y": [0.0]}), path)
    got = dict(res.checks.select("rule_id", pl.col("outcome").cast(pl.String)).iter_rows())
    assert got == {"a.fail": "fail", "a.error": "error", "a.missing": "missing", "a.pass": "pass"}
    assert res.status == "blocked"  # an error blocks even under a warn rule
    payload = json.dumps(res.to_dict(), allow_nan=False)
    assert json.loads(payload)["status"] == "blocked"
    md = res.to_markdown()
    assert md.lstrip().startswith("## ") and "blocked" in md.splitlines()[0]
    root = ET.fromstring(res.to_junit_xml().split("\n", 1)[1])
    suite = root.find("testsuite")
    assert suite is not None
    assert int(suite.get("failures")) == len(suite.findall("testcase/failure")) == 1
    assert int(suite.get("errors")) == len(suite.findall("testcase/error")) == 1  # a.error: it blocks
    assert int(suite.get("skipped")) == len(suite.findall("testcase/skipped")) == 1  # a.missing only warns


def test_shuffle_invariance(rules_file):
    rng = random.Random(7)
    values = [None, float("nan"), 0.5, 0.49, 1e308, -0.0, "x", 0.7, float("inf")] * 30
    rows = [{"run_id": f"r{i}", "x": v} for i, v in enumerate(values)]
    path = rules_file("x >= 0.5 or x < -1")
    first = evaluate(pl.DataFrame([{**r, "x": str(r["x"])} for r in rows]), path)
    want = dict(first.runs.select("run_id", "status").iter_rows())
    for _ in range(3):
        rng.shuffle(rows)
        again = evaluate(pl.DataFrame([{**r, "x": str(r["x"])} for r in rows]), path)
        assert dict(again.runs.select("run_id", "status").iter_rows()) == want
        assert again.status == first.status == "blocked"
