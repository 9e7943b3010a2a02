"""What the lesson tests need to know about a lesson: its files, exercises and check cells.

Everything is read from the notebooks themselves (solutions/ is the source of truth, notebooks/
the student copy generated from it), so the tests follow the lessons as they change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from course_server import REPO, VIEWPORT, LabServer, running_in_ci
from lab_driver import CellState, LabNotebook, close_page

from helpers.course import BEGIN, END


def require(relative: str) -> Path:
    """The lesson file ``relative`` (to the repo); skips if missing, fails under CI=true."""
    path = REPO / relative
    if not path.exists():
        message = f"{relative} does not exist"
        if running_in_ci():
            pytest.fail(f"{message}; the browser tests need it", pytrace=False)
        pytest.skip(message)
    return path


@dataclass(frozen=True)
class Exercise:
    """One exercise of a lesson: where it is in the student copy, and the code that solves it."""

    cell_index: int  # the exercise cell, in the student notebook
    check_index: int  # the check cell after it
    student_source: str
    solved_source: str  # the solution cell with its BEGIN/END marker lines removed


def exercises(student: Path, solution: Path) -> list[Exercise]:
    """The lesson's exercises that have a check cell, matched between solution and student."""
    student_nb = nbformat.read(student, as_version=4)
    solution_nb = nbformat.read(solution, as_version=4)
    by_id = {cell.get("id"): cell for cell in solution_nb.cells if cell.get("id")}
    found = []
    for index, cell in enumerate(student_nb.cells):
        solved = by_id.get(cell.get("id"))
        if solved is None and len(student_nb.cells) == len(solution_nb.cells):
            solved = solution_nb.cells[index]
        if cell.cell_type != "code" or solved is None or BEGIN not in solved.source:
            continue
        check = next(
            (i for i in range(index + 1, len(student_nb.cells))
             if student_nb.cells[i].cell_type == "code"
             and "check(" in student_nb.cells[i].source),
            None,
        )
        if check is None:
            continue
        lines = [line for line in solved.source.splitlines()
                 if not line.strip().startswith((BEGIN, END))]
        found.append(Exercise(index, check, cell.source, "\n".join(lines)))
    return found


def stored_outputs(solution: Path) -> dict[str, str]:
    """Cell id -> the text outputs stored in the solution, for cells nbval compares.

    Left out: cells tagged ``nbval-ignore-output``, whose output depends on the machine
    (hardware, timings), and exercise cells, which the student copy leaves unsolved.
    """
    texts = {}
    for cell in nbformat.read(solution, as_version=4).cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if (cell.cell_type != "code" or "nbval-ignore-output" in tags or not cell.get("id")
                or BEGIN in cell.source):
            continue
        parts = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output.get("text", ""))
            elif "data" in output:
                parts.append(output["data"].get("text/plain", ""))
        texts[cell["id"]] = "".join(parts)
    return texts


def cell_ids(notebook: Path) -> list[str | None]:
    """The id of every cell of a notebook, in order (what maps solution cells to the copy)."""
    return [cell.get("id") for cell in nbformat.read(notebook, as_version=4).cells]


@dataclass(frozen=True)
class RanLesson:
    """A lesson open in the browser after Run All, and the cells' state at that point."""

    notebook: LabNotebook
    cells: list[CellState]


@contextmanager
def ran_lesson(browser, lab_server: LabServer, lesson: str, **run_all: int) -> Iterator[RanLesson]:
    """Open ``lesson`` (a path relative to the repo) in a new page, Run All (``run_all`` goes to
    ``LabNotebook.run_all``, e.g. ``timeout_ms``), and close the page afterwards."""
    require(lesson)
    page = browser.new_context(viewport=VIEWPORT).new_page()
    try:
        notebook = LabNotebook.open(page, lab_server, lesson)
        yield RanLesson(notebook, notebook.run_all(**run_all))
    finally:
        close_page(page)
