"""Peak memory of a preflight corpus scan: streaming picogate vs an eager polars read of the same corpus.

    .venv/bin/python benchmarks/bench_stream_memory.py              # 2 GB of text, writes results/stream_memory.json
    .venv/bin/python benchmarks/bench_stream_memory.py --gb 0.2 --no-write

Generates `--gb` GB of document text (2 KB documents of random lowercase words, no Python strings
involved) as zstd parquet shards in a temp dir, then runs, each in a fresh subprocess that reports its own peak
RSS (VmHWM: ru_maxrss would not do, since on Linux a child inherits its parent's peak across fork and
exec, and this parent peaks near 0.8 GB while generating shards):
- `stream`: `picogate.preflight` with a profile of every streaming collector except near-dup
  (documents, bytes, token estimate, replay, n-gram contamination against 50 eval prompts);
- `stream+dedup`: the same plus the MinHash/LSH near-dup sketch (`--dedup`; its 128-slot signatures
  spill to a temp file, so RAM grows by about 90 bytes per document);
- baseline `eager`: `polars.read_parquet` of the whole corpus and a byte count, the naive way.
The target (issue 3) is peak RSS under 1.5 GB for the streaming scan of 2 GB.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks._common import machine, run_child, write_json_atomic

DOC_BYTES = 2048
SHARD_BYTES = 256 << 20
RESULTS = Path(__file__).parent / "results" / "stream_memory.json"

PROFILE = """\
profile: bench
rules:
  - {id: docs, stage: preflight, severity: block, check: corpus.documents >= 1000, message: m, fix: f}
  - {id: replay, stage: preflight, severity: block, check: replay.epochs <= 16.0, message: m, fix: f}
  - {id: leak, stage: preflight, severity: block, check: contamination.corpus_prompts == 0, message: m, fix: f}
%s"""
DEDUP_RULE = ("  - {id: dup, stage: preflight, severity: block, check: dedup.exact_dup_rate <= 0.05, "
              "message: m, fix: f}\n")


def make_corpus(root: Path, gb: float, seed: int = 0) -> tuple[int, int]:
    """Parquet shards of random-word documents; returns (documents, text bytes)."""
    rng = np.random.default_rng(seed)
    alphabet = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz     ", dtype=np.uint8)  # ~1 space in 6: short words
    total = int(gb * 1e9) // DOC_BYTES * DOC_BYTES
    docs_per_shard = SHARD_BYTES // DOC_BYTES
    written = shard = 0
    (root / "corpus").mkdir(parents=True)
    while written < total:
        n = min(docs_per_shard, (total - written) // DOC_BYTES)
        data = alphabet[rng.integers(0, len(alphabet), n * DOC_BYTES, dtype=np.uint8)]
        offsets = np.arange(0, (n + 1) * DOC_BYTES, DOC_BYTES, dtype=np.int64)
        texts = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
        pq.write_table(pa.table({"text": texts}), root / "corpus" / f"shard{shard:03d}.parquet",
                       compression="zstd", row_group_size=16384)
        written += n * DOC_BYTES
        shard += 1
    prompts = [" ".join(f"word{i}x{j}" for j in range(15)) for i in range(50)]
    (root / "eval.jsonl").write_text("".join(json.dumps({"id": i, "skill": "math", "prompt": p, "answer": "1"})
                                             + "\n" for i, p in enumerate(prompts)))
    return written // DOC_BYTES, written


def write_plan(root: Path, tokens: int) -> Path:
    plan = root / "plan.yaml"
    plan.write_text(f"""\
run_id: bench
model: {{params: {max(tokens // 20, 1)}}}
budget: {{target_param_data_ratio: 20.0, planned_tokens: {tokens}}}
data: {{corpus: ["corpus/*.parquet"], eval: ["eval.jsonl"]}}
launch: {{device_batch_size: 32, max_seq_len: 2048, total_batch_size: 524288, nproc_per_node: 8,
         device: cuda, precision: bf16, attention: flash}}
""")
    return plan


# Each child prints one JSON line last; `peak_rss_mb()` is defined by `_common.PEAK_RSS`.
CHILD = {
    "stream": """
import json, sys, time
from picogate.preflight.gate import run
t = time.perf_counter()
result, ev = run(sys.argv[1], profile=sys.argv[2], quiet=True)
print(json.dumps({"seconds": time.perf_counter() - t, "status": result.status,
                  "documents": ev["corpus.documents"], "bytes": ev["corpus.bytes"],
                  "dedup": {k: v for k, v in ev.items() if k.startswith("dedup.")} or None,
                  "peak_rss_mb": peak_rss_mb()}))
""",
    "eager": """
import json, sys, time
import polars as pl
t = time.perf_counter()
df = pl.read_parquet(sys.argv[1] + "/corpus/*.parquet")
n_bytes = df.select(pl.col("text").str.len_bytes().sum()).item()
print(json.dumps({"seconds": time.perf_counter() - t, "documents": df.height, "bytes": n_bytes,
                  "peak_rss_mb": peak_rss_mb()}))
""",
}


def measure(kind: str, args: list[str]) -> dict:
    """Run one child in a fresh interpreter; it reports its own peak RSS (`_common.PEAK_RSS`)."""
    return run_child(CHILD[kind], args, cwd=Path(__file__).resolve().parents[1], name=kind)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gb", type=float, default=2.0, help="corpus text size in GB (default 2)")
    ap.add_argument("--dedup", action="store_true", help="also measure the scan with the near-dup sketch")
    ap.add_argument("--no-eager", action="store_true", help="skip the eager baseline")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="picogate-bench-") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        docs, n_bytes = make_corpus(root, args.gb)
        print(f"generated {n_bytes / 1e9:.2f} GB of text, {docs} documents in {time.perf_counter() - t:.0f}s")
        plan = write_plan(root, n_bytes // 4 * 2)
        (root / "p.yaml").write_text(PROFILE % "")
        (root / "pd.yaml").write_text(PROFILE % DEDUP_RULE)
        runs = {"stream": measure("stream", [str(plan), str(root / "p.yaml")])}
        print("stream", runs["stream"])
        if args.dedup:
            runs["stream+dedup"] = measure("stream", [str(plan), str(root / "pd.yaml")])
            print("stream+dedup", runs["stream+dedup"])
        if not args.no_eager:
            runs["eager"] = measure("eager", [str(root)])
            print("eager", runs["eager"])
    for name, r in runs.items():
        if r["documents"] != docs or r["bytes"] != n_bytes:
            raise SystemExit(f"{name}: counted {r['documents']} docs / {r['bytes']} bytes, expected {docs} / {n_bytes}")
    payload = {
        "benchmark": "preflight corpus scan peak memory (issue 3: 2 GB streams under 1.5 GB RSS)",
        "corpus": {"text_bytes": n_bytes, "documents": docs, "doc_bytes": DOC_BYTES, "format": "zstd parquet shards"},
        "baseline": "eager: polars.read_parquet of every shard, then a byte count",
        "runs": runs,
        "target_peak_rss_mb": 1536,
        "stream_under_target": runs["stream"]["peak_rss_mb"] < 1536,
        "stream_dedup_under_target": runs["stream+dedup"]["peak_rss_mb"] < 1536 if "stream+dedup" in runs else None,
        "note": ("peak RSS is each child's own VmHWM (fresh interpreter, imports included); not ru_maxrss, which "
                 "on Linux carries the parent's peak (corpus generation, ~0.8 GB) into every child"),
        "machine": machine(),
    }
    if not args.no_write:
        write_json_atomic(RESULTS, payload)
        print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
