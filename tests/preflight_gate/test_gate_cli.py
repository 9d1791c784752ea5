# .venv/bin/python -m pytest tests/preflight_gate/test_gate_cli.py -q
"""`picogate preflight PLAN`: exit 0/1/2, a one-line reason on failure, results written atomically."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from picogate import cli
from picogate.preflight.cli import add_preflight_command


def picogate(argv: list[str]) -> int:
    """`picogate.cli.main` once preflight is wired in; until then, the same parser and error contract."""
    sub = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    if "preflight" in sub.choices:
        try:
            return cli.main(argv)
        except SystemExit as exc:
            return int(exc.code or 0)
    parser = argparse.ArgumentParser(prog="picogate")
    add_preflight_command(parser.add_subparsers())
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except cli.PicogateError as exc:
        print(f"picogate: error: {exc}", file=__import__("sys").stderr)
        return 2


def test_example_approved_and_json_written_beside_the_plan(example: Path, capsys: pytest.CaptureFixture) -> None:
    assert picogate(["preflight", str(example), "--format", "json", "-q"]) == 0
    shown = json.loads(capsys.readouterr().out)
    written = json.loads((example.parent / "plan.preflight.json").read_text())
    assert shown["status"] == written["status"] == "approved"
    assert written["evidence"]["corpus.tokens_estimated"] is True and written["plan"] == str(example)
    assert not list(example.parent.glob(".*.tmp"))


def test_blocked_exits_1_results_and_out_choose_the_files(edit_plan, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    plan = edit_plan(lambda p: p["launch"].update(total_batch_size=1000))
    results, report = tmp_path / "results" / "pf.json", tmp_path / "report" / "pf.md"
    assert picogate(["preflight", str(plan), "--results", str(results), "--out", str(report), "-q",
                     "--format", "markdown"]) == 1
    shown = capsys.readouterr().out
    assert "launch.batch_divides" in shown and report.read_text() == shown  # --out: the chosen format
    assert json.loads(results.read_text())["status"] == "blocked"  # --results: the JSON with the evidence
    assert not (plan.parent / "plan.preflight.json").exists()


@pytest.mark.parametrize(("setup", "reason"), [
    (lambda d: (d / "plan.yaml").write_text("run_id: x\nrun_id: y\n"), "duplicate key 'run_id'"),
    (lambda d: (d / "data/eval/release_eval.jsonl").write_text('{"id": 1, "skill": "math"\n'),
     "release_eval.jsonl:1: invalid JSON"),
    (lambda d: (d / "plan.yaml").unlink(), "plan.yaml: no such file"),
])
def test_cannot_run_exits_2_with_one_line(example: Path, capsys: pytest.CaptureFixture, setup, reason: str) -> None:
    setup(example.parent)
    assert picogate(["preflight", str(example), "-q"]) == 2
    err = capsys.readouterr().err
    assert reason in err and err.count("\n") == 1 and "Traceback" not in err
