"""Checkers for lesson 02 ("Tokenizers: from text to ids and back").

Expected values come from the course model in use (``COURSE_MODEL`` or the bundled one), and are
computed another way than the lesson asks the learner to: token counts from the Rust tokenizer
(``tokenizer.backend_tokenizer.encode``) rather than ``tokenizer(text)``, the length limit from
the config and the saved tokenizer settings rather than from ``helpers.tokens.context_length``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from helpers.exercises import NotYet, exercise

#: the sentence of exercise 1 (the notebook's exercise cell holds the same literal; a test
#: keeps them equal)
COUNT_TEXT = "Once upon a time, a curious hippopotamus named Zanzibar tiptoed into the library."
#: the texts of exercise 2
BATCH_TEXTS = ("Once upon a time", "Leo ran home.", "The end.")
#: above this, model_max_length is transformers' "no limit recorded" sentinel (int(1e30))
NO_LIMIT_ABOVE = int(1e20)


@functools.lru_cache(maxsize=4)
def _tokenizer(kind: str = "base") -> Any:
    from transformers import AutoTokenizer

    from helpers.hub import course_model

    return AutoTokenizer.from_pretrained(course_model(kind))


@functools.lru_cache(maxsize=8)
def _rust(tokenizer: Any, max_length: int | None = None) -> Any:
    """A private copy of the Rust tokenizer behind ``tokenizer`` (None if it has none), with
    no padding and, unless ``max_length`` is given, no truncation: transformers leaves its last
    call's settings on the shared one."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    from tokenizers import Tokenizer

    rust = Tokenizer.from_str(backend.to_str())
    rust.no_padding()
    if max_length is None:
        rust.no_truncation()
    else:
        rust.enable_truncation(max_length=max_length)
    return rust


def _ids(tokenizer: Any, text: str, add_special_tokens: bool = True,
         max_length: int | None = None) -> list[int]:
    """Token ids straight from the Rust tokenizer when there is one (not ``tokenizer(text)``)."""
    rust = _rust(tokenizer, max_length)
    if rust is not None:
        return list(rust.encode(text, add_special_tokens=add_special_tokens).ids)
    return list(tokenizer.encode(text, add_special_tokens=add_special_tokens,  # pragma: no cover
                                 truncation=max_length is not None, max_length=max_length))


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, str):
        raise NotYet(f"`{name}` should be an int, not a str: {value!r} has quotes around it")
    if isinstance(value, bool):
        raise NotYet(f"`{name}` should be a number, not {value}")
    if isinstance(value, int):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return int(value.item())
    if isinstance(value, Sequence | Mapping) or hasattr(value, "shape"):
        raise NotYet(f"`{name}` should be a number: you stored the tokens themselves; "
                     "take len() of the input_ids")
    raise NotYet(f"`{name}` should be an int, not {type(value).__name__}")


# --------------------------------------------------------------------------- exercise 1


@exercise("02", "count-tokens", title="Count the tokens a sentence costs")
def count_tokens(n_tokens: int) -> bool:
    n = _as_int(n_tokens, "n_tokens")
    tokenizer = _tokenizer("base")
    expected = len(_ids(tokenizer, COUNT_TEXT))
    if n == expected:
        return True
    without_specials = len(_ids(tokenizer, COUNT_TEXT, add_special_tokens=False))
    if n == without_specials:
        raise NotYet("that count leaves out the special tokens this tokenizer adds: count "
                     "tokenizer(text)['input_ids'], which is what the model receives")
    if n == len(COUNT_TEXT.split()):
        raise NotYet(f"{n} is the number of words; tokens are pieces of words, so ask the "
                     "tokenizer: len(tokenizer(text)['input_ids'])")
    if n == len(COUNT_TEXT):
        raise NotYet(f"{n} is the number of characters; count the tokenizer's input_ids")
    chat = _tokenizer("chat")
    if chat.get_vocab() != tokenizer.get_vocab() and n == len(_ids(chat, COUNT_TEXT)):
        raise NotYet("that is the chat tokenizer's count; this exercise asks for the base "
                     "model's tokenizer (AutoTokenizer.from_pretrained(helpers.course_model()))")
    direction = "more" if n < expected else "fewer"
    raise NotYet(f"{n} is not it: the base tokenizer makes {direction} tokens of the whole "
                 "sentence, as written (same capitals, spaces and punctuation)")


# --------------------------------------------------------------------------- exercise 2


def _rows(value: Any, name: str) -> list[list[int]]:
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, list) or not all(isinstance(row, list) for row in value):
        raise NotYet(f"batch['{name}'] should be a 2-D tensor, one row per text")
    return value


