"""Comprehension widgets, driven headless: set ``.value``, ``click()``, read the feedback HTML."""

from __future__ import annotations

from pathlib import Path

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
    monkeypatch.delenv(progress.SESSION_ENV, raising=False)  # as if no notebook ran these
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
        assert feedback.count("Correct!") <= 1 and "Right." not in feedback
        if question.kind == "predict":  # the code is in the prompt; no cell below holds it
            expected = quiz_widgets.PREDICT_SEE_IT if option.correct else (
                quiz_widgets.PREDICT_TRY_AGAIN)
            assert expected in feedback
            assert "cell below" not in feedback
    assert capsys.readouterr().out == "", "widgets must never print (nbval strict mode)"


def test_feedback_says_correct_once():
    widget = quiz("01", "default-dtype")
    widget.select("torch.float32, the dtype the checkpoint was saved in")
    widget.check_button.click()
    text = widget.feedback.value
    assert "<b>Correct!</b> The 5.x default is" in text
    assert text.count("Correct") == 1 and "Right" not in text


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


@pytest.mark.parametrize("question", [q for q in CHOICE if q.hint], ids=lambda q: q.key)
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
def test_open_question_shows_the_hint_first_then_the_model_answer(question):
    widget = quiz(question.lesson, question.id)
    assert isinstance(widget, OpenQuestionWidget)
    assert question.hint, "open questions of the bank have a hint"
    button = widget.hint_button
    assert button.description == "Show answer hint"
    widget.answer_box.value = "maybe offloading?"

    button.click()  # first click: the hint, not the answer
    assert render(question.hint) in widget.hint.value
    assert widget.model_answer.value == ""
    assert render(question.answer) not in widget.hint.value
    assert button.description == "Show model answer"
    assert question.id not in progress.lesson_record(question.lesson)["questions"]

    button.click()  # second click: the model answer, below the hint
    assert render(question.hint) in widget.hint.value
    assert render(question.answer) in widget.model_answer.value
    assert "A good answer" in widget.model_answer.value
    assert button.description == "Hide hint and answer"
    record = progress.lesson_record(question.lesson)["questions"][question.id]
    assert record["correct"] is True and record["revealed"] is True
    assert record["text"] == "maybe offloading?"

    button.click()  # third click: both hidden, back to the start
    assert widget.hint.value == "" and widget.model_answer.value == ""
    assert button.description == "Show answer hint"


def test_an_open_question_without_a_hint_shows_the_answer_at_once():
    import dataclasses

    question = dataclasses.replace(load_bank("01").question("slow-generation"), hint=None)
    widget = quiz_widgets.question_widget(question)
    assert widget.hint_button.description == "Show model answer"
    widget.hint_button.click()
    assert widget.hint.value == ""
    assert render(question.answer) in widget.model_answer.value
    assert widget.hint_button.description == "Hide hint and answer"


def test_the_slow_generation_answer_renders_its_code():
    widget = quiz("01", "slow-generation")
    widget.hint_button.click()
    widget.hint_button.click()
    assert "<code>model.hf_device_map</code>" in widget.model_answer.value
    assert "<code>torch.cuda.is_bf16_supported(including_emulation=False)</code>" in (
        widget.model_answer.value
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
    assert "fp-model-answer" in open_widget.model_answer._dom_classes


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
        if isinstance(child, OpenQuestionWidget):
            child.hint_button.click()  # the model answer too
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


def test_a_wrong_pick_after_a_right_one_keeps_the_question_done():
    """Exploring the other options' explanations does not undo a solved question."""
    question = load_bank("01").question("default-dtype")
    widget = quiz("01", "default-dtype")
    widget.choices.value = question.correct_indices[0]
    widget.check_button.click()
    widget.choices.value = next(i for i, o in enumerate(question.options) if not o.correct)
    widget.check_button.click()
    record = progress.lesson_record("01")["questions"]["default-dtype"]
    assert record["correct"] is True and record["last_correct"] is False
    assert progress.progress_summary("01")[0].questions_done == 1


# --------------------------------------------------------------------------- saved notebooks

REPO = Path(quiz_widgets.__file__).resolve().parents[1]


def _widget_output(widget, output_type="execute_result"):
    """The output a kernel stores for a displayed widget (its real mimebundle)."""
    bundle = widget._repr_mimebundle_()
    output = {"output_type": output_type, "data": bundle, "metadata": {}}
    if output_type == "execute_result":
        output["execution_count"] = 7
    return output


def _notebook(*outputs):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Quiz"),
                      nbformat.v4.new_code_cell('helpers.quiz("01")')]
    notebook.cells[1].outputs = [nbformat.from_dict(o) for o in outputs]
    notebook.metadata["widgets"] = {quiz_widgets.WIDGET_STATE_MIME: {"state": {}}}
    return notebook


def test_a_stored_quiz_becomes_a_run_this_cell_note():
    output = _widget_output(quiz("01"))
    assert quiz_widgets.WIDGET_VIEW_MIME in output["data"]
    saved = quiz_widgets.saved_output_fallback(output)
    assert set(saved["data"]) == {"text/html", "text/plain"}
    assert saved["data"]["text/plain"].startswith("Run this cell to show the questions.")
    assert "Run this cell to show the questions." in saved["data"]["text/html"]
    assert quiz_widgets.FALLBACK_CLASS in saved["data"]["text/html"]
    assert saved["output_type"] == "execute_result" and saved["execution_count"] == 7
    assert quiz_widgets.WIDGET_VIEW_MIME in output["data"], "the input is not changed"
    single = quiz_widgets.saved_output_fallback(_widget_output(quiz("00", "run-a-cell"),
                                                               "display_data"))
    assert single["output_type"] == "display_data" and "execution_count" not in single
    assert "the questions" in single["data"]["text/plain"]


