"""The evidence boundary: every door evidence comes through ends in one metrics table.

    mapping · list of mappings · .json · .jsonl · .csv · .parquet · polars · Arrow · pandas
    · the evidence dicts the preflight/post-run gates collect
        -> read_metrics -> one row per run, keyed by `run_id`, every name flat and dotted
        -> normalize   -> every metric a rule reads typed as the catalog says

One set of rules, the same on every door (README "Evidence in"):
- nested objects and struct columns flatten to dotted names (`{"eval": {"math": ...}}` ->
  `eval.math...`); a name given twice (nested and dotted, a duplicate CSV header, a duplicate
  Arrow/pandas column) is an `InputError` naming both places: never first or last wins;
- numbers of every width (float16/32/64, integers, decimals) are numbers; NaN and ±inf are
  missing; an integer too large for a float is missing too (it is not finite as a float);
- a cell of the wrong kind where a number (or bool) belongs (text that is not a number, a
  bool, a list) is *unreadable*: its check is `error`, which blocks; text that spells a
  number (`"0.5"`, as in CSV) is that number;
- `run_id` is a string or integer column, unique, never null, never a metric; a table of
  one row may leave it out;
- files: only regular files are read, JSON/JSONL with a size limit checked before reading.
"""

from __future__ import annotations

import csv
import decimal
import io
import json
import math
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import polars as pl

from picogate.catalog import RUN_ID, Catalog
from picogate.errors import InputError, first_line
from picogate.io import MAX_EVIDENCE_BYTES, read_bounded, regular_file
from picogate.jsonstrict import json_lines, loads_strict

BAD_SUFFIX = "\x00unreadable"  # companion column: the cell was present but not readable as its type
_INT64 = 2**63

if TYPE_CHECKING:
    import pyarrow as pa

MetricsSource: TypeAlias = ("pl.DataFrame | pl.LazyFrame | pa.Table | Mapping[str, Any] | Sequence[Mapping[str, Any]]"
                            " | str | Path")


def read_metrics(source: MetricsSource, *, what: str = "metrics", unique: bool = True) -> pl.DataFrame:
    """One row per run, flat dotted names, `run_id` a String column. `InputError` on anything unreadable.

    `unique=False` leaves the duplicate-`run_id` test to the caller (`evaluate` runs it
    beside its main query); `check_unique` raises the same error.

    >>> read_metrics({"run_id": "d20", "eval": {"math": {"pass_rate": 0.4}}}).columns
    ['run_id', 'eval.math.pass_rate']
    """
    where = str(source) if isinstance(source, str | Path) else what
    if isinstance(source, pl.LazyFrame):
        source = source.collect()
    if isinstance(source, pl.DataFrame):
        df = _flat_frame(source, where)
    elif _is_pandas(source):  # through Arrow: picogate does not depend on pandas
        import pyarrow as pa

        _no_duplicate_columns([str(c) for c in source.columns], where)  # type: ignore[union-attr]
        try:
            table = pa.Table.from_pandas(source, preserve_index=False)  # type: ignore[arg-type]
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise InputError(f"{where}: cannot read the pandas DataFrame ({first_line(exc)})") from None
        df = _from_arrow(table, where)
    elif type(source).__module__.startswith("pyarrow"):  # pyarrow is imported only when given one
        df = _from_arrow(source, where)
    elif isinstance(source, Mapping):
        df = _from_rows([flatten(source, where)], where)
    elif isinstance(source, str | Path):
        df = _read_path(Path(source))
    elif isinstance(source, Sequence) and not isinstance(source, str | bytes) and \
            all(isinstance(r, Mapping) for r in source):
        df = _from_rows([flatten(r, f"{what}: item {i}") for i, r in enumerate(source)], where)
    else:
        raise InputError(f"{what}: cannot read a {type(source).__name__}; pass a polars or pandas DataFrame, "
                         "a pyarrow Table, a mapping, a list of mappings or a .parquet/.json/.jsonl/.csv path")
    return _check_runs(df, where, unique)


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
        return pl.DataFrame([*df.get_columns(), pl.Series(RUN_ID, ["run"])])
    dtype = df.schema[RUN_ID]
    if dtype == pl.Null:
        raise InputError(f"{where}: {df.height} run(s) have no '{RUN_ID}'")
    if not (dtype == pl.String or dtype.is_integer() or isinstance(dtype, pl.Categorical | pl.Enum)):
        raise InputError(f"{where}: '{RUN_ID}' must be text or integers, not {dtype}")
    ids = df.get_column(RUN_ID).cast(pl.String)
    if ids.null_count():
        raise InputError(f"{where}: {ids.null_count()} run(s) have no '{RUN_ID}'")
    if unique:
        check_unique(ids, where)
    if dtype != pl.String:
        df = df.with_columns(ids.alias(RUN_ID))
    # a column polars holds as one repeated value divides as a scalar (by its reciprocal, not exactly):
    # the compiler trusts metric columns to be real columns, so make them so (no copy for real ones)
    return pl.DataFrame(df.get_columns())


