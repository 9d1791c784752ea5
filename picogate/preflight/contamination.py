"""Eval contamination: eval (or external benchmark) prompts found in SFT rows or in the training corpus.

SFT rows are matched whole: a row whose prompt normalizes (`text.normalize`) to the same words as an eval
prompt is a leak. The corpus is matched by word n-gram overlap (n = 13 by default, the GPT-3 paper's
choice): a document is a hit for a prompt if they share any n consecutive words. A prompt shorter than n
words is matched as its whole word sequence, if it has at least `min_words` words; shorter prompts
("what is 2 2") occur in ordinary text by chance, so they are counted as `prompts_too_short` and only
checked against SFT rows.

The prompt side is hashed once (`build_prompt_index`); each corpus batch is then hashed with numpy,
pre-filtered through a small bit table and confirmed by binary search, so no Python code runs per n-gram.
Hashes are 64-bit: a false match needs a collision, about one in 2**64 per pair of n-grams.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from picogate.preflight.text import all_window_polys, document_hashes, hash_words, map_chunks, window_hashes


@dataclass(frozen=True)
class _Table:
    """Sorted unique window hashes of one length, the prompts owning each (CSR), and a prefilter."""

    hashes: np.ndarray
    owner_start: np.ndarray
    owners: np.ndarray
    filter_bits: int
    filter: np.ndarray


@dataclass(frozen=True)
class PromptIndex:
    """Hashed eval prompts, built once and shared by every corpus batch and SFT scan."""

    n: int
    min_words: int
    ids: list
    word_counts: np.ndarray  # words per prompt after normalization
    prompt_hashes: np.ndarray  # whole-prompt hash, for SFT exact matching
    tables: dict[int, _Table]  # window length -> table

    @property
    def too_short(self) -> np.ndarray:
        return (self.word_counts > 0) & (self.word_counts < self.min_words)


def _table(hashes: np.ndarray, prompt: np.ndarray) -> _Table:
    order = np.lexsort((prompt, hashes))
    hashes, prompt = hashes[order], prompt[order]
    keep = np.ones(len(hashes), dtype=bool)
    keep[1:] = (hashes[1:] != hashes[:-1]) | (prompt[1:] != prompt[:-1])
    hashes, prompt = hashes[keep], prompt[keep]
    new = np.ones(len(hashes), dtype=bool)
    new[1:] = hashes[1:] != hashes[:-1]
    bits = int(np.clip(np.ceil(np.log2(max(len(hashes), 1))) + 5, 10, 24))
    bitmap = np.zeros(1 << bits, dtype=bool)
    bitmap[hashes >> np.uint64(64 - bits)] = True
    return _Table(hashes[new], np.append(np.flatnonzero(new), len(hashes)), prompt, bits, bitmap)


def build_prompt_index(prompts: Sequence[str], ids: Sequence | None = None, *, n: int = 13,
                       min_words: int | None = None) -> PromptIndex:
    """Hash the prompts' n-grams (or whole word sequence when shorter than n) once.

    `min_words` defaults to min(8, n): the shortest prompt worth looking for in the corpus.

    >>> index = build_prompt_index(["one two three four five"], n=3, min_words=2)
    >>> sorted(index.tables), len(index.tables[3].hashes)
    ([3], 3)
    """
    if isinstance(prompts, str):
        raise ValueError("prompts must be a sequence of strings; wrap a single prompt in a list")
    if n < 1:
        raise ValueError(f"n must be >= 1 word, got {n}; 13 is the usual contamination n-gram")
    min_words = min(8, n) if min_words is None else min_words
    if not 1 <= min_words <= n:
        raise ValueError(f"min_words must be between 1 and n ({n}), got {min_words}")
    if ids is not None and len(ids) != len(prompts):
        raise ValueError(f"got {len(ids)} ids for {len(prompts)} prompts; pass one id per prompt or none")
    words = hash_words(prompts)
    counts = np.diff(words.offsets)
    tables = {}
    # Unfinished hashes throughout: the corpus scan compares them without finishing each window.
    long_hashes, long_doc = window_hashes(words, n, finish=False)
    if len(long_hashes):
        tables[n] = _table(long_hashes, long_doc)
    short = np.flatnonzero((counts >= min_words) & (counts < n))
    whole = document_hashes(words, finish=False)
    for length in np.unique(counts[short]):
        owners = short[counts[short] == length]
        tables[int(length)] = _table(whole[owners], owners)
    return PromptIndex(n, min_words, list(ids) if ids is not None else list(range(len(prompts))), counts,
                       document_hashes(words), tables)


@dataclass(frozen=True)
class Hits:
    """(prompt, row or document) matches from one or more batches; merge with `merge_hits`."""

    prompt: np.ndarray  # int64 index into the PromptIndex
    row_ids: list  # id of the matching corpus document or SFT row, aligned with `prompt`
    rows_scanned: int = 0
    bytes_scanned: int = 0
    matched_windows: int = 0


def scan_batch(index: PromptIndex, texts: Sequence[str], ids: Sequence | None = None) -> Hits:
    """Corpus documents in `texts` sharing an n-gram (or a whole short prompt) with an indexed prompt.

    >>> index = build_prompt_index(["the secret answer is forty two"], n=4, min_words=2)
    >>> scan_batch(index, ["we know the Secret answer is near", "no"], ["d1", "d2"]).row_ids
    ['d1']
    """
    if isinstance(texts, str):
        raise ValueError("scan_batch takes a batch (a sequence of texts); wrap a single text in a list")
    if ids is not None and len(ids) != len(texts):
        raise ValueError(f"got {len(ids)} ids for {len(texts)} texts; pass one id per text or none")
    texts = texts if isinstance(texts, list | tuple) else list(texts)
    parts = map_chunks(lambda first, chunk: _scan_chunk(index, first, chunk), texts)
    docs = np.concatenate([np.zeros(0, dtype=np.int64)] + [p[0] for p in parts])
    prompts = np.concatenate([np.zeros(0, dtype=np.int64)] + [p[1] for p in parts])
    pairs = np.unique(np.stack([docs, prompts], axis=1), axis=0)
    row_ids = pairs[:, 0].tolist() if ids is None else [ids[d] for d in pairs[:, 0]]
    return Hits(pairs[:, 1], row_ids, len(texts), sum(p[3] for p in parts), sum(p[2] for p in parts))


def _scan_chunk(index: PromptIndex, first: int, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(doc, prompt) pairs of one slice of a batch, docs numbered from `first`; plus matches and bytes."""
    words = hash_words(texts, threads=1)
    prompts, docs, matched = [], [], 0
    for length, table in index.tables.items():
        polys = all_window_polys(words, length)
        maybe = np.flatnonzero(table.filter[polys >> np.uint64(64 - table.filter_bits)])
        pos = np.minimum(np.searchsorted(table.hashes, polys[maybe]), len(table.hashes) - 1)
        found = table.hashes[pos] == polys[maybe]
        at, slot = maybe[found], pos[found]
        # Windows were taken across documents: keep those whose first and last word share a document.
        doc = np.searchsorted(words.offsets, at, side="right") - 1
        inside = doc == np.searchsorted(words.offsets, at + length - 1, side="right") - 1
        at, slot, doc = at[inside], slot[inside], doc[inside]
        matched += len(slot)
        width = table.owner_start[slot + 1] - table.owner_start[slot]  # prompts sharing the window
        owner = np.repeat(table.owner_start[slot] - np.cumsum(width) + width, width) + np.arange(width.sum())
        prompts.append(table.owners[owner])
        docs.append(np.repeat(doc, width) + first)
    empty = [np.zeros(0, dtype=np.int64)]
    return np.concatenate(empty + docs), np.concatenate(empty + prompts), matched, words.n_bytes


