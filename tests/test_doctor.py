"""helpers.doctor: tells the truth about this machine, as lines and as JSON."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import doctor
from helpers.doctor import Check, Checks

ROOT = Path(__file__).resolve().parents[1]


def _by_name(checks) -> dict[str, Check]:
    return {c.check: c for c in checks}


def _expected_by_threshold(free: int, fail: int, warn: int) -> str:
    return "FAIL" if free < fail else "WARN" if free < warn else "OK"


def test_all_checks_pass_with_the_models_in_place(bundled, offline, monkeypatch):
    """Every status is the one this machine really gives: the thresholds are written out here
    (2 GiB / 512 MiB of RAM, 2 GiB / 200 MiB of disk), the facts measured independently."""
    import psutil
    from huggingface_hub import constants

    for env in ("COURSE_MODEL", "COURSE_CHAT_MODEL"):
        monkeypatch.delenv(env, raising=False)
    checks = doctor.run_checks()
    assert isinstance(checks, list) and all(isinstance(c, Check) for c in checks)
    named = _by_name(checks)
    assert list(named) == ["python", "packages", "devices", "native bf16", "free RAM",
                           "free disk", "hub", "hub cache", "course model setting",
                           "base model", "chat model"]
    ram = _expected_by_threshold(psutil.virtual_memory().available, 512 << 20, 2 << 30)
    cache = Path(constants.HF_HUB_CACHE)
    where = next(p for p in (cache, *cache.parents) if p.exists())
    disk = _expected_by_threshold(shutil.disk_usage(where).free, 200 << 20, 2 << 30)
    writable = os.access(where, os.W_OK)
    expected = {"python": "OK", "packages": "OK", "devices": "OK", "native bf16": "OK",
                "free RAM": ram, "free disk": disk, "hub": "OK",
                "hub cache": "OK" if writable else "WARN", "course model setting": "OK",
                "base model": "OK", "chat model": "OK"}
    assert {n: c.status for n, c in named.items()} == expected, checks
    assert "cpu (" in named["devices"].detail
    import torch

    if not torch.cuda.is_available() and not torch.backends.mps.is_available():
        assert named["devices"].detail.endswith("; no GPU: the course is designed to run on CPU")
    assert named["course model setting"].detail == (
        "bundled models (COURSE_MODEL and COURSE_CHAT_MODEL not set)")
    assert named["free RAM"].detail.endswith(" free of " + doctor_format(
        psutil.virtual_memory().total))
    base, chat = named["base model"], named["chat model"]
    assert (base.status, chat.status) == ("OK", "OK"), (base, chat)
    assert base.detail.startswith("stories-base: GPT2LMHeadModel, stored float32, loaded as ")
    assert chat.detail.startswith("stories-chat: LlamaForCausalLM, stored bfloat16, loaded as ")
    assert "(the dtype recommended for this machine)" in base.detail
    assert "1-token forward pass work" in base.detail and "chat template renders" in chat.detail
    assert named["hub"].status == "OK" and "HF_HUB_OFFLINE" in named["hub"].detail
    assert "transformers 5.24.0" in named["packages"].detail


def doctor_format(n: int) -> str:
    from helpers.display import format_bytes

    return format_bytes(n)


def test_hub_status_follows_the_network_probe(monkeypatch):
    """Without offline mode the hub line says what the network probe found: OK when the
    endpoint answered, WARN (with the reason) when not. The test reads the very probe the
    doctor made, so the network changing between two probes cannot make it flaky."""
    from huggingface_hub import constants

    from helpers import hub

    for env in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(env, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    probes = []
    real_probe = hub._probe

    def spy(**kwargs):
        result = real_probe(**kwargs)
        probes.append(result)
        return result

    monkeypatch.setattr(hub, "_probe", spy)
    check = doctor.check_hub()
    assert len(probes) == 1
    reachable, error = probes[0]
    host, port = hub.hub_endpoint()
    if reachable:
        assert (check.status, check.detail) == (
            "OK", f"{host}:{port} reachable; hub models can be downloaded")
    else:
        assert check.status == "WARN"
        assert check.detail == f"unreachable: the hub endpoint {host}:{port} cannot be reached " \
            f"({error})"
        assert "bundled models" in check.fix and "HF_HUB_OFFLINE=1" in check.fix


def test_native_bf16_line_reports_what_torch_measures():
    import torch

    check = doctor.check_bf16()
    assert check.status == "OK"  # a fact, never a problem
    if not torch.cuda.is_available() and not torch.backends.mps.is_available():
        caps = torch.cpu.get_capabilities()  # the names written out: a typo in helpers shows
        flags = [f for f in ("amx_bf16", "avx512_bf16", "sve_bf16", "bf16") if caps.get(f)]
        if flags:
            assert check.detail == (f"native on cpu ({', '.join(flags)}); recommended dtype "
                                    "bfloat16")
        else:
            assert check.detail.startswith("not native on cpu (no bf16 instructions")
            assert check.detail.endswith("recommended dtype float32")


def test_unreachable_hub_is_a_warning(unreachable_hub):
    check = doctor.check_hub()
    assert check.status == "WARN" and "127.0.0.1:9" in check.detail
    assert "bundled models" in check.fix


def test_missing_bundled_model_fails_with_make_models(monkeypatch, tmp_path):
    from helpers import models

    monkeypatch.setattr(models, "MODELS_DIR", tmp_path)
    monkeypatch.delenv("COURSE_MODEL", raising=False)
    check = doctor.check_course_model("base")
    assert check.status == "FAIL" and "make models" in check.fix


def test_loaded_dtype_is_the_recommendation(bundled):
    from helpers.hardware import dtype_name, recommend

    check = doctor.check_course_model("base")
    wanted = dtype_name(recommend().dtype)
    assert f"stored float32, loaded as {wanted} (the dtype recommended for this machine)" in (
        check.detail)


# --------------------------------------------------------------------------- broken course models


def _broken(kind, tmp_path, tiny_gpt2):
    folder = tmp_path / kind
    shutil.copytree(tiny_gpt2, folder)
    if kind == "invalid-json":
        text = (folder / "config.json").read_text()
        (folder / "config.json").write_text(text.replace('"n_embd": 32,', '"n_embd": 32,,'))
    elif kind == "no-tokenizer":
        for name in ("tokenizer.json", "tokenizer_config.json"):
            (folder / name).unlink()
    elif kind == "t5":
        from transformers import T5Config, T5ForConditionalGeneration

        shutil.rmtree(folder)
        config = T5Config(num_layers=1, d_model=8, num_heads=2, d_kv=4, d_ff=8, vocab_size=20,
                          decoder_start_token_id=0)
        T5ForConditionalGeneration(config).save_pretrained(folder)
        shutil.copy(tiny_gpt2 / "tokenizer.json", folder)  # has a tokenizer: the model is wrong
    elif kind == "pickle-only":
        import torch
        from safetensors.torch import load_file

        torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
        (folder / "model.safetensors").unlink()
    return folder


@pytest.mark.parametrize(("kind", "title", "more"), [
    ("invalid-json", "Invalid JSON in a model file", "column 16"),
    ("no-tokenizer", "No tokenizer files found", "tokenizer.json"),
    ("t5", "AutoModelForCausalLM can't build T5Config", "AutoModelForSeq2SeqLM"),
    ("pickle-only", "Checkpoint has only pickle weights", "pytorch_model.bin"),
])
def test_a_broken_base_model_fails_with_its_diagnosis(bundled, monkeypatch, tmp_path, tiny_gpt2,
                                                      kind, title, more):
    folder = _broken(kind, tmp_path, tiny_gpt2)
    monkeypatch.setenv("COURSE_MODEL", str(folder))
    check = doctor.check_course_model("base")
    assert check.status == "FAIL", check
    assert check.detail.startswith(f"{kind}: {title}: ")
    assert more in check.detail + check.fix and check.fix
    assert "\n" not in check.detail + check.fix  # one line each, list items joined


def test_chat_model_without_template_fails(bundled, monkeypatch, tmp_path, tiny_gpt2):
    folder = tmp_path / "base-as-chat"
    shutil.copytree(tiny_gpt2, folder)
    monkeypatch.setenv("COURSE_CHAT_MODEL", str(folder))
    check = doctor.check_course_model("chat")
    assert check.status == "FAIL"
    assert check.detail.startswith("base-as-chat: No chat template")
    assert "chat / instruct model" in check.fix
    assert doctor.check_course_model("base").status == "OK"  # the same folder is a fine base


def test_doctor_exits_1_for_a_broken_course_model(bundled, offline, monkeypatch, tmp_path,
                                                  tiny_gpt2, capsys):
    monkeypatch.setenv("COURSE_MODEL", str(_broken("invalid-json", tmp_path, tiny_gpt2)))
    assert doctor.cli(["--json"]) == 1
    named = {c["check"]: c for c in json.loads(capsys.readouterr().out)}
    assert named["base model"]["status"] == "FAIL" and named["chat model"]["status"] == "OK"


def test_course_model_setting_offline_and_uncached_fails(offline, monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("COURSE_MODEL", "HuggingFaceTB/SmolLM2-135M")
    check = doctor.check_course_model_setting()
    assert check.status == "FAIL" and "COURSE_MODEL=HuggingFaceTB/SmolLM2-135M" in check.detail
    assert "prefetch" in check.fix


def test_course_model_setting_cached(offline, hub_cache, monkeypatch):
    from tiny_model_data import HUB_ID

    monkeypatch.setenv("COURSE_MODEL", HUB_ID)
    check = doctor.check_course_model_setting()
    assert check.status == "OK" and "hub cache" in check.detail


def test_package_mismatch_and_missing(monkeypatch):
    monkeypatch.setattr(doctor, "requirements",
                        lambda: (">=3.11", ["torch==0.1", 'pytest==1; extra == "test"']))
    check = doctor.check_packages()
    assert check.status == "WARN" and "pinned ==0.1" in check.detail
    assert "pytest" not in check.detail  # test extras are not the learner's concern
    monkeypatch.setattr(doctor, "requirements", lambda: (">=3.11", ["no-such-package==1.0"]))
    assert doctor.check_packages().status == "FAIL"


def test_python_outside_requires_python(monkeypatch):
    monkeypatch.setattr(doctor, "requirements", lambda: (">=3.99", []))
    check = doctor.check_python()
    assert check.status == "FAIL" and ">=3.99" in check.detail


def test_requirements_fall_back_to_pyproject(monkeypatch):
    from importlib import metadata

    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", not_installed)
    python, specs = doctor.requirements()
    assert python == ">=3.11,<3.12"
    assert "transformers==5.24.0" in specs


def test_low_memory_and_disk(monkeypatch):
    import shutil as shutil_module
    from collections import namedtuple

    import psutil

    vm = namedtuple("vm", "available total")
    monkeypatch.setattr(psutil, "virtual_memory", lambda: vm(100 << 20, 8 << 30))
    assert doctor.check_ram().status == "FAIL"
    monkeypatch.setattr(psutil, "virtual_memory", lambda: vm(1 << 30, 8 << 30))
    assert doctor.check_ram().status == "WARN"
    du = namedtuple("du", "total used free")
    monkeypatch.setattr(shutil_module, "disk_usage", lambda p: du(1, 1, 1 << 30))
    assert doctor.check_disk().status == "WARN"


def test_a_crashing_check_is_reported_not_raised(monkeypatch):
    def boom():
        raise RuntimeError("kaboom")

    monkeypatch.setattr(doctor, "check_devices", boom)
    monkeypatch.setattr(doctor, "check_course_model", lambda kind: Check(kind, "OK", "skipped"))
    checks = doctor.run_checks()
    devices = _by_name(checks)["devices"]
    assert devices.status == "FAIL" and "kaboom" in devices.detail


def test_rendering():
    checks = Checks([Check("a", "OK", "fine"), Check("b", "WARN", "meh", "do x")])
    text = str(checks)
    assert text.splitlines()[0] == "[OK]   a: fine"
    assert "[WARN] b: meh" in text and "fix: do x" in text
    assert not checks.failed and "<table" in checks._repr_html_()
    assert json.loads(checks.to_json())[1] == {"check": "b", "status": "WARN", "detail": "meh",
                                               "fix": "do x"}


def test_cli_exit_code_follows_fail(monkeypatch, capsys):
    monkeypatch.setattr(doctor, "run_checks", lambda: Checks([Check("a", "WARN", "x", "y")]))
    assert doctor.cli([]) == 0
    assert "0 OK, 1 WARN, 0 FAIL" in capsys.readouterr().out
    monkeypatch.setattr(doctor, "run_checks", lambda: Checks([Check("a", "FAIL", "x", "y")]))
    assert doctor.cli(["--json"]) == 1
    assert json.loads(capsys.readouterr().out)[0]["status"] == "FAIL"


@pytest.mark.slow
def test_python_m_helpers_doctor_json():
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    result = subprocess.run([sys.executable, "-m", "helpers", "doctor", "--json"], cwd=ROOT,
                            capture_output=True, text=True, env=env, timeout=120)
    checks = json.loads(result.stdout)
    assert {tuple(sorted(c)) for c in checks} == {("check", "detail", "fix", "status")}
    failed = any(c["status"] == "FAIL" for c in checks)
    assert result.returncode == (1 if failed else 0), result.stderr
    named = {c["check"]: c for c in checks}
    assert named["python"]["status"] == "OK" and named["packages"]["status"] == "OK"
    assert named["hub"]["status"] == "OK"  # HF_HUB_OFFLINE=1: offline mode is a choice


def test_the_course_model_setting_is_shown_as_it_was_written(monkeypatch):
    """A name is shown as the learner set it, not as the folder it resolves to."""
    from helpers import doctor

    monkeypatch.setenv("COURSE_MODEL", "stories-base")
    monkeypatch.delenv("COURSE_CHAT_MODEL", raising=False)
    check = doctor.check_course_model_setting()
    assert (check.status, check.detail) == ("OK", "COURSE_MODEL=stories-base (bundled)")
    monkeypatch.setenv("COURSE_CHAT_MODEL", " no-such-folder-or-model ")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    check = doctor.check_course_model_setting()
    assert check.status == "FAIL" and check.detail.startswith(
        "COURSE_CHAT_MODEL=no-such-folder-or-model: "), check
