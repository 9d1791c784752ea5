"""`picogate history RUN_DIR... --out history.html`: several runs of one project on one static page.

    picogate history runs/r1 runs/r2 runs/r3 [--baseline runs/r0] [--profile skill_release] --out history.html

Per run, in the order given: the verdict and what blocked it (failing skills weakest first, then the other
blocking checks, then warnings; observed vs required and the fix). Per skill, weakest in the last run
first: a trend chart of its pass rate with the 95% interval against its gate line, and whether the last
change moved it beyond the noise. A release manager sees which category to fix and whether the last
change helped.

Each run is judged by `postrun.run()` exactly as `picogate postrun RUN_DIR [--baseline B]` judges it (a
listed run that is the baseline itself is judged without one); run-to-run changes come from the same
two-proportion test the regression rules use (`gate.deltas`). The page is one file: inline CSS and SVG, no
script and no external asset (its Content-Security-Policy allows neither), so it opens offline.

History is a report, not a gate: exit 0 when the page is written, whatever the verdicts (gate a release
with `picogate postrun`); 2 when it cannot be (an unreadable run directory, an unwritable --out), with one line.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from picogate.errors import InputError
from picogate.io import atomic_write_text
from picogate.postrun.gate import Outcome, deltas, run
from picogate.postrun.report import (
    FAIL_COLOR,
    FONT,
    NO_GATE_COLOR,
    PASS_COLOR,
    clip,
    legend,
    markup,
    num,
    sections,
    skill_rows,
    text_px,
)
from picogate.rules import RuleSet
from picogate.verdict import EXIT_APPROVED

SIGNIFICANT = 0.05  # p below which a change between consecutive runs is shown as beyond the noise

_CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, "Segoe UI", Roboto, "Liberation Sans", "DejaVu Sans", sans-serif;
  max-width: 1180px; margin: 0 auto; padding: 12px 24px 40px; color: #1b1b1b; background: #f7f7f5; }
h1 { font-size: 22px; margin: 8px 0 2px; }
h2 { font-size: 18px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #d6d6d6; }
h3 { font-size: 15px; margin: 0 0 2px; }
p { margin: 4px 0 8px; }
.note, .msg { color: #555; font-size: 12px; }
.wrap { overflow-x: auto; }
table { border-collapse: collapse; background: #fff; }
th, td { border: 1px solid #dcdcdc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #efefec; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code { font: 12px ui-monospace, "DejaVu Sans Mono", monospace; overflow-wrap: break-word; }
.id, .id code { overflow-wrap: anywhere; } .id { min-width: 9em; max-width: 24em; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 10px; color: #fff; font-size: 12px;
  font-weight: 700; text-transform: uppercase; letter-spacing: .03em; }
.approved { background: #2e7d32; } .warn { background: #a15c00; } .blocked { background: #c62828; }
.below { color: #c62828; font-weight: 600; } .above { color: #2e7d32; } .nogate { color: #455a64; }
td.below { background: #fdecea; } td.above { background: #edf6ee; }
.up { color: #2e7d32; font-weight: 600; } .down { color: #c62828; font-weight: 600; } .flat { color: #666; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { background: #fff; border: 1px solid #dcdcdc; border-radius: 6px; padding: 8px 12px; max-width: 100%; }
.card svg, .legend svg { display: block; max-width: 100%; height: auto; }
details { background: #fff; border: 1px solid #dcdcdc; border-radius: 6px; padding: 6px 12px; margin: 8px 0; }
summary { cursor: pointer; font-weight: 600; }
details table { margin: 6px 0; }
"""


def judge(run_dirs: Sequence[str | Path], *, baseline: str | Path | None = None,
          profile: str | Path | RuleSet | None = None) -> list[Outcome]:
    """Judge each run directory as `picogate postrun` does; the baseline run itself is judged without one."""
    if not run_dirs:
        raise InputError("history needs at least one run directory")
    base = Path(baseline).resolve() if baseline is not None else None
    return [run(d, profile=profile, baseline=None if base is None or Path(d).resolve() == base else baseline)
            for d in run_dirs]


def write_history(run_dirs: Sequence[str | Path], out: str | Path, *, baseline: str | Path | None = None,
                  profile: str | Path | RuleSet | None = None) -> tuple[Path, list[Outcome]]:
    """Judge the runs and write the page to `out` atomically; returns its path and the outcomes.

    >>> write_history(["demo-run"], "history.html")[0]
    PosixPath('history.html')
    """
    outcomes = judge(run_dirs, baseline=baseline, profile=profile)
    page = to_html(outcomes, baseline=baseline)
    try:
        return atomic_write_text(out, page), outcomes
    except OSError as exc:
        raise InputError(f"{out}: cannot write the history page ({exc.strerror or exc})") from None


