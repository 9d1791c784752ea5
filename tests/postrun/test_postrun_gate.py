# .venv/bin/python -m pytest tests/postrun/test_postrun_gate.py -q
"""The post-run gate on real run directories: one that passes, and ones broken in exactly one way."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from picogate import InputError, load_rules
from picogate.postrun import RunDir, postrun, run
from picogate.postrun.rundir import METRICS_FILE, RESULTS_FILE


def not_ok(result) -> set[str]:  # type: ignore[no-untyped-def]
    return set(result.checks.filter(pl.col("effect") != "ok")["rule_id"].to_list())


def honesty_failures(outcome) -> set[str]:  # type: ignore[no-untyped-def]
    return not_ok(outcome.honesty)


def test_good_run_is_approved(good_run: Path):
    outcome = run(good_run)
    assert outcome.honesty.status == "approved"
    assert outcome.evidence["honesty.status"] == "pass"
    assert outcome.result.status == "approved", outcome.result.failing()
    ids = set(outcome.result.checks["rule_id"].to_list())
    # every post-run check the issue names is a rule that ran on real evidence
    for rule in ("postrun.preflight", "postrun.honesty", "postrun.sft_fit", "postrun.heldout_fit",
                 "postrun.eval_pass_rate", "postrun.external", "postrun.refusal", "postrun.echo",
                 "postrun.contamination", "postrun.fit_gap", "skill.pass_rate.math", "skill.eval_rows.choice"):
        assert rule in ids
    assert (outcome.result.checks.filter(pl.col("stage") != "postrun")).height == 0


def test_good_run_evidence_carries_counts_and_intervals(good_run: Path):
    ev = run(good_run).evidence
    assert ev["eval.math.rows"] == 20 and ev["eval.math.pass_rate"] == 1.0
    assert ev["eval.math.pass_rate_low"] == pytest.approx(0.8389, abs=1e-4)
    assert ev["eval.math.pass_rate_high"] == 1.0
    assert ev["external.toy_arc.acc_low"] is not None
    assert ev["train.tokens_to_planned"] == 1.0
    assert ev["honesty.aggregates_checked"] > 30


def test_postrun_function_matches_run(good_run: Path):
    assert postrun(good_run).status == run(good_run).result.status


def test_tampered_eval_file_after_preflight_blocks(fresh):
    def tamper() -> None:  # edit an eval answer after preflight hashed the file, before eval reads it
        path = Path(run_dir_paths["eval"])
        rows = path.read_text().splitlines()
        row = json.loads(rows[0])
        row["answer"] = "I am someone else"
        rows[0] = json.dumps(row)
        path.write_text("\n".join(rows) + "\n")

    run_dir_paths: dict = {}

    def capture(paths):  # type: ignore[no-untyped-def]
        run_dir_paths.update(paths)

    run_dir = fresh(edit=capture, before_eval=tamper)
    outcome = run(run_dir)
    assert "honesty.inputs" in honesty_failures(outcome)
    assert outcome.evidence["honesty.inputs_changed"] == 1
    assert "eval input eval.jsonl" in outcome.evidence["honesty.inputs_detail"]
    assert outcome.result.status == "blocked"
    assert "postrun.honesty" in not_ok(outcome.result)


def test_tampered_results_table_blocks(copy_run):
    run_dir = copy_run()
    table = pq.read_table(run_dir / RESULTS_FILE)
    correct = table.column("correct").to_pylist()
    split = table.column("split").to_pylist()
    flipped = [False if s == "eval" and i == 0 else c for i, (s, c) in enumerate(zip(split, correct, strict=True))]
    table = table.set_column(table.schema.get_field_index("correct"), table.schema.field("correct"),
                             pa.array(flipped))
    pq.write_table(table, run_dir / RESULTS_FILE)
    outcome = run(run_dir)
    assert {"honesty.artifacts", "honesty.aggregates"} <= honesty_failures(outcome)
    assert outcome.result.status == "blocked"


def _set_metric(run_dir: Path, name: str, value: object, typ: pa.DataType | None = None) -> None:
    typ = typ or pa.float64()
    table = pq.read_table(run_dir / METRICS_FILE)
    i = table.schema.get_field_index(name)
    table = table.set_column(i, pa.field(name, typ), pa.array([value], typ))
    pq.write_table(table, run_dir / METRICS_FILE)


def test_aggregate_that_does_not_recompute_blocks(copy_run):
    run_dir = copy_run()
    _set_metric(run_dir, "eval.math.pass_rate", 0.95)
    outcome = run(run_dir)
    assert "honesty.aggregates" in honesty_failures(outcome)
    assert "eval.math.pass_rate is 0.95" in outcome.evidence["honesty.aggregates_detail"]
    assert outcome.result.status == "blocked"


@pytest.mark.parametrize("value", [float("nan"), None, float("inf")])
def test_nan_null_inf_aggregate_never_approves(copy_run, value):
    run_dir = copy_run()
    _set_metric(run_dir, "eval.refusal.pass_rate", value)
    result = postrun(run_dir)
    assert result.status == "blocked"
    row = result.checks.filter(pl.col("rule_id") == "skill.pass_rate.refusal").row(0, named=True)
    assert row["outcome"] == "missing"


def test_swapped_checkpoint_blocks(copy_run):
    run_dir = copy_run()
    (run_dir / "model.pt").write_text("other weights", encoding="utf-8")
    outcome = run(run_dir)
    assert "honesty.checkpoint" in honesty_failures(outcome)
    assert "the evaluated one" in outcome.evidence["honesty.checkpoint_detail"]
    assert outcome.result.status == "blocked"


def test_checkpoint_evaluated_is_not_the_trained_one_blocks(copy_run):
    run_dir = copy_run()
    manifest = json.loads((run_dir / "run.json").read_text())
    manifest["release"]["sha256"] = "0" * 64
    (run_dir / "run.json").write_text(json.dumps(manifest))
    outcome = run(run_dir)
    assert outcome.evidence["honesty.checkpoint_match"] is False
    assert outcome.result.status == "blocked"


def test_eval_prompts_copied_into_sft_blocks(fresh):
    def leak(paths):  # type: ignore[no-untyped-def]
        ev = [json.loads(x) for x in paths["eval"].read_text().splitlines()[:3]]
        with paths["sft"].open("a") as fh:
            for r in ev:
                fh.write(json.dumps({"id": "leak-" + r["id"], "skill": r["skill"], "prompt": r["prompt"],
                                     "response": " " + r["answer"]}) + "\n")

    outcome = run(fresh(edit=leak))
    assert outcome.evidence["leak.eval_in_sft"] == 3
    assert "honesty.eval_not_in_sft" in honesty_failures(outcome)
    failing = not_ok(outcome.result)
    assert {"postrun.contamination", "postrun.preflight", "postrun.honesty"} <= failing
    assert outcome.result.status == "blocked"


def test_heldout_rows_that_are_training_rows_block(fresh):
    def same(paths):  # type: ignore[no-untyped-def]
        sft = paths["sft"].read_text().splitlines()
        paths["heldout"].write_text("\n".join(sft[:5]) + "\n")

    outcome = run(fresh(edit=same))
    assert outcome.evidence["leak.heldout_in_sft"] == 5
    assert "postrun.contamination" in not_ok(outcome.result)


@pytest.mark.parametrize("missing", ["preflight", "base", "sft", "eval"])
def test_missing_stage_blocks(fresh, missing):
    stages = tuple(s for s in ("preflight", "base", "sft", "checkpoint", "eval") if s != missing)
    outcome = run(fresh(stages=stages), profile="skill_release")
    assert f"honesty.stages.{missing}" in honesty_failures(outcome)
    assert outcome.evidence[f"stages.{missing}.done"] is False
    assert outcome.result.status == "blocked"


def test_deleted_eval_tables_block(copy_run):
    run_dir = copy_run()
    (run_dir / RESULTS_FILE).unlink()
    (run_dir / METRICS_FILE).unlink()
    outcome = run(run_dir)
    assert {"honesty.artifacts", "honesty.aggregates"} <= honesty_failures(outcome)
    assert outcome.result.status == "blocked"


def test_undertrained_tokens_block(fresh):
    outcome = run(fresh(tokens=128_000))
    assert {"honesty.tokens_planned", "honesty.tokens_claimed"} <= honesty_failures(outcome)
    assert "claims 20:1" in outcome.honesty.checks.filter(
        pl.col("rule_id") == "honesty.tokens_claimed")["message"][0]
    assert outcome.result.status == "blocked"


def test_weak_skill_blocks_and_is_listed_first(fresh):
    outcome = run(fresh(wrong=("math",)))
    failing = outcome.result.failing()
    assert outcome.result.status == "blocked"
    assert failing["rule_id"][0] == "skill.pass_rate.math"
    assert outcome.honesty.status == "approved"  # honest, just not good enough


def test_high_sft_fit_low_eval_is_flagged_with_the_explanation(fresh):
    outcome = run(fresh(wrong=SKILLS_ALL))
    row = outcome.result.checks.filter(pl.col("rule_id") == "postrun.fit_gap").row(0, named=True)
    assert row["outcome"] == "fail" and row["severity"] == "warn"
    assert "taught the format or replayed its rows, not the behaviour" in row["message"]


SKILLS_ALL = ("identity", "refusal", "choice", "math", "spelling")


def test_empty_and_missing_evidence_never_approves(tmp_path: Path):
    from picogate.postrun import RunRecorder

    RunRecorder(tmp_path / "r")
    assert postrun(tmp_path / "r", profile="skill_release").status == "blocked"
    assert postrun(tmp_path / "r", profile="release").status == "blocked"
    assert run(tmp_path / "r", profile="release").honesty.status == "blocked"


def test_unreadable_run_directory_is_an_input_error(tmp_path: Path):
    with pytest.raises(InputError, match="no such run directory"):
        postrun(tmp_path / "nope")
    (tmp_path / "r").mkdir()
    with pytest.raises(InputError, match=r"run\.json: missing"):
        postrun(tmp_path / "r")
    (tmp_path / "r" / "run.json").write_text('{"format": "picogate.run/1", "run_id": "x", "stages": {}, '
                                             '"artifacts": {}, "artifacts": {}}')
    with pytest.raises(InputError, match="duplicate key"):
        postrun(tmp_path / "r")
    (tmp_path / "r" / "run.json").write_text('{"format": "picogate.run/1", "run_id": "x", "stages": '
                                             '{"base": {"tokens": NaN, "steps": 1}}, "artifacts": {}}')
    with pytest.raises(InputError, match="NaN"):
        postrun(tmp_path / "r")
    (tmp_path / "r" / "run.json").write_text('{"format": "picogate.run/1", "run_id": "x", "stages": '
                                             '{"base": {"tokens": -5, "steps": 1}}, "artifacts": {}}')
    with pytest.raises(InputError, match=r"run\.json: stages/base/tokens"):
        postrun(tmp_path / "r", profile="release")


def test_truncated_parquet_is_an_input_error(copy_run):
    run_dir = copy_run()
    data = (run_dir / METRICS_FILE).read_bytes()
    (run_dir / METRICS_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cannot read as parquet"):
        postrun(run_dir)


def test_run_dir_manifest_validates_against_schema(good_run: Path):
    rd = RunDir(good_run)
    assert set(rd.stages) == {"preflight", "base", "sft", "eval"}
    assert rd.manifest["release"]["checkpoint"] == "model.pt"
    assert all(len(f["sha256"]) == 64 for f in rd.stages["preflight"]["data_files"])


def test_shipped_postrun_rules_load_and_fail_closed_on_empty_evidence():
    for profile in ("release", "skill_release", "honesty"):
        rs = load_rules(profile).for_stage("postrun")
        assert len(rs) > 0
        from picogate import evaluate

        assert evaluate({"run_id": "empty"}, rs).status == "blocked"
    skill = load_rules("skill_release")
    gates = {r.category: r.params["threshold"] for r in skill.rules if r.base_id == "skill.pass_rate"}
    assert gates == {"identity": 0.60, "refusal": 0.75, "choice": 0.50, "math": 0.30, "spelling": 0.40}
