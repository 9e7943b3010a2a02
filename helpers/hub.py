"""Resolving a model name: a bundled name, a local folder or a hub id, and whether the hub answers.

``from_pretrained`` accepts all three, but its failures are slow and confusing: a missing folder
comes back as a message about repo ids, and an uncached hub id on a machine with no network costs
about 23 s of retries. :func:`resolve` answers the same questions in well under a second and says
what to do instead.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from huggingface_hub import constants as hub_constants
from huggingface_hub import is_offline_mode, try_to_load_from_cache
from huggingface_hub.utils import HFValidationError, validate_repo_id

from helpers.display import format_bytes
from helpers.errors import CourseError, Diagnosis
from helpers.models import BUNDLED, DEFAULT_MODEL, REAL_MODELS, bundled_path, named_path

#: environment variable that switches the course to another model, per kind
COURSE_MODEL_ENV = {"base": "COURSE_MODEL", "chat": "COURSE_CHAT_MODEL"}

SOURCES = ("bundled", "real model", "local folder", "hub cache", "hub download")

PROBE_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class ResolvedModel:
    """Where a requested model lives and how ``from_pretrained`` should be called for it."""

    requested: str
    location: str
    """a folder path or a hub id: the first argument for ``from_pretrained``"""
    source: str
    """one of :data:`SOURCES`"""
    local_files_only: bool
    """True when the files must come from disk (offline, or the hub is unreachable)"""
    folder: str | None = None
    """the folder on disk holding the files, when known before loading (not for downloads)"""
    revision: str | None = None

    @property
    def name(self) -> str:
        """A short, machine-independent name for outputs (see :func:`model_label`)."""
        return model_label(self.requested)

    def __str__(self) -> str:
        where = self.location if self.folder in (None, self.location) else (
            f"{self.location} ({self.folder})"
        )
        return f"{self.requested!r} -> {self.source}: {where}"


# --------------------------------------------------------------------------- course model


def course_model(kind: str = "base") -> str:
    """The model the lessons use, as ``from_pretrained`` itself accepts it.

    ``$COURSE_MODEL`` (``$COURSE_CHAT_MODEL`` for chat) or the bundled model of that kind: a
    bundled short name becomes its folder path, a folder its absolute path, and a hub id stays
    an id. So ``AutoModelForCausalLM.from_pretrained(helpers.course_model())`` works as it is,
    offline. :func:`course_model_name` is the short name to print.
    """
    env = _env_name(kind)
    value = os.environ.get(env, "").strip() or DEFAULT_MODEL[kind]
    return pretrained_location(value)


def course_model_name(kind: str = "base") -> str:
    """The course model's short name for outputs: ``stories-base``, a folder's name, a hub id."""
    return model_label(course_model(kind))


def pretrained_location(name_or_path: str | os.PathLike) -> str:
    """What ``from_pretrained`` accepts for a name: a bundled (or real model's) short name becomes
    its folder, an existing folder its absolute path; anything else (a hub id) is returned
    unchanged."""
    name = os.fspath(name_or_path)
    if name in BUNDLED or name in REAL_MODELS:
        return str(named_path(name))
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path.resolve())
    return name


def model_label(name_or_path: str | os.PathLike) -> str:
    """A short name that holds no machine path: a bundled model's short name, a local folder's
    own name, or the hub id as it is."""
    name = os.fspath(name_or_path)
    bundled = bundled_name(name)
    if bundled:
        return bundled
    if looks_like_path(name) or Path(name).expanduser().is_dir():
        return Path(name).expanduser().name or name
    return name


def bundled_name(name_or_path: str | os.PathLike) -> str | None:
    """The short name when ``name_or_path`` is a bundled model's (or the real model's, see
    helpers/real_model.py) or is its folder, else None."""
    name = os.fspath(name_or_path)
    if name in BUNDLED or name in REAL_MODELS:
        return name
    try:
        folder = Path(name).expanduser().resolve()
    except (OSError, RuntimeError):
        return None
    for short in (*BUNDLED, *REAL_MODELS):
        if folder == named_path(short).resolve():
            return short
    return None


def course_model_origin(kind: str = "base") -> str:
    """Why :func:`course_model` returned what it did, in words (for the first cell of a lesson)."""
    env = _env_name(kind)
    if os.environ.get(env, "").strip():
        return f"from the environment variable {env}"
    return f"bundled default, {env} not set"


def _env_name(kind: str) -> str:
    if kind not in COURSE_MODEL_ENV:
        raise CourseError(
            Diagnosis(
                title=f"Unknown model kind {kind!r}",
                cause="The course has one model per kind, and this kind is not one of them.",
                fix=f"Use kind= one of: {', '.join(repr(k) for k in COURSE_MODEL_ENV)}.",
            )
        )
    return COURSE_MODEL_ENV[kind]


# --------------------------------------------------------------------------- reachability

_probe_cache: dict[tuple[str, int], tuple[bool, BaseException | None]] = {}
_probe_lock = threading.Lock()


def hub_endpoint() -> tuple[str, int]:
    """Host and port that a connection to the hub really opens (the proxy's, when one is set)."""
    parts = urlsplit(hub_constants.ENDPOINT)
    host = parts.hostname or "huggingface.co"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(parts.scheme or "https")
    if proxy and not urllib.request.proxy_bypass(host):
        proxy_parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if proxy_parts.hostname:
            return proxy_parts.hostname, proxy_parts.port or 80
    return host, port


def hub_reachable(*, refresh: bool = False, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the hub endpoint opens within ``timeout`` seconds.

    The answer is cached per process and endpoint (``refresh=True`` asks again). The probe runs in
    a thread so that a hanging DNS lookup cannot hold the caller longer than ``timeout`` either.
    """
    return _probe(refresh=refresh, timeout=timeout)[0]


def _probe(
    *, refresh: bool = False, timeout: float = PROBE_TIMEOUT_S
) -> tuple[bool, BaseException | None]:
    key = hub_endpoint()
    with _probe_lock:
        if not refresh and key in _probe_cache:
            return _probe_cache[key]
    outcome: list[tuple[bool, BaseException | None]] = []

    def connect() -> None:
        try:
            with socket.create_connection(key, timeout=timeout):
                outcome.append((True, None))
        except OSError as exc:
            outcome.append((False, exc))

    worker = threading.Thread(target=connect, name="hub-probe", daemon=True)
    worker.start()
    worker.join(timeout + 0.1)
    result = outcome[0] if outcome else (
        False, TimeoutError(f"no answer from {key[0]}:{key[1]} within {timeout:.1f} s")
    )
    with _probe_lock:
        _probe_cache[key] = result
    return result


def offline_reason() -> tuple[str, BaseException | None] | None:
    """Why the hub cannot be used right now (and the probe's exception), or None when it can."""
    if is_offline_mode() or _env_true("HF_HUB_OFFLINE") or _env_true("TRANSFORMERS_OFFLINE"):
        return "offline mode is on (HF_HUB_OFFLINE=1)", None
    reachable, error = _probe()
    if reachable:
        return None
    host, port = hub_endpoint()
    return f"the hub endpoint {host}:{port} cannot be reached ({error})", error


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}


@contextlib.contextmanager
def simulate_no_network(*, empty_cache: bool = True) -> Iterator[None]:
    """Within the block, this machine looks like a fresh one with no network, to the hub client
    and to the course helpers: the hub endpoint is a closed port on this machine (connections are
    refused at once), offline mode is off, and (``empty_cache``) the hub cache is an empty folder.

    Lessons use it to show, the same way everywhere, what a learner without a network meets.
    Nothing outside the block changes; the environment and huggingface_hub's settings come back.
    """
    import tempfile
    from unittest import mock

    closed_port = "http://127.0.0.1:9"  # the discard port: nothing listens there
    masked = {k: "" for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT")}
    proxies = {k: "" for k in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy",
                               "https_proxy", "all_proxy")}
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.dict(os.environ, {**masked, **proxies}))
        stack.enter_context(mock.patch.object(hub_constants, "ENDPOINT", closed_port))
        # file addresses come from a template built at import from the endpoint: that too
        stack.enter_context(mock.patch.object(
            hub_constants, "HUGGINGFACE_CO_URL_TEMPLATE",
            closed_port + "/{repo_id}/resolve/{revision}/{filename}"))
        stack.enter_context(mock.patch.object(hub_constants, "HF_HUB_OFFLINE", False))
        if empty_cache:
            folder = stack.enter_context(tempfile.TemporaryDirectory())
            stack.enter_context(mock.patch.object(hub_constants, "HF_HUB_CACHE", folder))
        yield


# --------------------------------------------------------------------------- resolve


def resolve(name_or_path: str | os.PathLike, *, revision: str | None = None) -> ResolvedModel:
    """Find out where ``name_or_path`` lives before ``from_pretrained`` does, and fail fast.

    Order: a bundled short name (or the real model's, once built); an existing folder; a path
    that does not exist (error); a hub id (validated, then found in the cache or downloaded;
    offline with no cached copy is an error).
    """
    requested = os.fspath(name_or_path)
    short = bundled_name(requested)
    if short in REAL_MODELS:
        from helpers import real_model

        folder = named_path(short)
        if not real_model.is_built(folder):
            raise CourseError(real_model.missing_diagnosis())
        return ResolvedModel(requested, str(folder), "real model", True, str(folder), revision)
    if short is not None:
        folder = bundled_path(short)
        if not folder.is_dir():
            raise CourseError(
                Diagnosis(
                    title=f"Bundled model {requested!r} is missing",
                    cause=f"The folder {folder} does not exist: the bundled models have not been "
                    "built (or were deleted) in this checkout.",
                    fix="Run `make models` from the repository root, or reinstall the package.",
                )
            )
        return ResolvedModel(requested, str(folder), "bundled", True, str(folder), revision)

    path = Path(requested).expanduser()
    if path.is_dir():
        folder = str(path.resolve())
        return ResolvedModel(requested, folder, "local folder", True, folder, revision)
    if path.is_file():
        raise CourseError(
            Diagnosis(
                title=f"{requested!r} is a file, not a model folder",
                cause="from_pretrained wants the folder that holds config.json and the weights, "
                "not one of the files inside it.",
                fix=f"Pass the folder instead: {str(path.resolve().parent)!r}.",
            )
        )
    if looks_like_path(requested):
        raise CourseError(_missing_folder(requested))

    try:
        validate_repo_id(requested)
    except HFValidationError as exc:
        raise CourseError(
            Diagnosis(
                title=f"{requested!r} is neither a folder nor a valid hub id",
                cause=f"No folder has this name and it is not a well-formed hub id: {exc}",
                fix="A hub id looks like 'gpt2' or 'HuggingFaceTB/SmolLM2-135M' (letters, digits, "
                "'-', '_', '.'; at most one '/'). For a local model pass its folder path. "
                f"Bundled models: {', '.join(BUNDLED)}.",
            )
        ) from exc

    cached = try_to_load_from_cache(requested, "config.json", revision=revision)
    cached_folder = str(Path(cached).parent) if isinstance(cached, str) else None
    problem = offline_reason()
    if problem is None:
        if cached_folder:
            return ResolvedModel(requested, requested, "hub cache", False, cached_folder, revision)
        return ResolvedModel(requested, requested, "hub download", False, None, revision)
    if cached_folder:
        return ResolvedModel(requested, requested, "hub cache", True, cached_folder, revision)
    why, error = problem
    raise CourseError(_not_available_offline(requested, why, revision)) from error


def checkpoint_folder(name_or_path: str | os.PathLike, *, revision: str | None = None) -> Path:
    """The folder on this machine that holds a model's files (config, weights, tokenizer).

    A bundled or local folder is returned as it is; for a hub id, its snapshot folder in the hub
    cache (``huggingface_hub.snapshot_download``: from the cache when offline, else fetching the
    config, safetensors and tokenizer files that are missing).
    """
    resolved = resolve(name_or_path, revision=revision)
    if resolved.folder and resolved.source != "hub cache":
        return Path(resolved.folder)
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(
        resolved.location, revision=revision, local_files_only=resolved.local_files_only,
        allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja"],
    ))


