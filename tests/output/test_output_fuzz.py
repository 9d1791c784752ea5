# .venv/bin/python -m pytest -q -p no:cacheprovider tests/output/test_output_fuzz.py
"""Arbitrary text as run ids and string metrics, through every `picogate evaluate` format: the
JUnit parses, the JSON parses and round-trips, the markdown holds no data markup, the SARIF is
valid and keeps every run id, and no output line can become a GitHub workflow command (the github
format has exactly picogate's own annotations, one per non-passing check)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from output_support import (
    assert_inert_markdown,
    command_lines,
    github_annotations,
    parse_junit,
    validate_sarif,
    write_rules,
)

from picogate.evaluate import evaluate
from picogate.output import GateReport

FRAGMENTS = ["\n", "\r\n", "\r", "::", "::error file=a.py,line=1::pwned", "##[error]", "`", "```", "|", "#", "# h",
             "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "&amp;", "\x00", "\x01", "\x1b[31m", "\x7f",
             "\x85", "\u2028", "\ufffe", "\u202e", "[/]", "[bold red]x[/]", "[link=https://evil]x[/link]", "\\",
             ":warning:", "*_~$", " ", "\t", "é✓𝔸"]
chars = st.characters(exclude_categories=("Cs",))  # polars strings are UTF-8: no lone surrogates
datum = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(chars, max_size=8)), min_size=1, max_size=6).map("".join)


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rules(tmp_path_factory.mktemp("fuzz"))


@settings(max_examples=200, deadline=None)
@given(ids=st.lists(datum, min_size=1, max_size=3, unique=True), tags=st.lists(datum, min_size=3, max_size=3),
       scores=st.lists(st.sampled_from([0.1, 0.9]), min_size=3, max_size=3))
def test_every_format_stays_inert(rules_file: Path, ids: list[str], tags: list[str], scores: list[float]):
    n = len(ids)
    result = evaluate(pl.DataFrame({"run_id": ids, "score": scores[:n], "tag": tags[:n]}), rules_file)
    report = GateReport(result)
    outputs = {fmt: report.render(fmt) for fmt in ("text", "json", "markdown", "junit", "sarif")}
    for fmt, out in outputs.items():
        assert not command_lines(out), (fmt, out)
    # github: exactly one annotation of picogate's per non-passing check, data percent-encoded inside it
    assert len(github_annotations(report.render("github"))) == result.failing().height
    sarif = validate_sarif(outputs["sarif"])
    assert [r["properties"]["run_id"] for r in sarif["runs"][0]["results"]] == \
        result.failing().get_column("run_id").to_list()
    data = json.loads(outputs["json"])
    assert [r["run_id"] for r in data["runs"]] == ids
    assert len(parse_junit(outputs["junit"])) == n
    assert_inert_markdown(outputs["markdown"], headings=1 + n)
