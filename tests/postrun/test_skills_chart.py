# .venv/bin/python -m pytest tests/postrun/test_skills_chart.py -q
"""skills.svg: every label inside the canvas, an axis title, a legend, an opaque background, inert data."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from svg_support import SVG, background, label_boxes, labels_outside, visible_text

from picogate.postrun import run
from picogate.postrun.report import clip, skill_rows, skills_svg


def row(skill: str, rate: float | None, rows: int = 10, gate: float | None = 0.5) -> dict[str, Any]:
    low, high = (None, None) if rate is None else (max(rate - 0.3, 0.0), min(rate + 0.3, 1.0))
    return {"skill": skill, "pass_rate": rate, "rows": rows, "low": low, "high": high, "gate": gate}


CASES = {
    "one skill": [row("math", 0.2)],
    "edges": [row("identity", 0.0, gate=0.6), row("refusal", 1.0, rows=100_000, gate=0.75),
              row("choice", 0.5, gate=1.0), row("math", 0.3, gate=0.0)],
    "missing and ungated": [row("spelling", None), row("extra_skill", 0.9, gate=None)],
    "long names": [row("a_skill_name_far_longer_than_any_sensible_one_" * 3, 0.4),
                   row("x" * 23, 0.1, rows=1_234_567)],
}


@pytest.mark.parametrize("name", list(CASES))
def test_every_label_is_inside_the_canvas(name: str):
    svg = skills_svg(CASES[name])
    assert labels_outside(svg) == []
    assert labels_outside(skills_svg(CASES[name], title="per-skill eval pass rate of run " + "r" * 80)) == []


def test_the_demo_shaped_chart_has_its_value_labels_inside():
    # the chart of issue 12: "0.20 (n=10)" labels were cut at the right edge
    rows = [row(s, 0.2, gate=g) for s, g in (("identity", 0.6), ("refusal", 0.75), ("choice", 0.5),
                                            ("math", 0.3), ("spelling", 0.4))]
    svg = skills_svg(rows)
    labels = [b[0] for b in label_boxes(svg)]
    assert labels.count("0.20 (n=10)") == 5
    assert labels_outside(svg) == []


def test_axis_title_legend_and_background():
    svg = skills_svg(CASES["edges"] + CASES["missing and ungated"])
    labels = [b[0] for b in label_boxes(svg)]
    assert any(label.startswith("pass rate") for label in labels)  # axis title
    for key in ("at or above its gate", "below its gate", "no gate", "95% interval (Wilson)",
                "gate: the rate required"):
        assert key in labels, key
    bg = background(svg)
    assert bg is not None and bg.get("fill") == "#ffffff"
    # a legend entry for "no gate" only when some skill has none
    assert "no gate" not in [b[0] for b in label_boxes(skills_svg(CASES["edges"]))]


def test_skill_names_are_escaped_and_long_ones_cut():
    hostile = ['<script>alert(1)</script>', '"</svg><svg onload=alert(1)>', "a&b\nc\x00"]
    svg = skills_svg([row(s, 0.5) for s in hostile])
    assert "<script" not in svg and "</svg><svg" not in svg and "\x00" not in svg
    root = ET.fromstring(svg)  # still one well-formed SVG
    labels = [t for t in root.iter(SVG + "text") if t.get("text-anchor") == "end"]
    assert [t.findtext(SVG + "title") for t in labels] == [*hostile[:2], "a&b\\nc\\x00"]  # control chars visible
    assert [visible_text(t) for t in labels] == [clip(s, 24) for s in (*hostile[:2], "a&b\\nc\\x00")]
    assert labels_outside(svg) == []
    long = skills_svg([row("s" * 200, 0.5)])
    shown = [visible_text(t) for t in ET.fromstring(long).iter(SVG + "text") if t.get("text-anchor") == "end"]
    assert shown == ["s" * 23 + "…"] and "s" * 200 in long  # the full name stays in the tooltip


def test_chart_of_a_real_run(fresh, tmp_path: Path):
    outcome = run(fresh(wrong=("math",)))
    svg = skills_svg(skill_rows(outcome))
    assert labels_outside(svg) == []
    root = ET.fromstring(svg)
    bars = [r for r in root.iter(SVG + "rect") if r.get("class") == "bar"]
    assert len(bars) == 5
    assert "0.00 (n=20)" in [b[0] for b in label_boxes(svg)]
