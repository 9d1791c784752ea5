"""Rules engine at scale: `evaluate` against hand-written polars and a per-row Python interpreter.

    .venv/bin/python benchmarks/bench_engine.py                 # everything, writes results/engine.json
    .venv/bin/python benchmarks/bench_engine.py --runs 100000 --sample 2000 --rss-runs 1000000 --no-write
    .venv/bin/python benchmarks/bench_engine.py --workload 2 --skip-rss --no-write    # one part alone

Workload 1 (1,000,000 runs x 50 checks): one synthetic fleet (seeded numpy: 40 metric columns of
float/int/bool/string, ~1% nulls, a few NaNs, a few zero denominators) is judged three ways, each timed
best-of-`--repeat` after a warm-up:

(a) `picogate.evaluate(df, rule_file)` end to end: YAML + schema + pydantic load, type check, compile,
    normalise, one lazy polars query of all outcomes and statuses. The long `result.checks` table
    (messages, observed values) is built lazily and is NOT in (a); it is timed on its own.
(b) the same 50 checks hand-written as polars expressions over the raw frame: an Int8 outcome per check
    (pass/fail/missing/error; NaN counts as missing, x/0 is error) and each run's status, with
    "nothing passed -> blocked". It is checked to agree with (a) on every outcome and every status.
    It is leaner than picogate where the data allows (no ±inf guard, error checks only on divisions),
    which makes the (a)/(b) target stricter, not looser.
(c) `picogate.expr.reference.outcome`, the plain-Python interpreter of the same ASTs, one row (a dict)
    at a time on `--sample` runs, plus the same per-run status; its time is scaled linearly to `--runs`
    and its outcomes are checked against (a) on the sample.

It also times the CLI's whole process for a one-run file against `python -c "import polars"`, and checks
with `python -X importtime` that neither the CLI nor `picogate.evaluate` imports torch.

Workload 2 (issue 17; 1,000,000 runs x 10 float metrics x 50 rules): one third each of `a >= t`,
`a >= t and b < u` and `a / (b + 1) <= t`, even rules block and odd ones warn; ~1% nulls, a few NaNs,
a few b = -1.0 (so b + 1 = 0 and the quotient is an error), 0.1% runs with nothing. (a) is
`evaluate(df, rule_file)` with the file read inside the call, (b) the hand-written twin (NaN to null once
per column, then the same Int8 codes and statuses), checked equal on every outcome and status; timed
in `--w2-repeat` paired rounds with sorted run ids, then again with the rows shuffled (picogate's
duplicate-id test takes another path when ids are not increasing).

Before each workload its (b) runs alone `--quiet-repeat` times: min, median, max and (max-min)/min;
under 10% counts as quiet. A busy machine flatters the ratio (polars' part slows down, a fixed Python
part does not), so read a ratio together with its spread and the load averages printed before and after.

Per call (issue 17): the first `evaluate(ten_runs, rule_file)` in a fresh interpreter (imports timed
apart), and the median of `--calls` cached calls on 10 runs x workload 2's rules, with a preloaded
`RuleSet` and by path. Peak RSS (issue 11): `picogate evaluate` of a `--rss-runs` (10M) x 1 rule parquet
with `--format text > /dev/null`, the child's own VmHWM (`_common.cli_peak_rss`), beside a child that only
reads the same parquet.

Targets: (a)/(b) <= 1.5 on both workloads, (c)/(a) >= 100, no torch, first call <= 15 ms, cached call
<= 3 ms (both ways), peak RSS < 2 GB. Exit status 1 if a target is missed (the JSON is still written);
the run stops before writing if (a), (b) and (c) disagree, because a benchmark that compares different
work is worthless.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from benchmarks._common import cli_peak_rss, machine, run_child, write_json_atomic  # noqa: E402
from picogate.evaluate import evaluate  # noqa: E402
from picogate.expr import ERROR, FAIL, MISSING, PASS  # noqa: E402
from picogate.expr.reference import outcome  # noqa: E402
from picogate.result import GateResult  # noqa: E402
from picogate.rules import load_rules  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "engine.json"
TARGET_A_OVER_B = 1.5  # evaluate() may cost at most 1.5x the hand-written polars
TARGET_C_OVER_A = 100.0  # and must be at least 100x faster than interpreting row by row
TARGET_CALL_MS = 3.0  # 10 runs x 50 rules with a cached policy (issue 17)
TARGET_FIRST_CALL_MS = 15.0  # the first evaluate() from a rule file in a fresh process, imports excluded
TARGET_RSS_MB = 2048  # 10M runs x 1 rule, --format text (issue 11)
OK_, WARN_, BLOCK_ = 0, 1, 2

# -- the metrics: name -> (catalog type, generator). Categories expand to one column each.
SKILLS = {"identity": 0.60, "refusal": 0.75, "choice": 0.50, "math": 0.30, "spelling": 0.40}
SPLITS = {"train": 3.6, "val": 3.9, "heldout": 4.0}
PRECISIONS, DEVICES, ATTENTIONS = ["bf16", "fp32", "fp16"], ["cuda", "cpu", "mps"], ["sdpa", "flash", "eager"]


def _metric_types() -> dict[str, str]:
    floats = ["run.loss", "run.val_loss", "run.val_loss_ema", "run.loss_delta", "run.grad_norm_max", "run.lr_peak",
              "run.tokens_trained", "run.tokens_planned", "run.mfu", "run.throughput", "data.dup_rate",
              "data.replay_epochs", "data.contamination_rate", "sft.fit_rate", "sft.heldout_fit_rate",
              "eval.visible_pass_rate", "eval.echo_rate", "eval.refusal_rate"]
    ints = ["run.loss_spikes", "model.params", "data.n_docs", "eval.n_rows", "launch.world_size",
            "launch.micro_batch", "launch.global_batch"]
    bools = ["run.diverged", "data.boundary_tokens", "release.checkpoint_matches", "release.eval_unchanged"]
    strings = ["hw.precision", "hw.device", "hw.attention"]
    types = {f"bench.{n}": "float" for n in floats}
    types |= {f"bench.{n}": "int" for n in ints}
    types |= {f"bench.{n}": "bool" for n in bools}
    types |= {f"bench.{n}": "string" for n in strings}
    return types


METRICS = _metric_types()  # declared one by one
PATTERNS = {"bench.skill.{skill}.pass_rate": "float", "bench.split.{split}.loss": "float"}  # declared as patterns
COLUMNS = METRICS | {f"bench.skill.{s}.pass_rate": "float" for s in SKILLS} | \
    {f"bench.split.{s}.loss": "float" for s in SPLITS}


def make_runs(n: int, seed: int = 0) -> pl.DataFrame:
    """`n` runs: plausible values, ~1% nulls per column, ~0.01% NaN per float column, 0.1% all-missing runs."""
    rng = np.random.default_rng(seed)

    def unif(lo: float, hi: float) -> np.ndarray:
        return rng.uniform(lo, hi, n)

    gen: dict[str, np.ndarray] = {
        "bench.run.loss": rng.normal(3.2, 0.3, n), "bench.run.val_loss": rng.normal(3.4, 0.3, n),
        "bench.run.val_loss_ema": rng.normal(3.4, 0.3, n), "bench.run.loss_delta": rng.normal(0, 0.1, n),
        "bench.run.grad_norm_max": rng.lognormal(2, 1, n), "bench.run.lr_peak": unif(-0.0001, 0.0202),
        "bench.model.params": rng.integers(50, 2_020, n) * 1_000_000,
        "bench.run.mfu": unif(0.15, 0.72), "bench.run.throughput": rng.lognormal(8, 0.5, n),
        "bench.data.dup_rate": rng.exponential(0.01, n), "bench.data.replay_epochs": unif(1, 4.05),
        "bench.data.contamination_rate": np.where(rng.random(n) < 0.01, rng.random(n) * 0.01, 0.0),
        "bench.sft.fit_rate": unif(0.795, 1.0), "bench.sft.heldout_fit_rate": unif(0.4, 0.9),
        "bench.eval.visible_pass_rate": unif(0.39, 0.9), "bench.eval.echo_rate": rng.exponential(0.02, n),
        "bench.eval.refusal_rate": unif(0.045, 0.51),
        "bench.run.loss_spikes": rng.poisson(0.5, n),
        "bench.data.n_docs": rng.integers(5_000, 3_000_000, n), "bench.eval.n_rows": rng.integers(400, 5_000, n),
        "bench.launch.world_size": rng.choice([1, 2, 4, 8, 12], n, p=[0.2, 0.3, 0.3, 0.19, 0.01]),
        "bench.launch.micro_batch": rng.choice([4, 8, 16, 32], n),
        "bench.run.diverged": rng.random(n) < 0.005, "bench.data.boundary_tokens": rng.random(n) < 0.995,
        "bench.release.checkpoint_matches": rng.random(n) < 0.998,
        "bench.release.eval_unchanged": rng.random(n) < 0.998,
        "bench.hw.precision": rng.choice(PRECISIONS, n, p=[0.9, 0.095, 0.005]),
        "bench.hw.device": rng.choice(DEVICES, n, p=[0.95, 0.045, 0.005]),
        "bench.hw.attention": rng.choice(ATTENTIONS, n, p=[0.6, 0.39, 0.01]),
    }
    # global batch: almost always a multiple of micro_batch x world_size
    mult = gen["bench.launch.micro_batch"] * gen["bench.launch.world_size"]
    gen["bench.launch.global_batch"] = mult * rng.integers(1, 64, n) + (rng.random(n) < 0.003) * 3
    gen["bench.run.tokens_planned"] = np.round(gen["bench.model.params"] * unif(19.5, 40))
    gen["bench.run.tokens_trained"] = np.round(gen["bench.run.tokens_planned"] * unif(0.895, 1.1))
    # the token budget: a few runs planned (or trained) nothing, so tokens_trained / tokens_planned is x/0 or 0/0
    gen["bench.run.tokens_planned"][rng.random(n) < 0.0005] = 0.0
    gen["bench.run.tokens_trained"][rng.random(n) < 0.0005] = 0.0
    for s, t in SKILLS.items():
        gen[f"bench.skill.{s}.pass_rate"] = np.clip(rng.normal(t + 0.15, 0.07, n), 0, 1)
    for s, t in SPLITS.items():
        gen[f"bench.split.{s}.loss"] = rng.normal(t - 0.6, 0.25, n)

    empty = rng.random(n) < 0.001  # runs whose evidence is entirely missing: "nothing passed -> blocked"
    cols: list[pl.Series] = [pl.Series("run_id", [f"run-{i:07d}" for i in range(n)], pl.String)]
    for name, kind in COLUMNS.items():
        values = gen[name]
        null = (rng.random(n) < 0.01) | empty
        dtype = {"float": pl.Float64, "int": pl.Int64, "bool": pl.Boolean, "string": pl.String}[kind]
        if kind == "float":
            values = values.astype(np.float64)
            values[(rng.random(n) < 0.0001) & ~null] = np.nan
        s = pl.Series(name, values, dtype)
        cols.append(s.scatter(np.flatnonzero(null), None) if null.any() else s)
    return pl.DataFrame(cols)


# -- the rules, each with its hand-written polars twin ---------------------------------------------

Hand = Callable[[], "tuple[pl.Expr, pl.Expr | None]"]  # -> (condition with nulls, error condition or None)


def n(name: str) -> pl.Expr:
    """A numeric metric; floats lose their NaNs (missing). The data has no ±inf, so no guard for it."""
    col = pl.col(name)
    return col.fill_nan(None) if COLUMNS[name] == "float" else col


def c(name: str) -> pl.Expr:
    return pl.col(name)


def ratio(a: str, b: str) -> tuple[pl.Expr, pl.Expr]:
    r = n(a) / n(b)
    return r, r.is_infinite() | r.is_nan()  # x/0 and 0/0 are errors


def _nullable(*exprs: pl.Expr) -> pl.Expr:
    return pl.any_horizontal([e.is_null() for e in exprs])


@dataclass(frozen=True)
class Spec:
    id: str
    severity: str
    check: str
    hand: Hand | None = None  # plain rule
    missing: str = "fail"
    per_category: tuple[str, dict[str, float], Callable[[str, float], pl.Expr]] | None = None


def _max_under(a: str, b: str, t: float) -> pl.Expr:
    return pl.when(_nullable(n(a), n(b))).then(None).otherwise(pl.max_horizontal(n(a), n(b)) < t)


def _min_over(a: str, b: str, t: float) -> pl.Expr:
    return pl.when(_nullable(n(a), n(b))).then(None).otherwise(pl.min_horizontal(n(a), n(b)) >= t)


R = "bench."
SPECS: list[Spec] = [
    Spec("skill.pass_rate", "block", R + "skill.{skill}.pass_rate >= {threshold}",
         per_category=("skill", SKILLS, lambda s, t: n(f"{R}skill.{s}.pass_rate") >= t)),
    Spec("split.loss", "warn", R + "split.{split}.loss < {max_loss}",
         per_category=("split", SPLITS, lambda s, t: n(f"{R}split.{s}.loss") < t)),
    Spec("budget.trained_to_planned", "block", f"{R}run.tokens_trained / {R}run.tokens_planned >= 0.9",
         lambda: (lambda r, e: (r >= 0.9, e))(*ratio(R + "run.tokens_trained", R + "run.tokens_planned"))),
    Spec("budget.tokens_per_param", "block", f"{R}run.tokens_planned / {R}model.params >= 20",
         lambda: (lambda r, e: (r >= 20, e))(*ratio(R + "run.tokens_planned", R + "model.params"))),
    Spec("train.loss", "block", f"{R}run.loss < 4.0", lambda: (n(R + "run.loss") < 4.0, None)),
    Spec("train.val_loss", "block", f"{R}run.val_loss < 4.2", lambda: (n(R + "run.val_loss") < 4.2, None)),
    Spec("train.overfit_gap", "warn", f"{R}run.val_loss - {R}run.loss < 0.5",
         lambda: (n(R + "run.val_loss") - n(R + "run.loss") < 0.5, None)),
    Spec("train.grad_norm", "warn", f"{R}run.grad_norm_max < 100", lambda: (n(R + "run.grad_norm_max") < 100, None)),
    Spec("train.lr_max", "block", f"{R}run.lr_peak <= 0.02", lambda: (n(R + "run.lr_peak") <= 0.02, None)),
    Spec("train.lr_positive", "block", f"{R}run.lr_peak > 0", lambda: (n(R + "run.lr_peak") > 0, None)),
    Spec("train.mfu_floor", "warn", f"{R}run.mfu >= 0.2", lambda: (n(R + "run.mfu") >= 0.2, None)),
    Spec("train.mfu_sane", "warn", f"{R}run.mfu < 0.7", lambda: (n(R + "run.mfu") < 0.7, None)),
    Spec("train.throughput", "warn", f"{R}run.throughput >= 1000", lambda: (n(R + "run.throughput") >= 1000, None),
         missing="pass"),
    Spec("train.loss_spikes", "warn", f"{R}run.loss_spikes <= 3", lambda: (n(R + "run.loss_spikes") <= 3, None)),
    Spec("train.not_diverged", "block", f"not {R}run.diverged", lambda: (~c(R + "run.diverged"), None)),
    Spec("train.loss_step", "warn", f"abs({R}run.loss_delta) < 0.25",
         lambda: (n(R + "run.loss_delta").abs() < 0.25, None)),
    Spec("train.val_loss_smoothed", "warn", f"coalesce({R}run.val_loss_ema, {R}run.val_loss) < 4.2",
         lambda: (pl.coalesce(n(R + "run.val_loss_ema"), n(R + "run.val_loss")) < 4.2, None)),
    Spec("train.worst_loss", "block", f"max({R}run.loss, {R}run.val_loss) < 4.5",
         lambda: (_max_under(R + "run.loss", R + "run.val_loss", 4.5), None)),
    Spec("train.tokens_floor", "warn", f"{R}run.tokens_trained >= 1000000000",
         lambda: (n(R + "run.tokens_trained") >= 1e9, None), missing="warn"),
    Spec("model.size", "block", f"{R}model.params <= 2000000000", lambda: (n(R + "model.params") <= 2e9, None)),
    Spec("data.dup_rate", "block", f"{R}data.dup_rate < 0.05", lambda: (n(R + "data.dup_rate") < 0.05, None)),
    Spec("data.dup_or_big", "warn", f"{R}data.dup_rate < 0.02 or {R}data.n_docs >= 1000000",
         lambda: ((n(R + "data.dup_rate") < 0.02) | (n(R + "data.n_docs") >= 1_000_000), None)),
    Spec("data.replay", "block", f"{R}data.replay_epochs <= 4", lambda: (n(R + "data.replay_epochs") <= 4, None)),
    Spec("data.contamination", "block", f"{R}data.contamination_rate == 0",
         lambda: (n(R + "data.contamination_rate") == 0, None)),
    Spec("data.n_docs", "block", f"{R}data.n_docs >= 10000", lambda: (n(R + "data.n_docs") >= 10_000, None)),
    Spec("data.boundary_tokens", "block", f"{R}data.boundary_tokens", lambda: (c(R + "data.boundary_tokens"), None)),
    Spec("sft.fit", "block", f"{R}sft.fit_rate >= 0.8", lambda: (n(R + "sft.fit_rate") >= 0.8, None)),
    Spec("sft.heldout_fit", "warn", f"{R}sft.heldout_fit_rate >= 0.5",
         lambda: (n(R + "sft.heldout_fit_rate") >= 0.5, None)),
    Spec("sft.generalisation_gap", "warn", f"{R}sft.fit_rate - {R}sft.heldout_fit_rate <= 0.3",
         lambda: (n(R + "sft.fit_rate") - n(R + "sft.heldout_fit_rate") <= 0.3, None)),
    Spec("sft.weakest", "warn", f"min({R}sft.fit_rate, {R}sft.heldout_fit_rate) >= 0.4",
         lambda: (_min_over(R + "sft.fit_rate", R + "sft.heldout_fit_rate", 0.4), None)),
    Spec("eval.visible", "block", f"{R}eval.visible_pass_rate >= 0.4",
         lambda: (n(R + "eval.visible_pass_rate") >= 0.4, None)),
    Spec("eval.visible_percent", "warn", f"{R}eval.visible_pass_rate * 100 >= 35",
         lambda: (n(R + "eval.visible_pass_rate") * 100 >= 35, None), missing="pass"),
    Spec("eval.echo", "warn", f"{R}eval.echo_rate < 0.1", lambda: (n(R + "eval.echo_rate") < 0.1, None)),
    Spec("eval.refusal_band", "block", f"{R}eval.refusal_rate >= 0.05 and {R}eval.refusal_rate <= 0.5",
         lambda: ((n(R + "eval.refusal_rate") >= 0.05) & (n(R + "eval.refusal_rate") <= 0.5), None)),
    Spec("eval.rows", "block", f"{R}eval.n_rows >= 500", lambda: (n(R + "eval.n_rows") >= 500, None)),
    Spec("eval.math_choice_mean", "warn", f"({R}skill.math.pass_rate + {R}skill.choice.pass_rate) / 2 >= 0.4",
         lambda: ((n(R + "skill.math.pass_rate") + n(R + "skill.choice.pass_rate")) / 2 >= 0.4, None)),
    Spec("launch.batch_divides", "block",
         f"{R}launch.global_batch % ({R}launch.micro_batch * {R}launch.world_size) == 0",
         lambda: (n(R + "launch.global_batch") % (n(R + "launch.micro_batch") * n(R + "launch.world_size")) == 0,
                  None)),
    Spec("launch.world_size", "block", f"{R}launch.world_size in [1, 2, 4, 8, 16, 32, 64]",
         lambda: (n(R + "launch.world_size").is_in([1, 2, 4, 8, 16, 32, 64]), None)),
    Spec("hw.precision", "block", f"{R}hw.precision in ['bf16', 'fp32']",
         lambda: (c(R + "hw.precision").is_in(["bf16", "fp32"]), None)),
    Spec("hw.device", "warn", f"{R}hw.device not in ['mps', 'tpu']",
         lambda: (~c(R + "hw.device").is_in(["mps", "tpu"]), None)),
    Spec("hw.attention", "block", f"{R}hw.attention in ['sdpa', 'flash'] or {R}hw.device == 'cpu'",
         lambda: (c(R + "hw.attention").is_in(["sdpa", "flash"]) | (c(R + "hw.device") == "cpu"), None)),
    Spec("hw.not_eager", "warn", f"coalesce({R}hw.attention, 'sdpa') != 'eager'",
         lambda: (pl.coalesce(c(R + "hw.attention"), pl.lit("sdpa")) != "eager", None)),
    Spec("release.checkpoint", "block", f"{R}release.checkpoint_matches",
         lambda: (c(R + "release.checkpoint_matches"), None)),
    Spec("release.eval_unchanged", "block", f"{R}release.eval_unchanged",
         lambda: (c(R + "release.eval_unchanged"), None), missing="warn"),
]


@dataclass(frozen=True)
class Check:
    """One reported check (a rule, or one category of a per-category rule) with its hand-written twin."""

    id: str
    severity: str
    missing: str
    value: pl.Expr
    error: pl.Expr | None


def expand_specs() -> list[Check]:
    out = []
    for s in SPECS:
        if s.per_category:
            _, values, build = s.per_category
            out += [Check(f"{s.id}.{cat}", s.severity, s.missing, build(cat, t), None) for cat, t in values.items()]
        else:
            assert s.hand is not None
            value, error = s.hand()
            out.append(Check(s.id, s.severity, s.missing, value, error))
    return out


def write_rule_file(path: Path) -> None:
    """The 50 checks as a picogate rule file (JSON-style scalars are valid YAML)."""
    q = json.dumps
    lines = ["profile: bench_engine", "description: synthetic benchmark profile, 50 checks", "metrics:"]
    for name, kind in (METRICS | PATTERNS).items():
        lines.append(f"  {q(name)}: {{type: {kind}, description: synthetic}}")
    lines.append("rules:")
    for s in SPECS:
        lines += [f"  - id: {s.id}", "    stage: postrun", f"    severity: {s.severity}", f"    check: {q(s.check)}",
                  '    message: "observed {observed}, required {required}"', f"    fix: {q('fix ' + s.id)}"]
        if s.missing != "fail":
            lines.append(f"    missing: {s.missing}")
        if s.per_category:
            name, values, _ = s.per_category
            key = "threshold" if name == "skill" else "max_loss"
            lines += ["    per_category:", f"      name: {name}", "      values:"]
            lines += [f"        {cat}: {{{key}: {t}}}" if key != "threshold" else f"        {cat}: {t}"
                      for cat, t in values.items()]
    path.write_text("\n".join(lines) + "\n")


# -- (b): hand-written polars ----------------------------------------------------------------------

def hand_written(df: pl.DataFrame, checks: list[Check], prep: list[pl.Expr] | None = None) -> pl.DataFrame:
    """Outcome codes and statuses for every run, written directly in polars (one lazy query).

    `prep` (workload 2) is applied to the raw columns first, e.g. NaN to null once per column.
    """
    def code(ch: Check) -> pl.Expr:
        w = pl.when(ch.error).then(pl.lit(ERROR, pl.Int8)).when(ch.value.is_null()) if ch.error is not None \
            else pl.when(ch.value.is_null())
        return w.then(pl.lit(MISSING, pl.Int8)).when(ch.value).then(pl.lit(PASS, pl.Int8)) \
            .otherwise(pl.lit(FAIL, pl.Int8))

    blocks, warns = [], []
    for i, ch in enumerate(checks):
        k = pl.col(f"c{i}")
        if ch.severity == "block":
            blocks.append(k != PASS if ch.missing == "fail" else (k == FAIL) | (k == ERROR))
            if ch.missing == "warn":
                warns.append(k == MISSING)
        else:
            blocks.append(k == ERROR)
            warns.append(k == FAIL if ch.missing == "pass" else (k == FAIL) | (k == MISSING))
    passed = pl.any_horizontal([pl.col(f"c{i}") == PASS for i in range(len(checks))])
    status = (pl.when(pl.any_horizontal(blocks)).then(pl.lit("blocked"))
              .when(pl.any_horizontal(warns)).then(pl.lit("warn"))
              .when(passed).then(pl.lit("approved"))
              .otherwise(pl.lit("blocked")).alias("status"))
    lazy = df.lazy().with_columns(prep) if prep else df.lazy()
    return (lazy
            .select(pl.col("run_id"), *[code(ch).alias(f"c{i}") for i, ch in enumerate(checks)])
            .with_columns(status)
            .collect())


# -- workload 2 (issue 17): 10 float metrics, 50 rules of three shapes --------------------------------

FLOATS = [f"w2.m{k}" for k in range(10)]


def f(name: str) -> pl.Expr:
    """A float metric with its NaNs as missing (`_w2_prep` has already done that, once per column)."""
    return pl.col(name)


def make_float_runs(n: int, seed: int = 0) -> pl.DataFrame:
    """`n` runs x 10 float metrics in [0, 1): ~1% nulls and ~0.01% NaNs per column, ~0.02% exactly -1.0
    (so `b + 1` is 0 and `a / (b + 1)` is an error), 0.1% runs with every metric missing.
    Run ids as `make_runs` makes them, sorted."""
    rng = np.random.default_rng(seed + 2)
    empty = rng.random(n) < 0.001
    cols = [pl.Series("run_id", [f"run-{i:07d}" for i in range(n)], pl.String)]
    for name in FLOATS:
        values = rng.random(n)
        values[rng.random(n) < 0.0002] = -1.0
        null = (rng.random(n) < 0.01) | empty
        values[(rng.random(n) < 0.0001) & ~null] = np.nan
        s = pl.Series(name, values, pl.Float64)
        cols.append(s.scatter(np.flatnonzero(null), None) if null.any() else s)
    return pl.DataFrame(cols)


def float_checks(seed: int = 0) -> list[tuple[Check, str]]:
    """50 checks, one third each of `a >= t`, `a >= t and b < u`, `a / (b + 1) <= t`; even ones block.

    Thresholds are drawn so each check fails for well under 1% of runs (the statuses come out mixed),
    and are rounded to 4 places so the rule file and the hand-written twin compare the same float.
    """
    rng = np.random.default_rng(seed + 3)
    out = []
    for i in range(50):
        severity = "block" if i % 2 == 0 else "warn"
        a, b = FLOATS[i % 10], FLOATS[(3 * i + 1) % 10]  # 3i + 1 = i (mod 10) has no solution: a != b
        t = round(float(rng.uniform(0.001, 0.005) if severity == "block" else rng.uniform(0.005, 0.01)), 4)
        error = None
        if i % 3 == 0:
            text, value = f"{a} >= {t}", f(a) >= t
        elif i % 3 == 1:
            u = round(float(rng.uniform(0.99, 0.999)), 4)
            text, value = f"{a} >= {t} and {b} < {u}", (f(a) >= t) & (f(b) < u)
        else:
            t = round(float(rng.uniform(0.85, 0.95)), 4)
            r = f(a) / (f(b) + 1)
            text, value, error = f"{a} / ({b} + 1) <= {t}", r <= t, r.is_infinite() | r.is_nan()
        out.append((Check(f"w2.r{i:02d}", severity, "fail", value, error), text))
    return out


def write_float_rule_file(path: Path, checks: list[tuple[Check, str]]) -> None:
    """Workload 2's rule file: the 10 metrics declared under `metrics:`, then the 50 rules."""
    q = json.dumps
    lines = ["profile: bench_engine_floats", "description: synthetic benchmark profile, 50 float checks",
             "metrics:", *[f"  {q(name)}: {{type: float, description: synthetic}}" for name in FLOATS], "rules:"]
    for ch, text in checks:
        lines += [f"  - id: {ch.id}", "    stage: postrun", f"    severity: {ch.severity}", f"    check: {q(text)}",
                  '    message: "observed {observed}, required {required}"', f"    fix: {q('fix ' + ch.id)}"]
    path.write_text("\n".join(lines) + "\n")


