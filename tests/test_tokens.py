"""helpers.tokens: the token table, the live inspector and the real length limit."""

from __future__ import annotations

import copy

import pytest
from transformers import AutoConfig, AutoTokenizer

from helpers.tokens import ContextLength, context_length, show_tokens, token_inspector


@pytest.fixture(scope="module")
def tok(tiny_gpt2):
    return AutoTokenizer.from_pretrained(tiny_gpt2)


def test_show_tokens_makes_the_calls_it_names(tok):
    text = "Once upon a time there was a little fox named Leo."
    table = show_tokens(tok, text + tok.eos_token)
    encoding = tok(text + tok.eos_token, return_offsets_mapping=True)
    assert table.ids == encoding["input_ids"]
    assert table.tokens == tok.convert_ids_to_tokens(encoding["input_ids"])
    assert "".join(row.piece for row in table.rows) == text + tok.eos_token
    assert [row.special for row in table.rows] == [False] * (len(table) - 1) + [True]
    chars = len(text + tok.eos_token)
    assert str(table).splitlines()[0] == f"{len(table)} tokens (1 special) for {chars} characters"


def test_show_tokens_text_and_html(tok):
    table = show_tokens(tok, "a fox")
    lines = str(table).splitlines()
    assert lines[1].split() == ["#", "id", "token", "offsets", "text"]
    assert "'Ġfox'" in str(table) and "' fox'" in str(table)
    html = table._repr_html_()
    assert html.count("class='fp-token'") == len(table)
    assert "&middot;fox" in html  # the space made visible
    assert show_tokens(tok, "a").summary() == "1 token for 1 character"


def test_show_tokens_without_special_tokens_passes_the_flag(tok):
    assert show_tokens(tok, "a fox", add_special_tokens=False).ids == tok(
        "a fox", add_special_tokens=False)["input_ids"]


def test_token_inspector_updates_as_the_text_changes(tok):
    inspector = token_inspector(tok, "a fox")
    assert "2 tokens" in inspector.tokens_view.value
    inspector.text_box.value = "once upon a time"
    assert f"{len(tok('once upon a time')['input_ids'])} tokens" in inspector.tokens_view.value
    assert "fp-token-inspector" in inspector._dom_classes


def test_token_inspector_shows_an_error_instead_of_raising():
    class Broken:
        def __call__(self, *args, **kwargs):
            raise RuntimeError("no tokenizer here")

    inspector = token_inspector(Broken(), "x")
    assert "RuntimeError: no tokenizer here" in inspector.tokens_view.value


def test_context_length_takes_the_smaller_and_ignores_the_sentinel(tok, tiny_gpt2):
    config = AutoConfig.from_pretrained(tiny_gpt2)
    assert config.max_position_embeddings == 64
    found = context_length(tok, config)
    assert found == ContextLength(64, tok.model_max_length if tok.model_max_length < 1e20
                                  else None, 64)
    no_limit = copy.deepcopy(tok)
    no_limit.model_max_length = int(1e30)
    found = context_length(no_limit, config)
    assert (found.limit, found.tokenizer_says, found.source) == (
        64, None, "from config.max_position_embeddings")
    assert "no limit recorded (int(1e30))" in str(found)
    nothing = context_length(no_limit)
    assert nothing.limit is None and str(nothing).startswith("limit: unknown")
