"""Comprehension widgets: multiple choice, predict-the-output and open questions from the bank.

``quiz("01")`` shows every question of lesson 01; ``quiz("01", "default-dtype")`` one of them.
Design rules, each for a reason:

* feedback is written into ``HTML`` widget values, never printed (printing inside an
  ``Output`` widget makes nbval's strict mode fail on unexpected stdout);
* every option carries its own explanation, so a wrong pick teaches why it is wrong;
* the option order is shuffled per session (a random seed drawn once per kernel, plus the
  question id) so the correct answer is not always in the same place, yet it does not jump
  around while the learner is thinking; ``FROM_PRETRAINED_QUIZ_SEED`` fixes it (tests, docs);
* real radio buttons and buttons (keyboard usable), colours from JupyterLab theme variables
  (readable in light and dark themes), and stable CSS classes for browser tests:
  ``fp-quiz``, ``fp-question``, ``fp-prompt``, ``fp-choice``, ``fp-check``, ``fp-feedback``,
  ``fp-hint-button``, ``fp-hint``, ``fp-answer``, ``fp-model-answer``, plus
  ``fp-q-<lesson>-<id>`` per question;
* a widget lives in the running kernel, so a saved notebook cannot show it again: after a
  reload JupyterLab would print "Error displaying widget: model not found".
  :func:`saved_output_fallback` turns a stored widget output into a "Run this cell to show the
  questions" note; the course's JupyterLab config (``.jupyter/jupyter_server_config.py``)
  applies it to every notebook it saves (:func:`pre_save_hook`), and ``python -m helpers
  execute`` to the outputs it stores in solutions/.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import html
import os
import random
import re
import secrets
from collections.abc import Mapping, MutableMapping
from typing import Any

import ipywidgets as widgets

from helpers import progress
from helpers.quizzes import Question, load_bank

SEED_ENV = "FROM_PRETRAINED_QUIZ_SEED"
_SESSION_SEED = secrets.token_hex(8)

# Let long option labels wrap (ipywidgets gives radio labels a fixed one-line height), and
# colour feedback with the theme's own variables, falling back to colours readable on both.
_STYLE = """<style>
.fp-choice .widget-radio-box label, .fp-choice .jupyter-widget-radio-box label {
  display: flex; align-items: flex-start; height: auto; padding: 2px 0;
  min-height: var(--jp-widgets-radio-item-height, 24px); line-height: 1.4; white-space: normal;
}
.fp-choice .widget-radio-box input, .fp-choice .jupyter-widget-radio-box input {
  order: -1; float: none; flex: none; height: auto; margin: 3px 8px 0 1px;
}
.fp-question .widget-html, .fp-question .jupyter-widget-html { min-width: 0; max-width: 100%; }
.fp-question .widget-html-content, .fp-question .jupyter-widget-html-content {
  line-height: 1.45; min-width: 0;
}
.fp-question code { overflow-wrap: anywhere; }
.fp-question pre code { overflow-wrap: normal; white-space: pre; }
.fp-message p, .fp-message ol, .fp-message ul { margin: 4px 0; }
.fp-question pre { background: var(--jp-cell-editor-background, transparent);
  color: var(--jp-content-font-color1, inherit); padding: 6px 8px; overflow-x: auto; }
</style>"""

# What a predict question's feedback adds: the question shows its code, which runs as it stands
# (the bank's lint runs it), so copying it into a new cell is how to see the real output.
PREDICT_SEE_IT = "To see it print, copy the code into a new cell and run it."
PREDICT_TRY_AGAIN = (
    "Try another answer, or copy the code into a new cell and run it to see what it prints."
)

_COLOURS = {
    "correct": ("--jp-success-color1", "#2e7d32"),
    "wrong": ("--jp-warn-color1", "#b26a00"),
    "info": ("--jp-brand-color1", "#1976d2"),
}


def session_seed() -> str:
    """The seed of this session's option order (``$FROM_PRETRAINED_QUIZ_SEED`` when set)."""
    return os.environ.get(SEED_ENV, "").strip() or _SESSION_SEED


def option_order(question: Question, seed: str | None = None) -> list[int]:
    """Bank indices of the question's options in the order this session shows them."""
    order = list(range(len(question.options)))
    random.Random(f"{seed or session_seed()}/{question.key}").shuffle(order)
    return order


@functools.cache
def _markdown() -> Any:
    import mistune

    return mistune.create_markdown(escape=True)


