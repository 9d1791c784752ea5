# Run (on a machine with a GPU): .venv/bin/python -m pytest tests/evaluator/test_cuda.py -q
"""The evaluator on CUDA: packed batches (boolean mask, bf16 autocast) give the scores of one request
at a time, and a whole `picogate eval` run gives the CPU run's verdicts. Skipped where no GPU is present;
CI has none, so these run on a lent GPU machine (benchmarks/results/evaluator_gpu.json says when)."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

import pyarrow.parquet as pq  # noqa: E402

from picogate.evaluator.cli import main  # noqa: E402
from picogate.evaluator.generate import greedy_generate  # noqa: E402
from picogate.evaluator.model import LM  # noqa: E402
from picogate.evaluator.rows import ChoiceRow  # noqa: E402
from picogate.evaluator.score import EvalConfig, score_choice_rows  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "data"
sys.path.insert(0, str(ROOT))
from examples.tiny_model import ByteTokenizer, TinyConfig, TinyGPT, build, save, train  # noqa: E402

WORDS = ("the", "a", "of", "plant", "water", "light", "rock", "heat", "cell", "sun", "moon", "force", "wave", "sound",
         "earth", "air", "rain", "seed")


def rows(n: int = 24) -> list[ChoiceRow]:
    rng = random.Random(1)
    out = []
    for i in range(n):
        question = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))) + "?"
        choices = tuple(" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4))) for _ in range(4))
        out.append(ChoiceRow(f"q{i}", question, choices, rng.randrange(4), f"t:{i}"))
    return out


def lm(autocast: bool) -> LM:
    torch.manual_seed(0)
    return LM(TinyGPT(TinyConfig(block_size=128, n_layer=2, n_head=4, n_embd=64)), ByteTokenizer(),
              device="cuda", autocast=autocast)


@pytest.mark.parametrize("autocast", [False, True])
def test_packed_batches_match_one_request_at_a_time(autocast: bool) -> None:
    model = lm(autocast)
    assert model.packing  # the probe accepted packed passes on this device and precision
    assert model._autocast == (autocast and torch.cuda.is_bf16_supported())
    batched = score_choice_rows(model, rows(), "r", "t", EvalConfig())
    single = score_choice_rows(model, rows(), "r", "t", EvalConfig(batch_size=1, share_context=False))
    # fp32 kernels agree closely across batch shapes; bf16 ones to about three significant digits.
    rel = 2e-2 if model._autocast else 1e-4
    for b, s in zip(batched, single, strict=True):
        assert b["choice_tokens"] == s["choice_tokens"]
        for x, y in zip(b["choice_loglik"], s["choice_loglik"], strict=True):
            assert abs(x - y) <= rel * abs(y) + 1e-3, (b["row_id"], x, y)


def test_eval_run_on_cuda_gives_the_cpu_verdicts(tmp_path: Path) -> None:
    sft = [json.loads(line) for line in (DATA / "eval" / "tiny_sft.jsonl").read_text().splitlines()]
    model, _ = build()
    assert train(model, sft, steps=200) < 0.05
    checkpoint = tmp_path / "tiny.pt"
    save(model, checkpoint)
    tables = {}
    for device in ("cpu", "cuda"):
        assert main(["eval", "--model", "examples.tiny_model:build", "--checkpoint", str(checkpoint),
                     "--rows", str(DATA / "eval" / "tiny_eval.jsonl"),
                     "--sft", str(DATA / "eval" / "tiny_sft.jsonl"),
                     "--external", f"tiny_arc={DATA / 'external' / 'tiny_arc.jsonl'}",
                     "--out", str(tmp_path / device / "run"), "--device", device]) == 0
        tables[device] = (pq.read_table(tmp_path / device / "run" / "eval_results.parquet").to_pylist(),
                          pq.read_table(tmp_path / device / "run" / "eval_metrics.parquet").to_pylist()[0])
    (cpu_rows, cpu_metrics), (gpu_rows, gpu_metrics) = tables["cpu"], tables["cuda"]
    # Counts and rates are equal; mean log-likelihoods agree to bf16 precision.
    assert gpu_metrics.keys() == cpu_metrics.keys()
    for key, value in cpu_metrics.items():
        if key.endswith("mean_loglik") and value is not None:
            assert abs(gpu_metrics[key] - value) <= 2e-2 * abs(value) + 1e-2, key
        else:
            assert gpu_metrics[key] == value, key
    for c, g in zip(cpu_rows, gpu_rows, strict=True):
        assert (g["row_id"], g["output"], g["correct"]) == (c["row_id"], c["output"], c["correct"])
        for x, y in zip(g["choice_loglik"] or [], c["choice_loglik"] or [], strict=True):
            assert abs(x - y) <= 2e-2 * abs(y) + 5e-2


class Hungry(torch.nn.Module):
    """A real model that also allocates 1/256 of the card per token of a pass: over ~256 tokens, the
    allocation fails the way a too-large batch does."""

    supports_packing = True

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.inner = TinyGPT(TinyConfig(block_size=128, n_layer=2, n_head=4, n_embd=64))
        self.block_size = 128
        self.per_token = torch.cuda.get_device_properties(0).total_memory // 256

    def forward(self, ids: torch.Tensor, positions: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        scratch = torch.empty(ids.numel() * self.per_token, dtype=torch.uint8, device=ids.device)
        del scratch
        return self.inner(ids, positions, mask)


def test_an_automatic_batch_that_runs_out_of_memory_is_retried_smaller() -> None:
    model = LM(Hungry(), ByteTokenizer(), device="cuda", autocast=False)
    prompts = [model.context_ids(r.question) for r in rows(12)]
    assert sum(map(len, prompts)) > 256
    with pytest.warns(UserWarning, match="automatic batch size lowered"):
        got = greedy_generate(model, prompts, 4)
    assert model.token_budget < 256
    assert got == greedy_generate(model, prompts, 4, batch_size=1)
    torch.cuda.empty_cache()


def test_cached_generation_on_cuda_equals_recomputation() -> None:
    from test_generate_cache import CachedGPT

    torch.manual_seed(0)
    model = CachedGPT(TinyConfig(block_size=128, n_layer=2, n_head=4, n_embd=64))
    prompts = [LM(model, ByteTokenizer(), device="cpu").context_ids(r.question) for r in rows(12)]
    cached = LM(model, ByteTokenizer(), device="cuda", autocast=False)
    recomputed = LM(model, ByteTokenizer(), device="cuda", autocast=False, kv_cache=False)
    assert cached.kv_cache and not recomputed.kv_cache
    assert greedy_generate(cached, prompts, 8) == greedy_generate(recomputed, prompts, 8)


def test_hugging_face_scores_from_sliced_hidden_states_on_cuda() -> None:
    transformers = pytest.importorskip("transformers")
    from picogate.evaluator.model import wrap

    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=258, n_positions=128, n_embd=64,
                                                                 n_layer=2, n_head=4))
    lm = wrap(model, ByteTokenizer(), device="cuda", autocast=False)
    assert lm.slicing and lm.packing and lm.kv_cache
    batched = score_choice_rows(lm, rows(), "r", "t", EvalConfig())
    single = score_choice_rows(lm, rows(), "r", "t", EvalConfig(batch_size=1, share_context=False))
    for b, s in zip(batched, single, strict=True):
        for x, y in zip(b["choice_loglik"], s["choice_loglik"], strict=True):
            assert abs(x - y) <= 1e-4 * abs(y) + 1e-3, (b["row_id"], x, y)
