# .venv/bin/python -m pytest tests/postrun/test_postrun_demo.py -q
"""`picogate demo` end to end: preflight, train the tiny transformer, eval, honesty, release gate (~30 s)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

pytest.importorskip("torch")


def test_demo_trains_evaluates_and_is_honestly_judged(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from picogate.demo import run_demo
    from picogate.postrun import RunDir, run

    out = tmp_path / "demo-run"
    assert run_demo(argparse.Namespace(format="text", out=str(out))) == 0
    printed = capsys.readouterr().out
    assert printed.index("preflight") < printed.index("post-run")
    assert "budget.planned_to_target" in printed  # the under-trained plan is blocked at preflight
    rd = RunDir(out)
    assert set(rd.stages) == {"preflight", "base", "sft", "eval"}
    assert rd.stages["base"]["tokens"] >= 0.9 * 320_512
    outcome = run(out)
    # honest: the claims match the evidence, and the tiny model is not releasable
    assert outcome.evidence["honesty.status"] == "pass", outcome.evidence["honesty.failing"]
    assert outcome.result.status == "blocked"
    assert outcome.evidence["external.count"] >= 1 and outcome.evidence["sft_heldout.rows"] >= 10
    for name in ("report.md", "skills.svg", "postrun.json", "model.pt", "eval_results.parquet"):
        assert (out / name).is_file(), name
    assert json.loads((out / "postrun.json").read_text())["status"] == "blocked"
