# .venv/bin/python -m pytest -q -p no:cacheprovider tests/output/test_inert_reports.py
"""`picogate evaluate` reports keep data inert (DESIGN.md, "Output is inert"), and text/markdown
build check rows only for the runs they print."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import polars as pl
import pytest
from output_support import assert_inert_markdown, command_lines, output_lines, parse_junit, write_rules

from picogate.cli import main
from picogate.evaluate import evaluate
from picogate.report import print_text, to_junit_xml, to_markdown
from picogate.result import GateResult

INJECT = "\n::error file=a.py,line=1::pwned"


def cli(tmp_path: Path, capsys, rows: list[dict], fmt: str) -> tuple[int, str]:
    metrics = tmp_path / "m.jsonl"
    metrics.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    code = main(["evaluate", str(metrics), "--rules", str(write_rules(tmp_path)), "--format", fmt])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["text", "junit", "markdown", "json"])
def test_a_newline_in_run_id_or_string_metric_starts_no_workflow_command(tmp_path: Path, capsys, fmt: str):
    rows = [{"run_id": "r" + INJECT, "score": 0.1, "tag": "ok"}, {"run_id": "plain", "score": 0.1, "tag": INJECT}]
    code, out = cli(tmp_path, capsys, rows, fmt)
    assert code == 1
    assert not command_lines(out), out
    if fmt == "json":
        assert [r["run_id"] for r in json.loads(out)["runs"]] == ["r" + INJECT, "plain"]  # JSON keeps data exact
    if fmt == "junit":
        assert [s.get("name") for s in parse_junit(out)] == ["r\\n:\u2060:error file=a.py,line=1:\u2060:pwned", "plain"]


def test_a_long_datum_wrapped_by_the_terminal_starts_no_workflow_command(tmp_path: Path, capsys):
    rows = [{"run_id": "x" * 70 + " ::error::wrapped", "score": 0.1, "tag": "y" * 75 + " ::error::wrapped"}]
    code, out = cli(tmp_path, capsys, rows, "text")
    assert code == 1 and "error" in out
    assert not command_lines(out), out


HOSTILE_IDS = ["`tick`\n# heading", "# heading", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
               "a|b||c", "``` fence", "[click](https://evil)", "&lt;b&gt;"]


def test_markdown_shows_hostile_run_ids_as_text(tmp_path: Path):
    rules = write_rules(tmp_path)
    result = evaluate([{"run_id": rid, "score": 0.1, "tag": rid} for rid in HOSTILE_IDS], rules)
    md = to_markdown(result)
    assert_inert_markdown(md, headings=1 + len(HOSTILE_IDS))
    assert "&lt;script>alert(1)&lt;/script>" in md and "&amp;lt;b&amp;gt;" in md
    assert "\\[click\\](https://evil)" in md


@pytest.mark.parametrize("bad", ["\x00", "\x01", "\x1b[31m", "\ufffe", "\x0c\x7f\x9b"])
def test_junit_parses_with_control_characters_anywhere(tmp_path: Path, bad: str):
    rules = write_rules(tmp_path)
    result = evaluate([{"run_id": f"id{bad}", "score": 0.1, "tag": f"tag{bad}"}], rules)
    root = parse_junit(to_junit_xml(result))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name", "").startswith("id\\")
    failure = suite.find("testcase/failure")
    assert failure is not None and failure.get("message", "").startswith("score 0.1 for 'tag\\")


class _Terminal(io.StringIO):
    """A file that says it is a terminal: `print_text` styles it with rich."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("terminal", [False, True], ids=["plain", "rich"])
