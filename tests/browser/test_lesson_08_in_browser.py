"""Lesson 08 in a real browser: Run All, the errors the clinic raises, the index links, a quiz,
an exercise.

The lesson runs once per module (Run All, as a learner would); the tests then read and click on
that page in order. The student copy (notebooks/) is the one opened: that is what learners get.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from course_server import LabServer
from lab_driver import expect
from lessons import RanLesson, cell_ids, exercises, ran_lesson, require, stored_outputs
from quiz_checks import assert_choice_feedback, assert_open_hint, question_box

from helpers.quizzes import load_bank

pytestmark = pytest.mark.browser

LESSON = "notebooks/08_troubleshooting.ipynb"
SOLUTION = "solutions/08_troubleshooting.ipynb"
# what the lesson is about, each shown by a cell's output: errors raised for real with their
# diagnosis, the chained JSON error, and a fixed cell's result
EXPECTED_OUTPUTS = ("Raised OSError: Repo id must use alphanumeric chars", "Model folder not found",
                    "Raised ValueError: Asking to pad but the tokenizer does not have a padding",
                    "JSONDecodeError: Expecting property name enclosed in double quotes",
                    "Raised TemplateError: System role not supported")


@pytest.fixture(scope="module")
def lesson(browser, lab_server: LabServer) -> Iterator[RanLesson]:
    with ran_lesson(browser, lab_server, LESSON) as ran:
        yield ran


def test_run_all_reaches_the_end_without_errors(lesson: RanLesson):
    not_run = [c.index for c in lesson.cells if c.type == "code" and c.execution_count is None]
    errors = [f"cell {c.index}: {e}" for c in lesson.cells for e in c.errors]
    assert errors == [], "cells raised (an error on purpose belongs in helpers.expect_error)"
    assert not_run == [], f"Run All stopped before cells {not_run}"
    assert lesson.notebook.rendered_errors() == []


def test_outputs_show_the_errors_and_their_diagnoses(lesson: RanLesson):
    """Each cell whose stored solution output shows one of these shows it here too."""
    rendered = lesson.notebook.output_texts()
    missing = [text for text in EXPECTED_OUTPUTS if text not in "\n".join(rendered)]
    assert missing == [], f"no cell output of lesson 08 shows {missing}"
    index_of = {cid: i for i, cid in enumerate(cell_ids(require(LESSON))) if cid}
    compared = 0
    for cid, stored in stored_outputs(require(SOLUTION)).items():
        for text in EXPECTED_OUTPUTS:
            if text in stored and cid in index_of:
                compared += 1
                assert text in rendered[index_of[cid]], (
                    f"cell {index_of[cid]} (id {cid}) shows {rendered[index_of[cid]]!r} in the "
                    f"browser, without the {text!r} its stored solution output has"
                )
    assert compared >= len(EXPECTED_OUTPUTS), "the solution stores too few of these outputs"


def test_index_links_lead_to_headings(lesson: RanLesson, artifacts_dir):
    """Every rule the index links (#rule) is a heading JupyterLab gave that id (it writes it as
    data-jupyter-id), and following one link scrolls that heading into view."""
    from helpers import catalogue

    page = lesson.notebook.page
    for row in catalogue.ROWS:
        heading = page.locator(f"[data-jupyter-id='{row.rule}']")
        assert heading.count() >= 1, f"no heading #{row.rule}"
    link = page.locator("a[href='#no-pad-token']").first
    link.scroll_into_view_if_needed()
    # the first click selects the index cell, and JupyterLab scrolls back to the selected
    # cell; the second one jumps (the index says so)
    link.click()
    page.wait_for_timeout(500)
    link.click()
    expect(page.locator("[data-jupyter-id='no-pad-token']").first).to_be_in_viewport(timeout=15_000)
    page.screenshot(path=str(artifacts_dir / "08_troubleshooting-clinic.png"))


def test_quiz_feedback_and_screenshot(lesson: RanLesson, artifacts_dir):
    """A wrong answer explains itself, a right one says so; the page is saved as a PNG."""
    page = lesson.notebook.page
    bank = load_bank("08")
    shown = [q for q in bank.questions if q.kind == "choice"
             and page.locator(f".fp-q-08-{q.id}").count() > 0]
    assert shown, "lesson 08 shows no multiple-choice question from its quiz bank"
    question = shown[0]
    box = question_box(page, question)
    assert_choice_feedback(box, question)
    box.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "08_troubleshooting-quiz.png"))


def test_open_question_reveals_its_model_answer(lesson: RanLesson):
    page = lesson.notebook.page
    shown = [q for q in load_bank("08").questions if q.kind == "open"
             and page.locator(f".fp-q-08-{q.id}").count() > 0]
    assert shown, "lesson 08 shows no open question from its quiz bank"
    assert_open_hint(question_box(page, shown[0]), shown[0])


def test_exercise_typed_in_the_browser_is_correct(lesson: RanLesson):
    """Type the solution into the student's exercise cell, run it and its check: "correct"."""
    found = exercises(require(LESSON), require(SOLUTION))
    assert found, "lesson 08 has no exercise with a check cell"
    exercise = found[0]
    notebook = lesson.notebook
    check_output = notebook.cell(exercise.check_index).locator(".jp-OutputArea")
    # unsolved, as Run All left it: the check must not already say correct
    expect(check_output.locator(".fp-check-not-yet")).to_have_count(1)

    notebook.replace_cell_source(exercise.cell_index, exercise.solved_source)
    state = notebook.run_cell_with_keyboard(exercise.cell_index)
    assert state.errors == ()
    state = notebook.run_cell(exercise.check_index)
    assert state.errors == ()
    expect(check_output.locator(".fp-check-correct")).to_have_count(1, timeout=15_000)
    expect(check_output).to_contain_text("correct")
