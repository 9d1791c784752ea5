# .venv/bin/python -m pytest tests/preflight_gate/test_gate_collectors.py -q
"""Collectors are pure functions: small inputs in, catalog-named metric values out."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from picogate.catalog import shipped_catalog
from picogate.errors import RuleError
from picogate.preflight.collectors import attention, boundaries, coverage, documents, files, launch, replay
from picogate.preflight.plan import Launch
from picogate.preflight.sources import TextBatch
from picogate.rules import load_rules


def make_launch(**kw: object) -> Launch:
    base = dict(device_batch_size=32, max_seq_len=2048, total_batch_size=524288, nproc_per_node=8,
                device="cuda", precision="bf16", attention="flash")
    return Launch(**{**base, **kw})  # type: ignore[arg-type]


def test_launch_arithmetic() -> None:
    assert launch.metrics(make_launch())["launch.grad_accum_steps"] == 1
    m = launch.metrics(make_launch(nproc_per_node=1))
    assert (m["launch.world_size"], m["launch.grad_accum_steps"], m["launch.batch_divides"]) == (1, 8, True)
    m = launch.metrics(make_launch(nnodes=3))  # 3 x 8 x 32 x 2048 does not divide 2**19
    assert m["launch.batch_divides"] is False and m["launch.grad_accum_steps"] is None


def test_replay_precedence() -> None:
    shards = replay.corpus_tokens(shard_tokens=10, tokenizer_tokens=20, text_bytes=400, bytes_per_token=4.0)
    assert (shards["corpus.tokens"], shards["corpus.tokens_source"]) == (10, "shards")
    tok = replay.corpus_tokens(shard_tokens=None, tokenizer_tokens=20, text_bytes=400, bytes_per_token=4.0)
    assert tok["corpus.tokens_estimated"] is False and tok["corpus.tokens"] == 20
    est = replay.corpus_tokens(shard_tokens=None, tokenizer_tokens=None, text_bytes=400, bytes_per_token=3.5)
    assert est["corpus.tokens_estimated"] is True and est["corpus.tokens_source"] == "estimate at 3.5 bytes/token"
    none = replay.corpus_tokens(shard_tokens=None, tokenizer_tokens=None, text_bytes=None, bytes_per_token=4.0)
    assert none["corpus.tokens"] is None
    assert replay.metrics(100, 0)["replay.epochs"] is None  # an empty corpus is missing evidence, not inf


def test_documents_counts_blank_and_null() -> None:
    stats = documents.count(TextBatch(pa.array(["héllo", "", "  \n", None]), Path("x")))
    assert stats == documents.DocStats(4, len("héllo".encode()) + 3, 3)
    assert stats.merge(stats).documents == 8


def test_coverage_fills_required_skills_with_zero() -> None:
    m = coverage.metrics("eval", Counter({"math": 2, "chat": 1}), ["math", "refusal"])
    assert m == {"data.eval.rows": 3, "data.eval.chat.rows": 1, "data.eval.math.rows": 2,
                 "data.eval.refusal.rows": 0}
    assert coverage.metrics("eval", None, ["math"])["data.eval.math.rows"] is None


def test_boundaries() -> None:
    stats = [boundaries.scan([np.array([5, 1, 2]), np.array([5, 3])], 5), boundaries.scan([np.array([1, 2])], 5)]
    m = boundaries.metrics(stats)
    assert (m["boundaries.shards_without_bos"], m["boundaries.documents"], m["boundaries.max_mean_doc_tokens"]) \
        == (1, 2, 2.5)
    assert boundaries.metrics([boundaries.scan([np.array([1])], None)])["boundaries.shards_without_bos"] is None
    assert boundaries.metrics([])["boundaries.shards"] == 0


def test_files() -> None:
    assert files.metrics("eval", [Path("a")], [])["files.eval.missing_globs"] == "none"


def test_attention_reads_the_profile_table() -> None:
    tables = load_rules("release").tables
    assert attention.metrics(make_launch(), tables)["attention.compatible"] is True
    assert attention.metrics(make_launch(), {})["attention.compatible"] is None  # no table: missing
    bad = {"attention_backends": [{"attention": "flash", "devices": "cuda", "precisions": []}],
           "device_precisions": []}
    with pytest.raises(RuleError, match=r"tables.attention_backends.0.devices: Input should be a valid list"):
        attention.metrics(make_launch(), bad)


def test_every_collected_metric_is_catalogued(example: Path) -> None:
    from picogate.preflight.gate import run

    _, ev = run(example)
    catalog = load_rules("skill_release").catalog
    unknown = [name for name in ev if name != "run_id" and catalog.lookup(name) is None]
    assert not unknown
    assert shipped_catalog().lookup("data.eval.math.rows").type == "int"


def test_shipped_catalog_is_valid_against_its_schema() -> None:
    """The shipped catalog is not re-validated on every start; this test is where it is checked."""
    from picogate.catalog import check_shipped_catalog

    check_shipped_catalog()
