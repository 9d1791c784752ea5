"""One evaluator run: load rows, score every kind, build both tables, optionally write them.

>>> result = evaluate_model(model, tok, eval_rows="data/eval/release.jsonl", run_id="r1", out_dir="runs/r1")
>>> result.metrics["eval.pass_rate"]
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from picogate.evaluator.aggregates import aggregate_rows
from picogate.evaluator.model import LM, wrap
from picogate.evaluator.output import metrics_table, results_table, write_run
from picogate.evaluator.rows import (
    ChoiceRow,
    EvalRow,
    SftRow,
    load_choice_rows,
    load_eval_rows,
    load_sft_rows,
)
from picogate.evaluator.score import EvalConfig, score_choice_rows, score_eval_rows, score_sft_rows

_NAME = re.compile(r"[a-z0-9_]+")
RowsArg = str | Path | Sequence[Any] | None


@dataclass(frozen=True)
class EvalRun:
    """What one run produced: the per-row table, the aggregates, and where they were written."""

    results: pa.Table
    metrics: dict[str, Any]
    paths: tuple[Path, Path] | None = None

    @property
    def metrics_table(self) -> pa.Table:
        return metrics_table(self.metrics)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(
    arg: RowsArg, loader: Callable[[Path], list[Any]], inputs: list[dict[str, Any]], role: str
) -> list[Any]:
    if arg is None:
        return []
    if isinstance(arg, str | Path):
        path = Path(arg)
        rows = loader(path)
        inputs.append({"role": role, "path": str(path), "sha256": _sha256(path), "rows": len(rows)})
        return rows
    return list(arg)


@contextlib.contextmanager
def _progress_bar(total: int, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    if not enabled or total == 0:
        yield None
        return
    from rich.progress import Progress  # only when a bar is wanted

    with Progress(transient=True) as bar:
        task = bar.add_task("scoring rows", total=total)
        yield lambda n: bar.advance(task, n)


def evaluate_model(
    model: Any,
    tokenizer: Any = None,
    *,
    eval_rows: RowsArg = None,
    sft_rows: RowsArg = None,
    heldout_rows: RowsArg = None,
    external: Mapping[str, str | Path | Sequence[ChoiceRow]] | None = None,
    run_id: str = "run",
    config: EvalConfig | None = None,
    out_dir: str | Path | None = None,
    progress: bool = False,
    **lm_kwargs: Any,
) -> EvalRun:
    """Score a model on eval, SFT, held-out SFT and external multiple-choice rows.

    Rows are given as JSONL paths (validated; their sha256 is kept in the results' metadata) or as
    already-loaded rows. With `out_dir`, both tables are written there as parquet, atomically.
    """
    cfg = config or EvalConfig()
    lm: LM = model if isinstance(model, LM) else wrap(model, tokenizer, **lm_kwargs)
    inputs: list[dict[str, Any]] = []
    ev: list[EvalRow] = _rows(eval_rows, load_eval_rows, inputs, "eval")
    sft: list[SftRow] = _rows(sft_rows, load_sft_rows, inputs, "sft_train")
    held: list[SftRow] = _rows(heldout_rows, load_sft_rows, inputs, "sft_heldout")
    ext: dict[str, list[ChoiceRow]] = {}
    for name, arg in sorted((external or {}).items()):
        if not _NAME.fullmatch(name):
            raise ValueError(f"benchmark name {name!r} must match [a-z0-9_]+ (it names metrics)")
        ext[name] = _rows(arg, load_choice_rows, inputs, f"external:{name}")

    total = len(ev) + 2 * (len(sft) + len(held)) + sum(len(r.choices) for rows in ext.values() for r in rows)
    records: list[dict[str, Any]] = []
    with _progress_bar(total, progress) as tick:
        records += score_eval_rows(lm, ev, run_id, cfg, progress=tick)
        records += score_sft_rows(lm, sft, run_id, cfg, split="sft_train", progress=tick)
        records += score_sft_rows(lm, held, run_id, cfg, split="sft_heldout", progress=tick)
        for name, rows in ext.items():
            records += score_choice_rows(lm, rows, run_id, name, cfg, progress=tick)

    metadata = {"config": dataclasses.asdict(cfg), "inputs": inputs, "device": str(lm.device)}
    results = results_table(records, metadata)
    metrics = aggregate_rows(results.to_pylist(), run_id)  # from the rows as written, nothing else
    paths = write_run(results, metrics_table(metrics), out_dir) if out_dir is not None else None
    return EvalRun(results, metrics, paths)
