# .venv/bin/python -m pytest tests/integrations/test_callbacks_lightning.py -q -p no:cacheprovider
"""The Lightning callback does the whole job in a real `Trainer.fit` (CPU, a few steps): preflight in setup,
the training stage with the tokens of every batch and the optimizer steps, the checkpoint, the evaluator, the
post-run gate, and the verdict in the trainer's logger (a CSVLogger read back from disk)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from callback_support import (
    BLOCKED,
    EVAL_ROWS,
    assert_recorded,
    byte_tokenizer,
    eval_config,
    honesty_failing,
    lit_gpt,
    plan_copy,
)

pytest.importorskip("lightning")
torch = pytest.importorskip("torch")

import lightning.pytorch as L  # noqa: E402
from lightning.pytorch.loggers import CSVLogger  # noqa: E402

from picogate.integrations import PreflightBlocked  # noqa: E402
from picogate.integrations.lightning import PicogateCallback, batch_tokens  # noqa: E402

STEPS, BATCH, SEQ = 3, 4, 32


def _trainer(tmp: Path, callback: PicogateCallback, logger: object = False) -> L.Trainer:
    return L.Trainer(max_steps=STEPS, accelerator="cpu", devices=1, logger=logger, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(tmp),
                     callbacks=[callback])


def test_lightning_fit_runs_the_whole_flow(tmp_path: Path):
    plan = plan_copy(tmp_path, run_id="lit-run")
    run_dir = tmp_path / "runs" / "lit"
    cb = PicogateCallback(plan, run_dir=run_dir, tokenizer=byte_tokenizer(), eval_model=lambda m: m.model,
                          eval_rows=EVAL_ROWS, eval_config=eval_config())
    module = lit_gpt(steps=STEPS, batch=BATCH, seq=SEQ)
    logger = CSVLogger(str(tmp_path / "logs"), name="lit")
    _trainer(tmp_path, cb, logger).fit(module)
    assert module.steps_run == STEPS
    post = assert_recorded(run_dir, run_id="lit-run", tokens=STEPS * BATCH * SEQ, steps=STEPS, params=16_536)
    assert cb.result is not None and cb.result.status == post["status"] == "blocked"
    failing = honesty_failing(post)
    assert "honesty.tokens_planned" in failing
    for ok in ("honesty.aggregates", "honesty.checkpoint", "honesty.inputs", "honesty.params"):
        assert ok not in failing, (ok, failing)
    with open(Path(logger.log_dir) / "metrics.csv", newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("picogate.status_code")]
    assert len(rows) == 1 and float(rows[0]["picogate.status_code"]) == 2.0
    assert float(rows[0]["picogate.blocking"]) >= 1 and int(rows[0]["step"]) == STEPS


def test_lightning_blocked_plan_runs_no_step(tmp_path: Path):
    cb = PicogateCallback(BLOCKED, run_dir=tmp_path / "blocked")
    module = lit_gpt(steps=STEPS, batch=BATCH, seq=SEQ)
    with pytest.raises(PreflightBlocked, match="tiny-undertrained"):
        _trainer(tmp_path, cb).fit(module)
    assert module.steps_run == 0 and cb.gate is None
    assert (tmp_path / "blocked" / "preflight.json").is_file() and not (tmp_path / "blocked" / "model.pt").exists()


def test_batch_tokens_reads_the_usual_layouts():
    ids = torch.zeros((2, 5), dtype=torch.long)
    assert batch_tokens(ids) == batch_tokens([ids, ids[:, :1]]) == batch_tokens({"input_ids": ids, "x": 1}) == 10
    with pytest.raises(TypeError, match="count_tokens"):
        batch_tokens("text")
