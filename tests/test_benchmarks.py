"""The benchmark's measuring primitive (exact math on fake clocks), its helpers, and smoke runs
of ``python -m benchmarks --quick`` and ``python -m benchmarks.gpu --dry-run``.

No assertion here is about how fast real code runs: timings on a shared machine are not
reproducible. The smoke runs check that every section runs and writes its report.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import measure
from benchmarks.measure import Paired, interleave, interleave_values, quartiles, rotate

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- quartiles, Paired


def test_quartiles_interpolate_inclusively():
    assert quartiles([1.0, 2.0, 3.0]) == (1.5, 2.0, 2.5)
    assert quartiles([4.0, 1.0, 3.0, 2.0]) == (1.75, 2.5, 3.25)
    assert quartiles([7.0]) == (7.0, 7.0, 7.0)


def test_quartiles_of_nothing_is_an_error_that_says_what_to_do():
    with pytest.raises(ValueError, match="at least one pair"):
        quartiles([])


def test_paired_ratio_is_the_median_of_per_pair_ratios_not_a_ratio_of_medians():
    # pair ratios 2, 3, 1.5 -> median 2; the ratio of medians would be 6/3 = 2 by accident
    # here, so use values where they differ: medians 6 / 2 = 3, per-pair median 2
    paired = Paired(a=(2.0, 6.0, 12.0), b=(1.0, 2.0, 8.0))
    assert paired.ratios == (2.0, 3.0, 1.5)
    assert paired.ratio == 2.0
    assert paired.a_median / paired.b_median == 3.0
    assert paired.spread == (1.75, 2.5)
    assert paired.spread_text() == "1.750–2.500"
    assert paired.pairs == 3


def test_paired_refuses_unequal_or_empty_sides():
    with pytest.raises(ValueError, match="same number"):
        Paired(a=(1.0, 2.0), b=(1.0,))
    with pytest.raises(ValueError, match="same number"):
        Paired(a=(), b=())


def test_a_zero_denominator_gives_infinity_not_a_crash():
    assert Paired(a=(1.0,), b=(0.0,)).ratios == (float("inf"),)


# --------------------------------------------------------------------------- rotation order


def _recorders(names: str):
    calls: list[str] = []

    def make(name: str):
        def fn() -> float:
            calls.append(name)
            return float(len(calls))
        return fn

    return calls, [make(n) for n in names]


def test_two_sides_alternate_which_goes_first_after_the_warmup():
    calls, (a, b) = _recorders("AB")
    paired = interleave_values(a, b, pairs=3, warmup=1)
    assert "".join(calls) == "AB" + "AB" + "BA" + "AB"
    # values are the call's position: warm-up calls are not kept
    assert paired.a == (3.0, 6.0, 7.0)
    assert paired.b == (4.0, 5.0, 8.0)


def test_three_functions_rotate_their_starting_point():
    calls, fns = _recorders("ABC")
    values = rotate(fns, rounds=3, warmup=0)
    assert "".join(calls) == "ABC" + "BCA" + "CAB"
    assert [len(v) for v in values] == [3, 3, 3]


@pytest.mark.parametrize("kwargs, message", [
    ({"pairs": 0}, "at least 1"),
    ({"pairs": 2, "warmup": -1}, "0 or more"),
])
def test_bad_counts_are_refused_before_anything_runs(kwargs, message):
    calls, (a, b) = _recorders("AB")
    with pytest.raises(ValueError, match=message):
        interleave_values(a, b, **kwargs)
    assert calls == []


def test_rotate_needs_something_to_measure():
    with pytest.raises(ValueError, match="at least one function"):
        rotate([], rounds=1)


# --------------------------------------------------------------------------- fake clocks


class FakeClock:
    """A clock that advances only when the measured functions 'work': each call of ``work(n)``
    adds ``n`` units times the current machine slowdown."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slowdown = 1.0

    def __call__(self) -> float:
        return self.now

    def work(self, units: float) -> None:
        self.now += units * self.slowdown


def test_interleave_times_each_call_with_the_given_timer():
    clock = FakeClock()
    paired = interleave(lambda: clock.work(3), lambda: clock.work(2), pairs=4, timer=clock)
    assert paired.a == (3.0,) * 4
    assert paired.b == (2.0,) * 4
    assert paired.ratio == 1.5
    assert paired.spread == (1.5, 1.5)


def test_a_burst_of_load_moves_both_members_of_a_pair_and_the_ratio_survives():
    """The machine slows tenfold for two whole pairs: per-pair ratios stay exactly 2.0."""
    clock = FakeClock()
    slowdowns = itertools.chain([1, 1], [1, 1, 10, 10, 10, 10, 1, 1, 1, 1])  # warm-up, 5 pairs

    def side(units: float):
        def fn() -> None:
            clock.slowdown = next(slowdowns)
            clock.work(units)
        return fn

    paired = interleave(side(2), side(1), pairs=5, warmup=1, timer=clock)
    assert paired.ratios == (2.0,) * 5
    assert paired.ratio == 2.0
    assert paired.spread == (2.0, 2.0)
    assert paired.a == (2.0, 20.0, 20.0, 2.0, 2.0)


