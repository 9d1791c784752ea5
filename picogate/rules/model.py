"""Rule files as typed data: pydantic models of the YAML, and the expanded rules.

The YAML is validated twice on purpose: JSON Schema (`schemas/rules.schema.json`)
gives editors completion and yields path-precise errors, pydantic gives the code
typed, frozen objects (`extra="forbid"`: a misspelled `severty:` is an error).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict

from picogate.catalog import Catalog
from picogate.expr import Node

Stage = Literal["preflight", "postrun"]
Severity = Literal["block", "warn"]
Missing = Literal["fail", "warn", "pass"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class MetricSpec(_Strict):
    type: Literal["int", "float", "bool", "string"]
    description: str
    unit: str = ""


class PerCategory(_Strict):
    name: str
    values: dict[str, float | int | dict[str, float | int | str | bool]]


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
    rules: list[RuleSpec] = []
    tables: dict[str, list[dict]] = {}


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
    tables: dict[str, list[dict]] = field(default_factory=dict)

    def for_stage(self, stage: str | None) -> RuleSet:
        if stage is None:
            return self
        if stage not in ("preflight", "postrun"):
            raise ValueError(f"unknown stage '{stage}': use preflight or postrun")
        stages = self.__dict__.setdefault("_stages", {})  # kept, so its compiled policy is kept too
        if stage not in stages:
            stages[stage] = RuleSet(self.profile, tuple(r for r in self.rules if r.stage == stage), self.catalog,
                                    self.files, self.overrides, self.tables)
        return stages[stage]

    def __len__(self) -> int:
        return len(self.rules)
