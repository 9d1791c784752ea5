# .venv/bin/python -m pytest -q -p no:cacheprovider tests/engine/test_grammar_tables.py
"""Grammar facts stated once (issue 13): precedence, keywords and function signatures live in
`picogate.expr.grammar`, and the lexer, the parser, the printer and the checker agree with it; the
height limit is exact where docs/expressions.md states it, and the printer round-trips up to it."""

from __future__ import annotations

import itertools
import time

import pytest
from engine_helpers import REPO, both, checked

from picogate.expr import ExprError, parse, to_text
from picogate.expr.functions import FUNCTIONS
from picogate.expr.grammar import INFIX, KEYWORDS, MEMBERSHIP, PREFIX, SIGNATURES, SYMBOLS
from picogate.expr.lexer import tokenize
from picogate.expr.nodes import Binary, BoolOp, Call, ListLit, Literal, Name, Node, Param, Unary, children
from picogate.expr.parser import MAX_HEIGHT


def shape(node: Node) -> tuple:
    """A node without positions: what must survive `parse(to_text(node))`."""
    match node:
        case Literal(value=v) | Name(name=v) | Param(name=v):
            head: object = (type(node).__name__, v)
        case Unary(op=op) | Binary(op=op) | BoolOp(op=op):
            head = (type(node).__name__, op)
        case Call(func=f):
            head = ("Call", f)
        case ListLit():
            head = ("List",)
    return (head, tuple(shape(c) for c in children(node)))


def round_trips(text: str) -> bool:
    node = parse(text)
    return shape(parse(to_text(node))) == shape(node)


def _operand(op: str) -> str:
    return "[1, 2]" if op in MEMBERSHIP else "c"


def test_every_pair_of_infix_operators_binds_as_the_table_says() -> None:
    """`a OP1 b OP2 c`: the tighter operator (by the table) takes b; equals associate to the left;
    comparisons do not chain. The printer's parentheses keep each tree."""
    binary = [op for op in INFIX if op not in ("and", "or")]
    for op1, op2 in itertools.product(INFIX, repeat=2):
        if op1 in MEMBERSHIP:
            continue  # `a in [..] op2 c`: the list ends the operand, covered by op2 first
        text = f"a {op1} b {op2} {_operand(op2)}"
        try:
            node = parse(text)
        except ExprError as exc:
            assert INFIX[op1] == INFIX[op2] == INFIX["=="], text
            assert "do not chain" in exc.reason
            continue
        assert round_trips(text), text
        if op1 in binary and op2 in binary:
            tighter_first = INFIX[op1] >= INFIX[op2]  # equal: left-associative
            assert isinstance(node, Binary)
            assert node.op == (op2 if tighter_first else op1), text


def test_prefix_operators_bind_as_the_table_says() -> None:
    assert PREFIX["not"] < INFIX["=="] < INFIX["+"] < PREFIX["-"]
    assert shape(parse("not a == b")) == shape(parse("not (a == b)"))
    assert shape(parse("-a * b")) == shape(parse("(-a) * b"))
    for text in ("not (a and b)", "-(a * b)", "-(-a)", "not not a", "(a or b) and c", "a - (b - c)", "(a < b) == c"):
        assert round_trips(text), text


def test_keywords_are_the_lexers_and_the_printers() -> None:
    for word in KEYWORDS:
        assert tokenize(word)[0].kind == "KEYWORD"
        assert to_text(Name(word, 0, len(word))) == f"`{word}`"  # printed so that it reads back as a name
    for symbol in SYMBOLS:
        assert tokenize(symbol)[0].value == symbol


def test_functions_are_the_checkers() -> None:
    assert FUNCTIONS.keys() == SIGNATURES.keys()
    for name, sig in SIGNATURES.items():
        wrong = [sig.min_args - 1] + ([sig.max_args + 1] if sig.max_args is not None else [])
        for count in wrong:
            with pytest.raises(ExprError) as info:
                checked(f"{name}({', '.join(['x'] * count)}) > 0")
            assert f"got {count}: {sig.text}" in info.value.reason
    with pytest.raises(ExprError, match="available: abs, coalesce, is_null, max, min"):
        checked("median(x, 1) > 0")


def test_the_height_limit_is_where_the_docs_say() -> None:
    """docs/expressions.md: a check may add up 64 terms, the 65th is refused; within the limit the
    printer round-trips (nodes.to_text) and both evaluators agree."""
    assert MAX_HEIGHT == 64 and "may add up 64 terms and a\n65th is refused" in \
        (REPO / "docs" / "expressions.md").read_text(encoding="utf-8")
    at_limit = "x" + " + 1" * 63 + " > 63"
    start = time.perf_counter()
    node = checked(at_limit)
    assert shape(parse(to_text(node))) == shape(node)
    assert both(node, [{"x": 0.5}, {"x": -0.5}, {"x": None}]) == (["pass", "fail", "missing"],) * 2
    assert time.perf_counter() - start < 5.0
    with pytest.raises(ExprError, match="more than 64 operators deep"):
        parse("x" + " + 1" * 64 + " > 63")
    assert round_trips("x" + " + 1" * 64)  # a bare 65-term sum: 64 operators, still within the limit
