"""The memory calculator widget, headless: set controls, click Calculate, read the HTML output."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig

import helpers
from helpers.memory import estimate_kv_cache, estimate_memory
from helpers.memory_calculator import MemoryCalculator, free_memory_bytes, memory_calculator


@pytest.fixture(scope="module")
def config_7b():
    return LlamaConfig(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                       num_attention_heads=32, num_key_value_heads=8, vocab_size=32000,
                       tie_word_embeddings=False)


def test_exported_from_helpers_and_callable_in_either_import_order():
    import helpers.memory_calculator as module

    # importing the module first makes helpers.memory_calculator the module: it must still call
    assert isinstance(helpers.memory_calculator(1000, available_gib=1), MemoryCalculator)
    assert isinstance(module(1000, available_gib=1), MemoryCalculator)
    assert "memory_calculator" in helpers.__all__


def test_from_a_config_reads_parameters_and_cache_shape(config_7b):
    calc = memory_calculator(config_7b, context=4096, available_gib=24)
    r = calc.result
    assert (r.parameters, r.layers, r.kv_heads, r.head_dim) == (7_241_732_096, 32, 8, 128)
    assert r.storage == "bfloat16"
    assert r.weights_bytes == 2 * r.parameters
    assert r.kv_cache_bytes == estimate_kv_cache(config_7b, 4096, 1, torch.bfloat16).total_bytes
    assert r.fits and "fits" in calc.output.value and "13.5 GiB" in calc.output.value


def test_click_recomputes_from_the_controls(config_7b):
    calc = memory_calculator(config_7b, context=4096, available_gib=24)
    calc.storage.value = "float32"
    calc.batch.value = 8
    calc.button.click()
    r = calc.result
    assert r.weights_bytes == 4 * r.parameters
    assert r.kv_cache_bytes == 2 * 32 * 8 * 128 * 4096 * 8 * 4  # float32 model: 4-byte cache
    assert not r.fits
    assert "does not fit" in calc.output.value and "short" in calc.output.value


@pytest.mark.parametrize("storage, per_param, kv_bytes", [
    ("bfloat16", 2, 2), ("float16", 2, 2), ("int8", 1, 2), ("4-bit", 0.5, 2), ("float32", 4, 4)])
def test_storage_formats(config_7b, storage, per_param, kv_bytes):
    r = memory_calculator(config_7b, storage=storage, context=100, available_gib=1).result
    assert r.weights_bytes == int(r.parameters * per_param)
    assert r.kv_cache_bytes == 2 * 32 * 8 * 128 * 100 * kv_bytes


def test_from_the_course_model_matches_the_estimate():
    calc = memory_calculator(context=0)  # None: the course model, its own dtype
    estimate = estimate_memory(helpers.course_model())
    assert calc.result.weights_bytes == estimate.total_bytes
    assert calc.result.kv_cache_bytes == 0


def test_from_a_loaded_model(tiny_llama):
    model = AutoModelForCausalLM.from_pretrained(tiny_llama)
    r = memory_calculator(model, context=10, batch=3).result
    assert r.storage == "bfloat16" and r.parameters == model.num_parameters()
    assert r.kv_cache_bytes == estimate_kv_cache(model, 10, 3).total_bytes


def test_a_plain_parameter_count():
    calc = memory_calculator(7_000_000_000, storage="4-bit", context=0, available_gib=4)
    assert calc.result.weights_bytes == 3_500_000_000 and calc.result.fits


def test_available_defaults_to_this_machines_free_memory():
    calc = memory_calculator(1000)
    assert abs(calc.available_gib.value * 2**30 - free_memory_bytes()) < 0.05 * 2**30 + 0.02 * (
        free_memory_bytes())


def test_negative_input_is_reported_not_raised():
    calc = memory_calculator(1000, available_gib=1)
    calc.set(batch=-1)
    assert calc.calculate() is None and calc.result is None
    assert "batch must be 0 or more" in calc.output.value


def test_unknown_control_is_refused():
    with pytest.raises(ValueError, match="no control 'colour'"):
        memory_calculator(1000).set(colour="red")


def test_is_a_widget_with_css_hooks():
    calc = memory_calculator(1000)
    assert isinstance(calc, MemoryCalculator)
    assert "fp-memory-calculator" in calc._dom_classes
    assert "fp-memcalc-output" in calc.output._dom_classes
