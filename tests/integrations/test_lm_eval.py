# Run: .venv/bin/python -m pytest tests/integrations/test_lm_eval.py -q
"""lm-eval results as external-benchmark evidence, on real lm-eval 0.4.13 output.

The fixtures in tests/fixtures/lm_eval/ were written by lm-eval itself (scripts/make_lm_eval_fixtures.py):
results_<time>.json and samples_<task>_<time>.jsonl for two local multiple-choice tasks and their group.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from picogate.cli import main
from picogate.errors import InputError
from picogate.integrations.lm_eval import ROWS_FILE, load_results, read_results
from picogate.postrun import RunRecorder
from picogate.postrun.attach import attach_lm_eval
from picogate.postrun.gate import run
from picogate.postrun.stats import wilson

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "lm_eval"


def results_file(kind: str = "gpt2") -> Path:
    (path,) = sorted((FIXTURES / kind).glob("results_*.json"))
    return path


@pytest.fixture
def lm_out(tmp_path: Path) -> Path:
    """A writable copy of one lm-eval output folder (results + samples, lm-eval's own file names)."""
    out = tmp_path / "lm-eval-out"
    shutil.copytree(FIXTURES / "gpt2", out)
    return out


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    RunRecorder(tmp_path / "r1", run_id="r1")
    return tmp_path / "r1"


def edit_results(out: Path, change) -> Path:  # type: ignore[no-untyped-def]
    (path,) = out.glob("results_*.json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_read_results_gives_one_row_with_intervals_from_the_real_file(kind: str) -> None:
    path = results_file(kind)
    raw = json.loads(path.read_text(encoding="utf-8"))
    row = read_results(path, run_id="r1").row(0, named=True)
    assert row["run_id"] == "r1" and row["external.count"] == 2  # the group is reported, not counted
    for task, n in (("tiny_arc_easy", 16), ("tiny_mmlu_abstract_algebra", 12), ("tiny_suite", 28)):
        lm = raw["results"][task]
        p = f"external.{task}"
        assert row[f"{p}.acc"] == lm["acc,none"] and row[f"{p}.acc_norm"] == lm["acc_norm,none"]
        assert row[f"{p}.acc_stderr"] == lm["acc_stderr,none"]
        assert row[f"{p}.acc_norm_stderr"] == lm["acc_norm_stderr,none"]
        assert row[f"{p}.rows"] == n
        for rate in ("acc", "acc_norm"):
            low, high = wilson(round(lm[f"{rate},none"] * n), n)
            assert (row[f"{p}.{rate}_low"], row[f"{p}.{rate}_high"]) == (low, high)
            assert low < lm[f"{rate},none"] < high


def test_attach_then_postrun_counts_the_tasks_as_external_benchmarks(run_dir: Path, capsys) -> None:
    before = run(run_dir, profile="release").result.checks
    assert before.filter(before["rule_id"] == "postrun.external")["outcome"].to_list() != ["pass"]

    assert main(["attach", str(run_dir), "--lm-eval", str(results_file())]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("attached 2 lm-eval benchmark(s)") and "28 sample rows recomputed" in out
    manifest = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    stage = manifest["stages"]["lm_eval"]
    assert {i["role"] for i in stage["inputs"]} == {"lm_eval:results", "lm_eval:tiny_arc_easy",
                                                     "lm_eval:tiny_mmlu_abstract_algebra"}
    assert all(len(i["sha256"]) == 64 for i in stage["inputs"]) and ROWS_FILE in manifest["artifacts"]
    rows = pq.read_table(run_dir / ROWS_FILE)
    assert rows.num_rows == 28 and set(rows.column("run_id").to_pylist()) == {"r1"}

    outcome = run(run_dir, profile="release")
    checks = outcome.result.checks
    assert checks.filter(checks["rule_id"] == "postrun.external")["outcome"].to_list() == ["pass"]
    ev = outcome.evidence
    assert ev["external.count"] == 2 and ev["external.tiny_arc_easy.acc_low"] == wilson(6, 16)[0]
    assert ev["honesty.artifacts_changed"] == 0
    # the CLI judges the same directory: blocked (no training, no eval here), exit 1, not 2
    assert main(["postrun", str(run_dir), "--profile", "release", "--no-files", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["evidence"]["external.tiny_mmlu_abstract_algebra.acc_high"] == wilson(2, 12)[1]


def test_missing_acc_never_counts(lm_out: Path, run_dir: Path, capsys) -> None:
    def drop_acc(doc):  # type: ignore[no-untyped-def]
        for task in doc["results"].values():
            task.pop("acc,none")

    path = edit_results(lm_out, drop_acc)
    err = one_line_error(capsys, ["attach", str(run_dir), "--lm-eval", str(path)])
    assert "no task reports 'acc,none'" in err and str(path) in err
    checks = run(run_dir, profile="release").result.checks
    assert checks.filter(checks["rule_id"] == "postrun.external")["outcome"].to_list() != ["pass"]


@pytest.mark.parametrize(("change", "says"), [
    (lambda d: d["results"]["tiny_arc_easy"].update({"acc,none": "0.375"}), "'acc,none' must be a number"),
    (lambda d: d["results"]["tiny_arc_easy"].update({"acc,none": 1.5}), "'acc,none' must be a number"),
    (lambda d: d["results"]["tiny_arc_easy"].update({"acc,none": True}), "'acc,none' must be a number"),
    (lambda d: d["results"]["tiny_arc_easy"].update({"acc_stderr,none": "big"}), "'acc_stderr,none' must be"),
    (lambda d: d["n-samples"].pop("tiny_arc_easy"), "n-samples.tiny_arc_easy.effective must be a row count"),
    (lambda d: d["n-samples"]["tiny_arc_easy"].update({"effective": 16.0}), "effective must be a row count"),
    (lambda d: d.pop("results"), "not an lm-eval results file"),
    (lambda d: d["results"].update({"tiny_arc_easy": [0.5]}), "expected an object of metrics"),
    (lambda d: d["results"]["tiny_arc_easy"].update({"acc,none": 0.4375}), "the sample rows give 0.375"),
    (lambda d: d["group_subtasks"].update({"tiny_suite": "tiny_arc_easy"}), "group_subtasks.tiny_suite must list"),
])
def test_malformed_results_are_one_line_errors(lm_out: Path, run_dir: Path, capsys, change, says: str) -> None:
    path = edit_results(lm_out, change)
    err = one_line_error(capsys, ["attach", str(run_dir), "--lm-eval", str(path)])
    assert says in err and str(path) in err
    assert "lm_eval" not in json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["stages"]


@pytest.mark.parametrize(("old", "new", "says"), [
    (b'"acc,none": 0.375', b'"acc,none": NaN', "NaN is not valid JSON"),
    (b'"acc,none": 0.375', b'"acc,none": 0.375, "acc,none": 0.5', "duplicate key 'acc,none'"),
    (b'"results": {', b'"results": {\xff', "not valid UTF-8"),
    (b'"results": {', b'"results": {{', "invalid JSON at line"),
])
def test_non_json_faults_name_the_file(lm_out: Path, run_dir: Path, capsys, old: bytes, new: bytes, says: str) -> None:
    (path,) = lm_out.glob("results_*.json")
    raw = path.read_bytes()
    assert old in raw
    path.write_bytes(raw.replace(old, new, 1))
    err = one_line_error(capsys, ["attach", str(run_dir), "--lm-eval", str(path)])
    assert says in err and str(path) in err


def test_huge_file_and_fifo_are_refused_before_reading(tmp_path: Path, run_dir: Path, capsys) -> None:
    huge = tmp_path / "results_2026-01-01T00-00-00.json"
    with open(huge, "wb") as fh:  # sparse: the size is checked with stat, nothing is read
        fh.truncate(513 * 1024 * 1024)
    assert "larger than" in one_line_error(capsys, ["attach", str(run_dir), "--lm-eval", str(huge)])
    fifo = tmp_path / "results.json"
    os.mkfifo(fifo)
    assert "not a regular file (a FIFO)" in one_line_error(capsys, ["attach", str(run_dir), "--lm-eval", str(fifo)])


def test_attach_needs_a_recorded_run(tmp_path: Path, capsys) -> None:
    err = one_line_error(capsys, ["attach", str(tmp_path), "--lm-eval", str(results_file())])
    assert "run.json: missing" in err


def test_samples_that_disagree_with_their_scores_are_refused(lm_out: Path, run_dir: Path, capsys) -> None:
    (samples,) = lm_out.glob("samples_tiny_arc_easy_*.jsonl")
    lines = samples.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    gold = int(first["target"])
    first["filtered_resps"][gold][0] = "-0.001"  # now the gold choice wins, but the row still says acc 0.0
    lines[0] = json.dumps(first)
    samples.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (path,) = lm_out.glob("results_*.json")
    err = one_line_error(capsys, ["attach", str(run_dir), "--lm-eval", str(path)])
    assert f"{samples}:1: acc is 0.0 but the log-likelihoods give 1.0" in err


def test_a_samples_file_that_is_not_jsonl_is_named_with_its_line(lm_out: Path, run_dir: Path, capsys) -> None:
    (samples,) = lm_out.glob("samples_tiny_mmlu_abstract_algebra_*.jsonl")
    samples.write_text(samples.read_text(encoding="utf-8") + "[1, 2]\n", encoding="utf-8")
    (path,) = lm_out.glob("results_*.json")
    err = one_line_error(capsys, ["attach", str(run_dir), "--lm-eval", str(path)])
    assert f"{samples}:13: each line must be a JSON object" in err


def test_rows_edited_after_attaching_stop_the_gate(run_dir: Path) -> None:
    attach_lm_eval(run_dir, results_file())
    table = pq.read_table(run_dir / ROWS_FILE)
    flipped = table.set_column(table.schema.get_field_index("correct"), "correct",
                               [[not c for c in table.column("correct").to_pylist()]])
    pq.write_table(flipped, run_dir / ROWS_FILE)
    says = "external.tiny_arc_easy.acc is 0.375 but the sample rows give 0.625"
    with pytest.raises(InputError, match=re.escape(says)):
        run(run_dir, profile="release")


def test_lm_eval_task_names_become_metric_names(lm_out: Path) -> None:
    def rename(doc):  # type: ignore[no-untyped-def]
        doc["results"]["belebele_acm_Arab"] = doc["results"].pop("tiny_arc_easy")
        doc["n-samples"]["belebele_acm_Arab"] = doc["n-samples"].pop("tiny_arc_easy")
        doc["results"]["mmlu-pro.math"] = doc["results"].pop("tiny_mmlu_abstract_algebra")
        doc["n-samples"]["mmlu-pro.math"] = doc["n-samples"].pop("tiny_mmlu_abstract_algebra")
        doc["group_subtasks"]["tiny_suite"] = ["belebele_acm_Arab", "mmlu-pro.math"]

    path = edit_results(lm_out, rename)
    row = read_results(path).row(0, named=True)
    assert row["external.belebele_acm_arab.acc"] == 0.375 and row["external.mmlu_pro_math.rows"] == 12

    def collide(doc):  # type: ignore[no-untyped-def]
        doc["results"]["MMLU-x"] = doc["results"]["mmlu-pro.math"]
        doc["results"]["mmlu_x"] = doc["results"]["mmlu-pro.math"]
        doc["n-samples"]["MMLU-x"] = doc["n-samples"]["mmlu_x"] = doc["n-samples"]["mmlu-pro.math"]

    edit_results(lm_out, collide)
    with pytest.raises(InputError, match="task names 'MMLU-x' and 'mmlu_x' both become benchmark 'mmlu_x'"):
        load_results(path)


def test_stderr_na_is_missing_and_generation_tasks_are_skipped(lm_out: Path) -> None:
    def change(doc):  # type: ignore[no-untyped-def]
        doc["results"]["tiny_arc_easy"]["acc_stderr,none"] = "N/A"
        doc["results"]["gsm8k"] = {"alias": "gsm8k", "exact_match,strict-match": 0.0}

    path = edit_results(lm_out, change)
    results = load_results(path)
    assert results.skipped == ("gsm8k",)
    row = read_results(path).row(0, named=True)
    assert row["external.tiny_arc_easy.acc_stderr"] is None and "external.gsm8k.acc" not in row


def test_live_lm_eval_output_reads_the_same(tmp_path: Path) -> None:
    """lm-eval run here on the committed tiny model gives the numbers the committed fixtures hold."""
    pytest.importorskip("lm_eval")
    spec = importlib.util.spec_from_file_location("make_lm_eval_fixtures", REPO / "scripts" /
                                                  "make_lm_eval_fixtures.py")
    assert spec is not None and spec.loader is not None
    fixtures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixtures)
    out = tmp_path / "live"
    fixtures.run_lm_eval(fixtures.load_fixture_model(), fixtures.load_fixture_tokenizer("gpt2"), out)
    (fresh,) = out.glob("results_*.json")
    RunRecorder(tmp_path / "r", run_id="r")
    done = attach_lm_eval(tmp_path / "r", fresh)
    assert done.sample_rows == 28
    live = read_results(fresh).row(0, named=True)
    committed = read_results(results_file()).row(0, named=True)
    for name in ("acc", "acc_norm", "rows", "acc_low", "acc_norm_high"):
        for task in ("tiny_arc_easy", "tiny_mmlu_abstract_algebra", "tiny_suite"):
            assert live[f"external.{task}.{name}"] == pytest.approx(committed[f"external.{task}.{name}"], abs=1e-12)


def _fixtures() -> object:
    spec = importlib.util.spec_from_file_location("make_lm_eval_fixtures", REPO / "scripts" /
                                                  "make_lm_eval_fixtures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["arc_tiny", "tiny_arc_easy"])
def test_evaluator_and_lm_eval_benchmarks_add_up_and_never_overlap(tmp_path: Path, capsys, name: str) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from picogate.evaluator import evaluate_model

    fx: Any = _fixtures()
    d = tmp_path / "r"
    rec = RunRecorder(d, run_id="r")
    (d / "model.pt").write_bytes(b"weights")
    rec.record_checkpoint(d / "model.pt")
    rows = fx.TASKS_DIR / "tiny_arc_easy.jsonl"  # the same questions, scored by picogate's evaluator
    rec.record_eval(evaluate_model(fx.load_fixture_model(), fx.load_fixture_tokenizer("gpt2"), device="cpu",
                                   run_id="r", external={name: rows}, out_dir=d), checkpoint=d / "model.pt")
    argv = ["attach", str(d), "--lm-eval", str(results_file())]
    capsys.readouterr()  # transformers' loading bar is not ours
    if name == "tiny_arc_easy":  # the evaluator scored a benchmark of that name: neither may win
        assert "external.tiny_arc_easy.acc is already scored by picogate eval" in one_line_error(capsys, argv)
        return
    assert main(argv) == 0
    ev = run(d, profile="release").evidence
    assert ev["external.count"] == 3 and ev["external.arc_tiny.rows"] == ev["external.tiny_arc_easy.rows"] == 16
    # lm-eval and picogate's evaluator agree on the same model, tokenizer and rows (tests/evaluator parity)
    assert ev["external.arc_tiny.acc"] == ev["external.tiny_arc_easy.acc"]
    assert ev["external.arc_tiny.acc_norm"] == ev["external.tiny_arc_easy.acc_norm"]


def split_by_task(tmp_path: Path, model_args: tuple[Any, Any] = (None, None)) -> list[Path]:
    """The gpt2 fixture as two lm-eval runs of one task each (the group dropped), each in its own folder."""
    source = results_file()
    doc = json.loads(source.read_text(encoding="utf-8"))
    out = []
    for task, args in zip(("tiny_arc_easy", "tiny_mmlu_abstract_algebra"), model_args, strict=True):
        folder = tmp_path / task
        folder.mkdir()
        one = {k: v for k, v in doc.items() if k not in ("groups", "group_subtasks")}
        for key in ("results", "configs", "versions", "n-shot", "higher_is_better", "n-samples"):
            one[key] = {t: v for t, v in doc[key].items() if t == task}
        one["config"] = {**doc["config"], "model_args": args}
        (folder / source.name).write_text(json.dumps(one), encoding="utf-8")
        for samples in source.parent.glob(f"samples_{task}_*.jsonl"):
            shutil.copy(samples, folder / samples.name)
        out.append(folder / source.name)
    return out


def test_several_results_files_of_one_model_attach_together(tmp_path: Path, run_dir: Path, capsys) -> None:
    files = split_by_task(tmp_path)
    assert main(["attach", str(run_dir), "--lm-eval", str(files[0]), "--lm-eval", str(files[1])]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("attached 2 lm-eval benchmark(s)") and "28 sample rows recomputed" in out
    stage = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["stages"]["lm_eval"]
    assert stage["results"] == [str(f.resolve()) for f in files]
    assert [i["role"] for i in stage["inputs"]] == ["lm_eval:results", "lm_eval:tiny_arc_easy",
                                                    "lm_eval:results", "lm_eval:tiny_mmlu_abstract_algebra"]
    ev = run(run_dir, profile="release").evidence
    whole = read_results(results_file(), run_id="r1").row(0, named=True)
    assert ev["external.count"] == 2 and "external.tiny_suite.acc" not in ev  # the group was in neither file
    for task in ("tiny_arc_easy", "tiny_mmlu_abstract_algebra"):
        for rate in ("acc", "acc_low", "acc_norm_high", "rows"):
            assert ev[f"external.{task}.{rate}"] == whole[f"external.{task}.{rate}"]


def test_results_files_that_overlap_or_come_from_two_models_are_refused(tmp_path: Path, run_dir: Path,
                                                                        capsys) -> None:
    err = one_line_error(capsys, ["attach", str(run_dir), "--lm-eval", str(results_file()),
                                  "--lm-eval", str(results_file("llama"))])
    assert "external.tiny_arc_easy.acc is also reported by" in err and "attach each benchmark from one" in err
    files = split_by_task(tmp_path, model_args=("pretrained=a", "pretrained=b"))
    err = one_line_error(capsys, ["attach", str(run_dir), "--lm-eval", str(files[0]), "--lm-eval", str(files[1])])
    assert "ran model_args 'pretrained=b'" in err and "attach one model's results" in err
    assert "lm_eval" not in json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["stages"]
