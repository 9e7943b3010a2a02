"""Lesson 05's exercise checkers: each near-miss a learner makes is refused with a message that
points at the mistake, and the right answer (made the way the lesson's solution makes it)
passes. Runs on the course model in use (the bundled one unless COURSE_MODEL is set)."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM, LlamaConfig

from helpers.exercises import lesson_05 as ex
from helpers.exercises import run_check
from helpers.hub import course_model
from helpers.memory import empty_model, kv_cache_dims
from helpers.memory_calculator import memory_calculator


def verdict(exercise, **answers):
    return run_check("05", exercise, **answers)


# ------------------------------------------------------------------------------ kv-cache


@pytest.fixture(scope="module")
def kv_parts():
    config = AutoConfig.from_pretrained(course_model())
    layers, heads, kv, head_dim = kv_cache_dims(config)
    value_bytes = AutoModelForCausalLM.from_pretrained(course_model()).dtype.itemsize
    return layers, heads, kv, head_dim, value_bytes


def kv_answer(parts, factor=2, heads=False, context=256, batch=2, value_bytes=None):
    layers, n_heads, kv, head_dim, vb = parts
    return factor * layers * (n_heads if heads else kv) * head_dim * context * batch * (
        value_bytes or vb)


def test_kv_cache_right_answer(kv_parts):
    assert verdict("kv-cache", kv_cache_256x2=kv_answer(kv_parts)).correct


@pytest.mark.parametrize("change, message", [
    (dict(factor=1), "keys and values"),
    (dict(batch=1), "batch of 2"),
    (dict(context=1, batch=1), "single token"),
    (dict(context=1), "single token"),
    (dict(factor=4), "factor 2"),
])
def test_kv_cache_near_misses(kv_parts, change, message):
    result = verdict("kv-cache", kv_cache_256x2=kv_answer(kv_parts, **change))
    assert not result.correct and message in result.message, result.message


def test_kv_cache_wrong_dtype_is_refused(kv_parts):
    other = 2 if kv_parts[4] == 4 else 4
    result = verdict("kv-cache", kv_cache_256x2=kv_answer(kv_parts, value_bytes=other))
    assert not result.correct and "bytes per value" in result.message, result.message


def test_kv_cache_counting_query_heads_is_refused_on_a_gqa_model(tmp_path, monkeypatch):
    """Built explicitly: a model whose key/value heads are fewer than its attention heads."""
    from transformers import LlamaForCausalLM

    import helpers.hub as hub

    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=1, max_position_embeddings=512)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(tmp_path)
    monkeypatch.setattr(hub, "course_model", lambda kind="base": str(tmp_path))
    ex._measured_kv.cache_clear()
    try:
        parts = (2, 4, 1, 8, 4)
        assert verdict("kv-cache", kv_cache_256x2=kv_answer(parts)).correct
        result = verdict("kv-cache", kv_cache_256x2=kv_answer(parts, heads=True))
        assert not result.correct and "key/value heads" in result.message, result.message
    finally:
        ex._measured_kv.cache_clear()


@pytest.mark.parametrize("answer", [1.5, "1024", True])
def test_kv_cache_wrong_type(answer):
    result = verdict("kv-cache", kv_cache_256x2=answer)
    assert not result.correct and "should be an int" in result.message


# ------------------------------------------------------------------------------ largest-batch


@pytest.fixture(scope="module")
def config_7b():
    return LlamaConfig(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                       num_attention_heads=32, num_key_value_heads=8, vocab_size=32000,
                       max_position_embeddings=32768, tie_word_embeddings=False)


def test_hand_count_of_the_7b_shape_agrees_with_the_model(config_7b):
    from accelerate import init_empty_weights

    with init_empty_weights():
        model = AutoModelForCausalLM.from_config(config_7b)
    assert ex.seven_b_parameters() == model.num_parameters()


def test_largest_batch_right_answer_the_lesson_way(config_7b):
    calc = memory_calculator(config_7b, storage="bfloat16", context=4096, available_gib=24)
    largest = 0
    while calc.set(batch=largest + 1).calculate().fits:
        largest += 1
    assert largest == 21
    assert verdict("largest-batch", largest_batch=largest).correct


@pytest.mark.parametrize("answer, message", [
    (22, "round down"),
    (48, "weights need their share"),
    (5, "caches all 32 attention heads"),
    (20, "fits too"),
    (30, "does not fit"),
    (21.0, "should be an int"),
])
def test_largest_batch_near_misses(answer, message):
    result = verdict("largest-batch", largest_batch=answer)
    assert not result.correct and message in result.message, result.message


def test_largest_batch_in_gb_instead_of_gib():
    answer = ex.largest_batch_for(24 * 10**9)
    result = verdict("largest-batch", largest_batch=answer)
    assert not result.correct and "GiB" in result.message, result.message


# ------------------------------------------------------------------------------ explicit-map


@pytest.fixture(scope="module")
def model():
    return empty_model(course_model())[0]


def lesson_map(model, last_block=None):
    """The lesson's solution: walk down to the last block, its siblings on the way to cpu."""
    last_block = last_block or [name for name, module in model.named_modules()
                                if type(module).__name__ in model._no_split_modules][-1]
    mine = {}
    path = last_block.split(".")
    for depth in range(len(path)):
        parent = ".".join(path[:depth])
        for child, _ in model.get_submodule(parent).named_children():
            name = f"{parent}.{child}" if parent else child
            if not (last_block == name or last_block.startswith(name + ".")):
                mine[name] = "cpu"
    mine[last_block] = "disk"
    return mine, last_block


def test_explicit_map_right_answer_loads(model):
    mine, _ = lesson_map(model)
    loaded = AutoModelForCausalLM.from_pretrained(course_model(), device_map=mine)
    assert verdict("explicit-map", explicit_map=loaded.hf_device_map).correct


def test_explicit_map_first_block_is_refused(model):
    mine, last = lesson_map(model)
    first = last.rsplit(".", 1)[0] + ".0"
    if first == last:
        pytest.skip("the model has one block")
    swapped = {k: ("disk" if k == first else "cpu") for k in mine}
    result = verdict("explicit-map", explicit_map=swapped)
    assert not result.correct and "last decoder block" in result.message, result.message


@pytest.mark.parametrize("change, message", [
    (lambda m, last: {"": "disk"}, "more than the last block"),
    (lambda m, last: {k: "cpu" for k in m}, "nothing is on disk"),
    (lambda m, last: {k: v for k, v in m.items() if k != "lm_head" and "embed" not in k
                      and "wte" not in k}, "in no entry"),
    (lambda m, last: {**m, "transformer.blocks.99": "cpu"}, "no module named"),
    (lambda m, last: {k: ("cuda:0" if v == "cpu" else v) for k, v in m.items()}, "only 'cpu'"),
    (lambda m, last: [last], "should be a dict"),
])
def test_explicit_map_near_misses(model, change, message):
    mine, last = lesson_map(model)
    result = verdict("explicit-map", explicit_map=change(mine, last))
    assert not result.correct and message in result.message, result.message
