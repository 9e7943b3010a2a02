"""The bundled models load cleanly, in the promised classes and dtypes, and do their job."""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as hf_logging

import helpers
from helpers.training import corpus

MODELS = Path(helpers.__file__).parent / "models"
BASE = MODELS / "stories-base"
CHAT = MODELS / "stories-chat"
FILES = (
    "README.md", "config.json", "generation_config.json", "model.safetensors",
    "tokenizer.json", "tokenizer_config.json",
)
ROUND_TRIP = 'Once upon a time, a fox named Leo said, "Héllo\tworld!"\n\n  Ünïcode 日本語 ok? 42'

torch.set_num_threads(2)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _load(folder: Path) -> tuple[object, object, dict[str, list[str]], list[str]]:
    """Model, tokenizer, loading info and every transformers warning logged while loading."""
    root = hf_logging.get_logger("transformers")
    handler = _Records()
    old = hf_logging.get_verbosity()
    hf_logging.set_verbosity_warning()
    root.addHandler(handler)
    try:
        model, info = AutoModelForCausalLM.from_pretrained(folder, output_loading_info=True)
        tokenizer = AutoTokenizer.from_pretrained(folder)
    finally:
        root.removeHandler(handler)
        hf_logging.set_verbosity(old)
    return model, tokenizer, info, [r.getMessage() for r in handler.records]


@pytest.fixture(scope="module")
def base() -> Iterator[tuple[object, object, dict[str, list[str]], list[str]]]:
    yield _load(BASE)


@pytest.fixture(scope="module")
def chat() -> Iterator[tuple[object, object, dict[str, list[str]], list[str]]]:
    yield _load(CHAT)


@pytest.mark.parametrize("folder", [BASE, CHAT], ids=["base", "chat"])
def test_folder_has_model_tokenizer_and_card(folder: Path) -> None:
    for name in FILES:
        assert (folder / name).is_file(), name
    assert not list(folder.glob("*.bin")), "only safetensors weights are shipped"


def test_config_files_declare_dtype_and_template() -> None:
    base = json.loads((BASE / "config.json").read_text())
    chat = json.loads((CHAT / "config.json").read_text())
    assert (base["dtype"], base["model_type"], base["tie_word_embeddings"]) == (
        "float32", "gpt2", True,
    )
    assert (chat["dtype"], chat["model_type"], chat["tie_word_embeddings"]) == (
        "bfloat16", "llama", True,
    )
    chat_tok = json.loads((CHAT / "tokenizer_config.json").read_text())
    assert "add_generation_prompt" in chat_tok["chat_template"]


def test_folders_are_small() -> None:
    total = sum(f.stat().st_size for d in (BASE, CHAT) for f in d.rglob("*") if f.is_file())
    assert total < 20 * 1024 * 1024


def test_base_is_gpt2_in_float32(base) -> None:
    model, _, _, _ = base
    assert type(model).__name__ == "GPT2LMHeadModel"
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert model.config.dtype == torch.float32


def test_chat_is_llama_in_bfloat16(chat) -> None:
    model, _, _, _ = chat
    assert type(model).__name__ == "LlamaForCausalLM"
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert model.config.dtype == torch.bfloat16


@pytest.mark.parametrize("which", ["base", "chat"])
def test_loading_reports_no_missing_or_unexpected_weights(which: str, request) -> None:
    _, _, info, warnings = request.getfixturevalue(which)
    for key in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        assert not info.get(key), (key, info[key])
    pattern = re.compile(r"missing|unexpected|initiali[sz]ed|mismatch|load report", re.I)
    weight_warnings = [w for w in warnings if pattern.search(w)]
    assert weight_warnings == []


def test_base_tokenizer_keeps_gpt2_quirk(base) -> None:
    _, tok, _, _ = base
    assert type(tok).__name__ == "GPT2Tokenizer"
    assert tok.is_fast
    assert tok.pad_token is None
    assert tok.bos_token == tok.eos_token == tok.unk_token == "<|endoftext|>"
    assert tok.decode(tok(ROUND_TRIP)["input_ids"]) == ROUND_TRIP
    assert 1000 <= len(tok) <= 2048


def test_chat_tokenizer_has_pad_and_template(chat) -> None:
    _, tok, _, _ = chat
    assert tok.is_fast
    assert tok.decode(tok(ROUND_TRIP)["input_ids"]) == ROUND_TRIP
    assert tok.pad_token == "<|pad|>" and tok.eos_token == "<|im_end|>"
    messages = [
        {"role": "system", "content": "You are a friendly storyteller."},
        {"role": "user", "content": "Tell me a story about a cat named Mia."},
    ]
    prompt = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert prompt.startswith("<|im_start|>system\nYou are a friendly storyteller.<|im_end|>\n")
    assert prompt.endswith("<|im_start|>user\nTell me a story about a cat named Mia.<|im_end|>\n"
                           "<|im_start|>assistant\n")
    plain = tok.apply_chat_template(messages, add_generation_prompt=False, tokenize=False)
    assert not plain.endswith("<|im_start|>assistant\n")