def render(text: str) -> str:
    """Bank text (Markdown: `code`, fenced blocks, **bold**, lists) as HTML; raw HTML escaped.

    A single paragraph comes back without its ``<p>``, so it can follow "Correct!" inline.
    """
    html = str(_markdown()(text)).strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]
    return html


def plain(text: str) -> str:
    """Bank text for a plain-text label (radio options): Markdown backticks removed."""
    return re.sub(r"`([^`]*)`", r"\1", text)


def _box(kind: str, body: str) -> str:
    variable, fallback = _COLOURS[kind]
    return (
        f'<div class="fp-message fp-{kind}" role="status" style="border-left:4px solid '
        f"var({variable}, {fallback});padding:2px 10px;margin:4px 0;"
        f'color:var(--jp-ui-font-color1, inherit)">{body}</div>'
    )


def _record(call: Any, *args: Any, **kwargs: Any) -> None:
    """Record progress; a progress problem must never break a widget callback."""
    with contextlib.suppress(Exception):  # progress itself warns about file problems
        call(*args, **kwargs)


class QuestionWidget(widgets.VBox):
    """The shared parts of every question: a prompt and an optional toggled hint."""

    def __init__(self, question: Question, number: int | None = None, total: int | None = None):
        self.question = question
        heading = f"Question {number} of {total}" if number and total else "Question"
        code = ""
        if question.code:
            code = render(f"```python\n{question.code}\n```")
        self.prompt = widgets.HTML(
            value=f"{_STYLE}<div><b>{heading}</b></div>{render(question.prompt)}{code}"
        )
        self.prompt.add_class("fp-prompt")
        self.hint = widgets.HTML(value="")
        self.hint.add_class("fp-hint")
        self.hint_button: widgets.Button | None = None
        super().__init__()
        self.add_class("fp-question")
        self.add_class(f"fp-question-{question.kind}")
        self.add_class(f"fp-q-{question.lesson}-{question.id}")
        self.layout = widgets.Layout(margin="8px 0 16px 0", width="100%")

    def _make_hint_button(self, label: str, what: str) -> widgets.Button:
        button = widgets.Button(
            description=label,
            tooltip=f"{label}: {what}",
            icon="lightbulb-o",
            layout=widgets.Layout(width="auto"),
        )
        button.add_class("fp-hint-button")
        button.on_click(self._toggle_hint)
        self._hint_label = label
        self.hint_button = button
        return button

    def _hint_html(self) -> str:
        return _box("info", f"<b>Hint:</b> {render(self.question.hint or '')}")

    def _toggle_hint(self, _button: Any = None) -> None:
        assert self.hint_button is not None
        if self.hint.value:
            self.hint.value = ""
            self.hint_button.description = self._hint_label
        else:
            self.hint.value = self._hint_html()
            self.hint_button.description = self._hint_label.replace("Show", "Hide", 1)
            self._hint_revealed()

    def _hint_revealed(self) -> None:
        """Called when the hint is shown (open questions record progress here)."""


class ChoiceQuestionWidget(QuestionWidget):
    """A ``choice`` or ``predict`` question: radio options, a Check button and feedback."""

    def __init__(
        self,
        question: Question,
        number: int | None = None,
        total: int | None = None,
        seed: str | None = None,
    ):
        super().__init__(question, number, total)
        self.order = option_order(question, seed)
        self.choices = widgets.RadioButtons(
            options=[(plain(question.options[i].text), i) for i in self.order],
            index=None,  # nothing preselected: the learner must choose
            layout=widgets.Layout(width="100%"),
        )
        self.choices.add_class("fp-choice")
        predict = question.kind == "predict"
        label = "Check my prediction" if predict else "Check"
        self.check_button = widgets.Button(
            description=label,
            tooltip=f"{label}: see whether your answer is right, and why",
            button_style="primary",
            layout=widgets.Layout(width="auto"),
        )
        self.check_button.add_class("fp-check")
        self.check_button.on_click(self._check)
        self.feedback = widgets.HTML(value="")
        self.feedback.add_class("fp-feedback")
        self.choices.observe(self._clear_feedback, names="value")
        buttons = [self.check_button]
        if question.hint:
            buttons.append(self._make_hint_button("Show hint", "a nudge, not the answer"))
        for button in buttons:
            button.layout.margin = "2px 8px 2px 0"
        row = widgets.HBox(buttons)
        self.children = (self.prompt, self.choices, row, self.feedback, self.hint)

    def select(self, text: str) -> None:
        """Choose the option whose text is ``text`` (for tests and demonstrations)."""
        for index, option in enumerate(self.question.options):
            if option.text == text:
                self.choices.value = index
                return
        raise ValueError(f"{self.question.key} has no option {text!r}")

    def _clear_feedback(self, _change: Any = None) -> None:
        self.feedback.value = ""

    def _check(self, _button: Any = None) -> None:
        picked = self.choices.value
        if picked is None:
            self.feedback.value = _box("info", "Pick an answer first, then press Check.")
            return
        option = self.question.options[picked]
        predict = self.question.kind == "predict"
        if option.correct:
            verdict = "<b>Correct!</b>"
            after = f" <i>{PREDICT_SEE_IT}</i>" if predict else ""
        else:
            verdict = "<b>Not quite.</b>"
            after = f" <i>{PREDICT_TRY_AGAIN}</i>" if predict else ""
        kind = "correct" if option.correct else "wrong"
        self.feedback.value = _box(kind, f"{verdict} {render(option.explanation)}{after}")
        _record(
            progress.record_answer,
            self.question.lesson,
            self.question.id,
            option.correct,
            option.text,
        )


