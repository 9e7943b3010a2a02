"""Lesson 03's exercise checkers: each near-miss a learner makes is refused with a message that
points at the mistake, and the right answer (made the way the lesson's solution makes it) passes.
Runs on the course model in use (the bundled one unless COURSE_MODEL is set)."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

from helpers.exercises import lesson_03 as ex
from helpers.exercises import run_check
from helpers.hub import course_model


@pytest.fixture(scope="module")
def mt():
    location = course_model()
    return AutoModelForCausalLM.from_pretrained(location), AutoTokenizer.from_pretrained(location)


def pad(tok):
    return tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id


def new_text(model, tok, prompt, seed=0, **kwargs) -> str:
    inputs = tok(prompt, return_tensors="pt")
    set_seed(seed)
    out = model.generate(**inputs, pad_token_id=pad(tok), **kwargs)
    return tok.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


def verdict(exercise, **answers):
    return run_check("03", exercise, **answers)


# ------------------------------------------------------------------------------ max-length


@pytest.fixture(scope="module")
def prompt_tokens(mt):
    _, tok = mt
    return tok(ex.MAX_LENGTH_PROMPT, return_tensors="pt")["input_ids"].shape[1]


def test_max_length_right_answer_gives_20_new_tokens(mt, prompt_tokens):
    model, tok = mt
    answer = prompt_tokens + 20
    assert verdict("max-length", max_length_for_20=answer).correct
    inputs = tok(ex.MAX_LENGTH_PROMPT, return_tensors="pt")
    out = model.generate(**inputs, max_length=answer, max_new_tokens=None, min_new_tokens=20,
                         pad_token_id=pad(tok))
    assert out.shape[1] - prompt_tokens == 20


@pytest.mark.parametrize("wrong, message", [
    (lambda n, p: 20, "counts the prompt too"),
    (lambda n, p: n + 19, "off by one"),
    (lambda n, p: n + 21, "off by one"),
    (lambda n, p: len(p) + 20, "characters"),
    (lambda n, p: len(p.split()) + 20, "words"),
    (lambda n, p: n + 200, "is not it"),
    (lambda n, p: float(n + 20), "should be an int"),
    (lambda n, p: str(n + 20), "should be an int"),
])
def test_max_length_near_misses(prompt_tokens, wrong, message):
    answer = wrong(prompt_tokens, ex.MAX_LENGTH_PROMPT)
    result = verdict("max-length", max_length_for_20=answer)
    assert not result.correct and message in result.message, result.message


def test_max_length_unset():
    result = verdict("max-length", max_length_for_20=None)
    assert not result.correct and "not set" in result.message


# ------------------------------------------------------------------------------ stop-string


@pytest.fixture(scope="module")
def stop(mt):
    """(stop_word, stopped text, full greedy text) the way the lesson's cells make them."""
    model, tok = mt
    full = new_text(model, tok, ex.STOP_PROMPT, max_new_tokens=ex.STOP_BUDGET, do_sample=False)
    words = [w.strip(".,!?;:\"'") for w in full.split()]
    stop_word = (next((w for w in words[4:] if len(w) >= 3 and w.isalpha()), None)
                 or full.strip()[:2] or ".")
    stopped = new_text(model, tok, ex.STOP_PROMPT, max_new_tokens=ex.STOP_BUDGET,
                       do_sample=False, stop_strings=[stop_word], tokenizer=tok)
    return stop_word, stopped, full


def test_stop_string_solution_is_correct(stop):
    stop_word, stopped, full = stop
    assert stop_word in stopped and len(stopped) < len(full)
    assert verdict("stop-string", stopped_text=stopped, stop_word=stop_word).correct
    # surrounding whitespace does not matter
    assert verdict("stop-string", stopped_text=stopped.strip(), stop_word=stop_word).correct


def test_stop_string_near_misses(mt, stop):
    model, tok = mt
    stop_word, stopped, full = stop
    cut = full.split(stop_word)[0]
    sampled = new_text(model, tok, ex.STOP_PROMPT, seed=3, max_new_tokens=ex.STOP_BUDGET,
                       do_sample=True, temperature=2.0, top_k=0, stop_strings=[stop_word],
                       tokenizer=tok)
    cases = [
        (ex.STOP_PROMPT + stopped, "starts with the prompt"),
        (full, "did not stop"),
        (cut, "stop word is missing"),
        (stopped.strip()[: max(1, len(stopped.strip()) // 3)], "stops before"),
        (42, "should be a str"),
    ]
    if sampled.strip() != stopped.strip() and not stopped.strip().startswith(sampled.strip()):
        cases.append((sampled, "not the greedy text"))
    for answer, message in cases:
        result = verdict("stop-string", stopped_text=answer, stop_word=stop_word)
        assert not result.correct and message in result.message, (answer, result.message)


def test_stop_string_needs_the_stop_word(stop):
    _, stopped, _ = stop
    result = verdict("stop-string", stopped_text=stopped, stop_word="")
    assert not result.correct and "stop_word" in result.message


# ------------------------------------------------------------------------------ deterministic


@pytest.mark.parametrize("settings", [
    {"max_new_tokens": 40, "do_sample": True, "temperature": 1.0, "top_k": 1, "top_p": 1.0},
    {"max_new_tokens": 5, "do_sample": True, "temperature": 2.0, "top_k": 1, "top_p": 0.5},
])
def test_deterministic_top_k_1_is_correct(settings):
    result = verdict("deterministic", deterministic_settings=settings)
    assert result.correct and "greedy" in result.message, result.message


def test_deterministic_checker_reruns_the_settings(monkeypatch):
    """The verdict comes from re-running generate() under several seeds, not from the keys."""
    calls = []
    real = ex._generate_ids

    def counting(prompt, seed=0, **kwargs):
        calls.append(seed)
        return real(prompt, seed=seed, **kwargs)

    monkeypatch.setattr(ex, "_generate_ids", counting)
    settings = {"max_new_tokens": 40, "do_sample": True, "temperature": 1.0, "top_k": 1,
                "top_p": 1.0}
    assert verdict("deterministic", deterministic_settings=settings).correct
    assert set(ex.SEEDS) <= set(calls)


@pytest.mark.parametrize("settings, message", [
    ({"max_new_tokens": 40, "do_sample": False}, "do_sample is off"),
    ({"max_new_tokens": 40, "do_sample": True, "temperature": 1.5, "top_k": 0, "top_p": 1.0},
     "gave different texts"),
    ({"max_new_tokens": 40, "do_sample": True, "temperature": 0.0, "top_k": 50, "top_p": 1.0},
     "above 0"),
    ({"do_sample": True, "top_k": 1, "seed": 3}, "only decoding settings"),
    ([("do_sample", True)], "should be a dict"),
])
def test_deterministic_near_misses(settings, message):
    result = verdict("deterministic", deterministic_settings=settings)
    assert not result.correct and message in result.message, result.message


def test_deterministic_answer_from_the_playground(mt):
    from helpers.playground import playground

    model, tok = mt
    pg = playground(model, tok, "Once upon a time", max_new_tokens=10)
    pg.set(top_k=1)
    assert verdict("deterministic", deterministic_settings=pg.settings()).correct
    torch.manual_seed(0)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from intra-op threads; on a busy 2-core machine they lose."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
