# Run: .venv/bin/python -m pytest tests/evaluator/test_scoring.py -q
"""Exact-answer tests: models whose outputs are known by construction, so every number is asserted."""

from __future__ import annotations

import math

import pytest
import torch
from evaluator_toys import BigramLM, CharTokenizer, ScriptedLM

from picogate.evaluator import LM, EvalConfig, evaluate_model, greedy_generate, score_continuations
from picogate.evaluator.rows import ChoiceRow, EvalInputError, EvalRow, SftRow

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


# -- BOS: the tokenizer's own default unless the caller says otherwise ---------------------------------


class NoBosByDefault(CharTokenizer):
    """A plain tokenizer that has a BOS id but declares it does not add it (as HF's attribute name)."""

    add_bos_token = False


def test_plain_tokenizer_bos_default_declaration_and_override() -> None:
    model = BigramLM(CharTokenizer(), {})
    rows = [ChoiceRow("q", "Q", ("a", "b"), 0, "m:1")]
    for tok, add_bos, expected in ((CharTokenizer(), None, True), (NoBosByDefault(), None, False),
                                   (CharTokenizer(), False, False), (NoBosByDefault(), True, True)):
        run = evaluate_model(model, tok, device="cpu", add_bos=add_bos, external={"t": rows})
        (row,) = run.results.to_pylist()
        context = tok.encode("Question: Q\nAnswer:")
        assert row["bos"] is expected and row["prompt_tokens"] == len(context) + expected
        assert not row["truncated"]
        assert run.results.schema.metadata is not None
    with pytest.raises(ValueError, match="no BOS id"):
        LM(model, type("NoBos", (), {"encode": CharTokenizer().encode})(), device="cpu", add_bos=True)


# -- rows tell the truth: what the model was actually given ---------------------------------------------


def test_long_choice_question_is_left_truncated_and_says_so() -> None:
    tok = CharTokenizer()
    model = BigramLM(tok, {(":", " "): -0.5, (" ", "a"): -1.0, (" ", "b"): -2.0, ("b", "b"): -0.1})
    lm = LM(model, tok, device="cpu", max_len=16)
    row = ChoiceRow("long", "x" * 100_000, ("a", "bb"), 0, "big.jsonl:1")
    (rec,) = evaluate_model(lm, external={"t": [row]}).results.to_pylist()
    # " a" (2 tokens) keeps 16 + 1 - 2 = 15 context tokens, " bb" (3 tokens) keeps 14: the fewest is recorded
    assert rec["truncated"] and rec["prompt_tokens"] == 14 and rec["bos"] is False
    assert rec["choice_tokens"] == [2, 3]
    # the scores are those of the kept tail, scored on its own
    context = lm.context_ids("Question: " + "x" * 100_000 + "\nAnswer:")
    alone = score_continuations(LM(model, tok, device="cpu"), [(context[-15:], tok.encode(" a")),
                                                               (context[-14:], tok.encode(" bb"))])
    assert rec["choice_loglik"] == pytest.approx([s.loglik for s in alone], abs=1e-12)
    wide = LM(model, tok, device="cpu", max_len=64)
    short = evaluate_model(wide, external={"t": [ChoiceRow("s", "q", ("a",) * 2, 0, "m")]}).results.to_pylist()[0]
    assert not short["truncated"] and short["bos"] and short["prompt_tokens"] == 1 + len("Question: q\nAnswer:")


def test_generated_row_records_the_prompt_tokens_it_kept() -> None:
    tok = CharTokenizer()
    lm = LM(ScriptedLM(tok, {"3+3=": "7"}), tok, device="cpu", max_len=6)
    rows = [_row("long", "math", "xxxxxx3+3=", "7"), _row("short", "math", "3", "7")]
    long, short = evaluate_model(lm, eval_rows=rows, config=EvalConfig(max_new_tokens=2)).results.to_pylist()
    assert long["truncated"] and long["prompt_tokens"] == 6 - 2 and long["bos"] is False
    assert long["output"] == "7"
    # the model was given exactly the last 4 prompt tokens: generating from them alone gives the same answer
    ids = lm.context_ids("xxxxxx3+3=")
    (alone,) = greedy_generate(lm, [ids[-4:]], 2)
    assert tok.decode(alone.tokens) == long["output"] and not alone.truncated
    assert not short["truncated"] and short["prompt_tokens"] == 2 and short["bos"] is True


def test_sft_row_records_the_fewest_prompt_tokens_of_its_two_passes() -> None:
    tok = CharTokenizer()
    lm = LM(ScriptedLM(tok, {"say hi": "hi"}), tok, device="cpu", max_len=14)
    rows = [SftRow("long", "chat", "hi", "m:1", prompt="x" * 40 + "say hi"), SftRow("ok", "chat", "hi", "m:2",
                                                                                   prompt="say hi")]
    long, ok = evaluate_model(lm, sft_rows=rows).results.to_pylist()
    # target "hi" + EOS = 3 tokens; the greedy fit may take 3 + 4 new tokens, so it keeps 14 - 7 = 7 prompt
    # tokens; the teacher-forced pass keeps 14 + 1 - 3 = 12. The fewest is what the row says.
    assert long["truncated"] and long["prompt_tokens"] == 7 and long["bos"] is False
    assert long["target_tokens"] == 3
    assert not ok["truncated"] and ok["prompt_tokens"] == 7 and ok["bos"] and ok["correct"]


