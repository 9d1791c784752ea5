"""Impact preview of a rule change: which past runs would change verdict, and because of which rules.

    old rules ─┐
               ├─ one polars query over the history table ─► old status, new status, causes per run
    new rules ─┘

Both rule sets are judged in one pass over one read of the history: metric columns are
normalised once and shared, and a check that is the same in both sets (the usual case: a
pull request touches a few rules) is computed once. A run *changes* when its status differs;
its *causes* are the rules whose effect (ok / warn / block) differs between the two sets.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from picogate.catalog import BASELINE_PREFIX, Catalog
from picogate.evaluate import evaluate, read_names
from picogate.expr import compile_check, names, to_text
from picogate.metrics import RUN_ID, MetricsSource, normalize, read_metrics
from picogate.rules import CategoryChange, Rule, RuleSet, load_rules
from picogate.rules.categories import compare as category_changes
from picogate.verdict import EFFECTS, STATUS, STATUS_ORDER, effect_expr, status_columns

_NEW = "\x00new:"  # prefix of a column the new rules read with a different type than the old ones
_TYPES = {"num": pl.Float64, "str": pl.String, "bool": pl.Boolean}


@dataclass(frozen=True)
class RuleChange:
    rule_id: str
    change: str  # added | removed | changed
    before: str
    after: str


@dataclass
class RulesDiff:
    """What `diff_rules` returns."""

    old: RuleSet
    new: RuleSet
    old_label: str
    new_label: str
    total_runs: int
    changed: pl.DataFrame  # run_id, old, new, causes (list of rule ids), in history order
    transitions: pl.DataFrame  # old, new, runs
    impact: pl.DataFrame  # rule_id, before, after (effects), runs: changed runs this rule moves
    rule_changes: list[RuleChange]
    history: pl.DataFrame  # the raw rows of the changed runs (for observed values in reports)
    stage: str | None = None
    category_changes: list[CategoryChange] = field(default_factory=list)  # values changed, with direction

    @property
    def n_changed(self) -> int:
        return self.changed.height

    def details(self, max_runs: int = 50) -> dict[str, dict[str, dict[str, Any]]]:
        """run_id -> rule_id -> old/new check rows, for the first `max_runs` changed runs."""
        shown = self.changed.head(max_runs)
        if not shown.height:
            return {}
        rows = self.history.filter(pl.col(RUN_ID).is_in(shown.get_column(RUN_ID).implode()))
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for side, ruleset in (("old", self.old), ("new", self.new)):
            if not ruleset.rules:
                continue
            checks = evaluate(rows, ruleset).checks
            for c in checks.iter_rows(named=True):
                out.setdefault(c[RUN_ID], {}).setdefault(c["rule_id"], {})[side] = c
        return out

    def to_dict(self, max_runs: int | None = None) -> dict[str, Any]:
        changed = self.changed if max_runs is None else self.changed.head(max_runs)
        return {
            "old": self.old_label, "new": self.new_label, "stage": self.stage,
            "runs": self.total_runs, "changed": self.n_changed,
            "transitions": self.transitions.to_dicts(),
            "rules": self.impact.to_dicts(),
            "rule_changes": [c.__dict__ for c in self.rule_changes],
            "category_changes": [c.to_dict() for c in self.category_changes],
            "changed_runs": changed.to_dicts(),
        }

    def to_json(self, max_runs: int | None = None) -> str:
        return json.dumps(self.to_dict(max_runs), indent=2, ensure_ascii=False) + "\n"

    def to_markdown(self, *, max_runs: int = 50) -> str:
        """A pull-request comment: what changed in the rules, and what that does to past runs."""
        from picogate.policy.diff_report import to_markdown

        return to_markdown(self, max_runs=max_runs)

    def to_text(self, *, max_runs: int = 20) -> str:
        from picogate.policy.diff_report import to_text

        return to_text(self, max_runs=max_runs)


def diff_rules(old: str | Path | RuleSet, new: str | Path | RuleSet, history: MetricsSource, *,
               stage: str | None = None, old_label: str | None = None, new_label: str | None = None) -> RulesDiff:
    """Judge `history` (one row per past run) with both rule sets in one pass and compare verdicts.

    >>> d = diff_rules("rules/release.yaml", "my_release.yaml", "runs.parquet")
    >>> d.changed          # run_id, old, new, causes
    """
    old_rs = load_rules(old).for_stage(stage)
    new_rs = load_rules(new).for_stage(stage)
    raw = read_metrics(history, what="history")
    frame, flags_old, flags_new, col_new = _shared_frame(raw, old_rs, new_rs)

    # outcome columns: one per distinct (check, columns read); identical checks are computed once
    exprs: dict[tuple, tuple[str, pl.Expr]] = {}

    def outcome(rule: Rule, flags: dict[str, str], column: Any) -> str:
        read = tuple((n, column(n), flags.get(n)) for n in names(rule.node))
        key = (to_text(rule.node), read)
        if key not in exprs:
            alias = f"#{len(exprs)}"
            exprs[key] = (alias, compile_check(rule.node, bad_flags=flags, column=column).outcome.alias(alias))
        return exprs[key][0]

    old_cols = [outcome(r, flags_old, lambda n: n) for r in old_rs.rules]
    new_cols = [outcome(r, flags_new, col_new) for r in new_rs.rules]
    query = (
        frame.lazy()
        .with_columns([e for _, e in exprs.values()])
        .with_columns(status_columns(old_cols, old_rs.rules)).with_columns(STATUS.alias("_old"))
        .with_columns(status_columns(new_cols, new_rs.rules)).with_columns(STATUS.alias("_new"))
    )
    # a rule's effect in each set (ok when the set lacks it); causes are the rules whose effect moved
    effects_old = {r.id: effect_expr(pl.col(c), r) for r, c in zip(old_rs.rules, old_cols, strict=True)}
    effects_new = {r.id: effect_expr(pl.col(c), r) for r, c in zip(new_rs.rules, new_cols, strict=True)}
    ids = list(dict.fromkeys([*effects_old, *effects_new]))
    ok = pl.lit(0, pl.Int8)
    moved = [(rid, effects_old.get(rid, ok), effects_new.get(rid, ok)) for rid in ids]
    causes = pl.concat_list([pl.when(o != n).then(pl.lit(rid)).otherwise(pl.lit(None, pl.String))
                             for rid, o, n in moved]).list.drop_nulls() if moved else pl.lit([], pl.List(pl.String))
    changed_q = (
        query.filter(pl.col("_old") != pl.col("_new"))
        .select(pl.col(RUN_ID), pl.col("_old").alias("old"), pl.col("_new").alias("new"), causes.alias("causes"),
                *[pl.struct(o.alias("before"), n.alias("after")).alias(f"e:{rid}") for rid, o, n in moved])
    )
    changed_full = changed_q.collect()
    changed = changed_full.select(RUN_ID, "old", "new", "causes")
    transitions = (changed.group_by("old", "new").len("runs")
                   .sort(["runs", "old", "new"], descending=[True, False, False]))
    impact = _impact(changed_full, ids)
    return RulesDiff(old_rs, new_rs, old_label or _label(old, old_rs), new_label or _label(new, new_rs), raw.height,
                     changed, transitions, impact, rule_changes(old_rs, new_rs),
                     raw.filter(pl.col(RUN_ID).is_in(changed.get_column(RUN_ID).implode())), stage,
                     category_changes(old_rs, new_rs))


def _label(ref: object, rs: RuleSet) -> str:
    return rs.files[-1] if isinstance(ref, RuleSet) and rs.files else str(ref)


def _impact(changed: pl.DataFrame, ids: Sequence[str]) -> pl.DataFrame:
    """Per rule and effect move (e.g. ok -> block): how many changed runs it moves."""
    parts = []
    for rid in ids:
        col = f"e:{rid}"
        moved = changed.select(pl.col(col).struct.field("before"), pl.col(col).struct.field("after")) \
            .filter(pl.col("before") != pl.col("after"))
        if moved.height:
            parts.append(moved.group_by("before", "after").len("runs").with_columns(pl.lit(rid).alias("rule_id")))
    schema = {"rule_id": pl.String, "before": pl.String, "after": pl.String, "runs": pl.UInt32}
    if not parts:
        return pl.DataFrame(schema=schema)
    names_ = {i: e for i, e in enumerate(EFFECTS)}
    return (pl.concat(parts)
            .select("rule_id",
                    pl.col("before").cast(pl.Int64).replace_strict(names_, return_dtype=pl.String),
                    pl.col("after").cast(pl.Int64).replace_strict(names_, return_dtype=pl.String),
                    pl.col("runs").cast(pl.UInt32))
            .sort(["runs", "rule_id"], descending=[True, False]))


def _shared_frame(raw: pl.DataFrame, old: RuleSet, new: RuleSet) -> tuple[pl.DataFrame, dict, dict, Any]:
    """One frame holding every metric either set reads, normalised once.

    A name both sets read with the same type is one column; a name whose type differs
    (a rule file re-declared it) gets a second column for the new set.
    """
    want_old = read_names(old)
    want_new = read_names(new)

    def kind(catalog: Catalog, name: str) -> str:
        m = catalog.lookup(name)
        return m.lang_type if m else "num"

    clash = {n for n in want_new if n in want_old and kind(old.catalog, n) != kind(new.catalog, n)}
    plain_old = [n for n in want_old if not n.startswith(BASELINE_PREFIX)]
    plain_new = [n for n in want_new if not n.startswith(BASELINE_PREFIX) and (n in clash or n not in want_old)]
    frame, flags_old = normalize(raw, plain_old, old.catalog)
    extra, flags_extra = normalize(raw, plain_new, new.catalog)
    rename = {n: _NEW + n for n in clash} | {f: _NEW + f for n, f in flags_extra.items() if n in clash}
    frame = frame.hstack(extra.drop(RUN_ID).rename(rename).get_columns())
    flags_new = {n: f for n, f in flags_old.items() if n in want_new and n not in clash}
    flags_new |= {n: rename.get(f, f) for n, f in flags_extra.items()}
    # baseline.<x>: no baseline run in a history diff, so these read as missing (as evaluate() without one)
    lits = {}
    for n in want_old:
        if n.startswith(BASELINE_PREFIX):
            lits[n] = pl.lit(None, _TYPES[kind(old.catalog, n)]).alias(n)
    for n in want_new:
        if n.startswith(BASELINE_PREFIX):
            target = _NEW + n if n in clash else n
            lits[target] = pl.lit(None, _TYPES[kind(new.catalog, n)]).alias(target)
    if lits:
        frame = frame.with_columns(list(lits.values()))
    return frame, flags_old, flags_new, (lambda n: _NEW + n if n in clash else n)


def rule_changes(old: RuleSet, new: RuleSet) -> list[RuleChange]:
    """Rules added, removed, or changed (check, severity, stage or missing) between two sets."""
    def describe(r: Rule) -> str:
        extra = f", missing: {r.missing}" if r.missing != "fail" else ""
        return f"{to_text(r.node)} ({r.stage}, {r.severity}{extra})"

    before = {r.id: r for r in old.rules}
    after = {r.id: r for r in new.rules}
    out = []
    for rid, r in before.items():
        if rid not in after:
            out.append(RuleChange(rid, "removed", describe(r), ""))
        elif describe(r) != describe(after[rid]):
            out.append(RuleChange(rid, "changed", describe(r), describe(after[rid])))
    out += [RuleChange(rid, "added", "", describe(r)) for rid, r in after.items() if rid not in before]
    return out


def status_change(old: str, new: str) -> str:
    """'stricter', 'looser' (or 'same') for a verdict change."""
    d = STATUS_ORDER[new] - STATUS_ORDER[old]
    return "stricter" if d > 0 else "looser" if d < 0 else "same"
