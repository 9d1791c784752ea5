# .venv/bin/python -m pytest tests/engine/test_engine_cli.py -q
"""The `picogate` CLI through a real subprocess: exit codes, formats, atomic --out, rules check."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from engine_helpers import run_cli


@pytest.fixture
def setup(rules_file, tmp_path):  # type: ignore[no-untyped-def]
    (tmp_path / "good.jsonl").write_text('{"run_id": "a", "x": 0.9}\n')
    (tmp_path / "low.jsonl").write_text('{"run_id": "a", "x": 0.1}\n')
    return {"block": rules_file("x >= 0.5"), "warn": rules_file("x >= 0.5", severity="warn", name="w.yaml"),
            "dir": tmp_path}


def test_exit_codes(setup):
    d = setup["dir"]
    assert run_cli("evaluate", d / "good.jsonl", "--rules", setup["block"]).returncode == 0
    assert run_cli("evaluate", d / "low.jsonl", "--rules", setup["warn"]).returncode == 0
    assert run_cli("evaluate", d / "low.jsonl", "--rules", setup["warn"], "--fail-on", "warn").returncode == 1
    assert run_cli("evaluate", d / "low.jsonl", "--rules", setup["block"]).returncode == 1


@pytest.mark.parametrize("case", ["bad_rules", "missing_metrics", "unreadable_metrics", "missing_rules"])
def test_exit_2_one_line(setup, case):
    d = setup["dir"]
    (d / "bad.yaml").write_text("profile: t\nrules:\n  - id: a\n    severty: block\n")
    (d / "bad.jsonl").write_bytes(b'{"run_id": "\xff"}\n')
    args = {"bad_rules": (d / "good.jsonl", d / "bad.yaml"), "missing_metrics": (d / "nope.jsonl", setup["block"]),
            "unreadable_metrics": (d / "bad.jsonl", setup["block"]),
            "missing_rules": (d / "good.jsonl", d / "nope.yaml")}[case]
    proc = run_cli("evaluate", args[0], "--rules", args[1])
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("picogate: error:")


def test_formats(setup):
    d = setup["dir"]
    for fmt in ("json", "markdown", "junit", "text"):
        proc = run_cli("evaluate", d / "low.jsonl", "--rules", setup["block"], "--format", fmt)
        assert proc.returncode == 1, proc.stderr
        if fmt == "json":
            assert json.loads(proc.stdout)["status"] == "blocked"
        elif fmt == "junit":
            assert ET.fromstring(proc.stdout.split("\n", 1)[1]).find("testsuite").get("failures") == "1"
        else:
            assert "blocked" in proc.stdout.lower().splitlines()[0] or "blocked" in proc.stdout.lower()


def test_out_is_atomic(setup):
    d = setup["dir"]
    out = d / "report.json"
    proc = run_cli("evaluate", d / "good.jsonl", "--rules", setup["block"], "--format", "json", "--out", out)
    assert proc.returncode == 0 and json.loads(out.read_text())["status"] == "approved"
    before = out.read_bytes()
    proc = run_cli("evaluate", d / "nope.jsonl", "--rules", setup["block"], "--format", "json", "--out", out)
    assert proc.returncode == 2 and out.read_bytes() == before
    assert not [p for p in d.iterdir() if p.name.startswith(".report.json.")]


def test_rules_check(setup):
    d = setup["dir"]
    ok = run_cli("rules", "check", setup["block"], "skill_release")
    assert ok.returncode == 0 and ok.stdout.count("ok ") == 2
    (d / "typo.yaml").write_text("profile: t\nrules:\n  - id: a.b\n    stage: postrun\n    severity: block\n"
                                 "    check: x >= 0.5 garbage\n    message: m\n    fix: f\n")
    bad = run_cli("rules", "check", d / "typo.yaml")
    assert bad.returncode == 2
    assert "typo.yaml:6:21: rule 'a.b':" in bad.stderr
    assert "  x >= 0.5 garbage\n" in bad.stderr and "\n           ^" in bad.stderr


def test_demo(tmp_path):
    """The demo's behaviour: both plans preflighted, the run trained, evaluated, recorded and judged blocked.

    It trains a model, so it takes ~30 s alone and minutes on a loaded box: the timeout only stops a hang.
    stderr is a pipe here, so no progress bar may reach it.
    """
    out = tmp_path / "demo-run"
    proc = run_cli("demo", "--out", out, "--sft-steps", "100", timeout=1800)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "pretraining" not in proc.stderr and "rows/s" not in proc.stderr
    printed = proc.stdout
    assert printed.index("1. preflight") < printed.index("2. train + eval") < printed.index("3. post-run")
    assert "the release verdict is: BLOCKED" in printed
    run = json.loads((out / "run.json").read_text())
    assert {"preflight", "base", "sft", "eval"} <= set(run["stages"])
    for name in ("model.pt", "eval_results.parquet", "eval_metrics.parquet", "postrun.json", "report.md"):
        assert (out / name).is_file(), name


def test_thread_count_does_not_change_results(setup):
    d = setup["dir"]
    rows = "".join(json.dumps({"run_id": f"r{i}", "x": [0.1, 0.5, None, 0.9][i % 4]}) + "\n" for i in range(400))
    (d / "many.jsonl").write_text(rows)
    outs = [run_cli("evaluate", d / "many.jsonl", "--rules", setup["block"], "--format", "json",
                    env={"POLARS_MAX_THREADS": n}) for n in ("1", "2")]
    assert [o.returncode for o in outs] == [1, 1]
    assert json.loads(outs[0].stdout)["runs"] == json.loads(outs[1].stdout)["runs"]
