"""Speed measurements for lesson 06, beyond :func:`helpers.measure_speed`.

* :func:`step_times`: the time of every step of one greedy ``generate()`` call (prefill first),
  stamped by a logits processor, so that the cost of each new token can be plotted against the
  length of the text so far, with and without the KV cache.
* :func:`copy_bandwidth`: the memory bandwidth of a device, measured by timing ``dst.copy_(src)``
  on tensors far larger than the CPU caches (each copy reads and writes every byte).
* :func:`weight_bytes_per_token`: the weight bytes one decode step reads, and
  :func:`decode_ceiling`: the tokens/s that bandwidth allows per sequence.
* :func:`compile_benchmark`: ``torch.compile`` timed in a child process under a wall-clock limit,
  so that a lesson can show the compile time and the steady state, or say that compiling did not
  finish in time, and never hang.
* :func:`tokens_within`: how many tokens fit a time budget, from one measured step.

Everything here calls plain torch / transformers APIs, named in each docstring.
"""

from __future__ import annotations

import glob
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import LogitsProcessor, LogitsProcessorList

__all__ = [
    "Bandwidth",
    "CompileResult",
    "StepTimes",
    "bandwidth_tensor_bytes",
    "compile_benchmark",
    "copy_bandwidth",
    "last_level_cache_bytes",
    "longest_run_within",
    "decode_ceiling",
    "position_room",
    "step_times",
    "synchronize",
    "tokens_within",
    "weight_bytes_per_token",
]


def synchronize(device: torch.device | str) -> None:
    """Wait for queued GPU work (CUDA/MPS kernels run asynchronously); a no-op on a CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


class _Clock(LogitsProcessor):
    """Stamps the time each generation step's logits are ready (after that step's forward)."""

    def __init__(self) -> None:
        self.stamps: list[float] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        synchronize(scores.device)
        self.stamps.append(time.perf_counter())
        return scores


@dataclass(frozen=True)
class StepTimes:
    """Seconds of each step of one generate() call: ``steps[0]`` is the prefill (the forward over
    the prompt, plus generate()'s setup), ``steps[k]`` the step that produced new token k+1."""

    prompt_tokens: int
    use_cache: bool
    steps: tuple[float, ...]
    token_ids: tuple[int, ...] = ()

    @property
    def new_tokens(self) -> int:
        return len(self.steps)

    @property
    def cumulative(self) -> list[float]:
        """Seconds from the call's start until each new token existed."""
        total, out = 0.0, []
        for step in self.steps:
            total += step
            out.append(total)
        return out

    @property
    def decode_steps(self) -> tuple[float, ...]:
        """The steps after the prefill."""
        return self.steps[1:]


def position_room(model: Any, prompt_tokens: int) -> int | None:
    """How many new tokens fit before the model's position limit (``max_position_embeddings`` /
    ``n_positions`` in its config), or None when the config records no usable limit."""
    config = model.config
    limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    if not isinstance(limit, int) or limit <= 0 or limit >= 10**9:
        return None
    return max(0, limit - prompt_tokens)


def step_times(
    model: Any,
    tokenizer: Any,
    prompt: str,
    new_tokens: int,
    *,
    use_cache: bool = True,
    **generate_kwargs: Any,
) -> StepTimes:
    """Generate exactly ``new_tokens`` greedy tokens once and return how long each step took.

    ``min_new_tokens=new_tokens`` keeps end-of-text from stopping early; a logits processor
    stamps ``time.perf_counter()`` after each step's forward (after synchronising a GPU).
    """
    if new_tokens < 1:
        raise ValueError("new_tokens must be at least 1")
    device = model.device if model.device.type != "meta" else torch.device("cpu")
    inputs = tokenizer(prompt, return_tensors="pt").to(device)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    clock = _Clock()
    kwargs = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "do_sample": False,
              "use_cache": use_cache, "pad_token_id": pad, **generate_kwargs}
    with torch.inference_mode():
        synchronize(device)
        start = time.perf_counter()
        out = model.generate(**inputs, **kwargs, logits_processor=LogitsProcessorList([clock]))
    stamps = [start, *clock.stamps]
    prompt_len = int(inputs["input_ids"].shape[1])
    return StepTimes(
        prompt_tokens=prompt_len,
        use_cache=use_cache,
        steps=tuple(b - a for a, b in zip(stamps[:-1], stamps[1:], strict=True)),
        token_ids=tuple(out[0, prompt_len:].tolist()),
    )


def tokens_within(budget_s: float, step_s: float, *, low: int = 4, high: int = 256) -> int:
    """The number of steps of ``step_s`` seconds that fit ``budget_s``, kept within [low, high]."""
    if step_s <= 0:
        return high
    return int(max(low, min(high, budget_s / step_s)))


