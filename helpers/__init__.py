"""From Pretrained course helpers.

Each helper wraps a real transformers / accelerate / huggingface_hub call with the checks a
careful engineer adds. Names are imported lazily so that ``import helpers`` stays fast in a
notebook's first cell and one module's heavy imports (torch, transformers) happen only when used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # errors and diagnosis
    "Diagnosis": "helpers.errors",
    "CourseError": "helpers.errors",
    "diagnose": "helpers.diagnosis",
    "expect_error": "helpers.diagnosis",
    # finding and loading models
    "course_model": "helpers.hub",
    "course_model_name": "helpers.hub",
    "checkpoint_folder": "helpers.hub",
    "resolve": "helpers.hub",
    "bundled_models": "helpers.models",
    "bundled_path": "helpers.models",
    "named_models": "helpers.models",
    "recommend": "helpers.hardware",
    "show_environment": "helpers.hardware",
    "load": "helpers.loading",
    "hide_weight_loading_bars": "helpers.progress_bars",
    # memory
    "estimate_memory": "helpers.memory",
    "plan_device_map": "helpers.memory",
    "memory_calculator": "helpers.memory_calculator",
    # generation
    "DECODING_PRESETS": "helpers.generation",
    "generate_text": "helpers.generation",
    "stream_text": "helpers.generation",
    "measure_speed": "helpers.generation",
    "playground": "helpers.playground",
    # comprehension widgets, exercises, progress
    "quiz": "helpers.widgets",
    "check": "helpers.exercises",
    "progress_summary": "helpers.progress",
    "reset_progress": "helpers.progress",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'helpers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
