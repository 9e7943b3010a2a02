"""``make bench``: the course's speed and memory claims, measured side by side in one run.

Every line is a ratio of two measurements taken in this process, on this machine, so it can be
compared between machines; absolute numbers are printed for context only. Timings are medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import torch
import transformers
from transformers import AutoModelForCausalLM

import helpers
from helpers.generation import measure_speed

transformers.logging.disable_progress_bar()
transformers.logging.set_verbosity_error()

PROMPT = "Once upon a time, a little fox named Leo lived near the river."


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _line(name: str, ratio: float, detail: str) -> None:
    print(f"{name:<44} {ratio:7.3f}   {detail}")


def memory(path: str) -> None:
    fp32 = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    bf16 = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16)
    est = helpers.estimate_memory(path, dtype=torch.float32)
    a, b = fp32.get_memory_footprint(), bf16.get_memory_footprint()
    _line("weights bf16 / fp32", b / a, f"{b:,} / {a:,} bytes")
    _line("estimate from config / real footprint", est.total_bytes / a,
          f"{est.total_bytes:,} / {a:,} bytes (fp32)")


def loading(path: str, repeats: int) -> None:
    raw = _median_seconds(lambda: AutoModelForCausalLM.from_pretrained(path), repeats)
    helper = _median_seconds(lambda: helpers.load(path), repeats)
    _line("helpers.load / raw from_pretrained", helper / raw,
          f"{helper * 1000:.0f} ms / {raw * 1000:.0f} ms (helper also loads the tokenizer)")


def speed(path: str, tokens: int, repeats: int) -> None:
    results = {}
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        tok = helpers.load(path).tokenizer
        for cache in (True, False):
            r = measure_speed(model, tok, PROMPT, max_new_tokens=tokens, use_cache=cache,
                              repeats=repeats)
            results[(dtype, cache)] = r.decode_tokens_per_s
    f32 = results[(torch.float32, True)]
    _line("decode tok/s, KV cache on / off (fp32)", f32 / results[(torch.float32, False)],
          f"{f32:.0f} / {results[(torch.float32, False)]:.0f} tok/s, {tokens} new tokens")
    _line("decode tok/s, bf16 / fp32", results[(torch.bfloat16, True)] / f32,
          f"{results[(torch.bfloat16, True)]:.0f} / {f32:.0f} tok/s")
    _line("decode tok/s, fp16 / fp32", results[(torch.float16, True)] / f32,
          f"{results[(torch.float16, True)]:.0f} / {f32:.0f} tok/s")


_OFFLINE_PROBE = """
import sys, time
start = time.perf_counter()
try:
    if sys.argv[1] == "raw":
        from transformers import AutoModelForCausalLM
        AutoModelForCausalLM.from_pretrained("openai-community/gpt2")
    else:
        import helpers
        helpers.load("openai-community/gpt2")
except Exception as exc:
    print(f"{time.perf_counter() - start:.3f} {type(exc).__name__}")
else:
    print(f"{time.perf_counter() - start:.3f} loaded")
"""


def offline() -> None:
    """An uncached hub id with no network: the hub client's retries against the helper's probe.

    Each side runs once in a fresh process with an empty cache; timed inside the process, so
    interpreter start-up is not counted. On a machine with a network both simply download.
    """
    results = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "HF_HUB_CACHE": cache, "HF_HUB_OFFLINE": "0"}
        for side in ("raw", "helper"):
            out = subprocess.run([sys.executable, "-c", _OFFLINE_PROBE, side], env=env,
                                 capture_output=True, text=True, timeout=120).stdout.split()
            results[side] = (float(out[0]), out[1]) if out else (float("nan"), "no output")
    (raw, raw_end), (helper, helper_end) = results["raw"], results["helper"]
    _line("uncached hub id, no network: helper / raw", helper / raw,
          f"{helper:.2f} s ({helper_end}) / {raw:.2f} s ({raw_end})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--tokens", type=int, default=64, help="new tokens per speed run")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    path = helpers.resolve(helpers.course_model()).location
    print(f"From Pretrained benchmarks: model {helpers.course_model()}, torch {torch.__version__}, "
          f"transformers {transformers.__version__}, {torch.get_num_threads()} threads")
    print(f"{'measure':<44} {'ratio':>7}   detail")
    memory(path)
    loading(path, args.repeats)
    speed(path, args.tokens, args.repeats)
    offline()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
