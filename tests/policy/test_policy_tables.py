# .venv/bin/python -m pytest -q -p no:cacheprovider tests/policy/test_policy_tables.py
"""Typed `tables:` (issue 13): a bad table fails `picogate rules check` at its file:line:col, instead of
passing it (exit 0) and then failing preflight with `<rules>: tables...` and no position; the collectors
read the same data as before, typed."""

from __future__ import annotations

from pathlib import Path

import pytest
from policy_support import REPO, rules_process

from picogate import RuleError, load_rules, preflight
from picogate.preflight.collectors import attention, dedup
from picogate.preflight.plan import load_plan
from picogate.rules.tables import AttentionBackend, NearDup, Tables

HEAD = "profile: local\nextends: [release]\ntables:\n"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "local.yaml"
    path.write_text(HEAD + body, encoding="utf-8")
    return path


BAD = {
    # name: (the tables, line, column, reason)
    "misspelled_setting": ("  near_dup:\n    - {jacard: 0.5}\n", 5, 8,
                           "unknown key 'jacard' (did you mean 'jaccard'?)"),
    "fractional_whole_number": ("  near_dup:\n    - {num_perm: 12.5}\n", 5, 8, "12.5 is not of type 'integer'"),
    "jaccard_out_of_range": ("  near_dup:\n    - {jaccard: 1.5}\n", 5, 8, "1.5 is greater than or equal to"),
    "two_settings_rows": ("  near_dup:\n    - {jaccard: 0.5}\n    - {jaccard: 0.6}\n", 4, 3, "is too long"),
    "misspelled_table": ("  attention_backend:\n    - {attention: x, devices: [cpu], precisions: [fp32]}\n", 4, 3,
                         "unknown key 'attention_backend' (did you mean 'attention_backends'?)"),
    "unknown_device": ("  attention_backends:\n    - {attention: flash, devices: [cdua], precisions: [bf16]}\n", 5, 36,
                       "'cdua' is not one of cuda, cpu, mps"),
    "devices_not_a_list": ("  attention_backends:\n    - {attention: flash, devices: cuda, precisions: [bf16]}\n", 5,
                           26, "'cuda' is not of type 'array'"),
    "missing_key": ("  device_precisions:\n    - {device: cpu}\n", 5, 7, "'precisions' is required"),
    "listed_twice": ("  attention_backends:\n    - {attention: sdpa, devices: [cpu], precisions: [fp32]}\n"
                     "    - {attention: sdpa, devices: [cuda], precisions: [bf16]}\n", 6, 8,
                     "tables.attention_backends.1.attention: 'sdpa' is listed twice"),
    "contamination_zero": ("  contamination:\n    - {ngram: 0}\n", 5, 8, "0 is less than the minimum of 1"),
}


@pytest.mark.parametrize(("body", "line", "col", "reason"), BAD.values(), ids=BAD.keys())
def test_bad_table_is_a_rule_file_error_with_a_position(tmp_path: Path, body: str, line: int, col: int,
                                                        reason: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(RuleError) as info:
        load_rules(path)
    err = info.value
    assert (err.file, err.line, err.column) == (str(path), line, col), str(err)
    assert reason in err.reason, str(err)


def test_rules_check_refuses_a_bad_table(tmp_path: Path) -> None:
    """Was: `rules check` exit 0, then `preflight` failed with "<rules>: tables.attention_backends[0]: ..."."""
    path = write(tmp_path, "  attention_backends:\n    - {attention: flash, devices: cuda, precisions: [bf16]}\n")
    proc = rules_process("check", path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2 and f"{path}:5:26:" in out and "Traceback" not in out, out
    with pytest.raises(RuleError) as info:
        preflight(REPO / "examples" / "plan.yaml", profile=path)
    assert (info.value.line, info.value.column) == (5, 26)


def test_shipped_tables_are_typed_and_read_as_before() -> None:
    tables = load_rules("release").tables
    assert isinstance(tables, Tables)
    assert tables.near_dup_settings == NearDup(jaccard=0.8, num_perm=128, shingle_words=5)
    assert (tables.contamination_settings.ngram, tables.contamination_settings.min_words) == (13, 8)
    flash = next(row for row in tables.attention_backends or () if row.attention == "flash")
    assert flash == AttentionBackend(attention="flash", devices=["cuda"], precisions=["bf16", "fp16"],
                                     why="FlashAttention kernels are CUDA-only and half-precision only")
    assert dedup.settings(tables).jaccard == 0.8 and dedup.settings({}).num_perm == 128  # no table: defaults
    launch = load_plan(REPO / "examples" / "plan.yaml").spec.launch
    assert attention.metrics(launch, tables)["attention.compatible"] is True


def test_a_child_table_replaces_the_parents_whole(tmp_path: Path) -> None:
    rs = load_rules(write(tmp_path, "  near_dup:\n    - {jaccard: 0.7}\n"))
    assert rs.tables.near_dup_settings == NearDup(jaccard=0.7)  # the other settings: defaults, not the parent's
    assert rs.tables.attention_backends == load_rules("release").tables.attention_backends  # not restated: kept
