"""The model zoo: tiny random-weight checkpoints that prove every lesson runs on any model.

A lesson must run with zero error cells, and stay true, when ``COURSE_MODEL`` /
``COURSE_CHAT_MODEL`` name another model. The zoo builds such models from configs at test time
(random weights, a few KB to a few hundred KB each, about 2 s for all of them) and names
**configurations**: the environment a lesson's kernel gets (``COURSE_MODEL``,
``COURSE_CHAT_MODEL``, ``HF_HUB_CACHE``, ``HF_HUB_OFFLINE``).

* Models reuse the bundled tokenizers (``stories-base`` for base models: no pad token, no chat
  template; ``stories-chat`` for chat models: ChatML template and a pad token), so prompts stay
  in-domain and ``vocab_size`` is ``len(tokenizer)``.
* Every model is also served from an offline hub cache laid out exactly as huggingface_hub lays
  it out (``models--course-zoo--NAME/{blobs,snapshots/<commit>,refs/main}``, snapshot files as
  relative symlinks into ``blobs/`` named by their etag), as the hub id ``course-zoo/NAME``.
* The zoo is built once into ``build/zoo/<key>/`` (gitignored; ``$COURSE_ZOO_DIR`` moves it),
  where the key hashes the model list, the code that builds them, the library versions and the
  bundled tokenizers: an unchanged zoo is reused by later sessions and by parallel test workers.

:func:`run_notebook` executes a lesson with nbclient under a configuration and returns every
error output (and, for solutions, every exercise check that did not say "correct").

Command line (from the repository root)::

    .venv/bin/python tests/model_zoo.py                   # every lesson x every configuration
    .venv/bin/python tests/model_zoo.py -c tiny -c bf16 solutions/01_loading.ipynb
    .venv/bin/python tests/model_zoo.py --list            # models and configurations
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_DIR = ROOT / "helpers" / "models"
DEFAULT_ZOO_DIR = ROOT / "build" / "zoo"
HUB_ORG = "course-zoo"

#: tokenizer of each kind: copied from the bundled model of that kind
TOKENIZER_SOURCE = {"base": "stories-base", "chat": "stories-chat"}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "chat_template.jinja", "chat_template.json")

# --------------------------------------------------------------------------- the models


@dataclass(frozen=True)
class ZooModel:
    """One zoo checkpoint: an architecture, a kind (which tokenizer), a dtype and a size."""

    name: str
    arch: str
    """transformers ``model_type``"""
    kind: str
    """"base" (stories-base tokenizer) or "chat" (stories-chat tokenizer)"""
    dtype: str = "float32"
    size: str = "small"
    """"small" (2 layers, 32 wide), "tiny" (1 layer, 4 wide: a few KB) or "sharded" (64 wide,
    saved in several safetensors shards with an index)"""
    tied: bool = True

    @property
    def hub_id(self) -> str:
        return f"{HUB_ORG}/{self.name}"


#: architectures besides the bundled GPT-2 and Llama, each with a configuration of its own
EXTRA_ARCHITECTURES = ("qwen2", "mistral", "phi3", "gpt_neox", "opt")

MODELS: dict[str, ZooModel] = {
    m.name: m
    for m in [
        # one base (float32, no pad token) and one chat model (bfloat16) per extra architecture
        ZooModel("qwen2-base", "qwen2", "base"),
        ZooModel("qwen2-chat", "qwen2", "chat", "bfloat16"),
        ZooModel("mistral-base", "mistral", "base", tied=False),
        ZooModel("mistral-chat", "mistral", "chat", "bfloat16", tied=False),
        ZooModel("phi3-base", "phi3", "base"),
        ZooModel("phi3-chat", "phi3", "chat", "bfloat16"),
        ZooModel("gpt-neox-base", "gpt_neox", "base", tied=False),
        ZooModel("gpt-neox-chat", "gpt_neox", "chat", "bfloat16", tied=False),
        ZooModel("opt-base", "opt", "base"),
        ZooModel("opt-chat", "opt", "chat", "bfloat16"),
        # a base model stored in bfloat16 (no pad token, no chat template)
        ZooModel("mistral-bf16-base", "mistral", "base", "bfloat16", tied=False),
        # smaller than any memory budget a lesson could pick; Llama base, GPT-2 chat on purpose
        ZooModel("tiny-base", "llama", "base", "bfloat16", size="tiny"),
        ZooModel("tiny-chat", "gpt2", "chat", "bfloat16", size="tiny"),
        # several shards + model.safetensors.index.json
        ZooModel("sharded-base", "qwen2", "base", size="sharded", tied=False),
        ZooModel("sharded-chat", "llama", "chat", "bfloat16", size="sharded", tied=False),
    ]
}

# --------------------------------------------------------------------------- configurations


@dataclass(frozen=True)
class Configuration:
    """What a lesson's kernel runs with: a zoo model (or the bundled one) per kind."""

    name: str
    base: str | None
    """zoo model name for COURSE_MODEL (None: the bundled model)"""
    chat: str | None
    """zoo model name for COURSE_CHAT_MODEL (None: the bundled model)"""
    hub: bool = False
    """name the models by hub id (served from the zoo's offline hub cache) instead of folder"""
    about: str = ""


