# .venv/bin/python -m pytest -q -p no:cacheprovider tests/engine/test_exact_arithmetic.py
"""Exact arithmetic on every path, numbers in range, and a checks table for every rule that compiles.

- Division and `%` give the IEEE result whatever the divisor (a literal, a `baseline.` value, a metric,
  an expression) and whatever the number of runs: polars divides by what it sees as a scalar (a
  literal, a `pl.lit` column such as the baseline's) by multiplying with its reciprocal, which made
  `m.a / baseline.m.a >= 0.8` (0.04 / 0.05 = 0.7999999999999999) block one run and approve eight.
- Numbers in `per_category` values and `tables:` obey the range rule of literals (finite float64,
  integers at most 2**53): 2**53 + 1 and 10**330 are refused at load with file, rule, line, column.
- `(1 == coalesce(1, m.b)) == true` with m.b absent built a one-row column where the checks table
  needs one per run (ShapeError at 2+ runs).
"""

from __future__ import annotations

import math

import polars as pl
import pytest
from engine_helpers import run_cli

from picogate import RuleError, evaluate, load_rules
from picogate.expr import OUTCOMES, ExprError, check_condition, compile_check, expand, parse, reference
from picogate.expr.compiler import compile_value

RUN_COUNTS = [1, 2, 3, 8, 100, 1000]


@pytest.fixture
def one_rule(write_rules):  # type: ignore[no-untyped-def]
    """A one-rule postrun profile over m.a and m.b: `one_rule("m.a / baseline.m.a >= 0.8")`."""

    def make(check: str) -> object:
        return write_rules(f"""
            profile: exact
            metrics:
              m.a: {{type: float, description: test metric}}
              m.b: {{type: float, description: test metric}}
            rules:
              - id: exact.check
                stage: postrun
                severity: block
                check: "{check}"
                message: "observed {{observed}}"
                fix: do better
            """)

    return make


def runs(n: int, **columns: float) -> pl.DataFrame:
    """`n` runs with the same values."""
    return pl.DataFrame({"run_id": [f"run-{i}" for i in range(n)], **{k: [v] * n for k, v in columns.items()}})


def outcomes(result) -> list[str]:  # type: ignore[no-untyped-def]
    checks = result.checks.filter(pl.col("rule_id") == "exact.check")
    return checks.get_column("outcome").cast(pl.String).to_list()


# -- finding: division by a baseline value ---------------------------------------------------------------

@pytest.mark.parametrize("n", RUN_COUNTS)
def test_division_by_baseline_is_the_ieee_quotient_for_any_number_of_runs(one_rule, n: int) -> None:
    assert 0.04 / 0.05 == 0.7999999999999999  # so the rule must fail, in every run
    result = evaluate(runs(n, **{"m.a": 0.04}), one_rule("m.a / baseline.m.a >= 0.8"),
                      baseline={"run_id": "base", "m.a": 0.05})
    assert result.status == "blocked"
    assert result.runs.get_column("status").to_list() == ["blocked"] * n
    assert outcomes(result) == ["fail"] * n


