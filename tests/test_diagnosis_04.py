"""Lesson 04's catalogue entries (batching), each raised FOR REAL by transformers 5.24 on the
bundled base model, diagnosed, and each fix the diagnosis names shown to work."""

from __future__ import annotations

import copy

import pytest
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    TextIteratorStreamer,
    TextStreamer,
    set_seed,
)

from helpers.diagnosis import RULES, Facts, diagnose, exception_chain, expect_error
from helpers.generation import generate_text
from helpers.models import bundled_path

PROMPTS = ["Once upon a time, there was a little fox named Leo.", "The cat sat"]


def raised(fn, *args, **kwargs) -> BaseException:
    try:
        fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - whatever the library raises
        return exc
    pytest.fail(f"{getattr(fn, '__name__', fn)} raised nothing")


def rule_for(exc: BaseException) -> str:
    """The name of the first catalogue rule that matches (what diagnose() uses)."""
    facts = Facts(exc, exception_chain(exc), {})
    return next(rule.name for rule in RULES if any(True for _ in rule.match(facts)))


@pytest.fixture(scope="module")
def base():
    folder = bundled_path("stories-base")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    batch_tok = copy.deepcopy(tokenizer)
    batch_tok.pad_token = batch_tok.eos_token
    batch = batch_tok(PROMPTS, padding=True, padding_side="left", return_tensors="pt")
    return model, tokenizer, batch_tok, batch


@pytest.mark.parametrize("streamer_class", [TextStreamer, TextIteratorStreamer])
def test_streamer_with_a_batch(base, streamer_class, capsys):
    model, tokenizer, batch_tok, batch = base
    exc = raised(model.generate, **batch, max_new_tokens=3, do_sample=False,
                 pad_token_id=batch_tok.pad_token_id, streamer=streamer_class(batch_tok))
    assert isinstance(exc, ValueError)
    assert rule_for(exc) == "streamer-batch"
    d = diagnose(exc)
    assert "batch" in d.title and "Stream one prompt" in d.fix
    # the fix works: one prompt streams, the batch runs without a streamer
    one = tokenizer(PROMPTS[0], return_tensors="pt")
    model.generate(**one, max_new_tokens=3, do_sample=False, pad_token_id=tokenizer.eos_token_id,
                   streamer=TextStreamer(tokenizer, skip_prompt=True))
    assert capsys.readouterr().out.strip()
    out = model.generate(**batch, max_new_tokens=3, do_sample=False,
                         pad_token_id=batch_tok.pad_token_id)
    assert out.shape[0] == len(PROMPTS)


def test_the_course_helper_refuses_streaming_a_batch_with_the_same_diagnosis(base):
    model, tokenizer, _, _ = base
    exc = raised(generate_text, model, tokenizer, PROMPTS, max_new_tokens=3, stream=True)
    assert isinstance(exc, ValueError)
    assert rule_for(exc) == "streamer-batch"


def test_greedy_num_return_sequences(base):
    model, _, batch_tok, batch = base
    exc = raised(model.generate, **batch, max_new_tokens=3, do_sample=False,
                 num_return_sequences=3, pad_token_id=batch_tok.pad_token_id)
    assert isinstance(exc, ValueError)
    assert rule_for(exc) == "greedy-num-return-sequences"
    d = diagnose(exc)
    assert "num_return_sequences=3" in d.cause and "num_beams >= 3" in d.fix
    # both fixes work, and the rows come grouped per prompt
    set_seed(0)
    sampled = model.generate(**batch, max_new_tokens=3, do_sample=True, num_return_sequences=3,
                             pad_token_id=batch_tok.pad_token_id)
    beams = model.generate(**batch, max_new_tokens=3, num_beams=3, num_return_sequences=3,
                           pad_token_id=batch_tok.pad_token_id)
    width = batch["input_ids"].shape[1]
    for out in (sampled, beams):
        assert out.shape[0] == 3 * len(PROMPTS)
        for row in range(out.shape[0]):
            assert out[row, :width].tolist() == batch["input_ids"][row // 3].tolist()


def test_expect_error_shows_the_batching_diagnoses(base):
    model, _, batch_tok, batch = base
    with expect_error(ValueError) as caught:
        model.generate(**batch, max_new_tokens=3, pad_token_id=batch_tok.pad_token_id,
                       streamer=TextStreamer(batch_tok))
    assert caught.diagnosis.title.startswith("A streamer prints one text")
    with expect_error(ValueError) as caught:
        model.generate(**batch, max_new_tokens=3, do_sample=False, num_return_sequences=2,
                       pad_token_id=batch_tok.pad_token_id)
    assert caught.diagnosis.title == "Several answers per prompt need sampling or beam search"
