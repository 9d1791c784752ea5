"""Scoring each kind of input row into one result record (the columns of output.RESULTS_SCHEMA).

Kinds: `generate` (eval rows, greedy decode + grader), `letter` (lettered questions answered by argmax
over the letter tokens), `sft` (greedy fit + teacher-forced accuracy and log-likelihood of the target)
and `choice` (multiple choice by log-likelihood: acc, acc_norm, acc_bytes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from picogate.evaluator.choice import (
    Pending,
    Request,
    Score,
    context_kept,
    dispatch_continuations,
    pick_letters,
    score_continuations,
    split_continuation,
)
from picogate.evaluator.generate import Generation, greedy_generate
from picogate.evaluator.graders import (
    DEFAULT_ECHO_MIN_CHARS,
    DEFAULT_REFUSAL_MARKERS,
    GRADERS,
    choice_picks,
    echo_chars,
    grade,
    is_refusal,
    resolve_grader,
)
from picogate.evaluator.model import LM
from picogate.evaluator.rows import ARC_TEMPLATE, ChoiceRow, EvalInputError, EvalRow, SftRow, row_label

Progress = Callable[[int], None]
Record = dict[str, Any]
# A choice row as the model sees it: its templated context and one (context ids, continuation ids) a choice.
ChoiceRequests = tuple[str, list[Request]]

@dataclass(frozen=True)
class EvalConfig:
    """Everything that changes a score, kept as data (and stored with the results)."""

    max_new_tokens: int = 64
    sft_extra_tokens: int = 4  # greedy SFT completions may run this far past the target's length
    sft_append_eos: bool = True  # the target ends with EOS, so stopping is part of fitting
    batch_size: int | None = None  # None: chosen from a token budget, at most batch_ceiling
    batch_ceiling: int = 64
    share_context: bool = True  # compute a question's context once for all its choices (False: baseline)
    skill_graders: dict[str, str] = field(default_factory=dict)
    echo_min_chars: int = DEFAULT_ECHO_MIN_CHARS
    refusal_markers: tuple[str, ...] = DEFAULT_REFUSAL_MARKERS
    choice_template: str = ARC_TEMPLATE
    choice_delimiter: str = " "

    def __post_init__(self) -> None:
        unknown = sorted(set(self.skill_graders.values()) - set(GRADERS))
        if unknown:
            raise ValueError(f"unknown grader(s) {unknown}; known: {sorted(GRADERS)}")
        if self.max_new_tokens < 1 or self.echo_min_chars < 1 or self.batch_ceiling < 1:
            raise ValueError("max_new_tokens, echo_min_chars and batch_ceiling must be at least 1")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")


def _base(run_id: str, split: str, kind: str, skill: str, row_id: str, source: str) -> Record:
    return {"run_id": run_id, "split": split, "kind": kind, "skill": skill, "row_id": row_id,
            "source": source, "benign": False, "truncated": False}


def _given(lm: LM, prompts: Sequence[tuple[Sequence[int], int]]) -> Record:
    """What the model was given of a row's prompt over all its passes, as (prompt ids, tokens kept) pairs:
    the fewest prompt tokens any pass kept, whether any pass cut the prompt (left truncation), and whether
    every pass began with BOS (a cut prompt has lost it)."""
    return {
        "prompt_tokens": min(kept for _, kept in prompts),
        "truncated": any(kept < len(ids) for ids, kept in prompts),
        "bos": lm.bos_id is not None and all(ids[len(ids) - kept] == lm.bos_id for ids, kept in prompts),
    }


def _generated(lm: LM, prompt: Sequence[int], limit: int, out: Generation) -> tuple[Sequence[int], int]:
    """(prompt ids, tokens kept) of a generation: greedy_generate keeps a cut prompt's tail that leaves
    room in the window for `limit` new tokens, and says so in `truncated`."""
    if out.truncated and lm.max_len is not None:
        return prompt, max(1, min(len(prompt), lm.max_len - limit))
    return prompt, len(prompt)


def _text_flags(prompt: str, output: str, threshold: int, cfg: EvalConfig) -> Record:
    copied = echo_chars(prompt, output)
    refused = is_refusal(output, cfg.refusal_markers)
    return {"refused": refused, "echo_chars": copied, "echoed": copied >= threshold}


def score_eval_rows(lm: LM, rows: Sequence[EvalRow], run_id: str, cfg: EvalConfig,
                    *, split: str = "eval", progress: Progress | None = None) -> list[Record]:
    """Generation rows: greedy decode, grade, flag refusals and prompt echo (letter rows: argmax pick)."""
    graders = [resolve_grader(r.skill, r.grader, cfg.skill_graders) for r in rows]
    for row, name in zip(rows, graders, strict=True):
        if name in ("letter", "choice_letter") and row.answer.strip() not in row.letters:
            raise EvalInputError(
                f"{row.source}: answer {row.answer!r} is not one of the letters {row.letters}"
            )
    prompts = [lm.prompt_ids(prompt=r.prompt) for r in rows]
    records: list[Record | None] = [None] * len(rows)

    pick = [i for i, g in enumerate(graders) if g == "choice_letter"]
    # The letter is read after the prompt's last token: a long prompt keeps the tail that fits the window.
    kept = {i: context_kept(len(prompts[i][0]), 1, lm.max_len) for i in pick}
    picks = pick_letters(lm, [prompts[i][0][len(prompts[i][0]) - kept[i]:] for i in pick],
                         [rows[i].letters for i in pick], batch_size=cfg.batch_size,
                         batch_ceiling=cfg.batch_ceiling, progress=progress)
    for i, (letter, logps) in zip(pick, picks, strict=True):
        row = rows[i]
        records[i] = _base(run_id, split, "letter", row.skill, row.id, row.source) | {
            "prompt": prompts[i][1], "expected": row.answer, "output": letter, "grader": "choice_letter",
            "correct": grade("choice_letter", letter, row.answer), "benign": row.benign,
            "choice_loglik": logps, "output_tokens": 1,
        } | _given(lm, [(prompts[i][0], kept[i])])

    gen = [i for i, g in enumerate(graders) if g != "choice_letter"]
    outs = greedy_generate(lm, [prompts[i][0] for i in gen], cfg.max_new_tokens, batch_size=cfg.batch_size,
                           batch_ceiling=cfg.batch_ceiling, progress=progress)
    for i, out in zip(gen, outs, strict=True):
        row, text = rows[i], lm.decode(out.tokens)
        threshold = row.echo_min_chars or cfg.echo_min_chars
        given = _given(lm, [_generated(lm, prompts[i][0], cfg.max_new_tokens, out)])
        records[i] = _base(run_id, split, "generate", row.skill, row.id, row.source) | {
            "prompt": prompts[i][1], "expected": row.answer, "output": text, "grader": graders[i],
            "correct": grade(graders[i], text, row.answer, row.facts, benign=row.benign,
                             refusal_markers=cfg.refusal_markers),
            "benign": row.benign, "output_tokens": len(out.tokens),
        } | given | _text_flags(row.prompt, text, threshold, cfg)
    return [r for r in records if r is not None]


def score_sft_rows(lm: LM, rows: Sequence[SftRow], run_id: str, cfg: EvalConfig,
                   *, split: str = "sft_train", progress: Progress | None = None) -> list[Record]:
    """SFT fit: the greedy completion matches the target under the skill's grader; plus teacher-forced
    per-token accuracy and log-likelihood of the target (EOS included when `sft_append_eos`)."""
    prompts = [lm.prompt_ids(prompt=r.prompt, messages=r.messages) for r in rows]
    targets = sft_targets(lm, rows, cfg)
    limits = [_sft_limit(lm, t, cfg) for t in targets]
    outs = greedy_generate(lm, [p[0] for p in prompts], limits,
                           batch_size=cfg.batch_size, batch_ceiling=cfg.batch_ceiling, progress=progress)
    scores = score_continuations(lm, [(p[0], t) for p, t in zip(prompts, targets, strict=True)],
                                 groups=range(len(rows)), batch_size=cfg.batch_size,
                                 batch_ceiling=cfg.batch_ceiling, progress=progress)
    records = []
    for row, (ids, prompt_text), out, score, target, limit in zip(rows, prompts, outs, scores, targets, limits,
                                                                   strict=True):
        name = resolve_grader(row.skill, None, cfg.skill_graders)
        if name in ("letter", "choice_letter"):
            name = "exact"  # an SFT target is a full response: compare generated text
        text = lm.decode(out.tokens)
        records.append(_base(run_id, split, "sft", row.skill, row.id, row.source) | {
            "prompt": prompt_text, "expected": row.response, "output": text, "grader": name,
            "correct": grade(name, text, row.response, refusal_markers=cfg.refusal_markers),
            "output_tokens": len(out.tokens), "target_tokens": score.tokens,
            "target_correct_tokens": score.greedy_tokens, "target_loglik": score.loglik,
        } | _given(lm, [_generated(lm, ids, limit, out), (ids, context_kept(len(ids), len(target), lm.max_len))])
          | _text_flags(prompt_text, text, cfg.echo_min_chars, cfg))
    return records


def sft_targets(lm: LM, rows: Sequence[SftRow], cfg: EvalConfig) -> list[list[int]]:
    """Target ids of SFT rows: the response, then EOS when `sft_append_eos` (stopping is part of fitting)."""
    eos = [lm.eos_id] if cfg.sft_append_eos and lm.eos_id is not None else []
    return [lm.encode(r.response) + eos for r in rows]


def _sft_limit(lm: LM, target: Sequence[int], cfg: EvalConfig) -> int:
    """New tokens a greedy SFT completion may take: the target's length and a few more, at most the window
    (which still holds one prompt token: the last new token is never fed back)."""
    limit = len(target) + cfg.sft_extra_tokens
    return limit if lm.max_len is None else min(limit, lm.max_len)


# Multiple-choice rows are scored in chunks of this many questions, one chunk in flight on the device
# while the host tokenizes the next and reads back the last: on a GPU, host work is about as long as
# the forward passes themselves (124M parameters, H200), and done in one piece it would not overlap them.
CHOICE_CHUNK = 128


def check_window(lm: LM, cfg: EvalConfig, eval_rows: Sequence[EvalRow] = (), sft_rows: Sequence[SftRow] = ()) -> None:
    """Refuse, before any forward pass, what cannot fit the model's window: an SFT target longer than the
    window (one prompt token must precede it), or more `max_new_tokens` than the window holds.
    Long prompts are not faults: they keep their tail, and their rows say `truncated`."""
    if lm.max_len is None:
        return
    generated = any(resolve_grader(r.skill, r.grader, cfg.skill_graders) != "choice_letter" for r in eval_rows)
    if generated and cfg.max_new_tokens > lm.max_len:  # at max_len, one prompt token still fits
        raise ValueError(f"max_new_tokens {cfg.max_new_tokens} does not fit the model's window of {lm.max_len} "
                         "tokens with a prompt")
    for row, target in zip(sft_rows, sft_targets(lm, sft_rows, cfg), strict=True):
        if context_kept(1, len(target), lm.max_len) < 1:
            raise EvalInputError(f"{row_label(row.source, row.id)}: response: {len(target)} tokens (EOS included) "
                                 f"do not fit the model's window of {lm.max_len} tokens")


def choice_requests(lm: LM, rows: Sequence[ChoiceRow], cfg: EvalConfig) -> list[ChoiceRequests]:
    """Tokenize multiple-choice rows: (templated context, one request a choice) per row.

    Done for every row before any forward pass, so a choice that cannot fit the model's window (it needs
    the window and one context token) is named by file, line and row id before anything is scored.
    """
    out = []
    for row in rows:
        context = cfg.choice_template.format(question=row.question)
        context_ids = lm.context_ids(context)
        requests = [split_continuation(lm, context, cfg.choice_delimiter + c, context_ids) for c in row.choices]
        for k, (ctx, cont) in enumerate(requests):
            if context_kept(len(ctx), len(cont), lm.max_len) < 1:
                raise EvalInputError(f"{row_label(row.source, row.id)}: choices.{k}: {len(cont)} tokens (with the "
                                     f"delimiter) do not fit the model's window of {lm.max_len} tokens")
        out.append((context, requests))
    return out


def score_choice_rows(lm: LM, rows: Sequence[ChoiceRow], run_id: str, benchmark: str, cfg: EvalConfig,
                      *, progress: Progress | None = None,
                      prepared: Sequence[ChoiceRequests] | None = None) -> list[Record]:
    """Multiple choice by log-likelihood of `delimiter + choice` after the templated question.

    acc: argmax of summed log-likelihood. acc_norm: divided by the choice's length in characters, as
    lm-evaluation-harness does (the choice text without the delimiter). acc_bytes: by UTF-8 bytes.
    `prepared` is `choice_requests(lm, rows, cfg)` when the caller tokenized (and checked) the rows already.
    """
    prepared = choice_requests(lm, rows, cfg) if prepared is None else prepared
    records: list[Record] = []
    waiting: tuple[Sequence[ChoiceRow], Sequence[ChoiceRequests], Pending] | None = None
    for start in range(0, len(rows), CHOICE_CHUNK):
        chunk, tokenized = rows[start : start + CHOICE_CHUNK], prepared[start : start + CHOICE_CHUNK]
        requests = [r for _, row_requests in tokenized for r in row_requests]
        groups = [g for g, (_, row_requests) in enumerate(tokenized) for _ in row_requests]
        pending = dispatch_continuations(lm, requests, groups=groups, batch_size=cfg.batch_size,
                                         batch_ceiling=cfg.batch_ceiling, share_context=cfg.share_context,
                                         progress=progress)
        if waiting is not None:
            records += _choice_records(lm, *waiting, run_id, benchmark)
        waiting = (chunk, tokenized, pending)
    if waiting is not None:
        records += _choice_records(lm, *waiting, run_id, benchmark)
    return records


def _choice_records(lm: LM, rows: Sequence[ChoiceRow], tokenized: Sequence[ChoiceRequests], pending: Pending,
                    run_id: str, benchmark: str) -> list[Record]:
    scores: list[Score] = pending.result()
    records, lo = [], 0
    for row, (context, requests) in zip(rows, tokenized, strict=True):
        hi = lo + len(row.choices)
        mine = scores[lo:hi]
        lls = [s.loglik for s in mine]
        chars = [len(c) for c in row.choices]
        nbytes = [len(c.encode("utf-8")) for c in row.choices]
        pred, pred_norm, pred_bytes = choice_picks(lls, row.choices)
        given = _given(lm, [(ctx, context_kept(len(ctx), len(cont), lm.max_len)) for ctx, cont in requests])
        records.append(_base(run_id, f"external:{benchmark}", "choice", benchmark, row.id, row.source) | {
            "prompt": context, "expected": row.choices[row.answer], "output": row.choices[pred],
            "grader": "loglik", "correct": pred == row.answer,
            "correct_norm": pred_norm == row.answer, "correct_bytes": pred_bytes == row.answer,
            "answer_index": row.answer, "choice_loglik": lls, "choice_chars": chars,
            "choice_bytes": nbytes, "choice_tokens": [s.tokens for s in mine],
            # lm-eval's is_greedy: every token of the choice is the model's argmax after the tokens before it
            "choice_is_greedy": [s.greedy_tokens == s.tokens for s in mine],
        } | given)
        lo = hi
    return records