def test_other_widgets_get_a_neutral_note_and_other_outputs_stay_as_they_are():
    other = quiz_widgets.saved_output_fallback(_widget_output(widgets.IntSlider()))
    assert other["data"]["text/plain"].startswith("Run this cell to show this widget.")
    text = {"output_type": "stream", "name": "stdout", "text": "hello\n"}
    html_out = {"output_type": "display_data", "data": {"text/html": "<b>x</b>"}, "metadata": {}}
    for output in (text, html_out):
        assert quiz_widgets.saved_output_fallback(output) is output


def test_a_stored_tqdm_bar_becomes_a_note_that_a_bar_ran():
    """tqdm's notebook bar is a widget whose saved text is its first state (0 %): a "run this
    cell" note would send the learner to re-run a download for nothing."""
    from tqdm.notebook import tqdm as notebook_tqdm

    bar = notebook_tqdm(total=272, desc="Converting and de-quantizing GGUF tensors...")
    output = _widget_output(bar.container, "display_data")
    bar.close()
    assert "0/272" in output["data"]["text/plain"], "the saved text is the bar at its start"
    saved = quiz_widgets.saved_output_fallback(output)
    assert saved["data"]["text/plain"] == (
        "[a progress bar was shown here while the cell ran: "
        "Converting and de-quantizing GGUF tensors...]")
    assert "Run this cell" not in saved["data"]["text/html"]
    assert quiz_widgets.WIDGET_VIEW_MIME not in saved["data"]
    download = _widget_output(notebook_tqdm(total=4_000_000, unit="B", unit_scale=True,
                                            desc="model.safetensors").container, "display_data")
    assert quiz_widgets.saved_output_fallback(download)["data"]["text/plain"].endswith(
        "ran: model.safetensors]")


def test_notebook_nodes_stay_notebook_nodes_and_validate():
    import nbformat

    notebook = _notebook(_widget_output(quiz("01")))
    converted = quiz_widgets.saved_output_fallback(notebook.cells[1].outputs[0])
    assert isinstance(converted, nbformat.NotebookNode)
    assert converted.data["text/plain"].startswith("Run this cell")
    assert quiz_widgets.strip_widget_views(notebook) == 1
    assert "widgets" not in notebook.metadata
    nbformat.validate(notebook)
    assert quiz_widgets.WIDGET_VIEW_MIME not in nbformat.writes(notebook)


def test_the_pre_save_hook_changes_notebooks_only():
    import json

    import nbformat

    content = json.loads(nbformat.writes(_notebook(_widget_output(quiz("01")))))
    model = {"type": "notebook", "format": "json", "content": content}
    quiz_widgets.pre_save_hook(model, path="notebooks/01.ipynb", contents_manager=None)
    assert quiz_widgets.WIDGET_VIEW_MIME not in json.dumps(model)
    assert "Run this cell to show the questions." in json.dumps(model)
    text_file = {"type": "file", "format": "text", "content": quiz_widgets.WIDGET_VIEW_MIME}
    quiz_widgets.pre_save_hook(text_file, path="notes.txt", contents_manager=None)
    assert text_file["content"] == quiz_widgets.WIDGET_VIEW_MIME


def _course_server_config():
    """The course's Jupyter server config, loaded the way Jupyter loads it."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("jupyter_server_config.py", path=str(REPO / ".jupyter")).load_config()


def test_the_course_server_saves_notebooks_without_widget_views(tmp_path):
    """jupyter_server's own contents manager, configured by .jupyter/, writes the fallback."""
    import json

    import nbformat
    from jupyter_server.services.contents.filemanager import FileContentsManager

    manager = FileContentsManager(root_dir=str(tmp_path), config=_course_server_config())
    notebook = _notebook(_widget_output(quiz("01")))
    model = {"type": "notebook", "format": "json",
             "content": json.loads(nbformat.writes(notebook))}
    manager.save(model, "lesson.ipynb")
    on_disk = (tmp_path / "lesson.ipynb").read_text()
    assert quiz_widgets.WIDGET_VIEW_MIME not in on_disk
    assert quiz_widgets.WIDGET_STATE_MIME not in on_disk
    saved = nbformat.reads(on_disk, as_version=4)
    assert saved.cells[1].outputs[0].data["text/plain"].startswith(
        "Run this cell to show the questions.")
    assert saved.cells[0].source == "# Quiz"


def test_the_course_server_hides_egg_info_but_keeps_jupyters_defaults(tmp_path):
    from jupyter_server.services.contents.filemanager import FileContentsManager

    (tmp_path / "from_pretrained.egg-info").mkdir()
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "notebooks").mkdir()
    manager = FileContentsManager(root_dir=str(tmp_path), config=_course_server_config())
    listed = {entry["name"] for entry in manager.get("")["content"]}
    assert listed == {"notebooks"}
