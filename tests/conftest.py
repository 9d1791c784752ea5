"""Shared fixtures: paths to the shipped rules and a writer for temporary rule files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _outside_github_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run as on a laptop even in CI: under GitHub Actions picogate's default format is `github` and
    every command appends to the job summary; a test that wants that sets these itself."""
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture
def write_rules(tmp_path: Path):
    """Write a rule file from dedented YAML text; returns its path."""

    def write(text: str, name: str = "rules.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write