def test_letter_row_keeps_the_prompt_tail_that_fits() -> None:
    tok = CharTokenizer()
    prompt = "which? A) x B) y"
    lm = LM(ScriptedLM(tok, SCRIPT), tok, device="cpu", max_len=len(prompt))
    row = _row("c", "choice", "z" * 50 + prompt, "A", choices=("x", "y"))
    (rec,) = evaluate_model(lm, eval_rows=[row]).results.to_pylist()
    assert rec["kind"] == "letter" and rec["output"] == "A" and rec["correct"]
    assert rec["truncated"] and rec["prompt_tokens"] == len(prompt) and rec["bos"] is False


def test_is_greedy_is_written_per_choice() -> None:
    tok = CharTokenizer()
    lm = LM(ScriptedLM(tok, {"Question: Q\nAnswer:": " yes"}), tok, device="cpu")
    rows = [ChoiceRow("g", "Q", ("yes", "no", "ye"), 0, "m")]
    (rec,) = evaluate_model(lm, external={"t": rows}).results.to_pylist()
    assert rec["choice_is_greedy"] == [True, False, True]  # " ye" is the greedy path's first tokens


# -- row faults named before any forward pass ----------------------------------------------------------


def test_choice_too_long_for_the_window_is_named_before_any_forward(tmp_path) -> None:
    tok = CharTokenizer()
    model = BigramLM(tok, {})
    path = tmp_path / "arc.jsonl"
    path.write_text('{"id": "ok", "question": "q", "choices": ["a", "b"], "answer": 0}\n'
                    '{"id": "r7", "question": "q", "choices": ["a", "' + "b" * 40 + '"], "answer": 0}\n')
    lm = LM(model, tok, device="cpu", max_len=16)
    with pytest.raises(EvalInputError) as info:
        evaluate_model(lm, eval_rows=[_row("m", "math", "2+3=", "5")], external={"arc": path},
                       config=EvalConfig(max_new_tokens=4))
    message = str(info.value)
    assert message.startswith(f"{path}:2: row 'r7': choices.1: 41 tokens") and "window of 16" in message
    assert "\n" not in message and model.calls == 0  # nothing was scored, the eval row included


def test_sft_target_too_long_and_max_new_tokens_past_the_window() -> None:
    tok = CharTokenizer()
    model = BigramLM(tok, {})
    lm = LM(model, tok, device="cpu", max_len=8)
    with pytest.raises(EvalInputError, match=r"^m:3: row 'long': response: 11 tokens \(EOS included\) do not fit"):
        evaluate_model(lm, sft_rows=[SftRow("long", "chat", "y" * 10, "m:3", prompt="p")],
                       eval_rows=[_row("m", "math", "2+3=", "5")], config=EvalConfig(max_new_tokens=2))
    with pytest.raises(ValueError, match="max_new_tokens 9 does not fit the model's window of 8 tokens"):
        evaluate_model(lm, eval_rows=[_row("m", "math", "2+3=", "5")], config=EvalConfig(max_new_tokens=9))
    assert model.calls == 0


def _hf_tokenizer(adds_bos: bool):
    """A real transformers fast tokenizer over printable ASCII, built offline: GPT-2-style (BOS id, never
    added by encoding) or Llama-style (its post-processor puts BOS first)."""
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    vocab = {chr(i): i - 32 for i in range(32, 127)} | {"<|endoftext|>": 95, "<s>": 96}
    tk = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    if adds_bos:
        tk.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 96)])
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>" if adds_bos else "<|endoftext|>",
                                                eos_token="<|endoftext|>")


@pytest.mark.parametrize(("adds_bos", "override"), [(False, None), (True, None), (False, True), (True, False)])
def test_hf_tokenizer_bos_follows_its_own_default(adds_bos: bool, override: bool | None) -> None:
    transformers = pytest.importorskip("transformers")
    tok = _hf_tokenizer(adds_bos)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=97, n_positions=64, n_embd=16,
                                                                 n_layer=1, n_head=2, bos_token_id=tok.bos_token_id,
                                                                 eos_token_id=tok.eos_token_id))
    run = evaluate_model(model, tok, device="cpu", add_bos=override,
                         external={"t": [ChoiceRow("q", "2+2?", ("4", "5"), 0, "m")]})
    (row,) = run.results.to_pylist()
    expected = adds_bos if override is None else override
    context = tok.encode("Question: 2+2?\nAnswer:", add_special_tokens=False)
    assert row["bos"] is expected and row["prompt_tokens"] == len(context) + expected
    assert run.results.schema.metadata is not None and b'"add_bos": ' + str(expected).lower().encode() \
        in run.results.schema.metadata[b"picogate.eval"]


def test_context_trailing_space_moves_into_the_continuation_as_in_lm_eval() -> None:
    tok = CharTokenizer()
    lm = LM(BigramLM(tok, {(":", " "): -0.5, (" ", "a"): -0.25, (":", "a"): -3.0}), tok, device="cpu")
    rows = [ChoiceRow("t", "Q", ("a", "b"), 0, "m")]
    spaced = EvalConfig(choice_template="Question: {question}\nAnswer: ", choice_delimiter="")
    (moved,) = evaluate_model(lm, external={"t": rows}, config=spaced).results.to_pylist()
    (plain,) = evaluate_model(lm, external={"t": rows}).results.to_pylist()
    assert moved["choice_loglik"] == plain["choice_loglik"] and moved["choice_loglik"][0] == pytest.approx(-0.75)
    assert moved["choice_tokens"] == [2, 2] and moved["prompt_tokens"] == plain["prompt_tokens"]
