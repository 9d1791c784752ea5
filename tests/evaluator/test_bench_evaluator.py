# Run: .venv/bin/python -m pytest tests/evaluator/test_bench_evaluator.py -q
"""benchmarks/bench_evaluator.py on a few questions: its raw baseline runs the batches the scorer builds
(contexts cut to the model's window, as the scorer cuts them), and batched scores equal single ones; the
lm-eval suites give lm-eval's log-likelihoods and generations (when lm-eval is installed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.bench_evaluator import PRESETS, run, run_generation, run_lm_eval_scoring, synthetic_rows  # noqa: E402


def test_few_shot_rows_carry_their_examples() -> None:
    zero, three = synthetic_rows(4, (8, 16)), synthetic_rows(4, (8, 16), shots=3)
    assert all(r.question.count("\nAnswer: ") == 0 for r in zero)
    assert all(r.question.count("\nAnswer: ") == 3 and r.question.count("Question: ") == 3 for r in three)


@pytest.mark.parametrize("shots", [0, 3])
def test_benchmark_runs_and_batched_scores_equal_single_ones(shots: int) -> None:
    figures = run("cpu", "cpu", questions=6, single_questions=6, repeat=1, words=(8, 16), batch_size=None,
                  shots=shots)
    assert figures["packing"] and figures["shots"] == shots
    assert figures["max_loglik_drift_batched_vs_single"] < 1e-3
    # Packing puts each context in once: fewer sequences and tokens than one request at a time.
    assert figures["questions"] <= figures["forward_sequences"] < figures["requests"]
    assert figures["tokens"] < figures["single_row_tokens"] / 2
    if shots:  # 3-shot prompts pass the 512-token window, so contexts were cut to fit it
        assert figures["mean_sequence_tokens"] <= PRESETS["cpu"]["block_size"]


def test_generation_suite_matches_lm_eval_and_its_own_uncached_path() -> None:
    pytest.importorskip("transformers")
    figures = run_generation("cpu", prompts=3, max_new_tokens=5, repeat=1, batch_sizes=(3,), uncached_prompts=2)
    assert figures["kv_cache"] and figures["cached_equals_recomputed"]
    assert figures["generated_tokens"] == 15 and figures["params"] > 14_000_000
    if "lm_eval_s" in figures:  # lm-eval installed
        assert figures["identical_outputs"] == 3


def test_lm_eval_scoring_suite_gives_lm_eval_log_likelihoods() -> None:
    pytest.importorskip("transformers")
    figures = run_lm_eval_scoring("cpu", questions=3, shots=0, repeat=1, batch_sizes=(4,))
    assert figures["add_bos"] is False and figures["packing"] and figures["requests"] == 12
    if "lm_eval_s" in figures:
        assert figures["max_loglik_diff_vs_lm_eval"] < 1e-3 and figures["acc_picks_equal"] == 3
