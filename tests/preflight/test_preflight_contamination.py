# .venv/bin/python -m pytest tests/preflight/test_preflight_contamination.py -q
"""The vectorized contamination scan finds exactly what a plain Python n-gram scan finds."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from picogate.preflight.contamination import (
    build_prompt_index,
    contamination_metrics,
    merge_hits,
    scan_batch,
    scan_corpus,
    scan_sft,
)
from picogate.preflight.text import normalize


def reference_hits(prompts, docs, n, min_words):
    """Plain Python: word tuples in sets, the rule written out as the docs state it."""
    hits = set()
    for p, prompt in enumerate(prompts):
        words = normalize(prompt).split()
        if len(words) >= n:
            grams, size = {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}, n
        elif len(words) >= min_words:
            grams, size = {tuple(words)}, len(words)
        else:
            continue
        for d, doc in enumerate(docs):
            dw = normalize(doc).split()
            if any(tuple(dw[i : i + size]) in grams for i in range(len(dw) - size + 1)):
                hits.add((p, d))
    return hits


# A tiny vocabulary so that random prompts and documents really do share n-grams.
_TEXT = st.lists(st.sampled_from(["a", "b", "B!", "c", "d,", "é", "..."]), max_size=14).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(st.lists(_TEXT, max_size=6), st.lists(_TEXT, max_size=8), st.integers(1, 5), st.data())
def test_scan_equals_plain_reference(prompts, docs, n, data):
    min_words = data.draw(st.integers(1, n))
    index = build_prompt_index(prompts, n=n, min_words=min_words)
    split = data.draw(st.integers(0, len(docs)))
    hits = scan_corpus(index, [docs[:split], docs[split:]])
    assert set(zip(hits.prompt.tolist(), hits.row_ids, strict=True)) == reference_hits(prompts, docs, n,
                                                                                      min_words)
    assert hits.rows_scanned == len(docs)


def test_thirteen_gram_default_and_metrics():
    leak = "Natalia sold clips to 48 of her friends in April and then she sold half as many in May"
    prompts = [leak, "What is your name?", "Spell the word necessary backwards for me please now"]
    index = build_prompt_index(prompts, ["gsm1", "id1", "spell1"])
    corpus = ["filler text " * 20, "A forum post: natalia sold clips to 48 of her friends in April, and then she",
              "spell the word NECESSARY backwards for me please now!", "what is your name"]
    hits = scan_batch(index, corpus, ["doc0", "doc1", "doc2", "doc3"])
    out = contamination_metrics(index, hits)
    assert out["prompts_too_short"] == 1  # "what is your name" has 4 < 8 words: SFT only
    assert out["corpus_contaminated_prompts"] == 2 and out["corpus_hit_rows"] == 2
    assert sorted(out["corpus_examples"]) == [("gsm1", "doc1"), ("spell1", "doc2")]


def test_sft_exact_match_includes_short_prompts_but_not_empty_ones():
    index = build_prompt_index(["What is your name?", "", "Add 2 and 3."], ["p0", "p1", "p2"])
    hits = scan_sft(index, ["what is your NAME", "", "add 2 and 3 please", "Add 2 and 3"], ["r0", "r1", "r2", "r3"])
    out = contamination_metrics(index, hits, prefix="sft")
    assert sorted(out["sft_examples"]) == [("p0", "r0"), ("p2", "r3")]
    assert out["sft_contaminated_rate"] == pytest.approx(2 / 3)
    assert out["prompts_empty"] == 1


def test_duplicate_prompts_each_count():
    index = build_prompt_index(["x y z w", "X, y z w!"], n=4)
    hits = scan_batch(index, ["a x y z w b"])
    assert sorted(hits.prompt.tolist()) == [0, 1] and hits.row_ids == [0, 0]
    assert scan_sft(index, ["x y z w"]).prompt.tolist() == [0, 1]


def test_empty_inputs():
    index = build_prompt_index([], n=13)
    hits = merge_hits([scan_batch(index, ["some text"]), scan_batch(index, [])])
    assert contamination_metrics(index, hits)["corpus_contaminated_rate"] == 0.0
    assert len(scan_sft(index, ["a"]).prompt) == 0
    assert np.array_equal(scan_corpus(build_prompt_index(["a b"], n=2), []).prompt, [])


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="usual contamination"):
        build_prompt_index(["a"], n=0)
    with pytest.raises(ValueError, match="min_words"):
        build_prompt_index(["a"], n=5, min_words=6)
    with pytest.raises(ValueError, match="wrap a single prompt"):
        build_prompt_index("a prompt")
    with pytest.raises(ValueError, match="one id per prompt"):
        build_prompt_index(["a"], ids=[1, 2])
    index = build_prompt_index(["a"])
    with pytest.raises(ValueError, match="one id per text"):
        scan_batch(index, ["a"], ids=[])
    with pytest.raises(ValueError, match="wrap a single text"):
        scan_batch(index, "a")
    with pytest.raises(ValueError, match="one id per row"):
        scan_sft(index, ["a"], ids=[1, 2])
