"""The learner's progress: quiz answers and exercise checks, remembered in a small JSON file.

The file lives in the user's data directory (``platformdirs.user_data_dir("from-pretrained")``),
never in the course repository, so it survives ``git pull`` and is never committed. The
environment variable ``FROM_PRETRAINED_PROGRESS`` points it at another file (tests, shared
machines). Progress is a convenience: a file that cannot be read is reported, set aside and
started afresh, and a file that cannot be written is reported once; neither stops a lesson.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.course import lesson_id

ENV_VAR = "FROM_PRETRAINED_PROGRESS"
APP_NAME = "from-pretrained"
FORMAT_VERSION = 1

_lock = threading.Lock()
_warned: set[tuple[str, Path]] = set()


class ProgressWarning(UserWarning):
    """The progress file could not be read or written; the lesson carries on without it."""


def progress_path() -> Path:
    """The progress file: ``$FROM_PRETRAINED_PROGRESS`` or ``<user data dir>/progress.json``."""
    override = os.environ.get(ENV_VAR, "").strip()
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False)) / "progress.json"


def _empty() -> dict[str, Any]:
    return {"version": FORMAT_VERSION, "lessons": {}}


def _valid(data: Any) -> bool:
    if not isinstance(data, dict) or not isinstance(data.get("lessons"), dict):
        return False
    for entry in data["lessons"].values():
        if not isinstance(entry, dict):
            return False
        for section in ("questions", "exercises"):
            if not isinstance(entry.get(section, {}), dict):
                return False
            if not all(isinstance(v, dict) for v in entry.get(section, {}).values()):
                return False
    return True


def load_progress() -> dict[str, Any]:
    """Everything recorded so far (an empty record when there is no file yet).

    A corrupt file is renamed to ``progress.json.corrupt-<time>`` (so nothing is lost) and
    reported with a :class:`ProgressWarning`; an empty record is returned in its place.
    """
    path = progress_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _empty()
    except OSError as exc:
        _warn_once(("read", path), f"could not read progress file {path}: {exc}")
        return _empty()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not _valid(data):
        backup = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        with contextlib.suppress(OSError):
            os.replace(path, backup)
        warnings.warn(
            f"progress file {path} was unreadable; it was moved to {backup.name} and "
            "progress starts afresh",
            ProgressWarning,
            stacklevel=2,
        )
        return _empty()
    return data


def _save(data: dict[str, Any]) -> bool:
    """Write atomically (temp file in the same folder, then rename); False if it failed."""
    path = progress_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        _warn_once(
            ("write", path),
            f"could not save progress to {path}: {exc}. Set {ENV_VAR} to a writable file "
            "to keep your progress.",
        )
        return False
    _warned.discard(("write", path))
    return True


def _warn_once(key: tuple[str, Path], message: str) -> None:
    """Warn about a file problem once per session, not on every click."""
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, ProgressWarning, stacklevel=4)


def _update(lesson: str | int, section: str, item_id: str, **fields: Any) -> dict[str, Any]:
    with _lock:
        data = load_progress()
        entry = data["lessons"].setdefault(lesson_id(lesson), {})
        record = entry.setdefault(section, {}).setdefault(item_id, {"attempts": 0})
        record["attempts"] = int(record.get("attempts", 0)) + 1
        correct = bool(fields.pop("correct", False))
        record["last_correct"] = correct
        # once solved, it stays solved: a later wrong click does not undo the learning
        record["correct"] = bool(record.get("correct")) or correct
        record.update(fields)
        record["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        _save(data)
        return dict(record)


def record_answer(
    lesson: str | int, question_id: str, correct: bool, answer: str | None = None
) -> dict[str, Any]:
    """Remember a quiz answer; ``correct`` stays True once the learner has got it right."""
    return _update(lesson, "questions", question_id, correct=correct, last_answer=answer)


def record_open_answer(lesson: str | int, question_id: str, text: str = "") -> dict[str, Any]:
    """Remember that the model answer of an open question was revealed (and what was written)."""
    return _update(lesson, "questions", question_id, correct=True, revealed=True, text=text)


def record_exercise(
    lesson: str | int, exercise_id: str, correct: bool, message: str = ""
) -> dict[str, Any]:
    """Remember the result of an exercise check."""
    return _update(lesson, "exercises", exercise_id, correct=correct, last_message=message)


def lesson_record(lesson: str | int) -> dict[str, Any]:
    """The raw record of one lesson: ``{"questions": {...}, "exercises": {...}}``."""
    entry = load_progress()["lessons"].get(lesson_id(lesson), {})
    return {
        "questions": dict(entry.get("questions", {})),
        "exercises": dict(entry.get("exercises", {})),
    }


@dataclass(frozen=True)
class LessonProgress:
    """How much of one lesson is done (only items that still exist in the course count)."""

    lesson: str
    questions_done: int
    questions_total: int
    exercises_done: int
    exercises_total: int

    def __str__(self) -> str:
        return (
            f"{self.lesson}: {self.questions_done}/{self.questions_total} questions, "
            f"{self.exercises_done}/{self.exercises_total} exercises"
        )


class ProgressSummary(list):
    """One :class:`LessonProgress` per lesson; displays as one line per lesson."""

    def __str__(self) -> str:
        return "\n".join(map(str, self)) if self else "no lessons yet"

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython's text/plain
        printer.text(str(self))


def progress_summary(lesson: str | int | None = None) -> ProgressSummary:
    """Done/total questions and exercises, for one lesson or every lesson of the course.

    A question is done once answered correctly (or, for an open question, once its model
    answer was revealed); an exercise once its check said correct.
    """
    from helpers import exercises, quizzes

    recorded = load_progress()["lessons"]
    if lesson is not None:
        wanted = [lesson_id(lesson)]
    else:
        wanted = sorted(
            set(quizzes.bank_lessons()) | set(exercises.exercise_lessons()) | set(recorded)
        )
    summary = ProgressSummary()
    for number in wanted:
        entry = recorded.get(number, {})
        try:
            question_ids = [q.id for q in quizzes.load_bank(number).questions]
        except quizzes.QuizBankError:
            question_ids = []
        exercise_ids = list(exercises.exercises(number))
        done_q = sum(
            1 for q in question_ids if entry.get("questions", {}).get(q, {}).get("correct")
        )
        done_e = sum(
            1 for e in exercise_ids if entry.get("exercises", {}).get(e, {}).get("correct")
        )
        summary.append(LessonProgress(number, done_q, len(question_ids), done_e, len(exercise_ids)))
    return summary