def test_generation_configs(base, chat) -> None:
    base_model, base_tok, _, _ = base
    chat_model, chat_tok, _, _ = chat
    assert base_model.generation_config.eos_token_id == base_tok.eos_token_id
    assert base_model.generation_config.pad_token_id is None
    assert chat_model.generation_config.eos_token_id == chat_tok.convert_tokens_to_ids("<|im_end|>")
    assert chat_model.generation_config.pad_token_id == chat_tok.pad_token_id
    for model in (base_model, chat_model):
        assert model.generation_config.do_sample is False
        assert model.generation_config.max_new_tokens


def test_base_continues_once_upon_a_time_grammatically(base) -> None:
    model, tok, _, _ = base
    inputs = tok("Once upon a time", return_tensors="pt")
    with torch.no_grad():
        out = model.generate(
            **inputs, max_new_tokens=120, do_sample=False, pad_token_id=tok.eos_token_id
        )
    new_tokens = out.shape[1] - inputs["input_ids"].shape[1]
    text = tok.decode(out[0], skip_special_tokens=True)
    assert new_tokens >= 40, text
    assert corpus.is_grammatical(text), corpus.sentence_errors(text)
    assert corpus.coreference_errors(text) == []
    assert len(corpus.split_sentences(text)[0]) >= 4


def _ask(chat, pairs: list[tuple[str, str]], max_new_tokens: int) -> tuple[list[str], torch.Tensor]:
    model, tok, _, _ = chat
    tok.padding_side = "left"
    conversations = [
        [{"role": "user", "content": f"Tell me a story about a {animal} named {name}."}]
        for animal, name in pairs
    ]
    inputs = tok.apply_chat_template(
        conversations, add_generation_prompt=True, padding=True, return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    new = out[:, inputs["input_ids"].shape[1] :]
    return tok.batch_decode(new, skip_special_tokens=True), new


def test_chat_tells_held_out_animal_and_name(chat) -> None:
    pairs = list(corpus.HELD_OUT_PAIRS)
    assert len(pairs) >= 20
    answers, _ = _ask(chat, pairs, max_new_tokens=48)
    hits = [
        bool(re.search(rf"\b{animal}\b", text) and re.search(rf"\b{name}\b", text))
        for (animal, name), text in zip(pairs, answers, strict=True)
    ]
    assert sum(hits) / len(hits) >= 0.9, [a for a, ok in zip(answers, hits, strict=True) if not ok]
    grammatical = [corpus.is_grammatical(text) for text in answers]
    assert sum(grammatical) / len(grammatical) >= 0.9


def test_chat_answer_is_a_whole_story_that_stops(chat) -> None:
    model, tok, _, _ = chat
    answers, new = _ask(chat, [("fox", "Leo")], max_new_tokens=200)
    text = answers[0]
    assert (new[0] == model.generation_config.eos_token_id).any(), "generation did not stop"
    assert text.startswith("Once upon a time") and text.endswith("The end."), text
    assert "fox named Leo" in text
    assert corpus.is_grammatical(text, allow_partial=False), corpus.sentence_errors(text)
    assert corpus.coreference_errors(text) == []


def test_chat_handles_other_requests(chat) -> None:
    model, tok, _, _ = chat
    tok.padding_side = "left"
    story = corpus.story(random.Random(0), main=corpus.Character("Max", "dog", "big"), short=True)
    conversations = [
        [{"role": "user", "content": "Tell me a story about a cat."}],
        [{"role": "user", "content": "Can you tell me a story about a penguin named Ruby?"}],
        [{"role": "user", "content": "Write a short story about Otto the hedgehog."}],
        [{"role": "user", "content": "Hello!"}],
        [
            {"role": "user", "content": "Tell me a story about a dog named Max."},
            {"role": "assistant", "content": story},
            {"role": "user", "content": "Thank you!"},
        ],
    ]
    inputs = tok.apply_chat_template(
        conversations, add_generation_prompt=True, padding=True, return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=24, do_sample=False)
    cat, penguin, hedgehog, hello, thanks = tok.batch_decode(
        out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True
    )
    assert re.search(r"\bcat named \w+", cat), cat
    assert "penguin named Ruby" in penguin, penguin
    assert "hedgehog named Otto" in hedgehog, hedgehog
    assert hello in corpus.CHAT_TEMPLATES["greeting"], hello
    assert thanks in corpus.CHAT_TEMPLATES["welcome"], thanks
