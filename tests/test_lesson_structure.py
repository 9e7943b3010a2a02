"""Every lesson follows the course template (shared/DESIGN.md, "A lesson")."""

from __future__ import annotations

import re

import nbformat
import pytest

from helpers.course import BEGIN, lessons

SECTIONS = [
    "Why this matters",
    "Explanation",
    "Analogy",
    "Code",
    "What just happened?",
    "Common gotcha",
    "Error recovery",
    "Experienced dev note",
    "Check your understanding",
    "Exercises",
]
TEMPLATE_LESSONS = [lesson for lesson in lessons() if lesson.number != "00"]


def _headings(nb) -> list[str]:
    return [m.group(1).strip() for cell in nb.cells if cell.cell_type == "markdown"
            for m in re.finditer(r"^## (.+)$", cell.source, flags=re.M)]


@pytest.mark.parametrize("lesson", lessons(), ids=str)
def test_first_code_cell_prints_versions_hardware_and_model(lesson):
    nb = nbformat.read(lesson.solution, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    first_code = next(cell for cell in nb.cells if cell.cell_type == "code")
    assert "show_environment()" in first_code.source


@pytest.mark.parametrize("lesson", TEMPLATE_LESSONS, ids=str)
def test_sections_in_template_order(lesson):
    headings = _headings(nbformat.read(lesson.solution, as_version=4))
    positions = []
    for section in SECTIONS:
        found = [i for i, h in enumerate(headings) if h.startswith(section)]
        assert found, f"{lesson.solution.name} lacks the section '## {section}'"
        positions.append(found[0])
    assert positions == sorted(positions), f"sections out of order: {headings}"


@pytest.mark.parametrize("lesson", TEMPLATE_LESSONS, ids=str)
def test_errors_are_raised_for_real_and_exercises_are_checked(lesson):
    nb = nbformat.read(lesson.solution, as_version=4)
    code = [cell.source for cell in nb.cells if cell.cell_type == "code"]
    assert sum("helpers.expect_error(" in src for src in code) >= 3
    assert any(re.search(r"helpers\.quiz\(\"\d\d\"", src) for src in code)
    exercises = [i for i, src in enumerate(code) if BEGIN in src]
    assert len(exercises) >= 3, "a lesson has at least three exercises"
    for i in exercises:
        assert i + 1 < len(code) and "helpers.check(" in code[i + 1], "each exercise has a check"


@pytest.mark.parametrize("lesson", lessons(), ids=str)
def test_solutions_are_executed_in_order_with_outputs_stored(lesson):
    """nbval can only compare outputs that are stored: a stripped solution would prove nothing."""
    nb = nbformat.read(lesson.solution, as_version=4)
    counts = [cell.execution_count for cell in nb.cells if cell.cell_type == "code"]
    assert None not in counts, "every solution cell must be executed (Restart and Run All)"
    assert counts == list(range(1, len(counts) + 1)), "cells must be executed top to bottom, once"


LEARNER_TEXT = re.compile(r"\bdraft|original (version|lesson|text)|earlier version", re.I)
# checkpoint files opened by name break on hub ids and sharded checkpoints
FILE_BY_NAME = re.compile(r"""["'](config\.json|model\.safetensors|pytorch_model\.bin)["']""")


@pytest.mark.parametrize("lesson", lessons(), ids=str)
def test_lessons_never_speak_of_a_draft(lesson):
    """Learners never saw a draft: corrections are what older tutorials or 4.x code say."""
    for cell in nbformat.read(lesson.solution, as_version=4).cells:
        found = LEARNER_TEXT.search(cell.source)
        assert not found, f"{lesson.solution.name}: {found.group(0)!r} in {cell.source[:80]!r}"


@pytest.mark.parametrize("lesson", lessons(), ids=str)
def test_the_next_link_names_the_next_lesson_and_says_what_it_teaches(lesson):
    """A lesson's "Next:" line links the lesson that exists after it, with no "coming soon"
    left from before it was written, and says what it is about (not only its title again)."""
    numbers = [other.number for other in lessons()]
    cells = nbformat.read(lesson.solution, as_version=4).cells
    nexts = [c.source for c in cells if c.cell_type == "markdown" and "Next:" in c.source]
    if lesson.number == numbers[-1]:
        return
    following = lessons()[numbers.index(lesson.number) + 1]
    assert nexts, f"{lesson.solution.name} has no Next: line"
    text = nexts[-1]
    assert f"]({following.solution.name})" in text, text
    assert "coming soon" not in text.lower(), text
    after_link = text.split(f"]({following.solution.name})", 1)[1]
    assert following.number + " ·" not in after_link, f"the title twice: {text!r}"


@pytest.mark.parametrize("lesson", lessons(), ids=str)
def test_lessons_read_checkpoints_through_the_libraries(lesson):
    """AutoConfig, huggingface_hub and the safetensors index, never a file name: any model."""
    for cell in nbformat.read(lesson.solution, as_version=4).cells:
        if cell.cell_type == "code":
            found = FILE_BY_NAME.search(cell.source)
            assert not found, f"{lesson.solution.name} opens {found.group(1)} by name"


@pytest.mark.parametrize("lesson", lessons(), ids=str)
def test_stored_outputs_hold_no_machine_paths(lesson):
    """Outputs nbval compares must be the same on every machine: no checkout or home paths."""
    import os

    from helpers.course import ROOT

    for cell in nbformat.read(lesson.solution, as_version=4).cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type != "code" or "nbval-ignore-output" in tags:
            continue
        for output in cell.get("outputs", []):
            text = output.get("text", "") + "".join(
                v for k, v in output.get("data", {}).items() if k.startswith("text/"))
            for path in {str(ROOT), os.path.expanduser("~")} - {"/", ""}:
                assert path not in text, f"{lesson.solution.name}: {path} in a compared output"


@pytest.mark.parametrize("lesson", lessons(), ids=str)
def test_checks_and_expected_errors_are_compared(lesson):
    """A check's verdict and an error's diagnosis are the lesson's point: nbval must compare
    them, so such cells are never tagged nbval-ignore-output (make their output stable)."""
    for cell in nbformat.read(lesson.solution, as_version=4).cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "code" and "nbval-ignore-output" in tags:
            for call in ("helpers.check(", "expect_error("):
                assert call not in cell.source, (
                    f"{lesson.solution.name}: a cell with {call} is tagged nbval-ignore-output: "
                    f"{cell.source[:80]!r}")
