"""The helpers against the transformers calls they wrap, doing exactly the same work.

* ``helpers.load(folder)`` against ``AutoModelForCausalLM.from_pretrained`` +
  ``AutoTokenizer.from_pretrained`` with the arguments ``load()`` passes (its recommended dtype
  and device_map, ``local_files_only``, ``trust_remote_code=False``, ``output_loading_info``);
* ``helpers.generate_text`` against tokenizer + ``model.generate`` + ``batch_decode`` with the
  same greedy settings and exactly as many new tokens (``min_new_tokens = max_new_tokens``).

Both sides are checked to give the same result (same dtype and placement; the same text), so
the ratio measures the helpers' own cost and nothing else. :func:`load_stages` times each step
``load()`` adds, to say where any overhead comes from.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from benchmarks.measure import Paired, interleave

PROMPT = "Once upon a time, a little fox named Leo lived near the river."


@dataclass(frozen=True)
class LoadSetting:
    """What ``helpers.load(folder)`` passes to from_pretrained when called with defaults."""

    dtype: torch.dtype
    device_map: Any


def helper_defaults() -> LoadSetting:
    """The dtype and device_map ``helpers.load`` picks when given neither (its recommendation)."""
    from helpers.hardware import parse_dtype, recommend
    from helpers.loading import _default_device_map

    rec = recommend()
    return LoadSetting(parse_dtype(rec.dtype), _default_device_map(None, rec, {}))


def raw_load(folder: str, setting: LoadSetting) -> tuple[Any, Any]:
    """What ``helpers.load(folder)`` calls underneath, without its checks and report."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, _info = AutoModelForCausalLM.from_pretrained(
        folder, dtype=setting.dtype, device_map=setting.device_map, revision=None,
        local_files_only=True, trust_remote_code=False, output_loading_info=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, revision=None, local_files_only=True,
                                              trust_remote_code=False)
    return model, tokenizer


def helper_load(folder: str, setting: LoadSetting | None = None) -> Any:
    """``helpers.load(folder)`` as a learner calls it (defaults), or with ``setting`` spelled
    out (which skips its hardware recommendation)."""
    import helpers

    if setting is None:
        return helpers.load(folder)
    return helpers.load(folder, dtype=setting.dtype, device_map=setting.device_map)


def _placement(model: Any) -> tuple[str, str]:
    return (str(model.dtype), str(getattr(model, "hf_device_map", None) or model.device))


def compare_load(folder: str, pairs: int, setting: LoadSetting | None = None,
                 explicit: bool = False) -> Paired:
    """helpers.load / raw load, interleaved; fails if they do not load the same thing."""
    setting = setting or helper_defaults()
    loaded = helper_load(folder, setting if explicit else None)
    raw_model, _ = raw_load(folder, setting)
    if _placement(loaded.model) != _placement(raw_model):
        raise NotLikeForLike(f"not like for like: helpers.load gave {_placement(loaded.model)}, "
                           f"the raw calls {_placement(raw_model)}")
    del loaded, raw_model
    return interleave(lambda: helper_load(folder, setting if explicit else None),
                      lambda: raw_load(folder, setting), pairs, before=gc.collect)


def _bars_hidden(context) -> Callable[[], None]:
    def run() -> None:
        with context():
            pass
    return run


def load_stages(folder: str, repeats: int = 5) -> dict[str, float]:
    """Median seconds of each step ``helpers.load`` adds around the two from_pretrained calls
    (what a profile of ``load()`` minus transformers' own time consists of)."""
    from helpers import hardware, hub, loading

    resolved = hub.resolve(folder)
    setting = helper_defaults()
    model, tokenizer = raw_load(folder, setting)
    _, info = __import__("transformers").AutoModelForCausalLM.from_pretrained(
        folder, dtype=setting.dtype, device_map=setting.device_map, output_loading_info=True)
    stages: dict[str, Callable[[], object]] = {
        "resolve the name (hub.resolve)": lambda: hub.resolve(folder),
        "hardware recommendation (recommend)": hardware.recommend,
        "device_map + accelerate checks": lambda: (
            loading.check_accelerate(loading.check_device_map(setting.device_map))),
        "tokenizer files present (check_tokenizer_files)":
            lambda: loading.check_tokenizer_files(resolved),
        "pickle-only check": lambda: loading.pickle_only_weights(resolved.folder),
        "load report (make_report)": lambda: loading.make_report(model, tokenizer, resolved, 0.0,
                                                                 info),
    }
    from helpers.progress_bars import weight_loading_bars_hidden

    stages["progress-bar hook"] = _bars_hidden(weight_loading_bars_hidden)
    return _median_seconds(stages, repeats)


def _median_seconds(stages: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Each stage's median wall time over ``repeats`` calls, stage by stage."""
    seconds = {}
    for name, fn in stages.items():
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        seconds[name] = statistics.median(times)
    return seconds


def _enter_inference_mode() -> None:
    with torch.inference_mode():
        pass


def generate_stages(tokenizer: Any, repeats: int = 20) -> dict[str, float]:
    """Median seconds of what ``generate_text`` does beyond tokenize + generate + decode:
    seeding every random generator, choosing the settings, entering inference mode."""
    from transformers import set_seed

    from helpers import generation

    stages: dict[str, Callable[[], object]] = {
        "set_seed": lambda: set_seed(0),
        "preset and pad token": lambda: (generation._preset_settings("greedy"),
                                         generation._pad_token_id(tokenizer)),
        "inference_mode": _enter_inference_mode,
    }
    return _median_seconds(stages, repeats)


def raw_generate(model: Any, tokenizer: Any, prompt: str, new_tokens: int) -> str:
    """Tokenize, generate exactly ``new_tokens`` greedily, decode the new part: plain
    transformers, with the settings generate_text uses."""
    inputs = tokenizer(prompt, return_tensors="pt").to(model.device)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    output = model.generate(**inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                            do_sample=False, pad_token_id=pad)
    return tokenizer.batch_decode(output[:, inputs["input_ids"].shape[1]:],
                                  skip_special_tokens=True)[0]


def helper_generate(model: Any, tokenizer: Any, prompt: str, new_tokens: int) -> str:
    import helpers

    return helpers.generate_text(model, tokenizer, prompt, max_new_tokens=new_tokens,
                                 min_new_tokens=new_tokens)


class NotLikeForLike(RuntimeError):
    """The helper and the raw calls did not produce the same thing."""


def compare_generate(model: Any, tokenizer: Any, new_tokens: int, pairs: int,
                     prompt: str = PROMPT, check: bool = True) -> Paired:
    """helpers.generate_text / raw generate, interleaved; raises NotLikeForLike if the texts
    differ (unless ``check`` is False)."""
    ours = helper_generate(model, tokenizer, prompt, new_tokens)
    theirs = raw_generate(model, tokenizer, prompt, new_tokens)
    if check and ours != theirs:
        raise NotLikeForLike(f"not like for like: generate_text gave {ours!r}, raw generate "
                             f"{theirs!r}")
    return interleave(lambda: helper_generate(model, tokenizer, prompt, new_tokens),
                      lambda: raw_generate(model, tokenizer, prompt, new_tokens), pairs,
                      before=gc.collect)


__all__ = ["LoadSetting", "NotLikeForLike", "PROMPT", "compare_generate", "compare_load",
           "generate_stages", "helper_defaults", "helper_generate", "helper_load", "load_stages",
           "raw_generate", "raw_load"]
