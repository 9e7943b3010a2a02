"""Checkers for lesson 05 ("Memory, precision and device maps").

Expected values are computed from the course model in use, a second way: the KV cache is
measured on a real forward pass (the learner uses the formula), the 7B-shaped model's size is
counted from its dimensions by hand (the learner uses the calculator, which builds the model),
and the last decoder block is found as the last child of the model's largest ModuleList (the
learner's way goes through ``_no_split_modules``).
"""

from __future__ import annotations

import functools
import math
from typing import Any

from helpers.exercises import NotYet, exercise

KV_CONTEXT, KV_BATCH = 256, 2

#: the 7B-shaped config of the lesson (Mistral-7B's shapes, untied embeddings)
SEVEN_B = dict(vocab=32000, hidden=4096, intermediate=14336, layers=32, heads=32, kv_heads=8,
               head_dim=128)
CONTEXT_7B, AVAILABLE_GIB = 4096, 24


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@functools.lru_cache(maxsize=4)
def _measured_kv(location: str) -> tuple[int, int, int, int]:
    """(cache bytes measured, bytes per value, attention heads, key/value heads)."""
    import torch
    from transformers import AutoModelForCausalLM

    from helpers.memory import cache_bytes

    model = AutoModelForCausalLM.from_pretrained(location)
    ids = torch.randint(0, model.config.get_text_config().vocab_size, (KV_BATCH, KV_CONTEXT))
    with torch.no_grad():
        cache = model(input_ids=ids, use_cache=True).cache
    text = model.config.get_text_config()
    heads = int(text.num_attention_heads)
    kv = int(getattr(text, "num_key_value_heads", None) or heads)
    return cache_bytes(cache), model.dtype.itemsize, heads, kv


@exercise("05", "kv-cache", title="The course model's KV cache for 2 x 256 tokens, by hand")
def kv_cache(kv_cache_256x2: int) -> bool:
    from helpers.hub import course_model

    if not _is_int(kv_cache_256x2):
        raise NotYet("`kv_cache_256x2` should be an int, a number of bytes")
    expected, value_bytes, heads, kv = _measured_kv(course_model())
    got = kv_cache_256x2
    if got == expected:
        return True
    ratio = got / expected if expected else 0
    if kv != heads and math.isclose(ratio, heads / kv):
        raise NotYet(f"{got:,} counts all {heads} attention heads; only the {kv} key/value "
                     "heads are cached (num_key_value_heads: grouped-query attention)")
    if math.isclose(ratio, 1 / KV_CONTEXT) or math.isclose(ratio, 1 / (KV_CONTEXT * KV_BATCH)):
        raise NotYet(f"{got:,} bytes is the cache of a single token: multiply by the "
                     f"{KV_CONTEXT} tokens and the batch of {KV_BATCH}")
    if math.isclose(ratio, 0.5):
        raise NotYet(f"{got:,} is half the real cache: count both keys and values (the factor "
                     f"2), the batch of {KV_BATCH}, and {value_bytes} bytes per value (the dtype "
                     "the model loads in by default)")
    if math.isclose(ratio, 2) or math.isclose(ratio, 4):
        raise NotYet(f"{got:,} is {ratio:g}x the real cache: the model loads in a dtype of "
                     f"{value_bytes} bytes per value, and keys and values make the factor 2 "
                     "once")
    raise NotYet(f"{got:,} bytes is not it: 2 x layers x key/value heads x head_dim x "
                 f"{KV_CONTEXT} tokens x {KV_BATCH} sequences x bytes per value")


def seven_b_parameters() -> int:
    """The lesson's 7B-shaped Llama, counted from its dimensions."""
    d = SEVEN_B
    h, kv_width = d["hidden"], d["kv_heads"] * d["head_dim"]
    attention = h * d["heads"] * d["head_dim"] * 2 + 2 * h * kv_width  # q, o; k, v
    mlp = 3 * h * d["intermediate"]
    per_layer = attention + mlp + 2 * h  # two RMSNorms
    return 2 * d["vocab"] * h + d["layers"] * per_layer + h  # embeddings, lm_head, final norm


def _kv_per_sequence(kv_heads: int) -> int:
    d = SEVEN_B
    return 2 * d["layers"] * kv_heads * d["head_dim"] * CONTEXT_7B * 2


