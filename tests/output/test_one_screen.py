# .venv/bin/python -m pytest -q -p no:cacheprovider tests/output/test_one_screen.py
"""The default text report is a verdict in one screen (DESIGN.md, "CLI"): per run a status line, then only
what did not pass, one line per check with observed, required and the fix; checks that only lack evidence
collapse into one line per group of missing metrics; `--verbose` lists every check. Off a terminal the
lines are plain and never wrapped, so no value is broken across lines."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import polars as pl
import pytest

from picogate.cli import main
from picogate.evaluate import evaluate
from picogate.report import print_text
from picogate.rules import load_rules

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "metrics.jsonl"


def run_cli(capsys: pytest.CaptureFixture, *argv: object) -> tuple[int, list[str]]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().out.splitlines()


def test_the_headline_command_fits_one_screen_and_tells_the_skill_story(capsys: pytest.CaptureFixture) -> None:
    code, lines = run_cli(capsys, "evaluate", EXAMPLES, "--rules", "skill_release")
    assert code == 1
    assert len(lines) <= 40, "\n".join(lines)
    assert lines[0].startswith("BLOCKED profile skill_release — 4 run(s): 2 blocked, 1 warn, 1 approved")
    result = evaluate(EXAMPLES, "skill_release")
    failing_skills = result.failing().filter(pl.col("rule_id").str.starts_with("skill.pass_rate.")
                                             & (pl.col("outcome") == "fail"))
    assert failing_skills.height >= 1
    for c in failing_skills.iter_rows(named=True):  # each failing skill: one line, observed vs required and the fix
        [line] = [x for x in lines if f" {c['rule_id']} " in x]
        assert re.search(rf"observed {re.escape(c['observed'])} +required {re.escape(c['required'])} +fix: ", line)
        assert line.endswith(c["fix"])
    assert any("skill.pass_rate.math" in x and "observed 0.12" in x and "required >= 0.3" in x for x in lines)
    # a run with no post-run evidence yet is one line, not 41
    assert sum("no post-run evidence: 41 rules" in x for x in lines) == 1
    assert not any(x.startswith(("  pass ", "  ok ")) for x in lines)  # nothing that passed is listed


def test_runs_lead_blocked_then_warn_then_approved_and_blocking_before_warnings(capsys: pytest.CaptureFixture,
                                                                                tmp_path: Path) -> None:
    rules = tmp_path / "order.yaml"
    rules.write_text("""
profile: order
metrics:
  a: {type: float, description: a}
  b: {type: float, description: b}
  c: {type: float, description: c}
rules:
  - {id: a.soft, stage: postrun, severity: warn, check: a >= 0.5, message: m, fix: raise a}
  - {id: b.gate, stage: postrun, severity: block, check: b >= 0.5, message: m, fix: raise b}
  - {id: c.gate, stage: postrun, severity: block, check: c >= 0.5, message: m, fix: raise c}
""")
    metrics = tmp_path / "m.jsonl"
    rows = [{"run_id": "ok", "a": 1, "b": 1, "c": 1}, {"run_id": "soft", "a": 0.1, "b": 1, "c": 1},
            {"run_id": "hard", "a": 0.1, "b": 0.4, "c": 0.1}]
    metrics.write_text("".join(json.dumps(r) + "\n" for r in rows))
    _, lines = run_cli(capsys, "evaluate", metrics, "--rules", rules)
    heads = [x.split(":")[0] for x in lines if x.startswith(("blocked ", "warn ", "approved "))]
    assert heads == ["blocked hard", "warn soft", "approved ok"]
    hard = lines[lines.index(next(x for x in lines if x.startswith("blocked hard"))) + 1:][:3]
    # blocking first, the weakest first (c is 0.4 short, b 0.1)
    assert [x.split()[:2] for x in hard] == [["block", "c.gate"], ["block", "b.gate"], ["warn", "a.soft"]]


def test_no_value_is_broken_across_lines_off_a_terminal(capsys: pytest.CaptureFixture, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    rules = tmp_path / "long.yaml"
    rules.write_text("""
profile: long
metrics:
  tag: {type: string, description: a long tag}
  score: {type: float, description: s}
rules:
  - {id: tag.known, stage: postrun, severity: block, check: "tag == 'ok' and score >= 0.5", message: m,
     fix: "set the tag to ok; it is now {tag}, which is long enough to wrap any eighty-column terminal twice over"}
