"""Greedy, batched decoding that works with any causal `ids -> logits` callable.

Prompts are right-padded into one buffer and each row's next token is read at its own last position,
so no attention mask, position ids or KV cache are needed from the model: in a causal model the pad
tokens after a row's end never influence it. The price is a full forward per step, fine for the short
answers an eval asks for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from picogate.evaluator.model import LM, run_batches

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
        logits = lm.logits(buf[:, :cur])
        nxt = logits[rows, lengths - 1].argmax(-1)
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

    `max_new_tokens` is one limit or one per prompt. Decoding stops at the tokenizer's EOS.
    >>> [g.tokens for g in greedy_generate(lm, [lm.context_ids("2+2=")], 4)]
    """
    limits = [max_new_tokens] * len(prompts) if isinstance(max_new_tokens, int) else list(max_new_tokens)
    fitted = [_fit(list(p), n, lm.max_len) for p, n in zip(prompts, limits, strict=True)]
    # Longest first, so each batch pads little and the first batch shows the worst memory use.
    order = sorted(range(len(prompts)), key=lambda i: (-len(fitted[i][0]) - limits[i], i))
    results: list[Generation | None] = [None] * len(prompts)

    def step(start: int, stop: int) -> None:
        chunk = order[start:stop]
        outs = _generate_batch(lm, [fitted[i][0] for i in chunk], [limits[i] for i in chunk])
        for i, tokens in zip(chunk, outs, strict=True):
            results[i] = Generation(tokens, fitted[i][1])
        if progress is not None:
            progress(len(chunk))

    run_batches(lm, [len(fitted[i][0]) + limits[i] for i in order], batch_size, batch_ceiling, step)
    return [r for r in results if r is not None]