# (check, metrics, baseline, the outcome Python's float arithmetic gives)
EXACT_CASES = {
    "div_baseline": ("m.a / baseline.m.a >= 0.8", {"m.a": 0.04}, {"m.a": 0.05}, "fail"),
    "div_baseline_lt": ("m.a / baseline.m.a < 0.8", {"m.a": 0.04}, {"m.a": 0.05}, "pass"),
    # 0.09 / 0.09 is 1.0, 0.09 * (1 / 0.09) is 0.9999999999999999: floor differs, so does %
    "mod_baseline_zero": ("m.a % baseline.m.a == 0", {"m.a": 0.09}, {"m.a": 0.09}, "pass"),
    "mod_baseline": ("m.a % baseline.m.a > 0.05", {"m.a": 0.3}, {"m.a": 0.1}, "pass"),
    "div_max_baseline": ("m.a / max(baseline.m.a, baseline.m.b) >= 0.8", {"m.a": 0.04}, {"m.a": 0.05, "m.b": 0.01},
                         "fail"),
    "div_min_baseline": ("m.a / min(baseline.m.a, 1) >= 0.8", {"m.a": 0.04}, {"m.a": 0.05}, "fail"),
    "div_abs_baseline": ("m.a / abs(baseline.m.a) >= 0.8", {"m.a": 0.04}, {"m.a": -0.05}, "fail"),
    "div_neg_baseline": ("m.a / -baseline.m.a <= -0.8", {"m.a": 0.04}, {"m.a": 0.05}, "fail"),
    "div_baseline_expr": ("m.a / (baseline.m.a * 1) >= 0.8", {"m.a": 0.04}, {"m.a": 0.05}, "fail"),
    "div_coalesce_baseline": ("m.a / coalesce(baseline.m.a, m.b) >= 0.8", {"m.a": 0.04, "m.b": 1.0}, {"m.a": 0.05},
                              "fail"),
    "baseline_over_baseline": ("baseline.m.a / baseline.m.b >= 0.8", {"m.a": 1.0}, {"m.a": 0.04, "m.b": 0.05}, "fail"),
    "div_metric": ("m.a / m.b >= 0.8", {"m.a": 0.04, "m.b": 0.05}, {}, "fail"),
    "mod_metric": ("m.a % m.b == 0", {"m.a": 0.09, "m.b": 0.09}, {}, "pass"),
    "div_literal": ("m.a / 0.05 >= 0.8", {"m.a": 0.04}, {}, "fail"),
    "mod_literal": ("m.a % 0.1 > 0.05", {"m.a": 0.3}, {}, "pass"),
    "constant_div": ("0.04 / 0.05 >= 0.8", {"m.a": 1.0}, {}, "fail"),
    "constant_mod": ("0.09 % 0.09 == 0", {"m.a": 1.0}, {}, "pass"),
    "constant_true": ("1 == 1", {"m.a": 1.0}, {}, "pass"),
    "constant_false": ("2 < 1", {"m.a": 1.0}, {}, "fail"),
    "constant_error": ("1 / 0 > 0", {"m.a": 1.0}, {}, "error"),
}


@pytest.mark.parametrize("n", [1, 2, 3, 8, 100])
@pytest.mark.parametrize("check,metrics,base,want", EXACT_CASES.values(), ids=EXACT_CASES.keys())
def test_exact_division_and_modulo_through_evaluate(one_rule, check: str, metrics: dict, base: dict, want: str,
                                                    n: int) -> None:
    row = {**metrics, **{f"baseline.{k}": v for k, v in base.items()}}
    assert OUTCOMES[reference.outcome(parse(check), row)] == want  # the reference agrees with Python's floats
    baseline = {"run_id": "base", **base} if base else None
    result = evaluate(runs(n, **metrics), one_rule(check), baseline=baseline)
    assert outcomes(result) == [want] * n
    assert result.checks.height == n  # one row per run, constant checks included


def _resolve(name: str) -> str:
    return "num"


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
@pytest.mark.parametrize("n", RUN_COUNTS)
@pytest.mark.parametrize("check,metrics,base,want", EXACT_CASES.values(), ids=EXACT_CASES.keys())
def test_exact_division_through_compile_check(check: str, metrics: dict, base: dict, want: str, n: int,
                                              lazy: bool) -> None:
    """The compiled check alone, on a frame whose baseline columns are `pl.lit` columns, as evaluate makes them."""
    node = parse(check)
    check_condition(node, _resolve, check)
    frame = runs(n, **metrics).with_columns(*(pl.lit(v, pl.Float64).alias(f"baseline.{k}") for k, v in base.items()))
    outcome = compile_check(node).outcome.alias("o")
    got = (frame.lazy().with_columns(outcome).collect() if lazy else frame.with_columns(outcome)).get_column("o")
    assert [OUTCOMES[c] for c in got] == [want] * n


# Divisor shapes of every kind, to pin down which ones polars computes row by row (see
# picogate/expr/compiler.py `_varies`): a wrong guess there is an inexact quotient here.
DIVISORS = [
    "b", "baseline.b", "0.05", "-(-b)", "-(-baseline.b)", "abs(b)", "abs(baseline.b)", "b * one", "one * b",
    "baseline.b * one", "b * baseline.one", "baseline.b * baseline.one", "b + 0", "baseline.b + 0",
    "coalesce(b, baseline.b)", "coalesce(baseline.b, b)", "coalesce(b, 1)", "coalesce(0.05, b)",
    "min(b, baseline.b)", "max(baseline.b, b)", "min(baseline.b, 1)", "max(b, 0.05)",
    "b / one", "baseline.b / one", "b / baseline.one", "b % 1", "baseline.b % 1",
]


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
@pytest.mark.parametrize("nulls", [False, True], ids=["full", "nulls"])
@pytest.mark.parametrize("divisor", DIVISORS)
def test_every_divisor_shape_divides_exactly(divisor: str, nulls: bool, lazy: bool) -> None:
    text = f"a / ({divisor})"
    q = compile_value(parse(text)).alias("q")
    for n in RUN_COUNTS:
        a = [0.04] * n
        if nulls and n > 1:
            a[1] = None
        frame = pl.DataFrame({"a": a, "b": [0.05] * n, "one": [1.0] * n}).with_columns(
            pl.lit(0.05).alias("baseline.b"), pl.lit(1.0).alias("baseline.one"))
        got = (frame.lazy().select(q).collect() if lazy else frame.select(q)).get_column("q").to_list()
        want = [None if v is None else reference.value_of(parse(text), {"a": v, "b": 0.05, "one": 1.0,
                                                                        "baseline.b": 0.05,
                                                                        "baseline.one": 1.0})[0] for v in a]
        assert got == want, (text, n)
        assert 0.7999999999999999 in got


