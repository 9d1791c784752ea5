"""Log-likelihood scoring: continuations given contexts, multiple choice, and letter picks.

The context is shared where the model allows it: a request whose model input `(context +
continuation)[:-1]` is a prefix of another request's input is read from that request's forward pass
(causal logits at a position do not depend on later tokens). Choices that are one token long (" A",
" B", ...) thus cost one forward per question, and any other shared prefix is computed once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from picogate.evaluator.model import LM

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Score:
    """Teacher-forced score of one continuation: summed log-prob, token count, tokens the argmax got right."""

    loglik: float
    tokens: int
    greedy_tokens: int


@dataclass(frozen=True)
class Carrier:
    """One sequence that goes through the model, and the requests whose logits are read from it."""

    ids: tuple[int, ...]
    members: tuple[int, ...]


def plan(requests: Sequence[tuple[Sequence[int], Sequence[int]]], groups: Sequence[int]) -> list[Carrier]:
    """Group requests so that each one rides on the longest input it is a prefix of (within its group).

    Returned longest first, which keeps padding low when consecutive carriers are batched.
    """
    by_group: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        by_group.setdefault(g, []).append(i)
    carriers: list[Carrier] = []
    for members in by_group.values():
        inputs = {i: tuple(requests[i][0]) + tuple(requests[i][1])[:-1] for i in members}
        chosen: list[tuple[tuple[int, ...], list[int]]] = []
        for i in sorted(members, key=lambda m: -len(inputs[m])):
            seq = inputs[i]
            for carrier_ids, riders in chosen:
                if carrier_ids[: len(seq)] == seq:
                    riders.append(i)
                    break
            else:
                chosen.append((seq, [i]))
        carriers.extend(Carrier(ids, tuple(riders)) for ids, riders in chosen)
    carriers.sort(key=lambda c: -len(c.ids))
    return carriers


def batches(carriers: Sequence[Carrier], lm: LM, batch_size: int | None, ceiling: int) -> list[list[Carrier]]:
    """Consecutive carriers cut into batches (auto size from the first, longest, of each batch)."""
    out, pos = [], 0
    while pos < len(carriers):
        size = batch_size or lm.auto_batch_size(len(carriers[pos].ids), ceiling)
        out.append(list(carriers[pos : pos + size]))
        pos += size
    return out


def pad(batch: Sequence[Carrier]) -> torch.Tensor:
    """Right-padded [B, T] ids of a batch (pad id 0: a causal model never looks at it)."""
    width = max(len(c.ids) for c in batch)
    ids = torch.zeros((len(batch), width), dtype=torch.long)
    for r, c in enumerate(batch):
        ids[r, : len(c.ids)] = torch.tensor(c.ids, dtype=torch.long)
    return ids


def _fit(ctx: Sequence[int], cont: Sequence[int], max_len: int | None) -> tuple[list[int], list[int]]:
    """Keep the context's tail when the model input would overflow its window (as lm-eval does)."""
    if not ctx or not cont:
        raise ValueError("each request needs a non-empty context (add BOS) and continuation")
    if max_len is not None and len(ctx) + len(cont) - 1 > max_len:
        keep = max_len + 1 - len(cont)
        if keep < 1:
            raise ValueError(f"a continuation of {len(cont)} tokens does not fit the model's {max_len}")
        ctx = ctx[-keep:]
    return list(ctx), list(cont)


