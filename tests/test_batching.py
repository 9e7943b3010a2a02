"""helpers.batching: length-sorted batches that give the one-at-a-time answers back in order,
honest padding counts, and a throughput sweep that sizes itself to a time budget."""

from __future__ import annotations

import copy
import time

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from helpers.batching import (
    BatchedRun,
    ThroughputPoint,
    ThroughputReport,
    count_padding,
    generate_in_batches,
    measure_throughput,
    plan_batches,
    prompt_lengths,
)
from helpers.generation import generate_text
from helpers.models import bundled_path

PROMPTS = [
    "Once upon a time, there was a little fox named Leo. He lived in a big green forest.",
    "The cat sat",
    "Mia had a red ball. She",
    "Once upon a time",
    "One day, Leo met a bear named Max. Max was sad.",
]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from intra-op threads; on a busy machine they are much slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def base():
    folder = bundled_path("stories-base")
    return AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)


@pytest.fixture(scope="module")
def chat():
    folder = bundled_path("stories-chat")
    return AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)


# ------------------------------------------------------------------------------ planning


def test_plan_batches_sorted_and_as_given():
    lengths = [5, 1, 9, 1, 3]
    assert plan_batches(lengths, 2, sort_by_length=False) == [[0, 1], [2, 3], [4]]
    # shortest first; ties keep their order
    assert plan_batches(lengths, 2) == [[1, 3], [4, 0], [2]]
    assert plan_batches([], 4) == []
    with pytest.raises(ValueError, match="at least 1"):
        plan_batches(lengths, 0)


def test_count_padding_pads_each_batch_to_its_own_longest():
    lengths = [5, 1, 9, 1, 3]
    assert count_padding(lengths, [[0, 1], [2, 3], [4]]) == (19, 4 + 8 + 0)
    assert count_padding(lengths, [[1, 3], [4, 0], [2]]) == (19, 0 + 2 + 0)
    assert count_padding(lengths, [list(range(5))]) == (19, 45 - 19)


def test_prompt_lengths_agree_with_the_padded_attention_mask(base):
    _, tok = base
    padder = copy.deepcopy(tok)
    padder.pad_token = padder.eos_token
    rows = padder(PROMPTS, padding=True, return_tensors="pt")
    assert prompt_lengths(tok, PROMPTS) == rows["attention_mask"].sum(dim=1).tolist()


def test_prompt_lengths_with_the_chat_template(chat):
    _, tok = chat
    plain = prompt_lengths(tok, PROMPTS)
    templated = prompt_lengths(tok, PROMPTS, chat=True)
    overhead = {t - p for t, p in zip(templated, plain, strict=True)}
    assert min(overhead) > 0  # the template adds the role markers around every prompt


# ------------------------------------------------------------------------------ generating


def one_at_a_time(model, tok, prompts, n):
    return [generate_text(model, tok, p, max_new_tokens=n) for p in prompts]


@pytest.mark.parametrize("sort_by_length", [True, False])
@pytest.mark.parametrize("batch_size", [1, 2, 3, 8])
def test_generate_in_batches_gives_the_one_at_a_time_answers_in_order(base, batch_size,
                                                                     sort_by_length):
    model, tok = base
    run = generate_in_batches(model, tok, PROMPTS, batch_size=batch_size, max_new_tokens=6,
                              sort_by_length=sort_by_length)
    assert isinstance(run, BatchedRun)
    assert run.texts == one_at_a_time(model, tok, PROMPTS, 6)
    assert sorted(i for b in run.batches for i in b) == list(range(len(PROMPTS)))
    assert max(len(b) for b in run.batches) == min(batch_size, len(PROMPTS))
    lengths = prompt_lengths(tok, PROMPTS)
    assert (run.real_tokens, run.pad_tokens) == count_padding(lengths, run.batches)
    assert tok.pad_token is None, "the caller's tokenizer is left as it was"


def test_sorting_pads_less(base):
    model, tok = base
    given = generate_in_batches(model, tok, PROMPTS, batch_size=2, max_new_tokens=2,
                                sort_by_length=False)
    by_length = generate_in_batches(model, tok, PROMPTS, batch_size=2, max_new_tokens=2)
    assert by_length.pad_tokens < given.pad_tokens
    assert by_length.real_tokens == given.real_tokens
    assert 0 <= by_length.pad_fraction < given.pad_fraction < 1
    assert "padding" in str(by_length) and "fp-batched" in by_length._repr_html_()


def test_generate_in_batches_with_a_chat_model(chat):
    model, tok = chat
    run = generate_in_batches(model, tok, PROMPTS[:3], batch_size=2, max_new_tokens=5, chat=True)
    alone = [generate_text(model, tok, p, max_new_tokens=5, chat=True) for p in PROMPTS[:3]]
    assert run.texts == alone


def test_generate_in_batches_of_nothing(base):
    model, tok = base
    run = generate_in_batches(model, tok, [], batch_size=4)
    assert run.texts == [] and run.batches == [] and run.pad_fraction == 0.0


# ------------------------------------------------------------------------------ throughput


def test_throughput_point_arithmetic():
    point = ThroughputPoint(batch_size=4, new_tokens=10, seconds=0.5)
    assert point.tokens_per_s == pytest.approx(80.0)
    assert point.ms_per_step == pytest.approx(50.0)


def test_measure_throughput_measures_every_size_within_the_budget(base):
    model, tok = base
    start = time.perf_counter()
    report = measure_throughput(model, tok, PROMPTS[3], batch_sizes=(4, 1, 2), budget_s=1.0)
    elapsed = time.perf_counter() - start
    assert isinstance(report, ThroughputReport)
    assert report.batch_sizes == [1, 2, 4] and report.skipped == ()
    assert all(4 <= p.new_tokens <= 64 for p in report.points)
    assert len({p.new_tokens for p in report.points}) == 1
    assert report.prompt_tokens == len(tok(PROMPTS[3])["input_ids"])
    assert report.speedup(1) == 1.0 and report.speedup(4) > 0
    assert report.device == "cpu" and report.dtype == "float32"
    assert elapsed < 30, "a 1 s budget (plus the probes) took far too long"
    text = str(report)
    assert "batch 4" in text and "tok/s" in text and "fastest of 2" in text


def test_measure_throughput_honours_a_fixed_token_count(base):
    model, tok = base
    report = measure_throughput(model, tok, PROMPTS[1], batch_sizes=(1, 2), new_tokens=5,
                                repeats=1)
    assert [p.new_tokens for p in report.points] == [5, 5]


def test_measure_throughput_leaves_out_sizes_too_slow_for_the_budget(base):
    model, tok = base
    report = measure_throughput(model, tok, PROMPTS[1], batch_sizes=(1, 2, 64),
                                budget_s=0.001, new_tokens=4, repeats=1)
    assert report.batch_sizes == [1]  # the smallest size is always measured
    assert report.skipped == (2, 64) and "skipped" in str(report)


def test_measure_throughput_rejects_bad_sizes(base):
    model, tok = base
    with pytest.raises(ValueError, match="positive"):
        measure_throughput(model, tok, PROMPTS[1], batch_sizes=(0, 2))
    with pytest.raises(ValueError, match="positive"):
        measure_throughput(model, tok, PROMPTS[1], batch_sizes=())
