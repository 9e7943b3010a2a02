"""Generation helpers: named decoding presets, text in / new text out, streaming, and honest
tokens-per-second measurement.

Each helper is a thin layer over ``model.generate``: it adds what a careful caller adds by hand
(a seed, the attention mask, a pad token id, left padding for batches, only the *new* text back)
so that lessons can show the raw call first and then use the helper without hiding anything.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import torch
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
    TextIteratorStreamer,
    TextStreamer,
    set_seed,
)

from helpers.display import html_table, text_table

__all__ = [
    "DECODING_PRESETS",
    "DecodingPreset",
    "SpeedReport",
    "generate_text",
    "measure_speed",
    "stream_text",
]


@dataclass(frozen=True)
class DecodingPreset(Mapping[str, Any]):
    """GenerationConfig keyword arguments plus the reason to choose them.

    It is a mapping, so ``GenerationConfig(**preset)`` and ``model.generate(**inputs, **preset)``
    work directly; ``preset.why`` says when to use it.
    """

    settings: Mapping[str, Any]
    why: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))

    def __getitem__(self, key: str) -> Any:
        return self.settings[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.settings)

    def __len__(self) -> int:
        return len(self.settings)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings.items())
        return f"DecodingPreset({args})  # {self.why}"


DECODING_PRESETS: dict[str, DecodingPreset] = {
    "greedy": DecodingPreset(
        {"do_sample": False},
        "Always the most likely next token: deterministic, best for tests and short factual "
        "answers, but it loops on long texts.",
    ),
    "beam": DecodingPreset(
        {"do_sample": False, "num_beams": 4, "early_stopping": True},
        "Keeps the 4 most likely partial texts and returns the best: deterministic, good for "
        "short outputs such as translation; 4x the compute and still repetitive for stories.",
    ),
    "no_repeat": DecodingPreset(
        {"do_sample": False, "repetition_penalty": 1.3, "no_repeat_ngram_size": 3},
        "Greedy that may not repeat any 3-token phrase: deterministic and stops small models "
        "from looping, at the cost of some odd word choices.",
    ),
    "balanced": DecodingPreset(
        {"do_sample": True, "temperature": 0.7, "top_p": 0.9},
        "Samples from the 90% most likely tokens with a sharpened distribution: varied but "
        "coherent text, the usual choice for chat and stories.",
    ),
    "creative": DecodingPreset(
        {"do_sample": True, "temperature": 1.0, "top_k": 50, "top_p": 0.95},
        "Samples from the model's own distribution (top 50 tokens): the most surprising text, "
        "and the most likely to wander off topic.",
    ),
}


def _preset_settings(preset: str | Mapping[str, Any] | None) -> dict[str, Any]:
    if preset is None:
        return {}
    if isinstance(preset, str):
        if preset not in DECODING_PRESETS:
            raise KeyError(f"unknown preset {preset!r}; presets: {', '.join(DECODING_PRESETS)}")
        return dict(DECODING_PRESETS[preset])
    return dict(preset)


def _pad_token_id(tokenizer: Any) -> int | None:
    """The tokenizer's pad token, else end-of-text (GPT-2 has no pad token)."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


@contextmanager
def _padding_with_eos(tokenizer: Any) -> Iterator[None]:
    """Lend end-of-text as the pad token while a batch is tokenized, then put things back.

    Padding positions are masked out by the attention mask, so which token fills them does not
    change the result; borrowing it temporarily leaves the caller's tokenizer as it was.
    """
    if tokenizer.pad_token is not None or tokenizer.eos_token is None:
        yield
        return
    tokenizer.pad_token = tokenizer.eos_token
    try:
        yield
    finally:
        tokenizer.pad_token = None


def input_device(model: Any) -> torch.device:
    """Where a model's inputs go: ``model.device``, except for a model offloaded whole to disk,
    whose parameters sit on ``meta`` while accelerate's hooks run each layer on the CPU."""
    device = model.device
    return torch.device("cpu") if device.type == "meta" else device


def _encode(tokenizer: Any, prompts: list[str], *, chat: bool, device: torch.device) -> Any:
    """Token ids and attention mask for one prompt or a left-padded batch."""
    batched = len(prompts) > 1
    with _padding_with_eos(tokenizer) if batched else nullcontext():
        if chat:
            conversations = [[{"role": "user", "content": p}] for p in prompts]
            inputs = tokenizer.apply_chat_template(
                conversations if batched else conversations[0],
                add_generation_prompt=True,
                return_tensors="pt",
                return_dict=True,
                padding=batched,
                tokenizer_kwargs={"padding_side": "left"} if batched else None,
            )
        else:
            inputs = tokenizer(
                prompts if batched else prompts[0],
                return_tensors="pt",
                padding=batched,
                padding_side="left",
            )
    return inputs.to(device)


