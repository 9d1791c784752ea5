# Run: .venv/bin/python -m pytest tests/evaluator/test_lm_eval_parity.py -q
"""picogate's evaluator, with its DEFAULT settings, gives lm-evaluation-harness's numbers.

Same tiny GPT-2 (tests/fixtures/lm_eval/model), same rows (the local lm-eval tasks' JSONL, read by
picogate's choice-row reader), same tokenizer: per-choice log-likelihoods agree to 1e-4 and acc /
acc_norm agree on every row, for a GPT-2-style tokenizer (no BOS by default) and a Llama-style one
(BOS by default). lm-eval's side is what lm-eval 0.4.13 wrote (scripts/make_lm_eval_fixtures.py), read
by picogate's lm-eval reader; `test_parity_live` runs lm-eval here too when it is installed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from picogate.evaluator import evaluate_model
from picogate.integrations.lm_eval import find_samples, load_results, read_samples

pytest.importorskip("transformers")

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "make_lm_eval_fixtures.py"
KINDS = ("gpt2", "llama")


def fixtures_module() -> Any:
    spec = importlib.util.spec_from_file_location("make_lm_eval_fixtures", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FIX = fixtures_module()


def lm_eval_rows(results_path: Path) -> dict[str, list[dict[str, Any]]]:
    """lm-eval's per-question rows (log-likelihoods, acc, acc_norm), by task, in doc order."""
    results = load_results(results_path)
    tasks = {t.name: t for t in results.tasks}
    out = {}
    for name, file in find_samples(results).items():
        rows = read_samples(file, tasks[name], results.delimiters[name])
        out[name] = sorted(rows, key=lambda r: r["doc_id"])
    assert set(out) == set(FIX.TASKS)
    return out


def picogate_rows(kind: str) -> dict[str, list[dict[str, Any]]]:
    """The evaluator on the same model, tokenizer and rows, every setting left at its default."""
    run = evaluate_model(FIX.load_fixture_model(), FIX.load_fixture_tokenizer(kind), device="cpu",
                         external={task: FIX.TASKS_DIR / f"{task}.jsonl" for task in FIX.TASKS})
    rows = run.results.to_pylist()
    return {task: [r for r in rows if r["split"] == f"external:{task}"] for task in FIX.TASKS}


def assert_parity(ours: dict[str, list[dict[str, Any]]], theirs: dict[str, list[dict[str, Any]]]) -> None:
    for task in FIX.TASKS:
        assert len(ours[task]) == len(theirs[task])
        for mine, lm in zip(ours[task], theirs[task], strict=True):
            where = f"{task} doc {lm['doc_id']} ({mine['row_id']})"
            assert mine["prompt"] == lm["prompt"], where
            assert mine["choice_loglik"] == pytest.approx(lm["choice_loglik"], abs=1e-4), where
            assert (mine["correct"], mine["correct_norm"]) == (lm["correct"], lm["correct_norm"]), where


@pytest.mark.parametrize("kind", KINDS)
def test_default_settings_give_lm_evals_numbers(kind: str) -> None:
    (results,) = sorted((FIX.FIXTURES / kind).glob("results_*.json"))
    assert_parity(picogate_rows(kind), lm_eval_rows(results))


@pytest.mark.parametrize("kind", KINDS)
def test_bos_follows_the_tokenizers_default_and_is_recorded(kind: str) -> None:
    tok = FIX.load_fixture_tokenizer(kind)
    adds_bos = tok.encode("a")[:1] == [tok.bos_token_id]
    assert adds_bos == (kind == "llama")  # the fixtures really are the two cases
    run = evaluate_model(FIX.load_fixture_model(), tok, device="cpu",
                         external={"tiny_arc_easy": FIX.TASKS_DIR / "tiny_arc_easy.jsonl"})
    assert set(run.results.column("bos").to_pylist()) == {adds_bos}


@pytest.mark.parametrize("kind", KINDS)
def test_parity_live(kind: str, tmp_path: Path) -> None:
    """lm-eval run here, now, on the same model and tokenizer."""
    pytest.importorskip("lm_eval")
    FIX.run_lm_eval(FIX.load_fixture_model(), FIX.load_fixture_tokenizer(kind), tmp_path)
    (results,) = tmp_path.glob("results_*.json")
    assert_parity(picogate_rows(kind), lm_eval_rows(results))
