"""The learner's progress: quiz answers and exercise checks, remembered in a small JSON file.

The file lives in the user's data directory (``platformdirs.user_data_dir("from-pretrained")``),
never in the course repository, so it survives ``git pull`` and is never committed. The
environment variable ``FROM_PRETRAINED_PROGRESS`` points it at another file (tests, shared
machines). Progress is a convenience: a file that cannot be read is reported, set aside and
started afresh, and a file that cannot be written is reported once; neither stops a lesson.

What "done" means (what :func:`progress_summary` counts):

* an **exercise** is done when its *latest* check said correct: the record follows the check
  cell, so breaking a solved exercise and checking again makes it "not yet" again;
* a **choice or predict question** is done once it has been answered correctly. Picking other
  options afterwards, to read why they are wrong, does not undo it (``last_correct`` still
  says how the latest check went);
* an **open question** is done once its model answer has been shown (the hint alone is not).

Running ``solutions/`` (in JupyterLab, nbval or nbclient) never records anything: the course's
own runs of its worked solutions must not credit or change a learner's progress. A solution
notebook is recognised by the kernel's ``JPY_SESSION_NAME`` (the notebook path jupyter_server
gives the kernel) or, where that is unset, by the kernel's working directory (nbval and nbclient
start the kernel in the notebook's folder): a folder named ``solutions`` holding lesson files.

``reset_progress()`` (or ``python -m helpers progress --reset [NN]``) forgets one lesson or
everything; the file before a reset is kept as ``progress.json.bak``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
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


_LESSON_NOTEBOOK = re.compile(r"^\d\d_[\w-]+\.ipynb$")
SESSION_ENV = "JPY_SESSION_NAME"


def _is_solutions_folder(folder: Path) -> bool:
    """True for a folder named ``solutions`` that holds lesson notebooks (``NN_topic.ipynb``)."""
    if folder.name != "solutions":
        return False
    try:
        return any(_LESSON_NOTEBOOK.match(p.name) for p in folder.iterdir())
    except OSError:
        return False


def solution_run() -> str | None:
    """Why this process runs a solution notebook (so must not record), or None.

    Either sign is enough: ``$JPY_SESSION_NAME`` (set by jupyter_server for the kernel of a
    notebook opened in JupyterLab) names a lesson notebook inside ``solutions/``, or the
    working directory is a ``solutions/`` folder of lesson notebooks (nbval, nbclient and
    JupyterLab start a notebook's kernel in the notebook's folder).
    """
    session = os.environ.get(SESSION_ENV, "").strip()
    if session:
        notebook = Path(session)
        if notebook.parent.name == "solutions" and _LESSON_NOTEBOOK.match(notebook.name):
            return f"{SESSION_ENV} is {session}, a solution notebook"
    try:
        cwd = Path.cwd()
    except OSError:  # the working directory was deleted
        return None
    if _is_solutions_folder(cwd):
        return f"the kernel runs in {cwd}, the course's solutions"
    return None


def _update(
    lesson: str | int, section: str, item_id: str, *, sticky: bool, **fields: Any
) -> dict[str, Any]:
    """Record one attempt; ``sticky``: once correct, ``correct`` stays True (quiz questions)."""
    correct = bool(fields.pop("correct", False))
    skip = solution_run()
    if skip is not None:
        return {"recorded": False, "reason": skip, "correct": correct, **fields}
    with _lock:
        data = load_progress()
        entry = data["lessons"].setdefault(lesson_id(lesson), {})
        record = entry.setdefault(section, {}).setdefault(item_id, {"attempts": 0})
        record["attempts"] = int(record.get("attempts", 0)) + 1
        record["last_correct"] = correct
        record["correct"] = (bool(record.get("correct")) or correct) if sticky else correct
        record.update(fields)
        record["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        _save(data)
        return dict(record)


def record_answer(
    lesson: str | int, question_id: str, correct: bool, answer: str | None = None
) -> dict[str, Any]:
    """Remember a quiz answer; ``correct`` stays True once the learner has got it right."""
    return _update(lesson, "questions", question_id, sticky=True, correct=correct,
                   last_answer=answer)


def record_open_answer(lesson: str | int, question_id: str, text: str = "") -> dict[str, Any]:
    """Remember that the model answer of an open question was shown (and what was written)."""
    return _update(lesson, "questions", question_id, sticky=True, correct=True, revealed=True,
                   text=text)


def record_exercise(
    lesson: str | int, exercise_id: str, correct: bool, message: str = ""
) -> dict[str, Any]:
    """Remember the result of an exercise check; ``correct`` is the latest check's verdict."""
    return _update(lesson, "exercises", exercise_id, sticky=False, correct=correct,
                   last_message=message)


def reset_progress(lesson: str | int | None = None) -> int:
    """Forget the progress of one lesson (``reset_progress("01")``) or of every lesson.

    Returns how many recorded questions and exercises were forgotten. The file as it was is
    kept next to it as ``progress.json.bak`` (one level of undo: copy it back).
    """
    path = progress_path()
    with _lock:
        data = load_progress()
        if lesson is None:
            gone = dict(data["lessons"])
            data["lessons"] = {}
        else:
            number = lesson_id(lesson)
            gone = {number: data["lessons"].pop(number)} if number in data["lessons"] else {}
        count = sum(
            len(entry.get(section, {})) for entry in gone.values() for section in
            ("questions", "exercises")
        )
        if not gone:
            return 0
        with contextlib.suppress(OSError):
            shutil.copy2(path, path.with_name(f"{path.name}.bak"))
        _save(data)
    return count


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

    A choice or predict question is done once answered correctly (exploring other options
    afterwards does not undo it); an open question once its model answer was shown; an
    exercise when its latest check said correct.
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


def cli(argv: list[str] | None = None) -> int:
    """``python -m helpers progress [--reset [NN]]``: show, or forget, the learner's progress."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m helpers progress",
        description="Show what you have done in each lesson, or forget it and start over.",
    )
    parser.add_argument(
        "--reset", nargs="?", const="all", metavar="NN",
        help="forget the progress of lesson NN, or of every lesson when NN is left out",
    )
    args = parser.parse_args(argv)
    path = progress_path()
    if args.reset is not None:
        try:
            lesson = None if args.reset == "all" else lesson_id(args.reset)
        except ValueError as exc:
            print(f"python -m helpers progress: {exc}", file=sys.stderr)
            return 2
        count = reset_progress(lesson)
        which = "every lesson" if lesson is None else f"lesson {lesson}"
        if count:
            print(f"Forgot {count} recorded question(s) and exercise(s) of {which}.")
            print(f"The file before the reset is kept as {path.name}.bak next to {path}.")
        else:
            print(f"Nothing was recorded for {which}; nothing to reset.")
    print(f"Progress file: {path}")
    print(progress_summary())
    return 0
