"""What this machine can run well: the device, native bfloat16, free memory, and the dtype and
device_map the course recommends for it.

The decision is a pure function of measured capabilities (:func:`decide`), so a lesson can ask
"what if I were on a GPU of compute capability 7.5?" on a laptop, and tests can check it.
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass, field
from importlib import metadata

import psutil
import torch

from helpers.display import ShowsAsText, format_bytes, html_table, text_table

# CPU instruction sets that run bf16 arithmetic in hardware (names as torch.cpu.get_capabilities)
CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16", "sve_bf16", "bf16")


@dataclass(frozen=True)
class Capabilities:
    """The facts :func:`decide` needs about one device (measured by :func:`detect`, or made up)."""

    device: str
    """"cuda", "mps" or "cpu" """
    name: str = ""
    index: int | None = None
    compute_capability: tuple[int, int] | None = None
    bf16_native: bool = False
    bf16_evidence: str = ""
    free_memory_bytes: int | None = None
    total_memory_bytes: int | None = None


@dataclass(frozen=True)
class Recommendation(ShowsAsText):
    """The dtype and device_map to load with on this machine, and why."""

    device: str
    device_map: str | None
    dtype: torch.dtype
    reason: str
    bf16_native: bool
    free_memory_bytes: int | None
    capabilities: Capabilities | None = field(default=None, repr=False, compare=False)

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("device", self.device + (f" ({self.capabilities.name})" if self.capabilities
                                      and self.capabilities.name else "")),
            ("native bf16", "yes" if self.bf16_native else "no"),
            ("free memory", format_bytes(self.free_memory_bytes)),
            ("dtype", dtype_name(self.dtype)),
            ("device_map", repr(self.device_map)),
            ("why", self.reason),
        ]

    def __str__(self) -> str:
        return text_table(self.rows())

    def _repr_html_(self) -> str:
        return html_table(self.rows(), "Recommended settings")


# --------------------------------------------------------------------------- measuring


def cpu_bf16_flags() -> list[str]:
    """The bf16 instruction sets this CPU reports (empty when bf16 would be emulated)."""
    caps = torch.cpu.get_capabilities()
    return [flag for flag in CPU_BF16_FLAGS if caps.get(flag)]


def available_devices() -> list[str]:
    """Device strings that exist on this machine, e.g. ["cuda:0", "cpu"]."""
    devices = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if (
        torch.cuda.is_available()) else []
    if _mps_available():
        devices.append("mps")
    return devices + ["cpu"]


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def detect(device: str | None = None) -> Capabilities:
    """Measure the capabilities of ``device`` (default: the best one here: cuda, mps, cpu)."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    kind, _, idx = device.partition(":")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("no CUDA device on this machine")
        index = int(idx) if idx else torch.cuda.current_device()
        cc = torch.cuda.get_device_capability(index)
        if index == torch.cuda.current_device():
            native = torch.cuda.is_bf16_supported(including_emulation=False)
        else:
            native = cc >= (8, 0) or bool(torch.version.hip)
        free, total = torch.cuda.mem_get_info(index)
        return Capabilities(
            "cuda", torch.cuda.get_device_name(index), index, cc, native,
            f"compute capability {cc[0]}.{cc[1]}", free, total,
        )
    if kind == "mps":
        if not _mps_available():
            raise ValueError("no MPS (Apple GPU) device on this machine")
        native = torch.backends.mps.is_macos_or_newer(14, 0)
        vm = psutil.virtual_memory()  # unified memory: the GPU shares RAM
        return Capabilities("mps", "Apple GPU", None, None, native,
                            "macOS 14 or newer" if native else "macOS older than 14",
                            vm.available, vm.total)
    if kind == "cpu":
        flags = cpu_bf16_flags()
        vm = psutil.virtual_memory()
        caps = torch.cpu.get_capabilities()
        name = str(caps.get("cpu_name") or platform.processor() or platform.machine())
        evidence = ", ".join(flags) if flags else (
            f"no bf16 instructions (vector ISA: {torch.backends.cpu.get_cpu_capability()})"
        )
        return Capabilities("cpu", name, None, None, bool(flags), evidence,
                            vm.available, vm.total)
    raise ValueError(f"unknown device {device!r}: use 'cuda', 'cuda:N', 'mps' or 'cpu'")


