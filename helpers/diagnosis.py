"""Turn the real exceptions of transformers, torch, safetensors and huggingface_hub into a cause
and a fix a learner can act on, and let a notebook cell raise an error on purpose.

The library messages are often right but unhelpful: a missing local folder is reported as an
invalid *repo id*, a corrupt weights file names no file. :func:`diagnose` walks the exception and
its ``__cause__`` / ``__context__`` chain, matches it against a catalogue of rules (data, not an
if-chain: each :class:`Rule` pairs a matcher with a builder), and returns a
:class:`~helpers.errors.Diagnosis`. Every rule was written against the exception the pinned
versions really raise (tests/test_diagnose.py raises each one for real).

:func:`expect_error` is the notebook side: a context manager that catches the expected error,
shows ``Raised <Type>: <message>`` plus the diagnosis in a stable, machine-independent form (so
nbval can compare it), and lets Run All carry on.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.display import format_bytes
from helpers.errors import CourseError, Diagnosis

__all__ = ["RULES", "ExpectedError", "Rule", "diagnose", "expect_error"]

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_DIR = Path(__file__).resolve().parent / "models"

VALID_DEVICE_MAPS = (
    '"auto", "balanced", "balanced_low_0", "sequential", a device ("cpu", "cuda", "cuda:N", '
    '"mps", "meta"), an int GPU index >= 0, a torch.device, or a dict '
    '{module name: device, "cpu" or "disk"}'
)
VALID_DTYPES = (
    '"auto" (the checkpoint\'s own dtype, the default), torch.float32 / "float32", '
    'torch.bfloat16 / "bfloat16", torch.float16 / "float16"'
)
DTYPE_ALIASES = {
    "fp32": "float32",
    "float": "float32",
    "f32": "float32",
    "full": "float32",
    "fp16": "float16",
    "half": "float16",
    "f16": "float16",
    "bf16": "bfloat16",
    "brain": "bfloat16",
    "bfloat": "bfloat16",
}

WAYS_OUT_OF_MEMORY = (
    "(1) a smaller dtype: dtype=torch.bfloat16 halves float32 weights; "
    '(2) offload what does not fit: device_map="auto" with max_memory={"cpu": "4GiB"} '
    "(and {0: ..., 'cpu': ...} on a GPU) puts the rest on CPU or disk, slower but it runs; "
    "(3) on a CUDA GPU, quantize: quantization_config=BitsAndBytesConfig(load_in_4bit=True) "
    "(transformers 5 removed the load_in_4bit=/load_in_8bit= shortcuts); "
    "(4) a smaller model. Estimate first with helpers.estimate_memory(name)."
)


# --------------------------------------------------------------------------------------------
# Facts about one exception chain, shared by all rules
# --------------------------------------------------------------------------------------------


def exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` followed by its causes / contexts, outermost first, each exception once."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        chain.append(current)
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return chain


def _type_names(exc: BaseException) -> set[str]:
    """Class names along the MRO: rules match ``SafetensorError`` without importing safetensors."""
    return {cls.__name__ for cls in type(exc).__mro__}


@dataclass
class Facts:
    """What rules look at: the exception chain and the caller's context."""

    exc: BaseException
    chain: list[BaseException]
    context: dict[str, Any]

    def ctx(self, key: str) -> Any:
        return self.context.get(key)


@dataclass(frozen=True)
class Rule:
    """One catalogue entry: which exception (class names and/or a message regex, anywhere in
    the chain, plus an optional extra check) and how to explain it."""

    name: str
    build: Callable[[Facts, re.Match[str] | None, BaseException], Diagnosis]
    pattern: str | None = None
    types: tuple[str, ...] = ()
    when: Callable[[Facts, re.Match[str] | None, BaseException], bool] | None = None
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.pattern is not None:
            object.__setattr__(self, "_regex", re.compile(self.pattern, re.DOTALL))

    def match(self, facts: Facts) -> Iterator[tuple[BaseException, re.Match[str] | None]]:
        for exc in facts.chain:
            if self.types and not (_type_names(exc) & set(self.types)):
                continue
            found = None
            if self._regex is not None:
                found = self._regex.search(str(exc))
                if found is None:
                    continue
            if self.when is None or self.when(facts, found, exc):
                yield exc, found


# --------------------------------------------------------------------------------------------
# Small helpers for the builders
# --------------------------------------------------------------------------------------------


def first_line(exc: BaseException, limit: int = 160) -> str:
    """The first non-empty line of the message, cut to ``limit`` characters."""
    text = str(exc).strip()
    if not text and exc.args:
        text = repr(exc.args[0])
    line = text.splitlines()[0].strip() if text else "(no message)"
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _transformers_version() -> str:
    try:
        import transformers

        return transformers.__version__
    except Exception:  # pragma: no cover - transformers is a course dependency
        return "?"