CONFIGURATIONS: dict[str, Configuration] = {
    c.name: c
    for c in [
        Configuration("hub-id", "gpt-neox-base", "qwen2-chat", hub=True,
                      about="both models named by hub id, from the offline hub cache"),
        Configuration("bf16", "mistral-bf16-base", None,
                      about="a bfloat16 base model of another architecture"),
        Configuration("tiny", "tiny-base", "tiny-chat",
                      about="1-layer models of a few KB, smaller than any memory budget"),
        Configuration("sharded", "sharded-base", "sharded-chat",
                      about="checkpoints in several shards with a safetensors index"),
        Configuration("qwen2", "qwen2-base", "qwen2-chat", about="Qwen2 architecture"),
        Configuration("mistral", "mistral-base", "mistral-chat", about="Mistral architecture"),
        Configuration("phi3", "phi3-base", "phi3-chat", about="Phi-3 architecture"),
        Configuration("gpt-neox", "gpt-neox-base", "gpt-neox-chat",
                      about="GPT-NeoX architecture"),
        Configuration("opt", "opt-base", "opt-chat", about="OPT architecture"),
        Configuration("chat-pad", "phi3-chat", "phi3-chat",
                      about="a chat model with a chat template and a pad token as both models"),
    ]
}

#: the configurations `make test` runs every lesson under (the rest: `make test-models`)
CI_CONFIGURATIONS = ("hub-id", "bf16", "tiny")
#: the configuration the student copies (notebooks/) run under in `make test`
CI_STUDENT_CONFIGURATIONS = ("hub-id",)


def select_configurations(option: str | None) -> list[str]:
    """Configuration names for ``--zoo``: "ci" (default), "all", or names separated by commas."""
    option = (option or "ci").strip()
    if option == "ci":
        return list(CI_CONFIGURATIONS)
    if option == "all":
        return list(CONFIGURATIONS)
    names = [n.strip() for n in option.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGURATIONS]
    if unknown:
        raise ValueError(f"unknown zoo configuration(s) {', '.join(unknown)}; "
                         f"known: ci, all, {', '.join(CONFIGURATIONS)}")
    return names


# --------------------------------------------------------------------------- building


def _dims(model: ZooModel) -> dict:
    """Config keyword arguments for the model's architecture and size."""
    hidden, layers, heads, kv = {"tiny": (4, 1, 1, 1), "small": (32, 2, 4, 2),
                                 "sharded": (64, 2, 4, 2)}[model.size]
    inner = 2 * hidden
    positions = 512  # as the bundled models: lessons may generate a few hundred tokens
    arch = model.arch
    if arch == "gpt2":
        return dict(n_embd=hidden, n_layer=layers, n_head=heads, n_inner=inner,
                    n_positions=positions)
    common = dict(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                  max_position_embeddings=positions)
    if arch in {"llama", "qwen2", "mistral"}:
        extra = {"sliding_window": None} if arch == "mistral" else {}
        return dict(common, intermediate_size=inner, num_key_value_heads=kv, **extra)
    if arch == "phi3":
        return dict(common, intermediate_size=inner, num_key_value_heads=kv,
                    original_max_position_embeddings=positions)
    if arch == "gpt_neox":
        return dict(common, intermediate_size=inner)
    if arch == "opt":
        return dict(common, ffn_dim=inner, word_embed_proj_dim=hidden)
    raise ValueError(f"no zoo dimensions for architecture {arch!r}")