class OpenQuestionWidget(QuestionWidget):
    """An ``open`` question: a text box, then the hint, then the model answer, one click each.

    The button reads "Show answer hint" (the hint only), then "Show model answer" (the answer
    is added below the hint), then "Hide hint and answer" (both go, and it starts over). A
    question without a hint shows the model answer on the first click. The question counts as
    done once its model answer has been shown (see :mod:`helpers.progress`).
    """

    HINT_LABEL = "Show answer hint"
    ANSWER_LABEL = "Show model answer"
    HIDE_LABEL = "Hide hint and answer"

    def __init__(self, question: Question, number: int | None = None, total: int | None = None):
        super().__init__(question, number, total)
        self.answer_box = widgets.Textarea(
            placeholder="Write your answer here (optional; it stays on this computer).",
            layout=widgets.Layout(width="100%", height="6em"),
        )
        self.answer_box.add_class("fp-answer")
        self.model_answer = widgets.HTML(value="")
        self.model_answer.add_class("fp-model-answer")
        first = self.HINT_LABEL if question.hint else self.ANSWER_LABEL
        button = self._make_hint_button(first, "a nudge first, then a model answer")
        self.children = (
            self.prompt, self.answer_box, widgets.HBox([button]), self.hint, self.model_answer,
        )

    def _toggle_hint(self, _button: Any = None) -> None:
        assert self.hint_button is not None
        if self.model_answer.value:  # everything shown: hide it all and start over
            self.hint.value = ""
            self.model_answer.value = ""
            self.hint_button.description = self._hint_label
        elif self.question.hint and not self.hint.value:  # first click: the hint only
            self.hint.value = self._hint_html()
            self.hint_button.description = self.ANSWER_LABEL
        else:  # second click (or the first, without a hint): the model answer
            answer = render(self.question.answer or "")
            self.model_answer.value = _box("info", f"<b>A good answer:</b> {answer}")
            self.hint_button.description = self.HIDE_LABEL
            self._hint_revealed()

    def _hint_revealed(self) -> None:
        _record(
            progress.record_open_answer,
            self.question.lesson,
            self.question.id,
            self.answer_box.value,
        )


def question_widget(
    question: Question, number: int | None = None, total: int | None = None, seed: str | None = None
) -> QuestionWidget:
    """The widget for one question of any kind."""
    if question.kind == "open":
        return OpenQuestionWidget(question, number, total)
    return ChoiceQuestionWidget(question, number, total, seed)


def quiz(lesson: str | int, question_id: str | None = None, *, seed: str | None = None) -> Any:
    """One question's widget, or a VBox of all the lesson's questions, from the quiz bank.

    Tag the cell ``nbval-ignore-output``: the widget's text repr is not lesson content.
    """
    bank = load_bank(lesson)
    if question_id is not None:
        question = bank.question(question_id)
        single = question_widget(question, seed=seed)
        single.add_class("fp-quiz")
        return single
    total = len(bank.questions)
    items = [question_widget(q, n, total, seed) for n, q in enumerate(bank.questions, start=1)]
    box = widgets.VBox(items, layout=widgets.Layout(width="100%"))
    box.add_class("fp-quiz")
    box.add_class(f"fp-quiz-{bank.lesson}")
    return box


# --------------------------------------------------------------------------- saved notebooks

WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
FALLBACK_CLASS = "fp-widget-fallback"


