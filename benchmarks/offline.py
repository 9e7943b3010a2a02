"""An uncached hub id with no network: how long until ``helpers.load`` answers with a
``CourseError``, against ``huggingface_hub.snapshot_download`` of the same id failing alone.

Each attempt runs in a fresh process with a fresh, empty ``HF_HUB_CACHE`` and
``HF_HUB_OFFLINE`` unset, so neither side profits from the other's cache, connection or
imports. The process reports the seconds of its imports (``helpers.loading`` imports torch;
the hub client does not need it) and of the failing call separately: the call is what a
learner waits for in a notebook that has imported the course already; the whole process,
start-up and imports included, is shown beside it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from benchmarks.measure import Paired, rotate

MISSING_ID = "someorg/not-cached"

_PROBE = r"""
import json, sys, time
side, repo = sys.argv[1], sys.argv[2]
start = time.perf_counter()
if side == "helper":
    import helpers.loading  # imports torch, as any notebook that loads a model has already
    from helpers.errors import CourseError as expected
    call = lambda: helpers.loading.load(repo)
else:
    from huggingface_hub import snapshot_download
    expected = Exception
    call = lambda: snapshot_download(repo)
imported = time.perf_counter()
try:
    call()
    outcome = "loaded"
except expected as exc:
    outcome = type(exc).__name__
except Exception as exc:
    outcome = "unexpected " + type(exc).__name__
done = time.perf_counter()
print(json.dumps({"import_s": imported - start, "call_s": done - imported, "outcome": outcome}))
"""


@dataclass(frozen=True)
class Attempt:
    import_s: float
    call_s: float
    wall_s: float
    outcome: str


def attempt(side: str, repo: str = MISSING_ID, timeout: float = 180) -> Attempt:
    """One failing load in a fresh process with an empty hub cache (``side``: helper or hub)."""
    with tempfile.TemporaryDirectory(prefix="bench-hub-cache-") as cache:
        env = {k: v for k, v in os.environ.items() if k not in {"HF_HUB_OFFLINE",
                                                                 "TRANSFORMERS_OFFLINE"}}
        env["HF_HUB_CACHE"] = cache
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", _PROBE, side, repo], env=env,
                              capture_output=True, text=True, timeout=timeout)
        wall = time.perf_counter() - start
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the {side} probe failed (exit {done.returncode}): "
                           f"{done.stderr.strip()[-500:]}")
    found = json.loads(lines[-1])
    return Attempt(found["import_s"], found["call_s"], wall, found["outcome"])


@dataclass(frozen=True)
class OfflineResult:
    call: Paired  # helper / hub, seconds of the failing call
    wall: Paired  # helper / hub, seconds of the whole process
    imports: Paired  # helper / hub, seconds of the imports inside the process
    helper_outcomes: tuple[str, ...]
    hub_outcomes: tuple[str, ...]


def compare_offline(pairs: int, repo: str = MISSING_ID) -> OfflineResult:
    """helper / huggingface_hub, alternating fresh processes (no warm-up: each is cold)."""
    attempts: dict[str, list[Attempt]] = {"helper": [], "hub": []}

    def run(side: str) -> float:
        found = attempt(side, repo)
        attempts[side].append(found)
        return found.call_s

    call_helper, call_hub = rotate([lambda: run("helper"), lambda: run("hub")], pairs, warmup=0)
    helper, hub = attempts["helper"], attempts["hub"]
    return OfflineResult(Paired(call_helper, call_hub),
                         Paired(tuple(a.wall_s for a in helper), tuple(a.wall_s for a in hub)),
                         Paired(tuple(a.import_s for a in helper),
                                tuple(a.import_s for a in hub)),
                         tuple(a.outcome for a in helper), tuple(a.outcome for a in hub))


__all__ = ["Attempt", "MISSING_ID", "OfflineResult", "attempt", "compare_offline"]
