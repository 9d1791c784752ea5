"""The honesty report's measurements: do the run's claims match its evidence?

Each function measures one claim into catalog metrics (schemas/metrics/postrun.json); the
`honesty` profile (rules/honesty.yaml) judges them, and its verdict becomes `honesty.status`.
Nothing here decides: a count of changed files is reported, whether any may change is policy.

- tokens actually trained vs planned and vs the claimed tokens-per-parameter ratio;
- the evaluated checkpoint is the released one (content hashes);
- eval/SFT/external files used are the ones preflight hashed; the recorder's own files unchanged;
- eval prompts absent from SFT rows (and held-out SFT prompts absent from training SFT rows);
- every aggregate recomputes from the per-row table;
- which stages were recorded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from picogate.postrun.rundir import RunDir, read_inputs, role_kind, sha256_file

_STAGE_METRIC = re.compile(r"^stages\.([a-z0-9_]+)\.done$")
_MAX_DETAIL = 4  # examples listed in a *_detail message


def _short(sha: str | None) -> str:
    return sha[:12] if sha else "none"


def _detail(items: list[str]) -> str:
    if not items:
        return "none"
    more = f" (+{len(items) - _MAX_DETAIL} more)" if len(items) > _MAX_DETAIL else ""
    return "; ".join(items[:_MAX_DETAIL]) + more


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b:
        return None
    return a / b


def stage_metrics(rd: RunDir, wanted: Iterable[str]) -> dict[str, Any]:
    """`stages.{name}.done` for every recorded stage and every stage a rule asks about (false if absent)."""
    asked = {m.group(1) for n in wanted if (m := _STAGE_METRIC.match(n))}
    out: dict[str, Any] = {f"stages.{s}.done": s in rd.stages for s in sorted(asked | set(rd.stages))}
    out["stages.missing"] = ", ".join(sorted(asked - set(rd.stages))) or "none"
    return out


def training_metrics(rd: RunDir, pre: Mapping[str, Any]) -> dict[str, Any]:
    """Tokens and parameters the base stage actually trained, against the plan's claims."""
    base = rd.stages.get("base", {})
    tokens, params = base.get("tokens"), base.get("params")
    planned, claimed, plan_params = pre.get("planned_tokens"), pre.get("target_param_data_ratio"), \
        pre.get("model.params")
    same_count = base.get("params_counted", "all") == (pre.get("model.params_counted") or "all")
    ratio = _ratio(tokens, params) if same_count else None  # params counted differently: not comparable
    sft = rd.stages.get("sft", {})
    return {
        "train.tokens": tokens,
        "train.steps": base.get("steps"),
        "train.params": params,
        "train.sft_tokens": sft.get("tokens"),
        "train.tokens_to_planned": _ratio(tokens, planned),
        "train.param_data_ratio": ratio,
        "train.tokens_to_target": _ratio(ratio, claimed),
        "train.params_to_planned": _ratio(params, plan_params) if same_count else None,
    }


def checkpoint_metrics(rd: RunDir) -> dict[str, Any]:
    """The checkpoint hashed at the end of training, the one evaluated and the file there now agree."""
    release, ev = rd.manifest.get("release"), rd.stages.get("eval")
    if not release or not ev:
        what = "no released checkpoint recorded" if not release else "no eval stage recorded"
        return {"honesty.checkpoint_match": None, "honesty.checkpoint_detail": what}
    path = rd.file(release["checkpoint"])
    now = sha256_file(path) if path.is_file() else None
    trained, evaluated = release["sha256"], ev["checkpoint_sha256"]
    problems = []
    if evaluated != trained:
        problems.append(f"evaluated checkpoint {_short(evaluated)} is not the trained one {_short(trained)}")
    if now is None:
        problems.append(f"released checkpoint {release['checkpoint']} is missing")
    elif now != evaluated:
        problems.append(f"released file {release['checkpoint']} is {_short(now)}, "
                        f"the evaluated one {_short(evaluated)}")
    return {"honesty.checkpoint_match": not problems,
            "honesty.checkpoint_detail": _detail(problems) if problems else f"all {_short(now)}"}


def input_metrics(rd: RunDir, results: Any) -> dict[str, Any]:
    """Files read by SFT training and by the evaluator, checked against the hashes taken at preflight."""
    pre = rd.stages.get("preflight")
    hashes: dict[str, set[str]] = {}
    for f in (pre or {}).get("data_files", []):
        hashes.setdefault(f["kind"], set()).add(f["sha256"])
    checked = changed = unverified = 0
    problems: list[str] = []

    def check(kind: str, entry: Mapping[str, Any], what: str) -> None:
        nonlocal checked, changed
        checked += 1
        if entry["sha256"] not in hashes.get(kind, set()):
            changed += 1
            problems.append(f"{what} {Path(entry['path']).name} ({_short(entry['sha256'])}) is not a {kind} "
                            "file hashed at preflight")

    inputs = read_inputs(rd.path / rd.stages["eval"]["results"]) if "eval" in rd.stages and results is not None \
        else []
    roles = {i["role"] for i in inputs}
    for entry in inputs:
        kind = role_kind(entry["role"])
        if kind is not None:
            check(kind, entry, f"{entry['role']} input")
    if results is not None:
        for split in sorted(set(results.column("split").to_pylist())):
            if role_kind(split) is not None and split not in roles:
                unverified += 1
                problems.append(f"split {split} was scored from rows with no hashed file")
    sft = rd.stages.get("sft")
    if sft is not None:
        if not sft.get("data_files"):
            unverified += 1
            problems.append("the sft stage names no data files")
        for entry in sft.get("data_files", []):
            check("sft", entry, "sft training file")
    if pre is None and checked:
        problems.insert(0, "no preflight recorded: nothing to compare against")
    return {"honesty.inputs_checked": checked, "honesty.inputs_changed": changed,
            "honesty.inputs_unverified": unverified, "honesty.inputs_detail": _detail(problems)}


