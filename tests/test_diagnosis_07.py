"""Lesson 07's catalogue entries (chat templates), each raised FOR REAL by transformers 5.24 on
the bundled models, diagnosed, and each fix the diagnosis names shown to work."""

from __future__ import annotations

import copy

import pytest
from jinja2.exceptions import TemplateError, TemplateSyntaxError, UndefinedError
from transformers import AutoModelForCausalLM, AutoTokenizer

import helpers
from helpers.diagnosis import RULES, Facts, diagnose, exception_chain
from helpers.models import bundled_path

MESSAGES = [{"role": "user", "content": "Tell me a story about a fox named Leo"}]
SYSTEM = {"role": "system", "content": "You are a friendly storyteller."}
GEMMA_SYSTEM_CHECK = ("{% if messages[0]['role'] == 'system' %}"
                      "{{ raise_exception('System role not supported') }}{% endif %}")
GEMMA_ALTERNATION_CHECK = (
    "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% endfor %}")


def raised(fn, *args, **kwargs) -> BaseException:
    try:
        fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - whatever the library raises
        return exc
    pytest.fail(f"{getattr(fn, '__name__', fn)} raised nothing")


def rule_for(exc: BaseException) -> str:
    """The name of the first catalogue rule that matches (what diagnose() uses)."""
    facts = Facts(exc, exception_chain(exc), {})
    return next((rule.name for rule in RULES if any(True for _ in rule.match(facts))), "generic")


@pytest.fixture(scope="module")
def chat():
    folder = bundled_path("stories-chat")
    return AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)


@pytest.fixture(scope="module")
def base():
    folder = bundled_path("stories-base")
    return AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)


# ------------------------------------------------------------------------------ no template


def test_base_tokenizer_without_template(base):
    model, tokenizer = base
    no_template = copy.deepcopy(tokenizer)
    no_template.chat_template = None
    exc = raised(no_template.apply_chat_template, MESSAGES, add_generation_prompt=True)
    assert isinstance(exc, ValueError)
    assert str(exc).startswith("Cannot use chat template functions because "
                               "tokenizer.chat_template is not set and no template argument "
                               "was passed!")
    assert rule_for(exc) == "no-chat-template"
    d = diagnose(exc, model="stories-base")
    assert "'stories-base' has no chat_template" in d.cause
    assert "chat=False" in d.fix and "tokenizer(prompt)" in d.fix
    # the course helper raises the same error (chat=True calls the same method)
    helper_exc = raised(helpers.generate_text, model, no_template, "Hi", chat=True,
                        max_new_tokens=3)
    assert rule_for(helper_exc) == "no-chat-template"
    # the fix the diagnosis names: plain text to continue
    text = helpers.generate_text(model, no_template, "Once upon a time,", max_new_tokens=5)
    assert isinstance(text, str) and text


# ------------------------------------------------------------------------------ template errors


def test_template_refusing_a_system_message(chat):
    _, tokenizer = chat
    strict = GEMMA_SYSTEM_CHECK + tokenizer.get_chat_template()
    exc = raised(tokenizer.apply_chat_template, [SYSTEM, *MESSAGES], chat_template=strict,
                 add_generation_prompt=True, tokenize=False)
    assert type(exc) is TemplateError and str(exc) == "System role not supported"
    assert rule_for(exc) == "chat-template-error"
    d = diagnose(exc)
    assert d.title == "The chat template refused this conversation"
    assert "'System role not supported'" in d.cause
    assert "first user message" in d.fix
    # the fix: the system text starts the first user message
    folded = [{"role": "user", "content": SYSTEM["content"] + "\n\n" + MESSAGES[0]["content"]}]
    text = tokenizer.apply_chat_template(folded, chat_template=strict, tokenize=False)
    assert SYSTEM["content"] in text


def test_template_requiring_alternation(chat):
    _, tokenizer = chat
    strict = GEMMA_ALTERNATION_CHECK + tokenizer.get_chat_template()
    two_users = [*MESSAGES, {"role": "user", "content": "Thank you!"}]
    exc = raised(tokenizer.apply_chat_template, two_users, chat_template=strict, tokenize=False)
    assert rule_for(exc) == "chat-template-error"
    assert "alternate" in diagnose(exc).cause and "merge consecutive" in diagnose(exc).fix
    merged = [{"role": "user", "content": MESSAGES[0]["content"] + "\n\nThank you!"}]
    assert tokenizer.apply_chat_template(merged, chat_template=strict, tokenize=False)


def test_template_with_a_syntax_error(chat):
    _, tokenizer = chat
    exc = raised(tokenizer.apply_chat_template, MESSAGES,
                 chat_template="{% for m in messages %}{{ m['content'] }}", tokenize=False)
    assert isinstance(exc, TemplateSyntaxError)
    assert rule_for(exc) == "chat-template-error"
    d = diagnose(exc)
    assert d.title == "The chat template is not valid Jinja" and "line 1" in d.cause


def test_template_reading_a_missing_key(chat):
    _, tokenizer = chat
    exc = raised(tokenizer.apply_chat_template, MESSAGES,
                 chat_template="{{ messages[0]['text']['x'] }}", tokenize=False)
    assert isinstance(exc, UndefinedError)
    assert rule_for(exc) == "chat-template-error"
    d = diagnose(exc)
    assert "'text'" in d.cause and "'role'" in d.fix


# ------------------------------------------------------------------------------ BatchEncoding


def test_4x_code_passes_the_batch_encoding_to_generate(chat):
    model, tokenizer = chat
    input_ids = tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True,
                                              return_tensors="pt")
    assert type(input_ids).__name__ == "BatchEncoding"
    exc = raised(model.generate, input_ids, max_new_tokens=3)
    assert type(exc) is AttributeError and str(exc) == ""
    assert rule_for(exc) == "batch-encoding-as-tensor"
    d = diagnose(exc)
    assert ".shape" in d.cause and "return_dict=True" in d.cause
    assert "model.generate(**inputs)" in d.fix and "return_dict=False" in d.fix
    # both fixes work
    out = model.generate(**input_ids, max_new_tokens=3, do_sample=False)
    assert out.shape[1] == input_ids["input_ids"].shape[1] + 3
    ids = tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True,
                                        return_tensors="pt", return_dict=False)
    assert model.generate(ids, max_new_tokens=3, do_sample=False).shape == out.shape


def test_reading_shape_of_the_batch_encoding(chat):
    _, tokenizer = chat
    enc = tokenizer.apply_chat_template(MESSAGES, return_tensors="pt")
    exc = raised(getattr, enc, "shape")
    assert rule_for(exc) == "batch-encoding-as-tensor"
    exc = raised(lambda: enc.dim())
    assert rule_for(exc) == "batch-encoding-as-tensor"
    assert ".dim" in diagnose(exc).cause


def test_a_plain_dict_key_error_is_not_taken_for_a_batch_encoding():
    exc = raised(lambda: {}["shape"])
    assert rule_for(exc) != "batch-encoding-as-tensor"
