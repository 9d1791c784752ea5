"""Corpus files streamed in bounded batches: text documents, or token shards.

A corpus file is text (`.jsonl` rows with a text field, or a parquet file with a text column)
or tokens (`.bin` raw or llm.c-headed shards, `.npy` arrays, or a parquet column of token-id
lists). Nothing reads a whole file: parquet goes batch by batch through
`ParquetFile.iter_batches`, JSONL line by line, and token arrays through a memory map, so
peak memory is about one batch whatever the corpus size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from picogate.errors import InputError, first_line
from picogate.io import open_parquet, read_lines, regular_file
from picogate.jsonstrict import json_lines
from picogate.preflight.plan import Data

TEXT, TOKENS = "text", "tokens"
BATCH_ROWS = 4096
BATCH_BYTES = 16 << 20
TOKEN_CHUNK = 1 << 24  # tokens per memory-mapped chunk
LLMC_MAGIC = 20240520  # llm.c / modded-nanogpt shard header: 256 int32, magic, version, token count
LLMC_HEADER = 256


@dataclass(frozen=True)
class TextBatch:
    """A batch of corpus documents as an Arrow string array (nulls are empty documents)."""

    array: pa.Array
    file: Path

    def __len__(self) -> int:
        return len(self.array)

    @cached_property
    def n_bytes(self) -> int:
        return int(pc.sum(pc.binary_length(self.array)).as_py() or 0)

    @cached_property
    def texts(self) -> list[str]:
        """Python strings, made only when a collector needs them (near-dup, contamination)."""
        return [t or "" for t in self.array.to_pylist()]


def kind_of(path: Path, data: Data) -> str:
    """TEXT or TOKENS, from the suffix (and for parquet, the column types).

    Every corpus file passes here first, so a FIFO, a device or a folder is refused before any read.
    """
    regular_file(path, "corpus")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return TEXT
    if suffix in (".bin", ".npy"):
        return TOKENS
    if suffix == ".parquet":
        schema = open_parquet(path, "parquet").schema_arrow
        if data.text_column in schema.names and _is_text(schema.field(data.text_column).type):
            return TEXT
        if _token_column(path, schema, data) is not None:
            return TOKENS
        raise InputError(f"{path}: no text column '{data.text_column}' and no token-id list column "
                         f"(columns: {', '.join(schema.names)}); set data.text_column or data.tokens_column")
    raise InputError(f"{path}: unknown corpus file type '{suffix}'; use .jsonl, .parquet, .bin or .npy")


def iter_text(path: Path, column: str) -> Iterator[TextBatch]:
    """Batches of documents from one text file."""
    if path.suffix.lower() == ".parquet":
        try:
            for batch in open_parquet(path, "parquet").iter_batches(batch_size=BATCH_ROWS, columns=[column]):
                yield TextBatch(batch.column(0), path)
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"{path}: cannot read as parquet ({first_line(exc)})") from None
        return
    texts: list[str] = []
    size = 0
    for where, obj in json_lines(read_lines(path, "corpus"), path):
        text = obj.get(column)
        if not isinstance(text, str):
            got = "missing" if text is None else type(text).__name__
            raise InputError(f"{where}: corpus row needs a string '{column}' field (got {got})")
        texts.append(text)
        size += len(text)  # the batch bound is on text held, not on the other fields
        if len(texts) >= BATCH_ROWS or size >= BATCH_BYTES:
            yield TextBatch(pa.array(texts, pa.large_string()), path)
            texts, size = [], 0
    if texts:
        yield TextBatch(pa.array(texts, pa.large_string()), path)


def iter_tokens(path: Path, data: Data) -> Iterator[np.ndarray]:
    """Chunks of token ids from one shard, in order."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        yield from _parquet_tokens(path, data)
        return
    arr = _npy(path) if suffix == ".npy" else _bin(path, data)
    for start in range(0, len(arr), TOKEN_CHUNK):
        yield np.asarray(arr[start:start + TOKEN_CHUNK])


def bin_tokens(path: Path, data: Data) -> np.ndarray:
    """A raw or llm.c-headed `.bin` shard as a memory-mapped token array (header and length checked)."""
    return _bin(path, data)


def _bin(path: Path, data: Data) -> np.ndarray:
    size = _size(path)
    offset, dtype, count = 0, np.dtype(data.token_dtype), None
    if size >= LLMC_HEADER * 4:
        try:
            header = np.fromfile(path, dtype=np.int32, count=3)
        except OSError as exc:
            raise InputError(f"{path}: cannot read token shard ({exc.strerror or exc})") from None
        if header[0] == LLMC_MAGIC:
            if header[1] not in (1, 2):
                raise InputError(f"{path}: llm.c shard version {header[1]} is not 1 (uint16) or 2 (uint32)")
            offset, dtype, count = LLMC_HEADER * 4, np.dtype(np.uint16 if header[1] == 1 else np.uint32), int(header[2])
    body = size - offset
    if body % dtype.itemsize:
        raise InputError(f"{path}: {body} bytes is not a whole number of {dtype.name} tokens (truncated shard?)")
    if count is not None and count != body // dtype.itemsize:
        raise InputError(f"{path}: header says {count} tokens, file holds {body // dtype.itemsize} (truncated?)")
    if body == 0:
        return np.zeros(0, dtype=dtype)
    try:
        return np.memmap(path, dtype=dtype, mode="r", offset=offset)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read token shard ({getattr(exc, 'strerror', None) or exc})") from None


def _npy(path: Path) -> np.ndarray:
    regular_file(path, "token shard")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read as .npy ({first_line(exc)})") from None
    if arr.ndim != 1 or arr.dtype.kind not in "ui":
        raise InputError(f"{path}: a token shard must be a 1-D integer array, got {arr.dtype} of shape {arr.shape}")
    return arr


def _parquet_tokens(path: Path, data: Data) -> Iterator[np.ndarray]:
    pf = open_parquet(path, "parquet")
    column = _token_column(path, pf.schema_arrow, data)
    try:
        for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=[column]):
            values = pc.list_flatten(batch.column(0))
            yield values.to_numpy(zero_copy_only=False)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: cannot read as parquet ({first_line(exc)})") from None


def _token_column(path: Path, schema: pa.Schema, data: Data) -> str | None:
    def is_ids(t: pa.DataType) -> bool:
        return (pa.types.is_list(t) or pa.types.is_large_list(t)) and pa.types.is_integer(t.value_type)

    if data.tokens_column is not None:
        if data.tokens_column not in schema.names or not is_ids(schema.field(data.tokens_column).type):
            raise InputError(f"{path}: no token-id list column '{data.tokens_column}'")
        return data.tokens_column
    return next((f.name for f in schema if is_ids(f.type)), None)


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _size(path: Path) -> int:
    try:
        return regular_file(path, "token shard").stat().st_size
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
