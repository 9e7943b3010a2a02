"""Lesson 07's exercise checkers: each near-miss a learner makes is refused with a message that
points at the mistake, and the right answer (made the way the lesson's solution makes it) passes.
Runs on the course chat model in use (the bundled one unless COURSE_CHAT_MODEL is set)."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from helpers.exercises import lesson_07 as ex
from helpers.exercises import run_check
from helpers.hub import course_model

MESSAGES = [{"role": "user", "content": ex.REQUEST}]
STRICT_CHECK = ("{% if messages[0]['role'] == 'system' %}"
                "{{ raise_exception('System role not supported') }}{% endif %}")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Generation on 2 busy cores is many times faster with one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def chat():
    location = course_model("chat")
    return AutoModelForCausalLM.from_pretrained(location), AutoTokenizer.from_pretrained(location)


def verdict(exercise, **answers):
    return run_check("07", exercise, **answers)


def reply_to(chat, messages, max_new_tokens, **template_kwargs) -> str:
    model, tok = chat
    enc = tok.apply_chat_template(messages, return_tensors="pt", **template_kwargs)
    out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False)
    return tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)


# ------------------------------------------------------------------------------ generation-prompt


@pytest.fixture(scope="module")
def renderings(chat):
    _, tok = chat
    plain = tok.apply_chat_template(MESSAGES, tokenize=False)
    opened = tok.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=False)
    return plain, opened


def test_generation_prompt_solution_is_correct(renderings):
    plain, opened = renderings
    answer = opened[len(plain):]
    assert answer, "the course chat template appends an assistant header"
    assert verdict("generation-prompt", generation_prompt=answer, messages=MESSAGES).correct


@pytest.mark.parametrize("wrong, message", [
    (lambda plain, opened: opened, "whole rendered prompt"),
    (lambda plain, opened: plain, "without the generation prompt"),
    (lambda plain, opened: opened[len(plain):].strip(), "whitespace matters"),
    (lambda plain, opened: opened[len(plain):] + "Once", "more than the generation prompt"),
    (lambda plain, opened: "[INST]", "is not what this template adds"),
    (lambda plain, opened: [1, 2, 3], "token ids"),
    (lambda plain, opened: 42, "should be a str"),
])
def test_generation_prompt_near_misses(renderings, wrong, message):
    answer = wrong(*renderings)
    result = verdict("generation-prompt", generation_prompt=answer, messages=MESSAGES)
    assert not result.correct and message in result.message, result.message


def test_generation_prompt_unset():
    result = verdict("generation-prompt", generation_prompt=None, messages=MESSAGES)
    assert not result.correct and "not set" in result.message


# ------------------------------------------------------------------------------ third-turn


@pytest.fixture(scope="module")
def third(chat):
    """(story, the conversation, the right reply) made as the lesson's solution makes them."""
    story = reply_to(chat, MESSAGES, 200, add_generation_prompt=True)
    conversation = [*MESSAGES, {"role": "assistant", "content": story},
                    {"role": "user", "content": "Thank you!"}]
    right = reply_to(chat, conversation, ex.THANKS_TOKENS, add_generation_prompt=True)
    return story, conversation, right


def test_third_turn_solution_is_correct(third):
    story, conversation, right = third
    assert verdict("third-turn", thanks_messages=conversation, thanks_reply=right,
                   story=story).correct


