"""helpers.memory: estimates from the config alone agree with the real footprint."""

from __future__ import annotations

import json
import shutil
import time

import pytest
import torch
from tiny_model_data import HUB_ID

from helpers import memory
from helpers.errors import CourseError
from helpers.loading import load


@pytest.mark.parametrize("fixture, dtype", [("tiny_gpt2", torch.float32),
                                            ("tiny_llama", torch.bfloat16)])
def test_estimate_matches_the_real_footprint(fixture, dtype, request):
    folder = request.getfixturevalue(fixture)
    estimate = memory.estimate_memory(folder)  # "auto": the checkpoint's dtype
    assert (estimate.dtype, estimate.dtype_source) == (dtype, "checkpoint config")
    model = load(folder, dtype="auto").model
    real = model.get_memory_footprint()
    assert abs(estimate.total_bytes - real) <= 0.01 * real
    assert estimate.n_parameters == sum(p.numel() for p in model.parameters())


def test_bf16_estimate_is_half_the_fp32_one(tiny_gpt2):
    fp32 = memory.estimate_memory(tiny_gpt2, "float32")
    bf16 = memory.estimate_memory(tiny_gpt2, torch.bfloat16)
    assert bf16.total_bytes * 2 == fp32.total_bytes
    assert bf16.dtype_source == "requested"


def test_tied_weights_are_counted_once(tiny_gpt2):
    estimate = memory.estimate_memory(tiny_gpt2, "float32")
    parts = {name: (size, note) for name, size, note in estimate.modules}
    assert parts["lm_head"][0] == 0 and "tied" in parts["lm_head"][1]
    assert sum(size for size, _ in parts.values()) == estimate.total_bytes
    assert parts["transformer.h"][1] == "2 x GPT2Block"
    assert estimate.largest_modules == ("transformer.h.0", "transformer.h.1")
    assert estimate.largest_module_bytes == estimate.total_bytes - sum(
        parts[n][0] for n in ("transformer.wte", "transformer.wpe", "transformer.ln_f")
    ) >> 1


def test_estimate_display(tiny_llama):
    estimate = memory.estimate_memory(tiny_llama)
    text = str(estimate)
    for words in ("bfloat16 (checkpoint config)", "parameters", "weights", "model.layers",
                  "2 x LlamaDecoderLayer", "lm_head"):
        assert words in text
    assert "<table" in estimate._repr_html_()


def test_dtype_from_weights_when_config_names_none(tiny_llama, tmp_path):
    folder = tmp_path / "no-dtype"
    shutil.copytree(tiny_llama, folder)
    config = json.loads((folder / "config.json").read_text())
    config.pop("dtype", None)
    config.pop("torch_dtype", None)
    (folder / "config.json").write_text(json.dumps(config))
    estimate = memory.estimate_memory(folder)
    assert (estimate.dtype, estimate.dtype_source) == (torch.bfloat16, "checkpoint weights")


def test_estimate_for_a_cached_hub_model_offline(hub_cache, offline, tiny_gpt2):
    assert memory.estimate_memory(HUB_ID).total_bytes == memory.estimate_memory(
        tiny_gpt2).total_bytes


def test_estimate_bundled_name(bundled):
    assert memory.estimate_memory("stories-chat").dtype == torch.bfloat16


@pytest.mark.parametrize("fixture, words", [("unknown_type_folder", "my_fancy_llm"),
                                            ("vit_folder", "ViTConfig")])
def test_estimate_of_a_bad_config_is_diagnosed(fixture, words, request):
    with pytest.raises(CourseError) as info:
        memory.estimate_memory(request.getfixturevalue(fixture))
    assert isinstance(info.value.__cause__, ValueError) and words in str(info.value)


def test_estimate_rejects_a_bad_dtype(tiny_gpt2):
    with pytest.raises(CourseError, match="Did you mean 'float16'"):
        memory.estimate_memory(tiny_gpt2, "fp16")


