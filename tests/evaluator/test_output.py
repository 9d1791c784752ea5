# Run: .venv/bin/python -m pytest tests/evaluator/test_output.py -q
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from evaluator_toys import BigramLM, CharTokenizer, ScriptedLM

from picogate.evaluator import (
    GRADERS,
    LM,
    RESULTS_SCHEMA,
    EvalConfig,
    aggregate,
    evaluate_model,
    metrics_table,
    write_parquet_atomic,
)
from picogate.evaluator.rows import ChoiceRow, EvalRow, SftRow
from picogate.paths import SCHEMAS_DIR

SCHEMAS = SCHEMAS_DIR


def _load(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text())


def test_published_schemas_are_valid_json_schema() -> None:
    for name in ("eval_results.schema.json", "eval_row.schema.json", "choice_row.schema.json"):
        jsonschema.Draft202012Validator.check_schema(_load(name))


def test_results_schema_matches_published_file() -> None:
    published = _load("eval_results.schema.json")
    assert list(published["properties"]) == RESULTS_SCHEMA.names
    assert set(published["required"]) == {f.name for f in RESULTS_SCHEMA if not f.nullable}
    for field in RESULTS_SCHEMA:
        assert published["properties"][field.name]["x-arrow-type"] == str(field.type), field.name


def test_grader_names_in_schema_match_the_registry() -> None:
    assert set(_load("eval_row.schema.json")["properties"]["grader"]["enum"]) == set(GRADERS)


def _full_run(tmp_path: Path | None = None, run_id: str = "run-7"):
    tok = CharTokenizer()
    script = {"2+3=": "5", "bad": "I cannot.", "tea?": "I won't.", "spell ab:": "a-b"}
    lm = LM(ScriptedLM(tok, script), tok, device="cpu")
    ev = [EvalRow("a", "math", "2+3=", "5", "m:1"), EvalRow("b", "refusal", "bad", "", "m:2"),
          EvalRow("c", "general", "tea?", "tea", "m:3", benign=True)]
    sft = [SftRow("s", "spelling", "a-b", "m:4", prompt="spell ab:")]
    choice = [ChoiceRow("q", "2+3=", ("5", "6"), 0, "m:5")]
    return evaluate_model(lm, eval_rows=ev, sft_rows=sft, heldout_rows=sft, external={"arc_easy": choice},
                          run_id=run_id, out_dir=tmp_path, config=EvalConfig(batch_size=2))


def _catalog_patterns() -> list[tuple[re.Pattern[str], str]]:
    catalog = _load("metrics/evaluator.json")["metrics"]
    out = []
    for name, entry in catalog.items():
        assert entry["type"] in {"int", "float", "bool", "string"} and entry["description"]
        regex = re.escape(name)
        regex = re.sub(r"\\\{[a-z_]+\\\}", "[a-z0-9_]+", regex)
        out.append((re.compile(regex), entry["type"]))
    return out


def test_every_metric_is_in_the_catalog_with_its_type(tmp_path: Path) -> None:
    run = _full_run(tmp_path)
    patterns = _catalog_patterns()
    table = pq.read_table(tmp_path / "eval_metrics.parquet")
    assert table.num_rows == 1 and table.column_names[0] == "run_id"
    arrow_types = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "string": pa.string()}
    for name in run.metrics:
        if name == "run_id":
            continue
        matches = [t for p, t in patterns if p.fullmatch(name)]
        assert matches, f"{name} is not in schemas/metrics/evaluator.json"
        assert table.schema.field(name).type == arrow_types[matches[0]], name


def test_parquet_round_trip_recomputes_and_reruns_identically(tmp_path: Path) -> None:
    first = _full_run(tmp_path / "one")
    second = _full_run(tmp_path / "two")
    read = pq.read_table(tmp_path / "one" / "eval_results.parquet")
    assert read.schema.remove_metadata() == RESULTS_SCHEMA
    assert read.equals(first.results) and second.results.equals(first.results)
    assert aggregate(read) == first.metrics
    assert pq.read_table(tmp_path / "one" / "eval_metrics.parquet").to_pylist() == [first.metrics]
    meta = json.loads(read.schema.metadata[b"picogate.eval"])
    assert meta["config"]["batch_size"] == 2
    assert sorted(first.metrics) == sorted(second.metrics)
    assert first.metrics["external.arc_easy.acc"] == 1.0 and first.metrics["refusal.false_rate"] == 1.0