def build_model(model: ZooModel, folder: Path) -> Path:
    """Write one zoo checkpoint (config, random weights, the bundled tokenizer) to ``folder``."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder.mkdir(parents=True)
    source = BUNDLED_DIR / TOKENIZER_SOURCE[model.kind]
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copyfile(source / name, folder / name)
    tok = AutoTokenizer.from_pretrained(folder)
    config = AutoConfig.for_model(
        model.arch,
        vocab_size=len(tok),
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=model.tied,
        **_dims(model),
    )
    torch.manual_seed(0)
    net = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, model.dtype))
    extra = {}
    if model.size == "sharded":
        total = sum(p.numel() * p.element_size() for p in net.parameters())
        extra["max_shard_size"] = max(total // 4, 1)
    net.save_pretrained(folder, **extra)
    return folder


def _git_blob_sha1(data: bytes) -> str:
    """The etag the hub gives a regular (non-LFS) file: its git blob id."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def add_to_hub_cache(folder: Path, cache: Path, repo_id: str) -> str:
    """Put the files of ``folder`` into the hub cache ``cache`` as ``repo_id`` at ``main``.

    The layout is huggingface_hub's (``file_download.hf_hub_download``): each file's content is
    ``blobs/<etag>`` (sha256 for LFS files such as safetensors, the git blob sha1 otherwise),
    ``snapshots/<commit>/<file>`` is a relative symlink to it and ``refs/main`` holds the commit.
    Returns the commit hash.
    """
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    blobs = repo / "blobs"
    blobs.mkdir(parents=True)
    etags = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        lfs = path.suffix == ".safetensors"
        etag = hashlib.sha256(data).hexdigest() if lfs else _git_blob_sha1(data)
        (blobs / etag).write_bytes(data)
        etags[path.relative_to(folder).as_posix()] = etag
    commit = hashlib.sha1(json.dumps(etags, sort_keys=True).encode()).hexdigest()
    snapshot = repo / "snapshots" / commit
    for relative, etag in etags.items():
        pointer = snapshot / relative
        pointer.parent.mkdir(parents=True, exist_ok=True)
        pointer.symlink_to(os.path.relpath(blobs / etag, pointer.parent))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)  # no newline, as huggingface_hub writes it
    return commit


