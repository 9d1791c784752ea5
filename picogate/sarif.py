"""SARIF 2.1.0 of any `picogate.output.Report`: code-scanning tools show each finding on its rule's line.

    picogate evaluate runs.jsonl --rules skill_release --format sarif --out gate.sarif

One run (`runs[0]`): `tool.driver` is picogate with its version and one `rules` entry per rule id
(the message as `shortDescription`, the fix as `help.text`); `results` are the findings (level
`error` when they block, `warning` otherwise), each located at the rule file's line and column,
with the run id and observed/required values in the message and in `properties`. Results are
streamed, one JSON line each, so a report of a million runs never holds them all. JSON escapes
everything else; message strings double their braces (`escape.sarif_message`), which SARIF reads as
placeholders (DESIGN.md, "Output is inert").
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote

from picogate.escape import sarif_message

if TYPE_CHECKING:
    from picogate.output import Finding, Report

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_RESULTS = "\x00picogate-results\x00"  # placeholder; the last one in the document is ours (see write_sarif)


def artifact_uri(file: str) -> str:
    """A file as a SARIF URI reference: relative paths stay relative (to the working directory), with `/`.

    >>> artifact_uri("rules/my rules.yaml")
    'rules/my%20rules.yaml'
    """
    path = PurePath(file)
    if path.is_absolute():
        return Path(file).as_uri()
    return quote(file.replace(os.sep, "/"), safe="/")


def _location(file: str | None, line: int | None, column: int | None) -> list[dict[str, Any]]:
    if not file:
        return []
    physical: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(file)}}
    if line:
        physical["region"] = {"startLine": line, **({"startColumn": column} if column else {})}
    return [{"physicalLocation": physical}]


def result_of(f: Finding, index: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {"ruleId": f.rule_id}
    if f.rule_id in index:
        out["ruleIndex"] = index[f.rule_id]
    out.update({"level": f.level, "message": {"text": sarif_message(f.message)}})
    if (locations := _location(f.file, f.line, f.column)):
        out["locations"] = locations
    if f.properties:
        out["properties"] = dict(f.properties)
    return out


def write_sarif(report: Report, out: TextIO) -> None:
    """The SARIF log of `report`; its results streamed one line each between the run's other parts."""
    from picogate import __version__

    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for r in report.rules():
        if r.id in index:
            continue
        index[r.id] = len(rules)
        rule: dict[str, Any] = {"id": r.id, "shortDescription": {"text": sarif_message(r.description or r.id)},
                                "help": {"text": sarif_message(r.help or "-")},
                                "defaultConfiguration": {"level": r.level}}
        props = {k: v for k, v in r.properties.items() if v is not None}
        if r.file:
            props["source"] = r.file + (f":{r.line}" if r.line else "")
        if props:
            rule["properties"] = props
        rules.append(rule)
    run = {"tool": {"driver": {"name": "picogate", "version": __version__, "semanticVersion": __version__,
                               "rules": rules}},
           "columnKind": "unicodeCodePoints",
           "properties": {"command": report.command, **report.properties()},
           "results": _RESULTS}
    log = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    head, _, tail = json.dumps(log, indent=2, ensure_ascii=False, default=str).rpartition(json.dumps(_RESULTS))
    out.write(head + "[")
    for i, f in enumerate(report.findings()):
        out.write(("," if i else "") + "\n        " + json.dumps(result_of(f, index), ensure_ascii=False,
                                                                default=str))
    out.write("\n      ]" + tail + "\n")
