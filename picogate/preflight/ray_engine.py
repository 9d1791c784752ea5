"""The Ray Data engine of the corpus scan (`--engine ray`): the local engine's batch functions, distributed.

    read units (ray_sources) -> map_batches(_sketch), fused with the read: documents.count, the
        tokenizer, contamination.scan (prompt index built once, shared through the object store),
        lsh.sketch_batch; one pickled summary row per batch -> materialized in the object store (spills
        to disk when full)
    summaries -> the driver (a few hundred bytes a batch); duplicates -> ray_dedup (one hash shuffle,
        whose map side also hands the summaries back)

Every number comes from the same functions the local engine calls, on the same documents; ids sort as
stream positions do, so "first", "earlier" and "smallest" mean what they mean locally, and the reported
examples are translated back to stream positions. The driver holds per-batch summaries, duplicate edges
and a few example signatures: never the corpus or all signatures.

Faults: a task whose worker dies is re-run by Ray, and a batch that raises a transient error (the test
hook's `InjectedFault`) is retried by Ray Data, `RETRIES` times; a failure that persists raises one
`InputError` line and no evidence at all.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import pickle
import re
import socket
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import ray
import ray.data

from picogate.errors import InputError, PicogateError, first_line
from picogate.preflight import lsh, ray_dedup
from picogate.preflight import ray_sources as rs
from picogate.preflight.collectors import contamination, dedup, documents
from picogate.preflight.plan import Data
from picogate.preflight.sources import TextBatch

FAULTS_ENV = "PICOGATE_RAY_FAULTS"
RETRIES = 3


TRANSIENT = "[transient]"  # exceptions whose message holds this are retried by Ray Data (max RETRIES)


class InjectedFault(RuntimeError):
    """The test hook's failure (`fault_hook`): transient by definition, so Ray retries the task."""


def fault_hook(faults: str | None) -> None:
    """Test hook: fail this batch when the faults folder says so.

    With `PICOGATE_RAY_FAULTS=DIR` (read by the driver, handed to every task): a file `DIR/once` is
    claimed (renamed, so by one task only) by the first batch that sees it, which then fails; Ray retries
    it and the evidence must not change. `DIR/kill` is claimed the same way, and the worker process
    that claims it dies on the spot (as when a node loses a worker). A file `DIR/always` fails every
    batch: the scan stops, exit 2.
    """
    if not faults:
        return
    folder = Path(faults)
    if (folder / "always").exists():
        raise InjectedFault(f"injected failure {TRANSIENT} (test hook: always)")
    for name in ("once", "kill"):
        try:
            os.rename(folder / name, folder / f"claimed-{name}-{os.getpid()}")
        except OSError:
            continue
        if name == "kill":
            os._exit(1)  # no exception, no cleanup: the worker is gone and Ray must run the task again
        raise InjectedFault(f"injected failure {TRANSIENT} (test hook: once)")


@dataclasses.dataclass(frozen=True)
class _Summary:
    """One batch's contribution to the documents, replay and contamination evidence."""

    docs: documents.DocStats
    units: dict[int, int]  # documents per read unit (for stream positions)
    tokens: int  # tokenizer count, 0 without a tokenizer
    hits: Any  # contamination.HitSummary, None when not collected


def scan(text_files: list[Path], token_files: list[Path], data: Data, *, wanted: set[str],
         prompts: dict[str, list[str]], tables: Any, count_tokens: Callable[[Sequence[str]], Sequence[int]] | None,
         address: str | None, quiet: bool) -> Any:
    """The local engine's `CorpusScan`, measured on Ray Data."""
    from picogate.preflight.gate import CorpusScan, wants_contamination, wants_dedup

    check = (contamination.prepare(tables, eval_prompts=prompts["eval"], external_prompts=prompts["external"],
                                   sft_prompts=prompts["sft"], sft_texts=prompts.get("sft_full", []))
             if wants_contamination(wanted) else None)
    options = dedup.options(tables) if wants_dedup(wanted) else None
    with _session(address, quiet):
        try:
            docs, tokenized, extra = _texts(text_files, data, options, check, count_tokens) if text_files else \
                (None, None, {})
            shards = _shards(token_files, data) if token_files else []
        except Exception as exc:  # any failure in the cluster is one line, never a partial verdict
            raise _one_line(exc) from None
    metrics: dict[str, Any] = {}
    if options is not None:
        metrics |= dedup.metrics(extra.get("dedup"), options["threshold"])
    if check is not None:
        metrics |= contamination.finish(check, extra.get("hits", []))
    return CorpusScan(docs, shards, tokenized, metrics)


