# .venv/bin/python -m pytest tests/preflight/test_preflight_lsh.py -q
"""LSH banding agrees with datasketch's MinHashLSH; the dedup metrics count what was planted."""

import dataclasses
import itertools
import random
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from picogate.preflight.lsh import (
    NearDupIndex,
    SignatureFile,
    _components,
    band_keys,
    candidate_pairs,
    dedup_metrics,
    merge_sketches,
    optimal_param,
    pair_jaccard,
    sketch_batch,
)
from picogate.preflight.minhash import minhash_signatures
from picogate.preflight.text import shingle_hash32, shingles

VOCAB = [f"w{i}" for i in range(2000)]


def planted_corpus(n_docs: int, seed: int = 0) -> tuple[list[str], set[int], set[int]]:
    """Random 60-word documents; every 10th is an exact copy, every 10th+5 a one-word edit of an earlier one."""
    rng = random.Random(seed)
    docs, exact, near = [], set(), set()
    for i in range(n_docs):
        if i >= 10 and i % 10 == 0:
            docs.append(docs[rng.randrange(i)].upper() + " !!")  # equal after normalization
            exact.add(i)
        elif i >= 10 and i % 10 == 5:
            words = docs[rng.randrange(i)].split()
            words[rng.randrange(len(words))] = rng.choice(VOCAB)
            docs.append(" ".join(words))
            near.add(i)
        else:
            docs.append(" ".join(rng.choices(VOCAB, k=60)))
    return docs, exact, near


@pytest.mark.parametrize(("threshold", "num_perm", "weights"), [
    (0.5, 64, (0.5, 0.5)), (0.8, 128, (0.5, 0.5)), (0.9, 256, (0.5, 0.5)), (0.7, 128, (0.3, 0.7)),
])
def test_optimal_param_equals_datasketch(threshold, num_perm, weights):
    lsh = pytest.importorskip("datasketch.lsh")
    assert optimal_param(threshold, num_perm, *weights) == lsh._optimal_param(threshold, num_perm, *weights)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), max_size=30))
def test_candidate_pairs_equal_brute_force(rows):
    keys = np.array(rows, dtype=np.uint64).reshape(-1, 2)
    expected = sorted((i, j) for i, j in itertools.combinations(range(len(rows)), 2)
                      if rows[i][0] == rows[j][0] or rows[i][1] == rows[j][1])
    assert [tuple(p) for p in candidate_pairs(keys).tolist()] == expected


def test_candidate_pairs_equal_datasketch_minhashlsh():
    datasketch = pytest.importorskip("datasketch")
    docs, _, _ = planted_corpus(300)
    b, r = optimal_param(0.8, 128)
    sig = minhash_signatures(docs, num_perm=128, shingle_words=3)
    ours = {tuple(p) for p in candidate_pairs(band_keys(sig, b, r)).tolist()}
    lsh = datasketch.MinHashLSH(threshold=0.8, num_perm=128)
    mhs = [datasketch.MinHash(num_perm=128, hashfunc=shingle_hash32) for _ in docs]
    for i, (m, d) in enumerate(zip(mhs, docs, strict=True)):
        m.update_batch(shingles(d, 3))
        lsh.insert(i, m)
    theirs = {(min(i, j), max(i, j)) for i, m in enumerate(mhs) for j in lsh.query(m) if i != j}
    assert ours == theirs and len(ours) >= 50


def test_metrics_find_planted_duplicates_and_stream_equals_one_batch():
    docs, exact, near = planted_corpus(400)
    whole = dedup_metrics(sketch_batch(docs, shingle_words=3), threshold=0.8)
    assert whole["exact_dup_count"] == len(exact)
    # A one-word edit changes 3 of 58 shingles (Jaccard ~0.9): LSH at 0.8 finds ~93% of such pairs.
    # Exact copies are always found and random documents never pass, so the count is bounded both ways.
    assert len(exact) + 0.85 * len(near) <= whole["near_dup_count"] <= len(exact) + len(near)
    assert whole["near_dup_rate"] == whole["near_dup_count"] / 400
    index = NearDupIndex(threshold=0.8, shingle_words=3)
    for lo in range(0, 400, 64):
        index.add(docs[lo : lo + 64])
    streamed = index.metrics()
    assert streamed == whole
    dup, original = streamed["exact_dup_examples"][0]
    assert dup in exact and docs[dup].lower().rstrip(" !") == docs[original]


