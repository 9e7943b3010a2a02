"""helpers.loading: load() with its checks, its report, and diagnosed failures."""

from __future__ import annotations

import json
import shutil
import time

import pytest
import torch
from tiny_model_data import HUB_ID

from helpers import loading
from helpers.errors import CourseError
from helpers.hardware import recommend
from helpers.loading import load
from helpers.models import MODELS_DIR

# --------------------------------------------------------------------------- the default path


def test_load_with_nothing_set_loads_the_bundled_base_model(bundled, offline):
    start = time.perf_counter()
    loaded = load()
    assert time.perf_counter() - start < 10  # about 1 s, plus first imports on a busy machine
    model, tokenizer, report = loaded  # tuple unpacking
    assert loaded.model is model and loaded.report is report
    rec = recommend()
    assert (report.requested, report.source) == ("stories-base", "bundled")
    assert report.model_class == type(model).__name__ == "GPT2LMHeadModel"
    assert report.device_map == {"": "cpu"}
    assert report.dtypes == (str(rec.dtype).removeprefix("torch."),)
    assert report.footprint_bytes == model.get_memory_footprint()
    assert report.bytes_by_device == {"cpu": report.footprint_bytes}
    assert 0 < report.load_seconds < 10
    assert tokenizer.pad_token is None  # GPT-2 style: no pad token, as lesson 02 shows
    text = str(report)
    for field in ("source", "class", "device map", "dtype", "footprint", "load time"):
        assert field in text


def test_chat_kind_loads_the_chat_model(bundled):
    model, tokenizer, report = load(kind="chat", dtype="auto")
    assert report.model_class == "LlamaForCausalLM"
    assert report.dtypes == ("bfloat16",)  # "auto" keeps the checkpoint's dtype
    assert tokenizer.chat_template


def test_course_model_env_switches_the_default(bundled, tiny_llama, monkeypatch, tmp_path):
    folder = tmp_path / "my-llama"  # a copy: tiny_llama itself is the bundled chat model here
    shutil.copytree(tiny_llama, folder)
    monkeypatch.setenv("COURSE_MODEL", str(folder))
    assert load().report.source == "local folder"
    assert load().report.model_class == "LlamaForCausalLM"


def test_explicit_arguments_win(tiny_gpt2):
    assert load(tiny_gpt2, dtype="auto").report.dtypes == ("float32",)
    assert load(tiny_gpt2, dtype="bfloat16").report.dtypes == ("bfloat16",)
    assert load(tiny_gpt2, dtype=torch.float32, device_map=None).report.device_map == {"": "cpu"}


def test_the_transformers_call_uses_dtype_never_torch_dtype(tiny_gpt2, monkeypatch):
    from transformers import AutoModelForCausalLM

    seen = {}
    real = AutoModelForCausalLM.from_pretrained

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", spy)
    load(tiny_gpt2, dtype="float32", attn_implementation="eager")
    assert seen["dtype"] is torch.float32 and "torch_dtype" not in seen
    assert seen["trust_remote_code"] is False and seen["local_files_only"] is True
    assert seen["device_map"] == recommend().device_map
    assert seen["attn_implementation"] == "eager"  # other keywords pass through


def test_report_stable_parts(tiny_gpt2):
    report = load(tiny_gpt2, dtype="float32").report
    stable = report.to_dict(stable=True)
    assert "location" not in stable and "load_seconds" not in stable
    assert stable["model_class"] == "GPT2LMHeadModel" and stable["dtypes"] == ("float32",)
    assert "load time" not in report.summary(stable=True)
    assert str(tiny_gpt2) not in report.summary(stable=True)
    assert str(tiny_gpt2) in report.summary()
    html = report._repr_html_()
    assert "<table" in html and "GPT2LMHeadModel" in html