@pytest.mark.parametrize("rid", ["[link=https://evil]x[/link]", "[bold red]x[/]", "[/]", "x\\", ":warning: :smile:"])
def test_text_prints_rich_markup_in_data_literally(tmp_path: Path, capsys, rid: str, terminal: bool):
    code, out = cli(tmp_path, capsys, [{"run_id": rid, "score": 0.1, "tag": rid}], "text")
    assert code == 1, out  # not 2, "internal error: MarkupError"
    if terminal:  # the styled path: data reaches rich as Text, never as markup or emoji codes
        buf = _Terminal()
        print_text(evaluate([{"run_id": rid, "score": 0.1, "tag": rid}], write_rules(tmp_path)), file=buf)
        assert "\x1b[" in buf.getvalue()  # styled, so rich did render it
        out = re.sub("\x1b\\[[0-9;]*m", "", buf.getvalue())
    assert f"blocked {rid}: 0 passed" in out
    data = re.escape(f"'{rid}'")
    assert re.search(rf"observed 0\.1 +required >= 0\.5 +fix: retrain {data}\n", out), out
    assert re.search(rf"observed {data} +required == 'ok' +fix: set tag \(now {data}\)\n", out), out


def test_json_output_round_trips_every_datum(tmp_path: Path, capsys):
    rid = "\x00\x1b[31m::error::x\n<script>`|"
    code, out = cli(tmp_path, capsys, [{"run_id": rid, "score": 0.1, "tag": rid}], "json")
    assert code == 1
    data = json.loads(out)
    assert data["runs"][0]["run_id"] == rid
    assert {c["run_id"] for c in data["checks"]} == {rid}
    assert not command_lines(out)


# -- report memory: check rows only for the runs a report prints -----------------------------------

@pytest.fixture
def many(tmp_path: Path) -> GateResult:
    n = 300
    return evaluate(pl.DataFrame({"run_id": [f"r{i:03d}" for i in range(n)],
                                  "score": [0.9 if i % 3 else 0.1 for i in range(n)],
                                  "tag": ["ok" if i % 5 else "odd" for i in range(n)]}), write_rules(tmp_path))


def test_text_and_markdown_never_build_the_full_checks_table(many: GateResult):
    md = to_markdown(many, max_runs=5)
    buf = io.StringIO()
    print_text(many, max_runs=4, file=buf)
    assert "checks" not in many.__dict__  # the cached full table was never computed
    shown = [line.split(" ")[2].rstrip(":") for line in md.splitlines() if line.startswith("### ")]
    assert shown == ["`r000`", "`r003`", "`r006`", "`r009`", "`r012`"]  # blocked first, in input order
    assert "_295 more run(s) not shown" in md
    assert "300 run(s): 100 blocked, 40 warn, 160 approved" in md
    text_runs = [line.split(" ")[1].rstrip(":") for line in output_lines(buf.getvalue())
                 if line.startswith(("blocked ", "warn ", "approved "))]
    assert text_runs == ["r000", "r003", "r006", "r009"]


def test_worst_orders_blocked_warn_approved_and_keeps_input_order(many: GateResult):
    picked = many.worst(105).runs
    assert picked["status"].to_list() == ["blocked"] * 100 + ["warn"] * 5
    assert picked["run_id"].to_list()[100:] == ["r005", "r010", "r020", "r025", "r035"]
    assert many.counts() == {"blocked": 100, "warn": 40, "approved": 160}
    assert picked.equals(many.runs.filter(pl.col("run_id").is_in(picked["run_id"].implode()))
                         .sort(pl.col("status").replace_strict({"blocked": 0, "warn": 1, "approved": 2}),
                               maintain_order=True))


def test_junit_written_in_chunks_is_the_same_document(many: GateResult, monkeypatch):
    whole = to_junit_xml(many)
    chunks = GateResult.chunks
    monkeypatch.setattr(GateResult, "chunks", lambda self, size=10_000: chunks(self, 7))
    assert to_junit_xml(many) == whole
    root = parse_junit(whole)
    assert [s.get("name") for s in root] == many.runs["run_id"].to_list()
    assert sum(int(s.get("failures", 0)) for s in root) == 100  # score.min blocks
    assert sum(int(s.get("skipped", 0)) for s in root) == 60  # tag.known on every 5th only warns: not a failure