def _fallback_note(what: str) -> tuple[str, str]:
    """(HTML, plain text) of the note that stands in for a widget in a saved notebook."""
    first = f"Run this cell to show {what}."
    rest = (
        "Click into the cell and press Shift+Enter. Interactive widgets live in the running "
        "notebook, so a saved or reloaded notebook keeps only this note."
    )
    markup = (
        f'<div class="{FALLBACK_CLASS}" role="note" style="border-left:4px solid '
        "var(--jp-brand-color1, #1976d2);padding:2px 10px;margin:4px 0;"
        f'color:var(--jp-ui-font-color1, inherit)"><b>{html.escape(first)}</b> '
        f"{html.escape(rest)}</div>"
    )
    return markup, f"{first} {rest}"


# tqdm's notebook bar (a widget) shows its first state as text: "Loading: 0%| | 0/272 [...]"
_PROGRESS_BAR = re.compile(r"^(?P<desc>.*?):?\s*\d+%\|.*\|\s*[\d.]+[kMG]?B?/", re.DOTALL)


def _progress_bar_note(desc: str) -> tuple[str, str]:
    """(HTML, plain text) standing in for a finished tqdm bar: there is nothing to re-run for."""
    text = f"[a progress bar was shown here while the cell ran{': ' + desc if desc else ''}]"
    markup = (f'<div class="{FALLBACK_CLASS}-progress" style="color:var(--jp-ui-font-color2, '
              f'gray);font-size:90%">{html.escape(text)}</div>')
    return markup, text


def saved_output_fallback(output: Mapping[str, Any]) -> Any:
    """``output`` as a saved notebook should store it: a widget view becomes a "run me" note.

    A stored output holding a widget view (``application/vnd.jupyter.widget-view+json``) points
    at a widget model that lives only in the kernel that made it. After a reload JupyterLab
    finds no such model and prints "Error displaying widget: model not found". The returned
    output keeps the output type, execution count and metadata, but its data is a ``text/html``
    note "Run this cell to show the questions." (for a quiz; "... this widget." for others) and
    the same note as ``text/plain``; a tqdm progress bar becomes a one-line note that a bar was
    shown. Any other output is returned unchanged (the same object).
    The result has ``output``'s type (a plain ``dict`` or an ``nbformat.NotebookNode``).
    """
    data = output.get("data") if isinstance(output, Mapping) else None
    if not isinstance(data, Mapping) or WIDGET_VIEW_MIME not in data:
        return output
    plain = data.get("text/plain", "")
    plain = "".join(plain) if isinstance(plain, list) else str(plain)
    bar = _PROGRESS_BAR.match(plain.strip())
    if bar:  # its saved text is the bar at 0%, and re-running only shows progress again
        markup, text = _progress_bar_note(bar.group("desc").strip())
    else:
        what = "the questions" if "QuestionWidget(" in plain else "this widget"
        markup, text = _fallback_note(what)
    converted: dict[str, Any] = {
        key: copy.deepcopy(value) for key, value in output.items() if key != "data"
    }
    converted["data"] = {"text/html": markup, "text/plain": text}
    metadata = converted.get("metadata")
    if isinstance(metadata, dict):
        metadata.pop(WIDGET_VIEW_MIME, None)
    if type(output) is dict:
        return converted
    import nbformat

    if isinstance(output, nbformat.NotebookNode):
        return nbformat.from_dict(converted)
    return type(output)(converted)


def strip_widget_views(notebook: MutableMapping[str, Any]) -> int:
    """Replace every widget view stored in a notebook (a JSON dict) by its fallback, in place.

    Saved widget state (``metadata.widgets``) goes too: it only serves those views. Returns how
    many outputs were replaced. This is what the course's Jupyter server runs before each save.
    """
    replaced = 0
    for cell in notebook.get("cells") or ():
        if not isinstance(cell, MutableMapping) or cell.get("cell_type") != "code":
            continue
        outputs = cell.get("outputs") or []
        converted = [saved_output_fallback(output) for output in outputs]
        changed = sum(a is not b for a, b in zip(outputs, converted, strict=True))
        if changed:
            cell["outputs"] = converted
            replaced += changed
    metadata = notebook.get("metadata")
    if isinstance(metadata, MutableMapping) and isinstance(metadata.get("widgets"), Mapping):
        metadata.pop("widgets")
    return replaced


def pre_save_hook(model: MutableMapping[str, Any], **_: Any) -> None:
    """A Jupyter ``ContentsManager.pre_save_hook``: notebooks are saved without widget views.

    The server calls it with ``model`` (the contents model about to be written), ``path`` and
    ``contents_manager``; only notebook models are changed. The browser keeps showing the live
    widgets: the server changes only what goes to disk.
    """
    if model.get("type") == "notebook" and isinstance(model.get("content"), MutableMapping):
        strip_widget_views(model["content"])
