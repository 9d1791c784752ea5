"""preflight(): turn a run plan and its data into one row of evidence, then judge it.

    plan.yaml -> collectors (files, budget, launch, attention, rows, one streaming pass
    over the corpus) -> one evidence row -> evaluate(row, profile, stage="preflight")

The row enters through the same evidence boundary as any metrics table (picogate/metrics.py).

Collectors whose metrics no rule reads are skipped (a profile without near-dup rules pays no
MinHash cost). Everything that decides is in the rules; this module only measures.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from picogate.errors import InputError
from picogate.evaluate import evaluate, read_names
from picogate.preflight import sources
from picogate.preflight.collectors import attention, boundaries, budget, coverage, documents, files, launch, replay
from picogate.preflight.plan import Plan, load_plan
from picogate.result import GateResult
from picogate.rows import full_text, iter_rows, prompt_text
from picogate.rules import RuleSet, load_rules

TokenCounter = Callable[[Sequence[str]], Sequence[int]]
ENGINES = ("local", "ray")
_COVERAGE = re.compile(r"^data\.(sft|eval)\.([a-z0-9_]+)\.rows$")


def preflight(plan: str | Path | Plan, *, profile: str | Path | RuleSet | None = None, quiet: bool = True,
              count_tokens: TokenCounter | None = None, engine: str = "local",
              ray_address: str | None = None) -> GateResult:
    """Judge a run plan before any GPU is spent.

    `profile` overrides the plan's `profile:`; `count_tokens` (texts -> token counts) is a
    tokenizer to count corpus tokens with, instead of the plan's bytes-per-token estimate.
    `engine="ray"` scans the corpus on Ray Data (the cluster at `ray_address` or `RAY_ADDRESS`,
    else a local one); the evidence is the local engine's, bit for bit (docs/scale.md).

    >>> preflight("examples/plan.yaml").status
    'approved'
    """
    return run(plan, profile=profile, quiet=quiet, count_tokens=count_tokens, engine=engine,
               ray_address=ray_address)[0]


def run(plan: str | Path | Plan, *, profile: str | Path | RuleSet | None = None, quiet: bool = True,
        count_tokens: TokenCounter | None = None, engine: str = "local",
        ray_address: str | None = None) -> tuple[GateResult, dict[str, Any]]:
    """`preflight`, also returning the evidence row (metric name -> value) it judged."""
    if engine not in ENGINES:
        raise InputError(f"unknown engine '{engine}'; use one of: {', '.join(ENGINES)}")
    loaded = plan if isinstance(plan, Plan) else load_plan(plan)
    ruleset = _ruleset(loaded, profile).for_stage("preflight")
    evidence = collect(loaded, ruleset, quiet=quiet, count_tokens=count_tokens, engine=engine,
                       ray_address=ray_address)
    result = evaluate(evidence, ruleset, stage="preflight")
    return result, evidence


def _ruleset(plan: Plan, profile: str | Path | RuleSet | None) -> RuleSet:
    ref = profile if profile is not None else plan.spec.profile
    if ref is None:
        raise InputError(f"{plan.path}: the plan names no profile; add 'profile:' or pass --profile")
    if isinstance(ref, str) and profile is None and ref.endswith((".yaml", ".yml")) and not Path(ref).is_absolute():
        ref = plan.base / ref  # a rule file named by the plan is relative to the plan
    return load_rules(ref)


def collect(plan: Plan, ruleset: RuleSet, *, quiet: bool = True, count_tokens: TokenCounter | None = None,
            engine: str = "local", ray_address: str | None = None) -> dict[str, Any]:
    """The evidence row: every collector's metrics, keyed by catalog name."""
    spec = plan.spec
    wanted = set(read_names(ruleset))
    ev: dict[str, Any] = {"run_id": spec.run_id}
    ev |= budget.metrics(spec)
    ev |= launch.metrics(spec.launch)
    ev |= attention.metrics(spec.launch, ruleset.tables)

    paths: dict[str, list[Path]] = {}
    for kind in ("corpus", "sft", "eval", "external"):
        found, missing = plan.resolve(getattr(spec.data, kind))
        ev |= files.metrics(kind, found, missing)
        paths[kind] = found

    required = _required_skills(wanted)
    prompts: dict[str, list[str]] = {}
    for split in ("sft", "eval", "external"):
        counts: Counter[str] | None = None
        texts: list[str] = []
        if paths[split]:
            counts = Counter()
            for path in paths[split]:
                for _, row in iter_rows(path, "choice" if split == "external" else split):  # external: choice rows
                    counts[str(row.get("skill", ""))] += 1
                    texts.append(prompt_text(row))
                    if split == "sft":
                        prompts.setdefault("sft_full", []).append(full_text(row))
        ev |= coverage.metrics(split, counts, required.get(split, ()))
        prompts[split] = texts

    ev |= _scan_corpus(plan, paths["corpus"], wanted, prompts, ruleset, quiet=quiet, count_tokens=count_tokens,
                       engine=engine, ray_address=ray_address)
    ev |= replay.metrics(ev["planned_tokens"], ev["corpus.tokens"])
    return ev


