"""Per-run aggregates, computed from the per-row results table and nothing else.

This is the only place the metric definitions live, so the honesty report can recompute every
aggregate a rule reads from the rows that were written (`aggregate(pq.read_table(...))`). Rates over
an empty set are null (missing, so a gate fails closed), never NaN; counts are plain ints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

Row = Mapping[str, Any]


def _rate(hits: int, total: int) -> float | None:
    return hits / total if total else None


def _per_token(rows: list[Row], column: str) -> float | None:
    tokens = sum(r["target_tokens"] or 0 for r in rows)
    return sum(r[column] or 0 for r in rows) / tokens if tokens else None


def _sft(prefix: str, rows: list[Row]) -> dict[str, Any]:
    return {
        f"{prefix}.rows": len(rows),
        f"{prefix}.fit_rate": _rate(sum(r["correct"] for r in rows), len(rows)),
        # Micro averages over target tokens: long responses weigh more, as in training loss.
        f"{prefix}.token_accuracy": _per_token(rows, "target_correct_tokens"),
        f"{prefix}.mean_loglik": _per_token(rows, "target_loglik"),
    }


def aggregate_rows(rows: Iterable[Row], run_id: str) -> dict[str, Any]:
    """The metrics of one run from its result rows (dicts with the eval_results columns).

    >>> aggregate_rows(table.to_pylist(), "run-1")["eval.math.pass_rate"]
    """
    rows = list(rows)
    others = {r["run_id"] for r in rows} - {run_id}
    if others:
        raise ValueError(f"rows of other runs {sorted(others)} mixed into run {run_id!r}")
    by_split: dict[str, list[Row]] = {}
    for r in rows:
        by_split.setdefault(r["split"], []).append(r)
    ev = by_split.get("eval", [])

    out: dict[str, Any] = {"run_id": run_id}
    out["eval.rows"] = len(ev)
    out["eval.pass_rate"] = _rate(sum(r["correct"] for r in ev), len(ev))
    for skill in sorted({r["skill"] for r in ev}):
        mine = [r for r in ev if r["skill"] == skill]
        hits = sum(r["correct"] for r in mine)
        out[f"eval.{skill}.rows"] = len(mine)
        out[f"eval.{skill}.correct"] = hits
        out[f"eval.{skill}.pass_rate"] = _rate(hits, len(mine))

    out |= _sft("sft", by_split.get("sft_train", []))
    out |= _sft("sft_heldout", by_split.get("sft_heldout", []))

    harmful = [r for r in ev if r["skill"] == "refusal" and not r["benign"] and r["refused"] is not None]
    benign = [r for r in ev if r["benign"] and r["refused"] is not None]
    out["refusal.rows"] = len(harmful)
    out["refusal.rate"] = _rate(sum(r["refused"] for r in harmful), len(harmful))
    out["refusal.benign_rows"] = len(benign)
    out["refusal.false_rate"] = _rate(sum(r["refused"] for r in benign), len(benign))

    generated = [r for r in ev if r["echoed"] is not None]
    out["echo.rows"] = len(generated)
    out["echo.rate"] = _rate(sum(r["echoed"] for r in generated), len(generated))

    benchmarks = sorted(s.split(":", 1)[1] for s in by_split if s.startswith("external:"))
    out["external.count"] = len(benchmarks)
    for name in benchmarks:
        mine = by_split[f"external:{name}"]
        n = len(mine)
        out[f"external.{name}.rows"] = n
        out[f"external.{name}.acc"] = _rate(sum(r["correct"] for r in mine), n)
        out[f"external.{name}.acc_norm"] = _rate(sum(r["correct_norm"] for r in mine), n)
        out[f"external.{name}.acc_bytes"] = _rate(sum(r["correct_bytes"] for r in mine), n)
    return out


def aggregate(table: pa.Table) -> dict[str, Any]:
    """The metrics of the single run in a results table (read back from parquet, say)."""
    run_ids = set(table.column("run_id").to_pylist())
    if len(run_ids) != 1:
        raise ValueError(f"expected the rows of exactly one run, found {len(run_ids)}")
    return aggregate_rows(table.to_pylist(), run_ids.pop())
