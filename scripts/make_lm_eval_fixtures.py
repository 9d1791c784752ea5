# Run: .venv/bin/python scripts/make_lm_eval_fixtures.py   (needs the lm-eval extra; offline, ~20 s on 2 CPU cores)
"""Real lm-evaluation-harness output for picogate's tests, from a tiny model built here.

Writes tests/fixtures/lm_eval/:
  model/              a 2-layer GPT-2 built from a config with a fixed seed (config.json, model.safetensors)
  tokenizer_gpt2/     a byte-level BPE trained on the task rows; adds no BOS (as GPT-2's does)
  tokenizer_llama/    the same vocabulary, but its post-processor adds BOS by default (as Llama's does)
  gpt2/, llama/       lm-eval 0.4 results_<time>.json and samples_<task>_<time>.jsonl for each tokenizer
  tasks/              the committed local task YAMLs (two multiple-choice tasks and a group) and their rows

Why: picogate reads lm-eval results as evidence (picogate.integrations.lm_eval) and claims parity with
lm-eval's log-likelihood scoring (tests/evaluator/test_lm_eval_parity.py). Both are tested against what
lm-eval itself wrote, not against a hand-made imitation. The functions below are imported by those tests
so that the live runs build exactly the same model, tokenizers and lm-eval call. Nothing is downloaded:
the model comes from a config, the tokenizer is trained here, the tasks read local JSONL files.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may come from a hub
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "lm_eval"
TASKS_DIR = FIXTURES / "tasks"
TASKS = ("tiny_arc_easy", "tiny_mmlu_abstract_algebra")
GROUP = "tiny_suite"
SEED = 1234
BOS, EOS = "<s>", "</s>"
MODEL_CONFIG: dict[str, Any] = {"n_positions": 128, "n_embd": 32, "n_layer": 2, "n_head": 2,
                                "initializer_range": 0.3}  # a wide init: peaked, row-dependent log-likelihoods
TOKENIZER_KINDS = ("gpt2", "llama")


def task_texts() -> list[str]:
    """Every question and choice of the local tasks, in the templates lm-eval will render."""
    texts = []
    for task in TASKS:
        for line in (TASKS_DIR / f"{task}.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            texts.append(f"Question: {row['question']}\nAnswer:")
            texts += [f" {c}" for c in row["choices"]]
    return texts


def build_tokenizer(kind: str) -> Any:
    """A byte-level BPE over the task texts; `llama` adds BOS by default, `gpt2` does not (its BOS exists)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    if kind not in TOKENIZER_KINDS:
        raise ValueError(f"tokenizer kind {kind!r}: use one of {TOKENIZER_KINDS}")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=[BOS, EOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(task_texts(), trainer=trainer)
    if kind == "llama":
        bos_id = tok.token_to_id(BOS)
        tok.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B",
                                                           special_tokens=[(BOS, bos_id)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS)


def build_model(tokenizer: Any) -> Any:
    """The tiny GPT-2 over `tokenizer`'s vocabulary: the same weights for the same seed, config and torch build."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(SEED)
    config = GPT2Config(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                        eos_token_id=tokenizer.eos_token_id, **MODEL_CONFIG)
    model = GPT2LMHeadModel(config)
    return model.eval()


def load_fixture_model() -> Any:
    """The committed model (its weights, so the fixtures do not depend on torch's random stream)."""
    from transformers import GPT2LMHeadModel

    return GPT2LMHeadModel.from_pretrained(FIXTURES / "model").eval()


def load_fixture_tokenizer(kind: str) -> Any:
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast.from_pretrained(FIXTURES / f"tokenizer_{kind}")


def run_lm_eval(model: Any, tokenizer: Any, out_dir: Path) -> dict[str, Any]:
    """lm-eval 0.4 on the local tasks with per-sample logs, written by lm-eval's own EvaluationTracker.

    Leaves `results_<time>.json` and `samples_<task>_<time>.jsonl` directly in `out_dir`; returns the results.
    """
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    out_dir.mkdir(parents=True, exist_ok=True)
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=8, max_length=MODEL_CONFIG["n_positions"])
    tracker = EvaluationTracker(output_path=str(out_dir / "results.json"))  # a .json path: files land beside it
    tasks = TaskManager(include_path=str(TASKS_DIR), include_defaults=False)  # lm-eval's own tasks: not indexed
    with contextlib.chdir(TASKS_DIR):  # the task YAMLs name their JSONL files relative to this folder
        results = simple_evaluate(model=lm, tasks=[GROUP], task_manager=tasks,
                                  log_samples=True, evaluation_tracker=tracker, random_seed=0,
                                  numpy_random_seed=0, torch_random_seed=0, fewshot_random_seed=0)
    assert results is not None
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    for task in results["configs"]:
        tracker.save_results_samples(task_name=task, samples=samples[task])
    return results


def main() -> None:
    tokenizers = {kind: build_tokenizer(kind) for kind in TOKENIZER_KINDS}
    model = build_model(tokenizers["gpt2"])
    shutil.rmtree(FIXTURES / "model", ignore_errors=True)
    model.save_pretrained(FIXTURES / "model")
    for kind, tok in tokenizers.items():
        shutil.rmtree(FIXTURES / f"tokenizer_{kind}", ignore_errors=True)
        tok.save_pretrained(FIXTURES / f"tokenizer_{kind}")
        out = FIXTURES / kind
        shutil.rmtree(out, ignore_errors=True)  # a rerun replaces the previous output, never mixes with it
        run_lm_eval(load_fixture_model(), load_fixture_tokenizer(kind), out)
    total = sum(p.stat().st_size for p in FIXTURES.rglob("*") if p.is_file())
    print(f"wrote {FIXTURES.relative_to(ROOT)} ({total:,} bytes)")


if __name__ == "__main__":
    main()
