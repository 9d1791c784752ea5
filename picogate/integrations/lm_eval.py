"""lm-evaluation-harness results as external-benchmark evidence (no lm-eval needed to read them).

    results_<time>.json  (lm-eval 0.4: results.<task>."acc,none", "acc_stderr,none", "acc_norm,none", ...,
                          n-samples.<task>.effective, groups, group_subtasks, configs, config.model_args)
      -> read_results -> one metrics row through the evidence boundary (picogate.metrics):
           external.<task>.acc, .acc_norm, .acc_stderr, .acc_norm_stderr, .rows,
           .acc_low/.acc_high, .acc_norm_low/.acc_norm_high (Wilson 95%, postrun.stats), external.count
    samples_<task>_<time>.jsonl beside it (lm-eval --log_samples)
      -> read_samples -> one row per question: prompt, choices, per-choice log-likelihoods, correct
         the aggregates are recomputed from these rows and must equal results.json, or nothing is read
    picogate attach RUN_DIR --lm-eval RESULTS_JSON (attach()) keeps both tables in the run directory and
    records the files' hashes in run.json (stage `lm_eval`); `picogate postrun` counts the tasks as
    external benchmarks (attached_metrics()).

Task names become metric segments: lower case, every run of characters outside [a-z0-9_] one `_`
(`belebele_acm_Arab` -> `belebele_acm_arab`, `mmlu-pro` -> `mmlu_pro`); two tasks that map to one name
are an error, never first or last wins. Only the unfiltered (`,none`) metrics are read. A task without
`acc,none` (a generation task, say) is not a multiple-choice benchmark: it is skipped and named, never
counted. Groups get their own metrics (rows = their tasks' rows) but are not counted as benchmarks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from picogate.errors import InputError
from picogate.evaluator.graders import choice_picks
from picogate.io import MAX_EVIDENCE_BYTES, read_bounded, read_lines
from picogate.jsonstrict import json_lines, loads_strict
from picogate.metrics import read_metrics
from picogate.postrun.stats import hits_of, wilson

STAGE = "lm_eval"  # the run.json stage `attach` records
METRICS_FILE = "lm_eval_metrics.parquet"  # the metrics row, as read_results gives it
ROWS_FILE = "lm_eval_rows.parquet"  # per-question evidence from the samples files
RESERVED = {"count"}  # external.count is the benchmark count, not a benchmark
_TIME = r"\d{4}-\d{2}-\d{2}T[0-9.\-]+"  # lm-eval's date_id: isoformat with ':' -> '-'
_RESULTS_NAME = re.compile(rf"^results_({_TIME})\.json$")
_TOLERANCE = 1e-9  # lm-eval writes means of 0/1 floats; a recomputed mean agrees to float rounding


@dataclass(frozen=True)
class Task:
    """One task's numbers as results.json gives them, under its metric-safe benchmark name."""

    name: str
    benchmark: str
    acc: float
    acc_norm: float | None
    acc_stderr: float | None
    acc_norm_stderr: float | None
    rows: int | None
    group: bool


@dataclass(frozen=True)
class Results:
    """A parsed results.json: counted tasks and groups, the names skipped, and what configured them."""

    path: Path
    tasks: tuple[Task, ...]
    skipped: tuple[str, ...]
    delimiters: Mapping[str, str] = field(default_factory=dict)
    model_args: Any = None

    def metrics(self) -> dict[str, Any]:
        """The flat metrics row (without run_id): every task and group, and external.count."""
        out: dict[str, Any] = {"external.count": sum(not t.group for t in self.tasks)}
        for t in self.tasks:
            p = f"external.{t.benchmark}"
            out |= {f"{p}.acc": t.acc, f"{p}.acc_norm": t.acc_norm, f"{p}.acc_stderr": t.acc_stderr,
                    f"{p}.acc_norm_stderr": t.acc_norm_stderr, f"{p}.rows": t.rows}
            for rate in ("acc", "acc_norm"):
                k = hits_of(out[f"{p}.{rate}"], t.rows)
                low, high = wilson(k, t.rows) if k is not None and t.rows else (None, None)  # type: ignore[arg-type]
                out[f"{p}.{rate}_low"], out[f"{p}.{rate}_high"] = low, high
        return out


