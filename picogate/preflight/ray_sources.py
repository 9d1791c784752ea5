"""Ray Data readers for corpus files: text documents with ordered ids, and token-shard counts.

A read unit is a slice of the corpus in stream order: a group of parquet row groups (opened through a
pyarrow filesystem, so a URI pyarrow supports would read, though plans resolve local globs only), a
whole JSONL file (read by picogate's own strict line reader, so a bad row fails with the same
`file:line` as locally), or a range of a token shard. Each document gets the id `unit << 32 | row`:
ids sort as the local engine's stream positions do, and `Positions` turns an id into that position
once the per-unit counts are known, so every example the Ray engine reports names the document the
local engine names.

Ray is imported only by this module and `ray_engine`, both only for `--engine ray`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from ray.data.block import BlockMetadata
from ray.data.datasource import Datasource, ReadTask

from picogate.errors import InputError, first_line
from picogate.io import open_parquet
from picogate.preflight import sources
from picogate.preflight.collectors import boundaries
from picogate.preflight.plan import Data

UNIT_BITS = 32  # ids are unit << 32 | row: up to 4 billion documents per unit
UNIT_BYTES = 32 << 20  # parquet row groups are packed into read units of about this many bytes
TOKEN_RANGE = 1 << 26  # tokens per read unit of a raw token shard
TEXT_SCHEMA = pa.schema([("doc", pa.int64()), ("text", pa.large_string())])
SHARD_SCHEMA = pa.schema([("shard", pa.int64()), ("tokens", pa.int64()), ("boundaries", pa.int64())])


@dataclass(frozen=True)
class TextUnit:
    """One read task's slice of the text corpus."""

    index: int  # stream order of the unit
    path: str
    row_groups: tuple[int, ...] | None  # parquet row groups; None: the whole (JSONL) file
    rows: int | None  # known up front for parquet
    size: int  # bytes, for Ray's planning


