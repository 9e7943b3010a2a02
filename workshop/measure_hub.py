"""``python -m workshop.measure_hub``: what one learner costs on a hub, measured, and the sizing
rule that follows.

One learner runs lessons 00 and 01 alone on the course's local hub (workshop/hub.py); then N
learners run them at the same moment. For each learner: the peak memory of their server's
process tree (server and kernels, sampled with psutil), the CPU seconds it used, the wall time,
and the error cells (there must be none). :func:`sizing` turns those figures into per-learner
guarantees and limits; ``--write`` puts figures and rule into docs/hub-sizing.md and the
resources of workshop/z2jh/config.yaml, so neither is ever typed by hand.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

from workshop.hub import REPO, RunningHub, running_hub
from workshop.learner_client import HubAdmin, Learner

LESSONS = ("notebooks/00_start_here.ipynb", "notebooks/01_loading.ipynb")
SIZING_DOC = REPO / "docs" / "hub-sizing.md"
Z2JH_CONFIG = REPO / "workshop" / "z2jh" / "config.yaml"
WRITE_ENV = "FROM_PRETRAINED_WRITE_SIZING"

#: the sizing rule's choices, each with its reason in docs/hub-sizing.md
MEMORY_HEADROOM = 1.25  # guarantee = peak x this: other lessons and other models differ a little
MEMORY_LIMIT_FACTOR = 2.0  # limit = guarantee x this: kernels of earlier lessons stay open
MEMORY_STEP_MIB = 128
ALLOWED_SLOWDOWN = 2.0  # everybody presses Run All at once: each lesson at most 2x slower
CPU_STEP = 0.05


# --------------------------------------------------------------------------- measuring


class TreeSampler:
    """Samples a process and its descendants every ``interval`` s in a thread: the peak of the
    summed RSS, the most processes seen, and the CPU seconds (last value seen per process, so
    kernels that ended still count)."""

    def __init__(self, pid: int, interval: float = 0.25):
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_rss = 0
        self.most_processes = 0
        self._cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        rss = 0
        for proc in procs:
            try:
                with proc.oneshot():
                    rss += proc.memory_info().rss
                    times = proc.cpu_times()
                    self._cpu[proc.pid] = times.user + times.system
            except psutil.NoSuchProcess:
                continue
        self.peak_rss = max(self.peak_rss, rss)
        self.most_processes = max(self.most_processes, len(procs))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    @property
    def cpu_seconds(self) -> float:
        return sum(self._cpu.values())

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._sample()
        self._stop.set()
        self._thread.join()


@dataclass
class LearnerFigures:
    """One learner's lessons on the hub."""

    name: str
    server_start_s: float
    lesson_s: dict[str, float]
    wall_s: float
    peak_mib: float
    processes: int
    cpu_s: float
    error_cells: int
    errors: list[str] = field(default_factory=list)
    #: wall-clock time (Unix seconds) when the first lesson started and the last one ended
    started: float = 0.0
    ended: float = 0.0


def run_learner(hub_url: str, admin: HubAdmin, name: str, lessons: tuple[str, ...],
                barrier: threading.Barrier | None = None) -> LearnerFigures:
    """Log in, start the server, (wait for the others,) run ``lessons`` with their kernels kept
    open as in JupyterLab, while sampling the server's process tree."""
    learner = Learner(hub_url, name)
    learner.log_in()
    server_start = learner.start_server()
    pid = admin.server_pid(name)
    if barrier is not None:
        barrier.wait(timeout=600)
    lesson_s, errors, cells_with_errors = {}, [], 0
    with TreeSampler(pid) as sampler, ExitStack() as kernels:
        started = time.time()
        start = time.monotonic()
        for path in lessons:
            run = learner.run_notebook(path, keep_open=kernels)
            lesson_s[Path(path).stem] = round(run.seconds, 1)
            cells_with_errors += len(run.error_cells)
            if run.error_cells:
                errors.append(run.report())
        wall = time.monotonic() - start
        ended = time.time()
    return LearnerFigures(name, round(server_start, 1), lesson_s, round(wall, 1),
                          round(sampler.peak_rss / 2**20, 1), sampler.most_processes,
                          round(sampler.cpu_seconds, 1), cells_with_errors, errors,
                          round(started, 1), round(ended, 1))


