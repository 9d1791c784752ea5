# .venv/bin/python -m pytest -q tests/engine/test_evidence_boundary.py
"""The evidence boundary (picogate/metrics.py): every door gives the same table, and nothing
malformed approves. Each finding of issue 11 is a test here with its exact input."""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from picogate import InputError, RuleError, evaluate, load_rules
from picogate.metrics import read_metrics

RULE = """profile: boundary
metrics:
  m.a: {type: float, description: a number}
  m.b: {type: float, description: another number}
  m.s: {type: string, description: a text}
  m.f: {type: bool, description: a flag}
rules:
  - id: t.a
    stage: postrun
    severity: block
    check: m.a >= 0.5
    message: "a is {observed}"
    fix: raise a
"""


@pytest.fixture()
def rule(tmp_path: Path) -> Path:
    path = tmp_path / "rule.yaml"
    path.write_text(RULE)
    return path


def _rule_with(tmp_path: Path, *checks: str) -> Path:
    body = RULE.split("rules:")[0] + "rules:\n" + "".join(
        f"  - id: t.c{i}\n    stage: postrun\n    severity: block\n    check: {c}\n    message: m\n    fix: f\n"
        for i, c in enumerate(checks))
    path = tmp_path / "rules_many.yaml"
    path.write_text(body)
    return path


# -- finding 1: every float width ------------------------------------------------------------------

@pytest.mark.parametrize("width", [pa.float16(), pa.float32(), pa.float64()])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_of_every_float_width_is_missing(tmp_path: Path, rule: Path, width: pa.DataType,
                                                    value: float) -> None:
    table = pa.table({"run_id": ["a"], "m.a": pa.array([value], type=width)})
    pq.write_table(table, tmp_path / "x.parquet")
    for source in (tmp_path / "x.parquet", table, pl.from_arrow(table)):
        result = evaluate(source, rule)
        assert result.status == "blocked"
        assert result.checks.get_column("outcome").to_list() == ["missing"]


def test_float16_and_decimal_numbers_are_read(rule: Path) -> None:
    import decimal

    table = pa.table({"run_id": ["a", "b", "c"],
                      "m.a": pa.array([0.5, 0.25, None], type=pa.float16())})
    assert dict(evaluate(table, rule).runs.select("run_id", "status").iter_rows()) == \
        {"a": "approved", "b": "blocked", "c": "blocked"}
    dec = pa.table({"run_id": ["a", "b"],
                    "m.a": pa.array([decimal.Decimal("0.50"), decimal.Decimal("0.49")], type=pa.decimal128(5, 2))})
    assert evaluate(dec, rule).checks.get_column("outcome").to_list() == ["pass", "fail"]


# -- finding 3: nested and dotted ------------------------------------------------------------------

@pytest.mark.parametrize("row", [
    {"run_id": "a", "m.a": 0.1, "m": {"a": 0.9}},
    {"run_id": "a", "m": {"a": 0.9}, "m.a": 0.1},
])
def test_a_name_given_nested_and_dotted_is_an_error_in_either_order(tmp_path: Path, rule: Path, row: dict) -> None:
    (tmp_path / "x.json").write_text(json.dumps([row]))
    (tmp_path / "x.jsonl").write_text(json.dumps(row) + "\n")
    for source in (tmp_path / "x.json", tmp_path / "x.jsonl", row, [row]):
        with pytest.raises(InputError, match=r"'m\.a' is given twice: as .*'m\.a'.* and as .*|"
                                             r"'m\.a' is given twice: as 'm' -> 'a' and as 'm\.a'"):
            evaluate(source, rule)


def test_struct_column_beside_its_dotted_twin_is_an_error(rule: Path) -> None:
    df = pl.DataFrame({"run_id": ["a"], "m.a": [0.1], "m": [{"a": 0.9}]})
    with pytest.raises(InputError, match=r"'m\.a' is given twice: as column 'm\.a' and as column 'm' field 'a'"):
        evaluate(df, rule)


# -- finding 4: duplicate headers and columns ------------------------------------------------------

@pytest.mark.parametrize("text, name", [("run_id,m.a,m.a\na,0.9,0.1\n", "m.a"),
                                        ("run_id,run_id,m.a\na,b,0.9\n", "run_id")])
def test_duplicate_csv_header_is_an_error(tmp_path: Path, rule: Path, text: str, name: str) -> None:
    (tmp_path / "x.csv").write_text(text)
    with pytest.raises(InputError, match=rf"x\.csv: header: column '{name}' is given twice \(columns \d and \d\)"):
        evaluate(tmp_path / "x.csv", rule)