def _looks_like_path(name: str) -> bool:
    """True for strings no Hub repo id could be: ``/x``, ``./x``, ``~/x``, ``C:\\x``, ``a/b/c``."""
    return (
        name.startswith(("/", "./", "../", "~", ".\\", "..\\"))
        or "\\" in name
        or bool(re.match(r"^[A-Za-z]:", name))
        or name.count("/") >= 2
        and "//" not in name
        and " " not in name
    )


def _near_misses(name: str) -> str:
    """' Did you mean ...?' from the nearest existing folder's entries, or ''."""
    try:
        target = Path(name).expanduser()
        parent = target.parent
        while not parent.is_dir() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir() or parent == target:
            return ""
        entries = sorted(p.name for p in parent.iterdir() if p.is_dir())
        close = difflib.get_close_matches(target.name, entries, n=3, cutoff=0.6)
        if parent != target.parent:
            if parent == parent.parent:
                return ""
            return f" The deepest part of that path that exists is {parent}."
        if close:
            return " Folders with a similar name there: " + ", ".join(close) + "."
    except Exception:
        pass
    return ""


def _id_from_message(text: str) -> str | None:
    found = re.search(r": '(.*)'\.(?: Use|$)", text.splitlines()[0] if text else "")
    return found.group(1) if found else None


def _weights_file(facts: Facts) -> Path | None:
    """The .safetensors file involved: the context ``path`` when it is a file, else the one a
    local variable of the innermost failing frame names (exact, even for sharded checkpoints),
    else the first one in the ``path`` / ``model`` folder."""
    folders = []
    for key in ("path", "model"):
        value = facts.ctx(key)
        if value:
            candidate = Path(str(value)).expanduser()
            if candidate.is_file():
                return candidate
            folders.append(candidate)
    for exc in facts.chain:
        frames = []
        tb = exc.__traceback__
        while tb is not None:
            frames.append(tb.tb_frame)
            tb = tb.tb_next
        for frame in reversed(frames):
            values = list(frame.f_locals.values())
            # a single name (the file being opened) beats a list of all the shards
            singles = [v for v in values if not isinstance(v, (list, tuple))]
            listed = [item for v in values if isinstance(v, (list, tuple)) for item in v[:64]]
            for item in singles + listed:
                if isinstance(item, (str, os.PathLike)) and str(item).endswith(".safetensors"):
                    return Path(str(item))
    for folder in folders:
        files = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
        if files:
            return files[0]
    return None


def _hub_repo_of(path: Path) -> str | None:
    """``.../models--org--name/snapshots/<sha>/file`` -> ``org/name``."""
    for part in path.parts:
        if part.startswith("models--"):
            return part[len("models--") :].replace("--", "/")
    return None


def _is_bundled(path: Path) -> bool:
    try:
        path.resolve().relative_to(BUNDLED_DIR)
        return True
    except (ValueError, OSError):
        return False


