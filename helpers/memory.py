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


def plan_device_map(
    name_or_path: str | os.PathLike,
    max_memory: dict,
    dtype: object = "auto",
    *,
    revision: str | None = None,
) -> dict[str, int | str]:
    """Where each part of the model would go under ``max_memory`` (e.g. {"cpu": "200MB",
    "disk": "10GB"}), computed by ``accelerate.infer_auto_device_map`` without loading weights.

    The same map ``from_pretrained(device_map="auto", max_memory=...)`` builds; values are GPU
    indices, "mps", "cpu" or "disk".
    """
    if not isinstance(max_memory, dict) or not max_memory:
        raise CourseError(_bad_max_memory(max_memory, "max_memory must be a non-empty dict"))
    model, _ = empty_model(os.fspath(name_or_path), dtype, revision=revision)
    from accelerate import infer_auto_device_map

    try:
        device_map = infer_auto_device_map(  # a copy: accelerate rewrites the sizes in place
            model, max_memory=dict(max_memory), no_split_module_classes=model._no_split_modules
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise CourseError(_bad_max_memory(max_memory, str(exc))) from exc
    return dict(device_map)


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
    device_map = getattr(model, "hf_device_map", None) or {}
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


def placement_name(value: object) -> str:
    """A device_map value as a device name: accelerate writes GPU indices as bare ints."""
    if isinstance(value, int):
        return f"cuda:{value}"
    return str(value)


__all__ = [
    "MemoryEstimate", "bytes_by_device", "checkpoint_dtype", "empty_model", "estimate_memory",
    "footprint", "offload_budget", "placement_name", "plan_device_map",
]
