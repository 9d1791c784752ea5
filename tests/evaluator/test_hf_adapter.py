# Run: .venv/bin/python -m pytest tests/evaluator/test_hf_adapter.py -q
"""The Hugging Face adapter, on a tiny GPT-2 built offline from a config (skipped without transformers)."""

from __future__ import annotations

import pytest
import torch
from evaluator_toys import CharTokenizer

from picogate.evaluator import LM, evaluate_model, score_continuations, wrap
from picogate.evaluator.rows import ChoiceRow, EvalRow

transformers = pytest.importorskip("transformers")


class HFLikeTokenizer:
    """The slice of a transformers tokenizer the adapter uses, over CharTokenizer (nothing downloaded)."""

    def __init__(self) -> None:
        self.inner = CharTokenizer()
        self.bos_token_id = self.inner.bos_id
        self.eos_token_id = self.inner.eos_id

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        ids = self.inner.encode(text)
        return [self.bos_token_id, *ids] if add_special_tokens else ids

    def decode(self, ids: list[int]) -> str:
        return self.inner.decode(ids)


@pytest.fixture(scope="module")
def hf_model():
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=CharTokenizer().vocab_size, n_positions=64, n_embd=32,
                                  n_layer=2, n_head=2)
    return transformers.GPT2LMHeadModel(cfg)


def test_hf_model_is_adapted_and_matches_its_own_logits(hf_model) -> None:
    lm = wrap(hf_model, HFLikeTokenizer(), device="cpu")
    assert isinstance(lm, LM) and lm.max_len == 64 and lm.bos_id == lm.tokenizer.bos_id
    assert lm.encode("ab") == CharTokenizer().encode("ab")  # no special tokens added twice
    ctx, cont = lm.context_ids("Question: q\nAnswer:"), lm.encode(" a")
    (score,) = score_continuations(lm, [(ctx, cont)])
    with torch.no_grad():
        logits = hf_model(torch.tensor([ctx + cont])).logits[0].log_softmax(-1)
    expected = sum(float(logits[len(ctx) - 1 + j, t]) for j, t in enumerate(cont))
    assert score.loglik == pytest.approx(expected, abs=1e-4)


def test_hf_model_runs_every_kind(hf_model) -> None:
    run = evaluate_model(
        hf_model, HFLikeTokenizer(), device="cpu",
        eval_rows=[EvalRow("a", "math", "2+3=", "5", "m:1")],
        external={"arc": [ChoiceRow("q", "q", ("a", "b"), 0, "m:2")]},
    )
    assert run.results.num_rows == 2 and run.metrics["external.arc.rows"] == 1


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_hf_models_pack_contexts_and_score_as_if_alone(arch: str) -> None:
    torch.manual_seed(0)
    vocab = CharTokenizer().vocab_size
    if arch == "gpt2":
        model = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=vocab, n_positions=64, n_embd=32,
                                                                     n_layer=2, n_head=2))
    else:
        model = transformers.LlamaForCausalLM(transformers.LlamaConfig(
            vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
            num_key_value_heads=1, max_position_embeddings=64))
    lm = wrap(model, HFLikeTokenizer(), device="cpu")
    assert lm.packing  # the probe found packed and plain logits equal for this architecture
    ctx = lm.context_ids("Question: which?\nAnswer:")
    requests = [(ctx, lm.encode(c)) for c in (" red", " green", " a", " red")]
    packed = score_continuations(lm, requests)
    alone = score_continuations(lm, requests, batch_size=1, share_context=False)
    assert [p.loglik for p in packed] == pytest.approx([a.loglik for a in alone], abs=1e-4)
