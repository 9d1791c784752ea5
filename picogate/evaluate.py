"""evaluate(): join evidence and policy in one columnar pass.

    metrics (one row per run) + RuleSet -> one polars query -> GateResult

Every check compiles to one `polars.Expr`; all checks of all runs are judged in a
single `select`, so thousands of runs cost about as much as one. The long per-check
table (observed values, messages) is built only when a report asks for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from picogate.catalog import BASELINE_PREFIX
from picogate.errors import InputError
from picogate.expr import compile_check, names
from picogate.metrics import (
    RUN_ID,
    MetricsSource,
    check_unique,
    normalize,
    normalize_exprs,
    read_metrics,
    strictly_increasing,
)
from picogate.result import GateResult
from picogate.rules import RuleSet, load_rules
from picogate.rules.loader import REPORT_FIELDS
from picogate.verdict import STATUS, status_columns


def evaluate(
    metrics: MetricsSource,
    rules: str | Path | RuleSet,
    *,
    stage: str | None = None,
    baseline: MetricsSource | None = None,
) -> GateResult:
    """Judge every run in `metrics` against `rules`.

    >>> evaluate({"run_id": "d20", "target_param_data_ratio": 20.0, "planned_to_target_ratio": 0.4},
    ...          "release", stage="preflight").status
    'blocked'
    """
    ruleset = load_rules(rules).for_stage(stage)
    raw = read_metrics(metrics, unique=False)
    where = str(metrics) if isinstance(metrics, str | Path) else "metrics"
    wanted = read_names(ruleset)
    exprs, flags = normalize_exprs(raw.schema, [n for n in wanted if not n.startswith(BASELINE_PREFIX)],
                                   ruleset.catalog)
    frame = raw.lazy().select(exprs)
    frame, flags = _attach_baseline(frame, flags, ruleset, baseline,
                                    [n for n in wanted if n.startswith(BASELINE_PREFIX)])

    outcomes = [compile_check(rule.node, bad_flags=flags).outcome.alias(f"#{i}")
                for i, rule in enumerate(ruleset.rules)]
    columns = [f"#{i}" for i in range(len(ruleset.rules))]
    query = frame.with_columns(outcomes).with_columns(status_columns(columns, ruleset.rules)).with_columns(STATUS)
    ids = raw.get_column(RUN_ID)
    if strictly_increasing(ids):  # unique already, as tables written run by run usually are
        wide = query.collect()
    else:  # the duplicate test runs beside the main query; hashes are cheaper to count than strings,
        # and a collision only costs the exact test below
        wide, n_unique = pl.collect_all([query, raw.lazy().select(pl.col(RUN_ID).hash().n_unique())])
        if n_unique.item() != raw.height:
            check_unique(ids, where)
    return GateResult(ruleset, wide, stage)


def read_names(ruleset: RuleSet) -> list[str]:
    """Every metric the rules read: in checks, and in message/fix placeholders."""
    out: dict[str, None] = {}
    for rule in ruleset.rules:
        out.update(dict.fromkeys(names(rule.node)))
        for text in (rule.message, rule.fix):
            out.update(dict.fromkeys(f for f in _fields(text) if f not in REPORT_FIELDS))
    return list(out)


def _fields(text: str) -> list[str]:
    import string

    return [f for _, f, _, _ in string.Formatter().parse(text) if f]


def _attach_baseline(
    frame: pl.LazyFrame,
    flags: dict[str, str],
    ruleset: RuleSet,
    baseline: MetricsSource | None,
    wanted: list[str],
) -> tuple[pl.LazyFrame, dict[str, str]]:
    """`baseline.x` columns: metric x of one previous run, the same for every run judged."""
    if not wanted:
        return frame, flags
    plain = [n[len(BASELINE_PREFIX):] for n in wanted]
    if baseline is None:
        empty, _ = normalize(pl.DataFrame({RUN_ID: ["-"]}), plain, ruleset.catalog)
        row: Mapping[str, Any] = {n: None for n in plain}
        bflags: dict[str, str] = {}
        bframe = empty
    else:
        braw = read_metrics(baseline, what="baseline")
        if braw.height != 1:
            raise InputError(f"baseline: expected the metrics of one previous run, got {braw.height} rows")
        bframe, bflags = normalize(braw, plain, ruleset.catalog)
        row = bframe.row(0, named=True)
    columns = [pl.lit(row[n], bframe.schema[n]).alias(BASELINE_PREFIX + n) for n in plain]
    flags = dict(flags)
    for n in plain:
        if n in bflags:
            flags[BASELINE_PREFIX + n] = BASELINE_PREFIX + bflags[n]
            columns.append(pl.lit(bool(row[bflags[n]])).alias(flags[BASELINE_PREFIX + n]))
    return frame.with_columns(columns), flags