# NaN is missing: turned into null once per column, before the checks read it. Of the forms tried this is
# the fastest baseline: `fill_nan` at every reference took ~2.5x as long, arithmetic outcome codes ~1.2x.
W2_PREP = [pl.col(FLOATS).fill_nan(None)]


# -- (c): the per-row reference interpreter ----------------------------------------------------------

def per_row(rules: tuple, rows: list[dict]) -> tuple[list[list[int]], list[str]]:
    """Outcomes and status of each row by `picogate.expr.reference.outcome`, one row and rule at a time."""
    effects = []
    for r in rules:
        sev = BLOCK_ if r.severity == "block" else WARN_
        effects.append((sev, {"fail": sev, "warn": WARN_, "pass": OK_}[r.missing]))
    codes, statuses = [], []
    for row in rows:
        out = [outcome(r.node, row) for r in rules]
        worst, passed = OK_, False
        for o, (sev, on_missing) in zip(out, effects, strict=True):
            e = OK_ if o == PASS else sev if o == FAIL else on_missing if o == MISSING else BLOCK_
            worst, passed = max(worst, e), passed or o == PASS
        codes.append(out)
        statuses.append("blocked" if worst == BLOCK_ else "warn" if worst == WARN_ else
                        "approved" if passed else "blocked")
    return codes, statuses