def test_duplicate_arrow_and_pandas_columns_are_errors(rule: Path) -> None:
    pd = pytest.importorskip("pandas")
    table = pa.table([pa.array(["a"]), pa.array([0.9]), pa.array([0.1])], names=["run_id", "m.a", "m.a"])
    with pytest.raises(InputError, match=r"column 'm\.a' is given twice"):
        evaluate(table, rule)
    frame = pd.DataFrame([["a", 0.9, 0.1]], columns=["run_id", "m.a", "m.a"])
    with pytest.raises(InputError, match=r"column 'm\.a' is given twice"):
        evaluate(frame, rule)


# -- finding 6: struct columns from polars ---------------------------------------------------------

def test_polars_struct_columns_read_like_the_nested_file() -> None:
    by_path = evaluate("examples/metrics.jsonl", "skill_release").checks
    by_frame = evaluate(pl.read_ndjson("examples/metrics.jsonl"), "skill_release").checks
    assert by_frame.select("run_id", "rule_id", "outcome").equals(by_path.select("run_id", "rule_id", "outcome"))
    assert (by_frame.get_column("outcome") == "pass").sum() > 0


# -- run_id ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("ids, kind", [(pa.array([b"x"]), "Binary"), (pa.array([[1]]), "List"),
                                       (pa.array([1.5]), "Float64"), (pa.array([True]), "Boolean")])
def test_run_id_must_be_text_or_integer(tmp_path: Path, rule: Path, ids: pa.Array, kind: str) -> None:
    table = pa.table({"run_id": ids, "m.a": [0.9]})
    pq.write_table(table, tmp_path / "x.parquet")
    for source in (table, tmp_path / "x.parquet"):
        with pytest.raises(InputError, match=f"'run_id' must be text or integers, not {kind}"):
            evaluate(source, rule)


def test_integer_run_ids_are_kept_as_text(rule: Path) -> None:
    result = evaluate(pa.table({"run_id": [7, 8], "m.a": [0.9, 0.1]}), rule)
    assert result.runs.get_column("run_id").to_list() == ["7", "8"]
    assert evaluate([{"run_id": 7, "m.a": 0.9}], rule).runs.get_column("run_id").to_list() == ["7"]


def test_run_id_is_reserved_and_cannot_be_a_metric(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(RULE.replace("  m.a: {type: float, description: a number}\n",
                                 "  m.a: {type: float, description: a number}\n"
                                 "  run_id: {type: string, description: the run}\n"))
    with pytest.raises(RuleError, match="'run_id' is reserved"):
        load_rules(path)


# -- files: only regular files ---------------------------------------------------------------------

def test_directories_fifos_and_devices_are_not_read(tmp_path: Path, rule: Path) -> None:
    (tmp_path / "d.parquet").mkdir()
    os.mkfifo(tmp_path / "f.jsonl")
    (tmp_path / "z.json").symlink_to("/dev/zero")
    for name, kind in (("d.parquet", "a directory"), ("f.jsonl", "a FIFO"), ("z.json", "a device")):
        with pytest.raises(InputError, match=f"{name}: not a regular file \\({kind}\\)"):
            evaluate(tmp_path / name, rule)
    assert stat.S_ISFIFO(os.stat(tmp_path / "f.jsonl").st_mode)  # never opened, so never blocked


def test_json_size_is_checked_before_reading(tmp_path: Path, rule: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import picogate.metrics as metrics

    monkeypatch.setattr(metrics, "MAX_EVIDENCE_BYTES", 1000)
    big = tmp_path / "big.jsonl"
    with open(big, "wb") as fh:
        fh.truncate(10**12)  # sparse: a terabyte on paper, nothing on disk; reading it would never end
    with pytest.raises(InputError, match="larger than 1,000 bytes"):
        evaluate(big, rule)


# -- one outcome for a wrong-kind cell on every door ----------------------------------------------

def test_wrong_kind_where_a_number_belongs_is_error_on_every_door(tmp_path: Path, rule: Path) -> None:
    rows = [{"run_id": "t", "m.a": True}, {"run_id": "x", "m.a": "abc"}, {"run_id": "l", "m.a": [1]}]
    for row in rows:
        assert evaluate(row, rule).checks.get_column("outcome").to_list() == ["error"], row
    assert evaluate({"run_id": "n", "m.a": "0.75"}, rule).status == "approved"  # text that spells a number
    (tmp_path / "x.csv").write_text("run_id,m.a\nt,true\nx,abc\nn,0.75\nm,\n")
    got = evaluate(tmp_path / "x.csv", rule).checks.select("run_id", "outcome").rows()
    assert got == [("t", "error"), ("x", "error"), ("n", "pass"), ("m", "missing")]


def test_gate_evidence_goes_through_the_same_door() -> None:
    """The preflight gate's evidence dict: a bool or text where a number belongs is unreadable (error)."""
    ev = {"run_id": "r", "target_param_data_ratio": True, "planned_to_target_ratio": "n/a",
          "model.params": None, "launch.batch_divides": True}
    checks = evaluate(ev, "release", stage="preflight").checks
    outcome = dict(checks.select("rule_id", "outcome").iter_rows())
    assert outcome["budget.target_ratio"] == "error"
    assert outcome["budget.planned_to_target"] == "error"
    assert "pass" not in {outcome[r] for r in outcome if r.startswith("budget.")}


def test_integers_beyond_float_range_are_missing_not_a_crash(rule: Path) -> None:
    for value in (10**400, -(10**400)):
        assert evaluate({"run_id": "a", "m.a": value}, rule).checks.get_column("outcome").to_list() == ["missing"]
    assert evaluate({"run_id": "a", "m.a": 2**63}, rule).status == "approved"


# -- property: the same evidence through every door gives the same outcomes ------------------------

CELL = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(-(2**40), 2**40),
    st.booleans(),
    st.sampled_from(["abc", "0.5", " 0.75 ", "", "nan", "-inf", "1e400", "true"]),
)


def _typed_column(values: list) -> pa.Array:
    """How a typed table would hold these values: numbers as float64, bools as bool, else text."""
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {int, float} and kinds:
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    if kinds == {bool}:
        return pa.array(values, pa.bool_())
    if not kinds:
        return pa.array(values, pa.null())
    return pa.array([None if v is None else _text(v) for v in values], pa.string())


def _text(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v) if isinstance(v, float) else str(v)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(CELL, CELL, st.sampled_from(["x", "y", None]), st.sampled_from([True, False, None])),
                min_size=1, max_size=4))