def test_third_turn_near_misses(chat, third):
    model, tok = chat
    story, conversation, right = third
    enc = tok.apply_chat_template(conversation, add_generation_prompt=True, return_tensors="pt")
    out = model.generate(**enc, max_new_tokens=ex.THANKS_TOKENS, do_sample=False)
    whole = tok.decode(out[0], skip_special_tokens=True)
    with_specials = tok.decode(out[0, enc["input_ids"].shape[1]:])
    no_header = reply_to(chat, conversation, ex.THANKS_TOKENS)
    short = right.strip()[: max(1, len(right.strip()) // 2)]
    cases = [(whole, "contains the conversation"), (short, "stops early"),
             (right + " And then", "not the greedy reply"), (7, "should be a str")]
    if with_specials.strip() != right.strip():
        cases.append((with_specials, "skip_special_tokens=True"))
    if no_header.strip() != right.strip() and not right.strip().startswith(no_header.strip()):
        cases.append((no_header, "add_generation_prompt=True"))
    for answer, message in cases:
        result = verdict("third-turn", thanks_messages=conversation, thanks_reply=answer,
                         story=story)
        assert not result.correct and message in result.message, (answer, result.message)


@pytest.mark.parametrize("change, message", [
    (lambda c, s: c[:2], "roles are"),
    (lambda c, s: [c[0], {"role": "user", "content": s}, c[2]], "roles are"),
    (lambda c, s: [c[0], {"role": "assistant", "content": "A story."}, c[2]], "model's `story`"),
    (lambda c, s: [c[0], {"role": "assistant", "content": s + "\n"}, c[2]], "exactly as it is"),
    (lambda c, s: [{"role": "user", "content": "Hi"}, *c[1:]], "should be the request"),
    (lambda c, s: [*c[:2], {"role": "user", "content": "Thanks"}], "Thank you!"),
    (lambda c, s: [*c[:2], ("user", "Thank you!")], "should be a dict"),
    (lambda c, s: "Thank you!", "should be a list"),
])
def test_third_turn_wrong_conversations(third, change, message):
    story, conversation, right = third
    result = verdict("third-turn", thanks_messages=change(conversation, story),
                     thanks_reply=right, story=story)
    assert not result.correct and message in result.message, result.message


# ------------------------------------------------------------------------------ fold-system


@pytest.fixture(scope="module")
def strict(chat):
    _, tok = chat
    return STRICT_CHECK + tok.get_chat_template()


def solution(conversation):
    if not conversation or conversation[0]["role"] != "system":
        return [dict(m) for m in conversation]
    system, first, *rest = conversation
    merged = dict(first, content=system["content"] + "\n\n" + first["content"])
    return [merged] + [dict(m) for m in rest]


def test_fold_system_solution_is_correct(strict):
    assert verdict("fold-system", fold_system=solution, strict_template=strict).correct


def _drop_system(c):
    return [dict(m) for m in c if m["role"] != "system"]


def _system_as_user(c):
    return [dict(m, role="user") if m["role"] == "system" else dict(m) for m in c]


def _in_place(c):
    if c and c[0]["role"] == "system":
        system = c.pop(0)
        c[0]["content"] = system["content"] + "\n\n" + c[0]["content"]
    return c


def _space_separator(c):
    out = solution(c)
    if c and c[0]["role"] == "system":
        out[0]["content"] = c[0]["content"] + " " + c[1]["content"]
    return out


def _always_folds(c):
    system, first, *rest = c  # assumes a system message
    return [dict(first, content=system["content"] + "\n\n" + first["content"]), *rest]


def _keeps_system(c):
    return [dict(m) for m in c]


def _after_user_text(c):
    out = solution(c)
    if c and c[0]["role"] == "system":
        out[0]["content"] = c[1]["content"] + "\n\n" + c[0]["content"]
    return out


def _loses_later_turns(c):
    return solution(c)[:2]


@pytest.mark.parametrize("wrong, message", [
    (_drop_system, "system text is lost"),
    (_system_as_user, "as many messages as the input"),
    (_in_place, "changed the list it was given"),
    (_space_separator, "a blank line"),
    (_always_folds, "without a system message should come back unchanged"),
    (_keeps_system, "still has a system message"),
    (_after_user_text, "the system text, a blank"),
    (_loses_later_turns, "messages after the first"),
    (lambda c: None, "returned NoneType"),
    (lambda c: 1 / 0, "raised ZeroDivisionError"),
    ("not a function", "should be a function"),
])
def test_fold_system_near_misses(strict, wrong, message):
    result = verdict("fold-system", fold_system=wrong, strict_template=strict)
    assert not result.correct and message in result.message, result.message


def test_fold_system_needs_the_strict_template():
    result = verdict("fold-system", fold_system=solution, strict_template="{{ messages }}")
    assert not result.correct and "strict_template" in result.message
