"""The whitelist of functions a check may call: one entry per function.

Each entry holds its signature (name and arity, from the grammar table
`picogate.expr.grammar.SIGNATURES`), its typing rule, its polars translation and its
plain-Python reference semantics side by side, so the compiler and the reference
interpreter cannot drift apart. Anything not listed here is refused by name.

Null rules (fail closed): `abs`, `min`, `max` are null when any argument is null
(unlike polars' `min_horizontal`, which skips nulls); `coalesce` is the first
non-null argument; `is_null` is never null.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from picogate.expr.grammar import SIGNATURES, Signature

Typer = Callable[[Sequence[str]], "str | None"]  # argument types -> result type, None if refused


@dataclass(frozen=True)
class Function:
    signature: Signature  # name and arity: the grammar's table
    typer: Typer
    compile: Callable[[Sequence[pl.Expr]], pl.Expr]
    reference: Callable[[Sequence[object]], object]

    @property
    def name(self) -> str:
        return self.signature.name


def _all_num(types: Sequence[str], result: str = "num") -> str | None:
    return result if all(t == "num" for t in types) else None


def _same_type(types: Sequence[str]) -> str | None:
    kinds = {t for t in types if t != "null"}
    if len(kinds) != 1 or next(iter(kinds)) not in ("num", "str", "bool"):
        return None
    return kinds.pop()


MAX_DOUBLING_NESTING = 4  # min/max/% inside one another: each level names its operands twice


def _strict_extreme(exprs: Sequence[pl.Expr], which: str) -> pl.Expr:
    """min/max that is null when any argument is null (polars' *_horizontal skip nulls).

    This names every argument twice, and polars expands expressions as trees, so
    nested min/max costs 2**depth: the checker caps that nesting at
    MAX_DOUBLING_NESTING. (A `list.eval` form names them once but is ~300x slower.)
    """
    extreme = pl.min_horizontal(*exprs) if which == "min" else pl.max_horizontal(*exprs)
    return pl.when(pl.any_horizontal([e.is_null() for e in exprs])).then(None).otherwise(extreme)


def _ref_min(args: Sequence[object]) -> object:
    return None if any(a is None for a in args) else min(args)  # type: ignore[type-var]


def _ref_max(args: Sequence[object]) -> object:
    return None if any(a is None for a in args) else max(args)  # type: ignore[type-var]


# name -> (typer, polars translation, reference); the name and arity come from the grammar
_MEANINGS: dict[str, tuple[Typer, Callable[[Sequence[pl.Expr]], pl.Expr], Callable[[Sequence[object]], object]]] = {
    "abs": (_all_num, lambda a: a[0].abs(), lambda a: None if a[0] is None else abs(a[0])),  # type: ignore[arg-type]
    "min": (_all_num, lambda a: _strict_extreme(a, "min"), _ref_min),
    "max": (_all_num, lambda a: _strict_extreme(a, "max"), _ref_max),
    "coalesce": (_same_type, lambda a: pl.coalesce(*a), lambda a: next((x for x in a if x is not None), None)),
    "is_null": (lambda t: "bool" if t[0] in ("num", "str", "bool") else None,
                lambda a: a[0].is_null(), lambda a: a[0] is None),
}
assert _MEANINGS.keys() == SIGNATURES.keys(), "every function in the grammar needs a meaning, and only those"
FUNCTIONS: dict[str, Function] = {name: Function(sig, *_MEANINGS[name]) for name, sig in SIGNATURES.items()}