def scan_corpus(index: PromptIndex, batches: Iterable[Sequence[str]]) -> Hits:
    """Scan a stream of text batches; a document's id is its position in the whole stream."""
    parts, seen = [], 0
    for texts in batches:
        parts.append(scan_batch(index, texts, range(seen, seen + len(texts))))
        seen += len(texts)
    return merge_hits(parts)


def scan_sft(index: PromptIndex, sft_prompts: Sequence[str], ids: Sequence | None = None) -> Hits:
    """SFT rows whose prompt equals an indexed prompt after normalization (empty prompts never match)."""
    if isinstance(sft_prompts, str):
        raise ValueError("scan_sft takes a sequence of SFT prompts; wrap a single prompt in a list")
    if ids is not None and len(ids) != len(sft_prompts):
        raise ValueError(f"got {len(ids)} ids for {len(sft_prompts)} SFT rows; pass one id per row or none")
    words = hash_words(sft_prompts)
    nonempty = np.flatnonzero(index.word_counts > 0)
    table = _table(index.prompt_hashes[nonempty], nonempty)
    row_hash = document_hashes(words)
    rows = np.flatnonzero(np.diff(words.offsets) > 0)
    pos = np.minimum(np.searchsorted(table.hashes, row_hash[rows]), max(len(table.hashes) - 1, 0))
    found = table.hashes[pos] == row_hash[rows] if len(table.hashes) else np.zeros(len(rows), dtype=bool)
    slot, rows = pos[found], rows[found]
    width = table.owner_start[slot + 1] - table.owner_start[slot]
    first = np.repeat(table.owner_start[slot] - np.cumsum(width) + width, width)
    prompt, row = table.owners[first + np.arange(len(first))], np.repeat(rows, width)
    row_ids = row.tolist() if ids is None else [ids[r] for r in row]
    return Hits(prompt, row_ids, len(sft_prompts), words.n_bytes, len(rows))


