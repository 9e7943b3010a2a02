"""``python -m helpers my-work``: your own copies of the lessons, which ``git pull`` never touches.

``notebooks/`` is tracked by git and JupyterLab saves the notebook you work in (on its own too,
every two minutes), so answers written there would make ``git pull`` refuse to update the
course. This copies each lesson from ``notebooks/`` to ``my-work/`` (ignored by git) when it
is not there yet, and never overwrites a copy; ``make lab`` then opens ``my-work/``. After a
``git pull``, run it again to get the lessons that are new.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from helpers.course import LESSON_FILE, ROOT

FOLDER = "my-work"


def copy_lessons(root: str | Path = ROOT) -> tuple[list[Path], list[Path]]:
    """Copy ``notebooks/NN_*.ipynb`` into ``my-work/`` where missing: (copied, already there)."""
    root = Path(root)
    target = root / FOLDER
    copied, kept = [], []
    for lesson in sorted((root / "notebooks").glob("*.ipynb")):
        if not LESSON_FILE.match(lesson.name):
            continue
        destination = target / lesson.name
        if destination.exists():
            kept.append(destination)
            continue
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lesson, destination)
        copied.append(destination)
    return copied, kept


def cli(argv: list[str] | None = None) -> int:
    """Copy the lessons you do not have yet into my-work/ and say what happened."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers my-work",
        description="Copy the lessons from notebooks/ into my-work/ (ignored by git), so your "
        "answers survive `git pull`. Existing copies are never overwritten.",
    )
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="course folder (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()
    copied, kept = copy_lessons(root)
    for path in copied:
        print(f"copied  {path.relative_to(root)}")
    for path in kept:
        print(f"kept    {path.relative_to(root)} (yours; not overwritten)")
    if not copied and not kept:
        print("no lessons found in notebooks/")
        return 1
    print(f"Work in {FOLDER}/: `make lab` opens it. Run this again after `git pull` for new "
          "lessons; to take an updated lesson, delete or rename your copy first.")
    return 0
