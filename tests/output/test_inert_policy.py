# .venv/bin/python -m pytest -q -p no:cacheprovider tests/output/test_inert_policy.py
"""`picogate rules test | diff | show | check` keep data inert; `rules diff git:REF:PATH` never hands git
a REF it could read as an option."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import polars as pl
import pytest
from output_support import assert_inert_markdown, command_lines, parse_junit, write_rules

from picogate.cli import main

REPO = Path(__file__).resolve().parents[2]
CASE = "bad\n::error file=x.py,line=1::pwned <script>`|# h"


@pytest.fixture(autouse=True)
def not_in_github(monkeypatch):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def rules(*argv: object) -> int:
    try:
        return main(["rules", *map(str, argv)])
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.fixture
def rule_tests(tmp_path: Path) -> Path:
    write_rules(tmp_path)
    path = tmp_path / "tests" / "inert_test.yaml"
    path.parent.mkdir()
    path.write_text(textwrap.dedent(f"""
        profile: ../inert.yaml
        base: {{score: 0.9, tag: ok}}
        cases:
          - name: {CASE!r}
            metrics: {{score: 0.1, tag: "\\x1b[31m\\n::warning::x"}}
            expect: {{status: approved}}
          - name: "[/] [bold red]x[/]"
            expect: {{status: approved}}
        """).replace("'", '"').lstrip("\n"), encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["text", "markdown", "junit", "github"])
def test_rule_test_case_names_stay_inert(rule_tests: Path, capsys, monkeypatch, tmp_path: Path, fmt: str):
    summary = tmp_path / "summary.md"
    if fmt == "github":
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert rules("test", rule_tests, "--format", fmt, "--verbose") == 1
    out = capsys.readouterr().out
    if fmt == "github":  # exactly picogate's own annotation, one line, the case name encoded in it
        (line,) = command_lines(out)
        assert line.startswith("::error file=") and "rule test 'bad%0A::error file=x.py" in line
        assert_inert_markdown(summary.read_text(), headings=1)
    else:
        assert not command_lines(out), out
    if fmt == "markdown":
        assert_inert_markdown(out, headings=1)
    if fmt == "junit":
        names = [c.get("name") for c in parse_junit(out).iter("testcase")]
        assert names[0].startswith("bad\\n:\u2060:error") and names[1] == "[/] [bold red]x[/]"
    if fmt == "text":
        assert "  ok    [/] [bold red]x[/]" in out and "FAIL  bad\\n:\u2060:error" in out


HISTORY_IDS = ["`tick`\n# heading", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
               "[link=https://evil]x[/link]", "a|b", "::error::x\n::warning::y"]


@pytest.mark.parametrize("fmt", ["markdown", "text"])
def test_rules_diff_over_hostile_history_run_ids(tmp_path: Path, capsys, fmt: str):
    old = write_rules(tmp_path)
    new = tmp_path / "new.yaml"
    new.write_text(old.read_text().replace("score >= 0.5", "score >= 0.6"), encoding="utf-8")
    history = tmp_path / "runs.parquet"
    pl.DataFrame({"run_id": HISTORY_IDS, "score": [0.55] * len(HISTORY_IDS),
                  "tag": HISTORY_IDS}).write_parquet(history)
    assert rules("diff", old, new, "--history", history, "--format", fmt) == 0
    out = capsys.readouterr().out
    assert f"{len(HISTORY_IDS)} of {len(HISTORY_IDS)} past runs change verdict" in out
    assert not command_lines(out), out
    if fmt == "markdown":
        assert_inert_markdown(out, headings=5)
        assert "&lt;script>alert(1)&lt;/script>" in out


def test_rules_show_escapes_rule_text(tmp_path: Path, capsys):
    path = write_rules(tmp_path, """
        profile: shown
        metrics:
          tag: {type: string, description: a tag}
        rules:
          - {id: tag.known, stage: postrun, severity: warn, check: "tag in ['<img src=x>', 'a|b', '`c`']",
             message: m, fix: "see <script>alert(1)</script> | # not a heading"}
        """)
    assert rules("show", path, "--format", "markdown") == 0
    md = capsys.readouterr().out
    assert_inert_markdown(md, headings=1)
    assert rules("show", path, "--format", "text") == 0
    assert "see <script>alert(1)</script> | # not a heading" in capsys.readouterr().out


def test_rules_check_file_names_stay_inert(tmp_path: Path, capsys, monkeypatch):
    name = write_rules(tmp_path).rename(tmp_path / "r\n::error file=a.py,line=1::x `|<b>.yaml")
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert rules("check", name) == 0
    assert not command_lines(capsys.readouterr().out)
    assert rules("check", name, "--format", "github") == 0
    assert not command_lines(capsys.readouterr().out)
    assert_inert_markdown(summary.read_text(), headings=1)


def test_a_git_ref_starting_with_a_dash_never_reaches_git(capsys, monkeypatch):
    calls: list[list[str]] = []
    real = subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda args, **kw: calls.append(list(args)) or real(args, **kw))
    monkeypatch.chdir(REPO)
    history = REPO / "examples" / "metrics.jsonl"
    assert rules("diff", "git:-oops:rules/release.yaml", "rules/release.yaml", "--history", history) == 2
    err = capsys.readouterr().err
    assert err == "picogate: error: git ref '-oops' may not start with '-'\n"
    assert not any(arg.startswith("-oops") for call in calls for arg in call)


def test_git_refs_reach_git_after_end_of_options(monkeypatch, tmp_path: Path):
    from picogate.policy.gitref import materialize

    calls: list[list[str]] = []
    real = subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda args, **kw: calls.append(list(args)) or real(args, **kw))
    monkeypatch.chdir(REPO)
    assert materialize("git:HEAD:rules/release.yaml", tmp_path).name == "release.yaml"
    git = [c for c in calls if c[0] == "git"]
    assert git and all(c.index("--end-of-options") == len(c) - 2 for c in git)
