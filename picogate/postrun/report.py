"""Post-run reports: a markdown report for a pull request or model card, a per-skill SVG bar chart, a plain
text report for the terminal, and a JSON-ready dict.

Every report leads with the verdict, then the failing skills weakest first (observed vs required, and
the fix), then the other checks that stop the release, then the warnings. Every rate is shown with its
row count and its Wilson 95% interval; with a baseline run, per-skill deltas and their p-values.
The chart is SVG written by hand (a few rects and labels): no plotting dependency.
"""

from __future__ import annotations

import json
import math
import re
from html import escape
from pathlib import Path
from typing import Any

import polars as pl

from picogate.escape import md, md_code
from picogate.escape import text as plain
from picogate.io import atomic_write_text
from picogate.postrun.gate import Outcome

_ICON = {"approved": "✅", "warn": "⚠️", "blocked": "⛔"}
_SKILL_RULE = "skill.pass_rate"
_SKILL_RATE = re.compile(r"^eval\.([a-z0-9_]+)\.pass_rate$")
CHART_FILE, MARKDOWN_FILE, JSON_FILE = "skills.svg", "report.md", "postrun.json"


def _num(x: Any, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "missing"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def skill_rows(outcome: Outcome) -> list[dict[str, Any]]:
    """One dict per skill (gated or evaluated): rows, rate, interval, gate, delta vs baseline, p-value."""
    ev = outcome.evidence
    gates = {r.category: r.params.get("threshold") for r in outcome.result.ruleset.rules
             if r.base_id == _SKILL_RULE and r.category}
    skills = list(gates) + sorted({m.group(1) for n in ev if (m := _SKILL_RATE.match(n))} - set(gates))
    base = outcome.baseline or {}
    return [{"skill": s, "rows": ev.get(f"eval.{s}.rows"), "pass_rate": ev.get(f"eval.{s}.pass_rate"),
             "low": ev.get(f"eval.{s}.pass_rate_low"), "high": ev.get(f"eval.{s}.pass_rate_high"),
             "gate": gates.get(s), "baseline": base.get(f"eval.{s}.pass_rate") if base else None,
             "delta": ev.get(f"eval.{s}.delta"), "delta_p": ev.get(f"eval.{s}.delta_p")} for s in skills]


def sections(outcome: Outcome) -> tuple[list[dict], list[dict], list[dict]]:
    """(failing skills weakest first, other blocking checks, warnings) as check rows."""
    failing = outcome.result.failing()
    gap = (pl.col("observed_value") - pl.col("threshold")).fill_null(-math.inf)
    skills = failing.filter((pl.col("effect") == "block") & pl.col("rule_id").str.starts_with(_SKILL_RULE + "."))
    skills = skills.with_columns(gap.alias("_gap")).sort("_gap", maintain_order=True).drop("_gap")
    other = failing.filter((pl.col("effect") == "block") & ~pl.col("rule_id").str.starts_with(_SKILL_RULE + "."))
    warns = failing.filter(pl.col("effect") == "warn")
    return skills.to_dicts(), other.to_dicts(), warns.to_dicts()


def _headline(outcome: Outcome) -> str:
    runs = outcome.result.runs.row(0, named=True)
    return (f"{runs['blocking']} blocking, {runs['warnings']} warnings, {runs['passed']} passed; "
            f"honesty report: {outcome.evidence.get('honesty.status')}")


# -- markdown ---------------------------------------------------------------------------------
def to_markdown(outcome: Outcome, *, chart: str | None = CHART_FILE) -> str:
    """The report as markdown; `chart` is the image file name written beside it (None: no image)."""
    r, ev = outcome.result, outcome.evidence
    lines = [f"# {_ICON[r.status]} picogate post-run: **{r.status}** — {md_code(ev['run_id'])}", "",
             f"Profile `{r.ruleset.profile}`; {_headline(outcome)}.", ""]
    if r.status != "approved":
        lines += ["Training completed and eval produced scores; that is not the same as releasable.", ""]
    skills, other, warns = sections(outcome)
    for title, rows in (("Failing skills, weakest first", skills), ("Other checks that block the release", other),
                        ("Warnings", warns)):
        if not rows:
            continue
        lines += [f"## {title}", "", "| check | observed | required | fix |", "|---|---|---|---|"]
        lines += [f"| {md_code(c['rule_id'])} ({c['outcome']}) | {md(c['observed'])} | {md(c['required'])} | "
                  f"{md(c['fix'])} |" for c in rows]
        lines.append("")
        lines += [f"- {md_code(c['rule_id'])}: {md(c['message'])}" for c in rows]
        lines.append("")
    lines += ["## Per-skill eval pass rates", ""]
    if chart:
        lines += [f"![per-skill pass rates with 95% intervals and gates]({chart})", ""]
    with_base = outcome.baseline is not None
    head = "| skill | rows | pass rate | 95% interval | gate |" + (" baseline | change | p |" if with_base else "")
    lines += [head, "|---|---|---|---|---|" + ("---|---|---|" if with_base else "")]
    for s in skill_rows(outcome):
        row = (f"| {md(s['skill'])} | {_num(s['rows'])} | {_num(s['pass_rate'])} | "
               f"{_num(s['low'])}–{_num(s['high'])} | {_num(s['gate'])} |")
        if with_base:
            row += f" {_num(s['baseline'])} | {_signed(s['delta'])} | {_num(s['delta_p'], 3)} |"
        lines.append(row)
    lines += ["", "Intervals are Wilson 95% score intervals: with 10 rows a skill at 0.60 could be anywhere in "
              "0.31–0.83. A change against the baseline counts only when the two-proportion test gives p < 0.05.",
              "", "## Other evidence", "", "| metric | rows | value | 95% interval |", "|---|---|---|---|"]
    for label, rate, rows in _other_rates(ev):
        lines.append(f"| {label} | {_num(ev.get(rows))} | {_num(ev.get(rate))} | "
                     f"{_num(ev.get(rate + '_low'))}–{_num(ev.get(rate + '_high'))} |")
    lines += ["", "## Honesty report: do the run's claims match its evidence?", "",
              f"Status **{ev.get('honesty.status')}**.", "", "| claim | outcome | observed | detail |",
              "|---|---|---|---|"]
    for c in outcome.honesty.checks.iter_rows(named=True):
        lines.append(f"| {md_code(c['rule_id'])} | {c['outcome']} | {md(c['observed'])} | {md(c['message'])} |")
    lines.append("")
    return "\n".join(lines)


def _signed(x: Any) -> str:
    return "missing" if x is None else f"{x:+.2f}"


def _other_rates(ev: dict[str, Any]) -> list[tuple[str, str, str]]:
    out = [("SFT fit (training rows)", "sft.fit_rate", "sft.rows"),
           ("SFT fit (held-out rows)", "sft_heldout.fit_rate", "sft_heldout.rows"),
           ("visible eval pass rate", "eval.pass_rate", "eval.rows"),
           ("refusal of harmful prompts", "refusal.rate", "refusal.rows"),
           ("false refusal of benign probes", "refusal.false_rate", "refusal.benign_rows"),
           ("prompt echo", "echo.rate", "echo.rows")]
    for name in sorted(ev):
        if (m := re.match(r"^external\.([a-z0-9_]+)\.acc$", name)):
            out.append((f"external {m.group(1)} (acc)", name, f"external.{m.group(1)}.rows"))
    return out


# -- chart ------------------------------------------------------------------------------------
def skills_svg(rows: list[dict[str, Any]], *, title: str = "eval pass rate by skill") -> str:
    """Horizontal bars (pass rate), whiskers (95% interval) and a tick at each skill's gate."""
    left, width, bar, gap, top = 90, 360, 18, 10, 34
    height = top + len(rows) * (bar + gap) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 70}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<text x="{left}" y="18" font-weight="bold">{escape(title)}</text>']
    for k in range(0, 11, 2):
        x = left + width * k / 10
        out.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 26}" stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{height - 12}" text-anchor="middle" fill="#666">{k / 10:.1f}</text>')
    for i, r in enumerate(rows):
        y = top + i * (bar + gap)
        rate, gate = r.get("pass_rate"), r.get("gate")
        ok = rate is not None and (gate is None or rate >= gate)
        out.append(f'<text x="{left - 6}" y="{y + bar * 0.72:.1f}" text-anchor="end">{escape(str(r["skill"]))}'
                   f'</text>')
        if rate is None:
            out.append(f'<text x="{left + 4}" y="{y + bar * 0.72:.1f}" fill="#b00">missing</text>')
            continue
        color = "#2e7d32" if ok else "#c62828"
        out.append(f'<rect x="{left}" y="{y}" width="{width * rate:.1f}" height="{bar}" fill="{color}" '
                   f'fill-opacity="0.75"><title>{escape(str(r["skill"]))}: {rate:.2f} over {r.get("rows")} rows'
                   f'</title></rect>')
        if r.get("low") is not None and r.get("high") is not None:
            x1, x2, ym = left + width * r["low"], left + width * r["high"], y + bar / 2
            out.append(f'<line x1="{x1:.1f}" y1="{ym}" x2="{x2:.1f}" y2="{ym}" stroke="#222"/>')
            for x in (x1, x2):
                out.append(f'<line x1="{x:.1f}" y1="{ym - 4}" x2="{x:.1f}" y2="{ym + 4}" stroke="#222"/>')
        if gate is not None:
            x = left + width * gate
            out.append(f'<line x1="{x:.1f}" y1="{y - 3}" x2="{x:.1f}" y2="{y + bar + 3}" stroke="#000" '
                       f'stroke-width="2.5"><title>gate {gate}</title></line>')
        out.append(f'<text x="{left + width + 8}" y="{y + bar * 0.72:.1f}">{rate:.2f} (n={r.get("rows")})</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# -- text and JSON --------------------------------------------------------------------------
def to_text(outcome: Outcome) -> str:
    """A plain terminal report: verdict, failing skills weakest first with fixes, then the rest."""
    r, ev = outcome.result, outcome.evidence
    lines = [f"{r.status.upper()}  post-run {plain(ev['run_id'])}  (profile {r.ruleset.profile}): {_headline(outcome)}"]
    skills, other, warns = sections(outcome)
    for title, rows in (("failing skills, weakest first", skills), ("other blocking checks", other),
                        ("warnings", warns)):
        if rows:
            lines += ["", f"{title}:"]
            for c in rows:
                lines.append(f"  {c['rule_id']}: observed {plain(c['observed'])}, required {plain(c['required'])}")
                lines.append(f"    {plain(c['message'])}")
                lines.append(f"    fix: {plain(c['fix'])}")
    lines += ["", "per-skill eval (95% Wilson interval):"]
    for s in skill_rows(outcome):
        extra = f"  change {_signed(s['delta'])} (p={_num(s['delta_p'], 3)})" if outcome.baseline else ""
        lines.append(f"  {plain(s['skill']):<10} {_num(s['pass_rate'])} [{_num(s['low'])}, {_num(s['high'])}] "
                     f"n={_num(s['rows'])}  gate {_num(s['gate'])}{extra}")
    lines += ["", f"honesty report: {ev.get('honesty.status')}"]
    for c in outcome.honesty.checks.iter_rows(named=True):
        mark = "ok " if c["effect"] == "ok" else c["effect"]
        lines.append(f"  [{mark:<5}] {c['rule_id']}: {plain(c['observed'])}")
    return "\n".join(lines) + "\n"


def _clean(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def to_dict(outcome: Outcome) -> dict[str, Any]:
    """JSON-ready: the verdict (GateResult.to_dict()), the honesty report, the skills and the evidence row."""
    return {**outcome.result.to_dict(), "run_dir": str(outcome.run_dir),
            "honesty": outcome.honesty.to_dict(), "skills": skill_rows(outcome),
            "evidence": {k: _clean(v) for k, v in outcome.evidence.items()},
            "baseline": {k: _clean(v) for k, v in outcome.baseline.items()} if outcome.baseline else None}


def write_reports(outcome: Outcome, out_dir: str | Path) -> dict[str, Path]:
    """Write report.md, skills.svg and postrun.json into `out_dir` (atomically); returns their paths."""
    out = Path(out_dir)
    paths = {"markdown": out / MARKDOWN_FILE, "chart": out / CHART_FILE, "json": out / JSON_FILE}
    atomic_write_text(paths["chart"], skills_svg(skill_rows(outcome)))
    atomic_write_text(paths["markdown"], to_markdown(outcome, chart=CHART_FILE))
    atomic_write_text(paths["json"], json.dumps(to_dict(outcome), indent=2, ensure_ascii=False, default=str) + "\n")
    return paths