# -- doors ----------------------------------------------------------------------------------------

def _read_path(path: Path) -> pl.DataFrame:
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv", ".json", ".jsonl", ".ndjson"):
        raise InputError(f"{path}: unknown file type '{suffix}'; use .parquet, .json, .jsonl or .csv")
    regular_file(path, "metrics")
    if suffix in (".json", ".jsonl", ".ndjson"):
        return _read_json(path, lines=suffix != ".json")
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return _from_arrow(pq.read_table(path), str(path))
        return _read_csv(path)
    except InputError:
        raise
    except Exception as exc:  # polars / pyarrow raise many types for truncated or foreign files
        raise InputError(f"{path}: cannot read as {suffix[1:]} ({first_line(exc)})") from None


def _read_csv(path: Path) -> pl.DataFrame:
    """All cells as text (normalize types each one); a header named twice is an error, not a rename."""
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        header_text = fh.readline(1 << 20)
    header = next(csv.reader(io.StringIO(header_text)), [])
    _no_duplicate_columns(header, f"{path}: header")
    return pl.read_csv(path, infer_schema_length=0)


def _read_json(path: Path, *, lines: bool) -> pl.DataFrame:
    raw = read_bounded(path, MAX_EVIDENCE_BYTES, "metrics")
    rows: list[dict[str, Any]] = []
    if lines:
        rows += [flatten(obj, where) for where, obj in json_lines(raw.split(b"\n"), path)]
    else:
        obj = loads_strict(raw, str(path))
        items = obj if isinstance(obj, list) else [obj]
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise InputError(f"{path}: item {i} must be a JSON object, got {type(item).__name__}")
            rows.append(flatten(item, f"{path}: item {i}"))
    return _from_rows(rows, str(path))


def _is_pandas(source: object) -> bool:
    return type(source).__module__.startswith("pandas") and type(source).__name__ == "DataFrame"


def _from_arrow(source: Any, where: str) -> pl.DataFrame:
    import pyarrow as pa

    if isinstance(source, pa.RecordBatch):
        source = pa.Table.from_batches([source])
    if not isinstance(source, pa.Table):
        raise InputError(f"{where}: cannot read a pyarrow {type(source).__name__}; pass a Table")
    _no_duplicate_columns(source.column_names, where)
    try:
        df = pl.from_arrow(source)
    except Exception as exc:  # an Arrow type polars cannot hold
        raise InputError(f"{where}: cannot read the Arrow table ({first_line(exc)})") from None
    assert isinstance(df, pl.DataFrame)
    return _flat_frame(df, where)


def _no_duplicate_columns(names: Sequence[str], where: str) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise InputError(f"{where}: column '{name}' is given twice (columns {seen[name] + 1} and {i + 1})")
        seen[name] = i


def _flat_frame(df: pl.DataFrame, where: str) -> pl.DataFrame:
    """Struct columns become dotted columns (`m` with field `a` -> `m.a`), recursively."""
    if not any(isinstance(t, pl.Struct) for t in df.schema.values()):
        return df
    exprs: list[pl.Expr] = []
    origin: dict[str, str] = {}

    def add(name: str, expr: pl.Expr, dtype: pl.DataType, place: str) -> None:
        if isinstance(dtype, pl.Struct):
            for f in dtype.fields:
                add(f"{name}.{f.name}", expr.struct.field(f.name), f.dtype, f"{place} field '{f.name}'")
            return
        if name in origin:
            raise InputError(f"{where}: '{name}' is given twice: as {origin[name]} and as {place}")
        origin[name] = place
        exprs.append(expr.alias(name))

    for name, dtype in df.schema.items():
        add(name, pl.col(name), dtype, f"column '{name}'")
    return df.select(exprs)