def _display_path(path: Path) -> str:
    """Relative to the course repo when inside it (what ``git checkout --`` wants)."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except (ValueError, OSError):
        return str(path)


def _ctx_memory(facts: Facts) -> str:
    need, free = facts.ctx("need_bytes"), facts.ctx("free_bytes")
    if need is not None and free is not None:
        return f" Loading this model needs ~{format_bytes(need)}, and {format_bytes(free)} is free."
    if need is not None:
        return f" Loading this model needs ~{format_bytes(need)}."
    if free is not None:
        return f" {format_bytes(free)} is free."
    return ""


def _model_label(facts: Facts, fallback: str = "the model") -> str:
    model = facts.ctx("model")
    return f"'{model}'" if model else fallback


# --------------------------------------------------------------------------------------------
# Builders, one per catalogue entry
# --------------------------------------------------------------------------------------------


def _missing_folder_name(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> str | None:
    model = facts.ctx("model")
    name = str(model) if model else _id_from_message(str(exc))
    return name


def _is_missing_folder(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> bool:
    name = _missing_folder_name(facts, m, exc)
    return bool(name) and _looks_like_path(name) and not Path(name).expanduser().exists()


def _missing_folder(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    name = _missing_folder_name(facts, m, exc) or "?"
    resolved = str(Path(name).expanduser().resolve())
    where = f" (it would be {resolved})" if resolved != name else ""
    return Diagnosis(
        "Model folder not found",
        f"There is no folder '{name}'{where}. A string that is not an existing "
        "folder is treated by transformers as a Hub repo id, and a path is not a valid repo id: "
        "hence the confusing 'Repo id must ...' message." + _near_misses(name),
        "Check the path: relative paths start from the notebook's working directory, so print "
        f"Path('{name}').resolve() to see where it points, or use an absolute path. For the "
        "course's own models use helpers.bundled_path('stories-base') (or 'stories-chat'); if "
        "those folders are missing, run `make models`.",
    )


def _bad_repo_id(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    name = _missing_folder_name(facts, m, exc) or "?"
    if name.startswith(("http://", "https://")):
        stem = re.sub(r"^https?://(www\.)?huggingface\.co/", "", name).strip("/")
        hint = f" Pass the id, not the web address: '{stem}'."
    else:
        hint = ""
    return Diagnosis(
        "Not a valid Hub repo id",
        f"'{name}' is not an existing folder, so transformers read it as a Hub repo id, and it "
        "breaks the rules for one: 'name' or 'namespace/name', only letters, digits, '-', '_' "
        "and '.', not starting or ending with '-' or '.', at most 96 characters." + hint,
        "Copy the id from the model's page on huggingface.co (e.g. 'openai-community/gpt2' or "
        "'HuggingFaceTB/SmolLM2-135M'): no spaces, no double slashes, no URL. If you meant a "
        "local folder, check that it exists.",
    )


def _hub_unreachable(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    offline = any("outgoing traffic has been disabled" in str(e) for e in facts.chain)
    model = facts.ctx("model")
    label = _model_label(facts, "The model")
    why = (
        "HF_HUB_OFFLINE=1 is set, so the hub client did not even try the network"
        if offline
        else "the Hub (https://huggingface.co) could not be reached: no network, a proxy or a "
        "firewall"
    )
    also = ""
    first_part = Path(str(model)).parts[0] if model and Path(str(model)).parts else ""
    if model and (_looks_like_path(str(model)) or "/" in str(model) and Path(first_part).is_dir()):
        also = (
            f" If '{model}' was meant as a local folder: no such folder exists here, so it was "
            "looked up as a Hub id."
        )
    try:
        from helpers.models import BUNDLED
    except Exception:  # pragma: no cover
        BUNDLED = {}
    if model and str(model) in BUNDLED:
        also += (
            f" '{model}' is the short name of a model bundled with the course, which only the "
            f"course's helpers know: pass helpers.bundled_path('{model}') to from_pretrained."
        )
    prefetch = f"python -m helpers prefetch {model}" if model else "python -m helpers prefetch NAME"
    return Diagnosis(
        "Model not in the local cache and the Hub is unreachable",
        f"{label} is not in this machine's Hugging Face cache, and {why}.{also}",
        f"On a machine with internet, download it once ({prefetch}, or "
        "huggingface_hub.snapshot_download(repo_id)) into the cache (HF_HUB_CACHE, by default "
        "~/.cache/huggingface/hub) or copy that cache over; then set HF_HUB_OFFLINE=1 so loading "
        "reads the cache at once instead of spending ~23 s on retries. Or use the course's "
        "bundled model: unset COURSE_MODEL, or load helpers.bundled_path('stories-base').",
    )


def _unknown_model_type(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    model_type = m.group("type") if m else "?"
    return Diagnosis(
        "Architecture not known to this transformers version",
        f"The checkpoint's config.json says model_type '{model_type}', and transformers "
        f"{_transformers_version()} has no architecture registered under that name: the model is "
        "newer than this transformers, or it ships its own modelling code.",
        "Read the model card: it names the transformers version it needs (pip install -U "
        "transformers; the course pins its versions, so prefer a model this version knows). If "
        "the card asks for trust_remote_code=True, don't pass it blindly: that runs the repo's "
        "Python files with your permissions, so read them first and pin revision=<commit>.",
    )


def _no_model_type(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    where = m.group("path") if m else str(facts.ctx("model") or "?")
    folder = Path(where).expanduser()
    if folder.is_dir() and not (folder / "config.json").is_file():
        entries = sorted(p.name for p in folder.iterdir())[:8]
        listing = ", ".join(entries) if entries else "nothing"
        cause = (
            f"The folder {where} has no config.json (it holds: {listing}), so transformers "
            "cannot tell which architecture to build."
        )
    else:
        cause = (
            f'The config.json in {where} has no "model_type" key, and transformers needs it to '
            "pick the architecture (and the folder name matches none it knows)."
        )
    return Diagnosis(
        "No model_type: transformers can't tell which architecture this is",
        cause,
        "Point at the folder save_pretrained() wrote (config.json sits next to the weights). If "
        'the config is yours, add the architecture, e.g. "model_type": "gpt2", or load with the '
        "concrete class (GPT2LMHeadModel.from_pretrained(folder)).",
    )


_PREFERRED_AUTO = (
    "AutoModelForSeq2SeqLM",
    "AutoModelForImageTextToText",
    "AutoModelForMaskedLM",
    "AutoModelForSpeechSeq2Seq",
    "AutoModelForImageClassification",
    "AutoModelForAudioClassification",
    "AutoModelForSequenceClassification",
)


def _auto_classes_for(config_class: str) -> tuple[str | None, list[str]]:
    """(model_type, Auto classes that can build it) from transformers' own auto mappings."""
    from transformers.models.auto import modeling_auto
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    model_type = next((t for t, c in CONFIG_MAPPING_NAMES.items() if c == config_class), None)
    if model_type is None:
        return None, []
    fits = []
    for name in sorted(dir(modeling_auto)):
        mapping = getattr(getattr(modeling_auto, name), "_model_mapping", None)
        names = getattr(mapping, "_model_mapping", None)
        if name.startswith("AutoModel") and isinstance(names, dict) and model_type in names:
            fits.append(name)
    return model_type, fits


