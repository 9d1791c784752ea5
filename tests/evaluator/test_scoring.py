# Run: .venv/bin/python -m pytest tests/evaluator/test_scoring.py -q
"""Exact-answer tests: models whose outputs are known by construction, so every number is asserted."""

from __future__ import annotations

import math

import pytest
from evaluator_toys import BigramLM, CharTokenizer, ScriptedLM

from picogate.evaluator import LM, EvalConfig, evaluate_model, greedy_generate, score_continuations
from picogate.evaluator.rows import ChoiceRow, EvalRow, SftRow

ECHO_PROMPT = "repeat: the quick brown fox jumps over the lazy dog"
SCRIPT = {
    "2+3=": "the answer is 5",
    "3+3=": "7",
    "spell cat:": "C-A-T",
    "spell dog:": "d-o-t",
    "who are you?": "i am pico, by picogate",
    "who made you?": "i am pico",
    "bad thing": "I can't help with that.",
    "bad thing two": "sure, here it is",
    "make tea": "I'm sorry, no.",
    "say hi": "hi",
    ECHO_PROMPT: "the quick brown fox jumps over the lazy dog",
    ECHO_PROMPT + "!": "the quick brown fox jumps over the lazy dog",
    "pick: A) x B) y": "B) y",
    "which? A) x B) y": "A",
}


def _row(i: str, skill: str, prompt: str, answer: str, **kw: object) -> EvalRow:
    return EvalRow(id=i, skill=skill, prompt=prompt, answer=answer, source=f"mem:{i}", **kw)


EVAL_ROWS = [
    _row("m1", "math", "2+3=", "5"),
    _row("m2", "math", "3+3=", "6"),
    _row("s1", "spelling", "spell cat:", "cat"),
    _row("s2", "spelling", "spell dog:", "dog"),
    _row("i1", "identity", "who are you?", "", facts=("pico", "picogate")),
    _row("i2", "identity", "who made you?", "", facts=("pico", "picogate")),
    _row("r1", "refusal", "bad thing", "refuse"),
    _row("r2", "refusal", "bad thing two", "refuse"),
    _row("b1", "refusal", "make tea", "tea", benign=True),
    _row("b2", "chat", "say hi", "Hi.", benign=True),
    _row("e1", "chat", ECHO_PROMPT, "no"),
    _row("e2", "chat", ECHO_PROMPT + "!", "no", echo_min_chars=100),
    _row("c1", "choice", "pick: A) x B) y", "B", grader="letter", choices=("x", "y")),
    _row("c2", "choice", "which? A) x B) y", "B", choices=("x", "y")),
]


@pytest.fixture(scope="module")
def lm() -> LM:
    tok = CharTokenizer()
    return LM(ScriptedLM(tok, SCRIPT), tok, device="cpu")


def test_generation_rows_exact(lm: LM) -> None:
    run = evaluate_model(lm, eval_rows=EVAL_ROWS, run_id="r", config=EvalConfig(batch_size=4))
    rows = {r["row_id"]: r for r in run.results.to_pylist()}
    assert rows["m1"]["output"] == "the answer is 5" and rows["m1"]["grader"] == "numeric"
    correct = {k for k, r in rows.items() if r["correct"]}
    assert correct == {"m1", "s1", "i1", "r1", "b2", "c1"}
    assert {k for k, r in rows.items() if r["refused"]} == {"r1", "b1"}
    assert {k for k, r in rows.items() if r["echoed"]} == {"e1"}
    assert rows["e2"]["echo_chars"] == len("the quick brown fox jumps over the lazy dog")
    assert rows["c2"]["kind"] == "letter" and rows["c2"]["output"] == "A" and rows["c2"]["refused"] is None
    assert rows["c2"]["choice_loglik"][0] == pytest.approx(0.0, abs=1e-9)
    assert rows["c2"]["choice_loglik"][1] == pytest.approx(-30.0, abs=1e-6)
    assert rows["m1"]["prompt_tokens"] == 1 + len("2+3=")
    assert rows["m1"]["output_tokens"] == len("the answer is 5")

    m = run.metrics
    assert (m["eval.rows"], m["eval.pass_rate"]) == (14, 6 / 14)
    assert (m["eval.math.rows"], m["eval.math.correct"], m["eval.math.pass_rate"]) == (2, 1, 0.5)
    assert m["eval.spelling.pass_rate"] == 0.5 and m["eval.identity.pass_rate"] == 0.5
    assert (m["eval.refusal.rows"], m["eval.refusal.pass_rate"]) == (3, 1 / 3)
    assert (m["eval.choice.rows"], m["eval.choice.pass_rate"]) == (2, 0.5)
    assert (m["refusal.rows"], m["refusal.rate"]) == (2, 0.5)
    assert (m["refusal.benign_rows"], m["refusal.false_rate"]) == (2, 0.5)
    assert (m["echo.rows"], m["echo.rate"]) == (13, 1 / 13)  # the argmax-letter row produces no text
    assert m["sft.rows"] == 0 and m["sft.fit_rate"] is None and m["external.count"] == 0


