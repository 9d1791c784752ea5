"""Eval contamination: eval and external prompts found in SFT rows or in the corpus.

A thin adapter over `picogate.preflight.contamination` (prompt index, n-gram scan): SFT rows
are matched on whole normalized prompts and on shared n-grams of prompt and response; corpus
documents on shared n-grams. The n-gram length is a setting in the profile's `contamination` table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from picogate.rules.tables import Tables, as_tables

NAMES = ("contamination.prompts", "contamination.prompts_too_short", "contamination.sft_prompts",
         "contamination.sft_rows", "contamination.corpus_prompts", "contamination.corpus_documents")


def stream(tables: Tables | Mapping[str, Any], *, eval_prompts: Sequence[str],
           external_prompts: Sequence[str], sft_prompts: Sequence[str],
           sft_texts: Sequence[str] = ()) -> tuple[Callable[[list[str]], None], Callable[[], dict[str, Any]]]:
    """(update(corpus texts), finish() -> metrics); missing when there are no eval prompts to look for."""
    from picogate.preflight import contamination as cm

    s = as_tables(tables).contamination_settings
    prompts = [*eval_prompts, *external_prompts]
    if not prompts:
        return (lambda texts: None), (lambda: {n: None for n in NAMES} | {"contamination.examples": "none"})
    ids = [f"eval#{i + 1}" for i in range(len(eval_prompts))] + \
          [f"external#{i + 1}" for i in range(len(external_prompts))]
    index = cm.build_prompt_index(prompts, ids, n=s.ngram, min_words=min(s.min_words, s.ngram))
    parts: list[Any] = []
    seen = [0]

    def update(texts: list[str]) -> None:
        parts.append(cm.scan_batch(index, texts, range(seen[0], seen[0] + len(texts))))
        seen[0] += len(texts)

    def finish() -> dict[str, Any]:
        sft_ids = [f"sft#{i + 1}" for i in range(len(sft_prompts))]
        sft = cm.merge_hits([cm.scan_sft(index, list(sft_prompts), sft_ids),
                             cm.scan_batch(index, list(sft_texts), sft_ids[:len(sft_texts)])])
        corpus = cm.merge_hits(parts)
        m = cm.contamination_metrics(index, sft, prefix="sft") | cm.contamination_metrics(index, corpus)
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

    return update, finish
