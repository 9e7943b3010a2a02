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
    for words in ("emulate", "not less accurate", "float16 is usually slower", "make bench"):
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


# --------------------------------------------------------------------------- detection, patched
# The expectations below are written out literally, never read from hardware.CPU_BF16_FLAGS or
# computed the way the module computes them: a misspelt flag name, or emulated bf16 counted as
# native, must fail a test.

#: /proc/cpuinfo "flags" of a Sapphire Rapids Xeon (AMX + AVX512-BF16), trimmed
_SAPPHIRE_RAPIDS = ("fpu sse sse2 ssse3 sse4_1 sse4_2 avx avx2 fma avx512f avx512dq avx512cd "
                    "avx512bw avx512vl avx512_bf16 avx512_vnni avx512_fp16 amx_bf16 amx_tile "
                    "amx_int8")
#: Ice Lake: AVX-512 with VNNI, FP16-free, and no bf16 instructions at all
_ICE_LAKE = "fpu sse sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl avx512_vnni avx512_vbmi2"
#: Cooper Lake: AVX512-BF16 without AMX
_COOPER_LAKE = "fpu sse sse2 avx avx2 avx512f avx512bw avx512_bf16 avx512_vnni"


def _torch_caps_from_cpuinfo(flags_line: str) -> dict[str, object]:
    """What torch.cpu.get_capabilities() reports for a CPU with this /proc/cpuinfo flags line.

    x86 bf16 flags have the same names in the kernel and in torch (cpuinfo); the AVX-512
    foundation flags are spelt avx512f (kernel) / avx512_f (torch).
    """
    kernel = set(flags_line.split())
    caps: dict[str, object] = {"architecture": "x86_64", "cpu_name": "Intel Xeon"}
    for torch_name, kernel_name in [("avx512_bf16", "avx512_bf16"), ("amx_bf16", "amx_bf16"),
                                    ("amx_tile", "amx_tile"), ("amx_int8", "amx_int8"),
                                    ("amx_fp16", "amx_fp16"), ("avx512_fp16", "avx512_fp16"),
                                    ("avx512_vnni", "avx512_vnni"), ("avx512_f", "avx512f"),
                                    ("avx2", "avx2")]:
        caps[torch_name] = kernel_name in kernel
    return caps


@pytest.mark.parametrize(
    ("caps", "flags", "native"),
    [
        (_torch_caps_from_cpuinfo(_SAPPHIRE_RAPIDS), {"amx_bf16", "avx512_bf16"}, True),
        (_torch_caps_from_cpuinfo(_COOPER_LAKE), {"avx512_bf16"}, True),
        (_torch_caps_from_cpuinfo(_ICE_LAKE), set(), False),
        # ARM64 (Graviton 3 / Neoverse V1): the kernel says "bf16 svebf16", torch "bf16 sve_bf16"
        ({"architecture": "aarch64", "neon": True, "sve": True, "bf16": True, "sve_bf16": True,
          "i8mm": True}, {"bf16", "sve_bf16"}, True),
        ({"architecture": "aarch64", "neon": True, "bf16": True}, {"bf16"}, True),
        # Graviton 2 (Neoverse N1): no bf16
        ({"architecture": "aarch64", "neon": True, "dot": True, "fp16_arith": True}, set(), False),
        # a flag present but false is not support; fp16 and AMX tiles are not bf16
        ({"architecture": "x86_64", "avx512_bf16": False, "amx_bf16": False, "amx_tile": True,
          "amx_fp16": True, "avx512_fp16": True}, set(), False),
    ],
    ids=["sapphire-rapids", "cooper-lake", "ice-lake", "graviton3", "arm-bf16-only",
         "graviton2", "fp16-but-no-bf16"],
)
def test_cpu_bf16_detection_from_patched_capabilities(monkeypatch, caps, flags, native):
    import platform
    from collections import namedtuple

    import psutil

    vm = namedtuple("vm", "available total")
    monkeypatch.setattr(psutil, "virtual_memory", lambda: vm(5 << 30, 16 << 30))
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: caps)
    monkeypatch.setattr(platform, "processor", lambda: "")  # as on most Linux machines
    monkeypatch.setattr(platform, "machine", lambda: "test-machine")
    assert set(hardware.cpu_bf16_flags()) == flags
    detected = hardware.detect("cpu")
    assert detected.bf16_native is native
    assert detected.name == ("Intel Xeon" if "cpu_name" in caps else "test-machine")
    assert (detected.free_memory_bytes, detected.total_memory_bytes) == (5 << 30, 16 << 30)
    if native:
        assert set(detected.bf16_evidence.split(", ")) == flags
    else:
        isa = torch.backends.cpu.get_cpu_capability()
        assert detected.bf16_evidence == f"no bf16 instructions (vector ISA: {isa})"
    rec = decide(detected)
    assert rec.dtype == (torch.bfloat16 if native else torch.float32)


