"""`picogate rules show PROFILE`: the effective rule set after `extends`, as a table.

What a reviewer needs to read a profile without chasing `extends` chains: each check's
id, stage, severity, expression (category placeholders filled), threshold, fix, and
where it is defined, plus which rules a later file overrides and which category values
it changes (from what to what, and whether that strengthens or weakens the gate).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from picogate.escape import md, md_code, text
from picogate.expr import nodes
from picogate.expr.grammar import MIRRORED
from picogate.rules import CategoryChange, Rule, RuleSet, load_rules

COLUMNS = ("id", "stage", "severity", "check", "threshold", "missing", "fix", "source")


def threshold(rule: Rule) -> str:
    """The requirement as written: `>= 0.9` for `x >= 0.9`; '' when the check is not one comparison.

    >>> threshold(load_rules("release").rules[0])
    '>= 20.0'
    """
    node = rule.node
    if isinstance(node, nodes.Binary) and node.op in MIRRORED:
        left, right, op = node.left, node.right, node.op
        if isinstance(left, nodes.Literal) and not isinstance(right, nodes.Literal):
            right, op = left, MIRRORED[op]
        if isinstance(right, nodes.Literal):
            return f"{op} {nodes.to_text(right)}"
    if isinstance(node, nodes.Binary) and node.op in ("in", "not in"):
        return f"{node.op} {nodes.to_text(node.right)}"
    return ""


def rows(ruleset: RuleSet) -> list[dict[str, Any]]:
    """One dict per effective check, in evaluation order."""
    overridden = {o.rule_id: o for o in ruleset.overrides}
    out = []
    for rule in ruleset.rules:
        o = overridden.get(rule.base_id)
        out.append({
            "id": rule.id,
            "stage": rule.stage,
            "severity": rule.severity,
            "check": nodes.to_text(rule.node),
            "threshold": threshold(rule),
            "missing": rule.missing,
            "fix": " ".join(rule.fix.replace("{{", "{").replace("}}", "}").split()),
            "source": str(rule.source),
            "overrides": str(o.replaced) if o is not None else None,
            "table": rule.table,
        })
    return out


def change_note(change: CategoryChange) -> str:
    """One line per category change, unescaped: `category release_skills.math: 0.3 -> 0.35 strengthens ...`."""
    where = f" ({change.by}" + (f", was {change.replaced}" if change.replaced else "") + ")" if change.by else ""
    return f"category {change.describe()}{where}"


def to_dict(ruleset: RuleSet) -> dict[str, Any]:
    return {"profile": ruleset.profile, "files": list(ruleset.files),
            "overrides": [{"rule_id": o.rule_id, "replaced": str(o.replaced), "by": str(o.by)}
                          for o in ruleset.overrides],
            "changes": [c.to_dict() for c in ruleset.changes],
            "categories": {name: {"values": t.values, "source": str(t.source)}
                           for name, t in ruleset.categories.items()},
            "rules": rows(ruleset)}


def to_markdown(ruleset: RuleSet) -> str:
    """A markdown table of the effective rules (for a pull request or a docs page); text escaped."""
    data = rows(ruleset)
    lines = [f"## Profile {md_code(ruleset.profile)}: {len(data)} checks", "",
             "Files, base first: " + ", ".join(md_code(f) for f in ruleset.files), ""]
    if ruleset.overrides:
        lines += [f"- {md_code(o.rule_id)} from {md(o.replaced)} is overridden by {md(o.by)}"
                  for o in ruleset.overrides] + [""]
    if ruleset.changes:
        lines += ["Category values changed by this profile's files:", ""]
        lines += [f"- {md(change_note(c))}" for c in ruleset.changes] + [""]
    lines += ["| id | stage | severity | check | threshold | fix | defined at |", "|---|---|---|---|---|---|---|"]
    for r in data:
        missing = f" (missing: {r['missing']})" if r["missing"] != "fail" else ""
        where = r["source"] + (f" (overrides {r['overrides']})" if r["overrides"] else "")
        lines.append(f"| {md_code(r['id'])} | {r['stage']} | {r['severity']}{missing} | {md_code(r['check'])} | "
                     f"{md(r['threshold']) or '—'} | {md(r['fix'])} | {md(where)} |")
    return "\n".join(lines) + "\n"


def to_text(ruleset: RuleSet, *, width: int | None = None) -> str:
    """A terminal table (rich), wrapped to `width` (default: the terminal, at least 100 columns).

    Every cell is a rich `Text` escaped by `picogate.escape.text`: never parsed as markup.
    """
    import io
    import shutil

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    width = width or max(shutil.get_terminal_size((160, 24)).columns, 100)
    buf = io.StringIO()
    console = Console(file=buf, width=width, highlight=False, soft_wrap=False, color_system=None, markup=False,
                      emoji=False)
    data = rows(ruleset)
    console.print(Text(f"profile {text(ruleset.profile)}: {len(data)} checks from "
                       f"{', '.join(text(f) for f in ruleset.files)}"))
    for o in ruleset.overrides:
        console.print(Text(f"  note: rule {text(o.rule_id)} from {text(o.replaced)} is overridden by {text(o.by)}"))
    for c in ruleset.changes:
        console.print(Text(f"  note: {text(change_note(c))}"))
    table = Table(box=None, header_style="bold", pad_edge=False, show_lines=False)
    table.add_column("id", no_wrap=True)
    table.add_column("stage")
    table.add_column("severity")
    table.add_column("check", overflow="fold", ratio=3)
    table.add_column("threshold", overflow="fold")
    table.add_column("fix", overflow="fold", ratio=4)
    for r in data:
        sev = r["severity"] + ("*" if r["overrides"] else "") + (f" (missing: {r['missing']})"
                                                                 if r["missing"] != "fail" else "")
        table.add_row(*(Text(text(cell)) for cell in (r["id"], r["stage"], sev, r["check"], r["threshold"], r["fix"])))
    console.print(table)
    if any(r["overrides"] for r in data):
        console.print("* overrides a rule of the same id in a parent profile")
    return buf.getvalue()


def show(profile: str | Path | RuleSet, *, fmt: str = "text", stage: str | None = None) -> str:
    """The effective rules of `profile` as text, markdown or JSON."""
    import json

    ruleset = load_rules(profile).for_stage(stage)
    if fmt == "markdown":
        return to_markdown(ruleset)
    if fmt == "json":
        return json.dumps(to_dict(ruleset), indent=2, ensure_ascii=False) + "\n"
    return to_text(ruleset)
