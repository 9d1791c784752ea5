"""Greedy, batched decoding: KV-cached where the model allows it, recomputed otherwise.

- *Cached* (`LM.kv_cache`: Hugging Face models, and plain modules with `forward_cached`): a batch's
  prompts are left-padded, with position ids counted from each prompt's first token and a mask that
  hides the padding, and go through the model once; then each step feeds one token a row. A row that
  stops (its stop token or its token limit) leaves the batch and its cache rows are dropped, so the
  steps get cheaper as rows finish.
- *Recomputed*, for any causal `ids -> logits` callable: prompts are right-padded into one buffer and
  each row's next token is read at its own last position, so no attention mask, position ids or cache
  are needed from the model (in a causal model the pad tokens after a row's end never influence it).
  The price is a full forward per step.

Both give the same tokens (tested), since each step's logits equal those of a full pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from picogate.evaluator.model import LM, left_padded, run_batches, select_rows

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Generation:
    """New tokens (stop token excluded) for one prompt, and whether the prompt was cut to fit."""

    tokens: list[int]
    truncated: bool


def _fit(prompt: list[int], limit: int, max_len: int | None) -> tuple[list[int], bool]:
    """Keep the prompt's tail when prompt + answer would overflow the model's context."""
    if max_len is None or len(prompt) + limit <= max_len:
        return prompt, False
    keep = max(1, max_len - limit)
    return prompt[-keep:], True


def _generate_batch(lm: LM, prompts: list[list[int]], limits: list[int]) -> list[list[int]]:
    batch = len(prompts)
    lengths = torch.tensor([len(p) for p in prompts])
    width = int((lengths + torch.tensor(limits)).max())
    buf = torch.zeros((batch, width), dtype=torch.long)
    for i, p in enumerate(prompts):
        buf[i, : len(p)] = torch.tensor(p, dtype=torch.long)
    buf = buf.to(lm.device)
    lengths = lengths.to(lm.device)
    start = lengths.clone()
    remaining = torch.tensor(limits, device=lm.device)
    done = remaining <= 0
    rows = torch.arange(batch, device=lm.device)
    stops = torch.tensor(sorted(lm.stop_ids), dtype=torch.long, device=lm.device)
    while not bool(done.all()):
        cur = int(lengths.max())
        nxt = lm.logits_at(buf[:, :cur], rows, lengths - 1).argmax(-1)  # the output layer at each row's end only
        stopped = torch.isin(nxt, stops) if len(stops) else torch.zeros_like(done)
        write = ~done & ~stopped
        # Rows that are done keep their buffer; the others take the new token at their end.
        pos = torch.where(write, lengths, torch.zeros_like(lengths))
        buf[rows, pos] = torch.where(write, nxt, buf[rows, pos])
        lengths = lengths + write.long()
        remaining = remaining - write.long()
        done = done | stopped | (remaining <= 0)
    out = buf.cpu().tolist()
    return [out[i][int(start[i]):int(lengths[i])] for i in range(batch)]


def _generate_cached(lm: LM, prompts: list[list[int]], limits: list[int]) -> list[list[int]]:
    """One prefill of the left-padded batch, then one token a row a step; finished rows leave the batch."""
    out: list[list[int]] = [[] for _ in prompts]
    active = [i for i, n in enumerate(limits) if n > 0]
    if not active:
        return out
    ids, positions, mask = left_padded([prompts[i] for i in active])
    logits, cache = lm.cached_logits(ids, positions, mask, None)
    real, last = mask[:, -1].to(lm.device), positions[:, -1:].to(lm.device)
    stops = sorted(lm.stop_ids)
    while True:
        # One host read a step: which rows stop now decides the next step's batch.
        nxt = logits.argmax(-1)
        keep = []
        for r, (i, tok) in enumerate(zip(active, nxt.tolist(), strict=True)):
            if tok in stops:
                continue
            out[i].append(tok)
            if len(out[i]) < limits[i]:
                keep.append(r)
        if not keep:
            return out
        if len(keep) < len(active):
            rows = torch.tensor(keep, device=lm.device)
            with torch.inference_mode():
                cache = select_rows(cache, rows)
            nxt, real, last = nxt[rows], real[rows], last[rows]
            active = [active[r] for r in keep]
        real = torch.cat([real, real.new_ones((len(active), 1))], 1)
        last = last + 1
        logits, cache = lm.cached_logits(nxt[:, None], last, real[:, None], cache)


def greedy_generate(
    lm: LM,
    prompts: Sequence[list[int]],
    max_new_tokens: int | Sequence[int],
    *,
    batch_size: int | None = None,
    batch_ceiling: int = 64,
    progress: Progress | None = None,
) -> list[Generation]:
    """Greedy continuations of token-id prompts, in input order; deterministic for a given batch size.

    `max_new_tokens` is one limit or one per prompt. Decoding stops at the tokenizer's EOS. A prompt that
    would overflow the model's window with its answer keeps its tail (`truncated`).
    >>> [g.tokens for g in greedy_generate(lm, [lm.context_ids("2+2=")], 4)]
    """
    limits = [max_new_tokens] * len(prompts) if isinstance(max_new_tokens, int) else list(max_new_tokens)
    fitted = [_fit(list(p), n, lm.max_len) for p, n in zip(prompts, limits, strict=True)]
    cached = lm.kv_cache
    # A batch's size follows its widest pass: with the cache that is the prompts' prefill (a step is one
    # token a row; on 2 CPU cores 64 rows a step run ~2x faster per token than 8), without it the whole
    # sequence. Longest first, so each batch pads little and the first shows the worst memory use.
    widths = [len(p) if cached else len(p) + n for (p, _), n in zip(fitted, limits, strict=True)]
    order = sorted(range(len(prompts)), key=lambda i: (-widths[i], -limits[i], i))
    results: list[Generation | None] = [None] * len(prompts)
    generate = _generate_cached if cached else _generate_batch

    def step(start: int, stop: int) -> None:
        chunk = order[start:stop]
        outs = generate(lm, [fitted[i][0] for i in chunk], [limits[i] for i in chunk])
        for i, tokens in zip(chunk, outs, strict=True):
            results[i] = Generation(tokens, fitted[i][1])
        if progress is not None:
            progress(len(chunk))

    run_batches(lm, [widths[i] for i in order], batch_size, batch_ceiling, step)
    return [r for r in results if r is not None]
