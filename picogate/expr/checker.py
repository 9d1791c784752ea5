"""Type checker: every type error is found before any data is read.

Types are `num`, `str`, `bool` and `list[T]` (only after `in`). A check must be a
condition (`bool`). Names resolve through a callback (the metric catalog), so a typo
fails at load time with a "did you mean" suggestion.

`expand()` fills a per-category rule's placeholders (`eval.{skill}.pass_rate`,
`{threshold}`) before checking, keeping every position of the template.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from picogate.expr.errors import ExprError
from picogate.expr.functions import FUNCTIONS, MAX_DOUBLING_NESTING
from picogate.expr.grammar import ARITHMETIC, COMPARISONS, MEMBERSHIP, SIGNATURES
from picogate.expr.lexer import number_problem
from picogate.expr.nodes import (
    Binary,
    BoolOp,
    Call,
    ListLit,
    Literal,
    Name,
    Node,
    Param,
    Unary,
    children,
)

NameResolver = Callable[[str], str]  # metric name -> "num" | "str" | "bool"; raises KeyError(message)

_NULL_HINT = "null is not a value to compute with; use is_null(x) or coalesce(x, default)"


def literal_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "num"
    return "str"


def expand(node: Node, params: Mapping[str, object], text: str = "") -> Node:
    """Replace `{p}` placeholders: standalone ones by literals, those inside names by text."""
    if isinstance(node, Param):
        if node.name not in params:
            raise ExprError(_unknown_param(node.name, params), text, node.pos)
        value = params[node.name]
        # a filled-in number obeys the range rule of a written one (the loader also checks the file)
        if isinstance(value, int | float) and (problem := number_problem(value)):
            raise ExprError(f"{{{node.name}}}: {problem}", text, node.pos)
        return Literal(value, node.pos, node.end)  # type: ignore[arg-type]
    if isinstance(node, Name):
        if "{" not in node.name:
            return node
        parts = []
        for part in node.name.split("."):
            if part.startswith("{"):
                key = part[1:-1]
                if key not in params:
                    raise ExprError(_unknown_param(key, params), text, node.pos)
                part = str(params[key])
            parts.append(part)
        return replace(node, name=".".join(parts))
    match node:
        case Unary():
            return replace(node, operand=expand(node.operand, params, text))
        case Binary():
            return replace(node, left=expand(node.left, params, text), right=expand(node.right, params, text))
        case BoolOp():
            return replace(node, operands=tuple(expand(o, params, text) for o in node.operands))
        case Call():
            return replace(node, args=tuple(expand(a, params, text) for a in node.args))
    return node


def _unknown_param(key: str, params: Mapping[str, object]) -> str:
    known = ", ".join("{" + k + "}" for k in params) or "none (this rule has no per_category table)"
    return f"unknown placeholder {{{key}}}; available: {known}"


def placeholders(node: Node) -> set[str]:
    """Placeholder names used anywhere in the expression."""
    out: set[str] = set()
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, Param):
            out.add(cur.name)
        elif isinstance(cur, Name):
            out.update(p[1:-1] for p in cur.name.split(".") if p.startswith("{"))
        stack.extend(children(cur))
    return out


def check_condition(node: Node, resolve: NameResolver, text: str = "") -> None:
    """Type-check a whole check: it must be a condition."""
    kind = infer(node, resolve, text)
    if kind != "bool":
        raise ExprError(f"a check must be a condition (true/false), but this is a {_noun(kind)}; "
                        "compare it, e.g. 'x >= 0.5'", text, node.pos)


def infer(node: Node, resolve: NameResolver, text: str = "") -> str:
    """The type of `node`; raises `ExprError` at the first type error."""
    def fail(msg: str, at: Node | int) -> ExprError:
        return ExprError(msg, text, at if isinstance(at, int) else at.pos)

    match node:
        case Literal(value=v):
            if v is None:
                raise fail(_NULL_HINT, node)
            return literal_type(v)
        case ListLit():
            raise fail("a list may only follow 'in' or 'not in'", node)
        case Param():
            raise fail(f"placeholder {{{node.name}}} was not filled in", node)
        case Name(name=n):
            try:
                return resolve(n)
            except KeyError as exc:
                raise fail(exc.args[0] if exc.args else f"unknown metric '{n}'", node) from None
        case Unary(op="not", operand=o):
            if (t := infer(o, resolve, text)) != "bool":
                raise fail(f"'not' needs a condition, not a {_noun(t)}", node)
            return "bool"
        case Unary(op="-", operand=o):
            if (t := infer(o, resolve, text)) != "num":
                raise fail(f"'-' needs a number, not a {_noun(t)}", node)
            return "num"
        case BoolOp(op=op, operands=ops):
            for o in ops:
                if (t := infer(o, resolve, text)) != "bool":
                    raise fail(f"operands of '{op}' must be conditions (true/false), but this is a "
                               f"{_noun(t)}; compare it, e.g. 'x > 0'", o)
            return "bool"
        case Binary(op=op, left=a, right=b) if op in MEMBERSHIP:
            lt = infer(a, resolve, text)
            assert isinstance(b, ListLit)
            for item in b.items:
                if item.value is None:
                    raise fail(_NULL_HINT, item)
                if literal_type(item.value) != lt:
                    raise fail(f"list item is a {_noun(literal_type(item.value))} but the left side is a "
                               f"{_noun(lt)}", item)
            return "bool"
        case Binary(op=op, left=a, right=b):
            lt, rt = infer(a, resolve, text), infer(b, resolve, text)
            if op == "%" and _doubling_depth(node) > MAX_DOUBLING_NESTING:
                raise fail(f"min/max/% nested more than {MAX_DOUBLING_NESTING} deep; split the rule", node)
            if op in ARITHMETIC:
                if lt != "num" or rt != "num":
                    raise fail(f"'{op}' needs numbers, got {_noun(lt)} {op} {_noun(rt)}", node)
                return "num"
            assert op in COMPARISONS
            if lt != rt:
                raise fail(f"cannot compare a {_noun(lt)} with a {_noun(rt)}", node)
            if op not in ("==", "!=") and lt != "num":
                raise fail(f"'{op}' compares numbers only; {_noun(lt)}s support == and !=", node)
            return "bool"
        case Call(func=f, args=args):
            if f in ("min", "max") and _doubling_depth(node) > MAX_DOUBLING_NESTING:
                raise fail(f"min/max/% nested more than {MAX_DOUBLING_NESTING} deep; flatten it: "
                           "min(a, b, c) instead of min(a, min(b, c))", node)
            sig = SIGNATURES.get(f)
            if sig is None:
                raise fail(f"unknown function '{f}'; available: {', '.join(sorted(SIGNATURES))}", node)
            if not sig.accepts(len(args)):
                raise fail(f"{f}() takes {_arity(sig.min_args, sig.max_args)}, got {len(args)}: {sig.text}", node)
            types = [infer(a, resolve, text) for a in args]
            result = FUNCTIONS[f].typer(types)
            if result is None:
                raise fail(f"{f}() cannot take ({', '.join(_noun(t) for t in types)}): {sig.text}", node)
            return result
    raise fail(f"unsupported expression node {type(node).__name__}", node)


def _doubling_depth(node: Node) -> int:
    """Nesting of the nodes whose polars form names its operands twice (min, max, %)."""
    inner = max((_doubling_depth(c) for c in children(node)), default=0)
    doubles = (isinstance(node, Call) and node.func in ("min", "max")) or (isinstance(node, Binary) and node.op == "%")
    return inner + (1 if doubles else 0)


def _noun(kind: str) -> str:
    return {"num": "number", "str": "string", "bool": "condition"}.get(kind, kind)


def _arity(lo: int, hi: int | None) -> str:
    if hi is None:
        return f"at least {lo} arguments"
    return f"{lo} argument" + ("s" if lo != 1 else "") if lo == hi else f"{lo} to {hi} arguments"
