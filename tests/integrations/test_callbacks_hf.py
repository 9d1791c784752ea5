# .venv/bin/python -m pytest tests/integrations/test_callbacks_hf.py -q -p no:cacheprovider
"""The Hugging Face callback does the whole job in a real `Trainer` run: a tiny GPT-2 built from a config
(no download), a few CPU steps; preflight first, then the run recorded under the plan's run id with the
parameters counted as the plan counts them, the model scored, the post-run verdict in the Trainer's log."""

from __future__ import annotations

from pathlib import Path

import pytest
from callback_support import (
    BLOCKED,
    EVAL_ROWS,
    assert_recorded,
    byte_tokenizer,
    eval_config,
    honesty_failing,
    plan_copy,
)

pytest.importorskip("transformers")
pytest.importorskip("accelerate")  # transformers' Trainer needs it
torch = pytest.importorskip("torch")

from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments  # noqa: E402

from picogate.integrations import PreflightBlocked  # noqa: E402
from picogate.integrations.hf import PicogateCallback  # noqa: E402

STEPS, BATCH, SEQ = 3, 4, 32


def _gpt2() -> GPT2LMHeadModel:
    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=258, n_positions=256, n_embd=24, n_layer=1, n_head=2, bos_token_id=256,
                     eos_token_id=257)
    return GPT2LMHeadModel(cfg)


def _trainer(tmp: Path, model: GPT2LMHeadModel, callback: PicogateCallback) -> Trainer:
    gen = torch.Generator().manual_seed(0)
    data = [{"input_ids": ids, "labels": ids} for ids in torch.randint(0, 256, (STEPS * BATCH, SEQ), generator=gen)]
    args = TrainingArguments(output_dir=str(tmp / "hf"), max_steps=STEPS, per_device_train_batch_size=BATCH,
                             report_to=[], use_cpu=True, save_strategy="no", logging_strategy="no",
                             dataloader_num_workers=0)
    return Trainer(model=model, args=args, train_dataset=data, callbacks=[callback])


def test_hf_trainer_runs_the_whole_flow(tmp_path: Path):
    plan = plan_copy(tmp_path, run_id="hf-run", counted="scaling", params=7_500)
    model = _gpt2()
    embeddings = model.transformer.wte.weight.numel() + model.transformer.wpe.weight.numel()
    scaling = sum(p.numel() for p in model.parameters()) - embeddings  # lm_head is tied to wte
    run_dir = tmp_path / "runs" / "r1"
    cb = PicogateCallback(plan, run_dir=run_dir, tokenizer=byte_tokenizer(), eval_rows=EVAL_ROWS,
                          eval_config=eval_config())
    trainer = _trainer(tmp_path, model, cb)
    trainer.train()
    assert trainer.state.global_step == STEPS
    post = assert_recorded(run_dir, run_id="hf-run", tokens=STEPS * BATCH * SEQ, steps=STEPS, params=scaling,
                           counted="scaling")
    assert cb.result is not None and cb.result.status == post["status"] == "blocked"  # 384 of 320,512 planned tokens
    failing = honesty_failing(post)
    assert "honesty.tokens_planned" in failing
    for ok in ("honesty.aggregates", "honesty.checkpoint", "honesty.inputs", "honesty.params"):
        assert ok not in failing, (ok, failing)
    logged = trainer.state.log_history[-1]
    assert logged["picogate.status"] == "blocked" and logged["picogate.status_code"] == 2
    assert logged["picogate.blocking"] >= 1 and logged["step"] == STEPS


def test_hf_blocked_plan_runs_no_step_and_writes_its_refusal(tmp_path: Path):
    model = _gpt2()
    before = [p.detach().clone() for p in model.parameters()]
    trainer = _trainer(tmp_path, model, PicogateCallback(BLOCKED, run_dir=tmp_path / "blocked"))
    with pytest.raises(PreflightBlocked, match="preflight blocked run 'tiny-undertrained'"):
        trainer.train()
    assert trainer.state.global_step == 0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert (tmp_path / "blocked" / "preflight.json").is_file() and not (tmp_path / "blocked" / "model.pt").exists()


def test_hf_a_missing_rows_file_stops_before_training(tmp_path: Path):
    from picogate.errors import InputError

    cb = PicogateCallback(BLOCKED, run_dir=tmp_path / "r", eval_rows=tmp_path / "eval.jsonl")
    trainer = _trainer(tmp_path, _gpt2(), cb)
    with pytest.raises(InputError, match=r"eval\.jsonl: no such file"):
        trainer.train()
    assert trainer.state.global_step == 0 and not (tmp_path / "r").exists()
