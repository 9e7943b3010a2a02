"""One load in a fresh process, and where its resident memory goes (``python -m
benchmarks.memory_probe FOLDER DTYPE`` prints one JSON line).

A fresh process per load keeps the peaks clean: nothing from an earlier load is still
resident or cached by the allocator. Linux's ``/proc/self/status`` splits resident memory into
anonymous pages (tensors torch allocated: copies, conversions) and file pages (pages of a
memory-mapped file that were read: safetensors weights used in place), and ``VmHWM`` is the
exact peak of their sum. A sampling thread records the peak of each part (a lower bound: a
spike shorter than the interval can be missed); ``/proc/self/maps`` tells whether each
parameter's storage lies inside the mapped checkpoint file, i.e. was never copied.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

STATUS_FIELDS = ("VmRSS", "VmHWM", "RssAnon", "RssFile")


def status() -> dict[str, int]:
    """The memory fields of ``/proc/self/status``, in bytes (empty off Linux)."""
    found: dict[str, int] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in STATUS_FIELDS:
                found[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return found


def mapped_ranges(suffix: str = ".safetensors") -> list[tuple[int, int]]:
    """Address ranges of this process's memory mappings of files ending in ``suffix``."""
    ranges = []
    try:
        for line in Path("/proc/self/maps").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 6 and parts[5].endswith(suffix):
                start, end = (int(x, 16) for x in parts[0].split("-"))
                ranges.append((start, end))
    except OSError:
        pass
    return ranges


def bytes_in_file_mapping(model) -> int:
    """Bytes of parameters whose storage lies inside a mapped safetensors file: used in place,
    never copied into anonymous memory."""
    ranges = mapped_ranges()
    total = 0
    seen = set()
    for param in model.parameters():
        ptr = param.data_ptr()
        if ptr in seen:
            continue
        seen.add(ptr)
        if any(start <= ptr < end for start, end in ranges):
            total += param.numel() * param.element_size()
    return total


class PeakSampler:
    """Peaks of anonymous and file-backed RSS, sampled every ``interval`` seconds."""

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.peak = {"RssAnon": 0, "RssFile": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = status()
            for key in self.peak:
                self.peak[key] = max(self.peak[key], now.get(key, 0))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def probe(folder: str, dtype_name: str, device_map: str | None = "cpu") -> dict:
    """Load ``folder`` in ``dtype_name`` here and report memory relative to just before."""
    import gc

    import psutil
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM

    transformers.logging.disable_progress_bar()
    transformers.logging.set_verbosity_error()
    # the model class's modules are imported lazily: build it once on the meta device (no
    # memory) so that their code is resident before the baseline, not counted as the load's
    with torch.device("meta"):
        AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder))
    gc.collect()
    before = status()
    uss_before = psutil.Process().memory_full_info().uss
    start = time.perf_counter()
    with PeakSampler() as sampler:
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype_name),
                                                     device_map=device_map)
    seconds = time.perf_counter() - start
    gc.collect()
    after = status()
    weights = sum(p.numel() * p.element_size() for p in
                  {p.data_ptr(): p for p in model.parameters()}.values())
    with torch.inference_mode():  # reads every weight once: mapped pages become resident
        model(torch.tensor([[1, 2, 3]], device=model.device))
    gc.collect()
    forward = status()
    uss = psutil.Process().memory_full_info().uss

    def grown(now: dict[str, int], key: str) -> int:
        return now.get(key, 0) - before.get(key, 0)

    return {
        "dtype": dtype_name,
        "seconds": seconds,
        "weights_bytes": weights,
        "peak_bytes": forward.get("VmHWM", 0) - before.get("VmRSS", 0),
        "load_peak_bytes": after.get("VmHWM", 0) - before.get("VmRSS", 0),
        "peak_anon_bytes": sampler.peak["RssAnon"] - before.get("RssAnon", 0),
        "peak_file_bytes": sampler.peak["RssFile"] - before.get("RssFile", 0),
        "after_bytes": grown(after, "VmRSS"),
        "after_anon_bytes": grown(after, "RssAnon"),
        "after_file_bytes": grown(after, "RssFile"),
        "forward_bytes": grown(forward, "VmRSS"),
        "forward_anon_bytes": grown(forward, "RssAnon"),
        "forward_file_bytes": grown(forward, "RssFile"),
        "forward_uss_bytes": uss - uss_before,
        "in_file_mapping_bytes": bytes_in_file_mapping(model),
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m benchmarks.memory_probe FOLDER DTYPE", file=sys.stderr)
        return 2
    print(json.dumps(probe(*args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
