# .venv/bin/python -m pytest -q tests/engine/test_policy_cache.py
"""Loaded and compiled policies are kept between calls (issue 17) but never served stale: a rule
file's content, a parent's content and where a name resolves are checked on every call."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from picogate import RuleError, evaluate, load_rules
from picogate.compile import compile_policy

BASE = """profile: base
metrics:
  m.a: {type: float, description: a}
  m.s: {type: string, description: s}
rules:
  - id: a
    stage: postrun
    severity: block
    check: m.a >= 0.5
    message: "a is {observed}"
    fix: raise a
"""


@pytest.fixture()
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "child.yaml").write_text("profile: child\nextends: [base]\n")
    return tmp_path


def test_the_same_file_gives_the_same_ruleset_and_policy(folder: Path) -> None:
    first = load_rules("child.yaml")
    assert load_rules("child.yaml") is first
    assert load_rules(folder / "child.yaml") is load_rules(folder / "child.yaml")
    assert first.for_stage("postrun") is first.for_stage("postrun")
    assert compile_policy(first) is compile_policy(load_rules("child.yaml"))


def test_a_changed_file_is_read_again_even_with_the_same_size_and_mtime(folder: Path) -> None:
    first = load_rules("child.yaml")
    assert evaluate({"m.a": 0.6}, "child.yaml").status == "approved"
    stat = (folder / "base.yaml").stat()
    (folder / "base.yaml").write_text(BASE.replace("0.5", "0.7"))  # same length
    os.utime(folder / "base.yaml", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert load_rules("child.yaml") is not first
    assert evaluate({"m.a": 0.6}, "child.yaml").status == "blocked"


def test_a_name_that_now_resolves_elsewhere_is_loaded_again(folder: Path) -> None:
    (folder / "child.yaml").write_text("profile: child\nextends: [release]\n")  # the shipped profile
    shipped = load_rules("child.yaml")
    assert any(r.id.startswith("budget.") for r in shipped.rules)
    (folder / "release.yaml").write_text(BASE.replace("profile: base", "profile: release"))  # now found beside it
    local = load_rules("child.yaml")
    assert [r.id for r in local.rules] == ["a"]


def test_a_file_gone_since_is_an_error_not_a_cached_answer(folder: Path) -> None:
    load_rules("child.yaml")
    (folder / "base.yaml").unlink()
    with pytest.raises(RuleError, match="base"):
        load_rules("child.yaml")


def test_one_policy_serves_every_input_schema(folder: Path) -> None:
    """Compiled expressions are kept per input schema: absent, float, text and bad columns each judge right."""
    for frame, want in [
        (pl.DataFrame({"run_id": ["r"], "m.a": [0.6]}), "pass"),
        (pl.DataFrame({"run_id": ["r"]}), "missing"),
        (pl.DataFrame({"run_id": ["r"], "m.a": ["0.4"]}), "fail"),
        (pl.DataFrame({"run_id": ["r"], "m.a": ["abc"]}), "error"),
        (pl.DataFrame({"run_id": ["r"], "m.a": [0.6]}), "pass"),
        (pl.DataFrame({"run_id": ["r"], "m.a": [True]}), "error"),
    ]:
        checks = evaluate(frame, "child.yaml").checks
        assert checks.get_column("outcome").to_list() == [want], frame
