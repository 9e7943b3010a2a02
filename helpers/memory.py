"""How much memory a model's weights need, before any weights are downloaded; where they would go
under a memory limit; and what a loaded model really occupies.

The estimate builds the model from its config on the meta device (accelerate's
``init_empty_weights``): the real architecture and real parameter shapes, no memory, no download
but config.json. ``accelerate estimate-memory`` would do this too, but it asks the hub first and
does not work offline.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from helpers.display import ShowsAsText, format_bytes, html_table, text_table
from helpers.errors import CourseError, Diagnosis
from helpers.hardware import dtype_name, parse_dtype

# safetensors header dtype -> torch dtype (for checkpoints whose config names no dtype)
_SAFETENSORS_DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16,
                       "F64": torch.float64}


@dataclass(frozen=True)
class MemoryEstimate(ShowsAsText):
    """Weight memory of a model in one dtype, computed from its config alone."""

    model: str
    dtype: torch.dtype
    dtype_source: str
    total_bytes: int
    largest_module_bytes: int
    largest_modules: tuple[str, ...]
    n_parameters: int
    modules: tuple[tuple[str, int, str], ...] = field(default=())
    """(name, bytes, note) for each top-level part: embeddings, blocks, norm, head"""

    def rows(self) -> list[tuple[str, str]]:
        largest = ", ".join(self.largest_modules) or "-"
        return [
            ("model", self.model),
            ("dtype", f"{dtype_name(self.dtype)} ({self.dtype_source})"),
            ("parameters", f"{self.n_parameters:,}"),
            ("weights", format_bytes(self.total_bytes)),
            ("largest unsplittable part", f"{format_bytes(self.largest_module_bytes)} ({largest})"),
        ]

    def __str__(self) -> str:
        lines = [text_table(self.rows())]
        if self.modules:
            name_w = max(len(n) for n, _, _ in self.modules)
            lines.append("per module:")
            lines += [f"  {n:<{name_w}}  {format_bytes(b):>10}  {note}".rstrip()
                      for n, b, note in self.modules]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        parts = "".join(
            f"<tr><td style='text-align:left'>{esc(n)}</td><td>{esc(format_bytes(b))}</td>"
            f"<td style='text-align:left'>{esc(note)}</td></tr>"
            for n, b, note in self.modules
        )
        return (html_table(self.rows(), "Memory estimate (weights only)")
                + f"<table class='fp-table'><tr><th>module</th><th>bytes</th><th></th></tr>"
                f"{parts}</table>")


def empty_model(name_or_path: str, dtype: object = "auto", *, revision: str | None = None):
    """The model built from its config on the meta device, weights tied; and the dtype's source.

    Returns ``(model, dtype_source)``. Only config.json is read (downloaded, for a hub id).
    """
    from helpers.hub import resolve

    resolved = resolve(name_or_path, revision=revision)  # fails fast, before the heavy imports
    wanted = parse_dtype(dtype)
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        config = AutoConfig.from_pretrained(
            resolved.location, revision=revision, local_files_only=resolved.local_files_only,
            trust_remote_code=False,
        )
        if wanted == "auto":
            wanted, source = checkpoint_dtype(config, resolved.folder)
        else:
            source = "requested"
        with init_empty_weights():
            model = AutoModelForCausalLM.from_config(config, dtype=wanted, trust_remote_code=False)
        model.tie_weights()
    except Exception as exc:
        from helpers.diagnosis import diagnose

        raise CourseError(diagnose(exc, model=str(name_or_path), path=resolved.location)) from exc
    return model, source


def checkpoint_dtype(config, folder: str | None) -> tuple[torch.dtype, str]:
    """The dtype ``dtype="auto"`` loads: the config's, else the safetensors header's, else fp32."""
    if isinstance(getattr(config, "dtype", None), torch.dtype):
        return config.dtype, "checkpoint config"
    if folder:
        for file in sorted(Path(folder).glob("*.safetensors")):
            try:
                with open(file, "rb") as fh:
                    size = int.from_bytes(fh.read(8), "little")
                    header = json.loads(fh.read(size))
            except (OSError, ValueError):
                continue
            kinds = {v.get("dtype") for k, v in header.items() if k != "__metadata__"}
            floats = [_SAFETENSORS_DTYPES[k] for k in sorted(kinds) if k in _SAFETENSORS_DTYPES]
            if floats:
                return floats[0], "checkpoint weights"
    return torch.float32, "default (checkpoint names no dtype)"


def estimate_memory(
    name_or_path: str | os.PathLike, dtype: object = "auto", *, revision: str | None = None
) -> MemoryEstimate:
    """Weight memory of ``name_or_path`` in ``dtype`` ("auto": the checkpoint's), from its config.

    Uses ``AutoConfig`` + ``init_empty_weights`` + ``from_config`` + ``tie_weights`` (tied
    weights counted once) + ``accelerate.utils.calculate_maximum_sizes``. Weights only: the KV
    cache and activations come on top.
    """
    name = os.fspath(name_or_path)
    model, source = empty_model(name, dtype, revision=revision)
    from accelerate.utils import calculate_maximum_sizes, compute_module_sizes

    total, (largest, largest_names) = calculate_maximum_sizes(model)
    sizes = compute_module_sizes(model)
    n_params = sum(p.numel() for p in model.parameters())
    return MemoryEstimate(
        model=name,
        dtype=model.dtype,
        dtype_source=source,
        total_bytes=int(total),
        largest_module_bytes=int(largest),
        largest_modules=tuple(largest_names),
        n_parameters=int(n_params),
        modules=tuple(_breakdown(model, sizes)),
    )


def _breakdown(model: torch.nn.Module, sizes: dict[str, int]) -> list[tuple[str, int, str]]:
    """Top-level parts: the base model's children (embeddings, blocks, norm) and the head."""
    base = getattr(model, "base_model", model)
    parts: list[tuple[str, torch.nn.Module]] = []
    for child_name, child in model.named_children():
        if child is base and base is not model:
            parts += [(f"{child_name}.{n}", m) for n, m in base.named_children()]
        else:
            parts.append((child_name, child))
    rows = []
    for name, module in parts:
        size = int(sizes.get(name, 0))
        has_tensors = any(True for _ in module.named_parameters(remove_duplicate=False))
        if size == 0 and not has_tensors:
            continue  # dropout, activations: nothing to store
        if isinstance(module, torch.nn.ModuleList):
            note = f"{len(module)} x {type(module[0]).__name__}" if len(module) else ""
        elif size == 0:
            note = "tied: shares its weights with another module, counted once"
        else:
            note = type(module).__name__
        rows.append((name, size, note))
    return rows


STRATEGIES = ("auto", "balanced", "balanced_low_0", "sequential")


def plan_device_map(
    name_or_path: str | os.PathLike | torch.nn.Module,
    max_memory: dict,
    dtype: object = "auto",
    *,
    strategy: str = "auto",
    revision: str | None = None,
) -> dict[str, int | str]:
    """Where each part of the model would go under ``max_memory`` (e.g. {"cpu": "200MB",
    "disk": "10GB"}, or {0: "20GiB", 1: "20GiB", "cpu": "64GiB"}), without loading weights.

    ``name_or_path`` is a model name or folder, or a model already built on the meta device
    (e.g. with ``init_empty_weights``; ``dtype`` is then ignored). ``strategy`` is the string
    ``from_pretrained(device_map=...)`` takes: "auto", "balanced", "balanced_low_0" or
    "sequential". The plan comes from the function ``from_pretrained`` itself calls
    (``transformers.integrations.accelerate._get_device_map``: accelerate's
    ``get_balanced_memory`` + ``infer_auto_device_map``), so it is the map that
    ``from_pretrained(device_map=strategy, max_memory=...)`` builds. GPU indices may be planned
    on a machine without GPUs: that is planning only (accelerate's warning that the device is
    not available is silenced). Values are GPU indices, "mps", "cpu" or "disk".
    """
    if not isinstance(max_memory, dict) or not max_memory:
        raise CourseError(_bad_max_memory(max_memory, "max_memory must be a non-empty dict"))
    if strategy not in STRATEGIES:
        raise CourseError(Diagnosis(
            title="Unknown device_map strategy",
            cause=f"{strategy!r} is not one of the strategies from_pretrained plans with.",
            fix=f"Use one of {', '.join(map(repr, STRATEGIES))}, or pass an explicit dict.",
        ))
    if isinstance(name_or_path, torch.nn.Module):
        model = name_or_path
    else:
        model, _ = empty_model(os.fspath(name_or_path), dtype, revision=revision)
    import logging

    from transformers.integrations.accelerate import _get_device_map

    quiet = logging.getLogger("accelerate.utils.modeling")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # "Device 0 is not available": we are only planning
    try:
        device_map = _get_device_map(model, strategy, dict(max_memory), None)  # a copy:
    except (ValueError, TypeError, KeyError) as exc:  # accelerate rewrites sizes in place
        raise CourseError(_bad_max_memory(max_memory, str(exc))) from exc
    finally:
        quiet.setLevel(level)
    return dict(device_map)


def placement_bytes(model: torch.nn.Module, device_map: dict) -> dict[str, int]:
    """Weight bytes each place of ``device_map`` gets ("cuda:0", "cpu", "disk", ...), for a
    loaded model or one built on the meta device; tied weights counted once."""
    prefixes = sorted(device_map, key=len, reverse=True)
    totals: dict[str, int] = {}
    seen: set[int] = set()
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        place = str(tensor.device)
        for prefix in prefixes:
            if prefix == "" or name == prefix or name.startswith(prefix + "."):
                place = placement_name(device_map[prefix])
                break
        totals[place] = totals.get(place, 0) + tensor.numel() * tensor.element_size()
    return totals


def offload_budget(
    name_or_path: str | os.PathLike,
    dtype: object = "auto",
    *,
    revision: str | None = None,
    disk: str = "100GB",
) -> dict[str, int | str]:
    """A ``max_memory`` under which part of this model stays in CPU memory and the rest goes to
    disk: the smallest CPU budget, in steps of a tenth of the weights (from 3/10 up), for which
    :func:`plan_device_map` uses both. For showing offloading on whatever model is in use: a fixed
    fraction would send a model whose embedding is large straight to disk as a whole.
    """
    name = os.fspath(name_or_path)
    total = estimate_memory(name, dtype, revision=revision).total_bytes
    for tenths in range(3, 10):
        budget: dict[str, int | str] = {"cpu": total * tenths // 10, "disk": disk}
        places = set(plan_device_map(name, budget, dtype, revision=revision).values())
        if {"cpu", "disk"} <= places:
            return budget
    return {"cpu": total // 2, "disk": disk}  # one unsplittable module: it all goes one way


def _bad_max_memory(max_memory: object, detail: str) -> Diagnosis:
    return Diagnosis(
        title="Invalid max_memory",
        cause=f"{detail} (got {max_memory!r}).",
        fix="Pass a dict from device to budget: GPU indices (0, 1, ...), 'mps', 'cpu' and "
        "'disk', with bytes or strings such as '200MB' or '10GiB'; e.g. "
        "{'cpu': '200MB', 'disk': '10GB'}.",
    )


# --------------------------------------------------------------------------- measuring


def footprint(model: torch.nn.Module) -> int:
    """Bytes of a loaded model's parameters and buffers (``model.get_memory_footprint()``)."""
    return int(model.get_memory_footprint())


def bytes_by_device(model: torch.nn.Module) -> dict[str, int]:
    """Weight bytes per placement: "cpu", "cuda:0", "disk", ... (offloaded weights count as
    "disk" or "cpu" as ``hf_device_map`` says, even though their tensors sit on "meta")."""
    return placement_bytes(model, getattr(model, "hf_device_map", None) or {})


def placement_name(value: object) -> str:
    """A device_map value as a device name: accelerate writes GPU indices as bare ints."""
    if isinstance(value, int):
        return f"cuda:{value}"
    return str(value)


# --------------------------------------------------------------------------- bytes per parameter

#: bytes one parameter takes in each storage format. 4-bit packs two values in a byte;
#: bitsandbytes adds a small per-block scale on top (not counted here).
BYTES_PER_PARAMETER: dict[str, float] = {
    "float32": 4, "bfloat16": 2, "float16": 2, "int8": 1, "4-bit": 0.5,
}


def bytes_per_parameter(dtype: object) -> float:
    """Bytes a parameter takes in ``dtype``: a torch dtype, or a name of
    :data:`BYTES_PER_PARAMETER` ("float32", "bfloat16", "float16", "int8", "4-bit")."""
    if isinstance(dtype, torch.dtype):
        return torch.empty((), dtype=dtype).element_size()
    key = str(dtype).removeprefix("torch.")
    aliases = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "half": "float16",
               "float": "float32", "4bit": "4-bit", "nf4": "4-bit", "fp4": "4-bit"}
    key = aliases.get(key, key)
    if key not in BYTES_PER_PARAMETER:
        raise CourseError(Diagnosis(
            title="Unknown storage format",
            cause=f"{dtype!r} is not a dtype this course knows the size of.",
            fix=f"Use a torch dtype or one of {', '.join(map(repr, BYTES_PER_PARAMETER))}.",
        ))
    return BYTES_PER_PARAMETER[key]


# --------------------------------------------------------------------------- the KV cache


@dataclass(frozen=True)
class KVCacheEstimate(ShowsAsText):
    """Bytes of the key/value cache for ``batch`` sequences of ``context`` tokens:
    2 (K and V) x layers x kv_heads x head_dim x context x batch x bytes per value."""

    layers: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    context: int
    batch: int
    bytes_per_value: int

    @property
    def per_token_bytes(self) -> int:
        """Cache bytes one token of one sequence adds (all layers, K and V)."""
        return 2 * self.layers * self.kv_heads * self.head_dim * self.bytes_per_value

    @property
    def total_bytes(self) -> int:
        return self.per_token_bytes * self.context * self.batch

    def rows(self) -> list[tuple[str, str]]:
        grouped = (f"{self.kv_heads} (grouped-query: {self.attention_heads} query heads share "
                   f"them)" if self.kv_heads < self.attention_heads else str(self.kv_heads))
        return [
            ("layers", str(self.layers)),
            ("key/value heads", grouped),
            ("head_dim", str(self.head_dim)),
            ("bytes per value", str(self.bytes_per_value)),
            ("per token", format_bytes(self.per_token_bytes)),
            ("context x batch", f"{self.context:,} x {self.batch:,}"),
            ("KV cache", format_bytes(self.total_bytes)),
        ]

    def __str__(self) -> str:
        return text_table(self.rows())

    def _repr_html_(self) -> str:
        return html_table(self.rows(), "KV cache estimate")


def kv_cache_dims(config) -> tuple[int, int, int, int]:
    """(layers, attention heads, key/value heads, head_dim) from a model config.

    Reads the names transformers' configs share (``num_hidden_layers``,
    ``num_attention_heads``, ``hidden_size``; GPT-2's ``n_layer``/``n_head``/``n_embd`` map onto
    them through ``attribute_map``). Key/value heads: ``num_key_value_heads`` (grouped-query
    attention) where the config has it, Falcon's ``num_kv_heads``, one for multi-query models,
    else one per attention head. ``head_dim`` where the config sets it, else hidden / heads.
    """
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    layers = int(text.num_hidden_layers)
    heads = int(text.num_attention_heads)
    kv = getattr(text, "num_key_value_heads", None)
    if kv is None and getattr(text, "model_type", "") == "falcon":
        new = getattr(text, "new_decoder_architecture", False)
        kv = text.num_kv_heads if new or not getattr(text, "multi_query", False) else 1
    elif kv is None and getattr(text, "multi_query", False):
        kv = 1
    head_dim = getattr(text, "head_dim", None) or int(text.hidden_size) // heads
    return layers, heads, int(kv or heads), int(head_dim)


def estimate_kv_cache(source, context: int, batch: int = 1, dtype: object = "auto",
                      *, revision: str | None = None) -> KVCacheEstimate:
    """The KV cache of ``batch`` sequences of ``context`` tokens (prompt + generated).

    ``source``: a config, a model (its config and dtype), or a name/folder (its config; only
    config.json is read). ``dtype``: the cache's dtype, which is the dtype the model computes
    in ("auto": the model's, or the checkpoint's). Counts standard attention; a model with
    sliding-window layers caches less on those layers, so this is then an upper bound.
    """
    if isinstance(source, torch.nn.Module):
        config, model_dtype = source.config, source.dtype
    elif hasattr(source, "to_dict") and hasattr(source, "model_type"):
        config, model_dtype = source, getattr(source, "dtype", None)
    else:
        from transformers import AutoConfig

        from helpers.hub import resolve

        resolved = resolve(os.fspath(source), revision=revision)
        config = AutoConfig.from_pretrained(
            resolved.location, revision=revision, local_files_only=resolved.local_files_only)
        model_dtype, _ = checkpoint_dtype(config, resolved.folder)
    if dtype == "auto":
        dtype = model_dtype if isinstance(model_dtype, torch.dtype) else torch.float32
    value_bytes = bytes_per_parameter(parse_dtype(dtype))
    if context < 0 or batch < 0:
        raise CourseError(Diagnosis(
            title="Negative size", cause=f"context={context}, batch={batch}.",
            fix="Pass a number of tokens (context) and of sequences (batch), 0 or more."))
    return KVCacheEstimate(*kv_cache_dims(config), int(context), int(batch), int(value_bytes))


def cache_bytes(cache) -> int:
    """Bytes a real cache (``model(..., use_cache=True).cache`` or the ``past_key_values`` of
    generate) holds: the keys and values of every layer."""
    total = 0
    for layer in getattr(cache, "layers", []):
        for name in ("keys", "values"):
            tensor = getattr(layer, name, None)
            if isinstance(tensor, torch.Tensor):
                total += tensor.numel() * tensor.element_size()
    return total


# --------------------------------------------------------------------------- peak memory of a load


@dataclass(frozen=True)
class LoadMemory:
    """Resident memory (RSS) of this process around one call: the highest point during the
    call and what stayed after it, both above the RSS just before it."""

    peak_bytes: int
    after_bytes: int


def _release_freed_memory() -> None:
    """Hand memory that was freed but kept by the C allocator back to the system (glibc's
    ``malloc_trim``), so that a measured call can't look smaller by reusing it. A no-op
    elsewhere."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def measure_memory(fn, *args, interval: float = 0.0005, **kwargs):
    """Call ``fn(*args, **kwargs)`` while a thread samples this process's resident memory
    (``psutil``, every ``interval`` seconds); return ``(fn's result, LoadMemory)``.

    RSS counts every byte the process holds: tensors, the pages of memory-mapped checkpoint
    files that were read, and the Python objects. A short spike between two samples can be
    missed, so the peak is a lower bound.
    """
    import gc
    import threading

    import psutil

    proc = psutil.Process()
    gc.collect()
    _release_freed_memory()
    before = proc.memory_info().rss
    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            stop.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = fn(*args, **kwargs)
        gc.collect()
    finally:
        stop.set()
        sampler.join()
    after = proc.memory_info().rss
    return result, LoadMemory(max(peak[0], after) - before, after - before)


__all__ = [
    "BYTES_PER_PARAMETER", "KVCacheEstimate", "LoadMemory", "MemoryEstimate", "STRATEGIES",
    "bytes_by_device", "bytes_per_parameter", "cache_bytes", "checkpoint_dtype", "empty_model",
    "estimate_kv_cache", "estimate_memory", "footprint", "kv_cache_dims", "measure_memory",
    "offload_budget", "placement_bytes", "placement_name", "plan_device_map",
]
