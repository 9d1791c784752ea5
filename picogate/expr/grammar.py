"""The grammar of check expressions as data: keywords, operators and their binding power, functions
and their arity.

The lexer (which words are keywords, which symbols are operators), the parser (how tightly each
operator binds), the printer `nodes.to_text` (where parentheses are needed) and the checker (which
functions exist, how many arguments each takes) all read these tables, so a fact about the language
is stated once. What an operator or a function *means* lives beside its translation: the compiler's
operator tables and picogate/expr/functions.py, each with its plain-Python reference.

    >>> INFIX["*"] > INFIX["+"] > INFIX["=="] > PREFIX["not"] > INFIX["and"] > INFIX["or"]
    True
"""

from __future__ import annotations

from dataclasses import dataclass

KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})
LITERALS: dict[str, bool | None] = {"true": True, "false": False, "null": None}  # keywords that are values
# Symbols, two-character ones before their one-character prefixes (`<=` before `<`).
SYMBOLS = ("==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "(", ")", "[", "]", ",")

# Binding power, loosest first, one table as in jmespath's BINDING_POWER. An atom (a literal, a name,
# a call, a parenthesised expression) binds tighter than any operator.
OR, AND, NOT, COMPARE, SUM, PRODUCT, NEGATE, ATOM = 10, 20, 30, 40, 50, 60, 70, 100

LOGIC = ("and", "or")  # n-ary: `a and b and c` is one node, however long the chain
COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
MIRRORED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}  # `a OP b` is `b MIRRORED[OP] a`
MEMBERSHIP = ("in", "not in")  # the right side is a list literal
ARITHMETIC = ("+", "-", "*", "/", "%")

INFIX: dict[str, int] = {
    "or": OR, "and": AND,
    **dict.fromkeys(COMPARISONS + MEMBERSHIP, COMPARE),  # comparisons do not chain
    "+": SUM, "-": SUM,
    "*": PRODUCT, "/": PRODUCT, "%": PRODUCT,
}
PREFIX: dict[str, int] = {"not": NOT, "-": NEGATE}  # `not a == b` is `not (a == b)`; `-a * b` is `(-a) * b`


@dataclass(frozen=True)
class Signature:
    """A function's name and arity, and how errors show it."""

    name: str
    min_args: int
    max_args: int | None  # None: any number from min_args up
    text: str  # e.g. "min(number, number, ...)"

    def accepts(self, count: int) -> bool:
        return count >= self.min_args and (self.max_args is None or count <= self.max_args)


SIGNATURES: dict[str, Signature] = {
    s.name: s
    for s in (
        Signature("abs", 1, 1, "abs(number)"),
        Signature("min", 2, None, "min(number, number, ...)"),
        Signature("max", 2, None, "max(number, number, ...)"),
        Signature("coalesce", 2, None, "coalesce(value, value, ...) of one type"),
        Signature("is_null", 1, 1, "is_null(value)"),
    )
}