def zoo_key() -> str:
    """Hash of what the zoo is built from: the model list, the code that builds it, the library
    versions and the bundled tokenizers (editing the runner or the configurations keeps it)."""
    import inspect

    import huggingface_hub
    import tokenizers
    import torch
    import transformers

    digest = hashlib.sha256(repr(list(MODELS.values())).encode())
    for function in (_dims, build_model, _git_blob_sha1, add_to_hub_cache, _build_into):
        digest.update(inspect.getsource(function).encode())
    digest.update(f"{torch.__version__} {transformers.__version__} {tokenizers.__version__} "
                  f"{huggingface_hub.__version__}".encode())
    for kind in sorted(TOKENIZER_SOURCE):
        for name in TOKENIZER_FILES:
            path = BUNDLED_DIR / TOKENIZER_SOURCE[kind] / name
            if path.is_file():
                digest.update(name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class Zoo:
    """A built zoo: ``models/<name>`` folders and the hub cache ``hub/``."""

    root: Path
    build_seconds: float = 0.0
    """time this process spent building it (0.0 when an existing zoo was reused)"""

    @property
    def hub_cache(self) -> Path:
        return self.root / "hub"

    def folder(self, name: str) -> Path:
        MODELS[name]  # KeyError for an unknown model
        return self.root / "models" / name

    def location(self, name: str, hub: bool = False) -> str:
        """What COURSE_MODEL gets for the model: its folder path, or its hub id."""
        return MODELS[name].hub_id if hub else str(self.folder(name))

    def env(self, configuration: str) -> dict[str, str]:
        """The environment variables a kernel gets under ``configuration``.

        Every configuration is offline (``HF_HUB_OFFLINE=1``) and sees only the zoo's hub cache;
        a kind whose model is None is left unset, so the lesson uses the bundled model.
        """
        config = CONFIGURATIONS[configuration]
        env = {"HF_HUB_CACHE": str(self.hub_cache), "HF_HUB_OFFLINE": "1"}
        for var, name in (("COURSE_MODEL", config.base), ("COURSE_CHAT_MODEL", config.chat)):
            if name is not None:
                env[var] = self.location(name, hub=config.hub)
        return env


def build_zoo(root: Path | str | None = None, *, force: bool = False) -> Zoo:
    """The zoo under ``root`` (default ``$COURSE_ZOO_DIR`` or ``build/zoo``), built if needed.

    Built in a temporary folder and renamed into place, under a file lock, so that parallel
    test workers build it once and never see half a zoo.
    """
    from filelock import FileLock

    base = Path(root or os.environ.get("COURSE_ZOO_DIR") or DEFAULT_ZOO_DIR)
    base.mkdir(parents=True, exist_ok=True)
    key = zoo_key()
    final = base / key
    with FileLock(str(base / ".lock")):
        if force and final.exists():
            shutil.rmtree(final)
        if (final / "zoo.json").is_file():
            (final / "zoo.json").touch()  # in use: see the clean-up of stale zoos below
            return Zoo(final)
        start = time.perf_counter()
        scratch = Path(tempfile.mkdtemp(prefix=f".building-{key}-", dir=base))
        try:
            _build_into(scratch, key)
            if final.exists():
                shutil.rmtree(final)
            scratch.rename(final)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        _remove_stale(base, keep=final)
        return Zoo(final, time.perf_counter() - start)


def _remove_stale(base: Path, keep: Path, unused_s: float = 3600) -> None:
    """Remove zoos of other keys that nobody built or reused for an hour (a test session that
    started before an edit may still be running lessons on its zoo)."""
    now = time.time()
    for stale in base.iterdir():
        if not stale.is_dir() or stale == keep:
            continue
        marker = stale / "zoo.json"
        try:
            last_used = (marker if marker.exists() else stale).stat().st_mtime
        except OSError:
            continue
        if now - last_used > unused_s:
            shutil.rmtree(stale, ignore_errors=True)


def _build_into(root: Path, key: str) -> None:
    import transformers

    quiet = transformers.utils.logging.is_progress_bar_enabled()
    transformers.utils.logging.disable_progress_bar()
    try:
        commits = {}
        for model in MODELS.values():
            folder = build_model(model, root / "models" / model.name)
            commits[model.hub_id] = add_to_hub_cache(folder, root / "hub", model.hub_id)
    finally:
        if quiet:
            transformers.utils.logging.enable_progress_bar()
    manifest = {"key": key, "models": sorted(MODELS), "hub_commits": commits,
                "configurations": sorted(CONFIGURATIONS)}
    (root / "zoo.json").write_text(json.dumps(manifest, indent=1))


# --------------------------------------------------------------------------- running a lesson

#: variables a lesson kernel must not inherit from the test process: the configuration decides
CONTROLLED_ENV = ("COURSE_MODEL", "COURSE_CHAT_MODEL", "HF_HUB_CACHE", "HF_HUB_OFFLINE",
                  "TRANSFORMERS_OFFLINE", "HF_HOME", "FROM_PRETRAINED_PROGRESS")


@dataclass(frozen=True)
class Problem:
    """One failing cell: an error output, or (solutions only) a check that did not pass."""

    cell: int
    """index of the cell in the notebook (0-based, markdown cells counted)"""
    first_line: str
    ename: str
    evalue: str

    def __str__(self) -> str:
        return f"cell {self.cell} ({self.first_line!r}): {self.ename}: {self.evalue}"


@dataclass
class RunResult:
    notebook: Path
    configuration: str
    seconds: float
    errors: list[Problem] = field(default_factory=list)
    """every output of type "error" (lessons catch intended errors with expect_error, so any
    error output is a real failure)"""
    checks_not_passed: list[Problem] = field(default_factory=list)
    """exercise checks that said "not yet" (a failure in solutions/, expected in notebooks/)"""
    cell_seconds: dict[int, float] = field(default_factory=dict)
    """seconds each code cell took (nbclient's recorded timing), by cell index"""
    first_lines: dict[int, str] = field(default_factory=dict)
    sources: dict[int, str] = field(default_factory=dict)
    texts: dict[int, str] = field(default_factory=dict)
    """each code cell's printed text (stdout and text/plain results), by cell index"""

    def text_of(self, marker: str) -> str:
        """The printed text of the one code cell whose source contains ``marker``."""
        found = [i for i, source in self.sources.items() if marker in source]
        assert len(found) == 1, f"{len(found)} cells contain {marker!r}"
        return self.texts.get(found[0], "")

    def slowest(self, count: int = 3) -> list[tuple[int, str, float]]:
        """The ``count`` slowest cells: (index, first line, seconds)."""
        ranked = sorted(self.cell_seconds.items(), key=lambda item: -item[1])[:count]
        return [(index, self.first_lines.get(index, ""), sec) for index, sec in ranked]

    @property
    def problems(self) -> list[Problem]:
        """What fails the run: the errors, plus unpassed checks for a solution notebook."""
        solution = self.notebook.parent.name == "solutions"
        return self.errors + (self.checks_not_passed if solution else [])

    def report(self) -> str:
        where = f"{_relative(self.notebook)} under {self.configuration!r}"
        if not self.problems:
            return f"{where}: no error cells ({self.seconds:.1f} s)"
        lines = [f"{where}: {len(self.problems)} failing cell(s) ({self.seconds:.1f} s)"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()[:80]
    return ""


def _kernel_manager_class():
    """A kernel manager whose "python3" is this interpreter (as nbval's --nbval-current-env):
    the venv's kernel.json says just ``python``, which the kernel's PATH may resolve elsewhere."""
    import ipykernel.kernelspec
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class CurrentEnvSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return self.kernel_spec_class(resource_dir=ipykernel.kernelspec.RESOURCES,
                                          **ipykernel.kernelspec.get_kernel_dict())

    class CurrentEnvKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self):
            return CurrentEnvSpecs(data_dir=self.data_dir)

    return CurrentEnvKernelManager


#: torch threads per lesson kernel. The zoo's models are tiny, so a second thread gains nothing,
#: and while other processes compete for the cores (parallel test workers, a busy machine) the
#: thread pool's spinning is ruinous: measured here with a load average of 10 on 2 cores, 100
#: greedy tokens ran at 58-326 tok/s with one thread and at 2-15 tok/s with two.
KERNEL_THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def kernel_env(extra: dict[str, str], progress_file: Path) -> dict[str, str]:
    """This process's environment without :data:`CONTROLLED_ENV`, with :data:`KERNEL_THREADS`
    and a progress file, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in CONTROLLED_ENV}
    env.update(KERNEL_THREADS)
    env["FROM_PRETRAINED_PROGRESS"] = str(progress_file)
    env.update(extra)
    return env


def run_notebook(notebook: Path | str, env: dict[str, str], *, configuration: str = "",
                 timeout: int = 600) -> RunResult:
    """Execute ``notebook`` with nbclient (kernel cwd: the notebook's folder) under ``env``.

    All cells run even after an error (``allow_errors``), so one run reports every error output:
    cell index, the cell's first source line, ename and evalue. The stored notebook is not
    changed; learner progress goes to a temporary file.
    """
    import nbformat
    from nbclient import NotebookClient

    notebook = Path(notebook).resolve()
    nb = nbformat.read(notebook, as_version=4)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="zoo-progress-") as scratch:
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3", allow_errors=True,
            kernel_manager_class=_kernel_manager_class(),
            resources={"metadata": {"path": str(notebook.parent)}},
        )
        client.execute(env=kernel_env(env, Path(scratch) / "progress.json"))
    result = RunResult(notebook, configuration, time.perf_counter() - start)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        result.first_lines[index] = _first_line(cell.source)
        result.sources[index] = cell.source
        result.texts[index] = "".join(
            str(o.get("text", "")) if o.get("output_type") == "stream"
            else str(o.get("data", {}).get("text/plain", "")) for o in cell.get("outputs", []))
        timing = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            result.cell_seconds[index] = _seconds_between(timing["iopub.execute_input"],
                                                          timing["shell.execute_reply"])
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                result.errors.append(Problem(index, _first_line(cell.source),
                                             output.get("ename", ""), output.get("evalue", "")))
            elif "fp-check-not-yet" in str(output.get("data", {}).get("text/html", "")):
                text = str(output.get("data", {}).get("text/plain", "")).strip()
                result.checks_not_passed.append(
                    Problem(index, _first_line(cell.source), "check not passed", text))
    return result


def _seconds_between(start: str, end: str) -> float:
    from datetime import datetime

    def parse(stamp: str) -> datetime:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))

    return max((parse(end) - parse(start)).total_seconds(), 0.0)


def run_lesson(notebook: Path | str, configuration: str, zoo: Zoo, *,
               timeout: int = 600) -> RunResult:
    """:func:`run_notebook` under one of :data:`CONFIGURATIONS` of ``zoo``."""
    return run_notebook(notebook, zoo.env(configuration), configuration=configuration,
                        timeout=timeout)


# --------------------------------------------------------------------------- command line


def _lesson_notebooks() -> list[Path]:
    sys.path.insert(0, str(ROOT))
    from helpers.course import lessons

    return [p for lesson in lessons() for p in (lesson.solution, lesson.notebook)]


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python tests/model_zoo.py",
        description="Run lesson notebooks under model-zoo configurations and list every error "
        "cell (and every solution check that did not pass).")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: both copies of every lesson)")
    parser.add_argument("-c", "--config", action="append", dest="configs", metavar="NAME",
                        help="configuration (repeatable; 'ci' or 'all'; default all)")
    parser.add_argument("--list", action="store_true", help="list models and configurations")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the zoo")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("--slowest", type=int, default=0, metavar="N",
                        help="also list the N slowest cells of each run")
    args = parser.parse_args(argv)

    if args.list:
        for model in MODELS.values():
            print(f"model  {model.name:18} {model.arch:9} {model.kind:5} {model.dtype:9} "
                  f"{model.size}")
        for config in CONFIGURATIONS.values():
            mark = " (ci)" if config.name in CI_CONFIGURATIONS else ""
            print(f"config {config.name:10} base={config.base} chat={config.chat} "
                  f"{'by hub id' if config.hub else ''}{mark}: {config.about}")
        return 0
    configs: list[str] = []
    for option in args.configs or ["all"]:
        configs += [c for c in select_configurations(option) if c not in configs]
    zoo = build_zoo(force=args.rebuild)
    built = f"built in {zoo.build_seconds:.1f} s" if zoo.build_seconds else "reused"
    print(f"zoo: {zoo.root} ({built})")
    notebooks = args.notebooks or _lesson_notebooks()
    failures = []
    for config in configs:
        for notebook in notebooks:
            result = run_lesson(notebook, config, zoo, timeout=args.timeout)
            print(result.report(), flush=True)
            if args.slowest:
                for index, first, seconds in result.slowest(args.slowest):
                    print(f"    {seconds:6.1f} s  cell {index}  {first}")
            failures += [(config, _relative(result.notebook), p) for p in result.problems]
    if failures:
        print("\n| config | notebook | cell | error |\n| --- | --- | --- | --- |")
        for config, notebook, p in failures:
            evalue = p.evalue.replace("|", "\\|").replace("\n", " ")[:160]
            first = p.first_line.replace("|", "\\|")
            print(f"| {config} | {notebook} | {p.cell} `{first}` | {p.ename}: {evalue} |")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
