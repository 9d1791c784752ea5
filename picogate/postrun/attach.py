"""`picogate attach RUN_DIR --lm-eval RESULTS_JSON`: lm-eval results become the run's external benchmarks.

    picogate attach runs/r1 --lm-eval lm-eval-out/results_2026-01-01T00-00-00.json

The results file is read and checked (picogate.integrations.lm_eval); when lm-eval's samples files are
beside it, every question's log-likelihoods are read and the aggregates recomputed from them, and a
disagreement refuses the attachment. The run directory then holds `lm_eval_metrics.parquet` (the metrics
row) and `lm_eval_rows.parquet` (the questions), and run.json a stage `lm_eval` with the hash of every
file read. `picogate postrun RUN_DIR` counts the tasks as external benchmarks (`external.count`,
`external.<task>.acc` with its interval). `--lm-eval` may be repeated for several lm-eval runs of one model
(a benchmark in two files is refused). Attaching again replaces the previous lm-eval attachment.
Exit status: 0 attached, 2 not (one line saying why).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from picogate.errors import InputError
from picogate.integrations.lm_eval import (
    METRICS_FILE,
    ROWS_FILE,
    STAGE,
    check_aggregates,
    find_samples,
    load_results,
    read_samples,
    rows_table,
)
from picogate.postrun.rundir import MANIFEST, RunDir, RunRecorder, sha256_file


@dataclass(frozen=True)
class Attached:
    """What one attachment recorded: the metrics row, the benchmarks counted and the sample rows checked."""

    run_dir: Path
    metrics: dict[str, Any]
    benchmarks: tuple[str, ...]
    sample_rows: int
    skipped: tuple[str, ...]


def attach_lm_eval(run_dir: str | Path, results_path: str | Path | Sequence[str | Path]) -> Attached:
    """Check lm-eval results files (and their samples) and record them in an existing run directory.

    Several files (say one lm-eval run per task) are attached together; a benchmark reported by two of
    them, or files from differently configured models, are refused: neither would win.

    >>> attach_lm_eval("runs/r1", "out/results_2026-01-01T00-00-00.json").benchmarks
    ('arc_easy',)
    """
    paths = [results_path] if isinstance(results_path, str | Path) else list(results_path)
    if not paths:
        raise InputError(f"{run_dir}: no lm-eval results file given")
    path = Path(run_dir)
    if not os.path.lexists(path / MANIFEST):
        RunDir(path)  # the same one-line error postrun gives for a directory with no run recorded
    rec = RunRecorder.resume(path)
    every = [load_results(p) for p in paths]
    metrics: dict[str, Any] = {"external.count": 0}
    found_in: dict[str, Path] = {}
    for results in every:
        if results.model_args != every[0].model_args:
            raise InputError(f"{results.path}: lm-eval ran model_args {results.model_args!r}, but "
                             f"{every[0].path} ran {every[0].model_args!r}; attach one model's results")
        mine = results.metrics()
        metrics["external.count"] += mine.pop("external.count")
        for key in mine:
            if key in found_in:
                raise InputError(f"{results.path}: {key} is also reported by {found_in[key]}; "
                                 "attach each benchmark from one results file")
            found_in[key] = results.path
        metrics |= mine
    _no_clash(RunDir(path), metrics)
    inputs: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for results in every:
        inputs.append({"role": "lm_eval:results", "path": str(results.path.resolve()),
                       "sha256": sha256_file(results.path)})
        tasks = {t.name: t for t in results.tasks}
        for name, file in find_samples(results).items():
            mine = read_samples(file, tasks[name], results.delimiters[name])
            check_aggregates(metrics, mine, f"{results.path}: samples file {file.name}")
            rows += mine
            inputs.append({"role": f"lm_eval:{name}", "path": str(file.resolve()), "sha256": sha256_file(file),
                           "rows": len(mine)})
    from picogate.evaluator.output import metrics_table, write_parquet_atomic

    write_parquet_atomic(metrics_table({"run_id": rec.run_id, **metrics}), path / METRICS_FILE)
    files = [METRICS_FILE]
    rec.manifest["artifacts"].pop(ROWS_FILE, None)  # an earlier attachment's rows are not this one's
    if rows:
        write_parquet_atomic(rows_table(rows, rec.run_id), path / ROWS_FILE)
        files.append(ROWS_FILE)
    else:
        (path / ROWS_FILE).unlink(missing_ok=True)
    entry = {"results": [str(r.path.resolve()) for r in every], "inputs": inputs, "metrics": METRICS_FILE,
             "rows": ROWS_FILE if rows else None, "skipped": [n for r in every for n in r.skipped],
             "tasks": {t.name: t.benchmark for r in every for t in r.tasks}, "model_args": every[0].model_args}
    rec.record_attached(STAGE, entry, files=files)
    counted = tuple(t.benchmark for r in every for t in r.tasks if not t.group)
    return Attached(path, metrics, counted, len(rows), tuple(n for r in every for n in r.skipped))


def _no_clash(rd: RunDir, metrics: Mapping[str, Any]) -> None:
    """A benchmark the evaluator scored in this run cannot also come from lm-eval: neither would win."""
    if "eval" not in rd.stages:
        return
    table = rd.table(rd.stages["eval"]["metrics"])
    if table is None:
        return
    clash = sorted(set(table.column_names) & (set(metrics) - {"external.count"}))
    if clash:
        raise InputError(f"{rd.path}: {clash[0]} is already scored by picogate eval in this run; "
                         "rename the lm-eval task or the --external benchmark")


def attached_metrics(rd: RunDir, evidence: Mapping[str, Any]) -> dict[str, Any]:
    """The attached lm-eval metrics for the post-run evidence row, with `external.count` summed.

    The metrics row is read through the evidence boundary; when per-question rows are kept, the
    aggregates are recomputed from them (a table edited since attaching stops the gate, exit 2).
    """
    entry = rd.stages.get(STAGE)
    if entry is None:
        return {}
    from picogate.metrics import read_metrics

    table = read_metrics(rd.file(entry["metrics"]))
    if table.height != 1 or table.get_column("run_id")[0] != rd.run_id:
        raise InputError(f"{rd.file(entry['metrics'])}: expected one row of run {rd.run_id!r}")
    row = {k: v for k, v in table.row(0, named=True).items() if k != "run_id"}
    if entry.get("rows"):
        rows = rd.table(entry["rows"])
        if rows is None:
            raise InputError(f"{rd.file(entry['rows'])}: missing; attach the lm-eval results again")
        check_aggregates(row, rows.to_pylist(), str(rd.file(entry["rows"])))
    clash = sorted(k for k in row if k != "external.count" and k in evidence)
    if clash:
        raise InputError(f"{rd.path}: {clash[0]} comes from both picogate eval and the attached lm-eval results")
    count = row.pop("external.count", 0) or 0
    return {**row, "external.count": (evidence.get("external.count") or 0) + count}


def add_attach_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register `attach` on the main CLI's subparsers."""
    p = subparsers.add_parser("attach", help="attach lm-eval results to a run directory as external benchmarks",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", help="run directory (docs/run-dir.md)")
    p.add_argument("--lm-eval", required=True, dest="lm_eval", metavar="RESULTS_JSON", action="append",
                   help="lm-eval 0.4 results file; its samples_<task>_<time>.jsonl files are read when beside it; "
                        "repeat for several lm-eval runs of one model (attached together)")
    p.set_defaults(func=cmd_attach)
    return p


def cmd_attach(args: argparse.Namespace) -> int:
    """One line: what was attached (errors propagate to the main CLI: one line, exit 2)."""
    from picogate.escape import text
    from picogate.verdict import EXIT_APPROVED

    done = attach_lm_eval(args.run_dir, args.lm_eval)
    rows = f"{done.sample_rows} sample rows recomputed" if done.sample_rows else "no samples files beside it"
    skipped = f"; skipped (no acc): {', '.join(done.skipped)}" if done.skipped else ""
    print(text(f"attached {len(done.benchmarks)} lm-eval benchmark(s) to {done.run_dir}: "
               f"{', '.join(done.benchmarks)} ({rows}){skipped}"))
    return EXIT_APPROVED  # attached: the exit status of a command that succeeded
