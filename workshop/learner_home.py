"""Each learner's home on the local hub: their own copy of the lessons, made before the server
starts, never overwritten afterwards (a learner's answers survive a restart of their server)."""

from __future__ import annotations

import shutil
from pathlib import Path

from helpers.course import LESSON_FILE, ROOT

#: where the lessons go inside a learner's home: the same relative path as in the repository,
#: so that ``lab/tree/notebooks/00_start_here.ipynb`` opens lesson 00 on the hub, on Binder
#: and in ``make lab``
LESSONS_FOLDER = "notebooks"


def lesson_files(root: Path = ROOT) -> list[Path]:
    """The student copies of the lessons, in order (``notebooks/NN_*.ipynb``)."""
    return sorted(p for p in (root / LESSONS_FOLDER).glob("*.ipynb") if LESSON_FILE.match(p.name))


def first_lesson_url(root: Path = ROOT) -> str:
    """JupyterLab's URL path for lesson 00 relative to the server root, e.g.
    ``/lab/tree/notebooks/00_start_here.ipynb``."""
    lessons = lesson_files(root)
    if not lessons:
        raise FileNotFoundError(f"no lessons in {root / LESSONS_FOLDER}: is this the course "
                                "repository? Run `make notebooks` to generate them.")
    return f"/lab/tree/{LESSONS_FOLDER}/{lessons[0].name}"


def prepare_home(home: str | Path, root: Path = ROOT) -> list[Path]:
    """Create ``home`` and copy the lessons it lacks into ``home/notebooks``; return the copies.

    Existing files are kept as they are: they hold the learner's work.
    """
    target = Path(home) / LESSONS_FOLDER
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for lesson in lesson_files(root):
        destination = target / lesson.name
        if not destination.exists():
            shutil.copyfile(lesson, destination)
            copied.append(destination)
    return copied
