"""Lesson 03's catalogue entries (generation), each raised FOR REAL by transformers 5.24 on the
bundled base model, diagnosed, and each fix the diagnosis names shown to work."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

from helpers.diagnosis import RULES, diagnose, expect_error
from helpers.models import bundled_path


def raised(fn, *args, **kwargs) -> BaseException:
    try:
        fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - whatever the library raises
        return exc
    pytest.fail(f"{getattr(fn, '__name__', fn)} raised nothing")


def rule_for(exc: BaseException) -> str:
    """The name of the first catalogue rule that matches (what diagnose() uses)."""
    from helpers.diagnosis import Facts, exception_chain

    facts = Facts(exc, exception_chain(exc), {})
    return next(rule.name for rule in RULES if any(True for _ in rule.match(facts)))


@pytest.fixture(scope="module")
def base():
    folder = bundled_path("stories-base")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    inputs = tokenizer("Once upon a time, there was a fox.", return_tensors="pt")
    return model, tokenizer, inputs


def test_stop_strings_without_tokenizer(base):
    model, tokenizer, inputs = base
    exc = raised(model.generate, **inputs, max_new_tokens=5, stop_strings=["fox"],
                 pad_token_id=tokenizer.eos_token_id)
    assert isinstance(exc, ValueError)
    assert rule_for(exc) == "stop-strings-no-tokenizer"
    d = diagnose(exc)
    assert "tokenizer=tokenizer" in d.fix
    # the fix works
    model.generate(**inputs, max_new_tokens=5, stop_strings=["fox"], tokenizer=tokenizer,
                   pad_token_id=tokenizer.eos_token_id)


def test_max_length_below_the_prompt(base):
    model, tokenizer, inputs = base
    n = inputs["input_ids"].shape[1]
    exc = raised(model.generate, **inputs, max_length=n - 2, max_new_tokens=None,
                 pad_token_id=tokenizer.eos_token_id)
    assert isinstance(exc, ValueError)
    assert rule_for(exc) == "max-length-below-prompt"
    d = diagnose(exc)
    assert f"{n} tokens" in d.cause and f"max_length={n - 2}" in d.cause
    assert "max_new_tokens" in d.fix
    out = model.generate(**inputs, max_length=n + 3, max_new_tokens=None, min_new_tokens=3,
                         pad_token_id=tokenizer.eos_token_id)
    assert out.shape[1] == n + 3  # the fix: prompt length + N


def test_zero_temperature_when_sampling(base):
    model, tokenizer, inputs = base
    exc = raised(model.generate, **inputs, do_sample=True, temperature=0.0, max_new_tokens=3,
                 pad_token_id=tokenizer.eos_token_id)
    assert isinstance(exc, ValueError)
    assert rule_for(exc) == "zero-temperature"
    assert "temperature=0.0" in diagnose(exc).cause
    assert "do_sample=False" in diagnose(exc).fix


@pytest.mark.parametrize("how", ["validate", "save_config", "save_model"])
def test_sampling_flag_on_a_greedy_config(base, how, tmp_path):
    model, _, _ = base
    if how == "validate":
        exc = raised(GenerationConfig(do_sample=False, temperature=0.7).validate, strict=True)
    elif how == "save_config":
        exc = raised(GenerationConfig(do_sample=False, top_p=0.9).save_pretrained, tmp_path)
    else:
        copy = AutoModelForCausalLM.from_pretrained(bundled_path("stories-base"))
        copy.generation_config.temperature = 0.7
        exc = raised(copy.save_pretrained, tmp_path)
    assert isinstance(exc, ValueError)
    assert rule_for(exc) == "invalid-generation-config"
    d = diagnose(exc)
    assert ("top_p" if how == "save_config" else "temperature") in d.cause
    # the fixes the diagnosis names
    GenerationConfig(do_sample=True, temperature=0.7).validate(strict=True)
    unset = GenerationConfig(do_sample=False, temperature=0.7)
    unset.temperature = None
    unset.validate(strict=True)


def test_generation_settings_on_model_config(base):
    _, tokenizer, inputs = base
    model = AutoModelForCausalLM.from_pretrained(bundled_path("stories-base"))
    model.config.temperature = 0.7
    exc = raised(model.generate, **inputs, max_new_tokens=3, pad_token_id=tokenizer.eos_token_id)
    assert isinstance(exc, ValueError)
    assert rule_for(exc) == "generation-in-model-config"
    assert "'temperature': 0.7" in diagnose(exc).cause
    # the fix the diagnosis names: move it to generation_config
    del model.config.temperature
    model.generation_config.temperature = 0.7
    model.generation_config.do_sample = True
    torch.manual_seed(0)
    model.generate(**inputs, max_new_tokens=3, pad_token_id=tokenizer.eos_token_id)


def test_expect_error_shows_the_generation_diagnosis(base, capsys):
    model, tokenizer, inputs = base
    with expect_error(ValueError) as caught:
        model.generate(**inputs, max_new_tokens=3, stop_strings=["x"])
    assert caught.diagnosis.title.startswith("stop_strings needs the tokenizer")
    assert "Raised ValueError: There are one or more stop strings" in capsys.readouterr().out
