"""postrun(): turn a finished run directory into one row of evidence, then judge it.

    RUN_DIR -> preflight evidence + evaluator aggregates + Wilson intervals + honesty measurements
            -> evaluate(row, "honesty") -> honesty.status
            -> (+ deltas against a baseline run) -> evaluate(row, profile, stage="postrun") -> GateResult

Two passes of the same engine: the honesty profile (rules/honesty.yaml) judges whether the run's
claims match its evidence, and its verdict is one metric the release rules gate on. Everything that
decides is in `rules/`; this module only measures.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from picogate.errors import InputError
from picogate.evaluate import evaluate, read_names
from picogate.postrun import honesty
from picogate.postrun.rundir import METRICS_FILE, RESULTS_FILE, RunDir
from picogate.postrun.stats import hits_of, two_proportion, wilson
from picogate.result import GateResult
from picogate.rules import RuleSet, load_rules

HONESTY_PROFILE = "honesty"
HONESTY_STATUS = {"approved": "pass", "warn": "warn", "blocked": "fail"}
_SKILL_RATE = re.compile(r"^eval\.([a-z0-9_]+)\.pass_rate$")
_BENCH_ACC = re.compile(r"^external\.([a-z0-9_]+)\.acc(?:_norm|_bytes)?$")  # acc, acc_norm, acc_bytes
_SKILL_DELTA = re.compile(r"^eval\.([a-z0-9_]+)\.delta(_p)?$")
# Rates whose row count sits beside them: (rate, rows). Skills and benchmarks are added per run.
RATE_ROWS = (("eval.pass_rate", "eval.rows"), ("sft.fit_rate", "sft.rows"),
             ("sft_heldout.fit_rate", "sft_heldout.rows"), ("refusal.rate", "refusal.rows"),
             ("refusal.false_rate", "refusal.benign_rows"), ("echo.rate", "echo.rows"))


@dataclass(frozen=True)
class Outcome:
    """Everything one post-run judgement produced: the verdict, the honesty report and the evidence."""

    result: GateResult
    honesty: GateResult
    evidence: dict[str, Any]
    baseline: dict[str, Any] | None
    run_dir: Path

    @property
    def status(self) -> str:
        return self.result.status


def postrun(run_dir: str | Path, *, profile: str | Path | RuleSet | None = None,
            baseline: str | Path | None = None) -> GateResult:
    """May this finished run's model be released?

    `profile` defaults to the one the run's preflight used; `baseline` is a previous run directory
    whose per-skill rates the rules may compare against (`eval.{skill}.delta`, `baseline.<name>`).

    >>> postrun("demo-run").status
    'blocked'
    """
    return run(run_dir, profile=profile, baseline=baseline).result


def run(run_dir: str | Path, *, profile: str | Path | RuleSet | None = None, baseline: str | Path | None = None,
        honesty_profile: str | Path | RuleSet = HONESTY_PROFILE) -> Outcome:
    """`postrun`, also returning the honesty report and the evidence rows it judged."""
    rd = RunDir(run_dir)
    ruleset = _ruleset(rd, profile).for_stage("postrun")
    honesty_rules = load_rules(honesty_profile).for_stage("postrun")
    wanted = set(read_names(ruleset)) | set(read_names(honesty_rules))
    base_ev = None
    if baseline is not None:
        base_rd = RunDir(baseline)
        if base_rd.path.resolve() == rd.path.resolve():
            raise InputError(f"{baseline}: the baseline is the run itself; pass the previous run's directory")
        base_ev, _ = _judge_honesty(base_rd, wanted, honesty_rules)
    evidence, report = _judge_honesty(rd, wanted, honesty_rules)
    evidence |= deltas(evidence, base_ev, wanted)
    result = evaluate(evidence, ruleset, stage="postrun", baseline=base_ev)
    return Outcome(result, report, evidence, base_ev, rd.path)


def _ruleset(rd: RunDir, profile: str | Path | RuleSet | None) -> RuleSet:
    if profile is not None:
        return load_rules(profile)
    pre = rd.stages.get("preflight") or {}
    name = pre.get("profile")
    if not name:
        raise InputError(f"{rd.path}: no preflight profile recorded; name the profile to judge with (--profile)")
    return load_rules(name)


def _judge_honesty(rd: RunDir, wanted: set[str], rules: RuleSet) -> tuple[dict[str, Any], GateResult]:
    evidence = collect(rd, wanted)
    report = evaluate(evidence, rules, stage="postrun")
    evidence["honesty.status"] = HONESTY_STATUS[report.status]
    failing = report.failing()
    evidence["honesty.failing"] = "; ".join(
        f"{c['rule_id']} ({c['outcome']}: {c['message']})" for c in failing.iter_rows(named=True)) or "none"
    return evidence, report


def collect(rd: RunDir, wanted: set[str] | None = None) -> dict[str, Any]:
    """The evidence row of one run directory (without honesty.status and baseline deltas)."""
    wanted = wanted or set()
    pre = rd.preflight()
    pre_ev: dict[str, Any] = dict((pre or {}).get("evidence", {}))
    results = rd.table(RESULTS_FILE) if "eval" in rd.stages else None
    metrics_table = rd.table(METRICS_FILE) if "eval" in rd.stages else None
    metrics = _one_row(metrics_table, rd.path / METRICS_FILE) if metrics_table is not None else None

    ev: dict[str, Any] = {k: v for k, v in pre_ev.items() if k != "run_id"}
    ev["run_id"] = rd.run_id
    ev["preflight.status"] = pre.get("status") if pre else None
    ev |= {k: v for k, v in (metrics or {}).items() if k != "run_id"}
    from picogate.postrun.attach import attached_metrics  # lm-eval results attached with `picogate attach`

    ev |= attached_metrics(rd, ev)
    ev |= intervals(ev)
    ev |= honesty.stage_metrics(rd, wanted)
    ev |= honesty.training_metrics(rd, pre_ev)
    ev |= honesty.checkpoint_metrics(rd)
    ev |= honesty.input_metrics(rd, results)
    ev |= honesty.artifact_metrics(rd)
    ev |= honesty.aggregate_metrics(rd, results, metrics)
    ev |= honesty.leak_metrics(rd, results)
    return ev


def _one_row(table: Any, path: Path) -> dict[str, Any]:
    if table.num_rows != 1:
        raise InputError(f"{path}: expected the aggregates of one run (one row), got {table.num_rows}")
    return table.to_pylist()[0]


def rate_pairs(ev: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(rate, rows) metric pairs present in an evidence row: fixed ones, every skill, every benchmark."""
    pairs = list(RATE_ROWS)
    for name in sorted(ev):
        if m := _SKILL_RATE.match(name):
            pairs.append((name, f"eval.{m.group(1)}.rows"))
        elif m := _BENCH_ACC.match(name):
            pairs.append((name, f"external.{m.group(1)}.rows"))
    return pairs


