"""The immutable AST of check expressions.

Every node keeps `pos`/`end`, its character span in the expression text, so the
checker and the compiler can point a caret at the exact fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeAlias

_PLAIN_NAME = re.compile(r"(?:[A-Za-z_]\w*|\{[A-Za-z_]\w*\})(?:\.(?:\w+|\{[A-Za-z_]\w*\}))*", re.ASCII)
_KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})

Value: TypeAlias = "int | float | str | bool | None"


@dataclass(frozen=True, slots=True)
class Literal:
    value: int | float | str | bool | None
    pos: int
    end: int


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Literal, ...]
    pos: int
    end: int


@dataclass(frozen=True, slots=True)
class Name:
    """A metric name. `baseline.x` reads metric `x` of the baseline run."""

    name: str
    pos: int
    end: int


@dataclass(frozen=True, slots=True)
class Param:
    """A `{placeholder}` standing alone: a per-category value such as `{threshold}`."""

    name: str
    pos: int
    end: int


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "not" | "-"
    operand: Node
    pos: int
    end: int


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # arithmetic, comparison, "in", "not in"
    left: Node
    right: Node
    pos: int  # the operator's position: where a type error is reported
    end: int


@dataclass(frozen=True, slots=True)
class BoolOp:
    """`a and b and c` as one n-ary node: long chains stay shallow."""

    op: str  # "and" | "or"
    operands: tuple[Node, ...]
    pos: int
    end: int


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[Node, ...]
    pos: int
    end: int


Node: TypeAlias = "Literal | ListLit | Name | Param | Unary | Binary | BoolOp | Call"

ARITHMETIC = ("+", "-", "*", "/", "%")
COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
MEMBERSHIP = ("in", "not in")


def children(node: Node) -> tuple[Node, ...]:
    """Direct sub-nodes, for walks that do not care about the node kind."""
    match node:
        case Unary(operand=o):
            return (o,)
        case Binary(left=a, right=b):
            return (a, b)
        case BoolOp(operands=ops):
            return ops
        case Call(args=args):
            return args
        case ListLit(items=items):
            return items
    return ()


def names(node: Node) -> list[str]:
    """Metric names the expression reads, in first-seen order."""
    out: list[str] = []
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, Name) and cur.name not in out:
            out.append(cur.name)
        stack.extend(reversed(children(cur)))
    return out


# binding power of each node kind when printed, after parser.BINDING_POWER (atoms bind tightest)
_PRINT_BP = {"or": 10, "and": 20, "not": 30, "==": 40, "!=": 40, "<": 40, "<=": 40, ">": 40, ">=": 40, "in": 40,
             "not in": 40, "+": 50, "-": 50, "*": 60, "/": 60, "%": 60}
_ATOM_BP = 100


def _bp(node: Node) -> int:
    match node:
        case Binary(op=op) | BoolOp(op=op):
            return _PRINT_BP[op]
        case Unary(op="not"):
            return _PRINT_BP["not"]
        case Unary():
            return 70
    return _ATOM_BP


def _wrap(node: Node, parens: bool) -> str:
    text = to_text(node)
    return f"({text})" if parens else text


def to_text(node: Node) -> str:
    """Canonical text of an expression, parenthesised only where the parse needs it.

    Minimal parentheses keep `parse(to_text(n))` equal to `n` even for a 500-term sum,
    which fully parenthesised would nest deeper than the parser allows.
    """
    match node:
        case Literal(value=v):
            if v is None:
                return "null"
            if isinstance(v, bool):
                return "true" if v else "false"
            if isinstance(v, str):
                return "'" + v.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"
            return repr(v)
        case ListLit(items=items):
            return "[" + ", ".join(to_text(i) for i in items) + "]"
        case Name(name=n):
            first = n.split(".")[0]
            return n if _PLAIN_NAME.fullmatch(n) and first not in _KEYWORDS and "__" not in n else f"`{n}`"
        case Param(name=n):
            return "{" + n + "}"
        case Unary(op="not", operand=o):
            return "not " + _wrap(o, _bp(o) < _PRINT_BP["not"])
        case Unary(operand=o):
            return "-" + _wrap(o, _bp(o) < _ATOM_BP)
        case Binary(op=op, left=a, right=b):
            bp = _PRINT_BP[op]
            right = to_text(b) if op in ("in", "not in") else _wrap(b, _bp(b) <= bp)
            return f"{_wrap(a, _bp(a) < bp or (bp == 40 and _bp(a) == 40))} {op} {right}"
        case BoolOp(op=op, operands=ops):
            bp = _PRINT_BP[op]
            return f" {op} ".join(_wrap(o, _bp(o) <= bp) for o in ops)
        case Call(func=f, args=args):
            return f"{f}(" + ", ".join(to_text(a) for a in args) + ")"
    raise TypeError(f"not an expression node: {node!r}")
