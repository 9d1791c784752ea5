# .venv/bin/python -m pytest -q -p no:cacheprovider tests/engine/test_engine_differential_runs.py
"""Differential tests through the public `evaluate` (hypothesis): many runs, baselines, float widths.

- Division and `%` by `baseline.` values, metrics and expressions, on a table of 1, 3, 8 and 100
  copies of one run: every run gets the outcome the reference interpreter gives the single run
  (polars took a different kernel for a scalar divisor at some table heights).
- float16 and float32 columns (a polars frame cast to that width, and an Arrow table): the engine
  reads the value the column holds, widened exactly; NaN and ±inf are missing.
- Random checks on 1-5 different runs: `evaluate(...).checks` never raises, has runs x rules rows,
  and each row's outcome is the reference's.

Set PICOGATE_HYPOTHESIS_EXAMPLES=N for a longer run (N examples per test).
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pyarrow as pa
from engine_helpers import examples, frame_of, reference_row, ruleset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_engine_differential import (
    BOOL_NAMES,
    NASTY,
    NUM_LITS,
    NUM_NAMES,
    STR_NAMES,
    _bool,
    _num,
    bool_leaf,
    cmp_,
    row_strategy,
)

from picogate import evaluate
from picogate.expr import OUTCOMES, reference
from picogate.expr.parser import parse

SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
COPIES = [1, 3, 8, 100]

BASE_NAMES = ["baseline.x", "baseline.y"]
# quotients whose IEEE value differs from a multiplication by the reciprocal: 0.04 / 0.05, 0.09 / 0.09, 0.3 / 0.1
RATIO_LITS = ["0.05", "0.09", "0.1", "0.8", "1", "3", "10"]
num_leaf = st.sampled_from(NUM_NAMES + BASE_NAMES + NUM_LITS + RATIO_LITS)
num_expr = st.recursive(num_leaf, _num, max_leaves=6)
divisor = st.one_of(st.sampled_from(BASE_NAMES + NUM_NAMES + RATIO_LITS), num_expr)
quotient = st.tuples(num_expr, st.sampled_from(["/", "%"]), divisor).map(lambda t: f"({t[0]} {t[1]} ({t[2]}))")
division_check = st.tuples(quotient, cmp_, st.one_of(st.sampled_from([*RATIO_LITS, "0", "0.7999999999999999"]),
                                                     num_expr)).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
check_expr = st.recursive(
    st.one_of(division_check, division_check, bool_leaf,
              st.tuples(num_expr, cmp_, num_expr).map(lambda t: f"({t[0]} {t[1]} {t[2]})")),
    _bool, max_leaves=5)

RATIO_VALUES = [0.04, 0.05, 0.09, 0.1, 0.3, 0.8, 3.0, 10.0]
num_cell = st.one_of(st.sampled_from(RATIO_VALUES), st.sampled_from(NASTY), st.floats(allow_nan=True,
                                                                                       allow_infinity=True))
run_row = st.fixed_dictionaries({}, optional={
    **{n: num_cell for n in NUM_NAMES},
    **{n: st.one_of(st.none(), st.sampled_from(["", "a", "cuda"])) for n in STR_NAMES},
    **{n: st.one_of(st.none(), st.booleans()) for n in BOOL_NAMES},
})
baseline_row = st.fixed_dictionaries({}, optional={"x": num_cell, "y": num_cell})


def outcome_rows(result) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """(run_id, rule_id, outcome) of every check row."""
    return result.checks.select("run_id", "rule_id", pl.col("outcome").cast(pl.String)).rows()


@settings(max_examples=examples(800), **SETTINGS)
@given(text=check_expr, row=run_row, base=baseline_row)
def test_repeated_runs_with_a_baseline_match_the_reference(text: str, row: dict, base: dict) -> None:
    rules = ruleset(text)
    want = OUTCOMES[reference.outcome(parse(text), reference_row(row, base))]
    baseline = frame_of([base]) if base else pl.DataFrame({"run_id": ["base"]})
    for n in COPIES:
        result = evaluate(frame_of([row] * n), rules, baseline=baseline)
        got = [o for _, _, o in outcome_rows(result)]
        assert got == [want] * n, f"{text}\nrun={row}\nbaseline={base}\nruns={n}"


def _narrow(value: object, width: type) -> object:
    """`value` as a column of that float width holds it, widened back to a Python float."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return value
    with np.errstate(over="ignore"):
        return float(width(value))


@settings(max_examples=examples(400), **SETTINGS)
@given(text=check_expr, rows=st.lists(run_row, min_size=1, max_size=4), base=baseline_row)
def test_float16_and_float32_columns_match_the_reference(text: str, rows: list[dict], base: dict) -> None:
    """Every float width through both doors: NaN and ±inf (also float16 overflow) are missing."""
    rules = ruleset(text)
    baseline = frame_of([base]) if base else pl.DataFrame({"run_id": ["base"]})
    node = parse(text)
    for pl_width, np_width in ((pl.Float32, np.float32), (pl.Float16, np.float16)):
        narrow = [{k: _narrow(v, np_width) for k, v in r.items()} for r in rows]
        want = [OUTCOMES[reference.outcome(node, reference_row(r, base))] for r in narrow]
        frame = frame_of(rows, pl_width)
        for door, metrics in (("polars", frame), ("arrow", frame.to_arrow())):
            got = [o for _, _, o in outcome_rows(evaluate(metrics, rules, baseline=baseline))]
            assert got == want, f"{text}\n{door} {pl_width}\nrows={rows}\nbaseline={base}"


def test_float16_nan_and_inf_are_missing_on_every_door() -> None:
    """The finding's own input: a float16 NaN or +inf once approved `m.a >= 0.5`."""
    rules = ruleset("x >= 0.5")
    for bad in (math.nan, math.inf):
        table = pa.table({"run_id": ["a"], "x": pa.array(np.array([bad], np.float16), type=pa.float16())})
        for metrics in (table, pl.from_arrow(table)):
            result = evaluate(metrics, rules)
            assert result.status == "blocked"
            assert [o for _, _, o in outcome_rows(result)] == ["missing"]


@settings(max_examples=examples(500), **SETTINGS)
@given(texts=st.lists(check_expr, min_size=1, max_size=3), rows=st.lists(run_row, min_size=1, max_size=5),
       base=baseline_row)
def test_checks_table_never_raises_and_has_a_row_per_run_and_rule(texts: list[str], rows: list[dict],
                                                                   base: dict) -> None:
    rules = ruleset(*texts)
    baseline = frame_of([base]) if base else None
    result = evaluate(frame_of(rows), rules, baseline=baseline)
    got = outcome_rows(result)
    assert len(got) == len(rows) * len(texts)
    want = [(str(i), f"r{j}", OUTCOMES[reference.outcome(parse(t), reference_row(r, base if baseline is not None
                                                                                  else {}))])
            for j, t in enumerate(texts) for i, r in enumerate(rows)]
    assert sorted(got) == sorted(want), "\n".join(texts)


@settings(max_examples=examples(300), **SETTINGS)
@given(text=check_expr, rows=st.lists(row_strategy, min_size=1, max_size=5))
def test_checks_table_without_a_baseline(text: str, rows: list[dict]) -> None:
    """No baseline given: every `baseline.` value is missing, in a table of the right height."""
    result = evaluate(frame_of(rows), ruleset(text))
    assert result.checks.height == len(rows)
