# .venv/bin/python -m pytest tests/preflight_gate/test_gate_plan.py -q
"""Run plans load strictly; every fault names file:line:col; the published schema matches the model."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from picogate.errors import InputError
from picogate.paths import SCHEMAS_DIR
from picogate.preflight.plan import load_plan, plan_json_schema

GOOD = """\
run_id: d20
profile: release
model: {params: 1_000_000_000}
budget: {target_param_data_ratio: 20.0, planned_tokens: 8_000_000_000}
data: {corpus: ["c/*.parquet"]}
launch: {device_batch_size: 32, max_seq_len: 2048, total_batch_size: 524288, device: cuda, precision: bf16}
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "plan.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def test_good_plan_loads(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, GOOD))
    assert plan.spec.planned_tokens() == 8_000_000_000
    assert plan.spec.model.param_count() == 1_000_000_000
    assert plan.spec.launch.attention == "sdpa" and plan.spec.data.bytes_per_token == 4.0


def test_shipped_example_loads() -> None:
    assert load_plan(Path(__file__).parents[2] / "examples" / "plan.yaml").spec.run_id == "tiny-release"


@pytest.mark.parametrize(("text", "expected"), [
    (GOOD.replace("budget:", "budgte:"), "plan.yaml:4:1: unknown key 'budgte' (did you mean 'budget'?)"),
    (GOOD.replace("device: cuda", "device: tpu"), "plan.yaml:6:"),
    (GOOD.replace("planned_tokens", "planed_tokens"), "unknown key 'budget.planed_tokens' (did you mean"),
    (GOOD.replace("run_id: d20\n", ""), "'run_id' is required"),
    (GOOD.replace("1_000_000_000", '"1000000000"'), "model.params: Input should be a valid integer"),
    (GOOD.replace("1_000_000_000", "-5"), "model.params: Input should be greater than 0"),
    (GOOD.replace("precision: bf16", "precision: yes"), "ambiguous"),
    (GOOD + "run_id: again\n", "duplicate key 'run_id'"),
    (GOOD.replace("20.0", ".nan"), "not a finite number"),
    (GOOD.replace("planned_tokens: 8_000_000_000", "num_iterations: 10, planned_tokens: 7"), "disagrees"),
    (GOOD.replace(", planned_tokens: 8_000_000_000", ""), "needs 'planned_tokens' or 'num_iterations'"),
    (GOOD.replace("{params: 1_000_000_000}", "{counted: all}"), "exactly one of 'params' or 'architecture'"),
    (GOOD.replace('["c/*.parquet"]', "[]"), "data.corpus"),
    ("- just\n- a list\n", "a plan must be a mapping"),
    ("run_id: [unclosed\n", "invalid YAML"),
    ("x: !!python/object:os.system 1\n", "tags"),
])
def test_bad_plans_name_the_fault(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(InputError) as exc:
        load_plan(write(tmp_path, text))
    assert expected in str(exc.value)
    assert "\n" not in str(exc.value)
    assert str(exc.value).startswith(str(tmp_path / "plan.yaml"))


def test_missing_plan_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.yaml: no such file"):
        load_plan(tmp_path / "nope.yaml")


def test_architecture_derives_both_counts(tmp_path: Path) -> None:
    arch = "{architecture: {n_layer: 20, n_embd: 1280, vocab_size: 65536}, counted: %s}"
    scaling = load_plan(write(tmp_path, GOOD.replace("{params: 1_000_000_000}", arch % "scaling")))
    assert scaling.spec.model.param_count() == 12 * 20 * 1280**2
    full = load_plan(write(tmp_path, GOOD.replace("{params: 1_000_000_000}", arch % "all")))
    assert full.spec.model.param_count() == 12 * 20 * 1280**2 + 2 * 65536 * 1280


def test_num_iterations_times_batch(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, GOOD.replace("planned_tokens: 8_000_000_000", "num_iterations: 100")))
    assert plan.spec.planned_tokens() == 100 * 524288


def test_published_schema_is_generated_from_the_model() -> None:
    published = json.loads((SCHEMAS_DIR / "plan.schema.json").read_text())
    assert published == plan_json_schema(), "run: python -m picogate.schema"