def test_loaded_model_repr_is_the_report_not_the_module(tiny_gpt2):
    loaded = load(tiny_gpt2)
    assert "GPT2LMHeadModel" in repr(loaded) and "Linear(" not in repr(loaded)
    assert "<table" in loaded._repr_html_()


def test_hub_cache_model_loads_offline(hub_cache, offline):
    model, tokenizer, report = load(HUB_ID)
    assert (report.source, report.location) == ("hub cache", HUB_ID)
    assert report.model_class == "GPT2LMHeadModel"


def test_disk_offload_end_to_end(tiny_gpt2):
    """device_map="auto" + max_memory smaller than the model: part of it goes to disk, and
    generate() still works (safetensors needs no offload_folder)."""
    estimate = loading.load(tiny_gpt2, dtype="float32").report.footprint_bytes
    budget = int(estimate * 0.66)
    model, tokenizer, report = load(
        tiny_gpt2, dtype="float32", device_map="auto", max_memory={"cpu": budget, "disk": "1GB"}
    )
    assert "disk" in model.hf_device_map.values()
    assert report.device_map == {k: str(v) for k, v in model.hf_device_map.items()}
    assert report.bytes_by_device["disk"] > 0 and report.bytes_by_device["cpu"] <= budget
    assert "disk" in str(report)
    inputs = tokenizer("Once upon", return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=4, do_sample=False, pad_token_id=0)
    assert out.shape[1] == inputs["input_ids"].shape[1] + 4


def test_max_memory_alone_implies_auto(tiny_gpt2):
    model, _, _ = load(tiny_gpt2, dtype="float32", max_memory={"cpu": 60_000, "disk": "1GB"})
    assert set(model.hf_device_map.values()) == {"disk"}


def test_real_bundled_base_model_if_built(offline):
    if not (MODELS_DIR / "stories-base" / "config.json").is_file():
        pytest.skip("bundled models not built yet (make models)")
    start = time.perf_counter()
    report = load("stories-base").report
    assert time.perf_counter() - start < 10
    assert (report.source, report.model_class) == ("bundled", "GPT2LMHeadModel")


# --------------------------------------------------------------------------- checked arguments


@pytest.mark.parametrize(
    "device_map, words",
    [
        ("gpu", "'gpu' is not a device"),
        ("disk", "only valid as a value inside a dict"),
        (-1, "negative"),
        (True, "not a device"),
        (["cpu"], "list"),
        ({}, "empty"),
        ({"": "tpu"}, "not a device"),
        ({0: "cpu"}, "not a module name"),
    ],
)
def test_invalid_device_map(tiny_gpt2, device_map, words):
    start = time.perf_counter()
    with pytest.raises(CourseError) as info:
        load(tiny_gpt2, device_map=device_map)
    assert time.perf_counter() - start < 2
    diagnosis = info.value.diagnosis
    assert words in diagnosis.cause
    for valid in ("'auto'", "'balanced'", "'balanced_low_0'", "'sequential'", "'cuda:N'", "'mps'",
                  "'disk'"):
        assert valid in diagnosis.fix


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("device_map", ["cuda", "cuda:1", 0, torch.device("cuda"),
                                        {"": "cuda:0"}])
def test_device_that_is_not_here(tiny_gpt2, device_map):
    with pytest.raises(CourseError, match="does not exist on this machine") as info:
        load(tiny_gpt2, device_map=device_map)
    assert "cpu" in info.value.diagnosis.cause


@pytest.mark.parametrize("device_map", ["auto", "balanced", "balanced_low_0", "sequential",
                                        "cpu", torch.device("cpu"), {"": "cpu"}])
def test_valid_device_maps_load(tiny_gpt2, device_map):
    assert load(tiny_gpt2, device_map=device_map).report.device_map == {"": "cpu"}


def test_valid_device_maps_include_disk_values():
    assert loading.check_device_map({"transformer": "cpu", "lm_head": "disk"})
    assert loading.check_device_map("meta") == "meta"


