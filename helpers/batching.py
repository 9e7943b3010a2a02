"""Batched generation: many prompts in length-sorted batches, and throughput against batch size.

Both helpers are thin layers over ``model.generate`` (through :func:`helpers.generate_text`,
which pads each batch on the left, passes the attention mask and ``pad_token_id``, and returns
only the new text):

- :func:`generate_in_batches` splits a list of prompts into batches, optionally sorted by
  length so that prompts of similar length share a batch (fewer pad tokens), and returns the
  answers in the prompts' own order with the padding it cost and the time it took.
- :func:`measure_throughput` times greedy generation of the same prompt repeated to several
  batch sizes, after sizing the run from one measured step so that it fits a time budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from helpers.display import html_table, text_table
from helpers.generation import generate_text, input_device

__all__ = [
    "BatchedRun",
    "ThroughputPoint",
    "ThroughputReport",
    "count_padding",
    "generate_in_batches",
    "measure_throughput",
    "plan_batches",
    "prompt_lengths",
]


# --------------------------------------------------------------------------------------------
# Many prompts, in batches
# --------------------------------------------------------------------------------------------


def prompt_lengths(tokenizer: Any, prompts: Sequence[str], *, chat: bool = False) -> list[int]:
    """Tokens in each prompt as the model gets it (with the chat template when ``chat``)."""
    if chat:
        return [
            len(tokenizer.apply_chat_template([{"role": "user", "content": p}],
                                              add_generation_prompt=True, tokenize=True,
                                              return_dict=True)["input_ids"])
            for p in prompts
        ]
    return [len(tokenizer(p)["input_ids"]) for p in prompts]


def plan_batches(
    lengths: Sequence[int], batch_size: int, *, sort_by_length: bool = True
) -> list[list[int]]:
    """Prompt indices of each batch: in the given order, or sorted by length (shortest first,
    ties in the given order) so that each batch holds prompts of similar length."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    order = list(range(len(lengths)))
    if sort_by_length:
        order.sort(key=lambda i: lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def count_padding(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> tuple[int, int]:
    """(real tokens, pad tokens) when each batch is padded to its longest prompt."""
    real = sum(lengths[i] for batch in batches for i in batch)
    padded = sum(max(lengths[i] for i in batch) * len(batch) for batch in batches if batch)
    return real, padded - real


@dataclass(frozen=True)
class BatchedRun:
    """What :func:`generate_in_batches` did: the answers and what the batching cost."""

    texts: list[str]
    """the new text of each prompt, in the prompts' order"""
    batches: list[list[int]]
    """prompt indices of each batch, in the order they ran"""
    real_tokens: int
    pad_tokens: int
    seconds: float

    @property
    def pad_fraction(self) -> float:
        """Share of the prompt positions that were padding."""
        total = self.real_tokens + self.pad_tokens
        return self.pad_tokens / total if total else 0.0

    def _rows(self) -> list[tuple[str, str]]:
        sizes = sorted({len(b) for b in self.batches}, reverse=True)
        return [
            ("prompts", f"{len(self.texts)} in {len(self.batches)} batches "
                        f"(of {', '.join(map(str, sizes))})"),
            ("prompt tokens", f"{self.real_tokens} real + {self.pad_tokens} padding "
                              f"({self.pad_fraction:.0%} padding)"),
            ("time", f"{self.seconds:.2f} s"),
        ]

    def __str__(self) -> str:
        return text_table(self._rows())

    def _repr_html_(self) -> str:
        return html_table(self._rows(), css_class="fp-table fp-batched")


def generate_in_batches(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    batch_size: int = 8,
    sort_by_length: bool = True,
    max_new_tokens: int = 40,
    chat: bool = False,
    **generate_kwargs: Any,
) -> BatchedRun:
    """Generate for every prompt, ``batch_size`` prompts per ``generate()`` call.

    With ``sort_by_length`` (the default) the prompts are grouped shortest first, so that each
    batch is padded to a length close to its own prompts' and little compute goes to padding.
    Each batch goes through :func:`helpers.generate_text` (left padding, attention mask,
    ``pad_token_id``, greedy unless ``preset=`` says otherwise), and the answers come back in
    the order of ``prompts`` whatever order the batches ran in. Greedy answers are the same as
    one prompt at a time; with a sampling preset each batch is seeded alike, so the sample
    depends on the batching.
    """
    prompts = list(prompts)
    lengths = prompt_lengths(tokenizer, prompts, chat=chat)
    batches = plan_batches(lengths, batch_size, sort_by_length=sort_by_length)
    real, pads = count_padding(lengths, batches)
    texts: list[str | None] = [None] * len(prompts)
    start = time.perf_counter()
    for batch in batches:
        answers = generate_text(model, tokenizer, [prompts[i] for i in batch],
                                max_new_tokens=max_new_tokens, chat=chat, **generate_kwargs)
        for i, text in zip(batch, answers, strict=True):
            texts[i] = text
    seconds = time.perf_counter() - start
    return BatchedRun([t or "" for t in texts], batches, real, pads, seconds)


# --------------------------------------------------------------------------------------------
# Throughput against batch size
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThroughputPoint:
    """One batch size: the fastest of ``repeats`` greedy runs of ``new_tokens`` tokens."""

    batch_size: int
    new_tokens: int
    seconds: float
    """wall time of one generate() call (prefill and every decode step)"""

    @property
    def tokens_per_s(self) -> float:
        """New tokens of the whole batch per second."""
        return self.batch_size * self.new_tokens / self.seconds

    @property
    def ms_per_step(self) -> float:
        """Milliseconds per generation step: how long each row waits for its next token."""
        return 1000.0 * self.seconds / self.new_tokens


@dataclass(frozen=True)
class ThroughputReport:
    """Tokens per second against batch size, measured by :func:`measure_throughput`."""

    points: tuple[ThroughputPoint, ...]
    prompt_tokens: int
    device: str
    dtype: str
    repeats: int
    probe_step_s: float
    """seconds per decode step at the largest batch size, measured first to size the run"""
    skipped: tuple[int, ...] = ()
    """batch sizes left out because one run of them would not fit the time budget"""

    @property
    def batch_sizes(self) -> list[int]:
        return [p.batch_size for p in self.points]

    @property
    def tokens_per_s(self) -> list[float]:
        return [p.tokens_per_s for p in self.points]

    @property
    def ms_per_step(self) -> list[float]:
        return [p.ms_per_step for p in self.points]

    def speedup(self, batch_size: int) -> float:
        """Throughput at ``batch_size`` divided by throughput at the smallest batch size."""
        by_size = {p.batch_size: p.tokens_per_s for p in self.points}
        return by_size[batch_size] / self.points[0].tokens_per_s

    def _rows(self) -> list[tuple[str, str]]:
        rows = [
            (f"batch {p.batch_size}",
             f"{p.tokens_per_s:8.0f} tok/s  {p.ms_per_step:7.1f} ms/step  "
             f"x{self.speedup(p.batch_size):.1f}")
            for p in self.points
        ]
        n = self.points[0].new_tokens if self.points else 0
        rows.append(("method", f"{n} new tokens per row, {self.prompt_tokens}-token prompt, "
                               f"fastest of {self.repeats}, {self.device} / {self.dtype}"))
        if self.skipped:
            rows.append(("skipped (too slow for the budget)", ", ".join(map(str, self.skipped))))
        return rows

    def __str__(self) -> str:
        return text_table(self._rows())

    def _repr_html_(self) -> str:
        return html_table(self._rows(), css_class="fp-table fp-throughput")


def _timed_generate(model: Any, inputs: Mapping[str, torch.Tensor], new_tokens: int,
                    pad_id: int | None) -> float:
    start = time.perf_counter()
    model.generate(**inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                   do_sample=False, pad_token_id=pad_id)
    if inputs["input_ids"].device.type == "cuda":
        torch.cuda.synchronize(inputs["input_ids"].device)
    return time.perf_counter() - start


def measure_throughput(
    model: Any,
    tokenizer: Any,
    prompt: str,
    *,
    batch_sizes: Sequence[int] = (1, 2, 4, 8, 16, 32, 64),
    new_tokens: int | None = None,
    budget_s: float = 3.0,
    repeats: int = 2,
) -> ThroughputReport:
    """Time greedy generation of ``prompt`` repeated to each batch size; tokens/s for each.

    Every row of a batch is the same prompt, so nothing is padded and only the batch size
    changes. Method: one untimed warm-up call; then a 2-token and a 6-token call at the
    smallest and at the largest batch size measure the prompt's cost (prefill) and a decode
    step's. Batch sizes whose ``repeats`` runs of 4 tokens would alone take more than half of
    ``budget_s`` are left out (``report.skipped``). Unless ``new_tokens`` is given, it is
    chosen (4 to 64) so that every remaining size, ``repeats`` times, fits ``budget_s``,
    assuming both costs grow linearly from the smallest to the largest size.
    ``min_new_tokens`` keeps end-of-text from cutting a run short; each point is the fastest
    of ``repeats`` runs, the usual way to keep other programs' noise out of a short benchmark.
    """
    sizes = sorted({int(b) for b in batch_sizes})
    if not sizes or sizes[0] < 1:
        raise ValueError(f"batch sizes must be positive, not {list(batch_sizes)}")
    device = input_device(model)
    # the tokenizer's pad token, else end-of-text (what generate() falls back to itself)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (
        tokenizer.eos_token_id)
    one = tokenizer([prompt], return_tensors="pt").to(device)

    def batch(size: int) -> dict[str, torch.Tensor]:
        return {k: v.repeat(size, 1) for k, v in one.items()}

    def cost(size: int) -> tuple[float, float]:
        """(prefill seconds, seconds per decode step) at ``size``: from a 2-token and a
        6-token call, so that the prompt's one-off cost is not counted as a step."""
        inputs = batch(size)
        two = _timed_generate(model, inputs, 2, pad_id)
        six = _timed_generate(model, inputs, 6, pad_id)
        step = max((six - two) / 4, 1e-6)
        return max(two - 2 * step, 0.0), step

    skipped: list[int] = []
    with torch.inference_mode():
        _timed_generate(model, batch(sizes[0]), 2, pad_id)  # warm-up
        small = cost(sizes[0])
        while True:
            large = cost(sizes[-1])
            if len(sizes) == 1 or repeats * (large[0] + 4 * large[1]) <= budget_s / 2:
                break
            skipped.insert(0, sizes.pop())

        def estimate(size: int, which: int) -> float:
            if sizes[-1] == sizes[0]:
                return large[which]
            share = (size - sizes[0]) / (sizes[-1] - sizes[0])
            return small[which] + share * max(large[which] - small[which], 0.0)

        if new_tokens is None:
            prefill = sum(estimate(s, 0) for s in sizes)
            per_token = sum(estimate(s, 1) for s in sizes)
            new_tokens = math.floor((budget_s / repeats - prefill) / per_token)
            new_tokens = max(4, min(64, new_tokens))
        points = []
        for size in sizes:
            inputs = batch(size)
            best = min(_timed_generate(model, inputs, new_tokens, pad_id)
                       for _ in range(repeats))
            points.append(ThroughputPoint(size, new_tokens, best))
    return ThroughputReport(
        points=tuple(points),
        prompt_tokens=int(one["input_ids"].shape[1]),
        device=str(device),
        dtype=str(model.dtype).removeprefix("torch."),
        repeats=repeats,
        probe_step_s=large[1],
        skipped=tuple(skipped),
    )
