"""``python -m helpers room PATH ...``: is the room ready, and how far has it got?

An instructor collects, from every learner, the doctor's report (``python -m helpers doctor
--json > doctor-NAME.json``) and, later, the progress file (the path ``python -m helpers
progress`` prints). This command reads them all, files or folders of ``*.json`` files, and says:

* **doctor reports**: how many learners are ready (no ``FAIL``; those with warnings are counted
  separately), which files are not, and, for each check that fails or warns somewhere, how many
  learners it fails / warns for and its most common message and fix, the most failed first;
* **progress files**: per lesson, how many learners completed it (every question and exercise
  done) or started it, and per question and exercise how many have done it, with the meaning of
  "done" of :mod:`helpers.progress`.

A file that cannot be read, or is neither kind, is reported with the reason and skipped.
``--json`` prints the same summary for scripts.
"""

from __future__ import annotations

import argparse
import codecs
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from helpers.doctor import STATUSES

DOCTOR_KEYS = ("check", "status", "detail")


class NotAReport(ValueError):
    """A file that is neither a doctor report nor a progress file; the message says why."""


@dataclass(frozen=True)
class Skipped:
    """A path that was not counted, and why."""

    path: str
    reason: str


@dataclass
class CheckSummary:
    """One doctor check across the room."""

    check: str
    fail: int = 0
    warn: int = 0
    message: str = ""  # the most common detail among learners it fails or warns for
    message_count: int = 0
    fix: str = ""


@dataclass
class DoctorSummary:
    """Every doctor report of the room."""

    learners: int = 0
    ready: int = 0
    ready_with_warnings: int = 0
    not_ready: int = 0
    not_ready_files: list[str] = field(default_factory=list)
    checks: list[CheckSummary] = field(default_factory=list)


@dataclass
class ItemSummary:
    """One question or exercise: how many learners have done it."""

    id: str
    done: int


@dataclass
class LessonSummary:
    """One lesson across the room's progress files."""

    lesson: str
    title: str
    completed: int
    started: int
    questions: list[ItemSummary]
    exercises: list[ItemSummary]


@dataclass
class ProgressRoom:
    """Every progress file of the room."""

    learners: int = 0
    lessons: list[LessonSummary] = field(default_factory=list)


@dataclass
class RoomSummary:
    """What :func:`summarize` found in the files it was given."""

    doctor: DoctorSummary
    progress: ProgressRoom
    skipped: list[Skipped]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def __str__(self) -> str:
        return "\n".join(_text(self))


# --------------------------------------------------------------------------- reading files


