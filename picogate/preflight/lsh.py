"""LSH banding over MinHash signatures, and the exact/near-duplicate pressure metrics built on it.

Banding follows datasketch's `MinHashLSH`: band i is signature slots [i*r, (i+1)*r), two documents are
candidates when any band is equal, and (b, r) minimise the weighted false positive and false negative
probabilities for a Jaccard threshold. Buckets are found by sorting 64-bit band keys, not by Python
dicts, and a streaming corpus is sketched batch by batch (`sketch_batch`, `NearDupIndex`) so only
signatures and band keys, never the text, are kept.

Memory per document: 4 * num_perm bytes of signature (affine32), 8 per band, 8 for the exact hash.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from picogate.preflight.minhash import signatures_from_hashes
from picogate.preflight.text import document_hashes, fmix64_array, hash_words, window_hashes

# Odd 64-bit multipliers for the slots of a band; fixed so band keys are stable across batches.
_ROW_MULT = fmix64_array(np.arange(1, 1 << 12, dtype=np.uint64)) | np.uint64(1)
MAX_CANDIDATE_PAIRS = 50_000_000


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
    for band in range(bands):
        block = signatures[:, band * rows : (band + 1) * rows].astype(np.uint64)
        keys[:, band] = fmix64_array((block * _ROW_MULT[:rows]).sum(axis=1, dtype=np.uint64))
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
    sorted_cols = []
    for band in range(keys.shape[1]):
        order = np.argsort(keys[:, band], kind="stable")
        sk = keys[order, band]
        runs = np.diff(np.flatnonzero(np.diff(sk, prepend=~sk[:1], append=~sk[-1:]) if n else []))
        if np.sum(runs * (runs - 1) // 2) > max_pairs:
            raise ValueError(f"a band groups more than {max_pairs} candidate pairs; raise the threshold, "
                             "use more rows per band, or remove boilerplate documents first")
        sorted_cols.append((order, sk))
    found = [np.zeros((0, 2), dtype=np.int64)]
    for order, sk in sorted_cols:
        active, step = np.flatnonzero(sk[1:] == sk[:-1]), 1
        while len(active):  # sorted: sk[p] == sk[p + step] only if it also held for step - 1
            found.append(np.stack([order[active], order[active + step]], axis=1))
            step += 1
            active = active[active + step < n]
            active = active[sk[active + step] == sk[active]]
    pairs = np.sort(np.concatenate(found), axis=1)
    code = np.unique(pairs[:, 0] * max(n, 1) + pairs[:, 1])
    return np.stack([code // max(n, 1), code % max(n, 1)], axis=1)


def pair_jaccard(signatures: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Estimated Jaccard (share of equal slots) of each pair, in chunks to bound the scratch memory."""
    out = np.empty(len(pairs), dtype=np.float64)
    for lo in range(0, len(pairs), 1 << 16):
        p = pairs[lo : lo + (1 << 16)]
        out[lo : lo + len(p)] = np.mean(signatures[p[:, 0]] == signatures[p[:, 1]], axis=1)
    return out


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


@dataclass(frozen=True)
class DedupSketch:
    """What a batch (or partition) contributes to the dedup metrics; merge with `merge_sketches`."""

    doc_hashes: np.ndarray  # uint64, normalized-text hash per document
    has_shingles: np.ndarray  # bool, False for documents with no words
    signatures: np.ndarray  # (n, num_perm)
    keys: np.ndarray  # (n, bands) uint64
    rows: int  # signature slots per band
    ids: list = field(default_factory=list)


def sketch_batch(texts: Sequence[str], ids: Sequence | None = None, *, threshold: float = 0.8,
                 num_perm: int = 128, seed: int = 1, shingle_words: int = 5, scheme: str = "affine32",
                 bands: int | None = None, rows: int | None = None) -> DedupSketch:
    """Sketch one batch of documents: exact hashes, MinHash signatures and LSH band keys."""
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
                                 seed=seed, scheme=scheme)
    return DedupSketch(document_hashes(words), np.diff(words.offsets) > 0, sig, band_keys(sig, bands, rows),
                       rows, list(ids) if ids is not None else list(range(len(texts))))


