# .venv/bin/python -m pytest tests/engine/test_engine_bounds.py -q
"""Bounds of the expression language: hostile sizes and payloads are refused with a clear
`ExprError` (never a RecursionError, a hang or Python evaluation); reasonable sizes work."""

from __future__ import annotations

import time

import pytest
from engine_helpers import both, checked

from picogate import RuleError, load_rules
from picogate.expr import ExprError, parse, to_text

REFUSED = {
    "parens_10000": ("(" * 10_000 + "x > 1" + ")" * 10_000, "limit is 4096"),
    "and_10000": (" and ".join(["x > 1"] * 10_000), "limit is 4096"),
    "literal_1mb": ("s_a == '" + "a" * 1_000_000 + "'", "limit is 4096"),
    "string_600": ("s_a == '" + "a" * 600 + "'", "longer than 512"),
    "parens_60": ("(" * 60 + "x > 1" + ")" * 60, "nests deeper than 48"),
    "not_60": ("not " * 60 + "b_a", "nests deeper than 48"),
    "minus_60": ("-" * 60 + "x > 1", "nests deeper than 48"),
    "min_60": ("min(" * 60 + "x" + ", 1)" * 60 + " > 0", "nests deeper than 48"),
    "sum_chain_100": ("x" + " + 1" * 100 + " > 0", "more than 64 operators deep"),
    "mod_chain_100": ("x" + " % 7" * 100 + " > 0", "more than 64 operators deep"),
    "nodes_2001": ("x in [" + ", ".join(["1"] * 1001) + "]", "more than 1000 items"),
    "pow": ("10**10**10 > 1", "no power operator"),
    "import": ("__import__('os').system('true')", "names starting with '__'"),
    "dunder_attr": ("x.__class__.__mro__ == 1", "names starting with '__'"),
    "attr_call": ("x.y() > 1", "unknown function"),
    "not_whitelisted": ("exec('1') == 1", "unknown function 'exec'"),
    "getattr": ("getattr(x, 'y') > 1", "unknown function 'getattr'"),
    "lambda": ("(lambda: 1)() > 1", "':' is not allowed"),
    "arity": ("abs(x, 1) > 0", "abs() takes 1 argument, got 2"),
    "nbsp": ("x\u00a0>= 1", "non-breaking space"),
    "ge_sign": ("x ≥ 0.3", "use '>='"),
    "curly": ("s_a == “cpu”", "curly quote"),
    "fullwidth_digit": ("x > １", "non-ASCII character"),
    "trailing": ("x > 1 x", "after a complete expression"),
}


@pytest.mark.parametrize("text,message", REFUSED.values(), ids=REFUSED.keys())
def test_refused_cleanly(text: str, message: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ExprError) as info:
        checked(text)
    assert message in str(info.value)
    assert time.perf_counter() - start < 2.0
    assert "\n" not in str(info.value)
    assert info.value.caret().count("^") == 1


def test_reasonable_sizes_accepted_and_agree():
    and_100 = " and ".join(f"x > {i}" for i in range(100))
    or_100 = " or ".join(f"x == {i}" for i in range(100))
    parens_40 = "(" * 40 + "x > 1" + ")" * 40
    sum_60 = "x" + " + 1" * 60 + " > 60"
    for text, want in ((and_100, "pass"), (or_100, "fail"), (parens_40, "pass"), (sum_60, "pass")):
        node = checked(text)
        assert both(node, [{"x": 100.5}]) == ([want], [want]), text[:40]
        assert to_text(parse(to_text(node))) == to_text(node)


def test_crlf_inside_multiline_check_in_a_rule_file(tmp_path):
    path = tmp_path / "crlf.yaml"
    path.write_bytes(b"profile: crlf\r\nmetrics:\r\n  x: {type: float, description: d}\r\nrules:\r\n"
                     b"  - id: a.b\r\n    stage: postrun\r\n    severity: block\r\n    check: |\r\n"
                     b"      x >= 0.5\r\n        and x < 2\r\n    message: m\r\n    fix: f\r\n")
    rs = load_rules(path)
    assert [r.id for r in rs.rules] == ["a.b"]
    bad = tmp_path / "crlf_bad.yaml"
    bad.write_bytes(path.read_bytes().replace(b"and x < 2", "and x ≥ 2".encode()))
    with pytest.raises(RuleError) as info:
        load_rules(bad)
    err = info.value
    assert (err.line, err.column, err.rule_id) == (10, 15, "a.b")
    assert "use '>='" in err.reason
