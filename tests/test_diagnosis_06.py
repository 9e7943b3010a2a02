"""Lesson 06's catalogue entries (speed), each raised FOR REAL by transformers 5.24 / the course
helpers on the bundled base model, diagnosed, and each fix the diagnosis names shown to work."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, StaticCache

import helpers
from helpers.diagnosis import RULES, Facts, diagnose, exception_chain
from helpers.models import bundled_path

PROMPT = "Once upon a time, there was a fox."


def raised(fn, *args, **kwargs) -> BaseException:
    try:
        fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - whatever the library raises
        return exc
    pytest.fail(f"{getattr(fn, '__name__', fn)} raised nothing")


def rule_for(exc: BaseException) -> str:
    facts = Facts(exc, exception_chain(exc), {})
    return next(rule.name for rule in RULES if any(True for _ in rule.match(facts)))


@pytest.fixture(scope="module")
def base():
    folder = bundled_path("stories-base")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    return model, tokenizer, tokenizer(PROMPT, return_tensors="pt")


def test_static_cache_too_short(base):
    model, tokenizer, inputs = base
    n = inputs["input_ids"].shape[1]
    small = StaticCache(config=model.config, max_cache_len=n + 2)
    exc = raised(model.generate, **inputs, cache=small, max_new_tokens=8, min_new_tokens=8,
                 do_sample=False, pad_token_id=tokenizer.eos_token_id)
    assert isinstance(exc, IndexError)
    assert rule_for(exc) == "static-cache-full"
    d = diagnose(exc)
    assert f"max_cache_len={n + 2}" in d.cause and f"position {n + 2}" in d.cause
    assert "max_cache_len=prompt tokens + max_new_tokens" in d.fix
    # the fixes work: a long enough cache, or generate() sizing a static cache itself
    fits = StaticCache(config=model.config, max_cache_len=n + 8)
    out = model.generate(**inputs, cache=fits, max_new_tokens=8, min_new_tokens=8,
                         do_sample=False, pad_token_id=tokenizer.eos_token_id)
    auto = model.generate(**inputs, cache_implementation="static", max_new_tokens=8,
                          min_new_tokens=8, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    assert out.shape[1] == n + 8 and torch.equal(out, auto)


def test_static_cache_too_short_in_a_manual_loop(base):
    """The same error from a hand-written forward loop (no generate())."""
    model, _, inputs = base
    n = inputs["input_ids"].shape[1]
    cache = StaticCache(config=model.config, max_cache_len=n)

    def loop():
        with torch.inference_mode():
            out = model(**inputs, cache=cache, use_cache=True)
            model(input_ids=out.logits[:, -1].argmax(-1, keepdim=True), cache=cache,
                  use_cache=True)

    exc = raised(loop)
    assert rule_for(exc) == "static-cache-full"


def test_unknown_cache_implementation(base):
    model, tokenizer, inputs = base
    exc = raised(model.generate, **inputs, max_new_tokens=3, cache_implementation="statc",
                 pad_token_id=tokenizer.eos_token_id)
    assert isinstance(exc, ValueError)
    assert rule_for(exc) == "bad-cache-implementation"
    d = diagnose(exc)
    assert "Did you mean 'static'?" in d.cause and "offloaded" in d.cause
    model.generate(**inputs, max_new_tokens=3, cache_implementation="static",
                   pad_token_id=tokenizer.eos_token_id)


def test_unknown_cache_implementation_without_a_close_name(base):
    model, tokenizer, inputs = base
    exc = raised(model.generate, **inputs, max_new_tokens=3, cache_implementation="zzz",
                 pad_token_id=tokenizer.eos_token_id)
    d = diagnose(exc)
    assert rule_for(exc) == "bad-cache-implementation" and "Did you mean" not in d.cause


def test_measure_speed_one_token(base):
    model, tokenizer, _ = base
    exc = raised(helpers.measure_speed, model, tokenizer, PROMPT, max_new_tokens=1)
    assert isinstance(exc, ValueError)
    assert rule_for(exc) == "too-few-tokens-to-time"
    d = diagnose(exc)
    assert "prefill" in d.cause and "max_new_tokens=32" in d.fix
    report = helpers.measure_speed(model, tokenizer, PROMPT, max_new_tokens=2, repeats=1)
    assert report.new_tokens == 2 and report.decode_tokens_per_s > 0