def score_continuations(
    lm: LM,
    requests: Sequence[tuple[Sequence[int], Sequence[int]]],
    *,
    groups: Sequence[int] | None = None,
    batch_size: int | None = None,
    batch_ceiling: int = 64,
    progress: Progress | None = None,
) -> list[Score]:
    """Teacher-forced log-likelihood of each `(context_ids, continuation_ids)`, in input order.

    `groups` names which requests may share a forward pass (same question); by default all may.
    >>> score_continuations(lm, [(lm.context_ids("Q: 2+2?\\nA:"), lm.encode(" 4"))])[0].loglik
    """
    requests = [_fit(ctx, cont, lm.max_len) for ctx, cont in requests]
    carriers = plan(requests, groups if groups is not None else [0] * len(requests))
    dev = lm.device
    # Sums stay on the device and come back once at the end: no sync per batch, so on a GPU the
    # next batch is prepared while the current one runs.
    loglik = torch.zeros(len(requests), dtype=torch.float64, device=dev)
    greedy = torch.zeros(len(requests), dtype=torch.long, device=dev)
    for batch in batches(carriers, lm, batch_size, batch_ceiling):
        rows, positions, targets, owners = [], [], [], []
        for r, carrier in enumerate(batch):
            for i in carrier.members:
                ctx, cont = requests[i]
                n = len(cont)
                rows += [r] * n
                positions += range(len(ctx) - 1, len(ctx) - 1 + n)
                targets += cont
                owners += [i] * n
        index = _to_device(torch.tensor([rows, positions, targets, owners], dtype=torch.long), dev)
        logits = lm.logits(_to_device(pad(batch), dev))
        picked = logits[index[0], index[1]]
        if picked.dtype != torch.float64:  # float64 models keep their precision; others score in float32
            picked = picked.float()
        logp = picked.log_softmax(-1).gather(1, index[2][:, None]).squeeze(1)
        loglik.index_add_(0, index[3], logp.double())
        greedy.index_add_(0, index[3], (picked.argmax(-1) == index[2]).long())
        if progress is not None:
            progress(sum(len(c.members) for c in batch))
    sums, hits = loglik.cpu().tolist(), greedy.cpu().tolist()
    return [Score(sums[i], len(requests[i][1]), hits[i]) for i in range(len(requests))]


def _to_device(t: torch.Tensor, dev: torch.device) -> torch.Tensor:
    """Host-to-device copy that does not wait for the GPU (pinned memory + non_blocking)."""
    if dev.type != "cuda":
        return t
    return t.pin_memory().to(dev, non_blocking=True)


def split_continuation(
    lm: LM, context: str, continuation: str, context_ids: list[int] | None = None
) -> tuple[list[int], list[int]]:
    """Token ids of context and continuation, tokenized together as the model saw them in training.

    As lm-evaluation-harness does: encode the whole text, then take the context's tokens off the front;
    when the tokenizer merges across the boundary, fall back to encoding the continuation alone.
    """
    ctx = context_ids if context_ids is not None else lm.context_ids(context)
    whole = lm.context_ids(context + continuation)
    if whole[: len(ctx)] == ctx and len(whole) > len(ctx):
        return ctx, whole[len(ctx):]
    return ctx, lm.encode(continuation)


def letter_token_ids(lm: LM, letters: Sequence[str]) -> list[int]:
    """The token each answer letter starts with; letters must start with distinct tokens."""
    ids = []
    for letter in letters:
        encoded = lm.encode(letter)
        if not encoded:
            raise ValueError(f"the tokenizer encodes letter {letter!r} to nothing")
        ids.append(encoded[0])
    if len(set(ids)) != len(ids):
        raise ValueError(f"letters {list(letters)} do not start with distinct tokens")
    return ids


def pick_letters(
    lm: LM,
    prompts: Sequence[list[int]],
    letter_sets: Sequence[Sequence[str]],
    *,
    batch_size: int | None = None,
    batch_ceiling: int = 64,
    progress: Progress | None = None,
) -> list[tuple[str, list[float]]]:
    """For each prompt, the letter whose token is most likely next (nanochat's chat eval), with each
    letter's log-probability over the whole vocabulary."""
    order = sorted(range(len(prompts)), key=lambda i: (-len(prompts[i]), i))
    out: list[tuple[str, list[float]]] = [("", [])] * len(prompts)
    pos = 0
    while pos < len(order):
        size = batch_size or lm.auto_batch_size(len(prompts[order[pos]]), batch_ceiling)
        chunk = order[pos : pos + size]
        batch = [Carrier(tuple(prompts[i]), (i,)) for i in chunk]
        logits = lm.logits(pad(batch))
        last = torch.tensor([len(prompts[i]) - 1 for i in chunk], device=logits.device)
        logp = logits[torch.arange(len(chunk), device=logits.device), last].float().log_softmax(-1).cpu()
        for r, i in enumerate(chunk):
            letters = list(letter_sets[i])
            values = logp[r, letter_token_ids(lm, letters)].tolist()
            best = max(range(len(letters)), key=lambda k: (values[k], -k))
            out[i] = (letters[best], values)
        pos += len(chunk)
        if progress is not None:
            progress(len(chunk))
    return out
