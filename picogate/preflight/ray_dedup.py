"""Near and exact duplicates on Ray Data: one hash shuffle, candidate pairs joined with their signatures.

    sketched blocks (ray_engine._sketch), materialized -> route (a Ray task per block): the batch
        summary, and per partition of hash(kind, key) two tables: narrow rows (a document's hash, one
        (band, band key) row per LSH band) and signature rows (signature hash, signature)
    reduce (a Ray task per partition) -> _partition: distinct document hashes (exact duplicates),
        lsh.representatives (identical signatures), lsh.candidate_pairs per band among representatives
    candidate pairs -> lsh.pair_jaccard -> edges at or above the threshold: on the driver with only the
        candidates' signatures (picked from the signature tables) when they fit in DRIVER_VERIFY_BYTES,
        else by joining them in Ray
    member and near edges -> lsh.near_dup_clusters on the driver (16 bytes an edge, never per document)

The numbers are `lsh.dedup_metrics`'s: the same functions, applied to the groups a hash shuffle makes.

Why the shuffle is two rounds of Ray tasks and not `Dataset.repartition(keys=...)`: Ray Data's hash
shuffle (2.60) ran its map side as one task over every row and cost ~20 s of fixed work at 256 MB, so
2 workers were no faster than 1 (benchmarks/bench_scale.py). Map tasks that return one object per
partition and reduce tasks that take one object from each map are Ray core's own shuffle pattern: Ray
schedules, retries and spills them; the driver holds object references only. The map side starts
once the scan is done: started on each block as the scan made it, its tasks competed with the scan's
and 2 workers took 129 s instead of 75 s at 2 GB. Once routed, each signature is read from its
partition's signature tables, which later passes pick from; the sketched blocks go.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import ray
import ray.data

from picogate.preflight import lsh
from picogate.preflight.text import fmix64_array

PARTITION_BYTES = 256 << 20  # shuffle partitions are sized to about this much shuffle data each
# Candidate pairs are verified on the driver when they and their signatures fit here, else by two hash
# joins in Ray.
DRIVER_VERIFY_BYTES = 256 << 20
_MAX_PARTITIONS = 1024


def fixed_list(values: np.ndarray) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), values.shape[1])


def fixed_binary(values: np.ndarray) -> pa.Array:
    v = np.ascontiguousarray(values)
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(v.shape[1] * v.itemsize), len(v),
                                                [None, pa.py_buffer(v.tobytes())])


def matrix(column: pa.ChunkedArray | pa.Array, dtype: Any = np.uint32) -> np.ndarray:
    """A fixed-size list, fixed-size binary or equal-width binary column as an (n, width) array."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_fixed_size_list(arr.type):
        return arr.flatten().to_numpy().reshape(len(arr), arr.type.list_size)
    if not pa.types.is_fixed_size_binary(arr.type):
        return _binary_matrix(arr.cast(pa.binary()), dtype)
    width = arr.type.byte_width
    raw = np.frombuffer(arr.buffers()[1], dtype=np.uint8, count=len(arr) * width, offset=arr.offset * width)
    return raw.view(dtype).reshape(len(arr), width // np.dtype(dtype).itemsize)


def _binary_matrix(arr: pa.Array, dtype: Any = np.uint32) -> np.ndarray:
    """A variable-binary column whose values all have one width, as an (n, width) array."""
    if len(arr) == 0:
        return np.zeros((0, 1), dtype=dtype)
    off = np.frombuffer(arr.buffers()[1], dtype=np.int32, count=len(arr) + 1, offset=arr.offset * 4)
    raw = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[off[0]:off[-1]]
    return raw.view(dtype).reshape(len(arr), -1)


NARROW_SCHEMA = pa.schema([("band", pa.int16()), ("key", pa.uint64()), ("doc", pa.int64()),
                           ("row_hash", pa.uint64())])
_EXACT, _SAME = -1, -2  # row kinds beside the bands 0..b-1: document hash, signature hash


def summary_rows(t: pa.Table) -> pa.Table:
    """The batch summary rows of a sketched block (doc -1)."""
    return t.filter(pc.equal(t["doc"], -1)).select(["summary"])


def _partition_of(band: np.ndarray, key: np.ndarray, parts: int) -> np.ndarray:
    """The shuffle partition of each (kind, key): every copy of a key lands in one partition."""
    mixed = fmix64_array(key.astype(np.uint64) ^ fmix64_array(band.astype(np.int64).astype(np.uint64)))
    return (mixed % np.uint64(parts)).astype(np.int64)


def _split(t: pa.Table, part: np.ndarray, parts: int) -> list[pa.Table]:
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(parts + 1))
    return [t.take(pa.array(order[bounds[p]:bounds[p + 1]])) for p in range(parts)]


