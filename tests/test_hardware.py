"""helpers.hardware: honest bf16 detection and the dtype/device_map decision."""

from __future__ import annotations

import pytest
import torch

from helpers import hardware
from helpers.errors import CourseError
from helpers.hardware import Capabilities, decide, recommend


def test_cuda_ampere_gets_bf16():
    rec = recommend("cuda", compute_capability=(8, 0))
    assert (rec.device, rec.device_map, rec.dtype, rec.bf16_native) == (
        "cuda", "auto", torch.bfloat16, True)
    assert "8.0" in rec.reason and "natively" in rec.reason


def test_cuda_turing_gets_fp16_with_the_fp32_fallback_explained():
    rec = recommend("cuda", compute_capability=(7, 5))
    assert (rec.dtype, rec.bf16_native, rec.device_map) == (torch.float16, False, "auto")
    for words in ("7.5", "emulates", "not less accurate", "only for fp16-safe models",
                  "trained in bf16", "inf/NaN", "dtype=torch.float32"):
        assert words in rec.reason
    assert rec.free_memory_bytes is None


def test_mps():
    assert decide(Capabilities("mps", bf16_native=True)).dtype == torch.bfloat16
    old = decide(Capabilities("mps", bf16_native=False))
    assert (old.dtype, old.device_map) == (torch.float16, "mps")


def test_cpu_without_native_bf16_gets_float32():
    rec = decide(Capabilities("cpu", bf16_native=False, free_memory_bytes=8 << 30))
    assert (rec.dtype, rec.device_map, rec.free_memory_bytes) == (torch.float32, "cpu", 8 << 30)
    for words in ("emulate", "not less accurate", "float16 is about 3x slower"):
        assert words in rec.reason


def test_cpu_with_native_bf16_gets_bf16():
    rec = decide(Capabilities("cpu", bf16_native=True, bf16_evidence="amx_bf16"))
    assert rec.dtype == torch.bfloat16 and "amx_bf16" in rec.reason


@pytest.mark.parametrize("device", ["cpu", "cuda", "mps"])
@pytest.mark.parametrize("native", [True, False])
def test_never_fp16_on_cpu_and_always_a_reason(device, native):
    rec = decide(Capabilities(device, compute_capability=(8, 6) if native else (7, 0),
                              bf16_native=native))
    assert rec.reason
    if device == "cpu":
        assert rec.dtype != torch.float16


def test_this_machine_matches_what_torch_measures():
    rec = recommend()
    caps = rec.capabilities
    assert rec.device == ("cuda" if torch.cuda.is_available() else
                          "mps" if torch.backends.mps.is_available() else "cpu")
    if rec.device == "cpu":
        flags = torch.cpu.get_capabilities()
        expected = any(flags.get(f) for f in hardware.CPU_BF16_FLAGS)
        assert rec.bf16_native is expected
        assert rec.dtype == (torch.bfloat16 if expected else torch.float32)
        assert caps.free_memory_bytes > 0
    assert "dtype" in str(rec) and "<table" in rec._repr_html_()


def test_hypothetical_devices_need_enough_facts():
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="compute_capability"):
            recommend("cuda")
    with pytest.raises(ValueError, match="only applies"):
        recommend("cpu", compute_capability=(8, 0))
    with pytest.raises(ValueError, match="unknown device"):
        hardware.detect("tpu")


def test_parse_dtype():
    assert hardware.parse_dtype("auto") == "auto"
    assert hardware.parse_dtype("bfloat16") is torch.bfloat16
    assert hardware.parse_dtype("torch.float16") is torch.float16
    assert hardware.parse_dtype(torch.float32) is torch.float32
    with pytest.raises(CourseError, match="Did you mean 'bfloat16'"):
        hardware.parse_dtype("bf16")
    with pytest.raises(CourseError, match="quantization_config") as info:
        hardware.parse_dtype(torch.int8)
    assert "'auto'" in info.value.diagnosis.fix and "float16" in info.value.diagnosis.fix


def test_show_environment(monkeypatch):
    monkeypatch.delenv("COURSE_MODEL", raising=False)
    env = hardware.show_environment()
    data = env.as_dict()
    for key in ("Python", "torch", "transformers", "accelerate", "huggingface_hub", "device",
                "native bf16", "free RAM", "course model"):
        assert data[key]
    assert data["transformers"].startswith("5.")
    assert "bundled default" in data["course model"]
    assert "transformers" in str(env) and "<table" in env._repr_html_()
    monkeypatch.setenv("COURSE_MODEL", "gpt2")
    assert "gpt2 (from the environment variable COURSE_MODEL)" in str(hardware.show_environment())


def test_format_bytes():
    assert hardware.format_bytes(None) == "unknown"
    assert hardware.format_bytes(512) == "512 B"
    assert hardware.format_bytes(312.5 * 2**20) == "312.5 MiB"
    assert hardware.format_bytes(3 * 2**30) == "3.0 GiB"
