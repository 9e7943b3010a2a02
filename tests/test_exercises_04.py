"""Lesson 04's exercise checkers: each near-miss a learner makes is refused with a message that
points at the mistake, and the right answer (made the way the lesson's solution makes it) passes.
Runs on the course model in use (the bundled one unless COURSE_MODEL is set)."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from helpers.batching import (
    ThroughputPoint,
    ThroughputReport,
    count_padding,
    plan_batches,
    prompt_lengths,
)
from helpers.exercises import lesson_04 as ex
from helpers.exercises import run_check
from helpers.hub import course_model


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from intra-op threads; on a busy machine they are much slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def mt():
    location = course_model()
    return AutoModelForCausalLM.from_pretrained(location), AutoTokenizer.from_pretrained(location)


@pytest.fixture(scope="module")
def batch_tok(mt):
    _, tok = mt
    copy_ = copy.deepcopy(tok)
    if copy_.pad_token is None:
        copy_.pad_token = copy_.eos_token
    return copy_


def verdict(exercise, **answers):
    return run_check("04", exercise, **answers)


# ------------------------------------------------------------------------------ batch-answers


def batched(mt, batch_tok, side="left", cut="width", skip=True):
    """The exercise's batch generated the way the solution does, or with one mistake."""
    model, tok = mt
    rows = batch_tok(list(ex.EX1_PROMPTS), padding=True, padding_side=side, return_tensors="pt")
    out = model.generate(**rows, max_new_tokens=ex.EX1_NEW_TOKENS, do_sample=False,
                         pad_token_id=batch_tok.pad_token_id)
    if cut == "width":
        new = out[:, rows["input_ids"].shape[1]:]
        return batch_tok.batch_decode(new, skip_special_tokens=skip)
    if cut == "own":
        return [batch_tok.decode(out[i, len(tok(p)["input_ids"]):], skip_special_tokens=skip)
                for i, p in enumerate(ex.EX1_PROMPTS)]
    return batch_tok.batch_decode(out, skip_special_tokens=skip)


def test_batch_answers_solution_is_correct(mt, batch_tok):
    answers = batched(mt, batch_tok)
    assert verdict("batch-answers", answers=answers).correct
    assert verdict("batch-answers", answers=tuple(a.strip() for a in answers)).correct


def test_batch_answers_match_generation_one_prompt_at_a_time(mt):
    """The checker's reference is each prompt alone: no padding anywhere."""
    model, tok = mt
    for prompt in ex.EX1_PROMPTS:
        inputs = tok(prompt, return_tensors="pt")
        out = model.generate(**inputs, max_new_tokens=ex.EX1_NEW_TOKENS, do_sample=False,
                             pad_token_id=ex._pad_id(tok))
        text = tok.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        assert text == ex._alone(prompt, ex.EX1_NEW_TOKENS)


def test_batch_answers_near_misses(mt, batch_tok):
    right = batched(mt, batch_tok)
    right_padded = batched(mt, batch_tok, side="right")
    assert right_padded != right, "the right-padded batch should differ on the course model"
    cases = [
        (batched(mt, batch_tok, cut="none"), "contain their prompt"),
        (batched(mt, batch_tok, cut="own"), "contain their prompt"),
        (list(reversed(right)), "wrong order"),
        (right_padded, "right-padded batch"),
        (right[:2], "has 2 items"),
        (right[0], "list of str"),
        ([None, *right[1:]], "NoneType"),
        (["nonsense"] * 3, "alone gives"),
    ]
    for answer, message in cases:
        result = verdict("batch-answers", answers=answer)
        assert not result.correct and message in result.message, (answer, result.message)


def test_batch_answers_special_tokens_left_in(mt, batch_tok):
    """Decoding without skip_special_tokens leaves the pads of finished rows (or nothing, when
    no row finished early): refused whenever it differs from the right answer."""
    kept = batched(mt, batch_tok, skip=False)
    result = verdict("batch-answers", answers=kept)
    if kept == batched(mt, batch_tok):
        assert result.correct
    else:
        assert not result.correct and "skip_special_tokens" in result.message, result.message


def test_batch_answers_unset():
    result = verdict("batch-answers", answers=None)
    assert not result.correct and "not set" in result.message


# ------------------------------------------------------------------------------ count-padding


@pytest.fixture(scope="module")
def counts(mt):
    _, tok = mt
    lengths = prompt_lengths(tok, ex.many_prompts())
    given = count_padding(lengths, plan_batches(lengths, 6, sort_by_length=False))[1]
    by_length = count_padding(lengths, plan_batches(lengths, 6))[1]
    return lengths, given, by_length


