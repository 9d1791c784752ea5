"""Evaluator speed, each figure against its baseline in the same run.

`scoring` (the default; TinyGPT, torch only):
1. Scoring throughput (tokens through the model per second, the whole path from ChoiceRow to result
   record: tokenizing, planning, forwards, log-softmax, argmax) vs the raw forward pass of the same model
   on the same padded batches. Target: >= 0.7.
2. Batched scoring vs scoring one row at a time on the same rows. Target: >= 3.5x on CPU (the CPU is
   compute-bound at batch size 1), >= 5x on a GPU. "One at a time" is the plain loop: each (question,
   choice) request its own forward pass at batch size 1 (`share_context=False, batch_size=1`). The scorer
   batches questions and, on a model that takes position ids and a mask (`supports_packing`), computes
   each question's context once for all its choices. `batched_vs_one_question` isolates batching: the
   scorer at batch size 1, one question (context shared) per forward.

`lm-eval` and `generation` (a 6-layer, 384-wide GPT-2 built from a config, 14M parameters with the
8192-token byte-level BPE trained here on synthetic words; needs transformers, and lm-eval for its side,
which is skipped with a message when it is not importable):
3. Multiple-choice scoring vs lm-eval's HF backend `loglikelihood` on the same model, rows and tokens
   (picogate without BOS, as lm-eval on a GPT-2-style tokenizer), lm-eval at the best of its batch sizes;
   log-likelihoods compared. Target: >= 3x on CPU, zero-shot and few-shot (`--shots 3`).
4. Greedy generation vs lm-eval's `generate_until` on the same prompts and max tokens, lm-eval at the
   best of its batch sizes; outputs must be identical. Target: >= 1.0x its tokens/s. Also picogate with
   its KV cache vs without (recomputing the sequence each step) on a few prompts.

    .venv/bin/python benchmarks/bench_evaluator.py                       # CPU preset
    python3 benchmarks/bench_evaluator.py --preset gpu100m --device cuda  # ~124M params on a GPU
    .venv/bin/python benchmarks/bench_evaluator.py lm-eval [--shots 3] [--full]
    .venv/bin/python benchmarks/bench_evaluator.py generation [--full]   # --full: the issue's 64 prompts

`scoring` needs torch only (no pyarrow/polars), so it runs on a bare GPU image.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import write_results  # noqa: E402
from examples.tiny_model import ByteTokenizer, TinyConfig, TinyGPT  # noqa: E402
from picogate.evaluator.choice import fit_request, forward, pack, plan, split_continuation  # noqa: E402
from picogate.evaluator.generate import greedy_generate  # noqa: E402
from picogate.evaluator.model import LM, run_batches, wrap  # noqa: E402
from picogate.evaluator.rows import ChoiceRow  # noqa: E402
from picogate.evaluator.score import CHOICE_CHUNK, EvalConfig, score_choice_rows  # noqa: E402

PRESETS = {
    # A small model on a 2-core CI box: forward cost must dominate for the ratio to mean anything.
    "cpu": dict(n_embd=128, n_layer=4, n_head=4, block_size=512, vocab_size=ByteTokenizer.vocab_size),
    # GPT-2 small shape: 124M parameters with a 50k vocabulary (the tokenizer uses ids < 258).
    "gpu100m": dict(n_embd=768, n_layer=12, n_head=12, block_size=512, vocab_size=50304),
}
_WORDS = ("the a of plant animal water light energy rock heat cell sun moon force mass gravity "
         "electric current magnet wave sound earth air cloud rain soil seed leaf root fish bird "
         "which what why how does most likely best explains because when changes")
WORDS = _WORDS.split()


def synthetic_rows(n: int, words: tuple[int, int], seed: int = 0, shots: int = 0) -> list[ChoiceRow]:
    """ARC-shaped questions: `words` (low, high) words long, four choices of 1-6 words.

    With `shots`, each question is preceded by that many solved examples of its own, in the
    "Question: ...\nAnswer: ...\n\n" layout of few-shot prompts (lm-evaluation-harness, nanochat's CORE).
    """
    rng = random.Random(seed)

    def sentence(low: int, high: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))

    rows = []
    for i in range(n):
        examples = "".join(f"{sentence(*words)}?\nAnswer: {sentence(1, 6)}\n\nQuestion: " for _ in range(shots))
        question = examples + sentence(*words) + "?"
        choices = tuple(sentence(1, 6) for _ in range(4))
        rows.append(ChoiceRow(f"q{i}", question, choices, rng.randrange(4), f"synthetic:{i}"))
    return rows


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def best_times(fns: list[Callable[[], object]], device: torch.device, repeat: int) -> list[float]:
    """Fastest of `repeat` runs of each function, run in turn (A, B, A, B, ...) after a warm-up of
    each, so that drift in machine load hits both alike."""
    for fn in fns:
        fn()
    _sync(device)
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            _sync(device)
            best[k] = min(best[k], time.perf_counter() - start)
    return best


def run(preset: str, device: str, questions: int, single_questions: int, repeat: int,
        words: tuple[int, int], batch_size: int | None, packing: bool = True, shots: int = 0) -> dict:
    torch.manual_seed(0)
    model = TinyGPT(TinyConfig(**PRESETS[preset]))
    lm = LM(model, ByteTokenizer(), device=device, packing=packing)
    dev = lm.device
    cfg = EvalConfig(batch_size=batch_size)
    rows = synthetic_rows(questions, words, shots=shots)

    # The padded batches the scorer builds (chunk by chunk of questions), rebuilt here so the raw
    # baseline runs exactly those.
    requests, packs, cut = [], [], []
    for start in range(0, len(rows), CHOICE_CHUNK):
        chunk_requests, groups = [], []
        for g, row in enumerate(rows[start : start + CHOICE_CHUNK]):
            context = cfg.choice_template.format(question=row.question)
            for choice in row.choices:
                chunk_requests.append(fit_request(*split_continuation(lm, context, cfg.choice_delimiter + choice),
                                                  lm.max_len))
                groups.append(g)
        chunk_packs = pack(chunk_requests, groups, lm.max_len) if lm.packing else plan(chunk_requests, groups)
        run_batches(lm, [len(c.ids) for c in chunk_packs], cfg.batch_size, cfg.batch_ceiling,
                    lambda a, b, chunk_packs=chunk_packs: cut.append(chunk_packs[a:b]))
        requests += chunk_requests
        packs += chunk_packs
    tokens = sum(len(p.ids) for p in packs)
    padded_tokens = sum(len(b) * max(len(p.ids) for p in b) for b in cut)

    def raw() -> None:
        for b in cut:
            forward(lm, b)

    t_raw, t_score = best_times([raw, lambda: score_choice_rows(lm, rows, "r", "bench", cfg)], dev, repeat)

    subset = rows[:single_questions]
    one_cfg = EvalConfig(batch_size=1, share_context=False)
    question_cfg = EvalConfig(batch_size=1)
    t_batched_subset, t_single, t_question = best_times(
        [lambda: score_choice_rows(lm, subset, "r", "bench", cfg),
         lambda: score_choice_rows(lm, subset, "r", "bench", one_cfg),
         lambda: score_choice_rows(lm, subset, "r", "bench", question_cfg)], dev, max(1, repeat - 1))
    batched = score_choice_rows(lm, subset, "r", "bench", cfg)
    single = score_choice_rows(lm, subset, "r", "bench", one_cfg)
    drift = max(abs(a - b) for x, y in zip(batched, single, strict=True)
                for a, b in zip(x["choice_loglik"], y["choice_loglik"], strict=True))
    single_tokens = sum(len(c) + len(x) - 1 for c, x in requests[:4 * single_questions])

    ratio = t_raw / t_score
    speedup = t_single / t_batched_subset
    single_target = 5.0 if dev.type == "cuda" else 3.5  # a 2-core CPU is compute-bound at batch size 1
    return {
        "preset": preset,
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu ({platform.machine()})",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "params": sum(p.numel() for p in model.parameters()),
        "model": PRESETS[preset],
        "bf16_autocast": lm._autocast,
        "questions": questions,
        "question_words": list(words),
        "shots": shots,
        "batch_size": batch_size or "auto",
        "packing": lm.packing,
        "mean_sequence_tokens": round(tokens / len(packs), 1),
        "requests": len(requests),
        "forward_sequences": len(packs),
        "batches": len(cut),
        "tokens": tokens,
        "padded_tokens": padded_tokens,
        "raw_forward_s": round(t_raw, 4),
        "scoring_s": round(t_score, 4),
        "raw_tokens_per_s": round(tokens / t_raw),
        "scoring_tokens_per_s": round(tokens / t_score),
        "scoring_vs_raw": round(ratio, 3),
        "scoring_vs_raw_target": 0.7,
        "single_row_questions": single_questions,
        "batched_subset_s": round(t_batched_subset, 4),
        "single_row_s": round(t_single, 4),
        "single_row_tokens": single_tokens,
        "one_question_s": round(t_question, 4),
        "batched_vs_single": round(speedup, 2),
        "batched_vs_single_target": single_target,
        "batched_vs_one_question": round(t_question / t_batched_subset, 2),
        "max_loglik_drift_batched_vs_single": drift,
        "met": {"scoring_vs_raw": ratio >= 0.7, "batched_vs_single": speedup >= single_target},
    }


# -- against lm-evaluation-harness (a GPT-2 from a config) ---------------------------------------------
GPT2 = dict(n_layer=6, n_embd=384, n_head=6, n_positions=1024)
LM_EVAL_BATCH_SIZES = (8, 32)
LM_EVAL_BATCH_SIZES_FULL = (1, 8, 16, 32, 64)


def gpt2_and_tokenizer(vocab_size: int = 8192) -> tuple[object, object]:
    """The issue's 6-layer, 384-wide GPT-2 (seeded init) and a byte-level BPE trained on synthetic words
    (nothing downloaded). Like GPT-2's, the tokenizer adds no BOS and has one <|endoftext|> for BOS/EOS."""
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    rng = random.Random(0)
    syllables = [a + b for a in "bcdfghjklmnprstvwz" for b in "aeiou"] + list("aeiou")
    vocabulary = WORDS + ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(6000)]
    corpus = [" ".join(rng.choice(vocabulary) for _ in range(12)) + "?\nAnswer:" for _ in range(4000)]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(corpus, trainer)
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|endoftext|>",
                                               eos_token="<|endoftext|>")
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=len(tok), bos_token_id=tok.bos_token_id,
                                     eos_token_id=tok.eos_token_id, **GPT2)
    return transformers.GPT2LMHeadModel(config).eval(), tok


