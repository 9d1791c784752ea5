"""Fixtures: a copy of the shipped example plan and its data in a temp dir, and a plan writer."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """examples/plan.yaml and the data it names, copied to tmp_path; returns the plan path."""
    for sub in ("base", "sft", "eval", "external"):
        shutil.copytree(EXAMPLES / "data" / sub, tmp_path / "data" / sub)
    shutil.copy(EXAMPLES / "plan.yaml", tmp_path / "plan.yaml")
    return tmp_path / "plan.yaml"


@pytest.fixture
def edit_plan(example: Path):
    """Rewrite the copied plan: `edit_plan(lambda p: ...)` gets the plan as a dict to change in place."""

    def edit(change) -> Path:  # type: ignore[no-untyped-def]
        data: dict[str, Any] = yaml.safe_load(example.read_text())
        change(data)
        example.write_text(yaml.safe_dump(data, sort_keys=False))
        return example

    return edit