def _route(t: pa.Table, *, parts: int) -> tuple[pa.Table, ...]:
    """One sketched block: its summary rows, then the narrow tables of partitions 0..parts-1, then their
    signature tables.

    Narrow rows: per document its hash (exact duplicates) and one (band, band key) row per band, with the
    signature hash (representatives within a band). Signature rows: (doc, signature hash, signature) of
    each document with shingles, in the partition of its signature hash.
    """
    head = summary_rows(t)
    t = t.filter(pc.greater_equal(t["doc"], 0))
    doc = t["doc"].to_numpy()
    shingled = t.filter(t["has_shingles"])
    sdoc, srh = shingled["doc"].to_numpy(), shingled["row_hash"].to_numpy()
    keys = matrix(shingled["keys"], np.uint64)
    m, bands = keys.shape
    band = np.concatenate([np.full(len(doc), _EXACT), np.repeat(np.arange(bands)[None, :], m, axis=0).ravel()])
    key = np.concatenate([t["doc_hash"].to_numpy(), keys.ravel()]).astype(np.uint64)
    narrow = pa.Table.from_arrays([
        pa.array(band.astype(np.int16)), pa.array(key),
        pa.array(np.concatenate([doc, np.repeat(sdoc, bands)]).astype(np.int64)),
        pa.array(np.concatenate([np.zeros(len(doc), np.uint64), np.repeat(srh, bands)]).astype(np.uint64)),
    ], schema=NARROW_SCHEMA)
    sigs = pa.table({"doc": shingled["doc"], "row_hash": shingled["row_hash"],
                     "sig": shingled["sig"].combine_chunks()})
    return (head, *_split(narrow, _partition_of(band, key, parts), parts),
            *_split(sigs, _partition_of(np.full(m, _SAME), srh, parts), parts))


def _partition(narrow: pa.Table, sigs: pa.Table, *, collided: np.ndarray) -> pa.Table:
    """Everything one partition's groups can say, as (band, i, j) rows.

    exact rows: (-1, distinct document hashes, 0). identical signatures: `lsh.representatives`, then
    (-2, member, representative), and (-2, doc, -1) for a document whose signature hash collided.
    bands: `lsh.candidate_pairs` among the representatives in each (band, key) group, (band, i, j).
    A partition holds every copy of a signature hash, so the smallest document with a signature hash
    is that hash's representative; documents in `collided` (their own representatives) are kept too.
    """
    out = [np.zeros((0, 3), dtype=np.int64)]
    if sigs.num_rows:
        d = sigs["doc"].to_numpy()
        order = np.argsort(d, kind="stable")
        d, rh = d[order], sigs["row_hash"].to_numpy()[order]
        rep = lsh.representatives(rh, matrix(sigs["sig"].combine_chunks().take(pa.array(order))))
        _, first = np.unique(rh, return_index=True)
        own = np.setdiff1d(np.flatnonzero(rep == np.arange(len(d))), first)
        member = np.flatnonzero(rep != np.arange(len(d)))
        out.append(np.column_stack([np.full(len(member), _SAME), d[member], d[rep[member]]]))
        out.append(np.column_stack([np.full(len(own), _SAME), d[own], np.full(len(own), -1)]))
    band, key, doc, row_hash = (narrow[c].to_numpy() for c in ("band", "key", "doc", "row_hash"))
    order = np.lexsort((doc, band))  # one sort: each kind's rows contiguous, by document within it
    band, key, doc, row_hash = band[order], key[order], doc[order], row_hash[order]
    starts = np.flatnonzero(np.diff(band, prepend=band[:1] - 1)) if len(band) else np.zeros(0, np.int64)
    for lo, hi in zip(starts.tolist(), [*starts[1:].tolist(), len(band)], strict=True):
        b, d = int(band[lo]), doc[lo:hi]
        if b == _EXACT:
            out.append(np.array([[b, len(np.unique(key[lo:hi])), 0]]))
            continue
        k, rh = key[lo:hi], row_hash[lo:hi]
        keep = np.isin(d, collided)
        free = np.flatnonzero(~keep)
        if len(free):
            by = np.lexsort((rh[free], k[free]))  # stable: the first of each (key, row hash) is its smallest doc
            ks, rs = k[free][by], rh[free][by]
            first = np.r_[True, (ks[1:] != ks[:-1]) | (rs[1:] != rs[:-1])]
            keep[free[by[first]]] = True
        kept = np.flatnonzero(keep)
        pairs = lsh.candidate_pairs(k[kept][:, None])
        out.append(np.column_stack([np.full(len(pairs), b), d[kept][pairs[:, 0]], d[kept][pairs[:, 1]]]))
    found = np.concatenate(out).astype(np.int64)
    return pa.table({"band": found[:, 0], "i": found[:, 1], "j": found[:, 2]})


