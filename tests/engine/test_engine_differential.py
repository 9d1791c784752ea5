# .venv/bin/python -m pytest tests/engine/test_engine_differential.py -q
"""Differential and fuzz tests of the expression language (hypothesis).

- Random well-typed expressions over numeric, string and boolean columns, on random rows
  with nulls, NaN, ±inf, -0.0, huge and tiny floats and unreadable cells: the compiled
  polars outcome equals the plain-Python reference outcome on every row.
- Random text: `parse` either returns an AST or raises `ExprError`, nothing else.
- `parse(to_text(parse(s)))` gives the same AST shape (positions aside).

More through the public `evaluate` (baselines, many runs, float widths): test_engine_differential_runs.py.
Set PICOGATE_HYPOTHESIS_EXAMPLES=N for a longer run (N examples per test).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math

from engine_helpers import both, checked, examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from picogate.expr import ExprError, parse, to_text

SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}

NUM_NAMES = ["x", "y", "eval.math.pass_rate"]
STR_NAMES = ["s_a", "s_b"]
BOOL_NAMES = ["b_a", "b_b"]
NUM_LITS = ["0", "1", "2", "3", "0.5", "0.3", "-1", "-0.0", "1e300", "1e-300", "7", "0.1"]
STR_LITS = ["''", "'a'", "'b'", "'cuda'"]

num_leaf = st.sampled_from(NUM_NAMES + NUM_LITS)
str_leaf = st.sampled_from([*STR_NAMES, *STR_LITS])


def _num(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "/", "%"]), children)
        .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        children.map(lambda a: f"-({a})"),
        children.map(lambda a: f"abs({a})"),
        st.tuples(st.sampled_from(["min", "max", "coalesce"]), st.lists(children, min_size=2, max_size=3))
        .map(lambda t: f"{t[0]}({', '.join(t[1])})"),
    )


num_expr = st.recursive(num_leaf, _num, max_leaves=8)
str_expr = st.one_of(str_leaf, st.lists(str_leaf, min_size=2, max_size=3).map(lambda a: f"coalesce({', '.join(a)})"))
cmp_ = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])

bool_leaf = st.one_of(
    st.sampled_from([*BOOL_NAMES, "true", "false"]),
    st.tuples(num_expr, cmp_, num_expr).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
    st.tuples(str_expr, st.sampled_from(["==", "!="]), str_expr).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
    st.tuples(num_expr, st.sampled_from(["in", "not in"]), st.lists(st.sampled_from(NUM_LITS), max_size=3))
    .map(lambda t: f"({t[0]} {t[1]} [{', '.join(t[2])}])"),
    st.tuples(str_expr, st.sampled_from(["in", "not in"]), st.lists(st.sampled_from(STR_LITS), max_size=3))
    .map(lambda t: f"({t[0]} {t[1]} [{', '.join(t[2])}])"),
    st.one_of(num_expr, str_expr, st.sampled_from(BOOL_NAMES)).map(lambda a: f"is_null({a})"),
)


def _bool(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(st.sampled_from(["and", "or"]), st.lists(children, min_size=2, max_size=4))
        .map(lambda t: "(" + f" {t[0]} ".join(t[1]) + ")"),
        children.map(lambda a: f"not ({a})"),
        st.tuples(children, st.sampled_from(["==", "!="]), children).map(lambda t: f"(({t[0]}) {t[1]} ({t[2]}))"),
        st.tuples(children, st.sampled_from(["in", "not in"]), st.lists(st.sampled_from(["true", "false"]),
                                                                        max_size=2))
        .map(lambda t: f"(({t[0]}) {t[1]} [{', '.join(t[2])}])"),
        st.lists(children, min_size=2, max_size=3).map(lambda a: f"coalesce({', '.join(a)})"),
    )


bool_expr = st.recursive(bool_leaf, _bool, max_leaves=10)

NASTY = [None, math.nan, math.inf, -math.inf, -0.0, 0.0, 1.0, 2.0, 0.3, 0.30000000000000004, 1.7976931348623157e308,
         -1.7976931348623157e308, 5e-324, 1e-300, 1e300, 3.0, 0.5, -1.0, 9007199254740993.0]
num_cell = st.one_of(st.sampled_from(NASTY), st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5))
row_strategy = st.fixed_dictionaries(
    {},
    optional={
        **{n: num_cell for n in NUM_NAMES},
        **{n: st.one_of(st.none(), st.sampled_from(["", "a", "b", "cuda", "é"])) for n in STR_NAMES},
        **{n: st.one_of(st.none(), st.booleans()) for n in BOOL_NAMES},
    },
)
bad_row = row_strategy.flatmap(lambda r: st.just({**r, "x": "not a number"}))  # an unreadable cell
rows_strategy = st.lists(st.one_of(row_strategy, row_strategy, row_strategy, bad_row), min_size=1, max_size=6)


@settings(max_examples=examples(1000), **SETTINGS)
@given(text=bool_expr, rows=rows_strategy)
def test_compiled_polars_matches_reference(text: str, rows: list[dict]) -> None:
    node = checked(text)
    compiled, ref = both(node, rows)
    assert compiled == ref, f"{text}\nrows={rows}"


def shape(node: object) -> object:
    """An AST as nested tuples, positions dropped (and literal types kept: 1 is not 1.0)."""
    if dataclasses.is_dataclass(node):
        return (type(node).__name__, *(shape(getattr(node, f.name)) for f in dataclasses.fields(node)
                                       if f.name not in ("pos", "end")))
    if isinstance(node, tuple):
        return tuple(shape(n) for n in node)
    if isinstance(node, float):
        return ("float", math.copysign(1.0, node), node)
    return (type(node).__name__, node)


@settings(max_examples=examples(400), **SETTINGS)
@given(text=st.one_of(bool_expr, num_expr, str_expr))
def test_to_text_round_trips(text: str) -> None:
    node = parse(text)
    again = parse(to_text(node))
    assert shape(again) == shape(node), to_text(node)
    assert to_text(again) == to_text(node)


FUZZ_ALPHABET = st.one_of(
    st.sampled_from([*"xyz_.0123456789eE+-*/%()[],'\"`{}<>=!&|^@~:; \t\r\n", "and ", " or ", "not ", " in ",
                                                                                 "true", "null", "abs(", "__"]),
    st.characters(),
)


@settings(max_examples=examples(1500), **SETTINGS)
@given(text=st.lists(FUZZ_ALPHABET, max_size=40).map("".join))
def test_parser_only_raises_expr_error(text: str) -> None:
    try:
        node = parse(text)
    except ExprError as exc:
        assert exc.reason and 1 <= exc.column <= len(text) + 1
        exc.caret()
        return
    assert shape(parse(to_text(node))) == shape(node)


@settings(max_examples=examples(300), **SETTINGS)
@given(text=st.text(max_size=60))
def test_parser_on_arbitrary_unicode(text: str) -> None:
    with contextlib.suppress(ExprError):
        parse(text)
