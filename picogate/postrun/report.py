"""Post-run reports: a markdown report for a pull request or model card, a per-skill SVG bar chart, a plain
text report for the terminal, and a JSON-ready dict.

Every report leads with the verdict, then the failing skills weakest first (observed vs required, and
the fix), then the other checks that stop the release, then the warnings. Every rate is shown with its
row count and its Wilson 95% interval; with a baseline run, per-skill deltas and their p-values.
The chart is SVG written by hand (a few rects and labels): no plotting dependency.
"""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path
from typing import Any

import polars as pl

from picogate.escape import md, md_code, xml
from picogate.escape import text as plain
from picogate.io import atomic_write_text
from picogate.postrun.gate import Outcome
from picogate.report import plain as line_text
from picogate.report import run_blocks
from picogate.verdict import ICON

_SKILL_RULE = "skill.pass_rate"
_SKILL_RATE = re.compile(r"^eval\.([a-z0-9_]+)\.pass_rate$")
CHART_FILE, MARKDOWN_FILE, JSON_FILE = "skills.svg", "report.md", "postrun.json"


def num(x: Any, digits: int = 2) -> str:
    """A rate or count for a report cell: floats to `digits` places, integers in full, 'missing' for none."""
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
    lines = [f"# {ICON[r.status]} picogate post-run: **{r.status}** — {md_code(ev['run_id'])}", "",
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
        row = (f"| {md(s['skill'])} | {num(s['rows'])} | {num(s['pass_rate'])} | "
               f"{num(s['low'])}–{num(s['high'])} | {num(s['gate'])} |")
        if with_base:
            row += f" {num(s['baseline'])} | {_signed(s['delta'])} | {num(s['delta_p'], 3)} |"
        lines.append(row)
    lines += ["", "Intervals are Wilson 95% score intervals: with 10 rows a skill at 0.60 could be anywhere in "
              "0.31–0.83. A change against the baseline counts only when the two-proportion test gives p < 0.05.",
              "", "## Other evidence", "", "| metric | rows | value | 95% interval |", "|---|---|---|---|"]
    for label, rate, rows in _other_rates(ev):
        lines.append(f"| {label} | {num(ev.get(rows))} | {num(ev.get(rate))} | "
                     f"{num(ev.get(rate + '_low'))}–{num(ev.get(rate + '_high'))} |")
    lines += ["", "## Honesty report: do the run's claims match its evidence?", "",
              f"Status **{ev.get('honesty.status')}**.", "", "| claim | outcome | observed | detail |",
              "|---|---|---|---|"]
    for c in outcome.honesty.checks.iter_rows(named=True):  # a claim that holds shows its evidence, no failure text
        detail = md(c["message"]) if c["outcome"] != "pass" else "—"
        lines.append(f"| {md_code(c['rule_id'])} | {c['outcome']} | {md(c['observed'])} | {detail} |")
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
CHAR_PX = 7.0  # the least width a character is given at font-size 12, whatever its glyph
FONT = "Liberation Sans, Arial, Helvetica, sans-serif"  # one set of metrics (Arial's) for the width estimate
# Arial advance widths in 1/1000 em by character; any other ASCII character 556 (a digit), anything else 1000.
_ADVANCE = {**dict.fromkeys(" .,:;'!|ijlI[]ft/\\", 278), **dict.fromkeys("r-()\"`", 333),
            **dict.fromkeys("cksvxyzJ*", 500), **dict.fromkeys("<>=+~^", 584),
            **dict.fromkeys("ABEKPSVXY&", 667), **dict.fromkeys("CDHNRUwT", 722), **dict.fromkeys("GOQ", 778),
            **dict.fromkeys("mM", 833), **dict.fromkeys("%", 889), **dict.fromkeys("W", 944), "@": 1015}
PASS_COLOR, FAIL_COLOR, NO_GATE_COLOR = "#2e7d32", "#c62828", "#607d8b"
_NAME_CHARS = 24  # longer skill names are cut (with …) in the chart; the full name is in the tooltip
_SWATCH = '<rect x="{x}" y="{y}" width="16" height="12" fill="%s" fill-opacity="0.75"/>'
_WHISKER = ('<line x1="{x}" y1="{ym}" x2="{x2}" y2="{ym}" stroke="#222"/>'
                  '<line x1="{x}" y1="{y}" x2="{x}" y2="{yb}" stroke="#222"/>'
                  '<line x1="{x2}" y1="{y}" x2="{x2}" y2="{yb}" stroke="#222"/>')


def markup(value: object) -> str:
    """Data as HTML/SVG text or attribute: one line of XML-legal characters (`picogate.escape.xml`) with
    `<>&"'` as entities. The one helper the chart and the history page use for what they did not write.

    >>> markup("</svg><b x='1'>")
    '&lt;/svg&gt;&lt;b x=&#x27;1&#x27;&gt;'
    """
    return html.escape(xml(value), quote=True)


def text_px(s: str, size: float = 12, *, bold: bool = False) -> float:
    """Estimated rendered width of `s` at `size` px in `FONT`, a little generous (5%, bold 15%) and never
    under `CHAR_PX` per character: layouts size their canvas with it so that no label is cut.

    >>> round(text_px("0.20 (n=10)"))
    77
    """
    em = sum(_ADVANCE.get(c, 556 if c.isascii() else 1000) for c in s) / 1000
    return max(em * size * (1.15 if bold else 1.05), len(s) * CHAR_PX * size / 12)


def clip(s: str, chars: int) -> str:
    """`s` cut to `chars` characters, the last one an ellipsis when anything was cut."""
    return s if len(s) <= chars else s[: max(chars - 1, 0)] + "…"


def legend(items: list[tuple[str, str]], x0: float, y0: float, width: float) -> tuple[list[str], float]:
    """Legend entries laid out left to right, wrapping within `width`; returns the SVG elements and the
    height used. Each entry is (swatch, label); the swatch is SVG drawn in the 16x12 box whose corners and
    middle are given as {x} {y} {x2} {yb} {xm} {ym} ({xa} {xb}: a cap's ends, 3 px in from each side)."""
    out, x, y, row = [], x0, y0, 18
    for swatch, label in items:
        w = 22 + text_px(label)
        if x > x0 and x + w > x0 + width:
            x, y = x0, y + row
        out.append(swatch.format(x=f"{x:.1f}", y=f"{y:.1f}", x2=f"{x + 16:.1f}", yb=f"{y + 12:.1f}",
                                 xm=f"{x + 8:.1f}", ym=f"{y + 6:.1f}", xa=f"{x + 3:.1f}", xb=f"{x + 13:.1f}"))
        out.append(f'<text x="{x + 22:.1f}" y="{y + 10:.1f}">{markup(label)}</text>')
        x += w + 18
    return out, y + row - y0


def _value_label(r: dict[str, Any]) -> str:
    rate = r.get("pass_rate")
    return "missing" if rate is None else f"{rate:.2f} (n={num(r.get('rows'))})"


def skills_svg(rows: list[dict[str, Any]], *, title: str = "eval pass rate by skill") -> str:
    """Horizontal bars (pass rate), whiskers (95% interval) and a mark at each skill's gate, with an axis
    title, a legend and a white background (a transparent chart vanishes on dark themes). The canvas is
    sized from the labels' estimated widths, so no label is cut at an edge."""
    pad, plot_w, bar, gap, top = 10, 360, 18, 10, 34
    names = [clip(str(r["skill"]), _NAME_CHARS) for r in rows]
    left = pad + max([text_px(n) for n in names] + [40.0]) + 8
    value_x = left + plot_w + 10
    width = round(max(value_x + max([text_px(_value_label(r)) for r in rows] + [0.0]),
                      pad + text_px(title, 13, bold=True)) + pad)
    bars_end = top + len(rows) * (bar + gap)
    items = [(_SWATCH % PASS_COLOR, "at or above its gate"), (_SWATCH % FAIL_COLOR, "below its gate")]
    if any(r.get("gate") is None for r in rows):
        items.append((_SWATCH % NO_GATE_COLOR, "no gate"))
    items += [(_WHISKER, "95% interval (Wilson)"),
              ('<line x1="{xm}" y1="{y}" x2="{xm}" y2="{yb}" stroke="#000" stroke-width="2.5"/>',
               "gate: the rate required")]
    keys, keys_h = legend(items, pad, bars_end + 44, width - 2 * pad)
    height = round(bars_end + 44 + keys_h + pad)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="12">',
           f'<rect class="background" x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
           f'<text x="{pad}" y="20" font-size="13" font-weight="bold">{markup(title)}</text>']
    for k in range(0, 11, 2):
        x = left + plot_w * k / 10
        out.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bars_end}" stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{bars_end + 14}" text-anchor="middle" fill="#555">{k / 10:.1f}</text>')
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{bars_end + 30}" text-anchor="middle" fill="#333">'
               f'pass rate (share of eval rows answered correctly)</text>')
    for i, (r, name) in enumerate(zip(rows, names, strict=True)):
        y = top + i * (bar + gap)
        rate, gate = r.get("pass_rate"), r.get("gate")
        ty = f"{y + bar * 0.72:.1f}"
        out.append(f'<text x="{left - 6:.1f}" y="{ty}" text-anchor="end"><title>{markup(r["skill"])}</title>'
                   f'{markup(name)}</text>')
        if rate is None:
            out.append(f'<text x="{left + 4:.1f}" y="{ty}" fill="#b00">no evidence</text>')
        else:
            color = NO_GATE_COLOR if gate is None else PASS_COLOR if rate >= gate else FAIL_COLOR
            out.append(f'<rect class="bar" x="{left:.1f}" y="{y}" width="{plot_w * min(max(rate, 0.0), 1.0):.1f}" '
                       f'height="{bar}" fill="{color}" fill-opacity="0.75"><title>{markup(r["skill"])}: '
                       f'{rate:.2f} over {markup(r.get("rows"))} rows</title></rect>')
        if rate is not None and r.get("low") is not None and r.get("high") is not None:
            x1, x2, ym = left + plot_w * r["low"], left + plot_w * r["high"], y + bar / 2
            out.append(f'<line x1="{x1:.1f}" y1="{ym}" x2="{x2:.1f}" y2="{ym}" stroke="#222"/>')
            for x in (x1, x2):
                out.append(f'<line x1="{x:.1f}" y1="{ym - 4}" x2="{x:.1f}" y2="{ym + 4}" stroke="#222"/>')
        if gate is not None:
            gx = left + plot_w * min(max(gate, 0.0), 1.0)
            out.append(f'<line x1="{gx:.1f}" y1="{y - 3}" x2="{gx:.1f}" y2="{y + bar + 3}" stroke="#000" '
                       f'stroke-width="2.5"><title>gate {markup(gate)}</title></line>')
        fill = "#222" if rate is not None else "#b00"
        out.append(f'<text x="{value_x:.1f}" y="{ty}" fill="{fill}">{markup(_value_label(r))}</text>')
    out += keys
    out.append("</svg>")
    return "\n".join(out) + "\n"


