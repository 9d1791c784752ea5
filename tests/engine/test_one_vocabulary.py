# .venv/bin/python -m pytest -q -p no:cacheprovider tests/engine/test_one_vocabulary.py
"""One verdict vocabulary: outcomes, status order, icons and exit statuses are defined once, in
picogate/verdict.py, and every report and command uses them; `rules diff` compiles its checks through the
same `compile_policy` as `evaluate`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import polars as pl
import pytest

import picogate.output
import picogate.verdict as verdict
from picogate.compile import compile_policy
from picogate.evaluate import evaluate
from picogate.policy.diff import diff_rules

PACKAGE = Path(__file__).resolve().parents[2] / "picogate"
SOURCES = {p.relative_to(PACKAGE).as_posix(): p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py")}


@pytest.mark.parametrize("token", ["⛔", "⚠", "✅", "❌"])
def test_icons_are_defined_only_in_verdict(token: str) -> None:
    assert [f for f, src in SOURCES.items() if token in src] == ["verdict.py"]
    assert not [f for f, src in SOURCES.items() if re.search(r"\b_ICON\b", src)]  # no private copy anywhere


def _assigned(src: str) -> set[str]:
    """Module- and class-level names a source assigns."""
    out = set()
    for node in ast.walk(ast.parse(src)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) else []
        for t in targets:
            for n in ast.walk(t):
                if isinstance(n, ast.Name):
                    out.add(n.id)
    return out


@pytest.mark.parametrize("name", ["STATUSES", "STATUS_ORDER", "WORST_FIRST", "ICON", "STYLE", "EFFECTS",
                                  "EXIT_APPROVED", "EXIT_BLOCKED", "EXIT_CANNOT_RUN"])
def test_vocabulary_names_are_assigned_only_in_verdict(name: str) -> None:
    assert [f for f, src in SOURCES.items() if name in _assigned(src)] == ["verdict.py"]


def test_status_orders_and_exit_codes_are_not_restated() -> None:
    status_dict = re.compile(r"""\{\s*["'](?:approved|blocked)["']\s*:\s*(?:\d|["'][^"']*["'])""")
    worst_first = re.compile(r"""\(\s*["']blocked["']\s*,\s*["']warn["']\s*,\s*["']approved["']\s*\)""")
    allowed = {"verdict.py", "postrun/gate.py"}  # gate.py: the honesty verdict's own metric values (pass/warn/fail)
    for f, src in SOURCES.items():
        if f not in allowed:
            assert not status_dict.search(src) and not worst_first.search(src), f
    assert [f for f, src in SOURCES.items() if "def exit_code" in src] == ["verdict.py"]
    assert picogate.output.exit_code is verdict.exit_code
    assert verdict.OUTCOMES == ("pass", "fail", "missing", "error")


def test_every_cli_returns_the_shared_exit_statuses() -> None:
    for f in ("cli.py", "policy/cli.py", "policy/reports.py"):
        returns = re.findall(r"return (\d+)\b", SOURCES[f])
        assert not returns, (f, returns)  # a literal status is a second definition


def test_rules_diff_compiles_through_compile_policy(tmp_path: Path) -> None:
    # only the compiler's own Policy turns checks into expressions
    assert [f for f, src in SOURCES.items() if "compile_check(" in src and not f.startswith("expr/")] == ["compile.py"]
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    body = """
profile: p
metrics:
  x: {{type: float, description: x}}
  tag: {{type: {y_type}, description: tag}}
rules:
  - {{id: x.min, stage: postrun, severity: block, check: "x >= {x_min}", message: m, fix: f}}
  - {{id: tag.ok, stage: postrun, severity: warn, check: "{y_check}", message: m, fix: f}}
  - {{id: x.same, stage: postrun, severity: warn, check: "x <= 100", message: m, fix: f}}
"""
    old.write_text(body.format(y_type="float", x_min="0.5", y_check="tag >= 1"))
    new.write_text(body.format(y_type="string", x_min="0.6", y_check="tag == 'ok'")  # tag re-declared: another type
                   + '  - {id: x.base, stage: postrun, severity: block, message: m, fix: f,\n'
                     '     check: "is_null(baseline.x) or x >= baseline.x"}\n')
    history = pl.DataFrame({"run_id": [f"r{i}" for i in range(8)],
                            "x": [0.55, 0.7, None, 0.4, 0.65, 0.58, 0.9, 150.0],
                            "tag": ["ok", "2", "ok", "no", None, "1", "ok", "ok"]})
    d = diff_rules(old, new, history)
    separately = {rs: dict(evaluate(history, rs).runs.select("run_id", "status").iter_rows()) for rs in (old, new)}
    changed = {r["run_id"]: (r["old"], r["new"]) for r in d.changed.iter_rows(named=True)}
    expected = {rid: (s, separately[new][rid]) for rid, s in separately[old].items() if s != separately[new][rid]}
    assert changed == expected and changed
    # the diff compiled each set with the Policy that evaluate uses, under its own prefix
    assert any(key[2] for key in compile_policy(d.new)._judges)