def looks_like_path(name: str) -> bool:
    """True for strings a person means as a file-system path rather than a hub id."""
    seps = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    return (
        name.startswith(("/", "./", "../", "~", ".\\", "..\\"))
        or name in {".", ".."}
        or name.endswith(tuple(seps))
        or name.count("/") > 1
        or (os.sep != "/" and os.sep in name)
        or (len(name) > 1 and name[1] == ":")  # a Windows drive letter
    )


def _missing_folder(requested: str) -> Diagnosis:
    return Diagnosis(
        title=f"Folder {requested!r} does not exist",
        cause=f"{requested!r} looks like a path, but there is no such folder (relative paths "
        f"start from the current directory, {os.getcwd()}). transformers would report this as "
        "a malformed hub repo id, which hides the real problem.",
        fix="Check the spelling and the current directory (os.getcwd()), or pass an absolute "
        f"path. Bundled models: {', '.join(BUNDLED)} (helpers.bundled_models() lists them).",
    )


def _not_available_offline(requested: str, why: str, revision: str | None,
                           cache_dir: str | os.PathLike | None = None) -> Diagnosis:
    rev = f" --revision {revision}" if revision else ""
    offline_mode = "HF_HUB_OFFLINE" in why
    slow = "" if offline_mode else (
        " Without this check, transformers would retry for about 23 s before saying the same."
    )
    connect = ("Unset HF_HUB_OFFLINE on a connected machine to download it" if offline_mode
               else "Connect to the internet and try again")
    return Diagnosis(
        title=f"{requested!r} is not available offline",
        cause=f"{requested!r} is not a folder here (current directory: {os.getcwd()}), so it "
        f"was taken as a hub id; {why}, and it is not in the hub cache "
        f"({cache_dir or hub_constants.HF_HUB_CACHE}).{slow}",
        fix=f"{connect}; or, on a connected machine, run "
        f"`python -m helpers prefetch {requested}{rev}` (or `hf download {requested}{rev}`), "
        "copy the cache folder here and set HF_HUB_OFFLINE=1; or use the bundled model "
        f"(unset COURSE_MODEL, or load {DEFAULT_MODEL['base']!r}).",
    )


