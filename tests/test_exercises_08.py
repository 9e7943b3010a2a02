"""Lesson 08's exercise checkers: each near-miss a learner makes is refused with a message that
points at the mistake, and the right answer is accepted (with the bundled models)."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from helpers.exercises import lesson_08, run_check

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "08_troubleshooting.ipynb"


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


@pytest.fixture(scope="module")
def model():
    from helpers.hub import course_model

    return AutoModelForCausalLM.from_pretrained(course_model("base"))


def verdict(exercise_id: str, **answers) -> tuple[bool, str]:
    result = run_check("08", exercise_id, **answers)
    return result.correct, result.message


def test_the_lesson_uses_the_checkers_texts():
    source = "\n".join(cell.source for cell in nbformat.read(SOLUTION, as_version=4).cells)
    for text in lesson_08.BATCH_TEXTS:
        assert f'"{text}"' in source
    assert f'"{lesson_08.PROMPT}"' in source and f"max_new_tokens={lesson_08.NEW_TOKENS}" in source
    assert f'"{lesson_08.MESSAGES[0]["content"]}"' in source


# --------------------------------------------------------------------------- exercise 1


def _padded(tok, side="left"):
    repaired = copy.deepcopy(tok)
    repaired.pad_token = repaired.eos_token
    repaired.padding_side = side
    return repaired


def test_pad_batch_accepts_a_left_padded_batch(tok):
    batch = _padded(tok)(list(lesson_08.BATCH_TEXTS), padding=True, return_tensors="pt")
    assert verdict("pad-batch", left_batch=batch) == (True, "")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda t: _padded(t, "right")(list(lesson_08.BATCH_TEXTS), padding=True,
                                       return_tensors="pt"), "pads are on the right"),
        (lambda t: _padded(t)(list(lesson_08.BATCH_TEXTS), padding=True), "Python lists"),
        (lambda t: _padded(t)(list(lesson_08.BATCH_TEXTS), padding=True,
                              return_tensors="pt")["input_ids"], "whole result"),
        (lambda t: _padded(t)(list(lesson_08.BATCH_TEXTS), padding=True, truncation=True,
                              max_length=3, return_tensors="pt"), "pad to the longest"),
        (lambda t: _padded(t)(list(lesson_08.BATCH_TEXTS[:1]), padding=True,
                              return_tensors="pt"), "one row per text"),
        (lambda t: {"input_ids": _padded(t)(list(lesson_08.BATCH_TEXTS), padding=True,
                                            return_tensors="pt")["input_ids"]},
         "no attention_mask"),
        (lambda t: _padded(t)(list(reversed(lesson_08.BATCH_TEXTS)), padding=True,
                              return_tensors="pt"), "in the other order"),
        (lambda t: "Once upon a time", "what the tokenizer returns"),
    ],
    ids=["right-padded", "lists", "ids-only", "truncated", "one-text", "no-mask", "swapped",
         "text"],
)
def test_pad_batch_refuses_near_misses(tok, make, message):
    correct, said = verdict("pad-batch", left_batch=make(tok))
    assert not correct and message in said, said


# --------------------------------------------------------------------------- exercise 2


def _generate(tok, model, **kwargs):
    inputs = tok(lesson_08.PROMPT, return_tensors="pt")
    out = model.generate(**inputs, pad_token_id=tok.eos_token_id, **kwargs)
    return inputs["input_ids"].shape[1], out[0]


def test_greedy_continuation_accepts_the_new_text(tok, model):
    n, out = _generate(tok, model, do_sample=False, max_new_tokens=lesson_08.NEW_TOKENS)
    answer = tok.decode(out[n:], skip_special_tokens=True)
    assert verdict("greedy-continuation", continuation=answer) == (True, "")


def test_greedy_continuation_refuses_near_misses(tok, model):
    n, out = _generate(tok, model, do_sample=False, max_new_tokens=lesson_08.NEW_TOKENS)
    cases = [
        (tok.decode(out, skip_special_tokens=True), "starts with the prompt"),
        (out[n:], "holds token ids"),
        (tok.decode(out[n:n + 3], skip_special_tokens=True), "shorter than"),
        (42, "should be a str"),
    ]
    torch.manual_seed(1)
    _, sampled = _generate(tok, model, do_sample=True, temperature=1.5,
                           max_new_tokens=lesson_08.NEW_TOKENS)
    sampled_text = tok.decode(sampled[n:], skip_special_tokens=True)
    if sampled_text != tok.decode(out[n:], skip_special_tokens=True):
        cases.append((sampled_text + " and more", "not the greedy continuation"))
    for answer, message in cases:
        correct, said = verdict("greedy-continuation", continuation=answer)
        assert not correct and message in said, (answer, said)


# --------------------------------------------------------------------------- exercise 3


def _conversation():
    return list(lesson_08.MESSAGES)


def test_chat_prompt_ids_accepts_the_ids_with_the_generation_prompt(chat_tok):
    ids = chat_tok.apply_chat_template(_conversation(), add_generation_prompt=True,
                                       return_tensors="pt")["input_ids"]
    assert verdict("chat-prompt-ids", chat_ids=ids) == (True, "")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda c, t: c.apply_chat_template(_conversation(), add_generation_prompt=True,
                                            return_tensors="pt"), "whole BatchEncoding"),
        (lambda c, t: c.apply_chat_template(_conversation(), return_tensors="pt")["input_ids"],
         "add_generation_prompt=True"),
        (lambda c, t: c.apply_chat_template(_conversation(), add_generation_prompt=True,
                                            return_dict=False), "flat list"),
        (lambda c, t: c.apply_chat_template(_conversation(), add_generation_prompt=True,
                                            return_tensors="pt")["input_ids"][0],
         "keep the batch dimension"),
        (lambda c, t: c.apply_chat_template(_conversation(), add_generation_prompt=True,
                                            tokenize=False), "is text"),
        (lambda c, t: t("Tell me a story about a fox named Leo", return_tensors="pt")["input_ids"],
         "not the ids of the exercise's conversation"),
    ],
    ids=["batch-encoding", "no-generation-prompt", "flat-list", "1-d", "text", "no-template"],
)
def test_chat_prompt_ids_refuses_near_misses(chat_tok, tok, make, message):
    correct, said = verdict("chat-prompt-ids", chat_ids=make(chat_tok, tok))
    assert not correct and message in said, said
