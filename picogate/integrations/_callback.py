"""What the plain API and the framework callbacks share: preflight on global rank 0 with the verdict sent
to every rank, and the end-of-training job (record the training stage and checkpoint, score the model,
run the post-run gate, report the verdict).

Only rank 0 judges and writes the run directory, so a 2-rank run neither preflights twice nor races on
run.json; the other ranks get rank 0's GateResult (or its error) and stop exactly when it stops.
No framework is imported here: torch is looked up in `sys.modules` (a process group exists only if the
trainer already imported it) and imported only to save or count a model the caller handed over.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from picogate.errors import PicogateError
from picogate.result import GateResult

Share = Callable[[Any], Any]  # rank 0's object in, the same object out on every rank (a collective)
CHECKPOINT_FILE = "model.pt"  # what the callbacks save when the caller names no checkpoint


# -- ranks --------------------------------------------------------------------------------------------
def torch_dist() -> Any:
    """`torch.distributed` when a process group is up, else None (torch is never imported for this)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    dist = getattr(torch, "distributed", None)
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    return dist


def global_rank() -> int:
    """This process's global rank: the process group's, else torchrun's RANK, else 0."""
    dist = torch_dist()
    if dist is not None:
        return int(dist.get_rank())
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def torch_share() -> Share | None:
    """A broadcast from rank 0 over the torch.distributed process group, or None without one."""
    dist = torch_dist()
    if dist is None or dist.get_world_size() < 2:
        return None

    def share(obj: Any) -> Any:
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    return share


# -- preflight ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Verdict:
    """What rank 0 sends: the preflight result, or the one-line reason it could not run."""

    result: GateResult | None
    error: str | None = None


def ranked_preflight(plan: Path, *, run_dir: str | Path | None, profile: Any, overwrite: bool, rank: int,
                     share: Share | None, **preflight_kwargs: Any) -> tuple[GateResult, Any, Any]:
    """(result, recorder, loaded plan spec) on rank 0; (result, None, None) elsewhere.

    Rank 0 runs preflight (and records it when `run_dir` is given); with `share`, every other rank
    receives its result. A rank other than 0 with no way to receive it (no process group yet) runs
    the same preflight itself without writing anything: the same plan gives the same verdict.
    """
    if rank != 0:
        if share is not None:
            verdict = share(None)
            if verdict.error is not None:
                raise PicogateError(f"picogate preflight failed on rank 0: {verdict.error}")
            return verdict.result, None, None
        from picogate.preflight.gate import preflight

        return preflight(plan, profile=profile, **preflight_kwargs), None, None
    try:
        from picogate.preflight.plan import load_plan

        spec = load_plan(plan).spec
        recorder = None
        if run_dir is not None:
            recorder = _recorder(run_dir, overwrite, spec.run_id)
            result = recorder.preflight(plan, profile=profile, **preflight_kwargs)
        else:
            from picogate.preflight.gate import preflight

            result = preflight(plan, profile=profile, **preflight_kwargs)
    except BaseException as exc:
        if share is not None:  # the other ranks are waiting for the verdict: tell them why there is none
            share(_Verdict(None, f"{type(exc).__name__}: {exc}".splitlines()[0]))
        raise
    if share is not None:
        share(_Verdict(result))
    return result, recorder, spec


def _recorder(run_dir: str | Path, overwrite: bool, run_id: str) -> Any:
    try:
        from picogate.postrun import RunRecorder
    except ImportError:  # pragma: no cover - only in builds without the post-run gate
        raise PicogateError("run_dir needs picogate.postrun.RunRecorder, which this picogate lacks") from None
    return RunRecorder(run_dir, run_id=run_id, overwrite=overwrite)


# -- the model ----------------------------------------------------------------------------------------
def count_params(model: Any, counted: str = "all") -> int:
    """Parameters of a torch model, counted as a plan counts them (`model.counted` in the plan).

    `all`: every parameter once (a tied lm_head shares the embedding's tensor and is counted once).
    `scaling`: without the embedding matrices, as the plan's architecture formula (12·n_layer·n_embd²)
    leaves them out: every `nn.Embedding`, and the Hugging Face output embedding (`get_output_embeddings`).
    An untied output head that is neither is counted (picogate cannot tell it from another Linear).

    >>> count_params(torch.nn.Linear(4, 2))
    10
    """
    if counted not in ("all", "scaling"):
        raise ValueError(f"counted must be 'all' or 'scaling', not {counted!r}")
    import torch

    params = {id(p): p for p in model.parameters()}
    if counted == "scaling":
        for module in model.modules():
            if isinstance(module, torch.nn.Embedding):
                params.pop(id(module.weight), None)
        head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
        if head is not None and getattr(head, "weight", None) is not None:
            params.pop(id(head.weight), None)
    return sum(p.numel() for p in params.values())


def save_weights(model: Any, path: Path) -> Path:
    """The trained weights as a torch state dict, written atomically: the checkpoint the run releases."""
    import torch

    from picogate.io import atomic_write

    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return atomic_write(path, lambda tmp: torch.save(state, tmp))


