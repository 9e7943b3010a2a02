"""The chat window of lesson 07 (helpers.chat), driven headless: send messages, read the HTML
values it writes, and compare the answers with the raw apply_chat_template + generate calls."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from helpers.chat import ChatBox, chat_box
from helpers.models import bundled_path


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def chat():
    folder = bundled_path("stories-chat")
    return AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)


def raw_reply(model, tokenizer, messages, max_new_tokens):
    enc = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                        return_tensors="pt")
    out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False)
    return tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip()


def test_send_answers_like_the_raw_calls_and_keeps_the_conversation(chat):
    model, tokenizer = chat
    box = chat_box(model, tokenizer, max_new_tokens=200)
    assert isinstance(box, ChatBox) and box.messages == []
    assert "no messages yet" in box.transcript.value
    box.text.value = "Tell me a story about a fox named Leo"
    box.button.click()
    turn = box.turns[-1]
    expected = raw_reply(model, tokenizer, box.messages[:1], 200)
    assert turn.reply == expected and not turn.error
    assert [m["role"] for m in box.messages] == ["user", "assistant"]
    assert box.text.value == "", "the input box is cleared after Send"
    assert "fox named Leo" in box.transcript.value  # the user's message, HTML-escaped
    assert f"{turn.prompt_tokens} tokens" in box.status.value
    # the second turn sends the whole conversation again
    second = box.send("Thank you!")
    assert second.prompt_tokens > turn.prompt_tokens + turn.new_tokens - 1
    assert second.reply == raw_reply(model, tokenizer, box.messages[:3], 200)
    assert tokenizer.eos_token in box.prompt_view.value.replace("&lt;", "<").replace("&gt;", ">")


def test_bundled_chat_model_stops_at_the_end_of_its_turn(chat):
    box = chat_box(*chat, max_new_tokens=200)
    turn = box.send("Tell me a story about a fox named Leo")
    assert turn.stopped_at_end_of_turn and "end-of-turn" in box.status.value
    short = chat_box(*chat, max_new_tokens=5).send("Tell me a story about a fox named Leo")
    assert not short.stopped_at_end_of_turn and short.new_tokens == 5


def test_system_message_and_reset(chat):
    box = chat_box(*chat, system="You are a friendly storyteller.", max_new_tokens=10)
    assert box.messages == [{"role": "system", "content": "You are a friendly storyteller."}]
    box.send("Hello!")
    assert len(box.messages) == 3
    assert "friendly storyteller" in box.prompt_view.value
    box.reset_button.click()
    assert len(box.messages) == 1 and box.turns == []


def test_empty_message_is_not_sent(chat):
    box = chat_box(*chat)
    turn = box.send("   ")
    assert turn.error and box.messages == [] and "Type a message" in box.status.value


def test_tokenizer_without_template_shows_the_diagnosis(chat):
    model, tokenizer = chat
    no_template = copy.deepcopy(tokenizer)
    no_template.chat_template = None
    box = chat_box(model, no_template)
    turn = box.send("Hello!")  # no exception escapes the callback
    assert "chat_template is not set" in turn.error
    assert "No chat template" in box.status.value and "fp-chat-error" in box.status.value
    assert box.messages == [], "an unanswered message is taken back"
    assert not box.button.disabled


def test_messages_are_html_escaped(chat):
    box = chat_box(*chat, max_new_tokens=3)
    box.send("<b>bold</b> & more")
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in box.transcript.value