@pytest.mark.parametrize("dtype, words", [("bf16", "Did you mean 'bfloat16'"),
                                          (torch.int8, "quantization_config"),
                                          (16, "int"), ("float17", "float17")])
def test_invalid_dtype(tiny_gpt2, dtype, words):
    with pytest.raises(CourseError) as info:
        load(tiny_gpt2, dtype=dtype)
    diagnosis = info.value.diagnosis
    assert words in str(diagnosis)
    assert "'auto'" in diagnosis.fix and "'bfloat16'" in diagnosis.fix


def test_missing_accelerate_is_said_before_transformers_says_it(tiny_gpt2, monkeypatch):
    from transformers.integrations import accelerate as hf_accelerate

    monkeypatch.setattr(hf_accelerate, "is_accelerate_available", lambda *a, **k: False)
    with pytest.raises(CourseError, match="accelerate") as info:
        load(tiny_gpt2, device_map="auto")
    assert info.value.__cause__ is None  # stopped before from_pretrained
    assert "pip install" in info.value.diagnosis.fix
    if recommend().device == "cpu":  # left out on a CPU: loaded without a device map
        assert load(tiny_gpt2).report.device_map == {"": "cpu"}


def test_trust_remote_code_is_refused(tiny_gpt2):
    with pytest.raises(CourseError, match="trust_remote_code") as info:
        load(tiny_gpt2, trust_remote_code=True)
    assert "never runs code from a checkpoint" in info.value.diagnosis.cause
    assert load(tiny_gpt2, trust_remote_code=False).model is not None


def test_torch_dtype_is_refused_with_the_new_name(tiny_gpt2):
    with pytest.raises(CourseError, match="dtype=torch.bfloat16"):
        load(tiny_gpt2, torch_dtype=torch.bfloat16)


def test_max_memory_with_a_fixed_device_is_refused(tiny_gpt2):
    with pytest.raises(CourseError, match="silently ignored"):
        load(tiny_gpt2, device_map="cpu", max_memory={"cpu": "1GB"})


def test_pickle_weights_refused_unless_allowed(pickle_folder):
    with pytest.raises(CourseError, match="pickle") as info:
        load(pickle_folder)
    diagnosis = info.value.diagnosis
    assert "pytorch_model.bin" in diagnosis.cause and "arbitrary code" in diagnosis.cause
    assert "allow_pickle=True" in diagnosis.fix and "save_pretrained" in diagnosis.fix
    report = load(pickle_folder, allow_pickle=True).report
    assert report.model_class == "GPT2LMHeadModel"


def test_hub_download_asks_for_safetensors(reachable_hub, monkeypatch, tmp_path):
    """Online, the files are not on disk yet: use_safetensors=True makes transformers refuse
    pickle-only repos. (The download itself is not run here: no network.)"""
    from huggingface_hub import constants
    from transformers import AutoModelForCausalLM

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    seen = {}

    def fake(location, **kwargs):
        seen.update(kwargs, location=location)
        raise OSError("stop here")

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", fake)
    with pytest.raises(CourseError):
        load("gpt2")
    assert seen["use_safetensors"] is True and seen["local_files_only"] is False
    assert seen["location"] == "gpt2"


# --------------------------------------------------------------------------- diagnosed failures


def _chained(info, cause_type) -> None:
    assert isinstance(info.value, CourseError)
    assert isinstance(info.value.__cause__, cause_type), type(info.value.__cause__)


def test_missing_folder(tiny_gpt2):
    with pytest.raises(CourseError, match="does not exist"):
        load(str(tiny_gpt2) + "-typo")


