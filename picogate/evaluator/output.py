"""The evaluator's tables: per-row results (published in schemas/eval_results.schema.json) and the
one-row metrics table, written as parquet atomically (picogate.io.atomic_write: temp file + rename).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from picogate.io import atomic_write

RESULTS_FILE = "eval_results.parquet"
METRICS_FILE = "eval_metrics.parquet"
METADATA_KEY = b"picogate.eval"

# One row in, one row out. Columns a kind does not produce are null (see docs/evaluator.md).
RESULTS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("skill", pa.string(), nullable=False),
        pa.field("row_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("prompt", pa.string(), nullable=False),
        pa.field("expected", pa.string(), nullable=False),
        pa.field("output", pa.string(), nullable=False),
        pa.field("grader", pa.string(), nullable=False),
        pa.field("correct", pa.bool_(), nullable=False),
        pa.field("correct_norm", pa.bool_()),
        pa.field("correct_bytes", pa.bool_()),
        pa.field("refused", pa.bool_()),
        pa.field("echoed", pa.bool_()),
        pa.field("echo_chars", pa.int32()),
        pa.field("benign", pa.bool_(), nullable=False),
        pa.field("answer_index", pa.int32()),
        pa.field("choice_loglik", pa.list_(pa.float64())),
        pa.field("choice_chars", pa.list_(pa.int32())),
        pa.field("choice_bytes", pa.list_(pa.int32())),
        pa.field("choice_tokens", pa.list_(pa.int32())),
        pa.field("choice_is_greedy", pa.list_(pa.bool_())),
        pa.field("prompt_tokens", pa.int32(), nullable=False),
        pa.field("output_tokens", pa.int32()),
        pa.field("target_tokens", pa.int32()),
        pa.field("target_correct_tokens", pa.int32()),
        pa.field("target_loglik", pa.float64()),
        pa.field("truncated", pa.bool_(), nullable=False),
        pa.field("bos", pa.bool_(), nullable=False),
    ]
)


def results_table(
    records: Sequence[Mapping[str, Any]], metadata: Mapping[str, Any] | None = None
) -> pa.Table:
    """Per-row results as an Arrow table with the published schema (missing optional keys become null)."""
    columns = {f.name: [r.get(f.name) for r in records] for f in RESULTS_SCHEMA}
    table = pa.Table.from_pydict(columns, schema=RESULTS_SCHEMA)
    if metadata:
        table = table.replace_schema_metadata({METADATA_KEY: json.dumps(metadata, sort_keys=True).encode()})
    return table


def metrics_table(metrics: Mapping[str, Any]) -> pa.Table:
    """One run's aggregates as a one-row table: `run_id` first, then the catalog names as columns.

    Counts are int64, rates float64 (null when there was nothing to rate), the run id a string.
    """
    fields, values = [], []
    for name, value in metrics.items():
        if isinstance(value, str):
            kind = pa.string()
        elif isinstance(value, bool):
            kind = pa.bool_()
        elif isinstance(value, int):
            kind = pa.int64()
        else:  # float, or None for a rate with nothing to rate
            kind = pa.float64()
        fields.append(pa.field(name, kind))
        values.append(pa.array([value], type=kind))
    return pa.Table.from_arrays(values, schema=pa.schema(fields))


def write_parquet_atomic(table: pa.Table, path: str | Path) -> Path:
    """Write `table` to `path` so that a crash mid-write leaves any previous file intact (picogate.io)."""
    return atomic_write(path, lambda tmp: pq.write_table(table, str(tmp)))


def write_run(results: pa.Table, metrics: pa.Table, out_dir: str | Path) -> tuple[Path, Path]:
    """Write both tables into the run directory; returns (results path, metrics path)."""
    out = Path(out_dir)
    return (write_parquet_atomic(results, out / RESULTS_FILE),
            write_parquet_atomic(metrics, out / METRICS_FILE))
