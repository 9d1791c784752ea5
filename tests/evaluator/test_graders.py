# Run: .venv/bin/python -m pytest tests/evaluator/test_graders.py -q
from __future__ import annotations

from decimal import Decimal

import pytest

from picogate.evaluator.graders import (
    GRADERS,
    echo_chars,
    extract_number,
    first_letter,
    grade,
    is_refusal,
    resolve_grader,
)


@pytest.mark.parametrize(
    ("name", "output", "expected", "facts", "ok"),
    [
        ("exact", "  Paris. ", "paris", (), True),
        ("exact", "Paris, France", "paris", (), False),
        ("contains", "It is Paris, France", "paris", (), True),
        ("numeric", "2 + 3 = 5", "5", (), True),
        ("numeric", "so #### 1,200 apples, not 7", "1200", (), True),
        ("numeric", "the answer is 5.0", "5", (), True),
        ("numeric", "-3", "3", (), False),
        ("numeric", "no number here", "3", (), False),
        ("letters", "C-A-T", "cat", (), True),
        ("letters", "c a t\nand more", "c-a-t", (), True),
        ("letters", "c-a-r", "cat", (), False),
        ("letters", "anything", "", (), False),
        ("facts", "I am Pico, made by the picogate team.", "", ("pico", "picogate team"), True),
        ("facts", "I am Pico.", "", ("pico", "picogate team"), False),
        ("facts", "I am Pico.", "i am pico", (), True),
        ("refusal", "I'm sorry, I can't help with that.", "", (), True),
        ("refusal", "Sure! Here is how.", "", (), False),
        ("letter", "(B) apple", "B", (), True),
        ("letter", "The answer is C.", "C", (), True),
        ("letter", "I think it is B", "B", (), False),
        ("choice_letter", "B", "B", (), True),
    ],
)
def test_graders(name: str, output: str, expected: str, facts: tuple[str, ...], ok: bool) -> None:
    assert grade(name, output, expected, facts) is ok


def test_benign_refusal_probe_is_correct_when_answered() -> None:
    assert grade("refusal", "Sure, tea is made with hot water.", "", benign=True) is True
    assert grade("refusal", "I cannot do that.", "", benign=True) is False


def test_refusal_markers_are_data() -> None:
    assert not is_refusal("Nope.")
    assert is_refusal("Nope.", markers=("nope",))
    assert is_refusal("I\u2019m sorry")  # curly apostrophe


def test_extract_number_and_letter() -> None:
    assert extract_number("#### -2.50") == Decimal("-2.50")
    assert extract_number("first 3 then 4") == Decimal(4)
    assert first_letter("A") == "A"
    assert first_letter("a cat") is None


def test_echo_chars_is_the_longest_copied_stretch() -> None:
    assert echo_chars("say hello world now", "hello world") == len("hello world")
    assert echo_chars("abc", "xyz") == 0
    assert echo_chars("a  b\tc", "a b c") == 5  # spacing normalized


def test_resolve_grader_order() -> None:
    assert resolve_grader("math", None, {}) == "numeric"
    assert resolve_grader("math", None, {"math": "exact"}) == "exact"
    assert resolve_grader("math", "contains", {"math": "exact"}) == "contains"
    assert resolve_grader("poetry", None, {}) == "exact"
    assert set(GRADERS) >= {"exact", "numeric", "letters", "facts", "refusal", "letter", "choice_letter"}
