"""Text normalization and word hashing shared by the near-duplicate and contamination checks.

Both checks compare documents as sequences of words, so both must agree on what a word is:
NFKC, lower case, then maximal runs of regex word characters (`\\w+`); everything else separates
words. `normalize` is the readable reference; `hash_words` is the same thing for a whole batch at
once, in a few C-level string passes plus numpy over the UTF-8 bytes, so no Python code runs per word.

A word hash folds the word's 8-byte chunks through the MurmurHash3 64-bit finalizer; a word-sequence
hash is a polynomial mod 2**64 over word hashes, finished the same way. A pure-Python twin
(`word_hash`, `sequence_hash`, `shingle_hash32`) gives bit-identical values: it is the hash function
handed to datasketch when its results are compared with ours, and the plain reference the tests check
the vectors against.
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

T = TypeVar("T")

_MASK64 = (1 << 64) - 1
_WORD_BASE = 0xC2B2AE3D27D4EB4F  # odd, so invertible mod 2**64
_LEN_MIX = 0x165667B19E3779F9
_DOC_SEP = "\x00"
_WORD = re.compile(r"\w+")
_NON_ASCII_NON_WORD = re.compile(r"[^\x00-\x7f\w]+")
_MAX_CHUNK_CHARS = 1 << 21  # 16 MB uint64 scratch arrays: below glibc's mmap threshold, so reused


def normalize(text: str) -> str:
    """Return the words of `text` joined by single spaces: NFKC, lower case, punctuation dropped.

    Why: case, punctuation and spacing changes should not hide a duplicate or a leaked prompt.

    >>> normalize("  Hello,\\tWORLD!  ")
    'hello world'
    """
    return " ".join(_WORD.findall(unicodedata.normalize("NFKC", text).lower()))


def fmix64(x: int) -> int:
    """MurmurHash3's 64-bit finalizer on a Python int (a bijection that spreads every input bit)."""
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & _MASK64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & _MASK64
    return x ^ (x >> 33)


def fmix64_array(x: np.ndarray) -> np.ndarray:
    """`fmix64` over a uint64 array; numpy's uint64 arithmetic wraps, which is the mod 2**64 we want."""
    x = x ^ (x >> np.uint64(33))
    x *= np.uint64(0xFF51AFD7ED558CCD)
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xC4CEB9FE1A85EC53)
    x ^= x >> np.uint64(33)
    return x


@functools.lru_cache(maxsize=1 << 16)
def word_hash(word: bytes) -> int:
    """64-bit hash of one UTF-8 encoded word: its 8-byte little-endian chunks folded through fmix64.

    Reference for the vectorized path, which loads each chunk with two aligned reads; cached for datasketch.
    """
    h = (len(word) * _LEN_MIX) & _MASK64
    for k in range(0, len(word), 8):
        h = fmix64(h ^ int.from_bytes(word[k : k + 8], "little"))
    return h


def sequence_hash(words: Sequence[bytes]) -> int:
    """64-bit hash of a word sequence (a shingle, an n-gram or a whole document)."""
    poly, power = 0, 1
    for word in words:
        poly = (poly + word_hash(word) * power) & _MASK64
        power = (power * _WORD_BASE) & _MASK64
    return fmix64((poly + len(words) * _LEN_MIX) & _MASK64)


def shingle_hash32(shingle: bytes) -> int:
    """32-bit hash of a space-joined shingle: give it to datasketch as `hashfunc` to match our signatures.

    >>> shingle_hash32(b"the quick brown") == sequence_hash([b"the", b"quick", b"brown"]) >> 32
    True
    """
    return sequence_hash(shingle.split(b" ")) >> 32


def shingles(text: str, k: int) -> list[bytes]:
    """Word k-shingles of `text` as UTF-8 bytes; a text of 1..k-1 words is one shingle, an empty one none.

    Why the short rule: a short document still has content that can be duplicated.

    >>> shingles("A b, c!", 2)
    [b'a b', b'b c']
    """
    words = normalize(text).split()
    if not words:
        return []
    if len(words) < k:
        return [" ".join(words).encode()]
    return [" ".join(words[i : i + k]).encode() for i in range(len(words) - k + 1)]


@dataclass(frozen=True)
class WordBatch:
    """The words of a batch of documents: `hashes[offsets[d]:offsets[d + 1]]` are document d's words."""

    hashes: np.ndarray  # uint64, one per word
    offsets: np.ndarray  # int64, length n_docs + 1
    n_bytes: int  # UTF-8 bytes of the raw input, for throughput figures

    @property
    def n_docs(self) -> int:
        return len(self.offsets) - 1


