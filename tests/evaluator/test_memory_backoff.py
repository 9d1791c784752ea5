# Run: .venv/bin/python -m pytest tests/evaluator/test_memory_backoff.py -q
"""Automatic batch sizes back off when the device runs out of memory (picogate/evaluator/model.py
`run_batches`): the batch is retried at half the size and every score stays what it would have been.
The out-of-memory error is raised by a wrapper around a real (float64) transformer whenever a pass holds
more tokens than a limit, so the test runs on CPU; tests/evaluator/test_cuda.py covers the device."""

from __future__ import annotations

import random
import sys
import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from picogate.evaluator.choice import pick_letters  # noqa: E402
from picogate.evaluator.generate import greedy_generate  # noqa: E402
from picogate.evaluator.model import LM  # noqa: E402
from picogate.evaluator.rows import ChoiceRow  # noqa: E402
from picogate.evaluator.score import EvalConfig, score_choice_rows  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from examples.tiny_model import ByteTokenizer, TinyConfig, TinyGPT  # noqa: E402


class OutOfMemoryAbove(torch.nn.Module):
    """A model that fails as a full GPU does once a pass holds more than `limit` tokens."""

    supports_packing = True

    def __init__(self, limit: int) -> None:
        super().__init__()
        torch.manual_seed(5)
        self.inner = TinyGPT(TinyConfig(block_size=96, n_layer=2, n_head=2, n_embd=32)).double()
        self.block_size = 96
        self.limit = limit
        self.largest = 0

    def forward(self, ids: torch.Tensor, positions: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        if ids.numel() > self.limit:
            raise torch.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {ids.numel()} tokens of logits")
        self.largest = max(self.largest, ids.numel())
        return self.inner(ids, positions, mask)


def lm(limit: int = 10**9) -> LM:
    return LM(OutOfMemoryAbove(limit), ByteTokenizer(), device="cpu")


def rows(n: int = 12) -> list[ChoiceRow]:
    rng = random.Random(2)
    words = ["sun", "rain", "seed", "leaf", "root", "cell", "heat", "wave", "rock", "moon"]
    return [ChoiceRow(f"q{i}", " ".join(rng.choices(words, k=rng.randint(2, 6))) + "?",
                      tuple(" ".join(rng.choices(words, k=rng.randint(1, 3))) for _ in range(4)), 0, f"t:{i}")
            for i in range(n)]


def test_choice_scores_survive_running_out_of_memory() -> None:
    expected = score_choice_rows(lm(), rows(), "r", "t", EvalConfig())
    small = lm(limit=150)
    with pytest.warns(UserWarning, match="automatic batch size lowered"):
        got = score_choice_rows(small, rows(), "r", "t", EvalConfig())
    flat = [x for r in got for x in r["choice_loglik"]]
    assert flat == pytest.approx([x for r in expected for x in r["choice_loglik"]], abs=1e-9)
    assert 0 < small.model.largest <= 150 and small.token_budget <= 150
    with warnings.catch_warnings():  # the lowered budget is kept: no second round of failures
        warnings.simplefilter("error")
        score_choice_rows(small, rows(), "r", "t", EvalConfig())


def test_generation_and_letter_picks_survive_running_out_of_memory() -> None:
    full, small = lm(), lm(limit=100)
    prompts = [full.context_ids(r.question) for r in rows()]
    with pytest.warns(UserWarning, match="automatic batch size lowered"):
        got = greedy_generate(small, prompts, 6)
    assert got == greedy_generate(full, prompts, 6)
    letters = [("A", "B", "C", "D")] * len(prompts)
    with pytest.warns(UserWarning, match="automatic batch size lowered"):
        picks = pick_letters(lm(limit=40), prompts, letters)
    assert picks == pick_letters(full, prompts, letters)


def test_a_fixed_batch_size_that_does_not_fit_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"ran out of memory on a batch of 4 sequence\(s\).*smaller batch size"):
        score_choice_rows(lm(limit=60), rows(), "r", "t", EvalConfig(batch_size=4))
    with pytest.raises(ValueError, match="ran out of memory on a batch of 1 sequence"):
        greedy_generate(lm(limit=3), [[256, 1, 2, 3]], 2)