# -- the page ---------------------------------------------------------------------------------------
def to_html(outcomes: Sequence[Outcome], *, baseline: str | Path | None = None) -> str:
    """The whole page: runs table, last change, per-skill trends, then what blocked each run."""
    skills = _skills(outcomes)
    pairs = itertools.pairwise(outcomes)
    changes: list[dict[str, Any]] = [{}, *(deltas(c.evidence, p.evidence, set()) for p, c in pairs)]
    judged = ("each run judged as <code>picogate postrun RUN_DIR</code> judges it" if baseline is None else
              f"each run judged as <code>picogate postrun RUN_DIR --baseline {markup(baseline)}</code> judges it")
    body = [f"<h1>picogate run history</h1><p class=note>{len(outcomes)} run{'s' * (len(outcomes) != 1)} in "
            f"the order given; {judged}. Intervals are Wilson 95% score intervals; a change between consecutive "
            f"runs counts when the two-proportion test gives p &lt; {SIGNIFICANT}.</p>",
            _runs_table(outcomes), _last_change(outcomes, skills, changes), _skill_section(outcomes, skills, changes),
            '<h2 id="blockers">What blocked each run</h2>', *(_run_details(i, o) for i, o in enumerate(outcomes))]
    return ("<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
            "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
            "<meta name=viewport content=\"width=device-width, initial-scale=1\">\n"
            f"<title>picogate history: {markup(_run_id(outcomes[-1]))}</title>\n<style>{_CSS}</style>\n</head>\n"
            "<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")


def _run_id(o: Outcome) -> str:
    return str(o.evidence.get("run_id"))


def _skills(outcomes: Sequence[Outcome]) -> list[str]:
    """Every skill any run evaluated or gated, weakest in the last run first (shortfall below its gate)."""
    names: dict[str, None] = {}
    for o in outcomes:
        names |= dict.fromkeys(str(r["skill"]) for r in skill_rows(o))
    last = {str(r["skill"]): r for r in skill_rows(outcomes[-1])}

    def key(s: str) -> tuple[int, float]:
        r = last.get(s)
        if r is None:
            return (3, 0.0)
        if r["pass_rate"] is None:
            return (0, 0.0)
        return (1, r["pass_rate"] - r["gate"]) if r["gate"] is not None else (2, r["pass_rate"])

    return sorted(names, key=key)


def _rows_by_skill(o: Outcome) -> dict[str, dict[str, Any]]:
    return {str(r["skill"]): r for r in skill_rows(o)}


def _standing(r: dict[str, Any] | None) -> tuple[str, str]:
    """(css class, words) of one skill's rate against its gate."""
    if r is None or r["pass_rate"] is None:
        return "below", "no evidence"
    if r["gate"] is None:
        return "nogate", "no gate"
    return ("above", "clears its gate") if r["pass_rate"] >= r["gate"] else ("below", "below its gate")


def _below(o: Outcome) -> list[dict[str, Any]]:
    """The skills of a run below their gate (or without evidence), largest shortfall first."""
    below = [r for r in skill_rows(o) if _standing(r)[0] == "below"]
    return sorted(below, key=lambda r: -math.inf if r["pass_rate"] is None else r["pass_rate"] - (r["gate"] or 0))


def _change(ch: dict[str, Any], skill: str) -> tuple[str, str]:
    """(css class, text) of a skill's change against the previous run: arrow only beyond the noise."""
    delta, p = ch.get(f"eval.{skill}.delta"), ch.get(f"eval.{skill}.delta_p")
    if delta is None:
        return "flat", ""
    if p is not None and p < SIGNIFICANT and delta != 0:
        return ("up", f"▲ {delta:+.2f}") if delta > 0 else ("down", f"▼ {delta:+.2f}")
    return "flat", f"{delta:+.2f} (noise)"


def _badge(status: str) -> str:
    return f'<span class="badge {markup(status)}">{markup(status)}</span>'


