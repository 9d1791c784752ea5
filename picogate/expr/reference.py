"""A plain-Python reference interpreter of the AST, one row at a time.

It defines the language's semantics in the most obvious code possible; the property
tests check the polars compiler against it on random expressions and data. It is
also the "per-row interpreter" baseline of `benchmarks/bench_engine.py`. Never used
to decide a real gate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from picogate.expr.compiler import ERROR, FAIL, MISSING, PASS
from picogate.expr.functions import FUNCTIONS
from picogate.expr.nodes import Binary, BoolOp, Call, ListLit, Literal, Name, Node, Unary

Row = Mapping[str, object]


def normalize(value: object) -> object:
    """Input cell -> language value: NaN and ±inf are missing, ints become floats."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        f = float(value)
        return f if math.isfinite(f) else None
    raise TypeError(f"unsupported cell {value!r}")


def outcome(node: Node, row: Row, bad: frozenset[str] = frozenset()) -> int:
    """PASS/FAIL/MISSING/ERROR of a condition on one row (cells in `bad` are unreadable)."""
    errors: list[bool] = []
    value = _eval(node, row, bad, errors)
    if any(errors):
        return ERROR
    if value is None:
        return MISSING
    return PASS if value else FAIL


def value_of(node: Node, row: Row, bad: frozenset[str] = frozenset()) -> tuple[object, bool]:
    errors: list[bool] = []
    value = _eval(node, row, bad, errors)
    return value, any(errors)


def _eval(node: Node, row: Row, bad: frozenset[str], errors: list[bool]) -> object:
    # every sub-expression is evaluated (no short-circuit), so errors are sticky
    if isinstance(node, Literal):
        return normalize(node.value)
    if isinstance(node, Name):
        if node.name in bad:
            errors.append(True)
            return None
        return normalize(row.get(node.name))
    if isinstance(node, Unary):
        v = _eval(node.operand, row, bad, errors)
        if v is None:
            return None
        return (not v) if node.op == "not" else -v  # type: ignore[operator]
    if isinstance(node, BoolOp):
        vals = [_eval(o, row, bad, errors) for o in node.operands]
        if node.op == "and":
            if any(v is False for v in vals):
                return False
            return None if any(v is None for v in vals) else True
        if any(v is True for v in vals):
            return True
        return None if any(v is None for v in vals) else False
    if isinstance(node, Binary):
        a = _eval(node.left, row, bad, errors)
        if node.op in ("in", "not in"):
            assert isinstance(node.right, ListLit)
            if a is None:
                return None
            hit = any(a == normalize(i.value) for i in node.right.items)
            return hit if node.op == "in" else not hit
        b = _eval(node.right, row, bad, errors)
        if a is None or b is None:
            return None
        return _binary(node.op, a, b, errors)
    if isinstance(node, Call):
        return FUNCTIONS[node.func].reference([_eval(x, row, bad, errors) for x in node.args])
    raise TypeError(f"cannot evaluate {type(node).__name__}")


def _binary(op: str, a: object, b: object, errors: list[bool]) -> object:
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b  # type: ignore[operator]
    if op == "<=":
        return a <= b  # type: ignore[operator]
    if op == ">":
        return a > b  # type: ignore[operator]
    if op == ">=":
        return a >= b  # type: ignore[operator]
    x, y = float(a), float(b)  # type: ignore[arg-type]
    try:
        if op == "+":
            r = x + y
        elif op == "-":
            r = x - y
        elif op == "*":
            r = x * y
        elif op == "/":
            r = x / y
        else:  # floored modulo, exactly as the compiler spells it
            r = x - y * math.floor(x / y)
    except (ZeroDivisionError, OverflowError, ValueError):
        errors.append(True)
        return None
    if not math.isfinite(r):
        errors.append(True)
        return None
    return r
