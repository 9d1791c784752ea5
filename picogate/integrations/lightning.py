"""PyTorch Lightning: a `Callback` that runs picogate's preflight before `fit` starts.

    from picogate.integrations.lightning import PicogateCallback
    trainer = L.Trainer(max_steps=1000, callbacks=[PicogateCallback("plan.yaml")])
    trainer.fit(model)     # raises picogate.integrations.PreflightBlocked if the plan is blocked

Works with `lightning` (`lightning.pytorch`) or, if that is absent, `pytorch_lightning`; for the
other package's Trainer build a class with `callback_class(pytorch_lightning.Callback)`.
Importing this module imports Lightning; `import picogate` never does.
"""

from __future__ import annotations

from typing import Any

from picogate.integrations._callback import PreflightHook

try:
    from lightning.pytorch import Callback as _Base
except ImportError:
    try:
        from pytorch_lightning import Callback as _Base
    except ImportError as exc:  # not a picogate dependency: the trainer that uses this callback brings it
        raise ImportError("picogate.integrations.lightning needs lightning (pip install lightning) "
                          "or pytorch_lightning") from exc


def callback_class(base: type) -> type:
    """A picogate callback class deriving from `base` (a Lightning `Callback`)."""

    class PicogateCallback(base):  # type: ignore[misc, valid-type]
        """Preflight in `setup(stage='fit')`, before the model moves to a device; a block raises
        `PreflightBlocked`. The run directory's recorder (with `run_dir`) is `callback.gate.recorder`."""

        def __init__(self, plan: Any, *, run_dir: Any = None, profile: Any = None, fail_on: str = "block",
                     overwrite: bool = False, **preflight_kwargs: Any) -> None:
            super().__init__()
            self.hook = PreflightHook(plan, run_dir=run_dir, profile=profile, fail_on=fail_on,
                                      overwrite=overwrite, **preflight_kwargs)

        @property
        def gate(self) -> Any:
            return self.hook.gate

        def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
            if stage == "fit":
                self.hook.run_preflight()

    return PicogateCallback


PicogateCallback = callback_class(_Base)