def test_count_padding_solution_is_correct(counts):
    _, given, by_length = counts
    assert by_length < given
    assert verdict("count-padding", pads_given_order=given, pads_sorted=by_length).correct


def test_count_padding_by_tokenizing_the_batches(mt, batch_tok, counts):
    """Counting the zeros of each batch's attention mask gives the same numbers."""
    _, given, by_length = counts
    prompts = ex.many_prompts()
    lengths = counts[0]
    for order, expected in [(list(range(16)), given),
                            (sorted(range(16), key=lambda i: lengths[i]), by_length)]:
        zeros = 0
        for start in range(0, 16, 6):
            rows = batch_tok([prompts[i] for i in order[start:start + 6]], padding=True,
                             return_tensors="pt")
            zeros += int((rows["attention_mask"] == 0).sum())
        assert zeros == expected


def test_count_padding_near_misses(counts):
    lengths, given, by_length = counts
    n = ex._ex2_numbers()
    four_given = count_padding(lengths, plan_batches(lengths, 4, sort_by_length=False))[1]
    one_batch = count_padding(lengths, [list(range(16))])[1]
    cases = [
        (dict(pads_given_order=four_given, pads_sorted=by_length), "batches of 4"),
        (dict(pads_given_order=one_batch, pads_sorted=by_length), "longest of all"),
        (dict(pads_given_order=n["given-full-last"], pads_sorted=by_length), "last batch as full"),
        (dict(pads_given_order=given, pads_sorted=n["sorted-full-last"]), "last batch as full"),
        (dict(pads_given_order=sum(lengths), pads_sorted=by_length), "real tokens"),
        (dict(pads_given_order=sum(lengths) + given, pads_sorted=by_length), "real tokens"),
        (dict(pads_given_order=by_length, pads_sorted=given), "swapped"),
        (dict(pads_given_order=given, pads_sorted=by_length + 1), "is not it"),
        (dict(pads_given_order=float(given), pads_sorted=by_length), "should be an int"),
        (dict(pads_given_order=given, pads_sorted=True), "should be an int"),
    ]
    assert len({four_given, one_batch, n["given-full-last"], sum(lengths), given,
                by_length}) == 6, "the near-misses must be told apart on this model"
    for answers, message in cases:
        result = verdict("count-padding", **answers)
        assert not result.correct and message in result.message, (answers, result.message)


def test_count_padding_unset():
    result = verdict("count-padding", pads_given_order=None, pads_sorted=3)
    assert not result.correct and "not set" in result.message


# ------------------------------------------------------------------------------ knee


def report_of(rates: dict[int, float]) -> ThroughputReport:
    """A measurement with the given tokens/s per batch size (8 new tokens per row)."""
    points = tuple(ThroughputPoint(b, 8, b * 8 / r) for b, r in rates.items())
    return ThroughputReport(points, prompt_tokens=10, device="cpu", dtype="float32", repeats=2,
                            probe_step_s=0.01)


RATES = {1: 100.0, 2: 190.0, 4: 350.0, 8: 610.0, 16: 700.0, 32: 720.0}


def test_knee_solution_is_correct():
    report = report_of(RATES)
    best = max(report.tokens_per_s)
    answer = min(b for b, t in zip(report.batch_sizes, report.tokens_per_s, strict=True)
                 if t >= 0.9 * best)
    assert answer == 16
    result = verdict("knee", good_batch_size=answer, report=report)
    assert result.correct and result.message == ""


def test_knee_when_the_largest_is_the_only_one_close_to_the_best():
    report = report_of({1: 100.0, 2: 200.0, 4: 400.0})
    assert verdict("knee", good_batch_size=4, report=report).correct


@pytest.mark.parametrize("answer, message", [
    (32, "smaller batch already reaches 90%"),
    (8, "does not reach 90%"),
    (1, "does not reach 90%"),
    (64, "was not measured"),
    (16.0, "should be an int"),
    ("16", "should be an int"),
])
def test_knee_near_misses(answer, message):
    result = verdict("knee", good_batch_size=answer, report=report_of(RATES))
    assert not result.correct and message in result.message, result.message


def test_knee_a_larger_batch_that_reaches_90_but_is_not_the_best():
    rates = {**RATES, 64: 730.0}
    result = verdict("knee", good_batch_size=32, report=report_of(rates))
    assert not result.correct and "take the smallest" in result.message, result.message


def test_knee_needs_the_measurement():
    result = verdict("knee", good_batch_size=16, report={"batch": 16})
    assert not result.correct and "measure_throughput" in result.message