def test_timed_drops_the_result_and_returns_the_duration():
    clock = FakeClock()
    run = measure.timed(lambda: clock.work(5) or "result", clock)
    assert run() == 5.0


# --------------------------------------------------------------------------- report, helpers


def test_goal_verdicts_say_by_how_much_a_goal_is_missed():
    from benchmarks.report import Row

    assert Row("x", 1.02, "-", "", goal=1.05).verdict == "goal ≤ 1.05: met"
    assert Row("x", 1.10, "-", "", goal=1.05).verdict == "goal ≤ 1.05: missed by 4.8%"
    assert Row("x", 1.10, "-", "").verdict == ""


def test_markdown_report_holds_machine_rows_tables_and_notes():
    from benchmarks.machine import Machine
    from benchmarks.report import Section, markdown, paired_row

    section = Section("A section")
    section.rows.append(paired_row("a / b", Paired((2.0, 4.0), (1.0, 2.0)), "detail | pipe",
                                   goal=1.5))
    section.table = [["lesson", "time"], ["00", "8 s"]]
    section.note("a note")
    machine = Machine()
    machine.finish()
    text = markdown([section], machine, 90.0, "python -m benchmarks")
    assert "## A section" in text
    assert "| a / b | 2.000 | 2.000–2.000 | detail \\| pipe (2 pairs) **goal ≤ 1.50: missed" in text
    assert "| 00 | 8 s |" in text
    assert "- a note" in text
    assert "1.5 minutes" in text
    assert machine.cpu in text and "transformers" in text


def test_a_section_the_goals_summary_repeats_is_not_tabled_twice():
    from benchmarks.__main__ import goals_section
    from benchmarks.machine import Machine
    from benchmarks.report import Section, markdown, paired_row

    like = Section("Like for like")
    like.rows.append(paired_row("load / raw", Paired((1.0,), (1.0,)), "d", goal=1.05))
    other = Section("Other")
    other.rows.append(paired_row("x / y", Paired((2.0,), (1.0,)), "d"))
    sections = [like, other]
    sections.insert(0, goals_section(sections))
    machine = Machine()
    machine.finish()
    text = markdown(sections, machine, 60.0, "python -m benchmarks")
    assert text.count("| load / raw |") == 1
    assert "Its figures are the table under \"Goals: the helpers' overhead\", above." in text
    assert text.count("| x / y |") == 1


def test_lesson_choice_checks_the_numbers():
    from benchmarks.lessons import choose

    everything = choose(None, None)
    assert [les.number for les in everything][:2] == ["00", "01"]
    assert [les.number for les in choose(["1", "02"], None)] == ["01", "02"]
    assert "00" not in [les.number for les in choose(None, ["0"])]
    with pytest.raises(ValueError, match="no such lesson: 77"):
        choose(["77"], None)


def test_rounds_shrink_with_the_square_of_the_length():
    from benchmarks.decoding import rounds_for

    assert rounds_for(32, 40_000) == 5
    assert rounds_for(128, 40_000) == 2
    assert rounds_for(512, 40_000) == 1


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    from benchmarks import models

    return models.build(models.LLAMA_TINY, tmp_path_factory.mktemp("bench-models"))


def test_a_built_checkpoint_is_reused_and_rebuilt_when_its_recipe_changes(tiny_checkpoint):
    from benchmarks import models

    stamp = (tiny_checkpoint / "model.safetensors").stat().st_mtime_ns
    assert models.build(models.LLAMA_TINY, tiny_checkpoint.parent) == tiny_checkpoint
    assert (tiny_checkpoint / "model.safetensors").stat().st_mtime_ns == stamp
    assert models.weight_bytes(tiny_checkpoint) >= 4 * models.LLAMA_TINY.parameters()
    assert not models.is_built(tiny_checkpoint, models.LLAMA_SMALL)