def artifact_metrics(rd: RunDir) -> dict[str, Any]:
    """The files the recorder wrote (plan copy, preflight result, evaluator tables) still hash the same."""
    problems = []
    artifacts: Mapping[str, str] = rd.manifest.get("artifacts", {})
    for name, sha in sorted(artifacts.items()):
        path = rd.file(name)
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif sha256_file(path) != sha:
            problems.append(f"{name} changed after it was recorded")
    return {"honesty.artifacts_checked": len(artifacts), "honesty.artifacts_changed": len(problems),
            "honesty.artifacts_detail": _detail(problems)}


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    if any(isinstance(x, float) and not math.isfinite(x) for x in (a, b)):
        return False
    return abs(float(a) - float(b)) <= 1e-12 * max(1.0, abs(float(b)))


def aggregate_metrics(rd: RunDir, results: Any, metrics: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every aggregate in eval_metrics.parquet equals the one recomputed from eval_results.parquet."""
    if results is None or metrics is None:
        missing = "eval_results.parquet" if results is None else "eval_metrics.parquet"
        return {"honesty.aggregates_checked": 0, "honesty.aggregates_mismatched": None,
                "honesty.aggregates_detail": f"{missing} is missing"}
    from picogate.evaluator.aggregates import aggregate

    try:
        again = aggregate(results)
    except (ValueError, KeyError, TypeError) as exc:  # mixed runs, or a table without the columns
        return {"honesty.aggregates_checked": 0, "honesty.aggregates_mismatched": None,
                "honesty.aggregates_detail": f"cannot recompute: {exc}"}
    problems = []
    for name in sorted(set(again) | set(metrics)):
        if name not in metrics:
            problems.append(f"{name} recomputes to {again[name]} but is not in eval_metrics")
        elif name not in again:
            problems.append(f"{name} = {metrics[name]} does not follow from the rows")
        elif not _same(metrics[name], again[name]):
            problems.append(f"{name} is {metrics[name]}, the rows give {again[name]}")
    if metrics.get("run_id") != rd.run_id:
        problems.append(f"tables are of run {metrics.get('run_id')!r}, the run directory is {rd.run_id!r}")
    return {"honesty.aggregates_checked": len(again), "honesty.aggregates_mismatched": len(problems),
            "honesty.aggregates_detail": _detail(problems)}


# -- leaks: eval prompts in SFT rows ------------------------------------------------------------
def leak_metrics(rd: RunDir, results: Any) -> dict[str, Any]:
    """Eval prompts found in training SFT rows, and held-out SFT prompts found in training SFT rows.

    A prompt leaks when its normalized words equal an SFT row's prompt or appear, as a whole run of
    words, inside an SFT row's prompt + response. SFT rows are the scored `sft_train` rows plus the
    rows of the files the sft stage recorded.
    """
    if results is None:
        return {"leak.eval_in_sft": None, "leak.heldout_in_sft": None, "leak.examples": "no eval results"}
    from picogate.preflight.text import normalize

    cols = results.select(["split", "prompt", "expected"]).to_pydict()
    rows = list(zip(cols["split"], cols["prompt"], cols["expected"], strict=True))
    sft_texts = [f"{p}\n{e}" for s, p, e in rows if s == "sft_train"]
    sft_texts += list(_sft_file_texts(rd))
    eval_prompts = {normalize(p) for s, p, _ in rows if s == "eval"} - {""}
    heldout_prompts = {normalize(p) for s, p, _ in rows if s == "sft_heldout"} - {""}
    sft_norm = [normalize(t) for t in sft_texts]
    eval_hits = _contained(eval_prompts, sft_norm)
    held_hits = _contained(heldout_prompts, sft_norm)
    examples = [f"eval prompt '{p}' is in SFT" for p in sorted(eval_hits)]
    examples += [f"held-out prompt '{p}' is in training SFT" for p in sorted(held_hits)]
    return {"leak.eval_in_sft": len(eval_hits), "leak.heldout_in_sft": len(held_hits),
            "leak.examples": _detail(examples)}


def _sft_file_texts(rd: RunDir) -> Iterable[str]:
    from picogate.rows import full_text, iter_rows

    for entry in rd.stages.get("sft", {}).get("data_files", []):
        path = Path(entry["path"])
        if path.is_file():  # a file that is gone is reported by input_metrics, not here
            for _, row in iter_rows(path, "sft"):
                yield full_text(row)


def _contained(prompts: set[str], texts: list[str]) -> set[str]:
    """Prompts whose words appear as a contiguous run in some text: one set lookup per window."""
    by_len: dict[int, set[str]] = {}
    for p in prompts:
        by_len.setdefault(len(p.split(" ")), set()).add(p)
    hits: set[str] = set()
    for text in texts:
        words = text.split(" ")
        for n, wanted in by_len.items():
            for i in range(len(words) - n + 1):
                window = " ".join(words[i:i + n])
                if window in wanted:
                    hits.add(window)
    return hits
