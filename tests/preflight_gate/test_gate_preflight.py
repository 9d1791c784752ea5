# .venv/bin/python -m pytest tests/preflight_gate/test_gate_preflight.py -q
"""preflight() end to end on small real files: the shipped example passes, each bad plan is blocked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from picogate import InputError
from picogate.preflight.gate import preflight, run

REPO = Path(__file__).parents[2]


def failing(result) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {r["rule_id"]: r["message"] for r in result.failing().iter_rows(named=True)}


def test_shipped_example_is_approved() -> None:
    result, ev = run(REPO / "examples" / "plan.yaml")
    assert result.status == "approved", failing(result)
    assert ev["corpus.documents"] == 1200 and ev["corpus.tokens_estimated"] is True
    assert ev["launch.grad_accum_steps"] == 1 and ev["data.sft.math.rows"] == 20
    assert result.checks.filter(pl.col("outcome") != "pass").height == 0


def test_one_billion_params_claiming_20_to_1_with_8b_tokens_is_blocked(edit_plan) -> None:
    def change(p: dict) -> None:
        p["model"] = {"params": 1_000_000_000, "counted": "all"}
        p["budget"] = {"target_param_data_ratio": 20.0, "planned_tokens": 8_000_000_000}
    result = preflight(edit_plan(change), profile="release")
    assert result.status == "blocked"
    message = failing(result)["budget.planned_to_target"]
    assert "8:1" in message and "claims 20:1" in message and "1000000000 parameters, counted as 'all'" in message


def test_scaling_params_are_named_in_the_report(edit_plan) -> None:
    def change(p: dict) -> None:
        p["model"] = {"params": 1_000_000_000, "counted": "scaling"}
        p["budget"] = {"target_param_data_ratio": 10.0, "planned_tokens": 10_000_000_000}
    result = preflight(edit_plan(change), profile="release")
    assert "counted as 'scaling'" in failing(result)["budget.target_ratio"]


@pytest.mark.parametrize("kind", ["corpus", "sft", "eval"])
def test_a_glob_matching_nothing_is_a_missing_file(edit_plan, kind: str) -> None:
    plan = edit_plan(lambda p: p["data"].__setitem__(kind, [*p["data"][kind], "data/nowhere/*.jsonl"]))
    result = preflight(plan)
    assert result.status == "blocked"
    assert "data/nowhere/*.jsonl" in failing(result)[f"files.{kind}"]


def test_no_sft_at_all_is_blocked_not_crashed(edit_plan) -> None:
    result, ev = run(edit_plan(lambda p: p["data"].__setitem__("sft", ["missing.jsonl"])))
    assert result.status == "blocked"
    assert ev["data.sft.rows"] is None and ev["data.sft.math.rows"] is None  # missing, not 0
    assert {"files.sft", "coverage.sft.math"} <= set(failing(result))


def test_a_missing_skill_counts_zero(example: Path) -> None:
    sft = example.parent / "data" / "sft" / "release_sft.jsonl"
    sft.write_text("".join(line for line in sft.read_text().splitlines(True) if '"spelling"' not in line))
    result, ev = run(example)
    assert ev["data.sft.spelling.rows"] == 0
    assert set(failing(result)) == {"coverage.sft.spelling"}
    assert "spelling: 0 SFT rows" in failing(result)["coverage.sft.spelling"]


def test_malformed_row_stops_the_gate_with_file_and_line(example: Path) -> None:
    ev_file = example.parent / "data" / "eval" / "release_eval.jsonl"
    ev_file.write_text(ev_file.read_text() + '{"id": "x", "skill": "math"}\n')
    with pytest.raises(InputError, match=r"release_eval.jsonl:51: row 'x': missing required field 'prompt'"):
        preflight(example)


def test_too_few_documents(example: Path) -> None:
    corpus = example.parent / "data" / "base" / "corpus.parquet"
    pq.write_table(pq.read_table(corpus).slice(0, 999), corpus)
    result = preflight(example, profile="release")
    assert "999 documents" in failing(result)["corpus.documents"]


def test_replay_warns_then_blocks(edit_plan) -> None:
    def change(epochs: float):  # type: ignore[no-untyped-def]
        def apply(p: dict) -> None:
            tokens = int(124_404 * epochs)
            p["model"] = {"params": tokens // 20}
            p["budget"] = {"target_param_data_ratio": 20.0, "planned_tokens": tokens}
        return apply
    assert preflight(edit_plan(change(6))).status == "warn"
    result = preflight(edit_plan(change(20)))
    assert result.status == "blocked" and "estimate at 4 bytes/token" in failing(result)["replay.epochs_max"]


def test_launch_shape_must_divide(edit_plan) -> None:
    result, ev = run(edit_plan(lambda p: p["launch"].__setitem__("total_batch_size", 1536)))
    assert ev["launch.batch_divides"] is False and ev["launch.grad_accum_steps"] is None
    assert "1536 is not a multiple of" in failing(result)["launch.batch_divides"]


@pytest.mark.parametrize(("launch", "why"), [
    ({"attention": "flash", "device": "cpu", "precision": "bf16"}, "flash attention does not run on cpu"),
    ({"attention": "flash", "device": "cuda", "precision": "fp32"}, "needs bf16 or fp16"),
    ({"attention": "sdpa", "device": "cpu", "precision": "fp16"}, "fp16 is not supported on cpu"),
    ({"attention": "xformers", "device": "cuda", "precision": "bf16"}, "not in the attention_backends table"),
])
def test_incompatible_attention_is_blocked(edit_plan, launch: dict, why: str) -> None:
    result = preflight(edit_plan(lambda p: p["launch"].update(launch)))
    assert why in failing(result)["launch.attention"]


def test_attention_table_is_data(example: Path, tmp_path: Path) -> None:
    """A local profile that allows flash on CPU makes the same plan pass that check."""
    (tmp_path / "local.yaml").write_text(
        "profile: local\nextends: [release]\ntables:\n  attention_backends:\n"
        "    - {attention: flash, devices: [cpu], precisions: [fp32]}\n")
    from picogate.preflight.plan import load_plan
    plan = load_plan(example)
    spec = plan.spec.model_copy(update={"launch": plan.spec.launch.model_copy(update={"attention": "flash"})})
    plan.spec = spec
    assert "launch.attention" not in failing(preflight(plan, profile=tmp_path / "local.yaml"))
    assert "launch.attention" in failing(preflight(plan, profile="release"))


def _shards(tmp_path: Path, bos: int | None) -> list[str]:
    rng = np.random.default_rng(0)
    out = []
    for i, dtype in enumerate((np.uint16, np.uint32)):
        tokens = rng.integers(10, 5000, 200_000).astype(dtype)
        if bos is not None:
            tokens[::500] = bos
        path = tmp_path / "data" / "tok" / f"shard{i}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        if dtype == np.uint32:  # llm.c header: magic, version 2 (uint32), token count
            header = np.zeros(256, np.int32)
            header[:3] = (20240520, 2, len(tokens))
            path.write_bytes(header.tobytes() + tokens.tobytes())
        else:
            tokens.tofile(path)
        out.append(f"data/tok/shard{i}.bin")
    np.save(tmp_path / "data" / "tok" / "shard2.npy", np.where(np.arange(1000) % 100 == 0, 7, 3).astype(np.int32))
    pq.write_table(pa.table({"ids": [[7, 1, 2], [7, 3]]}), tmp_path / "data" / "tok" / "shard3.parquet")
    return [*out, "data/tok/shard2.npy", "data/tok/shard3.parquet"]


def test_token_shards_give_exact_counts_and_boundaries(edit_plan, tmp_path: Path) -> None:
    shards = _shards(tmp_path, bos=7)
    result, ev = run(edit_plan(lambda p: p["data"].update(corpus=shards, bos_token_id=7)), profile="release")
    assert ev["corpus.tokens_source"] == "shards" and ev["corpus.tokens_estimated"] is False
    assert ev["corpus.tokens"] == ev["boundaries.tokens"] == 400_000 + 1000 + 5
    assert ev["boundaries.shards"] == 4 and ev["boundaries.shards_without_bos"] == 0
    assert ev["corpus.documents"] == ev["boundaries.documents"] >= 400 + 10 + 2
    assert "boundaries.bos_present" not in failing(result)


def test_a_shard_without_bos_blocks(edit_plan, tmp_path: Path) -> None:
    shards = _shards(tmp_path, bos=None)
    result, ev = run(edit_plan(lambda p: p["data"].update(corpus=shards, bos_token_id=7)), profile="release")
    assert ev["boundaries.shards_without_bos"] == 2
    assert result.status == "blocked" and "2 of 4 token shards" in failing(result)["boundaries.bos_present"]
    assert "boundaries.plausible" in failing(result)


def test_shards_without_a_bos_token_id_are_missing_evidence(edit_plan, tmp_path: Path) -> None:
    result, ev = run(edit_plan(lambda p: p["data"].update(corpus=_shards(tmp_path, bos=7))), profile="release")
    assert ev["boundaries.shards_without_bos"] is None
    assert result.checks.filter(pl.col("rule_id") == "boundaries.bos_present")["outcome"].to_list() == ["missing"]


def test_text_and_shards_together(edit_plan, tmp_path: Path) -> None:
    shards = _shards(tmp_path, bos=7)
    shutil.copytree(REPO / "examples" / "data" / "base", tmp_path / "data" / "base", dirs_exist_ok=True)
    _, ev = run(edit_plan(lambda p: p["data"].update(corpus=["data/base/*.parquet", *shards], bos_token_id=7)))
    assert ev["corpus.documents"] == 1200 and ev["corpus.tokens_source"] == "shards"


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("bad.bin", b"\x01\x02\x03", "not a whole number of uint16 tokens"),
    ("bad.npy", b"not numpy", "cannot read as .npy"),
    ("bad.parquet", b"PAR1garbage", "cannot read as parquet"),
    ("bad.txt", b"hello", "unknown corpus file type"),
])
def test_unreadable_shards_stop_the_gate(edit_plan, tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InputError, match=reason):
        preflight(edit_plan(lambda p: p["data"].update(corpus=[name], bos_token_id=7)))


def test_jsonl_corpus_and_custom_tokenizer(edit_plan, tmp_path: Path) -> None:
    texts = pq.read_table(REPO / "examples/data/base/corpus.parquet")["text"].to_pylist()
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    plan = edit_plan(lambda p: p["data"].update(corpus=["corpus.jsonl"]))
    _, ev = run(plan, count_tokens=lambda batch: [len(t.split()) for t in batch])
    assert ev["corpus.tokens_source"] == "tokenizer" and ev["corpus.documents"] == 1200
    assert ev["corpus.tokens"] == sum(len(t.split()) for t in texts)
    (tmp_path / "corpus.jsonl").write_text('{"text": "fine"}\n{"body": "no text"}\n')
    with pytest.raises(InputError, match=r"corpus.jsonl:2: corpus row needs a string 'text' field"):
        preflight(plan)


def test_tiktoken_missing_is_a_clean_error(edit_plan) -> None:
    pytest.importorskip("picogate")
    try:
        import tiktoken  # noqa: F401
    except ImportError:
        with pytest.raises(InputError, match="needs the tiktoken package"):
            preflight(edit_plan(lambda p: p["data"].update(tokenizer={"tiktoken": "gpt2"})))


def test_profile_must_be_named(edit_plan) -> None:
    with pytest.raises(InputError, match="names no profile"):
        preflight(edit_plan(lambda p: p.pop("profile")))
