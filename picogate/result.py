"""GateResult: the verdict per run and the evidence for it, as polars tables.

`runs` and `status` are computed by `evaluate`'s single pass. `checks` (one row per
run x rule, with observed value, requirement, message and fix) is built on first
access, because a report over 100,000 runs rarely needs all of it; a report that prints a
few runs takes `worst(n)` (those runs only) and one of every run goes `chunks()` at a time.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Iterator
from decimal import Decimal
from functools import cached_property
from typing import Any

import polars as pl

from picogate.expr import ERROR, MISSING, OUTCOMES, PASS, infer, nodes
from picogate.expr.checker import NameResolver as Resolver
from picogate.expr.compiler import compile_value
from picogate.expr.grammar import MIRRORED
from picogate.metrics import RUN_ID
from picogate.rules.model import Rule, RuleSet
from picogate.verdict import BLOCK, EFFECTS, WARN, WORST_FIRST, codes_with_effect, effect_expr

OUTCOME_DTYPE = pl.Enum(list(OUTCOMES))
EFFECT_DTYPE = pl.Enum(list(EFFECTS))

CHECK_COLUMNS = ["run_id", "rule_id", "category", "stage", "severity", "outcome", "effect", "observed",
                 "observed_value", "required", "threshold", "message", "fix", "source", "missing_inputs"]
NO_CHECK_PASSED = "picogate.nothing_passed"
_ERROR_PREFIX = "could not evaluate (an input is unreadable as its type, or arithmetic is not finite): "
NO_EVIDENCE = "no evidence for "  # a missing check's whole message: never "missing" spliced into its template
UNKNOWN = "unknown"  # a null value a message or fix quotes beside a check that could be judged
MISSING_TEXT = "missing"  # a null value in the observed column


class GateResult:
    """What `evaluate` returns. See DESIGN.md, "Contracts"."""

    def __init__(self, ruleset: RuleSet, wide: pl.DataFrame, stage: str | None = None) -> None:
        self.ruleset = ruleset
        self.stage = stage
        self._wide = wide

    @cached_property
    def status(self) -> str:
        """The worst verdict over all runs: approved, warn or blocked."""
        worst = self._wide.get_column("_status").max()  # an Enum in status order: max is the worst
        return str(worst) if worst is not None else "blocked"

    @cached_property
    def runs(self) -> pl.DataFrame:
        """`run_id, status, blocking, warnings, passed` per run, in input order."""
        rules = self.ruleset.rules

        def count(effect: int) -> pl.Expr:
            terms = [(pl.col(f"#{i}") == code).cast(pl.UInt32) for i, rule in enumerate(rules)
                     for code in codes_with_effect(rule, effect)]
            return pl.sum_horizontal(terms).cast(pl.UInt32) if terms else pl.lit(0, pl.UInt32)

        passed = [(pl.col(f"#{i}") == PASS).cast(pl.UInt32) for i in range(len(rules))]
        return self._wide.select(
            pl.col(RUN_ID),
            pl.col("_status").cast(pl.String).alias("status"),
            count(BLOCK).alias("blocking"),
            count(WARN).alias("warnings"),
            (pl.sum_horizontal(passed).cast(pl.UInt32) if passed else pl.lit(0, pl.UInt32)).alias("passed"),
        )

    @cached_property
    def checks(self) -> pl.DataFrame:
        """One row per run and check: outcome, observed vs required, message, fix."""
        parts = [self._rule_checks(i, rule) for i, rule in enumerate(self.ruleset.rules)]
        nothing = self._wide.filter(~pl.col("_any_pass") & ~pl.col("_any_block") & ~pl.col("_any_warn"))
        if nothing.height or not self.ruleset.rules:
            parts.append(_nothing_passed(nothing if self.ruleset.rules else self._wide, self.ruleset))
        if not parts:
            return pl.DataFrame(schema=_check_schema())
        return pl.concat(parts, how="vertical")

    def counts(self) -> dict[str, int]:
        """Runs per status, read off the wide frame (no per-run table is built for it)."""
        counts = self._wide.select((pl.col("_status") == s).sum().alias(s) for s in WORST_FIRST).row(0, named=True)
        return {status: int(n) for status, n in counts.items() if n}

    def worst(self, n: int) -> GateResult:
        """The first `n` runs a report shows (blocked, then warn, then approved; input order within each),
        as a GateResult of their own: its `runs`, `checks` and `failing()` cover only them.

        A text or markdown report prints a few runs; building check rows for only those keeps its
        memory flat in the number of runs judged.

        >>> from picogate.evaluate import evaluate
        >>> evaluate([{"run_id": "a", "m": 1.0}, {"run_id": "b"}], "release").worst(1).runs["run_id"].to_list()
        ['a']
        """
        rank = pl.col("_status").cast(pl.String).replace_strict({s: i for i, s in enumerate(WORST_FIRST)},
                                                                 return_dtype=pl.Int8)
        picked = self._wide.select(pl.arg_sort_by(rank, maintain_order=True).head(n)).to_series()
        return GateResult(self.ruleset, self._wide[picked], self.stage)

    def chunks(self, size: int = 10_000) -> Iterator[GateResult]:
        """The runs in input order, `size` at a time, each as a GateResult: a report of every run
        (JUnit) builds check rows one chunk at a time instead of all at once."""
        for offset in range(0, self._wide.height, size):
            yield GateResult(self.ruleset, self._wide.slice(offset, size), self.stage)

    def failing(self) -> pl.DataFrame:
        """Checks that do not let their run through, blocking first, then the weakest first: the furthest short
        of its requirement (at 0.12, `x >= 0.3` is 0.18 short; at 17, `x <= 16` is 1 over), checks without a
        number (missing evidence, compound checks) first. Fix the weakest category first."""
        sign = pl.col("rule_id").replace_strict({r.id: _direction(r) for r in self.ruleset.rules}, default=0.0,
                                                 return_dtype=pl.Float64)
        diff = pl.col("threshold") - pl.col("observed_value")
        short = pl.when(sign == 0).then(diff.abs()).otherwise(sign * diff)
        return (
            self.checks.filter(pl.col("effect") != "ok")
            .with_columns(short.alias("_short"))
            .sort(["effect", "_short"], descending=[True, True], nulls_last=False, maintain_order=True)
            .drop("_short")
        )

    def _rule_checks(self, i: int, rule: Rule) -> pl.DataFrame:
        resolve = self.ruleset.catalog.resolve
        observed, required, threshold, value = _observed_parts(rule, resolve)
        absent = _absent(rule)
        return self._wide.select(
            pl.col(RUN_ID),
            pl.lit(rule.id).alias("rule_id"),
            pl.lit(rule.category, pl.String).alias("category"),
            pl.lit(rule.stage).alias("stage"),
            pl.lit(rule.severity).alias("severity"),
            pl.col(f"#{i}").cast(pl.UInt32).replace_strict(dict(enumerate(OUTCOMES)), return_dtype=OUTCOME_DTYPE)
            .alias("outcome"),
            effect_expr(pl.col(f"#{i}"), rule).cast(pl.UInt32)
            .replace_strict(dict(enumerate(EFFECTS)), return_dtype=EFFECT_DTYPE).alias("effect"),
            observed.alias("observed"),
            value.alias("observed_value"),
            required.alias("required"),
            pl.lit(threshold, pl.Float64).alias("threshold"),
            pl.when(pl.col(f"#{i}") == MISSING).then(pl.concat_str([pl.lit(NO_EVIDENCE), absent]))
            .when(pl.col(f"#{i}") == ERROR)
            .then(pl.concat_str([pl.lit(_ERROR_PREFIX), _render(rule.message, observed, required, threshold, resolve)]))
            .otherwise(_render(rule.message, observed, required, threshold, resolve)).alias("message"),
            _render(rule.fix, observed, required, threshold, resolve).alias("fix"),
            pl.lit(str(rule.source)).alias("source"),
            pl.when(pl.col(f"#{i}") == MISSING).then(absent).otherwise(pl.lit(None, pl.String)).alias("missing_inputs"),
        )

    # -- reports (see picogate/report.py)
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: status, runs, checks (every row), the profile and its overrides."""
        from picogate.report import to_dict

        return to_dict(self)

    def to_markdown(self, *, max_runs: int = 50) -> str:
        from picogate.report import to_markdown

        return to_markdown(self, max_runs=max_runs)

    def to_junit_xml(self) -> str:
        from picogate.report import to_junit_xml

        return to_junit_xml(self)

    def __repr__(self) -> str:
        return f"GateResult(status={self.status!r}, runs={self._wide.height}, checks={len(self.ruleset.rules)})"


