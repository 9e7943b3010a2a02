"""The generation playground, driven headless: set control values, click Generate, read the HTML.

The widget must hide nothing: what it runs is what it shows (``generate_kwargs`` / ``code``), so
each test compares the playground's text with the raw ``model.generate`` call it claims to make.
"""

from __future__ import annotations

import logging

import ipywidgets as widgets
import pytest
import torch
from tiny_model_data import bpe_tokenizer
from transformers import GPT2Config, GPT2LMHeadModel, set_seed

import helpers
from helpers.playground import Playground, PlaygroundRun, playground

PROMPT = "Once upon a time"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def gpt2():
    """(model, tokenizer): GPT-2 architecture, float32, no pad token, like stories-base."""
    tok = bpe_tokenizer(["<|endoftext|>"], eos_token="<|endoftext|>", bos_token="<|endoftext|>")
    config = GPT2Config(n_layer=2, n_embd=32, n_head=2, n_positions=128, vocab_size=len(tok),
                        bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    return GPT2LMHeadModel(config).eval(), tok


def raw(model, tok, prompt, seed, **kwargs) -> str:
    """The call the playground says it makes, written out by hand."""
    set_seed(seed)
    inputs = tok(prompt, return_tensors="pt")
    out = model.generate(**inputs, **kwargs)
    return tok.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


def test_exported_from_helpers(gpt2):
    """Importing helpers.playground (the module) must not break helpers.playground(...)."""
    import helpers.playground as module

    assert "playground" in helpers.__all__
    assert module.playground is playground
    assert isinstance(helpers.playground(*gpt2, PROMPT), Playground)


def test_the_widget_has_every_control_and_shows_the_call(gpt2):
    pg = playground(*gpt2, PROMPT)
    assert isinstance(pg, widgets.VBox) and "fp-playground" in pg._dom_classes
    for name in ("prompt", "max_new_tokens", "do_sample", "temperature", "top_k", "top_p",
                 "seed", "new_seed_each_time", "button", "output", "call"):
        assert getattr(pg, name) is not None
    assert isinstance(pg.output, widgets.HTML) and pg.output.value == ""
    assert "model.generate(**inputs" in pg.call.value and "set_seed(0)" in pg.call.value


def test_generate_matches_the_raw_call_it_shows(gpt2, capsys):
    model, tok = gpt2
    pg = playground(model, tok, PROMPT, max_new_tokens=12, temperature=0.8, top_k=20,
                    top_p=0.9, seed=7)
    pg.button.click()
    run = pg.last
    assert isinstance(run, PlaygroundRun) and run.error == ""
    expected = raw(model, tok, PROMPT, 7, max_new_tokens=12, do_sample=True, temperature=0.8,
                   top_k=20, top_p=0.9, pad_token_id=tok.eos_token_id)
    assert run.text == expected
    assert run.seed == 7 and run.new_tokens <= 12
    # the shown code names exactly these arguments
    assert ("model.generate(**inputs, max_new_tokens=12, do_sample=True, temperature=0.8, "
            f"top_k=20, top_p=0.9, pad_token_id={tok.eos_token_id})") in pg.code()
    assert "set_seed(7)" in pg.code() and repr(PROMPT) in pg.code()
    assert "seed 7" in pg.output.value and "sampled" in pg.output.value
    assert capsys.readouterr().out == "", "widgets must never print (nbval strict mode)"


def test_the_shown_code_runs_and_gives_the_same_text(gpt2):
    model, tok = gpt2
    pg = playground(model, tok, PROMPT, max_new_tokens=8, temperature=1.3, seed=3)
    run = pg.generate()
    scope = {"model": model, "tokenizer": tok}
    exec(pg.code(), scope)
    assert scope["text"] == run.text


def test_same_seed_same_text_other_seed_other_text(gpt2):
    pg = playground(*gpt2, PROMPT, max_new_tokens=15, temperature=1.5, top_k=0)
    first = pg.generate().text
    assert pg.generate().text == first
    assert pg.set(seed=1).generate().text != first
    assert [r.seed for r in pg.history] == [0, 0, 1]


def test_greedy_leaves_sampling_settings_out(gpt2, caplog):
    model, tok = gpt2
    pg = playground(model, tok, PROMPT, max_new_tokens=10, temperature=0.3)
    pg.set(do_sample=False)
    assert pg.settings() == {"max_new_tokens": 10, "do_sample": False}
    assert pg.temperature.disabled and pg.top_k.disabled and pg.top_p.disabled
    assert "temperature" not in pg.code()
    with caplog.at_level(logging.WARNING, logger="transformers"):
        run = pg.generate()
    assert "not valid" not in caplog.text  # no "generation flags are not valid" warning
    assert run.text == raw(model, tok, PROMPT, 0, max_new_tokens=10, do_sample=False,
                           pad_token_id=tok.eos_token_id)
    assert "greedy" in pg.output.value
    pg.set(do_sample=True)
    assert not pg.temperature.disabled and "temperature=0.3" in pg.code()


def test_top_k_1_is_greedy_whatever_the_seed(gpt2):
    model, tok = gpt2
    pg = playground(model, tok, PROMPT, max_new_tokens=10, top_k=1)
    texts = {pg.set(seed=s).generate().text for s in range(4)}
    greedy = raw(model, tok, PROMPT, 0, max_new_tokens=10, do_sample=False,
                 pad_token_id=tok.eos_token_id)
    assert texts == {greedy}


def test_new_seed_each_time_shows_the_seed_it_drew(gpt2):
    pg = playground(*gpt2, PROMPT, max_new_tokens=5, new_seed_each_time=True)
    run = pg.generate()
    assert pg.seed.value == run.seed
    assert f"seed {run.seed}" in pg.output.value and f"set_seed({run.seed})" in run.code
    # reproducible: the drawn seed, typed back in, gives the same text
    again = pg.set(new_seed_each_time=False, seed=run.seed).generate()
    assert again.text == run.text


def test_code_follows_every_control(gpt2):
    pg = playground(*gpt2, PROMPT)
    pg.set(prompt="The fox", max_new_tokens=33, temperature=0.55, top_k=0, top_p=0.8, seed=42)
    code = pg.call.value
    for text in ("&#x27;The fox&#x27;", "max_new_tokens=33", "temperature=0.55", "top_k=0",
                 "top_p=0.8", "set_seed(42)"):
        assert text in code


def test_an_error_is_shown_with_its_diagnosis_not_raised(gpt2, monkeypatch):
    model, tok = gpt2
    pg = playground(model, tok, PROMPT, max_new_tokens=5)

    def broken(**kwargs):
        raise ValueError("Input length of input_ids is 30, but `max_length` is set to 20. This "
                         "can lead to unexpected behavior.")

    monkeypatch.setattr(model, "generate", broken)
    run = pg.generate()
    assert run.error.startswith("ValueError: Input length of input_ids is 30")
    assert "fp-playground-error" in pg.output.value
    assert not pg.button.disabled


def test_set_refuses_unknown_controls(gpt2):
    pg = playground(*gpt2)
    with pytest.raises(TypeError, match="no control temprature"):
        pg.set(temprature=0.5)


def test_playground_class_is_the_widget(gpt2):
    assert isinstance(playground(*gpt2), Playground)
