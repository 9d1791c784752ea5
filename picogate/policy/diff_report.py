"""Reports of a `RulesDiff`: a markdown pull-request comment and a plain-text summary.

Both lead with the count of runs whose verdict changes, then the rule edits, then which
rules move how many runs, then the runs themselves with observed vs required values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from picogate.escape import md, md_code, text
from picogate.rules import CategoryChange
from picogate.verdict import ICON, STATUS_ORDER

if TYPE_CHECKING:
    from picogate.policy.diff import RulesDiff

def _headline(d: RulesDiff) -> str:
    if not d.n_changed:
        return f"no run changes verdict ({d.total_runs:,} past runs judged)"
    stricter = d.changed.filter(_rank("new") > _rank("old")).height
    return (f"{d.n_changed:,} of {d.total_runs:,} past runs change verdict "
            f"({stricter:,} stricter, {d.n_changed - stricter:,} looser)")


def _rank(col: str):  # type: ignore[no-untyped-def]
    import polars as pl

    return pl.col(col).replace_strict(STATUS_ORDER, return_dtype=pl.Int8)


def _because(rule_id: str, rows: dict[str, Any], esc: Callable[[object], str] = text,
             code: Callable[[object], str] = text) -> str:
    """Why one rule moves one run, with data escaped by `esc` (rule ids by `code`): markdown or text."""
    old, new = rows.get("old"), rows.get("new")
    rid = code(rule_id)
    if old is None and new is not None:
        return f"{rid} (new rule): {new['outcome']}, observed {esc(new['observed'])}, required {esc(new['required'])}"
    if new is None and old is not None:
        return f"{rid} (removed): was {old['outcome']}"
    if old is None or new is None:
        return rid
    required = esc(new["required"]) if old["required"] == new["required"] else \
        f"{esc(new['required'])} (was {esc(old['required'])})"
    sev = "" if old["severity"] == new["severity"] else f", severity {old['severity']} → {new['severity']}"
    return f"{rid}: {old['outcome']} → {new['outcome']}, observed {esc(new['observed'])}, required {required}{sev}"


def _value(v: object) -> str:
    return "—" if v is None else CategoryChange.describe_value(v)


def _effects(c: CategoryChange) -> str:
    """`strengthens skill.pass_rate.math` or, when the checks disagree, each check with its own word."""
    if len({d for _, d in c.effects}) == 1:
        return f"{c.direction} " + ", ".join(rid for rid, _ in c.effects)
    return "; ".join(f"{d} {rid}" for rid, d in c.effects) or "no check reads it"


def to_markdown(d: RulesDiff, *, max_runs: int = 50) -> str:
    """A pull-request comment; labels, rule texts, run ids and observed values are escaped (picogate.escape)."""
    lines = [f"## picogate rules diff: {_headline(d)}", "",
             f"{md_code(d.old_label)} (profile {md_code(d.old.profile)}, {len(d.old.rules)} checks) → "
             f"{md_code(d.new_label)} (profile {md_code(d.new.profile)}, {len(d.new.rules)} checks)"
             + (f", stage `{d.stage}`" if d.stage else "") + ".", ""]
    if d.rule_changes:
        lines += ["### Rule changes", "", "| rule | change | before | after |", "|---|---|---|---|"]
        lines += [f"| {md_code(c.rule_id)} | {c.change} | {c.before and md_code(c.before)} | "
                  f"{c.after and md_code(c.after)} |" for c in d.rule_changes]
        lines.append("")
    else:
        lines += ["No rule was added, removed or changed.", ""]
    if d.category_changes:
        lines += ["### Category values", "", "| value | before | after | effect on the gate |", "|---|---|---|---|"]
        lines += [f"| {md_code(f'{c.table}.{c.category}')} | {md(_value(c.before))} | {md(_value(c.after))} | "
                  f"{md(_effects(c))} |" for c in d.category_changes]
        lines.append("")
    if d.n_changed:
        lines += ["### Verdict changes", "", "| before | after | runs |", "|---|---|---|"]
        lines += [f"| {ICON[t['old']]} {t['old']} | {ICON[t['new']]} {t['new']} | {t['runs']:,} |"
                  for t in d.transitions.iter_rows(named=True)]
        lines += ["", "### Rules that cause them", "", "| rule | effect | runs |", "|---|---|---|"]
        lines += [f"| {md_code(r['rule_id'])} | {r['before']} → {r['after']} | {r['runs']:,} |"
                  for r in d.impact.iter_rows(named=True)]
        lines += ["", f"### Runs that change verdict (first {min(max_runs, d.n_changed):,})", "",
                  "| run | before | after | because |", "|---|---|---|---|"]
        details = d.details(max_runs)
        for run in d.changed.head(max_runs).iter_rows(named=True):
            rows = details.get(run["run_id"], {})
            because = "<br>".join(_because(rid, rows.get(rid, {}), md, md_code) for rid in run["causes"])
            lines.append(f"| {md_code(run['run_id'])} | {ICON[run['old']]} {run['old']} | "
                         f"{ICON[run['new']]} {run['new']} | {because} |")
        if d.n_changed > max_runs:
            lines += ["", f"_{d.n_changed - max_runs:,} more run(s) not shown; use --format json for all._"]
    return "\n".join(lines).rstrip() + "\n"


def to_text(d: RulesDiff, *, max_runs: int = 20) -> str:
    """A plain-text summary; data escaped by `picogate.escape.text` (one line each, no `::`)."""
    lines = [f"picogate rules diff: {_headline(d)}",
             f"  old: {text(d.old_label)} (profile {text(d.old.profile)}, {len(d.old.rules)} checks)",
             f"  new: {text(d.new_label)} (profile {text(d.new.profile)}, {len(d.new.rules)} checks)"]
    for c in d.rule_changes:
        before, after = text(c.before), text(c.after)
        what = {"added": f"+ {after}", "removed": f"- {before}", "changed": f"{before}  ->  {after}"}
        lines.append(f"  rule {c.change:<8} {text(c.rule_id)}: {what[c.change]}")
    for cc in d.category_changes:
        lines.append(f"  category {text(cc.describe())}")
    if d.n_changed:
        lines.append("verdict changes:")
        lines += [f"  {t['old']:>8} -> {t['new']:<8} {t['runs']:>8,} run(s)"
                  for t in d.transitions.iter_rows(named=True)]
        lines.append("caused by:")
        lines += [f"  {text(r['rule_id']):<40} {r['before']:>5} -> {r['after']:<5} {r['runs']:>8,} run(s)"
                  for r in d.impact.iter_rows(named=True)]
        lines.append(f"runs (first {min(max_runs, d.n_changed)}):")
        details = d.details(max_runs)
        for run in d.changed.head(max_runs).iter_rows(named=True):
            lines.append(f"  {text(run['run_id'])}: {run['old']} -> {run['new']}")
            rows = details.get(run["run_id"], {})
            lines += [f"      {_because(rid, rows.get(rid, {}))}" for rid in run["causes"]]
        if d.n_changed > max_runs:
            lines.append(f"  ... {d.n_changed - max_runs:,} more run(s); use --format json for all")
    return "\n".join(lines) + "\n"