@contextlib.contextmanager
def _session(address: str | None, quiet: bool) -> Iterator[None]:
    """Use the Ray already initialized here, else connect to `address` / RAY_ADDRESS, else start a local one.

    A cluster this call started or joined is left again at the end; one the caller started is kept.
    """
    started = False
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS") or None
        _reachable(address)
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=not quiet,
                     logging_level=logging.WARNING if quiet else logging.INFO)
        except Exception as exc:  # no cluster at ADDR, or Ray cannot start here
            raise InputError(f"ray engine: cannot {'connect to ' + address if address else 'start Ray'} "
                             f"({first_line(exc)})") from None
        started = True
    ctx = ray.data.DataContext.get_current()
    saved = {k: getattr(ctx, k) for k in ("enable_progress_bars", "retried_map_errors", "max_map_retries",
                                          "op_resource_reservation_enabled")}
    ctx.enable_progress_bars = not quiet
    # The scan is one fused read+sketch operator; Ray Data's per-operator reservation held it to ~1.4 of
    # 2 CPUs (benchmarks/bench_scale.py). Outputs are still backpressured and spill when the store is full.
    ctx.op_resource_reservation_enabled = False
    ctx.retried_map_errors = [TRANSIENT]  # a failed batch runs again; a malformed row fails at once
    ctx.max_map_retries = RETRIES
    # Worker deaths are retried through map_batches' remote args: deprecated from Ray 2.64, pinned at 2.60.
    warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
    mute = _Mute(quiet)  # on the handlers: a logger's own filters miss its children's records
    handlers = {h for name in ("ray", "ray.data") for h in logging.getLogger(name).handlers}
    for handler in handlers:
        handler.addFilter(mute)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(mute)
        for k, v in saved.items():
            setattr(ctx, k, v)
        if started:
            ray.shutdown()


def _reachable(address: str | None) -> None:
    """Refuse a `host:port` nobody answers at, in seconds: Ray itself retries an unreachable head for minutes."""
    host, _, port = (address or "").rpartition(":")
    if not host or not port.isdigit() or "://" in address:  # none, "auto", ray://...: left to Ray
        return
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise InputError(f"ray engine: no Ray cluster answers at {address} ({exc.strerror or exc})") from None


class _Mute(logging.Filter):
    """Ray Data's log while picogate scans: its errors become picogate's one line; quiet keeps the rest too."""

    def __init__(self, quiet: bool) -> None:
        super().__init__()
        self.quiet = quiet

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno >= logging.ERROR or self.quiet)


def _one_line(exc: BaseException) -> InputError:
    """The root cause of a failed Ray job as one line: a picogate error as itself, anything else named.

    Ray Data hands back the worker's traceback as text (the exception object stays in the worker), so
    the cause is its last `Type: message` line.
    """
    if isinstance(exc, PicogateError) and not isinstance(exc, ray.exceptions.RayError):
        return InputError(first_line(exc))
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    causes = [line for line in lines if _CAUSE.match(line) and not line.startswith("ray.")]
    cause = causes[0] if causes else (lines[-1] if lines else type(exc).__name__)
    name, _, message = cause.partition(": ")
    name = name.rsplit(".", 1)[-1]
    if name in ("InputError", "RuleError", "PicogateError"):
        return InputError(message[:300])
    return InputError(f"ray engine: the corpus scan failed, retries did not help ({name}: {message[:300]})")


_CAUSE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Fault|Interrupt|Exit)\b.*?: ")


def _remote() -> dict[str, Any]:
    """Ray core retries a task whose worker died; exceptions are retried by Ray Data (see `_session`)."""
    return {"max_retries": RETRIES}