def fmt(expr: pl.Expr) -> pl.Expr:
    """A number as text that reads back exactly: an integer in full (`1275068416`, never `1.27507e+09`), any
    other value as its shortest round-trip form (`0.30000000000000004`, `1e-7`); 'missing' for null."""
    whole = expr.is_finite() & (expr == expr.round(0)) & (expr.abs() < _INT64_LIMIT)
    text = pl.when(whole).then(expr.cast(pl.Int64, strict=False).cast(pl.String)).otherwise(expr.cast(pl.String))
    return pl.when(expr.is_null()).then(pl.lit(MISSING_TEXT)).otherwise(text)


_INT64_LIMIT = 2.0**63  # integral floats below this print as integers; above, in exponent form


def fmt_number(x: float) -> str:
    """`fmt` for one Python number: the same text polars gives.

    >>> fmt_number(1048576.0), fmt_number(0.9), fmt_number(1e-7)
    ('1048576', '0.9', '1e-7')
    """
    if math.isfinite(x) and x == round(x) and abs(x) < _INT64_LIMIT:
        return str(int(x))
    if 1e-5 <= abs(x) < 1e-4:  # polars writes exponent -5 in full (0.000015) where repr says 1.5e-05
        return format(Decimal(repr(x)), "f")
    return re.sub(r"e([+-]?)0*(\d)", r"e\1\2", repr(x)).replace("nan", "NaN")


