"""Lesson 07 in a real browser: Run All, the outputs the lesson is about, a quiz, an exercise.

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

LESSON = "notebooks/07_chat.ipynb"
SOLUTION = "solutions/07_chat.ipynb"
# what the lesson is about, each shown by a cell's output: the rendered prompt ending in the
# assistant header add_generation_prompt adds, the real no-template error, a template refusing
# a system message, and the message-less AttributeError of 4.x code diagnosed
EXPECTED_OUTPUTS = ("add_generation_prompt added:",
                    "tokenizer.chat_template is not set",
                    "Raised TemplateError: System role not supported",
                    "A BatchEncoding (a dict) was used as a tensor")
# the lesson generates about 800 tokens: seconds on an idle machine, but up to ~8 minutes were
# measured on a 2-core machine shared with other jobs (torch threads spin-wait under contention)
RUN_ALL_TIMEOUT_MS = 900_000


@pytest.fixture(scope="module")
def lesson(browser, lab_server: LabServer) -> Iterator[RanLesson]:
    with ran_lesson(browser, lab_server, LESSON, timeout_ms=RUN_ALL_TIMEOUT_MS) as ran:
        yield ran


def test_run_all_reaches_the_end_without_errors(lesson: RanLesson):
    not_run = [c.index for c in lesson.cells if c.type == "code" and c.execution_count is None]
    errors = [f"cell {c.index}: {e}" for c in lesson.cells for e in c.errors]
    assert errors == [], "cells raised (an error on purpose belongs in helpers.expect_error)"
    assert not_run == [], f"Run All stopped before cells {not_run}"
    assert lesson.notebook.rendered_errors() == []


def test_outputs_show_the_template_and_the_errors(lesson: RanLesson):
    """Each cell whose stored solution output shows one of these shows it here too."""
    rendered = lesson.notebook.output_texts()
    missing = [text for text in EXPECTED_OUTPUTS if text not in "\n".join(rendered)]
    assert missing == [], f"no cell output of lesson 07 shows {missing}"
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


def test_chat_model_answer_is_shown(lesson: RanLesson):
    """The answer cell shows the same text as the stored solution (greedy: reproducible)."""
    rendered = lesson.notebook.output_texts()
    index_of = {cid: i for i, cid in enumerate(cell_ids(require(LESSON))) if cid}
    stored = stored_outputs(require(SOLUTION))["07-chat"].strip()
    assert stored and stored in rendered[index_of["07-chat"]]


def test_chat_window_answers_what_the_learner_types(lesson: RanLesson, artifacts_dir):
    """Type a message into the chat window and press Send: a new answer and a longer prompt."""
    page = lesson.notebook.page
    box = page.locator(".fp-chat").first
    box.scroll_into_view_if_needed(timeout=15_000)
    answers = box.locator(".fp-chat-assistant")
    expect(answers).to_have_count(1, timeout=15_000)  # the cell's own first turn
    box.locator("input[type=text]").fill("Tell me a story about a cat named Mia")
    box.locator(".fp-chat-send").click()
    expect(answers).to_have_count(2, timeout=240_000)
    expect(box.locator(".fp-chat-user")).to_have_count(2)
    expect(box.locator(".fp-chat-prompt")).to_contain_text("cat named Mia")
    expect(box.locator(".fp-chat-status")).to_contain_text("the whole conversation")
    page.screenshot(path=str(artifacts_dir / "07_chat-window.png"))


def test_quiz_feedback_and_screenshot(lesson: RanLesson, artifacts_dir):
    """A wrong answer explains itself, a right one says so; the page is saved as a PNG."""
    page = lesson.notebook.page
    bank = load_bank("07")
    shown = [q for q in bank.questions if q.kind == "choice"
             and page.locator(f".fp-q-07-{q.id}").count() > 0]
    assert shown, "lesson 07 shows no multiple-choice question from its quiz bank"
    question = shown[0]
    box = question_box(page, question)
    assert_choice_feedback(box, question)
    box.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "07_chat-quiz.png"))


def test_open_question_reveals_its_model_answer(lesson: RanLesson):
    page = lesson.notebook.page
    shown = [q for q in load_bank("07").questions if q.kind == "open"
             and page.locator(f".fp-q-07-{q.id}").count() > 0]
    assert shown, "lesson 07 shows no open question from its quiz bank"
    assert_open_hint(question_box(page, shown[0]), shown[0])


def test_exercise_typed_in_the_browser_is_correct(lesson: RanLesson, artifacts_dir):
    """Type the solution into the student's exercise cell, run it and its check: "correct"."""
    found = exercises(require(LESSON), require(SOLUTION))
    assert len(found) >= 3, "lesson 07 has fewer than three exercises with a check cell"
    exercise = found[2]  # fold the system message into the first user message
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
    check_output.scroll_into_view_if_needed()
    page = notebook.page
    page.screenshot(path=str(artifacts_dir / "07_chat-exercise.png"))
