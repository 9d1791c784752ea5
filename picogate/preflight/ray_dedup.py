"""Near and exact duplicates on Ray Data: one hash shuffle, candidate pairs joined with their signatures.

    sketched rows (ray_engine._sketch) -> _shuffle_rows: per document its hash, its signature hash with
        the signature, and one (band, band key) row per LSH band
    hash shuffle on (kind, key) -> _partition per partition: distinct document hashes (exact duplicates),
        lsh.representatives (identical signatures), lsh.candidate_pairs per band among representatives
    candidate pairs -> lsh.pair_jaccard -> edges at or above the threshold: on the driver with only the
        candidates' signatures when they fit in DRIVER_VERIFY_BYTES, else by joining them in Ray
    member and near edges -> lsh.near_dup_clusters on the driver (16 bytes an edge, never per document)

The numbers are `lsh.dedup_metrics`'s: the same functions, applied to the groups a hash shuffle makes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import ray
import ray.data

from picogate.preflight import lsh

PARTITION_BYTES = 64 << 20  # shuffle partitions are sized to about this much sketch data each
# Candidate pairs are verified on the driver when their signatures fit here, else by two hash joins in Ray.
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


def _empty_binary(n: int) -> pa.Array:
    return pa.BinaryArray.from_buffers(pa.binary(), n, [None, pa.py_buffer(np.zeros(n + 1, np.int32)),
                                                        pa.py_buffer(b"")])


SHUFFLE_SCHEMA = pa.schema([("band", pa.int64()), ("key", pa.uint64()), ("doc", pa.int64()),
                            ("row_hash", pa.uint64()), ("sig", pa.binary())])
_EXACT, _SAME = -1, -2  # shuffle row kinds beside the bands 0..b-1: document hash, signature hash


def _shuffle_rows(t: pa.Table) -> pa.Table:
    """The rows of one shuffle that finds everything: per document its hash (exact duplicates), its
    signature hash with the signature (identical signatures), and one (band, band key) row per band."""
    t = t.filter(pc.greater_equal(t["doc"], 0))
    doc = t["doc"].to_numpy()
    shingled = t.filter(t["has_shingles"])
    sdoc, srh = shingled["doc"].to_numpy(), shingled["row_hash"].to_numpy()
    keys = matrix(shingled["keys"])
    m, bands = keys.shape
    band = np.concatenate([np.full(len(doc), _EXACT), np.full(m, _SAME),
                           np.repeat(np.arange(bands)[None, :], m, axis=0).ravel()]).astype(np.int64)
    key = np.concatenate([t["doc_hash"].to_numpy(), srh, keys.ravel()]).astype(np.uint64)
    docs = np.concatenate([doc, sdoc, np.repeat(sdoc, bands)]).astype(np.int64)
    row_hash = np.concatenate([np.zeros(len(doc), np.uint64), srh, np.repeat(srh, bands)]).astype(np.uint64)
    sig = pa.concat_arrays([_empty_binary(len(doc)), shingled["sig"].combine_chunks().cast(pa.binary()),
                            _empty_binary(m * bands)])
    return pa.Table.from_arrays([pa.array(band), pa.array(key), pa.array(docs), pa.array(row_hash), sig],
                                schema=SHUFFLE_SCHEMA)


def _partition(t: pa.Table, *, collided: np.ndarray) -> pa.Table:
    """Everything one hash partition of (kind, key) groups can say, as (band, i, j) rows.

    exact rows: (-1, distinct document hashes, 0). identical signatures: `lsh.representatives`, then
    (-2, member, representative), and (-2, doc, -1) for a document whose signature hash collided.
    bands: `lsh.candidate_pairs` among the representatives in each (band, key) group, (band, i, j).
    A group holds every copy of a signature, so the smallest document with a signature hash in a group
    is that hash's representative; documents in `collided` (their own representatives) are kept too.
    """
    band, key, doc = (t[c].to_numpy() for c in ("band", "key", "doc"))
    out = [np.zeros((0, 3), dtype=np.int64)]
    for b in np.unique(band).tolist():
        sel = np.flatnonzero(band == b)
        sel = sel[np.argsort(doc[sel], kind="stable")]
        d = doc[sel]
        if b == _EXACT:
            out.append(np.array([[b, len(np.unique(key[sel])), 0]]))
        elif b == _SAME:
            rh = key[sel]
            rep = lsh.representatives(rh, _binary_matrix(t["sig"].combine_chunks().take(pa.array(sel))))
            _, first = np.unique(rh, return_index=True)
            own = np.setdiff1d(np.flatnonzero(rep == np.arange(len(d))), first)
            member = np.flatnonzero(rep != np.arange(len(d)))
            out.append(np.column_stack([np.full(len(member), b), d[member], d[rep[member]]]))
            out.append(np.column_stack([np.full(len(own), b), d[own], np.full(len(own), -1)]))
        else:
            k, rh = key[sel], t["row_hash"].to_numpy()[sel]
            keep = np.isin(d, collided)
            free = np.flatnonzero(~keep)
            _, first = np.unique(np.column_stack([k[free], rh[free]]), axis=0, return_index=True)
            keep[free[first]] = True
            kept = np.flatnonzero(keep)
            pairs = lsh.candidate_pairs(k[kept][:, None])
            out.append(np.column_stack([np.full(len(pairs), b), d[kept][pairs[:, 0]], d[kept][pairs[:, 1]]]))
    found = np.concatenate(out).astype(np.int64)
    return pa.table({"band": found[:, 0], "i": found[:, 1], "j": found[:, 2]})


def _kinds(t: pa.Table, *, negative: bool) -> pa.Table:
    return t.filter(pc.less(t["band"], 0) if negative else pc.greater_equal(t["band"], 0))


def _signatures_as(t: pa.Table, *, name: str) -> pa.Table:
    t = t.filter(pc.and_(pc.greater_equal(t["doc"], 0), t["has_shingles"]))
    return pa.table({name: t["doc"], f"sig_{name}": t["sig"]})


def _verify(t: pa.Table, *, threshold: float) -> pa.Table:
    """`lsh.pair_jaccard` of each joined candidate pair; keep the pairs at or above the threshold."""
    a, b = matrix(t["sig_i"]), matrix(t["sig_j"])
    m = len(a)
    sim = lsh.pair_jaccard(np.concatenate([a, b]), np.column_stack([np.arange(m), np.arange(m) + m]))
    return t.filter(pa.array(sim >= threshold)).select(["i", "j"])


def _pick(t: pa.Table, *, wanted: np.ndarray) -> pa.Table:
    return t.filter(pa.array(np.isin(t["doc"].to_numpy(), wanted))).select(["doc", "sig"])


def near_dups(sketched: ray.data.Dataset, options: dict[str, Any], n: int, positions: Callable[[int], int],
              remote: dict[str, Any]) -> dict:
    """`lsh.dedup_metrics`'s numbers for the sketched corpus: one hash shuffle, then the pairs verified."""
    parts = _partitions(sketched.size_bytes() * 2)
    rows = sketched.map_batches(_shuffle_rows, batch_format="pyarrow")
    found = _shuffle(rows, parts, np.zeros(0, np.int64), remote)
    cap = DRIVER_VERIFY_BYTES // (2 * sig_bytes(options))
    small, per_band, kept = _collect(found, cap)
    distinct = int(small[1][small[0] == _EXACT].sum())
    same = small[0] == _SAME
    collided = np.unique(small[1][same & (small[2] < 0)])
    if len(collided):  # a 64-bit signature-hash collision (rare): group the bands again, keeping those apart
        found = _shuffle(rows, parts, collided, remote)
        _, per_band, kept = _collect(found, cap)
    members = (small[1][same & (small[2] >= 0)], small[2][same & (small[2] >= 0)])
    if any(c > lsh.MAX_CANDIDATE_PAIRS for c in per_band.values()):
        raise ValueError(f"a band groups more than {lsh.MAX_CANDIDATE_PAIRS} candidate pairs; raise the "
                         "threshold, use more rows per band, or remove boilerplate documents first")
    near = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    threshold = options["threshold"]
    if per_band and kept is not None:
        near = _verify_here(kept, sketched, threshold)
    elif per_band:
        pairs = found.map_batches(_kinds, batch_format="pyarrow", fn_kwargs={"negative": False})
        verified = _join_signatures(pairs, sketched, parts).map_batches(
            _verify, batch_format="pyarrow", fn_kwargs={"threshold": threshold}, **remote)
        near = _edges(verified, "i", "j")

    u, v = np.concatenate([members[0], near[0]]), np.concatenate([members[1], near[1]])
    nodes = np.unique(np.concatenate([u, v]))
    label, dups, clusters = lsh.near_dup_clusters(len(nodes), np.searchsorted(nodes, u), np.searchsorted(nodes, v))
    shown_a, shown_b = nodes[dups[:5]], nodes[label[dups[:5]]]
    ids, sig = _signatures(sketched, np.union1d(shown_a, shown_b))
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


