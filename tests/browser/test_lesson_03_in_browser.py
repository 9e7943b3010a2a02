"""Lesson 03 in a real browser: Run All, the outputs the lesson is about, the generation
playground, a quiz, an exercise.

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

LESSON = "notebooks/03_generating.ipynb"
SOLUTION = "solutions/03_generating.ipynb"
# what the lesson is about, each shown by a cell's output: the real stop_strings error, the
# max_length that leaves no room, temperature 0 refused, the strict config check, and the
# repetition count that no_repeat_ngram_size brings to zero
EXPECTED_OUTPUTS = ("When generating with stop strings, you must pass the model's tokenizer",
                    "but `max_length` is set to", "has to be a strictly positive float",
                    "GenerationConfig is invalid", "no_repeat_ngram_size=3: repeated 3-token "
                    "sequences: 0")


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


def test_outputs_show_the_errors_and_the_repetition_fix(lesson: RanLesson):
    """Each cell whose stored solution output shows one of these shows it here too."""
    rendered = lesson.notebook.output_texts()
    missing = [text for text in EXPECTED_OUTPUTS if text not in "\n".join(rendered)]
    assert missing == [], f"no cell output of lesson 03 shows {missing}"
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


def test_playground_generates_with_the_seed_typed_in(lesson: RanLesson, artifacts_dir):
    """Type a seed, click Generate: the text appears with that seed, and the shown call uses it."""
    page = lesson.notebook.page
    pg = page.locator(".fp-playground").first
    pg.scroll_into_view_if_needed(timeout=15_000)
    expect(pg.locator(".fp-playground-code")).to_contain_text("model.generate(**inputs",
                                                              timeout=15_000)
    seed_box = pg.locator(".widget-inline-hbox input[type='number'], "
                          ".jupyter-widget-inline-hbox input[type='number']").first
    seed_box.fill("7")
    seed_box.press("Enter")
    expect(pg.locator(".fp-playground-code")).to_contain_text("set_seed(7)", timeout=15_000)
    pg.locator(".fp-playground-generate").click()
    result = pg.locator(".fp-playground-output")
    expect(result).to_contain_text(re.compile(r"seed 7 · \d+ new tokens"), timeout=30_000)
    expect(result).to_contain_text("Once upon a time")
    result.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "03_generating-playground.png"))


def test_quiz_feedback_and_screenshot(lesson: RanLesson, artifacts_dir):
    """A wrong answer explains itself, a right one says so; the page is saved as a PNG."""
    page = lesson.notebook.page
    bank = load_bank("03")
    shown = [q for q in bank.questions if q.kind == "choice"
             and page.locator(f".fp-q-03-{q.id}").count() > 0]
    assert shown, "lesson 03 shows no multiple-choice question from its quiz bank"
    question = shown[0]
    box = question_box(page, question)
    assert_choice_feedback(box, question)
    box.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "03_generating-quiz.png"))


def test_open_question_reveals_its_model_answer(lesson: RanLesson):
    page = lesson.notebook.page
    shown = [q for q in load_bank("03").questions if q.kind == "open"
             and page.locator(f".fp-q-03-{q.id}").count() > 0]
    assert shown, "lesson 03 shows no open question from its quiz bank"
    assert_open_hint(question_box(page, shown[0]), shown[0])


def test_playground_exercise_typed_in_the_browser_is_correct(lesson: RanLesson):
    """Type the solution of the playground exercise, run it and its check: "correct"."""
    found = exercises(require(LESSON), require(SOLUTION))
    assert len(found) >= 3, "lesson 03 has fewer than three exercises with a check cell"
    exercise = found[2]  # settings that make sampling deterministic, found with the playground
    notebook = lesson.notebook
    check_output = notebook.cell(exercise.check_index).locator(".jp-OutputArea")
    # unsolved, as Run All left it: the check must not already say correct
    expect(check_output.locator(".fp-check-not-yet")).to_have_count(1)

    notebook.replace_cell_source(exercise.cell_index, exercise.solved_source)
    state = notebook.run_cell_with_keyboard(exercise.cell_index)
    assert state.errors == ()
    state = notebook.run_cell(exercise.check_index)
    assert state.errors == ()
    expect(check_output.locator(".fp-check-correct")).to_have_count(1, timeout=30_000)
    expect(check_output).to_contain_text("correct")