def lm_eval_models(model: object, tok: object, batch_sizes: tuple[int, ...], device: str) -> dict | None:
    """lm-eval's HF backend over the same model object, one per batch size; None without lm-eval."""
    try:
        import logging

        from lm_eval.models.huggingface import HFLM
    except ImportError as exc:
        print(f"lm-eval is not importable ({exc}); its side is skipped", file=sys.stderr)
        return None
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    return {b: HFLM(pretrained=model, tokenizer=tok, batch_size=b, device=device) for b in batch_sizes}


def _gpt2_header(model: torch.nn.Module, device: str) -> dict:
    import transformers

    return {"device": torch.cuda.get_device_name() if device == "cuda" else f"cpu ({platform.machine()})",
            "torch": torch.__version__, "transformers": transformers.__version__, "threads": torch.get_num_threads(),
            "model": {"arch": "gpt2", **GPT2, "vocab_size": model.config.vocab_size},
            "params": sum(p.numel() for p in model.parameters())}


def _lm_eval_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("lm_eval")
    except Exception:
        return None


def run_lm_eval_scoring(device: str, questions: int, shots: int, repeat: int, batch_sizes: tuple[int, ...],
                        words: tuple[int, int] = (8, 16)) -> dict:
    """Multiple-choice scoring: picogate (BOS off, as lm-eval on this tokenizer) vs lm-eval's loglikelihood."""
    model, tok = gpt2_and_tokenizer()
    lm = wrap(model, tok, device=device, add_bos=False)
    cfg = EvalConfig()
    rows = synthetic_rows(questions, words, shots=shots)
    pairs = [(cfg.choice_template.format(question=r.question), cfg.choice_delimiter + c)
             for r in rows for c in r.choices]
    tokens = sum(len(tok.encode(c + x)) for c, x in pairs)
    out = {"suite": "lm-eval scoring", **_gpt2_header(model, device), "questions": questions, "shots": shots,
           "requests": len(pairs), "request_tokens": tokens, "packing": lm.packing, "add_bos": lm.add_bos,
           "lm_eval": _lm_eval_version()}
    picogate = lambda: score_choice_rows(lm, rows, "r", "bench", cfg)  # noqa: E731
    ours = [ll for r in picogate() for ll in r["choice_loglik"]]
    harness = lm_eval_models(model, tok, batch_sizes, device)
    if harness is None:
        (t_ours,) = best_times([picogate], lm.device, repeat)
        return out | {"picogate_s": round(t_ours, 4), "lm_eval": "not installed: its side was skipped"}
    from lm_eval.api.instance import Instance

    requests = [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(pairs)]
    theirs = [ll for ll, _ in harness[batch_sizes[0]].loglikelihood(requests, disable_tqdm=True)]
    times = best_times([picogate] + [lambda h=h: h.loglikelihood(requests, disable_tqdm=True)
                                     for h in harness.values()], lm.device, repeat)
    t_ours, by_batch = times[0], dict(zip(harness, times[1:], strict=True))
    best = min(by_batch, key=by_batch.get)
    speedup = by_batch[best] / t_ours
    target = 5.0 if device == "cuda" else 3.0
    def picks(lls: list[float]) -> list[int]:  # acc's argmax per question, the first on ties
        return [max(range(4), key=lambda k, i=i: (lls[i + k], -k)) for i in range(0, len(lls), 4)]

    return out | {
        "picogate_s": round(t_ours, 4), "lm_eval_s_by_batch_size": {str(b): round(t, 4) for b, t in by_batch.items()},
        "lm_eval_best_batch_size": best, "lm_eval_s": round(by_batch[best], 4),
        "picogate_request_tokens_per_s": round(tokens / t_ours),
        "lm_eval_request_tokens_per_s": round(tokens / by_batch[best]),
        "max_loglik_diff_vs_lm_eval": max(abs(a - b) for a, b in zip(ours, theirs, strict=True)),
        "acc_picks_equal": sum(a == b for a, b in zip(picks(ours), picks(theirs), strict=True)), "rows": len(rows),
        "picogate_vs_lm_eval": round(speedup, 2), "picogate_vs_lm_eval_target": target,
        "met": {"picogate_vs_lm_eval": speedup >= target},
    }


