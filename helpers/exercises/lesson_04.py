"""Checkers for lesson 04 ("Batching and padding").

Expected values come from the course model in use (``COURSE_MODEL`` or the bundled one) and
are worked out independently of the call the learner is asked to make: the batch answers by
generating each prompt **alone** (no padding at all), the pad counts from ``tokenizer.encode``
lengths and plain arithmetic, the batch size from the learner's own measurement.
"""

from __future__ import annotations

import functools
from typing import Any

from helpers.exercises import NotYet, exercise

EX1_PROMPTS = (
    "Leo the fox was hungry, so he",
    "One day,",
    "Mia and her little brother Sam went to the park to play with their kite. They",
)
EX1_NEW_TOKENS = 15

STORY = (
    "Once upon a time, there was a little fox named Leo.",
    "He lived in a big green forest.",
    "Every morning he ran to the river.",
    "One day he met a bear named Max.",
    "Max was sad because he had lost his red ball.",
    "Leo wanted to help his new friend.",
)
SENTENCES_PER_PROMPT = (1, 9, 2, 7, 1, 12, 3, 1, 10, 2, 5, 1, 8, 2, 11, 4)
EX2_BATCH_SIZE = 6
KNEE_SHARE = 0.9


def many_prompts() -> list[str]:
    """The sixteen prompts of the lesson's gotcha 4 (``many``)."""
    return [" ".join((STORY * 2)[:k]) for k in SENTENCES_PER_PROMPT]


@functools.cache
def _model_and_tokenizer() -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from helpers.hub import course_model

    location = course_model()
    tokenizer = AutoTokenizer.from_pretrained(location)
    model = AutoModelForCausalLM.from_pretrained(location).eval()
    return model, tokenizer


def _pad_id(tokenizer: Any) -> int | None:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


@functools.cache
def _alone(prompt: str, new_tokens: int) -> str:
    """Greedy new text of one prompt generated on its own: no batch, no padding."""
    import torch

    model, tokenizer = _model_and_tokenizer()
    inputs = tokenizer(prompt, return_tensors="pt").to(model.device)
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=new_tokens, do_sample=False,
                             pad_token_id=_pad_id(tokenizer))
    return tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


@functools.cache
def _right_padded(prompts: tuple[str, ...], new_tokens: int) -> tuple[str, ...]:
    """The answers a right-padded batch gives: the near-miss of exercise 1."""
    import copy

    import torch

    model, tokenizer = _model_and_tokenizer()
    tok = copy.deepcopy(tokenizer)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    rows = tok(list(prompts), padding=True, padding_side="right", return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**rows.to(model.device), max_new_tokens=new_tokens, do_sample=False,
                             pad_token_id=tok.pad_token_id)
    return tuple(tok.batch_decode(out[:, rows["input_ids"].shape[1]:], skip_special_tokens=True))


def _same(a: str, b: str) -> bool:
    return a.strip() == b.strip()


# ------------------------------------------------------------------------------ exercise 1


@exercise("04", "batch-answers", title="Generate a batch and get each answer back")
def batch_answers(answers: list) -> bool:
    if isinstance(answers, str) or not isinstance(answers, list | tuple):
        raise NotYet("`answers` should be a list of str, one per prompt: "
                     "tokenizer.batch_decode(...) returns one")
    if len(answers) != len(EX1_PROMPTS):
        raise NotYet(f"`answers` has {len(answers)} items; there are {len(EX1_PROMPTS)} prompts: "
                     "decode every row of the output (batch_decode), not one")
    if not all(isinstance(a, str) for a in answers):
        kinds = sorted({type(a).__name__ for a in answers if not isinstance(a, str)})
        raise NotYet(f"`answers` holds {', '.join(kinds)}, not str: decode the token ids "
                     "with batch_decode(..., skip_special_tokens=True)")
    expected = [_alone(p, EX1_NEW_TOKENS) for p in EX1_PROMPTS]
    if all(_same(a, e) for a, e in zip(answers, expected, strict=True)):
        return True
    if any(not _same(a, e) and a.strip().startswith(p.strip())
           for p, a, e in zip(EX1_PROMPTS, answers, expected, strict=True)):
        raise NotYet("some answers contain their prompt: cut every row at the padded width, "
                     "output[:, inputs['input_ids'].shape[1]:], not at each prompt's own length")
    if sorted(a.strip() for a in answers) == sorted(e.strip() for e in expected):
        raise NotYet("the right answers, in the wrong order: keep them in the order of "
                     "ex_prompts (put them back after sorting)")
    right_padded = _right_padded(EX1_PROMPTS, EX1_NEW_TOKENS)
    if all(_same(a, r) for a, r in zip(answers, right_padded, strict=True)):
        raise NotYet("these are the answers of a right-padded batch: pad on the left "
                     "(padding_side=\"left\"), so that every prompt ends at the last column")
    if any("<" in a and ">" in a for a in answers):
        raise NotYet("special tokens are left in the text: decode with "
                     "skip_special_tokens=True")
    wrong = [i for i, (a, e) in enumerate(zip(answers, expected, strict=True)) if not _same(a, e)]
    i = wrong[0]
    raise NotYet(f"answer {i} is {answers[i]!r}, but that prompt alone gives {expected[i]!r}: "
                 f"use greedy decoding (do_sample=False), max_new_tokens={EX1_NEW_TOKENS}, "
                 "left padding and the attention mask (**inputs)")