def test_cpu_bf16_flags_agree_with_the_kernel_on_this_machine():
    """On Linux x86, the kernel's own flag list is an independent witness."""
    import platform
    from pathlib import Path

    cpuinfo = Path("/proc/cpuinfo")
    if platform.machine() != "x86_64" or not cpuinfo.exists():
        pytest.skip("needs Linux on x86_64")
    line = next(ln for ln in cpuinfo.read_text().splitlines() if ln.startswith("flags"))
    kernel = set(line.partition(":")[2].split())
    assert set(hardware.cpu_bf16_flags()) == kernel & {"avx512_bf16", "amx_bf16"}
    assert hardware.detect("cpu").bf16_native is bool(kernel & {"avx512_bf16", "amx_bf16"})


class _FakeCuda:
    """torch.cuda of a machine with GPUs of the given compute capabilities (device 0 current).

    ``is_bf16_supported`` answers like torch: with emulation (the default) every GPU "supports"
    bf16; without it only compute capability 8.0 and up does.
    """

    def __init__(self, *capabilities):
        self.capabilities = capabilities
        self.calls = []

    def install(self, monkeypatch):
        cuda = torch.cuda
        monkeypatch.setattr(cuda, "is_available", lambda: True)
        monkeypatch.setattr(cuda, "device_count", lambda: len(self.capabilities))
        monkeypatch.setattr(cuda, "current_device", lambda: 0)
        monkeypatch.setattr(cuda, "get_device_capability", lambda i=None: self.capabilities[i or 0])
        monkeypatch.setattr(cuda, "get_device_name", lambda i=None: f"Fake GPU {i or 0}")
        monkeypatch.setattr(cuda, "mem_get_info", lambda i=None: ((3 + (i or 0)) << 30, 16 << 30))
        monkeypatch.setattr(cuda, "is_bf16_supported", self.is_bf16_supported)
        monkeypatch.setattr(torch.version, "hip", None)
        return self

    def is_bf16_supported(self, including_emulation: bool = True) -> bool:
        self.calls.append(including_emulation)
        return including_emulation or self.capabilities[0] >= (8, 0)


@pytest.mark.parametrize(("cc", "native", "dtype"), [
    ((7, 5), False, torch.float16),  # T4: torch emulates bf16, which is not native
    ((7, 0), False, torch.float16),  # V100
    ((8, 0), True, torch.bfloat16),  # A100
    ((9, 0), True, torch.bfloat16),  # H100
])
def test_cuda_bf16_emulation_is_not_native(monkeypatch, cc, native, dtype):
    fake = _FakeCuda(cc).install(monkeypatch)
    caps = hardware.detect()
    assert (caps.device, caps.index, caps.compute_capability) == ("cuda", 0, cc)
    assert caps.bf16_native is native
    assert fake.calls == [False], "ask torch without emulation"
    assert caps.bf16_evidence == f"compute capability {cc[0]}.{cc[1]}"
    assert (caps.free_memory_bytes, caps.total_memory_bytes) == (3 << 30, 16 << 30)
    assert caps.name == "Fake GPU 0"
    rec = recommend()
    assert (rec.device, rec.dtype, rec.device_map, rec.bf16_native) == (
        "cuda", dtype, "auto", native)
    assert hardware.available_devices()[0] == "cuda:0"


