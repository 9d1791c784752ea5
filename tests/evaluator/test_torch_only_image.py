# Run: .venv/bin/python -m pytest tests/evaluator/test_torch_only_image.py -q
"""A GPU box that scores a model may have torch and nothing else: the evaluator's scoring path and its
benchmark must import there, and the gate names must say what is missing instead of failing obscurely."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[2]

BLOCK = """
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("polars", "pyarrow", "pydantic", "jsonschema", "yaml", "rich"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
"""


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCK + code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_scoring_imports_and_runs_without_polars_or_pydantic() -> None:
    proc = run("""
import sys
sys.path.insert(0, ".")
from examples.tiny_model import ByteTokenizer, TinyConfig, TinyGPT
from picogate.evaluator.model import LM
from picogate.evaluator.rows import ChoiceRow
from picogate.evaluator.score import EvalConfig, score_choice_rows
lm = LM(TinyGPT(TinyConfig(n_layer=1, n_embd=32, n_head=2)), ByteTokenizer(), device="cpu")
rows = [ChoiceRow("q", "which?", ("a", "bb"), 0, "t:1")]
print(len(score_choice_rows(lm, rows, "r", "t", EvalConfig())), "polars" in sys.modules)
""")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "False"]


def test_gate_names_say_what_is_missing() -> None:
    proc = run("from picogate import evaluate")
    assert proc.returncode != 0
    assert "picogate.evaluate needs polars, which is not installed" in proc.stderr