# -- timing ----------------------------------------------------------------------------------------

QUIET_SPREAD = 0.10  # the baseline alone varying by less than this: the machine counts as quiet


def best_of(fn: Callable[[], object], repeat: int) -> tuple[object, float]:
    """Best wall time of `repeat` calls after one untimed warm-up; returns the last result."""
    return interleaved({"_": fn}, repeat)["_"]


def interleaved_times(fns: dict[str, Callable[[], object]],
                      repeat: int) -> tuple[dict[str, object], dict[str, list[float]]]:
    """Every time of `repeat` rounds taking turns (a, b, a, b, ...) after one warm-up each; the last results.

    Taking turns spreads any load from other processes over both sides instead of one.
    """
    last: dict[str, object] = {name: fn() for name, fn in fns.items()}
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            last[name] = None  # let the previous result go before the next one is built
            start = time.perf_counter()
            last[name] = fn()
            times[name].append(time.perf_counter() - start)
    return last, times


def interleaved(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, tuple[object, float]]:
    """Best-of-`repeat` for each function, taking turns after one warm-up each (`interleaved_times`)."""
    last, times = interleaved_times(fns, repeat)
    return {name: (last[name], min(times[name])) for name in fns}


def pair_ratios(times: dict[str, list[float]]) -> dict:
    """(a)/(b) as the ratio of the bests, and the spread of the round-by-round ratios beside it."""
    pairs = sorted(a / b for a, b in zip(times["a"], times["b"], strict=True))
    return {"value": min(times["a"]) / min(times["b"]), "pairs_min": pairs[0],
            "pairs_median": float(np.median(pairs)), "pairs_max": pairs[-1]}