_power_cache: dict[int, np.ndarray] = {}


def _powers(base: int, count: int) -> np.ndarray:
    """base**i mod 2**64 for i < count, cached; built by doubling (p[m:2m] = p[:m] * base**m), which wraps."""
    cached = _power_cache.get(base)
    if cached is None or len(cached) < count:
        size = max(count, 1 << 16, 2 * len(cached) if cached is not None else 0)
        cached = np.ones(1, dtype=np.uint64)
        while len(cached) < size:
            step = np.uint64(pow(base, len(cached), 1 << 64))
            cached = np.concatenate([cached, cached[: size - len(cached)] * step])
        _power_cache[base] = cached
    return cached[:count]


def _joined_bytes(texts: Sequence[str]) -> np.ndarray:
    """One normalized-for-hashing UTF-8 buffer of the batch, documents separated by NUL bytes."""
    joined = _DOC_SEP.join(texts)
    if joined.count(_DOC_SEP) != len(texts) - 1:  # a text holds NUL itself: it is a separator there too
        joined = _DOC_SEP.join(t.replace(_DOC_SEP, " ") for t in texts)
    if joined.isascii():
        joined = joined.lower()  # ASCII is NFKC-invariant and has no non-ASCII punctuation to drop
    else:
        joined = _NON_ASCII_NON_WORD.sub(" ", unicodedata.normalize("NFKC", joined).lower())
    return np.frombuffer(joined.encode("utf-8"), dtype=np.uint8)


def _hash_chunk(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    buf = _joined_bytes(texts)
    # Word bytes: [a-z0-9_] (the text is lower-cased) or any byte of a non-ASCII character; uint8 wraps.
    is_word = np.zeros(len(buf) + 2, dtype=bool)
    inner = is_word[1:-1]
    np.less((buf | np.uint8(0x20)) - np.uint8(97), 26, out=inner)
    inner |= buf - np.uint8(48) < 10
    inner |= buf >= 0x80
    inner |= buf == 95
    bounds = np.flatnonzero(is_word[1:] != is_word[:-1])
    starts, ends = bounds[0::2], bounds[1::2]  # runs alternate: a word starts, then ends
    # An overlapping little-endian uint64 view of the zero-padded buffer (stride 1 byte): element i is
    # bytes [i, i + 8), so one gather loads a whole chunk of a word.
    padded = np.zeros(len(buf) + 8, dtype=np.uint8)
    padded[: len(buf)] = buf
    unaligned = np.ndarray((len(buf) + 1,), dtype="<u8", buffer=padded, strides=(1,))
    lengths = (ends - starts).astype(np.uint64)
    hashes = fmix64_array(_load(unaligned, starts, lengths) ^ lengths * np.uint64(_LEN_MIX))
    long = np.flatnonzero(lengths > 8)
    for k in range(8, int(lengths.max(initial=0)), 8):  # rare long words, one more chunk per pass
        long = long[lengths[long] > k]
        hashes[long] = fmix64_array(hashes[long] ^ _load(unaligned, starts[long] + k, lengths[long] - k))
    offsets = np.concatenate([[0], np.searchsorted(starts, np.flatnonzero(buf == 0)), [len(starts)]])
    return hashes, offsets.astype(np.int64)


def _load(unaligned: np.ndarray, pos: np.ndarray, remaining: np.ndarray) -> np.ndarray:
    """The bytes [pos, pos + min(remaining, 8)) as little-endian uint64s, later bytes masked to zero."""
    keep = np.uint64(64) - np.minimum(remaining, np.uint64(8)) * np.uint64(8)
    return unaligned[pos] & (np.uint64(_MASK64) >> keep)


def map_chunks(fn: Callable[[int, Sequence[str]], T], texts: Sequence[str], threads: int | None = None) -> list[T]:
    """`fn(first_index, slice)` over consecutive slices of ~2 M characters, on a few threads.

    Why: bounded scratch memory per slice, and numpy releases the GIL, so slices overlap on the cores.
    """
    ranges, start, size = [], 0, 0
    for i, text in enumerate(texts):
        size += len(text) + 1
        if size >= _MAX_CHUNK_CHARS:
            ranges.append((start, i + 1))
            start, size = i + 1, 0
    if start < len(texts):
        ranges.append((start, len(texts)))
    workers = max(1, min(threads or os.cpu_count() or 1, 8, len(ranges)))
    if workers == 1:
        return [fn(lo, texts[lo:hi]) for lo, hi in ranges]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda r: fn(r[0], texts[r[0] : r[1]]), ranges))


