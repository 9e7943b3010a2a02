"""The models the course ships inside the package, trained by ``make models``.

Each is a folder that ``from_pretrained`` accepts directly: no hub, no network.
"""

from __future__ import annotations

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent

# short name -> what it is (the folder is MODELS_DIR / name)
BUNDLED: dict[str, str] = {
    "stories-base": "GPT-2 architecture base model that continues children's stories (float32)",
    "stories-chat": "Llama architecture chat model that tells stories on request (bfloat16)",
}

DEFAULT_MODEL = {"base": "stories-base", "chat": "stories-chat"}


def bundled_models() -> dict[str, Path]:
    """Every bundled model's short name and folder."""
    return {name: MODELS_DIR / name for name in BUNDLED}


def bundled_path(name: str) -> Path:
    """The folder of a bundled model, by short name (``KeyError`` lists the valid names)."""
    if name not in BUNDLED:
        raise KeyError(f"{name!r} is not a bundled model; bundled: {', '.join(BUNDLED)}")
    return MODELS_DIR / name
