"""Turn the real exceptions of transformers, torch, safetensors and huggingface_hub into a cause
and a fix a learner can act on, and let a notebook cell raise an error on purpose.

The library messages are often right but unhelpful: a missing local folder is reported as an
invalid *repo id*, a corrupt weights file names no file. :func:`diagnose` walks the exception and
its ``__cause__`` / ``__context__`` chain, matches it against a catalogue of rules (data, not an
if-chain: each :class:`Rule` pairs a matcher with a builder), and returns a
:class:`~helpers.errors.Diagnosis`. Every rule was written against the exception the pinned
versions really raise (tests/test_diagnosis.py raises each one for real).

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
from helpers.errors import CourseError, Diagnosis, bullets

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
    "a smaller dtype: dtype=torch.bfloat16 halves float32 weights;",
    'offload what does not fit: device_map="auto" with max_memory={"cpu": "4GiB"} '
    "(and {0: ..., 'cpu': ...} on a GPU) puts the rest on CPU or disk, slower but it runs;",
    "on a CUDA GPU, quantize: quantization_config=BitsAndBytesConfig(load_in_4bit=True) "
    "(transformers 5 removed the load_in_4bit=/load_in_8bit= shortcuts);",
    "a smaller model. Estimate first with helpers.estimate_memory(name).",
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


def first_line(exc: BaseException, limit: int = 400) -> str:
    """The first non-empty line of the message, whole up to ``limit`` characters.

    A longer line is cut after its last full sentence within the limit (else at a word), so
    the part a learner searches for is never cut mid-word; "…" marks a cut.
    """
    text = str(exc).strip()
    if not text and exc.args:
        text = repr(exc.args[0])
    line = text.splitlines()[0].strip() if text else "(no message)"
    if len(line) <= limit:
        return line
    head = line[:limit]
    end = head.rfind(". ")
    if end >= limit // 3:
        return head[: end + 1] + " …"
    return head[: limit - 1].rsplit(" ", 1)[0].rstrip() + "…"


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
        "and '.', not starting or ending with '-' or '.', no '--' or '..', at most 96 "
        "characters." + hint,
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
        bullets("", [
            f"On a machine with internet, download it once ({prefetch}, or "
            "huggingface_hub.snapshot_download(repo_id)) into the cache (HF_HUB_CACHE, by "
            "default ~/.cache/huggingface/hub), or copy that cache over.",
            "Then set HF_HUB_OFFLINE=1 whenever there is no network. Without it, every file the "
            "hub client can't find in the cache costs about 24 s of retries: a model that is "
            "not cached at all fails only after them (this error), and even a cached one loads "
            "its weights at normal speed but waits for AutoTokenizer's retries on optional "
            "files it does not have (measured: 48 s to 2.5 min for a tiny model).",
            "Or use the course's bundled model: unset COURSE_MODEL, or load "
            "helpers.bundled_path('stories-base').",
        ]),
    )


def _hub_endpoint() -> str:
    try:
        from huggingface_hub import constants

        return constants.ENDPOINT.rstrip("/")
    except Exception:  # pragma: no cover
        return "https://huggingface.co"


def _hub_status(facts: Facts, exc: BaseException) -> int | None:
    """The HTTP status the Hub answered with (401, 403, 404), from the response or the text."""
    for item in (exc, *facts.chain):
        status = getattr(getattr(item, "response", None), "status_code", None)
        if isinstance(status, int):
            return status
    found = re.search(r"\b(40\d) Client Error", " ".join(str(e) for e in facts.chain))
    return int(found.group(1)) if found else None


def _hub_model(facts: Facts, exc: BaseException) -> str:
    """The model asked for (context), else the repo id the hub error names, else "the model"."""
    if facts.ctx("model"):
        return str(facts.ctx("model"))
    for item in (exc, *facts.chain):
        repo_id = getattr(item, "repo_id", None)
        if isinstance(repo_id, str) and repo_id:
            return repo_id
    return "the model"


def _gated_repo(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    model = _hub_model(facts, exc)
    page = f"{_hub_endpoint()}/{model}"
    status = _hub_status(facts, exc)
    if status == 403:
        why = ("The hub answered 403: a token was sent, but its account has not been granted "
               "access (the conditions are not accepted yet, or the owners have not approved "
               "the request).")
    else:
        why = ("The hub answered 401: no token was sent (not logged in on this machine), so the "
               "hub cannot know whether you have accepted the conditions.")
    return Diagnosis(
        "Gated model: access must be granted first",
        f"'{model}' exists on the Hub, but it is gated: its owners let each user download it "
        f"only after accepting their conditions (a licence, a form). {why}",
        bullets("", [
            f"Open {page} while logged in and accept the conditions (some owners approve by "
            "hand, which can take a while).",
            "Then log in on this machine: `hf auth login`, or set HF_TOKEN to a read token from "
            "huggingface.co/settings/tokens, and run this again.",
            "Or use a model that is not gated (most small ones are not), or the course's "
            "bundled model: unset COURSE_MODEL, or load helpers.bundled_path('stories-base').",
        ]),
    )


def _repo_not_found(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    model = _hub_model(facts, exc)
    status = _hub_status(facts, exc)
    answered = f" (it answered {status}, RepositoryNotFound)" if status else ""
    folder = ""
    if model and "/" in model and not Path(model).exists():
        folder = (f" No folder '{model}' exists here either (current directory: {os.getcwd()}), "
                  "so it was looked up on the Hub.")
    return Diagnosis(
        "No such model on the Hub",
        f"The Hub has no model '{model}' that this machine may read{answered}: the id is "
        "misspelt, the model was renamed or deleted, or it is private. The Hub gives the same "
        f"answer for a private repo as for a missing one, so as not to reveal it.{folder}",
        bullets("", [
            f"Copy the id from the model's page ({_hub_endpoint()}/MODEL): 'owner/name', "
            "exactly as written there; search the hub for the name if the page is gone.",
            "If it is a private model you may read: log in (`hf auth login`, or HF_TOKEN) and "
            "run this again.",
            "For a model on disk, pass its folder path ('./folder' or an absolute path).",
        ]),
    )


def _revision_not_found(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    model = _hub_model(facts, exc)
    return Diagnosis(
        "No such revision of this model",
        f"'{model}' exists on the Hub, but the revision asked for (revision=...) is not one of "
        "its branches, tags or commits.",
        f"List what exists: huggingface_hub.list_repo_refs('{model}') (branches, tags) and "
        f"huggingface_hub.list_repo_commits('{model}'); or leave revision out for 'main'. A "
        "commit is the full 40-character hash.",
    )


def _download_interrupted(facts: Facts, m: re.Match[str] | None,
                          exc: BaseException) -> Diagnosis:
    model = _hub_model(facts, exc)
    label = "the model" if model == "the model" else f"'{model}'"
    details = [str(e).splitlines()[0] for e in facts.chain if str(e).strip()]
    cut = next((d for d in details if "complete message body" in d or "Consistency" in d),
               details[-1] if details else type(exc).__name__)
    prefetch = f"python -m helpers prefetch {model}" if label != "the model" else (
        "python -m helpers prefetch MODEL")
    return Diagnosis(
        "The download stopped part way",
        f"The connection to the Hub ({_hub_endpoint()}) broke while {label} was downloading "
        f"({cut}): the network dropped, a proxy or firewall cut a long transfer, or the server "
        "went away. The hub client retried, then gave up. What did arrive is not used as the "
        "model: an unfinished file stays in the cache's blobs/ folder as '*.incomplete' and the "
        "files that finished stay valid.",
        bullets("", [
            "Run the same code again once the network is back: finished files are not fetched "
            "again, and the missing ones are.",
            f"For a large model, fetch it from a terminal first ({prefetch}; repeat until it "
            "says [OK]), then check with python -m helpers prefetch --check.",
            "On a slow or unreliable link, give each read more time: HF_HUB_DOWNLOAD_TIMEOUT=60 "
            "(seconds; the default is 10).",
        ]),
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
            "pick the architecture. (transformers 4.x guessed it from a known name such as "
            "'gpt2' inside the folder name; 5.x no longer does.)"
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
        fix = bullets("Get a clean copy of the file:", [
            "re-download it: from_pretrained(repo_id, force_download=True), or delete its "
            "folder in the Hugging Face cache;",
            "copy it again from where it came from, or save_pretrained() the model again;",
            "for the course's bundled models: git checkout -- helpers/models, or make models.",
        ])
    return Diagnosis("Corrupt or incomplete weights file", cause, fix)


def _cpu_oom(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    asked = f" ({format_bytes(int(m.group('n')))} in one block)" if m and m.group("n") else ""
    return Diagnosis(
        "Out of memory (RAM)",
        f"The operating system refused an allocation{asked}: the model, or one tensor, does "
        f"not fit in this machine's free RAM.{_ctx_memory(facts)}",
        bullets("Ways out:", WAYS_OUT_OF_MEMORY, "Close other notebooks' kernels to free RAM."),
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
        bullets("Ways out:", (
            *WAYS_OUT_OF_MEMORY,
            "while generating: a smaller batch or max_new_tokens;",
            "if much memory is reserved but unallocated, set "
            "PYTORCH_ALLOC_CONF=expandable_segments:True (older torch: PYTORCH_CUDA_ALLOC_CONF) "
            "before torch starts;",
            "free what an earlier cell holds: del model; gc.collect(); torch.cuda.empty_cache().",
        )),
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
        "This model was dispatched by device_map and some of its weights are offloaded to CPU "
        "or disk (see model.hf_device_map): accelerate's hooks bring them in for each forward "
        "pass. accelerate wraps the model's .to() and .cuda() and refuses them while any "
        "weight is offloaded, even a dtype-only .to(torch.bfloat16). .half(), .float() and "
        ".bfloat16() are not wrapped: they cast the weights held in memory, and the hooks "
        "cast the offloaded ones as they load them (on a CPU + disk split the model still "
        "generates exactly what a model loaded in that dtype does).",
        "Don't .to() a dispatched model: choose the dtype and placement at load time, e.g. "
        'from_pretrained(name, dtype=torch.bfloat16, device_map="auto", max_memory=...). Put '
        "the inputs on model.device instead of moving the model.",
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


def _vocabulary_needing_a_package(facts: Facts) -> str | None:
    """A SentencePiece / tiktoken vocabulary file in the context folder, if there is one."""
    for key in ("path", "model"):
        value = facts.ctx(key)
        folder = Path(str(value)).expanduser() if value else None
        if folder is not None and folder.is_dir():
            found = sorted(p.name for p in folder.iterdir()
                           if p.name.endswith((".model", ".tiktoken")))
            if found:
                return found[0]
    return None


def _missing_package_note(kind: str) -> tuple[str, str]:
    return (
        f"transformers can build a fast tokenizer from it only with the {kind} package, which "
        "is not installed in this environment",
        "pip install sentencepiece (or tiktoken, if the model card says so) in the course's "
        "environment and restart the kernel; or, where it loads, save the tokenizer once with "
        "tokenizer.save_pretrained(folder): that writes tokenizer.json, which needs neither.",
    )


def _tokenizer_needs_package(
    facts: Facts, m: re.Match[str] | None, exc: BaseException
) -> Diagnosis:
    where = facts.ctx("model") or facts.ctx("path")
    label = f"'{where}'" if where else "This model"
    vocab = _vocabulary_needing_a_package(facts) or "tokenizer.model"
    why, fix = _missing_package_note("sentencepiece (or tiktoken)")
    return Diagnosis(
        "The tokenizer needs a package that is not installed",
        f"{label} has no tokenizer.json, only {vocab} (a SentencePiece or tiktoken "
        f"vocabulary): {why}.",
        fix,
    )


def _no_tokenizer_files(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    where = facts.ctx("model") or facts.ctx("path")
    label = f"'{where}'" if where else "the folder"
    if _vocabulary_needing_a_package(facts):
        return _tokenizer_needs_package(facts, m, exc)
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


def _json_files_in(facts: Facts) -> list[Path]:
    """.json files the failing frames name (innermost first), then those in the context folder."""
    found: list[Path] = []
    for exc in facts.chain:
        frames = []
        tb = exc.__traceback__
        while tb is not None:
            frames.append(tb.tb_frame)
            tb = tb.tb_next
        for frame in reversed(frames):
            for value in frame.f_locals.values():
                if isinstance(value, (str, os.PathLike)) and str(value).endswith(".json"):
                    path = Path(str(value))
                    if path.is_file() and path not in found:
                        found.append(path)
    for key in ("path", "model"):
        value = facts.ctx(key)
        folder = Path(str(value)).expanduser() if value else None
        if folder is not None and folder.is_dir():
            found += [p for p in sorted(folder.glob("*.json")) if p not in found]
    return found


def _invalid_json(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    decode = next((e for e in facts.chain if type(e).__name__ == "JSONDecodeError"), None)
    named = re.search(r"config file at '(?P<file>[^']+)'", str(facts.exc)) or m
    file: Path | None = None
    if named is not None and named.groupdict().get("file"):
        file = Path(named.group("file"))
    elif decode is not None:
        doc = getattr(decode, "doc", None)
        for candidate in _json_files_in(facts):
            try:
                if candidate.read_text(encoding="utf-8", errors="replace") == doc:
                    file = candidate
                    break
            except OSError:
                continue
    name = _display_path(file) if file else "a JSON file of the model"
    where, shown = "", ""
    if decode is not None:
        line, col = getattr(decode, "lineno", None), getattr(decode, "colno", None)
        where = f" at line {line}, column {col}: {getattr(decode, 'msg', first_line(decode))}"
        lines = (getattr(decode, "doc", "") or "").splitlines()
        if line and 0 < line <= len(lines) and len(lines[line - 1]) <= 200:
            text = lines[line - 1]
            shown = f" The line reads: {text.strip()!r}."
    elif any(type(e).__name__ == "UnicodeDecodeError" for e in facts.chain):
        where = ": it is not even UTF-8 text (a binary file, or one saved in another encoding)"
    bundled = file is not None and _is_bundled(file)
    fix = (
        "Open the file in an editor and fix the JSON at that spot: the usual slips are a missing "
        "or extra comma (JSON allows no comma after the last item), single quotes instead of "
        "double quotes, a comment (JSON has none), or a file cut short. Check it with "
        f"python -m json.tool {name}. If you did not edit it, get a clean copy: re-download "
        "(from_pretrained(..., force_download=True)) or save_pretrained() again."
    )
    if bundled:
        fix += f" For the course's bundled models: git checkout -- {name}, or make models."
    return Diagnosis(
        "Invalid JSON in a model file",
        f"{name} is not valid JSON{where}.{shown} transformers reads config.json (and the "
        "tokenizer's JSON files) with Python's json module, which stops at the first mistake.",
        fix,
    )


def _loading_info_of(facts: Facts) -> Any:
    """The ``loading_info`` transformers' load report raised from (frame locals), or None."""
    for exc in facts.chain:
        tb = exc.__traceback__
        found = None
        while tb is not None:
            info = tb.tb_frame.f_locals.get("loading_info")
            if info is not None and hasattr(info, "mismatched_keys"):
                found = info
            tb = tb.tb_next
        if found is not None:
            return found
    return None


