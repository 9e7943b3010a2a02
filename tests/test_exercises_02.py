"""Lesson 02's exercise checkers: each near-miss a learner makes is refused with a message that
points at the mistake, and the right answer is accepted (with the bundled models)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
import pytest
import torch
from transformers import AutoConfig, AutoTokenizer

from helpers.exercises import lesson_02, run_check
from helpers.quizzes import load_bank

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "02_tokenizers.ipynb"


@pytest.fixture(autouse=True)
def bundled_models(monkeypatch):
    monkeypatch.delenv("COURSE_MODEL", raising=False)
    monkeypatch.delenv("COURSE_CHAT_MODEL", raising=False)


@pytest.fixture(scope="module")
def tok():
    from helpers.hub import course_model

    return AutoTokenizer.from_pretrained(course_model("base"))


@pytest.fixture(scope="module")
def chat_tok():
    from helpers.hub import course_model

    return AutoTokenizer.from_pretrained(course_model("chat"))


def verdict(exercise_id: str, **answers) -> tuple[bool, str]:
    result = run_check("02", exercise_id, **answers)
    return result.correct, result.message


# --------------------------------------------------------------------------- exercise 1


def test_count_tokens_accepts_the_count(tok):
    n = len(tok(lesson_02.COUNT_TEXT)["input_ids"])
    assert verdict("count-tokens", n_tokens=n) == (True, "")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda t, c: len(lesson_02.COUNT_TEXT.split()), "number of words"),
        (lambda t, c: len(lesson_02.COUNT_TEXT), "number of characters"),
        (lambda t, c: t(lesson_02.COUNT_TEXT)["input_ids"], "you stored the tokens themselves"),
        (lambda t, c: len(t(lesson_02.COUNT_TEXT)["input_ids"]) - 3, "makes more tokens"),
        (lambda t, c: len(t(lesson_02.COUNT_TEXT.lower())["input_ids"]) + 40, "makes fewer"),
        (lambda t, c: True, "should be a number"),
        (lambda t, c: "17", "should be an int, not a str"),
    ],
    ids=["words", "characters", "ids", "too-few", "too-many", "bool", "str"],
)
def test_count_tokens_refuses_near_misses(tok, chat_tok, answer, message):
    value = answer(tok, chat_tok)
    assert value != len(tok(lesson_02.COUNT_TEXT)["input_ids"])
    correct, said = verdict("count-tokens", n_tokens=value)
    assert not correct
    assert message in said


def test_count_tokens_names_the_chat_tokenizer_when_its_count_differs(tok, tiny_gpt2,
                                                                     monkeypatch):
    """The bundled pair count this sentence alike; a chat tokenizer with another vocabulary
    (the tiny GPT-2's) does not, and its count is then recognised."""
    other = AutoTokenizer.from_pretrained(tiny_gpt2)
    counts = {"base": tok, "chat": other}
    monkeypatch.setattr(lesson_02, "_tokenizer", lambda kind="base": counts[kind])
    n_chat = len(other(lesson_02.COUNT_TEXT)["input_ids"])
    assert n_chat != len(tok(lesson_02.COUNT_TEXT)["input_ids"])
    correct, said = verdict("count-tokens", n_tokens=n_chat)
    assert not correct and "chat tokenizer's count" in said


def test_count_tokens_accepts_a_zero_dim_tensor(tok):
    n = torch.tensor(len(tok(lesson_02.COUNT_TEXT)["input_ids"]))
    assert verdict("count-tokens", n_tokens=n)[0]


# --------------------------------------------------------------------------- exercise 2


@pytest.fixture(scope="module")
def padder(tok):
    padded = copy.deepcopy(tok)
    padded.pad_token = padded.eos_token
    return padded


@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_batch_accepts_either_padding_side(padder, side):
    batch = padder(list(lesson_02.BATCH_TEXTS), padding=True, return_tensors="pt",
                   padding_side=side)
    assert verdict("pad-batch", batch=batch) == (True, "")


def _all_ones_mask(padder):
    batch = padder(list(lesson_02.BATCH_TEXTS), padding=True, return_tensors="pt")
    batch["attention_mask"] = torch.ones_like(batch["attention_mask"])
    return batch


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p(list(lesson_02.BATCH_TEXTS), padding=True), 'return_tensors="pt"'),
        (lambda p: p(list(lesson_02.BATCH_TEXTS), padding="max_length", return_tensors="pt"),
         "padding='max_length' pads to model_max_length"),
        (lambda p: p(list(lesson_02.BATCH_TEXTS), padding=True, truncation=True, max_length=3,
                     return_tensors="pt"), "was something truncated"),
        (lambda p: p(list(lesson_02.BATCH_TEXTS[:2]), padding=True, return_tensors="pt"),
         "the batch has 2 rows"),
        (lambda p: p(list(lesson_02.BATCH_TEXTS), padding=True, return_tensors="pt",
                     return_attention_mask=False), "has no attention_mask"),
        (_all_ones_mask, "the attention mask should be 1 exactly"),
        (lambda p: p(list(lesson_02.BATCH_TEXTS), padding=True, return_tensors="pt")["input_ids"],
         "should be what the tokenizer returns"),
        (lambda p: p(["once upon a time", "leo ran home.", "the end."], padding=True,
                     return_tensors="pt"), "the attention mask should be 1 exactly"),
    ],
    ids=["lists", "max-length", "truncated", "two-texts", "no-mask", "mask-all-ones",
         "ids-only", "other-texts"],
)
def test_pad_batch_refuses_near_misses(padder, make, message):
    correct, said = verdict("pad-batch", batch=make(padder))
    assert not correct
    assert message in said