@dataclass
class Measurement:
    """Everything measured in one session; :func:`sizing` derives the rule from it."""

    date: str
    machine: str
    cores: int
    memory_gib: float
    load_before: float
    learners: int
    lessons: list[str]
    alone: LearnerFigures
    together: list[LearnerFigures]
    together_wall_s: float

    @property
    def all_learners(self) -> list[LearnerFigures]:
        return [self.alone, *self.together]

    @property
    def error_cells(self) -> int:
        return sum(f.error_cells for f in self.all_learners)

    @classmethod
    def from_dict(cls, data: dict) -> Measurement:
        data = dict(data)
        data["alone"] = LearnerFigures(**data["alone"])
        data["together"] = [LearnerFigures(**f) for f in data["together"]]
        return cls(**data)


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {platform.system()} {platform.release()}"


def measure_on(hub: RunningHub, learners: int = 3,
               lessons: tuple[str, ...] = LESSONS) -> Measurement:
    """On a started hub: ``lessons`` for one learner ("alone") by themselves, then for
    ``learners`` ("learner-1", ...) at the same moment. Their servers stay up afterwards."""
    if learners < 2:
        raise ValueError(f"learners={learners}: need 2 or more to compare with one alone")
    load_before = os.getloadavg()[0]
    admin = HubAdmin(hub.url, hub.admin_token)
    names = [f"learner-{i}" for i in range(1, learners + 1)]
    admin.create_users(["alone", *names])
    alone = run_learner(hub.url, admin, "alone", lessons)
    admin.http.delete(f"{hub.url}/hub/api/users/alone/server", timeout=60)
    barrier = threading.Barrier(learners)
    with ThreadPoolExecutor(learners) as pool:
        futures = [pool.submit(run_learner, hub.url, admin, name, lessons, barrier)
                   for name in names]
        together = [f.result() for f in futures]
    return Measurement(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), machine=_machine(),
        cores=os.cpu_count() or 1, memory_gib=round(psutil.virtual_memory().total / 2**30, 1),
        load_before=round(load_before, 2), learners=learners, lessons=list(lessons),
        alone=alone, together=together,
        # each learner starts the lessons once all servers are up: the wall time of the room
        # is the slowest learner's
        together_wall_s=max(f.wall_s for f in together))


@contextmanager
def measurement_hub(state: Path) -> Iterator[RunningHub]:
    """The course's hub as the measurements run it: bundled models, offline."""
    with running_hub(state=state, log=state / "hub.log", extra_env={"HF_HUB_OFFLINE": "1"},
                     unset=("COURSE_MODEL", "COURSE_CHAT_MODEL")) as hub:
        yield hub


