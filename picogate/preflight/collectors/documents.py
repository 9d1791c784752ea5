"""Document counts of a text corpus: how many documents, how many bytes, how many empty."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow.compute as pc

from picogate.preflight.sources import TextBatch


@dataclass(frozen=True)
class DocStats:
    documents: int = 0
    bytes: int = 0
    empty: int = 0

    def merge(self, other: DocStats) -> DocStats:
        return DocStats(self.documents + other.documents, self.bytes + other.bytes, self.empty + other.empty)


def count(batch: TextBatch) -> DocStats:
    """Stats of one batch; empty means no non-whitespace character (or null).

    >>> import pyarrow as pa; from pathlib import Path
    >>> count(TextBatch(pa.array(["a b", " ", None]), Path("x"))).empty
    2
    """
    blank = pc.fill_null(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(batch.array)), 0), True)
    return DocStats(len(batch), batch.n_bytes, int(pc.sum(blank).as_py() or 0))


def metrics(stats: DocStats | None) -> dict[str, object]:
    if stats is None:
        return {"corpus.documents": None, "corpus.bytes": None, "corpus.empty_documents": None}
    return {"corpus.documents": stats.documents, "corpus.bytes": stats.bytes, "corpus.empty_documents": stats.empty}