def test_uncached_hub_id_offline_fails_fast(offline, tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    start = time.perf_counter()
    with pytest.raises(CourseError, match="not available offline"):
        load("HuggingFaceTB/SmolLM2-135M")
    assert time.perf_counter() - start < 2


def test_unknown_model_type(unknown_type_folder):
    with pytest.raises(CourseError) as info:
        load(unknown_type_folder)
    _chained(info, ValueError)
    assert "my_fancy_llm" in str(info.value.diagnosis)


def test_not_a_text_generator(vit_folder):
    with pytest.raises(CourseError) as info:
        load(vit_folder)
    _chained(info, ValueError)
    assert "ViTConfig" in str(info.value.diagnosis)


def test_no_weights(no_weights_folder):
    with pytest.raises(CourseError) as info:
        load(no_weights_folder)
    _chained(info, OSError)
    assert "model.safetensors" in str(info.value.diagnosis)


@pytest.mark.parametrize("which", ["corrupt_folder", "truncated_folder"])
def test_damaged_safetensors(which, request):
    folder = request.getfixturevalue(which)
    with pytest.raises(CourseError) as info:
        load(folder)
    assert type(info.value.__cause__).__name__ == "SafetensorError"
    assert "model.safetensors" in str(info.value.diagnosis)


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't "
                     "allocate memory: you tried to allocate 1000000000000 bytes. Error code 12 "
                     "(Cannot allocate memory)"),
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB."),
    ],
)
def test_out_of_memory_gets_need_and_free_bytes(tiny_gpt2, monkeypatch, error):
    from transformers import AutoModelForCausalLM

    import helpers.diagnosis
    from helpers.memory import estimate_memory

    def fail(*args, **kwargs):
        raise error

    contexts = []
    real_diagnose = helpers.diagnosis.diagnose

    def spy(exc, **context):
        contexts.append(context)
        return real_diagnose(exc, **context)

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", fail)
    monkeypatch.setattr(helpers.diagnosis, "diagnose", spy)
    with pytest.raises(CourseError) as info:
        load(tiny_gpt2, dtype="float32")
    assert info.value.__cause__ is error
    (context,) = contexts
    assert context["need_bytes"] == estimate_memory(tiny_gpt2, "float32").total_bytes
    assert context["free_bytes"] > 0
    assert context["model"] == str(tiny_gpt2)


def test_out_of_memory_estimate_uses_the_requested_dtype(tiny_gpt2, monkeypatch):
    """An fp32 checkpoint loaded as bf16 needs half the weight memory: the diagnosis must quote
    the bf16 estimate, not the checkpoint's ("auto") one."""
    from transformers import AutoModelForCausalLM

    from helpers.display import format_bytes
    from helpers.memory import estimate_memory

    bf16 = estimate_memory(tiny_gpt2, "bfloat16").total_bytes
    fp32 = estimate_memory(tiny_gpt2, "auto").total_bytes
    assert fp32 == estimate_memory(tiny_gpt2, "float32").total_bytes  # an fp32 checkpoint
    assert format_bytes(bf16) != format_bytes(fp32)

    def fail(*args, **kwargs):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate "
                           "1000000000000 bytes. Error code 12 (Cannot allocate memory)")

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", fail)
    for dtype in ("bfloat16", torch.bfloat16):
        with pytest.raises(CourseError) as info:
            load(tiny_gpt2, dtype=dtype, device_map="cpu")
        text = str(info.value.diagnosis)
        assert f"needs ~{format_bytes(bf16)}" in text, text
        assert format_bytes(fp32) not in text


def test_is_out_of_memory():
    assert loading.is_out_of_memory(torch.OutOfMemoryError("x"))
    assert loading.is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory"))
    assert not loading.is_out_of_memory(RuntimeError("shape mismatch"))


# ------------------------------------------------------------ what the checkpoint held


