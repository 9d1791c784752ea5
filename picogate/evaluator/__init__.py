"""The torch evaluator: transparent per-row scoring of a causal LM into Arrow tables.

Needs the optional `eval` extra (torch). Every scored row is kept with what was asked, what was
expected, what the model said and how it was judged; every aggregate is recomputed from those rows.

>>> from picogate.evaluator import evaluate_model
>>> run = evaluate_model(model, tokenizer, eval_rows="eval.jsonl", run_id="r1", out_dir="runs/r1")

Names are imported on first use, so `picogate.evaluator.choice` (torch only) loads without pyarrow.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "aggregate": "aggregates",
    "aggregate_rows": "aggregates",
    "score_continuations": "choice",
    "greedy_generate": "generate",
    "GRADERS": "graders",
    "grade": "graders",
    "LM": "model",
    "wrap": "model",
    "METRICS_FILE": "output",
    "RESULTS_FILE": "output",
    "RESULTS_SCHEMA": "output",
    "metrics_table": "output",
    "results_table": "output",
    "write_parquet_atomic": "output",
    "write_run": "output",
    "ChoiceRow": "rows",
    "EvalInputError": "rows",
    "EvalRow": "rows",
    "SftRow": "rows",
    "load_choice_rows": "rows",
    "load_eval_rows": "rows",
    "load_sft_rows": "rows",
    "EvalRun": "run",
    "evaluate_model": "run",
    "EvalConfig": "score",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'picogate.evaluator' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"picogate.evaluator.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