def test_empty_and_repeated_documents():
    docs = ["", "", "same words in here", "SAME words in here", "other"] + ["same words in here"] * 50
    m = NearDupIndex(threshold=0.9, num_perm=64)
    m.add(docs, ids=[f"d{i}" for i in range(len(docs))])
    out = m.metrics()
    assert out["empty_documents"] == 2
    assert out["exact_dup_count"] == 1 + 1 + 50  # the second empty doc and 51 copies
    assert out["near_dup_count"] == 51 and out["near_dup_clusters"] == 1
    assert out["near_dup_examples"][0] == ("d3", "d2", 1.0)
    assert NearDupIndex().metrics()["documents"] == 0


def test_explicit_bands_and_rows_and_merge():
    a = sketch_batch(["a b c d e f"], bands=4, rows=8, num_perm=64)
    b = sketch_batch(["a b c d e g"], ["x"], bands=4, rows=8, num_perm=64)
    merged = merge_sketches([a, b])
    assert merged.ids == [0, "x"] and merged.keys.shape == (2, 4) and merged.rows == 8


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40))))
def test_components_equal_simple_union_find(case):
    n, edges = case
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for u, v in edges:
        ru, rv = find(u), find(v)
        parent[max(ru, rv)] = min(ru, rv)
    u = np.array([e[0] for e in edges], dtype=np.int64)
    v = np.array([e[1] for e in edges], dtype=np.int64)
    assert _components(n, u, v).tolist() == [find(x) for x in range(n)]


def brute_force_near_dups(docs: list[str], threshold: float, shingle_words: int) -> tuple[int, int, dict]:
    """All pairs, no shortcuts: join two documents with words when they share a band and Jaccard >= threshold."""
    sig = minhash_signatures(docs, shingle_words=shingle_words)
    keys = band_keys(sig, *optimal_param(threshold, 128))
    words = np.array([any(c.isalnum() for c in d) for d in docs])
    sim = (sig[:, None, :] == sig[None, :, :]).mean(axis=2)
    edge = (keys[:, None, :] == keys[None, :, :]).any(axis=2) & (sim >= threshold) & words[:, None] & words[None, :]
    label = _components(len(docs), *np.nonzero(np.triu(edge, 1)))
    dups = [d for d in range(len(docs)) if words[d] and label[d] != d]
    return len(dups), len({label[d] for d in dups}), {d: (int(label[d]), float(sim[d, label[d]])) for d in dups}


@pytest.mark.parametrize("seed", [0, 1])
def test_streamed_metrics_equal_all_pairs_brute_force(seed):
    docs, _, _ = planted_corpus(300, seed)
    docs += ["", "...", docs[3], docs[3].upper()] + [docs[7]] * 20  # empty documents and many exact copies
    count, clusters, dups = brute_force_near_dups(docs, 0.8, 3)
    index = NearDupIndex(threshold=0.8, shingle_words=3)
    for lo in range(0, len(docs), 50):
        index.add(docs[lo : lo + 50])
    m = index.metrics(max_examples=len(docs))
    assert (m["near_dup_count"], m["near_dup_clusters"]) == (count, clusters) and count >= 40
    assert {d: (o, j) for d, o, j in m["near_dup_examples"]} == dups
    assert m["empty_documents"] == 2


def test_spilled_legacy_scheme_equals_in_memory():
    docs, _, _ = planted_corpus(200, seed=3)
    index = NearDupIndex(threshold=0.7, num_perm=64, scheme="legacy", shingle_words=3)
    for lo in range(0, len(docs), 64):
        index.add(docs[lo : lo + 64])
    assert index.sketch().signatures.dtype == np.uint64
    whole = dedup_metrics(sketch_batch(docs, threshold=0.7, num_perm=64, scheme="legacy", shingle_words=3),
                          threshold=0.7, max_examples=100)
    assert index.metrics(max_examples=100) == whole and whole["near_dup_count"] >= 30