def _collect(found: ray.data.Dataset, cap: int) -> tuple[tuple[np.ndarray, ...], dict[int, int],
                                                          tuple[np.ndarray, np.ndarray] | None]:
    """One pass over the shuffle's output: its exact and identical-signature rows, the candidate pairs per
    band, and the pairs themselves while there are at most `cap` of them (None past that)."""
    small: list[np.ndarray] = [np.zeros((0, 3), np.int64)]
    pairs: list[np.ndarray] | None = [np.zeros((0, 2), np.int64)]
    per_band: dict[int, int] = {}
    count = 0
    for batch in found.iter_batches(batch_format="pyarrow", batch_size=None):
        rows = np.column_stack([batch[c].to_numpy() for c in ("band", "i", "j")]).astype(np.int64)
        neg = rows[:, 0] < 0
        small.append(rows[neg])
        bands, counts = np.unique(rows[~neg, 0], return_counts=True)
        for b, c in zip(bands.tolist(), counts.tolist(), strict=True):
            per_band[b] = per_band.get(b, 0) + c
        count += int((~neg).sum())
        if pairs is not None and count <= cap:
            pairs.append(rows[~neg, 1:])
        else:
            pairs = None
    got = np.concatenate(small)
    kept = np.concatenate(pairs) if pairs is not None else None
    return (got[:, 0], got[:, 1], got[:, 2]), per_band, (kept[:, 0], kept[:, 1]) if kept is not None else None


