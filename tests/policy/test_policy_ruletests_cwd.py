# .venv/bin/python -m pytest -q -p no:cacheprovider tests/policy/test_policy_ruletests_cwd.py
"""`picogate rules test` says what it tests (issue 13): with no rules/tests/ in the working directory and no
paths it says so and exits 2. It used to run the shipped tests against the shipped profiles ("65 passed")
even after the user had weakened their own rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from policy_support import REPO, rules_process

from picogate.errors import PicogateError
from picogate.paths import RULES_DIR
from picogate.policy.ruletests import run_rule_tests
from picogate.yamlstrict import load_file

WEAK = "profile: release\nrules:\n  - {id: budget.planned_to_target, stage: preflight, severity: warn,\n" \
       "     check: planned_to_target_ratio >= 0.1, message: m, fix: f}\n"


def test_no_rules_tests_here_is_exit_2_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "release.yaml").write_text(WEAK)  # the user's own, weakened profile
    proc = rules_process("test", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no rules/tests/ folder" in proc.stderr and "passed" not in proc.stdout
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_api_without_paths_refuses_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PicogateError, match="no rules/tests/ folder"):
        run_rule_tests()


def test_the_users_own_tests_run_against_the_users_own_profile(tmp_path: Path) -> None:
    (tmp_path / "rules" / "tests").mkdir(parents=True)
    (tmp_path / "rules" / "release.yaml").write_text(WEAK)
    (tmp_path / "rules" / "tests" / "t.yaml").write_text(
        "profile: release\nstage: preflight\ncases:\n  - name: 8:1 of a 20:1 claim is blocked\n"
        "    metrics: {planned_to_target_ratio: 0.4}\n"
        "    expect: {status: blocked, failing: [budget.planned_to_target]}\n")
    proc = rules_process("test", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the weakened rule lets it through: caught
    assert "1 failed" in proc.stdout


def test_shipped_tests_run_when_named(tmp_path: Path) -> None:
    proc = rules_process("test", RULES_DIR / "tests", cwd=tmp_path)
    assert proc.returncode == 0 and "0 failed" in proc.stdout, proc.stdout + proc.stderr


def test_repo_root_still_finds_rules_tests() -> None:
    proc = rules_process("test", cwd=REPO)
    assert proc.returncode == 0 and "0 failed" in proc.stdout, proc.stdout + proc.stderr


def test_pre_commit_hook_runs_in_the_users_repository_root() -> None:
    hook = next(h for h in load_file(REPO / ".pre-commit-hooks.yaml").data if h["id"] == "picogate-rules-test")
    assert hook["entry"] == "picogate rules test" and hook["pass_filenames"] is False
    assert "rules/tests/" in hook["description"]