@pytest.mark.parametrize(("cc", "native"), [((7, 5), False), ((8, 0), True), ((8, 6), True)])
def test_a_second_cuda_device_is_judged_by_its_own_capability(monkeypatch, cc, native):
    _FakeCuda((9, 0), cc).install(monkeypatch)
    monkeypatch.setattr(hardware, "_mps_available", lambda: False)
    caps = hardware.detect("cuda:1")
    assert (caps.index, caps.compute_capability, caps.bf16_native) == (1, cc, native)
    assert caps.name == "Fake GPU 1"
    assert caps.free_memory_bytes == 4 << 30  # asked of device 1, not of the current one
    assert hardware.available_devices() == ["cuda:0", "cuda:1", "cpu"]


def test_rocm_gpus_count_as_native_bf16(monkeypatch):
    _FakeCuda((9, 0), (7, 5)).install(monkeypatch)
    monkeypatch.setattr(torch.version, "hip", "6.2")
    assert hardware.detect("cuda:1").bf16_native is True


def test_mps_needs_macos_14_for_native_bf16(monkeypatch):
    from collections import namedtuple

    import psutil

    vm = namedtuple("vm", "available total")
    monkeypatch.setattr(psutil, "virtual_memory", lambda: vm(5 << 30, 16 << 30))
    monkeypatch.setattr(hardware, "_mps_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for newer, native, evidence in [(True, True, "macOS 14 or newer"),
                                    (False, False, "macOS older than 14")]:
        monkeypatch.setattr(torch.backends.mps, "is_macos_or_newer",
                            lambda major, minor, newer=newer: newer and (major, minor) == (14, 0))
        caps = hardware.detect()
        assert (caps.device, caps.bf16_native, caps.bf16_evidence) == ("mps", native, evidence)
        assert caps.name == "Apple GPU"  # unified memory: the GPU's is the machine's RAM
        assert caps.index is None and caps.compute_capability is None
        assert (caps.free_memory_bytes, caps.total_memory_bytes) == (5 << 30, 16 << 30)
        assert recommend().dtype == (torch.bfloat16 if native else torch.float16)
    assert "mps" in hardware.available_devices()


def test_missing_devices_are_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(hardware, "_mps_available", lambda: False)
    with pytest.raises(ValueError, match=r"^no CUDA device on this machine$"):
        hardware.detect("cuda")
    with pytest.raises(ValueError, match=r"^no MPS \(Apple GPU\) device on this machine$"):
        hardware.detect("mps")
    assert hardware.detect().device == "cpu"
    assert hardware.available_devices() == ["cpu"]
    hypothetical = recommend("mps")
    assert (hypothetical.dtype, hypothetical.bf16_native) == (torch.bfloat16, True)


def test_the_recommendation_table_a_learner_reads():
    caps = Capabilities("cpu", name="Test CPU", bf16_native=True, bf16_evidence="amx_bf16",
                        free_memory_bytes=8 << 30)
    rec = decide(caps)
    assert rec.rows() == [
        ("device", "cpu (Test CPU)"),
        ("native bf16", "yes"),
        ("free memory", "8.0 GiB"),
        ("dtype", "bfloat16"),
        ("device_map", "'cpu'"),
        ("why", rec.reason),
    ]
    assert str(rec).splitlines()[0].split() == ["device", "cpu", "(Test", "CPU)"]
    html = rec._repr_html_()
    assert "<caption>Recommended settings</caption>" in html and "Test CPU" in html
    bare = decide(Capabilities("cuda", compute_capability=(7, 5)))
    assert dict(bare.rows())["device"] == "cuda" and dict(bare.rows())["native bf16"] == "no"
    assert dict(bare.rows())["free memory"] == "unknown"
    assert dict(bare.rows())["device_map"] == "'auto'"