def longest_run_within(
    model: Any,
    input_ids: torch.Tensor,
    budget_s: float,
    *,
    step_s: float,
    high: int = 256,
    low: int = 8,
) -> int:
    """How many new tokens a ``use_cache=False`` run can generate within about ``budget_s``.

    Without the cache the last step is the dearest: one forward over the whole text. This
    times that forward once for ``n = high`` and halves ``n`` until ``n`` steps, costing on
    average between ``step_s`` (a short step) and that last one, fit the budget.
    """
    n = max(low, high)
    while n > low:
        total = input_ids.shape[1] + n
        ids = input_ids.repeat(1, -(-total // input_ids.shape[1]))[:, :total]
        with torch.inference_mode():
            synchronize(model.device)
            start = time.perf_counter()
            model(input_ids=ids.to(model.device), use_cache=False)
            synchronize(model.device)
            last = time.perf_counter() - start
        if n * (step_s + last) / 2 <= budget_s:
            return n
        n //= 2
    return low


# --------------------------------------------------------------------------------- bandwidth


@dataclass(frozen=True)
class Bandwidth:
    """Result of :func:`copy_bandwidth`: bytes moved per copy (read + write) and the timings."""

    device: str
    tensor_bytes: int
    runs_s: tuple[float, ...]

    @property
    def bytes_moved(self) -> int:
        """A copy reads every byte of the source and writes every byte of the destination."""
        return 2 * self.tensor_bytes

    @property
    def seconds(self) -> float:
        return statistics.median(self.runs_s)

    @property
    def bytes_per_s(self) -> float:
        return self.bytes_moved / self.seconds

    @property
    def gb_per_s(self) -> float:
        return self.bytes_per_s / 1e9

    def __str__(self) -> str:
        return (f"{self.device}: copied {self.tensor_bytes / 2**20:.0f} MiB "
                f"(read + write = {self.bytes_moved / 2**20:.0f} MiB) in a median "
                f"{self.seconds * 1000:.1f} ms over {len(self.runs_s)} runs -> "
                f"{self.gb_per_s:.1f} GB/s")


def last_level_cache_bytes() -> int | None:
    """The CPU's largest cache (L3 on most machines) from Linux's sysfs, or None elsewhere."""
    best = None
    for index in sorted(glob.glob("/sys/devices/system/cpu/cpu0/cache/index*")):
        try:
            with open(os.path.join(index, "size")) as f:
                text = f.read().strip()
        except OSError:
            continue
        units = {"K": 2**10, "M": 2**20, "G": 2**30}
        number = int("".join(c for c in text if c.isdigit()) or 0)
        size = number * units.get(text[-1:].upper(), 1)
        best = size if best is None else max(best, size)
    return best


def bandwidth_tensor_bytes(device: str | torch.device = "cpu") -> int:
    """A copy size that streams through main memory: the source and the destination together
    are twice the CPU's largest cache (each tensor between 64 MiB and 384 MiB), and at most an
    eighth of the memory available now. On a GPU 256 MiB (GPU caches are tens of MiB)."""
    if torch.device(device).type != "cpu":
        return 256 * 2**20
    size = max(64 * 2**20, min(384 * 2**20, last_level_cache_bytes() or 128 * 2**20))
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        size = min(size, max(16 * 2**20, available // 8))
    except (ValueError, OSError, AttributeError):
        pass
    return int(size)


def copy_bandwidth(
    tensor_bytes: int | None = None, *, repeats: int = 3, device: str | torch.device = "cpu"
) -> Bandwidth:
    """Time ``dst.copy_(src)`` on two ``tensor_bytes`` tensors (one warm-up copy, then the median
    of ``repeats``). The default size (:func:`bandwidth_tensor_bytes`) is larger than the CPU's
    caches, so the copy streams through main memory (or GPU memory on a GPU); both tensors are
    freed afterwards."""
    device = torch.device(device)
    tensor_bytes = bandwidth_tensor_bytes(device) if tensor_bytes is None else tensor_bytes
    n = tensor_bytes // 4
    src = torch.ones(n, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    runs = []
    try:
        for run in range(repeats + 1):
            synchronize(device)
            start = time.perf_counter()
            dst.copy_(src)
            synchronize(device)
            if run:  # the first copy also faults the destination's pages in: a warm-up
                runs.append(time.perf_counter() - start)
    finally:
        del src, dst
    return Bandwidth(str(device), n * 4, tuple(runs))


def weight_bytes_per_token(model: Any) -> int:
    """Bytes of weights one decode step reads: every parameter once (shared ones once), except
    an embedding table that is only *looked up*, of which one row is read. A table tied to the
    output layer (GPT-2's ``wte`` and ``lm_head``) is read whole by that layer."""
    params = {p.data_ptr(): p for p in model.parameters()}
    total = sum(p.numel() * p.element_size() for p in params.values())
    output = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    output_ptr = output.weight.data_ptr() if output is not None else None
    for module in model.modules():
        if isinstance(module, torch.nn.Embedding) and module.weight.data_ptr() != output_ptr:
            w = module.weight
            total -= w.numel() * w.element_size()
            total += w.shape[1] * w.element_size()
    return int(total)


def decode_ceiling(weight_bytes: float, bytes_per_s: float) -> float:
    """The most tokens/s one sequence can decode if every step must read ``weight_bytes`` at
    ``bytes_per_s`` and does nothing else. (A batch shares each read: B sequences can reach
    about B times this until compute, not memory, is the limit.)"""
    return bytes_per_s / weight_bytes


# --------------------------------------------------------------------------------- compile

_COMPILE_SCRIPT = r"""
import json, statistics, sys, time
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
location, prompt, new_tokens, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if threads > 0:
    torch.set_num_threads(threads)
tokenizer = AutoTokenizer.from_pretrained(location)
model = AutoModelForCausalLM.from_pretrained(location).eval()
inputs = tokenizer(prompt, return_tensors="pt")
pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
kw = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
          pad_token_id=pad, cache_implementation="static")
def timed():
    start = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(**inputs, **kw)
    return time.perf_counter() - start, out
timed()
eager_runs, reference = [], None
for _ in range(3):
    seconds, reference = timed()
    eager_runs.append(seconds)
print(json.dumps({"stage": "eager", "eager_s": statistics.median(eager_runs)}), flush=True)
model.forward = torch.compile(model.forward)
first, out = timed()
print(json.dumps({"stage": "compiled", "first_s": first}), flush=True)
runs = [timed()[0] for _ in range(3)]
print(json.dumps({"stage": "done", "steady_s": statistics.median(runs),
                  "same_tokens": bool(torch.equal(out, reference))}), flush=True)
"""


@dataclass(frozen=True)
class CompileResult:
    """What :func:`compile_benchmark` saw. Times are whole generate() calls of ``new_tokens``
    tokens with a static cache: eager (median of 3 after a warm-up), the first compiled call
    (which compiles), and compiled calls after that (median of 3)."""

    finished: bool
    limit_s: float
    wall_s: float
    new_tokens: int
    eager_s: float | None = None
    first_compiled_s: float | None = None
    compiled_s: float | None = None
    same_tokens: bool | None = None
    error: str | None = None
    stages: tuple[str, ...] = field(default=())

    @property
    def compile_overhead_s(self) -> float | None:
        """Extra time of the first compiled call over a compiled call: the compiling itself."""
        if self.first_compiled_s is None or self.compiled_s is None:
            return None
        return self.first_compiled_s - self.compiled_s

    @property
    def calls_to_break_even(self) -> float | None:
        """How many calls the compiled model needs to earn its compile time back (inf if it is
        no faster)."""
        if self.compile_overhead_s is None or self.eager_s is None or self.compiled_s is None:
            return None
        saved = self.eager_s - self.compiled_s
        return self.compile_overhead_s / saved if saved > 0 else float("inf")


def compile_benchmark(
    location: str,
    *,
    prompt: str = "Once upon a time",
    new_tokens: int = 16,
    limit_s: float = 15.0,
    threads: int | None = None,
) -> CompileResult:
    """Time ``torch.compile(model.forward)`` with a static cache in a child process.

    The child loads ``location`` (what ``from_pretrained`` accepts), times eager generate() with
    ``cache_implementation="static"``, compiles ``model.forward`` (inductor, default mode) and
    times the first compiled call and the steady state. It is killed after ``limit_s`` seconds;
    whatever stages finished by then are reported (``finished=False``).
    """
    threads = torch.get_num_threads() if threads is None else threads
    command = [sys.executable, "-c", _COMPILE_SCRIPT, str(location), prompt, str(new_tokens),
               str(threads)]
    env = {**os.environ, "TRANSFORMERS_VERBOSITY": "error", "TQDM_DISABLE": "1"}
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=limit_s)
        finished = process.returncode == 0
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        finished = False
    wall = time.perf_counter() - start
    found: dict[str, Any] = {}
    stages = []
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        stages.append(record.pop("stage", "?"))
        found.update(record)
    error = None
    if process.returncode not in (0, None, -signal.SIGKILL) and not finished:
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        error = lines[-1] if lines else f"exit status {process.returncode}"
    return CompileResult(
        finished=finished and "done" in stages,
        limit_s=limit_s,
        wall_s=wall,
        new_tokens=new_tokens,
        eager_s=found.get("eager_s"),
        first_compiled_s=found.get("first_s"),
        compiled_s=found.get("steady_s"),
        same_tokens=found.get("same_tokens"),
        error=error,
        stages=tuple(stages),
    )
