"""Checkers for lesson 08 ("The troubleshooting clinic"): three broken snippets to repair.

Expected values come from the course model in use (``COURSE_MODEL`` / ``COURSE_CHAT_MODEL``, or
the bundled ones) and are computed another way than the repaired snippet does: token counts
text by text without padding, the chat prompt's ids from the rendered template text.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from helpers.exercises import NotYet, exercise

#: exercise 1: texts of different lengths, padded into one batch on the left
BATCH_TEXTS = ("Once upon a time", "The little fox ran all the way home to his mother")
#: exercise 2: the prompt and how many new tokens the greedy continuation has
PROMPT = "Once upon a time"
NEW_TOKENS = 12
#: exercise 3: the conversation whose prompt ids the repaired snippet builds
MESSAGES = ({"role": "user", "content": "Tell me a story about a fox named Leo"},)


@functools.lru_cache(maxsize=4)
def _tokenizer(kind: str = "base") -> Any:
    from transformers import AutoTokenizer

    from helpers.hub import course_model

    return AutoTokenizer.from_pretrained(course_model(kind))


@functools.lru_cache(maxsize=1)
def _model() -> Any:
    from transformers import AutoModelForCausalLM

    from helpers.hub import course_model

    return AutoModelForCausalLM.from_pretrained(course_model("base"))


def _tensor_2d(value: Any, name: str) -> Any:
    import torch

    if isinstance(value, str):
        raise NotYet(f"`{name}` is text: tokenize it, with return_tensors=\"pt\"")
    if isinstance(value, list | tuple):
        raise NotYet(f"`{name}` holds Python lists: ask the tokenizer for tensors with "
                     "return_tensors=\"pt\"")
    if not isinstance(value, torch.Tensor):
        raise NotYet(f"`{name}` should be a torch tensor, not {type(value).__name__}")
    if value.ndim != 2:
        raise NotYet(f"`{name}` has {value.ndim} dimension(s); keep the batch dimension: "
                     "(batch, tokens)")
    return value


# --------------------------------------------------------------------------- exercise 1


@exercise("08", "pad-batch")
def pad_batch(left_batch: Any) -> str | bool:
    """Repair a padding error: both texts in one tensor, padded on the left."""
    if not isinstance(left_batch, Mapping) or "input_ids" not in left_batch:
        if hasattr(left_batch, "shape") or isinstance(left_batch, list | tuple):
            raise NotYet("`left_batch` should be the tokenizer's whole result (a BatchEncoding "
                         "with input_ids and attention_mask), not the ids alone")
        raise NotYet("`left_batch` should be what the tokenizer returns for the two texts")
    ids = _tensor_2d(left_batch["input_ids"], "left_batch['input_ids']")
    tok = _tokenizer("base")
    # each text on its own, unpadded: its true length and ids
    alone = [tok(text)["input_ids"] for text in BATCH_TEXTS]
    if ids.shape[0] != len(BATCH_TEXTS):
        raise NotYet(f"the batch has {ids.shape[0]} row(s); tokenize both texts together, one "
                     f"row per text ({len(BATCH_TEXTS)})")
    longest = max(len(a) for a in alone)
    if ids.shape[1] != longest:
        raise NotYet(f"rows are {ids.shape[1]} tokens long, the longer text has {longest}: pad "
                     "to the longest (padding=True), without truncating")
    if "attention_mask" not in left_batch:
        raise NotYet("the batch has no attention_mask: without it the model reads the pads; "
                     "keep the tokenizer's whole result")
    mask = left_batch["attention_mask"]
    counts = [int(sum(row)) for row in mask.tolist()]
    if counts != [len(a) for a in alone] and counts == [len(a) for a in reversed(alone)]:
        raise NotYet("the rows are in the other order: keep the texts in the exercise's order")
    for row, (row_ids, want) in enumerate(zip(ids.tolist(), alone, strict=True)):
        real = mask[row].tolist()
        if sum(real) != len(want):
            raise NotYet(f"row {row}'s attention mask marks {sum(real)} tokens, the text has "
                         f"{len(want)}")
        if real != sorted(real):
            raise NotYet("the pads are on the right: for generation pad on the left "
                         "(tokenizer.padding_side = \"left\"), so every row ends with its "
                         "last real token")
        if row_ids[len(row_ids) - len(want):] != want:
            raise NotYet(f"row {row} does not hold the ids of {BATCH_TEXTS[row]!r}: use the "
                         "course model's tokenizer, and the texts in their order")
    return True


# --------------------------------------------------------------------------- exercise 2


@functools.lru_cache(maxsize=1)
def _greedy() -> tuple[str, str]:
    """(continuation, whole text) of the greedy continuation, through a GenerationConfig."""
    from transformers import GenerationConfig

    tok, model = _tokenizer("base"), _model()
    inputs = tok(PROMPT, return_tensors="pt")
    config = GenerationConfig(do_sample=False, max_new_tokens=NEW_TOKENS,
                              pad_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id)
    out = model.generate(**inputs, generation_config=config)[0]
    n = inputs["input_ids"].shape[1]
    return (tok.decode(out[n:], skip_special_tokens=True),
            tok.decode(out, skip_special_tokens=True))


@exercise("08", "greedy-continuation")
def greedy_continuation(continuation: Any) -> str | bool:
    """Repair a generate() call: the greedy continuation of NEW_TOKENS new tokens, as text."""
    if not isinstance(continuation, str):
        if hasattr(continuation, "shape") or isinstance(continuation, list | tuple):
            raise NotYet("`continuation` holds token ids: decode the new ones to text with "
                         "tokenizer.decode(out[0][n_prompt:], skip_special_tokens=True)")
        raise NotYet(f"`continuation` should be a str, not {type(continuation).__name__}")
    want, whole = _greedy()
    if continuation == want:
        return True
    if continuation.strip() == whole.strip() or continuation.startswith(PROMPT):
        raise NotYet("that text starts with the prompt: keep only the new tokens, "
                     "out[0][inputs['input_ids'].shape[1]:]")
    if continuation and want.startswith(continuation):
        raise NotYet(f"that is shorter than {NEW_TOKENS} new tokens: max_length counts the "
                     f"prompt too; ask for max_new_tokens={NEW_TOKENS}")
    if continuation.strip() == want.strip():
        raise NotYet("almost: the spacing differs; decode with skip_special_tokens=True and "
                     "keep the text as it is (no strip())")
    return ("not the greedy continuation: use do_sample=False (greedy needs no temperature), "
            f"max_new_tokens={NEW_TOKENS}, and the course model")


# --------------------------------------------------------------------------- exercise 3


def _chat_ids(add_generation_prompt: bool) -> list[int]:
    """The conversation's ids from its rendered text (not apply_chat_template's tokenizing)."""
    tok = _tokenizer("chat")
    text = tok.apply_chat_template(list(MESSAGES), add_generation_prompt=add_generation_prompt,
                                   tokenize=False)
    return tok(text, add_special_tokens=False)["input_ids"]


@exercise("08", "chat-prompt-ids")
def chat_prompt_ids(chat_ids: Any) -> str | bool:
    """Repair a chat prompt: the ids tensor (1, n), with the assistant's header at the end."""
    if isinstance(chat_ids, Mapping):
        raise NotYet("`chat_ids` is the whole BatchEncoding: take its ['input_ids'] (or pass "
                     "return_dict=False)")
    if isinstance(chat_ids, Sequence) and not isinstance(chat_ids, str) and chat_ids \
            and isinstance(chat_ids[0], int):
        raise NotYet("`chat_ids` is a flat list of ids: ask for a tensor with "
                     "return_tensors=\"pt\"")
    ids = _tensor_2d(chat_ids, "chat_ids")
    if ids.shape[0] != 1:
        raise NotYet(f"`chat_ids` has {ids.shape[0]} rows; the conversation is one row")
    got = ids[0].tolist()
    if got == _chat_ids(True):
        return True
    if got == _chat_ids(False):
        raise NotYet("the prompt ends after the user's turn: add_generation_prompt=True adds "
                     "the assistant's header, so the model answers instead of going on with the "
                     "user's text")
    return ("these are not the ids of the exercise's conversation: use the chat model's "
            "tokenizer (helpers.course_model(\"chat\")) and the messages as given")