def test_environment_table_and_package_versions():
    env = hardware.Environment([("torch", "2.13.0"), ("device", "cpu")])
    assert str(env) == repr(env) and str(env).splitlines()[0].split() == ["torch", "2.13.0"]
    assert "<caption>Environment</caption>" in env._repr_html_()
    assert env.as_dict() == {"torch": "2.13.0", "device": "cpu"}
    assert hardware.package_version("no-such-package-xyz") == "not installed"
    assert hardware.package_version("torch") == torch.__version__.split("+")[0] or (
        hardware.package_version("torch") == torch.__version__)


@pytest.mark.parametrize(("caps", "device", "native", "dtype"), [
    (Capabilities("cpu", name="Test CPU", bf16_native=False,
                  bf16_evidence="no bf16 instructions (vector ISA: AVX2)"),
     "cpu (Test CPU)", "no (no bf16 instructions (vector ISA: AVX2))", "float32"),
    (Capabilities("cpu", name="Test CPU", bf16_native=True, bf16_evidence="amx_bf16, avx512_bf16"),
     "cpu (Test CPU)", "yes (amx_bf16, avx512_bf16)", "bfloat16"),
    (Capabilities("cuda", compute_capability=(7, 5)), "cuda", "no", "float16"),
])
def test_show_environment_rows_say_what_was_measured(monkeypatch, caps, device, native, dtype):
    import platform
    from collections import namedtuple

    import psutil

    monkeypatch.setattr(hardware, "recommend", lambda: decide(caps))
    vm = namedtuple("vm", "available total")
    monkeypatch.setattr(psutil, "virtual_memory", lambda: vm(3 << 30, 8 << 30))
    monkeypatch.delenv("COURSE_MODEL", raising=False)
    data = hardware.show_environment().as_dict()
    assert data["Python"] == platform.python_version()
    assert data["device"] == device
    assert data["native bf16"] == native
    assert data["free RAM"] == "3.0 GiB"
    assert data["recommended dtype"] == dtype
    assert data["torch"] == hardware.package_version("torch")


def test_hypothetical_gpu_facts():
    for device in (None, "cuda", "cuda:1"):
        rec = recommend(device, compute_capability=(7, 5))
        assert rec.device == "cuda" and rec.dtype == torch.float16
        assert rec.capabilities.name == "hypothetical GPU, cc 7.5"
        assert rec.capabilities.bf16_evidence == "compute capability 7.5"
        assert rec.capabilities.compute_capability == (7, 5)
    with pytest.raises(ValueError, match=r"^compute_capability only applies to device='cuda'$"):
        recommend("mps", compute_capability=(8, 0))