def _required_skills(wanted: set[str]) -> dict[str, list[str]]:
    """Skills the rules read row counts of: counted as 0 when absent, so the report says 0, not missing."""
    out: dict[str, list[str]] = {}
    for name in wanted:
        m = _COVERAGE.match(name)
        if m:
            out.setdefault(m.group(1), []).append(m.group(2))
    return out


def _scan_corpus(plan: Plan, paths: list[Path], wanted: set[str], prompts: dict[str, list[str]],
                 ruleset: RuleSet, *, quiet: bool, count_tokens: TokenCounter | None, engine: str = "local",
                 ray_address: str | None = None) -> dict[str, Any]:
    """One pass over the corpus feeding every corpus collector, on the chosen engine; one evidence assembly."""
    data = plan.spec.data
    kinds = {p: sources.kind_of(p, data) for p in paths}
    text_files = [p for p in paths if kinds[p] == sources.TEXT]
    token_files = [p for p in paths if kinds[p] == sources.TOKENS]
    if count_tokens is None and data.tokenizer is not None and data.tokenizer.tiktoken:
        count_tokens = _tiktoken(data.tokenizer.tiktoken)
    if engine == "ray":
        try:  # Ray is imported only here, only for --engine ray
            from picogate.preflight import ray_engine
        except ImportError as exc:
            raise InputError(f"--engine ray needs Ray Data ({exc.name or exc} is not installed): "
                             "pip install 'picogate[ray]'") from None
        scan = ray_engine.scan(text_files, token_files, data, wanted=wanted, prompts=prompts,
                               tables=ruleset.tables, count_tokens=count_tokens, address=ray_address, quiet=quiet)
    else:
        scan = _scan_local(paths, text_files, token_files, data, wanted, prompts, ruleset, quiet=quiet,
                           count_tokens=count_tokens)

    ev: dict[str, Any] = documents.metrics(scan.documents)
    ev |= boundaries.metrics(scan.shards)
    if scan.documents is None and scan.shards:  # token shards only: documents are their boundaries
        ev["corpus.documents"] = ev["boundaries.documents"]
    ev |= replay.corpus_tokens(shard_tokens=ev["boundaries.tokens"], tokenizer_tokens=scan.tokenized,
                               text_bytes=ev["corpus.bytes"], bytes_per_token=data.bytes_per_token)
    return ev | scan.metrics


@dataclass(frozen=True)
class CorpusScan:
    """What either engine measures in its pass over the corpus, before it becomes catalog names."""

    documents: documents.DocStats | None  # None: no text files
    shards: list[boundaries.ShardStats]  # one per token shard, in plan order
    tokenized: int | None  # tokenizer count of the text, when there is a tokenizer
    metrics: dict[str, Any]  # the optional collectors' (dedup, contamination) catalog metrics


