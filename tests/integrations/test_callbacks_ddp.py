# .venv/bin/python -m pytest tests/integrations/test_callbacks_ddp.py -q -p no:cacheprovider
"""The Lightning and Hugging Face callbacks under a real 2-process DDP run: `torchrun`, gloo, CPU.

Rank 1 gets a plan path that does not exist, so it can only go on (or stop) by rank 0's broadcast verdict;
only rank 0 records the run, and the tokens it records are every rank's, summed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from callback_support import BLOCKED, manifest, plan_copy

pytest.importorskip("torch")
HERE = Path(__file__).resolve().parent
STEPS, BATCH, SEQ = 3, 4, 32  # as tests/integrations/ddp_trainers.py trains


def _torchrun(framework: str, plan: Path, tmp: Path) -> dict[int, dict]:
    out = tmp / "seen"
    out.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(HERE / "ddp_trainers.py"), framework, str(plan), str(tmp / "run"), str(out)],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not (out / "rank1-run").exists()  # rank 1's own run directory: never written
    return {r: json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)}


@pytest.mark.parametrize("framework", ["lightning", "hf"])
def test_ddp_rank_zero_judges_records_every_ranks_tokens(tmp_path: Path, framework: str) -> None:
    pytest.importorskip("lightning" if framework == "lightning" else "accelerate")
    plan = plan_copy(tmp_path, run_id=f"ddp-{framework}", counted="all" if framework == "lightning" else "scaling",
                     params=16_000 if framework == "lightning" else 7_500)
    seen = _torchrun(framework, plan, tmp_path)
    assert seen[0]["status"] == seen[1]["status"] == "approved"  # rank 1 had no plan file: rank 0's verdict
    assert (seen[0]["has_recorder"], seen[1]["has_recorder"]) == (True, False)
    assert seen[0]["postrun"] == "blocked" and seen[1]["postrun"] is None  # 768 of 320,512 planned tokens
    assert seen[0]["steps"] == seen[1]["steps"] == STEPS
    base = manifest(tmp_path / "run")["stages"]["base"]
    assert (base["tokens"], base["steps"]) == (2 * STEPS * BATCH * SEQ, STEPS)  # both ranks' batches


@pytest.mark.parametrize("framework", ["lightning", "hf"])
def test_ddp_blocked_plan_stops_every_rank_before_a_step(tmp_path: Path, framework: str) -> None:
    pytest.importorskip("lightning" if framework == "lightning" else "accelerate")
    seen = _torchrun(framework, BLOCKED, tmp_path)
    for rank in (0, 1):
        assert seen[rank]["stopped"] and seen[rank]["steps"] == 0 and seen[rank]["status"] == "blocked"
        assert seen[rank]["message"].startswith("picogate preflight blocked run 'tiny-undertrained'")
    assert manifest(tmp_path / "run")["stages"]["preflight"]["status"] == "blocked"  # written once, by rank 0
