"""The memory calculator: a model's size (a parameter count, or read from a config), a storage
format, a context length and a batch size in; the weights, the KV cache on top, and whether the
total fits in a memory budget (this machine's free memory unless you type another) out.

``memory_calculator(source)`` returns a :class:`MemoryCalculator` (an ipywidgets ``VBox``).
``source`` is a config (e.g. a ``LlamaConfig`` built locally), a model, a model name or folder
(only its config is read), or a plain number of parameters; ``None`` means the course model.

The arithmetic is the lesson's, shown in the output:

* weights = parameters x bytes per parameter (4 for float32, 2 for bfloat16/float16, 1 for
  int8, 0.5 for 4-bit; quantized formats add small per-block scales, not counted);
* KV cache = 2 (K and V) x layers x key/value heads x head_dim x context x batch x bytes per
  value. The cache holds activations, which are float32 for a float32 model and 2 bytes for
  every other format here (8-bit and 4-bit models compute in float16 or bfloat16).

Results go into an ``HTML`` widget's value (never printed: printing inside widgets breaks
nbval's strict mode). Headless use (tests, exercises): ``calc.set(context=4096, batch=8)``,
``calc.calculate()`` (returns a :class:`CalculatorResult`), ``calc.result``.
"""

from __future__ import annotations

import html
import os
import sys
import types
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets

from helpers.display import format_bytes

__all__ = ["CalculatorResult", "MemoryCalculator", "memory_calculator"]

FORMATS = ("float32", "bfloat16", "float16", "int8", "4-bit")
GIB = 2**30

_BOX = (
    "border-left:4px solid var({var}, {fallback});padding:4px 10px;margin:4px 0;"
    "color:var(--jp-ui-font-color1, inherit)"
)


@dataclass(frozen=True)
class CalculatorResult:
    """One click of Calculate: the inputs and the bytes they come to."""

    parameters: int
    storage: str
    layers: int
    kv_heads: int
    head_dim: int
    context: int
    batch: int
    weights_bytes: int
    kv_cache_bytes: int
    available_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes

    @property
    def fits(self) -> bool:
        return self.total_bytes <= self.available_bytes


def kv_bytes_per_value(storage: str) -> int:
    """Bytes of one cached key or value: the dtype the model computes in."""
    return 4 if storage == "float32" else 2


def _from_source(source: Any) -> dict[str, Any]:
    """Parameter count, cache dimensions and storage format of ``source`` (see module doc)."""
    import torch

    from helpers.memory import kv_cache_dims

    if source is None:
        from helpers.hub import course_model

        source = course_model()
    if isinstance(source, int | float) and not isinstance(source, bool):
        return {"parameters": int(source)}
    if isinstance(source, torch.nn.Module):
        layers, _, kv, head_dim = kv_cache_dims(source.config)
        params = sum(p.numel() for p in source.parameters())
        storage = str(source.dtype).removeprefix("torch.")
    elif hasattr(source, "to_dict") and hasattr(source, "model_type"):  # a config
        from accelerate import init_empty_weights
        from transformers import AutoModelForCausalLM

        with init_empty_weights():
            empty = AutoModelForCausalLM.from_config(source)
        empty.tie_weights()
        layers, _, kv, head_dim = kv_cache_dims(source)
        params = sum(p.numel() for p in empty.parameters())
        dtype = getattr(source, "dtype", None)
        storage = str(dtype).removeprefix("torch.") if isinstance(dtype, torch.dtype) else ""
    else:
        from helpers.memory import empty_model

        empty, _ = empty_model(os.fspath(source))
        layers, _, kv, head_dim = kv_cache_dims(empty.config)
        params = sum(p.numel() for p in empty.parameters())
        storage = str(empty.dtype).removeprefix("torch.")
    found = {"parameters": int(params), "layers": layers, "kv_heads": kv, "head_dim": head_dim}
    if storage in FORMATS:
        found["storage"] = storage
    return found


def free_memory_bytes() -> int:
    """Free memory of this machine's best device (GPU memory on a GPU machine, else RAM)."""
    from helpers.hardware import detect

    return int(detect().free_memory_bytes or 0)


