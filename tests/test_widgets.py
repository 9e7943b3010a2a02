"""Comprehension widgets, driven headless: set ``.value``, ``click()``, read the feedback HTML."""

from __future__ import annotations

import ipywidgets as widgets
import pytest

from helpers import progress
from helpers import widgets as quiz_widgets
from helpers.quizzes import QuizBankError, bank_lessons, load_bank
from helpers.widgets import (
    ChoiceQuestionWidget,
    OpenQuestionWidget,
    option_order,
    quiz,
    render,
)

QUESTIONS = [q for lesson in bank_lessons() for q in load_bank(lesson).questions]
CHOICE = [q for q in QUESTIONS if q.kind != "open"]
OPEN = [q for q in QUESTIONS if q.kind == "open"]


@pytest.fixture(autouse=True)
def progress_file(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    monkeypatch.setenv(progress.ENV_VAR, str(path))
    return path


def _all_html(widget) -> str:
    """Every HTML value inside a widget tree (to check colours and styles)."""
    found = []
    if isinstance(widget, widgets.HTML):
        found.append(widget.value)
    for child in getattr(widget, "children", ()):
        found.append(_all_html(child))
    return "\n".join(found)


@pytest.mark.parametrize("question", CHOICE, ids=lambda q: q.key)
def test_every_option_shows_its_own_explanation(question, capsys):
    for index, option in enumerate(question.options):
        widget = quiz(question.lesson, question.id)
        assert isinstance(widget, ChoiceQuestionWidget)
        widget.choices.value = index
        widget.check_button.click()
        feedback = widget.feedback.value
        assert render(option.explanation) in feedback
        if option.correct:
            assert "Correct!" in feedback and "Not quite" not in feedback
            assert "fp-correct" in feedback
        else:
            assert "Not quite." in feedback and "Correct!" not in feedback
        if question.kind == "predict":
            assert "run the cell below" in feedback
    assert capsys.readouterr().out == "", "widgets must never print (nbval strict mode)"


@pytest.mark.parametrize("question", CHOICE, ids=lambda q: q.key)
def test_answers_are_recorded_and_read_back(question):
    wrong = next(i for i, o in enumerate(question.options) if not o.correct)
    widget = quiz(question.lesson, question.id)
    widget.choices.value = wrong
    widget.check_button.click()
    record = progress.lesson_record(question.lesson)["questions"][question.id]
    assert record["correct"] is False and record["attempts"] == 1
    assert record["last_answer"] == question.options[wrong].text
    widget.choices.value = question.correct_indices[0]
    widget.check_button.click()
    record = progress.lesson_record(question.lesson)["questions"][question.id]
    assert record["correct"] is True and record["attempts"] == 2


@pytest.mark.parametrize("question", [q for q in QUESTIONS if q.hint], ids=lambda q: q.key)
def test_the_hint_button_reveals_and_hides_the_hint(question):
    widget = quiz(question.lesson, question.id)
    assert widget.hint.value == ""
    assert widget.hint_button is not None
    widget.hint_button.click()
    assert render(question.hint) in widget.hint.value
    assert widget.hint_button.description.startswith("Hide")
    widget.hint_button.click()
    assert widget.hint.value == ""
    assert widget.hint_button.description.startswith("Show")


@pytest.mark.parametrize("question", OPEN, ids=lambda q: q.key)
def test_open_question_reveals_the_model_answer_and_records_it(question):
    widget = quiz(question.lesson, question.id)
    assert isinstance(widget, OpenQuestionWidget)
    assert widget.hint_button.description == "Show answer hint"
    widget.answer_box.value = "maybe offloading?"
    widget.hint_button.click()
    assert render(question.answer) in widget.hint.value
    record = progress.lesson_record(question.lesson)["questions"][question.id]
    assert record["correct"] is True and record["revealed"] is True
    assert record["text"] == "maybe offloading?"


def test_the_slow_generation_answer_renders_its_code():
    widget = quiz("01", "slow-generation")
    widget.hint_button.click()
    assert "<code>model.hf_device_map</code>" in widget.hint.value
    assert "<code>torch.cuda.is_bf16_supported(including_emulation=False)</code>" in (
        widget.hint.value
    )


def test_checking_without_a_choice_asks_for_one():
    widget = quiz("01", "default-dtype")
    assert widget.choices.value is None, "nothing may be preselected"
    widget.check_button.click()
    assert "Pick an answer first" in widget.feedback.value
    assert progress.lesson_record("01")["questions"] == {}


def test_changing_the_choice_clears_old_feedback():
    widget = quiz("01", "default-dtype")
    widget.select("torch.float32, the dtype the checkpoint was saved in")
    widget.check_button.click()
    assert "Correct!" in widget.feedback.value
    widget.choices.value = next(i for i in range(4) if not widget.question.options[i].correct)
    assert widget.feedback.value == ""
    with pytest.raises(ValueError, match="has no option"):
        widget.select("torch.float64")


def test_option_labels_are_the_option_texts_without_markdown():
    question = load_bank("01").question("dtype-keyword")
    widget = quiz("01", "dtype-keyword")
    labels = {label for label, _ in widget.choices.options}
    assert labels == {quiz_widgets.plain(o.text) for o in question.options}
    assert not any("`" in label for label in labels)


def test_order_is_stable_within_a_session_and_varies_between_sessions(monkeypatch):
    monkeypatch.delenv(quiz_widgets.SEED_ENV, raising=False)
    question = load_bank("01").question("default-dtype")
    first = quiz("01", "default-dtype").order
    assert quiz("01", "default-dtype").order == first  # same session, same order
    assert sorted(first) == list(range(len(question.options)))
    orders = {tuple(option_order(question, seed=str(s))) for s in range(30)}
    assert len(orders) > 1
    correct_positions = {
        option_order(question, seed=str(s)).index(question.correct_indices[0]) for s in range(30)
    }
    assert len(correct_positions) > 1, "the correct answer must not always come first"


def test_the_seed_can_be_fixed_by_environment(monkeypatch):
    monkeypatch.setenv(quiz_widgets.SEED_ENV, "docs")
    question = load_bank("01").question("fp16-not-amp")
    assert quiz("01", "fp16-not-amp").order == option_order(question, seed="docs")


def test_one_session_does_not_put_every_correct_answer_first():
    displayed = [quiz(q.lesson, q.id, seed="s1").order.index(q.correct_indices[0]) for q in CHOICE]
    assert len(set(displayed)) > 1


def test_quiz_for_a_lesson_shows_every_question_in_order():
    box = quiz(1)
    bank = load_bank("01")
    assert isinstance(box, widgets.VBox)
    assert [child.question.id for child in box.children] == [q.id for q in bank.questions]
    assert f"Question 1 of {len(bank.questions)}" in box.children[0].prompt.value
    assert "fp-quiz" in box._dom_classes


def test_css_classes_for_browser_tests():
    box = quiz("01")
    choice = box.children[0]
    classes = set(choice._dom_classes)
    assert {"fp-question", "fp-question-choice", "fp-q-01-default-dtype"} <= classes
    assert "fp-choice" in choice.choices._dom_classes
    assert "fp-check" in choice.check_button._dom_classes
    assert "fp-feedback" in choice.feedback._dom_classes
    assert "fp-hint-button" in choice.hint_button._dom_classes
    assert "fp-hint" in choice.hint._dom_classes
    assert "fp-prompt" in choice.prompt._dom_classes
    open_widget = next(c for c in box.children if c.question.kind == "open")
    assert "fp-answer" in open_widget.answer_box._dom_classes
    assert "fp-hint-button" in open_widget.hint_button._dom_classes


def test_controls_are_real_keyboard_usable_widgets_with_labels():
    widget = quiz("01", "default-dtype")
    assert isinstance(widget.choices, widgets.RadioButtons)
    assert isinstance(widget.check_button, widgets.Button)
    assert widget.check_button.description == "Check"
    assert widget.check_button.tooltip
    assert quiz("01", "predict-chat-dtype").check_button.description == "Check my prediction"


def test_colours_come_from_the_theme_and_no_white_backgrounds():
    box = quiz("01")
    for child in box.children:
        if isinstance(child, ChoiceQuestionWidget):
            child.choices.value = 0
            child.check_button.click()
        if child.hint_button is not None:
            child.hint_button.click()
    html = _all_html(box).lower()
    assert "var(--jp-success-color1" in html or "var(--jp-warn-color1" in html
    assert "var(--jp-ui-font-color1" in html
    for forbidden in ("background:#fff", "background: #fff", "background:white",
                      "background: white", "color:#000", "color: black"):
        assert forbidden not in html


def test_predict_questions_show_their_code():
    question = load_bank("01").question("predict-chat-dtype")
    widget = quiz("01", "predict-chat-dtype")
    assert "<pre><code" in widget.prompt.value
    assert "print(next(model.parameters()).dtype)" in widget.prompt.value
    assert question.code


def test_bank_text_is_escaped_not_injected():
    assert render("Unrecognized model in <dir>.") == "Unrecognized model in &lt;dir&gt;."
    assert render("`a<b`") == "<code>a&lt;b</code>"


def test_unknown_questions_and_lessons_fail_clearly():
    with pytest.raises(KeyError, match="has no question"):
        quiz("01", "no-such-question")
    with pytest.raises(QuizBankError):
        quiz("97")


def test_a_broken_progress_file_does_not_break_a_widget(progress_file):
    progress_file.mkdir()  # a folder where the file should be: unreadable and unwritable
    widget = quiz("01", "default-dtype")
    widget.choices.value = 0
    with pytest.warns(progress.ProgressWarning):
        widget.check_button.click()
    assert widget.feedback.value
