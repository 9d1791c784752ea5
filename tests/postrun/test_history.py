# .venv/bin/python -m pytest tests/postrun/test_history.py -q
"""`picogate history`: one static page of several runs; what blocked each, per-skill trends, inert data."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from svg_support import background, labels_outside

from picogate.postrun import run
from picogate.postrun.history import to_html, trend_legend, trend_svg, write_history

SKILLS = ("identity", "refusal", "choice", "math", "spelling")


ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "div", "span", "b", "br",
                "code", "table", "tr", "th", "td", "ul", "li", "details", "summary", "svg", "rect", "line", "text",
                "circle", "polyline"}


class Tags(HTMLParser):
    """Every start tag and attribute name a browser's parser would see."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: set[str] = set()
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs |= {name for name, _ in attrs}


def svgs(page: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", page, flags=re.S)


def test_page_shows_each_run_its_blockers_and_the_trends(run_series: list[Path], tmp_path: Path):
    path, outcomes = write_history(run_series, tmp_path / "out" / "history.html")
    page = path.read_text(encoding="utf-8")
    assert [o.status for o in outcomes] == ["blocked", "blocked", "approved"]
    # runs in the order given, each with its verdict
    runs = page[page.index('id="runs"'):page.index('id="last"')]
    ids = ["r1-baseline", "r2-more-sft", "good"]
    assert [runs.index(f"<code>{i}</code>") for i in ids] == sorted(runs.index(f"<code>{i}</code>") for i in ids)
    assert runs.count("badge blocked") == 2 and runs.count("badge approved") == 1
    assert "spelling 0.00 &lt; 0.40, math 0.00 &lt; 0.30" in runs  # weakest (largest shortfall) first
    # what blocked r1: failing skills weakest first, with the fix
    r1 = page[page.index("<summary>#1"):page.index("<summary>#2")]
    assert r1.index("skill.pass_rate.spelling") < r1.index("skill.pass_rate.math")
    assert "add non-eval SFT practice rows for math" in r1
    # the last change helped: math up beyond the noise, and the verdict flipped
    last = page[page.index('id="last"'):page.index('id="skills"')]
    assert "▲ +1.00" in last and "badge blocked" in last and "badge approved" in last
    # one trend chart per skill, weakest in the last run first, labels inside, white background
    skills = page[page.index('id="skills"'):page.index('id="blockers"')]
    for s in SKILLS:
        assert f"<h3>{s}</h3>" in skills
    charts = svgs(skills)
    assert len(charts) == 1 + len(SKILLS)  # the legend, then one per skill
    for svg in charts:
        ET.fromstring(svg)
        assert background(svg) is not None
        assert labels_outside(svg) == [], labels_outside(svg)
    assert all("gate " in svg for svg in charts[1:])


def test_page_is_self_contained_and_runs_no_script(run_series: list[Path], tmp_path: Path):
    page = write_history(run_series[:2], tmp_path / "h.html")[0].read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert Tags(page).tags <= ALLOWED_TAGS
    without_xmlns = page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for needle in ("<script", "http://", "https://", "<link", "<img", "@import", "url(", " src="):
        assert needle not in without_xmlns, needle


def test_hostile_run_ids_stay_inert(good_run: Path, tmp_path: Path):
    hostile = ["<script>alert(1)</script>", "\"'><img src=x onerror=alert(1)>", "</svg><svg onload=alert(1)>",
               "a\nb&amp;\x1b[31m"]
    dirs = []
    for i, run_id in enumerate(hostile):
        d = tmp_path / f"run{i}"
        shutil.copytree(good_run, d)
        manifest = json.loads((d / "run.json").read_text())
        manifest["run_id"] = run_id
        (d / "run.json").write_text(json.dumps(manifest))
        dirs.append(d)
    page = write_history(dirs, tmp_path / "h.html", baseline=dirs[0])[0].read_text(encoding="utf-8")
    parsed = Tags(page)
    assert parsed.tags <= ALLOWED_TAGS, parsed.tags - ALLOWED_TAGS
    assert not [a for a in parsed.attrs if a.startswith("on")]
    for raw in ("<script", "<img", "</svg><svg", "\x1b"):
        assert raw not in page, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "a\\nb&amp;amp;\\x1b[31m" in page  # one line, control characters visible, & escaped
    for svg in svgs(page):
        ET.fromstring(svg)  # each chart is still one well-formed SVG


def test_hostile_skill_names_in_the_trend_chart(good_run: Path):
    outcome = run(good_run)
    name = '</svg><script>alert("x")</script>'
    row = {"skill": name, "pass_rate": 0.5, "rows": 10, "low": 0.2, "high": 0.8, "gate": 0.4}
    svg = trend_svg(name, [outcome, outcome], [row, None], 0.4)
    assert "<script" not in svg and "</svg><" not in svg
    root = ET.fromstring(svg)
    assert name in root.get("aria-label", "")
    assert labels_outside(svg) == [] and labels_outside(trend_legend()) == []


def test_many_runs_keep_labels_inside(good_run: Path):
    outcome = run(good_run)
    rows = [{"skill": "math", "pass_rate": k / 40, "rows": 40, "low": 0.0, "high": 1.0, "gate": 0.3}
            for k in range(40)]
    svg = trend_svg("math", [outcome] * 40, rows, 0.3)
    assert labels_outside(svg) == []
    page = to_html([outcome] * 12)
    for chart in svgs(page):
        assert labels_outside(chart) == []


def test_cli_writes_the_page_and_exits_0_even_when_blocked(run_series: list[Path], tmp_path: Path, capsys):
    from picogate.cli import main

    out = tmp_path / "history.html"
    code = main(["history", *map(str, run_series[:2]), "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0 and out.is_file()
    assert printed.out.splitlines() == ["#1 r1-baseline: blocked (below gate: spelling 0.00 < 0.40, math 0.00 < 0.30)",
                                        "#2 r2-more-sft: blocked (below gate: math 0.00 < 0.30)"]
    assert f"history: {out}" in printed.err


def test_cli_exit_2_with_one_line_when_a_run_cannot_be_read(good_run: Path, tmp_path: Path, capsys):
    from picogate.cli import main

    code = main(["history", str(good_run), str(tmp_path / "nowhere"), "--out", str(tmp_path / "h.html")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "nowhere" in err
    assert not (tmp_path / "h.html").exists()
    with pytest.raises(SystemExit):  # argparse: at least one run directory
        main(["history"])
