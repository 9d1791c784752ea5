# .venv/bin/python -m pytest tests/engine/test_verdict_and_run_ids.py -q
"""Status columns (picogate/verdict.py) against a per-row reading of DESIGN.md's verdict rules,
and the duplicate-run_id test in every order the ids can come in."""

from __future__ import annotations

from types import SimpleNamespace

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from picogate import InputError, evaluate
from picogate.expr import PASS
from picogate.metrics import strictly_increasing
from picogate.verdict import BLOCK, STATUS, WARN, effect_of, status_columns

RULE = st.builds(SimpleNamespace, severity=st.sampled_from(["block", "warn"]),
                 missing=st.sampled_from(["fail", "warn", "pass"]))


def reference_status(codes: list[int], rules: list[SimpleNamespace]) -> str:
    effects = [effect_of(c, r) for c, r in zip(codes, rules, strict=True)]  # type: ignore[arg-type]
    if BLOCK in effects:
        return "blocked"
    if WARN in effects:
        return "warn"
    return "approved" if PASS in codes else "blocked"  # no evidence is not approval


@settings(max_examples=200, deadline=None)
@given(st.lists(RULE, min_size=1, max_size=12).flatmap(
    lambda rules: st.tuples(st.just(rules), st.lists(st.lists(st.integers(0, 3), min_size=len(rules),
                                                               max_size=len(rules)), min_size=1, max_size=40))))
def test_status_columns_match_the_verdict_rules(case):
    rules, rows = case
    columns = [f"#{i}" for i in range(len(rules))]
    frame = pl.DataFrame(rows, schema={c: pl.Int8 for c in columns}, orient="row")
    got = frame.with_columns(status_columns(columns, rules)).with_columns(STATUS).get_column("_status").to_list()
    assert got == [reference_status(row, rules) for row in rows]


@pytest.mark.parametrize("ids,unique", [
    (["a", "b", "c"], True), (["c", "b", "a"], True), (["b", "a", "c"], True), (["a"], True),
    (["a", "a"], False), (["a", "b", "b"], False), (["b", "a", "b"], False), (["c", "b", "b"], False),
    (["10", "9", "10"], False), (["", "a", ""], False)])
def test_duplicate_run_ids_are_refused_in_any_order(rules_file, ids, unique):
    frame = pl.DataFrame({"run_id": ids, "x": [1.0] * len(ids)})
    assert strictly_increasing(frame.get_column("run_id")) == (unique and ids == sorted(ids) and len(ids) > 0)
    if unique:
        assert set(evaluate(frame, rules_file("x >= 0.5")).runs.get_column("run_id")) == set(ids)
    else:
        with pytest.raises(InputError, match="duplicate run_id"):
            evaluate(frame, rules_file("x >= 0.5"))


@pytest.mark.parametrize("order", ["sorted", "shuffled"])
@pytest.mark.parametrize("duplicate", [None, 1, -1])  # the second id repeats the first; the last, the one before
def test_duplicate_run_ids_are_refused_in_the_columnar_path(rules_file, order, duplicate):
    """Past the eager size (picogate.evaluate._EAGER_ROWS) the duplicate test is the hashed count after the query."""
    from picogate.evaluate import _EAGER_ROWS

    n = _EAGER_ROWS + 904
    ids = [f"run-{i:05d}" for i in range(n)]
    if duplicate is not None:
        ids[duplicate] = ids[duplicate - 1]
    if order == "shuffled":
        ids = [ids[(i * 7919) % n] for i in range(n)]  # a permutation: 7919 is prime and does not divide n
    frame = pl.DataFrame({"run_id": ids, "x": [1.0] * n})
    if duplicate is None:
        assert evaluate(frame, rules_file("x >= 0.5")).runs.height == n
    else:
        with pytest.raises(InputError, match="duplicate run_id"):
            evaluate(frame, rules_file("x >= 0.5"))