def benchmark_name(task: str, where: str) -> str:
    """The metric segment for an lm-eval task name (see the module docstring)."""
    name = re.sub(r"[^a-z0-9_]+", "_", task.lower())
    if not name.strip("_") or name in RESERVED:
        raise InputError(f"{where}: task name {task!r} cannot name a benchmark")
    return name


def load_results(path: str | Path) -> Results:
    """Parse and check an lm-eval 0.4 results file; any fault is one InputError naming the file and key."""
    p = Path(path)
    doc = loads_strict(read_bounded(p, MAX_EVIDENCE_BYTES, "lm-eval results"), str(p))
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), dict) or not doc["results"]:
        raise InputError(f"{p}: not an lm-eval results file (no 'results' object with tasks)")
    subtasks = _mapping(doc, "group_subtasks", p)
    groups = set(_mapping(doc, "groups", p)) | {g for g, subs in subtasks.items() if subs}
    n_samples = _mapping(doc, "n-samples", p)
    configs = _mapping(doc, "configs", p)
    tasks, skipped, seen = [], [], {}
    for name, entry in doc["results"].items():
        where = f"{p}: results.{name}"
        if not isinstance(entry, dict):
            raise InputError(f"{where}: expected an object of metrics, got {type(entry).__name__}")
        if "acc,none" not in entry:
            skipped.append(name)
            continue
        bench = benchmark_name(name, where)
        if bench in seen:
            raise InputError(f"{where}: task names {seen[bench]!r} and {name!r} both become benchmark {bench!r}")
        seen[bench] = name
        is_group = name in groups
        rows = _group_rows(name, subtasks, n_samples, p) if is_group else _rows(name, n_samples, p)
        tasks.append(Task(name, bench, _rate(entry, "acc,none", where), _rate(entry, "acc_norm,none", where, True),
                          _stderr(entry, "acc_stderr,none", where), _stderr(entry, "acc_norm_stderr,none", where),
                          rows, is_group))
    if not any(not t.group for t in tasks):
        raise InputError(f"{p}: no task reports 'acc,none' (multiple-choice accuracy); skipped: {', '.join(skipped)}")
    delimiters = {}
    for t in tasks:
        cfg = configs.get(t.name, {})
        delim = cfg.get("target_delimiter", " ") if isinstance(cfg, dict) else " "
        if not isinstance(delim, str):
            raise InputError(f"{p}: configs.{t.name}.target_delimiter must be text")
        delimiters[t.name] = delim
    config = doc.get("config")
    model_args = config.get("model_args") if isinstance(config, dict) else None
    return Results(p, tuple(tasks), tuple(skipped), delimiters, model_args)


def read_results(path: str | Path, *, run_id: str | None = None) -> pl.DataFrame:
    """One row of external-benchmark metrics from an lm-eval results.json, read by `picogate.metrics`.

    >>> read_results("results_2026-01-01T00-00-00.json")["external.arc_easy.acc_low"][0]
    """
    row = load_results(path).metrics()
    return read_metrics(row if run_id is None else {"run_id": run_id, **row}, what=str(path))


def _mapping(doc: Mapping[str, Any], key: str, p: Path) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise InputError(f"{p}: '{key}' must be an object, got {type(value).__name__}")
    return value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _rate(entry: Mapping[str, Any], key: str, where: str, optional: bool = False) -> Any:
    if key not in entry and optional:
        return None
    value = entry[key]
    if not _number(value) or not 0 <= value <= 1:
        raise InputError(f"{where}: {key!r} must be a number from 0 to 1, got {value!r}")
    return float(value)


def _stderr(entry: Mapping[str, Any], key: str, where: str) -> float | None:
    value = entry.get(key)
    if value is None or value == "N/A":  # lm-eval writes "N/A" when it cannot compute one
        return None
    if not _number(value) or value < 0:
        raise InputError(f"{where}: {key!r} must be a non-negative number or \"N/A\", got {value!r}")
    return float(value)