class MemoryCalculator(widgets.VBox):
    """Parameters, storage format, cache shape, context and batch -> weights + KV cache."""

    def __init__(
        self,
        source: Any = None,
        *,
        storage: str | None = None,
        context: int = 2048,
        batch: int = 1,
        available_gib: float | None = None,
    ) -> None:
        found = _from_source(source)
        wide = {"description_width": "initial"}
        small = widgets.Layout(width="16em")
        self.parameters = widgets.IntText(
            value=found["parameters"], description="parameters", style=wide,
            layout=widgets.Layout(width="22em"))
        self.storage = widgets.Dropdown(
            options=FORMATS, value=storage or found.get("storage", "bfloat16"),
            description="stored as", style=wide, layout=small)
        self.layers = widgets.IntText(value=found.get("layers", 32), description="layers",
                                      style=wide, layout=small)
        self.kv_heads = widgets.IntText(value=found.get("kv_heads", 8),
                                        description="key/value heads", style=wide, layout=small)
        self.head_dim = widgets.IntText(value=found.get("head_dim", 128), description="head_dim",
                                        style=wide, layout=small)
        self.context = widgets.IntText(value=context, description="context (tokens)",
                                       style=wide, layout=small)
        self.batch = widgets.IntText(value=batch, description="batch", style=wide, layout=small)
        free = free_memory_bytes() / GIB if available_gib is None else available_gib
        self.available_gib = widgets.FloatText(
            value=round(free, 2), description="memory available (GiB)", style=wide,
            layout=widgets.Layout(width="20em"),
            tooltip="this machine's free memory; type a GPU's size to plan for it")
        self.button = widgets.Button(description="Calculate", button_style="primary",
                                     icon="calculator",
                                     tooltip="weights + KV cache, against the memory available")
        self.button.on_click(lambda _button: self.calculate())
        self.output = widgets.HTML(value="")
        self.output.add_class("fp-memcalc-output")
        self.button.add_class("fp-memcalc-calculate")
        self.result: CalculatorResult | None = None
        super().__init__(
            children=(
                widgets.HBox([self.parameters, self.storage]),
                widgets.HBox([self.layers, self.kv_heads, self.head_dim]),
                widgets.HBox([self.context, self.batch]),
                widgets.HBox([self.available_gib, self.button]),
                self.output,
            ),
            layout=widgets.Layout(width="100%"),
        )
        self.add_class("fp-memory-calculator")
        self.calculate()

    def set(self, **values: Any) -> MemoryCalculator:
        """Set controls by name (``parameters``, ``storage``, ``layers``, ``kv_heads``,
        ``head_dim``, ``context``, ``batch``, ``available_gib``), as a learner would."""
        for name, value in values.items():
            control = getattr(self, name, None)
            if not isinstance(control, widgets.ValueWidget) or name in ("output",):
                raise ValueError(f"the calculator has no control {name!r}")
            control.value = value
        return self

    def calculate(self) -> CalculatorResult | None:
        """Compute from the controls, show the result, and return it (None if an input is
        invalid; the output then says which)."""
        from helpers.memory import bytes_per_parameter

        counts = {n: getattr(self, n).value for n in
                  ("parameters", "layers", "kv_heads", "head_dim", "context", "batch")}
        negative = [n for n, v in counts.items() if v < 0]
        if negative or self.available_gib.value < 0:
            self.result = None
            self.output.value = self._box(
                "--jp-error-color1", "#c62828",
                f"{', '.join(negative) or 'memory available'} must be 0 or more.")
            return None
        storage = self.storage.value
        weights = int(counts["parameters"] * bytes_per_parameter(storage))
        kv = (2 * counts["layers"] * counts["kv_heads"] * counts["head_dim"] * counts["context"]
              * counts["batch"] * kv_bytes_per_value(storage))
        self.result = CalculatorResult(
            parameters=counts["parameters"], storage=storage, layers=counts["layers"],
            kv_heads=counts["kv_heads"], head_dim=counts["head_dim"], context=counts["context"],
            batch=counts["batch"], weights_bytes=weights, kv_cache_bytes=int(kv),
            available_bytes=int(self.available_gib.value * GIB))
        self.output.value = self._render(self.result)
        return self.result

    @staticmethod
    def _box(var: str, fallback: str, body: str) -> str:
        return f"<div style='{_BOX.format(var=var, fallback=fallback)}'>{body}</div>"

    def _render(self, r: CalculatorResult) -> str:
        per_param = bytes_per_parameter_text(r.storage)
        kv_value = kv_bytes_per_value(r.storage)
        rows = [
            ("weights", f"{r.parameters:,} parameters x {per_param} bytes",
             format_bytes(r.weights_bytes)),
            ("KV cache", f"2 x {r.layers} layers x {r.kv_heads} kv heads x {r.head_dim} x "
             f"{r.context:,} tokens x {r.batch} x {kv_value} bytes",
             format_bytes(r.kv_cache_bytes)),
            ("total", "weights + KV cache (activations and framework overhead come on top)",
             format_bytes(r.total_bytes)),
            ("available", "this machine's free memory, or what you typed",
             format_bytes(r.available_bytes)),
        ]
        table = "".join(
            f"<tr><td style='text-align:left'><b>{html.escape(a)}</b></td>"
            f"<td style='text-align:left'>{html.escape(b)}</td><td>{html.escape(c)}</td></tr>"
            for a, b, c in rows)
        if r.fits:
            verdict = self._box("--jp-success-color1", "#2e7d32",
                                f"✅ fits, with {format_bytes(r.available_bytes - r.total_bytes)} "
                                "to spare")
        else:
            verdict = self._box("--jp-warn-color1", "#b26a00",
                                "❌ does not fit: "
                                f"{format_bytes(r.total_bytes - r.available_bytes)} short. "
                                "Try a smaller format, a shorter context, a smaller batch, "
                                "or a device_map that offloads.")
        return f"<table class='fp-table'>{table}</table>{verdict}"


def bytes_per_parameter_text(storage: str) -> str:
    from helpers.memory import bytes_per_parameter

    value = bytes_per_parameter(storage)
    return f"{value:g}"


def memory_calculator(source: Any = None, **settings: Any) -> MemoryCalculator:
    """A :class:`MemoryCalculator` for ``source`` (a config, model, name/folder, or parameter
    count; None: the course model). ``settings``: ``storage``, ``context``, ``batch``,
    ``available_gib``."""
    return MemoryCalculator(source, **settings)


class _CallableModule(types.ModuleType):
    """``helpers.memory_calculator`` names both this module and the function
    :func:`memory_calculator` (as ``helpers.playground`` does). Importing this module makes
    Python set the package attribute ``helpers.memory_calculator`` to the module; calling the
    module calls the function, so ``helpers.memory_calculator(config)`` works in either order.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> MemoryCalculator:
        return memory_calculator(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