def merge_hits(parts: Iterable[Hits]) -> Hits:
    """Combine the hits of several batches or partitions."""
    parts = list(parts)
    return Hits(np.concatenate([np.zeros(0, dtype=np.int64)] + [p.prompt for p in parts]),
                [r for p in parts for r in p.row_ids], sum(p.rows_scanned for p in parts),
                sum(p.bytes_scanned for p in parts), sum(p.matched_windows for p in parts))


@dataclass(frozen=True)
class HitSummary:
    """What the metrics need of some hits, in space bounded by the prompts: which leaked, how many rows, examples.

    Why: a corpus batch's summary is small whatever the batch, so batches (or Ray tasks) report summaries
    and `merge_summaries` folds them in any order to the same result.
    """

    prompts: np.ndarray  # sorted unique prompt indices with at least one hit
    rows: int  # distinct rows (documents) hit
    examples: list  # (prompt index, row id) pairs, at most max_examples
    rows_scanned: int = 0
    matched_windows: int = 0


def summarize_hits(hits: Hits, max_examples: int = 5) -> HitSummary:
    """A `HitSummary` of `hits`; examples are its first pairs in the order given."""
    examples = list(zip(hits.prompt[:max_examples].tolist(), hits.row_ids[:max_examples], strict=True))
    return HitSummary(np.unique(hits.prompt), len(set(hits.row_ids)), examples, hits.rows_scanned,
                      hits.matched_windows)


def merge_summaries(parts: Iterable[HitSummary], max_examples: int = 5) -> HitSummary:
    """Fold corpus batch summaries; rows of different parts must be distinct documents with ordered ids.

    Examples are the smallest (row, prompt) pairs: what the first pairs of the stream are (a scanned
    batch lists its pairs by document, then prompt), whichever order the parts arrive in.

    >>> a = summarize_hits(Hits(np.array([2]), [7])); b = summarize_hits(Hits(np.array([0, 2]), [3, 3]))
    >>> m = merge_summaries([a, b]); m.prompts.tolist(), m.rows, m.examples
    ([0, 2], 2, [(0, 3), (2, 3), (2, 7)])
    """
    parts = list(parts)
    examples = sorted((e for p in parts for e in p.examples), key=lambda e: (e[1], e[0]))[:max_examples]
    prompts = np.unique(np.concatenate([np.zeros(0, dtype=np.int64)] + [p.prompts for p in parts]))
    return HitSummary(prompts, sum(p.rows for p in parts), examples, sum(p.rows_scanned for p in parts),
                      sum(p.matched_windows for p in parts))


def contamination_metrics(index: PromptIndex, hits: Hits | HitSummary, *, prefix: str = "corpus",
                          max_examples: int = 5) -> dict:
    """Counts and example ids: how many prompts leaked, into how many rows, and which.

    Keys are prefixed (`corpus_...`, `sft_...`) so both scans of one prompt set fit in one metrics row.
    """
    s = summarize_hits(hits, max_examples) if isinstance(hits, Hits) else hits
    examples = [(index.ids[p], r) for p, r in s.examples[:max_examples]]
    total = len(index.ids)
    return {
        "prompts": total,
        "prompts_empty": int(np.sum(index.word_counts == 0)),
        "prompts_too_short": int(np.sum(index.too_short)),
        f"{prefix}_contaminated_prompts": len(s.prompts),
        f"{prefix}_contaminated_rate": len(s.prompts) / total if total else 0.0,
        f"{prefix}_hit_rows": s.rows,
        f"{prefix}_rows_scanned": s.rows_scanned,
        f"{prefix}_matched_windows": s.matched_windows,
        f"{prefix}_examples": examples,
    }
