"""picogate inside a trainer: preflight before the first step, a recorder during, post-run after.

    from picogate.integrations import before_training, after_training

    gate = before_training("plan.yaml", run_dir="runs/d20")   # raises PreflightBlocked if the plan is blocked
    for step in range(num_iterations):
        ...                                                   # your loop, unchanged
    gate.recorder.record_training("base", tokens=tokens_seen, steps=num_iterations, params=n_params)
    gate.recorder.record_checkpoint("runs/d20/model.pt")
    gate.recorder.record_eval(eval_run, checkpoint="runs/d20/model.pt")
    result = after_training(gate)                             # may the model be released?

Framework callbacks (their frameworks are imported only when these modules are):
`picogate.integrations.hf.PicogateCallback` (transformers `TrainerCallback`) and
`picogate.integrations.lightning.PicogateCallback` (Lightning `Callback`).
"""

from __future__ import annotations

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
    """What `before_training` returns: the preflight verdict, and the run directory's recorder if any."""

    plan: Path
    result: GateResult
    run_dir: Path | None = None
    recorder: Any = None  # picogate.postrun.RunRecorder when run_dir was given
    profile: Any = None

    @property
    def status(self) -> str:
        return self.result.status


def _stops(status: str, fail_on: str) -> bool:
    if fail_on not in ("block", "warn"):
        raise ValueError(f"fail_on must be 'block' or 'warn', not {fail_on!r}")
    return status == "blocked" or (fail_on == "warn" and status == "warn")


def before_training(plan: str | Path, *, run_dir: str | Path | None = None, profile: Any = None,
                    fail_on: str = "block", overwrite: bool = False, **preflight_kwargs: Any) -> TrainingGate:
    """Preflight `plan` before the first step; raise `PreflightBlocked` when the run may not start.

    With `run_dir`, a `picogate.postrun.RunRecorder` keeps the plan, the preflight result and the hashes
    of the data it vouched for there (even when blocked: the refusal is evidence too), and is returned
    as `gate.recorder` for the rest of the run. `fail_on="warn"` also stops on warnings.

    >>> before_training("examples/plan.yaml").status
    'approved'
    """
    plan = Path(plan)
    recorder = None
    if run_dir is not None:
        recorder = _recorder(run_dir, overwrite)
        result = recorder.preflight(plan, profile=profile, **preflight_kwargs)
    else:
        from picogate.preflight.gate import preflight

        result = preflight(plan, profile=profile, **preflight_kwargs)
    if _stops(result.status, fail_on):
        raise PreflightBlocked(result, plan=str(plan))
    return TrainingGate(plan, result, Path(run_dir) if run_dir is not None else None, recorder, profile)


def after_training(gate: TrainingGate | str | Path, *, profile: Any = None, baseline: str | Path | None = None,
                   fail_on: str | None = None) -> GateResult:
    """The post-run gate on the run directory: may the model be released?

    Returns the GateResult; with `fail_on` ('block' or 'warn') raises `ReleaseBlocked` instead of
    returning a result that stops the release.
    """
    run_dir = gate.run_dir if isinstance(gate, TrainingGate) else Path(gate)
    if run_dir is None:
        raise PicogateError("after_training needs a run directory: call before_training(plan, run_dir=...)")
    if profile is None and isinstance(gate, TrainingGate):
        profile = gate.profile
    try:
        from picogate.postrun import postrun
    except ImportError:  # pragma: no cover - only in builds without the post-run gate
        raise PicogateError("this picogate has no post-run gate (picogate.postrun)") from None
    result = postrun(run_dir, profile=profile, baseline=baseline)
    if fail_on is not None and _stops(result.status, fail_on):
        raise ReleaseBlocked(result)
    return result


class ReleaseBlocked(RuntimeError):
    """The post-run gate refused the release; `result` is the GateResult."""

    def __init__(self, result: GateResult) -> None:
        self.result = result
        super().__init__(explain(result).replace("preflight", "post-run", 1)
                         .replace("the run must not start", "the model must not be released"))


def _recorder(run_dir: str | Path, overwrite: bool) -> Any:
    try:
        from picogate.postrun import RunRecorder
    except ImportError:  # pragma: no cover - only in builds without the post-run gate
        raise PicogateError("run_dir needs picogate.postrun.RunRecorder, which this picogate lacks") from None
    return RunRecorder(run_dir, overwrite=overwrite)


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