def _texts(files: list[Path], data: Data, options: dict[str, Any] | None, check: Any,
           count_tokens: Callable[[Sequence[str]], Sequence[int]] | None) -> tuple[Any, int | None, dict[str, Any]]:
    """Documents, tokenizer count and the dedup/contamination inputs of the text files."""
    units = rs.text_units(files)
    index = ray.put(check.index) if check is not None and check.index is not None else None
    source = rs.UnitSource(units, functools.partial(rs.read_text, column=data.text_column), rs.TEXT_SCHEMA,
                           "PicogateText")
    # One block per read unit (Ray Data would split each into ~200 / units small blocks, each a task), and
    # the read fused with the sketch (same remote args): one task per unit, no block handed between them.
    sketched = ray.data.read_datasource(source, override_num_blocks=len(units), ray_remote_args=_remote()).map_batches(
        _sketch, batch_format="pyarrow", batch_size=None, zero_copy_batch=True,
        fn_kwargs={"options": options, "index": index, "count_tokens": count_tokens,
                   "faults": os.environ.get(FAULTS_ENV)}, **_remote())
    if options is None:  # summaries only: a few hundred bytes a batch come to the driver
        routed, heads = None, (ray.get(ref) for bundle in sketched.iter_internal_ref_bundles()
                               for ref in bundle.block_refs)
    else:
        routed = ray_dedup.route(sketched, sum(u.size for u in units), _remote())
        heads = ray_dedup.results(routed.summaries)
    summaries = [pickle.loads(blob) for t in heads for blob in t.column("summary").to_pylist()]
    docs = functools.reduce(documents.DocStats.merge, (s.docs for s in summaries), documents.DocStats())
    unit_docs: dict[int, int] = {}
    for s in summaries:
        for unit, n in s.units.items():
            unit_docs[unit] = unit_docs.get(unit, 0) + n
    positions = rs.Positions(unit_docs, len(units))
    extra: dict[str, Any] = {}
    if routed is not None and docs.documents:
        extra["dedup"] = ray_dedup.near_dups(routed, options, docs.documents, positions, _remote())
    if check is not None and check.index is not None:
        extra["hits"] = [dataclasses.replace(s.hits, examples=[(p, positions(r)) for p, r in s.hits.examples])
                         for s in summaries]
    tokenized = sum(s.tokens for s in summaries) if count_tokens is not None else None
    return docs, tokenized, extra


def _shards(files: list[Path], data: Data) -> list[Any]:
    source = rs.UnitSource(rs.shard_units(files, data), functools.partial(rs.read_shard, data=data),
                           rs.SHARD_SCHEMA, "PicogateShards")
    return rs.merge_shards(ray.data.read_datasource(source).take_all(), len(files))


@functools.lru_cache(maxsize=4)
def _fetch(ref: Any) -> Any:
    """The prompt index from the object store, fetched once per worker process."""
    return ray.get(ref)


def _sketch(table: pa.Table, *, options: dict[str, Any] | None, index: Any,
            count_tokens: Callable[[Sequence[str]], Sequence[int]] | None, faults: str | None) -> pa.Table:
    """One batch: its summary row (doc -1), then one sketch row per document when near-dup is collected."""
    fault_hook(faults)
    ids = table.column("doc").to_numpy()
    batch = TextBatch(table.column("text").combine_chunks(), Path("<ray>"))
    index = _fetch(index) if index is not None else None
    texts = batch.texts if (options is not None or index is not None or count_tokens is not None) else []
    units, counts = np.unique(ids >> rs.UNIT_BITS, return_counts=True)
    summary = _Summary(documents.count(batch), dict(zip(units.tolist(), counts.tolist(), strict=True)),
                       int(sum(count_tokens(texts))) if count_tokens is not None else 0,
                       contamination.scan(index, texts, ids.tolist()) if index is not None else None)
    blob = pa.array([pickle.dumps(summary)] + [None] * (len(ids) if options is not None else 0), pa.binary())
    if options is None:
        return pa.table({"doc": pa.array([-1], pa.int64()), "summary": blob})
    sk = lsh.sketch_batch(texts, None, **options, threads=_cores())
    head = np.zeros(1, dtype=np.uint64)
    return pa.table({
        "doc": np.concatenate([[-1], ids]).astype(np.int64),
        "doc_hash": np.concatenate([head, sk.doc_hashes]),
        "has_shingles": np.concatenate([[False], sk.has_shingles]),
        "row_hash": np.concatenate([head, sk.row_hashes]),
        "keys": ray_dedup.fixed_list(np.concatenate([np.zeros((1, sk.keys.shape[1]), np.uint64), sk.keys])),
        "sig": ray_dedup.fixed_binary(np.concatenate([np.zeros((1, sk.signatures.shape[1]), sk.signatures.dtype),
                                             sk.signatures])),
        "summary": blob,
    })


def _cores() -> int:
    """The CPUs Ray gave this task (1 by default): its threads, so a node runs as many as it has cores."""
    return max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))
