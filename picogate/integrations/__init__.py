"""picogate inside a trainer: preflight before the first step, the run recorded, post-run after.

    from picogate.integrations import before_training, after_training

    gate = before_training("plan.yaml", run_dir="runs/d20")   # raises PreflightBlocked if the plan is blocked
    for step in range(num_iterations):
        ...                                                   # your loop, unchanged
    result = after_training(gate, model=model, tokenizer=tok, tokens=tokens_seen, steps=num_iterations,
                            eval_rows="eval.jsonl")            # may the model be released?

`after_training` records the training stage (tokens, steps, the parameter count as the plan counts it),
saves and hashes the checkpoint (or records the one you name), scores the model with the evaluator,
and runs the post-run gate. Under torch.distributed only global rank 0 preflights and writes the run
directory; every rank receives the verdict, and a blocked plan stops them all.

Framework callbacks (their frameworks are imported only when these modules are):
`picogate.integrations.hf.PicogateCallback` (transformers `TrainerCallback`) and
`picogate.integrations.lightning.PicogateCallback` (Lightning `Callback`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from picogate.errors import PicogateError
from picogate.result import GateResult


class PreflightBlocked(RuntimeError):
    """The preflight gate refused the run; `result` is the GateResult (every check, observed vs required)."""

    def __init__(self, result: GateResult, *, plan: str | None = None) -> None:
        self.result = result
        self.plan = plan
        super().__init__(explain(result, plan=plan))


def explain(result: GateResult, *, plan: str | None = None, limit: int = 8) -> str:
    """A few lines saying why a run may not start: each stopping check, observed vs required, and the fix."""
    runs = result.runs
    run_id = runs.get_column("run_id")[0] if runs.height == 1 else f"{runs.height} runs"
    head = (f"picogate preflight {result.status} run '{run_id}'" + (f" ({plan})" if plan else "")
            + f" under profile '{result.ruleset.profile}'; the run must not start:")
    lines = [head]
    failing = result.failing()
    for c in failing.head(limit).iter_rows(named=True):
        lines.append(f"  - {c['rule_id']} [{c['effect']}]: {c['message']}")
        lines.append(f"      observed {c['observed']}, required {c['required']}; fix: {c['fix']}")
    if failing.height > limit:
        lines.append(f"  ... and {failing.height - limit} more (see the preflight report)")
    return "\n".join(lines)


@dataclass
class TrainingGate:
    """What `before_training` returns: the preflight verdict and, on rank 0 with a run_dir, the recorder."""

    plan: Path
    result: GateResult
    run_dir: Path | None = None
    recorder: Any = None  # picogate.postrun.RunRecorder on rank 0 when run_dir was given
    profile: Any = None
    rank: int = 0  # global rank: only rank 0 records and judges
    run_id: str | None = None  # the plan's run_id, which names the run in the run directory
    counted: str | None = None  # how the plan counts parameters ('all' or 'scaling')

    @property
    def status(self) -> str:
        return self.result.status


def _stops(status: str, fail_on: str) -> bool:
    if fail_on not in ("block", "warn"):
        raise ValueError(f"fail_on must be 'block' or 'warn', not {fail_on!r}")
    return status == "blocked" or (fail_on == "warn" and status == "warn")


def before_training(plan: str | Path, *, run_dir: str | Path | None = None, profile: Any = None,
                    fail_on: str = "block", overwrite: bool = False, rank: int | None = None,
                    share: Any = None, **preflight_kwargs: Any) -> TrainingGate:
    """Preflight `plan` before the first step; raise `PreflightBlocked` when the run may not start.

    With `run_dir`, a `picogate.postrun.RunRecorder` keeps the plan, the preflight result and the hashes
    of the data it vouched for there (even when blocked: the refusal is evidence too), under the plan's
    `run_id`, and is returned as `gate.recorder`. `fail_on="warn"` also stops on warnings.
    Distributed: call it on every rank. `rank` defaults to the torch.distributed rank (else $RANK) and
    `share` (rank 0's object in, the same object out on every rank) to a broadcast over the process group;
    only rank 0 preflights and writes, and every rank raises when the plan is blocked.

    >>> before_training("examples/plan.yaml").status
    'approved'
    """
    from picogate.integrations._callback import global_rank, ranked_preflight, torch_share

    _stops("approved", fail_on)  # a bad fail_on fails before any work, on every rank
    plan = Path(plan)
    rank = global_rank() if rank is None else rank
    share = torch_share() if share is None else share
    result, recorder, spec = ranked_preflight(plan, run_dir=run_dir, profile=profile, overwrite=overwrite,
                                              rank=rank, share=share, **preflight_kwargs)
    if _stops(result.status, fail_on):
        raise PreflightBlocked(result, plan=str(plan))
    return TrainingGate(plan, result, Path(run_dir) if run_dir is not None else None, recorder, profile, rank,
                        spec.run_id if spec is not None else None, spec.model.counted if spec is not None else None)


def after_training(gate: TrainingGate | str | Path, *, model: Any = None, tokenizer: Any = None,
                   tokens: int | None = None, steps: int | None = None, params: int | None = None,
                   stage: str | None = "base", checkpoint: str | Path | None = None, eval_rows: Any = None,
                   sft_rows: Any = None, heldout_rows: Any = None, external: Any = None,
                   lm_eval: str | Path | Sequence[str | Path] | None = None, eval_config: Any = None,
                   profile: Any = None,
                   baseline: str | Path | None = None, fail_on: str | None = None,
                   mlflow_run_id: str | None = None, mlflow_tracking_uri: str | None = None) -> GateResult | None:
    """The end of training: record what was trained, score the model, and ask the post-run gate.

    With `tokens` and `steps`, the training `stage` is recorded with the parameter count of `model`
    (counted as the plan counts it; or give `params`). The released checkpoint is `checkpoint`, or the
    model's weights saved as RUN_DIR/model.pt. With eval/SFT/held-out/external rows the evaluator scores
    `model` with `tokenizer`; `lm_eval` adds lm-eval results (a results file, or a list of one model's).
    Returns the post-run GateResult (None on ranks other than 0, which record nothing); with `fail_on`
    ('block' or 'warn') raises `ReleaseBlocked` instead of returning a result that stops the release. With
    `mlflow_run_id` the verdict is also logged to that MLflow run.
    """
    if not isinstance(gate, TrainingGate):
        from picogate.postrun import postrun

        result = postrun(Path(gate), profile=profile, baseline=baseline)
    else:
        if gate.run_dir is None:
            raise PicogateError("after_training needs a run directory: call before_training(plan, run_dir=...)")
        from picogate.integrations._callback import EvalSpec, finish_run

        outcome = finish_run(gate, model=model, tokenizer=tokenizer, tokens=tokens, steps=steps, params=params,
                             stage=stage, checkpoint=checkpoint, profile=profile, baseline=baseline,
                             evaluate=EvalSpec(eval_rows, sft_rows, heldout_rows, external, lm_eval, eval_config),
                             mlflow_run_id=mlflow_run_id, mlflow_tracking_uri=mlflow_tracking_uri)
        if outcome is None:
            return None
        result = outcome.result
    if fail_on is not None and _stops(result.status, fail_on):
        raise ReleaseBlocked(result)
    return result


class ReleaseBlocked(RuntimeError):
    """The post-run gate refused the release; `result` is the GateResult."""

    def __init__(self, result: GateResult) -> None:
        self.result = result
        super().__init__(explain(result).replace("preflight", "post-run", 1)
                         .replace("the run must not start", "the model must not be released"))


def __getattr__(name: str) -> Any:
    """`picogate.integrations.HFCallback` / `LightningCallback`, imported (with their framework) on first use."""
    if name == "HFCallback":
        from picogate.integrations.hf import PicogateCallback

        return PicogateCallback
    if name == "LightningCallback":
        from picogate.integrations.lightning import PicogateCallback

        return PicogateCallback
    raise AttributeError(f"module 'picogate.integrations' has no attribute {name!r}")


__all__ = ["PreflightBlocked", "ReleaseBlocked", "TrainingGate", "after_training", "before_training", "explain"]