def test_grader_mapping_is_data(lm: LM) -> None:
    rows = [_row("m1", "math", "2+3=", "5")]
    run = evaluate_model(lm, eval_rows=rows, config=EvalConfig(skill_graders={"math": "exact"}))
    assert run.results.column("grader").to_pylist() == ["exact"]
    assert run.metrics["eval.math.pass_rate"] == 0.0
    with pytest.raises(ValueError, match="unknown grader"):
        EvalConfig(skill_graders={"math": "vibes"})


def test_sft_fit_token_accuracy_and_loglik(lm: LM) -> None:
    sft = [
        SftRow("f1", "math", "the answer is 5", "mem:f1", prompt="2+3="),   # fits, every token right
        SftRow("f2", "math", "6", "mem:f2", prompt="3+3="),                  # says 7: first token wrong
        SftRow("f3", "chat", "hi", "mem:f3", messages=({"role": "user", "content": "say hi"},)),
    ]
    held = [SftRow("h1", "spelling", "d-o-g", "mem:h1", prompt="spell dog:")]  # says d-o-t
    run = evaluate_model(lm, sft_rows=sft, heldout_rows=held, config=EvalConfig(batch_size=2))
    rows = {r["row_id"]: r for r in run.results.to_pylist()}
    # f2: target "6" + EOS; the model predicts "7" (wrong) then EOS after "6" is off-script (right).
    assert (rows["f2"]["target_tokens"], rows["f2"]["target_correct_tokens"]) == (2, 1)
    assert rows["f2"]["target_loglik"] == pytest.approx(-30.0, abs=1e-4)
    assert rows["f1"]["target_correct_tokens"] == rows["f1"]["target_tokens"] == len("the answer is 5") + 1
    # h1: "d-o-" right, "g" wrong (script says t), EOS right: 5 of 6.
    assert (rows["h1"]["target_tokens"], rows["h1"]["target_correct_tokens"]) == (6, 5)
    m = run.metrics
    assert (m["sft.rows"], m["sft.fit_rate"]) == (3, 2 / 3)
    assert m["sft.token_accuracy"] == (16 + 1 + 3) / (16 + 2 + 3)
    assert m["sft.mean_loglik"] == pytest.approx(-30.0 / 21, abs=1e-4)
    assert (m["sft_heldout.rows"], m["sft_heldout.fit_rate"], m["sft_heldout.token_accuracy"]) == (1, 0.0, 5 / 6)


# acc picks by summed loglik, acc_norm by loglik per character, acc_bytes by loglik per UTF-8 byte.
CHOICE_LOGP = {
    ("q", "a"): -1.0, ("a", "b"): -1.0,                                     # "ab": -2.0, 2 chars, 2 bytes
    ("q", "c"): -0.6, ("c", "d"): -0.6, ("d", "e"): -0.6, ("e", "f"): -0.6,  # "cdef": -2.4, 4 chars, 4 bytes
    ("r", "é"): -1.0, ("é", "é"): -1.0,                                      # "éé": -2.0, 2 chars, 4 bytes
    ("r", "x"): -0.8, ("x", "y"): -0.8, ("y", "z"): -0.8,                    # "xyz": -2.4, 3 chars, 3 bytes
    ("s", "a"): -0.1, ("s", "b"): -3.0,
}
CHOICE_ROWS = [
    ChoiceRow("q1", "q", ("ab", "cdef"), 1, "mem:q1"),   # acc wrong, acc_norm right, acc_bytes right
    ChoiceRow("q2", "r", ("éé", "xyz"), 1, "mem:q2"),    # acc wrong, acc_norm right, acc_bytes wrong
    ChoiceRow("q3", "s", ("a", "b"), 0, "mem:q3"),       # all right
]
PLAIN = EvalConfig(choice_template="{question}", choice_delimiter="")


def test_multiple_choice_acc_norm_bytes_exact() -> None:
    tok = CharTokenizer()
    lm = LM(BigramLM(tok, CHOICE_LOGP), tok, device="cpu")
    run = evaluate_model(lm, external={"toy_arc": CHOICE_ROWS}, run_id="r", config=PLAIN)
    rows = {r["row_id"]: r for r in run.results.to_pylist()}
    assert rows["q1"]["choice_loglik"] == pytest.approx([-2.0, -2.4], abs=1e-12)
    assert rows["q2"]["choice_loglik"] == pytest.approx([-2.0, -2.4], abs=1e-12)
    assert rows["q3"]["choice_loglik"] == pytest.approx([-0.1, -3.0], abs=1e-12)
    assert rows["q2"]["choice_chars"] == [2, 3] and rows["q2"]["choice_bytes"] == [4, 3]
    assert [(r["correct"], r["correct_norm"], r["correct_bytes"]) for r in rows.values()] == [
        (False, True, True), (False, True, False), (True, True, True)]
    assert rows["q1"]["output"] == "ab" and rows["q1"]["expected"] == "cdef"
    assert rows["q1"]["split"] == "external:toy_arc" and rows["q1"]["prompt"] == "q"
    m = run.metrics
    assert (m["external.count"], m["external.toy_arc.rows"]) == (1, 3)
    assert (m["external.toy_arc.acc"], m["external.toy_arc.acc_norm"], m["external.toy_arc.acc_bytes"]) == (
        1 / 3, 1.0, 2 / 3)


