"""Reports of a GateResult: JSON-ready dict, markdown, JUnit XML, and rich text.

Every report leads with the verdict, then the checks that stop a run, blocking
before warnings, each with what was observed, what was required, and the fix.
Within a run, the weakest observed value comes first: fix that category first.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

import polars as pl

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
        "runs": result.runs.to_dicts(),
        "checks": clean(result.checks.with_columns(pl.col("outcome", "effect").cast(pl.String)).to_dicts()),
    }


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(result: GateResult, *, max_runs: int = 50) -> str:
    runs = result.runs
    counts = runs.group_by("status").len().sort("status")
    summary = ", ".join(f"{row['len']} {row['status']}" for row in counts.iter_rows(named=True))
    lines = [
        f"## {_ICON[result.status]} picogate: **{result.status}**",
        "",
        f"Profile `{result.ruleset.profile}`" + (f", stage `{result.stage}`" if result.stage else "")
        + f"; {runs.height} run(s): {summary}.",
        "",
    ]
    for o in result.ruleset.overrides:
        lines.append(f"- rule `{o.rule_id}` from {o.replaced} is overridden by {o.by}")
    if result.ruleset.overrides:
        lines.append("")
    failing = result.failing()
    shown = runs.sort(pl.col("status").replace_strict({"blocked": 0, "warn": 1, "approved": 2},
                                                      return_dtype=pl.Int8), maintain_order=True).head(max_runs)
    for run in shown.iter_rows(named=True):
        rows = failing.filter(pl.col("run_id") == run["run_id"])
        lines.append(f"### {_ICON[run['status']]} `{run['run_id']}`: {run['status']} "
                     f"({run['passed']} passed, {run['blocking']} blocking, {run['warnings']} warnings)")
        lines.append("")
        if rows.height:
            lines += ["| check | outcome | observed | required | fix |", "|---|---|---|---|---|"]
            for c in rows.iter_rows(named=True):
                lines.append(f"| `{c['rule_id']}` ({c['severity']}) | {c['outcome']} | {_md(c['observed'])} | "
                             f"{_md(c['required'])} | {_md(c['fix'])} |")
            lines.append("")
    if runs.height > max_runs:
        lines.append(f"_{runs.height - max_runs} more run(s) not shown; use --format json for all._")
    return "\n".join(lines).rstrip() + "\n"


def to_junit_xml(result: GateResult) -> str:
    """One testsuite per run, one testcase per check: fail -> <failure>, error/missing -> <error>."""
    checks = result.checks
    root = ET.Element("testsuites", name=f"picogate.{result.ruleset.profile}")
    for run in result.runs.iter_rows(named=True):
        rows = checks.filter(pl.col("run_id") == run["run_id"])
        suite = ET.SubElement(root, "testsuite", name=str(run["run_id"]), tests=str(rows.height))
        n_fail = n_err = n_skip = 0
        for c in rows.iter_rows(named=True):
            case = ET.SubElement(suite, "testcase", classname=f"picogate.{c['stage']}", name=c["rule_id"])
            text = f"observed {c['observed']}, required {c['required']}\nfix: {c['fix']}\nrule: {c['source']}"
            if c["effect"] == "ok" and c["outcome"] != "pass":
                ET.SubElement(case, "skipped", message=f"{c['outcome']}, allowed by the rule: {c['message']}")
                n_skip += 1
            elif c["outcome"] == "fail":
                tag = "failure"
                ET.SubElement(case, tag, message=c["message"], type=f"{c['severity']}").text = text
                n_fail += 1
            elif c["outcome"] in ("missing", "error"):
                ET.SubElement(case, "error", message=c["message"], type=c["outcome"]).text = text
                n_err += 1
        suite.set("failures", str(n_fail))
        suite.set("errors", str(n_err))
        suite.set("skipped", str(n_skip))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def print_text(result: GateResult, *, max_runs: int = 20, file: Any = None) -> None:
    """A readable terminal report (rich): verdict, then failing checks first, each with its fix."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=file, highlight=False, soft_wrap=False)
    style = {"approved": "bold green", "warn": "bold yellow", "blocked": "bold red"}
    runs = result.runs
    counts = {row["status"]: row["len"] for row in runs.group_by("status").len().iter_rows(named=True)}
    console.print(f"[{style[result.status]}]{result.status.upper()}[/] profile [bold]{result.ruleset.profile}[/]"
                  + (f" stage {result.stage}" if result.stage else "")
                  + f" — {runs.height} run(s): "
                  + ", ".join(f"{counts[s]} {s}" for s in ("blocked", "warn", "approved") if s in counts))
    for o in result.ruleset.overrides:
        console.print(f"  note: rule {o.rule_id} from {o.replaced} is overridden by {o.by}", style="dim")
    failing = result.failing()
    order = {"blocked": 0, "warn": 1, "approved": 2}
    shown = sorted(runs.iter_rows(named=True), key=lambda r: order[r["status"]])[:max_runs]
    for run in shown:
        rows = failing.filter(pl.col("run_id") == run["run_id"])
        console.print()
        console.print(f"[{style[run['status']]}]{run['status']}[/] [bold]{run['run_id']}[/]: "
                      f"{run['passed']} passed, {run['blocking']} blocking, {run['warnings']} warnings")
        if not rows.height:
            continue
        table = Table(show_lines=False, pad_edge=False, box=None, header_style="bold")
        table.add_column("check", no_wrap=True)
        for col in ("outcome", "observed", "required"):
            table.add_column(col, overflow="fold")
        for c in rows.iter_rows(named=True):
            color = "red" if c["effect"] == "block" else "yellow"
            table.add_row(f"[{color}]{c['rule_id']}[/]", c["outcome"], c["observed"], c["required"])
        console.print(table)
        for c in rows.iter_rows(named=True):
            console.print(f"  [bold]{c['rule_id']}[/]: {c['message']}", highlight=False)
            console.print(f"    fix: {c['fix']}", style="dim", highlight=False)
    if runs.height > max_runs:
        console.print(f"… {runs.height - max_runs} more run(s); use --format json for every check.")
