"""Checkers for lesson 06 ("Speed").

Expected values come from the course model in use (``COURSE_MODEL`` or the bundled one), worked
out independently of what the learner is asked to do: the hand-written KV-cache loop is compared
with ``generate()``'s greedy tokens, the bfloat16 weight bytes are counted from a model built on
the meta device (no weights read), and the honest rate from the exercise's own data.
"""

from __future__ import annotations

import functools
import math
import statistics
from typing import Any

from helpers.exercises import NotYet, exercise

PROMPT = "Once upon a time, there was a little fox named Leo. One day,"
LOOP_TOKENS = 10
GPU_BANDWIDTH = 3.35e12  # bytes/s, the exercise's H100 SXM
RUN_SECONDS = (2.40, 0.50, 0.48, 0.95, 0.46)
RUN_TOKENS = 32
PROMPT_TOKENS = 20


@functools.cache
def _model_and_tokenizer() -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from helpers.hub import course_model

    location = course_model()
    return AutoModelForCausalLM.from_pretrained(location).eval(), AutoTokenizer.from_pretrained(
        location
    )


@functools.cache
def _greedy(prompt: str, n: int) -> tuple[tuple[int, ...], int]:
    """(the n greedy new ids generate() makes, the prompt's length in tokens)."""
    import torch

    model, tokenizer = _model_and_tokenizer()
    inputs = tokenizer(prompt, return_tensors="pt")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                             pad_token_id=pad)
    prompt_len = int(inputs["input_ids"].shape[1])
    return tuple(out[0, prompt_len:].tolist()), prompt_len


def _as_ids(value: Any) -> list[int]:
    try:
        import torch

        if isinstance(value, torch.Tensor):
            return [int(v) for v in value.flatten().tolist()]
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    if isinstance(value, (list, tuple)):
        flat = []
        for v in value:
            if hasattr(v, "item"):
                v = v.item()
            if isinstance(v, (list, tuple)) and len(v) == 1:
                v = v[0]
            if isinstance(v, bool) or not isinstance(v, int):
                raise NotYet("`manual_ids` should hold token ids (ints); use next_id.item()")
            flat.append(v)
        return flat
    raise NotYet("`manual_ids` should be a list of token ids")


# ------------------------------------------------------------------------------ manual loop


@exercise("06", "manual-kv-loop", title="Greedy decoding with the KV cache, by hand")
def manual_kv_loop(manual_ids: Any, cache_length: Any, prompt: str = PROMPT) -> Any:
    ids = _as_ids(manual_ids)
    expected, prompt_len = _greedy(prompt, LOOP_TOKENS)
    if len(ids) == prompt_len + LOOP_TOKENS or (len(ids) > LOOP_TOKENS
                                                 and tuple(ids[-LOOP_TOKENS:]) == expected):
        raise NotYet(f"`manual_ids` has {len(ids)} ids: it includes the prompt. Keep only the "
                     f"{LOOP_TOKENS} new ones")
    if tuple(ids) != expected:
        if len(ids) != LOOP_TOKENS:
            raise NotYet(f"`manual_ids` has {len(ids)} ids, not {LOOP_TOKENS}: one new id per "
                         "pass of the loop")
        if tuple(ids[1:]) == expected[:-1] or tuple(ids) == expected[1:] + (ids[-1],):
            raise NotYet("the ids are shifted by one: the first new token is the argmax of the "
                         "prompt's last position, before the loop feeds anything back")
        first_bad = next(i for i, (a, b) in enumerate(zip(ids, expected, strict=True)) if a != b)
        raise NotYet(f"new token {first_bad + 1} is {ids[first_bad]}, but greedy decoding "
                     f"gives {expected[first_bad]}: take argmax of out.logits[:, -1] (the last "
                     "position), with no sampling")
    if isinstance(cache_length, bool) or not isinstance(cache_length, int):
        raise NotYet("`cache_length` should be an int: cache.get_seq_length()")
    # a loop that feeds each new token back after taking it holds prompt + 10 positions; one
    # that stops before feeding the last token holds prompt + 9: both used the cache
    fed_all, fed_but_last = prompt_len + LOOP_TOKENS, prompt_len + LOOP_TOKENS - 1
    if cache_length in (fed_all, fed_but_last):
        return True, (f"the same {LOOP_TOKENS} tokens as generate(), and the cache holds "
                      f"{cache_length} positions: the prompt's {prompt_len} plus each new token "
                      "fed back, one position per step")
    if cache_length == prompt_len:
        raise NotYet(f"{cache_length} positions is the prompt alone: read get_seq_length() of "
                     "the cache the *last* call returned, after the loop")
    if cache_length <= LOOP_TOKENS:
        raise NotYet(f"a cache of {cache_length} positions does not hold the prompt: pass the "
                     "previous step's cache to each call (cache=out.cache); without it every "
                     "call starts a new, empty cache")
    if cache_length > fed_all:
        raise NotYet(f"a cache of {cache_length} positions holds more than the text: did you "
                     "feed the whole sequence again (with the cache) at some step? Feed only "
                     "the newest token")
    raise NotYet(f"`cache_length` is {cache_length}: read get_seq_length() of the cache the "
                 "last call returned")


# ------------------------------------------------------------------------------ bandwidth


