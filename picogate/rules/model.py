"""Rule files as typed data: pydantic models of the YAML, and the expanded rules.

The YAML is validated twice on purpose: JSON Schema (`schemas/rules.schema.json`)
gives editors completion and yields path-precise errors, pydantic gives the code
typed, frozen objects (`extra="forbid"`: a misspelled `severty:` is an error).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from picogate.catalog import Catalog
from picogate.expr import Node
from picogate.rules.tables import Tables
from picogate.yamlstrict import Document

Stage = Literal["preflight", "postrun"]
Severity = Literal["block", "warn"]
Missing = Literal["fail", "warn", "pass"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class MetricSpec(_Strict):
    type: Literal["int", "float", "bool", "string"]
    description: str
    unit: str = ""


# One category's value: a number ({threshold} in the check), or named numbers/texts ({name} each).
CategoryValue = float | int | dict[str, float | int | str | bool]


class PerCategory(_Strict):
    name: str
    values: str | dict[str, CategoryValue]  # a table of `categories:` by name, or the values inline


class CategoryTableSpec(BaseModel):
    """One `categories:` table as written: category -> value, plus `add:` / `remove:` in a child profile.

    In the file that declares the table every key is a category. In a child profile a plain key restates
    an inherited category's value; a new category must be written under `add:` and a dropped one under
    `remove:`, so a misspelled key is an error, never a silent extra category.
    """

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)
    __pydantic_extra__: dict[str, CategoryValue] = Field(init=False)

    add: dict[str, CategoryValue] = {}
    remove: list[str] = []

    @property
    def values(self) -> dict[str, CategoryValue]:
        """The plain category keys, in file order."""
        return dict(self.model_extra or {})


class RuleSpec(_Strict):
    id: str
    stage: Stage
    severity: Severity
    check: str
    message: str
    fix: str
    missing: Missing = "fail"
    description: str = ""
    per_category: PerCategory | None = None


class RuleFileSpec(_Strict):
    profile: str
    description: str = ""
    extends: list[str] = []
    metrics: dict[str, MetricSpec] = {}
    categories: dict[str, CategoryTableSpec] = {}
    rules: list[RuleSpec] = []
    tables: Tables = Tables()


@dataclass(frozen=True)
class Source:
    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        return self.file + (f":{self.line}" if self.line else "")


@dataclass(frozen=True)
class Rule:
    """One reported check: a rule, or one category of a per-category rule."""

    id: str  # e.g. release.skill.math
    base_id: str  # the id in the file, e.g. release.skill
    category: str | None
    params: dict[str, object]
    stage: Stage
    severity: Severity
    missing: Missing
    check: str  # the check as written (template form for per-category rules)
    node: Node  # parsed, placeholders filled, type-checked
    message: str  # template, category placeholders filled
    fix: str
    description: str
    source: Source
    table: str | None = None  # the `categories:` table its values come from, if any


@dataclass(frozen=True)
class RuleOrigin:
    """Where a rule entry was read, kept so a child profile that changes a category table can expand the
    parent's rule again with the new values (errors still point into the parent's file)."""

    spec: RuleSpec
    doc: Document
    index: int


@dataclass(frozen=True)
class CategoryTable:
    """A `categories:` table after `extends`: each category's value and where that value is stated."""

    name: str
    values: dict[str, CategoryValue]
    sources: dict[str, Source]  # category -> where its current value is written
    source: Source  # where the table was declared


Direction = Literal["strengthens", "weakens", "changes"]


@dataclass(frozen=True)
class CategoryChange:
    """A category value a child profile (or a new rule file) changed: from what to what, and what that does.

    `effects` holds, per check that reads the value, whether the change strengthens the gate (fewer runs
    pass), weakens it, or changes it in a way the comparison operators do not tell.
    """

    table: str  # the table's name (or, for values written inline, the rule's id)
    category: str
    change: Literal["changed", "added", "removed"]
    before: CategoryValue | None
    after: CategoryValue | None
    by: Source | None  # where the new value is stated
    replaced: Source | None = None  # where the old value was stated
    effects: tuple[tuple[str, Direction], ...] = ()  # (check id, direction)

    @property
    def direction(self) -> Direction:
        """One word for the whole change: what every check it reaches agrees on, else 'changes'."""
        words = {d for _, d in self.effects}
        return words.pop() if len(words) == 1 else "changes"

    @staticmethod
    def describe_value(v: object) -> str:
        """A category value as a rule file writes it: `0.35`, `{threshold: 0.3, rows: 10}`."""
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k}: {CategoryChange.describe_value(x)}" for k, x in v.items()) + "}"
        return str(v).lower() if isinstance(v, bool) else str(v)

    def describe(self) -> str:
        """One line, e.g. `release_skills.math: 0.3 -> 0.35 strengthens skill.pass_rate.math` (escape to print)."""
        show = self.describe_value
        what = {"changed": f"{show(self.before)} -> {show(self.after)}",
                "added": f"added ({show(self.after)})", "removed": f"removed (was {show(self.before)})"}
        head = f"{self.table}.{self.category}: {what[self.change]}"
        if not self.effects:
            return f"{head}; no check reads it"
        if len({d for _, d in self.effects}) == 1:
            return f"{head} {self.direction} " + ", ".join(rid for rid, _ in self.effects)
        return f"{head} " + "; ".join(f"{d} {rid}" for rid, d in self.effects)

    def to_dict(self) -> dict[str, object]:
        return {"table": self.table, "category": self.category, "change": self.change, "before": self.before,
                "after": self.after, "direction": self.direction,
                "by": str(self.by) if self.by else None, "replaced": str(self.replaced) if self.replaced else None,
                "effects": [{"rule_id": rid, "direction": d} for rid, d in self.effects]}


@dataclass(frozen=True)
class Override:
    """A rule id defined again by a later profile: the later one wins, and says so."""

    rule_id: str
    replaced: Source
    by: Source


@dataclass(frozen=True)
class RuleSet:
    """The effective rules of a profile after `extends`, ready to compile."""

    profile: str
    rules: tuple[Rule, ...]
    catalog: Catalog
    files: tuple[str, ...] = ()
    overrides: tuple[Override, ...] = ()
    tables: Tables = field(default_factory=Tables)
    categories: dict[str, CategoryTable] = field(default_factory=dict)
    changes: tuple[CategoryChange, ...] = ()  # category values this profile's files changed
    origins: dict[str, RuleOrigin] = field(default_factory=dict, repr=False, compare=False)  # base id -> entry

    def for_stage(self, stage: str | None) -> RuleSet:
        if stage is None:
            return self
        if stage not in ("preflight", "postrun"):
            raise ValueError(f"unknown stage '{stage}': use preflight or postrun")
        stages = self.__dict__.setdefault("_stages", {})  # kept, so its compiled policy is kept too
        if stage not in stages:
            stages[stage] = replace(self, rules=tuple(r for r in self.rules if r.stage == stage))
        return stages[stage]

    def __len__(self) -> int:
        return len(self.rules)
