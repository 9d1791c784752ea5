"""Verdict semantics (DESIGN.md): how check outcomes become a run's status.

A check's *effect* is ok, warn or block: `fail` counts at the rule's severity,
`missing` at what the rule's `missing:` says (default: its severity), `error` always
blocks. A run is blocked if any effect blocks, warn if any warns, approved only if
nothing stops it AND at least one check passed: no evidence is not approval.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from picogate.expr import ERROR, FAIL, MISSING, PASS
from picogate.rules.model import Rule

OK, WARN, BLOCK = 0, 1, 2
EFFECTS = ("ok", "warn", "block")


def effect_of(outcome: int, rule: Rule) -> int:
    """The effect of one outcome code under `rule`."""
    severity = BLOCK if rule.severity == "block" else WARN
    if outcome == PASS:
        return OK
    if outcome == FAIL:
        return severity
    if outcome == MISSING:
        return {"fail": severity, "warn": WARN, "pass": OK}[rule.missing]
    return BLOCK  # ERROR, or anything unknown: could not evaluate, never let it through


def codes_with_effect(rule: Rule, effect: int) -> list[int]:
    return [code for code in (PASS, FAIL, MISSING, ERROR) if effect_of(code, rule) == effect]


def effect_expr(outcome: pl.Expr, rule: Rule) -> pl.Expr:
    """Int8 effect column of one check's outcome column."""
    expr = pl.lit(BLOCK, pl.Int8)
    for code in (PASS, FAIL, MISSING):
        expr = pl.when(outcome == code).then(pl.lit(effect_of(code, rule), pl.Int8)).otherwise(expr)
    return expr


def _any_with(columns: Sequence[str], rules: Sequence[Rule], effect: int) -> pl.Expr:
    terms = [pl.col(c) == code for c, rule in zip(columns, rules, strict=True)
             for code in codes_with_effect(rule, effect)]
    return pl.any_horizontal(terms) if terms else pl.lit(False)


def status_columns(columns: Sequence[str], rules: Sequence[Rule]) -> list[pl.Expr]:
    """`_any_block`, `_any_warn`, `_any_pass` and `_status`, straight from the outcome codes."""
    any_pass = pl.any_horizontal([pl.col(c) == PASS for c in columns]) if columns else pl.lit(False)
    return [
        _any_with(columns, rules, BLOCK).alias("_any_block"),
        _any_with(columns, rules, WARN).alias("_any_warn"),
        any_pass.alias("_any_pass"),
    ]


STATUS = (
    pl.when(pl.col("_any_block")).then(pl.lit("blocked"))
    .when(pl.col("_any_warn")).then(pl.lit("warn"))
    .when(pl.col("_any_pass")).then(pl.lit("approved"))
    .otherwise(pl.lit("blocked"))  # nothing passed: no evidence is not approval
    .alias("_status")
)
