# .venv/bin/python -m pytest tests/preflight/test_preflight_text.py -q
"""The vectorized word hashing equals its pure-Python reference, batch by batch."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from picogate.preflight import text
from picogate.preflight.text import (
    document_hashes,
    hash_words,
    normalize,
    sequence_hash,
    shingle_hash32,
    shingles,
    window_hashes,
    word_hash,
)

# Letters, digits, punctuation, whitespace, NUL, accents, final sigma, ligatures, curly quotes, CJK.
_ALPHABET = st.sampled_from(list("ab c.,!?_-\t\n\x00\x1fÉéΣσςﬁ’“” 中文İ0\u0301"))
TEXTS = st.lists(st.text(_ALPHABET, max_size=40), max_size=8)


def _reference_words(t: str) -> list[int]:
    return [word_hash(w.encode()) for w in normalize(t).split()]


def test_normalize_drops_case_punctuation_and_spacing():
    assert normalize("  Hello,\tWORLD!! ") == "hello world"
    assert normalize("ﬁne Café") == "fine café"  # NFKC folds the ligature
    assert normalize("...") == ""


def test_shingles_short_and_empty_texts():
    assert shingles("one two", 3) == [b"one two"]
    assert shingles("", 3) == []
    assert shingles("a b c d", 3) == [b"a b c", b"b c d"]


@settings(max_examples=150, deadline=None)
@given(TEXTS)
def test_hash_words_matches_reference(texts):
    batch = hash_words(texts)
    assert batch.n_docs == len(texts)
    for d, t in enumerate(texts):
        got = batch.hashes[batch.offsets[d] : batch.offsets[d + 1]].tolist()
        assert got == _reference_words(t)


@settings(max_examples=100, deadline=None)
@given(TEXTS, st.integers(1, 4))
def test_window_and_document_hashes_match_reference(texts, k):
    batch = hash_words(texts)
    hashes, doc = window_hashes(batch, k, short_docs=True)
    expected = [(d, sequence_hash(s.split(b" "))) for d, t in enumerate(texts) for s in shingles(t, k)]
    assert list(zip(doc.tolist(), hashes.tolist(), strict=True)) == expected
    assert [h >> 32 for _, h in expected] == [shingle_hash32(s) for t in texts for s in shingles(t, k)]
    full = [sequence_hash([w.encode() for w in normalize(t).split()]) for t in texts]
    assert document_hashes(batch).tolist() == full


def test_windows_never_cross_documents():
    hashes, doc = window_hashes(hash_words(["a b", "c d"]), 3)
    assert len(hashes) == 0 and len(doc) == 0


def test_chunked_batches_equal_one_pass(monkeypatch):
    texts = [f"doc {i} " + "word " * (i % 7) for i in range(200)] + ["", "x\x00y"]
    whole = hash_words(texts)
    monkeypatch.setattr(text, "_MAX_CHUNK_CHARS", 50)
    chunked = hash_words(texts)
    assert np.array_equal(whole.hashes, chunked.hashes)
    assert np.array_equal(whole.offsets, chunked.offsets)


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ValueError, match="wrap a single text"):
        hash_words("just a string")
    with pytest.raises(ValueError, match=">= 1"):
        window_hashes(hash_words(["a"]), 0)