def test_every_door_gives_the_same_outcomes(tmp_path_factory: pytest.TempPathFactory, cells: list) -> None:
    tmp = tmp_path_factory.mktemp("doors")
    rules = _rule_with(tmp, "m.a >= 0.5", "m.a / m.b <= 2 or m.b < 0", "m.s == 'x' and m.f",
                       "coalesce(m.a, m.b) > 0.1")
    rows = [{"run_id": f"r{i}", "m.a": a, "m.b": b, "m.s": s, "m.f": f} for i, (a, b, s, f) in enumerate(cells)]
    want = evaluate(rows, rules).checks.select("run_id", "rule_id", "outcome").rows()

    columns = {k: [r[k] for r in rows] for k in rows[0]}
    table = pa.table({k: _typed_column(v) if k != "run_id" else pa.array(v) for k, v in columns.items()})
    nested = [{"run_id": r["run_id"], "m": {k[2:]: v for k, v in r.items() if k != "run_id"}} for r in rows]
    json_safe = [{"run_id": r["run_id"], "m": {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                                              for k, v in r["m"].items()}} for r in nested]
    (tmp / "x.json").write_text(json.dumps(json_safe))
    (tmp / "x.jsonl").write_text("".join(json.dumps(r) + "\n" for r in json_safe))
    pq.write_table(table, tmp / "x.parquet")
    with open(tmp / "x.csv", "w") as fh:
        fh.write(",".join(columns) + "\n")
        for r in rows:
            fh.write(",".join("" if v is None else _text(v).replace(",", ";") for v in r.values()) + "\n")

    doors: dict[str, object] = {"nested": nested, "json": tmp / "x.json", "jsonl": tmp / "x.jsonl",
                                "parquet": tmp / "x.parquet", "arrow": table, "polars": pl.from_arrow(table),
                                "polars-struct": _as_struct(pl.from_arrow(table)), "csv": tmp / "x.csv"}
    try:
        import pandas as pd

        doors["pandas"] = table.to_pandas()
        assert isinstance(doors["pandas"], pd.DataFrame)
    except ImportError:
        pass
    for name, source in doors.items():
        got = evaluate(source, rules).checks.select("run_id", "rule_id", "outcome").rows()
        assert got == want, name


def _as_struct(df: pl.DataFrame) -> pl.DataFrame:
    fields = [c for c in df.columns if c != "run_id"]
    return df.select("run_id", pl.struct([pl.col(c).alias(c[2:]) for c in fields]).alias("m"))


def test_read_metrics_flattens_on_every_door() -> None:
    row = {"run_id": "d20", "eval": {"math": {"pass_rate": 0.4}}}
    assert read_metrics(row).columns == ["run_id", "eval.math.pass_rate"]
    assert read_metrics(pl.DataFrame([row])).columns == ["run_id", "eval.math.pass_rate"]
    assert read_metrics(pa.Table.from_pylist([row])).columns == ["run_id", "eval.math.pass_rate"]