def test_division_by_a_metric_held_as_a_literal_column(one_rule) -> None:
    """A polars frame whose metric column is a `pl.lit` column (polars keeps it a scalar): evaluate hands
    the engine materialised columns, so the quotient is still exact."""
    for n in [1, 2, 3, 8, 100]:
        frame = runs(n, **{"m.a": 0.04}).with_columns(pl.lit(0.05).alias("m.b"))
        assert outcomes(evaluate(frame, one_rule("m.a / m.b >= 0.8"))) == ["fail"] * n, n


# -- finding: constant-folded parts keep the frame's height -------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 8])
def test_checks_table_of_a_folded_coalesce_has_one_row_per_run(one_rule, n: int) -> None:
    result = evaluate(runs(n, **{"m.a": 0.04}), one_rule("(1 == coalesce(1, m.b)) == true"))  # m.b absent
    checks = result.checks
    assert checks.height == n
    assert outcomes(result) == ["pass"] * n
    assert checks.get_column("run_id").to_list() == [f"run-{i}" for i in range(n)]


@pytest.mark.parametrize("check", [
    "(1 == coalesce(1, m.b)) == true", "coalesce(1, m.b) >= 1", "min(baseline.m.a, 1) < 2",
    "max(baseline.m.a, 1) > 0", "abs(baseline.m.a) > 0", "baseline.m.a % 0.5 >= 0",
    "coalesce(baseline.m.b, 1) == 1", "true", "not false", "true and true", "1 / 2 == 0.5",
    "is_null(coalesce(1, m.b)) == false", "coalesce(1, m.b) in [1, 2]", "m.a > 0 and coalesce(1, m.b) == 1",
])
@pytest.mark.parametrize("n", [1, 2, 5])
def test_checks_table_height_for_constant_and_baseline_checks(one_rule, check: str, n: int) -> None:
    result = evaluate(runs(n, **{"m.a": 0.04}), one_rule(check), baseline={"run_id": "base", "m.a": 0.05})
    assert result.checks.height == n
    assert set(outcomes(result)) == {"pass"}


@pytest.mark.parametrize("check,want", [
    ("0 == m.b", "missing"), ("(0 == m.b) == true", "missing"), ("0 == abs(abs(abs(min(m.b, m.b))))", "missing"),
    ("1 < m.b or m.a > 0", "pass"), ("0 == coalesce(m.b, 0)", "pass"),
])
@pytest.mark.parametrize("n", [1, 2, 3, 5000])  # small tables are judged eagerly, large ones lazily
def test_checks_on_an_absent_metric_have_one_outcome_per_run(one_rule, check: str, want: str, n: int) -> None:
    """polars 2.1 computes `0 == m.b` over an absent (all-null, or literal) column as one row, which an
    eager pass refuses for a table of 2+ runs; the lazy engine broadcasts it."""
    result = evaluate(runs(n, **{"m.a": 0.04}), one_rule(check))  # m.b absent
    assert outcomes(result) == [want] * n


# -- findings: numbers out of range in a rule file --------------------------------------------------------

PER_CATEGORY = """
profile: t
metrics:
  zz.{{skill}}.rate: {{type: float, description: test metric}}
rules:
  - id: t.skill
    stage: postrun
    severity: block
    check: "zz.{{skill}}.rate >= {{threshold}}"
    message: "observed {{observed}}"
    fix: do better
    per_category:
      name: skill
      values:
        math: 0.3
        {entry}
"""
BIG = "1" + "0" * 330  # 10**330, a 331-digit integer


