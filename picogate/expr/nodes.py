"""The immutable AST of check expressions.

Every node keeps `pos`/`end`, its character span in the expression text, so the
checker and the compiler can point a caret at the exact fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeAlias

from picogate.expr.grammar import ATOM, COMPARE, INFIX, KEYWORDS, MEMBERSHIP, PREFIX

_PLAIN_NAME = re.compile(r"(?:[A-Za-z_]\w*|\{[A-Za-z_]\w*\})(?:\.(?:\w+|\{[A-Za-z_]\w*\}))*", re.ASCII)

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


def children(node: Node) -> tuple[Node, ...]:
    """Direct sub-nodes, for walks that do not care about the node kind.

    Exact-type tests, not `match` on class patterns: every walk calls this once per node, and
    the pattern match cost four times as much (these classes are final).
    """
    kind = type(node)
    if kind is Binary:
        return (node.left, node.right)  # type: ignore[union-attr]
    if kind is BoolOp:
        return node.operands  # type: ignore[union-attr]
    if kind is Unary:
        return (node.operand,)  # type: ignore[union-attr]
    if kind is Call:
        return node.args  # type: ignore[union-attr]
    if kind is ListLit:
        return node.items  # type: ignore[union-attr]
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


def _bp(node: Node) -> int:
    """How tightly the node's own operator binds, from the grammar's table (atoms bind tightest)."""
    match node:
        case Binary(op=op) | BoolOp(op=op):
            return INFIX[op]
        case Unary(op=op):
            return PREFIX[op]
    return ATOM


def _wrap(node: Node, parens: bool) -> str:
    text = to_text(node)
    return f"({text})" if parens else text


def to_text(node: Node) -> str:
    """Canonical text of an expression, parenthesised only where the parse needs it.

    Minimal parentheses keep `parse(to_text(n))` equal to `n` for every tree the parser accepts,
    which is at most 64 operators high (docs/expressions.md, "Bounds"): fully parenthesised, a
    60-term sum would nest deeper than the parser's 48 levels. The recursion here is as deep as
    the tree is high, so that bound also bounds the printer.
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
            return n if _PLAIN_NAME.fullmatch(n) and first not in KEYWORDS and "__" not in n else f"`{n}`"
        case Param(name=n):
            return "{" + n + "}"
        case Unary(op="not", operand=o):
            return "not " + _wrap(o, _bp(o) < PREFIX["not"])
        case Unary(operand=o):  # `-(x * y)`: written `-x * y` it would parse as `(-x) * y`
            return "-" + _wrap(o, _bp(o) < ATOM)
        case Binary(op=op, left=a, right=b):
            bp = INFIX[op]
            right = to_text(b) if op in MEMBERSHIP else _wrap(b, _bp(b) <= bp)
            # comparisons do not chain, so a comparison on the left of one needs parentheses
            return f"{_wrap(a, _bp(a) < bp or (bp == COMPARE and _bp(a) == COMPARE))} {op} {right}"
        case BoolOp(op=op, operands=ops):
            bp = INFIX[op]
            return f" {op} ".join(_wrap(o, _bp(o) <= bp) for o in ops)
        case Call(func=f, args=args):
            return f"{f}(" + ", ".join(to_text(a) for a in args) + ")"
    raise TypeError(f"not an expression node: {node!r}")
