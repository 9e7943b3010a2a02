"""helpers.speed: per-step timing, the copy bandwidth benchmark, weight bytes per token, the
decode ceiling, and the bounded torch.compile benchmark (on the bundled base model)."""

from __future__ import annotations

import time

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from helpers import speed
from helpers.models import bundled_path

PROMPT = "Once upon a time, there was a little fox named Leo."


@pytest.fixture(scope="module")
def base():
    folder = bundled_path("stories-base")
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    return model, AutoTokenizer.from_pretrained(folder)


def test_tokens_within_clamps():
    assert speed.tokens_within(1.0, 0.01, low=8, high=64) == 64
    assert speed.tokens_within(1.0, 0.04, low=8, high=64) == 25
    assert speed.tokens_within(1.0, 1.0, low=8, high=64) == 8
    assert speed.tokens_within(1.0, 0.0, low=8, high=64) == 64


def test_position_room(base):
    model, _ = base
    limit = model.config.n_positions
    assert speed.position_room(model, 10) == limit - 10
    assert speed.position_room(model, limit + 5) == 0


def test_position_room_without_a_limit():
    class Cfg:
        max_position_embeddings = int(1e30)

    class M:
        config = Cfg()

    assert speed.position_room(M(), 10) is None


def test_step_times_gives_one_time_per_token_and_generates_greedily(base):
    model, tok = base
    run = speed.step_times(model, tok, PROMPT, 12)
    assert run.new_tokens == 12 and len(run.decode_steps) == 11
    assert all(s > 0 for s in run.steps)
    assert run.cumulative[-1] == pytest.approx(sum(run.steps))
    inputs = tok(PROMPT, return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=12, min_new_tokens=12, do_sample=False,
                         pad_token_id=tok.eos_token_id)
    assert run.token_ids == tuple(out[0, inputs["input_ids"].shape[1]:].tolist())
    assert run.prompt_tokens == inputs["input_ids"].shape[1]
    off = speed.step_times(model, tok, PROMPT, 12, use_cache=False)
    assert off.token_ids == run.token_ids and not off.use_cache
    static = speed.step_times(model, tok, PROMPT, 12, cache_implementation="static")
    assert static.token_ids == run.token_ids
    with pytest.raises(ValueError):
        speed.step_times(model, tok, PROMPT, 0)


def test_weight_bytes_per_token_counts_tied_weights_once_and_looked_up_rows_only(base):
    model, _ = base
    unique = {p.data_ptr(): p for p in model.parameters()}
    all_bytes = sum(p.numel() * p.element_size() for p in unique.values())
    wpe = model.transformer.wpe.weight  # looked up: one row per token
    expected = all_bytes - wpe.numel() * 4 + wpe.shape[1] * 4
    assert speed.weight_bytes_per_token(model) == expected
    # wte is tied to lm_head, so it is read whole
    assert model.transformer.wte.weight.data_ptr() == model.lm_head.weight.data_ptr()


def test_weight_bytes_untied_input_embedding(base):
    model, _ = base

    class Untied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(100, 8)
            self.head = torch.nn.Linear(8, 100, bias=False)

        def get_output_embeddings(self):
            return self.head

    m = Untied()
    assert speed.weight_bytes_per_token(m) == (8 + 800) * 4


def test_decode_ceiling_arithmetic():
    assert speed.decode_ceiling(14e9, 3e12) == pytest.approx(214.3, rel=1e-3)


def test_copy_bandwidth_small(monkeypatch):
    result = speed.copy_bandwidth(4 * 2**20, repeats=3)
    assert result.tensor_bytes == 4 * 2**20 and result.bytes_moved == 8 * 2**20
    assert len(result.runs_s) == 3 and result.gb_per_s > 0
    assert "GB/s" in str(result) and "4 MiB" in str(result)


def test_bandwidth_tensor_size_is_bounded():
    size = speed.bandwidth_tensor_bytes()
    assert 16 * 2**20 <= size <= 384 * 2**20
    cache = speed.last_level_cache_bytes()
    assert cache is None or cache > 0


def test_longest_run_within_halves_until_it_fits(base):
    model, tok = base
    ids = tok(PROMPT, return_tensors="pt")["input_ids"]
    assert speed.longest_run_within(model, ids, budget_s=1e-9, step_s=1.0, high=64, low=8) == 8
    assert speed.longest_run_within(model, ids, budget_s=1e9, step_s=0.0, high=64, low=8) == 64


def test_compile_benchmark_is_bounded_in_time(base):
    start = time.perf_counter()
    result = speed.compile_benchmark(str(bundled_path("stories-base")), limit_s=1.0)
    assert time.perf_counter() - start < 10
    assert not result.finished and result.limit_s == 1.0
    assert result.compile_overhead_s is None and result.calls_to_break_even is None


def test_compile_result_arithmetic():
    r = speed.CompileResult(True, 15, 10, 16, eager_s=1.0, first_compiled_s=9.0, compiled_s=0.5)
    assert r.compile_overhead_s == pytest.approx(8.5)
    assert r.calls_to_break_even == pytest.approx(17.0)
    slower = speed.CompileResult(True, 15, 10, 16, eager_s=1.0, first_compiled_s=9.0,
                                 compiled_s=1.2)
    assert slower.calls_to_break_even == float("inf")