def _runs_table(outcomes: Sequence[Outcome]) -> str:
    rows = []
    for i, o in enumerate(outcomes, 1):
        counts = o.result.runs.row(0, named=True)
        fix = ", ".join(f"{markup(r['skill'])} {num(r['pass_rate'])} &lt; {num(r['gate'])}" for r in _below(o))
        rows.append(f"<tr><td class=num>#{i}</td><td class=id><code>{markup(_run_id(o))}</code></td>"
                    f"<td>{_badge(o.status)}</td><td class=num>{counts['blocking']}</td>"
                    f"<td class=num>{counts['warnings']}</td><td class=num>{counts['passed']}</td>"
                    f"<td>{markup(o.evidence.get('honesty.status'))}</td>"
                    f"<td{' class=below' if fix else ''}>{fix or '<span class=above>none</span>'}</td>"
                    f"<td>{markup(o.result.ruleset.profile)}</td>"
                    f"<td class=id><code>{markup(o.run_dir)}</code></td></tr>")
    return ('<h2 id="runs">Runs</h2><div class=wrap><table><tr><th>#</th><th>run</th><th>verdict</th>'
            "<th>blocking</th><th>warnings</th><th>passed</th><th>honesty</th><th>skills below their gate, "
            "weakest first</th><th>profile</th><th>directory</th></tr>" + "".join(rows) + "</table></div>")


def _last_change(outcomes: Sequence[Outcome], skills: list[str], changes: list[dict[str, Any]]) -> str:
    """Did the last change help? The last run against the one before it, skill by skill."""
    if len(outcomes) < 2:
        return ""
    prev, cur, n = outcomes[-2], outcomes[-1], len(outcomes)
    items = []
    for s in skills:
        cls, text = _change(changes[-1], s)
        r = _rows_by_skill(cur).get(s)
        now = f"{num(r['pass_rate'])} (gate {num(r['gate'])})" if r else "not evaluated"
        items.append(f"<li><b>{markup(s)}</b>: now {now}, <span class={cls}>{markup(text) or 'no comparison'}"
                     f"</span></li>")
    return (f'<h2 id="last">Last change: #{n} <code>{markup(_run_id(cur))}</code> against #{n - 1} '
            f"<code>{markup(_run_id(prev))}</code></h2><p>Verdict {_badge(prev.status)} → {_badge(cur.status)}."
            f"</p><ul>{''.join(items)}</ul>")


def _skill_section(outcomes: Sequence[Outcome], skills: list[str], changes: list[dict[str, Any]]) -> str:
    by_run = [_rows_by_skill(o) for o in outcomes]
    cards = []
    for s in skills:
        rows = [b.get(s) for b in by_run]
        last = rows[-1]
        cls, words = _standing(last)
        gate = next((r["gate"] for r in reversed(rows) if r and r["gate"] is not None), None)
        latest = (f"{num(last['pass_rate'])} [{num(last['low'])}–{num(last['high'])}], n={num(last['rows'])}"
                  if last and last["pass_rate"] is not None else "missing")
        cards.append(f"<div class=card><h3>{markup(s)}</h3><p class=note>last run {latest}; gate {num(gate)}: "
                     f"<span class={cls}>{words}</span></p>{trend_svg(s, outcomes, rows, gate)}</div>")
    head = "".join(f"<th>#{i}<br><code>{markup(clip(_run_id(o), 18))}</code></th>" for i, o in enumerate(outcomes, 1))
    table = []
    for s in skills:
        cells = []
        for b, ch in zip(by_run, changes, strict=True):
            r = b.get(s)
            if r is None:
                cells.append("<td class=num>—</td>")
                continue
            ccls, ctext = _change(ch, s)
            arrow = f" <span class={ccls}>{markup(ctext.split(' (')[0])}</span>" if ccls != "flat" else ""
            cells.append(f"<td class=\"num {_standing(r)[0]}\">{num(r['pass_rate'])} <span class=msg>"
                         f"[{num(r['low'])}–{num(r['high'])}] n={num(r['rows'])}</span>{arrow}</td>")
        gates = dict.fromkeys(b[s]["gate"] for b in by_run if s in b)
        table.append(f"<tr><th>{markup(s)}</th><td class=num>{' / '.join(num(g) for g in gates)}</td>"
                     f"{''.join(cells)}</tr>")
    return ('<h2 id="skills">Skills, weakest in the last run first</h2>'
            f"<div class=legend>{trend_legend()}</div><div class=cards>{''.join(cards)}</div>"
            "<h3 style=\"margin-top:16px\">Pass rate by run</h3><p class=note>▲/▼: a change against the previous "
            "run beyond the noise. Red cells are below the gate.</p>"
            f"<div class=wrap><table><tr><th>skill</th><th>gate</th>{head}</tr>{''.join(table)}</table></div>")


