"""Lexer of the check-expression language: text -> positioned tokens.

Only ASCII is allowed outside string literals; a Unicode look-alike (a non-breaking
space, `≥`, a curly quote, the minus sign U+2212) is named and refused rather than
silently misread. Dotted metric names (`eval.math.pass_rate`) are one token; odd
names are written in backticks (`` `loss/ema-0.9` ``). `{skill}` inside a name (or on
its own) is a category placeholder, filled in when a per-category rule expands.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from picogate.expr.errors import ExprError
from picogate.expr.grammar import KEYWORDS, SYMBOLS

MAX_LENGTH = 4096  # characters in one expression; longer checks are refused, not parsed
MAX_STRING = 512  # characters in one string literal
MAX_EXACT_INT = 2**53  # past it not every integer is a float64, so `x == 9007199254740993` could not be exact


# Common mistakes get a hint instead of a bare "unexpected character".
_HINTS = {
    "&&": "use 'and'",
    "||": "use 'or'",
    "**": "there is no power operator",
    "=": "use '==' to compare",
    "!": "use 'not' (or '!=' to compare)",
    "&": "use 'and'",
    "|": "use 'or'",
    "^": "there is no power or xor operator",
    "'''": "triple-quoted strings are not supported",
    "@": "not an operator",
    "~": "use 'not'",
    ":": "not an operator",
    ";": "one expression only",
    "=>": "use '>='",
    "=<": "use '<='",
    "<>": "use '!='",
}
_HINTS_LONGEST_FIRST = sorted(_HINTS, key=len, reverse=True)
_HINT_STARTS = frozenset(h[0] for h in _HINTS)
_SYMBOLS2 = frozenset(op for op in SYMBOLS if len(op) == 2)
assert max(map(len, SYMBOLS)) == 2 and not any(len(h) > 2 and h[:2] in _SYMBOLS2 for h in _HINTS)
_LOOKALIKES = {
    "\u00a0": "a non-breaking space; use a plain space",
    "\u2212": "the minus sign U+2212; use '-'",
    "\u2264": "'≤'; use '<='",
    "\u2265": "'≥'; use '>='",
    "\u2260": "'≠'; use '!='",
    "\u2018": "a curly quote; use ' or \"",
    "\u2019": "a curly quote; use ' or \"",
    "\u201c": "a curly quote; use ' or \"",
    "\u201d": "a curly quote; use ' or \"",
    "\u2013": "an en dash; use '-'",
    "\u2014": "an em dash; use '-'",
    "\u00d7": "'×'; use '*'",
    "\u00f7": "'÷'; use '/'",
}

_IDENT = r"(?:[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\})"
_NAME_RE = re.compile(rf"{_IDENT}(?:\.(?:[A-Za-z0-9_]+|\{{[A-Za-z_][A-Za-z0-9_]*\}}))*")
_NUMBER_RE = re.compile(r"(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d+)?", re.ASCII)
_DIGITS = frozenset("0123456789")  # str.isdigit() also accepts '١' or '²', which must not read as numbers
_SPACE = " \t\r\n"


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # NUMBER STRING NAME PARAM KEYWORD OP EOF
    value: object
    pos: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Split `text` into tokens; raise `ExprError` at the first character that is not allowed."""
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression is {len(text)} characters long; the limit is {MAX_LENGTH}", text, 0)
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _SPACE:
            i += 1
            continue
        if ch in _DIGITS or (ch == "." and i + 1 < n and text[i + 1] in _DIGITS):
            tokens.append(_number(text, i))
        elif ch.isascii() and (ch.isalpha() or ch in "_{"):
            tokens.append(_name(text, i))
        elif ch == "`":
            tokens.append(_quoted_name(text, i))
        elif ch in "'\"":
            tokens.append(_string(text, i))
        else:
            tokens.append(_operator(text, i))
        i = tokens[-1].end
    tokens.append(Token("EOF", None, n, n))
    return tokens


def _number(text: str, i: int) -> Token:
    m = _NUMBER_RE.match(text, i)
    assert m is not None  # the caller saw a digit
    end = m.end()
    if end < len(text) and (text[end].isalnum() or text[end] in "_."):
        raise ExprError(f"malformed number '{text[i:end + 1]}'", text, end)
    raw = m.group().replace("_", "")
    value: int | float
    if any(c in raw for c in ".eE"):
        value = float(raw)
    else:
        value = int(raw)
        if len(raw) > 1 and raw[0] == "0":
            raise ExprError(f"number '{m.group()}' has a leading zero; write {value}", text, i)
    problem = number_problem(value, m.group())
    if problem:
        raise ExprError(problem, text, i)
    return Token("NUMBER", value, i, end)


