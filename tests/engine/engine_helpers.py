"""Shared helpers of the engine tests: a tiny name resolver, both evaluators side by side, the CLI.

The resolver stands in for the metric catalog: names starting with `s_` are strings,
`b_` booleans, anything else a number. `both()` runs one expression on one row through
the polars compiler (after the real `picogate.metrics.normalize`) and through the
plain-Python reference interpreter, and returns both outcomes as words.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import polars as pl

from picogate.catalog import BASELINE_PREFIX, Catalog, Metric
from picogate.expr import OUTCOMES, check_condition, compile_check, names, parse, reference
from picogate.metrics import normalize
from picogate.rules.model import Rule, RuleSet, Source

REPO = Path(__file__).resolve().parents[2]
MARKERS = {".nan": math.nan, ".inf": math.inf, "-.inf": -math.inf}


def kind_of(name: str) -> str:
    base = name.rsplit(".", 1)[-1] if name.startswith("baseline.") else name
    return "str" if base.startswith("s_") else "bool" if base.startswith("b_") else "num"


def resolve(name: str) -> str:
    return kind_of(name)


def checked(text: str):  # type: ignore[no-untyped-def]
    node = parse(text)
    check_condition(node, resolve, text)
    return node


def _cell(name: str, value: object) -> object:
    if kind_of(name) == "num" and isinstance(value, str) and value in MARKERS:
        return MARKERS[value]
    return value


def _series(name: str, values: list[object]) -> pl.Series:
    kind = kind_of(name)
    present = [v for v in values if v is not None]
    if kind == "num" and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pl.Series(name, [None if v is None else float(v) for v in values], pl.Float64)
    if kind == "bool" and all(isinstance(v, bool) for v in present):
        return pl.Series(name, values, pl.Boolean)
    return pl.Series(name, [None if v is None else str(v) for v in values], pl.String)  # a bad cell, or text


def polars_outcomes(node, rows: list[Mapping[str, object]]) -> list[str]:  # type: ignore[no-untyped-def]
    """Outcome words of the compiled check on every row (one frame, one pass)."""
    wanted = names(node)
    frame = pl.DataFrame(
        [_series(n, [_cell(n, r.get(n)) for r in rows]) for n in wanted if any(n in r for r in rows)]
        + [pl.Series("run_id", [str(i) for i in range(len(rows))])])
    catalog = Catalog(Metric(n, {"num": "float", "str": "string", "bool": "bool"}[kind_of(n)], "test")
                      for n in wanted)
    frame, flags = normalize(frame, wanted, catalog)
    # lazily, as evaluate() does (polars 2.1 eager with_columns mis-sizes some expressions on all-null columns)
    outcome = compile_check(node, bad_flags=flags).outcome.alias("_o")
    codes = frame.lazy().with_columns(outcome).collect()["_o"].to_list()
    return [OUTCOMES[c] for c in codes], frame, flags


def reference_outcomes(node, rows: list[Mapping[str, object]], frame, flags) -> list[str]:  # type: ignore[no-untyped-def]
    out = []
    for i, r in enumerate(rows):
        bad = frozenset(n for n, f in flags.items() if frame[f][i])
        row = {n: (None if n in bad else _cell(n, v)) for n, v in r.items()}
        out.append(OUTCOMES[reference.outcome(node, row, bad)])
    return out


def both(node, rows: list[Mapping[str, object]]) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    compiled, frame, flags = polars_outcomes(node, rows)
    return compiled, reference_outcomes(node, rows, frame, flags)


def examples(default: int) -> int:
    """Hypothesis examples per test: `default` in CI; PICOGATE_HYPOTHESIS_EXAMPLES=N asks every test for N."""
    return int(os.environ.get("PICOGATE_HYPOTHESIS_EXAMPLES", default))


def catalog_for(wanted: list[str]) -> Catalog:
    """A catalog declaring every name (baseline names by their metric), typed by `kind_of`."""
    plain = dict.fromkeys(n[len(BASELINE_PREFIX):] if n.startswith(BASELINE_PREFIX) else n for n in wanted)
    return Catalog(Metric(n, {"num": "float", "str": "string", "bool": "bool"}[kind_of(n)], "test") for n in plain)


def ruleset(*checks: str) -> RuleSet:
    """A profile of block rules `r0, r1, ...`, one per check, built in code (no YAML), as evaluate takes it."""
    nodes = [checked(c) for c in checks]
    catalog = catalog_for([n for node in nodes for n in names(node)])
    rules = tuple(Rule(f"r{i}", f"r{i}", None, {}, "postrun", "block", "fail", text, node, "observed {observed}",
                       "fix it", "", Source("test")) for i, (text, node) in enumerate(zip(checks, nodes, strict=True)))
    return RuleSet("test", rules, catalog)


def frame_of(rows: list[Mapping[str, object]], width: object = pl.Float64) -> pl.DataFrame:
    """A metrics table, one row per mapping (`run_id` 0, 1, ...); numbers as `width` floats (NaN, inf kept)."""
    present = list(dict.fromkeys(n for r in rows for n in r))
    columns = [pl.Series("run_id", [str(i) for i in range(len(rows))])]
    for n in present:
        s = _series(n, [_cell(n, r.get(n)) for r in rows])
        columns.append(s.cast(width) if s.dtype == pl.Float64 else s)  # type: ignore[arg-type]
    return pl.DataFrame(columns)


def reference_row(row: Mapping[str, object], baseline: Mapping[str, object] | None = None) -> dict[str, object]:
    """What the reference interpreter reads: the run's cells and the baseline's under `baseline.`."""
    out = {n: _cell(n, v) for n, v in row.items()}
    out.update({BASELINE_PREFIX + n: _cell(n, v) for n, v in (baseline or {}).items()})
    return out


def picogate_cmd() -> list[str]:
    exe = Path(sys.prefix) / "bin" / "picogate"
    if exe.is_file():
        return [str(exe)]
    return [sys.executable, "-c", "from picogate.cli import main; raise SystemExit(main())"]


def run_cli(*args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the installed CLI; `timeout` only stops a hung command (a test asserts behaviour, not speed)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("PICOGATE_DEBUG", None)
    return subprocess.run([*picogate_cmd(), *map(str, args)], capture_output=True, text=True, cwd=cwd or REPO,
                          env=full_env, timeout=timeout)
