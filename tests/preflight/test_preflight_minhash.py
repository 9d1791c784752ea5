# .venv/bin/python -m pytest tests/preflight/test_preflight_minhash.py -q
"""Signatures are bit-identical to datasketch's MinHash for the same shingles and hash function."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from picogate.preflight.minhash import (
    EMPTY_VALUE,
    jaccard,
    minhash_signatures,
    permutations,
    shingle_hashes,
    signatures_from_hashes,
)
from picogate.preflight.text import shingle_hash32, shingles

datasketch = pytest.importorskip("datasketch")
SCHEMES = ["affine32", "legacy"]


def _datasketch(items, num_perm, seed, scheme, hashfunc):
    m = datasketch.MinHash(num_perm=num_perm, seed=seed, hashfunc=hashfunc, scheme=scheme)
    m.update_batch(items)
    return m


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize(("num_perm", "seed"), [(1, 0), (128, 1), (200, 42)])
def test_permutations_equal_datasketch(scheme, num_perm, seed):
    a, b = permutations(num_perm, seed, scheme)
    ref = datasketch.MinHash(num_perm=num_perm, seed=seed, scheme=scheme).permutations
    assert np.array_equal(a, ref[0]) and np.array_equal(b, ref[1])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2**32 - 1), max_size=30), min_size=1, max_size=6),
       st.sampled_from(SCHEMES), st.integers(0, 2**31), st.integers(1, 40))
def test_bulk_signatures_equal_datasketch_on_random_hash_sets(sets, scheme, seed, num_perm):
    flat = np.array([h for s in sets for h in s], dtype=np.uint64)
    offsets = np.cumsum([0] + [len(s) for s in sets])
    sig = signatures_from_hashes(flat, offsets, num_perm=num_perm, seed=seed, scheme=scheme)
    for row, s in zip(sig, sets, strict=True):
        ref = _datasketch(s, num_perm, seed, scheme, hashfunc=lambda x: x)
        assert ref.hashvalues.dtype == row.dtype
        assert np.array_equal(ref.hashvalues, row)


_WORDS = st.sampled_from(["the", "cat", "sat", "on", "mat", "Dog!", "ÉTÉ", "a,b", "..."])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(_WORDS, max_size=25).map(" ".join), min_size=1, max_size=5),
       st.integers(1, 6), st.sampled_from(SCHEMES))
def test_text_signatures_equal_datasketch_with_same_hashfunc(texts, k, scheme):
    sig = minhash_signatures(texts, num_perm=32, seed=7, shingle_words=k, scheme=scheme)
    for row, t in zip(sig, texts, strict=True):
        ref = _datasketch(shingles(t, k), 32, 7, scheme, hashfunc=shingle_hash32)
        assert np.array_equal(ref.hashvalues, row)


def test_empty_documents_get_the_empty_minhash():
    sig = minhash_signatures(["", "?!", "real words here"], num_perm=16)
    assert (sig[:2] == EMPTY_VALUE).all()
    assert np.array_equal(sig[0], datasketch.MinHash(num_perm=16).hashvalues)


def test_signatures_load_into_datasketch_objects():
    texts = ["one two three four five six seven", "one two three four five six eight"]
    sig = minhash_signatures(texts, num_perm=64, shingle_words=2)
    ms = [datasketch.MinHash(num_perm=64, hashvalues=s, scheme="affine32") for s in sig]
    lean = datasketch.LeanMinHash(ms[0])
    assert lean.jaccard(datasketch.LeanMinHash(ms[1])) == pytest.approx(jaccard(sig[0], sig[1]))
    assert 0.4 < jaccard(sig[0], sig[1]) < 1.0


def test_threads_and_blocks_do_not_change_results():
    rng = np.random.default_rng(0)
    sizes = rng.integers(0, 400, 300)
    hashes = rng.integers(0, 2**32, int(sizes.sum()), dtype=np.uint64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    one = signatures_from_hashes(hashes, offsets, num_perm=96, threads=1)
    two = signatures_from_hashes(hashes, offsets, num_perm=96, threads=2)
    assert np.array_equal(one, two)


def test_shingle_hashes_offsets():
    hashes, offsets = shingle_hashes(["a b c", "", "d"], shingle_words=2)
    assert offsets.tolist() == [0, 2, 2, 3]
    assert hashes.tolist() == [shingle_hash32(s) for s in (b"a b", b"b c", b"d")]


@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(scheme="affine64"), "scheme must be one of"),
    (dict(num_perm=0), "num_perm"),
])
def test_bad_options_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        signatures_from_hashes(np.array([1]), np.array([0, 1]), **kwargs)


@pytest.mark.parametrize(("hashes", "offsets", "match"), [
    (np.array([2**32]), [0, 1], "32-bit"),
    (np.array([-1]), [0, 1], "32-bit"),
    (np.array([1, 2]), [0, 1], "end at len"),
    (np.array([1, 2]), [0, 2, 1, 2], "never decrease"),
    (np.array([1.5]), [0, 1], "integers"),
])
def test_bad_inputs_are_refused(hashes, offsets, match):
    with pytest.raises(ValueError, match=match):
        signatures_from_hashes(hashes, np.array(offsets))
