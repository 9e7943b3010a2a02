"""Generation speed against what the hardware allows: prefill and decode tokens/s, memory
bandwidth, and the KV cache (dynamic, none, static) across output lengths.

Decoding one token with a KV cache reads every weight once (the lm_head included, so a tied
embedding matrix is read in full; the input embedding only by one row) and does little
arithmetic per byte: it is bound by memory bandwidth. So ``decode tok/s x weight bytes read per
token`` divided by the machine's copy bandwidth says how close decoding comes to the limit.
The bandwidth is measured in the same run with a large tensor copy (read + write counted, as
STREAM's "copy" does).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from benchmarks.measure import Paired, rotate

#: cache settings passed to generate(): dynamic (transformers' default), none, static
CACHE_MODES: dict[str, dict[str, Any]] = {
    "dynamic cache": {"use_cache": True},
    "no cache": {"use_cache": False},
    "static cache": {"use_cache": True, "cache_implementation": "static"},
}


def synchronize(device: torch.device | str) -> None:
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def copy_bandwidth(nbytes: int = 256 * 2**20, repeats: int = 7,
                   device: torch.device | str = "cpu") -> float:
    """Bytes per second of ``dst.copy_(src)`` for a tensor of ``nbytes`` (median of
    ``repeats``), counting each byte read and written once (2 x nbytes per copy). Large enough
    to stream from main memory, not the CPU's caches."""
    src = torch.ones(nbytes // 4, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)  # first touch: page faults are not bandwidth
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        dst.copy_(src)
        synchronize(device)
        times.append(time.perf_counter() - start)
    return 2 * src.numel() * src.element_size() / statistics.median(times)


def decode_bytes_per_token(model: Any) -> int:
    """Weight bytes one decode step reads: every parameter once (shared ones once), except an
    input embedding that is not also the output layer (a lookup reads one row of it)."""
    unique = {p.data_ptr(): p for p in model.parameters()}
    total = sum(p.numel() * p.element_size() for p in unique.values())
    embedding = model.get_input_embeddings().weight
    output = model.get_output_embeddings()
    tied = output is not None and output.weight.data_ptr() == embedding.data_ptr()
    if not tied:
        total -= embedding.numel() * embedding.element_size()
    return total


def long_prompt(tokenizer: Any, tokens: int, seed_text: str) -> str:
    """``seed_text`` repeated until it is at least ``tokens`` tokens long."""
    text = seed_text
    while len(tokenizer(text)["input_ids"]) < tokens:
        text += " " + seed_text
    return text


@dataclass(frozen=True)
class SpeedPair:
    """Prefill and decode of two models (A, B) measured in alternation."""

    prefill_tokens: int
    new_tokens: int
    prefill: Paired  # tokens/s
    decode: Paired  # tokens/s


def compare_speed(a: Any, b: Any, tokenizer: Any, prompt: str, new_tokens: int,
                  pairs: int) -> SpeedPair:
    """Prefill tok/s and decode tok/s of models ``a`` and ``b`` (e.g. fp32 and bf16 of one
    checkpoint), alternating runs; each run is one ``helpers.measure_speed`` generation."""
    from helpers.generation import measure_speed

    reports: dict[str, list] = {"a": [], "b": []}

    def run(side: str, model: Any) -> float:
        report = measure_speed(model, tokenizer, prompt, max_new_tokens=new_tokens,
                               repeats=1, warmup=0)
        reports[side].append(report)
        return report.decode_tokens_per_s

    decode_a, decode_b = rotate([lambda: run("a", a), lambda: run("b", b)], pairs, warmup=1)
    timed_a, timed_b = reports["a"][1:], reports["b"][1:]  # the first of each was the warm-up
    prefill = Paired(tuple(r.prompt_tokens / r.prefill_s for r in timed_a),
                     tuple(r.prompt_tokens / r.prefill_s for r in timed_b), "tok/s")
    return SpeedPair(timed_a[0].prompt_tokens, new_tokens, prefill,
                     Paired(decode_a, decode_b, "tok/s"))


def generate_seconds(model: Any, inputs: Any, new_tokens: int, mode: dict[str, Any],
                     pad_token_id: int | None) -> float:
    """Seconds for one greedy generate() of exactly ``new_tokens`` with cache setting ``mode``."""
    synchronize(model.device)
    start = time.perf_counter()
    with torch.inference_mode():
        model.generate(**inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                       do_sample=False, pad_token_id=pad_token_id, **mode)
    synchronize(model.device)
    return time.perf_counter() - start


def rounds_for(length: int, budget_tokens: int) -> int:
    """Rounds for one length so that no-cache runs (quadratic in length) stay affordable:
    at least one, more for short outputs."""
    return max(1, min(5, budget_tokens // (length * length)))


def kv_cache_sweep(model: Any, tokenizer: Any, prompt: str, lengths: Sequence[int],
                   budget_tokens: int = 40_000,
                   modes: dict[str, dict[str, Any]] | None = None) -> dict[int, dict[str, Paired]]:
    """For each output length: tokens/s of every cache mode, rotated per round, as pairs
    against the dynamic cache (``result[length][mode]``: mode / dynamic)."""
    modes = modes or CACHE_MODES
    inputs = tokenizer(prompt, return_tensors="pt").to(model.device)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    names = list(modes)
    results: dict[int, dict[str, Paired]] = {}
    for length in lengths:
        fns = [lambda m=modes[n], n_=length: n_ / generate_seconds(model, inputs, n_, m, pad)
               for n in names]
        values = rotate(fns, rounds_for(length, budget_tokens), warmup=1 if length <= 64 else 0)
        base = values[names.index("dynamic cache")]
        results[length] = {name: Paired(v, base, "tok/s") for name, v in zip(names, values,
                                                                            strict=True)}
    return results


def plot_kv_sweep(results: dict[int, dict[str, Paired]], path: Path, title: str) -> Path:
    """Tokens/s per cache mode against output length (left) and each mode / dynamic (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lengths = sorted(results)
    modes = list(results[lengths[0]])
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for mode in modes:
        left.plot(lengths, [results[n][mode].a_median for n in lengths], marker="o", label=mode)
        right.plot(lengths, [results[n][mode].ratio for n in lengths], marker="o", label=mode)
        right.fill_between(lengths, [results[n][mode].spread[0] for n in lengths],
                           [results[n][mode].spread[1] for n in lengths], alpha=0.2)
    for axis in (left, right):
        axis.set_xscale("log", base=2)
        axis.set_xticks(lengths, [str(n) for n in lengths])
        axis.set_xlabel("new tokens generated")
        axis.grid(True, alpha=0.3)
    left.set_ylabel("tokens/s (whole generate call)")
    left.set_title("Generation speed")
    right.set_ylabel("speed / dynamic cache (median of rounds)")
    right.set_title("Relative to the default dynamic cache")
    right.axhline(1.0, color="grey", linewidth=0.8)
    left.legend()
    fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


__all__ = ["CACHE_MODES", "SpeedPair", "compare_speed", "copy_bandwidth",
           "decode_bytes_per_token", "generate_seconds", "kv_cache_sweep", "long_prompt",
           "plot_kv_sweep", "rounds_for"]
