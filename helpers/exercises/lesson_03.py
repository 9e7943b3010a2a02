"""Checkers for lesson 03 ("Generating text").

Expected values come from the course model in use (``COURSE_MODEL`` or the bundled one), worked
out independently of the call the learner is asked to make: token counts from
``tokenizer.encode``, the stop-string answer by scanning a plain greedy run token by token, and
the deterministic-sampling answer by re-running the learner's settings under several seeds.
"""

from __future__ import annotations

import functools
from typing import Any

from helpers.exercises import NotYet, exercise

MAX_LENGTH_PROMPT = "Once upon a time, there was a little fox named Leo. He lived in the woods."
NEW_TOKENS = 20
STOP_PROMPT = "Once upon a time, there was a girl named Mia. One day,"
STOP_BUDGET = 60
SEEDS = (0, 1, 2, 3, 4)
DETERMINISTIC_PROMPT = "Once upon a time"
DETERMINISTIC_TOKENS = 20


@functools.cache
def _model_and_tokenizer() -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from helpers.hub import course_model

    location = course_model()
    tokenizer = AutoTokenizer.from_pretrained(location)
    model = AutoModelForCausalLM.from_pretrained(location).eval()
    return model, tokenizer


def _pad_id(tokenizer: Any) -> int | None:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def _generate_ids(prompt: str, seed: int = 0, **kwargs: Any) -> tuple[list[int], Any]:
    """New token ids of one generate() call, and the tokenizer."""
    import torch
    from transformers import set_seed

    model, tokenizer = _model_and_tokenizer()
    inputs = tokenizer(prompt, return_tensors="pt").to(model.device)
    set_seed(seed)
    with torch.inference_mode():
        out = model.generate(**inputs, pad_token_id=_pad_id(tokenizer), **kwargs)
    return out[0, inputs["input_ids"].shape[1]:].tolist(), tokenizer


# ------------------------------------------------------------------------------ max_length


@exercise("03", "max-length", title="The max_length that leaves room for 20 new tokens")
def max_length(max_length_for_20: int, prompt: str = MAX_LENGTH_PROMPT) -> bool:
    if isinstance(max_length_for_20, bool) or not isinstance(max_length_for_20, int):
        raise NotYet(f"`max_length_for_20` should be an int (a number of tokens), not "
                     f"{type(max_length_for_20).__name__}")
    _, tokenizer = _model_and_tokenizer()
    prompt_tokens = len(tokenizer.encode(prompt))  # what tokenizer(prompt) puts in input_ids
    expected = prompt_tokens + NEW_TOKENS
    if max_length_for_20 == expected:
        return True
    if max_length_for_20 == NEW_TOKENS:
        raise NotYet(f"max_length={NEW_TOKENS} counts the prompt too: its {prompt_tokens} tokens "
                     "would leave no room at all. Add the prompt's length in tokens")
    if max_length_for_20 in (expected - 1, expected + 1):
        raise NotYet(f"{max_length_for_20} is off by one: max_length = prompt tokens + new "
                     "tokens, exactly (inputs['input_ids'].shape[1] + 20)")
    if max_length_for_20 == len(prompt) + NEW_TOKENS:
        raise NotYet(f"{len(prompt)} is the prompt's length in characters; max_length counts "
                     "tokens: tokenize the prompt and count its input_ids")
    if max_length_for_20 == len(prompt.split()) + NEW_TOKENS:
        raise NotYet(f"{len(prompt.split())} is the number of words in the prompt; a word can "
                     "be several tokens: count the prompt's input_ids")
    raise NotYet(f"{max_length_for_20} is not it: tokenize the prompt, take the number of its "
                 "input_ids and add the 20 new tokens")


# ------------------------------------------------------------------------------ stop strings


def _expected_stop(stop_word: str, prompt: str) -> tuple[str, str]:
    """(new text up to the first token that completes stop_word, the whole greedy text), found
    by scanning a greedy run without stop strings one token at a time. As generate() does, a
    match counts only where the stop string ends inside the newest token (it may start in the
    prompt); an occurrence wholly inside the prompt does not stop anything."""
    ids, tokenizer = _generate_ids(prompt, max_new_tokens=STOP_BUDGET, do_sample=False)
    prompt_ids = tokenizer(prompt)["input_ids"]
    full = tokenizer.decode(ids, skip_special_tokens=True)
    before = tokenizer.decode(prompt_ids, skip_special_tokens=True)
    for k in range(1, len(ids) + 1):
        text = tokenizer.decode(prompt_ids + ids[:k], skip_special_tokens=True)
        if stop_word in text[max(0, len(before) - len(stop_word) + 1):]:
            return tokenizer.decode(ids[:k], skip_special_tokens=True), full
        before = text
    return full, full


