"""helpers.generation on tiny random-weight models (a GPT-2 without pad token, a Llama with a
chat template): the helpers must give exactly what the raw ``model.generate`` call gives."""

from __future__ import annotations

import statistics
import threading

import pytest
import torch
from tiny_model_data import CHAT_TEMPLATE, STORY, bpe_tokenizer
from transformers import (
    GenerationConfig,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
)

from helpers.generation import (
    DECODING_PRESETS,
    SpeedReport,
    generate_text,
    measure_speed,
    stream_text,
)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy machine the thread pool's
    spinning made these tests 20x slower and the timings noisy."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def gpt2():
    """(model, tokenizer): GPT-2 architecture, float32, no pad token, like stories-base."""
    tok = bpe_tokenizer(["<|endoftext|>"], eos_token="<|endoftext|>", bos_token="<|endoftext|>")
    config = GPT2Config(
        n_layer=2,
        n_embd=32,
        n_head=2,
        n_positions=128,
        vocab_size=len(tok),
        bos_token_id=tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(0)
    return GPT2LMHeadModel(config).eval(), tok


@pytest.fixture(scope="module")
def llama_chat():
    """(model, tokenizer): Llama architecture with a chat template, like stories-chat (float32
    here so that batched and single results are bit-comparable)."""
    specials = ["<s>", "</s>", "<|user|>", "<|assistant|>", "<|end|>"]
    tok = bpe_tokenizer(specials, bos_token="<s>", eos_token="</s>")
    tok.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=128,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(0)
    return LlamaForCausalLM(config).eval(), tok


def raw_greedy(model, tok, inputs, n):
    out = model.generate(**inputs, max_new_tokens=n, do_sample=False, pad_token_id=tok.eos_token_id)
    return tok.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


# ---------------------------------------------------------------------------------------------
# presets
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DECODING_PRESETS))
def test_presets_are_valid_generation_configs(name):
    preset = DECODING_PRESETS[name]
    config = GenerationConfig(**preset)
    config.validate(strict=True)
    assert len(preset.why) > 20
    assert preset.why in repr(preset)
    assert dict(preset) == dict(preset.settings)
    with pytest.raises(TypeError):
        preset.settings["do_sample"] = True  # presets are read-only


def test_unknown_preset_lists_the_valid_ones(gpt2):
    model, tok = gpt2
    with pytest.raises(KeyError, match="greedy"):
        generate_text(model, tok, "Once", preset="wild")


# ---------------------------------------------------------------------------------------------
# generate_text
# ---------------------------------------------------------------------------------------------


def test_greedy_equals_model_generate(gpt2):
    model, tok = gpt2
    prompt = "Once upon a time"
    expected = raw_greedy(model, tok, tok(prompt, return_tensors="pt"), 12)
    got = generate_text(model, tok, prompt, max_new_tokens=12)
    assert got == expected
    assert len(tok(got)["input_ids"]) >= 1  # only the new text, not the prompt
    assert not got.startswith(prompt)


def test_seeded_sampling_is_reproducible(gpt2):
    model, tok = gpt2
    first = generate_text(model, tok, "The fox", preset="creative", seed=1, max_new_tokens=12)
    again = generate_text(model, tok, "The fox", preset="creative", seed=1, max_new_tokens=12)
    others = {
        generate_text(model, tok, "The fox", preset="creative", seed=s, max_new_tokens=12)
        for s in (2, 3, 4)
    }
    assert first == again
    assert others - {first}, "three other seeds all gave the same sample"


def test_explicit_kwargs_win_over_the_preset(gpt2):
    model, tok = gpt2
    greedy = generate_text(model, tok, "The fox", max_new_tokens=10)
    overridden = generate_text(
        model, tok, "The fox", preset="creative", do_sample=False, max_new_tokens=10, seed=9
    )
    assert overridden == greedy


def test_max_new_tokens_is_respected(gpt2):
    model, tok = gpt2
    text = generate_text(model, tok, "The fox", max_new_tokens=5, min_new_tokens=5)
    assert len(tok(text)["input_ids"]) <= 6  # re-tokenizing may merge or split a little


def test_batched_left_padding_equals_one_by_one(gpt2):
    model, tok = gpt2
    prompts = ["Once upon a time there was a fox", "The sun", "They played by"]
    one_by_one = [generate_text(model, tok, p, max_new_tokens=10) for p in prompts]
    batched = generate_text(model, tok, prompts, max_new_tokens=10)
    assert batched == one_by_one
    # the caller's tokenizer is left as it was
    assert tok.pad_token is None and tok.padding_side == "right"


def test_right_padding_is_why_we_pad_left(gpt2):
    """The gotcha the docstring names: right-padded rows continue after pad tokens."""
    model, tok = gpt2
    prompts = ["Once upon a time there was a fox", "The sun"]
    tok.pad_token = tok.eos_token
    try:
        enc = tok(prompts, return_tensors="pt", padding=True, padding_side="right")
        out = model.generate(
            **enc, max_new_tokens=10, do_sample=False, pad_token_id=tok.pad_token_id
        )
    finally:
        tok.pad_token = None
    right = tok.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    assert right[1] != generate_text(model, tok, prompts[1], max_new_tokens=10)


def test_empty_prompt_list(gpt2):
    model, tok = gpt2
    assert generate_text(model, tok, [], max_new_tokens=3) == []


