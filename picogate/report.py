"""Reports of a GateResult: JSON-ready dict, markdown, JUnit XML, and rich text.

Every report leads with the verdict, then the checks that stop a run, blocking
before warnings, each with what was observed, what was required, and the fix.
Within a run, the weakest observed value comes first: fix that category first.
"""

from __future__ import annotations

import io
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO
from xml.sax.saxutils import quoteattr

import polars as pl

from picogate.escape import md, md_code, text, xml

if TYPE_CHECKING:
    from picogate.result import GateResult

_ICON = {"approved": "✅", "warn": "⚠️", "blocked": "⛔"}


def to_dict(result: GateResult) -> dict[str, Any]:
    def clean(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for row in rows:
            for k, v in row.items():
                if isinstance(v, float) and not math.isfinite(v):
                    row[k] = None
        return rows

    rs = result.ruleset
    return {
        "status": result.status,
        "profile": rs.profile,
        "stage": result.stage,
        "rule_files": list(rs.files),
        "overrides": [{"rule_id": o.rule_id, "replaced": str(o.replaced), "by": str(o.by)} for o in rs.overrides],
        "changes": [c.to_dict() for c in rs.changes],  # category values the profile's files changed
        "runs": result.runs.to_dicts(),
        "checks": clean(result.checks.with_columns(pl.col("outcome", "effect").cast(pl.String)).to_dicts()),
    }


def _summary(result: GateResult) -> tuple[int, str]:
    """(runs judged, "N blocked, N warn, N approved"), worst first."""
    counts = result.counts()
    return sum(counts.values()), ", ".join(f"{counts[s]} {s}" for s in ("blocked", "warn", "approved") if s in counts)


def to_markdown(result: GateResult, *, max_runs: int = 50) -> str:
    """The verdict, then the first `max_runs` runs (worst first) with their failing checks; data escaped."""
    total, summary = _summary(result)
    lines = [
        f"## {_ICON[result.status]} picogate: **{result.status}**",
        "",
        f"Profile {md_code(result.ruleset.profile)}" + (f", stage `{result.stage}`" if result.stage else "")
        + f"; {total} run(s): {summary}.",
        "",
    ]
    for o in result.ruleset.overrides:
        lines.append(f"- rule {md_code(o.rule_id)} from {md(o.replaced)} is overridden by {md(o.by)}")
    for ch in result.ruleset.changes:
        lines.append(f"- category {md(ch.describe())} ({md(ch.by)})")
    if result.ruleset.overrides or result.ruleset.changes:
        lines.append("")
    shown = result.worst(max_runs)  # check rows for the shown runs only
    failing = shown.failing()
    for run in shown.runs.iter_rows(named=True):
        rows = failing.filter(pl.col("run_id") == run["run_id"])
        lines.append(f"### {_ICON[run['status']]} {md_code(run['run_id'])}: {run['status']} "
                     f"({run['passed']} passed, {run['blocking']} blocking, {run['warnings']} warnings)")
        lines.append("")
        if rows.height:
            lines += ["| check | outcome | observed | required | fix |", "|---|---|---|---|---|"]
            for c in rows.iter_rows(named=True):
                lines.append(f"| {md_code(c['rule_id'])} ({c['severity']}) | {c['outcome']} | {md(c['observed'])} | "
                             f"{md(c['required'])} | {md(c['fix'])} |")
            lines.append("")
    if total > max_runs:
        lines.append(f"_{total - max_runs} more run(s) not shown; use --format json for all._")
    return "\n".join(lines).rstrip() + "\n"


def to_junit_xml(result: GateResult) -> str:
    """One testsuite per run, one testcase per check. What blocks: fail -> <failure>, missing/error ->
    <error>. A warning is `<skipped message="warning (...): ...">`, never a failure, so a warn-only run
    is green in CI exactly as its exit status is 0; so is a missing value the rule allows."""
    buf = io.StringIO()
    write_junit_xml(result, buf)
    return buf.getvalue()


def write_junit_xml(result: GateResult, out: TextIO) -> None:
    """`to_junit_xml`, written as it is built: check rows and XML exist for one chunk of runs at a time,
    so a report of every run keeps its memory flat in the number of runs."""
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(f"<testsuites name={quoteattr('picogate.' + xml(result.ruleset.profile))}>")
    for chunk in result.chunks():
        for suite in _junit_suites(chunk.checks):
            ET.indent(suite, level=1)
            out.write("\n  " + ET.tostring(suite, encoding="unicode"))
    out.write("\n</testsuites>\n")


def _junit_suites(checks: pl.DataFrame) -> Iterator[ET.Element]:
    """One <testsuite> per run of `checks`, runs in the order they first appear (input order)."""
    per_run = checks.with_columns(pl.col("outcome", "effect").cast(pl.String)) \
        .group_by("run_id", maintain_order=True).agg(pl.all())
    fields = [c for c in per_run.columns if c != "run_id"]
    for run in per_run.iter_rows(named=True):
        suite = ET.Element("testsuite", name=xml(run["run_id"]), tests=str(len(run["rule_id"])))
        n_fail = n_err = n_skip = 0
        for values in zip(*(run[f] for f in fields), strict=True):
            c = dict(zip(fields, values, strict=True))
            case = ET.SubElement(suite, "testcase", classname=f"picogate.{c['stage']}", name=xml(c["rule_id"]))
            body = (f"observed {xml(c['observed'])}, required {xml(c['required'])}\nfix: {xml(c['fix'])}\n"
                    f"rule: {xml(c['source'])}")
            if c["effect"] == "ok" and c["outcome"] != "pass":
                ET.SubElement(case, "skipped", message=f"{c['outcome']}, allowed by the rule: {xml(c['message'])}")
                n_skip += 1
            elif c["effect"] == "warn":  # a warning is not a failure: JUnit agrees with the exit status
                ET.SubElement(case, "skipped", message=f"warning ({c['outcome']}): {xml(c['message'])}").text = body
                n_skip += 1
            elif c["outcome"] == "fail":
                ET.SubElement(case, "failure", message=xml(c["message"]), type=f"{c['severity']}").text = body
                n_fail += 1
            elif c["outcome"] in ("missing", "error"):
                ET.SubElement(case, "error", message=xml(c["message"]), type=c["outcome"]).text = body
                n_err += 1
        suite.set("failures", str(n_fail))
        suite.set("errors", str(n_err))
        suite.set("skipped", str(n_skip))
        yield suite


def print_text(result: GateResult, *, max_runs: int = 20, file: Any = None) -> None:
    """A readable terminal report (rich): verdict, then failing checks first, each with its fix.

    Data reaches rich only as `Text` (never parsed as markup or emoji codes), escaped by
    `picogate.escape.text`.
    """
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=file, highlight=False, soft_wrap=False, markup=False, emoji=False)
    style = {"approved": "bold green", "warn": "bold yellow", "blocked": "bold red"}
    total, summary = _summary(result)
    console.print(Text.assemble((result.status.upper(), style[result.status]), " profile ",
                                (text(result.ruleset.profile), "bold"),
                                f" stage {result.stage}" if result.stage else "",
                                f" — {total} run(s): {summary}"))
    for o in result.ruleset.overrides:
        console.print(Text(f"  note: rule {text(o.rule_id)} from {text(o.replaced)} is overridden by {text(o.by)}",
                           style="dim"))
    for ch in result.ruleset.changes:
        console.print(Text(f"  note: category {text(ch.describe())} ({text(ch.by)})", style="dim"))
    shown = result.worst(max_runs)  # check rows for the shown runs only
    failing = shown.failing()
    for run in shown.runs.iter_rows(named=True):
        rows = failing.filter(pl.col("run_id") == run["run_id"])
        console.print()
        console.print(Text.assemble((run["status"], style[run["status"]]), " ", (text(run["run_id"]), "bold"),
                                    f": {run['passed']} passed, {run['blocking']} blocking, "
                                    f"{run['warnings']} warnings"))
        if not rows.height:
            continue
        table = Table(show_lines=False, pad_edge=False, box=None, header_style="bold")
        table.add_column("check", no_wrap=True)
        for col in ("outcome", "observed", "required"):
            table.add_column(col, overflow="fold")
        for c in rows.iter_rows(named=True):
            color = "red" if c["effect"] == "block" else "yellow"
            table.add_row(Text(text(c["rule_id"]), style=color), Text(str(c["outcome"])), Text(text(c["observed"])),
                          Text(text(c["required"])))
        console.print(table)
        for c in rows.iter_rows(named=True):
            console.print(Text.assemble("  ", (text(c["rule_id"]), "bold"), f": {text(c['message'])}"))
            console.print(Text(f"    fix: {text(c['fix'])}", style="dim"))
    if total > max_runs:
        console.print(f"… {total - max_runs} more run(s); use --format json for every check.")
