# .venv/bin/python -m pytest tests/policy/test_policy_integrations.py -q
"""Trainer integrations: a blocking preflight stops a hand-written loop, a transformers Trainer and a Lightning fit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from policy_support import REPO

from picogate.integrations import PreflightBlocked, TrainingGate, after_training, before_training, explain

APPROVED = REPO / "examples" / "plan.yaml"
BLOCKED = REPO / "examples" / "plan_undertrained.yaml"


def test_import_picogate_never_imports_a_framework():
    code = ("import sys, picogate, picogate.integrations; "
            "bad = [m for m in ('transformers', 'lightning', 'pytorch_lightning', 'torch') if m in sys.modules]; "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True).stdout
    assert out.strip() == "[]"


def test_hand_written_loop_is_stopped_before_the_first_step():
    steps = []
    with pytest.raises(PreflightBlocked) as info:
        before_training(BLOCKED)
        for step in range(10):  # never reached
            steps.append(step)
    assert steps == []
    err = info.value
    assert err.result.status == "blocked"
    assert "budget.planned_to_target" in err.result.failing().get_column("rule_id").to_list()
    msg = str(err)
    assert msg.startswith("picogate preflight blocked run 'tiny-undertrained'")
    assert "budget.planned_to_target [block]" in msg and "fix: schedule more iterations" in msg


def test_approved_plan_starts_and_warn_can_stop(tmp_path: Path):
    gate = before_training(APPROVED)
    assert isinstance(gate, TrainingGate) and gate.status == "approved" and gate.recorder is None
    warn_rules = tmp_path / "warn.yaml"
    warn_rules.write_text("profile: strict\nextends: [release]\nrules:\n"
                          "  - {id: replay.epochs, stage: preflight, severity: warn, check: 'replay.epochs <= 1.0',"
                          " message: m, fix: f}\n")
    assert before_training(APPROVED, profile=warn_rules).status == "warn"
    with pytest.raises(PreflightBlocked, match="preflight warn run 'tiny-release'"):
        before_training(APPROVED, profile=warn_rules, fail_on="warn")
    with pytest.raises(ValueError, match="fail_on"):
        before_training(APPROVED, fail_on="never")


def test_run_dir_records_preflight_even_when_blocked(tmp_path: Path):
    pytest.importorskip("picogate.postrun")
    with pytest.raises(PreflightBlocked):
        before_training(BLOCKED, run_dir=tmp_path / "blocked")
    manifest = json.loads((tmp_path / "blocked" / "run.json").read_text())
    assert manifest["stages"]["preflight"]["status"] == "blocked"
    assert manifest["run_id"] == "tiny-undertrained"  # the plan's run id, not the directory's name
    gate = before_training(APPROVED, run_dir=tmp_path / "ok")
    assert gate.recorder is not None and (tmp_path / "ok" / "preflight.json").is_file()
    gate.recorder.record_training("base", tokens=320_512, steps=313, params=16_000)
    assert json.loads((tmp_path / "ok" / "run.json").read_text())["stages"]["base"]["steps"] == 313


def test_after_training_needs_a_run_dir():
    with pytest.raises(ValueError, match="run directory"):
        after_training(TrainingGate(APPROVED, before_training(APPROVED).result))


def test_explain_lists_the_fix():
    from picogate.preflight.gate import preflight

    text = explain(preflight(BLOCKED), plan="p.yaml", limit=1)
    assert "(p.yaml)" in text and "fix:" in text


# -- transformers ----------------------------------------------------------------------------------

def test_hf_callback_stops_train_begin():
    pytest.importorskip("transformers")
    from transformers.trainer_callback import CallbackHandler, TrainerControl, TrainerState

    from picogate.integrations.hf import PicogateCallback

    cb = PicogateCallback(BLOCKED)
    handler = CallbackHandler([cb], model=None, processing_class=None, optimizer=None, lr_scheduler=None)
    args, state, control = SimpleNamespace(), TrainerState(), TrainerControl()
    with pytest.raises(PreflightBlocked) as info:
        handler.on_train_begin(args, state, control)
    assert info.value.result.status == "blocked"
    ok = PicogateCallback(APPROVED)
    CallbackHandler([ok], None, None, None, None).on_train_begin(args, state, control)
    assert ok.gate.status == "approved"


def test_hf_trainer_is_stopped_before_any_step(tmp_path: Path):
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")  # transformers' Trainer needs it
    torch = pytest.importorskip("torch")
    from transformers import Trainer, TrainingArguments

    from picogate.integrations.hf import PicogateCallback

    steps = []

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Linear(2, 1)

        def forward(self, x, labels=None):  # type: ignore[no-untyped-def]
            steps.append(1)
            loss = ((self.w(x).squeeze(-1) - labels) ** 2).mean()
            return {"loss": loss}

    data = [{"x": torch.randn(2), "labels": torch.tensor(0.0)} for _ in range(8)]
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=4, report_to=[],
                             use_cpu=True, save_strategy="no", logging_strategy="no")
    trainer = Trainer(model=Tiny(), args=args, train_dataset=data, callbacks=[PicogateCallback(BLOCKED)])
    with pytest.raises(PreflightBlocked):
        trainer.train()
    assert steps == []


# -- Lightning -------------------------------------------------------------------------------------

def test_lightning_fit_is_stopped_before_any_step(tmp_path: Path):
    pytest.importorskip("lightning")
    torch = pytest.importorskip("torch")
    import lightning.pytorch as L

    from picogate.integrations.lightning import PicogateCallback

    steps = []

    class Tiny(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Linear(2, 1)

        def training_step(self, batch, batch_idx):  # type: ignore[no-untyped-def]
            steps.append(batch_idx)
            return self.w(batch[0]).pow(2).mean()

        def configure_optimizers(self):  # type: ignore[no-untyped-def]
            return torch.optim.SGD(self.parameters(), lr=0.1)

        def train_dataloader(self):  # type: ignore[no-untyped-def]
            return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(8, 2)), batch_size=4)

    def trainer(cb):  # type: ignore[no-untyped-def]
        return L.Trainer(max_steps=2, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(tmp_path),
                         callbacks=[cb])

    blocked = PicogateCallback(BLOCKED)
    with pytest.raises(PreflightBlocked, match="tiny-undertrained"):
        trainer(blocked).fit(Tiny())
    assert steps == [] and blocked.gate is None
    ok = PicogateCallback(APPROVED)
    trainer(ok).fit(Tiny())
    assert steps == [0, 1] and ok.gate.status == "approved"