def test_estimate_offline_uncached_is_fast(offline, tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    start = time.perf_counter()
    with pytest.raises(CourseError, match="not available offline"):
        memory.estimate_memory("meta-llama/Llama-3.1-8B")
    assert time.perf_counter() - start < 2


def test_plan_device_map_spills_to_disk(tiny_gpt2):
    total = memory.estimate_memory(tiny_gpt2, "float32").total_bytes
    plan = memory.plan_device_map(tiny_gpt2, {"cpu": int(total * 0.66), "disk": "1GB"},
                                  dtype="float32")
    assert set(plan.values()) == {"cpu", "disk"}
    everything = memory.plan_device_map(tiny_gpt2, {"cpu": "1GB"}, dtype="float32")
    assert set(everything.values()) == {"cpu"}


def test_plan_matches_what_from_pretrained_does(tiny_gpt2):
    budget = {"cpu": int(memory.estimate_memory(tiny_gpt2, "float32").total_bytes * 0.66),
              "disk": "1GB"}
    plan = memory.plan_device_map(tiny_gpt2, budget, dtype="float32")
    model = load(tiny_gpt2, dtype="float32", device_map="auto", max_memory=budget).model
    assert plan == {k: str(v) for k, v in model.hf_device_map.items()}


@pytest.mark.parametrize("max_memory", [{}, "1GB", {"gpu0": "1GB"}])
def test_plan_with_bad_max_memory(tiny_gpt2, max_memory):
    with pytest.raises(CourseError, match="max_memory") as info:
        memory.plan_device_map(tiny_gpt2, max_memory)
    assert "'disk'" in info.value.diagnosis.fix


def test_footprint_and_bytes_by_device(tiny_gpt2):
    model = load(tiny_gpt2, dtype="float32").model
    assert memory.footprint(model) == model.get_memory_footprint()
    assert memory.bytes_by_device(model) == {"cpu": memory.footprint(model)}
    model.hf_device_map = {"transformer.h": "disk", "": "cpu"}
    split = memory.bytes_by_device(model)
    assert split["disk"] == sum(p.numel() * 4 for p in model.transformer.h.parameters())
    assert split["cpu"] + split["disk"] == memory.footprint(model)


def test_plan_device_map_leaves_the_callers_budget_as_it_was(tiny_gpt2):
    budget = {"cpu": "1MB", "disk": "1GB"}
    memory.plan_device_map(tiny_gpt2, budget, dtype="float32")
    assert budget == {"cpu": "1MB", "disk": "1GB"}


def test_offload_budget_splits_the_model_between_memory_and_disk(tiny_gpt2):
    budget = memory.offload_budget(tiny_gpt2, dtype="float32")
    total = memory.estimate_memory(tiny_gpt2, dtype="float32").total_bytes
    assert budget["disk"] == "100GB" and 0 < budget["cpu"] < total
    places = set(memory.plan_device_map(tiny_gpt2, budget, dtype="float32").values())
    assert places == {"cpu", "disk"}
    tenths = round(10 * budget["cpu"] / total)
    for smaller in range(3, tenths):  # the smallest tenth that splits, from 3/10 up
        plan = memory.plan_device_map(tiny_gpt2, {"cpu": total * smaller // 10, "disk": "1GB"},
                                      dtype="float32")
        assert set(plan.values()) != {"cpu", "disk"}


# --------------------------------------------------------------------------- lesson 05 additions


def test_bytes_per_parameter():
    assert [memory.bytes_per_parameter(d) for d in
            ("float32", torch.bfloat16, "fp16", "int8", "4-bit")] == [4, 2, 2, 1, 0.5]
    with pytest.raises(CourseError, match="Unknown storage format"):
        memory.bytes_per_parameter("int3")


@pytest.mark.parametrize("arch, kwargs", [
    ("gpt2", dict(n_embd=32, n_layer=2, n_head=4)),
    ("llama", dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                   num_key_value_heads=2, intermediate_size=64)),
    ("mistral", dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=1, intermediate_size=64, sliding_window=None)),
    ("qwen2", dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                   num_key_value_heads=2, intermediate_size=64)),
    ("phi3", dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, intermediate_size=64, pad_token_id=0)),
    ("gpt_neox", dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=64)),
    ("opt", dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, ffn_dim=64,
                 word_embed_proj_dim=32)),
    ("gemma", dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                   num_key_value_heads=1, head_dim=16, intermediate_size=64)),
    ("gpt_bigcode", dict(n_embd=32, n_layer=2, n_head=4, multi_query=True)),
    ("falcon", dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                    multi_query=True, new_decoder_architecture=False)),
])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_kv_cache_estimate_matches_a_real_cache(arch, kwargs, dtype):
    """The formula, read from each architecture's own config names, against a measured cache."""
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.for_model(arch, vocab_size=64, max_position_embeddings=64, **kwargs)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=dtype).eval()
    ids = torch.randint(0, 64, (3, 11))
    with torch.no_grad():
        cache = model(input_ids=ids, use_cache=True).cache
    estimate = memory.estimate_kv_cache(model, context=11, batch=3)
    assert estimate.total_bytes == memory.cache_bytes(cache) > 0
    assert memory.estimate_kv_cache(config, 11, 3, dtype).total_bytes == estimate.total_bytes


