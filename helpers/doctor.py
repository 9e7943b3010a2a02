"""``python -m helpers doctor``: is this machine ready for the course? One line per check.

Each check reports ``OK``, ``WARN`` (the course still works, with a caveat) or ``FAIL`` (something
a lesson needs is broken), with the fix for anything not OK. Lesson 00 shows
:func:`run_checks`; instructors run the command on every workshop machine.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from helpers.display import ShowsAsText

DISTRIBUTION = "from-pretrained"
STATUSES = ("OK", "WARN", "FAIL")

RAM_WARN_BYTES = 2 << 30  # the bundled models need little; hub models and Jupyter need more
RAM_FAIL_BYTES = 512 << 20
DISK_WARN_BYTES = 2 << 30  # one small hub model in bf16 plus its download
DISK_FAIL_BYTES = 200 << 20


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    check: str
    status: str
    detail: str
    fix: str = ""

    def __str__(self) -> str:
        line = f"[{self.status}]".ljust(7) + f"{self.check}: {self.detail}"
        if self.fix and self.status != "OK":
            line += f"\n       fix: {self.fix}"
        return line


class Checks(ShowsAsText, list):
    """The doctor's checks; prints as ``[OK]`` lines, shows as a table in a notebook."""

    @property
    def failed(self) -> bool:
        return any(c.status == "FAIL" for c in self)

    def __str__(self) -> str:
        return "\n".join(str(c) for c in self)

    def _repr_html_(self) -> str:
        colour = {"OK": "#2e7d32", "WARN": "#b26a00", "FAIL": "#c62828"}
        rows = "".join(
            f"<tr><td style='color:{colour[c.status]};font-weight:bold'>{c.status}</td>"
            f"<td style='text-align:left'>{html.escape(c.check)}</td>"
            f"<td style='text-align:left'>{html.escape(c.detail)}"
            + (f"<br><i>fix:</i> {html.escape(c.fix)}" if c.fix and c.status != "OK" else "")
            + "</td></tr>"
            for c in self
        )
        return f"<table class='fp-table'><caption>Course doctor</caption>{rows}</table>"

    def to_json(self) -> str:
        return json.dumps([asdict(c) for c in self], indent=2)


# --------------------------------------------------------------------------- requirements


