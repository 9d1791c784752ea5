"""Reading and validating the evaluator's input rows (JSONL: eval, SFT, multiple choice).

Bad input fails here, at the boundary, with one line naming the file, the line and the reason;
everything downstream trusts these dataclasses.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from picogate.errors import InputError
from picogate.io import read_lines  # standard library only, like jsonstrict
from picogate.jsonstrict import loads_strict  # standard library only: the torch-only path still imports


class EvalInputError(InputError):
    """A bad evaluator input, with `file:line: reason` as its one-line message."""

    def __init__(self, message: str) -> None:
        ValueError.__init__(self, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


LETTERS = string.ascii_uppercase
# The context a choice row is scored after (lm-evaluation-harness's ARC prompt); choices follow " ".
ARC_TEMPLATE = "Question: {question}\nAnswer:"

# Used when schemas/sft_row.schema.json (owned by the preflight side) is not shipped.
_SFT_FALLBACK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "skill"],
    "properties": {
        "id": {"type": ["string", "integer"], "minLength": 1},
        "skill": {"type": "string", "pattern": "^[a-z0-9_]+$"},
        "prompt": {"type": "string", "minLength": 1},
        "response": {"type": "string", "minLength": 1},
        "messages": {
            "type": "array",
            "minItems": 2,
            "items": {
                "type": "object",
                "required": ["role", "content"],
                "properties": {
                    "role": {"enum": ["system", "user", "assistant"]},
                    "content": {"type": "string"},
                },
            },
        },
    },
    "oneOf": [{"required": ["prompt", "response"]}, {"required": ["messages"]}],
}


@dataclass(frozen=True)
class EvalRow:
    """One generation prompt with its expected answer and (optionally) its grader."""

    id: str
    skill: str
    prompt: str
    answer: str
    source: str
    grader: str | None = None
    facts: tuple[str, ...] = ()
    benign: bool = False
    choices: tuple[str, ...] = ()
    echo_min_chars: int | None = None

    @property
    def letters(self) -> tuple[str, ...]:
        """Letters a lettered question may be answered with (A-D unless `choices` says more)."""
        return tuple(LETTERS[: len(self.choices) or 4])


@dataclass(frozen=True)
class SftRow:
    """One SFT example: a prompt (plain or chat messages) and the target response."""

    id: str
    skill: str
    response: str
    source: str
    prompt: str | None = None
    messages: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class ChoiceRow:
    """One multiple-choice question; `answer` is the 0-based index of the right choice."""

    id: str
    question: str
    choices: tuple[str, ...]
    answer: int
    source: str


def schema_dir() -> Path:
    """The published schemas: inside the wheel (`_shipped`) or at the source checkout's root."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_shipped" / "schemas", here.parent / "schemas"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("picogate schemas/ directory not found")


