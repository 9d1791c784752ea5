# .venv/bin/python -m pytest tests/integrations/test_callbacks_plain.py -q -p no:cacheprovider
"""The plain API does the whole job in a real hand-written loop, and under a real 2-process DDP run (gloo, CPU)
only rank 0 preflights and writes the run directory while a blocked plan stops both ranks."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from callback_support import (
    APPROVED,
    BLOCKED,
    EVAL_ROWS,
    REPO,
    assert_recorded,
    byte_tokenizer,
    ddp_worker,
    eval_config,
    honesty_failing,
    manifest,
    plan_copy,
    tiny_model,
    train_steps,
)

torch = pytest.importorskip("torch")

from picogate.integrations import (  # noqa: E402 - after the torch skip
    PreflightBlocked,
    ReleaseBlocked,
    after_training,
    before_training,
)
from picogate.integrations._callback import count_params  # noqa: E402


def test_hand_written_loop_records_scores_and_judges(tmp_path: Path):
    run_dir = tmp_path / "runs" / "d20"
    gate = before_training(APPROVED, run_dir=run_dir)
    assert gate.rank == 0 and gate.run_id == "tiny-release" and gate.counted == "all"
    model = tiny_model()
    tokens = train_steps(model, 3)
    result = after_training(gate, model=model, tokenizer=byte_tokenizer(), tokens=tokens, steps=3,
                            eval_rows=EVAL_ROWS, eval_config=eval_config())
    assert result is not None and result.status == "blocked"  # 384 tokens of a planned 320,512
    post = assert_recorded(run_dir, run_id="tiny-release", tokens=3 * 4 * 32, steps=3,
                           params=sum(p.numel() for p in model.parameters()))
    failing = honesty_failing(post)
    # The run's own claims check out where they should: only the stages it skipped and its token shortfall fail.
    assert "honesty.tokens_planned" in failing and "honesty.stages.sft" in failing
    for ok in ("honesty.aggregates", "honesty.checkpoint", "honesty.inputs", "honesty.params", "stages.base"):
        assert ok not in failing, (ok, failing)
    assert post["evidence"]["train.params"] == 16_536 and post["evidence"]["train.tokens"] == 384
    with pytest.raises(ReleaseBlocked, match="post-run blocked run 'tiny-release'"):
        after_training(run_dir, fail_on="block")


def test_a_named_checkpoint_is_recorded_as_given(tmp_path: Path):
    gate = before_training(APPROVED, run_dir=tmp_path / "r")
    model = tiny_model()
    ckpt = tmp_path / "released.pt"
    torch.save(model.state_dict(), ckpt)
    after_training(gate, model=model, tokens=128, steps=1, checkpoint=ckpt, params=16_000)
    m = manifest(tmp_path / "r")
    assert m["release"]["checkpoint"] == str(ckpt.resolve()) and m["stages"]["base"]["params"] == 16_000
    assert not (tmp_path / "r" / "model.pt").exists() and "eval" not in m["stages"]
    with pytest.raises(ValueError, match="both tokens and steps"):
        after_training(gate, tokens=5)


def test_parameters_are_counted_as_the_plan_counts_them():
    model = tiny_model()
    every = sum(p.numel() for p in model.parameters())  # the tied head is one tensor with the embedding
    embeddings = model.tok.weight.numel() + model.pos.weight.numel()
    assert count_params(model, "all") == every == 16_536
    assert count_params(model, "scaling") == every - embeddings
    with pytest.raises(ValueError, match="counted"):
        count_params(model, "some")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn(plan: Path, tmp: Path) -> dict[int, dict]:
    """Two gloo ranks. Rank 1's plan path does not exist and its run directory must stay unwritten: it can
    only go on (or stop) by the verdict rank 0 sends."""
    import torch.multiprocessing as mp

    out = tmp / "seen"
    out.mkdir()
    plans, run_dirs = [str(plan), str(tmp / "not-here.yaml")], [str(tmp / "run"), str(tmp / "rank1-run")]
    mp.spawn(ddp_worker, args=(2, _free_port(), plans, run_dirs, str(out)), nprocs=2, join=True)
    assert not (tmp / "rank1-run").exists()
    return {r: json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)}


def test_ddp_only_rank_zero_preflights_and_writes(tmp_path: Path):
    plan = plan_copy(tmp_path, run_id="ddp-run")
    seen = _spawn(plan, tmp_path)
    assert seen[0]["status"] == seen[1]["status"] == "approved"
    assert (seen[0]["has_recorder"], seen[1]["has_recorder"]) == (True, False)
    assert seen[0]["postrun"] == "blocked" and seen[1]["postrun"] is None  # rank 1 records and judges nothing
    assert seen[0]["run_id"] == "ddp-run" and seen[0]["steps"] == seen[1]["steps"] == 2
    post = assert_recorded(tmp_path / "run", run_id="ddp-run", tokens=2 * 2 * 4 * 32, steps=2, params=16_536,
                           evaluated=False)
    assert post["evidence"]["train.tokens"] == 512


def test_ddp_blocked_plan_stops_both_ranks(tmp_path: Path):
    seen = _spawn(BLOCKED, tmp_path)
    for rank in (0, 1):
        assert seen[rank]["stopped"] and seen[rank]["steps"] == 0 and seen[rank]["status"] == "blocked"
        assert seen[rank]["message"].startswith("picogate preflight blocked run 'tiny-undertrained'")
    assert manifest(tmp_path / "run")["stages"]["preflight"]["status"] == "blocked"  # written once, by rank 0


def test_without_a_process_group_rank_one_judges_alone_and_writes_nothing(tmp_path: Path):
    gate = before_training(APPROVED, run_dir=tmp_path / "r1", rank=1)
    assert gate.status == "approved" and gate.recorder is None and not (tmp_path / "r1").exists()
    assert after_training(gate, model=tiny_model(), tokens=1, steps=1) is None
    with pytest.raises(PreflightBlocked):
        before_training(BLOCKED, run_dir=tmp_path / "r2", rank=1)
    assert not (tmp_path / "r2").exists()


def test_the_verdict_is_logged_to_mlflow_when_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    for k, v in {"MLFLOW_ALLOW_FILE_STORE": "true", "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}.items():
        monkeypatch.setenv(k, v)
    uri = (tmp_path / "mlruns").resolve().as_uri()
    client = MlflowClient(tracking_uri=uri)
    mlflow_run = client.create_run(client.create_experiment("train")).info.run_id
    gate = before_training(APPROVED, run_dir=tmp_path / "r")
    result = after_training(gate, model=tiny_model(), tokens=128, steps=1, mlflow_run_id=mlflow_run,
                            mlflow_tracking_uri=uri)
    assert result is not None
    logged = client.get_run(mlflow_run).data
    assert logged.tags["picogate.status"] == result.status == "blocked"
    assert logged.metrics["picogate.blocking"] >= 1
    assert {a.path for a in client.list_artifacts(mlflow_run, "picogate")} >= {"picogate/report.md"}


def test_lm_eval_results_are_attached_and_counted(tmp_path: Path):
    fixtures = sorted((REPO / "tests" / "fixtures" / "lm_eval" / "gpt2").glob("results_*.json"))
    if not fixtures:
        pytest.skip("no committed lm-eval fixtures")
    gate = before_training(APPROVED, run_dir=tmp_path / "r")
    after_training(gate, model=tiny_model(), tokens=128, steps=1, lm_eval=fixtures[0])
    assert "lm_eval" in manifest(tmp_path / "r")["stages"]
    post = json.loads((tmp_path / "r" / "postrun.json").read_text())
    assert post["evidence"]["external.count"] >= 1
