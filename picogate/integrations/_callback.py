"""What the framework callbacks share: run the preflight gate once, before training, and stop on a block."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from picogate.integrations import TrainingGate, before_training
from picogate.result import GateResult


class PreflightHook:
    """Holds the settings of a callback and the `TrainingGate` once preflight has run."""

    def __init__(self, plan: str | Path, *, run_dir: str | Path | None = None, profile: Any = None,
                 fail_on: str = "block", overwrite: bool = False, **preflight_kwargs: Any) -> None:
        self.plan = Path(plan)
        self.run_dir = run_dir
        self.profile = profile
        self.fail_on = fail_on
        self.overwrite = overwrite
        self.preflight_kwargs = preflight_kwargs
        self.gate: TrainingGate | None = None

    @property
    def result(self) -> GateResult | None:
        return self.gate.result if self.gate is not None else None

    def run_preflight(self) -> TrainingGate:
        """Preflight once per callback (a second fit() reuses the verdict); raises PreflightBlocked."""
        if self.gate is None:
            self.gate = before_training(self.plan, run_dir=self.run_dir, profile=self.profile,
                                        fail_on=self.fail_on, overwrite=self.overwrite, **self.preflight_kwargs)
        return self.gate
