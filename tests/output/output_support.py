"""Shared checks of the output tests: what "inert" means for each format, as assertions.

- no output line (split as the GitHub runner splits: CR, LF, CRLF) starts with `::` after its
  leading blanks, unless the test expects picogate's own annotation there;
- markdown: no `<` but picogate's own `<br>`, headings only where picogate writes them, and
  every row of a table has as many cell separators (unescaped `|`) as its header;
- JUnit parses as XML.
"""

from __future__ import annotations

import re
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

RULES = """
profile: inert
metrics:
  score: {type: float, description: a score}
  tag: {type: string, description: a free-text tag}
rules:
  - {id: score.min, stage: postrun, severity: block, check: "score >= 0.5",
     message: "score {observed} for {tag}", fix: "retrain {tag}"}
  - {id: tag.known, stage: postrun, severity: warn, check: "tag == 'ok'",
     message: "tag {observed} is unknown", fix: "set tag (now {tag})"}
"""
_PIPE = re.compile(r"(?<!\\)((?:\\\\)*)\|")


def write_rules(folder: Path, text: str = RULES) -> Path:
    path = folder / "inert.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def output_lines(out: str) -> list[str]:
    return re.split(r"\r\n|\r|\n", out)


def command_lines(out: str) -> list[str]:
    """Lines GitHub Actions would run as workflow commands (`::` after leading blanks)."""
    return [line for line in output_lines(out) if line.lstrip().startswith("::")]


def assert_inert_markdown(md: str, headings: int) -> None:
    """`headings`: how many lines starting with `#` picogate itself writes in this report."""
    assert "<" not in md.replace("<br>", ""), md
    assert len([line for line in md.splitlines() if line.startswith("#")]) == headings, md
    table_width = None
    for line in md.splitlines():
        if not line.startswith("|"):
            table_width = None
            continue
        cells = len(_PIPE.findall(line))
        table_width = table_width or cells
        assert cells == table_width, line
    assert not command_lines(md)


def parse_junit(xml_text: str) -> ET.Element:
    assert xml_text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(xml_text.split("\n", 1)[1])


# -- the shared formats: github annotations and SARIF ---------------------------------------------------
SARIF_SCHEMA = Path(__file__).with_name("sarif-schema-2.1.0.json")  # source: see test_formats.py
_ANNOTATION = re.compile(r"^::(error|warning) file=[^,:]+,line=[1-9]\d*(,col=[1-9]\d*)?,title=[^:,]*::\S")


def github_annotations(out: str, *, located: bool = True) -> list[str]:
    """The workflow commands of a `--format github` output, each checked to be one of picogate's own
    annotations (with `file=`/`line=` when `located`); every other line must not be a command."""
    found = command_lines(out)
    for line in found:
        assert line.startswith(("::error ", "::warning ")), line
        if located:
            assert _ANNOTATION.match(line), line
    return found


def validate_sarif(text: str) -> dict:
    """The SARIF log in `text`, validated against the official SARIF 2.1.0 schema (draft-04)."""
    import json

    import jsonschema

    log = json.loads(text)
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(log)
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "picogate" and driver["version"]
    ids = [r["id"] for r in driver["rules"]]
    assert len(ids) == len(set(ids))
    for result in log["runs"][0]["results"]:
        assert result["ruleId"] in ids and result["level"] in ("error", "warning")
        if "ruleIndex" in result:
            assert ids[result["ruleIndex"]] == result["ruleId"]
    return log
