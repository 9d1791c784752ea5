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

polars treats what it knows to be one value per frame (a literal, a `pl.lit` column such
as evaluate's `baseline.` values, anything computed from those only) as a *scalar*, and
that changes results: it divides by a scalar as a multiplication by its reciprocal
(0.04 / 0.05 gives 0.8, not the IEEE 0.7999999999999999), and some folded forms come out
one row long where the frame has many. `_varies` tells, from the AST, which values polars
certainly computes row by row; the others are spread over the frame's rows where it
matters: a divisor, and a check's outcome. A report's values are always spread.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import reduce, singledispatch

import polars as pl

from picogate.catalog import BASELINE_PREFIX
from picogate.expr.functions import FUNCTIONS
from picogate.expr.nodes import Binary, BoolOp, Call, ListLit, Literal, Name, Node, Unary

PASS, FAIL, MISSING, ERROR = 0, 1, 2, 3
# built once: polars expressions are values
_MISSING, _ERROR, _NO_ERROR = pl.lit(MISSING, pl.Int8), pl.lit(ERROR, pl.Int8), pl.lit(False)
OUTCOMES = ("pass", "fail", "missing", "error")

_COMPARISONS: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
_ARITHMETIC: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "%": lambda a, b: _modulo(a, b, b),
}

_BOOL = {"and": operator.and_, "or": operator.or_}


def _modulo(a: pl.Expr, b: pl.Expr, divisor: pl.Expr) -> pl.Expr:
    """Floored modulo `a % b`, `divisor` being `b` made safe to divide by (see `_binary`).

    Spelled out in IEEE operations the reference repeats bit for bit: polars' own float `%`
    picks different kernels with and without nulls, which disagree at extreme values. It names
    each operand twice, so the checker caps how deeply `%` (and min/max) nest.
    """
    return a - b * (a / divisor).floor()

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
    `value` and `error` are its parts, kept for reports and tests. `error` is true where a
    cell was unreadable or arithmetic went non-finite; it may be null where an input is
    missing, which `outcome` reads as no error (`when(null)` takes the `otherwise`).
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
    # one flag names itself; a null flag (missing input) is no error, so none needs fill_null
    error = (ctx.errors[0] if len(ctx.errors) == 1 else pl.any_horizontal(*ctx.errors)) if ctx.errors else _NO_ERROR
    # true -> PASS (0), false -> FAIL (1), null -> MISSING (2), naming `value` once
    decided = value.not_().cast(pl.Int8).fill_null(_MISSING)
    outcome = pl.when(error).then(_ERROR).otherwise(decided) if ctx.errors else decided
    if not _varies(node):  # a constant check still has one outcome per run
        outcome = _spread(outcome)
    return CompiledCheck(outcome, value, error)


def compile_value(node: Node, **kwargs: object) -> pl.Expr:
    """Compile any expression to its value, one per row (non-finite arithmetic becomes null)."""
    ctx = _Ctx(kwargs.get("bad_flags") or {}, kwargs.get("column") or (lambda n: n))  # type: ignore[arg-type]
    value = translate(node, ctx)
    value = pl.when(value.is_finite()).then(value) if _numeric(node) else value
    # Reports select values eagerly from the judged table, whose absent metrics and baseline values may
    # be scalar columns; there polars gives `1 == coalesce(1, m.b)` or `0 == m.b` one row, not one per
    # run. Spreading costs a pass per value, which reports can afford (checks cannot: see `_varies`).
    return _spread(value)


def _rows() -> pl.Expr:
    """0, 1, 2, ... one per row of the frame: a column polars cannot fold into a scalar."""
    return pl.int_range(pl.len(), dtype=pl.get_index_type())


def _spread(expr: pl.Expr) -> pl.Expr:
    """`expr` as a column of the frame's height, never a scalar or a one-row result."""
    return pl.when(_rows() >= 0).then(expr)


def _spread_number(expr: pl.Expr) -> pl.Expr:
    """A Float64 `expr` as a frame-height column, for a divisor: plus a column of zeros. polars 2.1
    keeps `_spread`'s when/then, `repeat`, `gather`, `shift` and the like of a scalar a scalar (still
    divided by a reciprocal); a sum with a real column it cannot. It turns -0.0 into 0.0, which no
    divisor notices: x / ±0 and x % ±0 are both non-finite, so `error`."""
    return expr + _rows().cast(pl.Float64) * 0.0


def _varies(node: Node) -> bool:
    """Whether polars certainly computes `node` row by row (a column of the frame's height).

    False for literals and `baseline.` values (evaluate attaches those as `pl.lit` columns)
    and for what polars may fold from them: `coalesce(1, x)` is the literal 1 to polars.
    Checked empirically (tests/engine/test_exact_arithmetic.py): an operation with one
    row-by-row operand is row by row, except coalesce, which is when its first argument is.
    Metric columns count as row by row, so the caller must hand them over materialised
    (evaluate does; a `pl.lit` column in a user's frame would be a scalar to polars).
    """
    match node:
        case Name(name=name):
            return not name.startswith(BASELINE_PREFIX)
        case Unary(operand=operand):
            return _varies(operand)
        case Binary(op="in" | "not in", left=left):
            return _varies(left)
        case Binary(left=left, right=right):
            return _varies(left) or _varies(right)
        case BoolOp(operands=operands):  # polars may fold `x and false`; only all-row operands are sure
            return all(map(_varies, operands))
        case Call(func="coalesce", args=args):
            return _varies(args[0])
        case Call(args=args):  # abs, min, max, is_null
            return any(map(_varies, args))
    return False


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
    # a Python bool or str is already a typed literal; a float is "dynamic" until cast (it would take
    # a Float32 column's width). lit(x).cast costs half of lit(x, dtype), which builds a Series.
    if isinstance(v, bool | str):
        return pl.lit(v)
    return pl.lit(float(v)).cast(pl.Float64)


@translate.register
def _name(node: Name, ctx: _Ctx) -> pl.Expr:
    if node.name in ctx.bad_flags:
        ctx.errors.append(pl.col(ctx.bad_flags[node.name]))
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
    if node.op in ("/", "%") and not _varies(node.right):
        # polars divides by a scalar as a multiplication by its reciprocal (3 / 10 gives
        # 0.30000000000000004, 0.04 / baseline 0.05 gives 0.8); a divisor that is a column gets
        # true IEEE division, as written, whatever the number of rows. Only the division needs it:
        # `%`'s multiplication by `b` is exact either way.
        divisor = _spread_number(right)
        raw = left / divisor if node.op == "/" else _modulo(left, right, divisor)
    else:
        raw = _ARITHMETIC[node.op](left, right)
    ctx.errors.append(raw.is_finite().not_())
    return raw


@translate.register
def _call(node: Call, ctx: _Ctx) -> pl.Expr:
    return FUNCTIONS[node.func].compile([translate(a, ctx) for a in node.args])