# --------------------------------------------------------------------------- exercise 3


@pytest.fixture(scope="module")
def limit():
    from helpers.hub import course_model

    return AutoConfig.from_pretrained(course_model("base")).max_position_embeddings


@pytest.fixture(scope="module")
def long_text(limit):
    return "Once upon a time, a little fox named Leo lived in the woods. " * (limit // 10 + 10)


def test_the_limit_is_the_bundled_models_and_the_text_is_longer(tok, limit, long_text):
    assert lesson_02.expected_limit() == limit == tok.model_max_length
    assert len(tok(long_text, verbose=False)["input_ids"]) > limit


@pytest.mark.parametrize("as_tensor", [False, True])
def test_truncate_accepts_the_first_limit_tokens(tok, limit, long_text, as_tensor):
    if as_tensor:
        ids = tok(long_text, truncation=True, max_length=limit, return_tensors="pt")["input_ids"]
    else:
        ids = tok(long_text, truncation=True, max_length=limit)["input_ids"]
    assert verdict("truncate", input_ids=ids, long_text=long_text) == (True, "")


def test_truncate_accepts_the_recorded_limit_too(tok, long_text):
    ids = tok(long_text, truncation=True)["input_ids"]  # model_max_length is recorded here
    assert verdict("truncate", input_ids=ids, long_text=long_text)[0]


def _left(tok):
    left = copy.deepcopy(tok)
    left.truncation_side = "left"
    return left


def _sentinel(tok):
    no_limit = copy.deepcopy(tok)
    no_limit.model_max_length = int(1e30)
    return no_limit


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda t, n, s: _sentinel(t)(s, truncation=True)["input_ids"], "nothing was cut"),
        (lambda t, n, s: t(s, truncation=True, max_length=n // 2)["input_ids"],
         "use its whole limit"),
        (lambda t, n, s: t(s, verbose=False)["input_ids"][: n + 5], "still more than the model"),
        (lambda t, n, s: _left(t)(s, truncation=True, max_length=n)["input_ids"],
         "you kept the end"),
        (lambda t, n, s: t(s, truncation=True, max_length=n), "not the whole encoding"),
        (lambda t, n, s: t(s.upper(), truncation=True, max_length=n)["input_ids"],
         "these are not the text's first tokens"),
        (lambda t, n, s: t([s, s], truncation=True, max_length=n)["input_ids"],
         "one text's token ids"),
    ],
    ids=["sentinel", "too-short", "too-long", "left", "encoding", "other-text", "two-rows"],
)
def test_truncate_refuses_near_misses(tok, limit, long_text, make, message):
    if "_left" in make.__code__.co_names:  # a text whose end differs from its start
        long_text += " The end."
    correct, said = verdict("truncate", input_ids=make(tok, limit, long_text),
                            long_text=long_text)
    assert not correct
    assert message in said


def test_truncate_refuses_a_text_within_the_limit(tok):
    ids = tok("Once upon a time")["input_ids"]
    correct, said = verdict("truncate", input_ids=ids, long_text="Once upon a time")
    assert not correct and "within the limit" in said


def test_truncate_does_not_trust_settings_a_call_left_on_the_shared_tokenizer(tok, long_text):
    """transformers leaves the last call's truncation on the Rust tokenizer; the checker must
    count with a clean copy."""
    from helpers.hub import course_model

    shared = lesson_02._tokenizer("base")
    assert shared.name_or_path == course_model("base")
    shared(long_text, truncation=True, max_length=7)
    assert len(lesson_02._ids(shared, long_text)) > lesson_02.expected_limit()


# --------------------------------------------------------------------------- the notebook


def _solution_sources() -> dict[str, str]:
    return {cell.get("id"): cell.source for cell in nbformat.read(SOLUTION, as_version=4).cells}


def test_the_notebook_uses_the_checkers_texts():
    sources = _solution_sources()
    assert repr(lesson_02.COUNT_TEXT).strip("'") in sources["l02-ex1"]
    assert f"texts = {list(lesson_02.BATCH_TEXTS)!r}".replace("'", '"') in sources["l02-ex2"]


def test_the_predict_question_says_what_the_code_prints():
    question = load_bank("02").question("predict-leading-space")
    namespace = {}
    printed = []
    namespace["print"] = lambda *args: printed.append(" ".join(map(str, args)))
    exec(question.code, namespace)  # noqa: S102 - the bank's own code, on the bundled tokenizer
    correct = question.options[question.correct_indices[0]].text
    assert printed == [correct]


def test_lesson_02_bank_has_the_required_kinds_of_question():
    kinds = [q.kind for q in load_bank("02").questions]
    assert kinds.count("choice") + kinds.count("predict") >= 4
    assert kinds.count("open") == 1
    for question in load_bank("02").questions:
        for option in question.options:
            assert not re.match(r"^Right\b", option.explanation)
