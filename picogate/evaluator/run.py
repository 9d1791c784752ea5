"""One evaluator run: load rows, score every kind, build both tables, optionally write them.

>>> result = evaluate_model(model, tok, eval_rows="data/eval/release.jsonl", run_id="r1", out_dir="runs/r1")
>>> result.metrics["eval.pass_rate"]
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
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
from picogate.evaluator.score import (
    EvalConfig,
    check_window,
    choice_requests,
    score_choice_rows,
    score_eval_rows,
    score_sft_rows,
)
from picogate.progress import progress_bar

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
    add_bos: bool | None = None,
    **lm_kwargs: Any,
) -> EvalRun:
    """Score a model on eval, SFT, held-out SFT and external multiple-choice rows.

    Rows are given as JSONL paths (validated; their sha256 is kept in the results' metadata) or as
    already-loaded rows. With `out_dir`, both tables are written there as parquet, atomically.
    `add_bos`: None follows the tokenizer's own default (lm-eval's choice; docs/evaluator.md), True or
    False forces it. `progress`: a bar on stderr when it is a terminal (`picogate.progress`).
    Every row fault, a choice too long for the model's window included, is raised before any forward pass.
    """
    cfg = config or EvalConfig()
    if isinstance(model, LM):
        if add_bos is not None and add_bos != model.add_bos:
            raise ValueError(f"add_bos={add_bos} given with an LM built with add_bos={model.add_bos}")
        lm = model
    else:
        lm = wrap(model, tokenizer, add_bos=add_bos, **lm_kwargs)
    inputs: list[dict[str, Any]] = []
    ev: list[EvalRow] = _rows(eval_rows, load_eval_rows, inputs, "eval")
    sft: list[SftRow] = _rows(sft_rows, load_sft_rows, inputs, "sft_train")
    held: list[SftRow] = _rows(heldout_rows, load_sft_rows, inputs, "sft_heldout")
    ext: dict[str, list[ChoiceRow]] = {}
    for name, arg in sorted((external or {}).items()):
        if not _NAME.fullmatch(name):
            raise ValueError(f"benchmark name {name!r} must match [a-z0-9_]+ (it names metrics)")
        ext[name] = _rows(arg, load_choice_rows, inputs, f"external:{name}")

    # Everything that cannot fit the model's window is named now, before any forward pass.
    check_window(lm, cfg, ev, [*sft, *held])
    prepared = {name: choice_requests(lm, rows, cfg) for name, rows in ext.items()}

    # The bar counts rows; an SFT row reports twice (greedy fit, teacher-forced target), a choice row once
    # a choice.
    total = len(ev) + len(sft) + len(held) + sum(len(rows) for rows in ext.values())
    records: list[dict[str, Any]] = []
    with progress_bar(total, "eval rows", enabled=progress) as bar:
        tick = bar.phase("eval rows", len(ev))
        records += score_eval_rows(lm, ev, run_id, cfg, progress=tick)
        tick = bar.phase("SFT rows", len(sft), 2 * len(sft))
        records += score_sft_rows(lm, sft, run_id, cfg, split="sft_train", progress=tick)
        tick = bar.phase("held-out SFT rows", len(held), 2 * len(held))
        records += score_sft_rows(lm, held, run_id, cfg, split="sft_heldout", progress=tick)
        for name, rows in ext.items():
            tick = bar.phase(f"{name} rows", len(rows), sum(len(r.choices) for r in rows))
            records += score_choice_rows(lm, rows, run_id, name, cfg, progress=tick, prepared=prepared[name])

    metadata = {"config": dataclasses.asdict(cfg), "inputs": inputs, "device": str(lm.device),
                "add_bos": lm.add_bos, "max_len": lm.max_len}
    results = results_table(records, metadata)
    metrics = aggregate_rows(results.to_pylist(), run_id)  # from the rows as written, nothing else
    paths = write_run(results, metrics_table(metrics), out_dir) if out_dir is not None else None
    return EvalRun(results, metrics, paths)