def test_decode_reads_a_tied_embedding_once_and_an_untied_input_embedding_not_at_all():
    import torch
    from transformers import LlamaForCausalLM

    from benchmarks import models
    from benchmarks.decoding import decode_bytes_per_token

    spec = models.LLAMA_TINY
    tied = LlamaForCausalLM(spec.config())
    total = sum(p.numel() * 4 for p in tied.parameters())  # parameters() lists shared ones once
    assert decode_bytes_per_token(tied) == total
    config = spec.config()
    config.tie_word_embeddings = False
    untied = LlamaForCausalLM(config).to(torch.bfloat16)
    embedding = spec.vocab * spec.hidden * 2
    assert decode_bytes_per_token(untied) == sum(p.numel() * 2 for p in untied.parameters()) \
        - embedding


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="Linux /proc only")
def test_a_same_dtype_load_leaves_the_weights_in_the_mapped_file(tiny_checkpoint):
    import torch
    from transformers import AutoModelForCausalLM

    from benchmarks.memory_probe import bytes_in_file_mapping, status

    same = AutoModelForCausalLM.from_pretrained(tiny_checkpoint, dtype=torch.float32)
    converted = AutoModelForCausalLM.from_pretrained(tiny_checkpoint, dtype=torch.bfloat16)
    weights = sum(p.numel() * 4 for p in same.parameters())
    assert bytes_in_file_mapping(same) == weights
    assert bytes_in_file_mapping(converted) == 0
    assert {"VmRSS", "VmHWM", "RssAnon", "RssFile"} <= set(status())


# --------------------------------------------------------------------------- smoke runs


def _run(args: list[str], timeout: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.slow
def test_quick_benchmark_runs_every_section_and_writes_its_report(tmp_path):
    out, plot = tmp_path / "performance.md", tmp_path / "kv.png"
    done = _run(["-m", "benchmarks", "--quick", "--models-dir", str(tmp_path / "models"),
                 "--out", str(out), "--plot", str(plot)], timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    for title in ("like for like", "real-sized model", "KV cache", "no network"):
        assert title in text
    assert "helpers.load / raw load" in text and "generate_text / raw generate" in text
    assert "decode bytes/s / copy bandwidth" in text
    assert "CourseError" in text  # the helper's offline answer, measured
    assert plot.stat().st_size > 10_000 and plot.read_bytes()[:4] == b"\x89PNG"
    assert "IQR" in done.stdout


def test_unknown_lessons_are_refused_at_once():
    done = _run(["-m", "benchmarks", "--lessons", "42"], timeout=60)
    assert done.returncode == 2
    assert "no such lesson: 42" in done.stderr


@pytest.mark.slow
def test_gpu_script_dry_run_goes_through_every_step_on_the_cpu(tmp_path):
    out = tmp_path / "gpu.md"
    done = _run(["-m", "benchmarks.gpu", "--dry-run", "--models-dir", str(tmp_path / "models"),
                 "--out", str(out)], timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    assert "GPU: none (dry run on the CPU)" in text
    for mode in ("dynamic cache", "static cache", "static cache + torch.compile"):
        assert f"decode bytes/s / copy bandwidth, {mode} |" in text
    assert "generate_text / raw generate (stories-base)" in text


def test_gpu_script_without_a_gpu_says_how_to_check_it():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the script would run for real")
    done = _run(["-m", "benchmarks.gpu"], timeout=60)
    assert done.returncode == 2
    assert "--dry-run" in done.stderr


@pytest.mark.slow
def test_gpu_decode_modes_report_a_failing_mode_instead_of_stopping():
    import torch

    from benchmarks import gpu, models

    model = gpu.build_on_device(models.LLAMA_TINY, "cpu", torch.bfloat16)
    assert model.dtype == torch.bfloat16 and model.device.type == "cpu"
    modes = {"dynamic cache": {}, "broken": {"cache_implementation": "no-such-cache"}}
    found = gpu.decode_rates(model, 8, gpu.DRY, modes)
    assert list(found) == ["dynamic cache", "broken"]
    assert found["dynamic cache"]["tok_s"] > 0 and found["dynamic cache"]["runs"] == 1
    assert "no-such-cache" in found["broken"]["error"]


@pytest.mark.slow
def test_lessons_are_timed_on_a_copy_and_a_failing_one_is_reported(tmp_path):
    import nbformat

    from benchmarks.lessons import time_lessons
    from helpers.course import Lesson

    def notebook(name: str, source: str) -> Lesson:
        path = tmp_path / "solutions" / name
        path.parent.mkdir(exist_ok=True)
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        path.write_text(nbformat.writes(nb))
        return Lesson(name[:2], name[3:-6], f"{name[:2]} · test", path,
                      tmp_path / "notebooks" / name)

    good = notebook("00_good.ipynb", "import os\nprint(os.environ['HF_HUB_OFFLINE'])")
    bad = notebook("01_bad.ipynb", "1 / 0")
    before = good.solution.read_text(), bad.solution.read_text()
    seen = []
    results = time_lessons([good, bad], timeout=120, on_done=seen.append)
    assert seen == results
    assert [r.number for r in results] == ["00", "01"]
    assert results[0].error is None and results[0].seconds > 0
    assert "ZeroDivisionError" in results[1].error
    assert (good.solution.read_text(), bad.solution.read_text()) == before  # copies ran