def spread(fn: Callable[[], object], k: int) -> dict:
    """The baseline alone, `k` times after a warm-up, before anything is compared.

    A ratio hides a fixed cost when the machine is busy (polars' part slows down, a fixed Python part
    does not), so each ratio is reported with how much its baseline's own times varied.
    """
    fn()
    times = []
    for _ in range(k):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    lo, mid, hi = min(times), float(np.median(times)), max(times)
    return {"runs": k, "min": lo, "median": mid, "max": hi, "all": times, "spread": (hi - lo) / lo,
            "median_over_min": mid / lo - 1, "quiet": (hi - lo) / lo < QUIET_SPREAD}


def _picogate_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "picogate"
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "picogate"]


def time_process(cmd: list[str], repeat: int, ok: tuple[int, ...] = (0,)) -> float:
    def once() -> float:
        start = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        took = time.perf_counter() - start
        if proc.returncode not in ok:
            raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
        return took

    once()  # warm the page cache
    return min(once() for _ in range(repeat))


def torch_imports(argv: list[str]) -> dict:
    """Run `argv` (python code after -c) under -X importtime; did torch load, via which modules, at what cost."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", *argv], capture_output=True, text=True,
                          cwd=ROOT)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"import check failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    rows = []  # (indent, module, cumulative us), children listed before their parents
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line[len("import time:"):].split("|")
        rows.append((len(name) - len(name.lstrip()), name.strip(), int(cumulative)))
    at = next((i for i, r in enumerate(rows) if r[1] == "torch"), None)
    if at is None:
        return {"imported": any(r[1].startswith("torch.") for r in rows), "chain": [], "seconds": 0.0}
    chain, depth = ["torch"], rows[at][0]
    for indent, name, _ in rows[at + 1:]:
        if indent < depth:
            chain.append(name)
            depth = indent
    return {"imported": True, "chain": chain[::-1], "seconds": rows[at][2] / 1e6}


def one_run_json(df: pl.DataFrame, path: Path) -> None:
    """The first complete run as a JSON object (nulls stay null; there are no NaNs in JSON)."""
    row = df.drop_nulls().drop_nans().row(0, named=True)
    path.write_text(json.dumps(row))


def target(value: float, op: str, limit: float, unit: str = "") -> dict:
    met = value <= limit if op == "<=" else value < limit if op == "<" else value >= limit
    return {"value": value, "target": f"{op} {limit:g}{unit}", "met": met}


def _say_target(label: str, t: dict, fmt: str = ".2f") -> None:
    print(f"{label} = {t['value']:{fmt}}  target {t['target']}  {'met' if t['met'] else 'MISSED'}")


# -- workload 1: 1M runs x 50 checks over 40 mixed columns -------------------------------------------

def workload1(args: argparse.Namespace, tmp: Path) -> dict:
    """(a), (b), (c), result.checks, the one-run CLI and the torch check; the keys engine.json always had."""
    sample = min(args.sample, args.runs)
    rule_file = tmp / "bench_engine.yaml"
    write_rule_file(rule_file)
    ruleset = load_rules(rule_file)
    checks = expand_specs()
    ids = [r.id for r in ruleset.rules]
    assert ids == [ch.id for ch in checks], "rule file and hand-written checks are out of step"
    assert len(ids) == 50, len(ids)

    t0 = time.perf_counter()
    df = make_runs(args.runs, args.seed)
    print(f"workload 1: {args.runs:,} runs x {len(ids)} checks over {len(COLUMNS)} metric columns "
          f"(generated in {time.perf_counter() - t0:.1f}s)")

    quiet = spread(lambda: hand_written(df, checks), args.quiet_repeat)
    # (a) and (b), taking turns; warnings polars raises while evaluating are recorded, not printed
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        last, times = interleaved_times({"a": lambda: evaluate(df, rule_file), "b": lambda: hand_written(df, checks)},
                                        args.repeat)
    res_a, res_b = last["a"], last["b"]
    t_a, t_b = min(times["a"]), min(times["b"])
    del last
    wide = res_a._wide  # type: ignore[attr-defined]
    polars_warnings = sorted({f"{w.category.__name__}: {str(w.message).splitlines()[0]}" for w in caught})

    a_codes = wide.select([pl.col(f"#{i}").alias(f"c{i}") for i in range(len(ids))])
    b_codes = res_b.select([f"c{i}" for i in range(len(ids))])  # type: ignore[attr-defined]
    same_outcomes = a_codes.equals(b_codes)
    same_status = wide.get_column("_status").equals(res_b.get_column("status"), check_names=False)  # type: ignore
    if not (same_outcomes and same_status):
        diff = [ids[i] for i in range(len(ids)) if not a_codes.get_column(f"c{i}").equals(b_codes.get_column(f"c{i}"))]
        raise SystemExit(f"(a) and (b) disagree: outcomes of {diff[:5]}, statuses equal: {same_status}")
    status_counts = dict(wide.group_by("_status").len().sort("_status").iter_rows())
    outcome_counts = {name: int(a_codes.select(pl.sum_horizontal(pl.all() == code).sum()).item())
                      for code, name in enumerate(("pass", "fail", "missing", "error"))}
    del res_b, b_codes

    # (c) row by row on a sample, scaled
    idx = np.sort(np.random.default_rng(args.seed + 1).choice(args.runs, sample, replace=False))
    rows = df[idx].to_dicts()
    (c_codes, c_status), t_c_sample = best_of(lambda rows=rows: per_row(ruleset.rules, rows), args.repeat)  # type: ignore
    t_c = t_c_sample * args.runs / sample
    a_sample = wide[idx]
    same_c = (a_codes[idx].rows() == [tuple(r) for r in c_codes]
              and a_sample.get_column("_status").to_list() == c_status)
    if not same_c:
        raise SystemExit("(a) and the per-row reference interpreter (c) disagree on the sample")
    del rows, c_codes, c_status, a_sample

    # result.checks: built lazily on first access, not part of (a)
    k = args.checks_runs or args.runs
    part = wide if k >= wide.height else wide.head(k)
    # a fresh GateResult per call: `checks` is a cached property
    checks_df, t_checks = best_of(lambda part=part: GateResult(ruleset, part).checks, args.repeat)  # type: ignore
    checks_rows = checks_df.height  # type: ignore[attr-defined]
    del checks_df, part, res_a, wide, a_codes

    # the CLI as a whole process, one run, against the cost of importing polars alone
    one = tmp / "one_run.json"
    one_run_json(df, one)
    t_cli = time_process([*_picogate_cmd(), "evaluate", str(one), "--rules", str(rule_file), "--format", "json"],
                         args.cli_repeat, ok=(0, 1))
    t_polars = time_process([sys.executable, "-c", "import polars"], args.cli_repeat)
    cli_torch = torch_imports(["import sys; from picogate.cli import main; sys.exit(main(sys.argv[1:]))",
                               "evaluate", str(one), "--rules", str(rule_file), "--format", "json"])
    api_torch = torch_imports([f"from picogate import evaluate; evaluate({str(one)!r}, {str(rule_file)!r}).checks"])

    a_over_b, c_over_a = t_a / t_b, t_c / t_a
    met_ab, met_ca = a_over_b <= TARGET_A_OVER_B, c_over_a >= TARGET_C_OVER_A
    no_torch = not cli_torch["imported"] and not api_torch["imported"]
    pairs = pair_ratios(times)
    table = [
        ("(a) evaluate(), end to end incl. compile", t_a, args.runs),
        ("(b) hand-written polars, one query", t_b, args.runs),
        (f"(c) per-row reference, {sample:,} runs x{args.runs / sample:g}", t_c, args.runs),
        (f"result.checks, {k:,} runs ({checks_rows:,} rows; not in a)", t_checks, k),
        ("CLI evaluate, one run, whole process", t_cli, 1),
        ('python -c "import polars"', t_polars, 1),
    ]
    print(f"\n{'':58}{'seconds':>10}{'per run':>12}")
    for label, t, per in table:
        print(f"{label:58}{t:10.3f}" + (f"{t / per * 1e6:10.2f}us" if per > 1 else ""))
    _say_quiet("(b) alone", quiet)
    print(f"(a)/(b) = {a_over_b:.2f}  target <= {TARGET_A_OVER_B}  {'met' if met_ab else 'MISSED'}"
          f"  (round by round {pairs['pairs_min']:.2f}-{pairs['pairs_max']:.2f})")
    print(f"(c)/(a) = {c_over_a:.0f}  target >= {TARGET_C_OVER_A:g}  {'met' if met_ca else 'MISSED'}")
    print(f"CLI / import polars = {t_cli / t_polars:.2f}")
    for w in polars_warnings:
        print(f"warning during (a): {w}")
    for who, info in (("CLI", cli_torch), ("evaluate()", api_torch)):
        print(f"{who} imports torch: {'YES via ' + ' -> '.join(info['chain']) if info['imported'] else 'no'}"
              + (f" ({info['seconds']:.2f}s)" if info["imported"] else ""))
    print(f"agreement: (a)=(b) on {args.runs:,} statuses and {args.runs * len(ids):,} outcomes; "
          f"(a)=(c) on {sample:,} sampled runs. statuses {status_counts}\n")

    return {
        "config": {"runs": args.runs, "checks": len(ids), "metric_columns": len(COLUMNS), "sample": sample,
                   "repeat": args.repeat, "cli_repeat": args.cli_repeat, "seed": args.seed, "checks_runs": k},
        "seconds": {"a_evaluate": t_a, "b_hand_polars": t_b, "c_reference_scaled": t_c,
                    "c_reference_sample": t_c_sample, "checks_materialise": t_checks,
                    "checks_materialise_per_run": t_checks / k, "cli_one_run": t_cli,
                    "python_import_polars": t_polars, "a_all": times["a"], "b_all": times["b"]},
        "ratios": {
            "a_over_b": {**pairs, "value": a_over_b, "target": f"<= {TARGET_A_OVER_B}", "met": met_ab},
            "c_over_a": {"value": c_over_a, "target": f">= {TARGET_C_OVER_A:g}", "met": met_ca},
            "cli_over_import_polars": {"value": t_cli / t_polars, "target": None},
        },
        "b_alone": quiet,
        "warnings_during_a": polars_warnings,
        "torch": {"cli": cli_torch, "evaluate": api_torch, "target": "never imported", "met": no_torch},
        "agreement": {"a_equals_b_outcomes": same_outcomes, "a_equals_b_status": same_status,
                      "a_equals_c_sample": same_c, "status_counts": status_counts, "outcome_counts": outcome_counts},
        "notes": [
            "times are best-of-repeat after one warm-up, time.perf_counter, same process and data",
            "(a) includes loading the rule file (YAML, JSON Schema, pydantic), type checking and compiling",
            "(a) excludes result.checks (built lazily); it is timed separately as checks_materialise, "
            "on checks_runs runs (50 rows each), because all 1M runs would need ~8 GB",
            "(a) and (b) are timed taking turns, so load from other processes falls on both",
            "(c) is timed on the sample and scaled linearly to all runs",
            "CLI time is the whole process (python start, imports, read, evaluate, JSON report) for one run",
            "b_alone: (b) timed alone quiet_repeat times before anything else; spread = (max - min) / min",
        ],
        "_met": met_ab and met_ca and no_torch,
    }


def _say_quiet(label: str, q: dict) -> None:
    print(f"{label} x{q['runs']}: min {q['min']:.3f}s  median {q['median']:.3f}s  max {q['max']:.3f}s  "
          f"spread {q['spread']:.0%} ({'quiet' if q['quiet'] else f'NOT quiet: >= {QUIET_SPREAD:.0%}'}; "
          f"median/min - 1 = {q['median_over_min']:.0%})")


# -- workload 2 (issue 17): 1M runs x 50 float checks, the rule file read in the call --------------

def _agree(res: GateResult, hand: pl.DataFrame, n_checks: int) -> tuple[bool, bool]:
    wide = res._wide  # type: ignore[attr-defined]
    a_codes = wide.select([pl.col(f"#{i}").alias(f"c{i}") for i in range(n_checks)])
    same_outcomes = a_codes.equals(hand.select([f"c{i}" for i in range(n_checks)]))
    same_status = wide.get_column("_status").equals(hand.get_column("status"), check_names=False)
    ids_same = wide.get_column("run_id").equals(hand.get_column("run_id")) if "run_id" in wide.columns else True
    return same_outcomes and ids_same, same_status


def workload2(args: argparse.Namespace, tmp: Path) -> dict:
    """(a) `evaluate(df, rule_file)` against (b) the hand-written twin, sorted ids then shuffled ids."""
    pairs = float_checks(args.seed)
    checks = [ch for ch, _ in pairs]
    rule_file = tmp / "bench_engine_floats.yaml"
    write_float_rule_file(rule_file, pairs)
    assert [r.id for r in load_rules(rule_file).rules] == [ch.id for ch in checks]
    t0 = time.perf_counter()
    df = make_float_runs(args.runs, args.seed)
    print(f"workload 2: {args.runs:,} runs x {len(checks)} checks over {len(FLOATS)} float columns "
          f"(generated in {time.perf_counter() - t0:.1f}s)")

    def a(df: pl.DataFrame = df) -> GateResult:
        return evaluate(df, rule_file)

    def b(df: pl.DataFrame = df) -> pl.DataFrame:
        return hand_written(df, checks, W2_PREP)

    quiet = spread(b, args.quiet_repeat)
    out: dict = {"config": {"runs": args.runs, "checks": len(checks), "metric_columns": len(FLOATS),
                            "repeat": args.w2_repeat, "quiet_repeat": args.quiet_repeat, "seed": args.seed},
                 "b_alone": quiet}
    for order, frame in (("sorted", df), ("shuffled", df.sample(fraction=1.0, shuffle=True, seed=args.seed))):
        last, times = interleaved_times({"a": lambda frame=frame: a(frame), "b": lambda frame=frame: b(frame)},
                                        args.w2_repeat)
        same_outcomes, same_status = _agree(last["a"], last["b"], len(checks))  # type: ignore[arg-type]
        if not (same_outcomes and same_status):
            raise SystemExit(f"workload 2, {order} ids: (a) and (b) disagree (outcomes equal: {same_outcomes}, "
                             f"statuses equal: {same_status})")
        wide = last["a"]._wide  # type: ignore[attr-defined]
        codes = wide.select(pl.col(r"^#\d+$"))
        out[order] = {
            "seconds": {"a_evaluate": min(times["a"]), "b_hand_polars": min(times["b"]),
                        "a_all": times["a"], "b_all": times["b"]},
            "a_over_b": pair_ratios(times),
            "agreement": {"a_equals_b_outcomes": same_outcomes, "a_equals_b_status": same_status,
                          "status_counts": dict(wide.group_by("_status").len().sort("_status").iter_rows()),
                          "outcome_counts": {name: int(codes.select(pl.sum_horizontal(pl.all() == code).sum()).item())
                                             for code, name in enumerate(("pass", "fail", "missing", "error"))}},
        }
        del last, wide, codes
    out["a_over_b"] = target(out["sorted"]["a_over_b"]["value"], "<=", TARGET_A_OVER_B)

    print(f"\n{'':58}{'seconds':>10}{'per run':>12}")
    for order in ("sorted", "shuffled"):
        for key, label in (("a_evaluate", "(a) evaluate(df, rule_file)"), ("b_hand_polars", "(b) hand-written polars")):
            t = out[order]["seconds"][key]
            print(f"{label + ', ' + order + ' ids':58}{t:10.3f}{t / args.runs * 1e6:10.3f}us")
    _say_quiet("(b) alone", quiet)
    r = out["sorted"]["a_over_b"]
    print(f"(a)/(b) = {r['value']:.2f}  target <= {TARGET_A_OVER_B}  {'met' if out['a_over_b']['met'] else 'MISSED'}"
          f"  (round by round {r['pairs_min']:.2f}-{r['pairs_max']:.2f}); "
          f"shuffled ids {out['shuffled']['a_over_b']['value']:.2f}")
    print(f"agreement: (a)=(b) on {args.runs:,} statuses and {args.runs * len(checks):,} outcomes, both orders. "
          f"statuses {out['sorted']['agreement']['status_counts']}, "
          f"outcomes {out['sorted']['agreement']['outcome_counts']}\n")
    return out


# -- per-call cost (issue 17): 10 runs x workload 2's 50 rules ----------------------------------------

# A fresh interpreter: imports timed apart from the first evaluate() of a small table from a rule file.
FIRST_CALL = """
import json, sys, time
start = time.perf_counter()
import polars as pl
polars_at = time.perf_counter()
from picogate import evaluate
imported = time.perf_counter()
df = pl.read_parquet(sys.argv[1])
called = time.perf_counter()
result = evaluate(df, sys.argv[2])
done = time.perf_counter()
print(json.dumps({"import_polars": polars_at - start, "import_picogate": imported - polars_at,
                  "first_call": done - called, "status": result.status, "peak_rss_mb": peak_rss_mb()}))
