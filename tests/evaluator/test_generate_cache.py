# Run: .venv/bin/python -m pytest tests/evaluator/test_generate_cache.py -q
"""KV-cached greedy generation (picogate/evaluator/generate.py) gives exactly the tokens of recomputing
the whole sequence at every step: on a tiny Hugging Face GPT-2 built from a config, on a plain torch model
that implements `forward_cached`, and a plain model without it falls back to recomputation. Prompts of
many lengths share left-padded batches; rows stop at their own stop token or token limit."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from picogate.evaluator.generate import greedy_generate  # noqa: E402
from picogate.evaluator.model import LM, left_padded, wrap  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from examples.tiny_model import TinyConfig, TinyGPT  # noqa: E402

VOCAB = 64


class Tok:
    """Ids are tokens; BOS 1 and a stop (EOS) id chosen per test."""

    def __init__(self, eos_id: int) -> None:
        self.bos_id, self.eos_id = 1, eos_id

    def encode(self, text: str) -> list[int]:
        return [2 + ord(c) % (VOCAB - 2) for c in text]

    def decode(self, ids: list[int]) -> str:
        return " ".join(map(str, ids))


class CachedGPT(TinyGPT):
    """TinyGPT plus the incremental-decoding protocol: per layer (k, v) of shape [B, H, S, D]."""

    def forward_cached(self, ids, positions, mask, cache):  # type: ignore[no-untyped-def]
        x = self.tok(ids) + self.pos(positions)
        grown = []
        for layer, block in enumerate(self.blocks):
            b, t, c = x.shape
            q, k, v = block.qkv(block.ln1(x)).split(c, dim=2)
            q, k, v = (z.view(b, t, block.n_head, c // block.n_head).transpose(1, 2) for z in (q, k, v))
            if cache is not None:
                k, v = torch.cat([cache[layer][0], k], 2), torch.cat([cache[layer][1], v], 2)
            grown.append((k, v))
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None])
            x = x + block.proj(y.transpose(1, 2).reshape(b, t, c))
            x = x + block.mlp(block.ln2(x))
        return self.head(self.ln_f(x)), grown


class ForgetsCache(CachedGPT):
    """Has forward_cached but drops the cache: its decode steps see only the new token."""

    def forward_cached(self, ids, positions, mask, cache):  # type: ignore[no-untyped-def]
        return super().forward_cached(ids, positions, mask[..., -ids.shape[1]:], None)


def prompts(n: int = 11, seed: int = 0) -> list[list[int]]:
    rng = random.Random(seed)
    return [[1, *(rng.randrange(2, VOCAB) for _ in range(rng.randint(1, 20)))] for _ in range(n)]


def frequent_token(lm: LM, ps: list[list[int]]) -> int:
    """A token the model often generates mid-answer: as the stop id, rows stop at different steps."""
    counts: dict[int, int] = {}
    for g in greedy_generate(lm, ps, 12, batch_size=4):
        for t in g.tokens[1:]:
            counts[t] = counts.get(t, 0) + 1
    return max(counts, key=lambda t: (counts[t], t))


def plain(cls: type = CachedGPT, block_size: int = 48) -> torch.nn.Module:
    torch.manual_seed(5)
    return cls(TinyConfig(vocab_size=VOCAB, block_size=block_size, n_layer=2, n_head=2, n_embd=32)).double()


def check_same(make, ps: list[list[int]], limits) -> None:  # type: ignore[no-untyped-def]
    cached, recomputed = make(None), make(False)
    assert cached.kv_cache and not recomputed.kv_cache
    for batch_size in (None, 1, 3):
        got = greedy_generate(cached, ps, limits, batch_size=batch_size)
        want = greedy_generate(recomputed, ps, limits, batch_size=batch_size)
        assert got == want, batch_size
    per_row = [limits] * len(ps) if isinstance(limits, int) else limits
    reached = [len(g.tokens) == n for g, n in zip(got, per_row, strict=True)]
    assert any(reached) and not all(reached)  # some rows ran to their limit, others stopped at the stop id


def test_left_padding_layout() -> None:
    ids, positions, mask = left_padded([[5, 6, 7], [8]])
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert positions.tolist() == [[0, 1, 2], [0, 0, 0]]
    assert mask[1].tolist() == [[True, False, False], [False, True, False], [False, False, True]]
    assert mask[0].tolist() == [[True, False, False], [True, True, False], [True, True, True]]


@pytest.mark.parametrize("limits", [9, "mixed"])
def test_plain_model_with_the_protocol_generates_what_recomputation_does(limits) -> None:  # type: ignore[no-untyped-def]
    ps = prompts()
    stop = frequent_token(LM(plain(), Tok(eos_id=0), device="cpu", kv_cache=False), ps)
    per_row = [3 + i % 9 for i in range(len(ps))] if limits == "mixed" else limits
    check_same(lambda kv: LM(plain(), Tok(stop), device="cpu", kv_cache=kv), ps, per_row)


def test_long_prompts_keep_their_tail_with_and_without_the_cache() -> None:
    ps = [[1, *range(2, 60)], [1, 2, 3]]
    lms = [LM(plain(), Tok(0), device="cpu", kv_cache=kv) for kv in (None, False)]
    got, want = (greedy_generate(lm, ps, 10) for lm in lms)
    assert got == want and [g.truncated for g in got] == [True, False]
    assert greedy_generate(lms[0], ps, 0) == [type(got[0])([], True), type(got[0])([], False)]


def test_model_without_the_protocol_recomputes() -> None:
    lm = LM(plain(TinyGPT), Tok(0), device="cpu")
    assert not lm.kv_cache
    with pytest.raises(ValueError, match="forward_cached"):
        lm.cached_logits(*left_padded([[1, 2]]), None)
    with pytest.raises(ValueError, match="kv_cache=True but the model has no forward_cached"):
        LM(plain(TinyGPT), Tok(0), device="cpu", kv_cache=True)
    assert greedy_generate(lm, prompts(3), 5) == greedy_generate(LM(plain(), Tok(0), device="cpu"), prompts(3), 5)


def test_a_wrong_cache_is_caught_by_the_probe_and_outputs_stay_right() -> None:
    lm = LM(plain(ForgetsCache), Tok(0), device="cpu")
    with pytest.warns(UserWarning, match="cached logits differ"):
        got = greedy_generate(lm, prompts(4), 6)
    assert not lm.kv_cache
    assert got == greedy_generate(LM(plain(), Tok(0), device="cpu", kv_cache=False), prompts(4), 6)


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_hugging_face_model_uses_its_cache_and_generates_what_recomputation_does(arch: str) -> None:
    transformers = pytest.importorskip("transformers")

    def model() -> torch.nn.Module:
        torch.manual_seed(0)
        if arch == "gpt2":
            cfg = transformers.GPT2Config(vocab_size=VOCAB, n_positions=64, n_embd=32, n_layer=2, n_head=2)
            return transformers.GPT2LMHeadModel(cfg)
        return transformers.LlamaForCausalLM(transformers.LlamaConfig(
            vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
            num_key_value_heads=1, max_position_embeddings=64))

    ps = prompts(13, seed=1)
    stop = frequent_token(wrap(model(), Tok(0), device="cpu", kv_cache=False), ps)
    check_same(lambda kv: wrap(model(), Tok(stop), device="cpu", kv_cache=kv), ps,
               [2 + i % 11 for i in range(len(ps))])
