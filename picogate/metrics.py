"""Evidence in: read a metrics table from wherever it comes, then normalise it.

`read_metrics` accepts a polars DataFrame, a pyarrow Table, a mapping (one run), or a
path (`.parquet`, `.json`, `.jsonl`, `.csv`) and returns one row per run, keyed by
`run_id`. `normalize` then gives every metric a rule reads the type the catalog
says, turning NaN, ±inf, nulls and absent columns into missing values and flagging
cells that cannot be read as that type (a string where a number belongs) so the
check reports `error` instead of guessing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import polars as pl

from picogate.catalog import Catalog
from picogate.errors import InputError
from picogate.jsonstrict import json_lines, loads_strict

RUN_ID = "run_id"
BAD_SUFFIX = "\x00unreadable"  # companion column: the cell was present but not readable as its type

if TYPE_CHECKING:
    import pyarrow as pa

MetricsSource: TypeAlias = "pl.DataFrame | pl.LazyFrame | pa.Table | Mapping[str, Any] | str | Path"


def read_metrics(source: MetricsSource, *, what: str = "metrics", unique: bool = True) -> pl.DataFrame:
    """One row per run. Raises `InputError` (one line, naming the file) on anything unreadable.

    `unique=False` leaves the duplicate-`run_id` test to the caller (`evaluate` runs it
    beside its main query); `check_unique` raises the same error.
    """
    if isinstance(source, pl.LazyFrame):
        source = source.collect()
    if isinstance(source, pl.DataFrame):
        df = source
    elif type(source).__module__.startswith("pyarrow"):  # pyarrow is imported only when given one
        import pyarrow as pa

        if not isinstance(source, pa.Table | pa.RecordBatch):
            raise InputError(f"{what}: cannot read a pyarrow {type(source).__name__}; pass a Table")
        df = pl.from_arrow(source)  # type: ignore[assignment]
    elif isinstance(source, Mapping):
        df = _from_rows([_flatten(source, what)], what)
        if RUN_ID not in df.columns:
            df = df.with_columns(pl.lit("run").alias(RUN_ID))
    elif isinstance(source, str | Path):
        df = _read_path(Path(source))
    else:
        raise InputError(f"{what}: cannot read a {type(source).__name__}; pass a polars DataFrame, "
                         "a pyarrow Table, a mapping or a .parquet/.json/.jsonl/.csv path")
    return _check_runs(df, str(source) if isinstance(source, str | Path) else what, unique)


def check_unique(ids: pl.Series, where: str) -> None:
    """Each run must have exactly one row."""
    if ids.n_unique() != ids.len():  # cheap test first; list the duplicates only when there are some
        dupes = ids.filter(ids.is_duplicated()).unique().sort().to_list()
        raise InputError(f"{where}: duplicate {RUN_ID} {', '.join(map(repr, dupes[:5]))}; each run needs one row")


def strictly_increasing(ids: pl.Series) -> bool:
    """Whether the (non-null) run ids are strictly increasing, which proves them unique.

    About 6 ms on 1M sorted ids against about 20 ms for hashing them all; an unsorted
    column is told apart at its first descent, so the test costs little when it fails.
    """
    n = ids.len()
    return n < 2 or (ids.is_sorted() and bool((ids.slice(1) > ids.slice(0, n - 1)).all()))


def _check_runs(df: pl.DataFrame, where: str, unique: bool = True) -> pl.DataFrame:
    if df.height == 0:
        raise InputError(f"{where}: no runs (the table is empty)")
    if RUN_ID not in df.columns:
        if df.height != 1:
            raise InputError(f"{where}: {df.height} rows but no '{RUN_ID}' column to tell the runs apart")
        df = df.with_columns(pl.lit("run").alias(RUN_ID))
    ids = df.get_column(RUN_ID).cast(pl.String, strict=False)
    if ids.null_count():
        raise InputError(f"{where}: {ids.null_count()} run(s) have no '{RUN_ID}'")
    if unique:
        check_unique(ids, where)
    return df if df.schema[RUN_ID] == pl.String else df.with_columns(ids.alias(RUN_ID))


def _read_path(path: Path) -> pl.DataFrame:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pl.read_parquet(path)
        if suffix == ".csv":
            return pl.read_csv(path, infer_schema_length=0)  # all text; normalize() types each cell
        if suffix in (".json", ".jsonl", ".ndjson"):
            return _read_json(path, lines=suffix != ".json")
    except InputError:
        raise
    except Exception as exc:  # polars / pyarrow raise many types for truncated or foreign files
        raise InputError(f"{path}: cannot read as {suffix[1:]} ({_first_line(exc)})") from None
    raise InputError(f"{path}: unknown file type '{suffix}'; use .parquet, .json, .jsonl or .csv")


def _read_json(path: Path, *, lines: bool) -> pl.DataFrame:
    raw = path.read_bytes()
    rows: list[dict[str, Any]] = []
    if lines:
        rows += [_flatten(obj, where) for where, obj in json_lines(raw.split(b"\n"), path)]
    else:
        obj = loads_strict(raw, str(path))
        items = obj if isinstance(obj, list) else [obj]
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise InputError(f"{path}: item {i} must be a JSON object, got {type(item).__name__}")
            rows.append(_flatten(item, f"{path}: item {i}"))
    return _from_rows(rows, str(path))


def _flatten(obj: Mapping[str, Any], where: str, prefix: str = "") -> dict[str, Any]:
    """Nested objects become dotted names: {"eval": {"math": {"pass_rate": 1}}} -> eval.math.pass_rate."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, where, name + "."))
        elif name in out:
            raise InputError(f"{where}: '{name}' is given twice (nested and dotted)")
        else:
            out[name] = value
    return out


