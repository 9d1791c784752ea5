"""Reports of a GateResult: JSON-ready dict, markdown, JUnit XML, and rich text.

Every report leads with the verdict, then the checks that stop a run, blocking
before warnings, each with what was observed, what was required, and the fix.
Within a run, the weakest observed value comes first: fix that category first.
"""

from __future__ import annotations

import io
import math
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO
from xml.sax.saxutils import quoteattr

import polars as pl

from picogate.escape import md, md_code, text, xml
from picogate.verdict import ICON, STYLE, WORST_FIRST

if TYPE_CHECKING:
    from picogate.result import GateResult


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
    return sum(counts.values()), ", ".join(f"{counts[s]} {s}" for s in WORST_FIRST if s in counts)


def to_markdown(result: GateResult, *, max_runs: int = 50) -> str:
    """The verdict, then the first `max_runs` runs (worst first) with their failing checks; data escaped."""
    total, summary = _summary(result)
    lines = [
        f"## {ICON[result.status]} picogate: **{result.status}**",
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
        lines.append(f"### {ICON[run['status']]} {md_code(run['run_id'])}: {run['status']} "
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


# -- text: a verdict in one screen -------------------------------------------------------------------
Line = list[tuple[str, str]]  # (text, rich style; "" for none): styled on a terminal, plain anywhere else
_WIDTH = {"id": 40, "observed": 28, "required": 28}  # columns are aligned up to these widths, never cut
_GROUPS_PER_STAGE = 4  # more groups of missing metrics than this in one stage: one line for the stage
_STAGE = {"preflight": ("preflight", "run `picogate preflight PLAN`", "postrun"),
          "postrun": ("post-run", "run `picogate eval` then `picogate postrun RUN_DIR`", "preflight")}


def print_text(result: GateResult, *, max_runs: int = 20, file: TextIO | None = None, verbose: bool = False) -> None:
    """The verdict in one screen: per run a status line, then only what stops it, one line per check
    (observed, required, fix), blocking first, weakest first; checks that only lack evidence are one line
    per group of missing metrics. `verbose`: every check.

    On a terminal the lines are styled by rich (data passed as `Text`, never markup); anywhere else (a CI
    log, a pipe, a file) they are plain, aligned and never wrapped, so no value is broken across lines.
    Every datum is escaped by `picogate.escape.text`.
    """
    out = file if file is not None else sys.stdout
    lines = text_lines(result, max_runs=max_runs, verbose=verbose)
    if _is_terminal(out):
        from rich.console import Console
        from rich.text import Text

        console = Console(file=out, highlight=False, markup=False, emoji=False)
        for line in lines:
            console.print(Text.assemble(*line), soft_wrap=True)  # the terminal wraps; rich neither wraps nor cuts
    else:
        out.write("".join(plain(line) + "\n" for line in lines))


def _is_terminal(out: Any) -> bool:
    isatty = getattr(out, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed file
        return False


def text_lines(result: GateResult, *, max_runs: int = 20, verbose: bool = False) -> list[Line]:
    """The lines `print_text` writes, as (text, style) parts."""
    total, summary = _summary(result)
    rs = result.ruleset
    stage = f" stage {result.stage}" if result.stage else ""
    lines: list[Line] = [[(result.status.upper(), STYLE[result.status]), (" profile ", ""), (text(rs.profile), "bold"),
                          (f"{stage} — {total} run(s): {summary}", "")]]
    lines += [[(f"  note: rule {text(o.rule_id)} from {text(o.replaced)} is overridden by {text(o.by)}", "dim")]
              for o in rs.overrides]
    lines += [[(f"  note: category {text(ch.describe())} ({text(ch.by)})", "dim")] for ch in rs.changes]
    for head, body in run_blocks(result.worst(max_runs), verbose=verbose):  # check rows for the shown runs only
        lines += [[], head, *body]
    if total > max_runs:
        lines.append([(f"… {total - max_runs} more run(s); use --format json for every check.", "")])
    if not verbose and total:
        lines += [[], [("passing checks are not listed: --verbose shows every check", "dim")]]
    return lines


def run_blocks(result: GateResult, *, verbose: bool = False) -> list[tuple[Line, list[Line]]]:
    """Per run of `result`, its status line and the lines under it: what did not pass, one line per check,
    blocking first and weakest first, missing evidence collapsed (`verbose`: every check). The post-run
    report reuses it, so every text report lists checks alike."""
    rs = result.ruleset
    checks = result.checks
    failing = result.failing()
    per_stage = {stage: sum(r.stage == stage for r in rs.rules) for stage in _STAGE}
    runs: list[tuple[Line, list[dict[str, Any] | Line]]] = []  # a status line, then checks (or finished lines)
    for run in result.runs.iter_rows(named=True):
        head: Line = [(run["status"], STYLE[run["status"]]), (" ", ""), (text(run["run_id"]), "bold"),
                      (f": {run['passed']} passed, {run['blocking']} blocking, {_plural(run['warnings'], 'warning')}",
                       "")]
        mine = failing.filter(pl.col("run_id") == run["run_id"]).to_dicts()
        if verbose:
            seen = [c["rule_id"] for c in mine]
            rest = checks.filter((pl.col("run_id") == run["run_id"]) & ~pl.col("rule_id").is_in(seen))
            runs.append((head, [*mine, *rest.to_dicts()]))
            continue
        missing = checks.filter((pl.col("run_id") == run["run_id"]) & (pl.col("outcome") == "missing"))
        absent = {stage for stage, n in missing.group_by("stage").len().iter_rows() if n == per_stage.get(stage)}
        runs.append((head, [*(c for c in mine if c["outcome"] != "missing"),
                            *_missing_lines([c for c in mine if c["outcome"] == "missing"], absent, result.stage)]))
    widths = _widths([c for _, items in runs for c in items if isinstance(c, dict)])  # aligned over the report
    return [(head, [_check_line(c, widths) if isinstance(c, dict) else c for c in items]) for head, items in runs]


def plain(line: Line) -> str:
    """A line without its styles."""
    return "".join(part for part, _ in line)


def _label(c: dict[str, Any]) -> tuple[str, str]:
    """The first column of a check line and its style: block, warn, error (could not evaluate), pass or ok."""
    if c["effect"] == "ok":
        return ("pass", "green") if c["outcome"] == "pass" else ("ok", "dim")
    if c["outcome"] == "error":
        return "error", "bold red"
    return str(c["effect"]), "red" if c["effect"] == "block" else "yellow"


def _widths(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Column widths for aligned check lines: the longest value of each column, up to `_WIDTH`."""
    longest = {"id": 0, "observed": 0, "required": 0}
    for c in rows:
        for key, value in (("id", c["rule_id"]), ("observed", _observed(c)), ("required", c["required"])):
            longest[key] = max(longest[key], len(text(value)))
    return {k: min(v, _WIDTH[k]) for k, v in longest.items()}


def _observed(c: dict[str, Any]) -> str:
    """What a check line shows as observed: the value, or what had no evidence."""
    if c["outcome"] == "missing":
        return f"no evidence for {c['missing_inputs']}"
    return f"observed {c['observed']}"


def _check_line(c: dict[str, Any], widths: dict[str, int]) -> Line:
    """One check on one line: what it is, observed vs required, and the fix (a missing check: what has no
    evidence)."""
    label, style = _label(c)
    observed, required = text(_observed(c)), text(c["required"])
    line: Line = [(f"  {label:<5} ", style), (f"{text(c['rule_id']):<{widths['id']}}", "bold"),
                  (f"  {observed:<{widths['observed']}}  required {required}", "")]
    if c["effect"] != "ok":
        line[-1] = (f"{line[-1][0]:<{len(line[-1][0]) + widths['required'] - len(required)}}", "")
        line.append((f"  fix: {text(c['fix'])}", "dim"))
    return line


def _missing_lines(rows: list[dict[str, Any]], absent_stages: set[str],
                   stage: str | None) -> list[dict[str, Any] | Line]:
    """Checks whose only problem is missing evidence, collapsed: a stage with no evidence at all is one line
    ("no preflight evidence: 27 rules"), else one line per group of missing metrics (`eval.spelling.*`),
    blocking groups first; a stage with many groups is one line naming them."""
    out: list[tuple[int, dict[str, Any] | Line]] = []
    for st in _STAGE:
        mine = [c for c in rows if c["stage"] == st]
        if not mine:
            continue
        groups: dict[str, list[dict[str, Any]]] = {}
        for c in mine:
            groups.setdefault(_group(c["missing_inputs"]), []).append(c)
        what, run_it, other = _STAGE[st]
        hint = run_it + ("" if stage else f", or pass --stage {other}")
        if st in absent_stages:
            out.append((_rank(mine), _summary_line(mine, f"no {what} evidence", hint)))
        elif len(groups) > _GROUPS_PER_STAGE:
            named = ", ".join(text(g) for g in list(groups)[:6]) + (", …" if len(groups) > 6 else "")
            out.append((_rank(mine), _summary_line(mine, f"no evidence for {len(groups)} {what} metric groups "
                                                          f"({named})", hint)))
        else:
            for group, checks in groups.items():
                if len(checks) == 1:
                    out.append((_rank(checks), checks[0]))  # one check: its own line
                    continue
                first = next((c for c in checks if c["effect"] == "block"), checks[0])
                ids = ", ".join(text(c["rule_id"]) for c in checks[:3]) + (", …" if len(checks) > 3 else "")
                out.append((_rank(checks), _summary_line(
                    checks, f"no evidence for {_names(group, checks)}", f"fix: {text(first['fix'])}", f" ({ids})")))
    return [line for _, line in sorted(out, key=lambda x: x[0])]  # blocking first; stable otherwise


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _rank(checks: list[dict[str, Any]]) -> int:
    return 0 if any(c["effect"] == "block" for c in checks) else 1


def _summary_line(checks: list[dict[str, Any]], what: str, hint: str, ids: str = "") -> Line:
    block = sum(c["effect"] == "block" for c in checks)
    label = "block" if block else "warn"
    counts = f"{block} blocking, {_plural(len(checks) - block, 'warning')}" if block and block < len(checks) else ""
    head = f"{what}: {_plural(len(checks), 'rule')}" + (f" ({counts})" if counts else "") + ids
    return [(f"  {label:<5} ", "red" if block else "yellow"), (head, "bold"), (f" — {hint}", "dim")]


def _group(missing_inputs: str | None) -> str:
    """The group of a missing check: its first missing metric without the last part (`eval.spelling.rows` ->
    `eval.spelling`), or the name itself when it has no dot."""
    first = (missing_inputs or "").split(", ")[0]
    return first.rsplit(".", 1)[0] if "." in first else first


def _names(group: str, checks: list[dict[str, Any]]) -> str:
    """The missing metrics of a group, once each: `eval.spelling.{pass_rate, rows}` when they share it."""
    names = list(dict.fromkeys(n for c in checks for n in (c["missing_inputs"] or "").split(", ") if n))
    if len(names) > 1 and all(n.startswith(group + ".") for n in names):
        return text(f"{group}.{{{', '.join(n[len(group) + 1:] for n in names)}}}")
    return text(", ".join(names))
