"""evaluate(): join evidence and policy in one columnar pass.

    metrics (one row per run) + RuleSet -> one polars query -> GateResult

Every check compiles to one `polars.Expr` (picogate/compile.py, compiled once per rule set and
input schema); all checks of all runs are judged in a single query, so thousands of runs cost
about as much as one. The long per-check table (observed values, messages) is built only when
a report asks for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from picogate.catalog import BASELINE_PREFIX
from picogate.compile import Policy, compile_policy, read_names
from picogate.errors import InputError
from picogate.metrics import RUN_ID, MetricsSource, check_unique, normalize, read_metrics, strictly_increasing
from picogate.result import GateResult
from picogate.rules import RuleSet, load_rules

__all__ = ["baseline_columns", "evaluate", "read_names"]

_EAGER_ROWS = 4096  # below this, an eager pass skips the lazy optimiser's fixed cost (~0.5 ms)


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
    policy = compile_policy(ruleset)
    raw = read_metrics(metrics, unique=False)
    where = str(metrics) if isinstance(metrics, str | Path) else "metrics"
    exprs, flags = policy.inputs(raw.schema)
    base_cols, flags = baseline_columns(policy, flags, baseline)
    outcomes, status = policy.judge(flags)

    def judged(frame: pl.DataFrame | pl.LazyFrame) -> Any:
        if base_cols:
            frame = frame.with_columns(base_cols)
        return frame.with_columns(outcomes).with_columns(status[:-1]).with_columns(status[-1])

    ids = raw.get_column(RUN_ID)
    if raw.height < _EAGER_ROWS:
        check_unique(ids, where)
        try:
            wide = judged(raw.select(exprs))
        except (pl.exceptions.InvalidOperationError, pl.exceptions.ShapeError):
            # polars' eager engine sizes some folds over all-null or literal columns as one row;
            # the lazy engine broadcasts them (a bad fold fails again there, loudly)
            wide = judged(raw.lazy().select(exprs)).collect()
        return GateResult(ruleset, wide, stage)
    wide = judged(raw.lazy().select(exprs)).collect()
    # Unique already when strictly increasing, as tables written run by run usually are. Otherwise hashes
    # are cheaper to count than strings, and a collision only costs the exact test. Counted eagerly after
    # the query: beside it (`collect_all`) took ~5 ms more at 1M runs, as it did not overlap on 2 cores.
    if not strictly_increasing(ids) and ids.hash().n_unique() != raw.height:
        check_unique(ids, where)
    return GateResult(ruleset, wide, stage)


def baseline_columns(policy: Policy, flags: dict[str, str],
                      baseline: MetricsSource | None) -> tuple[list[pl.Expr], dict[str, str]]:
    """`baseline.x` columns: metric x of one previous run, the same for every run judged (null for every
    x without one, as `rules diff` judges a history)."""
    if not policy.baseline:
        return [], flags
    plain = [n[len(BASELINE_PREFIX):] for n in policy.baseline]
    catalog = policy.ruleset.catalog
    if baseline is None:
        bframe, _ = normalize(pl.DataFrame({RUN_ID: ["-"]}), plain, catalog)
        row: Mapping[str, Any] = {n: None for n in plain}
        bflags: dict[str, str] = {}
    else:
        braw = read_metrics(baseline, what="baseline")
        if braw.height != 1:
            raise InputError(f"baseline: expected the metrics of one previous run, got {braw.height} rows")
        bframe, bflags = normalize(braw, plain, catalog)
        row = bframe.row(0, named=True)
    columns = [pl.lit(row[n], bframe.schema[n]).alias(BASELINE_PREFIX + n) for n in plain]
    flags = dict(flags)
    for n in plain:
        if n in bflags:
            flags[BASELINE_PREFIX + n] = BASELINE_PREFIX + bflags[n]
            columns.append(pl.lit(bool(row[bflags[n]])).alias(flags[BASELINE_PREFIX + n]))
    return columns, flags