def _check_rows(rows: list[dict[str, Any]]) -> str:
    out = ["<table><tr><th>check</th><th>outcome</th><th>observed</th><th>required</th><th>fix</th></tr>"]
    for c in rows:
        out.append(f"<tr><td><code>{markup(c['rule_id'])}</code><div class=msg>{markup(c['message'])}</div></td>"
                   f"<td>{markup(c['outcome'])}</td><td>{markup(c['observed'])}</td><td>{markup(c['required'])}</td>"
                   f"<td>{markup(c['fix'])}</td></tr>")
    return "".join(out) + "</table>"


def _run_details(i: int, o: Outcome) -> str:
    """One run's verdict and what stops it: blocking first (failing skills weakest first), then warnings."""
    counts = o.result.runs.row(0, named=True)
    skills, other, warns = sections(o)
    parts = [f"<details open><summary>#{i + 1} <code>{markup(_run_id(o))}</code> {_badge(o.status)} "
             f"{counts['blocking']} blocking, {counts['warnings']} warnings, {counts['passed']} passed; honesty "
             f"{markup(o.evidence.get('honesty.status'))}</summary>"]
    if skills:
        parts.append(f"<h3>Failing skills, weakest first</h3>{_check_rows(skills)}")
    if other:
        parts.append(f"<h3>Other checks that block the release</h3>{_check_rows(other)}")
    if warns:
        parts.append(f"<details><summary>{len(warns)} warning{'s' * (len(warns) != 1)}</summary>"
                     f"{_check_rows(warns)}</details>")
    if not (skills or other or warns):
        parts.append("<p>Every check passes.</p>")
    return "".join(parts) + "</details>"


# -- the trend chart -------------------------------------------------------------------------------
_DOT = '<circle cx="{xm}" cy="{ym}" r="4.5" fill="%s"/>'
_VWHISKER = ('<line x1="{xm}" y1="{y}" x2="{xm}" y2="{yb}" stroke="#222"/>'
             '<line x1="{xa}" y1="{y}" x2="{xb}" y2="{y}" stroke="#222"/><line x1="{xa}" y1="{yb}" x2="{xb}" '
             'y2="{yb}" stroke="#222"/>')
_TREND_SWATCH = '<line x1="{x}" y1="{ym}" x2="{x2}" y2="{ym}" stroke="#888" stroke-width="1.5"/>'
_GATE_SWATCH = '<line x1="{x}" y1="{ym}" x2="{x2}" y2="{ym}" stroke="#000" stroke-width="1.5" stroke-dasharray="4 3"/>'


def trend_legend() -> str:
    """One legend for every trend chart on the page (an SVG with its own white background)."""
    items = [(_DOT % PASS_COLOR, "pass rate, at or above the gate"), (_DOT % FAIL_COLOR, "below the gate"),
             (_DOT % NO_GATE_COLOR, "no gate"), (_VWHISKER, "95% interval (Wilson)"),
             (_GATE_SWATCH, "gate: the rate required"), (_TREND_SWATCH, "trend")]
    width = round(20 + sum(22 + text_px(label) + 18 for _, label in items) - 18)
    keys, h = legend(items, 10, 8, width - 20)
    height = round(h + 12)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} '
            f'{height}" font-family="{FONT}" font-size="12" role="img" aria-label="legend">'
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>' + "".join(keys) + "</svg>")


