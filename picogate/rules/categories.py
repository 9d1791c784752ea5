"""Named category tables: per-category values stated once, merged along `extends`, read by rules.

    categories:
      release_skills: {identity: 0.60, refusal: 0.75, choice: 0.50, math: 0.30, spelling: 0.40}
    rules:
      - id: skill.pass_rate
        per_category: {name: skill, values: release_skills}
        check: eval.{skill}.pass_rate >= {threshold}

A child profile restates only the entry it changes (`categories: {release_skills: {math: 0.35}}`),
and every rule that reads the table, the parent's included, is expanded again with the new value.
A new category is written under `add:`, a dropped one under `remove:`; any other key must already be
a category, so `mathh: 0.35` is an error with a "did you mean", never a silent extra category.

Each change is recorded with its direction, read from the check's comparison: in `x >= {threshold}`
a higher threshold lets fewer runs pass (strengthens), in `x <= {threshold}` it lets more pass
(weakens); when the operators do not tell (`==`, arithmetic, a value used both ways) it "changes".
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

from picogate.errors import RuleError
from picogate.expr import Node, parse
from picogate.expr.grammar import MIRRORED
from picogate.expr.nodes import Binary, BoolOp, Name, Param, Unary, children
from picogate.rules.model import (
    CategoryChange,
    CategoryTable,
    CategoryValue,
    Direction,
    PerCategory,
    Rule,
    RuleFileSpec,
    RuleSet,
    Source,
)
from picogate.yamlstrict import Document

RESERVED = ("add", "remove")  # keys of a table in a child profile that are not categories


def params(name: str, category: str, value: CategoryValue) -> dict[str, object]:
    """The placeholders one category fills: `{name}` is the category; a number is `{threshold}`."""
    return {name: category, **(dict(value) if isinstance(value, dict) else {"threshold": value})}


def values_of(pc: PerCategory, index: int, doc: Document,
              tables: Mapping[str, CategoryTable]) -> tuple[dict[str, CategoryValue], str | None]:
    """A per_category rule's values and the table they come from (None when written inline)."""
    if isinstance(pc.values, dict):
        return pc.values, None
    table = tables.get(pc.values)
    if table is None:
        line, col = doc.scalars.get(("rules", index, "per_category", "values")) or \
            doc.where(("rules", index, "per_category", "values"))
        known = sorted(tables)
        close = difflib.get_close_matches(pc.values, known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else \
            (f" (tables: {', '.join(known)})" if known else " (this profile declares no categories: tables)")
        raise RuleError(f"per_category.values: no category table named '{pc.values}'{hint}", file=doc.file,
                        rule_id=doc.data["rules"][index].get("id"), line=line, column=col)
    return table.values, table.name


def inherit(parents: Sequence[RuleSet], doc: Document, extends: Sequence[str]) -> dict[str, CategoryTable]:
    """The parents' tables; two parents may share a table only if it holds the same values in both."""
    out: dict[str, CategoryTable] = {}
    for i, parent in enumerate(parents):
        for name, table in parent.categories.items():
            first = out.get(name)
            if first is not None and first.values != table.values:
                line, col = doc.where(("extends", i))
                raise RuleError(f"extends: profiles '{extends[i]}' and the ones before it hold different "
                                f"'{name}' category tables ({table.source}, {first.source}); extend one of them, "
                                f"or state the table here", file=doc.file, line=line, column=col)
            out.setdefault(name, table)
    return out


def apply(doc: Document, spec: RuleFileSpec, inherited: Mapping[str, CategoryTable],
          parent_rules: Iterable[Rule]) -> tuple[dict[str, CategoryTable], list[CategoryChange]]:
    """This file's `categories:` over the inherited tables: (the tables now, the changes it made).

    Effects of the changes are not known yet (the rules are expanded after); `with_effects` adds them.
    """
    tables = dict(inherited)
    changes: list[CategoryChange] = []
    readers: dict[str, list[str]] = {}  # table -> base ids of the parents' rules that read it
    for rule in parent_rules:
        if rule.table is not None and rule.base_id not in readers.setdefault(rule.table, []):
            readers[rule.table].append(rule.base_id)

    def at(*path: str | int) -> Source:
        line, col = doc.where(("categories", *path))
        return Source(doc.file, line, col)

    def fail(message: str, *path: str | int) -> RuleError:
        where = at(*path)
        return RuleError(f"categories.{'.'.join(map(str, path))}: {message}", file=doc.file, line=where.line,
                         column=where.column)

    for name, entry in spec.categories.items():
        base = inherited.get(name)
        if base is None:  # declared here: every key is a category
            for key in RESERVED:
                if key in doc.data["categories"][name]:
                    raise fail(f"'{key}:' changes a table inherited through extends, and no parent profile has a "
                               f"'{name}' table; list its categories directly (a category cannot be named "
                               f"'{key}')", name, key)
            if not entry.values:
                raise fail("a category table needs at least one category", name)
            tables[name] = CategoryTable(name, entry.values, {c: at(name, c) for c in entry.values}, at(name))
            continue
        values, sources = dict(base.values), dict(base.sources)
        for cat, value in entry.values.items():
            if cat not in values:
                close = difflib.get_close_matches(cat, list(values), n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise fail(f"'{cat}' is not a category of '{name}' (declared at {base.source}: "
                           f"{', '.join(values)}); {hint}a new category goes under 'add:'", name, cat)
            if value != values[cat]:
                changes.append(CategoryChange(name, cat, "changed", values[cat], value, at(name, cat), sources[cat]))
                values[cat], sources[cat] = value, at(name, cat)
        for cat, value in entry.add.items():
            if cat in values:
                raise fail(f"'{cat}' is already a category of '{name}' ({sources[cat]}); to change its value "
                           f"restate it without 'add:'", name, "add", cat)
            if cat in RESERVED:
                raise fail(f"a category cannot be named '{cat}'", name, "add", cat)
            changes.append(CategoryChange(name, cat, "added", None, value, at(name, "add", cat)))
            values[cat], sources[cat] = value, at(name, "add", cat)
        for i, cat in enumerate(entry.remove):
            if cat in entry.values or cat in entry.add:
                raise fail(f"'{cat}' is both removed and given a value", name, "remove", i)
            if cat not in values:
                close = difflib.get_close_matches(cat, list(base.values), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise fail(f"'{cat}' is not a category of '{name}'{hint}", name, "remove", i)
            effects = tuple((f"{b}.{cat}", "weakens") for b in readers.get(name, ()))  # its checks are dropped
            changes.append(CategoryChange(name, cat, "removed", values.pop(cat), None, at(name, "remove", i),
                                          sources.pop(cat), effects))
        if not values:
            raise fail("removes every category; remove the rules that read the table instead", name, "remove")
        tables[name] = CategoryTable(name, values, sources, base.source)
    return tables, changes


def with_effects(changes: Iterable[CategoryChange], rules: Sequence[Rule]) -> list[CategoryChange]:
    """Each change with, per check that reads the changed value, the direction it moves the gate."""
    out = []
    for ch in changes:
        if ch.change == "removed":
            out.append(ch)
            continue
        effects: list[tuple[str, Direction]] = []
        for rule in rules:
            if rule.table != ch.table or rule.category != ch.category:
                continue
            if ch.change == "added":
                effects.append((rule.id, "strengthens"))  # one more check a run must pass
            else:
                name = next(iter(rule.params))  # the category's own placeholder comes first (`params`)
                effects.append((rule.id, effect(rule.check, params(name, ch.category, ch.before), rule.params)))
        out.append(CategoryChange(ch.table, ch.category, ch.change, ch.before, ch.after, ch.by, ch.replaced,
                                  tuple(effects)))
    return out


def compare(old: RuleSet, new: RuleSet) -> list[CategoryChange]:
    """Category values that differ between two rule sets, check by check (`rules diff`).

    Works whether the values live in a table or inline, and across a move from one to the other: a
    per-category check of the same id and the same check text whose parameters differ is a change.
    """
    before = {r.id: r for r in old.rules if r.category is not None}
    after = {r.id: r for r in new.rules if r.category is not None}
    old_bases = {r.base_id for r in old.rules}
    new_bases = {r.base_id for r in new.rules}
    groups: dict[tuple[str, str, str, str], list[tuple[str, Direction]]] = {}
    first: dict[tuple[str, str, str, str], CategoryChange] = {}

    def where(rs: RuleSet, rule: Rule) -> Source:
        table = rs.categories.get(rule.table or "")
        return table.sources.get(rule.category or "", rule.source) if table else rule.source

    def note(o: Rule | None, r: Rule | None, change: str, direction: Direction) -> None:
        rule = r or o
        assert rule is not None and rule.category is not None
        b, a = (_value_of(o.params) if o else None), (_value_of(r.params) if r else None)
        key = (rule.table or rule.base_id, rule.category, change, f"{b!r}->{a!r}")
        if key not in first:
            first[key] = CategoryChange(key[0], rule.category, change, b, a,  # type: ignore[arg-type]
                                        where(new, r) if r else None, where(old, o) if o else None)
        groups.setdefault(key, []).append((rule.id, direction))

    for rid, r in after.items():
        o = before.get(rid)
        if o is None:
            if r.base_id in old_bases:
                note(None, r, "added", "strengthens")
        elif o.check == r.check and o.params != r.params:
            note(o, r, "changed", effect(r.check, o.params, r.params))
    for rid, o in before.items():
        if rid not in after and o.base_id in new_bases:
            note(o, None, "removed", "weakens")
    return [CategoryChange(ch.table, ch.category, ch.change, ch.before, ch.after, ch.by, ch.replaced,
                           tuple(groups[key])) for key, ch in first.items()]


def _value_of(p: Mapping[str, object]) -> CategoryValue:
    """A check's category parameters as the table value they came from: the first is the category name
    (see `params`), and `{threshold}` alone was written as a bare number."""
    rest = dict(list(p.items())[1:])
    return rest["threshold"] if list(rest) == ["threshold"] else rest  # type: ignore[return-value]


def effect(check: str, before: Mapping[str, object], after: Mapping[str, object]) -> Direction:
    """Whether moving a check's parameters from `before` to `after` strengthens or weakens it.

    >>> effect("x >= {threshold}", {"threshold": 0.3}, {"threshold": 0.35})
    'strengthens'
    >>> effect("x < {threshold} or y >= {threshold}", {"threshold": 0.3}, {"threshold": 0.35})
    'changes'
    """
    node = _template(check)
    words: set[Direction] = set()
    for key in dict.fromkeys([*before, *after]):
        b, a = before.get(key), after.get(key)
        if b == a:
            continue
        sense = _sense(node, key)
        if sense is None:
            continue  # not read by the check (a message-only value)
        if sense == 0 or not (_number(b) and _number(a)):
            words.add("changes")
            continue
        raised = a > b  # type: ignore[operator]
        words.add("strengthens" if raised == (sense > 0) else "weakens")
    return words.pop() if len(words) == 1 else "changes"


@lru_cache(maxsize=512)
def _template(check: str) -> Node:
    return parse(check)


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


_UP_STRICTER = {">=": 1, ">": 1, "<=": -1, "<": -1}  # for `x OP {p}`: raising p makes the check harder (+1)


def _sense(node: Node, key: str) -> int | None:
    """+1 if raising `{key}` can only make the check pass for fewer runs, -1 for more, 0 when the operators do
    not tell, None when the check does not read it as a value. `and`/`or` keep the sense, `not` flips it."""
    found: set[int] = set()

    def uses(n: Node) -> bool:
        if isinstance(n, Param):
            return n.name == key
        if isinstance(n, Name):
            return "{" + key + "}" in n.name.split(".")
        return any(uses(c) for c in children(n))

    def walk(n: Node, sign: int) -> None:
        if isinstance(n, BoolOp):
            for operand in n.operands:
                walk(operand, sign)
        elif isinstance(n, Unary) and n.op == "not":
            walk(n.operand, -sign)
        elif isinstance(n, Binary) and n.op in _UP_STRICTER and isinstance(n.right, Param) \
                and n.right.name == key and not uses(n.left):
            found.add(sign * _UP_STRICTER[n.op])
        elif isinstance(n, Binary) and n.op in _UP_STRICTER and isinstance(n.left, Param) \
                and n.left.name == key and not uses(n.right):
            found.add(sign * _UP_STRICTER[MIRRORED[n.op]])
        elif uses(n):
            found.add(0)

    walk(node, 1)
    if not found:
        return None
    return found.pop() if len(found) == 1 else 0