def measure(learners: int = 3, lessons: tuple[str, ...] = LESSONS) -> Measurement:
    """:func:`measure_on` a hub started on free loopback ports, stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix="course-hub-") as scratch, \
            measurement_hub(Path(scratch)) as hub:
        return measure_on(hub, learners, lessons)


# --------------------------------------------------------------------------- the sizing rule


@dataclass
class Sizing:
    """Per-learner resources derived from a :class:`Measurement` (see :func:`sizing`)."""

    peak_mib: float
    memory_guarantee_mib: int
    memory_limit_mib: int
    slowdown: float
    slowdown_per_extra_learner: float
    expected_slowdown: float
    cores_per_learner: float
    cpu_guarantee: float
    cpu_limit: float
    learners_per_core: int


def _round_up(value: float, step: float) -> float:
    return math.ceil(round(value / step, 6)) * step


def sizing(m: Measurement) -> Sizing:
    """The rule, from the measured figures only.

    * memory guarantee = the highest peak of any learner x :data:`MEMORY_HEADROOM`, rounded up
      to :data:`MEMORY_STEP_MIB`; limit = guarantee x :data:`MEMORY_LIMIT_FACTOR`.
    * a learner's CPU need = the cores one learner alone keeps busy during Run All (CPU
      seconds / wall seconds). CPU time, unlike wall time, does not grow with other jobs on a
      shared machine.
    * CPU limit = that need rounded up to half a core, at least 1: more never helps;
      guarantee = need / :data:`ALLOWED_SLOWDOWN`, rounded up to :data:`CPU_STEP`, so that a
      room where everybody presses Run All at once runs each lesson at most that much slower;
      learners per core = 1 / guarantee.
    * the slowdown the learners alone would cause, N x need / cores, is set beside the
      measured one: the difference is the other jobs of the machine.
    """
    peak = max(f.peak_mib for f in m.all_learners)
    guarantee_mib = int(_round_up(peak * MEMORY_HEADROOM, MEMORY_STEP_MIB))
    limit_mib = int(_round_up(guarantee_mib * MEMORY_LIMIT_FACTOR, MEMORY_STEP_MIB))
    mean_together = sum(f.wall_s for f in m.together) / len(m.together)
    slowdown = mean_together / m.alone.wall_s
    need = m.alone.cpu_s / m.alone.wall_s
    cpu_guarantee = round(max(CPU_STEP, _round_up(need / ALLOWED_SLOWDOWN, CPU_STEP)), 2)
    return Sizing(
        peak_mib=peak, memory_guarantee_mib=guarantee_mib, memory_limit_mib=limit_mib,
        slowdown=round(slowdown, 2),
        slowdown_per_extra_learner=round((slowdown - 1) / (m.learners - 1), 2),
        expected_slowdown=round(max(1.0, m.learners * need / m.cores), 2),
        cores_per_learner=round(need, 2), cpu_guarantee=cpu_guarantee,
        cpu_limit=max(1.0, _round_up(need, 0.5)),
        learners_per_core=max(1, math.floor(1 / cpu_guarantee + 1e-9)))


# --------------------------------------------------------------------------- writing


def _gib(mib: float) -> str:
    return f"{mib / 1024:.2f} GiB"


def _rule_table(s: Sizing) -> str:
    rows = [
        ("peak memory of one learner", f"{s.peak_mib:.0f} MiB",
         "the highest of all learners above"),
        ("memory guarantee", f"{s.memory_guarantee_mib} MiB ({_gib(s.memory_guarantee_mib)})",
         f"peak x {MEMORY_HEADROOM}, rounded up to {MEMORY_STEP_MIB} MiB: other lessons and "
         "other models differ a little"),
        ("memory limit", f"{s.memory_limit_mib} MiB ({_gib(s.memory_limit_mib)})",
         f"guarantee x {MEMORY_LIMIT_FACTOR}: learners keep the kernels of earlier lessons "
         "open; past the limit the kernel is killed"),
        ("cores one learner needs", f"{s.cores_per_learner}",
         "CPU seconds / wall seconds of the learner alone, during Run All"),
        ("CPU limit", f"{s.cpu_limit:g}",
         "that need rounded up to half a core, at least 1: more does not make a lesson faster"),
        ("CPU guarantee", f"{s.cpu_guarantee:g}",
         f"need / {ALLOWED_SLOWDOWN:g}: if everybody presses Run All at once, each lesson runs "
         f"at most {ALLOWED_SLOWDOWN:g}x slower than alone"),
        ("learners per core", f"{s.learners_per_core}", "1 / guarantee"),
    ]
    return "\n".join(["| figure | value | how |", "| --- | --- | --- |",
                      *(f"| {a} | {b} | {c} |" for a, b, c in rows)])



def _against_expected(slowdown: float, expected: float) -> str:
    """Why the measured slowdown differs from the CPU-time estimate."""
    if slowdown > expected:
        return "the rest is the machine's other jobs."
    return ("they did better than that because a learner does not keep its cores busy all the "
            "time (kernel starts, waits between cells), which leaves them to the others.")


def _quiet_or_busy(load_before: float, cores: int) -> str:
    if load_before >= 0.75 * cores:
        return "the machine was shared with other jobs, so wall times are pessimistic"
    return "a quiet machine"

def render_sizing_doc(m: Measurement) -> str:
    """docs/hub-sizing.md: the figures, the rule, and the raw measurement as JSON."""
    s = sizing(m)
    lesson_names = [Path(p).stem for p in m.lessons]
    head = "| learner | server start | " + " | ".join(lesson_names) + (
        " | lessons (wall) | CPU | peak memory | processes | error cells |")
    rows = [head, "|" + " --- |" * (len(lesson_names) + 7)]
    for f in m.all_learners:
        rows.append(f"| {f.name} | {f.server_start_s} s | "
                    + " | ".join(f"{f.lesson_s.get(n, 0)} s" for n in lesson_names)
                    + f" | {f.wall_s} s | {f.cpu_s} s | {f.peak_mib:.0f} MiB | {f.processes} "
                    f"| {f.error_cells} |")
    raw = json.dumps(asdict(m), indent=1)
    return f"""# Sizing a hub for the course (measured)

Generated by `python -m workshop.measure_hub --write` (or `FROM_PRETRAINED_WRITE_SIZING=1
.venv/bin/python -m pytest tests/test_jupyterhub.py -p no:nbval`); do not edit by hand:
`tests/test_jupyterhub.py` checks that this page and the resources in
`workshop/z2jh/config.yaml` are what the rule makes of the figures in the JSON block below.

