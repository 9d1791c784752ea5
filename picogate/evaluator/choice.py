"""Log-likelihood scoring: continuations given contexts, multiple choice, and letter picks.

The context is shared where the model allows it, in one of two ways:

- *packing*, when the model takes position ids and an attention mask (`LM.packing`): a question's
  context goes into one sequence once, followed by each choice (but its last token, which is only
  predicted) as its own segment. A segment sees the context and itself, never the other choices, and
  its positions continue from the context's end, so every logit equals the one of `context + choice`
  alone. Four choices of 20 tokens after an 80-token context cost 156 tokens instead of 396.
- *prefix riding*, for a plain `ids -> logits` callable: a request whose model input
  `(context + continuation)[:-1]` is a prefix of another's is read from that one's forward pass
  (causal logits at a position do not depend on later tokens). One-token choices (" A", " B") thus
  cost one forward per question.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from picogate.evaluator.graders import argmax_first
from picogate.evaluator.model import LM, run_batches, to_device

Progress = Callable[[int], None]
Request = tuple[Sequence[int], Sequence[int]]


@dataclass(frozen=True)
class Score:
    """Teacher-forced score of one continuation: summed log-prob, token count, tokens the argmax got right."""

    loglik: float
    tokens: int
    greedy_tokens: int


@dataclass(frozen=True)
class Pack:
    """One sequence that goes through the model, and where each request's predictions are read from it.

    `reads` pairs a request index with the positions (in `ids`) whose logits predict its continuation,
    token by token. `segments` is None for a plain causal sequence; otherwise 0 marks the shared context
    and k >= 1 the k-th continuation, with `positions` the position ids the model must use.
    """

    ids: tuple[int, ...]
    reads: tuple[tuple[int, tuple[int, ...]], ...]
    segments: tuple[int, ...] | None = None
    positions: tuple[int, ...] | None = None

    @property
    def members(self) -> tuple[int, ...]:
        return tuple(i for i, _ in self.reads)


def _reads(ctx: Sequence[int], cont: Sequence[int]) -> tuple[int, ...]:
    return tuple(range(len(ctx) - 1, len(ctx) - 1 + len(cont)))


def plan(requests: Sequence[Request], groups: Sequence[int]) -> list[Pack]:
    """Prefix riding: each request rides on the longest input it is a prefix of (within its group).

    Returned longest first, which keeps padding low when consecutive sequences are batched.
    """
    by_group: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        by_group.setdefault(g, []).append(i)
    packs: list[Pack] = []
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
        packs.extend(Pack(ids, tuple((i, _reads(*requests[i])) for i in riders)) for ids, riders in chosen)
    packs.sort(key=lambda c: -len(c.ids))
    return packs


def pack(requests: Sequence[Request], groups: Sequence[int], max_len: int | None = None) -> list[Pack]:
    """Packing: requests of one group with the same context share one sequence, the context once.

    A pack grows until the next continuation would pass `max_len`; a pack holding a single continuation
    is a plain causal sequence. Returned longest first.
    """
    by_context: dict[tuple[int, tuple[int, ...]], list[int]] = {}
    for i, g in enumerate(groups):
        by_context.setdefault((g, tuple(requests[i][0])), []).append(i)
    packs: list[Pack] = []
    for (_, ctx), members in by_context.items():
        start = 0
        while start < len(members):
            ids, positions, segments = list(ctx), list(range(len(ctx))), [0] * len(ctx)
            reads: list[tuple[int, tuple[int, ...]]] = []
            for i in members[start:]:
                extra = len(requests[i][1]) - 1  # the last token is only predicted, never input
                if reads and max_len is not None and len(ids) + extra > max_len:
                    break
                reads.append((i, (len(ctx) - 1, *range(len(ids), len(ids) + extra))))
                ids += requests[i][1][:-1]
                positions += range(len(ctx), len(ctx) + extra)
                segments += [len(reads)] * extra
            start += len(reads)
            plain = sum(1 for i, r in reads if len(r) > 1) <= 1  # at most one segment: ordinary causal
            packs.append(Pack(tuple(ids), tuple(reads), None if plain else tuple(segments),
                              None if plain else tuple(positions)))
    packs.sort(key=lambda c: -len(c.ids))
    return packs


def long_tensor(values: array, rows: int = 1) -> torch.Tensor:
    """int64 tensor of `rows` rows over a flat array('q'): torch.tensor on a list of Python ints costs
    about 8x more, which on a GPU is as much as the forward pass of a small model."""
    if not values:
        return torch.zeros((rows, 0), dtype=torch.long)
    return torch.frombuffer(values, dtype=torch.long).view(rows, -1)


def pad(seqs: Sequence[Sequence[int]], fill: int = 0) -> torch.Tensor:
    """Right-padded [B, T] ids (pad id 0: a causal model never looks at it)."""
    width = max(len(s) for s in seqs)
    flat = array("q")
    for s in seqs:
        flat.extend(s)
        flat.extend([fill] * (width - len(s)))
    return long_tensor(flat, len(seqs))


def forward(lm: LM, batch: Sequence[Pack], at: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """[B, T, V] logits of a batch: a plain causal pass, or a packed one if any sequence is packed.

    With `at` (rows, positions): the [N, V] logits there only, the output layer run on those alone
    where the model allows it (`LM.logits_at`).
    """
    ids = pad([p.ids for p in batch])
    if all(p.segments is None for p in batch):
        return lm.logits(ids) if at is None else lm.logits_at(ids, *at)
    segments = pad([p.segments or (0,) * len(p.ids) for p in batch], fill=-1)  # -1: padding
    positions = pad([p.positions or range(len(p.ids)) for p in batch])
    if at is None:
        return lm.packed_logits(ids, positions, segments)
    return lm.logits_at(ids, *at, positions=positions, segments=segments)


def context_kept(ctx_len: int, cont_len: int, max_len: int | None) -> int:
    """How many context tokens the model is given before a continuation: all of them, or the tail that
    lets `context + continuation[:-1]` fit the window (lm-eval's left truncation); below 1: cannot fit."""
    if max_len is None:
        return ctx_len
    return min(ctx_len, max_len + 1 - cont_len)


def fit_request(ctx: Sequence[int], cont: Sequence[int], max_len: int | None) -> tuple[list[int], list[int]]:
    """Keep the context's tail when the model input would overflow its window (as lm-eval does).

    The evaluator names a continuation that cannot fit by its row before any forward pass
    (`score.check_window`); the error here guards direct callers.
    """
    if not ctx or not cont:
        raise ValueError("each request needs a non-empty context (add BOS) and continuation")
    keep = context_kept(len(ctx), len(cont), max_len)
    if keep < 1:
        raise ValueError(f"a continuation of {len(cont)} tokens does not fit the model's window of {max_len}")
    return list(ctx[len(ctx) - keep:]), list(cont)


@dataclass(frozen=True)
class Pending:
    """Scores on their way back from the device: `result()` waits for this work only, not for work
    queued after it, so the host can prepare (and read back) one chunk while the GPU runs the next."""

    loglik: torch.Tensor
    greedy: torch.Tensor
    tokens: tuple[int, ...]
    ready: torch.cuda.Event | None = None

    def result(self) -> list[Score]:
        if self.ready is not None:
            self.ready.synchronize()
        sums, hits = self.loglik.tolist(), self.greedy.tolist()
        return [Score(sums[i], self.tokens[i], hits[i]) for i in range(len(self.tokens))]


def score_continuations(lm: LM, requests: Sequence[Request], **options: Any) -> list[Score]:
    """Teacher-forced log-likelihood of each `(context_ids, continuation_ids)`, in input order.

    The options are `dispatch_continuations`'s; this waits for its result.
    >>> score_continuations(lm, [(lm.context_ids("Q: 2+2?\\nA:"), lm.encode(" 4"))])[0].loglik
    """
    return dispatch_continuations(lm, requests, **options).result()


def dispatch_continuations(
    lm: LM,
    requests: Sequence[Request],
    *,
    groups: Sequence[int] | None = None,
    batch_size: int | None = None,
    batch_ceiling: int = 64,
    share_context: bool = True,
    progress: Progress | None = None,
) -> Pending:
    """Queue the forward passes that score `requests`; the scores come back with `.result()`.

    `groups` names which requests may share a forward pass (same question); by default all may.
    `share_context=False` gives every request its own forward pass (the one-at-a-time baseline).
    """
    requests = [fit_request(ctx, cont, lm.max_len) for ctx, cont in requests]
    if not share_context:
        packs = [Pack(tuple(ctx) + tuple(cont[:-1]), ((i, _reads(ctx, cont)),)) for i, (ctx, cont) in
                 enumerate(requests)]
    elif lm.packing:
        packs = pack(requests, groups if groups is not None else [0] * len(requests), lm.max_len)
    else:
        packs = plan(requests, groups if groups is not None else [0] * len(requests))
    dev = lm.device
    # Sums stay on the device and come back once at the end: no sync per batch, so on a GPU the
    # next batch is prepared while the current one runs.
    loglik = torch.zeros(len(requests), dtype=torch.float64, device=dev)
    greedy = torch.zeros(len(requests), dtype=torch.long, device=dev)

    def step(start: int, stop: int) -> None:
        batch = packs[start:stop]
        rows, positions, targets, owners = array("q"), array("q"), array("q"), array("q")
        for r, p in enumerate(batch):
            for i, at in p.reads:
                rows.extend([r] * len(at))
                positions.extend(at)
                targets.extend(requests[i][1])
                owners.extend([i] * len(at))
        index = to_device(long_tensor(rows + positions + targets + owners, 4), dev)
        picked = forward(lm, batch, at=(index[0], index[1]))  # [N, V]: the scored positions only
        if picked.dtype != torch.float64:  # float64 models keep their precision; others score in float32
            picked = picked.float()
        logp = picked.log_softmax(-1).gather(1, index[2][:, None]).squeeze(1)
        hit = (picked.argmax(-1) == index[2]).long()
        loglik.index_add_(0, index[3], logp.double())  # the first change: nothing above is kept on failure
        greedy.index_add_(0, index[3], hit)
        if progress is not None:
            progress(sum(len(p.reads) for p in batch))

    packs.sort(key=lambda c: -len(c.ids))
    run_batches(lm, [len(p.ids) for p in packs], batch_size, batch_ceiling, step)
    tokens = tuple(len(cont) for _, cont in requests)
    if dev.type != "cuda":
        return Pending(loglik, greedy, tokens)
    # Copy back into pinned memory without waiting, and mark where this work ends in the stream.
    host = [torch.empty(t.shape, dtype=t.dtype, pin_memory=True).copy_(t, non_blocking=True) for t in (loglik, greedy)]
    ready = torch.cuda.Event()
    ready.record()
    return Pending(host[0], host[1], tokens, ready)


def split_continuation(
    lm: LM, context: str, continuation: str, context_ids: list[int] | None = None
) -> tuple[list[int], list[int]]:
    """Token ids of context and continuation, tokenized together as the model saw them in training.

    As lm-evaluation-harness does: whitespace ending the context moves to the front of the continuation,
    then the whole text is encoded and the context's tokens taken off the front. Where the tokenizer
    merges across the boundary, picogate encodes the continuation alone (lm-eval keeps the merged tail).
    """
    spaces = len(context) - len(context.rstrip())
    if spaces:
        context, continuation, context_ids = context[:-spaces], context[-spaces:] + continuation, None
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

    def step(start: int, stop: int) -> None:
        chunk = order[start:stop]
        last = torch.tensor([len(prompts[i]) - 1 for i in chunk])
        # the output layer runs on each prompt's last position only, where the model allows (LM.logits_at)
        logp = lm.logits_at(pad([prompts[i] for i in chunk]), torch.arange(len(chunk)), last)
        logp = logp.float().log_softmax(-1).cpu()
        for r, i in enumerate(chunk):
            letters = list(letter_sets[i])
            values = logp[r, letter_token_ids(lm, letters)].tolist()
            out[i] = (letters[argmax_first(values)], values)
        if progress is not None:
            progress(len(chunk))

    run_batches(lm, [len(prompts[i]) for i in order], batch_size, batch_ceiling, step)
    return out
