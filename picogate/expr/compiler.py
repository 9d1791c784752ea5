"""Compiler: a checked AST -> one `polars.Expr` per check.

One small translate function per node kind and operator tables, after ibis' polars
compiler. polars' Kleene logic gives SQL three-valued logic for nulls; on top of it
picogate keeps a second channel, *error*: any arithmetic result that is not finite
(division by zero, overflow) marks the run's check `error`, whatever the rest of the
expression says (errors are sticky; nulls may be absorbed by `or`/`and` as in SQL).

Every node's polars form references each sub-expression exactly once. polars expands
an expression as a tree, so a node that used its child twice (say `when(raw.is_finite())
.then(raw)`) doubles the work per level: `x + 1 + 1 + ... + 1` with 16 terms took minutes.
So a non-finite intermediate stays in the value channel (the outcome is `error` anyway)
and is masked to null only at the top of `compile_value`.

The input frame is expected normalised by the caller (`picogate.metrics`): each
metric a column of Float64 / String / Boolean, with NaN and ±inf already null, and
cells that could not be read flagged in a companion Boolean column (`bad_flags`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import reduce, singledispatch

import polars as pl

from picogate.expr.functions import FUNCTIONS
from picogate.expr.nodes import Binary, BoolOp, Call, ListLit, Literal, Name, Node, Unary, names

PASS, FAIL, MISSING, ERROR = 0, 1, 2, 3
OUTCOMES = ("pass", "fail", "missing", "error")

_COMPARISONS: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
_ARITHMETIC: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    # floored modulo spelled out in IEEE operations the reference repeats bit for bit: polars' own
    # float `%` picks different kernels with and without nulls, which disagree at extreme values.
    # It names each operand twice, so the checker caps how deeply `%` (and min/max) nest.
    "%": lambda a, b: a - b * (a / b).floor(),
}

_BOOL = {"and": operator.and_, "or": operator.or_}

@dataclass
class _Ctx:
    bad_flags: Mapping[str, str]
    column: Callable[[str], str]
    inputs: Mapping[str, pl.Expr] = field(default_factory=dict)
    errors: list[pl.Expr] = field(default_factory=list)


@dataclass(frozen=True)
class CompiledCheck:
    """The polars form of one check.

    `outcome` is the single expression that decides (Int8: PASS/FAIL/MISSING/ERROR);
    `value` and `error` are its parts, kept for reports and tests.
    """

    outcome: pl.Expr
    value: pl.Expr
    error: pl.Expr


def compile_check(
    node: Node,
    *,
    bad_flags: Mapping[str, str] | None = None,
    column: Callable[[str], str] = lambda name: name,
    inputs: Mapping[str, pl.Expr] | None = None,
) -> CompiledCheck:
    """Compile a type-checked condition.

    >>> df.select(compile_check(parse("x >= 0.5")).outcome)  # 0 pass, 1 fail, 2 missing, 3 error
    """
    ctx = _Ctx(bad_flags or {}, column, inputs or {})
    value = translate(node, ctx)
    error = pl.any_horizontal(*ctx.errors) if ctx.errors else pl.lit(False)
    # true -> PASS (0), false -> FAIL (1), null -> MISSING (2), naming `value` once
    decided = value.not_().cast(pl.Int8).fill_null(pl.lit(MISSING, pl.Int8))
    outcome = pl.when(error).then(pl.lit(ERROR, pl.Int8)).otherwise(decided) if ctx.errors else decided
    return CompiledCheck(outcome, value, error)


def compile_value(node: Node, **kwargs: object) -> pl.Expr:
    """Compile any expression to its value (non-finite arithmetic becomes null)."""
    ctx = _Ctx(kwargs.get("bad_flags") or {}, kwargs.get("column") or (lambda n: n))  # type: ignore[arg-type]
    value = translate(node, ctx)
    return pl.when(value.is_finite()).then(value) if _numeric(node) else value


def _numeric(node: Node) -> bool:
    """Whether a node computes a number (so a non-finite value must show as missing)."""
    if isinstance(node, Binary):
        return node.op in _ARITHMETIC
    if isinstance(node, Unary):
        return node.op == "-"
    if isinstance(node, Call):
        return node.func in ("abs", "min", "max") or (node.func == "coalesce" and any(map(_numeric, node.args)))
    return isinstance(node, Literal) and isinstance(node.value, int | float) and not isinstance(node.value, bool)


@singledispatch
def translate(node: Node, ctx: _Ctx) -> pl.Expr:
    raise NotImplementedError(f"no polars translation for {type(node).__name__}")


@translate.register
def _literal(node: Literal, ctx: _Ctx) -> pl.Expr:
    v = node.value
    if isinstance(v, bool):
        return pl.lit(v, pl.Boolean)
    if isinstance(v, int | float):
        return pl.lit(float(v), pl.Float64)
    return pl.lit(v, pl.String)


@translate.register
def _name(node: Name, ctx: _Ctx) -> pl.Expr:
    if node.name in ctx.bad_flags:
        ctx.errors.append(pl.col(ctx.bad_flags[node.name]).fill_null(False))
    if node.name in ctx.inputs:  # an input expression (normalisation inlined into the check)
        return ctx.inputs[node.name]
    return pl.col(ctx.column(node.name))


@translate.register
def _unary(node: Unary, ctx: _Ctx) -> pl.Expr:
    operand = translate(node.operand, ctx)
    return ~operand if node.op == "not" else -operand


@translate.register
def _boolop(node: BoolOp, ctx: _Ctx) -> pl.Expr:
    return reduce(_BOOL[node.op], (translate(o, ctx) for o in node.operands))


@translate.register
def _binary(node: Binary, ctx: _Ctx) -> pl.Expr:
    left = translate(node.left, ctx)
    if node.op in ("in", "not in"):
        assert isinstance(node.right, ListLit)
        items = [item.value for item in node.right.items]
        if items:  # is_in names `left` once (a comparison per item would repeat it)
            kind = pl.Boolean if isinstance(items[0], bool) else pl.String if isinstance(items[0], str) else pl.Float64
            values = pl.Series([float(v) if kind == pl.Float64 else v for v in items], dtype=kind)
            hit = left.is_in(pl.lit(values).implode())
        else:
            hit = pl.when(left.is_null()).then(None).otherwise(False)
        return ~hit if node.op == "not in" else hit
    right = translate(node.right, ctx)
    if node.op in _COMPARISONS:
        return _COMPARISONS[node.op](left, right)
    if node.op in ("/", "%") and not names(node.right):
        # polars divides by a scalar as a multiplication by its reciprocal (3 / 10 gives
        # 0.30000000000000004); a divisor that is a column gets true IEEE division, as written.
        right = right + pl.int_range(pl.len(), dtype=pl.Int32).cast(pl.Float64) * 0.0
    raw = _ARITHMETIC[node.op](left, right)
    ctx.errors.append(raw.is_finite().not_().fill_null(False))
    return raw


@translate.register
def _call(node: Call, ctx: _Ctx) -> pl.Expr:
    return FUNCTIONS[node.func].compile([translate(a, ctx) for a in node.args])