# --------------------------------------------------------------------------- deciding


def decide(caps: Capabilities) -> Recommendation:
    """The recommended dtype and device_map for a device with these capabilities (pure)."""
    if caps.device == "cuda":
        cc = caps.compute_capability
        cc_text = f"compute capability {cc[0]}.{cc[1]}" if cc else "this GPU"
        if caps.bf16_native:
            dtype, reason = torch.bfloat16, (
                f"{cc_text} runs bf16 natively: half the memory of float32 at full speed, and "
                "bf16 keeps float32's range, so models trained in bf16 do not overflow."
            )
        else:
            dtype, reason = torch.float16, (
                f"{cc_text} has no native bf16 (below 8.0 torch emulates it in float32: slow, "
                "not less accurate), so float16 is the only half precision it runs natively. "
                "Use it only for fp16-safe models: ones trained in float16, or whose model card "
                "says float16 works. A model trained in bf16 (most current LLMs; its config.json "
                'gives "bfloat16" as "dtype", or "torch_dtype" in older files) can produce '
                "values beyond float16's range (65504) that turn into inf/NaN, then garbage "
                "text: load those with "
                "dtype=torch.float32 (exact, double the memory) or quantize."
            )
        return Recommendation("cuda", "auto", dtype, reason, caps.bf16_native,
                              caps.free_memory_bytes, caps)
    if caps.device == "mps":
        if caps.bf16_native:
            dtype, reason = torch.bfloat16, (
                "Apple GPUs support bf16 from macOS 14: half the memory of float32, with "
                "float32's range. device_map='mps' because GPU and CPU share one memory, so "
                "splitting a model between them gains nothing."
            )
        else:
            dtype, reason = torch.float16, (
                "bf16 needs macOS 14 on Apple GPUs; float16 is native and halves memory, but use "
                "it only for fp16-safe models: a model trained in bf16 can overflow to inf/NaN "
                "in float16, so load those with dtype=torch.float32."
            )
        return Recommendation("mps", "mps", dtype, reason, caps.bf16_native,
                              caps.free_memory_bytes, caps)
    if caps.device == "cpu":
        placement = (
            " device_map='cpu': with one device there is nothing to split, and the model is "
            "never silently offloaded to disk (pass device_map='auto' with max_memory for that)."
        )
        if caps.bf16_native:
            dtype, reason = torch.bfloat16, (
                f"this CPU computes in bf16 natively ({caps.bf16_evidence}): half the memory of "
                "float32, and faster on large matrix products (on tiny models per-step overhead "
                "dominates: `make bench` measures both). Pass dtype='auto' to keep the "
                "checkpoint's dtype."
            )
        else:
            dtype, reason = torch.float32, (
                "this CPU has no native bf16, so torch would emulate it: slow, though not less "
                "accurate. float16 is usually slower than float32 on a CPU too (few CPUs "
                "compute in it natively; `make bench` measures it on yours). float32 is the "
                "fast, exact choice; use bf16 only to halve memory."
            )
        return Recommendation("cpu", "cpu", dtype, reason + placement, caps.bf16_native,
                              caps.free_memory_bytes, caps)
    raise ValueError(f"unknown device {caps.device!r}")


def recommend(
    device: str | None = None, *, compute_capability: tuple[int, int] | None = None
) -> Recommendation:
    """The dtype and device_map to load with here, or on ``device``.

    ``device`` may name a device this machine lacks, to ask "what if": ``recommend("cuda",
    compute_capability=(7, 5))`` decides for a T4-class GPU, ``recommend("mps")`` for an Apple GPU
    on macOS 14+. Memory is then unknown (None).
    """
    kind = (device or "").partition(":")[0]
    if compute_capability is not None:
        if kind not in {"", "cuda"}:
            raise ValueError("compute_capability only applies to device='cuda'")
        cc = (int(compute_capability[0]), int(compute_capability[1]))
        return decide(Capabilities("cuda", f"hypothetical GPU, cc {cc[0]}.{cc[1]}", None, cc,
                                   cc >= (8, 0), f"compute capability {cc[0]}.{cc[1]}"))
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "no CUDA device here; to ask hypothetically pass compute_capability, e.g. "
            "recommend('cuda', compute_capability=(8, 0))"
        )
    if kind == "mps" and not _mps_available():
        return decide(Capabilities("mps", "hypothetical Apple GPU (macOS 14+)", None, None, True,
                                   "assumed macOS 14 or newer"))
    return decide(detect(device))


