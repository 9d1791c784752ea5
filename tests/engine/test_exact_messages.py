# .venv/bin/python -m pytest -q -p no:cacheprovider tests/engine/test_exact_messages.py
"""Messages people read are exact and grammatical (DESIGN.md, "Output is inert": numbers print exactly):
integers in full, floats that read back to the same number, no doubled operator in any shipped rule's
message or requirement, "no evidence for X" for a check whose inputs are missing (never "missing" spliced
into a sentence), and passing honesty claims without failure text."""

from __future__ import annotations

import math
import re
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from picogate.evaluate import evaluate, read_names
from picogate.expr import names
from picogate.postrun.gate import Outcome
from picogate.postrun.report import to_markdown, to_text
from picogate.result import fmt, fmt_number
from picogate.rules import RuleSet, load_rules

REPO = Path(__file__).resolve().parents[2]
PROFILES = sorted(p.stem for p in (REPO / "rules").glob("*.yaml"))
_OP = r"(?:>=|<=|==|!=|<|>)"
_WORDS = (r"(?:at least|at most|more than|less than|fewer than|greater than|no more than|no less than|above|below|"
          r"over|under|exceeds?|beyond|up to)")
DOUBLED = [re.compile(rf"\b{_WORDS}\s+{_OP}"),  # "at least >= 10"
           re.compile(rf"{_OP}\s*{_OP}"),  # ">= >= 10"
           re.compile(rf"\b({_WORDS})\s+\1\b")]  # "at least at least 10"
SPLICED = re.compile(r"(?<![\w.'])missing(?![\w.'])")  # the word on its own, not a metric name such as x.missing


def _row(ruleset: RuleSet, run_id: str, num: float | None, text: str | None, flag: bool | None) -> dict:
    """A run with every metric `ruleset` reads set to one value of its type (None: absent)."""
    row: dict[str, object] = {"run_id": run_id}
    for name in read_names(ruleset):
        if name.startswith("baseline."):
            continue
        kind = ruleset.catalog.resolve(name)
        value = {"num": num, "str": text, "bool": flag}[kind]
        if value is not None:
            row[name] = value
    return row


def _judged(profile: str) -> pl.DataFrame:
    """Every check of `profile` on runs that pass, fail and lack evidence, with messages rendered."""
    rs = load_rules(profile)
    rows = [_row(rs, "low", 0, "x", False), _row(rs, "one", 1, "none", True), _row(rs, "big", 1048576, "ok", True),
            _row(rs, "frac", 0.30000000000000004, "pass", True), {"run_id": "empty", "unrelated": 1}]
    return evaluate(rows, rs).checks


@pytest.mark.parametrize("profile", PROFILES)
def test_no_shipped_message_or_requirement_doubles_an_operator(profile: str) -> None:
    checks = _judged(profile)
    assert set(checks["outcome"].cast(pl.String)) >= {"pass", "fail", "missing"}
    texts = checks.select(pl.concat_list("message", "required", "fix").alias("t")).explode("t")["t"].unique()
    for text in texts:
        for pattern in DOUBLED:
            assert not pattern.search(text), (profile, text)


def test_doubled_operators_are_what_the_patterns_catch() -> None:
    for bad in ("at least >= 10 needed", "fewer than < 30 rows", "required >= >= 0.3", "at most at most 4"):
        assert any(p.search(bad) for p in DOUBLED), bad
    for good in ("at least 10 needed", "eval pass rate 0.12, required >= 0.3", "release runs need at least 20:1"):
        assert not any(p.search(good) for p in DOUBLED), good


@pytest.mark.parametrize("profile", PROFILES)
def test_missing_evidence_reads_no_evidence_for_the_metrics(profile: str) -> None:
    rules = {r.id: r for r in load_rules(profile).rules}
    checks = _judged(profile)
    missing = checks.filter(pl.col("outcome") == "missing")
    assert missing.height >= len(rules)  # the empty run: every check lacks evidence
    for c in missing.iter_rows(named=True):
        absent = c["missing_inputs"].split(", ")
        assert c["message"] == "no evidence for " + c["missing_inputs"]
        assert set(absent) <= set(names(rules[c["rule_id"]].node)), c
    for c in checks.iter_rows(named=True):  # no sentence says "missing" for a value, whatever the outcome
        assert not SPLICED.search(c["message"]) and not SPLICED.search(c["fix"]), c
        if c["outcome"] != "missing":
            assert c["missing_inputs"] is None


def test_a_quoted_value_without_evidence_is_unknown_not_missing() -> None:
    row = {"run_id": "r", "replay.epochs": 20.0, "planned_tokens": 25501368320}  # corpus.tokens absent
    [c] = evaluate(row, "release", stage="preflight").checks.filter(pl.col("rule_id") == "replay.epochs_max").to_dicts()
    assert c["outcome"] == "fail"
    assert c["message"].startswith("the run replays its corpus 20 times (25501368320 planned tokens over unknown "
                                   "corpus tokens, unknown)")


