# .venv/bin/python -m pytest tests/preflight/test_preflight_lsh.py -q
"""LSH banding agrees with datasketch's MinHashLSH; the dedup metrics count what was planted."""

import itertools
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from picogate.preflight.lsh import (
    NearDupIndex,
    _components,
    band_keys,
    candidate_pairs,
    dedup_metrics,
    merge_sketches,
    optimal_param,
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
