"""Impact preview at scale: `picogate rules diff` over 100,000 past runs against evaluating the two sets separately.

    .venv/bin/python benchmarks/bench_rules_diff.py                      # 100,000 runs, writes results/rules_diff.json
    .venv/bin/python benchmarks/bench_rules_diff.py --runs 20000 --no-write

A seeded history of past runs (the full skill_release evidence, preflight and post-run: 57 metric
columns, values spread around every threshold, ~1% nulls, a few NaNs) is written to parquet. The
rule change under test is a realistic pull request against `rules/skill_release.yaml`: math gate
0.30 -> 0.35, refusal 0.75 -> 0.70, planned-to-target 0.90 -> 0.95, and a new warn rule.

(a) `diff_rules(old, new, history.parquet)`: read the parquet once, load both profiles, one polars
    query for both verdicts and the causes of every change, plus the markdown report of 50 runs.
(b) the same answer from the public API, evaluating the two sets separately: `evaluate(parquet, old)`,
    `evaluate(parquet, new)`, join the runs on run_id, keep those whose status differs, then the
    causes from `.checks` of both sets evaluated on the changed runs only (the cheap way; building
    `.checks` for all 100,000 runs would be far slower).
(c) the lower bound of (b): the two `evaluate` calls alone, statuses only, no causes.

(a) and (b) must agree on every changed run, its old and new status and its causes, or nothing is
written. Times are best of `--repeat` after a warm-up, taking turns. Targets: (a) under 3 s for
100,000 runs, and (a)/(b) <= 1.0 (one pass is not slower than two). Exit status 1 if one is missed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from benchmarks._common import machine, write_json_atomic  # noqa: E402
from picogate.evaluate import evaluate, read_names  # noqa: E402
from picogate.policy.diff import diff_rules  # noqa: E402
from picogate.rules import load_rules  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "rules_diff.json"
TARGET_SECONDS = 3.0
TARGET_A_OVER_B = 1.0
SKILLS = {"identity": 0.60, "refusal": 0.75, "choice": 0.50, "math": 0.30, "spelling": 0.40}


def make_history(n: int, seed: int = 0) -> pl.DataFrame:
    """`n` past runs with every metric skill_release reads, values around each threshold."""
    rng = np.random.default_rng(seed)
    params = rng.integers(50, 2000, n) * 1_000_000
    target = rng.choice([10.0, 20.0, 20.0, 20.0, 25.0], n)
    ptt = np.clip(rng.normal(1.0, 0.06, n), 0.5, 1.3)
    planned = np.round(params * target * ptt).astype(np.int64)
    corpus_tokens = np.round(planned / rng.uniform(0.8, 6.0, n)).astype(np.int64)
    cols: dict[str, object] = {
        "run_id": [f"run-{i:06d}" for i in range(n)],
        "model.params": params, "model.params_counted": rng.choice(["all", "scaling"], n),
        "planned_tokens": planned, "target_param_data_ratio": target,
        "planned_param_data_ratio": planned / params, "planned_to_target_ratio": ptt,
        "launch.world_size": rng.choice([1, 2, 4, 8], n), "launch.tokens_per_fwdbwd": np.full(n, 524288),
        "launch.total_batch_size": np.full(n, 524288), "launch.batch_divides": rng.random(n) > 0.002,
        "attention.compatible": rng.random(n) > 0.003, "attention.combo": np.full(n, "sdpa on cuda at bf16"),
        "attention.reason": np.full(n, "supported"),
        "corpus.documents": rng.integers(500, 5_000_000, n), "corpus.tokens": corpus_tokens,
        "corpus.tokens_source": np.full(n, "shards"), "replay.epochs": planned / corpus_tokens,
        "boundaries.shards": rng.integers(0, 64, n), "boundaries.shards_without_bos": (rng.random(n) < 0.002) * 1,
        "boundaries.max_mean_doc_tokens": rng.lognormal(7, 1.5, n),
        "dedup.documents": rng.integers(500, 5_000_000, n), "dedup.exact_dup_rate": rng.exponential(0.012, n),
        "dedup.near_dup_rate": rng.exponential(0.03, n), "dedup.exact_dup_count": rng.integers(0, 1000, n),
        "dedup.near_dup_count": rng.integers(0, 1000, n), "dedup.jaccard": np.full(n, 0.8),
        "dedup.examples": np.full(n, "none"),
        "contamination.sft_prompts": (rng.random(n) < 0.004) * 2, "contamination.sft_rows": np.zeros(n, np.int64),
        "contamination.corpus_prompts": (rng.random(n) < 0.004) * 1,
        "contamination.corpus_documents": np.zeros(n, np.int64), "contamination.examples": np.full(n, "none"),
    }
    for kind in ("corpus", "sft", "eval", "external"):
        missing = (rng.random(n) < 0.002) * 1
        cols[f"files.{kind}.count"] = 1 - missing
        cols[f"files.{kind}.missing"] = missing
        cols[f"files.{kind}.missing_globs"] = np.where(missing == 1, f"data/{kind}/*", "none")
    # post-run evidence (rules/release.yaml post-run rules, the honesty verdict, baseline comparisons)
    cols |= {
        "preflight.status": rng.choice(["approved", "warn", "blocked"], n, p=[0.96, 0.035, 0.005]),
        "honesty.status": rng.choice(["pass", "warn", "fail"], n, p=[0.97, 0.02, 0.01]),
        "honesty.failing": np.full(n, "none"), "leak.eval_in_sft": (rng.random(n) < 0.003) * 1,
        "leak.heldout_in_sft": (rng.random(n) < 0.003) * 1, "leak.examples": np.full(n, "none"),
        "sft.fit_rate": rng.uniform(0.45, 1.0, n), "sft.rows": rng.integers(100, 5000, n),
        "sft_heldout.fit_rate": rng.uniform(0.25, 0.9, n), "sft_heldout.rows": rng.integers(8, 500, n),
        "eval.pass_rate": rng.uniform(0.45, 0.9, n), "eval.rows": rng.integers(28, 1000, n),
        "external.count": (rng.random(n) > 0.005) * 1, "refusal.rows": rng.integers(4, 100, n),
        "refusal.rate": rng.uniform(0.7, 1.0, n), "refusal.false_rate": rng.uniform(0.0, 0.3, n),
        "refusal.benign_rows": rng.integers(5, 100, n), "echo.rate": rng.exponential(0.02, n),
        "echo.rows": rng.integers(28, 1000, n), "compare.baseline": rng.random(n) < 0.5,
        "eval.delta": rng.normal(0.0, 0.05, n), "eval.delta_p": rng.uniform(0, 1, n),
    }
    for skill, gate in SKILLS.items():
        cols[f"data.sft.{skill}.rows"] = rng.integers(15, 400, n)
        cols[f"data.eval.{skill}.rows"] = rng.integers(8, 200, n)
        rate = np.clip(rng.normal(gate + 0.12, 0.07, n), 0, 1)
        cols[f"eval.{skill}.pass_rate"] = rate
        cols[f"eval.{skill}.pass_rate_low"] = np.clip(rate - rng.uniform(0.02, 0.2, n), 0, 1)
        cols[f"eval.{skill}.rows"] = rng.integers(8, 200, n)
        cols[f"eval.{skill}.delta"] = rng.normal(0.0, 0.05, n)
        cols[f"eval.{skill}.delta_p"] = rng.uniform(0, 1, n)
    frame = pl.DataFrame(cols)
    # ~1% nulls per metric column, a few NaNs in the floats: missing evidence is part of any history
    out = []
    for name in frame.columns:
        s = frame.get_column(name)
        if name != "run_id":
            null = rng.random(n) < 0.01
            if s.dtype == pl.Float64:
                s = s.scatter(np.flatnonzero(rng.random(n) < 0.0005), float("nan"))
            s = s.scatter(np.flatnonzero(null), None)
        out.append(s)
    return pl.DataFrame(out)


def old_rules(where: Path, rev: str | None) -> Path:
    """The shipped release + skill_release, from the working tree or from git revision `rev`."""
    from picogate.policy.gitref import materialize

    where.mkdir()
    if rev:
        return materialize(f"git:{rev}:rules/skill_release.yaml", where)
    for name in ("release.yaml", "skill_release.yaml"):
        (where / name).write_text((ROOT / "rules" / name).read_text())
    return where / "skill_release.yaml"


def new_rules(old: Path, where: Path) -> Path:
    """The rule change: two skill gates moved, the budget floor raised, one warn rule added."""
    where.mkdir()
    text = old.read_text()
    for before, after in (("math: 0.30", "math: 0.35"), ("refusal: 0.75", "refusal: 0.70")):
        assert before in text, before
        text = text.replace(before, after)
    text = text.replace("rules:\n", "rules:\n"
                        "  - id: budget.planned_to_target\n    stage: preflight\n    severity: block\n"
                        "    check: planned_to_target_ratio >= 0.95\n    message: planned {planned_to_target_ratio}\n"
                        "    fix: schedule more tokens\n"
                        "  - id: replay.soft_cap\n    stage: preflight\n    severity: warn\n"
                        "    check: replay.epochs <= 3.0\n    message: replays {replay.epochs} times\n"
                        "    fix: add unique data\n", 1)
    (where / "release.yaml").write_text((old.parent / "release.yaml").read_text())
    path = where / "skill_release.yaml"
    path.write_text(text)
    return path


def separate(history: Path, old: Path, new: Path) -> pl.DataFrame:
    """(b): two evaluate() calls, a join, then causes from .checks of both sets on the changed runs."""
    a, b = evaluate(history, old), evaluate(history, new)
    runs = a.runs.select("run_id", pl.col("status").alias("old")).join(
        b.runs.select("run_id", pl.col("status").alias("new")), on="run_id", maintain_order="left")
    changed = runs.filter(pl.col("old") != pl.col("new"))
    if not changed.height:
        return changed.with_columns(pl.lit([], pl.List(pl.String)).alias("causes"))
    rows = pl.read_parquet(history).filter(pl.col("run_id").is_in(changed.get_column("run_id").implode()))
    ca = evaluate(rows, old).checks.select("run_id", "rule_id", pl.col("effect").cast(pl.String).alias("e_old"))
    cb = evaluate(rows, new).checks.select("run_id", "rule_id", pl.col("effect").cast(pl.String).alias("e_new"))
    effects = ca.join(cb, on=["run_id", "rule_id"], how="full", coalesce=True) \
        .filter(pl.col("rule_id") != "picogate.nothing_passed") \
        .with_columns(pl.col("e_old", "e_new").fill_null("ok"))
    causes = effects.filter(pl.col("e_old") != pl.col("e_new")).group_by("run_id", maintain_order=True) \
        .agg(pl.col("rule_id").alias("causes"))
    return changed.join(causes, on="run_id", how="left", maintain_order="left")


def statuses_only(history: Path, old: Path, new: Path) -> int:
    """(c): the two evaluate() calls and the status comparison, no causes."""
    a, b = evaluate(history, old), evaluate(history, new)
    return int((a.runs.get_column("status") != b.runs.get_column("status")).sum())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--git-rev", help="take rules/ from this git revision instead of the working tree")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        history = tmpdir / "history.parquet"
        make_history(args.runs, args.seed).write_parquet(history)
        old = old_rules(tmpdir / "old", args.git_rev)
        new = new_rules(old, tmpdir / "new")
        n_old, n_new = len(load_rules(old)), len(load_rules(new))
        columns = set(pl.read_parquet_schema(history))
        absent = sorted(n for n in read_names(load_rules(old)) if n not in columns)
        if absent:  # message-only fields are fine; a rule reading an absent metric makes every run blocked
            print(f"note: {len(absent)} metrics the rules read are not in the history: {', '.join(absent[:8])}"
                  + (" ..." if len(absent) > 8 else ""))

        def run_a():  # type: ignore[no-untyped-def]
            d = diff_rules(old, new, history)
            return d, d.to_markdown(max_runs=50)

        (d, markdown), best = run_a(), {"a": float("inf"), "b": float("inf"), "c": float("inf")}
        b_res = separate(history, old, new)
        statuses_only(history, old, new)  # warm-up
        for _ in range(args.repeat):
            for key, fn in (("a", run_a), ("b", lambda: separate(history, old, new)),
                            ("c", lambda: statuses_only(history, old, new))):
                t0 = time.perf_counter()
                fn()
                best[key] = min(best[key], time.perf_counter() - t0)
        t0 = time.perf_counter()
        diff_rules(old, new, history)
        core = time.perf_counter() - t0

        # agreement: the same runs, statuses and causes
        got = d.changed.with_columns(pl.col("causes").list.sort()).sort("run_id")
        want = b_res.select("run_id", "old", "new", pl.col("causes").list.sort()).sort("run_id")
        if not got.equals(want):
            print("DISAGREEMENT between (a) and (b); nothing written", file=sys.stderr)
            print(got.join(want, on="run_id", how="full").filter(
                pl.col("causes") != pl.col("causes_right")).head(), file=sys.stderr)
            return 2

        cli = [sys.executable, "-m", "picogate.policy", "diff", str(old), str(new), "--history", str(history),
               "--format", "markdown"]
        t0 = time.perf_counter()
        proc = subprocess.run(cli, capture_output=True, text=True, cwd=ROOT, env={**os.environ}, check=False)
        cli_s = time.perf_counter() - t0
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 2

    ratio_ab, ratio_ac = best["a"] / best["b"], best["a"] / best["c"]
    met_time, met_ratio = best["a"] <= TARGET_SECONDS, ratio_ab <= TARGET_A_OVER_B
    print(f"{args.runs:,} runs, {n_old} old / {n_new} new checks; {d.n_changed:,} runs change verdict")
    print(f"(a) diff_rules + markdown   {best['a']:.3f} s   (diff_rules alone {core:.3f} s)")
    print(f"(b) separate + causes       {best['b']:.3f} s   (a)/(b) = {ratio_ab:.2f}  target <= {TARGET_A_OVER_B}")
    print(f"(c) two evaluate(), status  {best['c']:.3f} s   (a)/(c) = {ratio_ac:.2f}")
    print(f"CLI process (markdown)      {cli_s:.3f} s")
    payload = {
        "benchmark": "rules_diff",
        "config": {"runs": args.runs, "rules": f"git:{args.git_rev}" if args.git_rev else "working tree",
                   "repeat": args.repeat, "seed": args.seed, "old_checks": n_old,
                   "new_checks": n_new, "metric_columns": len(make_history(1).columns) - 1},
        "machine": {**machine(), "polars": pl.__version__, "numpy": np.__version__,
                    "polars_threads": pl.thread_pool_size()},
        "result": {"changed_runs": d.n_changed, "metrics_absent_from_history": absent,
                   "transitions": d.transitions.to_dicts(),
                   "rules": d.impact.to_dicts(), "markdown_chars": len(markdown)},
        "agreement": {"a_equals_b_changed_runs_statuses_causes": True},
        "seconds": {"a_diff_rules_with_markdown": best["a"], "a_diff_rules_core": core,
                    "b_separate_with_causes": best["b"], "c_two_evaluates_status_only": best["c"],
                    "cli_process_markdown": cli_s},
        "ratios": {"a_over_b": {"value": ratio_ab, "target": f"<= {TARGET_A_OVER_B}", "met": met_ratio},
                   "a_over_c": {"value": ratio_ac, "target": None},
                   "a_seconds": {"value": best["a"], "target": f"<= {TARGET_SECONDS}", "met": met_time}},
        "notes": [
            "history is parquet on local disk; (a), (b) and (c) each read it (a once, b and c twice)",
            "(a) includes loading both profiles, the one-pass query, causes and the 50-run markdown report",
            "(b) finds causes by evaluating both sets again on the changed runs only, then joining .checks",
            "best of repeat after a warm-up, taking turns, same process and data",
        ],
    }
    if not args.no_write:
        write_json_atomic(RESULTS, payload)
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0 if (met_time and met_ratio) else 1


if __name__ == "__main__":
    sys.exit(main())
