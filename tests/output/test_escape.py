# .venv/bin/python -m pytest -q -p no:cacheprovider tests/output/test_escape.py
"""picogate.escape: the one helper set every report format escapes data with."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from picogate.escape import WORD_JOINER, gh_data, gh_property, md, md_code, sarif_message, text, xml

WJ = WORD_JOINER
NASTY = ["a\n::error file=a.py,line=1::pwned", "x\r\n::warning::y", "\x00\x01\x1b[31mred", "\x7f\x85\x9b",
         "a\u2028::b\u2029c", "::::", "##[error]old syntax", "tab\there", "\ud800", "\ufffe\uffff",
         "\u202eevil\u202c", "\x0b\x0c\x1c\x1d\x1e"]


def lines(out: str) -> list[str]:
    return re.split(r"\r\n|\r|\n", out)


@pytest.mark.parametrize("raw", NASTY)
@pytest.mark.parametrize("escape", [text, md, xml])
def test_one_line_and_no_workflow_command(escape, raw: str):
    out = escape(raw)
    assert out.splitlines() == [out] or out == ""  # str.splitlines knows every Unicode line break
    assert "::" not in out and "#[" not in out.replace("\\[", "")
    assert not re.search("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]", out)


def test_text_shows_controls_visibly_and_breaks_double_colons():
    assert text("a\nb\r\x1b[0m\x00") == "a\\nb\\r\\x1b[0m\\x00"
    assert text("::error::x") == f":{WJ}:error:{WJ}:x"
    assert text(":::") == f":{WJ}:{WJ}:"
    assert text("##[error]x") == f"##{WJ}[error]x"
    assert text("\u2028\u202e") == "\\u2028\\u202e"
    assert text("tab\tand unicode é ✓ 𝔸") == "tab\tand unicode é ✓ 𝔸"  # printable text is untouched
    assert text("[/] [link=https://evil]x[/link]") == "[/] [link=https://evil]x[/link]"  # rich gets Text, not markup
    assert text(12) == "12" and text(None) == "None"


def test_md_escapes_markup_html_and_cells():
    assert md("# h") == "\\# h"
    assert md("<script>alert(1)</script>") == "&lt;script>alert(1)&lt;/script>"
    assert md("a & b") == "a &amp; b"
    assert md("a|b") == "a\\|b"
    assert md("`x` *y* _z_ [l](u) ~s~ $m$") == "\\`x\\` \\*y\\* \\_z\\_ \\[l\\](u) \\~s\\~ \\$m\\$"
    assert md("back\\slash") == "back\\\\slash"
    assert md("line\nbreak") == "line\\\\nbreak"  # the visible \n, its backslash escaped for markdown
    assert md(">= 0.5") == ">= 0.5"  # `>` opens nothing mid-line; thresholds stay readable


def test_md_code_is_a_code_span_only_when_verbatim_is_safe():
    assert md_code("run-7") == "`run-7`"
    assert md_code("eval.math.pass_rate >= 0.3") == "`eval.math.pass_rate >= 0.3`"
    for raw in ["a`b", "a|b", "<b>", "a&b", "x\ny", " pad", "pad ", "", "a::b", "\x1b"]:
        assert md_code(raw) == md(raw), raw


def test_xml_output_is_always_well_formed():
    every_char = "".join(chr(i) for i in range(0x3000)) + "\ud800\udfff\ufffe\uffff"
    el = ET.Element("t", name=xml(every_char))
    el.text = xml(every_char)
    doc = ET.tostring(el, encoding="unicode")
    back = ET.fromstring(doc)
    assert back.get("name") == back.text == xml(every_char)


def test_github_workflow_command_parts():
    assert gh_data("50%\r\ndone") == "50%25%0D%0Adone"
    assert gh_property("a:b,c%") == "a%3Ab%2Cc%25"
    assert gh_data("\x1b\u2028") == "\\x1b\\u2028"  # no other line break or terminal control survives
    assert len(lines(gh_data("x\n::error::y"))) == 1


def test_sarif_message_doubles_braces():
    """SARIF 2.1.0 3.11.5: a literal brace in any message string is written twice ({0} is a placeholder)."""
    assert sarif_message("{skill}: {0} and }{") == "{{skill}}: {{0}} and }}{{"
    assert sarif_message("a\n::error::x") == "a\n::error::x"  # JSON escapes the rest


def test_progress_descriptions_are_inert():
    """A progress bar names files and benchmarks (data): one line, control characters visible, no rich markup."""
    from rich.text import Text

    from picogate.progress import _escape

    shown = Text.from_markup(_escape("evil\n[bold red]x[/]::error::\x1b[31m.jsonl")).plain
    assert "\n" not in shown and "\x1b" not in shown and "::" not in shown
    assert "[bold red]x[/]" in shown  # printed literally, not styled