def intervals(ev: Mapping[str, Any]) -> dict[str, Any]:
    """`<rate>_low` / `<rate>_high`: the Wilson 95% interval of every rate, from its row count."""
    out: dict[str, Any] = {}
    for rate, rows in rate_pairs(ev):
        n = ev.get(rows)
        k = hits_of(ev.get(rate), int(n) if isinstance(n, int | float) and n == n else None)
        low, high = wilson(k, int(n)) if k is not None else (None, None)  # type: ignore[arg-type]
        out[f"{rate}_low"], out[f"{rate}_high"] = low, high
    return out


def deltas(ev: Mapping[str, Any], base: Mapping[str, Any] | None, wanted: set[str]) -> dict[str, Any]:
    """Change of each eval pass rate against the baseline run, with its two-proportion p-value."""
    out: dict[str, Any] = {"compare.baseline": base is not None,
                           "compare.baseline_run": str(base["run_id"]) if base is not None else "none"}
    skills = {m.group(1) for n in wanted if (m := _SKILL_DELTA.match(n))}
    skills |= {m.group(1) for n in ev if (m := _SKILL_RATE.match(n))}
    for prefix in ["eval", *(f"eval.{s}" for s in sorted(skills))]:
        delta = p = None
        if base is not None:
            cur = _hits(ev, prefix)
            old = _hits(base, prefix)
            if cur is not None and old is not None:
                delta = cur[0] / cur[1] - old[0] / old[1]
                _, p = two_proportion(cur[0], cur[1], old[0], old[1])
        out[f"{prefix}.delta"], out[f"{prefix}.delta_p"] = delta, p
    return out


def _hits(ev: Mapping[str, Any], prefix: str) -> tuple[int, int] | None:
    n = ev.get(f"{prefix}.rows")
    if not isinstance(n, int | float) or n != n or n <= 0:
        return None
    k = hits_of(ev.get(f"{prefix}.pass_rate"), int(n))
    return None if k is None else (k, int(n))