"""


def per_call(args: argparse.Namespace, tmp: Path) -> dict:
    """The fixed cost of a call: first call from a file in a fresh process, then cached calls in this one."""
    rule_file = tmp / "bench_engine_floats.yaml"
    write_float_rule_file(rule_file, float_checks(args.seed))
    small = make_float_runs(10, args.seed)
    small_path = tmp / "ten_runs.parquet"
    small.write_parquet(small_path)

    first = [run_child(FIRST_CALL, [str(small_path), str(rule_file)], cwd=ROOT, name="first call")
             for _ in range(args.first_repeat)]
    ruleset = load_rules(rule_file)

    def calls(fn: Callable[[], object]) -> dict:
        fn()  # warm-up: loads and compiles once
        times = []
        for _ in range(args.calls):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return {"median": float(np.median(times)), "min": min(times), "p90": float(np.quantile(times, 0.9)),
                "calls": args.calls}

    cached = {"preloaded_ruleset": calls(lambda: evaluate(small, ruleset)),
              "by_path": calls(lambda: evaluate(small, rule_file))}
    first_call = [r["first_call"] for r in first]
    out = {
        "first_call": {"min": min(first_call), "median": float(np.median(first_call)), "all": first_call,
                       "import_polars_median": float(np.median([r["import_polars"] for r in first])),
                       "import_picogate_median": float(np.median([r["import_picogate"] for r in first])),
                       "processes": args.first_repeat},
        "cached": cached,
        "targets": {
            "first_call_ms": target(min(first_call) * 1e3, "<=", TARGET_FIRST_CALL_MS, " ms"),
            "cached_preloaded_ms": target(cached["preloaded_ruleset"]["median"] * 1e3, "<=", TARGET_CALL_MS, " ms"),
            "cached_by_path_ms": target(cached["by_path"]["median"] * 1e3, "<=", TARGET_CALL_MS, " ms"),
        },
    }
    fc = out["first_call"]
    print(f"per call, 10 runs x 50 float rules: fresh process: import polars {fc['import_polars_median'] * 1e3:.0f} ms"
          f", picogate on top {fc['import_picogate_median'] * 1e3:.0f} ms (medians of {args.first_repeat})")
    for key, label, fmt in (("first_call_ms", "first evaluate(df, rule_file) in the process, ms (best)", ".1f"),
                            ("cached_preloaded_ms", f"cached, preloaded RuleSet, ms (median of {args.calls})", ".2f"),
                            ("cached_by_path_ms", f"cached, by path, ms (median of {args.calls})", ".2f")):
        _say_target(label, out["targets"][key], fmt)
    print()
    return out


# -- peak RSS (issue 11): 10M runs x 1 rule through the CLI's text report -------------------------

RSS_RULES = """\
profile: bench_rss
description: one rule over many runs
metrics:
  "rss.m": {type: float, description: synthetic}
