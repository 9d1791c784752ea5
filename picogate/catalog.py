"""The metric catalog: every name a rule may read, with its type, unit and meaning.

Shipped entries live in `schemas/metrics/*.json`; a rule file may add its own under
`metrics:`. A name segment written `{skill}` matches one category name, so
`eval.{skill}.pass_rate` covers `eval.math.pass_rate`. Rules naming anything else
fail at load with a "did you mean" suggestion.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from picogate.errors import PicogateError
from picogate.fields import MetricName, Strict, Text
from picogate.jsonstrict import loads_strict
from picogate.paths import SCHEMAS_DIR

BASELINE_PREFIX = "baseline."
RUN_ID = "run_id"  # the run key of every metrics table: reserved, never a metric
LANG_TYPES = {"int": "num", "float": "num", "bool": "bool", "string": "str"}
_PLACEHOLDER = re.compile(r"\{[a-z][a-z0-9_]*\}")  # a whole name segment such as {skill}
_CATEGORY = re.compile(r"[a-z0-9_]+")  # what one placeholder segment matches


class MetricSpec(Strict):
    """One metric as a catalog file or a rule file's `metrics:` declares it."""

    type: Literal["int", "float", "bool", "string"] = Field(description="the value's type")
    description: Text = Field(description="what it measures, in one line")
    unit: str = Field("", description="e.g. tokens, fraction, parameters")


class CatalogFile(Strict):
    """Known metric names with type, unit and one-line meaning. A {placeholder} segment stands for one
    category name ([a-z0-9_]+)."""

    schema_uri: str = Field("", alias="$schema", description="the JSON Schema of this file, for editors")
    description: str = Field("", description="what this group of metrics is about")
    metrics: dict[MetricName, MetricSpec] = Field(description="metric name -> its type, unit and meaning; "
                                                              "dotted names, {placeholder} segments allowed")


@dataclass(frozen=True)
class Metric:
    name: str
    type: str  # int | float | bool | string
    description: str
    unit: str = ""
    source: str = ""

    @property
    def lang_type(self) -> str:
        return LANG_TYPES[self.type]


class Catalog:
    """Known metrics; `resolve(name)` gives an expression type or raises KeyError(message)."""

    def __init__(self, metrics: Iterable[Metric] = ()) -> None:
        self.exact: dict[str, Metric] = {}
        # a pattern's name segments, None for a {placeholder}: matched segment by segment, because
        # compiling a regex per pattern cost more than the lookups of a first call
        self.patterns: list[tuple[tuple[str | None, ...], Metric]] = []
        self._found: dict[str, Metric | None] = {}  # lookups so far; cleared by add
        for m in metrics:
            self.add(m)

    def add(self, metric: Metric) -> None:
        if metric.name == RUN_ID:
            raise PicogateError(f"{metric.source}: '{RUN_ID}' is reserved for the run key and cannot be a metric")
        existing = self.exact.get(metric.name) or next(
            (m for _, m in self.patterns if m.name == metric.name), None)
        if existing is not None:
            if (existing.type, existing.unit) == (metric.type, metric.unit):
                return  # the same metric declared twice (e.g. by a profile and its parent)
            raise PicogateError(f"{metric.source}: metric '{metric.name}' is already defined as "
                                f"{existing.type} in {existing.source}")
        self._found.clear()
        if "{" in metric.name:
            parts = tuple(None if _PLACEHOLDER.fullmatch(p) else p for p in metric.name.split("."))
            self.patterns.append((parts, metric))
        else:
            self.exact[metric.name] = metric

    def extended(self, metrics: Iterable[Metric]) -> Catalog:
        """A copy with `metrics` added (this catalog's own entries are copied, not checked again)."""
        out = Catalog()
        out.exact, out.patterns = dict(self.exact), list(self.patterns)
        for m in metrics:
            out.add(m)
        return out

    def __iter__(self):  # type: ignore[no-untyped-def]
        yield from self.exact.values()
        yield from (m for _, m in self.patterns)

    def lookup(self, name: str) -> Metric | None:
        if name in self._found:
            return self._found[name]
        base = name[len(BASELINE_PREFIX):] if name.startswith(BASELINE_PREFIX) else name
        found = self.exact.get(base)
        if found is None:
            segments = base.split(".")
            found = next((m for parts, m in self.patterns if _matches(parts, segments)), None)
        self._found[name] = found
        return found

    def resolve(self, name: str) -> str:
        metric = self.lookup(name)
        if metric is None:
            raise KeyError(self.unknown_message(name))
        return metric.lang_type

    def unknown_message(self, name: str) -> str:
        base = name[len(BASELINE_PREFIX):] if name.startswith(BASELINE_PREFIX) else name
        parts = base.split(".")
        known = list(self.exact)
        for _, m in self.patterns:  # fill a pattern's placeholders from the name itself
            pparts = m.name.split(".")
            if len(pparts) == len(parts):
                known.append(".".join(q if p.startswith("{") else p for p, q in zip(pparts, parts, strict=True)))
        close = difflib.get_close_matches(base, known, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else " (see schemas/metrics/ or add it under 'metrics:')"
        return f"unknown metric '{name}'{hint}"


def _matches(parts: tuple[str | None, ...], segments: list[str]) -> bool:
    """Whether a dotted name's segments fit a pattern's (None: any one category name)."""
    return len(parts) == len(segments) and all(
        _CATEGORY.fullmatch(seg) if p is None else p == seg for p, seg in zip(parts, segments, strict=True))


def metric_from_spec(name: str, spec: MetricSpec, source: str) -> Metric:
    return Metric(name, spec.type, spec.description, spec.unit, source)


@cache
def shipped_catalog() -> Catalog:
    """The catalog in `schemas/metrics/`, as shipped, each file validated by `CatalogFile`.

    pydantic validates all of them in well under a millisecond (JSON Schema validation took ~20 ms,
    more than judging ten runs), so a damaged install fails here, on every start.
    """
    catalog = Catalog()
    for path, spec in _shipped_files():
        source = str(path.relative_to(SCHEMAS_DIR.parent))
        for name, metric in spec.metrics.items():
            catalog.add(metric_from_spec(name, metric, source))
    return catalog


def check_shipped_catalog() -> None:
    """Validate every shipped catalog file (kept for the tests; `shipped_catalog` does it too)."""
    _shipped_files()


def _shipped_files() -> list[tuple[Path, CatalogFile]]:
    out = []
    folder = SCHEMAS_DIR / "metrics"  # listdir, not glob: a fifth of the cost on every start
    for path in sorted(folder / name for name in os.listdir(folder) if name.endswith(".json")):
        try:
            out.append((path, CatalogFile.model_validate(_read_json(path))))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = "/".join(str(p) for p in err["loc"])
            raise PicogateError(f"{path}: {where}: {err['msg']}") from None
    return out


def _read_json(path: Path) -> dict:
    """The one strict JSON reader (no duplicate keys, no NaN), as for every evidence file."""
    return loads_strict(path.read_bytes(), str(path))
