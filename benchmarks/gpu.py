"""``make bench-gpu``: the like-for-like table on CUDA, and decode speed of a ~1B model against
the GPU's memory bandwidth, in one prepared script for a GPU machine with no network.

``python -m benchmarks.gpu [--out docs/performance-gpu.md] [--dry-run]``

1. ``helpers.load`` / raw load and ``generate_text`` / raw generate on CUDA (the helpers'
   defaults there: their recommended dtype and ``device_map``), interleaved pairs as in
   ``make bench``.
2. A Llama-shaped model of ~1.1B parameters (TinyLlama's shape), random weights in bf16, built
   directly on the GPU (no download, nothing written to disk). Decode tokens/s with the dynamic
   cache, the static cache (``disable_compile=True``) and the static cache with
   ``torch.compile`` (transformers compiles the decode step by itself when the cache is static
   on a GPU), each as a fraction of the measured device-to-device copy bandwidth.

Decode tokens/s is taken as ``(N - 1) / (t(N new tokens) - t(1 new token))``: the difference
removes the prefill and generate()'s setup without a per-step synchronisation that would
disturb the GPU's asynchronous queue. ``--dry-run`` runs every step on the CPU with tiny
models (no compile: a CPU torch.compile needs a C++ toolchain and minutes), to check the
script where there is no GPU. Budget: under 8 minutes on an H200-class machine.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "performance-gpu.md"
DRY_OUT = ROOT / "build" / "bench-gpu-dry" / "performance-gpu.md"


@dataclass(frozen=True)
class GpuPlan:
    load_pairs: int = 7
    generate_pairs: int = 7
    generate_tokens: int = 64
    decode_tokens: int = 256
    decode_rounds: int = 3
    bandwidth_bytes: int = 2 * 2**30
    compile: bool = True


DRY = GpuPlan(load_pairs=2, generate_pairs=2, generate_tokens=4, decode_tokens=8,
              decode_rounds=1, bandwidth_bytes=16 * 2**20, compile=False)

#: generate() settings of each decode mode
DECODE_MODES = {
    "dynamic cache": {},
    "static cache": {"cache_implementation": "static", "disable_compile": True},
    "static cache + torch.compile": {"cache_implementation": "static"},
}


def build_on_device(spec, device: str, dtype):
    """A random-weight model of ``spec`` created directly on ``device`` in ``dtype``."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(spec.config(), dtype=dtype)
    return model.eval()


def generate_seconds(model, input_ids, new_tokens: int, settings: dict) -> float:
    import torch

    from benchmarks.decoding import synchronize

    synchronize(model.device)
    start = time.perf_counter()
    with torch.inference_mode():
        model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                       max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                       pad_token_id=0, **settings)
    synchronize(model.device)
    return time.perf_counter() - start


def decode_rates(model, prompt_tokens: int, plan: GpuPlan, modes: dict) -> dict[str, dict]:
    """Decode tok/s per mode: ``(N-1) / (median t(N) - median t(1))``, modes rotated per
    round after one warm-up of each (which is also when torch.compile compiles)."""
    import torch

    from benchmarks.measure import rotate

    input_ids = torch.randint(1, model.config.vocab_size, (1, prompt_tokens),
                              device=model.device, generator=None)
    n = plan.decode_tokens
    names = []
    found: dict[str, dict] = {}
    warm = {}
    for name in modes:  # warm-up, timed separately: includes compiling
        try:
            warm[name] = generate_seconds(model, input_ids, n, modes[name])
            generate_seconds(model, input_ids, 1, modes[name])
            names.append(name)
        except Exception as exc:  # e.g. torch.compile without a working toolchain
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            found[name] = {"error": f"{type(exc).__name__}: {first}"}
    if names:
        longs = rotate([lambda s=modes[k]: generate_seconds(model, input_ids, n, s)
                        for k in names], plan.decode_rounds, warmup=0)
        shorts = rotate([lambda s=modes[k]: generate_seconds(model, input_ids, 1, s)
                         for k in names], plan.decode_rounds, warmup=0)
        for name, long_runs, short_runs in zip(names, longs, shorts, strict=True):
            span = statistics.median(long_runs) - statistics.median(short_runs)
            found[name] = {"tok_s": (n - 1) / span if span > 0 else float("nan"),
                           "first_call_s": warm[name], "runs": len(long_runs)}
    return {name: found[name] for name in modes}


def like_for_like_cuda(section, plan: GpuPlan, folders: list[Path]) -> None:
    import helpers
    from benchmarks import like_for_like as lfl
    from benchmarks.report import paired_row

    setting = lfl.helper_defaults()
    where = f"dtype={str(setting.dtype).removeprefix('torch.')}, device_map={setting.device_map!r}"
    for folder in folders:
        paired = lfl.compare_load(str(folder), plan.load_pairs, setting)
        section.add(paired_row(f"helpers.load / raw load ({folder.name})", paired,
                               f"{paired.a_median * 1e3:.0f} / {paired.b_median * 1e3:.0f} ms, "
                               f"{where}", goal=1.05))
        loaded = helpers.load(str(folder))
        try:
            paired = lfl.compare_generate(loaded.model, loaded.tokenizer, plan.generate_tokens,
                                          plan.generate_pairs)
        except lfl.NotLikeForLike as exc:  # GPU kernels may differ run to run: say so, go on
            section.note(f"{folder.name}: {exc} (timed anyway)")
            paired = lfl.compare_generate(loaded.model, loaded.tokenizer, plan.generate_tokens,
                                          plan.generate_pairs, check=False)
        section.add(paired_row(f"generate_text / raw generate ({folder.name})", paired,
                               f"{paired.a_median * 1e3:.0f} / {paired.b_median * 1e3:.0f} ms, "
                               f"{plan.generate_tokens} new tokens on {loaded.model.device}",
                               goal=1.03))
        del loaded
        gc.collect()
    section.note(f"Same method as `make bench` (interleaved pairs, same results checked); {where}"
                 " is what `helpers.load` chooses on this machine.")