def _prepare(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    *,
    max_new_tokens: int,
    preset: str | Mapping[str, Any] | None,
    chat: bool,
    generate_kwargs: dict[str, Any],
) -> tuple[Any, dict[str, Any]]:
    inputs = _encode(tokenizer, prompts, chat=chat, device=input_device(model))
    kwargs = {
        "max_new_tokens": max_new_tokens,
        "pad_token_id": _pad_token_id(tokenizer),
        **_preset_settings(preset),
        **generate_kwargs,  # explicit arguments win over the preset
    }
    return inputs, kwargs


def generate_text(
    model: Any,
    tokenizer: Any,
    prompt: str | Sequence[str],
    *,
    max_new_tokens: int = 40,
    preset: str | Mapping[str, Any] | None = "greedy",
    seed: int = 0,
    chat: bool = False,
    skip_special_tokens: bool = True,
    stream: bool = False,
    **generate_kwargs: Any,
) -> str | list[str]:
    """Generate a continuation of ``prompt`` and return only the new text.

    - ``preset`` names an entry of :data:`DECODING_PRESETS` (or is a mapping of
      GenerationConfig kwargs); ``generate_kwargs`` are passed to ``model.generate`` and win over
      the preset.
    - ``seed`` goes to ``transformers.set_seed`` first, so sampling presets are reproducible.
    - The attention mask is always passed, and ``pad_token_id`` is the tokenizer's pad token or,
      when it has none (GPT-2), end-of-text: what generate() would pick itself after warning.
    - ``chat=True`` wraps the prompt as one user message with the tokenizer's chat template and
      ``add_generation_prompt=True`` (the assistant's turn header), as chat models expect.
    - ``stream=True`` also prints the text as it is generated (``TextStreamer``).
    - A list of prompts is generated as one batch and returns a list. The batch is padded on the
      **left**: a decoder-only model continues from the last position of each row, so padding
      on the right would put pad tokens between a prompt and its continuation. Left padding is
      requested per call (``padding_side="left"``); the tokenizer object is not changed.
    """
    prompts = [prompt] if isinstance(prompt, str) else list(prompt)
    if not prompts:
        return []
    inputs, kwargs = _prepare(
        model,
        tokenizer,
        prompts,
        max_new_tokens=max_new_tokens,
        preset=preset,
        chat=chat,
        generate_kwargs=generate_kwargs,
    )
    if stream:
        if len(prompts) > 1:
            raise ValueError("stream=True prints one prompt at a time; pass a single string")
        kwargs["streamer"] = TextStreamer(
            tokenizer, skip_prompt=True, skip_special_tokens=skip_special_tokens
        )
    set_seed(seed)
    with torch.inference_mode():
        output = model.generate(**inputs, **kwargs)
    new_tokens = output[:, inputs["input_ids"].shape[1] :]
    texts = tokenizer.batch_decode(new_tokens, skip_special_tokens=skip_special_tokens)
    return texts[0] if isinstance(prompt, str) else texts