def run_generation(device: str, prompts: int, max_new_tokens: int, repeat: int, batch_sizes: tuple[int, ...],
                   uncached_prompts: int, batch_size: int | None = None, words: tuple[int, int] = (8, 16)) -> dict:
    """Greedy generation: picogate (KV cache) vs lm-eval's generate_until, and picogate cached vs recomputed."""
    model, tok = gpt2_and_tokenizer()
    lm = wrap(model, tok, device=device, add_bos=False)
    recompute = wrap(model, tok, device=device, add_bos=False, kv_cache=False)
    cfg = EvalConfig()
    texts = [cfg.choice_template.format(question=r.question) for r in synthetic_rows(prompts, words)]
    ids = [lm.encode(t) for t in texts]

    def picogate(k: int = len(ids), which: LM = lm) -> list:
        return greedy_generate(which, ids[:k], max_new_tokens, batch_size=batch_size)

    ours = picogate()
    generated = sum(len(g.tokens) for g in ours)
    out = {"suite": "generation", **_gpt2_header(model, device), "prompts": prompts,
           "mean_prompt_tokens": round(sum(map(len, ids)) / len(ids), 1), "max_new_tokens": max_new_tokens,
           "generated_tokens": generated, "kv_cache": lm.kv_cache, "batch_size": batch_size or "auto",
           "lm_eval": _lm_eval_version()}
    # Cached vs recomputed on the first few prompts: recomputing costs a full pass per token.
    few = sum(len(g.tokens) for g in ours[:uncached_prompts])
    t_few_cached, t_few_recomputed = best_times([lambda: picogate(uncached_prompts),
                                                 lambda: picogate(uncached_prompts, recompute)], lm.device, 1)
    same = picogate(uncached_prompts, recompute) == ours[:uncached_prompts]
    out |= {"uncached_prompts": uncached_prompts, "cached_s": round(t_few_cached, 4),
            "recomputed_s": round(t_few_recomputed, 4),
            "cached_vs_recomputed": round(t_few_recomputed / t_few_cached, 2),
            "cached_equals_recomputed": same, "recomputed_tokens_per_s": round(few / t_few_recomputed)}
    harness = lm_eval_models(model, tok, batch_sizes, device)
    if harness is None:
        (t_ours,) = best_times([picogate], lm.device, repeat)
        return out | {"picogate_s": round(t_ours, 4), "picogate_tokens_per_s": round(generated / t_ours),
                      "lm_eval": "not installed: its side was skipped"}
    from lm_eval.api.instance import Instance

    kwargs = {"until": [], "max_gen_toks": max_new_tokens, "do_sample": False}
    requests = [Instance("generate_until", {}, (t, dict(kwargs)), i) for i, t in enumerate(texts)]
    theirs = harness[batch_sizes[0]].generate_until(requests, disable_tqdm=True)
    identical = sum(lm.decode(g.tokens) == t for g, t in zip(ours, theirs, strict=True))
    times = best_times([picogate] + [lambda h=h: h.generate_until(requests, disable_tqdm=True)
                                     for h in harness.values()], lm.device, repeat)
    t_ours, by_batch = times[0], dict(zip(harness, times[1:], strict=True))
    best = min(by_batch, key=by_batch.get)
    ratio = by_batch[best] / t_ours
    return out | {
        "picogate_s": round(t_ours, 4), "lm_eval_s_by_batch_size": {str(b): round(t, 4) for b, t in by_batch.items()},
        "lm_eval_best_batch_size": best, "lm_eval_s": round(by_batch[best], 4),
        "picogate_tokens_per_s": round(generated / t_ours), "lm_eval_tokens_per_s": round(generated / by_batch[best]),
        "identical_outputs": identical, "picogate_vs_lm_eval": round(ratio, 2), "picogate_vs_lm_eval_target": 1.0,
        "met": {"picogate_vs_lm_eval": ratio >= 1.0, "identical_outputs": identical == len(texts)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="evaluator speed benchmarks")
    parser.add_argument("suite", nargs="?", choices=("scoring", "lm-eval", "generation"), default="scoring",
                        help="scoring: vs raw forward and one row at a time (TinyGPT); lm-eval: multiple choice "
                             "vs lm-eval; generation: vs lm-eval's generate_until (both on a GPT-2 from a config)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--questions", type=int, help="questions (scoring: 256; lm-eval: 64, 400 with --full)")
    parser.add_argument("--single-questions", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--words", type=int, nargs=2, default=(8, 16), metavar=("MIN", "MAX"),
                        help="question length in words (bytes are tokens here: ~6 per word)")
    parser.add_argument("--shots", type=int, default=0,
                        help="solved examples before each question (few-shot prompts; 0: zero-shot)")
    parser.add_argument("--batch-size", type=int, help="fixed batch size (default: automatic)")
    parser.add_argument("--no-packing", action="store_true",
                        help="share contexts by prefix riding only, as for a plain ids -> logits callable")
    parser.add_argument("--prompts", type=int, help="generation prompts (16; 64 with --full)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--uncached-prompts", type=int, default=4,
                        help="prompts generated also without the KV cache (it recomputes the sequence each step)")
    parser.add_argument("--lm-eval-batch-sizes", type=int, nargs="+",
                        help=f"lm-eval batch sizes tried, the best is compared (default {LM_EVAL_BATCH_SIZES}; "
                             f"{LM_EVAL_BATCH_SIZES_FULL} with --full)")
    parser.add_argument("--full", action="store_true", help="the issue's sizes: 400 questions, 64 prompts")
    parser.add_argument("--threads", type=int, help="torch CPU threads (CI has 2 cores)")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = tuple(args.lm_eval_batch_sizes or (LM_EVAL_BATCH_SIZES_FULL if args.full else LM_EVAL_BATCH_SIZES))
    if args.suite == "scoring":
        result = run(args.preset, args.device, args.questions or 256, args.single_questions, args.repeat,
                     tuple(args.words), args.batch_size, not args.no_packing, args.shots)
    elif args.suite == "lm-eval":
        result = run_lm_eval_scoring(args.device, args.questions or (400 if args.full else 64), args.shots,
                                     args.repeat, sizes, tuple(args.words))
    else:
        result = run_generation(args.device, args.prompts or (64 if args.full else 16), args.max_new_tokens,
                                args.repeat, sizes, args.uncached_prompts, args.batch_size, tuple(args.words))
    result["command"] = " ".join(["benchmarks/bench_evaluator.py", *sys.argv[1:]])
    print(json.dumps(result, indent=2))
    if args.out:
        write_results(args.out, result)


if __name__ == "__main__":
    main()
