# .venv/bin/python -m pytest tests/preflight_ray -q          (PICOGATE_RAY_TEST_DOCS=20000 for a quicker run)
"""The Ray engine gives the local engine's evidence, bit for bit, survives a failed task, and fails closed.

Every test compares the whole evidence row of `--engine ray` with `--engine local` on the same plan:
counts, rates (floats compared exactly), cluster counts and the reported examples.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ray_corpus import (
    BIG_DOCS,
    EXAMPLES,
    LEAKS,
    OBJECT_STORE_MB,
    REPO,
    make_plan,
    make_texts,
    write_bin,
    write_corpus,
)

from picogate.cli import main
from picogate.preflight.gate import run

pytestmark = pytest.mark.usefixtures("ray_session")


def same_evidence(plan: Path) -> dict:
    """Run both engines; assert equal verdicts and evidence rows; return the evidence."""
    local, ev_local = run(plan)
    ray_result, ev_ray = run(plan, engine="ray")
    assert ev_ray == ev_local
    assert list(ev_ray) == list(ev_local)  # same columns in the same order: the same table
    assert ray_result.to_dict() == local.to_dict()
    return ev_local


def test_example_corpus(tmp_path: Path) -> None:
    for sub in ("base", "sft", "eval", "external"):
        shutil.copytree(EXAMPLES / "data" / sub, tmp_path / "data" / sub)
    shutil.copy(EXAMPLES / "plan.yaml", tmp_path / "plan.yaml")
    ev = same_evidence(tmp_path / "plan.yaml")
    assert ev["corpus.documents"] == 1200 and ev["dedup.near_dup_count"] == 0


@pytest.mark.parametrize(("formats", "shards"), [(("parquet",), 1), (("jsonl", "parquet"), 7), (("jsonl",), 32)],
                         ids=["parquet-1", "jsonl+parquet-7", "jsonl-32"])
def test_generated_corpus(tmp_path: Path, formats: tuple[str, ...], shards: int) -> None:
    """Planted duplicates and leaks across formats and shard counts, with .bin token shards beside the text."""
    texts = make_texts(6000, seed=shards)
    globs: list[str] = []
    half = len(texts) // len(formats)
    for k, fmt in enumerate(formats):  # text split over formats: stream order is the plan's file order
        globs += write_corpus(tmp_path / f"text_{k}_{fmt}", texts[k * half:(k + 1) * half if k < len(formats) - 1
                                                                  else None], fmt, shards)
    globs += write_bin(tmp_path / "tokens", shards)
    ev = same_evidence(make_plan(tmp_path, globs, bos=True))
    assert ev["corpus.documents"] == 6000 and ev["boundaries.shards"] == shards
    assert ev["dedup.exact_dup_count"] > 0 and ev["dedup.near_dup_count"] > ev["dedup.exact_dup_count"]
    assert ev["contamination.corpus_prompts"] == min(len(LEAKS), 2)  # leaks at docs 17 and 5017
    assert ev["boundaries.shards_without_bos"] == 1


def test_documents_only_profile(tmp_path: Path) -> None:
    """A profile that reads no duplicate or contamination evidence: no sketch, no shuffle, same documents."""
    rules = tmp_path / "docs_only.yaml"
    rules.write_text("profile: docs_only\ndescription: documents only\nrules:\n"
                     "  - id: corpus.enough\n    stage: preflight\n    severity: block\n"
                     "    check: corpus.documents >= 100\n    message: too few documents\n"
                     "    fix: add documents\n")
    plan = make_plan(tmp_path, write_corpus(tmp_path / "corpus", make_texts(3000), "parquet", 3))
    local, ev_local = run(plan, profile=rules)
    ray_result, ev_ray = run(plan, profile=rules, engine="ray")
    assert ev_ray == ev_local and ray_result.to_dict() == local.to_dict()
    assert ev_local["corpus.documents"] == 3000 and ev_local.get("dedup.near_dup_count") is None


def test_big_corpus_spills_past_the_object_store(tmp_path: Path) -> None:
    """The issue's 200k documents (PICOGATE_RAY_TEST_DOCS), larger than the capped object store."""
    import ray

    assert ray.cluster_resources()["object_store_memory"] <= (OBJECT_STORE_MB + 1) << 20
    texts = make_texts(BIG_DOCS, seed=7)
    plan = make_plan(tmp_path, write_corpus(tmp_path / "corpus", texts, "parquet", 7))
    ev = same_evidence(plan)
    assert ev["corpus.documents"] == BIG_DOCS
    if BIG_DOCS >= 200_000:  # text alone outgrows the store; the sketches (~600 bytes a document) far more
        assert ev["corpus.bytes"] > OBJECT_STORE_MB << 20
    assert ev["dedup.near_dup_clusters"] > 0 and ev["contamination.corpus_documents"] > 0