class _StopWhenSet(StoppingCriteria):
    """Stops generation once the event is set (the stream's reader went away)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kw: Any) -> Any:
        return torch.full((input_ids.shape[0],), self.event.is_set(), device=input_ids.device)


def stream_text(
    model: Any,
    tokenizer: Any,
    prompt: str,
    *,
    max_new_tokens: int = 40,
    preset: str | Mapping[str, Any] | None = "greedy",
    seed: int = 0,
    chat: bool = False,
    skip_special_tokens: bool = True,
    **generate_kwargs: Any,
) -> Iterator[str]:
    """Yield the new text in chunks while it is generated (same text as :func:`generate_text`).

    ``model.generate`` runs in a background thread and feeds a ``TextIteratorStreamer``; this
    generator reads from it. Seeding happens when iteration starts. An exception inside
    generate() is re-raised here, and leaving the loop early stops the generation.

        for chunk in stream_text(model, tokenizer, "Once upon a time"):
            print(chunk, end="", flush=True)
    """
    inputs, kwargs = _prepare(
        model,
        tokenizer,
        [prompt],
        max_new_tokens=max_new_tokens,
        preset=preset,
        chat=chat,
        generate_kwargs=generate_kwargs,
    )
    streamer = TextIteratorStreamer(
        tokenizer, skip_prompt=True, skip_special_tokens=skip_special_tokens
    )
    stop = threading.Event()
    criteria = StoppingCriteriaList(kwargs.pop("stopping_criteria", None) or [])
    criteria.append(_StopWhenSet(stop))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with torch.inference_mode():
                model.generate(**inputs, **kwargs, streamer=streamer, stopping_criteria=criteria)
        except BaseException as exc:  # re-raised in the reading thread
            errors.append(exc)
            streamer.end()

    set_seed(seed)
    worker = threading.Thread(target=run, name="stream_text", daemon=True)
    worker.start()
    try:
        for chunk in streamer:
            if chunk:
                yield chunk
    finally:
        stop.set()
        worker.join()
    if errors:
        raise errors[0]


# --------------------------------------------------------------------------------------------
# Speed
# --------------------------------------------------------------------------------------------


class _StepClock(LogitsProcessor):
    """Records the time each generation step's logits are ready (after that step's forward)."""

    def __init__(self) -> None:
        self.stamps: list[float] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if scores.device.type == "cuda":
            torch.cuda.synchronize(scores.device)
        elif scores.device.type == "mps":
            torch.mps.synchronize()
        self.stamps.append(time.perf_counter())
        return scores


@dataclass(frozen=True)
class SpeedReport:
    """Prefill and decode timings of one prompt (medians over ``repeats`` runs)."""

    prompt_tokens: int
    new_tokens: int
    prefill_s: float
    decode_s: float
    decode_tokens_per_s: float
    device: str
    dtype: str
    use_cache: bool
    repeats: int
    prefill_runs: tuple[float, ...] = ()
    decode_runs: tuple[float, ...] = ()

    @property
    def ms_per_token(self) -> float:
        """Decode milliseconds per new token (after the first)."""
        return 1000.0 / self.decode_tokens_per_s if self.decode_tokens_per_s else float("nan")

    def _rows(self) -> list[tuple[str, str]]:
        return [
            ("prompt tokens", f"{self.prompt_tokens}"),
            ("new tokens", f"{self.new_tokens}"),
            ("prefill (time to first token)", f"{self.prefill_s:.4f} s"),
            ("decode", f"{self.decode_tokens_per_s:.1f} tok/s ({self.ms_per_token:.2f} ms/token)"),
            ("device / dtype", f"{self.device} / {self.dtype}"),
            ("use_cache", f"{self.use_cache}"),
            ("runs", f"median of {self.repeats}"),
        ]

    def __str__(self) -> str:
        return text_table(self._rows())

    def _repr_html_(self) -> str:
        return html_table(self._rows(), css_class="fp-table fp-speed")


def measure_speed(
    model: Any,
    tokenizer: Any,
    prompt: str,
    *,
    max_new_tokens: int = 64,
    use_cache: bool = True,
    repeats: int = 3,
    warmup: int = 1,
) -> SpeedReport:
    """Time greedy generation of exactly ``max_new_tokens`` tokens, prefill and decode apart.

    Method: a logits processor stamps the clock each time a step's logits are ready (after
    synchronising CUDA/MPS). The first stamp comes after the forward over the whole prompt, so
    *prefill* = first stamp - call start (time to first token, including generate()'s setup).
    Each later interval is exactly one decode step (one forward over the new token, or over
    the whole sequence when ``use_cache=False``), so *decode tok/s* = (stamps - 1) / (last -
    first). ``min_new_tokens=max_new_tokens`` keeps end-of-text from cutting a run short, so
    every run decodes the same count; ``warmup`` untimed runs come first; the report holds
    medians over ``repeats`` runs.
    """
    if max_new_tokens < 2:
        raise ValueError("max_new_tokens must be at least 2 to time any decode step")
    inputs = _encode(tokenizer, [prompt], chat=False, device=input_device(model))
    kwargs = {
        "max_new_tokens": max_new_tokens,
        "min_new_tokens": max_new_tokens,
        "do_sample": False,
        "use_cache": use_cache,
        "pad_token_id": _pad_token_id(tokenizer),
    }
    prefills: list[float] = []
    decodes: list[float] = []
    rates: list[float] = []
    steps = 0
    with torch.inference_mode():
        for run in range(warmup + repeats):
            clock = _StepClock()
            start = time.perf_counter()
            model.generate(**inputs, **kwargs, logits_processor=LogitsProcessorList([clock]))
            if run < warmup:
                continue
            stamps = clock.stamps
            steps = len(stamps)
            prefills.append(stamps[0] - start)
            decodes.append(stamps[-1] - stamps[0])
            rates.append((len(stamps) - 1) / (stamps[-1] - stamps[0]))
    return SpeedReport(
        prompt_tokens=int(inputs["input_ids"].shape[1]),
        new_tokens=steps,
        prefill_s=statistics.median(prefills),
        decode_s=statistics.median(decodes),
        decode_tokens_per_s=statistics.median(rates),
        device=str(model.device),
        dtype=str(model.dtype).removeprefix("torch."),
        use_cache=use_cache,
        repeats=repeats,
        prefill_runs=tuple(prefills),
        decode_runs=tuple(decodes),
    )
