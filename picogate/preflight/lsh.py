"""LSH banding over MinHash signatures, and the exact/near-duplicate pressure metrics built on it.

Banding follows datasketch's `MinHashLSH`: band i is signature slots [i*r, (i+1)*r), two documents are
candidates when any band is equal, and (b, r) minimise the weighted false positive and false negative
probabilities for a Jaccard threshold. Buckets are found by sorting 64-bit band keys, not by Python
dicts, and a streaming corpus is sketched batch by batch (`sketch_batch`, `NearDupIndex`) so only
signatures and band keys, never the text, are kept.

Memory per document: 8 bytes per band, 8 for the exact hash and 8 for a whole-signature hash. The
signatures themselves (4 * num_perm bytes per document, 500 MB for a million documents at 128 slots)
are most of a sketch but are read back only for duplicates and LSH candidates, so `NearDupIndex` spills
them to a temp file (`SignatureFile`) and every step of `dedup_metrics` reads rows by index, in chunks.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import tempfile
from collections.abc import Iterable, Sequence

import numpy as np

from picogate.preflight.minhash import signatures_from_hashes
from picogate.preflight.text import document_hashes, fmix64_array, hash_words, window_hashes

# Odd 64-bit multipliers for the slots of a band; fixed so band keys are stable across batches.
_ROW_MULT = fmix64_array(np.arange(1, 1 << 12, dtype=np.uint64)) | np.uint64(1)
MAX_CANDIDATE_PAIRS = 50_000_000
_CHUNK_ROWS = 1 << 14  # signature rows read or compared at once: 8 MB at 128 slots


@functools.lru_cache(maxsize=256)
def optimal_param(threshold: float, num_perm: int, false_positive_weight: float = 0.5,
                  false_negative_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false positive + false negative area, as datasketch does.

    The probability that a pair of Jaccard s shares a band is 1 - (1 - s**r)**b, a polynomial of degree
    <= b*r <= num_perm, so Gauss-Legendre quadrature with num_perm/2 + 1 nodes integrates it exactly.

    >>> optimal_param(0.8, 128)
    (9, 13)
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be strictly between 0 and 1, got {threshold}")
    if not 2 <= num_perm <= 4096:
        raise ValueError(f"num_perm must be between 2 and 4096 for LSH, got {num_perm}")
    if abs(false_positive_weight + false_negative_weight - 1.0) > 1e-9:
        raise ValueError("false_positive_weight and false_negative_weight must sum to 1")
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 1)
    bands = np.concatenate([np.full(num_perm // b, b) for b in range(1, num_perm + 1)])
    rows = np.concatenate([np.arange(1, num_perm // b + 1) for b in range(1, num_perm + 1)])

    def area(lo: float, hi: float, positive: bool) -> np.ndarray:
        s = (hi - lo) / 2 * nodes + (hi + lo) / 2  # nodes mapped from [-1, 1] to [lo, hi]
        hit = 1.0 - (1.0 - s[None, :] ** rows[:, None]) ** bands[:, None]
        return (hit if positive else 1.0 - hit) @ weights * (hi - lo) / 2

    error = (area(0.0, threshold, True) * false_positive_weight
             + area(threshold, 1.0, False) * false_negative_weight)
    best = int(np.argmin(error))  # first minimum in datasketch's (b, r) loop order
    return int(bands[best]), int(rows[best])


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """A 64-bit key per (document, band): documents with an equal band get an equal key.

    >>> band_keys(np.array([[1, 2, 3, 4], [1, 2, 9, 9]]), 2, 2)[:, 0].tolist() == [band_keys(
    ...     np.array([[1, 2, 0, 0]]), 2, 2)[0, 0]] * 2
    True
    """
    signatures = np.asarray(signatures)
    if signatures.ndim != 2 or bands < 1 or rows < 1 or bands * rows > signatures.shape[1]:
        raise ValueError(f"need a 2-D signature array with at least bands*rows = {bands * rows} columns, "
                         f"got shape {signatures.shape}; lower bands or rows")
    keys = np.empty((len(signatures), bands), dtype=np.uint64)
    for lo in range(0, len(signatures), _CHUNK_ROWS):  # uint64 scratch of one chunk, not of the whole array
        for band in range(bands):
            block = signatures[lo : lo + _CHUNK_ROWS, band * rows : (band + 1) * rows].astype(np.uint64)
            block *= _ROW_MULT[:rows]
            keys[lo : lo + _CHUNK_ROWS, band] = fmix64_array(block.sum(axis=1, dtype=np.uint64))
    return keys


def candidate_pairs(keys: np.ndarray, max_pairs: int = MAX_CANDIDATE_PAIRS) -> np.ndarray:
    """All (i, j), i < j, sharing a key in some band column: MinHashLSH's candidates. Shape (m, 2), sorted.

    Work and memory grow with the pairs in each bucket, so more than `max_pairs` is refused up front.

    >>> candidate_pairs(np.array([[5, 1], [5, 2], [6, 2]], dtype=np.uint64)).tolist()
    [[0, 1], [1, 2]]
    """
    keys = np.asarray(keys)
    if keys.ndim != 2:
        raise ValueError(f"keys must be 2-D (documents x bands), got shape {keys.shape}")
    n = len(keys)
    found = [np.zeros((0, 2), dtype=np.int64)]
    for band in range(keys.shape[1]):  # one band's sort alive at a time: 16 bytes per document
        order = np.argsort(keys[:, band], kind="stable")
        sk = keys[order, band]
        runs = np.diff(np.flatnonzero(np.diff(sk, prepend=~sk[:1], append=~sk[-1:]) if n else []))
        if np.sum(runs * (runs - 1) // 2) > max_pairs:
            raise ValueError(f"a band groups more than {max_pairs} candidate pairs; raise the threshold, "
                             "use more rows per band, or remove boilerplate documents first")
        active, step = np.flatnonzero(sk[1:] == sk[:-1]), 1
        while len(active):  # sorted: sk[p] == sk[p + step] only if it also held for step - 1
            found.append(np.stack([order[active], order[active + step]], axis=1))
            step += 1
            active = active[active + step < n]
            active = active[sk[active + step] == sk[active]]
    pairs = np.sort(np.concatenate(found), axis=1)
    code = np.unique(pairs[:, 0] * max(n, 1) + pairs[:, 1])
    return np.stack([code // max(n, 1), code % max(n, 1)], axis=1)


def pair_jaccard(signatures: np.ndarray | SignatureFile, pairs: np.ndarray) -> np.ndarray:
    """Estimated Jaccard (share of equal slots) of each pair, in chunks to bound the scratch memory.

    From a `SignatureFile`, each row a pair names is read once (one pass over the file), not per pair.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if not isinstance(signatures, np.ndarray):
        need = np.unique(pairs)
        signatures, pairs = signatures[need], np.searchsorted(need, pairs)
    out = np.empty(len(pairs), dtype=np.float64)
    for lo in range(0, len(pairs), _CHUNK_ROWS):
        p = pairs[lo : lo + _CHUNK_ROWS]
        out[lo : lo + len(p)] = np.mean(signatures[p[:, 0]] == signatures[p[:, 1]], axis=1)
    return out