def _text(expr: pl.Expr, kind: str, null: str = MISSING_TEXT) -> pl.Expr:
    if kind == "num":
        return pl.when(expr.is_null()).then(pl.lit(null)).otherwise(fmt(expr))
    if kind == "bool":
        return pl.when(expr.is_null()).then(pl.lit(null)).otherwise(
            pl.when(expr).then(pl.lit("true")).otherwise(pl.lit("false")))
    return pl.when(expr.is_null()).then(pl.lit(null)).otherwise(pl.format("'{}'", expr))


def _absent(rule: Rule) -> pl.Expr:
    """The metrics of `rule`'s check that have no value in a run, as `a, b` (every one read, should polars ever
    find the check null with all of them present)."""
    read = nodes.names(rule.node)
    if not read:
        return pl.lit("")
    nulls = [pl.when(compile_value(nodes.Name(n, 0, 0)).is_null()).then(pl.lit(n)) for n in read]
    listed = pl.concat_str(nulls, separator=", ", ignore_nulls=True)
    return pl.when(listed == "").then(pl.lit(", ".join(read))).otherwise(listed)




def _observed_parts(rule: Rule, resolve: Resolver) -> tuple[pl.Expr, pl.Expr, float | None, pl.Expr]:
    """(observed text, required text, numeric threshold, observed number) of a rule's check."""
    node = rule.node

    def kind(n: nodes.Node) -> str:
        return infer(n, resolve)

    none = pl.lit(None, pl.Float64)
    if isinstance(node, nodes.Binary) and node.op in MIRRORED:
        left, right, op = node.left, node.right, node.op
        if isinstance(left, nodes.Literal) and not isinstance(right, nodes.Literal):
            left, right, op = right, left, MIRRORED[op]
        lval = compile_value(left)
        numeric = kind(left) == "num"
        observed = _text(lval, kind(left))
        if isinstance(right, nodes.Literal):
            rtext = nodes.to_text(right)
            threshold = float(right.value) if numeric and right.value is not None else None
            if threshold is not None:
                rtext = fmt_number(threshold)
            return observed, pl.lit(f"{op} {rtext}"), threshold, lval if numeric else none
        rval = compile_value(right)
        return observed, pl.concat_str([pl.lit(f"{op} "), _text(rval, kind(right))]), None, \
            lval if numeric else none
    if isinstance(node, nodes.Binary) and node.op in ("in", "not in"):
        lval = compile_value(node.left)
        return _text(lval, kind(node.left)), pl.lit(f"{node.op} {nodes.to_text(node.right)}"), None, none
    parts = []
    for name in nodes.names(node):
        n = nodes.Name(name, 0, 0)
        parts += [pl.lit(f"{name}="), _text(compile_value(n), kind(n)), pl.lit(", ")]
    observed = pl.concat_str(parts[:-1]) if parts else pl.lit("")
    return observed, pl.lit(_check_text(rule)), None, none


