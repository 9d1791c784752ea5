"""The evaluator's input rows (eval, SFT, multiple choice) as the dataclasses scoring trusts.

Rows are read and validated by the project's one row reader (`picogate.rows.iter_rows`), the same
that preflight counts them with: bad input fails there, at the boundary, with one line naming the
file, the line and the reason. This module only turns valid rows into dataclasses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from picogate.errors import InputError
from picogate.rows import answer_letters, answer_text, choice_index, iter_rows, row_label

__all__ = ["ARC_TEMPLATE", "ChoiceRow", "EvalInputError", "EvalRow", "SftRow", "load_choice_rows",
           "load_eval_rows", "load_sft_rows", "row_label"]

# Bad evaluator input is the project's one input error; the name stays for code that catches it.
EvalInputError = InputError

# The context a choice row is scored after (lm-evaluation-harness's ARC prompt); choices follow " ".
ARC_TEMPLATE = "Question: {question}\nAnswer:"


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
        return answer_letters(self.choices)


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


T = TypeVar("T")


def _load(path: str | Path, kind: str, build: Callable[[str, dict[str, Any]], T]) -> list[T]:
    rows = [build(where, obj) for where, obj in iter_rows(path, kind)]
    if not rows:  # an evaluation over nothing would report nothing, not a failure
        raise InputError(f"{path}: no rows")
    return rows


def load_eval_rows(path: str | Path) -> list[EvalRow]:
    """Read eval rows `{"id", "skill", "prompt", "answer", ...}` (schemas/eval_row.schema.json)."""
    return _load(path, "eval", lambda where, obj: EvalRow(
        id=str(obj["id"]), skill=obj["skill"], prompt=obj["prompt"], answer=answer_text(obj["answer"]),
        source=where, grader=obj.get("grader"), facts=tuple(obj.get("facts", ())),
        benign=bool(obj.get("benign", False)), choices=tuple(obj.get("choices", ())),
        echo_min_chars=obj.get("echo_min_chars")))


def load_sft_rows(path: str | Path) -> list[SftRow]:
    """Read SFT rows `{"id", "skill", "prompt", "response"}` or `{"id", "skill", "messages"}`.

    For chat rows the last message is the assistant's (the reader checks it): it is the target, the rest
    the prompt.
    """
    def build(where: str, obj: dict[str, Any]) -> SftRow:
        if "messages" in obj:
            messages = tuple({"role": m["role"], "content": m["content"]} for m in obj["messages"])
            return SftRow(str(obj["id"]), obj["skill"], messages[-1]["content"], where, messages=messages[:-1])
        return SftRow(str(obj["id"]), obj["skill"], obj["response"], where, prompt=obj["prompt"])

    return _load(path, "sft", build)


def load_choice_rows(path: str | Path) -> list[ChoiceRow]:
    """Read multiple-choice rows `{"id", "question", "choices", "answer"}`; answer is an index or letter."""
    return _load(path, "choice", lambda where, obj: ChoiceRow(
        str(obj["id"]), obj["question"], tuple(obj["choices"]), choice_index(obj["answer"]), where))