@pytest.mark.parametrize("fault", ["once", "kill"])
def test_a_failed_batch_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str) -> None:
    """once: the batch raises on its first attempt; kill: the worker running it dies (os._exit). Either
    way Ray runs it again and the evidence is the same. `once` also verifies candidate pairs by hash
    joins in Ray (as when their signatures outgrow the driver)."""
    from picogate.preflight import ray_dedup

    if fault == "once":
        monkeypatch.setattr(ray_dedup, "DRIVER_VERIFY_BYTES", 0)
    faults = tmp_path / "faults"
    faults.mkdir()
    (faults / fault).touch()
    monkeypatch.setenv("PICOGATE_RAY_FAULTS", str(faults))
    plan = make_plan(tmp_path, write_corpus(tmp_path / "corpus", make_texts(3000), "parquet", 3))
    same_evidence(plan)
    assert not (faults / fault).exists() and len(list(faults.glob(f"claimed-{fault}-*"))) == 1  # it did fail


def test_a_persistent_failure_is_exit_2_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    faults = tmp_path / "faults"
    faults.mkdir()
    (faults / "always").touch()
    monkeypatch.setenv("PICOGATE_RAY_FAULTS", str(faults))
    plan = make_plan(tmp_path, write_corpus(tmp_path / "corpus", make_texts(500), "parquet", 2))
    results = tmp_path / "out.json"
    assert main(["preflight", str(plan), "--engine", "ray", "-q", "--results", str(results)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "injected failure" in err[0] and err[0].startswith("picogate: error:")
    assert not results.exists()  # no verdict at all, not a partial one


def test_a_malformed_row_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "corpus"
    write_corpus(folder, make_texts(100), "jsonl", 1)
    with open(folder / "shard_000.jsonl", "a") as f:
        f.write('{"text": 7}\n')
    plan = make_plan(tmp_path, ["corpus/*.jsonl"])
    assert main(["preflight", str(plan), "--engine", "ray", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "shard_000.jsonl:101" in err[0] and "string 'text'" in err[0]


def test_cli_engine_ray(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for sub in ("base", "sft", "eval", "external"):
        shutil.copytree(EXAMPLES / "data" / sub, tmp_path / "data" / sub)
    shutil.copy(EXAMPLES / "plan.yaml", tmp_path / "plan.yaml")
    assert main(["preflight", str(tmp_path / "plan.yaml"), "--engine", "ray", "-q"]) == 0
    assert main(["preflight", str(tmp_path / "plan.yaml"), "--ray-address", "auto", "-q"]) == 2
    assert "--ray-address needs --engine ray" in capsys.readouterr().err


def test_local_engine_never_imports_ray() -> None:
    code = ("import sys; from picogate.preflight.gate import run; run('examples/plan.yaml'); "
            "assert not [m for m in sys.modules if m == 'ray' or m.startswith('ray.')], 'ray imported'")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=120)


def test_an_unreachable_cluster_is_exit_2_in_one_line(tmp_path: Path) -> None:
    """In a fresh interpreter (no Ray initialized): nobody listens at the address, so no verdict."""
    proc = subprocess.run([sys.executable, "-m", "picogate", "preflight", "examples/plan.yaml", "--engine", "ray",
                           "--ray-address", "127.0.0.1:1", "-q", "--results", str(tmp_path / "r.json")],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and not (tmp_path / "r.json").exists()
    assert proc.stderr.strip().splitlines() == ["picogate: error: ray engine: no Ray cluster answers at 127.0.0.1:1 "
                                                "(Connection refused)"]