def test_rates_over_nothing_are_null_not_nan() -> None:
    tok = CharTokenizer()
    lm = LM(BigramLM(tok, {}), tok, device="cpu")
    run = evaluate_model(lm, external={"x": [ChoiceRow("q", "s", ("a", "b"), 0, "m")]})
    m = run.metrics
    assert m["eval.rows"] == 0 and m["eval.pass_rate"] is None
    assert m["refusal.rate"] is None and m["echo.rate"] is None and m["sft_heldout.mean_loglik"] is None
    table = metrics_table(m)
    assert table.schema.field("eval.pass_rate").type == pa.float64()
    assert table.column("eval.pass_rate").null_count == 1


def test_atomic_write_keeps_old_file_on_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.parquet"
    old = pa.table({"x": [1]})
    write_parquet_atomic(old, path)

    def boom(table: pa.Table, where: object) -> None:  # a half-written file, by path or by handle
        if isinstance(where, str | Path):
            Path(where).write_bytes(b"PAR1 half a file")
        else:
            where.write(b"PAR1 half a file")  # type: ignore[attr-defined]
        raise RuntimeError("disk full")

    monkeypatch.setattr(pq, "write_table", boom)
    with pytest.raises(RuntimeError):
        write_parquet_atomic(pa.table({"x": [2]}), path)
    monkeypatch.undo()
    assert pq.read_table(path).equals(old)
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_mixed_runs_are_refused() -> None:
    one = _full_run(run_id="a").results
    two = _full_run(run_id="b").results
    with pytest.raises(ValueError, match="exactly one run"):
        aggregate(pa.concat_tables([one, two]))


def test_picogate_imports_without_torch() -> None:
    code = "import sys; sys.modules['torch'] = None; import picogate; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_every_rate_gets_its_wilson_interval_in_the_run_evidence(tmp_path: Path) -> None:
    from picogate.catalog import shipped_catalog
    from picogate.postrun.gate import intervals, rate_pairs
    from picogate.postrun.stats import wilson

    metrics = _full_run(tmp_path).metrics
    rates = [n for n in metrics if n.endswith(("rate", ".acc", ".acc_norm", ".acc_bytes"))]
    assert {"external.arc_easy.acc_norm", "external.arc_easy.acc_bytes", "sft.fit_rate", "eval.math.pass_rate",
            "sft_heldout.fit_rate", "refusal.false_rate"} <= set(rates)
    bounds, rows_of, catalog = intervals(metrics), dict(rate_pairs(metrics)), shipped_catalog()
    for rate in rates:
        for end in ("_low", "_high"):
            assert catalog.lookup(rate + end) is not None, f"{rate + end} is not declared in the catalog"
        n = metrics[rows_of[rate]]
        expected = wilson(round(metrics[rate] * n), n) if metrics[rate] is not None else (None, None)
        assert (bounds[f"{rate}_low"], bounds[f"{rate}_high"]) == expected, rate


def test_progress_is_quiet_off_a_terminal_and_shows_rows_per_second_on_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import time

    from picogate.progress import progress_bar

    tok = CharTokenizer()
    lm = LM(BigramLM(tok, {}), tok, device="cpu")
    rows = [ChoiceRow(f"q{i}", "q", ("a", "b"), 0, "m") for i in range(4)]
    evaluate_model(lm, external={"t": rows}, progress=True)  # stderr is captured: not a terminal
    assert capsys.readouterr().err == ""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    with progress_bar(10, "scoring [t]", enabled=True) as bar:
        bar(3)
        time.sleep(0.05)
        bar(3)
    shown = screen.getvalue()
    assert "scoring [t]" in shown and "rows/s" in shown  # the benchmark name is text, not rich markup
    screen.truncate(0)
    rows = [ChoiceRow(f"q{i}", "q", ("a", "b", "c"), 0, "m") for i in range(7)]
    evaluate_model(lm, sft_rows=[SftRow("s", "x", "a", "m", prompt="p")], external={"t": rows}, progress=True)
    shown = screen.getvalue()
    assert "t rows" in shown and "8/8" in shown  # counted in rows: 1 SFT row (two passes), 7 questions
    screen.truncate(0)
    with progress_bar(10, "scoring", enabled=False) as bar:
        bar(3)
    assert screen.getvalue() == ""