def merge_sketches(sketches: Iterable[DedupSketch]) -> DedupSketch:
    """Concatenate sketches in stream order (earlier documents count as the originals)."""
    parts = list(sketches)
    if not parts:
        raise ValueError("no sketches to merge: the corpus had no batches")
    return DedupSketch(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                         ("doc_hashes", "has_shingles", "signatures", "keys")),
                       parts[0].rows, [i for p in parts for i in p.ids])


def dedup_metrics(sketch: DedupSketch, *, threshold: float = 0.8, max_examples: int = 5) -> dict:
    """Exact- and near-duplicate pressure of a sketched corpus.

    `exact_dup_rate`: share of documents whose normalized text equals an earlier document's.
    `near_dup_rate`: share of documents in a near-duplicate cluster beyond its first member, where
    clusters join LSH candidates with estimated Jaccard >= threshold (exact duplicates included; documents
    without words are left out). Examples are (id, id of the earlier document, Jaccard) triples.
    """
    n = len(sketch.doc_hashes)
    _, first = np.unique(sketch.doc_hashes, return_index=True)
    _, inverse = np.unique(sketch.doc_hashes, return_inverse=True)
    exact = np.flatnonzero(first[inverse] != np.arange(n))
    # Documents with identical signatures are one node for LSH: a thousand copies cost no million pairs.
    idx = np.flatnonzero(sketch.has_shingles)
    # a view, not a copy, in the common case: signatures are the one large array held here
    sig = sketch.signatures if len(idx) == n else sketch.signatures[idx]
    row_hash = band_keys(sig, 1, sig.shape[1])[:, 0] if len(idx) else np.zeros(0, dtype=np.uint64)
    _, rep_first, rep_inv = np.unique(row_hash, return_index=True, return_inverse=True)
    rep_of = rep_first[rep_inv]
    merged = np.flatnonzero(rep_of != np.arange(len(idx)))  # only these need the full comparison
    collided = merged[~np.all(sig[merged] == sig[rep_of[merged]], axis=1)]  # 64-bit row-hash collision
    rep_of[collided] = collided
    reps = np.unique(rep_of)
    pairs = reps[candidate_pairs(sketch.keys[idx][reps])] if len(reps) else np.zeros((0, 2), dtype=np.int64)
    sim = pair_jaccard(sig, pairs)
    near = pairs[sim >= threshold]
    label = _components(len(idx), np.concatenate([near[:, 0], np.arange(len(idx))]),
                        np.concatenate([near[:, 1], rep_of]))
    dups = np.flatnonzero(label != np.arange(len(idx)))
    clusters = len(np.unique(label[dups]))
    ids = sketch.ids
    ex_near = [(ids[idx[d]], ids[idx[label[d]]], float(np.mean(sig[d] == sig[label[d]])))
               for d in dups[:max_examples]]
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

    >>> index = NearDupIndex(threshold=0.5, num_perm=64)
    >>> index.add(["a b c d e f g", "A b c d e f g!", "something else entirely here"])
    >>> index.metrics()["exact_dup_count"]
    1
    """

    def __init__(self, *, threshold: float = 0.8, num_perm: int = 128, seed: int = 1, shingle_words: int = 5,
                 scheme: str = "affine32", bands: int | None = None, rows: int | None = None) -> None:
        self.threshold = threshold
        self._options = dict(threshold=threshold, num_perm=num_perm, seed=seed, shingle_words=shingle_words,
                             scheme=scheme, bands=bands, rows=rows)
        self._sketches: list[DedupSketch] = []
        self._count = 0

    def add(self, texts: Sequence[str], ids: Sequence | None = None) -> None:
        """Sketch one batch; ids default to the running position of each document in the stream."""
        if isinstance(texts, str):
            raise ValueError("add takes a batch (a sequence of texts); wrap a single text in a list")
        ids = list(range(self._count, self._count + len(texts))) if ids is None else ids
        self._sketches.append(sketch_batch(texts, ids, **self._options))
        self._count += len(texts)

    def sketch(self) -> DedupSketch:
        # merge once and keep only the merged arrays, so memory holds one copy of the signatures
        merged = merge_sketches(self._sketches or [sketch_batch([], [], **self._options)])
        self._sketches = [merged]
        return merged

    def metrics(self, max_examples: int = 5) -> dict:
        return dedup_metrics(self.sketch(), threshold=self.threshold, max_examples=max_examples)
