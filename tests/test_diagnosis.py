"""helpers.diagnosis: every catalogue entry is raised FOR REAL by the pinned libraries, then
diagnosed. Only CUDA out-of-memory is constructed (it cannot be raised without a GPU)."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest
import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedTokenizerFast,
    ViTConfig,
)

from helpers.diagnosis import diagnose, exception_chain, expect_error
from helpers.errors import CourseError, Diagnosis

dx = importlib.import_module("helpers.diagnosis")


def raised(fn, *args, **kwargs) -> BaseException:
    """Call ``fn`` and return the exception it raises (fail if it raises none)."""
    try:
        fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - we want whatever the library raises
        return exc
    pytest.fail(f"{getattr(fn, '__name__', fn)} raised nothing")


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory) -> Path:
    """A tiny GPT-2 (2 layers, 32 wide) with a byte-level BPE tokenizer and no pad token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(["once upon a time there was a fox named Leo."] * 20, trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>")
    config = GPT2Config(n_layer=2, n_embd=32, n_head=2, n_positions=64, vocab_size=len(tok))
    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def copy_model(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def words(diagnosis: Diagnosis) -> str:
    return f"{diagnosis.title}\n{diagnosis.cause}\n{diagnosis.fix}"


# ---------------------------------------------------------------------------------------------
# 1-3: names, paths, the hub
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name_kind", ["absolute", "relative"])
def test_missing_local_folder_is_called_a_missing_folder(tmp_path, monkeypatch, name_kind):
    monkeypatch.chdir(tmp_path)
    name = str(tmp_path / "no-such-model") if name_kind == "absolute" else "./no-such-model"
    exc = raised(AutoModelForCausalLM.from_pretrained, name)
    assert isinstance(exc, OSError) and "Repo id must" in str(exc)
    assert any(type(e).__name__ == "HFValidationError" for e in exception_chain(exc))
    d = diagnose(exc)  # no context: the name is read from the message
    assert d.title == "Model folder not found"
    assert name in d.cause and "repo id" in d.cause
    assert "Path(" in d.fix and "bundled_path" in d.fix


def test_missing_folder_suggests_a_near_name(tmp_path, monkeypatch):
    (tmp_path / "stories-base").mkdir()
    monkeypatch.chdir(tmp_path)
    exc = raised(AutoTokenizer.from_pretrained, "./stories-bse")
    d = diagnose(exc, model="./stories-bse")
    assert d.title == "Model folder not found"
    assert "stories-base" in d.cause


@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("not a/valid//repo id", ""),
        ("https://huggingface.co/openai-community/gpt2", "'openai-community/gpt2'"),
        ("gpt2..x", "no '--' or '..'"),
    ],
)
def test_malformed_repo_id(name, extra):
    exc = raised(AutoModelForCausalLM.from_pretrained, name)
    assert "Repo id must" in str(exc) or "Cannot have -- or .. in repo_id" in str(exc)
    d = diagnose(exc, model=name)
    assert d.title == "Not a valid Hub repo id"
    assert name in d.cause and "namespace/name" in d.cause
    assert extra in d.cause