# -- text and JSON --------------------------------------------------------------------------
def to_text(outcome: Outcome) -> str:
    """A plain terminal report: verdict, failing skills weakest first with fixes, then the rest."""
    r, ev = outcome.result, outcome.evidence
    lines = [f"{r.status.upper()}  post-run {plain(ev['run_id'])}  (profile {plain(r.ruleset.profile)}): "
             f"{_headline(outcome)}"]
    [(_, body)] = run_blocks(r)  # one line per check that stops the release, as every text report lists them
    if body:
        lines += ["", "what stops the release (blocking first, weakest first):", *map(line_text, body)]
    lines += ["", "per-skill eval (95% Wilson interval):"]
    for s in skill_rows(outcome):
        extra = f"  change {_signed(s['delta'])} (p={num(s['delta_p'], 3)})" if outcome.baseline else ""
        rate = "no evidence" if s["pass_rate"] is None else \
            f"{num(s['pass_rate'])} [{num(s['low'])}, {num(s['high'])}] n={num(s['rows'])}"
        lines.append(f"  {plain(s['skill']):<10} {rate}  gate {num(s['gate'])}{extra}")
    lines += ["", f"honesty report: {ev.get('honesty.status')}"]
    for c in outcome.honesty.checks.iter_rows(named=True):  # a claim shows its evidence, or what has none
        mark = "ok " if c["effect"] == "ok" else c["effect"]
        shown = c["message"] if c["outcome"] == "missing" else c["observed"]
        lines.append(f"  [{mark:<5}] {c['rule_id']}: {plain(shown)}")
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
