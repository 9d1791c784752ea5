"""Generated corpora for the Ray engine tests (numpy, seeded).

Documents of ~70 words from a Zipf vocabulary, with planted exact copies (case and punctuation changed),
near copies (a sentence appended: Jaccard about 0.94) and documents that quote an eval prompt
(contamination); text as parquet or JSONL shards, tokens as raw .bin shards with BOS boundaries.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks._common import LEAKS, synthetic_texts

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
OBJECT_STORE_MB = 80
# The generated corpus of the big equality test; PICOGATE_RAY_TEST_DOCS=200000 gives the size.
BIG_DOCS = int(os.environ.get("PICOGATE_RAY_TEST_DOCS", "200000"))
BOS = 50256


def make_texts(n: int, seed: int = 0) -> list[str]:
    """`n` documents: 2% exact copies, 3% near copies, one eval prompt quoted in every 5,000th document."""
    return synthetic_texts(n, seed)


def write_corpus(folder: Path, texts: list[str], fmt: str, shards: int) -> list[str]:
    """`texts` as `shards` files of `fmt` (parquet or jsonl) under `folder`; returns the plan globs."""
    folder.mkdir(parents=True, exist_ok=True)
    cuts = np.linspace(0, len(texts), shards + 1).astype(int)
    for s in range(shards):
        part = texts[cuts[s]:cuts[s + 1]]
        name = folder / f"shard_{s:03d}.{fmt}"
        if fmt == "parquet":
            pq.write_table(pa.table({"text": pa.array(part, pa.large_string())}), name, row_group_size=4096)
        else:
            with open(name, "w", encoding="utf-8") as f:
                f.writelines(json.dumps({"text": t}) + "\n" for t in part)
    return [f"{folder.name}/*.{fmt}"]


def write_bin(folder: Path, shards: int, seed: int = 1) -> list[str]:
    """Raw uint16 token shards with BOS boundaries (the last one has none: a shard without BOS)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for s in range(shards):
        tokens = rng.integers(0, 50000, 20_000 + 1000 * s).astype(np.uint16)
        if s != shards - 1:
            tokens[:: 97 + s] = BOS % 65536
        tokens.tofile(folder / f"tok_{s:03d}.bin")
    return [f"{folder.name}/*.bin"]


def make_plan(root: Path, corpus: list[str], *, bos: bool = False) -> Path:
    """examples/plan.yaml with its SFT/eval data copied under `root`, `corpus` globs, and leaked eval rows."""
    for sub in ("sft", "eval", "external"):
        if not (root / "data" / sub).exists():
            shutil.copytree(EXAMPLES / "data" / sub, root / "data" / sub)
    leaks = root / "data" / "eval" / "leaks.jsonl"
    leaks.write_text("".join(json.dumps({"id": f"leak-{i}", "skill": "math", "prompt": p, "answer": "x"}) + "\n"
                             for i, p in enumerate(LEAKS)))
    plan: dict[str, Any] = yaml.safe_load((EXAMPLES / "plan.yaml").read_text())
    plan["data"]["corpus"] = corpus
    plan["data"]["eval"] = ["data/eval/release_eval.jsonl", "data/eval/leaks.jsonl"]
    if bos:
        plan["data"]["bos_token_id"] = BOS % 65536
        plan["data"]["token_dtype"] = "uint16"
    path = root / "plan.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path