# --------------------------------------------------------------------------- prefetch CLI

# Formats from_pretrained never reads for a torch model: skipping them keeps `gpt2` at ~0.5 GB
# instead of ~3 GB.
_NOT_FOR_TORCH = [
    "*.h5", "*.msgpack", "*.ot", "*.tflite", "*.onnx", "*.onnx_data", "onnx/*", "*.mlmodel",
    "coreml/*", "openvino/*", "*.gguf", "*.ckpt",
]
_PICKLE = ["*.bin", "*.pt", "*.pth"]
_PICKLE_SUFFIXES = tuple(pattern[1:] for pattern in _PICKLE)
#: files any one of which gives a tokenizer its vocabulary (for ``--check``)
_TOKENIZER_VOCABULARY = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt",
                         "spiece.model", "sentencepiece.bpe.model", "tekken.json")


def skipped_files(files: list[str]) -> list[str]:
    """The files of a repo that :func:`prefetch` leaves out: formats torch never reads, and the
    pickle weights when the repo also has safetensors (all the course loads)."""
    import fnmatch

    patterns = _ignore_patterns(files)
    return [f for f in files if any(fnmatch.fnmatch(f, p) for p in patterns)]


def _ignore_patterns(files: list[str]) -> list[str]:
    ignore = list(_NOT_FOR_TORCH)
    if any(f.endswith(".safetensors") for f in files):
        ignore += _PICKLE
    return ignore


