"""One rank of a real 2-process DDP training run (gloo, CPU) with a picogate callback, started by `torchrun`.

    torchrun --standalone --nproc_per_node 2 tests/integrations/ddp_trainers.py lightning|hf PLAN RUN_DIR OUT

Rank 1 is handed a plan path that does not exist and a run directory of its own, which must stay unwritten:
it can only go on (or stop) by the verdict rank 0 broadcasts, and only rank 0 may record the run. Each rank
writes what it saw to OUT/rank<N>.json. Run by tests/integrations/test_callbacks_ddp.py.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from callback_support import EVAL_ROWS, byte_tokenizer, eval_config, lit_gpt

STEPS, BATCH, SEQ = 3, 4, 32


def _data(rank: int) -> Any:
    import torch

    g = torch.Generator().manual_seed(rank)  # each rank its own batches, as a distributed sampler gives
    return torch.randint(0, 256, (STEPS * BATCH, SEQ), generator=g)


def lightning(plan: str, run_dir: str, seen: dict[str, Any]) -> None:
    import lightning.pytorch as L

    from picogate.integrations.lightning import PicogateCallback

    module = lit_gpt(seed=int(os.environ["RANK"]), steps=STEPS, batch=BATCH, seq=SEQ)  # each rank its batches
    cb = PicogateCallback(plan, run_dir=run_dir, tokenizer=byte_tokenizer(), eval_model=lambda m: m.model,
                          eval_rows=EVAL_ROWS, eval_config=eval_config())
    trainer = L.Trainer(max_steps=STEPS, accelerator="cpu", devices=2, strategy="ddp", logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        use_distributed_sampler=False, callbacks=[cb])
    try:
        run(lambda: trainer.fit(module), cb, seen)
    finally:
        seen["steps"] = module.steps_run


def hf(plan: str, run_dir: str, seen: dict[str, Any]) -> None:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainerCallback, TrainingArguments

    from picogate.integrations.hf import PicogateCallback

    class Steps(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
            seen["steps"] += 1

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=258, n_positions=256, n_embd=24, n_layer=1, n_head=2,
                                       bos_token_id=256, eos_token_id=257))
    # the whole set on every rank: the Trainer's distributed sampler gives each rank its half
    rows = [{"input_ids": ids, "labels": ids} for r in (0, 1) for ids in _data(r)]
    args = TrainingArguments(output_dir=str(Path(os.environ["PICOGATE_DDP_OUT"]) / "hf"), max_steps=STEPS,
                             per_device_train_batch_size=BATCH, use_cpu=True, ddp_backend="gloo", report_to=[],
                             save_strategy="no", logging_strategy="no", disable_tqdm=True, dataloader_num_workers=0)
    cb = PicogateCallback(plan, run_dir=run_dir, tokenizer=byte_tokenizer(), eval_rows=EVAL_ROWS,
                          eval_config=eval_config())
    trainer = Trainer(model=model, args=args, train_dataset=rows, callbacks=[cb, Steps()])
    run(trainer.train, cb, seen)
    seen["tokens"] = int(trainer.state.num_input_tokens_seen)


def run(fit: Any, cb: Any, seen: dict[str, Any]) -> None:
    from picogate.integrations import PreflightBlocked

    try:
        fit()
    except PreflightBlocked as exc:
        seen |= {"stopped": True, "status": exc.result.status, "message": str(exc).splitlines()[0]}
        return
    seen |= {"stopped": False, "status": cb.gate.status, "has_recorder": cb.gate.recorder is not None,
             "postrun": None if cb.outcome is None else cb.outcome.result.status,
             "tokens": getattr(cb, "tokens", None)}


def main() -> None:
    framework, plan, run_dir, out = sys.argv[1:5]
    rank = int(os.environ["RANK"])
    os.environ["PICOGATE_DDP_OUT"] = out
    import torch

    torch.set_num_threads(1)
    seen: dict[str, Any] = {"rank": rank, "steps": 0}
    if rank != 0:  # only the verdict rank 0 broadcasts can tell rank 1 whether to go on
        plan, run_dir = str(Path(out) / "not-here.yaml"), str(Path(out) / "rank1-run")
    try:
        {"lightning": lightning, "hf": hf}[framework](plan, run_dir, seen)
    finally:
        Path(out, f"rank{rank}.json").write_text(json.dumps(seen), encoding="utf-8")


if __name__ == "__main__":
    main()