def _decode(raw: bytes) -> str:
    """Text of a file, whatever a learner's shell wrote: UTF-8, or UTF-16 with a byte-order mark
    (Windows PowerShell 5's ``>`` writes UTF-16)."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    return raw.decode("utf-8-sig")


def read_report(path: Path) -> tuple[str, Any]:
    """``("doctor", checks)`` or ``("progress", data)`` of one file; :class:`NotAReport` else."""
    try:
        text = _decode(path.read_bytes())
    except OSError as exc:
        raise NotAReport(f"cannot be read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise NotAReport("is not a text file (not UTF-8 or UTF-16)") from exc
    if not text.strip():
        raise NotAReport("is empty: the command that made it printed nothing, or failed")
    try:
        data = json.loads(text)
    except ValueError as exc:
        if re.search(r"^\[(OK|WARN|FAIL)\]", text, flags=re.MULTILINE):
            raise NotAReport("is the doctor's text output; ask for `python -m helpers doctor "
                             "--json > doctor-NAME.json`") from exc
        raise NotAReport(f"is not valid JSON ({exc})") from exc
    if isinstance(data, list):
        return "doctor", _doctor_checks(data)
    if isinstance(data, dict) and "lessons" in data:
        return "progress", _progress_lessons(data)
    raise NotAReport("is neither a doctor report (a JSON list of checks, from `python -m helpers "
                     "doctor --json`) nor a progress file (a JSON object with \"lessons\")")


def _doctor_checks(data: list[Any]) -> list[dict[str, str]]:
    if not data:
        raise NotAReport("is an empty list: a doctor report lists at least one check")
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str)
                                                   for k in DOCTOR_KEYS):
            raise NotAReport(f"is a JSON list, but item {number} is not a doctor check "
                             "({\"check\", \"status\", \"detail\", \"fix\"} strings)")
        if item["status"] not in STATUSES:
            raise NotAReport(f"check {item['check']!r} has status {item['status']!r}, not one "
                             f"of {', '.join(STATUSES)}")
    return data


def _progress_lessons(data: dict[str, Any]) -> dict[str, Any]:
    lessons = data["lessons"]
    if not isinstance(lessons, dict):
        raise NotAReport("has \"lessons\", but it is not a JSON object of lessons")
    for number, entry in lessons.items():
        if not isinstance(entry, dict):
            raise NotAReport(f"lesson {number!r} is not a JSON object")
        for section in ("questions", "exercises"):
            items = entry.get(section, {})
            if not isinstance(items, dict) or not all(isinstance(v, dict)
                                                      for v in items.values()):
                raise NotAReport(f"lesson {number!r}: \"{section}\" is not an object of records")
    return lessons


def report_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Skipped]]:
    """The files to read: each file given, and every ``*.json`` inside each folder given
    (recursively, hidden files left out); missing paths and empty folders are skipped."""
    files: list[Path] = []
    skipped: list[Skipped] = []
    for given in map(Path, paths):
        if given.is_dir():
            found = sorted(p for p in given.rglob("*.json") if p.is_file()
                           and not any(part.startswith(".") for part in
                                       p.relative_to(given).parts))
            if not found:
                skipped.append(Skipped(str(given), "folder holds no .json files"))
            files.extend(found)
        elif given.exists():
            files.append(given)
        else:
            skipped.append(Skipped(str(given), "no such file or folder"))
    unique = list(dict.fromkeys(files))
    return unique, skipped


# --------------------------------------------------------------------------- summaries


def _shape(message: str) -> str:
    """A message with its numbers blanked, so "1.2 GiB free" and "0.9 GiB free" count as one."""
    return re.sub(r"\d+(\.\d+)?", "#", message)


def summarize_doctor(reports: dict[str, list[dict[str, str]]]) -> DoctorSummary:
    """Ready learners and the checks that fail or warn most, from {file name: checks}."""
    summary = DoctorSummary(learners=len(reports))
    by_check: dict[str, CheckSummary] = {}
    messages: dict[str, Counter[str]] = {}
    examples: dict[tuple[str, str], dict[str, str]] = {}
    for name, checks in reports.items():
        statuses = {c["status"] for c in checks}
        if "FAIL" in statuses:
            summary.not_ready += 1
            summary.not_ready_files.append(name)
        else:
            summary.ready += 1
            summary.ready_with_warnings += "WARN" in statuses
        for check in checks:
            if check["status"] == "OK":
                continue
            entry = by_check.setdefault(check["check"], CheckSummary(check["check"]))
            if check["status"] == "FAIL":
                entry.fail += 1
            else:
                entry.warn += 1
            shape = _shape(check["detail"])
            messages.setdefault(check["check"], Counter())[shape] += 1
            examples.setdefault((check["check"], shape), check)
    for name, entry in by_check.items():
        shape, count = messages[name].most_common(1)[0]
        example = examples[(name, shape)]
        entry.message, entry.message_count = example["detail"], count
        entry.fix = str(example.get("fix") or "")
    summary.checks = sorted(by_check.values(), key=lambda c: (-c.fail, -c.warn, c.check))
    return summary


def summarize_progress(files: dict[str, dict[str, Any]]) -> ProgressRoom:
    """Per lesson and per question / exercise, how many learners are done, from
    {file name: lessons}. Only items that still exist in the course count, as in
    :func:`helpers.progress.progress_summary`."""
    from helpers import exercises, quizzes
    from helpers.course import lessons

    titles = {lesson.number: lesson.title for lesson in lessons()}
    recorded = {number for data in files.values() for number in data}
    wanted = sorted(set(quizzes.bank_lessons()) | set(exercises.exercise_lessons()) | recorded)
    room = ProgressRoom(learners=len(files))
    for number in wanted:
        try:
            bank = quizzes.load_bank(number)
            question_ids = [q.id for q in bank.questions]
            title = titles.get(number, bank.title)
        except quizzes.QuizBankError:
            question_ids, title = [], titles.get(number, f"lesson {number} (not in this course)")
        exercise_ids = list(exercises.exercises(number))
        entries = [data.get(number, {}) for data in files.values()]

        def done(entry: dict[str, Any], section: str, item: str) -> bool:
            return bool(entry.get(section, {}).get(item, {}).get("correct"))

        questions = [ItemSummary(q, sum(done(e, "questions", q) for e in entries))
                     for q in question_ids]
        exercise_items = [ItemSummary(x, sum(done(e, "exercises", x) for e in entries))
                          for x in exercise_ids]
        items = [("questions", q) for q in question_ids] + [("exercises", x)
                                                            for x in exercise_ids]
        completed = sum(1 for e in entries if items and all(done(e, s, i) for s, i in items))
        started = sum(1 for e in entries if e.get("questions") or e.get("exercises"))
        room.lessons.append(LessonSummary(number, title, completed, started, questions,
                                          exercise_items))
    return room


def summarize(paths: Iterable[str | Path]) -> RoomSummary:
    """Read every report under ``paths`` and summarise the doctor reports and progress files."""
    files, skipped = report_files(paths)
    doctor: dict[str, list[dict[str, str]]] = {}
    progress: dict[str, dict[str, Any]] = {}
    for path in files:
        try:
            kind, data = read_report(path)
        except NotAReport as exc:
            skipped.append(Skipped(str(path), str(exc)))
            continue
        (doctor if kind == "doctor" else progress)[str(path)] = data
    return RoomSummary(summarize_doctor(doctor),
                       summarize_progress(progress) if progress else ProgressRoom(), skipped)


# --------------------------------------------------------------------------- output


def _text(room: RoomSummary) -> list[str]:
    lines: list[str] = []
    d = room.doctor
    if d.learners:
        lines.append(f"Doctor reports: {d.learners} learner(s)")
        lines.append(f"  ready: {d.ready} ({d.ready_with_warnings} of them with warnings), "
                     f"not ready: {d.not_ready}")
        for name in d.not_ready_files:
            lines.append(f"  not ready: {name}")
        if d.checks:
            lines.append("  checks that fail or warn, most failed first:")
            width = max(len(c.check) for c in d.checks)
            for c in d.checks:
                lines.append(f"    {c.check:<{width}}  {c.fail} FAIL, {c.warn} WARN; most common "
                             f"({c.message_count} of {c.fail + c.warn}): {c.message}")
                if c.fix:
                    lines.append(f"    {'':<{width}}  fix: {c.fix}")
        else:
            lines.append("  every check is OK on every machine")
    p = room.progress
    if p.learners:
        if lines:
            lines.append("")
        lines.append(f"Progress files: {p.learners} learner(s)")
        for lesson in p.lessons:
            if not lesson.started:
                lines.append(f"  {lesson.title}: not started by anyone yet")
                continue
            lines.append(f"  {lesson.title}: completed by {lesson.completed}/{p.learners}, "
                         f"started by {lesson.started}/{p.learners}")
            for label, items in (("question", lesson.questions), ("exercise", lesson.exercises)):
                for item in items:
                    lines.append(f"    {label} {item.id}: {item.done}/{p.learners}")
    if not d.learners and not p.learners:
        lines.append("No doctor reports or progress files found.")
    if room.skipped:
        lines.append("")
        lines.append(f"Skipped {len(room.skipped)} path(s):")
        lines.extend(f"  {s.path}: {s.reason}" for s in room.skipped)
    return lines


def cli(argv: list[str] | None = None) -> int:
    """``python -m helpers room PATH ... [--json]``: exit code 1 when nothing could be read."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers room",
        description="Summarise the room: many `python -m helpers doctor --json` outputs and "
                    "learners' progress files (files, or folders of .json files).")
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="a doctor report or progress file, or a folder of them")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    room = summarize(args.paths)
    print(room.to_json() if args.json else room)
    return 0 if room.doctor.learners or room.progress.learners else 1