def test_integers_print_in_full() -> None:
    row = {"run_id": "d26", "target_param_data_ratio": 8.0, "planned_to_target_ratio": 0.4,
           "planned_param_data_ratio": 8.0, "planned_tokens": 1048576, "model.params": 1275068416,
           "model.params_counted": "all", "corpus.documents": 999, "launch.batch_divides": False,
           "launch.total_batch_size": 1048577, "launch.tokens_per_fwdbwd": 524288, "launch.world_size": 8}
    checks = evaluate(row, "release", stage="preflight").checks
    msg = dict(checks.select("rule_id", "message").iter_rows())
    assert "(1048576 tokens for 1275068416 parameters, counted as 'all')" in msg["budget.planned_to_target"]
    assert "claims 8 tokens per parameter (1275068416 parameters" in msg["budget.target_ratio"]
    assert msg["launch.batch_divides"].startswith("total_batch_size 1048577 is not a multiple of")
    assert "= 524288 tokens" in msg["launch.batch_divides"]
    assert msg["corpus.documents"] == "the corpus has 999 documents; at least 1000 are needed"
    observed = dict(checks.select("rule_id", "observed").iter_rows())
    assert observed["budget.target_ratio"] == "8" and observed["corpus.documents"] == "999"
    assert not any("e+" in m for m in msg.values())


@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53).map(float))
def test_numbers_read_back_exactly_and_polars_agrees(x: float) -> None:
    shown = fmt_number(x)
    assert float(shown) == x
    if x == round(x) and abs(x) < 2.0**63:
        assert re.fullmatch(r"-?\d+", shown), shown  # an integer in full: no point, no exponent
    assert pl.select(fmt(pl.lit(x, pl.Float64))).item() == shown


def test_float_text_examples() -> None:
    assert [fmt_number(x) for x in (1048576.0, 1275068416.0, 0.9, 0.1 + 0.2, 1e-7, -0.0, math.inf)] == \
        ["1048576", "1275068416", "0.9", "0.30000000000000004", "1e-7", "0", "inf"]
    assert pl.select(fmt(pl.lit(None, pl.Float64))).item() == "missing"


def _honesty_evidence() -> dict:
    """A run whose every claim matches its evidence."""
    return {"run_id": "r", **{f"stages.{s}.done": True for s in ("preflight", "base", "sft", "eval")},
            "stages.missing": "none", "train.tokens_to_planned": 1.0, "train.tokens": 320512, "planned_tokens": 320512,
            "train.tokens_to_target": 1.0, "train.param_data_ratio": 20.032, "train.params": 16000,
            "target_param_data_ratio": 20.0, "train.params_to_planned": 1.0, "model.params": 16000,
            "honesty.checkpoint_match": True, "honesty.checkpoint_detail": "all 1a2b3c",
            "honesty.inputs_checked": 2, "honesty.inputs_changed": 0, "honesty.inputs_unverified": 0,
            "honesty.inputs_detail": "none", "honesty.artifacts_checked": 5, "honesty.artifacts_changed": 0,
            "honesty.artifacts_detail": "none", "honesty.aggregates_checked": 9, "honesty.aggregates_mismatched": 0,
            "honesty.aggregates_detail": "none", "leak.eval_in_sft": 0, "leak.examples": "none"}


def _outcome(evidence: dict) -> Outcome:
    honesty = evaluate(evidence, "honesty")
    release = evaluate({**evidence, "honesty.status": "pass"}, "release", stage="postrun")
    return Outcome(release, honesty, {**evidence, "honesty.status": "pass"}, None, Path("run"))


def test_passing_honesty_claims_show_no_failure_text() -> None:
    outcome = _outcome(_honesty_evidence())
    assert set(outcome.honesty.checks["outcome"].cast(pl.String)) == {"pass"}
    md = to_markdown(outcome, chart=None)
    table = md[md.index("## Honesty report"):]
    claims = [line for line in table.splitlines() if line.startswith("| `honesty.")]
    assert len(claims) == outcome.honesty.checks.height
    for line in claims:
        assert line.endswith("| pass | " + line.split(" | ")[2] + " | — |"), line  # observed, no detail
    for failure_text in ("is not recorded", "missing stages", "is not the released one", "differ from preflight"):
        assert failure_text not in table
    assert "not recorded" not in to_text(outcome)
    # a claim that fails still says why
    failing = _outcome({**_honesty_evidence(), "stages.sft.done": False, "stages.missing": "sft"})
    md = to_markdown(failing, chart=None)
    assert "stage sft is not recorded in the run directory (stages not recorded: 'sft')" in md
    assert "stage preflight is not recorded" not in md
