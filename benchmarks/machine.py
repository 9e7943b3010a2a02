"""What a benchmark ran on: CPU, cores, memory, load, library versions.

Every figure in docs/performance.md is only meaningful next to this: the same ratio can differ
between a quiet laptop and a shared 2-core machine.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

LIBRARIES = ("torch", "transformers", "accelerate", "huggingface_hub", "safetensors", "tokenizers")


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or what the platform module knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def load_average() -> tuple[float, float, float]:
    """1-, 5- and 15-minute load averages (zeros where the OS has none)."""
    try:
        return os.getloadavg()
    except (OSError, AttributeError):
        return (0.0, 0.0, 0.0)


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


@dataclass
class Machine:
    """A snapshot taken at the start of a run; ``finish()`` adds the load average at the end."""

    cpu: str = field(default_factory=cpu_model)
    cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    torch_threads: int = 0
    ram_bytes: int = 0
    load_start: tuple[float, float, float] = field(default_factory=load_average)
    load_end: tuple[float, float, float] | None = None
    versions: dict[str, str] = field(default_factory=versions)
    platform: str = field(default_factory=lambda: f"{platform.system()} {platform.release()}")
    executable: str = sys.executable

    def __post_init__(self) -> None:
        import psutil
        import torch

        self.torch_threads = torch.get_num_threads()
        self.ram_bytes = int(psutil.virtual_memory().total)

    def finish(self) -> None:
        self.load_end = load_average()

    def lines(self) -> list[str]:
        load = lambda x: " / ".join(f"{v:.2f}" for v in x)  # noqa: E731
        end = load(self.load_end) if self.load_end else "(not finished)"
        libs = ", ".join(f"{k} {v}" for k, v in self.versions.items())
        return [
            f"CPU: {self.cpu}, {self.cores} cores ({self.torch_threads} torch threads), "
            f"{self.ram_bytes / 2**30:.1f} GiB RAM, {self.platform}",
            f"load average (1 / 5 / 15 min): {load(self.load_start)} at the start, {end} at the "
            "end",
            f"versions: {libs}",
        ]


__all__ = ["Machine", "cpu_model", "load_average", "versions"]