def _open(path: str | Path) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and path for a local path or a URI (s3://, gs://, ... where pyarrow has them)."""
    text = str(path)
    if "://" in text:
        return pafs.FileSystem.from_uri(text)
    return pafs.LocalFileSystem(), str(Path(text).resolve())


def _parquet(path: str) -> pq.ParquetFile:
    fs, where = _open(path)
    try:
        handle = fs.open_input_file(where)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: cannot read as parquet ({first_line(exc)})") from None
    return open_parquet(path, "corpus", source=handle)


def text_units(files: list[Path]) -> list[TextUnit]:
    """Read units of the text files, in stream order: parquet split at row groups, JSONL whole."""
    units: list[TextUnit] = []
    for path in files:
        if path.suffix.lower() != ".parquet":
            units.append(TextUnit(len(units), str(path), None, None, max(path.stat().st_size, 1)))
            continue
        meta = _parquet(str(path)).metadata
        group: list[int] = []
        rows = size = 0
        for rg in range(meta.num_row_groups):
            group.append(rg)
            rows += meta.row_group(rg).num_rows
            size += meta.row_group(rg).total_byte_size
            if size >= UNIT_BYTES or rg == meta.num_row_groups - 1:
                units.append(TextUnit(len(units), str(path), tuple(group), rows, max(size, 1)))
                group, rows, size = [], 0, 0
    return units


def read_text(unit: TextUnit, column: str) -> Iterator[pa.Table]:
    """Blocks of (doc id, text) for one unit; the same batches `sources.iter_text` gives the local engine."""
    base, row = unit.index << UNIT_BITS, 0
    for array in _arrays(unit, column):
        n = len(array)
        ids = np.arange(base + row, base + row + n, dtype=np.int64)
        yield pa.Table.from_arrays([pa.array(ids), array.cast(pa.large_string())], schema=TEXT_SCHEMA)
        row += n


def _arrays(unit: TextUnit, column: str) -> Iterator[pa.Array]:
    if unit.row_groups is None:
        for batch in sources.iter_text(Path(unit.path), column):
            yield batch.array
        return
    try:
        for batch in _parquet(unit.path).iter_batches(batch_size=sources.BATCH_ROWS, row_groups=list(unit.row_groups),
                                                      columns=[column]):
            yield batch.column(0)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{unit.path}: cannot read as parquet ({first_line(exc)})") from None


@dataclass(frozen=True)
class ShardUnit:
    """One read task's slice of a token shard: tokens [start, stop) of shard `shard`, or all of it."""

    shard: int
    path: str
    start: int
    stop: int | None  # None: the whole shard (.npy, parquet token lists)
    size: int


def shard_units(files: list[Path], data: Data) -> list[ShardUnit]:
    """Read units of the token shards: raw `.bin` shards in ranges, other kinds whole."""
    units = []
    for i, path in enumerate(files):
        size = max(path.stat().st_size, 1)
        if path.suffix.lower() != ".bin":
            units.append(ShardUnit(i, str(path), 0, None, size))
            continue
        count = len(sources.bin_tokens(path, data))  # header checks and truncation, as the local engine
        for lo in range(0, max(count, 1), TOKEN_RANGE):
            hi = min(lo + TOKEN_RANGE, count)
            units.append(ShardUnit(i, str(path), lo, hi, max(size * (hi - lo) // max(count, 1), 1)))
    return units


def read_shard(unit: ShardUnit, data: Data) -> Iterator[pa.Table]:
    """One row: the unit's token and boundary counts, from `boundaries.scan` (the local engine's function)."""
    path = Path(unit.path)
    if unit.stop is None:
        chunks: Iterator[np.ndarray] = sources.iter_tokens(path, data)
    else:
        arr = sources.bin_tokens(path, data)
        chunks = (np.asarray(arr[lo:min(lo + sources.TOKEN_CHUNK, unit.stop)])
                  for lo in range(unit.start, unit.stop, sources.TOKEN_CHUNK))
    stats = boundaries.scan(chunks, data.bos_token_id)
    yield pa.Table.from_pylist([{"shard": unit.shard, "tokens": stats.tokens,
                                 "boundaries": -1 if stats.boundaries is None else stats.boundaries}],
                               schema=SHARD_SCHEMA)


def merge_shards(rows: list[Mapping[str, int]], n_shards: int) -> list[boundaries.ShardStats]:
    """Per-shard stats (in plan order) from the units' rows: counts of a shard's ranges add up."""
    tokens, found = [0] * n_shards, [0] * n_shards
    known = True
    for r in rows:
        tokens[r["shard"]] += r["tokens"]
        found[r["shard"]] += max(r["boundaries"], 0)
        known = known and r["boundaries"] >= 0
    return [boundaries.ShardStats(t, b if known else None) for t, b in zip(tokens, found, strict=True)]


class UnitSource(Datasource):
    """A Ray Data datasource with one read task per unit; `read(unit)` yields the unit's Arrow blocks."""

    def __init__(self, units: list, read: functools.partial, schema: pa.Schema, name: str) -> None:
        super().__init__()
        self._units, self._read, self._schema, self._name = units, read, schema, name

    def get_name(self) -> str:
        return self._name

    def estimate_inmemory_data_size(self) -> int | None:
        return sum(u.size for u in self._units)

    def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None,
                       data_context: object = None) -> list[ReadTask]:
        """One task per unit whatever `parallelism` asks: units are the ordered slices ids are made of."""
        return [ReadTask(functools.partial(_collect, self._read, u),
                         BlockMetadata(num_rows=getattr(u, "rows", None), size_bytes=u.size, exec_stats=None,
                                       input_files=(u.path,)), schema=self._schema,
                         per_task_row_limit=per_task_row_limit)
                for u in self._units]


def _collect(read: functools.partial, unit: object) -> Iterator[pa.Table]:
    yield from read(unit)


class Positions:
    """Stream positions of document ids, from the documents each unit held (units in stream order)."""

    def __init__(self, unit_docs: Mapping[int, int], n_units: int) -> None:
        counts = np.zeros(n_units, dtype=np.int64)
        for unit, docs in unit_docs.items():
            counts[unit] = docs
        self._start = np.concatenate([[0], np.cumsum(counts)[:-1]]) if n_units else counts

    def __call__(self, doc_id: int) -> int:
        """The local engine's id for a document: its position in the whole text stream."""
        return int(self._start[doc_id >> UNIT_BITS] + (doc_id & ((1 << UNIT_BITS) - 1)))
