"""Hugging Face `transformers`: a `TrainerCallback` that runs picogate's preflight before the first step.

    from picogate.integrations.hf import PicogateCallback
    trainer = Trainer(model=model, args=args, train_dataset=ds,
                      callbacks=[PicogateCallback("plan.yaml", run_dir="runs/r1")])
    trainer.train()        # raises picogate.integrations.PreflightBlocked if the plan is blocked

Importing this module imports transformers; `import picogate` never does.
"""

from __future__ import annotations

from typing import Any

from picogate.integrations._callback import PreflightHook

try:
    from transformers import TrainerCallback
except ImportError as exc:  # not a picogate dependency: the trainer that uses this callback brings it
    raise ImportError("picogate.integrations.hf needs transformers (pip install transformers)") from exc


class PicogateCallback(TrainerCallback):
    """Preflight at `on_train_begin` (before any optimizer step); a block raises `PreflightBlocked`.

    With `run_dir`, the run directory's recorder is `callback.gate.recorder`, and at `on_train_end`
    the training stage (`record_stage`, default 'base') is recorded with the trainer's step count and
    tokens seen (when the Trainer counts them: `include_num_input_tokens_seen=True`).
    """

    def __init__(self, plan: Any, *, run_dir: Any = None, profile: Any = None, fail_on: str = "block",
                 overwrite: bool = False, record_stage: str | None = "base", **preflight_kwargs: Any) -> None:
        self.hook = PreflightHook(plan, run_dir=run_dir, profile=profile, fail_on=fail_on, overwrite=overwrite,
                                  **preflight_kwargs)
        self.record_stage = record_stage

    @property
    def gate(self) -> Any:
        return self.hook.gate

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        self.hook.run_preflight()
        return control

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        gate = self.hook.gate
        tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
        if gate is not None and gate.recorder is not None and self.record_stage and tokens > 0 \
                and getattr(state, "is_world_process_zero", True):
            gate.recorder.record_training(self.record_stage, tokens=tokens, steps=int(state.global_step))
        return control
