"""Binder and repo2docker: the repository builds the way repo2docker reads it, and opens on
lesson 00.

repo2docker (which Binder and Zero to JupyterHub images use) reads the configuration files at
the top of the repository (or in ``binder/`` / ``.binder/``, which would then hide the top
ones). This course needs only ``environment.yml``: its pip section installs the package with
the bundled models, so there is nothing to fetch or build afterwards and no ``postBuild``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # workshop/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from workshop import links  # noqa: E402

#: files repo2docker acts on (its buildpacks' configuration files); only environment.yml is used
REPO2DOCKER_FILES = ("environment.yml", "requirements.txt", "Pipfile", "setup.py", "postBuild",
                     "start", "apt.txt", "runtime.txt", "install.R", "DESCRIPTION",
                     "Project.toml", "REQUIRE", "Dockerfile", "default.nix", "flake.nix")


def test_repo2docker_sees_the_top_level_environment_only():
    assert not (ROOT / "binder").exists() and not (ROOT / ".binder").exists(), (
        "a binder/ folder makes repo2docker ignore environment.yml at the top")
    present = {name for name in REPO2DOCKER_FILES if (ROOT / name).exists()}
    # a Dockerfile would replace everything; postBuild/start are not needed (module docstring)
    assert present == {"environment.yml"}, present


def test_environment_yml_is_what_repo2docker_accepts():
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    assert isinstance(env, dict) and set(env) >= {"name", "channels", "dependencies"}
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    pythons = [d for d in conda if re.fullmatch(r"python\s*=+\s*3\.11(\.\*)?", d)]
    assert len(pythons) == 1, f"python must be pinned to 3.11 once: {conda}"
    assert "pip" in conda, "pip must be a conda dependency for the pip section to run"
    assert len(pip_sections) == 1 and all(isinstance(x, str) for x in pip_sections[0])
    installs = [x for x in pip_sections[0] if not x.startswith("--")]
    # the package (and, through it, every pinned dependency and the bundled models)
    assert installs in (["-e ."], ["."]), installs


def test_the_bundled_models_ship_with_the_package():
    """No postBuild needed: the models are package data, installed by the pip section."""
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    data = pyproject["tool"]["setuptools"]["package-data"]["helpers"]
    assert "models/*/*" in data
    models = [p for p in (ROOT / "helpers" / "models").glob("*/*") if p.suffix == ".safetensors"]
    assert len(models) >= 2 and sum(p.stat().st_size for p in models) < 50 * 2**20


def test_the_binder_link_opens_lesson_00():
    link = links.binder_link("https://github.com/OWNER/from-pretrained")
    parts = urlsplit(link)
    assert (parts.netloc, parts.path) == ("mybinder.org", "/v2/gh/OWNER/from-pretrained/main")
    (urlpath,) = parse_qs(parts.query, strict_parsing=True)["urlpath"]
    assert urlpath == "lab/tree/notebooks/00_start_here.ipynb"
    assert (ROOT / urlpath.removeprefix("lab/tree/")).is_file()
    badge = links.binder_badge("https://github.com/OWNER/from-pretrained")
    assert badge.startswith("[![Launch on Binder](https://mybinder.org/badge_logo.svg)](")


def test_readme_has_the_launch_badge():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert links.binder_badge() in readme, (
        "README.md lacks the Binder badge: add the line `python -m workshop.links` prints")