def _rows_equal(signatures: np.ndarray | SignatureFile, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether row a[i] equals row b[i], for ascending `a`: the distinct `b` rows are read once, `a` in chunks.

    Why: many copies of few documents (boilerplate) then cost memory for the few, not the copies.
    """
    want = np.unique(b)
    rows_b = signatures[want]
    out = np.empty(len(a), dtype=bool)
    for lo in range(0, len(a), _CHUNK_ROWS):
        hi = min(lo + _CHUNK_ROWS, len(a))
        out[lo:hi] = np.all(signatures[a[lo:hi]] == rows_b[np.searchsorted(want, b[lo:hi])], axis=1)
    return out


class SignatureFile:
    """MinHash signatures appended to an unnamed temp file; rows are read back by index, never all at once.

    Why: signatures are 4 * num_perm bytes a document, most of a corpus sketch, yet `dedup_metrics` reads
    only the rows of duplicates and LSH candidates. The file lives in `tempfile.gettempdir()` (TMPDIR) and
    is deleted when closed or collected; point TMPDIR at a disk where /tmp is RAM-backed.

    >>> f = SignatureFile(3, np.uint32)
    >>> f.append(np.arange(6, dtype=np.uint32).reshape(2, 3))
    >>> f[np.array([1, 0, 1])].tolist(), f.shape
    ([[3, 4, 5], [0, 1, 2], [3, 4, 5]], (2, 3))
    """

    def __init__(self, num_perm: int, dtype: np.dtype | type, directory: str | None = None) -> None:
        self.dtype = np.dtype(dtype)
        self._width = num_perm
        self._rows = 0
        # Not a with-block: the file lives as long as this object (close() or collection deletes it).
        self._file = tempfile.TemporaryFile(prefix="picogate-minhash-", dir=directory)  # noqa: SIM115

    @property
    def shape(self) -> tuple[int, int]:
        return self._rows, self._width

    def __len__(self) -> int:
        return self._rows

    def append(self, signatures: np.ndarray) -> None:
        """Add rows at the end (rows are numbered in the order they were appended)."""
        if signatures.ndim != 2 or signatures.shape[1] != self._width or signatures.dtype != self.dtype:
            raise ValueError(f"expected ({self._width},)-wide {self.dtype} rows, got {signatures.dtype} "
                             f"{signatures.shape}; every batch must use the same num_perm and scheme")
        self._file.seek(self._rows * self._width * self.dtype.itemsize)
        self._file.write(np.ascontiguousarray(signatures).data)
        self._rows += len(signatures)

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        """Rows at the given positions (like numpy fancy indexing), reading each distinct row once."""
        index = np.asarray(index, dtype=np.int64)
        flat = index.ravel()
        if len(flat) and (flat.min() < 0 or flat.max() >= self._rows):
            raise IndexError(f"row index out of range for {self._rows} signatures")
        want, inverse = np.unique(flat, return_inverse=True)
        ordered = len(want) == len(flat) and bool(np.all(want == flat))  # already ascending: no reordering copy
        out = np.empty((len(want), self._width), dtype=self.dtype)
        row_bytes = self._width * self.dtype.itemsize
        # Ascending rows, read as spans of at most _CHUNK_ROWS: one pass over the file at most, bounded scratch.
        bounds = np.append(np.flatnonzero(np.diff(want // _CHUNK_ROWS, prepend=-1)), len(want))
        for lo, hi in itertools.pairwise(bounds.tolist()):
            first = int(want[lo])
            span = np.empty((int(want[hi - 1]) - first + 1, self._width), dtype=self.dtype)
            self._file.seek(first * row_bytes)
            if self._file.readinto(span.data) != span.nbytes:
                raise OSError("the signature spill file was truncated")
            out[lo:hi] = span[want[lo:hi] - first]
        return (out if ordered else out[inverse]).reshape(*index.shape, self._width)

    def close(self) -> None:
        self._file.close()


def _components(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Connected components of an edge list: each node's label is the smallest node of its component."""
    parent = np.arange(n)
    while True:
        while not np.array_equal(parent[parent], parent):  # pointer jumping: every node to its root
            parent = parent[parent]
        pu, pv = parent[u], parent[v]
        if np.array_equal(pu, pv):
            return parent
        np.minimum.at(parent, np.maximum(pu, pv), np.minimum(pu, pv))


def representatives(row_hashes: np.ndarray, signatures: np.ndarray | SignatureFile,
                    rows: np.ndarray | None = None) -> np.ndarray:
    """Each document's first document (position) with an identical signature; itself when it has none.

    Why: documents with identical signatures are one node for LSH, so a thousand copies cost no million
    pairs. Equal 64-bit `row_hashes` propose a representative; the signatures (row `rows[p]` for position
    p) confirm it, so a hash collision leaves a document its own representative. Both engines call this:
    the local one on the whole corpus, the Ray one on each group of equal row hashes (same answer).

    >>> representatives(np.array([5, 7, 5], dtype=np.uint64), np.array([[1, 2], [3, 4], [1, 2]])).tolist()
    [0, 1, 0]
    """
    positions = np.arange(len(row_hashes))
    rows = positions if rows is None else rows
    _, rep_first, rep_inv = np.unique(row_hashes, return_index=True, return_inverse=True)
    rep_of = rep_first[rep_inv]
    merged = np.flatnonzero(rep_of != positions)  # only these need the full comparison
    collided = merged[~_rows_equal(signatures, rows[merged], rows[rep_of[merged]])]  # 64-bit row-hash collision
    rep_of[collided] = collided
    return rep_of


def near_dup_clusters(n: int, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(label, duplicates, cluster count) of a near-duplicate graph over nodes 0..n-1 given as edges u-v.

    A node's label is the smallest node of its component; duplicates are the nodes that are not their
    component's smallest (ascending), and a cluster is a component with at least one duplicate. Both
    engines form clusters here, so a cluster is the same whichever engine found its edges.

    >>> near_dup_clusters(4, np.array([2, 3]), np.array([0, 2]))[1:]
    (array([2, 3]), 1)
    """
    label = _components(n, u, v)
    dups = np.flatnonzero(label != np.arange(n))
    return label, dups, len(np.unique(label[dups]))


@dataclasses.dataclass(frozen=True)
class DedupSketch:
    """What a batch (or partition) contributes to the dedup metrics; merge with `merge_sketches`."""

    doc_hashes: np.ndarray  # uint64, normalized-text hash per document
    has_shingles: np.ndarray  # bool, False for documents with no words
    signatures: np.ndarray | SignatureFile  # (n, num_perm), read only by row index
    keys: np.ndarray  # (n, bands) uint64
    rows: int  # signature slots per band
    ids: Sequence = dataclasses.field(default_factory=list)  # a range when ids are stream positions
    row_hashes: np.ndarray | None = None  # uint64 hash of each whole signature: equal rows, equal hash


def sketch_batch(texts: Sequence[str], ids: Sequence | None = None, *, threshold: float = 0.8,
                 num_perm: int = 128, seed: int = 1, shingle_words: int = 5, scheme: str = "affine32",
                 bands: int | None = None, rows: int | None = None, threads: int | None = None) -> DedupSketch:
    """Sketch one batch of documents: exact hashes, MinHash signatures and LSH band keys.

    `threads` caps the signature step's threads (default: one per core); a task that was given one core
    (a Ray worker) passes 1, so two workers on two cores do not run four threads."""
    if ids is not None and len(ids) != len(texts):
        raise ValueError(f"got {len(ids)} ids for {len(texts)} texts; pass one id per text or none")
    if (bands is None) != (rows is None):
        raise ValueError("give both bands and rows, or neither to derive them from threshold")
    if bands is None or rows is None:
        bands, rows = optimal_param(threshold, num_perm)
    words = hash_words(texts)
    hashes, doc = window_hashes(words, shingle_words, short_docs=True)
    offsets = np.searchsorted(doc, np.arange(len(texts) + 1)).astype(np.int64)
    sig = signatures_from_hashes((hashes >> np.uint64(32)).astype(np.uint32), offsets, num_perm=num_perm,
                                 seed=seed, scheme=scheme, threads=threads)
    return DedupSketch(document_hashes(words), np.diff(words.offsets) > 0, sig, band_keys(sig, bands, rows),
                       rows, list(ids) if ids is not None else range(len(texts)),
                       band_keys(sig, 1, num_perm)[:, 0])


def merge_sketches(sketches: Iterable[DedupSketch]) -> DedupSketch:
    """Concatenate sketches in stream order (earlier documents count as the originals)."""
    parts = list(sketches)
    if not parts:
        raise ValueError("no sketches to merge: the corpus had no batches")
    return _merge(parts, np.concatenate([p.signatures for p in parts]))


def _merge(parts: Sequence[DedupSketch], signatures: np.ndarray | SignatureFile) -> DedupSketch:
    doc_hashes, has_shingles, keys, row_hashes = (np.concatenate([getattr(p, f) for p in parts])
                                                  for f in ("doc_hashes", "has_shingles", "keys", "row_hashes"))
    return DedupSketch(doc_hashes, has_shingles, signatures, keys, parts[0].rows, _join_ids([p.ids for p in parts]),
                       row_hashes)


def _join_ids(parts: Sequence[Sequence]) -> Sequence:
    """One id sequence; stays a range (no per-document Python objects) while every part is the next positions."""
    count = 0
    for p in parts:
        if not (isinstance(p, range) and p.step == 1 and p.start == count):
            return [i for q in parts for i in q]
        count = p.stop
    return range(count)


def dedup_metrics(sketch: DedupSketch, *, threshold: float = 0.8, max_examples: int = 5) -> dict:
    """Exact- and near-duplicate pressure of a sketched corpus.

    `exact_dup_rate`: share of documents whose normalized text equals an earlier document's.
    `near_dup_rate`: share of documents in a near-duplicate cluster beyond its first member, where
    clusters join LSH candidates with estimated Jaccard >= threshold (exact duplicates included; documents
    without words are left out). Examples are (id, id of the earlier document, Jaccard) triples.
    """
    n = len(sketch.doc_hashes)
    _, first, inverse = np.unique(sketch.doc_hashes, return_index=True, return_inverse=True)
    exact = np.flatnonzero(first[inverse] != np.arange(n))
    # Below, positions count documents with words (sig is only ever read at idx[positions], by chunks).
    idx = np.flatnonzero(sketch.has_shingles)
    sig = sketch.signatures
    row_hashes = sketch.row_hashes if sketch.row_hashes is not None else band_keys(sig, 1, sig.shape[1])[:, 0]
    rep_of = representatives(row_hashes[idx], sig, idx)
    reps = np.unique(rep_of)
    keys = sketch.keys if len(reps) == n else sketch.keys[idx[reps]]  # no copy when every document is a rep
    pairs = reps[candidate_pairs(keys)] if len(reps) else np.zeros((0, 2), dtype=np.int64)
    sim = pair_jaccard(sig, idx[pairs])
    near = pairs[sim >= threshold]
    label, dups, clusters = near_dup_clusters(len(idx), np.concatenate([near[:, 0], np.arange(len(idx))]),
                                              np.concatenate([near[:, 1], rep_of]))
    ids = sketch.ids
    shown = dups[:max_examples]
    ex_sim = pair_jaccard(sig, np.stack([idx[shown], idx[label[shown]]], axis=1))
    ex_near = [(ids[idx[d]], ids[idx[label[d]]], float(j)) for d, j in zip(shown, ex_sim, strict=True)]
    return {
        "documents": n,
        "empty_documents": int(n - len(idx)),
        "exact_dup_count": len(exact),
        "exact_dup_rate": len(exact) / n if n else 0.0,
        "exact_dup_examples": [(ids[d], ids[first[inverse[d]]]) for d in exact[:max_examples]],
        "near_dup_count": len(dups),
        "near_dup_rate": len(dups) / n if n else 0.0,
        "near_dup_clusters": clusters,
        "near_dup_examples": ex_near,
        "candidate_pairs_distinct": len(pairs),
        "threshold": threshold,
        "num_perm": int(sketch.signatures.shape[1]),
        "bands": int(sketch.keys.shape[1]),
        "rows": sketch.rows,
    }


class NearDupIndex:
    """Streaming front end: `add` batches of text, then read `metrics()`; holds sketches, not text.

    Each batch's signatures go straight to a `SignatureFile` (in `spill_dir`, default TMPDIR), so RAM grows
    by 8 * (bands + 2) bytes a document (88 at 128 slots and 9 bands), not by 4 * num_perm more.

    >>> index = NearDupIndex(threshold=0.5, num_perm=64)
    >>> index.add(["a b c d e f g", "A b c d e f g!", "something else entirely here"])
    >>> index.metrics()["exact_dup_count"]
    1
    """

    def __init__(self, *, threshold: float = 0.8, num_perm: int = 128, seed: int = 1, shingle_words: int = 5,
                 scheme: str = "affine32", bands: int | None = None, rows: int | None = None,
                 spill_dir: str | None = None) -> None:
        self.threshold = threshold
        self._options = dict(threshold=threshold, num_perm=num_perm, seed=seed, shingle_words=shingle_words,
                             scheme=scheme, bands=bands, rows=rows)
        self._spill_dir = spill_dir
        self._signatures: SignatureFile | None = None
        self._parts: list[DedupSketch] = []
        self._count = 0

    def add(self, texts: Sequence[str], ids: Sequence | None = None) -> None:
        """Sketch one batch; ids default to the running position of each document in the stream."""
        if isinstance(texts, str):
            raise ValueError("add takes a batch (a sequence of texts); wrap a single text in a list")
        part = sketch_batch(texts, ids, **self._options)
        if self._signatures is None:
            self._signatures = SignatureFile(part.signatures.shape[1], part.signatures.dtype, self._spill_dir)
        self._signatures.append(part.signatures)
        ids = range(self._count, self._count + len(texts)) if ids is None else part.ids
        self._parts.append(dataclasses.replace(part, signatures=self._signatures, ids=ids))
        self._count += len(texts)

    def sketch(self) -> DedupSketch:
        """The stream's sketch: the small arrays merged once (and kept merged), signatures left in the file."""
        if self._signatures is None:
            return sketch_batch([], [], **self._options)
        if len(self._parts) > 1:
            self._parts = [_merge(self._parts, self._signatures)]
        return self._parts[0]

    def metrics(self, max_examples: int = 5) -> dict:
        return dedup_metrics(self.sketch(), threshold=self.threshold, max_examples=max_examples)