def prefetch(name: str, *, revision: str | None = None, cache_dir: str | os.PathLike | None = None,
             log: Callable[[str], None] | None = None) -> str:
    """Download a hub model's files into the hub cache for later offline use; returns the folder.

    Uses ``huggingface_hub.snapshot_download``, with its progress bars. Pickle weights are
    skipped when the repo also has safetensors, which is all the course loads. ``cache_dir``:
    another hub cache than ``HF_HUB_CACHE`` (``--to``). ``log`` gets one line saying what is
    fetched and what is skipped. Offline, or with the hub unreachable, it answers within about a
    second: the folder when the model is cached already, else a :class:`CourseError`.
    """
    from huggingface_hub import HfApi, snapshot_download

    from helpers.diagnosis import diagnose

    if bundled_name(name) or looks_like_path(name) or Path(name).expanduser().exists():
        resolved = resolve(name, revision=revision)  # a folder: nothing to download
        return resolved.location
    try:
        validate_repo_id(name)
    except HFValidationError:
        resolve(name, revision=revision)  # raises the diagnosis of a malformed id
        raise
    problem = offline_reason()
    if problem is not None:
        cached = try_to_load_from_cache(name, "config.json", cache_dir=cache_dir,
                                        revision=revision)
        if isinstance(cached, str):  # nothing more can be fetched, and nothing is missing
            return str(Path(cached).parent)
        why, error = problem
        raise CourseError(_not_available_offline(name, why, revision, cache_dir)) from error
    try:
        files = HfApi().list_repo_files(name, revision=revision)
        skipped = skipped_files(files)
        if log is not None:
            log(_plan_line(name, revision, files, skipped))
        return snapshot_download(name, revision=revision, cache_dir=cache_dir,
                                 ignore_patterns=_ignore_patterns(files))
    except CourseError:
        raise
    except Exception as exc:  # a missing or gated repo, a download cut short: diagnosed
        raise CourseError(diagnose(exc, model=name)) from exc