@exercise("02", "pad-batch", title="Pad three texts into one batch of tensors")
def pad_batch(batch: Mapping) -> bool:
    import torch

    if not isinstance(batch, Mapping) or "input_ids" not in batch:
        raise NotYet("`batch` should be what the tokenizer returns (a BatchEncoding with "
                     "input_ids and attention_mask)")
    if "attention_mask" not in batch:
        raise NotYet("`batch` has no attention_mask: don't pass return_attention_mask=False; "
                     "the model needs it to skip the pads")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    if not isinstance(ids, torch.Tensor):
        raise NotYet("batch['input_ids'] is not a tensor: pass return_tensors=\"pt\"")
    rows, masks = _rows(ids, "input_ids"), _rows(mask, "attention_mask")
    tokenizer = _tokenizer("base")
    own = [_ids(tokenizer, text) for text in BATCH_TEXTS]
    if len(rows) != len(BATCH_TEXTS):
        raise NotYet(f"the batch has {len(rows)} rows; tokenize the {len(BATCH_TEXTS)} texts "
                     "of `texts` in one call")
    longest = max(len(r) for r in own)
    width = len(rows[0])
    if width > longest:
        raise NotYet(f"every row is {width} tokens long, but the longest text has only "
                     f"{longest}: padding='max_length' pads to model_max_length; "
                     "padding=True (or 'longest') pads to the longest text")
    if width < longest:
        raise NotYet(f"rows are {width} tokens long, shorter than the longest text ({longest}): "
                     "was something truncated? leave truncation out here")
    for n, (row, row_mask, expected) in enumerate(zip(rows, masks, own, strict=True)):
        real = [token for token, keep in zip(row, row_mask, strict=True) if keep]
        if sum(row_mask) != len(expected) or real != expected:
            raise NotYet(f"row {n} ({BATCH_TEXTS[n]!r}): the attention mask should be 1 exactly "
                         "on the text's own tokens and 0 on the pads")
    return True


# --------------------------------------------------------------------------- exercise 3


def expected_limit() -> int:
    """The most tokens the base model takes, read from the config and the saved tokenizer
    settings (not from helpers.tokens.context_length, which the learner may call)."""
    from transformers import AutoConfig

    from helpers.hub import course_model

    config = AutoConfig.from_pretrained(course_model("base"))
    limits = [getattr(config, "max_position_embeddings", None)]
    saved = _tokenizer("base").init_kwargs.get("model_max_length")
    limits.append(saved)
    known = [int(n) for n in limits if isinstance(n, int | float) and 0 < n <= NO_LIMIT_ABOVE]
    if not known:  # pragma: no cover - every causal LM the course knows records one
        raise NotYet("this model records no length limit; any max_length is accepted")
    return min(known)


def _flat(value: Any) -> list[int]:
    if isinstance(value, Mapping) and "input_ids" in value:
        raise NotYet("`input_ids` should be the ids, not the whole encoding: take "
                      "encoding['input_ids']")
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]  # a batch of one (return_tensors="pt")
    if not isinstance(value, list) or not all(isinstance(i, int) for i in value):
        raise NotYet("`input_ids` should be one text's token ids (a list or a 1-row tensor)")
    return value


@exercise("02", "truncate", title="Cut a long text to the model's real limit")
def truncate(input_ids: Any, long_text: str) -> bool:
    if not isinstance(long_text, str):
        raise NotYet("`long_text` should be the text (a str) you tokenized")
    ids = _flat(input_ids)
    limit = expected_limit()
    tokenizer = _tokenizer("base")
    full = _ids(tokenizer, long_text)
    if len(full) <= limit:
        raise NotYet(f"`long_text` has only {len(full)} tokens, within the limit of {limit}: "
                     "keep the long text the exercise builds")
    if len(ids) == len(full):
        raise NotYet(f"nothing was cut: all {len(ids)} tokens are still there. Pass "
                     "truncation=True and max_length= (truncation=True alone does nothing when "
                     "model_max_length is the int(1e30) no-limit value)")
    if len(ids) > limit:
        raise NotYet(f"{len(ids)} tokens is still more than the model takes ({limit}): "
                     "max_length is the smaller of model_max_length and "
                     "config.max_position_embeddings")
    if len(ids) < limit:
        raise NotYet(f"{len(ids)} tokens fit, but the model takes up to {limit}: use its whole "
                     "limit (context_length, or config.max_position_embeddings)")
    if ids == _ids(tokenizer, long_text, max_length=limit):
        return True
    if ids[-10:] == full[-10:]:
        raise NotYet("you kept the end of the text: truncation_side='left' cuts the start. "
                     "Keep the beginning (the default, truncation_side='right')")
    raise NotYet("these are not the text's first tokens: tokenize long_text with the base "
                 "tokenizer, truncation=True and max_length=the limit")