def _shape(value: Any) -> str:
    return "[" + ", ".join(str(int(n)) for n in value) + "]"


def _shape_mismatch(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    mismatched: list[tuple[str, Any, Any]] = []
    if m is not None and m.groupdict().get("key"):  # torch's load_state_dict message
        mismatched = [(k, c, w) for k, c, w in re.findall(
            r"size mismatch for (\S+): copying a param with shape torch\.Size\((\[[^\]]*\])\) "
            r"from checkpoint, the shape in current model is torch\.Size\((\[[^\]]*\])\)",
            str(exc))]
    else:
        info = _loading_info_of(facts)
        if info is not None:
            mismatched = sorted((k, _shape(c), _shape(w)) for k, c, w in info.mismatched_keys)
    if mismatched:
        key, ckpt, wanted = mismatched[0]
        more = f" ({len(mismatched) - 1} more tensors differ too)" if len(mismatched) > 1 else ""
        what = (f"The tensor {key} has shape {ckpt} in the checkpoint, but the config builds "
                f"{wanted}{more}.")
    else:
        what = "Some tensors in the checkpoint have another shape than the config builds."
    return Diagnosis(
        "Weights don't fit the config: config and weights come from different models",
        f"{what} from_pretrained builds the model from config.json and then copies the weights "
        "in. A size in the config (hidden_size, intermediate_size, vocab_size, ...) differs "
        "from the one the weights were saved with: the config and the weights come from "
        "different models, or the config was edited after saving.",
        bullets("Load config and weights from the same place:", [
            "use the config.json that was saved with these weights (save_pretrained() writes "
            "both; don't mix files from two folders or two repos);",
            "if you changed the config on purpose (e.g. a new vocab_size), the old weights "
            "can't be reused as they are: ignore_mismatched_sizes=True loads the rest and "
            "initialises the mismatched tensors randomly, which only makes sense before "
            "training them (helpers.load()'s report then lists them).",
        ]),
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


# Lesson 02 (tokenizers) ------------------------------------------------------------------


def _lists_not_tensors(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    kind = m.group("kind") if m else "list"
    attr = m.groupdict().get("attr") if m else None
    needs = f"read .{attr} of their inputs, which a tensor has and a {kind} has not" if attr else (
        f"pass their inputs to torch functions that take tensors, not a {kind}")
    return Diagnosis(
        "The model got Python lists, not tensors",
        f"A model's forward() and generate() {needs}. A tokenizer returns lists unless you ask "
        "for tensors.",
        'Tokenize with return_tensors="pt": inputs = tokenizer(text, return_tensors="pt"), '
        "then model(**inputs) or model.generate(**inputs). Several texts of different lengths "
        "also need padding=True.",
    )


def _ragged_batch(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    return Diagnosis(
        "Texts of different lengths can't become one tensor",
        "return_tensors needs every row of the batch to have the same number of tokens, and "
        "these texts tokenize to different lengths.",
        'Pad them: tokenizer(texts, padding=True, return_tensors="pt") (the attention_mask marks '
        "the pads). A GPT-2-style tokenizer needs a pad token first: tokenizer.pad_token = "
        "tokenizer.eos_token. Add truncation=True, max_length=N to cap very long texts.",
    )


def _bad_return_tensors(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    value = m.group("value") if m else "that value"
    old = " TensorFlow support was removed in transformers 5 (4.x code and tutorials use it)." if (
        value.strip("'\"") in {"tf", "jax"}) else ""
    return Diagnosis(
        f"return_tensors={value!r} is not a tensor type this transformers knows",
        f"Tokenizers in transformers {_transformers_version()} return \"pt\" (torch), \"np\" "
        f"(NumPy) or \"mlx\" (Apple MLX) tensors, or Python lists when return_tensors is "
        f"left out.{old}",
        'Use return_tensors="pt" for a torch model (from_pretrained gives torch models).',
    )


def _token_id_out_of_range(
    facts: Facts, m: re.Match[str] | None, exc: BaseException
) -> Diagnosis:
    return Diagnosis(
        "An id has no row in the model's embedding table",
        "An embedding lookup got an index past the end of its table. With language models it is "
        "almost always one of: (1) a token added to the tokenizer (add_special_tokens, "
        "add_tokens) without growing the model; (2) ids made by another model's tokenizer, "
        "whose vocabulary is larger; (3) a text longer than the model's position table "
        "(GPT-2-style models with learned positions). On a GPU the same mistake shows as "
        "'CUDA error: device-side assert triggered'.",
        "Compare max(input_ids) with model.get_input_embeddings().num_embeddings. (1) After "
        "adding tokens call model.resize_token_embeddings(len(tokenizer)) and save model and "
        "tokenizer together; (2) tokenize with the tokenizer loaded from the same model; (3) "
        "truncate: tokenizer(text, truncation=True, max_length=model.config."
        "max_position_embeddings).",
    )


def _stop_strings_no_tokenizer(
    facts: Facts, m: re.Match[str] | None, exc: BaseException
) -> Diagnosis:
    return Diagnosis(
        "stop_strings needs the tokenizer passed to generate()",
        "generate() works on token ids, but a stop string is text: to find where a string such "
        "as 'The end' could end inside the vocabulary's tokens, it needs the tokenizer, and a "
        "model does not carry one.",
        "Pass it along: model.generate(**inputs, stop_strings=[...], tokenizer=tokenizer). The "
        "stop string stays at the end of the output; cut it off yourself if you don't want it.",
    )


def _max_length_below_prompt(
    facts: Facts, m: re.Match[str] | None, exc: BaseException
) -> Diagnosis:
    prompt = f"{m.group('n')} tokens" if m else "the prompt"
    limit = f"max_length={m.group('max')}" if m else "max_length"
    return Diagnosis(
        "max_length leaves no room after the prompt",
        f"max_length counts the prompt too: the prompt already has {prompt}, so {limit} "
        "leaves nothing (or less than nothing) to generate.",
        "Use max_new_tokens=N, which counts only the generated tokens whatever the prompt's "
        "length. If you must use max_length, compute it: inputs['input_ids'].shape[1] + N.",
    )


def _zero_temperature(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    value = m.group("t") if m else "0"
    return Diagnosis(
        "temperature must be above 0 when sampling",
        f"Sampling divides the scores by the temperature, so temperature={value} cannot be "
        "used with do_sample=True. Some APIs read temperature=0 as 'no randomness'; "
        "transformers does not.",
        "For the most likely token every time, use greedy decoding: do_sample=False (and no "
        "temperature). For a little randomness, sample with a small positive temperature such "
        "as 0.2.",
    )


def _invalid_generation_config(
    facts: Facts, m: re.Match[str] | None, exc: BaseException
) -> Diagnosis:
    flags = re.findall(r"^- `(\w+)`", str(exc), flags=re.M)
    named = ", ".join(flags) or "some settings"
    return Diagnosis(
        "A sampling setting on a configuration that does not sample",
        f"{named}: these only change sampling, but do_sample is not True, so decoding is "
        "greedy and they would be ignored. generate() only logs this once (\"The following "
        "generation flags are not valid and may be ignored\"); validate(strict=True) and "
        "save_pretrained() refuse the configuration.",
        "Decide which you want: do_sample=True to sample with these settings, or remove them "
        "(e.g. generation_config.temperature = None) for greedy decoding. A value may come "
        "from the model's own generation_config.json: print model.generation_config.",
    )


def _generation_in_model_config(
    facts: Facts, m: re.Match[str] | None, exc: BaseException
) -> Diagnosis:
    found = m.group("values") if m else "generation settings"
    return Diagnosis(
        "Generation settings on model.config (a 4.x habit)",
        f"model.config holds {found}. Older code set generation defaults on the model's "
        "config; transformers 5 reads them only from model.generation_config and refuses "
        "to generate while the model config carries them.",
        "Move them: model.generation_config.temperature = 0.7 (and delete the attribute from "
        "model.config, e.g. del model.config.temperature), or pass them to generate() per "
        "call. GenerationConfig.from_pretrained(name) shows what the checkpoint sets.",
    )



# lesson 06 (speed) ---------------------------------------------------------------------------


def _static_cache_full(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    size = m.group("size") if m else "max_cache_len"
    return Diagnosis(
        "The static cache is full",
        f"A static KV cache is allocated once with room for a fixed number of positions "
        f"(max_cache_len={size} here), so that every decoding step has the same shapes. The "
        f"prompt plus the new tokens needed position {m.group('index') if m else 'past it'}, "
        "which has no slot, and writing the key/value there fails.",
        "Make the cache as long as the whole text: StaticCache(config=model.config, "
        "max_cache_len=prompt tokens + max_new_tokens), or let generate() size it itself with "
        "cache_implementation=\"static\" (it uses max_length). A fresh cache per generate() "
        "call, or cache.reset(), also empties an old one.",
    )


def _bad_cache_implementation(
    facts: Facts, m: re.Match[str] | None, exc: BaseException
) -> Diagnosis:
    asked = m.group("asked") if m else "?"
    valid = re.findall(r"'([^']+)'", m.group("valid")) if m else []
    close = difflib.get_close_matches(asked, valid, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return Diagnosis(
        "Unknown cache_implementation",
        f"generate() does not know cache_implementation={asked!r}.{hint} It accepts: "
        f"{', '.join(valid) or 'see the message'}.",
        "For speed, \"static\" (a preallocated cache, what torch.compile needs) or leave it "
        "out for the default dynamic cache, which grows with the text.",
    )


def _too_few_tokens_to_time(
    facts: Facts, m: re.Match[str] | None, exc: BaseException
) -> Diagnosis:
    return Diagnosis(
        "One new token has no decode step to time",
        "measure_speed() times decoding as the gaps between steps: the first token comes out "
        "of the prefill (the forward over the prompt), so with max_new_tokens=1 there is no "
        "decode step at all.",
        "Ask for at least 2 new tokens, better a few dozen so that one slow step matters less "
        "(max_new_tokens=32). Its prefill_s is the time to the first token.",
    )


# --------------------------------------------------------------------------------------------
def _removed_kbit_argument(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    bits = m.group("bits") if m else "4"
    return Diagnosis(
        f"load_in_{bits}bit= was removed in transformers 5",
        f"4.x code passes load_in_{bits}bit=True to from_pretrained. transformers 5 no longer "
        "accepts it, so the argument travels on to the model class's __init__, which rejects it.",
        "Pass a quantization config instead: from transformers import BitsAndBytesConfig; "
        f"from_pretrained(..., quantization_config=BitsAndBytesConfig(load_in_{bits}bit=True), "
        'device_map="auto"). bitsandbytes quantization needs the bitsandbytes package and, in '
        "practice, a CUDA GPU; on a CPU use bfloat16 or float32 instead.",
    )


def _no_bitsandbytes(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    return Diagnosis(
        "bitsandbytes is not installed",
        "A BitsAndBytesConfig asks for 8-bit or 4-bit weights, and transformers checks for the "
        "bitsandbytes package before it loads anything.",
        "On a CUDA machine: pip install -U bitsandbytes, restart the kernel, and load with "
        'device_map="auto". On a CPU-only machine leave quantization_config out and load in '
        "bfloat16 (or float32); helpers.estimate_memory says what that needs.",
    )


def _max_memory_device(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    key = m.group("key") if m else "?"
    return Diagnosis(
        f"max_memory has an unknown device: {key}",
        "accelerate names devices in max_memory its own way: GPUs are plain integers (0, 1, "
        "...), and the other keys are 'mps', 'cpu' and 'disk'. Strings such as 'cuda:0' or "
        "'gpu' are not recognized.",
        'Write the GPUs as integers: max_memory={0: "20GiB", 1: "20GiB", "cpu": "64GiB"}.',
    )


def _memory_size_format(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    size = m.group("size") if m else "?"
    return Diagnosis(
        f"Not a memory size: {size}",
        "Budgets in max_memory are a number of bytes or a string of a number and a unit, with "
        "no space inside the unit: '500MB', '20GiB', '1.5GB'.",
        'Use an int (bytes) or a string such as "20GiB" (units: KB, MB, GB, KiB, MiB, GiB).',
    )


# Lesson 04 (batching and padding) --------------------------------------------------------


def _streamer_batch(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    return Diagnosis(
        "A streamer prints one text, and this batch has several rows",
        "TextStreamer (and TextIteratorStreamer) decode the new tokens of a single row as they "
        "are generated; generate() hands them every row of the batch at each step, and they "
        "refuse more than one.",
        "Stream one prompt (a batch of 1) and generate the others as a batch without a "
        "streamer: model.generate(**one_prompt, streamer=TextStreamer(tokenizer, "
        "skip_prompt=True)). With helpers.generate_text, stream=True takes a single string.",
    )


def _greedy_num_return_sequences(
    facts: Facts, m: re.Match[str] | None, exc: BaseException
) -> Diagnosis:
    n = m.group("n") if m else "n"
    return Diagnosis(
        "Several answers per prompt need sampling or beam search",
        f"num_return_sequences={n} asks for {n} rows per prompt, but greedy decoding "
        "(do_sample=False, one beam) would produce the same row every time, so generate() "
        "refuses it.",
        f"Sample: do_sample=True (with transformers.set_seed(...) first for reproducible "
        f"samples), or use beam search with num_beams >= {n}. The output then holds {n} "
        "consecutive rows per prompt (rows 0..n-1 for the first prompt, and so on).",
    )


def _chat_template_error(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> Diagnosis:
    message = first_line(exc, 200)
    kinds = _type_names(exc)
    if "TemplateSyntaxError" in kinds:
        line = getattr(exc, "lineno", None)
        where = f" (line {line} of the template)" if line else ""
        return Diagnosis(
            "The chat template is not valid Jinja",
            f"jinja2 could not compile the chat template{where}: {message}. A template passed "
            "with chat_template= or set on tokenizer.chat_template is a Jinja program, and "
            "this one has a syntax error.",
            "Check that every {% if %} / {% for %} has its {% endif %} / {% endfor %} and that "
            "the quotes inside {{ ... }} match. Or pass no template and use the tokenizer's "
            "own: tokenizer.get_chat_template() prints it.",
        )
    if "UndefinedError" in kinds:
        return Diagnosis(
            "The chat template reads a value the messages don't have",
            f"The template looked up something that isn't there: {message}. Usually a message "
            "without a 'role' or 'content' key, or a template variable that was not passed.",
            "Give every message {'role': ..., 'content': ...} (strings), and pass other "
            "variables the template uses as keyword arguments of apply_chat_template.",
        )
    return Diagnosis(
        "The chat template refused this conversation",
        f"The model's chat template checks the messages itself and raised: '{message}'. "
        "Templates are Jinja programs that call raise_exception(); some accept no system "
        "message (Gemma 2's: 'System role not supported'), some insist that user and "
        "assistant turns alternate starting with user, or accept only those two roles.",
        "Read the rule in print(tokenizer.get_chat_template()). No system role: put the "
        "system text at the start of the first user message. Alternation: merge consecutive "
        "messages of the same role and start with a user message.",
    )


def _is_batch_encoding_lookup(facts: Facts, m: re.Match[str] | None, exc: BaseException) -> bool:
    """The KeyError BatchEncoding.__getattr__ raises for an attribute a tensor would have."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    code = tb.tb_frame.f_code
    return code.co_name == "__getattr__" and "tokenization_utils" in code.co_filename


def _batch_encoding_as_tensor(
    facts: Facts, m: re.Match[str] | None, exc: BaseException
) -> Diagnosis:
    attr = m.group("attr") if m else "shape"
    return Diagnosis(
        "A BatchEncoding (a dict) was used as a tensor",
        f"The code read .{attr} of what the tokenizer returned, as if it were the input_ids "
        "tensor, but it is a BatchEncoding: a dict of input_ids and attention_mask, which "
        "raises an AttributeError with no message. In transformers 5 apply_chat_template "
        "returns one by default (return_dict=True); in 4.x it returned the input_ids alone, so "
        "older code passes its result straight to generate().",
        "Unpack it: model.generate(**inputs), and inputs['input_ids'].shape[1] for the "
        "prompt's length. If you really want the ids alone, pass return_dict=False.",
    )


# The catalogue, in priority order (first match wins)
# --------------------------------------------------------------------------------------------

_REPO_ID = (
    r"Repo id must (?:be in the form|use alphanumeric chars)|Cannot have -- or \.\. in repo_id"
)

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
    # hub answers, by the huggingface_hub error in the chain (transformers wraps each in an
    # OSError); GatedRepoError is a RepositoryNotFoundError, so it comes first
    Rule("gated-repo", _gated_repo, types=("GatedRepoError",)),
    Rule("revision-not-found", _revision_not_found, types=("RevisionNotFoundError",)),
    Rule("repo-not-found", _repo_not_found, types=("RepositoryNotFoundError",)),
    Rule("download-interrupted", _download_interrupted,
         types=("RemoteProtocolError", "ReadError", "ReadTimeout")),
    Rule(
        "invalid-json",
        _invalid_json,
        pattern=r"It looks like the config file at '(?P<file>[^']+)' is not a valid JSON file",
    ),
    Rule("invalid-json-decode", _invalid_json, types=("JSONDecodeError",)),
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
    Rule(
        "shape-mismatch",
        _shape_mismatch,
        pattern=r"You set `ignore_mismatched_sizes` to `False`, thus raising an error",
    ),
    Rule(
        "shape-mismatch-state-dict",
        _shape_mismatch,
        pattern=r"size mismatch for (?P<key>\S+): copying a param with shape",
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
        "tokenizer-needs-package",
        _tokenizer_needs_package,
        pattern=r"`tiktoken` is required to read a `tiktoken` file|requires the SentencePiece "
        r"library but it was not found",
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
    Rule(
        "lists-not-tensors",
        _lists_not_tensors,
        pattern=r"^'(?P<kind>list|tuple)' object has no attribute "
        r"'(?P<attr>size|shape|dim|device|view)'",
        types=("AttributeError",),
    ),
    Rule(
        "lists-not-tensors-type",
        _lists_not_tensors,
        pattern=r"argument '(?:input|indices)' \(position \d\) must be Tensor, not "
        r"(?P<kind>list|tuple)",
        types=("TypeError",),
    ),
    Rule(
        "ragged-batch",
        _ragged_batch,
        pattern=r"Unable to create tensor, you should probably activate truncation and/or padding",
    ),
    Rule(
        "bad-return-tensors",
        _bad_return_tensors,
        pattern=r"^(?P<value>\S+) is not a valid TensorType",
    ),
    Rule(
        "token-id-out-of-range",
        _token_id_out_of_range,
        pattern=r"index out of range in self",
        types=("IndexError",),
    ),
    Rule(
        "stop-strings-no-tokenizer",
        _stop_strings_no_tokenizer,
        pattern=r"When generating with stop strings, you must pass the model's tokenizer",
    ),
    Rule(
        "max-length-below-prompt",
        _max_length_below_prompt,
        pattern=r"Input length of (?:decoder_)?input_ids is (?P<n>\d+), but `max_length` is "
        r"set to (?P<max>-?\d+)",
    ),
    Rule(
        "zero-temperature",
        _zero_temperature,
        pattern=r"`temperature` \(=(?P<t>[^)]+)\) has to be a strictly positive float",
    ),
    Rule(
        "invalid-generation-config",
        _invalid_generation_config,
        pattern=r"GenerationConfig is invalid",
    ),
    Rule(
        "generation-in-model-config",
        _generation_in_model_config,
        pattern=r"You have modified the pretrained model configuration to control generation"
        r"(?:.*?values set - (?P<values>\{[^}]*\}))?",
    ),
    Rule(
        "removed-load-in-kbit",
        _removed_kbit_argument,
        pattern=r"unexpected keyword argument '(?:load_in_(?P<bits>[48])bit)'",
    ),
    Rule("no-bitsandbytes", _no_bitsandbytes,
         pattern=r"quantization requires bitsandbytes|requires .*bitsandbytes"),
    Rule(
        "max-memory-device",
        _max_memory_device,
        pattern=r"Device (?P<key>\S+) is not recognized, available devices are integers",
    ),
    Rule("memory-size-format", _memory_size_format,
         pattern=r"`size` (?P<size>.+?) is not in a valid format"),
    Rule(
        "streamer-batch",
        _streamer_batch,
        pattern=r"Text(?:Diffusion)?Streamer only supports batch size 1|"
        r"stream=True prints one prompt at a time",
    ),
    Rule(
        "greedy-num-return-sequences",
        _greedy_num_return_sequences,
        pattern=r"Greedy methods \(do_sample != True\) without beam search do not support "
        r"`num_return_sequences` different than 1 \(got (?P<n>\d+)\)",
    ),
    Rule("chat-template-error", _chat_template_error, types=("TemplateError",)),
    Rule(
        "batch-encoding-as-tensor",
        _batch_encoding_as_tensor,
        pattern=r"^'(?P<attr>shape|device|dim|size|ndim|dtype|tolist|long|numel)'$",
        types=("KeyError",),
        when=_is_batch_encoding_lookup,
    ),
    Rule(
        "static-cache-full",
        _static_cache_full,
        pattern=r"index_copy_\(\): index (?P<index>\d+) is out of bounds for dimension 2 with "
        r"size (?P<size>\d+)",
    ),
    Rule(
        "bad-cache-implementation",
        _bad_cache_implementation,
        pattern=r"Invalid `cache_implementation` \((?P<asked>[^)]*)\)\. Choose one of: "
        r"(?P<valid>\(.*\))",
    ),
    Rule(
        "too-few-tokens-to-time",
        _too_few_tokens_to_time,
        pattern=r"max_new_tokens must be at least 2 to time any decode step",
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