def largest_batch_for(available: float, weights_per_param: int = 2, kv_heads: int | None = None,
                      count_weights: bool = True) -> int:
    weights = seven_b_parameters() * weights_per_param if count_weights else 0
    per_sequence = _kv_per_sequence(kv_heads or SEVEN_B["kv_heads"])
    return max(0, int((available - weights) // per_sequence))


@exercise("05", "largest-batch", title="The largest batch of the 7B shape in 24 GiB")
def largest_batch(largest_batch: int) -> bool:
    if not _is_int(largest_batch):
        raise NotYet("`largest_batch` should be an int, a number of sequences")
    gib = AVAILABLE_GIB * 2**30
    expected = largest_batch_for(gib)
    if largest_batch == expected:
        return True
    if largest_batch == expected + 1:
        over = seven_b_parameters() * 2 + _kv_per_sequence(SEVEN_B["kv_heads"]) * (
            expected + 1) - gib
        raise NotYet(f"with a batch of {expected + 1} the total is {over / 2**20:,.0f} MiB over "
                     "24 GiB: round down, the batch must fit whole")
    if largest_batch == largest_batch_for(gib, count_weights=False):
        raise NotYet("that fills all 24 GiB with KV cache: the weights need their share first")
    if largest_batch == largest_batch_for(AVAILABLE_GIB * 10**9):
        raise NotYet("that is for 24 GB (10^9 bytes); the calculator's field is in GiB (2^30)")
    if largest_batch == largest_batch_for(gib, kv_heads=SEVEN_B["heads"]):
        raise NotYet("that caches all 32 attention heads; the config has 8 key/value heads")
    if largest_batch < expected:
        raise NotYet(f"a batch of {largest_batch + 1} fits too: is the calculator set to "
                     "bfloat16, a context of 4,096 and 24 GiB?")
    raise NotYet(f"a batch of {largest_batch} does not fit: set storage='bfloat16', "
                 "context=4096, available_gib=24 and increase batch until `fits` is False")


def _last_block(model: Any) -> tuple[str, Any]:
    """The last child of the model's largest ModuleList (its stack of decoder blocks)."""
    import torch

    lists = [(name, module) for name, module in model.named_modules()
             if isinstance(module, torch.nn.ModuleList) and len(module)]
    name, blocks = max(lists, key=lambda nm: sum(p.numel() for p in nm[1].parameters()))
    return f"{name}.{len(blocks) - 1}", blocks[-1]


@exercise("05", "explicit-map", title="An explicit device_map: the last block on disk")
def explicit_map(explicit_map: dict) -> bool:
    from helpers.hub import course_model
    from helpers.memory import empty_model, placement_bytes, placement_name

    if not isinstance(explicit_map, dict) or not explicit_map:
        raise NotYet("`explicit_map` should be a dict from module names to places: the "
                     "loaded model's hf_device_map")
    model, _ = empty_model(course_model())
    names = {name for name, _ in model.named_modules()}
    unknown = sorted(k for k in explicit_map if k not in names)
    if unknown:
        raise NotYet(f"the model has no module named {unknown[0]!r}: take names from "
                     "model.named_modules()")
    places = {placement_name(v) for v in explicit_map.values()}
    if not places <= {"cpu", "disk"}:
        extra = sorted(places - {"cpu", "disk"})
        raise NotYet(f"only 'cpu' and 'disk' belong in this map, not {extra}")
    last_name, last = _last_block(model)
    block_bytes = sum(p.numel() * p.element_size() for p in last.parameters())
    split = placement_bytes(model, explicit_map)
    if "meta" in split:
        raise NotYet("some weights are in no entry of your map: every module with weights "
                     "must be covered (lm_head and the final norm too)")
    on_disk = split.get("disk", 0)
    if on_disk == 0:
        raise NotYet(f"nothing is on disk: map {last_name!r} to 'disk'")
    disk_keys = [k for k, v in explicit_map.items() if placement_name(v) == "disk"]
    if on_disk > block_bytes:
        raise NotYet(f"more than the last block is on disk ({', '.join(disk_keys)}): only "
                     f"{last_name!r} goes there")
    if last_name not in disk_keys:
        raise NotYet(f"{', '.join(disk_keys)} is on disk, but the last decoder block is "
                     f"{last_name!r}")
    return True