def requirements() -> tuple[str, list[str]]:
    """(requires-python, dependency specs) of the course: installed metadata, else pyproject."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
        return dist.metadata["Requires-Python"] or "", list(dist.requires or [])
    except metadata.PackageNotFoundError:
        import tomllib

        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        project = tomllib.loads(pyproject.read_text())["project"]
        return project.get("requires-python", ""), list(project.get("dependencies", []))


def check_python() -> Check:
    from packaging.specifiers import SpecifierSet

    spec, _ = requirements()
    version = ".".join(map(str, sys.version_info[:3]))
    if spec and version not in SpecifierSet(spec):
        return Check("python", "FAIL", f"{version}, the course needs {spec}",
                     f"Use a Python matching {spec} (make lab builds the course's .venv).")
    return Check("python", "OK", f"{version} ({sys.executable})")


def check_packages() -> Check:
    """Installed versions against the course pins (stored notebook outputs depend on them)."""
    from packaging.requirements import Requirement

    _, specs = requirements()
    missing, mismatched, found = [], [], []
    for spec in specs:
        req = Requirement(spec)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # test extras and platform-specific dependencies
        try:
            installed = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            missing.append(str(req))
            continue
        if req.specifier and not req.specifier.contains(installed, prereleases=True):
            mismatched.append(f"{req.name} {installed} (pinned {req.specifier})")
        else:
            found.append(f"{req.name} {installed}")
    key = [f for f in found if f.split()[0] in {"torch", "transformers", "accelerate",
                                                 "huggingface_hub"}]
    if missing:
        return Check("packages", "FAIL", "missing: " + ", ".join(missing),
                     "pip install -e . from the course folder (or make lab).")
    if mismatched:
        return Check("packages", "WARN", "other versions than the course pins: "
                     + ", ".join(mismatched),
                     "pip install -e . from the course folder: lessons were checked with the "
                     "pinned versions, and outputs may differ with others.")
    return Check("packages", "OK", f"{len(found)} pinned packages match ({', '.join(key)})")


def check_devices() -> Check:
    from helpers.hardware import available_devices, detect

    devices = available_devices()
    parts = []
    for device in devices:
        caps = detect(device)
        extra = (f", cc {caps.compute_capability[0]}.{caps.compute_capability[1]}"
                 if caps.compute_capability else "")
        parts.append(f"{device} ({caps.name}{extra})")
    note = "" if len(devices) > 1 else "; no GPU: the course is designed to run on CPU"
    return Check("devices", "OK", ", ".join(parts) + note)


def check_bf16() -> Check:
    from helpers.hardware import dtype_name, recommend

    rec = recommend()
    caps = rec.capabilities
    evidence = f" ({caps.bf16_evidence})" if caps and caps.bf16_evidence else ""
    if rec.bf16_native:
        detail = f"native on {rec.device}{evidence}; recommended dtype {dtype_name(rec.dtype)}"
    else:
        detail = (f"not native on {rec.device}{evidence}: bf16 would be emulated (slow, not less "
                  f"accurate); recommended dtype {dtype_name(rec.dtype)}")
    return Check("native bf16", "OK", detail)


def check_ram() -> Check:
    import psutil

    from helpers.display import format_bytes

    vm = psutil.virtual_memory()
    detail = f"{format_bytes(vm.available)} free of {format_bytes(vm.total)}"
    fix = "Close other programs (or other notebooks' kernels); the bundled models need little, "
    fix += "hub models need about their estimate (helpers.estimate_memory) plus ~1 GiB."
    if vm.available < RAM_FAIL_BYTES:
        return Check("free RAM", "FAIL", detail, fix)
    if vm.available < RAM_WARN_BYTES:
        return Check("free RAM", "WARN", detail, fix)
    return Check("free RAM", "OK", detail)


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk() -> Check:
    from huggingface_hub import constants

    from helpers.display import format_bytes

    where = _existing_parent(Path(constants.HF_HUB_CACHE))
    free = shutil.disk_usage(where).free
    detail = f"{format_bytes(free)} free at {where}"
    fix = ("Free some space, or move the hub cache to a bigger disk with HF_HOME (or "
           "HF_HUB_CACHE); the bundled models need no download.")
    if free < DISK_FAIL_BYTES:
        return Check("free disk", "FAIL", detail, fix)
    if free < DISK_WARN_BYTES:
        return Check("free disk", "WARN", detail, fix)
    return Check("free disk", "OK", detail)


def check_hub() -> Check:
    from helpers.hub import hub_endpoint, offline_reason

    host, port = hub_endpoint()
    problem = offline_reason()
    if problem is None:
        return Check("hub", "OK", f"{host}:{port} reachable; hub models can be downloaded")
    why, _ = problem
    if "HF_HUB_OFFLINE" in why:
        return Check("hub", "OK", "offline mode (HF_HUB_OFFLINE=1): bundled and cached models "
                     "only, no network attempts")
    return Check(
        "hub", "WARN", f"unreachable: {why}",
        "Offline works: every lesson runs on the bundled models. For hub models, run "
        "`python -m helpers prefetch <id>` on a connected machine and copy the cache here; set "
        "HF_HUB_OFFLINE=1 to skip the network entirely.",
    )


def check_cache() -> Check:
    from huggingface_hub import constants

    cache = Path(constants.HF_HUB_CACHE)
    parent = _existing_parent(cache)
    models = sorted(p.name[len("models--"):].replace("--", "/")
                    for p in cache.glob("models--*")) if cache.is_dir() else []
    listed = f"; cached models: {', '.join(models[:6])}" + (" ..." if len(models) > 6 else "") \
        if models else "; no hub models cached"
    if not os.access(parent, os.W_OK):
        return Check("hub cache", "WARN", f"{cache} is not writable{listed}",
                     "Set HF_HOME (or HF_HUB_CACHE) to a writable folder to download models.")
    return Check("hub cache", "OK", f"{cache}{listed}")


def check_course_model_setting() -> Check:
    """COURSE_MODEL / COURSE_CHAT_MODEL, when set, must resolve here (e.g. cached if offline)."""
    from helpers.errors import CourseError
    from helpers.hub import COURSE_MODEL_ENV, course_model, resolve

    chosen = []
    for kind, env in COURSE_MODEL_ENV.items():
        if not os.environ.get(env, "").strip():
            continue
        setting = os.environ[env].strip()  # as the learner wrote it, not the resolved folder
        try:
            resolved = resolve(course_model(kind))
        except CourseError as exc:
            return Check("course model setting", "FAIL",
                         f"{env}={setting}: {exc.diagnosis.title}: {exc.diagnosis.cause}",
                         exc.diagnosis.fix)
        chosen.append(f"{env}={setting} ({resolved.source})")
    if not chosen:
        return Check("course model setting", "OK",
                     "bundled models (COURSE_MODEL and COURSE_CHAT_MODEL not set)")
    return Check("course model setting", "OK", ", ".join(chosen))


KINDS = ("base", "chat")


def check_course_model(kind: str) -> Check:
    """Load the model the lessons of this kind use (``COURSE_MODEL`` / ``COURSE_CHAT_MODEL``, or
    the bundled one) the way they do: its config, its tokenizer, the weights with
    ``helpers.load()``'s checks, and a 1-token forward pass; a chat model must also have a chat
    template that renders. Anything wrong is a FAIL with its diagnosis."""
    from helpers.errors import CourseError
    from helpers.hub import course_model_name

    label = f"{kind} model"
    name = course_model_name(kind)
    try:
        return _load_and_run(kind, label, name)
    except CourseError as exc:
        d = exc.diagnosis
        return Check(label, "FAIL", f"{name}: {d.title}: {_one_line(d.cause)}", _one_line(d.fix))


def _one_line(text: str) -> str:
    """A diagnosis field on one line (its list items joined with '; ')."""
    lines = [ln.removeprefix("- ").strip() for ln in text.splitlines() if ln.strip()]
    return "; ".join(lines)


def _diagnosed(exc: Exception, name: str, location: str):
    from helpers.diagnosis import diagnose
    from helpers.errors import CourseError

    return CourseError(diagnose(exc, model=name, path=location))


def _load_and_run(kind: str, label: str, name: str) -> Check:
    import torch

    from helpers.errors import CourseError, Diagnosis
    from helpers.hardware import dtype_name
    from helpers.hub import course_model, resolve
    from helpers.loading import load
    from helpers.memory import checkpoint_dtype

    start = time.perf_counter()
    location = course_model(kind)
    resolved = resolve(location)
    from transformers import AutoConfig

    try:  # the config first: invalid JSON, an unknown or missing model_type answer here
        config = AutoConfig.from_pretrained(
            resolved.location, revision=resolved.revision,
            local_files_only=resolved.local_files_only, trust_remote_code=False)
    except Exception as exc:
        raise _diagnosed(exc, name, resolved.location) from exc
    stored, _ = checkpoint_dtype(config, resolved.folder)
    model, tokenizer, report = load(location)  # tokenizer files, pickle, weights: diagnosed
    ids = tokenizer("Once upon a time", return_tensors="pt")["input_ids"][:, :1]
    if ids.numel() == 0:
        raise CourseError(Diagnosis(
            "The tokenizer turns text into no tokens",
            f"{report.tokenizer_class} encodes 'Once upon a time' as an empty list: its "
            "vocabulary is missing or empty.",
            "Save the model's real tokenizer next to the weights: "
            "tokenizer.save_pretrained(folder)."))
    with torch.no_grad():
        logits = model(input_ids=ids.to(model.device)).logits
    if not torch.isfinite(logits).all():
        raise CourseError(Diagnosis(
            "The forward pass gives inf/NaN",
            f"One token through {report.model_class} in {', '.join(report.dtypes)} gives "
            "non-finite scores: typically float16 overflowing in a model trained in bfloat16.",
            "Load it with dtype=torch.float32 (or bfloat16 where the machine supports it)."))
    chat = ""
    if kind == "chat":
        try:
            tokenizer.apply_chat_template([{"role": "user", "content": "Hello"}],
                                          add_generation_prompt=True, tokenize=False)
        except Exception as exc:
            raise _diagnosed(exc, name, resolved.location) from exc
        chat = ", chat template renders"
    loaded = ", ".join(report.dtypes)
    seconds = time.perf_counter() - start
    return Check(label, "OK", f"{name}: {report.model_class}, stored {dtype_name(stored)}, loaded "
                 f"as {loaded} (the dtype recommended for this machine), "
                 f"{report.footprint_bytes / 2**20:.1f} MiB; config, tokenizer and a 1-token "
                 f"forward pass work{chat} ({seconds:.1f} s)")


def run_checks() -> Checks:
    """Every check, in order; a check that crashes is reported as FAIL, never raised."""
    steps: list[tuple[str, Callable[[], Check]]] = [
        ("python", check_python),
        ("packages", check_packages),
        ("devices", check_devices),
        ("native bf16", check_bf16),
        ("free RAM", check_ram),
        ("free disk", check_disk),
        ("hub", check_hub),
        ("hub cache", check_cache),
        ("course model setting", check_course_model_setting),
    ]
    steps += [(f"{kind} model", lambda kind=kind: check_course_model(kind)) for kind in KINDS]
    results = Checks()
    for name, step in steps:
        try:
            results.append(step())
        except Exception as exc:  # the doctor must report, not crash
            results.append(Check(name, "FAIL", f"the check itself failed: "
                                 f"{type(exc).__name__}: {exc}",
                                 "Report this with the output of python -m helpers doctor."))
    return results


def cli(argv: list[str] | None = None) -> int:
    """``python -m helpers doctor [--json]``: exit code 1 when any check FAILs."""
    parser = argparse.ArgumentParser(prog="python -m helpers doctor",
                                     description="Check this machine for the course.")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list of {check, status, detail, fix}")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    checks = run_checks()
    if args.json:
        print(checks.to_json())
    else:
        print(checks)
        counts = {s: sum(c.status == s for c in checks) for s in STATUSES}
        print(f"\n{counts['OK']} OK, {counts['WARN']} WARN, {counts['FAIL']} FAIL")
    return 1 if checks.failed else 0