@exercise("03", "stop-string", title="Stop greedy generation on a string the model writes")
def stop_string(stopped_text: str, stop_word: str, prompt: str = STOP_PROMPT) -> bool:
    if not isinstance(stopped_text, str):
        raise NotYet("`stopped_text` should be a str: decode only the new tokens, "
                     "output_ids[0, prompt_length:]")
    if not isinstance(stop_word, str) or not stop_word:
        raise NotYet("`stop_word` is not set: run the cell that picks it")
    expected, full = _expected_stop(stop_word, prompt)
    got = stopped_text.strip()
    if got == expected.strip():
        return True
    if got.startswith(prompt.strip()):
        raise NotYet("your text starts with the prompt: keep only the new tokens, "
                     "output_ids[0, inputs['input_ids'].shape[1]:], before decoding")
    if got == full.strip() and expected != full:
        raise NotYet("generation did not stop: pass stop_strings=[stop_word] and "
                     "tokenizer=tokenizer to generate()")
    if expected.strip().startswith(got):
        rest = expected.strip()[len(got):].strip()
        if rest.startswith(stop_word):
            raise NotYet("the stop word is missing: generate() keeps the stop string at the "
                         "end of the output. Did you cut the text yourself instead of using "
                         "stop_strings?")
        raise NotYet(f"your text stops before {stop_word!r}: give it room, "
                     f"max_new_tokens={STOP_BUDGET}")
    raise NotYet(f"that is not the greedy text: use do_sample=False (greedy) with "
                 f"max_new_tokens={STOP_BUDGET}, stop_strings=[stop_word], tokenizer=tokenizer")


# ------------------------------------------------------------------------------ determinism

SAMPLING_KEYS = {"do_sample", "temperature", "top_k", "top_p", "min_p", "typical_p",
                 "max_new_tokens", "repetition_penalty", "no_repeat_ngram_size"}


@exercise("03", "deterministic", title="Sampling settings that give the same text for any seed")
def deterministic(deterministic_settings: dict) -> Any:
    if not isinstance(deterministic_settings, dict):
        raise NotYet("`deterministic_settings` should be a dict of generate() settings, such "
                     "as pg.settings() returns")
    unknown = sorted(set(deterministic_settings) - SAMPLING_KEYS)
    if unknown:
        raise NotYet(f"only decoding settings, please (not {', '.join(unknown)}): "
                     "pg.settings() gives them")
    settings = dict(deterministic_settings)
    if not settings.get("do_sample"):
        raise NotYet("do_sample is off: that is greedy decoding, deterministic by definition. "
                     "Keep do_sample=True and find the sampling settings that leave no choice")
    temperature = settings.get("temperature", 1.0)
    if temperature is not None and temperature <= 0:
        raise NotYet("temperature must be above 0 when sampling (generate() raises "
                     "ValueError); lower top_k or top_p instead")
    settings["max_new_tokens"] = DETERMINISTIC_TOKENS
    _, tokenizer = _model_and_tokenizer()
    texts = {}
    for seed in SEEDS:
        ids, _ = _generate_ids(DETERMINISTIC_PROMPT, seed=seed, **settings)
        texts[seed] = tokenizer.decode(ids, skip_special_tokens=True)
    differing = [s for s in SEEDS if texts[s] != texts[SEEDS[0]]]
    if differing:
        s = differing[0]
        raise NotYet(f"seed {SEEDS[0]} and seed {s} gave different texts ({texts[SEEDS[0]]!r} "
                     f"vs {texts[s]!r}): more than one token is still possible at some step. "
                     "Which setting leaves exactly one candidate?")
    greedy_ids, _ = _generate_ids(DETERMINISTIC_PROMPT, max_new_tokens=DETERMINISTIC_TOKENS,
                                  do_sample=False)
    greedy = tokenizer.decode(greedy_ids, skip_special_tokens=True)
    exact = settings.get("top_k") == 1 or (settings.get("top_p") or 1.0) <= 1e-6
    if exact:
        return True, f"the same text for seeds {SEEDS}, and it is the greedy text"
    note = ("the greedy text" if texts[SEEDS[0]] == greedy else
            "not even the greedy text")
    return True, (f"the same text for seeds {SEEDS} ({note}). These settings only make other "
                  "tokens very unlikely; top_k=1 leaves exactly one candidate at every step")
