"""Checkers for lesson 07 ("Chat models and chat templates").

Expected values come from the course chat model in use (``COURSE_CHAT_MODEL`` or the bundled
one), worked out independently of the call the learner is asked to make: the generation prompt
from token ids instead of rendered strings, the third turn's reply from the rendered text
tokenized separately and a greedy loop of our own, and ``fold_system`` by running it on
conversations the learner has not seen and rendering each result with the strict template.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from helpers.exercises import NotYet, exercise

REQUEST = "Tell me a story about a fox named Leo"
THANKS = "Thank you!"
THANKS_TOKENS = 60


@functools.cache
def _chat_tokenizer() -> Any:
    from transformers import AutoTokenizer

    from helpers.hub import course_model

    return AutoTokenizer.from_pretrained(course_model("chat"))


@functools.cache
def _chat_model() -> Any:
    from transformers import AutoModelForCausalLM

    from helpers.hub import course_model

    return AutoModelForCausalLM.from_pretrained(course_model("chat")).eval()


def _check_messages(messages: Any, name: str) -> None:
    if not isinstance(messages, list) or not messages:
        raise NotYet(f"`{name}` should be a list of messages, dicts with 'role' and 'content'")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise NotYet(f"message {i} of `{name}` should be a dict with 'role' and 'content' "
                         f"keys, not {message!r}")


# ------------------------------------------------------------------------------ generation prompt


def _ids(messages: list[dict], add_generation_prompt: bool) -> list[int]:
    return list(_chat_tokenizer().apply_chat_template(
        messages, add_generation_prompt=add_generation_prompt, return_dict=False))


@exercise("07", "generation-prompt", title="The text add_generation_prompt=True appends")
def generation_prompt(generation_prompt: str, messages: list) -> bool:
    _check_messages(messages, "messages")
    if isinstance(generation_prompt, (list, tuple)) or hasattr(generation_prompt, "keys"):
        raise NotYet("that is token ids; render with tokenize=False to compare text")
    if not isinstance(generation_prompt, str):
        raise NotYet(f"`generation_prompt` should be a str, not {type(generation_prompt).__name__}")
    tokenizer = _chat_tokenizer()
    # from token ids: the ids add_generation_prompt=True adds, decoded
    plain, opened = _ids(messages, False), _ids(messages, True)
    expected = tokenizer.decode(opened[len(plain):]) if opened[:len(plain)] == plain else None
    without = tokenizer.apply_chat_template(messages, tokenize=False)
    rendered = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                             tokenize=False)
    if expected is None or without + expected != rendered:
        # tokens merge across the boundary, or decode() does not give the text back: use the
        # rendered strings themselves
        expected = rendered[len(without):]
    if generation_prompt == expected:
        return True
    if generation_prompt == rendered:
        raise NotYet("that is the whole rendered prompt; keep only what add_generation_prompt "
                     "adds at the end (the part after the prompt rendered without it)")
    if generation_prompt == without:
        raise NotYet("that is the conversation without the generation prompt; take what the "
                     "version with add_generation_prompt=True has in addition")
    if expected and generation_prompt.strip() == expected.strip():
        raise NotYet(f"whitespace matters: the header is {expected!r}. Don't strip it; the "
                     "model was trained with exactly these characters")
    if expected and expected in generation_prompt:
        raise NotYet("there is more than the generation prompt in your text: take only the "
                     "characters after the prompt rendered without add_generation_prompt")
    raise NotYet(f"{generation_prompt!r} is not what this template adds. Render `messages` "
                 "twice with tokenize=False (with and without add_generation_prompt=True) and "
                 "take the difference, rather than typing a header of some model")


# ------------------------------------------------------------------------------ third turn


def _greedy_reply(text: str, max_new_tokens: int) -> str:
    """Greedy new text after ``text``: tokenized on its own and decoded by our own loop (the
    model's forward pass and its KV cache, not generate(), so a mistake in the learner's call
    cannot be repeated here; the cache keeps a 135M-parameter model's check to seconds)."""
    import torch

    model, tokenizer = _chat_model(), _chat_tokenizer()
    ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]],
                       device=model.device)
    eos = model.generation_config.eos_token_id
    stop = set() if eos is None else {eos} if isinstance(eos, int) else set(eos)
    new: list[int] = []
    with torch.inference_mode():
        out = model(input_ids=ids, use_cache=True)
        for _ in range(max_new_tokens):
            token = int(out.logits[0, -1].argmax())
            new.append(token)
            if token in stop:
                break
            out = model(input_ids=torch.tensor([[token]], device=model.device),
                        cache=out.cache, use_cache=True)
    return tokenizer.decode(new, skip_special_tokens=True)


