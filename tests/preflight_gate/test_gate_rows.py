# .venv/bin/python -m pytest tests/preflight_gate/test_gate_rows.py -q
"""SFT/eval/choice row files: each bad row is refused with file:line and the reason."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from picogate.errors import InputError
from picogate.rows import iter_rows, prompt_text

REPO = Path(__file__).parents[2]


def jsonl(tmp_path: Path, *lines: str | bytes) -> Path:
    p = tmp_path / "rows.jsonl"
    p.write_bytes(b"\n".join(x if isinstance(x, bytes) else x.encode() for x in lines) + b"\n")
    return p


SFT_OK = json.dumps({"id": "a", "skill": "math", "prompt": "1+1?", "response": "2"})


@pytest.mark.parametrize(("line", "reason"), [
    ('{"id": "b", "skill": "math", "prompt": "x"', "invalid JSON"),
    ("[1, 2]", "must be a JSON object, got list"),
    ('{"id": "b", "skill": "math", "prompt": "x"}', "needs 'prompt' and 'response', or 'messages'"),
    ('{"id": "b", "prompt": "x", "response": "y"}', "missing required field 'skill'"),
    ('{"id": "b", "skill": "Math!", "prompt": "x", "response": "y"}', "skill:"),
    ('{"id": "b", "skill": "math", "prompt": "x", "response": "y", "grade": 1}', "unknown key 'grade'"),
    ('{"id": "b", "skill": "math", "prompt": "x", "response": "y", "id": "c"}', "duplicate key 'id'"),
    ('{"id": "b", "skill": "math", "prompt": NaN, "response": "y"}', "NaN is not valid JSON"),
    ('{"id": "a", "skill": "math", "prompt": "x", "response": "y"}', "duplicate id 'a'"),
    ('{"id": "b", "skill": "math", "messages": [{"role": "user", "content": "x"}, '
     '{"role": "user", "content": "y"}]}', "last message must be a non-empty assistant turn"),
    (b'{"id": "b", "skill": "m\xff", "prompt": "x", "response": "y"}', "not valid UTF-8"),
])
def test_bad_sft_row(tmp_path: Path, line: str | bytes, reason: str) -> None:
    path = jsonl(tmp_path, SFT_OK, "", line)
    with pytest.raises(InputError) as exc:
        list(iter_rows(path, "sft"))
    assert str(exc.value).startswith(f"{path}:3: ")
    assert reason in str(exc.value)


def test_eval_and_choice_rows_use_the_evaluator_schemas(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing required field 'answer'"):
        list(iter_rows(jsonl(tmp_path, '{"id": 1, "skill": "math", "prompt": "2+2"}'), "eval"))
    with pytest.raises(InputError, match="answer"):
        list(iter_rows(jsonl(tmp_path, '{"id": 1, "question": "q", "choices": ["a", "b"], "answer": "z"}'),
                       "choice"))


def test_chat_rows_and_prompts(tmp_path: Path) -> None:
    row = {"id": "c", "skill": "identity", "messages": [{"role": "system", "content": "be brief"},
                                                         {"role": "user", "content": "who?"},
                                                         {"role": "assistant", "content": "pico"}]}
    [(where, got)] = list(iter_rows(jsonl(tmp_path, json.dumps(row)), "sft"))
    assert where.endswith(":1") and prompt_text(got) == "be brief\nwho?"


def test_parquet_rows(tmp_path: Path) -> None:
    path = tmp_path / "sft.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "skill": ["math", "math"], "prompt": ["x", "y"],
                             "response": ["1", None]}), path)
    with pytest.raises(InputError, match=r"sft.parquet: row 2 \(id 'b'\): an SFT row needs 'prompt' and 'response'"):
        list(iter_rows(path, "sft"))


def test_truncated_parquet(tmp_path: Path) -> None:
    path = tmp_path / "sft.parquet"
    pq.write_table(pa.table({"id": ["a"], "skill": ["math"], "prompt": ["x"], "response": ["y"]}), path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(InputError, match="cannot read as parquet"):
        list(iter_rows(path, "sft"))


def test_shipped_rows_are_valid() -> None:
    assert len(list(iter_rows(REPO / "examples/data/sft/release_sft.jsonl", "sft"))) == 100
    assert len(list(iter_rows(REPO / "examples/data/eval/release_eval.jsonl", "eval"))) == 50
    for name in ("tiny_sft.jsonl", "tiny_sft_heldout.jsonl"):  # the evaluator's SFT rows fit our schema
        assert list(iter_rows(REPO / "examples/data/eval" / name, "sft"))