def number_problem(value: int | float, written: str | None = None) -> str | None:
    """Why `value` cannot be a number of a check (None if it can), as a sentence naming it.

    The one range rule for every number a check computes with: literals here, and the
    `per_category` values, `categories:` tables and `tables:` numbers of a rule file
    (picogate/rules/loader.py).
    evaluate computes in float64, so a number must be a finite float64, and an integer
    must be at most 2**53 in size, where float64 still holds every integer exactly.

    >>> number_problem(2**53 + 1)
    "integer '9007199254740993' cannot be compared exactly (limit 2**53)"
    """
    if isinstance(value, bool):
        return None
    shown = written if written is not None and len(written) <= 32 else _abridged(value)
    if isinstance(value, int):
        if abs(value) > MAX_EXACT_INT:
            return f"integer '{shown}' cannot be compared exactly (limit 2**53)"
        return None
    if math.isnan(value):
        return f"'{shown}' is not a number"
    if math.isinf(value):
        return f"number '{shown}' is too large for a 64-bit float"
    if value == 0 and written is not None and re.search(r"[1-9]", re.split(r"[eE]", written)[0]):
        return f"number '{shown}' is too small for a 64-bit float (it would read as 0)"
    return None


def _abridged(value: int | float) -> str:
    """A number as text, its middle cut when long (a 331-digit integer names its size instead)."""
    if isinstance(value, int):
        digits = str(abs(value)) if abs(value).bit_length() < 10_000 else ""
        if not digits:
            return f"{'-' if value < 0 else ''}<an integer of {abs(value).bit_length()} bits>"
        sign = "-" if value < 0 else ""
        return sign + digits if len(digits) <= 24 else f"{sign}{digits[:8]}...{digits[-4:]} ({len(digits)} digits)"
    return repr(value)


def _name(text: str, i: int) -> Token:
    m = _NAME_RE.match(text, i)
    if m is None:  # a '{' that does not open a valid placeholder
        raise ExprError("'{' must open a placeholder such as {skill}", text, i)
    word = m.group()
    if word.endswith(".") or (m.end() < len(text) and text[m.end()] == "."):
        raise ExprError(f"name '{word}' cannot end with '.'", text, m.end())
    for part in word.split("."):
        if part.startswith("__") or part.startswith("{__"):
            raise ExprError(f"'{part}': names starting with '__' are not allowed", text, i)
    if "." not in word and word.startswith("{"):
        return Token("PARAM", word[1:-1], i, m.end())
    if word in KEYWORDS:
        return Token("KEYWORD", word, i, m.end())
    if "." in word and word.split(".")[0] in KEYWORDS:
        raise ExprError(f"'{word.split('.')[0]}' is a keyword and cannot start a name", text, i)
    return Token("NAME", word, i, m.end())


def _quoted_name(text: str, i: int) -> Token:
    end = text.find("`", i + 1)
    if end == -1:
        raise ExprError("unterminated `quoted name`", text, i)
    name = text[i + 1 : end]
    if not name or "\n" in name or not name.isprintable():
        raise ExprError("a `quoted name` must be non-empty, printable and on one line", text, i)
    return Token("NAME", name, i, end + 1)


_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t"}


def _string(text: str, i: int) -> Token:
    quote, j, out = text[i], i + 1, []
    if text.startswith(quote * 3, i):
        raise ExprError(_HINTS["'''"], text, i)
    while j < len(text):
        ch = text[j]
        if ch == quote:
            if j - i - 1 > MAX_STRING:
                raise ExprError(f"string literal longer than {MAX_STRING} characters", text, i)
            return Token("STRING", "".join(out), i, j + 1)
        if ch in "\r\n":
            break
        if ch == "\\":
            nxt = text[j + 1 : j + 2]
            if nxt not in _ESCAPES:
                raise ExprError(f"unknown escape '\\{nxt}' in string", text, j)
            out.append(_ESCAPES[nxt])
            j += 2
            continue
        out.append(ch)
        j += 1
    raise ExprError("unterminated string literal", text, i)


def _operator(text: str, i: int) -> Token:
    two = text[i : i + 2]
    if two in _SYMBOLS2:  # no hint is longer than a two-character symbol it starts with: none can apply
        return Token("OP", two, i, i + 2)
    for hint in _HINTS_LONGEST_FIRST if text[i] in _HINT_STARTS else ():
        if text.startswith(hint, i) and not any(text.startswith(op, i) and len(op) >= len(hint)
                                                for op in SYMBOLS):
            raise ExprError(f"'{hint}' is not allowed: {_HINTS[hint]}", text, i)
    for op in SYMBOLS:
        if text.startswith(op, i):
            return Token("OP", op, i, i + len(op))
    ch = text[i]
    if ch == ".":
        raise ExprError("attribute access is not allowed; a dotted metric name has no spaces", text, i)
    if ch in _LOOKALIKES:
        raise ExprError(f"character U+{ord(ch):04X} is {_LOOKALIKES[ch]}", text, i)
    if not ch.isascii():
        name = unicodedata.name(ch, "unnamed")
        raise ExprError(f"non-ASCII character U+{ord(ch):04X} ({name}) outside a string", text, i)
    raise ExprError(f"unexpected character {ch!r}", text, i)
