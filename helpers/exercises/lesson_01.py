"""Checkers for lesson 01 ("Loading a generation model").

Expected values are computed from the course model in use (``COURSE_MODEL`` /
``COURSE_CHAT_MODEL`` or the bundled ones), never hard-coded, so the checks stay right when an
instructor switches models.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from helpers.exercises import NotYet, exercise


def budget() -> dict:
    """Exercise 3's max_memory: the lesson's offload budget for the base model in float32."""
    import torch

    from helpers.hub import course_model
    from helpers.memory import offload_budget

    return offload_budget(course_model("base"), dtype=torch.float32)


def _expected_class_and_dtype(kind: str) -> tuple[str, Any]:
    """Class and dtype a plain ``from_pretrained`` gives, from the config alone (no weights)."""
    from helpers.hub import course_model
    from helpers.memory import empty_model

    model, _ = empty_model(course_model(kind))  # dtype "auto": the checkpoint's own
    return type(model).__name__, model.dtype


@exercise("01", "chat-class-dtype", title="Load the chat model and report its class and dtype")
def chat_class_dtype(chat_class_name: str, chat_dtype: Any) -> bool:
    import torch

    expected_class, expected_dtype = _expected_class_and_dtype("chat")
    if not isinstance(chat_class_name, str):
        raise NotYet("`chat_class_name` should be a str: try type(model).__name__")
    if chat_class_name != expected_class:
        raise NotYet(f"`chat_class_name` is {chat_class_name!r}; print type(model).__name__ "
                     "of the model you loaded from the chat model's folder")
    if not isinstance(chat_dtype, torch.dtype):
        raise NotYet(f"`chat_dtype` should be a torch.dtype (like model.dtype), "
                     f"not {type(chat_dtype).__name__}")
    if chat_dtype != expected_dtype:
        raise NotYet(f"`chat_dtype` is {chat_dtype}, but loading with no dtype keeps the "
                     "checkpoint's own dtype; did you pass dtype= anyway?")
    return True


@exercise("01", "estimate-bf16", title="Estimate the base model's bf16 weights before loading")
def estimate_bf16(base_bf16_bytes: int) -> bool:
    import torch

    from helpers.hub import course_model
    from helpers.memory import estimate_memory

    if isinstance(base_bf16_bytes, bool) or not isinstance(base_bf16_bytes, int | float):
        raise NotYet("`base_bf16_bytes` should be a number of bytes (an int)")
    expected = estimate_memory(course_model("base"), dtype=torch.bfloat16).total_bytes
    fp32 = 2 * expected
    if abs(base_bf16_bytes - expected) <= 0.01 * expected:
        return True
    if abs(base_bf16_bytes - fp32) <= 0.01 * fp32:
        raise NotYet("that is the float32 size: pass dtype=torch.bfloat16 (2 bytes a parameter)")
    if base_bf16_bytes > expected:
        raise NotYet(f"{int(base_bf16_bytes):,} bytes is too much: are tied weights (the "
                     "embedding and lm_head) counted twice? call model.tie_weights() first")
    raise NotYet(f"{int(base_bf16_bytes):,} bytes is too little: count every parameter "
                 "(accelerate's calculate_maximum_sizes does) at 2 bytes each")


@exercise("01", "budget-placement", title="Load under a memory budget and count the placement")
def budget_placement(placement_counts: dict) -> bool:
    import torch

    from helpers.hub import course_model
    from helpers.memory import plan_device_map

    if not isinstance(placement_counts, dict):
        raise NotYet("`placement_counts` should be a dict such as {'cpu': 3, 'disk': 5}, "
                     f"not a {type(placement_counts).__name__}: count how many modules each "
                     "place got")
    if any(not isinstance(v, int) or isinstance(v, bool) for v in placement_counts.values()):
        raise NotYet("the values should be numbers of modules; a dict from module names to "
                     "devices is model.hf_device_map itself: count how often each device appears "
                     "in its values")
    plan = plan_device_map(course_model("base"), max_memory=budget(), dtype=torch.float32)
    expected = dict(Counter(str(v) for v in plan.values()))
    got = {str(k): v for k, v in placement_counts.items()}
    if got == expected:
        return True
    if "disk" not in got:
        raise NotYet("nothing went to disk: did you pass device_map='auto' and the max_memory "
                     "budget? count the values of model.hf_device_map")
    if set(got) == set(expected):
        raise NotYet(f"the right places, but not the right counts ({got}): load with "
                     "dtype=torch.float32 and exactly the budget offload_budget() returns, then "
                     "count every entry of model.hf_device_map")
    raise NotYet(f"you counted {got}; count the values of model.hf_device_map "
                 "(collections.Counter does it in one line)")
