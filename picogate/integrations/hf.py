"""Hugging Face `transformers`: a `TrainerCallback` that gates the run from preflight to post-run.

    from picogate.integrations.hf import PicogateCallback
    gate = PicogateCallback("plan.yaml", run_dir="runs/r1", eval_rows="eval.jsonl")
    trainer = Trainer(model=model, args=args, train_dataset=ds, processing_class=tok, callbacks=[gate])
    trainer.train()        # raises picogate.integrations.PreflightBlocked if the plan is blocked
    gate.result.status     # the post-run verdict, also in trainer.state.log_history

Importing this module imports transformers; `import picogate` never does.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from picogate.integrations import ReleaseBlocked, TrainingGate, _stops, before_training
from picogate.integrations._callback import EvalSpec, finish_run, torch_share, verdict_metrics
from picogate.result import GateResult

try:
    from transformers import TrainerCallback
except ImportError as exc:  # not a picogate dependency: the trainer that uses this callback brings it
    raise ImportError("picogate.integrations.hf needs transformers (pip install transformers)") from exc

log = logging.getLogger("picogate.integrations.hf")


class PicogateCallback(TrainerCallback):
    """Preflight at `on_train_begin` (before any optimizer step; a block raises `PreflightBlocked` on every
    rank), and with `run_dir` the rest of the job at `on_train_end` on the main process.

    At the end: the training stage `record_stage` (default 'base') with the Trainer's step count, the
    tokens it saw (the callback turns on `include_num_input_tokens_seen` when it is off: tokens trained
    are evidence) and the parameter count as the plan counts it; the checkpoint (`checkpoint`, or the
    weights saved as RUN_DIR/model.pt); the evaluator on the given rows with the Trainer's
    `processing_class` (or `tokenizer`); `lm_eval` results; the post-run gate, whose verdict goes into
    `state.log_history` (`picogate.status`, `.status_code`, `.blocking`, `.warnings`), the log, and
    MLflow when `mlflow_run_id` is given. `release_fail_on` ('block'/'warn') raises `ReleaseBlocked`.
    """

    def __init__(self, plan: Any, *, run_dir: Any = None, profile: Any = None, fail_on: str = "block",
                 overwrite: bool = False, record_stage: str | None = "base", checkpoint: Any = None,
                 tokenizer: Any = None, eval_rows: Any = None, sft_rows: Any = None, heldout_rows: Any = None,
                 external: Any = None, lm_eval: Any = None, eval_config: Any = None,
                 eval_kwargs: dict[str, Any] | None = None, baseline: Any = None, release_fail_on: str | None = None,
                 mlflow_run_id: str | None = None, mlflow_tracking_uri: str | None = None,
                 **preflight_kwargs: Any) -> None:
        if release_fail_on is not None:
            _stops("approved", release_fail_on)  # refuse a bad value now, not after training
        self.plan, self.run_dir, self.profile, self.fail_on = Path(plan), run_dir, profile, fail_on
        self.overwrite, self.record_stage, self.checkpoint, self.tokenizer = overwrite, record_stage, checkpoint, \
            tokenizer
        self.evaluate = EvalSpec(eval_rows, sft_rows, heldout_rows, external, lm_eval, eval_config, eval_kwargs)
        self.baseline, self.release_fail_on = baseline, release_fail_on
        self.mlflow_run_id, self.mlflow_tracking_uri = mlflow_run_id, mlflow_tracking_uri
        self.preflight_kwargs = preflight_kwargs
        self.gate: TrainingGate | None = None
        self.outcome: Any = None  # picogate.postrun.Outcome after training (main process, with run_dir)

    @property
    def result(self) -> GateResult | None:
        """The post-run verdict once training ended, else the preflight verdict (None before training)."""
        if self.outcome is not None:
            return self.outcome.result
        return self.gate.result if self.gate is not None else None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self.gate is None:  # a second train() reuses the verdict
            if self.run_dir is not None:
                self.evaluate.check_files()
            self.gate = before_training(self.plan, run_dir=self.run_dir, profile=self.profile, fail_on=self.fail_on,
                                        overwrite=self.overwrite, rank=int(getattr(args, "process_index", 0) or 0),
                                        share=torch_share(), **self.preflight_kwargs)
        if self.run_dir is not None and getattr(args, "include_num_input_tokens_seen", "no") in ("no", False):
            args.include_num_input_tokens_seen = "all"  # read by the Trainer at every step
        return control

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, processing_class: Any = None,
                     **kwargs: Any) -> Any:
        gate = self.gate
        if gate is None or gate.rank != 0 or gate.run_dir is None or not getattr(state, "is_world_process_zero", True):
            return control
        tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
        self.outcome = finish_run(
            gate, model=model, tokenizer=self.tokenizer if self.tokenizer is not None else processing_class,
            tokens=tokens if self.record_stage else None, steps=int(state.global_step) if self.record_stage else None,
            stage=self.record_stage, checkpoint=self.checkpoint, evaluate=self.evaluate, profile=self.profile,
            baseline=self.baseline, mlflow_run_id=self.mlflow_run_id, mlflow_tracking_uri=self.mlflow_tracking_uri)
        result = self.outcome.result
        state.log_history.append({**verdict_metrics(result), "step": int(state.global_step)})
        level = logging.WARNING if result.status != "approved" else logging.INFO
        log.log(level, "picogate post-run %s run '%s' (report: %s)", result.status, gate.run_id,
                Path(gate.run_dir) / "report.md")
        if self.release_fail_on is not None and _stops(result.status, self.release_fail_on):
            raise ReleaseBlocked(result)
        return control
