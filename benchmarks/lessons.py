"""Each lesson's Restart-and-Run-All time, measured the way docs/instructors.md reports it.

``helpers.course.execute_solution`` runs a solution notebook with nbclient in the course's
reference setting (bundled models, ``HF_HUB_OFFLINE=1``, a throw-away progress file, a fixed
quiz order) and writes the result back; here it runs on a copy in a temporary folder, so the
repository's notebooks are left untouched. ``OMP_WAIT_POLICY=PASSIVE`` is set as ``make test``
sets it. The time includes the kernel's start, as in the instructor guide.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LessonTime:
    number: str
    title: str
    seconds: float
    error: str | None = None


def choose(wanted: Iterable[str] | None, skipped: Iterable[str] | None) -> list:
    """The course's lessons, restricted to ``wanted`` (all when empty/None) minus ``skipped``;
    an unknown number raises ValueError naming the lessons that exist."""
    from helpers.course import lesson_id, lessons

    everything = lessons()
    known = {les.number for les in everything}
    wanted_ids = {lesson_id(n) for n in (wanted or [])}
    skipped_ids = {lesson_id(n) for n in (skipped or [])}
    unknown = (wanted_ids | skipped_ids) - known
    if unknown:
        raise ValueError(f"no such lesson: {', '.join(sorted(unknown))} (lessons: "
                         f"{', '.join(sorted(known))})")
    return [les for les in everything
            if (not wanted_ids or les.number in wanted_ids) and les.number not in skipped_ids]


def _describe(exc: Exception) -> str:
    """One line for a failed lesson: the cell's own error (nbclient's ``CellExecutionError``
    carries its name and value), else the exception's first line."""
    name, value = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if name:
        return f"{name}: {str(value)[:200]} (in a cell)"
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:200]}"


def time_lessons(chosen: list, timeout: int = 600,
                 on_done: Callable[[LessonTime], None] | None = None) -> list[LessonTime]:
    """Restart-and-run-all each lesson's solution in a temporary copy; a lesson that fails
    is reported with its error rather than stopping the benchmark. ``on_done`` sees each
    result as soon as it is measured."""
    from helpers.course import execute_solution

    results = []
    saved = os.environ.get("OMP_WAIT_POLICY")
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        with tempfile.TemporaryDirectory(prefix="bench-lessons-") as scratch:
            for lesson in chosen:
                copy = Path(scratch) / "solutions" / lesson.solution.name
                copy.parent.mkdir(exist_ok=True)
                shutil.copy2(lesson.solution, copy)
                start = time.perf_counter()
                error = None
                try:
                    execute_solution(copy, timeout=timeout)
                except Exception as exc:  # a broken lesson is a result, not a crash
                    error = _describe(exc)
                results.append(LessonTime(lesson.number, lesson.title,
                                          time.perf_counter() - start, error))
                if on_done:
                    on_done(results[-1])
    finally:
        if saved is None:
            os.environ.pop("OMP_WAIT_POLICY", None)
        else:
            os.environ["OMP_WAIT_POLICY"] = saved
    return results


__all__ = ["LessonTime", "choose", "time_lessons"]
