"""``load()``: AutoTokenizer + AutoModelForCausalLM with the checks a careful engineer adds.

The call underneath is exactly::

    model, loading_info = AutoModelForCausalLM.from_pretrained(
        location, dtype=..., device_map=..., revision=..., local_files_only=...,
        trust_remote_code=False, output_loading_info=True, **kwargs)
    AutoTokenizer.from_pretrained(location, revision=..., local_files_only=...,
                                  trust_remote_code=False)

Before it, the arguments are checked so that a mistake answers at once with its cause and fix,
and the files on disk must hold a tokenizer (checked before the weights load); after it, a
:class:`LoadReport` says what was really loaded, including weights the checkpoint lacked
(``loading_info``: newly initialised, random) with a WARNING row. Any exception from transformers or
torch comes back as a :class:`~helpers.errors.CourseError` diagnosed by ``helpers.diagnosis``,
with the original exception chained underneath.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch

from helpers.display import ShowsAsText, format_bytes, html_table, text_table
from helpers.errors import CourseError, Diagnosis
from helpers.hardware import (
    DTYPE_NAMES,
    available_devices,
    dtype_name,
    parse_dtype,
    recommend,
)
from helpers.hub import ResolvedModel, course_model, resolve
from helpers.memory import bytes_by_device, footprint, placement_name

#: device_map strategies from_pretrained accepts (transformers 5.x; "auto" == "balanced")
STRATEGIES = ("auto", "balanced", "balanced_low_0", "sequential")
#: devices accepted in a device_map besides GPU indices
DEVICE_KINDS = ("cpu", "cuda", "mps", "meta")

VALID_DEVICE_MAPS = (
    "'auto', 'balanced', 'balanced_low_0', 'sequential'; a device string 'cpu', 'cuda', "
    "'cuda:N', 'mps' or 'meta'; a GPU index N >= 0; a torch.device; or a dict from module name "
    "to device (values may also be 'disk')"
)

_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class LoadReport(ShowsAsText):
    """What ``load()`` really loaded, and where. ``summary(stable=True)`` leaves out the fields
    that change from run to run (paths, seconds), for notebooks whose output is compared."""

    requested: str
    source: str
    location: str
    model_class: str
    tokenizer_class: str
    device_map: dict[str, str]
    dtypes: tuple[str, ...]
    footprint_bytes: int
    bytes_by_device: dict[str, int]
    load_seconds: float
    transformers_version: str
    missing_weights: tuple[str, ...] = ()
    """parameters the model has and the checkpoint lacks: newly initialised (random)"""
    unexpected_weights: tuple[str, ...] = ()
    """tensors in the checkpoint that the model has no place for: not used"""
    mismatched_weights: tuple[tuple[str, str, str], ...] = ()
    """(name, shape in the checkpoint, shape the config builds): newly initialised (random)"""

    VOLATILE = ("location", "load_seconds")

    @property
    def newly_initialised(self) -> tuple[str, ...]:
        """Parameters that hold random values instead of the checkpoint's."""
        return tuple(sorted({*self.missing_weights, *(k for k, _, _ in self.mismatched_weights)}))

    def to_dict(self, stable: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if stable:
            for key in self.VOLATILE:
                data.pop(key)
            data["requested"] = self._stable_name()
        return data

    def _stable_name(self) -> str:
        """``requested`` is already a short name (no machine path): see ``hub.model_label``."""
        return self.requested

    def rows(self, stable: bool = False) -> list[tuple[str, str]]:
        placements = ", ".join(f"{k}: {format_bytes(v)}" for k, v in self.bytes_by_device.items())
        rows = [
            ("model", self._stable_name() if stable else self.requested),
            ("source", self.source),
            ("location", self.location),
            ("class", self.model_class),
            ("tokenizer", self.tokenizer_class),
            ("device map", _format_device_map(self.device_map)),
            ("dtype", ", ".join(self.dtypes)),
            ("footprint", f"{format_bytes(self.footprint_bytes)} ({placements})"),
            ("load time", f"{self.load_seconds:.2f} s"),
            ("transformers", self.transformers_version),
        ]
        rows += self._weight_rows()
        if stable:
            rows = [r for r in rows if r[0] not in {"location", "load time"}]
        return rows

    def _weight_rows(self) -> list[tuple[str, str]]:
        """Rows only when the checkpoint and the model disagree (none for a clean load)."""
        rows = []
        fresh = self.newly_initialised
        if fresh:
            rows.append(("WARNING", f"{len(fresh)} weight tensor(s) newly initialised with random "
                         "values: this model will not behave as trained (see the rows below)"))
        if self.missing_weights:
            rows.append(("missing weights", _names(self.missing_weights)
                         + " (not in the checkpoint: random)"))
        if self.mismatched_weights:
            shown = [f"{k} {c} in the checkpoint vs {w} in the model"
                     for k, c, w in self.mismatched_weights[:3]]
            more = len(self.mismatched_weights) - len(shown)
            rows.append(("mismatched weights", "; ".join(shown) + (f"; and {more} more" if more
                                                                    else "") + " (random)"))
        if self.unexpected_weights:
            rows.append(("unexpected weights", _names(self.unexpected_weights)
                         + f" (in the checkpoint, unused by {self.model_class})"))
        return rows

    def summary(self, stable: bool = False) -> str:
        return text_table(self.rows(stable))

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return html_table(self.rows(), "Load report")


def _names(keys: tuple[str, ...], limit: int = 6) -> str:
    """Parameter names, layers merged the way transformers' own load report does it
    (``h.{0, 1}.mlp.c_fc.weight``), at most ``limit`` of them."""
    try:
        from transformers.utils.loading_report import update_key_name

        merged = sorted(update_key_name(list(keys)))
    except Exception:  # an internal helper: fall back to the plain names
        merged = sorted(keys)
    shown = ", ".join(merged[:limit])
    return shown + (f" and {len(merged) - limit} more" if len(merged) > limit else "")


def _format_device_map(device_map: dict[str, str]) -> str:
    if len(device_map) <= 6:
        return ", ".join(f"{k or '(whole model)'}: {v}" for k, v in device_map.items())
    counts: dict[str, int] = {}
    for value in device_map.values():
        counts[value] = counts.get(value, 0) + 1
    return f"{len(device_map)} parts: " + ", ".join(f"{n} on {d}" for d, n in counts.items())


class LoadedModel(NamedTuple):
    """``model, tokenizer, report = helpers.load()``; or ``loaded.model`` and friends."""

    model: Any
    tokenizer: Any
    report: LoadReport

    def __repr__(self) -> str:
        return f"LoadedModel(model={self.report.model_class}, " \
               f"tokenizer={self.report.tokenizer_class})\n{self.report}"

    def _repr_html_(self) -> str:
        return self.report._repr_html_()


def make_report(model, tokenizer, resolved: ResolvedModel, seconds: float,
                loading_info: dict | None = None) -> LoadReport:
    """Describe a loaded model: real device map, every parameter dtype, footprint, and (from
    ``from_pretrained(..., output_loading_info=True)``) the weights the checkpoint lacked, had
    in excess, or had in another shape."""
    import transformers

    info = loading_info or {}
    mismatched = tuple(sorted(
        (str(key), _shape_text(ckpt), _shape_text(wanted))
        for key, ckpt, wanted in info.get("mismatched_keys", ())
    ))

    device_map = getattr(model, "hf_device_map", None)
    if device_map:
        device_map = {k: placement_name(v) for k, v in device_map.items()}
    else:
        device_map = {"": str(model.device)}
    dtypes = tuple(sorted({dtype_name(p.dtype) for p in model.parameters()}))
    return LoadReport(
        requested=resolved.name,
        source=resolved.source,
        location=resolved.location,
        model_class=type(model).__name__,
        tokenizer_class=type(tokenizer).__name__,
        device_map=device_map,
        dtypes=dtypes,
        footprint_bytes=footprint(model),
        bytes_by_device=bytes_by_device(model),
        load_seconds=round(seconds, 3),
        transformers_version=transformers.__version__,
        missing_weights=tuple(sorted(info.get("missing_keys", ()))),
        unexpected_weights=tuple(sorted(info.get("unexpected_keys", ()))),
        mismatched_weights=mismatched,
    )


def _shape_text(shape: object) -> str:
    try:
        return "[" + ", ".join(str(int(n)) for n in shape) + "]"  # type: ignore[union-attr]
    except TypeError:
        return str(shape)


# --------------------------------------------------------------------------- validation


def check_device_map(device_map: object) -> object:
    """Check a device_map before from_pretrained sees it; returns it unchanged when valid."""
    if device_map is None or (isinstance(device_map, str) and device_map in STRATEGIES):
        return device_map
    if isinstance(device_map, dict):
        if not device_map:
            raise CourseError(_bad_device_map(device_map, "the dict is empty"))
        for key, value in device_map.items():
            if not isinstance(key, str):
                raise CourseError(_bad_device_map(
                    device_map, f"key {key!r} is not a module name (use '' for the whole model)"))
            if value != "disk":
                _check_device(value, device_map)
        return device_map
    if device_map == "disk":
        raise CourseError(_bad_device_map(
            device_map, "'disk' is only valid as a value inside a dict (or through max_memory), "
            "since the whole model cannot compute on disk"))
    _check_device(device_map, device_map)
    return device_map


def _check_device(value: object, device_map: object) -> None:
    if isinstance(value, bool):
        raise CourseError(_bad_device_map(device_map, f"{value!r} is not a device"))
    if isinstance(value, int):
        if value < 0:
            raise CourseError(_bad_device_map(device_map, f"GPU index {value} is negative"))
        device = torch.device("cuda", value)
    elif isinstance(value, torch.device):
        device = value
    elif isinstance(value, str):
        try:
            device = torch.device(value)
        except RuntimeError as exc:
            raise CourseError(_bad_device_map(device_map, f"{value!r} is not a device")) from exc
    else:
        raise CourseError(_bad_device_map(
            device_map, f"{type(value).__name__} {value!r} is not a device"))
    if device.type not in DEVICE_KINDS:
        raise CourseError(_bad_device_map(device_map, f"{value!r} is not a device the course uses"))
    if device.type in {"cpu", "meta"}:
        return
    here = available_devices()
    index = device.index if device.index is not None else 0
    exists = (f"cuda:{index}" in here) if device.type == "cuda" else ("mps" in here)
    if not exists:
        raise CourseError(
            Diagnosis(
                title=f"Device {str(device)!r} does not exist on this machine",
                cause=f"device_map asks for {str(device)!r}, but this machine has: "
                f"{', '.join(here)}. from_pretrained would fail inside torch with a less direct "
                "message.",
                fix="Leave device_map out to get the recommendation for this machine "
                f"({recommend().device_map!r}), or use device_map='auto', which uses whatever "
                "devices exist.",
            )
        )


def _bad_device_map(device_map: object, detail: str) -> Diagnosis:
    return Diagnosis(
        title=f"Invalid device_map {device_map!r}",
        cause=f"from_pretrained cannot place the model with this device_map: {detail}.",
        fix=f"Use one of: {VALID_DEVICE_MAPS}. Leave it out for this machine's recommendation.",
    )


def _accelerate_available() -> bool:
    """transformers' own check (the one from_pretrained applies to device_map)."""
    from transformers.integrations import accelerate as hf_accelerate

    return bool(hf_accelerate.is_accelerate_available())


def check_accelerate(device_map: object) -> None:
    """A device_map needs accelerate; say so before transformers does (with a longer message)."""
    if device_map is not None and not _accelerate_available():
        raise CourseError(
            Diagnosis(
                title="device_map needs the accelerate package",
                cause=f"device_map={device_map!r} is carried out by accelerate, which is not "
                "installed (or too old) in this environment.",
                fix="Install the course's pinned version: pip install 'accelerate==1.15.0' "
                "(or pip install -e . in the course folder). On a CPU, leaving device_map out "
                "also works: the model then loads without a device map.",
            )
        )


def pickle_only_weights(folder: str | None) -> list[str]:
    """Pickle weight files in a folder that has no safetensors (empty when safe or unknown)."""
    if not folder or not Path(folder).is_dir():
        return []
    files = [p.name for p in Path(folder).iterdir() if p.is_file()]
    if any(f.endswith(".safetensors") for f in files):
        return []
    return sorted(f for f in files if f.endswith(_PICKLE_SUFFIXES))


def _refuse_pickle(resolved: ResolvedModel, files: list[str]) -> Diagnosis:
    return Diagnosis(
        title="Checkpoint has only pickle weights",
        cause=f"{resolved.requested!r} stores its weights as {', '.join(files)}: Python pickle, "
        "which can run arbitrary code while loading (torch's weights_only loader narrows this "
        "but is not a guarantee). The course loads only safetensors, which hold nothing but "
        "tensors and load faster (memory-mapped).",
        fix="Convert once on a trusted machine: load it with allow_pickle=True and call "
        "model.save_pretrained(folder) (writes model.safetensors); or, if you trust the source, "
        "pass allow_pickle=True.",
    )


def _json_from(location: str, filename: str, revision: str | None) -> dict:
    """A JSON file of a local folder or a cached hub snapshot, or {} (missing or unreadable)."""
    import json

    from transformers.utils.hub import cached_file

    try:
        path = cached_file(location, filename, revision=revision, local_files_only=True,
                           _raise_exceptions_for_missing_entries=False,
                           _raise_exceptions_for_connection_errors=False)
        return json.loads(Path(path).read_text()) if path else {}
    except Exception:  # a broken config is for from_pretrained to report, with its diagnosis
        return {}


def tokenizer_candidates(location: str, revision: str | None = None) -> list[str]:
    """File names a tokenizer can be built from, as transformers names them: the fast
    tokenizer's serialization (``tokenizer.json``) and the vocabulary files of the tokenizer
    classes this checkpoint names (tokenizer_config.json's ``tokenizer_class``, and the class
    transformers maps config.json's ``model_type`` to), e.g. ``vocab.json`` + ``merges.txt``."""
    from transformers import PreTrainedTokenizerFast
    from transformers.models.auto import tokenization_auto
    from transformers.tokenization_utils_base import FULL_TOKENIZER_FILE, TOKENIZER_CONFIG_FILE
    from transformers.utils import CONFIG_NAME

    names = [FULL_TOKENIZER_FILE, *PreTrainedTokenizerFast.vocab_files_names.values()]
    classes = [_json_from(location, TOKENIZER_CONFIG_FILE, revision).get("tokenizer_class")]
    model_type = _json_from(location, CONFIG_NAME, revision).get("model_type")
    mapped = tokenization_auto.TOKENIZER_MAPPING_NAMES.get(model_type) if model_type else None
    classes += list(mapped) if isinstance(mapped, (tuple, list)) else [mapped]
    for class_name in classes:
        if not isinstance(class_name, str):
            continue
        try:
            cls = tokenization_auto.tokenizer_class_from_name(class_name)
        except Exception:
            cls = None
        names += list(getattr(cls, "vocab_files_names", {}).values())
    return list(dict.fromkeys(n for n in names if isinstance(n, str)))


def tokenizer_files(location: str, revision: str | None = None) -> list[str]:
    """The :func:`tokenizer_candidates` present in a local folder or the hub cache (no network:
    ``transformers.utils.hub.has_file`` with ``local_files_only=True``)."""
    from transformers.utils.hub import has_file

    return [name for name in tokenizer_candidates(location, revision)
            if has_file(location, name, revision=revision, local_files_only=True)]


def check_tokenizer_files(resolved: ResolvedModel) -> None:
    """Fail fast, before the weights load, when the files on disk hold no tokenizer.

    Without this, ``AutoTokenizer.from_pretrained`` on a GPT-2 folder with no tokenizer files
    returns a GPT2Tokenizer with a 1-token vocabulary that turns every text into ``[]``.
    Skipped for downloads: their files are not on disk yet.
    """
    if not resolved.local_files_only or not _is_causal_lm_checkpoint(resolved):
        return
    if tokenizer_files(resolved.location, resolved.revision):
        return
    raise CourseError(no_tokenizer_diagnosis(resolved))


def _is_causal_lm_checkpoint(resolved: ResolvedModel) -> bool:
    """config.json names a model_type AutoModelForCausalLM can build. Otherwise the config is
    the first problem, and from_pretrained reports it (with its diagnosis), not the tokenizer."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
    from transformers.utils import CONFIG_NAME

    model_type = _json_from(resolved.location, CONFIG_NAME, resolved.revision).get("model_type")
    return model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES


def no_tokenizer_diagnosis(resolved: ResolvedModel) -> Diagnosis:
    from transformers.tokenization_utils_base import TOKENIZER_CONFIG_FILE

    wanted = tokenizer_candidates(resolved.location, resolved.revision)
    where = resolved.folder or resolved.location
    listing = ""
    if resolved.folder and Path(resolved.folder).is_dir():
        names = sorted(p.name for p in Path(resolved.folder).iterdir())
        listing = f" It holds: {', '.join(names[:10]) or 'nothing'}" + (
            " …" if len(names) > 10 else "") + "."
    half = (f" ({TOKENIZER_CONFIG_FILE} alone only sets options; the vocabulary is missing.)"
            if TOKENIZER_CONFIG_FILE in listing else "")
    return Diagnosis(
        title="No tokenizer files found",
        cause=f"{resolved.name!r} ({resolved.source}) has none of the files a tokenizer is built "
        f"from ({', '.join(wanted)}).{listing}{half} Left to itself, AutoTokenizer may even "
        "build an empty tokenizer that turns every text into no tokens at all. Checked before "
        f"loading the weights, so this answers at once. Folder: {where}",
        fix="Load the tokenizer from the folder or repo the model came from and save it next to "
        "the weights: tokenizer.save_pretrained(folder) (after training, save both: "
        "model.save_pretrained(folder) and tokenizer.save_pretrained(folder)). A hub download "
        "that stopped early: fetch it again (python -m helpers prefetch ID on a connected "
        "machine).",
    )


def _refuse_remote_code(resolved_name: str) -> Diagnosis:
    return Diagnosis(
        title="trust_remote_code=True is refused",
        cause="trust_remote_code=True runs Python files downloaded with the checkpoint on your "
        f"machine ({resolved_name!r}). The course never runs code from a checkpoint: every model "
        "it uses is built into transformers.",
        fix="Leave trust_remote_code out. If the model really needs its own code, read that "
        "code, then call transformers directly, outside the course helpers.",
    )


# --------------------------------------------------------------------------- load


def load(
    name_or_path: str | os.PathLike | None = None,
    *,
    kind: str = "base",
    dtype: object = None,
    device_map: object = None,
    revision: str | None = None,
    allow_pickle: bool = False,
    **kwargs: Any,
) -> LoadedModel:
    """Load a text-generation model and its tokenizer; return them with a :class:`LoadReport`.

    ``name_or_path``: a bundled name, a folder or a hub id (default: :func:`course_model` of
    ``kind``). ``dtype`` (default: :func:`~helpers.hardware.recommend`'s; "auto" keeps the
    checkpoint's) and ``device_map`` (default: the recommendation, "cpu" on a CPU and "auto" on a
    GPU) go to ``from_pretrained`` unchanged, as do other keyword arguments (``max_memory``,
    ``attn_implementation``, ...). Returns ``LoadedModel(model, tokenizer, report)``.
    """
    if kwargs.pop("trust_remote_code", False):
        raise CourseError(_refuse_remote_code(str(name_or_path or course_model(kind))))
    if "torch_dtype" in kwargs:
        raise CourseError(
            Diagnosis(
                title="torch_dtype is deprecated",
                cause="transformers 5 renamed torch_dtype to dtype; the old name still works but "
                "logs a deprecation warning.",
                fix=f"Pass dtype={kwargs['torch_dtype']!r} instead.",
            )
        )
    requested = os.fspath(name_or_path) if name_or_path is not None else course_model(kind)
    resolved = resolve(requested, revision=revision)
    rec = recommend() if dtype is None or device_map is None else None
    dtype = parse_dtype(rec.dtype if dtype is None else dtype)
    device_map = check_device_map(_default_device_map(device_map, rec, kwargs))
    check_accelerate(device_map)
    check_tokenizer_files(resolved)
    if not allow_pickle:
        files = pickle_only_weights(resolved.folder)
        if files:
            raise CourseError(_refuse_pickle(resolved, files))
        if resolved.source == "hub download":
            kwargs.setdefault("use_safetensors", True)

    # imported here, after the fast checks: a bad name answers before transformers loads
    from helpers.progress_bars import weight_loading_bars_hidden

    kwargs.pop("output_loading_info", None)  # always asked for: the report lists what it says
    start = time.perf_counter()
    # the report gives the load time instead of the "Loading weights" bar; download bars stay
    with weight_loading_bars_hidden():
        model, tokenizer, loading_info = _from_pretrained(resolved, dtype, device_map, revision,
                                                          kwargs)
    seconds = time.perf_counter() - start
    return LoadedModel(model, tokenizer,
                       make_report(model, tokenizer, resolved, seconds, loading_info))


def _from_pretrained(resolved: ResolvedModel, dtype, device_map, revision: str | None,
                     kwargs: dict) -> tuple[Any, Any, dict]:
    """The two ``from_pretrained`` calls; any library error comes back diagnosed."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        model, loading_info = AutoModelForCausalLM.from_pretrained(
            resolved.location,
            dtype=dtype,
            device_map=device_map,
            revision=revision,
            local_files_only=resolved.local_files_only,
            trust_remote_code=False,
            output_loading_info=True,
            **kwargs,
        )
        tokenizer = AutoTokenizer.from_pretrained(
            resolved.location,
            revision=revision,
            local_files_only=resolved.local_files_only,
            trust_remote_code=False,
        )
    except CourseError:
        raise
    except Exception as exc:
        raise CourseError(_diagnose_load_error(exc, resolved, dtype, device_map)) from exc
    return model, tokenizer, loading_info


