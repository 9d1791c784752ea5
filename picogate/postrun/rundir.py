"""The run directory: what a finished run leaves for the post-run gate, and the API that writes it.

    RUN_DIR/
      run.json              manifest (schemas/run_dir.schema.json): stages, hashes, the released checkpoint
      plan.yaml             the plan, as preflight read it
      preflight.json        the preflight result and its evidence row
      eval_results.parquet  the evaluator's per-row results (eval, SFT, held-out SFT, external benchmarks)
      eval_metrics.parquet  the evaluator's aggregates, one row
      model.pt              the released checkpoint (any file; only its content hash matters)

A trainer embeds picogate in a few lines (docs/run-dir.md):

    rec = RunRecorder("runs/r1")
    rec.preflight("plan.yaml")                                  # or record_preflight(plan, result, evidence)
    rec.record_training("base", tokens=n_tokens, steps=n_steps, params=n_params)
    rec.record_training("sft", tokens=..., steps=..., data_files=["sft.jsonl"])
    rec.record_checkpoint("runs/r1/model.pt")
    rec.record_eval(evaluate_model(..., out_dir="runs/r1"), checkpoint="runs/r1/model.pt")

Every write is atomic and rewrites `run.json`, so a crash leaves the previous complete state.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from picogate.errors import InputError, first_line
from picogate.io import atomic_write, atomic_write_text, read_bounded, regular_file
from picogate.jsonstrict import loads_strict
from picogate.paths import SCHEMAS_DIR

FORMAT = "picogate.run/1"
MANIFEST = "run.json"
PLAN_FILE = "plan.yaml"
PREFLIGHT_FILE = "preflight.json"
RESULTS_FILE = "eval_results.parquet"  # the evaluator's names (picogate.evaluator.output)
METRICS_FILE = "eval_metrics.parquet"
# Files a recorder may write; `overwrite=True` removes exactly these, never anything else.
KNOWN_FILES = (MANIFEST, PLAN_FILE, PREFLIGHT_FILE, RESULTS_FILE, METRICS_FILE)
# Data kinds a plan names, and the evaluator input roles each one vouches for.
ROLE_KIND = {"eval": "eval", "sft_train": "sft"}
_CHUNK = 1 << 20
MAX_JSON_BYTES = 64 << 20  # run.json and preflight.json: a manifest and one run's checks, far below this


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks.

    Only a regular file is hashed (a FIFO would block, a device never end); any OSError is an
    `InputError` naming the file.
    """
    p = regular_file(path, "data")
    h = hashlib.sha256()
    try:
        with open(p, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return h.hexdigest()


def role_kind(role: str) -> str | None:
    """The plan data kind an evaluator input role must come from (None: not declared by plans)."""
    return "external" if role.startswith("external:") else ROLE_KIND.get(role)


def _finite(v: Any) -> Any:
    """NaN/inf are not JSON: a non-finite measurement is recorded as null (missing)."""
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _file_entry(path: Path, kind: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": str(path.resolve()), "sha256": sha256_file(path)}
    return {"kind": kind, **entry} if kind else entry


class RunRecorder:
    """Writes a run directory stage by stage. Each method records one stage and returns its entry."""

    def __init__(self, run_dir: str | Path, *, run_id: str | None = None, overwrite: bool = False) -> None:
        self.path = Path(run_dir)
        manifest = self.path / MANIFEST
        if manifest.exists() and not overwrite:
            raise InputError(f"{manifest}: a run is already recorded here; pass overwrite=True to start over")
        self.path.mkdir(parents=True, exist_ok=True)
        if overwrite:
            for name in KNOWN_FILES:
                (self.path / name).unlink(missing_ok=True)
        self.manifest: dict[str, Any] = {"format": FORMAT, "run_id": run_id or self.path.resolve().name,
                                         "created": _now(), "stages": {}, "artifacts": {}, "release": None}
        self._save()

    @classmethod
    def resume(cls, run_dir: str | Path, *, run_id: str | None = None) -> RunRecorder:
        """A recorder that adds stages to the run recorded at `run_dir` (a new run when there is none).

        `picogate eval --out D` uses it so that scoring a trained run's checkpoint adds the eval stage to
        what training recorded instead of starting over. The manifest is read as `RunDir` reads it
        (schema-checked); a `run_id` that differs from the recorded one is an error, never a rename.
        """
        path = Path(run_dir)
        if not os.path.lexists(path / MANIFEST):
            return cls(path, run_id=run_id)
        recorded = RunDir(path)
        if run_id is not None and run_id != recorded.run_id:
            raise InputError(f"{path / MANIFEST}: records run {recorded.run_id!r}, not {run_id!r}")
        rec = cls.__new__(cls)
        rec.path, rec.manifest = path, recorded.manifest
        return rec

    @staticmethod
    def recorded_run_id(run_dir: str | Path) -> str | None:
        """The run id recorded at `run_dir`, or None when no run is recorded there."""
        path = Path(run_dir)
        return RunDir(path).run_id if os.path.lexists(path / MANIFEST) else None

    @property
    def run_id(self) -> str:
        return str(self.manifest["run_id"])

    # -- stages ------------------------------------------------------------------------------
    def preflight(self, plan: str | Path, *, profile: Any = None, **kwargs: Any) -> Any:
        """Run the preflight gate on `plan` and record it; returns its GateResult."""
        from picogate.preflight.gate import run

        result, evidence = run(plan, profile=profile, **kwargs)
        self.record_preflight(plan, result, evidence)
        return result

    def record_preflight(self, plan: str | Path, result: Any, evidence: Mapping[str, Any]) -> dict[str, Any]:
        """Keep the plan, the preflight verdict and evidence, and the hash of every data file it named."""
        from picogate.preflight.plan import load_plan
        from picogate.yamlstrict import MAX_BYTES as MAX_YAML_BYTES

        plan_path = Path(plan)
        loaded = load_plan(plan_path)
        data_files = []
        for kind in ("sft", "eval", "external"):
            found, _ = loaded.resolve(getattr(loaded.spec.data, kind))
            data_files += [_file_entry(p, kind) for p in found]
        plan_bytes = read_bounded(plan_path, MAX_YAML_BYTES, "plan")  # the bytes load_plan just accepted
        atomic_write(self.path / PLAN_FILE, lambda tmp: tmp.write_bytes(plan_bytes))
        payload = {**result.to_dict(), "evidence": {k: _finite(v) for k, v in evidence.items()}}
        atomic_write_text(self.path / PREFLIGHT_FILE,
                          json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
        entry = {"finished": _now(), "status": result.status, "profile": result.ruleset.profile,
                 "plan": PLAN_FILE, "result": PREFLIGHT_FILE, "data_files": data_files}
        return self._stage("preflight", entry, artifacts=(PLAN_FILE, PREFLIGHT_FILE))

    def record_training(self, stage: str, *, tokens: int, steps: int, params: int | None = None,
                        params_counted: str = "all", data_files: Iterable[str | Path] = (),
                        **extra: Any) -> dict[str, Any]:
        """A training stage (`base` pretraining, `sft`, ...): tokens actually trained, optimizer steps,
        the model's parameter count (counted as the plan counts it) and the data files it read."""
        if not isinstance(tokens, int) or not isinstance(steps, int) or tokens < 0 or steps < 0:
            raise ValueError(f"record_training({stage!r}): tokens and steps must be non-negative ints")
        entry: dict[str, Any] = {"finished": _now(), "tokens": tokens, "steps": steps}
        if params is not None:
            entry |= {"params": int(params), "params_counted": params_counted}
        entry["data_files"] = [_file_entry(Path(p)) for p in data_files]
        return self._stage(stage, entry | extra)

    def record_checkpoint(self, path: str | Path) -> dict[str, Any]:
        """The checkpoint to be released, and its content hash at the end of training."""
        p = Path(path)
        self.manifest["release"] = {"checkpoint": self._rel(p), "sha256": sha256_file(p), "recorded": _now()}
        self._save()
        return self.manifest["release"]

    def record_eval(self, eval_run: Any = None, *, checkpoint: str | Path) -> dict[str, Any]:
        """The evaluator's tables and the hash of the checkpoint that was evaluated.

        `eval_run` is what `evaluate_model` returned; its tables are written here unless it already
        wrote them into this directory (`out_dir=run_dir`). With `eval_run=None` the tables must be
        in the directory already.
        """
        results, metrics = self.path / RESULTS_FILE, self.path / METRICS_FILE
        if eval_run is not None and (eval_run.paths is None
                                     or {p.resolve() for p in eval_run.paths} != {results.resolve(),
                                                                                  metrics.resolve()}):
            from picogate.evaluator.output import write_run

            write_run(eval_run.results, eval_run.metrics_table, self.path)
        for p in (results, metrics):
            if not p.is_file():
                raise InputError(f"{p}: the evaluator's table is missing; run evaluate_model(out_dir=...)")
        entry = {"finished": _now(), "checkpoint": self._rel(Path(checkpoint)),
                 "checkpoint_sha256": sha256_file(checkpoint), "results": RESULTS_FILE,
                 "metrics": METRICS_FILE, "inputs": read_inputs(results)}
        return self._stage("eval", entry, artifacts=(RESULTS_FILE, METRICS_FILE))

    def record_attached(self, stage: str, entry: dict[str, Any], *, files: Iterable[str] = ()) -> dict[str, Any]:
        """Evidence produced outside picogate (`picogate attach`: lm-eval results): the stage entry, and the
        tables written into the run directory (`files`), hashed as artifacts so later edits show."""
        return self._stage(stage, {"finished": _now(), **entry}, artifacts=files)

    # -- plumbing ----------------------------------------------------------------------------
    def _stage(self, name: str, entry: dict[str, Any], artifacts: Iterable[str] = ()) -> dict[str, Any]:
        self.manifest["stages"][name] = entry
        for a in artifacts:
            self.manifest["artifacts"][a] = sha256_file(self.path / a)
        self._save()
        return entry

    def _rel(self, p: Path) -> str:
        try:
            return str(p.resolve().relative_to(self.path.resolve()))
        except ValueError:
            return str(p.resolve())

    def _save(self) -> None:
        atomic_write_text(self.path / MANIFEST, json.dumps(self.manifest, indent=2, ensure_ascii=False) + "\n")


def read_inputs(results: Path) -> list[dict[str, Any]]:
    """The input files (role, path, sha256, rows) the evaluator recorded in its results' metadata."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(results).metadata or {}
    raw = meta.get(b"picogate.eval")
    if raw is None:
        return []
    meta = loads_strict(raw, f"{results}: metadata picogate.eval")
    return list(meta.get("inputs", [])) if isinstance(meta, dict) else []


@cache
def _validator() -> Any:
    import jsonschema

    schema = json.loads((SCHEMAS_DIR / "run_dir.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


class RunDir:
    """A run directory opened for reading; `manifest` is validated against the published schema."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        file = self.path / MANIFEST
        if not self.path.is_dir():
            what = "not a directory" if os.path.lexists(self.path) else "no such run directory"
            raise InputError(f"{self.path}: {what}")
        if not os.path.lexists(file):  # present but not a regular file: refused by name in _read_json
            raise InputError(f"{file}: missing; a run directory is written by picogate.postrun.RunRecorder "
                             "(see docs/run-dir.md)")
        self.manifest = _read_json(file)
        from jsonschema.exceptions import best_match

        err = best_match(_validator().iter_errors(self.manifest))
        if err is not None:
            where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
            raise InputError(f"{file}: {where}: {err.message}")

    @property
    def run_id(self) -> str:
        return str(self.manifest["run_id"])

    @property
    def stages(self) -> dict[str, dict[str, Any]]:
        return self.manifest["stages"]

    def file(self, rel: str) -> Path:
        p = Path(rel)
        return p if p.is_absolute() else self.path / p

    def preflight(self) -> dict[str, Any] | None:
        """The recorded preflight result (status, checks, evidence), or None when there is none."""
        entry = self.stages.get("preflight")
        if entry is None or not os.path.lexists(self.file(entry["result"])):
            return None
        return _read_json(self.file(entry["result"]))

    def table(self, name: str) -> Any:
        """An evaluator parquet table (pyarrow), or None when absent; unreadable is an InputError."""
        import pyarrow.parquet as pq

        p = self.path / name
        if not os.path.lexists(p):
            return None
        regular_file(p, "parquet")  # pyarrow would block on a FIFO
        try:
            return pq.read_table(p)
        except Exception as exc:  # truncated or foreign files raise many types
            raise InputError(f"{p}: cannot read as parquet ({first_line(exc)})") from None


def _read_json(path: Path) -> dict[str, Any]:
    obj = loads_strict(read_bounded(path, MAX_JSON_BYTES, "JSON"), str(path))
    if not isinstance(obj, dict):
        raise InputError(f"{path}: expected a JSON object")
    return obj
