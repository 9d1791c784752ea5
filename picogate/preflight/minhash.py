"""MinHash signatures for many documents at once, bit-identical to datasketch's `MinHash`.

datasketch (>= 2.0) permutes each 32-bit shingle hash h with `a * fmix32(h) + b mod 2**32` ("affine32",
its default); datasketch < 2.0 used `((a * h + b) mod (2**61 - 1)) & (2**32 - 1)` ("legacy"). In both the
parameters come from `numpy.random.RandomState(seed)`, so equal (num_perm, seed, scheme, hash function)
give equal signatures: ours load into `datasketch.MinHash(hashvalues=..., scheme=...)`, `LeanMinHash`
and `MinHashLSH` unchanged. datasketch is never imported here.

The bulk path hashes shingles with numpy (`text.window_hashes`) and applies all permutations to a block
of shingles as one broadcast multiply-add, then takes per-document minima with `np.minimum.reduceat`;
blocks are sized to stay in cache and run on a few threads (numpy releases the GIL).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from picogate.preflight.text import hash_words, window_hashes

SCHEMES = ("affine32", "legacy")
_MERSENNE_PRIME = np.uint64((1 << 61) - 1)
_MAX_HASH32 = np.uint64((1 << 32) - 1)
_BLOCK_CELLS = 1 << 19  # permutations x shingles per block: 2 MB of uint32 scratch per thread, cache-sized


def _check(num_perm: int, scheme: str) -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES} (datasketch's names), got {scheme!r}")
    if not 1 <= num_perm <= 1 << 16:
        raise ValueError(f"num_perm must be between 1 and 65536, got {num_perm}; 128 is the usual choice")


@functools.lru_cache(maxsize=16)
def permutations(num_perm: int = 128, seed: int = 1, scheme: str = "affine32") -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) permutation parameters datasketch draws for (num_perm, seed, scheme).

    Why: equal parameters are what make our signatures interchangeable with datasketch's.

    >>> a, b = permutations(4, seed=1)
    >>> a.dtype.name, bool((a % 2 == 1).all())
    ('uint32', True)
    """
    _check(num_perm, scheme)
    gen = np.random.RandomState(seed)
    if scheme == "legacy":
        # Drawn pairwise (a_0, b_0, a_1, b_1, ...): the order of draws is part of the contract.
        pairs = [(gen.randint(1, _MERSENNE_PRIME, dtype=np.uint64),
                  gen.randint(0, _MERSENNE_PRIME, dtype=np.uint64)) for _ in range(num_perm)]
        a, b = np.array(pairs, dtype=np.uint64).T
    else:
        # Odd multipliers make h -> a*h + b a bijection mod 2**32, so permuting never merges two hashes.
        a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
        b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer: datasketch pre-mixes inputs with it in the affine schemes."""
    h = h ^ (h >> np.uint32(16))
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


EMPTY_VALUE = (1 << 32) - 1  # every slot of an empty MinHash (no shingles), in both schemes


def signatures_from_hashes(hashes: np.ndarray, offsets: np.ndarray, *, num_perm: int = 128, seed: int = 1,
                           scheme: str = "affine32", threads: int | None = None) -> np.ndarray:
    """Signatures of many sets of 32-bit hashes: set d is `hashes[offsets[d]:offsets[d + 1]]`.

    Row d equals `datasketch.MinHash(num_perm, seed, hashfunc=H, scheme=scheme)` updated with the items
    whose H values are set d. dtype is datasketch's for the scheme: uint32 (affine32) or uint64 (legacy).
    An empty set gives a row of `EMPTY_VALUE`, as datasketch does.

    >>> sig = signatures_from_hashes(np.array([7, 9, 7]), np.array([0, 2, 3]), num_perm=8)
    >>> sig.shape, bool((sig[1] >= sig[0]).any())
    ((2, 8), True)
    """
    _check(num_perm, scheme)
    hashes = np.asarray(hashes)
    offsets = np.asarray(offsets, dtype=np.int64)
    if hashes.ndim != 1 or offsets.ndim != 1 or len(offsets) < 1:
        raise ValueError("hashes and offsets must be 1-D; offsets has one entry per set plus a final end")
    if offsets[0] != 0 or offsets[-1] != len(hashes) or np.any(np.diff(offsets) < 0):
        raise ValueError("offsets must start at 0, never decrease, and end at len(hashes)")
    if len(hashes) and (hashes.dtype.kind not in "iu" or hashes.min() < 0 or hashes.max() > _MAX_HASH32):
        raise ValueError("hashes must be integers in [0, 2**32): use a 32-bit hash function per shingle")
    a, b = permutations(num_perm, seed, scheme)
    mixed = hashes.astype(np.uint64) if scheme == "legacy" else _fmix32(hashes.astype(np.uint32))
    n_docs = len(offsets) - 1
    out = np.full((n_docs, num_perm), _MAX_HASH32, dtype=a.dtype)
    nonempty = np.flatnonzero(np.diff(offsets) > 0)
    if len(nonempty) == 0:
        return out
    block = max(1, _BLOCK_CELLS // num_perm)
    # Split at document starts so each block holds about `block` shingles (a long document is one block).
    cut_docs = np.unique(np.searchsorted(offsets[nonempty], np.arange(0, len(hashes), block), side="right") - 1)
    bounds = np.append(cut_docs, len(nonempty))
    spans = [(int(bounds[i]), int(bounds[i + 1])) for i in range(len(bounds) - 1)]

    widest = max(int(offsets[nonempty[hi - 1] + 1] - offsets[nonempty[lo]]) for lo, hi in spans)

    def run(span_range: range) -> None:
        # Permutations x shingles, so each per-document minimum is a contiguous run (fast reduceat).
        scratch = np.empty((num_perm, widest), dtype=a.dtype)
        for lo, hi in (spans[i] for i in span_range):
            docs = nonempty[lo:hi]
            first, last = int(offsets[docs[0]]), int(offsets[docs[-1] + 1])
            phv = scratch[:, : last - first]
            np.multiply(a[:, None], mixed[first:last], out=phv)
            phv += b[:, None]
            if scheme == "legacy":
                phv %= _MERSENNE_PRIME
                phv &= _MAX_HASH32
            out[docs] = np.minimum.reduceat(phv, offsets[docs] - first, axis=1).T

    workers = max(1, min(threads or os.cpu_count() or 1, 8, len(spans)))
    if workers == 1:
        run(range(len(spans)))
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, [range(i, len(spans), workers) for i in range(workers)]))
    return out


def shingle_hashes(texts: Sequence[str], shingle_words: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of every word shingle of every text, and per-text offsets into them.

    Equal to `text.shingle_hash32` over `text.shingles(t, shingle_words)`, so datasketch given that
    function as `hashfunc` sees the same hash values.
    """
    if shingle_words < 1:
        raise ValueError(f"shingle_words must be >= 1, got {shingle_words}; 5 is a common choice")
    words = hash_words(texts)
    hashes, doc = window_hashes(words, shingle_words, short_docs=True)
    offsets = np.searchsorted(doc, np.arange(len(texts) + 1)).astype(np.int64)
    return (hashes >> np.uint64(32)).astype(np.uint32), offsets


def minhash_signatures(texts: Sequence[str], *, num_perm: int = 128, seed: int = 1, shingle_words: int = 5,
                       scheme: str = "affine32", threads: int | None = None) -> np.ndarray:
    """MinHash signatures of word shingles, one row per text (see `signatures_from_hashes`).

    Why: near-duplicate documents share most shingles, so their signatures agree in most slots.

    >>> sig = minhash_signatures(["the cat sat on the mat", "The cat sat on the mat!"], num_perm=16)
    >>> bool((sig[0] == sig[1]).all())
    True
    """
    hashes, offsets = shingle_hashes(texts, shingle_words)
    return signatures_from_hashes(hashes, offsets, num_perm=num_perm, seed=seed, scheme=scheme,
                                  threads=threads)


def jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity: the share of equal slots (row-wise for 2-D input), as datasketch."""
    if np.shape(sig_a) != np.shape(sig_b):
        raise ValueError(f"signatures differ in shape: {np.shape(sig_a)} vs {np.shape(sig_b)}")
    return np.mean(np.asarray(sig_a) == np.asarray(sig_b), axis=-1)