@cache
def _validator(name: str) -> Any:
    import jsonschema  # here, so the torch-only scoring path imports without it

    path = schema_dir() / name
    if name == "sft_row.schema.json" and not path.exists():
        schema = _SFT_FALLBACK_SCHEMA
    else:
        schema = json.loads(path.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line, refusing anything not plain JSON.

    Each line goes through the project's one strict reader (`picogate.jsonstrict`), so NaN and
    duplicate keys are refused here exactly as in metrics files and preflight rows. The file is
    streamed line by line, and only a regular file is opened (a FIFO would block, a device never end).
    """
    path = Path(path)
    try:
        yield from _objects(path, read_lines(path, "rows"))
    except EvalInputError:
        raise
    except InputError as exc:  # cannot open or read the file: one line naming it
        raise EvalInputError(str(exc)) from None


def _objects(path: Path, lines: Iterator[bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(lines, start=1):
        raw = line[:-1] if line.endswith(b"\n") else line  # as split on newlines: error columns stay on the line
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EvalInputError(
                f"{path}:{number}: not valid UTF-8 (byte {exc.start + 1} of the line)"
            ) from exc
        if not text.strip():
            continue
        try:
            obj = loads_strict(raw, f"{path}:{number}")
        except InputError as exc:  # already "file:line: reason"
            raise EvalInputError(str(exc)) from exc
        except ValueError as exc:  # e.g. an integer past Python's digit limit
            raise EvalInputError(f"{path}:{number}: invalid JSON: {exc}") from exc
        if not isinstance(obj, dict):
            raise EvalInputError(f"{path}:{number}: expected a JSON object, got {type(obj).__name__}")
        yield number, obj


def row_label(where: str, row_id: Any) -> str:
    """`file:line: row 'id'`, the prefix of every fault found in a row (the id left out when unusable)."""
    usable = isinstance(row_id, str | int) and not isinstance(row_id, bool)
    return f"{where}: row {str(row_id)!r}" if usable else where


def _validate(obj: dict[str, Any], schema: str, where: str) -> None:
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator(schema).iter_errors(obj))
    if error is not None:
        field = ".".join(str(p) for p in error.absolute_path)
        raise EvalInputError(f"{row_label(where, obj.get('id'))}: {field + ': ' if field else ''}{error.message}")


def _choice_answer(obj: dict[str, Any], where: str) -> None:
    """JSON Schema counts 1.0 as an integer, and a bare oneOf failure says little: name the fault first."""
    answer = obj.get("answer")
    if "answer" in obj and (isinstance(answer, bool) or not isinstance(answer, int | str)):
        raise EvalInputError(f"{row_label(where, obj.get('id'))}: answer: {json.dumps(answer)} must be a 0-based "
                             "integer index (1, not 1.0) or a capital letter")
    if isinstance(answer, str) and (len(answer) != 1 or answer not in LETTERS):
        raise EvalInputError(f"{row_label(where, obj.get('id'))}: answer: {json.dumps(answer)} must be a 0-based "
                             "integer index (a number, not a string) or a capital letter")


def _load(path: str | Path, schema: str) -> Iterator[tuple[str, dict[str, Any]]]:
    seen: dict[str, str] = {}
    for number, obj in read_jsonl(path):
        where = f"{path}:{number}"
        if schema == "choice_row.schema.json":
            _choice_answer(obj, where)
        _validate(obj, schema, where)
        row_id = str(obj["id"])
        if row_id in seen:
            raise EvalInputError(f"{where}: duplicate id {row_id!r} (first at {seen[row_id]})")
        seen[row_id] = where
        yield where, obj
    if not seen:
        raise EvalInputError(f"{path}: no rows")


def _answer_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def load_eval_rows(path: str | Path) -> list[EvalRow]:
    """Read eval rows `{"id", "skill", "prompt", "answer", ...}` (schemas/eval_row.schema.json)."""
    rows = []
    for where, obj in _load(path, "eval_row.schema.json"):
        row = EvalRow(
            id=str(obj["id"]),
            skill=obj["skill"],
            prompt=obj["prompt"],
            answer=_answer_text(obj["answer"]),
            source=where,
            grader=obj.get("grader"),
            facts=tuple(obj.get("facts", ())),
            benign=bool(obj.get("benign", False)),
            choices=tuple(obj.get("choices", ())),
            echo_min_chars=obj.get("echo_min_chars"),
        )
        if row.grader in ("letter", "choice_letter") and row.answer not in row.letters:
            raise EvalInputError(f"{where}: answer {row.answer!r} is not one of the letters {row.letters}")
        rows.append(row)
    return rows


def load_sft_rows(path: str | Path) -> list[SftRow]:
    """Read SFT rows `{"id", "skill", "prompt", "response"}` or `{"id", "skill", "messages"}`.

    For chat rows the last message must be the assistant's: it is the target, the rest the prompt.
    """
    rows = []
    for where, obj in _load(path, "sft_row.schema.json"):
        if "messages" in obj:
            messages = tuple({"role": m["role"], "content": m["content"]} for m in obj["messages"])
            if messages[-1]["role"] != "assistant" or not messages[-1]["content"]:
                raise EvalInputError(
                    f"{where}: messages: the last message must be a non-empty assistant turn"
                )
            if all(m["role"] == "assistant" for m in messages[:-1]):
                raise EvalInputError(f"{where}: messages: no user or system turn before the assistant's")
            rows.append(SftRow(str(obj["id"]), obj["skill"], messages[-1]["content"], where,
                               messages=messages[:-1]))
        else:
            rows.append(SftRow(str(obj["id"]), obj["skill"], obj["response"], where, prompt=obj["prompt"]))
    return rows


def load_choice_rows(path: str | Path) -> list[ChoiceRow]:
    """Read multiple-choice rows `{"id", "question", "choices", "answer"}`; answer is an index or letter."""
    rows = []
    for where, obj in _load(path, "choice_row.schema.json"):
        choices = tuple(obj["choices"])
        answer = obj["answer"]
        index = LETTERS.index(answer) if isinstance(answer, str) else answer
        if index >= len(choices):
            raise EvalInputError(
                f"{row_label(where, obj['id'])}: answer: {answer!r} is out of range for {len(choices)} choices"
            )
        rows.append(ChoiceRow(str(obj["id"]), obj["question"], choices, index, where))
    return rows