def trend_svg(skill: str, outcomes: Sequence[Outcome], rows: Sequence[dict[str, Any] | None],
              gate: float | None) -> str:
    """Pass rate of one skill run by run: a dot per run (coloured against the gate), its 95% interval as a
    vertical whisker, a line through the rates and the gate as a dashed line. White background; every
    label sized to stay inside the canvas (long run ids are cut, the full id is in each dot's tooltip)."""
    n = len(rows)
    pad, left, top, plot_h = 10, 40, 26, 140
    plot_w = min(max(64 * n, 224), 640)
    step = plot_w / n
    gate_label = f"gate {num(gate)}" if gate is not None else ""
    width = round(left + plot_w + 8 + max(text_px(gate_label), text_px("pass rate")) + pad)
    bottom = top + plot_h
    height = bottom + 36 + pad
    every = math.ceil(text_px(f"#{n}") / max(step - 6, 1))  # label every k-th run when they would overlap
    id_chars = int((step - 6) // 7) if every == 1 else 0

    def y_of(v: float) -> float:
        return bottom - plot_h * min(max(v, 0.0), 1.0)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} '
           f'{height}" font-family="{FONT}" font-size="12" role="img" aria-label="{markup(skill)} pass rate '
           f'by run"><rect class="background" x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
           f'<text x="{pad}" y="14" fill="#333">pass rate</text>']
    for k in range(0, 6):
        y = y_of(k / 5)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e2e2e2"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{k / 5:.1f}</text>')
    if gate is not None:
        gy = y_of(gate)
        out.append(f'<line x1="{left}" y1="{gy:.1f}" x2="{left + plot_w}" y2="{gy:.1f}" stroke="#000" '
                   f'stroke-width="1.5" stroke-dasharray="4 3"><title>gate {markup(gate)}</title></line>')
        out.append(f'<text x="{left + plot_w + 6}" y="{gy + 4:.1f}">{markup(gate_label)}</text>')
    xs = [left + step * (i + 0.5) for i in range(n)]
    line: list[str] = []
    for x, r in zip(xs, rows, strict=True):
        if r is None or r["pass_rate"] is None:
            if len(line) > 1:
                out.append(f'<polyline points="{" ".join(line)}" fill="none" stroke="#888" stroke-width="1.5"/>')
            line = []
            continue
        line.append(f"{x:.1f},{y_of(r['pass_rate']):.1f}")
    if len(line) > 1:
        out.append(f'<polyline points="{" ".join(line)}" fill="none" stroke="#888" stroke-width="1.5"/>')
    for i, (x, r, o) in enumerate(zip(xs, rows, outcomes, strict=True)):
        if i % every == 0 or i == n - 1:
            out.append(f'<text x="{x:.1f}" y="{bottom + 15}" text-anchor="middle" fill="#333">#{i + 1}</text>')
            if id_chars >= 3:
                out.append(f'<text x="{x:.1f}" y="{bottom + 30}" text-anchor="middle" fill="#666">'
                           f'{markup(clip(_run_id(o), id_chars))}</text>')
        if r is None or r["pass_rate"] is None:
            out.append(f'<text x="{x:.1f}" y="{bottom - 6}" text-anchor="middle" fill="#b00">n/a<title>#{i + 1} '
                       f'{markup(_run_id(o))}: no evidence</title></text>')
            continue
        if r["low"] is not None and r["high"] is not None:
            y1, y2 = y_of(r["low"]), y_of(r["high"])
            out.append(f'<line x1="{x:.1f}" y1="{y1:.1f}" x2="{x:.1f}" y2="{y2:.1f}" stroke="#222"/>')
            for y in (y1, y2):
                out.append(f'<line x1="{x - 5:.1f}" y1="{y:.1f}" x2="{x + 5:.1f}" y2="{y:.1f}" stroke="#222"/>')
        color = NO_GATE_COLOR if r["gate"] is None else PASS_COLOR if r["pass_rate"] >= r["gate"] else FAIL_COLOR
        out.append(f'<circle cx="{x:.1f}" cy="{y_of(r["pass_rate"]):.1f}" r="4.5" fill="{color}"><title>#{i + 1} '
                   f'{markup(_run_id(o))}: {markup(skill)} {num(r["pass_rate"])} [{num(r["low"])}–'
                   f'{num(r["high"])}] over {markup(r["rows"])} rows</title></circle>')
    out.append("</svg>")
    return "".join(out)


# -- command line ----------------------------------------------------------------------------------
def add_history_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register `history` on the main CLI's subparsers; the parser's default `func` is `cmd_history`."""
    p = subparsers.add_parser("history", help="one static HTML page of several runs: verdicts, blockers, "
                                              "per-skill trends", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories, oldest first (kept in order)")
    p.add_argument("--baseline", help="a previous run directory every run is compared against (as postrun's)")
    p.add_argument("--profile", "-p", help="profile or rule file (default: the one each run's preflight used)")
    p.add_argument("--out", "-o", default="history.html", help="the HTML file to write (default: history.html)")
    p.set_defaults(func=cmd_history)
    return p


def cmd_history(args: argparse.Namespace) -> int:
    """Write the page and print one line per run; 0 once written (a report, not a gate)."""
    from picogate.escape import text

    path, outcomes = write_history(args.run_dirs, args.out, baseline=args.baseline, profile=args.profile)
    for i, o in enumerate(outcomes, 1):
        below = [f"{r['skill']} {num(r['pass_rate'])} < {num(r['gate'])}" for r in _below(o)]
        print(text(f"#{i} {_run_id(o)}: {o.status}" + (f" (below gate: {', '.join(below)})" if below else "")))
    print(text(f"history: {path}"), file=sys.stderr)
    return EXIT_APPROVED
