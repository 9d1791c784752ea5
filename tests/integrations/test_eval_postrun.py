# .venv/bin/python -m pytest tests/integrations/test_eval_postrun.py -q -p no:cacheprovider
"""eval -> postrun as the README documents it: the README's own commands, run as written, in a scratch
directory (with a briefly trained tiny model standing in for the demo's checkpoint); and files for humans
honour the umask while still being written atomically."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from test_docs_commands import parse  # the docs' one parser of runnable blocks

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
OUT = "runs/r1"


def readme_eval_postrun() -> list[tuple[str, int]]:
    """The README's commands that write and judge runs/r1, with their documented exit status, in order."""
    commands = [c for b in parse(REPO / "README.md") if b.runnable for c in b.commands if OUT in c.text]
    return [(c.text, c.exit) for c in commands]


def _bash(command: str, cwd: Path, umask: str = "022") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY"}}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(["bash", "-c", f"umask {umask}\n{command}"], cwd=cwd, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600, check=False)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_readme_eval_then_postrun_works_as_written(tmp_path: Path):
    pytest.importorskip("torch")
    commands = readme_eval_postrun()
    assert [text.split()[:2] for text, _ in commands] == [["picogate", "eval"], ["picogate", "postrun"]]
    (tmp_path / "examples").symlink_to(REPO / "examples")  # the README runs from the repository root
    (tmp_path / "demo-run").mkdir()
    trained = _bash("python examples/tiny_model.py --steps 2 --out demo-run/model.pt", tmp_path)
    assert trained.returncode == 0, trained.stdout
    for text, documented in commands:
        ran = _bash(text, tmp_path)
        assert ran.returncode == documented, f"{text}\nexit {ran.returncode}, documented {documented}\n{ran.stdout}"
        assert "Traceback" not in ran.stdout and "internal error" not in ran.stdout, ran.stdout
    run_dir = tmp_path / OUT
    manifest = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    checkpoint = hashlib.sha256((tmp_path / "demo-run" / "model.pt").read_bytes()).hexdigest()
    assert manifest["run_id"] == "r1" and set(manifest["stages"]) == {"eval"}
    assert manifest["stages"]["eval"]["checkpoint_sha256"] == checkpoint
    assert [i["role"] for i in manifest["stages"]["eval"]["inputs"]] == ["eval"]
    post = json.loads((run_dir / "postrun.json").read_text(encoding="utf-8"))
    assert post["status"] == "blocked"
    failing = post["evidence"]["honesty.failing"]
    # What eval cannot know is reported precisely as missing; what it recorded checks out.
    for missing in ("honesty.stages.preflight", "honesty.stages.base", "honesty.stages.sft"):
        assert missing in failing, failing
    for ok in ("honesty.stages.eval", "honesty.aggregates", "honesty.artifacts"):
        assert ok not in failing, failing
    assert post["evidence"]["stages.missing"] == "base, preflight, sft"
    # Files for people: readable by the group and others under umask 022, like any file `open()` creates.
    for name in ("run.json", "eval_results.parquet", "eval_metrics.parquet", "report.md", "postrun.json",
                 "skills.svg"):
        assert _mode(run_dir / name) == 0o644, name

    # eval again into the same run directory adds to it under the recorded run id; another id is refused.
    eval_command = commands[0][0].split("#")[0].strip()
    again = _bash(eval_command, tmp_path)
    assert again.returncode == 0 and json.loads((run_dir / "run.json").read_text())["run_id"] == "r1"
    other = _bash(eval_command + " --run-id other", tmp_path)
    assert other.returncode == 2 and "records run 'r1'" in other.stdout and "Traceback" not in other.stdout


UMASK_PROBE = """
import os, sys
from pathlib import Path
from picogate.io import atomic_write_text, current_umask
os.umask(int(sys.argv[2], 8))
target = Path(sys.argv[1])
atomic_write_text(target, "first\\n")
assert current_umask() == int(sys.argv[2], 8)
def crash(tmp):
    tmp.write_text("half")
    raise RuntimeError("crash mid-write")
try:
    from picogate.io import atomic_write
    atomic_write(target, crash)
except RuntimeError:
    pass
print(oct(os.stat(target).st_mode & 0o777), target.read_text().strip(), sorted(p.name for p in target.parent.iterdir()))
"""


@pytest.mark.parametrize(("umask", "mode"), [("022", "0o644"), ("027", "0o640"), ("077", "0o600")])
def test_atomic_writes_honour_the_umask(tmp_path: Path, umask: str, mode: str):
    """In a child process, since the umask is process-wide: the mode open() would give, and a crash
    mid-write leaves the previous file whole and no temp file behind."""
    target = tmp_path / "report.md"
    out = subprocess.run([sys.executable, "-c", UMASK_PROBE, str(target), umask], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout.split(maxsplit=2)
    assert out[0] == mode and out[1] == "first" and out[2].strip() == "['report.md']"
