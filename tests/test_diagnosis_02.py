"""Lesson 02's diagnosis rules (tokenizers): each error raised FOR REAL by the pinned libraries
with the tiny GPT-2 of conftest (no pad token), then diagnosed."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from helpers.diagnosis import RULES, diagnose, expect_error


def raised(fn, *args, **kwargs) -> BaseException:
    try:
        fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - whatever the library raises
        return exc
    pytest.fail(f"{getattr(fn, '__name__', fn)} raised nothing")


def rule_for(exc: BaseException) -> str:
    """The name of the catalogue rule that explains ``exc`` (the first that matches)."""
    from helpers.diagnosis import Facts, exception_chain

    facts = Facts(exc, exception_chain(exc), {})
    return next(rule.name for rule in RULES if any(True for _ in rule.match(facts)))


@pytest.fixture(scope="module")
def tok(tiny_gpt2):
    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2)
    assert tokenizer.pad_token is None
    return tokenizer


@pytest.fixture(scope="module")
def model(tiny_gpt2):
    return AutoModelForCausalLM.from_pretrained(tiny_gpt2)


def test_model_called_with_lists(tok, model):
    exc = raised(model, **tok("once upon a time"))
    assert isinstance(exc, AttributeError)
    assert rule_for(exc) == "lists-not-tensors"
    d = diagnose(exc)
    assert d.title == "The model got Python lists, not tensors"
    assert 'return_tensors="pt"' in d.fix


def test_generate_called_with_lists(tok, model):
    exc = raised(model.generate, **tok("once upon a time"), max_new_tokens=2)
    assert "'list' object has no attribute 'shape'" in str(exc)
    assert diagnose(exc).title == "The model got Python lists, not tensors"
    assert ".shape" in diagnose(exc).cause


def test_a_list_attribute_error_about_something_else_is_not_this_rule():
    exc = raised(lambda: [].append2)
    assert diagnose(exc).title == "AttributeError"


def test_ragged_batch_as_tensors(tok):
    padded = copy.deepcopy(tok)
    padded.pad_token = padded.eos_token
    exc = raised(padded, ["a fox", "once upon a time there was a fox"], return_tensors="pt")
    assert isinstance(exc, ValueError)
    assert rule_for(exc) == "ragged-batch"
    d = diagnose(exc)
    assert d.title == "Texts of different lengths can't become one tensor"
    assert "padding=True" in d.fix and "pad_token = tokenizer.eos_token" in d.fix


@pytest.mark.parametrize("value", ["tf", "jax", "torch"])
def test_return_tensors_that_transformers_5_does_not_know(tok, value):
    exc = raised(tok, "a fox", return_tensors=value)
    assert isinstance(exc, ValueError)
    assert str(exc).startswith(f"{value} is not a valid TensorType")
    assert rule_for(exc) == "bad-return-tensors"
    d = diagnose(exc)
    assert repr(value) in d.title
    assert '"pt"' in d.cause and '"np"' in d.cause and '"mlx"' in d.cause
    assert ("TensorFlow support was removed" in d.cause) == (value in {"tf", "jax"})
    assert 'return_tensors="pt"' in d.fix


def test_new_pad_token_without_resizing_the_model(tok, model):
    grown = copy.deepcopy(tok)
    assert grown.add_special_tokens({"pad_token": "<|course-pad|>"}) == 1
    batch = grown(["a fox", "once upon a time"], padding=True, return_tensors="pt")
    assert grown.pad_token_id == model.get_input_embeddings().num_embeddings
    exc = raised(model, **batch)
    assert isinstance(exc, IndexError)
    assert rule_for(exc) == "token-id-out-of-range"
    d = diagnose(exc)
    assert d.title == "An id has no row in the model's embedding table"
    assert "resize_token_embeddings(len(tokenizer))" in d.fix
    # and the fix the diagnosis gives works
    fixed = copy.deepcopy(model)
    fixed.resize_token_embeddings(len(grown))
    assert fixed(**batch).logits.shape[-1] == len(grown)


def test_text_longer_than_learned_positions(tok, model):
    limit = model.config.max_position_embeddings
    ids = torch.zeros((1, limit + 1), dtype=torch.long)
    exc = raised(model, input_ids=ids)
    assert rule_for(exc) == "token-id-out-of-range"
    assert "truncation=True" in diagnose(exc).fix


def test_padding_without_pad_token_is_diagnosed_as_before(tok):
    exc = raised(tok, ["a", "a fox"], padding=True)
    assert rule_for(exc) == "no-pad-token"


def test_expect_error_shows_the_new_rules_in_a_notebook_cell(tok, model, capsys):
    with expect_error(AttributeError) as caught:
        model(**tok("a fox"))
    assert caught.diagnosis.title == "The model got Python lists, not tensors"
    assert "Raised AttributeError: 'list' object has no attribute 'size'" in capsys.readouterr().out


def test_model_whose_embedding_gets_the_list_first(tok):
    """GPT-NeoX (and others) hand the ids to torch's embedding before reading their shape."""
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    config = GPTNeoXConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1,
                           num_attention_heads=2, intermediate_size=32)
    neox = GPTNeoXForCausalLM(config)
    exc = raised(neox, **tok("once upon a time"))
    assert isinstance(exc, TypeError)
    assert rule_for(exc) == "lists-not-tensors-type"
    d = diagnose(exc)
    assert d.title == "The model got Python lists, not tensors"
    assert "torch functions that take tensors, not a list" in d.cause


def test_opt_asks_the_list_for_view(tok):
    from transformers import OPTConfig, OPTForCausalLM

    config = OPTConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1,
                       num_attention_heads=2, ffn_dim=32, word_embed_proj_dim=16)
    exc = raised(OPTForCausalLM(config), **tok("once upon a time"))
    assert "'list' object has no attribute 'view'" in str(exc)
    assert rule_for(exc) == "lists-not-tensors"
