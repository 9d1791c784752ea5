"""Rule files as typed data: pydantic models of the YAML, and the expanded rules.

The models are the one statement of what a rule file may say: `load_spec` validates every file with
them (`extra="forbid"`: a misspelled `severty:` is an error), and `schemas/rules.schema.json`, which
editors read, is generated from them (`python -m picogate.schema`; a test fails when it drifts).
The `Field` descriptions are what an editor shows as help.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from picogate.catalog import Catalog, MetricSpec
from picogate.expr import Node
from picogate.expr.lexer import MAX_LENGTH
from picogate.fields import (
    CATEGORY,
    Category,
    Ident,
    MetricName,
    Omittable,
    ProfileName,
    RuleId,
    Strict,
    Text,
    Unique,
)
from picogate.rules.tables import Tables
from picogate.yamlstrict import Document

_CATEGORY_RE = re.compile(CATEGORY)

Stage = Literal["preflight", "postrun"]
Severity = Literal["block", "warn"]
Missing = Literal["fail", "warn", "pass"]

# One category's value: a number ({threshold} in the check), or named numbers/texts ({name} each).
NamedValues = Annotated[dict[Ident, float | int | str | bool], Field(min_length=1)]
CategoryValue = float | int | NamedValues
CategoryValues = Annotated[dict[Category, CategoryValue], Field(min_length=1)]


class PerCategory(Strict):
    """One reported check per category; {name} in the check, message and fix is the category, the other
    placeholders come from its values."""

    name: Ident = Field(description="the placeholder that stands for the category, e.g. skill for {skill}")
    values: Ident | CategoryValues = Field(description="the name of a categories: table, or the category "
                                                       "values inline: a number ({threshold}) or named values")


class CategoryTableSpec(BaseModel):
    """Category -> value; in a child profile a plain key restates an inherited category, add: adds new
    ones, remove: drops some.

    In the file that declares the table every key is a category. In a child profile a plain key restates
    an inherited category's value; a new category must be written under `add:` and a dropped one under
    `remove:`, so a misspelled key is an error, never a silent extra category.
    """

    model_config = ConfigDict(extra="allow", frozen=True, strict=True,
                              json_schema_extra={"minProperties": 1, "propertyNames": {"pattern": CATEGORY}})
    __pydantic_extra__: dict[str, CategoryValue] = Field(init=False)

    add: CategoryValues = Field({}, description="categories this child profile adds to the inherited table")
    remove: Unique[Annotated[list[Category], Field(min_length=1)]] = Field(
        [], description="categories this child profile drops from the inherited table")

    @model_validator(mode="before")
    @classmethod
    def _keys(cls, data: Any) -> Any:
        """Keys are category names and a table is never empty (the schema's propertyNames, minProperties)."""
        if isinstance(data, dict):
            if not data:
                raise PydanticCustomError("too_short", "a category table needs at least one entry")
            for key in data:
                if not isinstance(key, str) or not _CATEGORY_RE.fullmatch(key):
                    raise PydanticCustomError("string_pattern_mismatch", "category '{key}' should match {pattern}",
                                              {"key": key, "pattern": CATEGORY})
        return data

    @property
    def values(self) -> dict[str, CategoryValue]:
        """The plain category keys, in file order."""
        return dict(self.model_extra or {})


class RuleSpec(Strict):
    """One rule: a check, what it stops and what to do about it."""

    id: RuleId = Field(description="unique and stable; reports, overrides and rule tests name it")
    stage: Stage = Field(description="preflight: before any GPU is spent; postrun: before the model is released")
    severity: Severity = Field(description="block stops the run; warn lets it through with a warning")
    check: Annotated[str, Field(min_length=1, max_length=MAX_LENGTH)] = Field(
        description="a condition in picogate's expression language (docs/expressions.md)")
    message: Text = Field(description="shown when the check does not pass; {metric}, {observed}, {required} and "
                                      "category placeholders are filled in")
    fix: Text = Field(description="what to do about it")
    missing: Missing = Field("fail", description="what missing evidence means: fail at the rule's severity "
                                                 "(default), warn, or pass")
    description: str = Field("", description="why the rule exists")
    per_category: Omittable[PerCategory] = Field(
        None, description="one reported check per category: {name} in the check, message and fix is the category")


class RuleFileSpec(Strict):
    """A profile: the rules that gate a training run (preflight) or a release (postrun). Policy is data:
    every threshold lives here."""

    profile: ProfileName = Field(description="the name other files and the CLI use; the file is NAME.yaml")
    description: str = Field("", description="what this profile is for")
    extends: Unique[list[ProfileName]] = Field(
        [], description="profiles whose rules this one starts from; a later rule with the same id overrides")
    metrics: dict[MetricName, MetricSpec] = Field({}, description="metrics this file adds to the catalog")
    categories: dict[Ident, CategoryTableSpec] = Field(
        {}, description="named per-category tables that per_category rules read by name (per_category: {name: "
                        "skill, values: TABLE}); a child profile restates only the entries it changes, and writes "
                        "new or dropped categories under add: / remove:")
    rules: list[RuleSpec] = Field([], description="the checks; a rule whose id a parent has replaces it in place")
    tables: Tables = Field(default_factory=Tables, description="data tables the preflight collectors read; a "
                                                               "table stated here replaces the parent profile's whole")


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