def sig_bytes(options: dict[str, Any]) -> int:
    """Bytes of one signature (uint32 slots, the affine32 scheme both engines sketch with)."""
    return 4 * int(options["num_perm"])


def _signatures(sketched: ray.data.Dataset, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted ids, their signatures) of the `wanted` documents: one pass, only those rows come back."""
    ids, sigs = [np.zeros(0, np.int64)], [np.zeros((0, 1), np.uint32)]
    if len(wanted):
        for batch in sketched.map_batches(_pick, batch_format="pyarrow", fn_kwargs={"wanted": wanted}).iter_batches(
                batch_format="pyarrow", batch_size=None):
            ids.append(batch["doc"].to_numpy())
            sigs.append(matrix(batch["sig"]))
    got = np.concatenate(ids)
    order = np.argsort(got)
    stacked = np.concatenate([s for s in sigs if len(s)]) if len(got) else np.zeros((0, 1), np.uint32)
    return got[order], stacked[order]


def _verify_here(pairs: tuple[np.ndarray, ...], sketched: ray.data.Dataset,
                 threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """`lsh.pair_jaccard` of the candidate pairs on the driver, with only their documents' signatures.

    Why: a hash join costs two shuffles of every signature; when the candidates' signatures fit in
    `DRIVER_VERIFY_BYTES`, one pass that fetches just those is far cheaper (and the same arithmetic).
    """
    i, j = pairs
    ids, sig = _signatures(sketched, np.union1d(i, j))
    at = np.searchsorted(ids, np.column_stack([i, j]))
    keep = lsh.pair_jaccard(sig, at) >= threshold
    return i[keep], j[keep]


def _shuffle(rows: ray.data.Dataset, parts: int, collided: np.ndarray,
             remote: dict[str, Any]) -> ray.data.Dataset:
    """The hash shuffle on (kind, key) and `_partition` on each partition, materialized (spills when large)."""
    return (rows.repartition(parts, keys=["band", "key"], sort=True)
            .map_batches(_partition, batch_format="pyarrow", batch_size=None, fn_kwargs={"collided": collided},
                         **remote)
            .materialize())


def _partitions(size_bytes: int) -> int:
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    return int(min(max(cpus, math.ceil(size_bytes / PARTITION_BYTES)), _MAX_PARTITIONS))


def _join_signatures(pairs: ray.data.Dataset, sketched: ray.data.Dataset, parts: int) -> ray.data.Dataset:
    """Candidate pairs with both documents' signatures: two hash joins."""
    sig_i = sketched.map_batches(_signatures_as, batch_format="pyarrow", fn_kwargs={"name": "i"})
    sig_j = sketched.map_batches(_signatures_as, batch_format="pyarrow", fn_kwargs={"name": "j"})
    return pairs.join(sig_i, "inner", parts, on=("i",)).join(sig_j, "inner", parts, on=("j",))


def _edges(ds: ray.data.Dataset, *names: str) -> tuple[np.ndarray, ...]:
    """Integer columns streamed to the driver: edges of duplicates, small next to the corpus."""
    cols: list[list[np.ndarray]] = [[np.zeros(0, np.int64)] for _ in names]
    for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None):
        for got, name in zip(cols, names, strict=True):
            got.append(batch[name].to_numpy())
    return tuple(np.concatenate(c).astype(np.int64) for c in cols)