def decode_section(section, plan: GpuPlan, spec, device: str, bandwidth: float) -> None:
    import torch

    from benchmarks.decoding import decode_bytes_per_token
    from benchmarks.report import Row

    start = time.perf_counter()
    model = build_on_device(spec, device, torch.bfloat16)
    built = time.perf_counter() - start
    params = sum(p.numel() for p in model.parameters())
    per_token = decode_bytes_per_token(model)
    modes = dict(DECODE_MODES)
    if not plan.compile:
        modes["static cache + torch.compile"] = {"cache_implementation": "static",
                                                 "disable_compile": True}
    rates = decode_rates(model, 32, plan, modes)
    base = rates["dynamic cache"].get("tok_s", float("nan"))
    for name, found in rates.items():
        if "error" in found:
            section.add(Row(f"decode bytes/s / copy bandwidth, {name}", None, "-",
                            f"failed: {found['error']}"))
            continue
        rate = found["tok_s"]
        section.add(Row(f"decode bytes/s / copy bandwidth, {name}", rate * per_token / bandwidth,
                        "-", f"{rate:,.1f} tok/s x {per_token / 1e9:.2f} GB per token = "
                        f"{rate * per_token / 1e9:,.0f} of {bandwidth / 1e9:,.0f} GB/s; "
                        f"{rate / base:.2f}x the dynamic cache; first call "
                        f"{found['first_call_s']:.1f} s"))
    section.note(f"{spec.name}: {params / 1e9:.2f}B parameters, bf16, random weights built on "
                 f"{device} in {built:.1f} s; 32-token prompt, {plan.decode_tokens} new tokens, "
                 f"median of {plan.decode_rounds} rounds after a warm-up (the first call, "
                 "shown, includes torch.compile's compilation).")
    if not plan.compile:
        section.note("Dry run: the third mode ran without torch.compile.")
    del model
    gc.collect()


def _gpu_line(device: str) -> str:
    import torch

    if device != "cuda":
        return "GPU: none (dry run on the CPU)"
    props = torch.cuda.get_device_properties(0)
    return (f"GPU: {props.name}, {props.total_memory / 2**30:.0f} GiB, CUDA "
            f"{torch.version.cuda}, {torch.cuda.device_count()} device(s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="Markdown file to write (default: "
                        f"{DEFAULT_OUT.relative_to(ROOT)}; {DRY_OUT.relative_to(ROOT)} with "
                        "--dry-run)")
    parser.add_argument("--dry-run", action="store_true",
                        help="run every step on the CPU with tiny models, to check the script")
    parser.add_argument("--models-dir", type=Path, help="where benchmark checkpoints are built")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        print("python -m benchmarks.gpu: no CUDA device here (torch "
              f"{torch.__version__}). Run it on a GPU machine with a CUDA build of torch, or "
              "pass --dry-run to check the script on the CPU.", file=sys.stderr)
        return 2
    from benchmarks import models, report
    from benchmarks.__main__ import _quiet_transformers
    from benchmarks.decoding import copy_bandwidth
    from benchmarks.machine import Machine

    _quiet_transformers()
    started = time.perf_counter()
    plan = DRY if args.dry_run else GpuPlan()
    device = "cpu" if args.dry_run else "cuda"
    out = args.out or (DRY_OUT if args.dry_run else DEFAULT_OUT)
    machine = Machine()
    print("From Pretrained GPU benchmarks (make bench-gpu)" + (" -- dry run" if args.dry_run
                                                             else ""))
    for line in [*machine.lines(), _gpu_line(device)]:
        print(f"  {line}")
    import helpers

    cache = args.models_dir or models.CACHE
    big = models.build(models.LLAMA_TINY if args.dry_run else models.LLAMA_100M, cache)
    folders = [Path(helpers.bundled_models()["stories-base"]), big]
    sections = []

    def run(title: str, fn, *fn_args) -> None:
        print(f"--- {title}", flush=True)
        section = report.Section(title)
        start = time.perf_counter()
        fn(section, *fn_args)
        section.seconds = time.perf_counter() - start
        sections.append(section)

    print(report.header())
    run(f"Helpers against the raw calls on {device}", like_for_like_cuda, plan, folders)
    bandwidth = copy_bandwidth(plan.bandwidth_bytes, device=device)
    print(f"copy bandwidth {bandwidth / 1e9:,.1f} GB/s ({device}, "
          f"{plan.bandwidth_bytes / 2**20:.0f} MiB tensor)", flush=True)
    spec = models.LLAMA_TINY if args.dry_run else models.LLAMA_1B
    run(f"Decode of a {spec.name} model against memory bandwidth", decode_section, plan, spec,
        device, bandwidth)
    sections[-1].note(f"Copy bandwidth: {bandwidth / 1e9:,.1f} GB/s, median of 7 "
                      f"device-to-device copies of a {plan.bandwidth_bytes / 2**20:.0f} MiB "
                      "tensor, read and write each counted once.")
    machine.finish()
    text = report.markdown(sections, machine, time.perf_counter() - started,
                           "python -m benchmarks.gpu" + (" --dry-run" if args.dry_run else ""))
    text = text.replace("Machine:\n\n", f"Machine:\n\n- {_gpu_line(device)}\n", 1)
    report.write(out, text)
    print(f"total {time.perf_counter() - started:.0f} s; wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
