# .venv/bin/python -m pytest tests/test_packaging.py
"""The built wheel carries the shipped rules and schemas, and finds them when installed."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr  # hatchling is in the dev extra, so this builds offline
    return next(out.glob("picogate-*.whl"))


def test_wheel_finds_shipped_rules(wheel: Path, tmp_path: Path):
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "picogate/_shipped/rules/skill_release.yaml" in names
        assert "picogate/_shipped/schemas/rules.schema.json" in names
        zf.extractall(site)
    code = (
        "import picogate.paths as p, picogate;"
        "assert '_shipped' in str(p.RULES_DIR), p.RULES_DIR;"
        "rs = picogate.load_rules('skill_release');"
        "print(len(rs.rules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": str(site), "PATH": ""})
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) >= 7