rules:
  - id: rss.floor
    stage: postrun
    severity: block
    check: "rss.m >= 0.01"
    message: "observed {observed}, required {required}"
    fix: "fix rss.floor"
"""

READ_ONLY = """
import json, sys, time
import polars as pl
start = time.perf_counter()
df = pl.read_parquet(sys.argv[1])
print(json.dumps({"rows": df.height, "seconds": time.perf_counter() - start, "peak_rss_mb": peak_rss_mb()}))
"""


def peak_rss(args: argparse.Namespace, tmp: Path) -> dict:
    """`picogate evaluate big.parquet --rules R --format text > /dev/null`, its own peak RSS, in a fresh process;
    beside it, a fresh process that only reads the same parquet (what holding the table costs)."""
    n = args.rss_runs
    rng = np.random.default_rng(args.seed + 4)
    values = pl.Series("rss.m", rng.random(n), pl.Float64)
    values = values.scatter(np.flatnonzero(rng.random(n) < 0.01), None)
    ids = pl.select(pl.concat_str(pl.lit("run-"), pl.int_range(n).cast(pl.String).str.zfill(8)).alias("run_id"))
    big, rules = tmp / "big.parquet", tmp / "rss.yaml"
    ids.with_columns(values).write_parquet(big)
    del ids, values
    rules.write_text(RSS_RULES)
    cli = cli_peak_rss(["evaluate", str(big), "--rules", str(rules), "--format", "text"], cwd=ROOT)
    if cli["exit"] not in (0, 1):
        raise SystemExit(f"picogate evaluate exited {cli['exit']} on the 10M-run file")
    read = run_child(READ_ONLY, [str(big)], cwd=ROOT, name="read_parquet")
    out = {"runs": n, "parquet_mb": big.stat().st_size / 2**20, "cli_text": cli, "read_parquet_only": read,
           "target": target(cli["peak_rss_mb"], "<", TARGET_RSS_MB, " MB")}
    print(f"peak RSS, picogate evaluate {n:,} runs x 1 rule --format text > /dev/null: {cli['peak_rss_mb']:.0f} MB "
          f"in {cli['seconds']:.1f}s (exit {cli['exit']}); read_parquet alone: {read['peak_rss_mb']:.0f} MB")
    _say_target("peak RSS, MB", out["target"], ".0f")
    print()
    return out


# -- main ------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workload", choices=["1", "2", "all", "none"], default="all",
                    help="which throughput case to run (none: only the per-call and RSS parts)")
    ap.add_argument("--runs", type=int, default=1_000_000, help="runs in workloads 1 and 2")
    ap.add_argument("--sample", type=int, default=20_000, help="runs interpreted row by row for (c)")
    ap.add_argument("--repeat", type=int, default=3, help="workload 1: best of this many paired rounds after a warm-up")
    ap.add_argument("--w2-repeat", type=int, default=10, help="workload 2: best of this many paired rounds")
    ap.add_argument("--quiet-repeat", type=int, default=7, help="times (b) runs alone first, to judge quietness")
    ap.add_argument("--cli-repeat", type=int, default=5)
    ap.add_argument("--checks-runs", type=int, default=100_000,
                    help="runs whose result.checks table is materialised and timed (50 rows each; 1M runs need ~8 GB)")
    ap.add_argument("--calls", type=int, default=200, help="cached calls on 10 runs; the median is reported")
    ap.add_argument("--first-repeat", type=int, default=9, help="fresh processes timing a first call")
    ap.add_argument("--skip-per-call", action="store_true")
    ap.add_argument("--rss-runs", type=int, default=10_000_000, help="runs in the peak-RSS file")
    ap.add_argument("--skip-rss", action="store_true", help="skip the peak-RSS case (~15 s, ~300 MB of temp files)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="picogate-bench-"))
    try:
        return _run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(args: argparse.Namespace, tmp: Path) -> int:
    load_before = os.getloadavg()
    print(f"polars {pl.__version__}, {os.cpu_count()} cores, load average {_load(load_before)}\n")
    payload: dict = {"benchmark": "engine",
                     "machine": {**machine(), "polars": pl.__version__, "numpy": np.__version__,
                                 "polars_threads": pl.thread_pool_size()}}
    met: dict[str, bool] = {}
    if args.workload in ("1", "all"):
        part = workload1(args, tmp)
        met["workload1"] = part.pop("_met")
        payload |= part
    if args.workload in ("2", "all"):
        payload["workload2"] = workload2(args, tmp)
        met["workload2"] = payload["workload2"]["a_over_b"]["met"]
    if not args.skip_per_call:
        payload["per_call"] = per_call(args, tmp)
        met |= {f"per_call.{k}": t["met"] for k, t in payload["per_call"]["targets"].items()}
    if not args.skip_rss:
        payload["peak_rss"] = peak_rss(args, tmp)
        met["peak_rss"] = payload["peak_rss"]["target"]["met"]

    load_after = os.getloadavg()
    spreads = [p["b_alone"] for p in (payload, payload.get("workload2", {})) if "b_alone" in p]
    quiet = all(q["quiet"] for q in spreads) if spreads else None
    payload["machine_state"] = {
        "loadavg_before": load_before, "loadavg_after": load_after, "quiet": quiet,
        "quiet_rule": f"each hand-written baseline, run alone first, varied by < {QUIET_SPREAD:.0%}: (max-min)/min",
    }
    payload["parts"] = {"workload": args.workload, "per_call": not args.skip_per_call, "peak_rss": not args.skip_rss}
    payload["targets_met"] = met
    print(f"load average before {_load(load_before)}, after {_load(load_after)}; "
          f"machine {'quiet' if quiet else 'NOT quiet' if quiet is False else 'not judged'}")
    missed = [k for k, ok in met.items() if not ok]
    print("all targets met" if not missed else f"MISSED: {', '.join(missed)}")
    if not args.no_write:
        write_json_atomic(RESULTS, payload)
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 1 if missed else 0


def _load(avg: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.2f}" for x in avg)


if __name__ == "__main__":
    sys.exit(main())