def test_hub_unreachable_and_not_cached(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    exc = raised(AutoModelForCausalLM.from_pretrained, "openai-community/gpt2", cache_dir=tmp_path)
    assert isinstance(exc, OSError)
    assert str(exc).startswith("We couldn't connect to 'https://huggingface.co'")
    assert any(type(e).__name__ == "LocalEntryNotFoundError" for e in exception_chain(exc))
    d = diagnose(exc, model="openai-community/gpt2")
    assert d.title == "Model not in the local cache and the Hub is unreachable"
    assert "'openai-community/gpt2'" in d.cause and "HF_HUB_OFFLINE=1 is set" in d.cause
    assert "prefetch openai-community/gpt2" in d.fix
    assert "HF_HUB_OFFLINE=1" in d.fix and "bundled" in d.fix


def test_hub_unreachable_for_a_bundled_short_name(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    exc = raised(AutoTokenizer.from_pretrained, "stories-base", cache_dir=tmp_path)
    d = diagnose(exc, model="stories-base")
    assert "helpers.bundled_path('stories-base')" in d.cause


def test_hub_unreachable_mentions_a_missing_folder_that_looks_like_one(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    exc = raised(AutoConfig.from_pretrained, "models/no-such-model", cache_dir=tmp_path / "c")
    d = diagnose(exc, model="models/no-such-model")
    assert "no such folder exists here" in d.cause


# ---------------------------------------------------------------------------------------------
# 4-8: configs, architectures, missing files
# ---------------------------------------------------------------------------------------------


def write_config(folder: Path, config: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_unknown_model_type(tmp_path):
    folder = write_config(tmp_path / "fancy", {"model_type": "my_fancy_llm"})
    exc = raised(AutoModelForCausalLM.from_pretrained, folder)
    assert isinstance(exc, ValueError)
    d = diagnose(exc, model=str(folder))
    assert d.title == "Architecture not known to this transformers version"
    assert "my_fancy_llm" in d.cause and "5.24" in d.cause
    assert "trust_remote_code" in d.fix and "revision" in d.fix and "upgrade" not in d.title


def test_config_without_model_type(tmp_path):
    folder = write_config(tmp_path / "nomt", {"hidden_size": 8})
    exc = raised(AutoModelForCausalLM.from_pretrained, folder)
    assert str(exc).startswith("Unrecognized model in")
    d = diagnose(exc)
    assert d.title.startswith("No model_type")
    assert '"model_type"' in d.cause and '"model_type": "gpt2"' in d.fix


def test_folder_without_config_json(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.txt").write_text("hi")
    exc = raised(AutoModelForCausalLM.from_pretrained, folder)
    d = diagnose(exc)
    assert "has no config.json" in d.cause and "notes.txt" in d.cause


def test_vision_config_with_causal_lm_names_the_fitting_auto_class():
    config = ViTConfig(
        num_hidden_layers=1, hidden_size=8, num_attention_heads=2, intermediate_size=8
    )
    exc = raised(AutoModelForCausalLM.from_config, config)
    assert "Unrecognized configuration class" in str(exc)
    d = diagnose(exc)
    assert d.title == "AutoModelForCausalLM can't build ViTConfig"
    assert "'vit'" in d.cause and "not a decoder-only text generator" in d.cause
    assert d.fix.startswith("Load it with AutoModelForImageClassification")


def test_encoder_decoder_config_points_to_seq2seq():
    from transformers import T5Config

    config = T5Config(num_layers=1, d_model=8, num_heads=2, d_kv=4, d_ff=8, vocab_size=20)
    d = diagnose(raised(AutoModelForCausalLM.from_config, config))
    assert "encoder-decoder" in d.cause
    assert d.fix.startswith("Load it with AutoModelForSeq2SeqLM")


def test_unknown_model_identifier():
    exc = raised(AutoConfig.for_model, "gtp2")
    assert str(exc).startswith("Unrecognized model identifier: gtp2.")
    d = diagnose(exc)
    assert d.title == "Unknown model type"
    assert "'gtp2'" in d.cause and "gpt2" in d.cause  # a close known name
    assert "AutoConfig.for_model('gpt2'" in d.fix


def test_folder_without_weights(tmp_path, gpt2_dir):
    folder = tmp_path / "noweights"
    folder.mkdir()
    shutil.copy(gpt2_dir / "config.json", folder)
    exc = raised(AutoModelForCausalLM.from_pretrained, folder)
    assert str(exc).startswith("Error no file named model.safetensors")
    d = diagnose(exc)
    assert d.title == "No weights file in the model folder"
    assert "model.safetensors" in d.cause and "It holds: config.json." in d.cause
    assert "force_download=True" in d.fix


# ---------------------------------------------------------------------------------------------
# 9: corrupt / truncated safetensors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["random-bytes", "truncated"])
@pytest.mark.parametrize("context", ["folder", "none"])
def test_corrupt_safetensors_names_the_file(tmp_path, gpt2_dir, damage, context):
    folder = copy_model(gpt2_dir, tmp_path / "broken")
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(os.urandom(4096) if damage == "random-bytes" else data[: len(data) // 2])
    exc = raised(AutoModelForCausalLM.from_pretrained, folder)
    assert type(exc).__name__ == "SafetensorError"
    expected = "header too large" if damage == "random-bytes" else "incomplete metadata"
    assert expected in str(exc)
    # with context the folder is searched; without, the failing frame's locals name the file
    d = diagnose(exc, model=str(folder)) if context == "folder" else diagnose(exc)
    assert d.title == "Corrupt or incomplete weights file"
    assert str(weights) in d.cause and expected in d.cause
    assert "force_download=True" in d.fix


def test_corrupt_shard_of_a_sharded_checkpoint_is_named(tmp_path, gpt2_dir):
    folder = tmp_path / "sharded"
    GPT2LMHeadModel.from_pretrained(gpt2_dir).save_pretrained(folder, max_shard_size="40KB")
    shards = sorted(folder.glob("model-*.safetensors"))
    assert len(shards) >= 2
    shards[-1].write_bytes(shards[-1].read_bytes()[:100])
    exc = raised(AutoModelForCausalLM.from_pretrained, folder)
    d = diagnose(exc, model=str(folder))
    assert str(shards[-1]) in d.cause


def test_corrupt_file_in_hub_cache_gets_cache_commands(tmp_path, gpt2_dir):
    snapshot = tmp_path / "hub" / "models--someone--tiny" / "snapshots" / "abc123"
    folder = copy_model(gpt2_dir, snapshot)
    (folder / "model.safetensors").write_bytes(b"\x00" * 100)
    exc = raised(AutoModelForCausalLM.from_pretrained, folder)
    d = diagnose(exc, path=str(folder / "model.safetensors"))
    assert "from_pretrained('someone/tiny', force_download=True)" in d.fix
    assert "hf cache rm model/someone/tiny" in d.fix


def test_git_lfs_pointer_is_recognised(tmp_path, gpt2_dir):
    folder = copy_model(gpt2_dir, tmp_path / "lfs")
    pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n"
    (folder / "model.safetensors").write_text(pointer)
    d = diagnose(raised(AutoModelForCausalLM.from_pretrained, folder), model=str(folder))
    assert "Git LFS pointer" in d.cause and "git lfs pull" in d.fix


def test_bundled_file_gets_git_checkout(monkeypatch, tmp_path, gpt2_dir):
    fake_bundled = tmp_path / "models"
    folder = copy_model(gpt2_dir, fake_bundled / "stories-base")
    (folder / "model.safetensors").write_bytes(b"\x01" * 64)
    monkeypatch.setattr(dx, "BUNDLED_DIR", fake_bundled)
    d = diagnose(raised(AutoModelForCausalLM.from_pretrained, folder), model=str(folder))
    assert "git checkout --" in d.fix and "make models" in d.fix


# ---------------------------------------------------------------------------------------------
# 10-11: out of memory
# ---------------------------------------------------------------------------------------------


def test_cpu_out_of_memory_with_need_and_free():
    exc = raised(torch.empty, 10**13, dtype=torch.uint8)  # 10 TB: refused at once, no paging
    assert type(exc) is RuntimeError
    assert "DefaultCPUAllocator: can't allocate memory" in str(exc)
    d = diagnose(exc, need_bytes=6 * 2**30, free_bytes=2 * 2**30)
    assert d.title == "Out of memory (RAM)"
    assert "9.1 TiB" in d.cause  # read from the message
    assert "needs ~6.0 GiB, and 2.0 GiB is free" in d.cause
    for way in ("bfloat16", 'device_map="auto"', "max_memory", "BitsAndBytesConfig", "smaller"):
        assert way in d.fix
    assert "removed the load_in_4bit" in d.fix


def test_cuda_out_of_memory_constructed():
    # Constructed, not raised: a CUDA OOM needs a GPU. Message format from torch's
    # c10/cuda/CUDACachingAllocator.cpp (see transformers-5-facts.md, section 8).
    message = (
        "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 15.77 GiB "
        "of which 1.06 GiB is free. Including non-PyTorch memory, this process has 14.70 GiB "
        "memory in use. Of the allocated memory 14.20 GiB is allocated by PyTorch, and 120.00 MiB "
        "is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try "
        "setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation."
    )
    exc = torch.OutOfMemoryError(message)
    assert isinstance(exc, RuntimeError) and torch.OutOfMemoryError is torch.cuda.OutOfMemoryError
    d = diagnose(exc, need_bytes=16 * 2**30)
    assert d.title == "Out of GPU memory"
    assert "asked for 2.00 GiB more" in d.cause and "15.77 GiB in all and 1.06 GiB free" in d.cause
    assert "needs ~16.0 GiB" in d.cause
    for way in ("expandable_segments:True", "max_new_tokens", "BitsAndBytesConfig", "bfloat16"):
        assert way in d.fix


# ---------------------------------------------------------------------------------------------
# 12-17: arguments, packages, offload, tokenizers, remote code
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "hint"), [("disk", "max_memory"), ("gpu", '"cuda"')])
def test_invalid_device_map(gpt2_dir, value, hint):
    exc = raised(AutoModelForCausalLM.from_pretrained, gpt2_dir, device_map=value)
    assert isinstance(exc, ValueError) and f"but found {value}" in str(exc)
    d = diagnose(exc)
    assert d.title == "Invalid device_map" and f"'{value}'" in d.cause and hint in d.cause
    for valid in (
        '"auto"',
        '"balanced"',
        '"balanced_low_0"',
        '"sequential"',
        '"cpu"',
        '"cuda:N"',
        '"mps"',
        '"meta"',
        "int",
        "dict",
    ):
        assert valid in d.fix


def test_negative_device_map(gpt2_dir):
    d = diagnose(raised(AutoModelForCausalLM.from_pretrained, gpt2_dir, device_map=-1))
    assert d.title == "Invalid device_map"


@pytest.mark.parametrize(
    ("dtype", "expect"),
    [
        ("float17", "Did you mean 'float16'?"),
        ("bf16", "Did you mean 'bfloat16'?"),
        (torch.int8, "integer type"),
        (3, "not a torch.dtype"),
    ],
)
def test_invalid_dtype(gpt2_dir, dtype, expect):
    exc = raised(AutoModelForCausalLM.from_pretrained, gpt2_dir, dtype=dtype)
    d = diagnose(exc)
    assert d.title == "Invalid dtype"
    assert expect in d.cause
    assert '"bfloat16"' in d.fix and '"auto"' in d.fix


def test_float17_is_an_attribute_error_from_torch(gpt2_dir):
    exc = raised(AutoModelForCausalLM.from_pretrained, gpt2_dir, dtype="float17")
    assert type(exc) is AttributeError
    assert str(exc) == "module 'torch' has no attribute 'float17'"


def test_accelerate_missing(gpt2_dir, monkeypatch):
    import transformers.integrations.accelerate as tia

    monkeypatch.setattr(tia, "is_accelerate_available", lambda: False)
    exc = raised(AutoModelForCausalLM.from_pretrained, gpt2_dir, device_map="cpu")
    assert "requires `accelerate`" in str(exc)
    d = diagnose(exc)
    assert d.title == "device_map needs the accelerate package"
    assert "pip install accelerate" in d.fix and "restart" in d.fix


def test_moving_an_offloaded_model(gpt2_dir):
    model = AutoModelForCausalLM.from_pretrained(
        gpt2_dir, device_map="auto", max_memory={"cpu": "10KB", "disk": "1GB"}
    )
    assert "disk" in set(model.hf_device_map.values())
    exc = raised(model.to, torch.bfloat16)
    assert str(exc) == "You can't move a model that has some modules offloaded to cpu or disk."
    d = diagnose(exc)
    assert d.title == "Can't move an offloaded model"
    assert "accelerate wraps the model's .to() and .cuda()" in d.cause
    assert ".half(), .float() and .bfloat16() are not wrapped" in d.cause
    assert "Don't .to() a dispatched model" in d.fix and "dtype=" in d.fix


@pytest.mark.parametrize(("method", "dtype"), [("half", torch.float16),
                                               ("bfloat16", torch.bfloat16),
                                               ("float", torch.float32)])
def test_casting_a_cpu_and_disk_offloaded_model_works(gpt2_dir, method, dtype):
    """What the move-offloaded diagnosis says: only .to()/.cuda() are refused; a cast goes
    through, and the model then generates exactly what a model loaded in that dtype does."""
    placement = {"transformer.wte": "cpu", "lm_head": "cpu", "transformer.wpe": "cpu",
                 "transformer.h.0": "cpu", "transformer.h.1": "disk", "transformer.ln_f": "disk"}
    model = AutoModelForCausalLM.from_pretrained(gpt2_dir, device_map=placement)
    assert getattr(model, method)() is model
    assert {p.dtype for p in model.parameters()} == {dtype}
    assert {p.device.type for p in model.parameters()} == {"cpu", "meta"}  # meta: on disk
    reference = AutoModelForCausalLM.from_pretrained(gpt2_dir, dtype=dtype)
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        assert torch.equal(model(ids).logits, reference(ids).logits)
    kwargs = {"max_new_tokens": 6, "do_sample": False, "pad_token_id": 0}
    assert torch.equal(model.generate(ids, **kwargs), reference.generate(ids, **kwargs))
    with pytest.raises(RuntimeError, match="You can't move a model"):
        model.to(torch.bfloat16)  # dtype only, and still refused


def test_padding_without_pad_token(gpt2_dir):
    tok = AutoTokenizer.from_pretrained(gpt2_dir)
    assert tok.pad_token is None
    exc = raised(tok, ["a", "a fox"], padding=True)
    d = diagnose(exc)
    assert d.title == "The tokenizer has no padding token"
    assert "tokenizer.pad_token = tokenizer.eos_token" in d.fix
    assert 'padding_side = "left"' in d.fix


def test_trust_remote_code_needed(tmp_path, gpt2_dir):
    config = json.loads((gpt2_dir / "config.json").read_text())
    config.update(
        model_type="xthing",
        auto_map={"AutoConfig": "configuration_x.XConfig", "AutoModelForCausalLM": "m.XModel"},
    )
    folder = write_config(tmp_path / "remote", config)
    (folder / "configuration_x.py").write_text("raise SystemExit('must never run')\n")
    exc = raised(AutoModelForCausalLM.from_pretrained, folder, trust_remote_code=False)
    assert "contains custom code which must be executed" in str(exc)
    d = diagnose(exc)
    assert d.title == "The model needs its own Python code (trust_remote_code)"
    assert "permissions" in d.cause
    assert "read its .py files first" in d.fix and "revision=" in d.fix


def test_no_cuda_device(gpt2_dir):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    d = diagnose(raised(torch.zeros, 1, device="cuda"))
    assert d.title == "No CUDA GPU available"


def test_chat_template_missing(gpt2_dir):
    tok = AutoTokenizer.from_pretrained(gpt2_dir)
    exc = raised(tok.apply_chat_template, [{"role": "user", "content": "hi"}])
    assert "chat_template is not set" in str(exc)
    d = diagnose(exc, model="stories-base")
    assert d.title.startswith("No chat template")
    assert "'stories-base'" in d.cause and "chat=False" in d.fix


def test_auto_class_called_directly():
    d = diagnose(raised(AutoModelForCausalLM))
    assert d.title == "AutoModelForCausalLM() can't be called directly"
    assert "AutoModelForCausalLM.from_pretrained(" in d.fix


# ---------------------------------------------------------------------------------------------
# 18-19: CourseError, fallback, robustness
# ---------------------------------------------------------------------------------------------


def test_course_error_returns_its_own_diagnosis():
    own = Diagnosis("Pickle checkpoint refused", "a .bin file can run code", "use safetensors")
    try:
        try:
            raise OSError("library detail")
        except OSError as inner:
            raise CourseError(own) from inner
    except CourseError as exc:
        assert diagnose(exc) is own


def test_fallback_for_anything_else():
    exc = raised(lambda: {}["missing key"])
    d = diagnose(exc)
    assert d.title == "KeyError"
    assert d.cause == "'missing key'"
    assert "traceback" in d.fix and "search" in d.fix


def test_diagnose_never_raises():
    class Nasty(Exception):
        def __str__(self):
            raise RuntimeError("no str for you")

    d = diagnose(Nasty())
    assert isinstance(d, Diagnosis) and d.title == "Nasty"


def test_chain_is_walked_to_the_cause():
    try:
        try:
            torch.empty(10**13, dtype=torch.uint8)
        except RuntimeError as inner:
            raise ValueError("while loading the model") from inner
    except ValueError as exc:
        assert diagnose(exc).title == "Out of memory (RAM)"


def test_rules_are_data():
    names = [rule.name for rule in dx.RULES]
    assert len(names) == len(set(names)) >= 20
    assert names[0] == "course-error"


# ---------------------------------------------------------------------------------------------
# expect_error
# ---------------------------------------------------------------------------------------------


def test_expect_error_suppresses_shows_and_keeps(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with expect_error(OSError, model="./no-such-model") as caught:
        AutoModelForCausalLM.from_pretrained("./no-such-model")
    out = capsys.readouterr().out
    assert isinstance(caught.exception, OSError)
    assert caught.diagnosis.title == "Model folder not found"
    first, second = out.splitlines()[:2]
    assert first.startswith("Raised OSError: Repo id must use alphanumeric chars")
    assert first.endswith(": './no-such-model'."), first  # the whole line: nothing cut
    assert second == "Model folder not found"
    assert "cause:" in out and "fix:" in out
    # machine independent: the temp dir is masked
    assert str(tmp_path) not in out and "<tmp>/" in out
    assert caught.text == out.rstrip("\n")


def test_expect_error_fails_loudly_when_nothing_is_raised():
    message = "expected ValueError but the block ran without error"
    with pytest.raises(AssertionError, match=message), expect_error(ValueError):
        pass


def test_expect_error_lets_other_errors_through():
    with pytest.raises(KeyError), expect_error(ValueError):
        raise KeyError("x")


def test_expect_error_match():
    with expect_error(ValueError, match=r"model type `\w+`") as caught:
        raise ValueError("has model type `x` but Transformers does not recognize this")
    assert caught.diagnosis.title.startswith("Architecture")
    with pytest.raises(AssertionError, match="matching"), expect_error(ValueError, match="zzz"):
        raise ValueError("something else")


def test_expect_error_accepts_course_error_raised_from_expected_type(capsys):
    with expect_error(OSError) as caught:
        try:
            raise OSError("Error no file named model.safetensors found in directory x.")
        except OSError as inner:
            raise CourseError(Diagnosis("T", "C", "F")) from inner
    assert caught.diagnosis == Diagnosis("T", "C", "F")
    assert capsys.readouterr().out.startswith("Raised CourseError from OSError: Error no file")


def test_expect_error_in_ipython_displays_text_and_html(monkeypatch):
    shown = []
    monkeypatch.setattr(dx, "_in_ipython", lambda: True)
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda obj, raw: shown.append((obj, raw)))
    with expect_error(ZeroDivisionError) as caught:
        1 / 0  # noqa: B018
    [(bundle, raw)] = shown
    assert raw is True
    assert bundle["text/plain"] == caught.text
    assert bundle["text/plain"].startswith("Raised ZeroDivisionError: division by zero\n")
    assert "<b>Cause:</b>" in bundle["text/html"] and "division by zero" in bundle["text/html"]


def test_sanitize_masks_machine_specific_parts():
    import tempfile

    text = (
        f"{dx.REPO_ROOT}/helpers/models/x {tempfile.gettempdir()}/tmpab12cd_3/f "
        f"{os.path.expanduser('~')}/data at 0x7f3a2b1c4d50"
    )
    out = dx._sanitize(text)
    assert out == "<course>/helpers/models/x <tmp>/tmpXXXXXXXX/f ~/data at 0x…"
    assert not re.search(r"0x[0-9a-f]{6}", out)


def test_helpers_diagnose_stays_the_function_after_the_module_is_imported():
    """The module is helpers.diagnosis, so importing it never shadows helpers.diagnose."""
    import helpers
    import helpers.diagnosis  # noqa: F401

    exc = raised(torch.empty, 10**13, dtype=torch.uint8)
    assert helpers.diagnose(exc).title == "Out of memory (RAM)"


# ---------------------------------------------------------------------------------------------
# Invalid JSON, shapes that don't fit, and how a diagnosis shows
# ---------------------------------------------------------------------------------------------


def _break_json(folder: Path, name: str, old: str, new: str) -> int:
    """Replace ``old`` by ``new`` in ``folder/name``; return the (1-based) line it is on."""
    text = (folder / name).read_text()
    assert old in text
    (folder / name).write_text(text.replace(old, new, 1))
    return text[: text.index(old)].count("\n") + 1


def test_invalid_json_config(tmp_path, gpt2_dir):
    folder = copy_model(gpt2_dir, tmp_path / "badjson")
    line = _break_json(folder, "config.json", '"n_embd": 32,', '"n_embd": 32,,')
    exc = raised(AutoModelForCausalLM.from_pretrained, folder)
    assert type(exc) is OSError
    assert str(exc) == (f"It looks like the config file at '{folder / 'config.json'}' is not a "
                        "valid JSON file.")
    decode = exc.__context__  # raised inside `except JSONDecodeError`, so chained as context
    assert type(decode) is json.JSONDecodeError and (decode.lineno, decode.colno) == (line, 16)
    d = diagnose(exc)
    assert d.title == "Invalid JSON in a model file"
    assert d.cause.startswith(f"{folder / 'config.json'} is not valid JSON at line {line}, "
                              "column 16: Expecting property name enclosed in double quotes.")
    assert "The line reads: '\"n_embd\": 32,,'." in d.cause
    assert "comma" in d.fix and f"python -m json.tool {folder / 'config.json'}" in d.fix
    # AutoConfig and AutoTokenizer raise the same (the tokenizer reads config.json too)
    assert diagnose(raised(AutoConfig.from_pretrained, folder)) == d
    assert diagnose(raised(AutoTokenizer.from_pretrained, folder)) == d


@pytest.mark.parametrize("name", ["tokenizer_config.json", "tokenizer.json"])
def test_invalid_json_in_tokenizer_files_is_a_bare_decode_error(tmp_path, gpt2_dir, name):
    """No OSError and no file name from transformers here: the diagnosis finds the file."""
    folder = copy_model(gpt2_dir, tmp_path / "badtok")
    text = (folder / name).read_text()
    (folder / name).write_text(text[:-5])
    exc = raised(AutoTokenizer.from_pretrained, folder)
    assert type(exc) is json.JSONDecodeError
    d = diagnose(exc)
    assert d.title == "Invalid JSON in a model file"
    assert str(folder / name) in d.cause and f"at line {exc.lineno}, column {exc.colno}" in d.cause


def test_json_that_is_not_text(tmp_path, gpt2_dir):
    folder = copy_model(gpt2_dir, tmp_path / "binary")
    (folder / "config.json").write_bytes(b"\xff\xfe\x00garbage")
    d = diagnose(raised(AutoConfig.from_pretrained, folder))
    assert d.title == "Invalid JSON in a model file" and "not even UTF-8" in d.cause


def test_shape_mismatch_from_pretrained(tmp_path, gpt2_dir):
    """5.24 raises after logging its load report; the report is not in the message, so the
    diagnosis reads transformers' loading_info from the failing frame."""
    folder = copy_model(gpt2_dir, tmp_path / "wider")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "n_embd": 64}))
    exc = raised(AutoModelForCausalLM.from_pretrained, folder)
    assert type(exc) is RuntimeError
    assert str(exc) == ("You set `ignore_mismatched_sizes` to `False`, thus raising an error. "
                        "For details look at the above report!")
    d = diagnose(exc)
    assert d.title == "Weights don't fit the config: config and weights come from different models"
    assert ("The tensor transformer.h.0.attn.c_attn.bias has shape [96] in the checkpoint, but "
            "the config builds [192] (27 more tensors differ too).") in d.cause
    assert "ignore_mismatched_sizes=True" in d.fix and "\n- " in d.fix


def test_shape_mismatch_from_load_state_dict(gpt2_dir):
    small = GPT2LMHeadModel.from_pretrained(gpt2_dir)
    wide = GPT2LMHeadModel(GPT2Config(**{**small.config.to_dict(), "n_embd": 64}))
    exc = raised(wide.load_state_dict, small.state_dict())
    assert "size mismatch for transformer.wte.weight: copying a param with shape" in str(exc)
    d = diagnose(exc)
    assert d.title.endswith("config and weights come from different models")
    vocab = small.config.vocab_size
    assert (f"The tensor transformer.wte.weight has shape [{vocab}, 32] in the checkpoint, but "
            f"the config builds [{vocab}, 64] (28 more tensors differ too)") in d.cause


def test_no_model_type_says_the_folder_name_is_not_read(tmp_path):
    folder = write_config(tmp_path / "gpt2-copy", {"n_embd": 8})  # 4.x guessed gpt2 from this
    d = diagnose(raised(AutoConfig.from_pretrained, folder))
    assert "5.x no longer does" in d.cause and "matches none it knows" not in d.cause


def test_hub_unreachable_fix_tells_cached_from_uncached(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    d = diagnose(raised(AutoConfig.from_pretrained, "openai-community/gpt2",
                        cache_dir=tmp_path), model="openai-community/gpt2")
    assert "not cached at all fails only after them" in d.fix
    assert "even a cached one loads its weights at normal speed" in d.fix
    assert d.fix.count("\n- ") == 2


def test_out_of_memory_ways_out_are_a_list_in_text_and_html():
    d = diagnose(raised(torch.empty, 10**13, dtype=torch.uint8))
    lines = d.fix.splitlines()
    assert lines[0] == "Ways out:" and [ln[:2] for ln in lines[1:5]] == ["- "] * 4
    text = str(d)
    assert "\n  fix:   Ways out:\n         - a smaller dtype: dtype=torch.bfloat16" in text
    html = d._repr_html_()
    assert html.count("<li>") == 4 and "<ul" in html and "- a smaller" not in html


def test_first_line_keeps_whole_lines_and_cuts_long_ones_at_a_sentence():
    exc = raised(torch.empty, 2**50, dtype=torch.uint8)
    assert dx.first_line(exc) == str(exc).splitlines()[0].strip()  # ~175 chars, not cut
    assert dx.first_line(exc).endswith("(Cannot allocate memory)")
    long = ValueError("First sentence is here. " * 30)
    cut = dx.first_line(long)
    assert len(cut) <= 402 and cut.endswith("here. …")


def _sentencepiece_only(folder: Path, gpt2_dir: Path) -> Path:
    """A Llama-type folder whose only vocabulary is tokenizer.model (no tokenizer.json)."""
    folder.mkdir()
    config = json.loads((gpt2_dir / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "llama"}))
    (folder / "tokenizer_config.json").write_text('{"tokenizer_class": "LlamaTokenizer"}')
    (folder / "tokenizer.model").write_bytes(os.urandom(200))
    return folder


def test_sentencepiece_vocabulary_without_the_package(tmp_path, gpt2_dir):
    import importlib.util

    if importlib.util.find_spec("sentencepiece") or importlib.util.find_spec("tiktoken"):
        pytest.skip("sentencepiece or tiktoken is installed here")
    folder = _sentencepiece_only(tmp_path / "spm", gpt2_dir)
    exc = raised(AutoTokenizer.from_pretrained, folder)
    assert str(exc).startswith("`tiktoken` is required to read a `tiktoken` file.")
    d = diagnose(exc, model=str(folder))
    assert d.title == "The tokenizer needs a package that is not installed"
    assert "only tokenizer.model" in d.cause and "sentencepiece" in d.cause
    assert "pip install sentencepiece" in d.fix and "tokenizer.json" in d.fix


def test_no_tokenizer_files_message(tmp_path, gpt2_dir):
    folder = copy_model(gpt2_dir, tmp_path / "config-only-tokenizer")
    (folder / "tokenizer.json").unlink()
    exc = raised(AutoTokenizer.from_pretrained, folder)
    assert str(exc).startswith("Couldn't instantiate the backend tokenizer")
    d = diagnose(exc, model=str(folder))
    assert d.title == "No tokenizer files found" and "tokenizer.save_pretrained" in d.fix