def _edited_weights(src, dst, drop=(), add=None):
    """A copy of a model folder whose safetensors lacks ``drop`` and has ``add`` on top."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    tensors = load_file(dst / "model.safetensors")
    for key in drop:
        del tensors[key]
    tensors.update(add or {})
    save_file(tensors, dst / "model.safetensors", metadata={"format": "pt"})
    return dst


def test_clean_load_reports_no_weight_problems(tiny_gpt2):
    report = load(tiny_gpt2, dtype="float32").report
    assert (report.missing_weights, report.unexpected_weights, report.mismatched_weights) == (
        (), (), ())
    assert "WARNING" not in str(report) and "weights" not in report.summary(stable=True)
    assert [name for name, _ in report.rows(stable=True)] == [
        "model", "source", "class", "tokenizer", "device map", "dtype", "footprint",
        "transformers"]


@pytest.mark.parametrize("device_map", [None, "cpu", "auto", "offload"])
def test_missing_and_unexpected_tensors_are_listed_with_a_warning(tiny_gpt2, tmp_path,
                                                                  device_map):
    """A checkpoint missing a tensor loads silently in transformers (a logged table at most):
    the layer is random. output_loading_info=True works with every device_map, offload too."""
    folder = _edited_weights(tiny_gpt2, tmp_path / "holes",
                             drop=["transformer.h.1.mlp.c_fc.weight"],
                             add={"transformer.extra.weight": torch.zeros(3)})
    kwargs = {"device_map": device_map}
    if device_map == "offload":
        kwargs = {"device_map": "auto", "max_memory": {"cpu": 60_000, "disk": "1GB"}}
    report = load(folder, dtype="float32", **kwargs).report
    assert report.missing_weights == ("transformer.h.1.mlp.c_fc.weight",)
    assert report.unexpected_weights == ("transformer.extra.weight",)
    assert report.newly_initialised == ("transformer.h.1.mlp.c_fc.weight",)
    stable = report.summary(stable=True)
    assert stable.splitlines()[-3].startswith("WARNING")
    assert "1 weight tensor(s) newly initialised with random values" in stable
    assert "transformer.h.1.mlp.c_fc.weight (not in the checkpoint: random)" in stable
    assert "transformer.extra.weight (in the checkpoint, unused by GPT2LMHeadModel)" in stable
    assert str(tmp_path) not in stable and "load time" not in stable
    assert "WARNING" in report._repr_html_()
    assert report.to_dict(stable=True)["missing_weights"] == ("transformer.h.1.mlp.c_fc.weight",)


def _wider_config(src, dst):
    shutil.copytree(src, dst)
    config = json.loads((dst / "config.json").read_text())
    config["n_embd"] = 64  # the weights were saved 32 wide
    (dst / "config.json").write_text(json.dumps(config))
    return dst


def test_shape_mismatch_is_an_error_naming_the_tensor(tiny_gpt2, tmp_path):
    folder = _wider_config(tiny_gpt2, tmp_path / "wider")
    with pytest.raises(CourseError) as info:
        load(folder, dtype="float32")
    cause = info.value.__cause__
    assert type(cause) is RuntimeError
    assert str(cause).startswith("You set `ignore_mismatched_sizes` to `False`, thus raising")
    diagnosis = info.value.diagnosis
    assert "config and weights come from different models" in diagnosis.title
    assert ("The tensor transformer.h.0.attn.c_attn.bias has shape [96] in the checkpoint, but "
            "the config builds [192]") in diagnosis.cause
    assert "27 more tensors differ" in diagnosis.cause
    assert "ignore_mismatched_sizes=True" in diagnosis.fix


def test_shape_mismatch_allowed_is_listed_as_random(tiny_gpt2, tmp_path):
    folder = _wider_config(tiny_gpt2, tmp_path / "wider")
    report = load(folder, dtype="float32", ignore_mismatched_sizes=True).report
    assert len(report.mismatched_weights) == 28 and report.missing_weights == ()
    assert ("transformer.h.0.attn.c_attn.bias", "[96]", "[192]") in report.mismatched_weights
    stable = report.summary(stable=True)
    assert "28 weight tensor(s) newly initialised with random values" in stable
    assert "transformer.h.0.attn.c_attn.bias [96] in the checkpoint vs [192] in the model" in stable


def test_invalid_json_config_names_file_line_and_column(tiny_gpt2, tmp_path):
    folder = tmp_path / "badjson"
    shutil.copytree(tiny_gpt2, folder)
    text = (folder / "config.json").read_text()
    (folder / "config.json").write_text(text.replace('"n_embd": 32,', '"n_embd": 32,,'))
    line = next(i for i, t in enumerate(text.splitlines(), 1) if '"n_embd"' in t)
    with pytest.raises(CourseError) as info:
        load(folder)
    assert type(info.value.__cause__) is OSError
    diagnosis = info.value.diagnosis
    assert diagnosis.title == "Invalid JSON in a model file"
    assert str(folder / "config.json") in diagnosis.cause
    assert f"at line {line}, column 16: Expecting property name" in diagnosis.cause
    assert "python -m json.tool" in diagnosis.fix


# --------------------------------------------------------------------------- tokenizer first


def _without_tokenizer(src, dst, keep=()):
    shutil.copytree(src, dst)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        if name not in keep:
            (dst / name).unlink()
    return dst


def test_transformers_alone_builds_an_empty_tokenizer_from_no_files(tiny_gpt2, tmp_path):
    """Why load() checks: AutoTokenizer silently returns a useless tokenizer here."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(_without_tokenizer(tiny_gpt2, tmp_path / "bare"))
    assert len(tok) == 1 and tok("Once upon a time")["input_ids"] == []


