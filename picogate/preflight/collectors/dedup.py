"""Duplicate and near-duplicate pressure of the corpus, via the MinHash/LSH modules.

A thin adapter: `picogate.preflight.lsh.NearDupIndex` does the numerics (datasketch-compatible
MinHash, banded LSH); this maps its result to catalog names. The similarity threshold and sketch
size are measurement settings kept as data in the profile's `near_dup` table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from picogate.rules.tables import NearDup, Tables, as_tables


def settings(tables: Tables | Mapping[str, Any]) -> NearDup:
    """The `near_dup` table's one row (typed and checked when the rule file loaded), or the defaults."""
    return as_tables(tables).near_dup_settings


def options(tables: Tables | Mapping[str, Any]) -> dict[str, Any]:
    """The sketch options (`lsh.sketch_batch` keywords) both engines sketch with, from the `near_dup` table."""
    s = settings(tables)
    return {"threshold": s.jaccard, "num_perm": s.num_perm, "shingle_words": s.shingle_words}


def stream(tables: Tables | Mapping[str, Any]) -> tuple[Callable[[list[str]], None], Callable[[], dict[str, Any]]]:
    """(update(texts), finish() -> metrics) over one pass of corpus batches."""
    from picogate.preflight.lsh import NearDupIndex

    s = settings(tables)
    index = NearDupIndex(**options(tables))
    seen = [0]

    def update(texts: list[str]) -> None:
        index.add(texts)
        seen[0] += len(texts)

    def finish() -> dict[str, Any]:
        return metrics(index.metrics() if seen[0] else None, s.jaccard)

    return update, finish


def metrics(m: Mapping[str, Any] | None, jaccard: float) -> dict[str, Any]:
    """Catalog names for `lsh.dedup_metrics` output; all missing when the corpus had no text."""
    if m is None:
        return {k: None for k in ("dedup.documents", "dedup.exact_dup_count", "dedup.exact_dup_rate",
                                  "dedup.near_dup_count", "dedup.near_dup_rate", "dedup.near_dup_clusters")} | {
            "dedup.jaccard": jaccard, "dedup.examples": "none"}
    examples = [f"doc {a} ~ doc {b} (J={j:.2f})" for a, b, j in m["near_dup_examples"]]
    return {
        "dedup.documents": m["documents"],
        "dedup.exact_dup_count": m["exact_dup_count"],
        "dedup.exact_dup_rate": m["exact_dup_rate"],
        "dedup.near_dup_count": m["near_dup_count"],
        "dedup.near_dup_rate": m["near_dup_rate"],
        "dedup.near_dup_clusters": m["near_dup_clusters"],
        "dedup.jaccard": jaccard,
        "dedup.examples": "; ".join(examples) or "none",
    }

