"""Load a profile: strict YAML -> pydantic (the JSON Schema, generated from the same models, only
words a refusal) -> parsed, checked rules.

Every fault is a `RuleError` naming the file, the rule id, the line and the column.
Profiles compose with `extends`: parents' rules come first, and a later definition
of the same rule id replaces the earlier one in place, recorded as an `Override` so
reports can show it. A per-category rule expands to one rule per category, with its
values inline or from a named `categories:` table; a child that changes a table entry
expands the parent's rules that read it again (picogate/rules/categories.py).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import string
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path

from picogate.catalog import Catalog, metric_from_spec, shipped_catalog
from picogate.errors import PicogateError, RuleError
from picogate.expr import ExprError, check_condition, expand, names, parse, placeholders
from picogate.expr.lexer import number_problem
from picogate.io import read_bounded
from picogate.paths import RULES_DIR
from picogate.rules import categories as cat_tables
from picogate.rules.model import (
    CategoryChange,
    CategoryTable,
    Override,
    Rule,
    RuleFileSpec,
    RuleOrigin,
    RuleSet,
    RuleSpec,
    Source,
)
from picogate.rules.tables import Tables, duplicates
from picogate.validation import Fault, validate
from picogate.yamlstrict import MAX_BYTES, Document, YAMLError, load_file

REPORT_FIELDS = {"observed", "required", "threshold"}  # message placeholders filled per run


def load_rules(source: str | Path | RuleSet) -> RuleSet:
    """A `RuleSet` from a rule file path, a shipped profile name, or an existing `RuleSet`.

    >>> load_rules("skill_release").profile
    'skill_release'
    """
    if isinstance(source, RuleSet):
        return source
    ref = str(source)
    key = (ref, os.getcwd())  # file names in a RuleSet are shown relative to the working directory
    hit = _LOADED.get(key)
    if hit is not None and all(_unchanged(probe, seen) for probe, seen in hit[1]):
        return hit[0]
    probes: list[tuple[Callable[[], object], object]] = []
    token = _PROBES.set(probes)
    try:
        path = _find(ref, None)
        ruleset = _load_profile(path, (), name=None if _is_path(ref, None) else ref)
    finally:
        _PROBES.reset(token)
    if len(_LOADED) >= _LOADED_LIMIT:
        _LOADED.pop(next(iter(_LOADED)))
    _LOADED[key] = (ruleset, tuple(probes))
    return ruleset


# Loaded profiles, kept while every file they were read from has the same content and every name
# resolves to the same file: a trainer or CI job that calls evaluate() many times reads and checks
# each rule file once (~10 ms), then only re-reads its bytes (~0.05 ms per file).
_LOADED: dict[tuple[str, str], tuple[RuleSet, tuple[tuple[Callable[[], object], object], ...]]] = {}
_LOADED_LIMIT = 32
_UNSET = object()
_PROBES: ContextVar[list[tuple[Callable[[], object], object]] | None] = ContextVar("_PROBES", default=None)


def _record(probe: Callable[[], object], now: object = _UNSET) -> None:
    """Note what this load depended on (a file's content, where a name resolved) and its value `now`
    (computed by `probe` unless the caller already has it)."""
    probes = _PROBES.get()
    if probes is not None:
        probes.append((probe, probe() if now is _UNSET else now))


def _unchanged(probe: Callable[[], object], seen: object) -> bool:
    try:
        return probe() == seen
    except PicogateError:  # gone or unreadable now: load again, which reports it properly
        return False


def _content(path: Path) -> Callable[[], object]:
    def digest() -> object:
        try:
            return hashlib.sha256(read_bounded(path, MAX_BYTES, "rule")).digest()
        except PicogateError as exc:
            return str(exc)
    return digest


def find_profile(name: str) -> Path:
    """The shipped rule file of profile `name`: `rules/NAME.yaml` (or `.yml`)."""
    return _find(name, None)


def _is_path(ref: str, near: Path | None) -> bool:
    """A reference with a YAML suffix or a folder in it is a path; a bare word is a profile name.

    At the top level (`near` is None) an existing file of any name is also taken as a path (a folder
    that happens to share a profile's name is not).
    """
    p = Path(ref)
    return p.suffix in (".yaml", ".yml") or len(p.parts) > 1 or (near is None and p.exists() and not p.is_dir())


def _find(ref: str, near: Path | None) -> Path:
    """The rule file `ref` names: a path (relative to `near`, the folder of the file that names it),
    or a profile name looked up as NAME.yaml / NAME.yml in `near`, then in the shipped rules.

    Names resolve by file name only: no folder is listed and no other file is opened, so a FIFO or a
    device beside the rule files can never hang or flood the loader (the file found is read, bounded,
    by `load_spec`).
    """
    found = _resolve(ref, near)
    _record(lambda: _resolve(ref, near), found)
    return found


def _resolve(ref: str, near: Path | None) -> Path:
    if _is_path(ref, near):
        p = Path(ref)
        if near is not None and not p.is_absolute():
            p = near / p
        if not os.path.lexists(p):
            raise RuleError(f"rule file not found: {ref}", file=str(ref))
        return p
    for d in (near, RULES_DIR):
        if d is None:
            continue
        for cand in (d / f"{ref}.yaml", d / f"{ref}.yml"):
            if os.path.lexists(cand):
                return cand
    shipped = sorted({f.stem for pattern in ("*.yaml", "*.yml") for f in RULES_DIR.glob(pattern)})  # names only
    where = f"no {ref}.yaml in {display_path(near)}/ and " if near is not None else ""
    raise RuleError(f"no profile named '{ref}' ({where}none shipped; shipped profiles: {', '.join(shipped)})",
                    file=ref)


def display_path(path: Path) -> str:
    """A path as users know it: relative to the working directory or the repository when possible."""
    resolved = path.resolve()
    for base in (Path.cwd(), RULES_DIR.parent):
        try:
            return str(resolved.relative_to(base.resolve()))
        except ValueError:
            continue
    return str(path)


def _load_profile(path: Path, chain: tuple[Path, ...], *, name: str | None = None) -> RuleSet:
    """Load `path` and, first, the parents it extends; `name` is the profile name `path` was found by."""
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise RuleError(f"profiles extend each other in a cycle: {cycle}", file=display_path(path))
    doc, spec = load_spec(path)
    if name is not None and spec.profile != name:  # found by file name: the file must be that profile
        line, col = doc.where(("profile",))
        raise RuleError(f"profile '{spec.profile}' is in a file named for '{name}'; a profile is found by its "
                        f"file name, so name the file {spec.profile}.yaml (or the profile '{name}')",
                        file=doc.file, line=line, column=col)
    parents = []
    for i, parent in enumerate(spec.extends):
        try:
            found = _find(parent, path.parent)
        except RuleError as exc:  # point at the `extends` entry that names it
            line, col = doc.where(("extends", i))
            raise RuleError(f"extends: {exc.reason}", file=doc.file, line=line, column=col) from None
        parents.append(_load_profile(found, (*chain, resolved), name=parent))

    catalog = shipped_catalog()
    for parent in parents:
        catalog = catalog.extended(parent.catalog)  # re-declaring a metric identically is a no-op
    try:
        own = (metric_from_spec(n, m, str(path)) for n, m in spec.metrics.items())
        catalog = catalog.extended(own)
    except PicogateError as exc:
        line, col = doc.where(("metrics",))
        raise RuleError(str(exc), file=doc.file, line=line, column=col) from None

    merged: dict[str, list[Rule]] = {}  # base id -> its rules; re-assignment keeps the position
    overrides: list[Override] = []
    changes: list[CategoryChange] = []
    origins: dict[str, RuleOrigin] = {}
    tables = Tables()
    files: list[str] = []

    def put(base_id: str, group: list[Rule]) -> None:
        if base_id in merged:
            overrides.append(Override(base_id, merged[base_id][0].source, group[0].source))
        merged[base_id] = group

    for parent in parents:
        tables = tables.merged(parent.tables)
        files.extend(f for f in parent.files if f not in files)
        overrides.extend(o for o in parent.overrides if o not in overrides)
        changes.extend(c for c in parent.changes if c not in changes)
        origins.update(parent.origins)
        groups: dict[str, list[Rule]] = {}
        for rule in parent.rules:
            groups.setdefault(rule.base_id, []).append(rule)
        for base_id, group in groups.items():
            put(base_id, group)
    tables = tables.merged(spec.tables)
    files.append(doc.file)

    inherited = cat_tables.inherit(parents, doc, spec.extends)
    categories, own_changes = cat_tables.apply(doc, spec, inherited, (r for g in merged.values() for r in g))
    _expand_again(merged, origins, categories, own_changes, doc, catalog)

    seen: dict[str, int] = {}
    for i, rspec in enumerate(spec.rules):
        if rspec.id in seen:
            line, col = doc.where(("rules", i, "id"))
            raise RuleError(f"duplicate rule id '{rspec.id}' (first defined as rule #{seen[rspec.id] + 1})",
                            file=doc.file, rule_id=rspec.id, line=line, column=col)
        seen[rspec.id] = i
        _check_not_a_category(rspec.id, i, merged, doc)
        put(rspec.id, build_rules(rspec, doc, i, catalog, categories))
        origins[rspec.id] = RuleOrigin(rspec, doc, i)

    rules = tuple(r for group in merged.values() for r in group)
    owner: dict[str, Rule] = {}
    for rule in rules:
        other = owner.setdefault(rule.id, rule)
        if other is not rule:
            mine = next((r for r in (rule, other) if r.source.file == doc.file), None)
            line, col = (mine.source.line, mine.source.column) if mine else (None, None)
            raise RuleError(f"two rules expand to the same id '{rule.id}' (defined at {other.source} and "
                            f"{rule.source}); rename one", file=doc.file, rule_id=rule.id, line=line, column=col)
    _check_tables_read(spec, rules, categories, doc)
    changes += cat_tables.with_effects(own_changes, rules)
    return RuleSet(spec.profile, rules, catalog, tuple(files), tuple(overrides), tables, categories,
                   tuple(changes), origins)


def _expand_again(merged: dict[str, list[Rule]], origins: Mapping[str, RuleOrigin],
                  categories: Mapping[str, CategoryTable], changes: list[CategoryChange], doc: Document,
                  catalog: Catalog) -> None:
    """Expand the inherited rules that read a table this file changes, with the table as it is now.

    A rule that cannot take the change (an added category whose metric is not in the catalog) is an
    error at the change, naming the rule it breaks.
    """
    changed = {c.table for c in changes}
    for base_id, group in merged.items():
        if group[0].table not in changed:
            continue
        origin = origins[base_id]
        try:
            merged[base_id] = build_rules(origin.spec, origin.doc, origin.index, catalog, categories)
        except RuleError as exc:
            cat = (exc.rule_id or "").removeprefix(base_id + ".")
            at = next((c.by for c in changes if c.table == group[0].table and c.category == cat), None) or \
                next(c.by for c in changes if c.table == group[0].table)
            raise RuleError(f"categories.{group[0].table}.{cat}: rule '{base_id}' ({group[0].source}) cannot "
                            f"read this value: {exc.reason}", file=doc.file, rule_id=exc.rule_id,
                            line=at.line if at else None, column=at.column if at else None) from None


def _check_not_a_category(rule_id: str, index: int, merged: Mapping[str, list[Rule]], doc: Document) -> None:
    """A rule id that is one category of an inherited per-category rule: say how to change that category."""
    for base_id, group in merged.items():
        hit = next((r for r in group if r.category is not None and r.id == rule_id), None)
        if hit is None or base_id == rule_id:
            continue
        line, col = doc.where(("rules", index, "id"))
        if hit.table:
            how = (f"change its value in the category table instead: categories: {{{hit.table}: "
                   f"{{{hit.category}: ...}}}}")
        else:
            how = (f"restate rule '{base_id}' with the changed per_category values (or move them into a "
                   f"categories: table)")
        raise RuleError(f"this id is category '{hit.category}' of per-category rule '{base_id}' "
                        f"({hit.source}); one category cannot be overridden by id: {how}",
                        file=doc.file, rule_id=rule_id, line=line, column=col)


def _check_tables_read(spec: RuleFileSpec, rules: tuple[Rule, ...], categories: Mapping[str, CategoryTable],
                       doc: Document) -> None:
    """A category table this file writes that no rule reads is an error: usually a misspelled table name."""
    read = {r.table for r in rules}
    for name in spec.categories:
        if name in read:
            continue
        line, col = doc.where(("categories", name))
        others = [t for t in categories if t != name]
        close = difflib.get_close_matches(name, others, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else \
            " (a rule reads a table with per_category: {name: ..., values: TABLE})"
        raise RuleError(f"categories.{name}: no rule of profile '{spec.profile}' reads this table{hint}",
                        file=doc.file, line=line, column=col)


def load_spec(path: Path) -> tuple[Document, RuleFileSpec]:
    """Parse and validate one file (no `extends` resolution)."""
    _record(_content(path))
    try:
        doc = load_file(path, "rule")
    except YAMLError as exc:
        raise RuleError(exc.reason, file=display_path(path), line=exc.line, column=exc.column) from None
    doc.file = display_path(path)
    if doc.data is None:
        raise RuleError("the file is empty; a rule file needs at least 'profile:'", file=doc.file, line=1)
    if not isinstance(doc.data, dict):
        raise RuleError("a rule file must be a mapping with 'profile:' and 'rules:'", file=doc.file, line=1)
    _check_numbers(doc)  # first: a number no check could compute with is the fault, whatever its place
    try:
        spec = validate(RuleFileSpec, doc.data)
    except Fault as fault:
        raise _fault_error(fault, doc) from None
    for name, i, key, value in duplicates(spec.tables):
        line, col = doc.where(("tables", name, i, key))
        raise RuleError(f"tables.{name}.{i}.{key}: '{value}' is listed twice (rows are looked up by {key})",
                        file=doc.file, line=line, column=col)
    return doc, spec


def _check_numbers(doc: Document) -> None:
    """Refuse a number the engine could not compute with, wherever the file states it.

    `per_category` and `categories:` values become literals of a check and `tables:` numbers feed
    collectors, so they obey the range rule of a number written in a check (`number_problem`): a finite float64,
    an integer at most 2**53 in size. Otherwise 9007199254740993 would compare as ...992, and a
    331-digit threshold would pass `rules check` and then fail `evaluate` with an OverflowError.
    """
    for path, value in _numbers(doc.data, ()):
        problem = number_problem(value)
        if problem is None:
            continue
        rule_id = None
        rules = doc.data.get("rules")
        if len(path) >= 2 and path[0] == "rules" and isinstance(rules, list) and isinstance(rules[path[1]], dict):
            rule_id = rules[path[1]].get("id") if isinstance(rules[path[1]].get("id"), str) else None
            if len(path) >= 5 and path[2:4] == ("per_category", "values") and rule_id:
                rule_id = f"{rule_id}.{path[4]}"  # the expanded rule's id, as reports show it
        line, col = doc.scalars.get(path) or doc.where(path)
        raise RuleError(f"{'.'.join(map(str, path))}: {problem}", file=doc.file, rule_id=rule_id,
                        line=line, column=col)


def _numbers(data: object, path: tuple) -> Iterator[tuple[tuple, int | float]]:
    """Every number in a loaded YAML document with its path, in document order."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _numbers(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _numbers(value, (*path, i))
    elif isinstance(data, int | float) and not isinstance(data, bool):
        yield path, data


def _fault_error(fault: Fault, doc: Document) -> RuleError:
    """A refused file as a `RuleError` at the fault's line and column, naming the rule it is in."""
    path = fault.path
    rule_id = None
    if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
        rules = doc.data.get("rules") or []
        if path[1] < len(rules) and isinstance(rules[path[1]], dict):
            rule_id = rules[path[1]].get("id") if isinstance(rules[path[1]].get("id"), str) else None
    line, col = doc.where(path)
    return RuleError(str(fault), file=doc.file, rule_id=rule_id, line=line, column=col)


def build_rules(spec: RuleSpec, doc: Document, index: int, catalog: Catalog,
                categories: Mapping[str, CategoryTable] | None = None) -> list[Rule]:
    """Parse, expand and type-check one rule entry: one `Rule` per category (or one).

    `categories` are the profile's tables, for a rule whose `per_category.values` names one.
    """
    file = doc.file
    path = ("rules", index, "check")
    line, col = doc.where(("rules", index))
    source = Source(file, line, col)

    def expr_error(exc: ExprError, rule_id: str) -> RuleError:
        l0, c0 = doc.scalars.get(path, doc.where(path))
        style = doc.styles.get(path)
        if l0 is None:
            return RuleError(exc.reason, file=file, rule_id=rule_id, detail=exc.caret())
        if style in ("|", ">"):  # block scalar: content starts on the next line, indented
            fline, fcol = l0 + 1 + exc.line, None
            first = doc.lines[l0] if l0 < len(doc.lines) else ""  # the first content line (0-based l0 + 1)
            if style == "|" or exc.line == 0:  # '>' folds lines, so only its first line keeps columns
                fcol = len(first) - len(first.lstrip(" ")) + exc.column
        else:
            fline = l0 + exc.line
            fcol = (c0 + (1 if style in ("'", '"') else 0) + exc.column - 1) if exc.line == 0 else exc.column
        return RuleError(exc.reason, file=file, rule_id=rule_id, line=fline, column=fcol, detail=exc.caret())

    try:
        template = parse(spec.check)
    except ExprError as exc:
        raise expr_error(exc, spec.id) from None

    table: str | None = None
    if spec.per_category is None:
        expansions: list[tuple[str | None, dict[str, object]]] = [(None, {})]
    else:
        pc = spec.per_category
        values, table = cat_tables.values_of(pc, index, doc, categories or {})
        expansions = [(cat, cat_tables.params(pc.name, cat, v)) for cat, v in values.items()]
    used = placeholders(template)
    if spec.per_category is None and used:
        err = ExprError(f"placeholder {{{sorted(used)[0]}}} needs a per_category table", spec.check,
                        spec.check.find("{"))
        raise expr_error(err, spec.id)

    rules = []
    for category, params in expansions:
        rule_id = f"{spec.id}.{category}" if category else spec.id
        try:
            node = expand(template, params, spec.check)
            check_condition(node, catalog.resolve, spec.check)
        except ExprError as exc:
            raise expr_error(exc, rule_id) from None
        message = _fill(spec.message, params, catalog, node, ("rules", index, "message"), doc, rule_id)
        fix = _fill(spec.fix, params, catalog, node, ("rules", index, "fix"), doc, rule_id)
        rules.append(Rule(rule_id, spec.id, category, params, spec.stage, spec.severity, spec.missing,
                          spec.check, node, message, fix, spec.description, source, table))
    return rules


def _fill(text: str, params: Mapping[str, object], catalog: Catalog, node: object, path: tuple,
          doc: Document, rule_id: str) -> str:
    """Fill category placeholders now; check that the rest name something a report can fill."""
    out = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        line, col = doc.where(path)
        raise RuleError(f"{path[-1]}: {exc} (write '{{{{' for a literal brace)", file=doc.file,
                        rule_id=rule_id, line=line, column=col) from None
    for literal, field_name, spec, conv in parsed:
        out.append(literal.replace("{", "{{").replace("}", "}}"))
        if field_name is None:
            continue
        if field_name in params:
            out.append(str(params[field_name]))
            continue
        ok = field_name in REPORT_FIELDS or field_name in names(node) or catalog.lookup(field_name)
        if not ok or spec or conv:
            line, col = doc.where(path)
            why = f"format spec in '{{{field_name}:{spec}}}' is not supported" if (spec or conv) else \
                f"placeholder '{{{field_name}}}' is neither a metric nor one of " \
                f"{', '.join(sorted(REPORT_FIELDS | set(params)))}"
            raise RuleError(f"{path[-1]}: {why}", file=doc.file, rule_id=rule_id, line=line, column=col)
        out.append("{" + field_name + "}")
    return "".join(out)