def _rows(task: str, n_samples: Mapping[str, Any], p: Path) -> int:
    entry = n_samples.get(task)
    value = entry.get("effective") if isinstance(entry, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InputError(f"{p}: n-samples.{task}.effective must be a row count, got {value!r}")
    return value


def _group_rows(group: str, subtasks: Mapping[str, Any], n_samples: Mapping[str, Any], p: Path,
                depth: int = 0) -> int:
    subs = subtasks.get(group)
    if not isinstance(subs, list) or not subs or depth > 16:
        raise InputError(f"{p}: group_subtasks.{group} must list the group's tasks")
    return sum(_group_rows(s, subtasks, n_samples, p, depth + 1) if subtasks.get(s) else _rows(s, n_samples, p)
               for s in subs)


# -- samples: per-question evidence ---------------------------------------------------------------

def find_samples(results: Results) -> dict[str, Path]:
    """The samples file of each counted task beside the results file (lm-eval names them by task and time).

    Next to `results_<time>.json` only `samples_<task>_<time>.jsonl` of the same time belongs to it; next
    to a renamed results file, exactly one samples file per task must be there.
    """
    folder = results.path.parent
    same = _RESULTS_NAME.match(results.path.name)
    found: dict[str, Path] = {}
    for t in results.tasks:
        if t.group:
            continue
        pattern = re.compile(rf"^samples_{re.escape(t.name)}_({_TIME})\.jsonl$")
        hits = sorted(f for f in folder.iterdir() if (m := pattern.match(f.name))
                      and (same is None or m.group(1) == same.group(1)))
        if len(hits) > 1:
            raise InputError(f"{folder}: several samples files for task {t.name}: "
                             f"{', '.join(h.name for h in hits)}; keep the one of this results file")
        if hits:
            found[t.name] = hits[0]
    return found


def read_samples(path: Path, task: Task, delimiter: str) -> list[dict[str, Any]]:
    """One evidence row per question of a multiple-choice samples file, each one checked as it is read.

    A row's acc / acc_norm must be what its log-likelihoods give (argmax, ties to the first choice as
    numpy does; acc_norm divides by the choice's length in characters, as lm-eval does).
    """
    rows: list[dict[str, Any]] = []
    seen: set[int] = set()
    for where, obj in json_lines(read_lines(path, "lm-eval samples"), path):
        if obj.get("filter", "none") != "none":
            continue  # other filters are other metrics (acc,<filter>); picogate reads ,none
        doc_id, target = obj.get("doc_id"), obj.get("target")
        if not isinstance(doc_id, int) or isinstance(doc_id, bool) or doc_id in seen:
            raise InputError(f"{where}: doc_id must be an integer seen once, got {doc_id!r}")
        seen.add(doc_id)
        args, resps = obj.get("arguments"), obj.get("filtered_resps")
        if not isinstance(args, dict) or not isinstance(resps, list) or len(args) != len(resps) or not resps:
            raise InputError(f"{where}: expected 'arguments' and 'filtered_resps', one per choice")
        prompts, choices, lls, greedy = [], [], [], []
        for i, resp in enumerate(resps):
            arg = args.get(f"gen_args_{i}")
            if not isinstance(arg, dict) or not isinstance(arg.get("arg_0"), str) or \
                    not isinstance(arg.get("arg_1"), str):
                raise InputError(f"{where}: arguments.gen_args_{i} must hold the context and the continuation")
            cont = arg["arg_1"]
            prompts.append(arg["arg_0"])
            choices.append(cont[len(delimiter):] if cont.startswith(delimiter) else cont)
            ll, hit = _response(resp, f"{where}: filtered_resps[{i}]")
            lls.append(ll)
            greedy.append(hit)
        gold = _index(target, len(choices), where)
        if any(not c for c in choices):
            raise InputError(f"{where}: an empty choice has no length to normalise by")
        pred, pred_norm, _ = choice_picks(lls, choices)
        correct, correct_norm = pred == gold, pred_norm == gold
        for key, mine in (("acc", correct), ("acc_norm", correct_norm)):
            if key in obj and obj[key] != float(mine):
                raise InputError(f"{where}: {key} is {obj[key]!r} but the log-likelihoods give {float(mine)}")
        rows.append({"task": task.name, "benchmark": task.benchmark, "doc_id": doc_id, "source": where,
                     "prompt": prompts[0], "choices": choices, "choice_loglik": lls, "choice_greedy": greedy,
                     "choice_chars": [len(c) for c in choices], "answer_index": gold,
                     "correct": correct, "correct_norm": correct_norm})
    return rows


def _response(resp: Any, where: str) -> tuple[float, bool]:
    """lm-eval logs (loglik, is_greedy) as text ("-31.5", "False") or as numbers; both are read exactly."""
    if not isinstance(resp, list) or len(resp) != 2:
        raise InputError(f"{where}: expected [log-likelihood, is_greedy]")
    ll, hit = resp
    try:
        value = float(ll) if isinstance(ll, str) or _number(ll) else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value > 0:
        raise InputError(f"{where}: log-likelihood {ll!r} is not a finite number <= 0")
    if hit not in (True, False, "True", "False"):
        raise InputError(f"{where}: is_greedy {hit!r} is not True or False")
    return value, hit in (True, "True")


def _index(target: Any, n: int, where: str) -> int:
    text = str(target) if isinstance(target, int | str) and not isinstance(target, bool) else ""
    if not text.isdigit() or not 0 <= int(text) < n:
        raise InputError(f"{where}: target {target!r} is not the index of one of the {n} choices")
    return int(text)


def recompute(rows: list[Mapping[str, Any]]) -> dict[str, Any]:
    """acc, acc_norm and rows of each benchmark, from per-question rows and nothing else."""
    out: dict[str, Any] = {}
    for bench in sorted({r["benchmark"] for r in rows}):
        mine = [r for r in rows if r["benchmark"] == bench]
        out[f"external.{bench}.rows"] = len(mine)
        out[f"external.{bench}.acc"] = sum(r["correct"] for r in mine) / len(mine)
        out[f"external.{bench}.acc_norm"] = sum(r["correct_norm"] for r in mine) / len(mine)
    return out


def check_aggregates(stated: Mapping[str, Any], rows: list[Mapping[str, Any]], where: str) -> None:
    """Every aggregate the rows give must equal the stated one; the first disagreement is one InputError."""
    for name, value in recompute(rows).items():
        have = stated.get(name)
        if have is None and name.endswith(".acc_norm"):
            continue  # the task did not report acc_norm: nothing to agree with
        if have is None or abs(float(have) - value) > _TOLERANCE:
            raise InputError(f"{where}: {name} is {have} but the sample rows give {value}")


def rows_schema() -> Any:
    """The Arrow schema of lm_eval_rows.parquet (pyarrow is imported only when a table is built)."""
    import pyarrow as pa

    return pa.schema([
        pa.field("run_id", pa.string(), nullable=False), pa.field("task", pa.string(), nullable=False),
        pa.field("benchmark", pa.string(), nullable=False), pa.field("doc_id", pa.int64(), nullable=False),
        pa.field("source", pa.string(), nullable=False), pa.field("prompt", pa.string(), nullable=False),
        pa.field("choices", pa.list_(pa.string())), pa.field("choice_loglik", pa.list_(pa.float64())),
        pa.field("choice_greedy", pa.list_(pa.bool_())), pa.field("choice_chars", pa.list_(pa.int32())),
        pa.field("answer_index", pa.int32(), nullable=False), pa.field("correct", pa.bool_(), nullable=False),
        pa.field("correct_norm", pa.bool_(), nullable=False),
    ])


def rows_table(rows: list[Mapping[str, Any]], run_id: str) -> Any:
    """The per-question rows as an Arrow table (lm_eval_rows.parquet in a run directory)."""
    import pyarrow as pa

    return pa.Table.from_pylist([{"run_id": run_id, **r} for r in rows], schema=rows_schema())
