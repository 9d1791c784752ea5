"""Eval contamination: eval and external prompts found in SFT rows or in the corpus.

A thin adapter over `picogate.preflight.contamination` (prompt index, n-gram scan): SFT rows
are matched on whole normalized prompts and on shared n-grams of prompt and response; corpus
documents on shared n-grams. The n-gram length is a setting in the profile's `contamination` table.

Both engines run the same three steps: `prepare` builds the prompt index once (the Ray engine
ships it to workers through the object store), `scan` summarizes one corpus batch, and
`finish` scans the SFT rows and turns the merged corpus summaries into catalog names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from picogate.rules.tables import Tables, as_tables

NAMES = ("contamination.prompts", "contamination.prompts_too_short", "contamination.sft_prompts",
         "contamination.sft_rows", "contamination.corpus_prompts", "contamination.corpus_documents")


@dataclass(frozen=True)
class Check:
    """The prompt index and the SFT rows of one plan; `index` is None when there are no prompts to look for."""

    index: Any
    sft_prompts: Sequence[str] = ()
    sft_texts: Sequence[str] = field(default=(), repr=False)


def prepare(tables: Tables | Mapping[str, Any], *, eval_prompts: Sequence[str], external_prompts: Sequence[str],
            sft_prompts: Sequence[str], sft_texts: Sequence[str] = ()) -> Check:
    """Hash the eval and external prompts once (ids `eval#1`, `external#1`, ...)."""
    from picogate.preflight import contamination as cm

    s = as_tables(tables).contamination_settings
    prompts = [*eval_prompts, *external_prompts]
    if not prompts:
        return Check(None)
    ids = [f"eval#{i + 1}" for i in range(len(eval_prompts))] + \
          [f"external#{i + 1}" for i in range(len(external_prompts))]
    index = cm.build_prompt_index(prompts, ids, n=s.ngram, min_words=min(s.min_words, s.ngram))
    return Check(index, sft_prompts, sft_texts)


def scan(index: Any, texts: Sequence[str], ids: Sequence) -> Any:
    """The `HitSummary` of one corpus batch; `ids` are ordered document ids (stream positions locally)."""
    from picogate.preflight import contamination as cm

    return cm.summarize_hits(cm.scan_batch(index, texts, ids))


def finish(check: Check, corpus: Iterable[Any]) -> dict[str, Any]:
    """Catalog metrics from the corpus batch summaries (any order) and a scan of the SFT rows."""
    from picogate.preflight import contamination as cm

    if check.index is None:
        return {n: None for n in NAMES} | {"contamination.examples": "none"}
    index = check.index
    sft_ids = [f"sft#{i + 1}" for i in range(len(check.sft_prompts))]
    sft = cm.merge_hits([cm.scan_sft(index, list(check.sft_prompts), sft_ids),
                         cm.scan_batch(index, list(check.sft_texts), sft_ids[:len(check.sft_texts)])])
    m = cm.contamination_metrics(index, sft, prefix="sft") | \
        cm.contamination_metrics(index, cm.merge_summaries(corpus))
    return named(m)


def named(m: Mapping[str, Any]) -> dict[str, Any]:
    """Catalog names for `contamination_metrics` output (sft and corpus prefixes)."""
    examples = [f"{p} in {r}" for p, r in m["sft_examples"]] + \
               [f"{p} in corpus doc {r}" for p, r in m["corpus_examples"]]
    return {
        "contamination.prompts": m["prompts"],
        "contamination.prompts_too_short": m["prompts_too_short"],
        "contamination.sft_prompts": m["sft_contaminated_prompts"],
        "contamination.sft_rows": m["sft_hit_rows"],
        "contamination.corpus_prompts": m["corpus_contaminated_prompts"],
        "contamination.corpus_documents": m["corpus_hit_rows"],
        "contamination.examples": "; ".join(examples[:5]) or "none",
    }


def stream(tables: Tables | Mapping[str, Any], *, eval_prompts: Sequence[str],
           external_prompts: Sequence[str], sft_prompts: Sequence[str],
           sft_texts: Sequence[str] = ()) -> tuple[Callable[[list[str]], None], Callable[[], dict[str, Any]]]:
    """(update(corpus texts), finish() -> metrics) for the local engine; ids are stream positions."""
    check = prepare(tables, eval_prompts=eval_prompts, external_prompts=external_prompts, sft_prompts=sft_prompts,
                    sft_texts=sft_texts)
    parts: list[Any] = []
    seen = [0]

    def update(texts: list[str]) -> None:
        if check.index is not None:
            parts.append(scan(check.index, texts, range(seen[0], seen[0] + len(texts))))
        seen[0] += len(texts)

    return update, lambda: finish(check, parts)
