# .venv/bin/python -m pytest tests/policy/test_policy_main.py -q
"""`python -m picogate.policy` and `picogate` share one error contract (`picogate.cli.dispatch`)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from policy_support import REPO

from picogate.cli import main as cli_main
from picogate.policy.__main__ import main as policy_main


@pytest.mark.parametrize("main", [policy_main, lambda argv: cli_main(["rules", *argv])], ids=["policy", "cli"])
def test_picogate_error_is_one_line_and_exit_2(main, capsys: pytest.CaptureFixture) -> None:
    assert main(["show", "no_such_profile"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("picogate: error: no_such_profile: no profile named") and err.count("\n") == 1


def test_no_action_prints_help_and_exits_2(capsys: pytest.CaptureFixture) -> None:
    assert policy_main([]) == 2
    assert "python -m picogate.policy" in capsys.readouterr().out


def test_module_runs_as_a_process() -> None:
    proc = subprocess.run([sys.executable, "-m", "picogate.policy", "show", "no_such_profile"], capture_output=True,
                          text=True, cwd=REPO, timeout=120, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("picogate: error: no_such_profile:")
