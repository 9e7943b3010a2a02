"""Lesson 05 in a real browser: Run All, the outputs the lesson is about, the memory calculator
driven by typing and clicking, a quiz, an exercise.

The lesson runs once per module (Run All, as a learner would); the tests then read and click on
that page in order. The student copy (notebooks/) is the one opened: that is what learners get.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from course_server import LabServer
from lab_driver import expect
from lessons import RanLesson, cell_ids, exercises, ran_lesson, require, stored_outputs
from quiz_checks import assert_choice_feedback, assert_open_hint, question_box

from helpers.quizzes import load_bank

pytestmark = pytest.mark.browser

LESSON = "notebooks/05_memory.ipynb"
SOLUTION = "solutions/05_memory.ipynb"
# what the lesson is about, each shown by a cell's output: the 7B shape sized without a
# download, the KV cache measured against the formula, the plan that is all disk, and the real
# errors of 4.x quantization code and of a max_memory key accelerate doesn't know
EXPECTED_OUTPUTS = ("7,241,732,096 parameters", "measured cache:", "{'': 'disk'}",
                    "load_in_4bit= was removed in transformers 5",
                    "Device cuda:0 is not recognized")


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


def test_outputs_show_sizes_plans_and_errors(lesson: RanLesson):
    """Each cell whose stored solution output shows one of these shows it here too."""
    rendered = lesson.notebook.output_texts()
    missing = [text for text in EXPECTED_OUTPUTS if text not in "\n".join(rendered)]
    assert missing == [], f"no cell output of lesson 05 shows {missing}"
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


def _field(calculator, label: str):
    return calculator.locator(".widget-inline-hbox", has=calculator.page.get_by_text(
        label, exact=True)).locator("input").first


def test_memory_calculator_answers_what_the_learner_types(lesson: RanLesson, artifacts_dir):
    """24 GiB for the 7B shape at 4,096 tokens: a batch of 21 fits, 22 doesn't (the exercise)."""
    page = lesson.notebook.page
    calculator = page.locator(".fp-memory-calculator").first
    calculator.scroll_into_view_if_needed(timeout=15_000)
    output = calculator.locator(".fp-memcalc-output")
    expect(output).to_contain_text("weights", timeout=15_000)
    _field(calculator, "memory available (GiB)").fill("24")
    _field(calculator, "memory available (GiB)").press("Enter")
    for batch, verdict in (("22", "does not fit"), ("21", "fits, with")):
        _field(calculator, "batch").fill(batch)
        _field(calculator, "batch").press("Enter")
        calculator.locator(".fp-memcalc-calculate").click()
        expect(output).to_contain_text(re.compile(rf"x {batch} x 2 bytes"), timeout=15_000)
        expect(output).to_contain_text(verdict, timeout=15_000)
    page.screenshot(path=str(artifacts_dir / "05_memory-calculator.png"))


def test_quiz_feedback_and_screenshot(lesson: RanLesson, artifacts_dir):
    """A wrong answer explains itself, a right one says so; the page is saved as a PNG."""
    page = lesson.notebook.page
    bank = load_bank("05")
    shown = [q for q in bank.questions if q.kind == "choice"
             and page.locator(f".fp-q-05-{q.id}").count() > 0]
    assert shown, "lesson 05 shows no multiple-choice question from its quiz bank"
    question = shown[0]
    box = question_box(page, question)
    assert_choice_feedback(box, question)
    box.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "05_memory-quiz.png"))


def test_open_question_reveals_its_model_answer(lesson: RanLesson):
    page = lesson.notebook.page
    shown = [q for q in load_bank("05").questions if q.kind == "open"
             and page.locator(f".fp-q-05-{q.id}").count() > 0]
    assert shown, "lesson 05 shows no open question from its quiz bank"
    assert_open_hint(question_box(page, shown[0]), shown[0])


def test_exercise_typed_in_the_browser_is_correct(lesson: RanLesson):
    """Type the solution into the student's exercise cell, run it and its check: "correct"."""
    found = exercises(require(LESSON), require(SOLUTION))
    assert len(found) >= 3, "lesson 05 has fewer than three exercises with a check cell"
    exercise = found[1]  # the largest batch, found with the memory calculator
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
