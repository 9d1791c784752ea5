"""Impact preview of a rule change: which past runs would change verdict, and because of which rules.

    old rules ─┐
               ├─ one polars query over the history table ─► old status, new status, causes per run
    new rules ─┘

Both rule sets are compiled as `evaluate` compiles them (`compile_policy`: `Policy.inputs` types
the columns, `Policy.judge` the checks and statuses) and judged in one pass over one read of the
history: metric columns are typed once and shared, and a check that is the same in both sets
(the usual case: a pull request touches a few rules) is computed once. A run *changes* when its status differs;
its *causes* are the rules whose effect (ok / warn / block) differs between the two sets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from picogate.compile import Policy, compile_policy
from picogate.evaluate import baseline_columns, evaluate
from picogate.expr import names, to_text
from picogate.metrics import RUN_ID, MetricsSource, read_metrics
from picogate.rules import CategoryChange, Rule, RuleSet, load_rules
from picogate.rules.categories import compare as category_changes
from picogate.verdict import EFFECTS, STATUS_ORDER, effect_expr

_NEW = "\x00new:"  # prefix of a column the new rules read with a different type than the old ones
_OLD, _NEW_SET = "\x00old", "\x00new"  # prefixes of each set's outcome and status columns


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
    old_p, new_p = compile_policy(old_rs), compile_policy(new_rs)
    frame, flags_old, flags_new, col_new = _shared_frame(raw, old_p, new_p)
    # both sets compile as `evaluate` compiles them (Policy.judge), side by side in one frame
    old_out, old_status = old_p.judge(flags_old, prefix=_OLD)
    new_out, new_status = new_p.judge(flags_new, column=col_new, prefix=_NEW_SET)
    old_cols, new_cols = old_p.outcome_columns(_OLD), new_p.outcome_columns(_NEW_SET)
    # a check the pull request left alone (same expression over the same columns) is judged once: the new
    # set's column is a copy of the old one's
    seen = {_check_key(r, flags_old, {}): c for r, c in zip(old_rs.rules, old_cols, strict=True)}
    fresh, copies = [], []
    for rule, col, expr in zip(new_rs.rules, new_cols, new_out, strict=True):
        same = seen.get(_check_key(rule, flags_new, col_new))
        if same is None:
            fresh.append(expr)
        else:
            copies.append(pl.col(same).alias(col))
    query = (
        frame.lazy()
        .with_columns([*old_out, *fresh]).with_columns(copies)
        .with_columns([*old_status[:-1], *new_status[:-1]]).with_columns([old_status[-1], new_status[-1]])
    )
    # a rule's effect in each set (ok when the set lacks it); causes are the rules whose effect moved
    effects_old = {r.id: effect_expr(pl.col(c), r) for r, c in zip(old_rs.rules, old_cols, strict=True)}
    effects_new = {r.id: effect_expr(pl.col(c), r) for r, c in zip(new_rs.rules, new_cols, strict=True)}
    ids = list(dict.fromkeys([*effects_old, *effects_new]))
    ok = pl.lit(0, pl.Int8)
    moved = [(rid, effects_old.get(rid, ok), effects_new.get(rid, ok)) for rid in ids]
    causes = pl.concat_list([pl.when(o != n).then(pl.lit(rid)).otherwise(pl.lit(None, pl.String))
                             for rid, o, n in moved]).list.drop_nulls() if moved else pl.lit([], pl.List(pl.String))
    old_s, new_s = pl.col(f"{_OLD}_status"), pl.col(f"{_NEW_SET}_status")
    changed_q = (
        query.filter(old_s != new_s)
        .select(pl.col(RUN_ID), old_s.alias("old"), new_s.alias("new"), causes.alias("causes"),
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


def _check_key(rule: Rule, flags: Mapping[str, str], column: Mapping[str, str]) -> tuple:
    """What decides a check's outcome column: its expression, and the columns and flags it reads."""
    read = tuple((n, column.get(n, n), flags.get(n)) for n in names(rule.node))
    return to_text(rule.node), read


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


def _shared_frame(raw: pl.DataFrame, old: Policy, new: Policy) -> tuple[pl.DataFrame, dict[str, str],
                                                                       dict[str, str], dict[str, str]]:
    """One frame holding every metric either set reads, typed by each Policy's own `inputs`, read once.

    A name both sets read with the same type is one column; a name whose type differs (a rule file
    re-declared it) gets a second column for the new set. Returns the frame, each set's bad-cell flags,
    and the new set's column for each such name (for `Policy.judge(column=...)`).
    """
    def kind(policy: Policy, name: str) -> str:
        m = policy.ruleset.catalog.lookup(name)
        return m.lang_type if m else "num"

    in_old = set(old.wanted)
    clash = {n for n in new.wanted if n in in_old and kind(old, n) != kind(new, n)}
    exprs_old, flags_old = old.inputs(raw.schema)
    exprs_new, flags_new = new.inputs(raw.schema)
    rename = {n: _NEW + n for n in clash} | {f: _NEW + f for n, f in flags_new.items() if n in clash}
    have = {e.meta.output_name() for e in exprs_old}
    extra = [e.alias(rename[name]) if name in rename else e
             for e in exprs_new if (name := e.meta.output_name()) in rename or name not in have]
    frame = raw.select([*exprs_old, *extra])
    # baseline.<x>: no baseline run in a history diff, so these read as missing (as evaluate() without one)
    base_old, flags_old = baseline_columns(old, flags_old, None)
    base_new, flags_new = baseline_columns(new, flags_new, None)
    have = {e.meta.output_name() for e in base_old}
    base_new = [e.alias(rename.get(name, _NEW + name)) if name in clash else e
                for e in base_new if (name := e.meta.output_name()) in clash or name not in have]
    if base_old or base_new:
        frame = frame.with_columns([*base_old, *base_new])
    column = {n: _NEW + n for n in clash}
    return frame, flags_old, {n: rename.get(f, f) for n, f in flags_new.items()}, column


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