# ------------------------------------------------------------------------------ exercise 2


def _padding(lengths: list[int], order: list[int], size: int) -> int:
    pads = 0
    for start in range(0, len(order), size):
        chunk = [lengths[i] for i in order[start:start + size]]
        pads += sum(max(chunk) - n for n in chunk)
    return pads


def _padding_full_last(lengths: list[int], order: list[int], size: int) -> int:
    """The near-miss that pads the last, shorter batch as if it held ``size`` prompts."""
    last = order[(len(order) - 1) // size * size:]
    return _padding(lengths, order, size) + (size - len(last)) * max(lengths[i] for i in last)


@functools.cache
def _ex2_numbers() -> dict[str, int]:
    _, tokenizer = _model_and_tokenizer()
    lengths = [len(tokenizer.encode(p)) for p in many_prompts()]
    given = list(range(len(lengths)))
    by_length = sorted(given, key=lambda i: lengths[i])
    size = EX2_BATCH_SIZE
    return {
        "given": _padding(lengths, given, size),
        "sorted": _padding(lengths, by_length, size),
        "given-4": _padding(lengths, given, 4),
        "sorted-4": _padding(lengths, by_length, 4),
        "one-batch": _padding(lengths, given, len(lengths)),
        "real": sum(lengths),
        "given-full-last": _padding_full_last(lengths, given, size),
        "sorted-full-last": _padding_full_last(lengths, by_length, size),
    }


def _check_count(name: str, value: Any, expected: int, n: dict[str, int], which: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise NotYet(f"`{name}` should be an int (a number of pad tokens), "
                     f"not {type(value).__name__}")
    if value == expected:
        return
    if value == n[f"{which}-4"] and n[f"{which}-4"] != expected:
        raise NotYet(f"`{name}` = {value} is the count for batches of 4, as in gotcha 4; "
                     f"this exercise uses batches of {EX2_BATCH_SIZE}")
    if value == n["one-batch"]:
        raise NotYet(f"`{name}` = {value} pads all sixteen prompts to the longest of all; pad "
                     "each batch only to its own longest prompt")
    if value == n[f"{which}-full-last"]:
        raise NotYet(f"`{name}` = {value} counts the last batch as full; with 16 prompts in "
                     f"batches of {EX2_BATCH_SIZE} it holds only {16 % EX2_BATCH_SIZE}")
    if value in (n["real"], n["real"] + expected):
        raise NotYet(f"`{name}` = {value} counts real tokens too: count only the positions "
                     "whose attention_mask is 0")
    other = "sorted" if which == "given" else "given"
    if value == n[other] and n[other] != expected:
        raise NotYet("the two counts are swapped: pads_given_order is for the list as it "
                     "is, pads_sorted for the list sorted by length")
    raise NotYet(f"`{name}` = {value} is not it: for each batch, add up (its longest prompt's "
                 "length - each prompt's length)")


@exercise("04", "count-padding", title="Count the pad tokens, in the given order and sorted")
def count_padding_exercise(pads_given_order: int, pads_sorted: int) -> bool:
    n = _ex2_numbers()
    _check_count("pads_given_order", pads_given_order, n["given"], n, "given")
    _check_count("pads_sorted", pads_sorted, n["sorted"], n, "sorted")
    return True


# ------------------------------------------------------------------------------ exercise 3


@exercise("04", "knee", title="Pick a batch size from the throughput measurement")
def knee(good_batch_size: int, report: Any) -> bool:
    sizes = list(getattr(report, "batch_sizes", None) or [])
    rates = list(getattr(report, "tokens_per_s", None) or [])
    if not sizes or len(sizes) != len(rates):
        raise NotYet("`report` should be the measurement from the lesson: "
                     "report = measure_throughput(model, tokenizer, ...)")
    if isinstance(good_batch_size, bool) or not isinstance(good_batch_size, int):
        raise NotYet(f"`good_batch_size` should be an int, one of report.batch_sizes, "
                     f"not {type(good_batch_size).__name__}")
    if good_batch_size not in sizes:
        raise NotYet(f"{good_batch_size} was not measured; pick one of {sizes}")
    best = max(rates)
    rate = dict(zip(sizes, rates, strict=True))
    good = [b for b in sizes if rate[b] >= KNEE_SHARE * best]
    expected = min(good)
    if good_batch_size == expected:
        return True  # no numbers in the verdict: they differ from machine to machine
    if good_batch_size not in good:
        raise NotYet(f"batch {good_batch_size} gives {rate[good_batch_size]:.0f} tokens/s, "
                     f"only {rate[good_batch_size] / best:.0%} of the best ({best:.0f}): it "
                     "does not reach 90%")
    if rate[good_batch_size] == best:
        raise NotYet(f"batch {good_batch_size} is the fastest, but a smaller batch already "
                     "reaches 90% of it: the smallest such batch size is the answer (smaller "
                     "batches mean less waiting per row and less memory)")
    raise NotYet(f"batch {good_batch_size} reaches 90%, but a smaller one does too: "
                 "take the smallest")