def _scan_local(paths: list[Path], text_files: list[Path], token_files: list[Path], data: Any, wanted: set[str],
                prompts: dict[str, list[str]], ruleset: RuleSet, *, quiet: bool,
                count_tokens: TokenCounter | None) -> CorpusScan:
    """The local engine: one streaming pass in this process, batch by batch."""
    streams = _streams(wanted, prompts, ruleset)
    doc_stats = documents.DocStats() if text_files else None
    tokenized = 0 if (count_tokens is not None and text_files) else None
    shard_stats: list[boundaries.ShardStats] = []
    with _Progress(paths, quiet) as progress:
        for path in text_files:
            for batch, done in _batches(path, data.text_column):
                assert doc_stats is not None
                doc_stats = doc_stats.merge(documents.count(batch))
                for update in streams.values():
                    update[0](batch.texts)
                if tokenized is not None and count_tokens is not None:
                    tokenized += int(sum(count_tokens(batch.texts)))
                progress.advance(path, done)
        for path in token_files:
            shard_stats.append(boundaries.scan(progress.tokens(path, sources.iter_tokens(path, data)),
                                               data.bos_token_id))
    metrics: dict[str, Any] = {}
    for finish in streams.values():
        metrics |= finish[1]()
    return CorpusScan(doc_stats, shard_stats, tokenized, metrics)


def wants_dedup(wanted: set[str]) -> bool:
    """Whether a rule reads near-duplicate evidence (else no MinHash cost is paid)."""
    return any(n.startswith("dedup.") for n in wanted)


def wants_contamination(wanted: set[str]) -> bool:
    """Whether a rule reads contamination evidence."""
    return any(n.startswith("contamination.") for n in wanted)


def _streams(wanted: set[str], prompts: dict[str, list[str]],
             ruleset: RuleSet) -> dict[str, tuple[Callable[[list[str]], None], Callable[[], dict[str, Any]]]]:
    """Optional corpus collectors, each as (update(texts), finish() -> metrics), run only when read."""
    out = {}
    if wants_dedup(wanted):
        from picogate.preflight.collectors import dedup

        out["dedup"] = dedup.stream(ruleset.tables)
    if wants_contamination(wanted):
        from picogate.preflight.collectors import contamination

        out["contamination"] = contamination.stream(ruleset.tables, eval_prompts=prompts["eval"],
                                                    external_prompts=prompts["external"],
                                                    sft_prompts=prompts["sft"],
                                                    sft_texts=prompts.get("sft_full", []))
    return out


def _batches(path: Path, column: str) -> Iterator[tuple[sources.TextBatch, float]]:
    """Text batches of one file, each with the share of the file read so far (for progress)."""
    if path.suffix.lower() == ".parquet":
        total = max(pq.ParquetFile(path).metadata.num_rows, 1)
        seen = 0
        for batch in sources.iter_text(path, column):
            seen += len(batch)
            yield batch, seen / total
        return
    total = max(path.stat().st_size, 1)
    seen = 0
    for batch in sources.iter_text(path, column):
        seen += batch.n_bytes
        yield batch, min(seen / total, 1.0)


class _Progress:
    """A rich progress bar over corpus bytes; silent when quiet or stderr is not a terminal."""

    def __init__(self, paths: list[Path], quiet: bool) -> None:
        self.sizes = {p: p.stat().st_size for p in paths}
        self.done: dict[Path, float] = {}
        self.bar: Any = None
        if not quiet and sys.stderr.isatty() and paths:
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("preflight: scanning corpus"), BarColumn(), DownloadColumn(),
                                TimeRemainingColumn(), console=Console(stderr=True), transient=True)
            self.task = self.bar.add_task("corpus", total=sum(self.sizes.values()))

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def advance(self, path: Path, share: float) -> None:
        self.done[path] = share
        if self.bar is not None:
            self.bar.update(self.task, completed=sum(self.sizes[p] * s for p, s in self.done.items()))

    def tokens(self, path: Path, chunks: Iterator[Any]) -> Iterator[Any]:
        total = max(self.sizes[path], 1)
        seen = 0
        for chunk in chunks:
            seen += chunk.nbytes
            self.advance(path, min(seen / total, 1.0))
            yield chunk
        self.advance(path, 1.0)


def _tiktoken(encoding: str) -> TokenCounter:
    try:
        import tiktoken  # optional: only when a plan asks for it
    except ImportError:
        raise InputError(f"data.tokenizer.tiktoken '{encoding}' needs the tiktoken package "
                         "(pip install tiktoken), or drop it to use the bytes_per_token estimate") from None
    try:
        enc = tiktoken.get_encoding(encoding)
    except Exception as exc:  # unknown name, or no network to fetch it
        raise InputError(f"data.tokenizer.tiktoken: cannot load encoding '{encoding}' ({exc})") from None
    return lambda texts: [len(t) for t in enc.encode_ordinary_batch(list(texts))]