def test_chat_uses_the_template(llama_chat):
    model, tok = llama_chat
    calls = []
    original = tok.apply_chat_template

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return original(*args, **kwargs)

    tok.apply_chat_template = spy
    try:
        got = generate_text(model, tok, "Tell me a story", chat=True, max_new_tokens=8)
    finally:
        del tok.apply_chat_template
    [(args, kwargs)] = calls
    assert args[0] == [{"role": "user", "content": "Tell me a story"}]
    assert kwargs["add_generation_prompt"] is True and kwargs["return_dict"] is True
    rendered = original(args[0], add_generation_prompt=True, tokenize=False)
    assert rendered == "<|user|>Tell me a story<|end|><|assistant|>"
    inputs = original(args[0], add_generation_prompt=True, return_tensors="pt", return_dict=True)
    assert got == raw_greedy(model, tok, inputs, 8)
    assert got != generate_text(model, tok, "Tell me a story", max_new_tokens=8)


def test_batched_chat_equals_one_by_one(llama_chat):
    model, tok = llama_chat
    prompts = ["Tell me a story about a fox named Leo", "Hi"]
    one_by_one = [generate_text(model, tok, p, chat=True, max_new_tokens=6) for p in prompts]
    assert generate_text(model, tok, prompts, chat=True, max_new_tokens=6) == one_by_one


# ---------------------------------------------------------------------------------------------
# streaming
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("preset", "seed"), [("greedy", 0), ("balanced", 5)])
def test_stream_equals_generate(gpt2, preset, seed):
    model, tok = gpt2
    kw = {"max_new_tokens": 15, "preset": preset, "seed": seed}
    chunks = list(stream_text(model, tok, "Once upon a time", **kw))
    assert len(chunks) >= 1
    assert "".join(chunks) == generate_text(model, tok, "Once upon a time", **kw)


def test_stream_chat_equals_generate(llama_chat):
    model, tok = llama_chat
    kw = {"max_new_tokens": 8, "chat": True}
    assert "".join(stream_text(model, tok, "Hello", **kw)) == generate_text(
        model, tok, "Hello", **kw
    )


def test_stream_print_mode_prints_what_it_returns(gpt2, capsys):
    model, tok = gpt2
    text = generate_text(model, tok, "The fox", max_new_tokens=12, stream=True)
    assert capsys.readouterr().out == text + "\n"
    assert text == generate_text(model, tok, "The fox", max_new_tokens=12)


def test_stream_reraises_errors_from_generate(gpt2):
    model, tok = gpt2
    with pytest.raises(ValueError, match="num_beams"):
        list(stream_text(model, tok, "The fox", max_new_tokens=5, preset="beam"))


def test_leaving_a_stream_early_stops_generation(gpt2):
    model, tok = gpt2
    chunks = stream_text(model, tok, "Once upon a time", max_new_tokens=100, min_new_tokens=100)
    next(chunks)
    chunks.close()
    assert not any(t.name == "stream_text" for t in threading.enumerate())


# ---------------------------------------------------------------------------------------------
# measure_speed
# ---------------------------------------------------------------------------------------------


def test_speed_report_is_consistent(gpt2):
    model, tok = gpt2
    report = measure_speed(model, tok, "Once upon a time", max_new_tokens=8, repeats=2)
    assert isinstance(report, SpeedReport)
    assert report.prompt_tokens == len(tok("Once upon a time")["input_ids"])
    assert report.new_tokens == 8  # min_new_tokens: every run decodes the full count
    assert len(report.prefill_runs) == len(report.decode_runs) == report.repeats == 2
    assert report.prefill_s > 0 and report.decode_s > 0
    # 8 new tokens = 1 from prefill + 7 timed decode steps
    rates = [7 / d for d in report.decode_runs]
    assert report.decode_tokens_per_s == pytest.approx(statistics.median(rates))
    assert report.ms_per_token == pytest.approx(1000 / report.decode_tokens_per_s)
    assert (report.device, report.dtype, report.use_cache) == ("cpu", "float32", True)
    text = str(report)
    for label in ("prompt tokens", "new tokens", "prefill", "tok/s", "cpu / float32", "use_cache"):
        assert label in text
    assert "<table" in report._repr_html_() and "tok/s" in report._repr_html_()


def test_kv_cache_makes_decoding_faster():
    """A long prompt on a (still tiny) 4-layer, 128-wide model: without the cache every step
    re-reads the whole sequence. Measured here ~4.5x; asserted with a wide margin."""
    tok = bpe_tokenizer(["<|endoftext|>"], eos_token="<|endoftext|>")
    config = GPT2Config(
        n_layer=4, n_embd=128, n_head=2, n_positions=256, vocab_size=len(tok),
        bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config).eval()
    prompt = " ".join(STORY * 2)
    kw = {"max_new_tokens": 8, "repeats": 3}
    cached = measure_speed(model, tok, prompt, use_cache=True, **kw)
    uncached = measure_speed(model, tok, prompt, use_cache=False, **kw)
    assert cached.prompt_tokens > 80
    assert cached.new_tokens == uncached.new_tokens == 8
    assert not uncached.use_cache
    assert cached.decode_tokens_per_s > 1.3 * uncached.decode_tokens_per_s, (cached, uncached)


def test_generates_from_a_model_offloaded_whole_to_disk(gpt2, tmp_path):
    """A budget smaller than any layer puts the whole model on disk ({'': 'disk'}): its
    parameters are on `meta`, yet generate_text must still run (inputs go to the CPU)."""
    from transformers import AutoModelForCausalLM

    model, tok = gpt2
    model.save_pretrained(tmp_path)
    offloaded = AutoModelForCausalLM.from_pretrained(
        tmp_path, device_map="auto", max_memory={"cpu": 1, "disk": "1GB"}
    )
    assert set(offloaded.hf_device_map.values()) == {"disk"}
    assert offloaded.device.type == "meta"
    inputs = tok("Once upon a time", return_tensors="pt")
    assert generate_text(offloaded, tok, "Once upon a time", max_new_tokens=5) == raw_greedy(
        model, tok, inputs, 5
    )