**What was measured.** The course's local JupyterHub (`make hub`: JupyterHub 6.1,
configurable-http-proxy, one server per learner, bundled models, offline, one torch thread per
kernel) on {m.machine}: {m.cores} cores, {m.memory_gib} GiB RAM, load average {m.load_before}
before the run ({_quiet_or_busy(m.load_before, m.cores)}).
{m.date}. One learner ran lessons {" and ".join(lesson_names)} alone, then {m.learners}
learners ran them at the same moment, each on their own server, cell by cell through the proxy
and the kernel websocket. A lesson's kernel stays up while the next lesson runs, as in
JupyterLab. Memory is the peak of the summed RSS of the learner's server and its kernels (psutil,
every 0.25 s); CPU is the CPU seconds of that process tree.

{chr(10).join(rows)}

Error cells in all runs: **{m.error_cells}**. {m.learners} learners at once took
{m.together_wall_s} s until the last finished, against {m.alone.wall_s} s for one alone:
each lesson ran **{s.slowdown}x** slower on average, **{s.slowdown_per_extra_learner}x per extra
learner** on these {m.cores} cores. The learners' own CPU time would account for
{s.expected_slowdown}x ({m.learners} x {s.cores_per_learner} cores needed / {m.cores} cores);
{_against_expected(s.slowdown, s.expected_slowdown)}

## The rule, and what it gives

{_rule_table(s)}

For a room of *n* learners: *n* x {s.memory_guarantee_mib} MiB of RAM and
*n* / {s.learners_per_core} cores, plus the hub itself (about 0.2 GiB) and the operating
system. Learners mostly read and type; the guarantee covers the moment everybody runs a cell
at once. A hub model instead of the bundled ones needs more memory per learner: measure again
with `COURSE_MODEL` set (README: about 0.6 GiB more for a 135M-parameter model in float32).

## Raw measurement

```json
{raw}
```
"""


BEGIN = ("  # BEGIN sizing: generated by `python -m workshop.measure_hub --write` "
         "from docs/hub-sizing.md")
END = "  # END sizing"


def render_z2jh_resources(m: Measurement) -> str:
    """The ``singleuser`` CPU and memory block of workshop/z2jh/config.yaml."""
    s = sizing(m)
    return "\n".join([
        BEGIN,
        f"  # ({m.date}, {m.cores} cores, {m.learners} learners; the rule is in that file)",
        "  cpu:",
        f"    guarantee: {s.cpu_guarantee:g}",
        f"    limit: {s.cpu_limit:g}",
        "  memory:",
        f"    guarantee: {s.memory_guarantee_mib}M",
        f"    limit: {s.memory_limit_mib}M",
        END,
    ])


def z2jh_with_resources(config_text: str, m: Measurement) -> str:
    """``config_text`` with its generated block replaced by the one ``m`` gives."""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(config_text):
        raise ValueError(f"no generated sizing block ({BEGIN.strip()!r} ... {END.strip()!r}) "
                         f"in {Z2JH_CONFIG}: put it back under `singleuser:`")
    return pattern.sub(lambda _: render_z2jh_resources(m), config_text)


def measurement_in_doc(text: str) -> Measurement:
    """The raw measurement stored in docs/hub-sizing.md."""
    match = re.search(r"```json\n(.*?)\n```", text, re.S)
    if not match:
        raise ValueError(f"{SIZING_DOC} has no ```json block: regenerate it with "
                         "`python -m workshop.measure_hub --write`")
    return Measurement.from_dict(json.loads(match.group(1)))


def write(m: Measurement) -> list[Path]:
    """Write docs/hub-sizing.md and the resources of workshop/z2jh/config.yaml."""
    SIZING_DOC.write_text(render_sizing_doc(m), encoding="utf-8")
    Z2JH_CONFIG.write_text(z2jh_with_resources(Z2JH_CONFIG.read_text(encoding="utf-8"), m),
                           encoding="utf-8")
    return [SIZING_DOC, Z2JH_CONFIG]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workshop.measure_hub",
        description="Measure learners on the course's local JupyterHub (one alone, then N at "
        "once) and print the sizing; --write updates docs/hub-sizing.md and "
        "workshop/z2jh/config.yaml.")
    parser.add_argument("--learners", type=int, default=3, help="default: %(default)s")
    parser.add_argument("--write", action="store_true",
                        help="write docs/hub-sizing.md and the Z2JH resources")
    args = parser.parse_args(argv)
    m = measure(args.learners)
    print(json.dumps(asdict(sizing(m)), indent=1))
    if m.error_cells:
        for f in m.all_learners:
            for report in f.errors:
                print(report, file=sys.stderr)
        print(f"{m.error_cells} error cell(s): nothing written", file=sys.stderr)
        return 1
    if args.write:
        for path in write(m):
            print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