def test_kv_cache_from_a_name_and_its_display(tiny_llama):
    estimate = memory.estimate_kv_cache(tiny_llama, context=100, batch=2)  # bf16 checkpoint
    assert (estimate.layers, estimate.attention_heads, estimate.kv_heads) == (2, 2, 1)
    assert estimate.bytes_per_value == 2
    assert estimate.total_bytes == 2 * 2 * 1 * 16 * 100 * 2 * 2
    assert estimate.per_token_bytes * 200 == estimate.total_bytes
    assert "grouped-query" in str(estimate) and "<table" in estimate._repr_html_()
    with pytest.raises(CourseError, match="Negative"):
        memory.estimate_kv_cache(tiny_llama, context=-1)


@pytest.fixture(scope="module")
def empty_7b():
    from accelerate import init_empty_weights
    from transformers import AutoModelForCausalLM, LlamaConfig

    config = LlamaConfig(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                         num_attention_heads=32, num_key_value_heads=8, vocab_size=32000)
    with init_empty_weights():
        return AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)


def test_strategies_plan_simulated_gpus_without_gpus(empty_7b, caplog):
    budget = {0: "8GiB", 1: "8GiB", "cpu": "16GiB"}
    per = {s: memory.placement_bytes(empty_7b, memory.plan_device_map(empty_7b, budget,
                                                                        strategy=s))
           for s in memory.STRATEGIES}
    total = sum(per["auto"].values())
    assert all(sum(p.values()) == total for p in per.values())
    assert per["auto"] == per["balanced"]
    assert per["balanced_low_0"]["cuda:0"] < per["balanced"]["cuda:0"]
    assert per["sequential"]["cuda:0"] > per["sequential"]["cuda:1"]
    assert "is not available" not in caplog.text
    assert budget == {0: "8GiB", 1: "8GiB", "cpu": "16GiB"}


def test_unknown_strategy(empty_7b):
    with pytest.raises(CourseError, match="Unknown device_map strategy"):
        memory.plan_device_map(empty_7b, {"cpu": "1GB"}, strategy="fastest")


def test_measure_memory_sees_an_allocation():
    result, used = memory.measure_memory(lambda: torch.ones(64 * 2**20, dtype=torch.uint8))
    assert result.numel() == 64 * 2**20
    assert used.peak_bytes >= 60 * 2**20 and used.after_bytes >= 60 * 2**20
    _, gone = memory.measure_memory(lambda: torch.ones(64 * 2**20, dtype=torch.uint8).sum())
    assert gone.peak_bytes >= gone.after_bytes