def _direction(rule: Rule) -> float:
    """+1 when a higher observed value is better (`x >= t`), -1 when lower is (`x <= t`), 0 otherwise."""
    node = rule.node
    if not (isinstance(node, nodes.Binary) and node.op in MIRRORED):
        return 0.0
    op = MIRRORED[node.op] if isinstance(node.left, nodes.Literal) else node.op
    return {">=": 1.0, ">": 1.0, "<=": -1.0, "<": -1.0}.get(op, 0.0)


def _check_text(rule: Rule) -> str:
    text = " ".join(rule.check.split())
    for key, value in rule.params.items():
        text = text.replace("{" + key + "}", str(value))
    return text


def _render(template: str, observed: pl.Expr, required: pl.Expr, threshold: float | None,
            resolve: Resolver) -> pl.Expr:
    pieces: list[pl.Expr] = []
    for literal, field, _, _ in string.Formatter().parse(template):
        if literal:
            pieces.append(pl.lit(literal))
        if field is None:
            continue
        if field == "observed":
            pieces.append(observed)
        elif field == "required":
            pieces.append(required)
        elif field == "threshold":
            pieces.append(pl.lit(fmt_number(threshold) if threshold is not None else "n/a"))
        else:  # a value the template quotes beside the check; the check's own inputs are in `observed`
            pieces.append(_text(pl.col(field), resolve(field), UNKNOWN))
    return pl.concat_str(pieces) if pieces else pl.lit("")


def nothing_passed_fix(ruleset: RuleSet) -> str:
    """The fix of the `NO_CHECK_PASSED` check, in the checks table and in SARIF's rule list alike."""
    return f"provide the metrics profile '{ruleset.profile}' reads, or pick the right --stage"


def _nothing_passed(frame: pl.DataFrame, ruleset: RuleSet) -> pl.DataFrame:
    why = ("no rules apply at this stage" if not ruleset.rules
           else "no check passed: every rule's evidence is missing or was skipped")
    return frame.select(
        pl.col(RUN_ID),
        pl.lit(NO_CHECK_PASSED).alias("rule_id"),
        pl.lit(None, pl.String).alias("category"),
        pl.lit("any").alias("stage"),
        pl.lit("block").alias("severity"),
        pl.lit("missing", OUTCOME_DTYPE).alias("outcome"),
        pl.lit("block", EFFECT_DTYPE).alias("effect"),
        pl.lit("no passing evidence").alias("observed"),
        pl.lit(None, pl.Float64).alias("observed_value"),
        pl.lit("at least one passing check").alias("required"),
        pl.lit(None, pl.Float64).alias("threshold"),
        pl.lit(why).alias("message"),
        pl.lit(nothing_passed_fix(ruleset)).alias("fix"),
        pl.lit(", ".join(ruleset.files) or "-").alias("source"),
        pl.lit(None, pl.String).alias("missing_inputs"),
    )


def _check_schema() -> dict[str, pl.DataType]:
    return {c: pl.String for c in CHECK_COLUMNS}