@pytest.mark.parametrize("entry,rule_id,col,reason", [
    ("spelling: 9007199254740993", "t.skill.spelling", 19, "integer '9007199254740993' cannot be compared exactly"),
    ("spelling: -9007199254740993", "t.skill.spelling", 19, "integer '-9007199254740993' cannot be compared"),
    ("spelling: {threshold: 9007199254740993}", "t.skill.spelling", 31, "integer '9007199254740993'"),
    (f"spelling: {BIG}", "t.skill.spelling", 19, "(331 digits)' cannot be compared exactly (limit 2**53)"),
    (f"spelling: {{threshold: {BIG}}}", "t.skill.spelling", 31, "(331 digits)"),
    ("spelling: 1e330", None, 19, "'1e330' is too large for a 64-bit float"),  # refused while reading YAML
])
def test_per_category_numbers_obey_the_literal_range(write_rules, entry: str, rule_id: str | None, col: int,
                                                     reason: str) -> None:
    path = write_rules(PER_CATEGORY.format(entry=entry))
    with pytest.raises(RuleError) as info:
        load_rules(path)
    err = info.value
    assert (err.file, err.rule_id, err.line, err.column) == (str(path), rule_id, 15, col), str(err)
    assert reason in err.reason


@pytest.mark.parametrize("entry", ["spelling: 9007199254740993", f"spelling: {BIG}"], ids=["2**53+1", "10**330"])
def test_rules_check_refuses_what_evaluate_could_not_compute(write_rules, entry: str) -> None:
    """`picogate rules check` said "ok" to both, then evaluate judged 2**53 + 1 as 2**53 and raised
    OverflowError on 10**330 ("internal error", exit 2)."""
    path = write_rules(PER_CATEGORY.format(entry=entry))
    proc = run_cli("rules", "check", str(path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "rule 't.skill.spelling'" in proc.stderr and "cannot be compared exactly (limit 2**53)" in proc.stderr
    assert ":15:19:" in proc.stderr and "internal error" not in proc.stderr and "Traceback" not in proc.stderr


def test_per_category_limit_itself_is_accepted(write_rules) -> None:
    rs = load_rules(write_rules(PER_CATEGORY.format(entry="spelling: 9007199254740992")))
    assert [r.id for r in rs.rules] == ["t.skill.math", "t.skill.spelling"]
    result = evaluate({"run_id": "a", "zz.math.rate": 0.5, "zz.spelling.rate": 9007199254740992.0}, rs)
    assert result.status == "approved"


TABLES = """
profile: t
rules: []
tables:
  near_dup:
    - {{jaccard: 0.8, num_perm: {value}}}
"""


@pytest.mark.parametrize("value,reason", [
    ("9007199254740993", "integer '9007199254740993' cannot be compared exactly"),
    (BIG, "(331 digits)"),
    ("-" + BIG, "'-10000000...0000 (331 digits)'"),
])
def test_tables_numbers_obey_the_literal_range(write_rules, value: str, reason: str) -> None:
    path = write_rules(TABLES.format(value=value))
    with pytest.raises(RuleError) as info:
        load_rules(path)
    err = info.value
    assert (err.line, err.column, err.rule_id) == (5, 32, None), str(err)
    assert err.reason.startswith("tables.near_dup.0.num_perm: ") and reason in err.reason


@pytest.mark.parametrize("literal,reason", [
    (BIG, "(331 digits)' cannot be compared exactly"),
    ("9007199254740993", "integer '9007199254740993' cannot be compared exactly"),
    ("1e330", "number '1e330' is too large for a 64-bit float"),
])
def test_check_literals_out_of_range_are_refused(one_rule, literal: str, reason: str) -> None:
    with pytest.raises(RuleError) as info:
        load_rules(one_rule(f"m.a >= {literal}"))
    assert reason in info.value.reason and info.value.rule_id == "exact.check"
    assert (info.value.line, info.value.column) == (9, 20)


def test_expand_refuses_a_filled_in_number_out_of_range() -> None:
    """The loader checks the file; `expand` also refuses, for rules built in code."""
    for value in (2**53 + 1, 10**330, math.inf, math.nan):
        with pytest.raises(ExprError) as info:
            expand(parse("x >= {threshold}"), {"threshold": value}, "x >= {threshold}")
        assert info.value.reason.startswith("{threshold}: ")
    assert expand(parse("x >= {threshold}"), {"threshold": 2**53}).right.value == 2**53  # type: ignore[attr-defined]
