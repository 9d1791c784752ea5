# .venv/bin/python -m pytest tests/engine/test_engine_conformance.py -q
"""Expression conformance as data (tests/cases/expr/*.yaml), like jmespath's compliance suite.

Each case is `{expr, row, outcome}` — run through BOTH the polars compiler (on a real,
normalised one-row frame) and the plain-Python reference interpreter — or `{expr, error,
column}`: parsing and type-checking must refuse it with that message and column.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from engine_helpers import both, checked

from picogate.expr import ExprError

CASES = Path(__file__).resolve().parents[1] / "cases" / "expr"


def _cases() -> list:
    out = []
    for path in sorted(CASES.glob("*.yaml")):
        for i, case in enumerate(yaml.safe_load(path.read_text(encoding="utf-8"))):
            out.append(pytest.param(case, id=f"{path.stem}[{i}]:{case['expr'][:40]}"))
    return out


ALL = _cases()


def test_case_files_are_well_formed():
    assert len(ALL) > 200
    for param in ALL:
        case = param.values[0]
        assert set(case) in ({"expr", "row", "outcome"}, {"expr", "error", "column"}), case
        if "outcome" in case:
            assert case["outcome"] in ("pass", "fail", "missing", "error")


@pytest.mark.parametrize("case", ALL)
def test_case(case: dict) -> None:
    if "error" in case:
        with pytest.raises(ExprError) as info:
            checked(case["expr"])
        assert case["error"] in str(info.value)
        assert info.value.column == case["column"], info.value
        assert "^" in info.value.caret()
        return
    node = checked(case["expr"])
    compiled, ref = both(node, [case["row"]])
    assert compiled == [case["outcome"]], f"polars: {compiled}"
    assert ref == [case["outcome"]], f"reference: {ref}"
