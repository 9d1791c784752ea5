# Run: .venv/bin/python -m pytest tests/evaluator/test_tiny_model.py -q
"""A tiny real transformer (examples/tiny_model.py), trained in seconds, scored end to end via the CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from picogate.evaluator import aggregate
from picogate.evaluator.cli import main

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "data"
sys.path.insert(0, str(ROOT))
from examples.tiny_model import build, save, train  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = [json.loads(line) for line in (DATA / "eval" / "tiny_sft.jsonl").read_text().splitlines()]
    model, _ = build()
    assert 200_000 < sum(p.numel() for p in model.parameters()) < 600_000
    assert train(model, rows, steps=200) < 0.05
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save(model, path)
    return path


def test_cli_scores_tiny_transformer_end_to_end(checkpoint: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run-1"
    status = main([
        "eval", "--model", "examples.tiny_model:build", "--checkpoint", str(checkpoint),
        "--rows", str(DATA / "eval" / "tiny_eval.jsonl"),
        "--sft", str(DATA / "eval" / "tiny_sft.jsonl"),
        "--sft-heldout", str(DATA / "eval" / "tiny_sft_heldout.jsonl"),
        "--external", f"tiny_arc={DATA / 'external' / 'tiny_arc.jsonl'}",
        "--out", str(out), "--device", "cpu",
    ])
    assert status == 0, capsys.readouterr().err
    results = pq.read_table(out / "eval_results.parquet")
    metrics = pq.read_table(out / "eval_metrics.parquet").to_pylist()[0]
    assert metrics["run_id"] == "run-1"
    assert aggregate(results) == metrics
    assert results.num_rows == 7 + 8 + 3 + 3
    # The model memorized its SFT rows: greedy completions and teacher-forced tokens all match.
    assert metrics["sft.rows"] == 8 and metrics["sft.fit_rate"] == 1.0 and metrics["sft.token_accuracy"] == 1.0
    assert metrics["eval.identity.pass_rate"] == 1.0 and metrics["refusal.rate"] == 1.0
    assert metrics["external.tiny_arc.rows"] == 3 and metrics["external.count"] == 1
    row = {r["row_id"]: r for r in results.to_pylist()}["e5"]
    assert row["refused"] and row["output"].startswith(" I can't")
    # every row says what the model was given: BOS (the byte tokenizer's default), nothing cut
    assert set(results.column("bos").to_pylist()) == {True} and not any(results.column("truncated").to_pylist())
    choices = [r for r in results.to_pylist() if r["kind"] == "choice"]
    assert all(len(r["choice_is_greedy"]) == len(r["choice_loglik"]) for r in choices)


def test_python_file_factory_and_no_checkpoint(tmp_path: Path) -> None:
    status = main(["eval", "--model", f"{ROOT / 'examples' / 'tiny_model.py'}:build",
                   "--external", f"tiny_arc={DATA / 'external' / 'tiny_arc.jsonl'}",
                   "--out", str(tmp_path / "r"), "--device", "cpu", "--batch-size", "2"])
    assert status == 0
    assert pq.read_table(tmp_path / "r" / "eval_results.parquet").num_rows == 3


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--model", "examples.tiny_model:nope"], "has no callable 'nope'"),
        (["--model", "no_such_module_xyz:build"], "cannot import"),
        (["--checkpoint", "/nonexistent.pt"], "no such file"),
        (["--grader", "math=vibes"], "unknown grader"),
        (["--external", "Bad-Name=x.jsonl"], "benchmark name"),
    ],
)
def test_cli_errors_are_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        extra: list[str], needle: str) -> None:
    args = ["eval", "--model", "examples.tiny_model:build", "--out", str(tmp_path / "r"),
            "--rows", str(DATA / "eval" / "tiny_eval.jsonl"), *extra]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err


def test_cli_bad_row_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "q", "question": "?", "choices": ["a", "b"], "answer": 0}\n'
                   '{"id": "r", "question": "?", "choices": ["a", "b"], "answer": 7}\n')
    assert main(["eval", "--model", "examples.tiny_model:build", "--external", f"x={bad}",
                 "--out", str(tmp_path / "r")]) == 2
    assert f"{bad}:2: row 'r': answer: 7 is out of range for 2 choices" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_cli_repeated_external_name_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arc = DATA / "external" / "tiny_arc.jsonl"
    other = tmp_path / "other.jsonl"
    other.write_text(arc.read_text())
    assert main(["eval", "--model", "examples.tiny_model:build", "--external", f"arc={arc}",
                 "--external", f"arc={other}", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"picogate eval: error: --external arc: given twice ({arc} and {other}); each benchmark name "
                   "names its metrics, so give each file its own name")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("flag", "bos"), [([], True), (["--no-add-bos"], False), (["--add-bos"], True)])
def test_cli_add_bos_switch_is_recorded_per_row(tmp_path: Path, flag: list[str], bos: bool) -> None:
    # The byte tokenizer has a BOS id and declares nothing: BOS by default (its model was trained with it).
    out = tmp_path / "r"
    assert main(["eval", "--model", "examples.tiny_model:build", "--external",
                 f"tiny_arc={DATA / 'external' / 'tiny_arc.jsonl'}", "--out", str(out), "--device", "cpu",
                 "--quiet", *flag]) == 0
    rows = pq.read_table(out / "eval_results.parquet").to_pylist()
    assert {r["bos"] for r in rows} == {bos}
    question = json.loads((DATA / "external" / "tiny_arc.jsonl").read_text().splitlines()[0])["question"]
    first = rows[0]
    assert first["prompt_tokens"] == len(f"Question: {question}\nAnswer:".encode()) + bos
