"""Row files of a plan (SFT, eval, external choice rows): read JSONL or parquet, validate each row.

Each row is checked against its published JSON Schema (`schemas/sft_row.schema.json`,
`eval_row.schema.json`, `choice_row.schema.json`). A bad row stops the gate with one line naming
`file:line` and the reason: evidence the gate cannot read is never counted as evidence.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow.parquet as pq
from jsonschema.exceptions import best_match

from picogate.errors import InputError
from picogate.io import read_lines, regular_file
from picogate.jsonstrict import json_lines
from picogate.paths import SCHEMAS_DIR

SCHEMAS = {"sft": "sft_row.schema.json", "eval": "eval_row.schema.json", "external": "choice_row.schema.json"}
JSONL_SUFFIXES = (".jsonl", ".ndjson")


@cache
def validator(kind: str) -> jsonschema.Draft202012Validator:
    path = SCHEMAS_DIR / SCHEMAS[kind]
    return jsonschema.Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))


def iter_rows(path: Path, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(`file:line`, row) for every row of one file, validated as `kind` (sft, eval or external).

    >>> next(iter_rows(Path("examples/data/sft/release_sft.jsonl"), "sft"))[1]["skill"]
    'identity'
    """
    check = validator(kind)
    seen: dict[Any, str] = {}
    for where, obj in raw_rows(path):
        err = best_match(check.iter_errors(obj))
        if err is not None:
            raise InputError(f"{where}: {_describe(err, kind)}")
        if kind == "sft" and "messages" in obj:
            _check_chat(obj["messages"], where)
        key = str(obj["id"])
        if key in seen:
            raise InputError(f"{where}: duplicate id {obj['id']!r} (first at {seen[key]})")
        seen[key] = where
        yield where, obj


def raw_rows(path: Path) -> Iterator[tuple[str, Any]]:
    """JSON objects of a .jsonl file (line by line) or rows of a .parquet file (batch by batch)."""
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        yield from _jsonl(path)
    elif suffix == ".parquet":
        yield from _parquet(path)
    else:
        raise InputError(f"{path}: unknown row file type '{suffix}'; use .jsonl or .parquet")


def _jsonl(path: Path) -> Iterator[tuple[str, Any]]:
    yield from json_lines(read_lines(path, "rows"), path)  # streamed: regular file checked, no size limit


def _parquet(path: Path) -> Iterator[tuple[str, Any]]:
    regular_file(path, "rows")  # pyarrow would block on a FIFO and report a folder as "not found"
    try:
        pf = pq.ParquetFile(path)
        row = 0
        for batch in pf.iter_batches(batch_size=4096):
            for obj in batch.to_pylist():
                row += 1
                # parquet has a column for every key: a null there means "not given"
                yield f"{path}: row {row}", {k: v for k, v in obj.items() if v is not None}
    except InputError:
        raise
    except Exception as exc:  # pyarrow raises many types for truncated or foreign files
        raise InputError(f"{path}: cannot read as parquet ({_first_line(exc)})") from None


def _describe(err: jsonschema.ValidationError, kind: str) -> str:
    where = ".".join(str(p) for p in err.absolute_path)
    if err.validator == "oneOf" and kind == "sft" and not err.absolute_path:
        return "an SFT row needs 'prompt' and 'response', or 'messages' (not both)"
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        allowed = ", ".join(err.schema.get("properties", {}))
        return f"unknown key '{extra[0]}' (allowed: {allowed})" if extra else err.message
    if err.validator == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        return f"missing required field '{missing}'" + (f" in {where}" if where else "")
    return f"{where}: {err.message}" if where else err.message


def _check_chat(messages: list[dict[str, str]], where: str) -> None:
    if messages[-1]["role"] != "assistant" or not messages[-1]["content"]:
        raise InputError(f"{where}: messages: the last message must be a non-empty assistant turn")
    if all(m["role"] == "assistant" for m in messages[:-1]):
        raise InputError(f"{where}: messages: no user or system turn before the assistant's")


def prompt_text(row: dict[str, Any]) -> str:
    """The text a model is prompted with: `prompt`, `question`, or the chat turns before the answer."""
    if "messages" in row:
        return "\n".join(m["content"] for m in row["messages"][:-1])
    return row.get("prompt") or row.get("question") or ""


def full_text(row: dict[str, Any]) -> str:
    """Everything an SFT row trains on: prompt and response, or every chat turn."""
    if "messages" in row:
        return "\n".join(m["content"] for m in row["messages"])
    return "\n".join(str(row[k]) for k in ("prompt", "response", "question") if k in row)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
