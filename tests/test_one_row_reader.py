# .venv/bin/python -m pytest -q -p no:cacheprovider tests/test_one_row_reader.py
"""One row reader: preflight counts, the evaluator scores and the honesty report re-reads SFT, eval and
choice rows through `picogate.rows.iter_rows`, so a row one of them accepts, the others accept, and a row
one refuses, the others refuse with the same line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from picogate.errors import InputError
from picogate.evaluator.rows import load_choice_rows, load_eval_rows, load_sft_rows
from picogate.jsonstrict import loads_strict
from picogate.preflight.gate import preflight
from picogate.rows import iter_rows

PACKAGE = Path(__file__).resolve().parents[1] / "picogate"
LOADERS = {"eval": load_eval_rows, "sft": load_sft_rows, "choice": load_choice_rows}
GOOD = {"eval": {"id": "a", "skill": "math", "prompt": "2+2?", "answer": 4},
        "sft": {"id": "a", "skill": "math", "prompt": "2+2?", "response": "4"},
        "choice": {"id": "a", "question": "q?", "choices": ["x", "y"], "answer": 1}}

CASES = [  # (kind, second line, what the one line says)
    ("choice", {"id": "b", "question": "q", "choices": ["x", "y"], "answer": 2}, "out of range for 2 choices"),
    ("choice", {"id": "b", "question": "q", "choices": ["x", "y"], "answer": "C"}, "out of range"),
    ("choice", {"id": "b", "question": "q", "choices": ["x", "y"], "answer": 1.0}, "0-based integer index"),
    ("eval", {"id": "b", "skill": "c", "prompt": "p", "answer": "E", "grader": "letter"}, "not one of the letters"),
    ("eval", {"id": "b", "skill": "c", "prompt": "p", "answer": 4, "grader": "letter"}, "'4' is not one of"),
    ("eval", {"id": "b", "skill": "c", "prompt": "p", "answer": "AB", "grader": "letter"}, "not one of the letters"),
    ("sft", {"id": "b", "skill": "m", "messages": [{"role": "assistant", "content": "a"},
                                                   {"role": "assistant", "content": "b"}]}, "no user or system turn"),
    ("sft", {"id": "b", "skill": "m", "messages": [{"role": "user", "content": "a"},
                                                   {"role": "assistant", "content": ""}]}, "non-empty assistant turn"),
    ("sft", {"id": "a", "skill": "m", "prompt": "p", "response": "r"}, "duplicate id 'a' (first at"),
    ("eval", {"id": "b", "skill": "m", "prompt": "p"}, "row 'b': missing required field 'answer'"),
]


@pytest.mark.parametrize(("kind", "row", "reason"), CASES)
def test_preflight_and_evaluator_refuse_the_same_row_with_the_same_line(tmp_path: Path, kind: str, row: dict,
                                                                        reason: str) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(GOOD[kind]) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(InputError) as counted:
        list(iter_rows(path, kind))
    with pytest.raises(InputError) as scored:
        LOADERS[kind](path)
    assert str(counted.value) == str(scored.value)
    assert str(counted.value).startswith(f"{path}:2: ") and reason in str(counted.value), str(counted.value)


@pytest.mark.parametrize("kind", list(GOOD))
def test_both_sides_read_jsonl_with_a_bom_and_parquet(tmp_path: Path, kind: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD[kind]).encode() + b"\r\n")  # an editor's BOM and CRLF
    assert [w for w, _ in iter_rows(path, kind)] == [f"{path}:1"] == [r.source for r in LOADERS[kind](path)]
    table = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist([GOOD[kind]]), table)
    (row,) = LOADERS[kind](table)
    assert row.source == f"{table}: row 1" and row.id == "a"


def test_a_preflight_plan_refuses_a_choice_row_the_evaluator_would_refuse(tmp_path: Path) -> None:
    """External (choice) rows used to pass preflight with an answer past their choices."""
    import shutil

    shutil.copytree(Path(__file__).resolve().parents[1] / "examples", tmp_path / "examples")
    rows = tmp_path / "examples" / "data" / "external" / "zz_bad.jsonl"  # in the plan's external glob
    rows.write_text(json.dumps({"id": "q1", "question": "q?", "choices": ["x", "y"], "answer": 3}) + "\n")
    with pytest.raises(InputError, match=r"zz_bad\.jsonl:1: row 'q1': answer: 3 is out of range for 2 choices"):
        preflight(tmp_path / "examples" / "plan.yaml")


@pytest.mark.parametrize(("text", "reason"), [
    ('{"a": ' + "9" * 5000 + "}", "invalid JSON: Exceeds the limit (4300 digits)"),
    ("[" * 200_000 + "]" * 200_000, "invalid JSON: nested too deeply"),
])
def test_the_strict_json_reader_turns_every_parser_fault_into_one_line(text: str, reason: str) -> None:
    with pytest.raises(InputError) as info:
        loads_strict(text.encode(), "f.jsonl:2")
    assert str(info.value).startswith("f.jsonl:2: ") and reason in str(info.value) and "\n" not in str(info.value)
    assert "set_int_max_str_digits" not in str(info.value)  # Python's advice to a programmer, not to a user


def test_row_schemas_are_named_by_the_reader_only() -> None:
    sources = {p.relative_to(PACKAGE).as_posix(): p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py")}
    for name in ("sft_row.schema.json", "eval_row.schema.json", "choice_row.schema.json"):
        opened = [f for f, src in sources.items() if f'"{name}"' in src]
        assert opened == ["rows.py"], (name, opened)
    assert not (PACKAGE / "preflight" / "rows.py").exists()


def test_a_parquet_file_with_a_column_twice_is_refused_by_every_reader(tmp_path: Path) -> None:
    """Rows, corpus text (local and Ray read units) open parquet through `picogate.io.open_parquet`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from picogate.preflight import sources
    from picogate.preflight.plan import Data

    ray_sources = pytest.importorskip("picogate.preflight.ray_sources")  # needs the ray extra

    path = tmp_path / "choice.parquet"
    table = pa.Table.from_arrays([pa.array(["a"]), pa.array(["q?"]), pa.array([["x", "y"]]), pa.array([0]),
                                  pa.array([1])], names=["id", "question", "choices", "answer", "answer"])
    pq.write_table(table, path)
    with pytest.raises(InputError, match=r"choice\.parquet: column 'answer' appears 2 times"):
        LOADERS["choice"](path)
    corpus = tmp_path / "corpus.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array(["a b"]), pa.array(["c d"])], names=["text", "text"]), corpus)
    for read in (lambda: sources.kind_of(corpus, Data(corpus=["x"])), lambda: ray_sources.text_units([corpus])):
        with pytest.raises(InputError, match=r"corpus\.parquet: column 'text' appears 2 times"):
            read()


def test_a_row_id_is_quoted_on_one_line_and_cut_when_long(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    for row_id, shown in (("x\ny::z<b>", r"row 'x\ny::z<b>'"), ("a" * 10_000, "...' (10,000 characters)")):
        path.write_text(json.dumps({"id": row_id, "skill": "m", "prompt": "p"}) + "\n")
        with pytest.raises(InputError) as info:
            list(iter_rows(path, "sft"))
        message = str(info.value)
        assert shown in message and "\n" not in message and len(message) < len(str(path)) + 200, message