# -- the end of training ------------------------------------------------------------------------------
def verdict_metrics(result: GateResult, prefix: str = "picogate.") -> dict[str, Any]:
    """The verdict as loggable values: status (text), its order code (approved 0, warn 1, blocked 2) and counts."""
    from picogate.verdict import STATUS_ORDER

    runs = result.runs
    blocking = int(runs.get_column("blocking").sum()) if "blocking" in runs.columns else None
    warnings = int(runs.get_column("warnings").sum()) if "warnings" in runs.columns else None
    return {f"{prefix}status": result.status, f"{prefix}status_code": STATUS_ORDER[result.status],
            f"{prefix}blocking": blocking, f"{prefix}warnings": warnings}


@dataclass
class EvalSpec:
    """What to score at the end of training (picogate.evaluator.evaluate_model's inputs) and lm-eval results."""

    eval_rows: Any = None
    sft_rows: Any = None
    heldout_rows: Any = None
    external: Mapping[str, Any] | None = None
    lm_eval: str | Path | Sequence[str | Path] | None = None  # one lm-eval results file, or several of one model
    config: Any = None  # picogate.evaluator.EvalConfig
    lm_kwargs: Mapping[str, Any] | None = None  # wrap()'s keywords: device, chat_template, add_bos, ...

    @property
    def scores(self) -> bool:
        return any(x is not None for x in (self.eval_rows, self.sft_rows, self.heldout_rows)) or bool(self.external)

    def check_files(self) -> None:
        """Every row or results file named is a regular file: a typo fails before training, not after it."""
        from picogate.io import regular_file

        lm_eval = [self.lm_eval] if isinstance(self.lm_eval, str | Path) else list(self.lm_eval or ())
        named = [self.eval_rows, self.sft_rows, self.heldout_rows, *lm_eval, *(self.external or {}).values()]
        for item in named:
            if isinstance(item, str | Path):
                regular_file(item, "rows")


def finish_run(gate: Any, *, model: Any = None, tokenizer: Any = None, tokens: int | None = None,
               steps: int | None = None, params: int | None = None, stage: str | None = "base",
               checkpoint: str | Path | None = None, evaluate: EvalSpec | None = None, profile: Any = None,
               baseline: str | Path | None = None, mlflow_run_id: str | None = None,
               mlflow_tracking_uri: str | None = None) -> Any:
    """Record the training stage and checkpoint, score the model, judge the run; rank 0 only.

    Returns the post-run `picogate.postrun.Outcome` (its `.result` is the GateResult), or None on
    another rank. report.md, skills.svg and postrun.json are written into the run directory.
    """
    if gate.rank != 0:
        return None
    rec = gate.recorder
    if rec is None:
        raise PicogateError("the post-run gate needs a run directory: call before_training(plan, run_dir=...)")
    if (tokens is None) != (steps is None):
        raise ValueError("record the training stage with both tokens and steps (or neither)")
    spec = evaluate or EvalSpec()
    spec.check_files()
    if spec.scores and model is None:
        raise PicogateError("scoring at the end of training needs the model: pass model=...")
    counted = gate.counted or "all"
    if params is None and model is not None:
        params = count_params(model, counted)
    if stage and tokens is not None and steps is not None:
        rec.record_training(stage, tokens=int(tokens), steps=int(steps), params=params, params_counted=counted)
    ckpt: Path | None = Path(checkpoint) if checkpoint is not None else None
    if ckpt is None and model is not None:
        ckpt = save_weights(model, rec.path / CHECKPOINT_FILE)
    if ckpt is not None:
        rec.record_checkpoint(ckpt)
    if spec.scores and ckpt is not None:  # ckpt is set: the model was given
        from picogate.evaluator import evaluate_model

        run = evaluate_model(model, tokenizer, eval_rows=spec.eval_rows, sft_rows=spec.sft_rows,
                             heldout_rows=spec.heldout_rows, external=spec.external, run_id=rec.run_id,
                             config=spec.config, out_dir=rec.path, **dict(spec.lm_kwargs or {}))
        rec.record_eval(run, checkpoint=ckpt)
    if spec.lm_eval is not None:
        attach_lm_eval(rec.path, spec.lm_eval)
    from picogate.postrun.gate import run as judge
    from picogate.postrun.report import write_reports

    outcome = judge(rec.path, profile=profile if profile is not None else gate.profile, baseline=baseline)
    write_reports(outcome, rec.path)
    if mlflow_run_id is not None:
        from picogate.integrations.mlflow import log_result

        log_result(outcome.result, mlflow_run_id, tracking_uri=mlflow_tracking_uri)
    return outcome


def attach_lm_eval(run_dir: Path, results: str | Path | Sequence[str | Path]) -> None:
    """Add lm-eval results to the run directory as `picogate attach RUN_DIR --lm-eval RESULTS ...` does."""
    try:
        from picogate.postrun.attach import attach_lm_eval as attach
    except ImportError:  # pragma: no cover - only in builds without lm-eval support
        raise PicogateError("lm-eval results need picogate.postrun.attach, which this picogate lacks") from None
    attach(run_dir, results)
