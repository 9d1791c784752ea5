# Run: .venv/bin/python -m pytest tests/evaluator/test_packing.py -q
"""Context sharing by packing (picogate/evaluator/choice.py): a question's context goes through the model
once, each choice as its own masked segment. Every log-likelihood must equal scoring each (context,
choice) request on its own, on a real (float64, randomly initialised) transformer."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from picogate.evaluator import score  # noqa: E402
from picogate.evaluator.choice import pack, pad, score_continuations  # noqa: E402
from picogate.evaluator.model import LM  # noqa: E402
from picogate.evaluator.rows import ChoiceRow  # noqa: E402
from picogate.evaluator.score import EvalConfig, score_choice_rows  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from examples.tiny_model import ByteTokenizer, TinyConfig, TinyGPT  # noqa: E402


def tiny_lm(packing: bool | None = None, block_size: int = 64) -> LM:
    torch.manual_seed(3)
    model = TinyGPT(TinyConfig(block_size=block_size, n_layer=2, n_head=2, n_embd=32)).double()
    return LM(model, ByteTokenizer(), device="cpu", packing=packing)


def test_pack_layout() -> None:
    ctx, a, b, c = [1, 2, 3], [7], [8, 9], [4, 5, 6]
    packs = pack([(ctx, a), (ctx, b), (ctx, c), ([1, 2], b)], [0, 0, 0, 0])
    assert [p.ids for p in packs] == [(1, 2, 3, 8, 4, 5), (1, 2, 8)]
    first = packs[0]
    assert first.segments == (0, 0, 0, 2, 3, 3)  # the one-token choice (segment 1) adds no input token
    assert first.positions == (0, 1, 2, 3, 3, 4)  # each choice continues from the context's end
    assert first.reads == ((0, (2,)), (1, (2, 3)), (2, (2, 4, 5)))
    assert packs[1].segments is None  # a single continuation is an ordinary causal sequence


def test_pad_right_pads_with_the_fill() -> None:
    assert pad([[1, 2, 3], [4]]).tolist() == [[1, 2, 3], [4, 0, 0]]
    assert pad([(0, 1), range(1)], fill=-1).tolist() == [[0, 1], [0, -1]]
    assert pad([[], []]).shape == (2, 0)


def test_pack_respects_the_window_and_reads_each_request_once() -> None:
    rng = random.Random(0)
    ctx = [rng.randrange(1, 200) for _ in range(10)]
    requests = [(ctx, [rng.randrange(1, 200) for _ in range(rng.randint(1, 6))]) for _ in range(30)]
    packs = pack(requests, [0] * 30, max_len=24)
    assert all(len(p.ids) <= 24 for p in packs) and len(packs) > 1
    assert sorted(i for p in packs for i in p.members) == list(range(30))


def test_model_without_packing_support_is_refused() -> None:
    lm = tiny_lm(packing=False)
    assert not lm.packing and tiny_lm().packing
    with pytest.raises(ValueError, match="supports_packing"):
        lm.packed_logits(torch.zeros((1, 2), dtype=torch.long), torch.zeros((1, 2), dtype=torch.long),
                         torch.zeros((1, 2), dtype=torch.long))


@pytest.mark.parametrize("batch_size", [1, 3, None])
def test_packed_scores_equal_one_request_at_a_time(batch_size: int | None) -> None:
    rng = random.Random(batch_size or 0)
    lm, tok = tiny_lm(), ByteTokenizer()
    requests, groups = [], []
    for g in range(12):
        ctx = [tok.bos_id, *tok.encode("q" * rng.randint(1, 30))]
        for _ in range(rng.randint(1, 5)):  # one-token, duplicate and long continuations alike
            requests.append((ctx, tok.encode(rng.choice(["A", " yes", " yes", " no way", "x" * 40]))))
            groups.append(g)
    requests.append(([tok.bos_id, *tok.encode("z" * 60)], tok.encode(" truncated")))  # context cut to fit
    groups.append(99)
    alone = score_continuations(lm, requests, batch_size=1, share_context=False)
    packed = score_continuations(lm, requests, groups=groups, batch_size=batch_size)
    riding = score_continuations(tiny_lm(packing=False), requests, groups=groups, batch_size=batch_size)
    for a, p, r in zip(alone, packed, riding, strict=True):
        assert p.tokens == a.tokens and p.greedy_tokens == a.greedy_tokens == r.greedy_tokens
        assert p.loglik == pytest.approx(a.loglik, abs=1e-9) and r.loglik == pytest.approx(a.loglik, abs=1e-9)


@pytest.mark.parametrize("chunk", [128, 4, 1])
def test_choice_rows_packed_or_not_give_the_same_records(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [ChoiceRow(f"q{i}", f"which {i}?", ("red", "green", "a blue one", "x"), i % 4, f"t:{i}")
            for i in range(6)]
    plain = score_choice_rows(tiny_lm(), rows, "r", "t", EvalConfig(share_context=False, batch_size=1))
    monkeypatch.setattr(score, "CHOICE_CHUNK", chunk)  # rows go to the model in chunks of this many
    packed = score_choice_rows(tiny_lm(), rows, "r", "t", EvalConfig())
    assert [r["row_id"] for r in packed] == [r.id for r in rows]
    for p, q in zip(packed, plain, strict=True):
        assert p["choice_loglik"] == pytest.approx(q["choice_loglik"], abs=1e-9)
        assert (p["correct"], p["correct_norm"], p["correct_bytes"]) == (q["correct"], q["correct_norm"],
                                                                         q["correct_bytes"])


class IgnoresMask(TinyGPT):
    """Says it packs, but attends causally across segments: its packed logits are wrong."""

    def forward(self, ids, positions=None, mask=None):  # type: ignore[no-untyped-def]
        return super().forward(ids, positions)


class TakesNoMask(TinyGPT):
    """Says it packs, but takes token ids only."""

    def forward(self, ids):  # type: ignore[no-untyped-def]
        return super().forward(ids)


@pytest.mark.parametrize("cls,why", [(IgnoresMask, "packed logits differ"), (TakesNoMask, "a packed pass failed")])
def test_a_false_packing_claim_is_caught_and_scores_stay_right(cls: type, why: str) -> None:
    torch.manual_seed(3)
    lm = LM(cls(TinyConfig(block_size=64, n_layer=2, n_head=2, n_embd=32)).double(), ByteTokenizer(), device="cpu")
    tok = ByteTokenizer()
    ctx = [tok.bos_id, *tok.encode("which colour?")]
    requests = [(ctx, tok.encode(" red")), (ctx, tok.encode(" green"))]
    with pytest.warns(UserWarning, match=why):
        packed = score_continuations(lm, requests)
    assert not lm.packing
    alone = score_continuations(lm, requests, batch_size=1, share_context=False)
    assert [p.loglik for p in packed] == pytest.approx([a.loglik for a in alone], abs=1e-9)


class SplitGPT(TinyGPT):
    """TinyGPT with its output layer split off, so scoring runs the head on scored positions only."""

    def forward_hidden(self, ids, positions=None, mask=None):  # type: ignore[no-untyped-def]
        pos = torch.arange(ids.shape[1], device=ids.device) if positions is None else positions
        x = self.tok(ids) + self.pos(pos)
        for block in self.blocks:
            x = block(x, None if mask is None else mask[:, None])
        return self.ln_f(x)

    def output_logits(self, hidden):  # type: ignore[no-untyped-def]
        self.head_rows = getattr(self, "head_rows", 0) + hidden.shape[0]
        return self.head(hidden)


class ScaledHead(SplitGPT):
    """Its split disagrees with its forward (as a model that scales logits in forward would)."""

    def output_logits(self, hidden):  # type: ignore[no-untyped-def]
        return 2 * self.head(hidden)


class HiddenIgnoresMask(SplitGPT):
    """Packs in forward, but its forward_hidden attends causally across segments."""

    def forward_hidden(self, ids, positions=None, mask=None):  # type: ignore[no-untyped-def]
        return super().forward_hidden(ids, positions)


def split_lm(cls: type = SplitGPT, packing: bool | None = None) -> LM:
    torch.manual_seed(3)
    model = cls(TinyConfig(block_size=64, n_layer=2, n_head=2, n_embd=32)).double()
    return LM(model, ByteTokenizer(), device="cpu", packing=packing)


@pytest.mark.parametrize("packing", [None, False])
def test_output_layer_on_scored_positions_only_gives_the_same_scores(packing: bool | None) -> None:
    tok = ByteTokenizer()
    ctx = [tok.bos_id, *tok.encode("Question: which colour?\nAnswer:")]
    requests = [(ctx, tok.encode(c)) for c in (" red", " green", " a light blue one", " red", "x")]
    requests.append(([tok.bos_id, *tok.encode("z" * 70)], tok.encode(" cut")))  # context cut to the window
    lm = split_lm(packing=packing)
    assert lm.slicing and lm.packing == (packing is None)
    lm.model.head_rows = 0  # the probes are done
    sliced = score_continuations(lm, requests, groups=[0] * 5 + [1])
    # The output layer saw the scored positions only: one per continuation token.
    assert lm.model.head_rows == sum(len(c) for _, c in requests)
    alone = score_continuations(tiny_lm(), requests, batch_size=1, share_context=False)
    for s, a in zip(sliced, alone, strict=True):
        assert (s.tokens, s.greedy_tokens) == (a.tokens, a.greedy_tokens)
        assert s.loglik == pytest.approx(a.loglik, abs=1e-9)


@pytest.mark.parametrize("cls", [ScaledHead, HiddenIgnoresMask])
def test_a_split_that_disagrees_with_forward_is_caught_and_scores_stay_right(cls: type) -> None:
    tok = ByteTokenizer()
    requests = [([tok.bos_id, *tok.encode("which?")], tok.encode(c)) for c in (" red", " green")]
    lm = split_lm(cls)
    with pytest.warns(UserWarning, match="differs from the model's logits"):
        got = score_continuations(lm, requests)
    assert not lm.slicing
    want = score_continuations(tiny_lm(), requests, batch_size=1, share_context=False)
    assert [g.loglik for g in got] == pytest.approx([w.loglik for w in want], abs=1e-9)


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_hugging_face_models_score_from_sliced_hidden_states(arch: str) -> None:
    transformers = pytest.importorskip("transformers")
    from picogate.evaluator.model import wrap

    torch.manual_seed(0)
    if arch == "gpt2":
        model = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=258, n_positions=64, n_embd=32,
                                                                     n_layer=2, n_head=2))
    else:
        model = transformers.LlamaForCausalLM(transformers.LlamaConfig(
            vocab_size=258, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
            num_key_value_heads=1, max_position_embeddings=64))
    model = model.double()
    lm = wrap(model, ByteTokenizer(), device="cpu")
    assert lm.slicing and lm.packing
    tok = ByteTokenizer()
    ctx = [tok.bos_id, *tok.encode("Question: which?\nAnswer:")]
    requests = [(ctx, tok.encode(c)) for c in (" red", " green", " a", " red")]
    sliced = score_continuations(lm, requests)
    # A plain callable over the same model: full logits, one request at a time.
    plain = LM(lambda ids: model(input_ids=ids).logits, tok, device="cpu")
    alone = score_continuations(plain, requests, batch_size=1, share_context=False)
    assert not plain.slicing and not plain.packing
    assert [s.loglik for s in sliced] == pytest.approx([a.loglik for a in alone], abs=1e-9)
