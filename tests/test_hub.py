"""helpers.hub: resolving names, and failing fast (not after 23 s of retries) when offline."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from tiny_model_data import HUB_COMMIT, HUB_ID

from helpers import hub
from helpers.errors import CourseError
from helpers.models import DEFAULT_MODEL


@pytest.fixture(autouse=True)
def _no_course_env(monkeypatch):
    monkeypatch.delenv("COURSE_MODEL", raising=False)
    monkeypatch.delenv("COURSE_CHAT_MODEL", raising=False)


# --------------------------------------------------------------------------- course_model


def test_course_model_defaults_to_bundled_folder(bundled):
    """What from_pretrained accepts as it is: the bundled folder, not the short name."""
    assert hub.course_model() == str(bundled / DEFAULT_MODEL["base"])
    assert hub.course_model("chat") == str(bundled / DEFAULT_MODEL["chat"])
    assert hub.course_model_name() == DEFAULT_MODEL["base"]
    assert hub.course_model_name("chat") == DEFAULT_MODEL["chat"]
    assert "bundled default" in hub.course_model_origin()


def test_course_model_env_with_a_bundled_name(bundled, monkeypatch):
    monkeypatch.setenv("COURSE_MODEL", "stories-chat")
    assert hub.course_model() == str(bundled / "stories-chat")
    assert hub.course_model_name() == "stories-chat"


def test_course_model_env_with_a_folder(tiny_gpt2, monkeypatch):
    monkeypatch.setenv("COURSE_MODEL", str(tiny_gpt2))
    assert hub.course_model() == str(tiny_gpt2.resolve())
    assert hub.course_model_name() == tiny_gpt2.name


def test_bundled_folder_resolves_as_bundled_with_its_short_name(bundled):
    r = hub.resolve(hub.course_model("chat"))
    assert (r.source, r.name) == ("bundled", "stories-chat")
    assert hub.model_label("org/model") == "org/model"


def test_course_model_follows_environment(monkeypatch):
    monkeypatch.setenv("COURSE_MODEL", "gpt2")
    monkeypatch.setenv("COURSE_CHAT_MODEL", "HuggingFaceTB/SmolLM2-135M-Instruct")
    assert hub.course_model() == hub.course_model_name() == "gpt2"
    assert hub.course_model("chat") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert "COURSE_MODEL" in hub.course_model_origin("base")


def test_course_model_unknown_kind():
    with pytest.raises(CourseError, match="kind"):
        hub.course_model("instruct")


# --------------------------------------------------------------------------- local names


def test_bundled_name_resolves_to_its_folder(bundled):
    r = hub.resolve("stories-base")
    assert (r.source, r.local_files_only) == ("bundled", True)
    assert r.location == str(bundled / "stories-base") == r.folder


def test_missing_bundled_folder_says_make_models(monkeypatch, tmp_path):
    from helpers import models

    monkeypatch.setattr(models, "MODELS_DIR", tmp_path)
    with pytest.raises(CourseError, match="make models"):
        hub.resolve("stories-chat")


def test_existing_folder_is_local(tiny_gpt2, monkeypatch):
    r = hub.resolve(tiny_gpt2)
    assert (r.source, r.local_files_only, r.location) == ("local folder", True, str(tiny_gpt2))
    monkeypatch.chdir(tiny_gpt2.parent)  # relative names that exist are folders too
    assert hub.resolve(tiny_gpt2.name).source == "local folder"


def test_file_instead_of_folder(tiny_gpt2):
    with pytest.raises(CourseError, match="folder") as info:
        hub.resolve(tiny_gpt2 / "config.json")
    assert str(tiny_gpt2) in info.value.diagnosis.fix


@pytest.mark.parametrize(
    "name",
    ["/abs/path/no-such-model", "./no-such-model", "../no-such-model", "~/no-such-model",
     "models/gpt2/v1", "no-such-model/"],
)
def test_missing_path_is_a_folder_error_not_a_repo_id_error(name, unreachable_hub):
    start = time.perf_counter()
    with pytest.raises(CourseError) as info:
        hub.resolve(name)
    assert time.perf_counter() - start < 1
    diagnosis = info.value.diagnosis
    assert "does not exist" in diagnosis.title
    assert os.getcwd() in diagnosis.cause and "repo id" in diagnosis.cause
    assert "stories-base" in diagnosis.fix


@pytest.mark.parametrize("name", ["not a/valid repo", "bad--name", "-dash", "a" * 100])
def test_malformed_repo_id(name):
    with pytest.raises(CourseError, match="valid hub id") as info:
        hub.resolve(name)
    from huggingface_hub.utils import HFValidationError

    assert isinstance(info.value.__cause__, HFValidationError)
    assert "HuggingFaceTB/SmolLM2-135M" in info.value.diagnosis.fix


def test_looks_like_path():
    assert hub.looks_like_path("/x") and hub.looks_like_path("./x") and hub.looks_like_path("~")
    assert hub.looks_like_path("a/b/c") and hub.looks_like_path("a/")
    assert not hub.looks_like_path("gpt2") and not hub.looks_like_path("org/model")


# --------------------------------------------------------------------------- hub ids, offline


def _assert_offline_error(info, name: str) -> None:
    diagnosis = info.value.diagnosis
    assert name in diagnosis.title and "offline" in diagnosis.title
    for hint in (f"python -m helpers prefetch {name}", "hf download", "HF_HUB_OFFLINE=1",
                 "bundled"):
        assert hint in diagnosis.fix


def test_uncached_id_with_unreachable_hub_fails_fast(unreachable_hub, tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    start = time.perf_counter()
    with pytest.raises(CourseError) as info:
        hub.resolve("openai-community/gpt2")
    assert time.perf_counter() - start < 2
    _assert_offline_error(info, "openai-community/gpt2")
    assert "127.0.0.1:9" in info.value.diagnosis.cause and "23 s" in info.value.diagnosis.cause
    assert isinstance(info.value.__cause__, OSError)  # the refused connection, chained


def test_uncached_id_in_offline_mode_fails_fast(offline, tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    start = time.perf_counter()
    with pytest.raises(CourseError) as info:
        hub.resolve("gpt2", revision="v1.0")
    assert time.perf_counter() - start < 2
    _assert_offline_error(info, "gpt2")
    assert "--revision v1.0" in info.value.diagnosis.fix
    assert "HF_HUB_OFFLINE=1" in info.value.diagnosis.cause
    assert "23 s" not in info.value.diagnosis.cause  # offline mode fails at once anyway
    assert "Unset HF_HUB_OFFLINE" in info.value.diagnosis.fix


def test_probe_is_cached_per_process(unreachable_hub, monkeypatch):
    calls = []
    real = hub.socket.create_connection

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(hub.socket, "create_connection", counting)
    assert hub.hub_reachable() is False
    assert hub.hub_reachable() is False
    assert len(calls) == 1
    hub.hub_reachable(refresh=True)
    assert len(calls) == 2


def test_probe_gives_up_on_a_hanging_lookup(unreachable_hub, monkeypatch):
    def hang(*args, **kwargs):
        time.sleep(2)
        raise TimeoutError("DNS never answered")

    monkeypatch.setattr(hub.socket, "create_connection", hang)
    start = time.perf_counter()
    assert hub.hub_reachable(timeout=0.2) is False
    assert time.perf_counter() - start < 1


def test_probe_goes_through_a_proxy(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "https://huggingface.co")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert hub.hub_endpoint() == ("proxy.example", 3128)


def test_cached_id_offline_uses_the_cache(hub_cache, offline):
    r = hub.resolve(HUB_ID)
    assert (r.source, r.local_files_only, r.location) == ("hub cache", True, HUB_ID)
    assert r.folder.endswith(HUB_COMMIT)


def test_cached_id_with_unreachable_hub_uses_the_cache(hub_cache, unreachable_hub):
    r = hub.resolve(HUB_ID)
    assert (r.source, r.local_files_only) == ("hub cache", True)


def test_cache_lookup_honours_revision(hub_cache, offline):
    assert hub.resolve(HUB_ID, revision=HUB_COMMIT).source == "hub cache"
    with pytest.raises(CourseError, match="not available offline"):
        hub.resolve(HUB_ID, revision="v2")


def test_online_ids(hub_cache, reachable_hub):
    cached = hub.resolve(HUB_ID)
    assert (cached.source, cached.local_files_only) == ("hub cache", False)
    fresh = hub.resolve("gpt2")
    assert (fresh.source, fresh.local_files_only, fresh.folder) == ("hub download", False, None)


def test_cached_model_loads_offline(hub_cache, offline):
    """The resolved location and flag are what from_pretrained needs: no network touched."""
    from transformers import AutoModelForCausalLM

    r = hub.resolve(HUB_ID)
    model = AutoModelForCausalLM.from_pretrained(r.location, local_files_only=r.local_files_only)
    assert type(model).__name__ == "GPT2LMHeadModel"


# --------------------------------------------------------------------------- prefetch


def test_prefetch_offline_fails_fast_with_exit_1(offline, tmp_path, monkeypatch, capsys):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    start = time.perf_counter()
    assert hub.cli(["gpt2"]) == 1
    assert time.perf_counter() - start < 2
    err = capsys.readouterr().err
    assert "[FAIL] gpt2" in err and "not available offline" in err


def test_prefetch_online_calls_snapshot_download(reachable_hub, monkeypatch, tmp_path, capsys):
    import huggingface_hub
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    calls = {}

    class FakeApi:
        def list_repo_files(self, repo_id, revision=None):
            return ["config.json", "model.safetensors", "pytorch_model.bin", "onnx/model.onnx"]

    def fake_snapshot_download(repo_id, **kwargs):
        calls[repo_id] = kwargs
        return str(tmp_path / repo_id)

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    assert hub.cli(["prefetch", "gpt2", "--revision", "abc"]) == 0
    assert calls["gpt2"]["revision"] == "abc"
    assert "*.bin" in calls["gpt2"]["ignore_patterns"]  # safetensors exist: skip the pickle
    assert "onnx/*" in calls["gpt2"]["ignore_patterns"]
    out = capsys.readouterr().out
    assert "[OK] gpt2" in out and "HF_HUB_OFFLINE=1" in out


def test_prefetch_of_a_local_model_is_a_no_op(tiny_gpt2, capsys):
    assert hub.cli([str(tiny_gpt2)]) == 0
    assert "[OK]" in capsys.readouterr().out


def test_simulate_no_network_refuses_at_once_and_restores_everything(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = (constants.ENDPOINT, constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE)
    with hub.simulate_no_network():
        assert hub.offline_reason()[0].startswith("the hub endpoint 127.0.0.1:9 cannot be reached")
        assert list(Path(constants.HF_HUB_CACHE).iterdir()) == []
        with pytest.raises(CourseError, match="not available offline"):
            hub.resolve("openai-community/gpt2")
    assert before == (constants.ENDPOINT, constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE)
    assert os.environ["HF_HUB_OFFLINE"] == "1"