def flatten(obj: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Nested objects become dotted names: {"eval": {"math": {"pass_rate": 1}}} -> eval.math.pass_rate.

    A name reached twice (`"m.a"` beside `"m": {"a": ...}`, in either order) is an `InputError`
    naming both keys.
    """
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}

    def walk(node: Mapping[Any, Any], prefix: str, path: str) -> None:
        for key, value in node.items():
            name = f"{prefix}{key}"
            place = f"{path} -> '{key}'" if path else f"'{key}'"
            if isinstance(value, Mapping):
                walk(value, name + ".", place)
            elif name in origin:
                raise InputError(f"{where}: '{name}' is given twice: as {origin[name]} and as {place}")
            else:
                origin[name], out[name] = place, value

    walk(obj, "", "")
    return out


def _from_rows(rows: list[dict[str, Any]], where: str) -> pl.DataFrame:
    """Column by column, so mixed types never make polars guess: mixed columns become text."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    columns = []
    for name in names:
        values = [row.get(name) for row in rows]
        kinds = {_kind(v) for v in values if v is not None}
        if kinds == {"int"} and all(-_INT64 <= v < _INT64 for v in values if v is not None):
            columns.append(pl.Series(name, [None if v is None else int(v) for v in values], pl.Int64))
        elif kinds <= {"int", "float"} and kinds:
            columns.append(pl.Series(name, [None if v is None else _as_float(v) for v in values], pl.Float64))
        elif kinds == {"bool"}:
            columns.append(pl.Series(name, values, pl.Boolean))
        elif not kinds:
            columns.append(pl.Series(name, values, pl.Null))
        else:  # text, or a mix: keep as text and let normalize() flag what is unreadable
            columns.append(pl.Series(name, [None if v is None else _as_text(v) for v in values], pl.String))
    return pl.DataFrame(columns, height=len(rows))


def _kind(v: Any) -> str:
    if isinstance(v, bool) or type(v).__name__ == "bool_":  # numpy's bool is no Python bool
        return "bool"
    if isinstance(v, numbers.Integral):
        return "int"
    if isinstance(v, numbers.Real | decimal.Decimal):
        return "float"
    return "other"


def _as_float(v: Any) -> float:
    try:
        return float(v)
    except OverflowError:  # an integer beyond float range: not finite as a float, so missing
        return math.inf if v > 0 else -math.inf


def _as_text(v: Any) -> str:
    if isinstance(v, str):
        return v
    kind = _kind(v)
    if kind == "bool":
        return "true" if v else "false"
    if kind in ("int", "float"):
        return str(v) if kind == "int" else repr(_as_float(v))
    if isinstance(v, list | tuple | dict):
        return json.dumps(v, default=str, ensure_ascii=False)
    return str(v)


# -- normalize: the catalog's types ---------------------------------------------------------------

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
        if name == RUN_ID:
            continue  # reserved: the catalog refuses it as a metric
        metric = catalog.lookup(name)
        kind = metric.lang_type if metric else "num"
        value, bad = _normalize_column(name, schema.get(name), kind)
        exprs.append(value.alias(name))
        if bad is not None:
            flags[name] = name + BAD_SUFFIX
            exprs.append(bad.alias(flags[name]))
    return exprs, flags


_NONFINITE_TEXT = ["nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", ""]


def _normalize_column(name: str, dtype: pl.DataType | None, kind: str) -> tuple[pl.Expr, pl.Expr | None]:
    target = {"num": pl.Float64, "str": pl.String, "bool": pl.Boolean}[kind]
    if dtype is None or dtype == pl.Null:
        return pl.lit(None, target), None
    col = pl.col(name)
    if kind == "num":
        if dtype.is_integer():
            return col.cast(pl.Float64), None
        if dtype.is_float() or isinstance(dtype, pl.Decimal):  # every width: float16 NaN is as missing as float64's
            as_float = col if dtype == pl.Float64 else col.cast(pl.Float64)
            # NaN and ±inf both fail `abs < inf` (and it is ~1.5x cheaper than is_finite + when)
            return pl.when(as_float.abs() < math.inf).then(as_float), None
        if dtype == pl.String:
            parsed = col.str.strip_chars().cast(pl.Float64, strict=False)
            return pl.when(parsed.is_finite()).then(parsed), col.is_not_null() & parsed.is_null() & \
                ~col.str.strip_chars().str.to_lowercase().is_in(_NONFINITE_TEXT)
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