""")
    tag = "compare.baseline=" + "m" * 120 + "-issing"
    metrics = tmp_path / "m.jsonl"
    metrics.write_text(json.dumps({"run_id": "r-" + "x" * 90, "tag": tag, "score": 0.25}) + "\n")
    _, lines = run_cli(capsys, "evaluate", metrics, "--rules", rules)
    c = evaluate(metrics, rules).failing().row(0, named=True)
    for value in (c["run_id"], c["observed"], c["required"], c["fix"]):  # each whole, on one line
        assert any(value in line for line in lines), value
    assert min(len(c["run_id"]), len(c["observed"]), len(c["fix"])) > 80
    assert not any(line.startswith(" " * 10) for line in lines)  # no continuation lines of a wrapped table


def test_rich_styling_only_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    result = evaluate(EXAMPLES, "skill_release")
    plain, styled = io.StringIO(), Terminal()
    print_text(result, file=plain)
    print_text(result, file=styled)
    assert "\x1b[" not in plain.getvalue() and "\x1b[" in styled.getvalue()
    assert re.sub(r"\x1b\[[0-9;]*m", "", styled.getvalue()).replace("\r", "") == plain.getvalue()


def test_verbose_lists_every_check(capsys: pytest.CaptureFixture) -> None:
    code, lines = run_cli(capsys, "evaluate", EXAMPLES, "--rules", "skill_release", "--verbose")
    assert code == 1
    n_rules = len(load_rules("skill_release").rules)
    for run_id in ("d20-release", "d26-weak-math", "d20-baseline", "d32-training"):
        start = next(i for i, x in enumerate(lines) if x.split(":")[0].endswith(" " + run_id))
        block = []
        for x in lines[start + 1:]:
            if not x.startswith("  "):
                break
            block.append(x)
        assert len(block) == n_rules, (run_id, block)
    approved = lines[next(i for i, x in enumerate(lines) if x.startswith("approved d20-release")) + 1]
    assert approved.split()[0] == "pass" and "fix:" not in approved  # a passing check shows no fix


def test_missing_evidence_collapses_by_stage_and_by_metric_group(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    rows = [json.loads(x) for x in EXAMPLES.read_text().splitlines()]
    full = next(r for r in rows if r["run_id"] == "d20-release")
    no_spelling = json.loads(json.dumps(full)) | {"run_id": "no-spelling"}
    del no_spelling["eval"]["spelling"]
    metrics = tmp_path / "m.jsonl"
    metrics.write_text(json.dumps(no_spelling) + "\n" + json.dumps({"run_id": "nothing", "x": 1}) + "\n")
    _, lines = run_cli(capsys, "evaluate", metrics, "--rules", "skill_release")
    text = "\n".join(lines)
    # one group of missing metrics: one line naming them, the rules and a fix
    [group] = [x for x in lines if "no evidence for eval.spelling." in x]
    assert "eval.spelling.{pass_rate, rows, pass_rate_low}: 3 rules (2 blocking, 1 warning)" in group, group
    assert "(skill.pass_rate.spelling, skill.eval_rows.spelling, skill.pass_rate_bound.spelling)" in group
    assert " — fix: " in group
    # no evidence at all: one line per stage, with the command that produces it
    assert "no preflight evidence: 27 rules (24 blocking, 3 warnings) — run `picogate preflight PLAN`, or pass " \
           "--stage postrun" in text
    assert "no post-run evidence: 41 rules (26 blocking, 15 warnings) — run `picogate eval` then `picogate postrun " \
           "RUN_DIR`, or pass --stage preflight" in text
    assert len(lines) <= 12, text
    # --stage given: the hint does not suggest the other stage
    _, staged = run_cli(capsys, "evaluate", metrics, "--rules", "skill_release", "--stage", "postrun")
    assert any(x.endswith("no post-run evidence: 41 rules (26 blocking, 15 warnings) — run `picogate eval` then "
                          "`picogate postrun RUN_DIR`") for x in staged)


def test_the_readme_shows_what_the_headline_command_prints(capsys: pytest.CaptureFixture) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    command = "picogate evaluate examples/metrics.jsonl --rules skill_release   # blocked (exit 1)\n```\n\n```text\n"
    assert command in readme
    shown = readme[readme.index(command) + len(command):].split("```", 1)[0]
    _, lines = run_cli(capsys, "evaluate", EXAMPLES, "--rules", "skill_release")
    assert shown.splitlines() == lines