def test_row_hash_collisions_are_verified_not_trusted():
    docs, _, _ = planted_corpus(200)
    docs += [docs[9]] * 5
    sketch = sketch_batch(docs, shingle_words=3)
    # every document collides on a zero row hash: only the full-signature comparison can tell them apart
    collided = dedup_metrics(dataclasses.replace(sketch, row_hashes=np.zeros_like(sketch.row_hashes)),
                             max_examples=50)
    true = dedup_metrics(sketch, max_examples=50)
    # Colliding copies each stay their own LSH node (more candidate pairs, all at Jaccard 1): same clusters.
    assert collided.pop("candidate_pairs_distinct") > true.pop("candidate_pairs_distinct")
    assert collided == true and true["near_dup_count"] >= 25


def test_signature_file_reads_rows_like_numpy_indexing():
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 1 << 32, (40_000, 3), dtype=np.uint64).astype(np.uint32)  # spans 3 read chunks
    store = SignatureFile(3, np.uint32)
    for lo in range(0, len(rows), 7_000):
        store.append(rows[lo : lo + 7_000])
    assert store.shape == rows.shape and len(store) == len(rows)
    for index in (rng.integers(0, len(rows), 500), np.array([16_384, 16_383, 0, 39_999, 16_383]),
                  rng.integers(0, len(rows), (20, 2)), np.zeros(0, dtype=np.int64)):
        assert np.array_equal(store[index], rows[index])
    pairs = rng.integers(0, len(rows), (1_000, 2))
    assert np.array_equal(pair_jaccard(store, pairs), pair_jaccard(rows, pairs))
    with pytest.raises(IndexError):
        store[np.array([40_000])]
    with pytest.raises(ValueError, match="same num_perm"):
        store.append(rows[:2].astype(np.uint64))


def test_memory_per_document_is_bounded_without_signatures():
    """Streaming keeps ~8 bytes per band plus 17 per document in RAM; metrics never load every signature."""
    rng = random.Random(0)
    docs = [" ".join(rng.choices(VOCAB, k=60)) for _ in range(20_000)]
    docs += docs[:2_000]
    NearDupIndex(shingle_words=3).add(docs[:1_000])  # warm caches so only the index is measured
    index = NearDupIndex(shingle_words=3)
    tracemalloc.start()
    try:
        for lo in range(0, len(docs), 1_000):
            index.add(docs[lo : lo + 1_000])
        sketch = index.sketch()
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        m = index.metrics()
        metrics_peak = tracemalloc.get_traced_memory()[1] - held
    finally:
        tracemalloc.stop()
    bands = sketch.keys.shape[1]
    assert isinstance(sketch.signatures, SignatureFile) and sketch.ids == range(len(docs))
    assert held / len(docs) < 8 * (bands + 2) + 1 + 16
    assert metrics_peak / len(docs) < 4 * 128  # less than the signatures' own size
    assert m["exact_dup_count"] == m["near_dup_count"] == 2_000


def test_ids_mix_given_and_default_positions():
    index = NearDupIndex(num_perm=64)
    index.add(["one two three", "four five six"], ids=["a", "b"])
    index.add(["seven eight nine", "one two three"])
    out = index.metrics()
    assert index.sketch().ids == ["a", "b", 2, 3]
    assert out["exact_dup_examples"] == [(3, "a")]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="between 0 and 1"):
        optimal_param(1.0, 128)
    with pytest.raises(ValueError, match="lower bands or rows"):
        band_keys(np.zeros((2, 8), dtype=np.uint32), 3, 3)
    with pytest.raises(ValueError, match="both bands and rows"):
        sketch_batch(["a"], bands=4)
    with pytest.raises(ValueError, match="one id per text"):
        sketch_batch(["a", "b"], ["only one"])
    with pytest.raises(ValueError, match="candidate pairs"):
        candidate_pairs(np.zeros((100, 1), dtype=np.uint64), max_pairs=10)
    with pytest.raises(ValueError, match="wrap a single text"):
        NearDupIndex().add("a text")