def _kinds(t: pa.Table, *, negative: bool) -> pa.Table:
    return t.filter(pc.less(t["band"], 0) if negative else pc.greater_equal(t["band"], 0))


def _signatures_as(t: pa.Table, *, name: str) -> pa.Table:
    return pa.table({name: t["doc"], f"sig_{name}": t["sig"]})


def _verify(t: pa.Table, *, threshold: float) -> pa.Table:
    """`lsh.pair_jaccard` of each joined candidate pair; keep the pairs at or above the threshold."""
    a, b = matrix(t["sig_i"]), matrix(t["sig_j"])
    m = len(a)
    sim = lsh.pair_jaccard(np.concatenate([a, b]), np.column_stack([np.arange(m), np.arange(m) + m]))
    return t.filter(pa.array(sim >= threshold)).select(["i", "j"])


def _pick(t: pa.Table, *, wanted: np.ndarray) -> pa.Table:
    return t.filter(pa.array(np.isin(t["doc"].to_numpy(), wanted))).select(["doc", "sig"])


@dataclasses.dataclass
class Routed:
    """The map side of the shuffle, as object references: per partition, one table from every block."""

    parts: int
    summaries: list[Any]  # per block, its summary rows
    narrow: list[list[Any]]
    sigs: list[list[Any]]


def route(sketched: ray.data.Dataset, text_bytes: int, remote: dict[str, Any]) -> Routed:
    """Run the scan to the end, then `_route` on each sketched block (a block is dropped once routed)."""
    parts = _partitions(text_bytes * 2)  # ~900 bytes of shuffle rows per ~450-byte document
    shared = ray.put({"parts": parts})
    routed = Routed(parts, [], [[] for _ in range(parts)], [[] for _ in range(parts)])
    for block in sketched.materialize().to_arrow_refs():
        out = _apply.options(num_returns=2 * parts + 1, **remote).remote(_route, shared, block)
        routed.summaries.append(out[0])
        for p in range(parts):
            routed.narrow[p].append(out[1 + p])
            routed.sigs[p].append(out[1 + parts + p])
    return routed


