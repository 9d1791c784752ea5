"""The one row reader: SFT, eval and multiple-choice rows, from JSONL or parquet, each row validated.

Preflight counts these rows (skills covered, prompts to scan for contamination), the evaluator scores
them and the post-run honesty report re-reads the SFT rows: all three read through `iter_rows`, so a
row one of them accepts is a row the others accept. Each row is checked against its published JSON
Schema (`schemas/sft_row.schema.json`, `eval_row.schema.json`, `choice_row.schema.json`) and the rules a
schema cannot say (a chat ends with the assistant's turn, an answer letter exists, ids are unique in a
file). A bad row stops with one line, `file:line: row 'id': reason`: evidence that cannot be read is
never counted as evidence.

Standard library at import time (pyarrow and jsonschema are imported on first use): a GPU box with
torch and nothing else still imports the evaluator's scoring path.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from picogate.errors import InputError, first_line
from picogate.io import open_parquet, read_lines
from picogate.jsonstrict import json_lines
from picogate.paths import SCHEMAS_DIR

SCHEMAS = {"sft": "sft_row.schema.json", "eval": "eval_row.schema.json", "choice": "choice_row.schema.json"}
JSONL_SUFFIXES = (".jsonl", ".ndjson")
LETTERS = string.ascii_uppercase  # a choice answer given as a letter: A is choice 0
_LETTER_GRADERS = ("letter", "choice_letter")
_PARQUET_WHERE = re.compile(r": row \d+$")  # where `_parquet` says a row is


def iter_rows(path: str | Path, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(`file:line`, row) for every row of one file, validated as `kind` (sft, eval or choice).

    >>> next(iter_rows(Path("examples/data/sft/release_sft.jsonl"), "sft"))[1]["skill"]
    'identity'
    """
    if kind not in SCHEMAS:
        raise ValueError(f"unknown row kind {kind!r}; one of {', '.join(SCHEMAS)}")
    check = _validator(SCHEMAS[kind])
    seen: dict[str, str] = {}
    for where, obj in raw_rows(Path(path)):
        label = row_label(where, obj.get("id"))
        if kind == "choice":
            _choice_answer(obj, label)
        err = _best_match(check.iter_errors(obj))
        if err is not None:
            raise InputError(f"{label}: {_describe(err, kind)}")
        _semantics(obj, kind, label)
        key = str(obj["id"])
        if key in seen:
            raise InputError(f"{where}: duplicate id {_shown(obj['id'])} (first at {seen[key]})")
        seen[key] = where
        yield where, obj


def raw_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """JSON objects of a .jsonl file (line by line, `file:line`) or of a .parquet file (batch by batch,
    `file: row N`); only a regular file is opened (a FIFO would block, a device never end)."""
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        yield from json_lines(read_lines(path, "rows"), path)  # streamed: one line is held at a time
    elif suffix == ".parquet":
        yield from _parquet(path)
    else:
        raise InputError(f"{path}: unknown row file type '{suffix}'; use .jsonl or .parquet")


def row_label(where: str, row_id: Any) -> str:
    """`file:line: row 'id'` (parquet: `file: row N (id 'id')`), the prefix of every fault found in a row;
    the id is left out when unusable."""
    if not isinstance(row_id, str | int) or isinstance(row_id, bool):
        return where
    return f"{where} (id {_shown(row_id)})" if _PARQUET_WHERE.search(where) else f"{where}: row {_shown(row_id)}"


def _shown(row_id: Any) -> str:
    """An id as quoted in a message: repr keeps it on one line, and a long one is cut."""
    text = repr(str(row_id))
    return text if len(text) <= 80 else f"{text[:60]}...{text[-1]} ({len(str(row_id)):,} characters)"


def choice_index(answer: int | str) -> int:
    """A validated choice answer as a 0-based index (a letter counts from A = 0)."""
    return LETTERS.index(answer) if isinstance(answer, str) else answer


def answer_letters(choices: Any) -> tuple[str, ...]:
    """Letters a lettered question may be answered with: A-D unless it lists more choices."""
    return tuple(LETTERS[: len(choices) or 4])


def answer_text(value: Any) -> str:
    """An eval row's expected answer as the text graders compare (a JSON number as written: 4, not 4.0)."""
    return value if isinstance(value, str) else json.dumps(value)


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


@cache
def _validator(name: str) -> Any:
    import jsonschema  # on first use: the evaluator's scoring path imports without it

    schema = json.loads((SCHEMAS_DIR / name).read_text(encoding="utf-8"))
    return jsonschema.validators.validator_for(schema)(schema)


def _best_match(errors: Iterator[Any]) -> Any:
    from jsonschema.exceptions import best_match

    return best_match(errors)


def _describe(err: Any, kind: str) -> str:
    """A schema fault in words: the field, then what is wrong with it."""
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


def _choice_answer(obj: dict[str, Any], label: str) -> None:
    """JSON Schema counts 1.0 as an integer, and a bare oneOf failure says little: name the fault first."""
    answer = obj.get("answer")
    if "answer" in obj and (isinstance(answer, bool) or not isinstance(answer, int | str)):
        raise InputError(f"{label}: answer: {json.dumps(answer)} must be a 0-based integer index (1, not 1.0) "
                         "or a capital letter")
    if isinstance(answer, str) and (len(answer) != 1 or answer not in LETTERS):
        raise InputError(f"{label}: answer: {json.dumps(answer)} must be a 0-based integer index (a number, "
                         "not a string) or a capital letter")


def _semantics(obj: dict[str, Any], kind: str, label: str) -> None:
    """What a schema cannot say about a row that passed it."""
    if kind == "sft" and "messages" in obj:
        messages = obj["messages"]
        if messages[-1]["role"] != "assistant" or not messages[-1]["content"]:
            raise InputError(f"{label}: messages: the last message must be a non-empty assistant turn")
        if all(m["role"] == "assistant" for m in messages[:-1]):
            raise InputError(f"{label}: messages: no user or system turn before the assistant's")
    elif kind == "choice":
        index, n = choice_index(obj["answer"]), len(obj["choices"])
        if index >= n:
            raise InputError(f"{label}: answer: {obj['answer']!r} is out of range for {n} choices")
    elif kind == "eval" and obj.get("grader") in _LETTER_GRADERS:
        letters = answer_letters(obj.get("choices", ()))
        if answer_text(obj["answer"]) not in letters:
            raise InputError(f"{label}: answer {answer_text(obj['answer'])!r} is not one of the letters {letters}")


def _parquet(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    pf = open_parquet(path, "rows")
    try:
        row = 0
        for batch in pf.iter_batches(batch_size=4096):
            for obj in batch.to_pylist():
                row += 1
                # parquet has a column for every key: a null there means "not given"
                yield f"{path}: row {row}", {k: v for k, v in obj.items() if v is not None}
    except InputError:
        raise
    except Exception as exc:  # pyarrow raises many types for truncated or foreign files
        raise InputError(f"{path}: cannot read as parquet ({first_line(exc)})") from None