def test_mps_availability_is_asked_of_torch(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert hardware._mps_available() is True
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert hardware._mps_available() is False


def test_what_if_messages_and_facts_are_exact(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(hardware, "_mps_available", lambda: False)
    with pytest.raises(ValueError) as info:
        recommend("cuda")
    assert str(info.value) == ("no CUDA device here; to ask hypothetically pass "
                               "compute_capability, e.g. recommend('cuda', "
                               "compute_capability=(8, 0))")
    mps = recommend("mps").capabilities
    assert (mps.name, mps.bf16_evidence) == ("hypothetical Apple GPU (macOS 14+)",
                                             "assumed macOS 14 or newer")
    for cc in [(8, 6), (12, 0)]:
        caps = recommend(compute_capability=cc).capabilities
        assert caps.name == f"hypothetical GPU, cc {cc[0]}.{cc[1]}"
        assert caps.bf16_evidence == f"compute capability {cc[0]}.{cc[1]}"


def test_recommend_for_a_named_device_measures_that_device(monkeypatch):
    _FakeCuda((9, 0)).install(monkeypatch)
    assert recommend().device == "cuda"
    cpu = recommend("cpu")
    assert (cpu.device, cpu.device_map) == ("cpu", "cpu")


_CPU_PLACEMENT = (" device_map='cpu': with one device there is nothing to split, and the model is "
                  "never silently offloaded to disk (pass device_map='auto' with max_memory for "
                  "that).")


@pytest.mark.parametrize(("caps", "reason"), [
    (Capabilities("cuda", compute_capability=(8, 0), bf16_native=True),
     "compute capability 8.0 runs bf16 natively: half the memory of float32 at full speed, and "
     "bf16 keeps float32's range, so models trained in bf16 do not overflow."),
    (Capabilities("cuda", bf16_native=True),
     "this GPU runs bf16 natively: half the memory of float32 at full speed, and bf16 keeps "
     "float32's range, so models trained in bf16 do not overflow."),
    (Capabilities("cuda", compute_capability=(7, 5)),
     "compute capability 7.5 has no native bf16 (below 8.0 torch emulates it in float32: slow, "
     "not less accurate), so float16 is the only half precision it runs natively. Use it only "
     "for fp16-safe models: ones trained in float16, or whose model card says float16 works. A "
     'model trained in bf16 (most current LLMs; its config.json gives "bfloat16" as "dtype", or '
     '"torch_dtype" in older files) can produce values beyond float16\'s range (65504) that turn '
     "into inf/NaN, then garbage text: load those with dtype=torch.float32 (exact, double the "
     "memory) or quantize."),
    (Capabilities("mps", bf16_native=True),
     "Apple GPUs support bf16 from macOS 14: half the memory of float32, with float32's range. "
     "device_map='mps' because GPU and CPU share one memory, so splitting a model between them "
     "gains nothing."),
    (Capabilities("mps"),
     "bf16 needs macOS 14 on Apple GPUs; float16 is native and halves memory, but use it only "
     "for fp16-safe models: a model trained in bf16 can overflow to inf/NaN in float16, so load "
     "those with dtype=torch.float32."),
    (Capabilities("cpu", bf16_native=True, bf16_evidence="amx_bf16"),
     "this CPU computes in bf16 natively (amx_bf16): half the memory of float32, and faster on "
     "large matrix products (on tiny models per-step overhead dominates: `make bench` measures "
     "both). Pass dtype='auto' to keep the checkpoint's dtype." + _CPU_PLACEMENT),
    (Capabilities("cpu"),
     "this CPU has no native bf16, so torch would emulate it: slow, though not less accurate. "
     "float16 is usually slower than float32 on a CPU too (few CPUs compute in it natively; "
     "`make bench` measures it on yours). float32 is the fast, exact choice; use "
     "bf16 only to halve memory." + _CPU_PLACEMENT),
], ids=["cuda-8.0", "cuda-unknown-cc", "cuda-7.5", "mps-14", "mps-13", "cpu-bf16", "cpu"])
def test_the_reasons_a_learner_reads(caps, reason):
    """Each branch's whole explanation: these sentences are the lesson's claims, so a change to
    one must be deliberate (and checked against the library) rather than accidental."""
    caps = Capabilities(caps.device, caps.name, caps.index, caps.compute_capability,
                        caps.bf16_native, caps.bf16_evidence, free_memory_bytes=7 << 20)
    rec = decide(caps)
    assert rec.reason == reason
    assert rec.device == caps.device
    assert rec.free_memory_bytes == 7 << 20 and rec.capabilities is caps
    assert rec.bf16_native is caps.bf16_native


def test_decide_refuses_an_unknown_device():
    with pytest.raises(ValueError, match=r"^unknown device 'tpu'$"):
        decide(Capabilities("tpu"))