def _default_device_map(device_map: object, rec, kwargs: dict) -> object:
    """The recommendation when none was given; "auto" when only max_memory was given, because
    from_pretrained ignores max_memory without a device_map strategy."""
    if device_map is None:
        if "max_memory" in kwargs:
            return "auto"
        if rec.device_map == "cpu" and not _accelerate_available():
            return None  # the same placement, without accelerate's dispatch
        return rec.device_map
    if "max_memory" in kwargs and not (isinstance(device_map, str) and device_map in STRATEGIES):
        raise CourseError(
            Diagnosis(
                title="max_memory is ignored with this device_map",
                cause=f"max_memory only shapes a device map that transformers computes; with "
                f"device_map={device_map!r} it would be silently ignored.",
                fix="Use device_map='auto' (or 'balanced', 'sequential') with max_memory, or drop "
                "max_memory.",
            )
        )
    return device_map


def is_out_of_memory(exc: BaseException) -> bool:
    """torch.OutOfMemoryError (CUDA/MPS) or the CPU allocator's RuntimeError."""
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "can't allocate memory" in text or "out of memory" in text.lower()
    )


def _diagnose_load_error(exc: Exception, resolved: ResolvedModel, dtype, device_map) -> Diagnosis:
    from helpers.diagnosis import diagnose

    context: dict[str, Any] = {"model": resolved.requested, "path": resolved.location}
    if is_out_of_memory(exc):
        context.update(_memory_context(resolved, dtype, device_map))
    return diagnose(exc, **context)


