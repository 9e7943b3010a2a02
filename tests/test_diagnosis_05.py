"""Lesson 05's catalogue entries (quantization and max_memory), each raised FOR REAL by
transformers 5.24 / accelerate 1.15 on the bundled base model, diagnosed, and the fix the
diagnosis names shown to work where this machine can show it."""

from __future__ import annotations

import importlib.util

import pytest
from transformers import AutoModelForCausalLM, BitsAndBytesConfig

from helpers.diagnosis import RULES, diagnose, expect_error
from helpers.models import bundled_path

PATH = bundled_path("stories-base")


def raised(fn, *args, **kwargs) -> BaseException:
    try:
        fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - whatever the library raises
        return exc
    pytest.fail(f"{getattr(fn, '__name__', fn)} raised nothing")


def rule_for(exc: BaseException) -> str:
    from helpers.diagnosis import Facts, exception_chain

    facts = Facts(exc, exception_chain(exc), {})
    return next(rule.name for rule in RULES if any(True for _ in rule.match(facts)))


@pytest.mark.parametrize("bits", ["4", "8"])
def test_removed_load_in_kbit(bits):
    exc = raised(AutoModelForCausalLM.from_pretrained, PATH, **{f"load_in_{bits}bit": True})
    assert isinstance(exc, TypeError)
    assert rule_for(exc) == "removed-load-in-kbit"
    d = diagnose(exc)
    assert f"load_in_{bits}bit" in d.title
    assert f"BitsAndBytesConfig(load_in_{bits}bit=True)" in d.fix


@pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is not None,
                    reason="bitsandbytes is installed here")
@pytest.mark.parametrize("quant", [dict(load_in_4bit=True), dict(load_in_8bit=True)])
def test_no_bitsandbytes(quant):
    exc = raised(AutoModelForCausalLM.from_pretrained, PATH,
                 quantization_config=BitsAndBytesConfig(**quant))
    assert isinstance(exc, ImportError)
    assert rule_for(exc) == "no-bitsandbytes"
    assert "pip install -U bitsandbytes" in diagnose(exc).fix
    # the fix for a CPU: leave quantization out
    assert AutoModelForCausalLM.from_pretrained(PATH).num_parameters() > 0


@pytest.mark.parametrize("key", ["cuda:0", "gpu", "cuda"])
def test_max_memory_device(key):
    exc = raised(AutoModelForCausalLM.from_pretrained, PATH, device_map="auto",
                 max_memory={key: "1GB", "cpu": "1GB"})
    assert isinstance(exc, ValueError)
    assert rule_for(exc) == "max-memory-device"
    d = diagnose(exc)
    assert key in d.title and "integers" in d.cause
    # the fix: integer GPU keys are accepted (planned here, where no GPU exists)
    from helpers.memory import plan_device_map

    assert set(plan_device_map(PATH, {0: "1GB", "cpu": "1GB"}).values()) <= {0, "cpu"}


@pytest.mark.parametrize("size", ["2 gigs", "lots", "20 G B"])
def test_memory_size_format(size):
    exc = raised(AutoModelForCausalLM.from_pretrained, PATH, device_map="auto",
                 max_memory={"cpu": size})
    assert isinstance(exc, ValueError)
    assert rule_for(exc) == "memory-size-format"
    assert size in diagnose(exc).title
    model = AutoModelForCausalLM.from_pretrained(PATH, device_map="auto", max_memory={"cpu": "1GB"})
    assert {str(p.device) for p in model.parameters()} == {"cpu"}


def test_expect_error_shows_the_diagnosis():
    with expect_error(TypeError) as caught:
        AutoModelForCausalLM.from_pretrained(PATH, load_in_4bit=True)
    assert caught.diagnosis.title == "load_in_4bit= was removed in transformers 5"