# --------------------------------------------------------------------------- dtype names

#: dtype names from_pretrained understands, for messages and validation
DTYPE_NAMES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
    "float64": torch.float64,
}
_DTYPE_ALIASES = {"fp32": "float32", "float": "float32", "bf16": "bfloat16", "fp16": "float16",
                  "half": "float16", "fp64": "float64", "double": "float64"}


def parse_dtype(value: object) -> torch.dtype | str:
    """``"auto"``, a floating torch dtype, or its name (``"bfloat16"``) -> ``"auto"`` or the dtype.

    Anything else raises :class:`~helpers.errors.CourseError` listing the valid values.
    """
    from helpers.errors import CourseError, Diagnosis

    if value == "auto":
        return "auto"
    if isinstance(value, torch.dtype) and value in DTYPE_NAMES.values():
        return value
    if isinstance(value, str) and value.removeprefix("torch.") in DTYPE_NAMES:
        return DTYPE_NAMES[value.removeprefix("torch.")]
    valid = "'auto', " + ", ".join(f"torch.{n} (or {n!r})" for n in DTYPE_NAMES)
    hint = ""
    if isinstance(value, str) and value.lower() in _DTYPE_ALIASES:
        hint = f" Did you mean {_DTYPE_ALIASES[value.lower()]!r}?"
    elif isinstance(value, torch.dtype):
        hint = (" Integer and 8/4-bit formats are quantization: pass quantization_config= "
                "(GPU only) instead of dtype.")
    raise CourseError(
        Diagnosis(
            title=f"Invalid dtype {value!r}",
            cause="dtype must be a floating-point torch dtype, its name, or 'auto' (keep the "
            f"checkpoint's dtype); got {value!r} ({type(value).__name__}).",
            fix=f"Use one of: {valid}.{hint}",
        )
    )


def dtype_name(dtype: torch.dtype | str | None) -> str:
    """``torch.bfloat16`` -> ``"bfloat16"``."""
    return str(dtype).removeprefix("torch.")


# --------------------------------------------------------------------------- environment


@dataclass
class Environment:
    """Versions, hardware and the course model: what the first cell of every lesson shows."""

    rows: list[tuple[str, str]]

    def __str__(self) -> str:
        return text_table(self.rows)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return html_table(self.rows, "Environment")

    def as_dict(self) -> dict[str, str]:
        return dict(self.rows)


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def show_environment(*, kind: str = "base") -> Environment:
    """Versions of the libraries, the device, native bf16, free RAM and the course model."""
    from helpers.hub import course_model_name, course_model_origin

    rec = recommend()
    caps = rec.capabilities
    rows = [("Python", sys.version.split()[0])]
    rows += [(pkg, package_version(pkg))
             for pkg in ("torch", "transformers", "accelerate", "huggingface_hub")]
    rows += [
        ("device", f"{rec.device}" + (f" ({caps.name})" if caps and caps.name else "")),
        ("native bf16", ("yes" if rec.bf16_native else "no")
         + (f" ({caps.bf16_evidence})" if caps and caps.bf16_evidence else "")),
        ("free RAM", format_bytes(psutil.virtual_memory().available)),
        ("recommended dtype", dtype_name(rec.dtype)),
        ("course model", f"{course_model_name(kind)} ({course_model_origin(kind)})"),
    ]
    return Environment(rows)


__all__ = [
    "DTYPE_NAMES", "Capabilities", "Environment", "Recommendation", "available_devices",
    "cpu_bf16_flags", "decide", "detect", "dtype_name", "format_bytes", "parse_dtype",
    "recommend", "show_environment",
]
