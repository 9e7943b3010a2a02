"""Lesson 06's exercise checkers: each near-miss a learner makes is refused with a message that
points at the mistake, and the right answer (made the way the lesson's solution makes it) passes.
Runs on the course model in use (the bundled one unless COURSE_MODEL is set)."""

from __future__ import annotations

import statistics

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from helpers.exercises import lesson_06 as ex
from helpers.exercises import run_check
from helpers.hub import course_model
from helpers.memory import estimate_memory


@pytest.fixture(scope="module")
def mt():
    location = course_model()
    model = AutoModelForCausalLM.from_pretrained(location).eval()
    return model, AutoTokenizer.from_pretrained(location)


def verdict(exercise, **answers):
    return run_check("06", exercise, **answers)


# ------------------------------------------------------------------------------ manual-kv-loop


def manual_loop(model, tok, feed_last=True, n=ex.LOOP_TOKENS):
    """The lesson's solution loop; feed_last=False stops before feeding the last token."""
    inputs = tok(ex.PROMPT, return_tensors="pt")
    with torch.inference_mode():
        out = model(**inputs, use_cache=True)
        ids = []
        for i in range(n):
            next_id = out.logits[:, -1].argmax(-1, keepdim=True)
            ids.append(next_id.item())
            if feed_last or i < n - 1:
                out = model(input_ids=next_id, cache=out.cache, use_cache=True)
    return ids, out.cache.get_seq_length(), inputs["input_ids"].shape[1]


@pytest.fixture(scope="module")
def loop(mt):
    return manual_loop(*mt)


def test_manual_loop_right_answers(mt, loop):
    ids, length, n = loop
    assert length == n + ex.LOOP_TOKENS
    assert verdict("manual-kv-loop", manual_ids=ids, cache_length=length).correct
    # a tensor of ids, and the loop that never feeds the last token, are right too
    assert verdict("manual-kv-loop", manual_ids=torch.tensor(ids), cache_length=length).correct
    ids2, length2, _ = manual_loop(*mt, feed_last=False)
    assert ids2 == ids and length2 == n + ex.LOOP_TOKENS - 1
    assert verdict("manual-kv-loop", manual_ids=ids2, cache_length=length2).correct


def test_manual_loop_near_misses(mt, loop):
    model, tok = mt
    ids, length, n = loop
    prompt_ids = tok(ex.PROMPT)["input_ids"]
    other = [(i + 1) % len(tok) for i in ids]
    cases = [
        (dict(manual_ids=prompt_ids + ids, cache_length=length), "includes the prompt"),
        (dict(manual_ids=ids[:9], cache_length=length), "has 9 ids"),
        (dict(manual_ids=ids[1:] + [ids[-1]], cache_length=length), "shifted by one"),
        (dict(manual_ids=ids[:3] + other[3:], cache_length=length), "new token 4"),
        (dict(manual_ids=ids, cache_length=n), "the prompt alone"),
        (dict(manual_ids=ids, cache_length=1), "does not hold the prompt"),
        (dict(manual_ids=ids, cache_length=n + 40), "more than the text"),
        (dict(manual_ids=ids, cache_length=float(length)), "should be an int"),
        (dict(manual_ids="12 13", cache_length=length), "should be a list"),
        (dict(manual_ids=[1.5] * 10, cache_length=length), "token ids (ints)"),
    ]
    for answers, message in cases:
        result = verdict("manual-kv-loop", **answers)
        assert not result.correct and message in result.message, (answers, result.message)


def test_manual_loop_unset():
    result = verdict("manual-kv-loop", manual_ids=None, cache_length=None)
    assert not result.correct and "not set" in result.message


# ------------------------------------------------------------------------------ bandwidth


@pytest.fixture(scope="module")
def bf16_bytes():
    return estimate_memory(course_model(), dtype=torch.bfloat16).total_bytes


def test_bandwidth_right_answer(mt, bf16_bytes):
    model, _ = mt
    counted = 2 * model.num_parameters()  # the other way the exercise allows
    assert counted == bf16_bytes
    for answer in (bf16_bytes, counted):
        assert verdict("bandwidth-ceiling", bf16_weight_bytes=answer,
                       ceiling_tokens_per_s=3.35e12 / answer).correct


@pytest.mark.parametrize("bytes_, ceiling, message", [
    (lambda b: b // 2, lambda b: 3.35e12 / b, "number of parameters"),
    (lambda b: 2 * b, lambda b: 3.35e12 / b, "4 bytes per parameter"),
    (lambda b: 8 * b, lambda b: 3.35e12 / b, "bits, not bytes"),
    (lambda b: b / 2**20, lambda b: 3.35e12 / b, "not megabytes"),
    (lambda b: b / 1e6, lambda b: 3.35e12 / b, "not megabytes"),
    (lambda b: 3 * b, lambda b: 3.35e12 / b, "is not it"),
    (lambda b: "big", lambda b: 1.0, "number of bytes"),
    (lambda b: b, lambda b: b / 3.35e12, "seconds per token"),
    (lambda b: b, lambda b: 3.35e12 / (2 * b), "float32 bytes"),
    (lambda b: b, lambda b: 3.35e9 / b, "check the units"),
    (lambda b: b, lambda b: 7.0, "is not it"),
    (lambda b: b, lambda b: "fast", "should be a number"),
])
def test_bandwidth_near_misses(bf16_bytes, bytes_, ceiling, message):
    result = verdict("bandwidth-ceiling", bf16_weight_bytes=bytes_(bf16_bytes),
                     ceiling_tokens_per_s=ceiling(bf16_bytes))
    assert not result.correct and message in result.message, result.message


# ------------------------------------------------------------------------------ honest-rate

RUNS = list(ex.RUN_SECONDS)


def test_honest_rate_right_answers():
    assert verdict("honest-rate", honest_tokens_per_s=32 / statistics.median(RUNS[1:]),
                   run_seconds=RUNS).correct
    # the median of the per-run rates is honest too
    assert verdict("honest-rate", honest_tokens_per_s=statistics.median(32 / s for s in RUNS[1:]),
                   run_seconds=RUNS).correct


@pytest.mark.parametrize("answer, message", [
    (32 / statistics.mean(RUNS), "mean of all five"),
    (32 / statistics.mean(RUNS[1:]), "mean of the last four"),
    (32 / statistics.median(RUNS), "still includes the first"),
    (32 / min(RUNS[1:]), "fastest run"),
    (52 / statistics.median(RUNS[1:]), "prompt tokens"),
    (statistics.median(RUNS[1:]) / 32, "seconds per token"),
    (32 / RUNS[0], "the warm-up"),
    (100.0, "is not it"),
    ("65", "should be a number"),
])
def test_honest_rate_near_misses(answer, message):
    result = verdict("honest-rate", honest_tokens_per_s=answer, run_seconds=RUNS)
    assert not result.correct and message in result.message, result.message


def test_honest_rate_refuses_changed_data():
    result = verdict("honest-rate", honest_tokens_per_s=65.3, run_seconds=RUNS[1:])
    assert not result.correct and "as given" in result.message
