# .venv/bin/python -m pytest -q tests/engine/test_number_limits.py
"""Numbers a rule file cannot mean exactly are refused at load, with file, line and column:
underflow to 0 in a check or in YAML, and digit strings too long to parse (Python's int() refuses
more than 4,300 digits with a ValueError, which was an internal error)."""

from __future__ import annotations

from pathlib import Path

import pytest

from picogate import RuleError, load_rules
from picogate.cli import main

HEAD = """profile: limits
metrics:
  m.a: {type: float, description: a}
rules:
  - id: t
    stage: postrun
    severity: block
"""


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "limits.yaml"
    path.write_text(HEAD + body)
    return path


def test_a_literal_that_underflows_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "    check: m.a >= 1e-400\n    message: m\n    fix: f\n")
    with pytest.raises(RuleError, match=r"limits\.yaml:8:.*1e-400.* too small for a 64-bit float"):
        load_rules(path)
    assert load_rules(_write(tmp_path, "    check: m.a >= 0e-400\n    message: m\n    fix: f\n"))  # a real zero


def test_a_yaml_threshold_that_underflows_is_refused(tmp_path: Path) -> None:
    body = ("    per_category:\n      name: k\n      values: {x: 1.0e-400}\n"
            "    check: m.a >= {threshold}\n    message: m\n    fix: f\n")
    with pytest.raises(RuleError, match=r"limits\.yaml:10:\d+: .*too small for a 64-bit float"):
        load_rules(_write(tmp_path, body))


def test_a_5000_digit_threshold_is_a_rule_error_not_an_internal_error(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture) -> None:
    body = ("    per_category:\n      name: k\n      values: {x: " + "9" * 5000 + "}\n"
            "    check: m.a >= {threshold}\n    message: m\n    fix: f\n")
    path = _write(tmp_path, body)
    with pytest.raises(RuleError, match="5000 characters"):
        load_rules(path)
    assert main(["rules", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "internal error" not in err and "too long for a number" in err