def _memory_context(resolved: ResolvedModel, dtype, device_map) -> dict[str, int]:
    """Estimated need and free memory on the target device, for an out-of-memory diagnosis."""
    from helpers.memory import estimate_memory

    context: dict[str, int] = {}
    # the estimate is a courtesy: the diagnosis must not fail because of it
    with contextlib.suppress(Exception):
        context["need_bytes"] = estimate_memory(resolved.requested, dtype,
                                                revision=resolved.revision).total_bytes
    strategy = isinstance(device_map, str) and device_map in STRATEGIES
    target = recommend().device if strategy else _device_of(device_map)
    with contextlib.suppress(Exception):
        if target.startswith("cuda") and torch.cuda.is_available():
            index = int(target.partition(":")[2] or 0)
            context["free_bytes"] = int(torch.cuda.mem_get_info(index)[0])
        else:
            import psutil

            context["free_bytes"] = int(psutil.virtual_memory().available)
    return context


def _device_of(device_map: object) -> str:
    if isinstance(device_map, dict):
        values = [v for v in device_map.values() if v != "disk"]
        device_map = values[0] if values else "cpu"
    if isinstance(device_map, int):
        return f"cuda:{device_map}"
    return str(device_map or "cpu")


__all__ = [
    "DTYPE_NAMES", "LoadReport", "LoadedModel", "STRATEGIES", "VALID_DEVICE_MAPS",
    "check_accelerate", "check_device_map", "check_tokenizer_files", "is_out_of_memory", "load",
    "make_report", "pickle_only_weights", "tokenizer_candidates", "tokenizer_files",
]