def _plan_line(name: str, revision: str | None, files: list[str], skipped: list[str]) -> str:
    at = f" at {revision}" if revision else ""
    line = f"{name}{at}: fetching {len(files) - len(skipped)} of {len(files)} files"
    pickles = [f for f in skipped if f.endswith(_PICKLE_SUFFIXES)]
    others = [f for f in skipped if f not in pickles]
    if pickles:
        line += f"; skipped {', '.join(pickles)} (pickle: the repo has safetensors)"
    if others:
        line += f"; skipped {len(others)} file(s) torch does not read"
    if not any(f.endswith(".safetensors") for f in files) and any(
            f.endswith(_PICKLE_SUFFIXES) for f in files):
        line += ("; only pickle weights here: helpers.load refuses them unless "
                 "allow_pickle=True")
    return line


# --------------------------------------------------------------------------- cache check


@dataclass(frozen=True)
class CachedRevision:
    """One revision of a model in a hub cache, as ``prefetch --check`` lists it."""

    repo_id: str
    refs: tuple[str, ...]
    commit: str
    size_bytes: int
    files: int
    missing: tuple[str, ...]
    """what the course needs to load it offline and the snapshot lacks (empty: complete)"""
    interrupted: int = 0
    """downloads of this repo that stopped part way (``blobs/*.incomplete``)"""

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def revision(self) -> str:
        refs = ", ".join(self.refs)
        return f"{refs} ({self.commit[:7]})" if refs else self.commit[:7]