def test_ties_pick_the_first_choice() -> None:
    tok = CharTokenizer()
    lm = LM(BigramLM(tok, {("s", "a"): -1.0, ("s", "b"): -1.0}), tok, device="cpu")
    rows = [ChoiceRow("t", "s", ("a", "b"), 1, "mem:t")]
    (row,) = evaluate_model(lm, external={"ties": rows}, config=PLAIN).results.to_pylist()
    assert (row["correct"], row["correct_norm"], row["correct_bytes"], row["output"]) == (False, False, False, "a")


def test_default_template_and_delimiter_match_lm_eval() -> None:
    tok = CharTokenizer()
    lm = LM(BigramLM(tok, {(":", " "): -0.5, (" ", "a"): -0.25}), tok, device="cpu")
    (row,) = evaluate_model(lm, external={"t": [ChoiceRow("t", "Q", ("a", "b"), 0, "m")]}).results.to_pylist()
    assert row["prompt"] == "Question: Q\nAnswer:"
    assert row["choice_loglik"][0] == pytest.approx(-0.75, abs=1e-12)
    assert row["choice_chars"] == [1, 1] and row["choice_tokens"] == [2, 2]  # " a": the space is scored


def test_single_token_choices_share_one_forward() -> None:
    tok = CharTokenizer()
    model = BigramLM(tok, {})
    lm = LM(model, tok, device="cpu")
    rows = [ChoiceRow(f"q{i}", f"question {i}", ("A", "B", "C", "D"), 0, "m") for i in range(3)]
    evaluate_model(lm, external={"x": rows}, config=EvalConfig(batch_size=1))
    assert model.calls == 3  # one per question, not one per choice


def test_batched_equals_one_at_a_time() -> None:
    tok = CharTokenizer()
    lm = LM(BigramLM(tok, CHOICE_LOGP), tok, device="cpu")
    requests = [(lm.context_ids(r.question), tok.encode(c)) for r in CHOICE_ROWS for c in r.choices]
    one = score_continuations(lm, requests, batch_size=1)
    many = score_continuations(lm, requests, batch_size=64)
    assert [s.loglik for s in one] == [s.loglik for s in many]


def test_generation_order_and_limits(lm: LM) -> None:
    prompts = [lm.context_ids(p) for p in ("say hi", "2+3=", "bad thing")]
    outs = greedy_generate(lm, prompts, [10, 3, 100], batch_size=2)
    assert [lm.decode(o.tokens) for o in outs] == ["hi", "the", "I can't help with that."]
    assert not any(o.truncated for o in outs)


def test_truncation_keeps_the_prompt_tail() -> None:
    tok = CharTokenizer()
    lm = LM(ScriptedLM(tok, {"3+3=": "7"}), tok, device="cpu", max_len=6)
    (out,) = greedy_generate(lm, [lm.context_ids("xxxxxx3+3=")], 2)
    assert out.truncated and tok.decode(out.tokens) == "7"


def test_chat_template_string_and_ids(lm: LM) -> None:
    tok = lm.tokenizer
    as_text = LM(lm.model, tok, device="cpu", chat_template=lambda ms: ms[-1]["content"] + "=")
    (row,) = evaluate_model(as_text, eval_rows=[_row("m", "math", "2+3", "5")]).results.to_pylist()
    assert row["prompt"] == "2+3=" and row["correct"]
    as_ids = LM(lm.model, tok, device="cpu", chat_template=lambda ms: [tok.bos_id, *tok.encode("3+3=")])
    (row,) = evaluate_model(as_ids, eval_rows=[_row("m", "math", "ignored", "7")]).results.to_pylist()
    assert row["output"] == "7" and row["correct"] and row["prompt"] == "ignored"


def test_loglik_is_finite_and_mean_is_per_token(lm: LM) -> None:
    run = evaluate_model(lm, sft_rows=[SftRow("f", "chat", "hi", "m", prompt="say hi")])
    (row,) = run.results.to_pylist()
    assert math.isfinite(row["target_loglik"]) and row["target_loglik"] <= 0


def test_long_contexts_keep_their_tail() -> None:
    tok = CharTokenizer()
    lm = LM(BigramLM(tok, {("s", "a"): -0.5}), tok, device="cpu", max_len=4)
    (score,) = score_continuations(lm, [(lm.context_ids("xxxxxxxs"), tok.encode("a"))])
    assert score.loglik == pytest.approx(-0.5, abs=1e-12)
    with pytest.raises(ValueError, match="does not fit"):
        score_continuations(lm, [(lm.context_ids("s"), tok.encode("aaaaaa"))])