def near_dups(routed: Routed, options: dict[str, Any], n: int, positions: Callable[[int], int],
              remote: dict[str, Any]) -> dict:
    """`lsh.dedup_metrics`'s numbers for the routed sketch: the shuffle's reduce side, then the pairs verified."""
    sig_size = sig_bytes(options)
    found = _group(routed, np.zeros(0, np.int64), remote)
    small, per_band, kept = _collect(found, sig_size)
    distinct = int(small[1][small[0] == _EXACT].sum())
    same = small[0] == _SAME
    collided = np.unique(small[1][same & (small[2] < 0)])
    if len(collided):  # a 64-bit signature-hash collision (rare): group the bands again, keeping those apart
        found = _group(routed, collided, remote)
        _, per_band, kept = _collect(found, sig_size)
    routed.narrow = []  # the groups are final: the band rows can go (the signatures are picked from below)
    members = (small[1][same & (small[2] >= 0)], small[2][same & (small[2] >= 0)])
    if any(c > lsh.MAX_CANDIDATE_PAIRS for c in per_band.values()):
        raise ValueError(f"a band groups more than {lsh.MAX_CANDIDATE_PAIRS} candidate pairs; raise the "
                         "threshold, use more rows per band, or remove boilerplate documents first")
    near = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    threshold = options["threshold"]
    if per_band and kept is not None:
        near = _verify_here(kept, routed, threshold, remote)
    elif per_band:
        pairs = ray.data.from_arrow_refs(found).map_batches(_kinds, batch_format="pyarrow",
                                                            fn_kwargs={"negative": False})
        verified = _join_signatures(pairs, ray.data.from_arrow_refs([r for p in routed.sigs for r in p]),
                                    routed.parts).map_batches(
            _verify, batch_format="pyarrow", fn_kwargs={"threshold": threshold}, **remote)
        near = _edges(verified, "i", "j")

    u, v = np.concatenate([members[0], near[0]]), np.concatenate([members[1], near[1]])
    nodes = np.unique(np.concatenate([u, v]))
    label, dups, clusters = lsh.near_dup_clusters(len(nodes), np.searchsorted(nodes, u), np.searchsorted(nodes, v))
    shown_a, shown_b = nodes[dups[:5]], nodes[label[dups[:5]]]
    ids, sig = _signatures(routed, np.union1d(shown_a, shown_b), remote)
    sims = lsh.pair_jaccard(sig, np.searchsorted(ids, np.column_stack([shown_a, shown_b]))).tolist()
    exact = n - distinct
    return {
        "documents": n,
        "exact_dup_count": exact,
        "exact_dup_rate": exact / n,
        "near_dup_count": len(dups),
        "near_dup_rate": len(dups) / n,
        "near_dup_clusters": clusters,
        "near_dup_examples": [(positions(int(a)), positions(int(b)), float(j))
                              for a, b, j in zip(shown_a, shown_b, sims, strict=True)],
    }


@ray.remote
def _apply(fn: Callable[..., Any], kwargs: dict[str, Any], *tables: pa.Table) -> Any:
    """Ray task: `fn` over one block (or the tables of one partition, concatenated)."""
    return fn(tables[0] if len(tables) == 1 else pa.concat_tables(tables), **kwargs)


def results(refs: list[Any]) -> Iterator[Any]:
    """The tasks' results in order, fetched one at a time (the driver never holds them all)."""
    for ref in refs:
        yield ray.get(ref)


@ray.remote
def _reduce(kwargs: dict[str, Any], n_narrow: int, *tables: pa.Table) -> pa.Table:
    """Ray task: `_partition` over one partition's narrow tables and signature tables."""
    narrow = pa.concat_tables(tables[:n_narrow]) if n_narrow else NARROW_SCHEMA.empty_table()
    sigs = pa.concat_tables(tables[n_narrow:])
    return _partition(narrow, sigs, **kwargs)


def _group(routed: Routed, collided: np.ndarray, remote: dict[str, Any]) -> list[Any]:
    """The reduce side: `_partition` over each partition's tables, one Ray task each."""
    shared = ray.put({"collided": collided})
    return [_reduce.options(**remote).remote(shared, len(n), *n, *s)
            for n, s in zip(routed.narrow, routed.sigs, strict=True)]