@exercise("07", "third-turn", title="The chat model's reply to a third turn")
def third_turn(thanks_messages: list, thanks_reply: str, story: str,
               request: str = REQUEST) -> bool:
    _check_messages(thanks_messages, "thanks_messages")
    roles = [m["role"] for m in thanks_messages]
    if roles != ["user", "assistant", "user"]:
        raise NotYet(f"the roles are {roles}; the conversation is "
                     "['user', 'assistant', 'user']: the request, the story, the thanks")
    first, answer, last = (m["content"] for m in thanks_messages)
    if first != request:
        raise NotYet(f"the first message should be the request {request!r}")
    if answer != story:
        if isinstance(answer, str) and answer.strip() == str(story).strip():
            raise NotYet("the assistant's message should be `story` exactly as it is")
        raise NotYet("the assistant's message should be the model's `story`: the model only "
                     "knows what it said if you send it back")
    if last != THANKS:
        raise NotYet(f"the last message should be the user's {THANKS!r}")
    if not isinstance(thanks_reply, str):
        raise NotYet("`thanks_reply` should be a str: decode only the new tokens with "
                     "skip_special_tokens=True")
    tokenizer = _chat_tokenizer()
    with_header = tokenizer.apply_chat_template(thanks_messages, add_generation_prompt=True,
                                                tokenize=False)
    expected = _greedy_reply(with_header, THANKS_TOKENS)
    if thanks_reply.strip() == expected.strip():
        return True
    if story in thanks_reply or request in thanks_reply:
        raise NotYet("your text contains the conversation: keep only the new tokens, "
                     "out[0, inputs['input_ids'].shape[1]:], before decoding")
    specials = [t for t in tokenizer.all_special_tokens if t and t in thanks_reply]
    if specials:
        raise NotYet(f"your text contains {specials[0]!r}: decode with "
                     "skip_special_tokens=True")
    without = tokenizer.apply_chat_template(thanks_messages, tokenize=False)
    if thanks_reply.strip() == _greedy_reply(without, THANKS_TOKENS).strip() != expected.strip():
        raise NotYet("that is the reply to a prompt without the assistant's header: pass "
                     "add_generation_prompt=True")
    if expected.strip().startswith(thanks_reply.strip()):
        raise NotYet(f"your reply stops early: give it max_new_tokens={THANKS_TOKENS}")
    raise NotYet(f"that is not the greedy reply: use do_sample=False and "
                 f"max_new_tokens={THANKS_TOKENS} on the rendered conversation with "
                 "add_generation_prompt=True")


# ------------------------------------------------------------------------------ fold system


SYSTEM = "You are a friendly storyteller."
CASES: tuple[tuple[str, list[dict]], ...] = (
    ("a system message and one request", [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": REQUEST},
    ]),
    ("a system message and three turns", [
        {"role": "system", "content": "Answer in one sentence."},
        {"role": "user", "content": "Tell me a story about a cat named Mia."},
        {"role": "assistant", "content": "Once upon a time, Mia found a shell. The end."},
        {"role": "user", "content": THANKS},
    ]),
    ("a conversation without a system message", [
        {"role": "user", "content": "Hello!"},
        {"role": "assistant", "content": "Hi! Which animal do you want a story about?"},
        {"role": "user", "content": "A fox."},
    ]),
)


def _expected_fold(conversation: list[dict]) -> list[dict]:
    if conversation[0]["role"] != "system":
        return [dict(m) for m in conversation]
    system, first, *rest = conversation
    return [{"role": first["role"], "content": system["content"] + "\n\n" + first["content"]},
            *[dict(m) for m in rest]]


@exercise("07", "fold-system", title="Fold a system message into the first user message")
def fold_system(fold_system: Any, strict_template: str) -> bool:
    if not callable(fold_system):
        raise NotYet("`fold_system` should be a function that takes a conversation and returns "
                     "a new one")
    if not isinstance(strict_template, str) or "raise_exception" not in strict_template:
        raise NotYet("`strict_template` is not set: run the Error recovery cell that builds it")
    from jinja2.exceptions import TemplateError

    tokenizer = _chat_tokenizer()
    for label, case in CASES:
        given = copy.deepcopy(case)
        try:
            result = fold_system(given)
        except Exception as exc:  # noqa: BLE001 - report the learner's own error
            raise NotYet(f"fold_system raised {type(exc).__name__}: {exc} on {label}") from None
        if given != case:
            raise NotYet(f"fold_system changed the list it was given ({label}): build and "
                         "return a new list (and new dicts) instead")
        if not isinstance(result, list):
            raise NotYet(f"fold_system returned {type(result).__name__} for {label}; return "
                         "a list of messages")
        _check_messages(result, "the result")
        expected = _expected_fold(case)
        if result == expected:
            try:
                tokenizer.apply_chat_template(result, chat_template=strict_template,
                                              tokenize=False)
            except TemplateError as exc:  # pragma: no cover - expected never has a system role
                raise NotYet(f"strict_template still refuses the result for {label}: "
                             f"{exc}") from None
            continue
        roles = [m["role"] for m in result]
        if "system" in roles:
            raise NotYet(f"the result for {label} still has a system message: "
                         "strict_template refuses it")
        if case[0]["role"] != "system":
            raise NotYet(f"{label} should come back unchanged, but it did not")
        system_text = case[0]["content"]
        if len(result) == len(case) and roles[0] == "user":
            raise NotYet(f"for {label}, the result has as many messages as the input: was the "
                         "system message turned into a user message? Consecutive user "
                         "messages break templates that require alternation; merge the two")
        if not any(system_text in str(m.get("content")) for m in result):
            raise NotYet(f"the system text is lost for {label}: it must start the first user "
                         "message")
        first = result[0]
        if first.get("role") != "user":
            raise NotYet(f"for {label}, the first message should be the user's")
        if first["content"] != expected[0]["content"]:
            raise NotYet(f"for {label}, the first message's content is {first['content']!r}; "
                         f"it should be {expected[0]['content']!r}: the system text, a blank "
                         "line (\"\\n\\n\"), then the user's text")
        raise NotYet(f"for {label}, the messages after the first should stay as they were")
    return True
