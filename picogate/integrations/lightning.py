"""PyTorch Lightning: a `Callback` that gates the run from preflight to post-run.

    from picogate.integrations.lightning import PicogateCallback
    gate = PicogateCallback("plan.yaml", run_dir="runs/r1", tokenizer=tok, eval_rows="eval.jsonl")
    trainer = L.Trainer(max_steps=1000, callbacks=[gate])
    trainer.fit(model)     # raises picogate.integrations.PreflightBlocked if the plan is blocked
    gate.result.status     # the post-run verdict, also logged to the trainer's loggers

Works with `lightning` (`lightning.pytorch`) or, if that is absent, `pytorch_lightning`; for the
other package's Trainer build a class with `callback_class(pytorch_lightning.Callback)`.
Importing this module imports Lightning; `import picogate` never does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from picogate.integrations import ReleaseBlocked, TrainingGate, _stops, before_training
from picogate.integrations._callback import EvalSpec, finish_run, verdict_metrics
from picogate.result import GateResult

try:
    from lightning.pytorch import Callback as _Base
except ImportError:
    try:
        from pytorch_lightning import Callback as _Base
    except ImportError as exc:  # not a picogate dependency: the trainer that uses this callback brings it
        raise ImportError("picogate.integrations.lightning needs lightning (pip install lightning) "
                          "or pytorch_lightning") from exc

log = logging.getLogger("picogate.integrations.lightning")


def batch_tokens(batch: Any) -> int:
    """Tokens in one training batch: a tensor's elements, a mapping's `input_ids` (else its first tensor),
    or the first tensor of a tuple or list. Pass `count_tokens=` for any other layout."""
    if hasattr(batch, "numel"):
        return int(batch.numel())
    if isinstance(batch, dict):
        if "input_ids" in batch:
            return batch_tokens(batch["input_ids"])
        batch = list(batch.values())
    if isinstance(batch, list | tuple):
        for item in batch:
            if hasattr(item, "numel"):
                return int(item.numel())
    raise TypeError(f"cannot count the tokens of a {type(batch).__name__} batch; pass count_tokens=fn(batch) -> int")


def callback_class(base: type) -> type:
    """A picogate callback class deriving from `base` (a Lightning `Callback`)."""

    class PicogateCallback(base):  # type: ignore[misc, valid-type]
        """Preflight in `setup(stage='fit')`, before the model moves to a device (global rank 0 judges, every
        rank gets the verdict; a block raises `PreflightBlocked` on all of them); with `run_dir`, at
        `on_train_end` the rest of the job on rank 0.

        At the end: the training stage `record_stage` (default 'base') with `trainer.global_step` and the
        tokens of every training batch summed over ranks (`count_tokens(batch)`, default `batch_tokens`),
        the parameter count of the model as the plan counts it; the checkpoint (`checkpoint`, or the
        weights saved as RUN_DIR/model.pt); the evaluator on the given rows, scoring `eval_model(pl_module)`
        (default: the LightningModule itself, called as ids -> logits) with `tokenizer`; `lm_eval` results;
        the post-run gate, whose verdict is logged to every trainer logger (`picogate.status_code`,
        `.blocking`, `.warnings`) and to MLflow when `mlflow_run_id` is given.
        """

        def __init__(self, plan: Any, *, run_dir: Any = None, profile: Any = None, fail_on: str = "block",
                     overwrite: bool = False, record_stage: str | None = "base", checkpoint: Any = None,
                     tokenizer: Any = None, eval_model: Callable[[Any], Any] | None = None,
                     count_tokens: Callable[[Any], int] = batch_tokens, eval_rows: Any = None,
                     sft_rows: Any = None, heldout_rows: Any = None, external: Any = None, lm_eval: Any = None,
                     eval_config: Any = None, eval_kwargs: dict[str, Any] | None = None, baseline: Any = None,
                     release_fail_on: str | None = None, mlflow_run_id: str | None = None,
                     mlflow_tracking_uri: str | None = None, **preflight_kwargs: Any) -> None:
            super().__init__()
            if release_fail_on is not None:
                _stops("approved", release_fail_on)  # refuse a bad value now, not after training
            self.plan, self.run_dir, self.profile, self.fail_on = Path(plan), run_dir, profile, fail_on
            self.overwrite, self.record_stage, self.checkpoint = overwrite, record_stage, checkpoint
            self.tokenizer, self.eval_model, self.count_tokens = tokenizer, eval_model, count_tokens
            self.evaluate = EvalSpec(eval_rows, sft_rows, heldout_rows, external, lm_eval, eval_config, eval_kwargs)
            self.baseline, self.release_fail_on = baseline, release_fail_on
            self.mlflow_run_id, self.mlflow_tracking_uri = mlflow_run_id, mlflow_tracking_uri
            self.preflight_kwargs = preflight_kwargs
            self.gate: TrainingGate | None = None
            self.outcome: Any = None  # picogate.postrun.Outcome after training (rank 0, with run_dir)
            self.tokens = 0  # this rank's training tokens

        @property
        def result(self) -> GateResult | None:
            """The post-run verdict once training ended, else the preflight verdict (None before fit)."""
            if self.outcome is not None:
                return self.outcome.result
            return self.gate.result if self.gate is not None else None

        def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
            if stage != "fit" or self.gate is not None:  # a second fit() reuses the verdict
                return

            if self.run_dir is not None:
                self.evaluate.check_files()

            def share(obj: Any) -> Any:
                return trainer.strategy.broadcast(obj, src=0)

            self.gate = before_training(self.plan, run_dir=self.run_dir, profile=self.profile, fail_on=self.fail_on,
                                        overwrite=self.overwrite, rank=int(trainer.global_rank),
                                        share=share if trainer.world_size > 1 else None, **self.preflight_kwargs)

        def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            if self.run_dir is not None and self.record_stage:
                self.tokens += int(self.count_tokens(batch))

        def on_train_end(self, trainer: Any, pl_module: Any) -> None:
            gate = self.gate
            if gate is None or gate.run_dir is None:
                return
            tokens = self.tokens
            if trainer.world_size > 1:  # every rank takes part in the sum; only rank 0 goes on
                import torch

                total = trainer.strategy.reduce(torch.tensor(tokens, dtype=torch.float64, device=pl_module.device),
                                                reduce_op="sum")
                tokens = round(float(total))
            if gate.rank != 0:
                return
            model = self.eval_model(pl_module) if self.eval_model is not None else pl_module
            self.outcome = finish_run(
                gate, model=model, tokenizer=self.tokenizer, tokens=tokens if self.record_stage else None,
                steps=int(trainer.global_step) if self.record_stage else None, stage=self.record_stage,
                checkpoint=self.checkpoint, evaluate=self.evaluate, profile=self.profile, baseline=self.baseline,
                mlflow_run_id=self.mlflow_run_id, mlflow_tracking_uri=self.mlflow_tracking_uri)
            result = self.outcome.result
            numbers = {k: v for k, v in verdict_metrics(result).items() if isinstance(v, int)}
            for logger in trainer.loggers:
                logger.log_metrics(numbers, step=int(trainer.global_step))
            level = logging.WARNING if result.status != "approved" else logging.INFO
            log.log(level, "picogate post-run %s run '%s' (report: %s)", result.status, gate.run_id,
                    Path(gate.run_dir) / "report.md")
            if self.release_fail_on is not None and _stops(result.status, self.release_fail_on):
                raise ReleaseBlocked(result)

    return PicogateCallback


PicogateCallback = callback_class(_Base)