def cached_models(models: list[str] | None = None,
                  cache_dir: str | os.PathLike | None = None) -> list[CachedRevision]:
    """Every model revision in the hub cache (or those of ``models``), with size, file count and
    whether it holds what loading it offline needs. Reads the disk only
    (``huggingface_hub.scan_cache_dir``)."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    folder = Path(cache_dir or hub_constants.HF_HUB_CACHE)
    try:
        repos = [r for r in scan_cache_dir(folder).repos if r.repo_type == "model"]
    except CacheNotFound:
        repos = []
    found = []
    for repo in sorted(repos, key=lambda r: r.repo_id):
        if models and repo.repo_id not in models:
            continue
        interrupted = len(list((Path(repo.repo_path) / "blobs").glob("*.incomplete")))
        for rev in sorted(repo.revisions, key=lambda r: (not r.refs, sorted(r.refs))):
            found.append(CachedRevision(
                repo.repo_id, tuple(sorted(rev.refs)), rev.commit_hash, rev.size_on_disk,
                rev.nb_files, tuple(missing_for_loading(Path(rev.snapshot_path), Path(
                    repo.repo_path), rev.commit_hash)), interrupted))
    return found


def missing_for_loading(snapshot: Path, repo_path: Path | None = None,
                        commit: str | None = None) -> list[str]:
    """What a cached snapshot lacks to load offline: config.json, the weights (every shard its
    index names) and a tokenizer vocabulary; plus, when huggingface_hub cached the repo's file
    listing for this commit (``trees/<commit>.json``), every listed file that
    :func:`prefetch` would fetch and the snapshot does not hold."""
    import json

    def have(name: str) -> bool:
        return (snapshot / name).is_file()

    missing = [] if have("config.json") else ["config.json"]
    index = snapshot / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (OSError, ValueError, KeyError, TypeError):
            shards = ["model.safetensors.index.json (unreadable)"]
        missing += [s for s in shards if not have(s)]
    elif not have("model.safetensors") and not list(snapshot.glob("*.safetensors")):
        missing.append("model.safetensors")
    if not any(have(name) for name in _TOKENIZER_VOCABULARY):
        missing.append("tokenizer (" + " or ".join(_TOKENIZER_VOCABULARY[:3]) + ")")
    listed = _listed_files(repo_path, commit)
    if listed:
        skipped = set(skipped_files(listed))
        missing += [f for f in listed if f not in skipped and not have(f) and f not in missing]
    return missing


def _listed_files(repo_path: Path | None, commit: str | None) -> list[str]:
    """The repo's files at ``commit`` from huggingface_hub's tree-listing cache, if it has one."""
    if repo_path is None or commit is None:
        return []
    try:
        from huggingface_hub._tree_cache import read_tree_cache
    except ImportError:  # an internal module: without it, the checkpoint checks above remain
        return []
    entries = read_tree_cache(str(repo_path), commit)
    return sorted(entries) if entries else []


def check_cli(models: list[str], cache_dir: str | os.PathLike | None = None) -> int:
    """``prefetch --check``: print the cached revisions; 0 when every model asked for (or, with
    none asked for, every cached one) is complete."""
    folder = Path(cache_dir or hub_constants.HF_HUB_CACHE)
    found = cached_models(models, folder)
    rows = [("MODEL", "REVISION", "SIZE", "FILES", "STATUS")]
    for rev in found:
        status = "complete" if rev.complete else "INCOMPLETE: missing " + ", ".join(rev.missing)
        if rev.interrupted:
            status += f" ({rev.interrupted} interrupted download(s) in blobs/)"
        rows.append((rev.repo_id, rev.revision, format_bytes(rev.size_bytes), str(rev.files),
                     status))
    absent = [m for m in models if m not in {r.repo_id for r in found}]
    rows += [(m, "-", "-", "-", "NOT CACHED") for m in absent]
    total = sum(r.size_bytes for r in found)
    print(f"hub cache: {folder} ({len({r.repo_id for r in found})} model(s), "
          f"{format_bytes(total)})")
    if len(rows) > 1:
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4]))
                  + "  " + row[4])
    else:
        print("no models cached")
    ok = not absent and all(r.complete for r in found)
    return 0 if ok else 1


def cli(argv: list[str] | None = None) -> int:
    """``python -m helpers prefetch MODEL [MODEL...] [--revision R] [--to DIR] [--check]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "prefetch":
        argv = argv[1:]
    parser = argparse.ArgumentParser(
        prog="python -m helpers prefetch",
        description="Download hub models into the cache so that the course can use them offline "
        "(then set HF_HUB_OFFLINE=1 and COURSE_MODEL=<id>). Safetensors only: pickle weights "
        "are skipped when a repo has safetensors.",
    )
    parser.add_argument("models", nargs="*", metavar="MODEL", help="hub id, e.g. gpt2")
    parser.add_argument("--revision", default=None, help="branch, tag or commit to pin")
    parser.add_argument("--to", metavar="DIR", default=None,
                        help="download into DIR as a hub cache (for a room of machines: copy DIR "
                        "and set HF_HUB_CACHE=DIR HF_HUB_OFFLINE=1)")
    parser.add_argument("--check", action="store_true",
                        help="list what the cache (or DIR) holds for MODEL, or for every model: "
                        "revision, size, files, complete or not; downloads nothing")
    args = parser.parse_args(argv)
    cache_dir = str(Path(args.to).expanduser().resolve()) if args.to else None
    if args.check:
        return check_cli(args.models, cache_dir)
    if not args.models:
        parser.error("name at least one MODEL (or use --check)")
    status = 0
    for name in args.models:
        start = time.perf_counter()
        try:
            folder = prefetch(name, revision=args.revision, cache_dir=cache_dir, log=print)
        except CourseError as exc:
            print(f"[FAIL] {name}: {exc.diagnosis}", file=sys.stderr)
            status = 1
            continue
        print(f"[OK] {name} -> {folder} ({time.perf_counter() - start:.1f} s)", flush=True)
    if status == 0:
        where = cache_dir or hub_constants.HF_HUB_CACHE
        print(f"cache: {where}; offline use: HF_HUB_CACHE={where} HF_HUB_OFFLINE=1 "
              f"COURSE_MODEL={args.models[0]}")
        if cache_dir:
            print(f"for a room: copy {cache_dir} to each machine (or a shared disk) and set\n"
                  f"  HF_HUB_CACHE={cache_dir} HF_HUB_OFFLINE=1")
    return status