@pytest.mark.parametrize("keep", [(), ("tokenizer_config.json",)])
def test_missing_tokenizer_fails_before_the_weights_load(tiny_gpt2, tmp_path, monkeypatch, keep):
    from transformers import AutoModelForCausalLM

    folder = _without_tokenizer(tiny_gpt2, tmp_path / "bare", keep)
    called = []
    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained",
                        lambda *a, **k: called.append(a))
    start = time.perf_counter()
    with pytest.raises(CourseError) as info:
        load(folder)
    assert time.perf_counter() - start < 5 and called == []  # ~0.01 s once imported
    diagnosis = info.value.diagnosis
    assert diagnosis.title == "No tokenizer files found"
    for name in ("tokenizer.json", "vocab.json", "merges.txt"):  # GPT-2's, from transformers
        assert name in diagnosis.cause
    assert "tokenizer.save_pretrained(folder)" in diagnosis.fix
    if keep:
        assert "tokenizer_config.json alone only sets options" in diagnosis.cause


def test_missing_tokenizer_in_a_hub_cache_snapshot(hub_cache, offline):
    from huggingface_hub import constants

    snapshot = next((hub_cache / ("models--" + HUB_ID.replace("/", "--"))).glob("snapshots/*"))
    copy = hub_cache.parent / "hub-no-tokenizer"
    shutil.copytree(hub_cache, copy, symlinks=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (copy / snapshot.relative_to(hub_cache) / name).unlink()
    old = constants.HF_HUB_CACHE
    constants.HF_HUB_CACHE = str(copy)
    try:
        with pytest.raises(CourseError, match="No tokenizer files found"):
            load(HUB_ID)
        assert loading.tokenizer_files(HUB_ID) == []
    finally:
        constants.HF_HUB_CACHE = old
        shutil.rmtree(copy)
    assert loading.tokenizer_files(HUB_ID) == ["tokenizer.json"]


def test_slow_tokenizer_vocabulary_files_count(tiny_gpt2, tmp_path):
    folder = _without_tokenizer(tiny_gpt2, tmp_path / "slow")
    (folder / "vocab.json").write_text("{}")
    (folder / "merges.txt").write_text("")
    assert loading.tokenizer_files(str(folder)) == ["vocab.json", "merges.txt"]


def test_llama_candidates_include_sentencepiece(tiny_llama):
    assert "tokenizer.model" in loading.tokenizer_candidates(str(tiny_llama))
    assert loading.tokenizer_files(str(tiny_llama)) == ["tokenizer.json"]
