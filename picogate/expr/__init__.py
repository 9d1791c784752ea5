"""picogate's check-expression language: parse -> check -> compile to polars.

    >>> node = parse("eval.math.pass_rate >= 0.30")
    >>> check_condition(node, catalog.resolve)      # type errors before any data is read
    >>> frame.select(compile_check(node).outcome)   # 0 pass, 1 fail, 2 missing, 3 error

Null semantics are SQL's three-valued logic: a comparison with a missing value is
null, `null and false` is false, `null or true` is true, `not null` is null. A check
whose final value is null has outcome `missing`. Metric values that are NaN or ±inf
count as missing. Arithmetic that is not finite (`x / 0`) makes the check `error`,
even inside an `or` that would otherwise absorb it. See docs/expressions.md.
"""

from picogate.expr.checker import check_condition, expand, infer, placeholders
from picogate.expr.compiler import ERROR, FAIL, MISSING, OUTCOMES, PASS, CompiledCheck, compile_check
from picogate.expr.errors import ExprError
from picogate.expr.nodes import Node, names, to_text
from picogate.expr.parser import parse

__all__ = [
    "ERROR", "FAIL", "MISSING", "OUTCOMES", "PASS", "CompiledCheck", "ExprError", "Node",
    "check_condition", "compile_check", "expand", "infer", "names", "parse", "placeholders", "to_text",
]