def _from_rows(rows: list[dict[str, Any]], where: str) -> pl.DataFrame:
    """Column by column, so mixed types never make polars guess: mixed columns become text."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        kinds = {_kind(v) for v in values if v is not None}
        if kinds == {"num"}:
            columns[name] = pl.Series(name, [None if v is None else float(v) for v in values], pl.Float64)
        elif kinds == {"bool"}:
            columns[name] = pl.Series(name, values, pl.Boolean)
        elif not kinds:
            columns[name] = pl.Series(name, values, pl.Null)
        else:  # text, or a mix: keep as text and let normalize() flag what is unreadable
            columns[name] = pl.Series(name, [None if v is None else _as_text(v) for v in values], pl.String)
    return pl.DataFrame(columns, height=len(rows))


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "num"
    return "other"


def _as_text(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    return json.dumps(v) if isinstance(v, list | dict) else str(v).lower() if isinstance(v, bool) else str(v)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


_DTYPES = {"int": pl.Int64, "float": pl.Float64, "bool": pl.Boolean, "string": pl.String}


def evidence_frame(evidence: Mapping[str, Any], catalog: Catalog) -> pl.DataFrame:
    """One run's collected evidence as a one-row frame, each column typed as the catalog says.

    Null stays null (missing, never a pass); a string or bool where a number belongs is not a
    number, so it becomes null too rather than 1.0 or a parse guess. Used by the preflight and
    post-run gates.
    """
    columns = []
    for name, value in evidence.items():
        metric = catalog.lookup(name)
        dtype = pl.String if name == RUN_ID else _DTYPES[metric.type] if metric else None
        if isinstance(value, list | tuple | dict):
            value, dtype = str(value), pl.String
        if metric is not None and metric.type in ("int", "float") and isinstance(value, bool | str):
            value = None
        columns.append(pl.Series(name, [value], dtype=dtype, strict=False))
    return pl.DataFrame(columns)


def normalize(df: pl.DataFrame, wanted: list[str], catalog: Catalog) -> tuple[pl.DataFrame, dict[str, str]]:
    """Select `run_id` and every wanted metric, typed; returns the frame and the bad-cell flags.

    Numbers become Float64 with NaN/±inf as null (missing); text that is not a number,
    or a value of the wrong kind, is flagged unreadable (the check becomes `error`).
    """
    exprs, flags = normalize_exprs(df.schema, wanted, catalog)
    return df.select(exprs), flags


def normalize_exprs(schema: Mapping[str, pl.DataType], wanted: list[str],
                    catalog: Catalog) -> tuple[list[pl.Expr], dict[str, str]]:
    """The expressions `normalize` selects, for callers that keep the query lazy."""
    exprs: list[pl.Expr] = [pl.col(RUN_ID)]
    flags: dict[str, str] = {}
    for name in wanted:
        metric = catalog.lookup(name)
        kind = metric.lang_type if metric else "num"
        value, bad = _normalize_column(name, schema.get(name), kind)
        exprs.append(value.alias(name))
        if bad is not None:
            flags[name] = name + BAD_SUFFIX
            exprs.append(bad.alias(flags[name]))
    return exprs, flags


def _normalize_column(name: str, dtype: pl.DataType | None, kind: str) -> tuple[pl.Expr, pl.Expr | None]:
    target = {"num": pl.Float64, "str": pl.String, "bool": pl.Boolean}[kind]
    if dtype is None or dtype == pl.Null:
        return pl.lit(None, target), None
    col = pl.col(name)
    if kind == "num":
        if dtype.is_numeric():
            if dtype == pl.Float64 or dtype == pl.Float32:
                as_float = col.cast(pl.Float64)
                # NaN and ±inf both fail `abs < inf` (and it is ~1.5x cheaper than is_finite + when)
                return pl.when(as_float.abs() < math.inf).then(as_float), None
            return col.cast(pl.Float64), None
        if dtype == pl.String:
            parsed = col.str.strip_chars().cast(pl.Float64, strict=False)
            return pl.when(parsed.is_finite()).then(parsed), col.is_not_null() & parsed.is_null() & \
                ~col.str.strip_chars().str.to_lowercase().is_in(["nan", "+nan", "-nan", "inf", "+inf", "-inf",
                                                                 "infinity", "-infinity", ""])
    elif kind == "str":
        if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum):
            return col.cast(pl.String), None
    elif kind == "bool":
        if dtype == pl.Boolean:
            return col, None
        if dtype == pl.String:
            low = col.str.strip_chars().str.to_lowercase()
            value = pl.when(low == "true").then(True).when(low == "false").then(False).otherwise(None)
            return value, col.is_not_null() & value.is_null()
    # the whole column has the wrong kind: every present cell is unreadable
    return pl.lit(None, target), col.is_not_null()