def _collect(found: list[Any], sig_size: int) -> tuple[tuple[np.ndarray, ...], dict[int, int],
                                                      tuple[np.ndarray, np.ndarray] | None]:
    """One pass over the shuffle's output: its exact and identical-signature rows, the candidate pairs per
    band, and the distinct pairs themselves while they and their documents' signatures fit in
    `DRIVER_VERIFY_BYTES` (None past that). A near copy shares most bands with its original, so the same
    pair comes from several bands: they are counted per band (the candidate limit) but kept once."""
    small: list[np.ndarray] = [np.zeros((0, 3), np.int64)]
    pairs: np.ndarray | None = np.zeros(0, _PAIR)
    fresh: list[np.ndarray] = []
    per_band: dict[int, int] = {}
    held = 0
    for batch in results(found):
        rows = np.column_stack([batch[c].to_numpy() for c in ("band", "i", "j")]).astype(np.int64)
        neg = rows[:, 0] < 0
        small.append(rows[neg])
        bands, counts = np.unique(rows[~neg, 0], return_counts=True)
        for b, c in zip(bands.tolist(), counts.tolist(), strict=True):
            per_band[b] = per_band.get(b, 0) + c
        if pairs is None:
            continue
        fresh.append(np.ascontiguousarray(rows[~neg, 1:]).view(_PAIR).ravel())
        held += len(fresh[-1])
        if held * _PAIR.itemsize > DRIVER_VERIFY_BYTES // 4:  # dedupe now and then: memory stays bounded
            pairs, fresh = np.unique(np.concatenate([pairs, *fresh])), []
            held = len(pairs)
            if held * _PAIR.itemsize > DRIVER_VERIFY_BYTES // 2:
                pairs = None
    got = np.concatenate(small)
    edges = (got[:, 0], got[:, 1], got[:, 2])
    if pairs is None:
        return edges, per_band, None
    pairs = np.unique(np.concatenate([pairs, *fresh]))
    docs = len(np.union1d(pairs["i"], pairs["j"]))
    if pairs.nbytes + docs * sig_size > DRIVER_VERIFY_BYTES:
        return edges, per_band, None
    return edges, per_band, (pairs["i"].copy(), pairs["j"].copy())


_PAIR = np.dtype([("i", np.int64), ("j", np.int64)])


def sig_bytes(options: dict[str, Any]) -> int:
    """Bytes of one signature (uint32 slots, the affine32 scheme both engines sketch with)."""
    return 4 * int(options["num_perm"])


def _signatures(routed: Routed, wanted: np.ndarray, remote: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(sorted ids, their signatures) of the `wanted` documents: one task per partition's signature
    tables, only those rows come back."""
    ids, sigs = [np.zeros(0, np.int64)], [np.zeros((0, 1), np.uint32)]
    if len(wanted):
        shared = ray.put({"wanted": wanted})
        for batch in results([_apply.options(**remote).remote(_pick, shared, *refs) for refs in routed.sigs]):
            ids.append(batch["doc"].to_numpy())
            sigs.append(matrix(batch["sig"]))
    got = np.concatenate(ids)
    order = np.argsort(got)
    stacked = np.concatenate([s for s in sigs if len(s)]) if len(got) else np.zeros((0, 1), np.uint32)
    return got[order], stacked[order]


def _verify_here(pairs: tuple[np.ndarray, ...], routed: Routed, threshold: float,
                 remote: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """`lsh.pair_jaccard` of the candidate pairs on the driver, with only their documents' signatures.

    Why: a hash join costs two shuffles of every signature; when the candidates' signatures fit in
    `DRIVER_VERIFY_BYTES`, one pass that fetches just those is far cheaper (and the same arithmetic).
    """
    i, j = pairs
    ids, sig = _signatures(routed, np.union1d(i, j), remote)
    at = np.searchsorted(ids, np.column_stack([i, j]))
    keep = lsh.pair_jaccard(sig, at) >= threshold
    return i[keep], j[keep]


def _partitions(size_bytes: int) -> int:
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    return int(min(max(cpus, math.ceil(size_bytes / PARTITION_BYTES)), _MAX_PARTITIONS))


def _join_signatures(pairs: ray.data.Dataset, signatures: ray.data.Dataset, parts: int) -> ray.data.Dataset:
    """Candidate pairs with both documents' signatures: two hash joins."""
    sig_i = signatures.map_batches(_signatures_as, batch_format="pyarrow", fn_kwargs={"name": "i"})
    sig_j = signatures.map_batches(_signatures_as, batch_format="pyarrow", fn_kwargs={"name": "j"})
    return pairs.join(sig_i, "inner", parts, on=("i",)).join(sig_j, "inner", parts, on=("j",))


def _edges(ds: ray.data.Dataset, *names: str) -> tuple[np.ndarray, ...]:
    """Integer columns streamed to the driver: edges of duplicates, small next to the corpus."""
    cols: list[list[np.ndarray]] = [[np.zeros(0, np.int64)] for _ in names]
    for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None):
        for got, name in zip(cols, names, strict=True):
            got.append(batch[name].to_numpy())
    return tuple(np.concatenate(c).astype(np.int64) for c in cols)
