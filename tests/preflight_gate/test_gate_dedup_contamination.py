# .venv/bin/python -m pytest tests/preflight_gate/test_gate_dedup_contamination.py -q
"""The thin dedup and contamination collectors: duplicated corpora and leaked eval prompts are caught."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from picogate.errors import RuleError
from picogate.preflight.collectors import dedup
from picogate.preflight.gate import run


def failing(result) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {r["rule_id"]: r["message"] for r in result.failing().iter_rows(named=True)}


def corpus_path(plan: Path) -> Path:
    return plan.parent / "data" / "base" / "corpus.parquet"


def test_exact_duplicates_block(example: Path) -> None:
    texts = pq.read_table(corpus_path(example))["text"].to_pylist()
    pq.write_table(pa.table({"text": texts[:1000] + texts[:200]}), corpus_path(example))
    result, ev = run(example)
    assert ev["dedup.exact_dup_count"] == 200 and ev["dedup.near_dup_count"] >= 200
    assert result.status == "blocked" and "200 of 1200 corpus documents" in failing(result)["dedup.exact"]


def test_near_duplicates_block(example: Path) -> None:
    """The seed blocks on near-duplicate pressure too (rules/release.yaml dedup.near is severity block)."""
    texts = pq.read_table(corpus_path(example))["text"].to_pylist()
    near = [t + " And that was all." for t in texts[:150]]  # one short sentence added: Jaccard stays high
    pq.write_table(pa.table({"text": texts[:1050] + near}), corpus_path(example))
    result, ev = run(example)
    assert ev["dedup.exact_dup_count"] == 0 and ev["dedup.near_dup_count"] >= 140
    assert result.status == "blocked" and set(failing(result)) == {"dedup.near"}


def test_eval_prompt_copied_into_sft_blocks(example: Path) -> None:
    eval_row = json.loads((example.parent / "data/eval/release_eval.jsonl").read_text().splitlines()[3])
    sft = example.parent / "data/sft/release_sft.jsonl"
    sft.write_text(sft.read_text() + json.dumps({"id": "leak", "skill": "math", "prompt": eval_row["prompt"],
                                                 "response": "x"}) + "\n")
    result, ev = run(example)
    assert ev["contamination.sft_prompts"] == 1
    assert "eval#4 in sft#101" in failing(result)["contamination.sft"]


def test_long_eval_prompt_in_corpus_blocks(example: Path) -> None:
    prompt = "Q: a train leaves the station at nine and travels sixty miles an hour for three hours; how far?"
    ev_file = example.parent / "data/eval/release_eval.jsonl"
    ev_file.write_text(ev_file.read_text() + json.dumps({"id": "long", "skill": "math", "prompt": prompt,
                                                         "answer": "180"}) + "\n")
    assert run(example)[0].status == "approved"
    texts = pq.read_table(corpus_path(example))["text"].to_pylist()
    texts[500] += " Homework: " + prompt.lower()
    pq.write_table(pa.table({"text": texts}), corpus_path(example))
    result, ev = run(example)
    assert ev["contamination.corpus_documents"] == 1
    assert "eval#51 in corpus doc 500" in failing(result)["contamination.corpus"]


def test_token_only_corpus_cannot_be_checked_for_duplicates(edit_plan, tmp_path: Path) -> None:
    import numpy as np

    np.save(tmp_path / "tok.npy", np.tile(np.array([7] + [1] * 99, np.uint16), 2000))
    result, ev = run(edit_plan(lambda p: p["data"].update(corpus=["tok.npy"], bos_token_id=7)))
    assert ev["dedup.exact_dup_rate"] is None and ev["contamination.corpus_prompts"] == 0
    assert "dedup.exact" in failing(result)  # missing evidence blocks: list the source text too


def test_profile_without_dedup_rules_skips_the_sketch(example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: object, **k: object) -> None:
        raise AssertionError("dedup should not run")

    monkeypatch.setattr(dedup, "stream", boom)
    (example.parent / "lean.yaml").write_text(
        "profile: lean\nrules:\n  - {id: r, stage: preflight, severity: block, check: corpus.documents > 0, "
        "message: m, fix: f}\n")
    assert run(example, profile=example.parent / "lean.yaml")[0].status == "approved"


@pytest.mark.parametrize(("row", "reason"), [
    ({"jacard": 0.5}, "tables.near_dup.0.jacard: Extra inputs are not permitted"),
    ({"jaccard": -1}, "tables.near_dup.0.jaccard: Input should be greater than 0"),
    ({"num_perm": 12.5}, "tables.near_dup.0.num_perm: Input should be a valid integer"),
])
def test_settings_table_is_checked(row: dict, reason: str) -> None:
    """Tables built in code are checked too (a rule file's are checked, with positions, when it loads)."""
    with pytest.raises(RuleError, match=reason):
        dedup.settings({"near_dup": [row]})
