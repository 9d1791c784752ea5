"""Verdict semantics (DESIGN.md): how check outcomes become a run's status.

A check's *effect* is ok, warn or block: `fail` counts at the rule's severity,
`missing` at what the rule's `missing:` says (default: its severity), `error` always
blocks. A run is blocked if any effect blocks, warn if any warns, approved only if
nothing stops it AND at least one check passed: no evidence is not approval.

The vocabulary every report and command speaks is defined here and nowhere else: outcome names
(re-exported from the compiler, which assigns the codes), effects, statuses in order, the icon and
terminal style of each status, and the exit statuses.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from picogate.expr import ERROR, FAIL, MISSING, PASS
from picogate.expr import OUTCOMES as OUTCOMES  # pass, fail, missing, error: the names of the codes above
from picogate.rules.model import Rule

OK, WARN, BLOCK = 0, 1, 2
EFFECTS = ("ok", "warn", "block")

# -- statuses, and how reports and commands show them ------------------------------------------------
STATUSES = ("approved", "warn", "blocked")  # in order: a run's status is the worst that applies
STATUS_ORDER = {s: i for i, s in enumerate(STATUSES)}
WORST_FIRST = tuple(reversed(STATUSES))  # reports lead with the worst
ICON = {"approved": "✅", "warn": "⚠️", "blocked": "⛔"}  # markdown headings and tables
STYLE = {"approved": "bold green", "warn": "bold yellow", "blocked": "bold red"}  # rich, on a terminal only
VALID_ICON, INVALID_ICON = ICON["approved"], "❌"  # a rule file or rule test that holds, or does not

# -- exit statuses (DESIGN.md, "CLI") ------------------------------------------------------------------
EXIT_APPROVED, EXIT_BLOCKED, EXIT_CANNOT_RUN = 0, 1, 2


def exit_code(status: str, fail_on: str = "block") -> int:
    """0 approved (and warn, unless `fail_on` is warn), 1 blocked.

    >>> exit_code("warn"), exit_code("warn", "warn")
    (0, 1)
    """
    if status == "blocked" or (status == "warn" and fail_on == "warn"):
        return EXIT_BLOCKED
    return EXIT_APPROVED


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


def _any_with(columns: Sequence[str], rules: Sequence[Rule], at_least: int) -> pl.Expr:
    """Whether any check has an effect of `at_least` or worse, in as few passes over the data as possible.

    Outcome codes are ordered (pass 0 < fail 1 < missing 2 < error 3), and most rules map a
    suffix of them to the effect (`>= 1`, `>= 2`, `== 3`). Checks sharing a suffix are tested
    with one `max_horizontal`; only the rare others (say fail and error but not missing, under
    `missing: pass`) compare code by code. One compare per code per check cost ~1/6 of evaluate.
    """
    by_floor: dict[int, list[pl.Expr]] = {}
    others: list[pl.Expr] = []
    for column, rule in zip(columns, rules, strict=True):
        codes = [code for code in (PASS, FAIL, MISSING, ERROR) if effect_of(code, rule) >= at_least]
        if not codes:
            continue
        if codes == list(range(codes[0], ERROR + 1)):
            by_floor.setdefault(codes[0], []).append(pl.col(column))
        else:
            others += [pl.col(column) == code for code in codes]
    terms = [pl.max_horizontal(cols) >= floor for floor, cols in sorted(by_floor.items())] + others
    return pl.any_horizontal(terms) if terms else pl.lit(False)


def status_columns(columns: Sequence[str], rules: Sequence[Rule], prefix: str = "") -> list[pl.Expr]:
    """`_any_block`, `_any_warn` (an effect of warn *or worse*) and `_any_pass`, from the outcome codes;
    each name starts with `prefix` (`rules diff` judges two rule sets in one frame)."""
    any_pass = pl.min_horizontal([pl.col(c) for c in columns]) == PASS if columns else pl.lit(False)
    return [
        _any_with(columns, rules, BLOCK).alias(f"{prefix}_any_block"),
        _any_with(columns, rules, WARN).alias(f"{prefix}_any_warn"),
        any_pass.alias(f"{prefix}_any_pass"),
    ]


STATUS_DTYPE = pl.Enum(list(STATUSES))  # small integer codes with names; `max()` is the worst status


def _status(name: str) -> pl.Expr:
    return pl.lit(name, STATUS_DTYPE)


def status_expr(prefix: str = "") -> pl.Expr:
    """`{prefix}_status` from the `status_columns` of the same prefix."""
    return (
        pl.when(pl.col(f"{prefix}_any_block")).then(_status("blocked"))
        .when(pl.col(f"{prefix}_any_warn")).then(_status("warn"))
        .when(pl.col(f"{prefix}_any_pass")).then(_status("approved"))
        .otherwise(_status("blocked"))  # nothing passed: no evidence is not approval
        .alias(f"{prefix}_status")
    )


STATUS = status_expr()