def hash_words(texts: Sequence[str], threads: int | None = None) -> WordBatch:
    """Hash every word of every text, equal to `word_hash` on the words of `normalize(text)`.

    >>> batch = hash_words(["Hi there", ""])
    >>> batch.offsets.tolist(), int(batch.hashes[0]) == word_hash(b"hi")
    ([0, 2, 2], True)
    """
    if isinstance(texts, str):
        raise ValueError("hash_words takes a sequence of texts; wrap a single text in a list")
    texts = texts if isinstance(texts, list | tuple) else list(texts)
    parts = map_chunks(lambda _, chunk: _hash_chunk(chunk), texts, threads)
    hashes, offsets, total = [np.zeros(0, dtype=np.uint64)], [np.zeros(1, dtype=np.int64)], 0
    for h, off in parts:
        hashes.append(h)
        offsets.append(off[1:] + total)
        total += len(h)
    n_bytes = sum(map(len, texts)) if all(t.isascii() for t in texts) else sum(len(t.encode()) for t in texts)
    return WordBatch(np.concatenate(hashes), np.concatenate(offsets), n_bytes)


def all_window_polys(batch: WordBatch, length: int) -> np.ndarray:
    """Unfinished hash (fmix64 not applied) of the `length` words at every position, across documents.

    Why: contiguous slices instead of gathers make this the fastest way to scan; a caller keeps only
    windows inside one document, and fmix64 being a bijection, it can match unfinished values directly.
    """
    n = len(batch.hashes)
    if n < length:
        return np.zeros(0, dtype=np.uint64)
    prefix = _prefix(batch.hashes)
    poly = prefix[length:] - prefix[: n - length + 1]
    poly *= _powers(pow(_WORD_BASE, -1, 1 << 64), n - length + 1)
    poly += np.uint64(length * _LEN_MIX & _MASK64)
    return poly


def window_hashes(batch: WordBatch, length: int, *, short_docs: bool = False,
                  finish: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """`sequence_hash` of every run of `length` consecutive words inside one document, and its doc index.

    With `short_docs`, a document of 1..length-1 words contributes one window: all its words.
    Windows never cross documents. Returns (hashes uint64, doc int64), ordered by document; with
    `finish=False` the hashes are left unfinished (see `all_window_polys`).

    >>> h, d = window_hashes(hash_words(["a b c", "d"]), 2, short_docs=True)
    >>> d.tolist(), int(h[2]) == sequence_hash([b"d"])
    ([0, 0, 1], True)
    """
    if length < 1:
        raise ValueError(f"window length must be >= 1 word, got {length}")
    counts = np.diff(batch.offsets)
    n_windows = np.maximum(counts - length + 1, 0)
    if short_docs:
        n_windows = np.where((counts > 0) & (counts < length), 1, n_windows)
    doc = np.repeat(np.arange(batch.n_docs, dtype=np.int64), n_windows)
    first = np.cumsum(n_windows) - n_windows
    start = batch.offsets[doc] + (np.arange(len(doc), dtype=np.int64) - first[doc])
    polys = sequence_polys(batch.hashes, start, np.minimum(counts[doc], length))
    return (fmix64_array(polys) if finish else polys), doc


def document_hashes(batch: WordBatch, finish: bool = True) -> np.ndarray:
    """`sequence_hash` of each document's whole word sequence (equal texts after `normalize`, equal hash)."""
    polys = sequence_polys(batch.hashes, batch.offsets[:-1], np.diff(batch.offsets))
    return fmix64_array(polys) if finish else polys


def _prefix(word_hashes: np.ndarray) -> np.ndarray:
    """prefix[i] = sum_{j<i} W_j * Q**j mod 2**64: a run's polynomial is a difference rescaled by Q**-start."""
    prefix = np.empty(len(word_hashes) + 1, dtype=np.uint64)
    prefix[0] = 0
    np.multiply(word_hashes, _powers(_WORD_BASE, len(word_hashes)), out=prefix[1:])
    return np.cumsum(prefix, out=prefix)


def sequence_polys(word_hashes: np.ndarray, start: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Unfinished hashes of word runs [start, start + size); `fmix64_array` of them are `sequence_hash`es."""
    prefix = _prefix(word_hashes)
    poly = prefix[start + size] - prefix[start]
    poly *= _powers(pow(_WORD_BASE, -1, 1 << 64), len(word_hashes) + 1)[start]
    poly += size.astype(np.uint64) * np.uint64(_LEN_MIX)
    return poly
