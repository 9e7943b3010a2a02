"""environment.yml (conda, Binder, repo2docker) and pyproject.toml must describe one environment."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def _split(env: dict) -> tuple[list[str], list[str]]:
    conda, pip = [], []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip.extend(dep.get("pip", []))
        else:
            conda.append(dep)
    return conda, pip


def _name(spec: str) -> str:
    return re.split(r"[=<>!~ ]", spec, maxsplit=1)[0].strip().lower().replace("_", "-")


def check_agreement(pyproject: dict, env: dict) -> list[str]:
    """Every way the two files can drift apart, as readable problems (empty when they agree)."""
    problems = []
    conda, pip = _split(env)
    requires_python = SpecifierSet(pyproject["project"]["requires-python"])
    pythons = [d for d in conda if _name(d) == "python"]
    if len(pythons) != 1:
        problems.append("environment.yml must pin python exactly once")
    else:
        version = pythons[0].split("=", 1)[1].lstrip("=") if "=" in pythons[0] else ""
        if not version or f"{version}.0" not in requires_python:
            problems.append(f"environment.yml python {version or '?'} is outside {requires_python}")
    if "pip" not in {_name(d) for d in conda}:
        problems.append("environment.yml must list pip so that its pip section runs")
    project_deps = {Requirement(r).name.lower().replace("_", "-")
                    for r in pyproject["project"]["dependencies"]}
    for dep in conda:
        if _name(dep) not in {"python", "pip"} and _name(dep) in project_deps:
            problems.append(f"{_name(dep)} is pinned in pyproject.toml; do not repeat it in conda")
    installs = [p for p in pip if not p.startswith("--")]
    if installs != ["-e ."] and installs != ["."]:
        problems.append(f"the pip section must install only this package ('-e .'), not {installs}")
    return problems


def test_environment_yml_agrees_with_pyproject():
    assert check_agreement(_pyproject(), _environment()) == []


def test_every_dependency_is_pinned_exactly():
    project = _pyproject()["project"]
    for req in project["dependencies"] + project["optional-dependencies"]["test"]:
        spec = Requirement(req).specifier
        assert len(spec) == 1 and next(iter(spec)).operator == "==", f"{req} is not pinned with =="


@pytest.mark.parametrize(
    "mutate, problem",
    [
        (lambda env: env["dependencies"].__setitem__(0, "python=3.12"), "outside"),
        (lambda env: env["dependencies"].insert(1, "transformers=4.57"), "do not repeat"),
        (lambda env: env["dependencies"][-1]["pip"].append("accelerate==0.1"), "only this package"),
        (lambda env: env["dependencies"].remove("pip"), "must list pip"),
    ],
)
def test_agreement_check_catches_drift(mutate, problem):
    env = _environment()
    mutate(env)
    assert any(problem in p for p in check_agreement(_pyproject(), env))


def test_installed_versions_match_pins():
    """The environment the tests run in is the one the notebooks' outputs were stored from."""
    from importlib.metadata import version

    for req in _pyproject()["project"]["dependencies"]:
        r = Requirement(req)
        installed = version(r.name).split("+")[0]
        assert installed in r.specifier, f"{r.name} {installed} installed, pinned {r.specifier}"
