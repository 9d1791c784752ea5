"""Document boundaries in packed or sharded token data.

A packed shard without its boundary (BOS) token lets attention and loss run across documents;
a shard with only a handful of boundaries for millions of tokens is the same bug, half done.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ShardStats:
    tokens: int
    boundaries: int | None  # None: no bos_token_id to look for


def scan(chunks: Iterable[np.ndarray], bos_token_id: int | None) -> ShardStats:
    """Token and boundary counts of one shard, read chunk by chunk.

    >>> scan([np.array([7, 1, 2, 7, 3])], 7)
    ShardStats(tokens=5, boundaries=2)
    """
    tokens = boundaries = 0
    for chunk in chunks:
        tokens += len(chunk)
        if bos_token_id is not None:
            boundaries += int(np.count_nonzero(chunk == bos_token_id))
    return ShardStats(tokens, boundaries if bos_token_id is not None else None)


def metrics(shards: list[ShardStats]) -> dict[str, object]:
    """Shards, shards without a boundary, documents per shard, and the longest mean document."""
    known = all(s.boundaries is not None for s in shards)
    out: dict[str, object] = {
        "boundaries.shards": len(shards),
        "boundaries.tokens": sum(s.tokens for s in shards) if shards else None,
        "boundaries.shards_without_bos": sum(1 for s in shards if not s.boundaries) if known else None,
        "boundaries.documents": sum(s.boundaries or 0 for s in shards) if shards and known else None,
        "boundaries.min_docs_per_shard": min((s.boundaries or 0 for s in shards), default=None) if known else None,
        "boundaries.max_mean_doc_tokens": max((s.tokens / max(s.boundaries or 0, 1) for s in shards),
                                              default=None) if known else None,
    }
    return out
