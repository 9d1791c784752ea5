# Run: .venv/bin/python -m pytest tests/evaluator/test_rows.py -q
from __future__ import annotations

from pathlib import Path

import pytest

from picogate.evaluator.rows import EvalInputError, load_choice_rows, load_eval_rows, load_sft_rows

GOOD_EVAL = '{"id": "a", "skill": "math", "prompt": "2+2?", "answer": 4}'
GOOD_CHOICE = '{"id": "c", "question": "q?", "choices": ["x", "y"], "answer": 1}'


def _write(tmp_path: Path, body: bytes | str, name: str = "rows.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(body.encode() if isinstance(body, str) else body)
    return path


@pytest.mark.parametrize(
    ("loader", "second_line", "reason"),
    [
        (load_eval_rows, '{"id": "b", "skill": "math", "prompt": "1+1?"}', "row 'b': missing required field 'answer'"),
        (load_eval_rows, '{"id": "b", "skill": "Math!", "prompt": "p", "answer": "1"}', "skill"),
        (load_eval_rows, '{"id": "b", "skill": "m", "prompt": "p", "answer": "1", "grader": "vibes"}', "grader"),
        (load_eval_rows, '{"id": "b", "skill": "m", "prompt": "p", "answer": "1", "grade": "exact"}',
         "unknown key 'grade'"),
        (load_eval_rows, '{"id": "a", "skill": "m", "prompt": "p", "answer": "1"}', "duplicate id 'a'"),
        (load_eval_rows, '{"id": "b", "skill": "m", "prompt": "p", "answer": NaN}', "NaN is not valid JSON"),
        (load_eval_rows, '{"id": "b", "id": "c", "skill": "m", "prompt": "p", "answer": "1"}', "duplicate key"),
        (load_eval_rows, '["not", "an", "object"]', "must be a JSON object, got list"),
        (load_eval_rows, '{"id": "b", "skill": "m",', "invalid JSON"),
        (load_eval_rows, '{"id": "b", "skill": "c", "prompt": "p", "answer": "E", "grader": "letter"}',
         "not one of the letters"),
        (load_choice_rows, '{"id": "d", "question": "q", "choices": [], "answer": 0}', "choices"),
        (load_choice_rows, '{"id": "d", "question": "q", "choices": ["x", "y"], "answer": 2}', "out of range"),
        (load_choice_rows, '{"id": "d", "question": "q", "choices": ["x", "y"], "answer": "C"}', "out of range"),
        (load_choice_rows, '{"id": "d", "question": "q", "choices": ["x", "y"], "answer": -1}', "answer"),
        (load_choice_rows, '{"id": "d", "question": "q", "choices": ["x", "y"]}', "missing required field 'answer'"),
        # JSON Schema calls 1.0 an integer: it must still be refused here, not fail after scoring
        (load_choice_rows, '{"id": "d", "question": "q", "choices": ["x", "y"], "answer": 1.0}',
         "row 'd': answer: 1.0 must be a 0-based integer index"),
        (load_choice_rows, '{"id": "d", "question": "q", "choices": ["x", "y"], "answer": "1"}',
         "row 'd': answer: \"1\" must be a 0-based integer index (a number, not a string)"),
        (load_choice_rows, '{"id": "d", "question": "q", "choices": ["x", "y"], "answer": true}',
         "row 'd': answer: true must be a 0-based integer index"),
        (load_choice_rows, '{"id": "d", "question": "q", "choices": ["x", "y"], "answer": "AB"}',
         "row 'd': answer: \"AB\" must be"),
        (load_choice_rows, '{"id": 9, "question": "q", "choices": ["x", "y"], "answer": null}',
         "row '9': answer: null must be"),
        (load_choice_rows, '{"id": "d", "question": "q", "choices": ["x", "y"], "answer": 1, "extra": 1}',
         "row 'd': unknown key 'extra'"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, loader, second_line: str, reason: str) -> None:
    first = GOOD_CHOICE if loader is load_choice_rows else GOOD_EVAL
    path = _write(tmp_path, first + "\n\n" + second_line + "\n")
    with pytest.raises(EvalInputError) as info:
        loader(path)
    message = str(info.value)
    assert message.startswith(f"{path}:3: "), message
    assert reason in message
    assert "\n" not in message
    assert isinstance(info.value, ValueError)


def test_non_utf8_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD_EVAL.encode() + b"\n" + b'{"id": "b", "prompt": "caf\xe9"}\n')
    with pytest.raises(EvalInputError, match=r":2: not valid UTF-8"):
        load_eval_rows(path)


def test_empty_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(EvalInputError, match="no rows"):
        load_eval_rows(_write(tmp_path, "\n  \n"))
    with pytest.raises(EvalInputError, match=r"absent\.jsonl: no such file"):
        load_eval_rows(tmp_path / "absent.jsonl")


def test_good_rows_load(tmp_path: Path) -> None:
    (row,) = load_eval_rows(_write(tmp_path, "\ufeff" + GOOD_EVAL + "\n"))
    assert (row.id, row.skill, row.answer, row.source) == ("a", "math", "4", f"{tmp_path}/rows.jsonl:1")
    (choice,) = load_choice_rows(_write(tmp_path, GOOD_CHOICE.replace('"answer": 1', '"answer": "B"')))
    assert choice.answer == 1


def test_sft_rows_plain_and_chat(tmp_path: Path) -> None:
    path = _write(tmp_path, "\n".join([
        '{"id": 1, "skill": "math", "prompt": "2+2?", "response": "4"}',
        '{"id": 2, "skill": "math", "messages": [{"role": "user", "content": "2+2?"},'
        ' {"role": "assistant", "content": "4"}]}',
    ]))
    plain, chat = load_sft_rows(path)
    assert (plain.prompt, plain.response) == ("2+2?", "4")
    assert chat.messages == ({"role": "user", "content": "2+2?"},) and chat.response == "4"


def test_sft_chat_must_end_with_assistant(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"id": 1, "skill": "m", "messages": [{"role": "assistant", "content": "hi"},'
                            ' {"role": "user", "content": "x"}]}')
    with pytest.raises(EvalInputError, match=r":1: row '1': messages: the last message"):
        load_sft_rows(path)


def test_json_faults_read_like_the_shared_strict_reader(tmp_path: Path) -> None:
    from picogate.errors import InputError
    from picogate.jsonstrict import loads_strict

    for line in (b'{"a": NaN}', b'{"a": 1, "a": 2}', b'{"a": '):
        path = _write(tmp_path, GOOD_EVAL.encode() + b"\n" + line + b"\n")
        with pytest.raises(InputError) as shared:
            loads_strict(line, f"{path}:2")
        with pytest.raises(EvalInputError) as ours:
            load_eval_rows(path)
        assert str(ours.value) == str(shared.value)


def test_integer_past_the_digit_limit_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD_EVAL + "\n" + '{"id": "b", "answer": ' + "9" * 5000 + "}\n")
    with pytest.raises(EvalInputError, match=r":2: invalid JSON: "):
        load_eval_rows(path)
