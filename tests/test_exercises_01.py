"""Lesson 01's checkers: the right answer passes, and each mistake a learner makes is refused with
a message that points at it. Reference answers are computed here another way than the checkers
compute them (read from the checkpoint files, or from a real load), so a checker that drifts from
the truth fails."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from safetensors import safe_open
from transformers import AutoConfig, AutoModelForCausalLM
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

import helpers
from helpers.exercises import run_check
from helpers.memory import offload_budget


def _stored_tensors(kind: str) -> dict[str, tuple[torch.dtype, int]]:
    """name -> (dtype, numel) from the checkpoint's safetensors headers (no model built)."""
    tensors = {}
    folder = helpers.checkpoint_folder(helpers.course_model(kind))
    for shard in sorted(folder.glob("*.safetensors")):
        with safe_open(shard, framework="pt") as f:
            for name in f.keys():  # noqa: SIM118 - safe_open is not iterable
                piece = f.get_slice(name)
                numel = 1
                for size in piece.get_shape():
                    numel *= size
                tensors[name] = (piece.get_dtype(), numel)
    return tensors


@pytest.fixture(scope="module")
def chat_truth():
    config = AutoConfig.from_pretrained(helpers.course_model("chat"))
    stored = {dtype for dtype, _ in _stored_tensors("chat").values()}
    assert len(stored) == 1
    dtype = {"BF16": torch.bfloat16, "F32": torch.float32, "F16": torch.float16}[stored.pop()]
    return MODEL_FOR_CAUSAL_LM_MAPPING_NAMES[config.model_type], dtype


@pytest.fixture(scope="module")
def base_bf16_bytes():
    """Every stored parameter at 2 bytes; a tied lm_head is stored once, or not at all."""
    return 2 * sum(numel for _, numel in _stored_tensors("base").values())


def test_chat_class_dtype_right_answer(chat_truth):
    cls, dtype = chat_truth
    assert run_check("01", "chat-class-dtype", chat_class_name=cls, chat_dtype=dtype).correct


@pytest.mark.parametrize("mistake, answers, says", [
    ("the base model's class", lambda c, d: ("GPT2LMHeadModel", d), "chat model"),
    ("the factory's name", lambda c, d: ("AutoModelForCausalLM", d), "type(model).__name__"),
    ("the class object, not its name", lambda c, d: (AutoModelForCausalLM, d), "should be a str"),
    ("a dtype passed anyway", lambda c, d: (c, torch.float32 if d != torch.float32
                                            else torch.bfloat16), "did you pass dtype="),
    ("the dtype's name as text", lambda c, d: (c, str(d)), "torch.dtype"),
])
def test_chat_class_dtype_refuses_near_misses(chat_truth, mistake, answers, says):
    cls, dtype = answers(*chat_truth)
    if cls == chat_truth[0] and dtype == chat_truth[1]:
        pytest.skip("this near miss is the right answer for the model in use")
    result = run_check("01", "chat-class-dtype", chat_class_name=cls, chat_dtype=dtype)
    assert not result.correct, mistake
    assert says in result.message, (mistake, result.message)


def test_estimate_right_answer(base_bf16_bytes):
    assert run_check("01", "estimate-bf16", base_bf16_bytes=base_bf16_bytes).correct


def test_estimate_refuses_near_misses(base_bf16_bytes):
    config = AutoConfig.from_pretrained(helpers.course_model("base"))
    embedding = 2 * config.vocab_size * config.get_text_config().hidden_size
    cases = [
        ("the float32 size", 2 * base_bf16_bytes, "float32 size"),
        ("the tied head counted twice", base_bf16_bytes + embedding, "counted twice"),
        ("parameters, not bytes", base_bf16_bytes // 2, "too little"),
        ("a size in MiB", round(base_bf16_bytes / 2**20, 2), "too little"),
    ]
    for mistake, answer, says in cases:
        result = run_check("01", "estimate-bf16", base_bf16_bytes=answer)
        assert not result.correct, mistake
        assert says in result.message, (mistake, result.message)
    result = run_check("01", "estimate-bf16", base_bf16_bytes=True)
    assert not result.correct and "number of bytes" in result.message


@pytest.fixture(scope="module")
def placement_truth():
    """Counted from a real load under the exercise's budget (not from a plan)."""
    path = helpers.course_model()
    model = AutoModelForCausalLM.from_pretrained(
        path, dtype=torch.float32, device_map="auto",
        max_memory=offload_budget(path, dtype=torch.float32))
    return model.hf_device_map


def test_budget_placement_right_answer(placement_truth):
    counts = dict(Counter(placement_truth.values()))
    assert {"cpu", "disk"} <= set(counts)
    assert run_check("01", "budget-placement", placement_counts=counts).correct


def test_budget_placement_refuses_near_misses(placement_truth):
    counts = dict(Counter(placement_truth.values()))
    swapped = {"cpu": counts["disk"], "disk": counts["cpu"]}
    if swapped == counts:
        swapped = {"cpu": counts["cpu"] + 1, "disk": counts["disk"]}
    cases = [
        ("module names instead of counts", dict(placement_truth), "hf_device_map itself"),
        ("only the device names", sorted(counts), "should be a dict"),
        ("the right places, wrong counts", swapped, "not the right counts"),
        ("loaded without the budget", {"cpu": sum(counts.values())}, "nothing went to disk"),
        ("counts as text", {k: str(v) for k, v in counts.items()}, "numbers of modules"),
    ]
    for mistake, answer, says in cases:
        result = run_check("01", "budget-placement", placement_counts=answer)
        assert not result.correct, mistake
        assert says in result.message, (mistake, result.message)


def test_the_budget_exercise_is_in_float32_whatever_the_checkpoint_stores(tiny_llama, monkeypatch):
    """On a bf16 checkpoint the float32 budget is twice the checkpoint-dtype one: a checker that
    dropped dtype=torch.float32 would pass on the fp32 bundled model and fail learners here."""
    from helpers.exercises import lesson_01

    monkeypatch.setenv("COURSE_MODEL", str(tiny_llama))
    assert lesson_01.budget() == offload_budget(str(tiny_llama), dtype=torch.float32)
    assert lesson_01.budget() != offload_budget(str(tiny_llama))