def _wrong_auto_class(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    config_class = m.group("cls").rsplit(".", 1)[-1] if m else "?"
    auto = m.group("auto") if m else "this Auto class"
    try:
        model_type, fits = _auto_classes_for(config_class)
    except Exception:
        model_type, fits = None, []
    best = next((c for c in _PREFERRED_AUTO if c in fits), None)
    best = best or next((c for c in fits if c != "AutoModel"), None) or (fits[0] if fits else None)
    kind = f"a '{model_type}' model" if model_type else "a model"
    if best == "AutoModelForSeq2SeqLM":
        what = "It does generate text, but as an encoder-decoder, not a decoder-only model."
    else:
        what = "It is not a decoder-only text generator."
    cause = (
        f"{config_class} describes {kind}, and {auto} has no class for that architecture. {what}"
    )
    if best:
        others = [c for c in fits if c != best][:5]
        more = f" (also: {', '.join(others)})" if others else ""
        fix = f"Load it with {best}{more}, or pick a text-generation model for {auto}"
    else:
        fix = f"Pick a model that {auto} supports"
    fix += " (GPT-2, Llama, SmolLM, Qwen ...: the model card's pipeline tag is text-generation)."
    return Diagnosis(f"{auto} can't build {config_class}", cause, fix)


def _unknown_identifier(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    ident = m.group("id") if m else "?"
    try:
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

        close = difflib.get_close_matches(ident, list(CONFIG_MAPPING_NAMES), n=3)
    except Exception:
        close = []
    near = f" Close names it knows: {', '.join(close)}." if close else ""
    return Diagnosis(
        "Unknown model type",
        f"'{ident}' is not a model_type transformers {_transformers_version()} knows "
        "(AutoConfig.for_model takes a model_type such as 'gpt2' or 'llama', not a repo id)."
        + near,
        "Pass a known model_type, e.g. AutoConfig.for_model('gpt2', n_layer=2); to read the "
        "config of a real checkpoint use AutoConfig.from_pretrained(folder_or_repo_id).",
    )


def _no_weights(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    wanted = m.group("files") if m else "model.safetensors"
    where = (m.group("dir") if m else None) or str(facts.ctx("model") or facts.ctx("path") or "?")
    folder = Path(where).expanduser()
    hint = ""
    if folder.is_dir():
        names = sorted(p.name for p in folder.iterdir())
        listing = ", ".join(names[:8]) + (" …" if len(names) > 8 else "") if names else "nothing"
        hint = f" It holds: {listing}."
        if any(n.endswith(".gguf") for n in names):
            hint += " A .gguf file needs gguf_file='<name>.gguf' in from_pretrained."
        elif any(n.endswith((".pt", ".pth", ".ckpt")) for n in names):
            hint += " .pt/.pth/.ckpt files are not a transformers checkpoint."
    fix = (
        "Put the weights next to config.json: save_pretrained() writes both; a download may "
        "have stopped early, so fetch it again (from_pretrained(..., force_download=True))."
    )
    if _is_bundled(folder):
        fix += " For the course's bundled models: git checkout -- helpers/models, or make models."
    return Diagnosis(
        "No weights file in the model folder",
        f"The folder {where} has a config but none of the weights files transformers looks for "
        f"({wanted}).{hint}",
        fix,
    )


def _corrupt_safetensors(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    reason = first_line(exc, 120)
    file = _weights_file(facts)
    name = _display_path(file) if file else "one of the model's .safetensors files"
    detail = ""
    if file is not None and file.is_file():
        size = file.stat().st_size
        with open(file, "rb") as handle:
            head = handle.read(64)
        if head.startswith(b"version https://git-lfs"):
            detail = " It is a Git LFS pointer (a small text file), not the weights."
        else:
            detail = f" It is {format_bytes(size)} on disk."
    cause = (
        f"{name} is not a valid safetensors file ({reason}).{detail} The download or copy was "
        "interrupted, the file was truncated or overwritten, or it never was a weights file."
    )
    repo = _hub_repo_of(file) if file else None
    if detail.startswith(" It is a Git LFS pointer"):
        fix = "Fetch the real file: git lfs pull (git lfs install first if needed)."
    elif file is not None and _is_bundled(file):
        fix = (
            f"Restore the bundled copy: git checkout -- {name}; if that doesn't help, rebuild "
            "the course models with make models."
        )
    elif repo:
        fix = (
            f"Get a clean copy: from_pretrained('{repo}', force_download=True), or delete the "
            f"cache entry (hf cache rm model/{repo}) and load again; hf cache verify {repo} "
            "checks the files against the Hub."
        )
    else:
        fix = (
            "Get a clean copy of the file: re-download it (from_pretrained(repo_id, "
            "force_download=True), or delete its folder in the Hugging Face cache), copy it "
            "again from where it came from, or save_pretrained() the model again. For the "
            "course's bundled models: git checkout -- helpers/models, or make models."
        )
    return Diagnosis("Corrupt or incomplete weights file", cause, fix)


def _cpu_oom(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    asked = f" ({format_bytes(int(m.group('n')))} in one block)" if m and m.group("n") else ""
    return Diagnosis(
        "Out of memory (RAM)",
        f"The operating system refused an allocation{asked}: the model, or one tensor, does "
        f"not fit in this machine's free RAM.{_ctx_memory(facts)}",
        f"Ways out: {WAYS_OUT_OF_MEMORY} Close other notebooks' kernels to free RAM.",
    )


def _cuda_oom(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    text = str(exc)
    asked = re.search(r"Tried to allocate ([\d.]+ \w+)", text)
    gpu = re.search(
        r"GPU (\d+) has a total capacity of ([\d.]+ \w+) of which ([\d.]+ \w+) is free", text
    )
    parts = []
    if asked:
        parts.append(f"it asked for {asked.group(1)} more")
    if gpu:
        parts.append(f"GPU {gpu.group(1)} has {gpu.group(2)} in all and {gpu.group(3)} free")
    detail = (" (" + "; ".join(parts) + ")") if parts else ""
    return Diagnosis(
        "Out of GPU memory",
        f"The GPU ran out of memory{detail}: weights, the KV cache (grows with batch size x "
        f"sequence length) and activations must all fit.{_ctx_memory(facts)}",
        f"Ways out: {WAYS_OUT_OF_MEMORY} While generating: a smaller batch or max_new_tokens. "
        "If much memory is reserved but unallocated, set "
        "PYTORCH_ALLOC_CONF=expandable_segments:True (older torch: PYTORCH_CUDA_ALLOC_CONF) "
        "before torch starts. Free what an earlier cell "
        "holds: del model; gc.collect(); torch.cuda.empty_cache().",
    )


def _bad_device_map(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    value = m.group("value") if m and m.groupdict().get("value") else None
    special = ""
    if value == "disk":
        special = (
            ' "disk" is only valid as a value inside a dict device_map; to offload to disk use '
            'device_map="auto" with max_memory={"cpu": "2GiB"} (safetensors weights are read in '
            "place; a .bin checkpoint also needs offload_folder=...)."
        )
    elif value in {"gpu", "GPU", "cuda0", "nvidia"}:
        special = ' For an NVIDIA GPU the device is "cuda" (or "cuda:0").'
    shown = f"'{value}'" if value else "that value"
    return Diagnosis(
        "Invalid device_map",
        f"device_map={shown} is neither a placement strategy nor a torch device.{special}",
        f"Use one of: {VALID_DEVICE_MAPS}. On a CPU-only machine leave device_map out (the "
        'model loads on CPU) or use device_map="auto".',
    )


def _bad_dtype(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    value = m.group("dtype") if m and m.groupdict().get("dtype") else None
    guess = None
    if value:
        bare = value.removeprefix("torch.")
        guess = DTYPE_ALIASES.get(bare.lower()) or next(
            iter(difflib.get_close_matches(bare, ["float32", "bfloat16", "float16"], n=1)), None
        )
    if m and "not a floating-point dtype" in m.group(0):
        cause = (
            f"dtype={value} is an integer type: weights must be floating point. 8-bit and 4-bit "
            "weights come from quantization, not from dtype."
        )
    elif value:
        cause = f"'{value}' is not a torch dtype name, so transformers could not turn it into one."
    else:
        cause = "The dtype argument is not a torch.dtype, 'auto' or the name of a torch dtype."
    mean = f" Did you mean '{guess}'?" if guess and guess != value else ""
    return Diagnosis(
        "Invalid dtype",
        cause + mean,
        f"Pass one of: {VALID_DTYPES}. On CPU use bfloat16 or float32 (float16 is slow there); "
        "for 8/4-bit weights use quantization_config=BitsAndBytesConfig(...) on a CUDA GPU.",
    )


def _no_accelerate(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    return Diagnosis(
        "device_map needs the accelerate package",
        "Placing a model with device_map (or a torch.device context / default device) is done by "
        "accelerate, and it is not installed in this environment.",
        "pip install accelerate==1.15.0 (the course's pin) in this environment, then restart the "
        "kernel. Or drop device_map: the model then loads on CPU.",
    )


def _move_offloaded(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    return Diagnosis(
        "Can't move an offloaded model",
        "This model was dispatched by device_map and some of its weights live on CPU or disk "
        "(see model.hf_device_map); accelerate's hooks move them in and out during forward, so "
        ".to() / .cuda() / .half() on the whole model is refused.",
        "Never .to() a dispatched model: reload it with the dtype and placement you want, e.g. "
        'from_pretrained(name, dtype=torch.bfloat16, device_map="auto", max_memory=...). Put the '
        "inputs on model.device instead of moving the model.",
    )


def _no_pad_token(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    return Diagnosis(
        "The tokenizer has no padding token",
        "Padding a batch to one length needs a pad token, and GPT-2-style tokenizers ship "
        "without one.",
        "Reuse end-of-text for padding: tokenizer.pad_token = tokenizer.eos_token (the attention "
        "mask keeps the model from reading it). For batched generation with a decoder-only "
        'model also pad on the left: tokenizer.padding_side = "left" (or '
        'tokenizer(texts, padding=True, padding_side="left")), and pass '
        "pad_token_id=tokenizer.pad_token_id to generate().",
    )


def _remote_code(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    repo = m.group("repo") if m and m.groupdict().get("repo") else None
    label = f"'{repo}'" if repo else _model_label(facts, "This repository")
    return Diagnosis(
        "The model needs its own Python code (trust_remote_code)",
        f"{label} defines its architecture in .py files shipped with the weights (auto_map in "
        "config.json). transformers will only run them if you pass trust_remote_code=True, and "
        "that code runs with all your permissions: it can read files and send them anywhere.",
        "Prefer a model whose architecture transformers ships (no custom code). If you need this "
        "one: read its .py files first, then load with trust_remote_code=True and "
        "revision='<commit sha>' so the code you read is the code that runs.",
    )


def _no_cuda(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    return Diagnosis(
        "No CUDA GPU available",
        "Something asked for a CUDA device (device_map='cuda', .to('cuda'), device='cuda'), but "
        "this torch has no CUDA support or this machine has no NVIDIA GPU.",
        "Check with torch.cuda.is_available() and choose the device from it (helpers.recommend() "
        "does): on CPU leave device_map out or use 'cpu'. A CPU-only torch build needs a CUDA "
        "build of torch to use a GPU.",
    )


def _no_tokenizer_files(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    where = facts.ctx("model") or facts.ctx("path")
    label = f"'{where}'" if where else "the folder"
    return Diagnosis(
        "No tokenizer files found",
        f"{label} has no tokenizer.json (nor a slow-tokenizer vocabulary transformers can "
        "convert), so AutoTokenizer has nothing to build from.",
        "Load the tokenizer from the folder or repo the model came from; after training, save "
        "both: model.save_pretrained(folder) and tokenizer.save_pretrained(folder).",
    )


def _no_chat_template(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    label = _model_label(facts, "This tokenizer")
    return Diagnosis(
        "No chat template: this is not a chat model's tokenizer",
        f"{label} has no chat_template, so apply_chat_template() (and chat=True) cannot turn "
        "messages into the text the model was trained on. Base models such as GPT-2 were never "
        "trained on conversations.",
        "Give a base model plain text to continue (chat=False, or tokenizer(prompt)); for "
        "conversations load a chat / instruct model (the course's 'stories-chat'), whose "
        "tokenizer ships a template. Don't invent a template for a model not trained on it.",
    )


def _auto_factory(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    auto = m.group("auto") if m else "The Auto class"
    return Diagnosis(
        f"{auto}() can't be called directly",
        f"{auto} is a factory: it picks the concrete class (GPT2LMHeadModel, "
        "LlamaForCausalLM, ...) from a checkpoint's config.",
        f"Use {auto}.from_pretrained(name_or_folder), or {auto}.from_config(config) for "
        "random weights.",
    )


def _course_error(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    return exc.diagnosis  # type: ignore[attr-defined]


def _generic(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    return Diagnosis(
        type(exc).__name__,
        first_line(exc, 300),
        "Read the traceback from the bottom up to the last frame in your own code: that is the "
        "call that failed and the arguments to check. Then search the exact message with the "
        f"library's name and version (transformers {_transformers_version()}).",
    )


# --------------------------------------------------------------------------------------------
# The catalogue, in priority order (first match wins)
# --------------------------------------------------------------------------------------------

_REPO_ID = r"Repo id must (?:be in the form|use alphanumeric chars)"

RULES: list[Rule] = [
    Rule("course-error", _course_error, types=("CourseError",)),
    Rule("missing-folder", _missing_folder, pattern=_REPO_ID, when=_is_missing_folder),
    Rule("bad-repo-id", _bad_repo_id, pattern=_REPO_ID),
    Rule(
        "hub-unreachable",
        _hub_unreachable,
        pattern=r"We couldn't connect to '[^']+' to load the files|outgoing traffic has been "
        r"disabled|Cannot find the requested files in the disk cache",
    ),
    Rule(
        "unknown-model-type",
        _unknown_model_type,
        pattern=r"has model type `(?P<type>[^`]+)` but Transformers does not recognize",
    ),
    Rule(
        "no-model-type",
        _no_model_type,
        pattern=r"Unrecognized model in (?P<path>.+?)\. Should have a `model_type` key",
    ),
    Rule(
        "wrong-auto-class",
        _wrong_auto_class,
        pattern=r"Unrecognized configuration class <class '(?P<cls>[\w.]+)'> for this kind of "
        r"AutoModel: (?P<auto>\w+)",
    ),
    Rule(
        "unknown-identifier",
        _unknown_identifier,
        pattern=r"Unrecognized model identifier: (?P<id>.+?)\. Should contain one of",
    ),
    Rule(
        "no-weights",
        _no_weights,
        pattern=r"Error no file named (?P<files>.+?),? found in directory (?P<dir>.+?)\.?$",
    ),
    Rule("corrupt-safetensors", _corrupt_safetensors, types=("SafetensorError",)),
    Rule(
        "corrupt-safetensors-message",
        _corrupt_safetensors,
        pattern=r"Error while deserializing header|HeaderTooLarge|MetadataIncompleteBuffer",
    ),
    Rule("cuda-oom", _cuda_oom, types=("OutOfMemoryError",)),
    Rule("cuda-oom-message", _cuda_oom, pattern=r"CUDA out of memory"),
    Rule(
        "cpu-oom",
        _cpu_oom,
        pattern=r"DefaultCPUAllocator: can't allocate memory(?:: you tried to allocate "
        r"(?P<n>\d+) bytes)?",
    ),
    Rule("python-memory-error", _cpu_oom, types=("MemoryError",)),
    Rule(
        "bad-device-map",
        _bad_device_map,
        pattern=r"When passing device_map as a string, .*? but found (?P<value>.+?)\.?$"
        r"|You can't pass device_map as a negative int",
    ),
    Rule(
        "bad-dtype",
        _bad_dtype,
        pattern=r"^module 'torch' has no attribute '(?P<dtype>\w+)'",
        types=("AttributeError",),
    ),
    Rule(
        "bad-dtype-integer",
        _bad_dtype,
        pattern=r"cannot be instantiated under `dtype=(?P<dtype>[\w.]+)` as it's not a "
        r"floating-point dtype",
    ),
    Rule("bad-dtype-type", _bad_dtype, pattern=r"`dtype` can be one of: "),
    Rule("no-accelerate", _no_accelerate, pattern=r"requires `?accelerate`?"),
    Rule(
        "move-offloaded",
        _move_offloaded,
        pattern=r"You can't move a model that has some modules offloaded",
    ),
    Rule(
        "no-pad-token",
        _no_pad_token,
        pattern=r"Asking to pad but the tokenizer does not have a padding token",
    ),
    Rule(
        "remote-code",
        _remote_code,
        pattern=r"(?:The repository (?P<repo>\S+) (?:contains|references) custom code)"
        r"|trust_remote_code=True` to allow custom code|execute the configuration file",
    ),
    Rule(
        "no-cuda",
        _no_cuda,
        pattern=r"Torch not compiled with CUDA enabled|Found no NVIDIA driver|"
        r"No CUDA GPUs are available",
    ),
    Rule(
        "no-tokenizer-files",
        _no_tokenizer_files,
        pattern=r"Couldn't instantiate the backend tokenizer",
    ),
    Rule(
        "no-chat-template",
        _no_chat_template,
        pattern=r"tokenizer\.chat_template is not set",
    ),
    Rule(
        "auto-factory",
        _auto_factory,
        pattern=r"^(?P<auto>Auto\w+) is designed to be instantiated using",
    ),
]


def diagnose(exc: BaseException, **context: Any) -> Diagnosis:
    """Explain ``exc``: the first catalogue rule that matches it, or its cause / context chain.

    Context (all optional) makes the answer concrete: ``model`` (the name asked for), ``path``
    (a file or folder involved), ``need_bytes`` / ``free_bytes`` (memory), ``device``. A
    :class:`CourseError` returns its own diagnosis. Never raises: anything unmatched, or a rule
    that fails, falls back to the exception's type and first line with generic advice.
    """
    try:
        facts = Facts(exc, exception_chain(exc), dict(context))
        for rule in RULES:
            try:
                for matched, found in rule.match(facts):
                    return rule.build(facts, found, matched)
            except Exception:
                continue
        return _generic(facts, None, exc)
    except Exception:
        return Diagnosis(
            type(exc).__name__, "(could not read the exception)", "Read the traceback."
        )


# --------------------------------------------------------------------------------------------
# Notebook side: raise on purpose, show, carry on
# --------------------------------------------------------------------------------------------


def _sanitize(text: str) -> str:
    """Machine-independent text for stored notebook outputs: the course checkout becomes
    ``<course>``, the temp dir ``<tmp>`` (with mkdtemp's random names masked), home ``~``, and
    memory addresses ``0x…``."""
    replacements = [(str(REPO_ROOT), "<course>")]
    tmp = tempfile.gettempdir()
    replacements += [(os.path.realpath(tmp), "<tmp>"), (tmp, "<tmp>")]
    home = os.path.expanduser("~")
    if home not in {"/", ""}:
        replacements.append((home, "~"))
    for old, new in replacements:
        if old and old != os.sep:  # whole path components only: /tmp, not /tmpfoo
            text = re.sub(re.escape(old) + r"(?![\w.-])", new, text)
    text = re.sub(r"<tmp>/tmp[a-z0-9_]{8}(?=/|\b)", "<tmp>/tmpXXXXXXXX", text)
    text = re.sub(r"<tmp>/pytest-of-[^/\s]+/pytest-\d+", "<tmp>/pytest", text)
    return re.sub(r"0x[0-9a-fA-F]{6,}", "0x…", text)


def _in_ipython() -> bool:
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        return ipython.get_ipython() is not None
    except Exception:
        return False


class ExpectedError:
    """What :func:`expect_error` caught: ``.exception``, ``.diagnosis`` and the shown ``.text``."""

    def __init__(
        self, exc_types: tuple[type[BaseException], ...], match: str | None, context: dict[str, Any]
    ) -> None:
        self.exc_types = exc_types
        self.match = match
        self.context = context
        self.exception: BaseException | None = None
        self.diagnosis: Diagnosis | None = None
        self.text: str = ""

    def _expected(self, exc: BaseException) -> bool:
        if isinstance(exc, self.exc_types):
            return True
        # load() and friends raise CourseError *from* the library error: accept that wrapping
        return isinstance(exc, CourseError) and isinstance(exc.__cause__, self.exc_types)

    def __enter__(self) -> ExpectedError:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> bool:
        names = " or ".join(t.__name__ for t in self.exc_types)
        if exc is None:
            raise AssertionError(f"expected {names} but the block ran without error")
        if not self._expected(exc):
            return False  # a different error: let it propagate
        if self.match is not None and not re.search(self.match, str(exc)):
            raise AssertionError(
                f"expected {names} matching {self.match!r}, got: {first_line(exc)}"
            ) from exc
        self.exception = exc
        self.diagnosis = diagnose(exc, **self.context)
        self.text = self._render_text()
        self.show()
        return True

    def _headline(self) -> str:
        exc = self.exception
        assert exc is not None
        if isinstance(exc, CourseError) and exc.__cause__ is not None:
            cause = exc.__cause__
            return f"Raised CourseError from {type(cause).__name__}: {first_line(cause)}"
        return f"Raised {type(exc).__name__}: {first_line(exc)}"

    def _render_text(self) -> str:
        return _sanitize(f"{self._headline()}\n{self.diagnosis}")

    def _render_html(self) -> str:
        import html

        assert self.diagnosis is not None
        shown = self.diagnosis
        d = Diagnosis(_sanitize(shown.title), _sanitize(shown.cause), _sanitize(shown.fix))
        return (
            f'<div class="fp-expected-error"><code>{html.escape(_sanitize(self._headline()))}'
            f"</code>{d._repr_html_()}</div>"
        )

    def show(self) -> None:
        """Display the block: rich (text/plain + text/html) in IPython, else print."""
        if _in_ipython():
            from IPython.display import display

            display({"text/plain": self.text, "text/html": self._render_html()}, raw=True)
        else:
            print(self.text)

    def __repr__(self) -> str:
        caught = type(self.exception).__name__ if self.exception else "nothing yet"
        return f"<ExpectedError caught={caught}>"


def expect_error(
    *exc_types: type[BaseException], match: str | None = None, **context: Any
) -> ExpectedError:
    """Context manager for a cell that fails on purpose.

    On one of ``exc_types`` (default: any Exception; a :class:`CourseError` raised *from* one
    counts too) it suppresses the error, shows ``Raised <Type>: <first line>`` and the
    diagnosis, and keeps ``.exception`` / ``.diagnosis`` on the returned object. No error at all
    raises AssertionError (the demonstration broke); another exception type propagates.
    ``match`` is a regex that must be found in ``str(exc)``; ``context`` goes to
    :func:`diagnose` (``model=``, ``path=``, ``need_bytes=``, ...).

    Example (in a notebook cell)::

        with expect_error(OSError, model="./no-such-model") as caught:
            AutoModelForCausalLM.from_pretrained("./no-such-model")
        caught.diagnosis.title  # 'Model folder not found'
    """
    return ExpectedError(tuple(exc_types) or (Exception,), match, context)
