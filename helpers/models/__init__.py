"""The models the course ships inside the package, trained by ``make models``.

Each is a folder that ``from_pretrained`` accepts directly: no hub, no network.
"""

from __future__ import annotations

from dataclasses import dataclass
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


# Models the course knows by short name but does not ship: built once into the user cache
# (``make real-model``, helpers/real_model.py), then resolved like a bundled name.
REAL_MODELS: dict[str, str] = {"smollm2-135m-instruct": "SmolLM2-135M-Instruct"}


@dataclass(frozen=True)
class NamedModel:
    """A short name the course resolves to a folder: a bundled model or a converted real one."""

    name: str
    source: str
    """``"bundled"`` or ``"real model"``"""
    about: str
    folder: Path
    build: str
    """the command that creates the folder"""

    @property
    def available(self) -> bool:
        if self.source == "real model":
            from helpers import real_model

            return real_model.is_built(self.folder)
        return (self.folder / "config.json").is_file()

    @property
    def status(self) -> str:
        return "available" if self.available else f"run `{self.build}`"

    def __str__(self) -> str:
        return f"{self.name:22} {self.source:10} {self.status}: {self.about}"


def named_models() -> dict[str, NamedModel]:
    """Every short name the course resolves (bundled and real models), with whether it is here."""
    from helpers import real_model

    found = {name: NamedModel(name, "bundled", about, MODELS_DIR / name, "make models")
             for name, about in BUNDLED.items()}
    found[real_model.NAME] = NamedModel(real_model.NAME, "real model", real_model.ABOUT,
                                        real_model.folder(), real_model.BUILD_COMMAND)
    return found


def named_path(name: str) -> Path:
    """The folder of a bundled or real model, by short name (it may not exist yet)."""
    if name in REAL_MODELS:
        from helpers import real_model

        return real_model.folder()
    return bundled_path(name)


def bundled_path(name: str) -> Path:
    """The folder of a bundled model, by short name (``KeyError`` lists the valid names)."""
    if name not in BUNDLED:
        raise KeyError(f"{name!r} is not a bundled model; bundled: {', '.join(BUNDLED)}")
    return MODELS_DIR / name
