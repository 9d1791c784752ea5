"""compile_policy: a RuleSet -> the polars expressions that judge every run, compiled once.

    RuleSet --compile_policy--> Policy --inputs(schema)--> typed columns + bad-cell flags
                                       --judge(flags)----> outcome codes `#i` + status columns

`evaluate` and `rules diff` both judge through it: the diff compiles each rule set with `judge(flags,
column=..., prefix=...)`, so two sets share one frame without a compile loop of their own.

`evaluate` is called from trainers and CI many times on small tables, and `rules diff` over
history: type checking and compiling 50 checks costs several milliseconds, more than judging
ten runs. A Policy is kept on its RuleSet (which `load_rules` itself caches by file content),
and each input schema's expressions are kept on the Policy, so a repeated call only builds and
runs the query. polars expressions are immutable values, so sharing them between calls is safe.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from picogate.catalog import BASELINE_PREFIX
from picogate.expr import compile_check, names
from picogate.metrics import normalize_exprs
from picogate.rules.loader import REPORT_FIELDS
from picogate.rules.model import RuleSet
from picogate.verdict import status_columns, status_expr

_CACHE_LIMIT = 64  # input schemas remembered per policy; a caller that varies more pays compile time again


@dataclass
class Policy:
    """The compiled form of one RuleSet; build it with `compile_policy`."""

    ruleset: RuleSet
    wanted: list[str]  # every metric the rules read, in checks and message/fix placeholders
    plain: list[str] = field(init=False)  # ... read from the run's own row
    baseline: list[str] = field(init=False)  # ... `baseline.<name>`, from the previous run
    _inputs: dict[tuple, tuple[list[pl.Expr], dict[str, str]]] = field(default_factory=dict, repr=False)
    _judges: dict[tuple, tuple[list[pl.Expr], list[pl.Expr]]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.plain = [n for n in self.wanted if not n.startswith(BASELINE_PREFIX)]
        self.baseline = [n for n in self.wanted if n.startswith(BASELINE_PREFIX)]

    def outcome_columns(self, prefix: str = "") -> list[str]:
        """The outcome column of each rule under `judge(..., prefix=prefix)`."""
        return [f"{prefix}#{i}" for i in range(len(self.ruleset.rules))]

    def inputs(self, schema: Mapping[str, pl.DataType]) -> tuple[list[pl.Expr], dict[str, str]]:
        """`run_id` and each metric read, typed as the catalog says, plus the bad-cell flags."""
        key = tuple((n, schema.get(n)) for n in self.plain)
        if key not in self._inputs:
            _bounded(self._inputs)
            self._inputs[key] = normalize_exprs(schema, self.plain, self.ruleset.catalog)
        return self._inputs[key]

    def judge(self, flags: Mapping[str, str], *, column: Mapping[str, str] | None = None,
              prefix: str = "") -> tuple[list[pl.Expr], list[pl.Expr]]:
        """(one Int8 outcome code per rule, the status columns then `_status`) over the typed columns.

        `column` maps a metric to the column holding it when that is not its name, and `prefix` starts
        every output name (`{prefix}#i`, `{prefix}_status`): how `rules diff` puts two sets in one frame.
        """
        key = (frozenset(flags.items()), frozenset(column.items()) if column else None, prefix)
        if key not in self._judges:
            _bounded(self._judges)
            rename = dict(column or {})
            cols = self.outcome_columns(prefix)
            outcomes = [compile_check(rule.node, bad_flags=flags, column=lambda n: rename.get(n, n)).outcome.alias(c)
                        for rule, c in zip(self.ruleset.rules, cols, strict=True)]
            self._judges[key] = (outcomes, [*status_columns(cols, self.ruleset.rules, prefix), status_expr(prefix)])
        return self._judges[key]


def compile_policy(ruleset: RuleSet) -> Policy:
    """The Policy of `ruleset`, compiled on first use and kept with it.

    >>> compile_policy(load_rules("release")).wanted[:2]
    ['target_param_data_ratio', 'model.params']
    """
    policy = ruleset.__dict__.get("_policy")
    if policy is None:
        policy = Policy(ruleset, read_names(ruleset))
        object.__setattr__(ruleset, "_policy", policy)  # RuleSet is frozen; the cache is not part of its value
    return policy


def read_names(ruleset: RuleSet) -> list[str]:
    """Every metric the rules read: in checks, and in message/fix placeholders."""
    out: dict[str, None] = {}
    for rule in ruleset.rules:
        out.update(dict.fromkeys(names(rule.node)))
        for text in (rule.message, rule.fix):
            out.update(dict.fromkeys(f for _, f, _, _ in string.Formatter().parse(text)
                                     if f and f not in REPORT_FIELDS))
    return list(out)


def _bounded(cache: dict) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.pop(next(iter(cache)))