@functools.cache
def _bf16_bytes() -> tuple[int, int]:
    """(bytes of the course model's unique parameters in bfloat16, the parameter count),
    counted on the meta device from the config alone."""
    import torch
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM

    from helpers.hub import course_model

    config = AutoConfig.from_pretrained(course_model())
    with init_empty_weights():
        empty = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    empty.tie_weights()
    unique = {id(p): p for p in empty.parameters()}
    count = sum(p.numel() for p in unique.values())
    return 2 * count, count


def _close(a: float, b: float, tolerance: float = 0.02) -> bool:
    return b != 0 and abs(a - b) <= tolerance * abs(b)


@exercise("06", "bandwidth-ceiling", title="The decode ceiling of the course model in bfloat16")
def bandwidth_ceiling(bf16_weight_bytes: Any, ceiling_tokens_per_s: Any) -> Any:
    if isinstance(bf16_weight_bytes, bool) or not isinstance(bf16_weight_bytes, (int, float)):
        raise NotYet("`bf16_weight_bytes` should be a number of bytes (an int)")
    if isinstance(ceiling_tokens_per_s, bool) or not isinstance(ceiling_tokens_per_s,
                                                                 (int, float)):
        raise NotYet("`ceiling_tokens_per_s` should be a number (tokens per second)")
    expected, count = _bf16_bytes()
    answer = float(bf16_weight_bytes)
    if not _close(answer, expected):
        if _close(answer, count):
            raise NotYet(f"{bf16_weight_bytes:,} is the number of parameters; each takes 2 "
                         "bytes in bfloat16")
        if _close(answer, 2 * expected):
            raise NotYet("that is 4 bytes per parameter (float32); bfloat16 takes 2")
        if _close(answer, 8 * expected):
            raise NotYet("that is bits, not bytes: divide by 8")
        if _close(answer, expected / 2**20, 0.01) or _close(answer, expected / 1e6, 0.01):
            raise NotYet("give bytes, not megabytes")
        raise NotYet(f"{bf16_weight_bytes:,} bytes is not it: count the parameters (tied "
                     "weights once, as model.parameters() does) and take 2 bytes each")
    right = GPU_BANDWIDTH / expected
    got = float(ceiling_tokens_per_s)
    if _close(got, right):
        note = (" A model this small decodes far below it: per-step overhead dominates"
                if expected < 2**30 else "")
        return True, (f"{expected:,} bytes per token; at 3.35 TB/s that is at most "
                      f"{right:,.0f} tokens/s.{note}")
    if _close(got, expected / GPU_BANDWIDTH, 0.05):
        raise NotYet("that is seconds per token (bytes / bandwidth); tokens per second is "
                     "bandwidth / bytes")
    if _close(got, GPU_BANDWIDTH / (2 * expected)):
        raise NotYet("that ceiling uses float32 bytes; use your bfloat16 bytes")
    if _close(got, 3.35e9 / expected) or _close(got, 3.35 / expected):
        raise NotYet("3.35 TB/s is 3.35e12 bytes per second: check the units")
    raise NotYet(f"{ceiling_tokens_per_s:,.1f} tokens/s is not it: divide the bandwidth in "
                 "bytes/s (3.35e12) by the bytes read per token")


# ------------------------------------------------------------------------------ honest rate


@exercise("06", "honest-rate", title="Report a speed honestly: warm-up out, median, new tokens")
def honest_rate(honest_tokens_per_s: Any, run_seconds: Any = RUN_SECONDS) -> Any:
    if tuple(run_seconds) != RUN_SECONDS:
        raise NotYet(f"keep the colleague's measurements as given: run_seconds = "
                     f"{list(RUN_SECONDS)}")
    if isinstance(honest_tokens_per_s, bool) or not isinstance(honest_tokens_per_s,
                                                                (int, float)):
        raise NotYet("`honest_tokens_per_s` should be a number")
    got = float(honest_tokens_per_s)
    rest = RUN_SECONDS[1:]
    right = RUN_TOKENS / statistics.median(rest)
    median_of_rates = statistics.median(RUN_TOKENS / s for s in rest)

    def near(value: float) -> bool:
        return math.isclose(got, value, rel_tol=0.003)

    if near(right) or near(median_of_rates):
        return True, (f"{right:.1f} tokens/s: the first call paid for start-up work and one "
                      "later run was disturbed; the median of the others ignores both")
    wrong = [
        (RUN_TOKENS / statistics.mean(RUN_SECONDS), "that is the mean of all five calls: the "
         "first call is a warm-up, leave it out, and use the median"),
        (RUN_TOKENS / statistics.mean(rest), "that is the mean of the last four: the 0.95 s "
         "run pulls it down; the median is not moved by one disturbed run"),
        (RUN_TOKENS / statistics.median(RUN_SECONDS), "that median still includes the first "
         "call: leave out the warm-up, then take the median"),
        (RUN_TOKENS / min(rest), "that is the fastest run: a best case, not a typical one; "
         "report the median"),
        ((RUN_TOKENS + PROMPT_TOKENS) / statistics.median(rest), "that counts the 20 prompt "
         "tokens as generated: only the 32 new tokens count"),
        (statistics.median(rest) / RUN_TOKENS, "that is seconds per token: tokens per second "
         "is new tokens / seconds"),
        (RUN_TOKENS / RUN_SECONDS[0], "that is the first call, the warm-up: it measures "
         "start-up work, not generation"),
    ]
    for value, message in wrong:
        if near(value):
            raise NotYet(message)
    raise NotYet(f"{honest_tokens_per_s:.2f} is not it: 32 new tokens divided by the median "
                 "of the four calls after the first")
