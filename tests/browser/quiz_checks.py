"""Answering the course's quiz widgets in the browser, and checking what they say.

The expected texts come from the quiz bank (``helpers.quizzes.load_bank``), never from this
file: a question whose widget shows another option's explanation, or a stale text, fails.
Texts are compared without whitespace, since the bank is Markdown and the page is its HTML.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING

import mistune
from lab_driver import expect

from helpers.quizzes import Option, Question

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

FEEDBACK_TIMEOUT_MS = 15_000


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def bank_text(markdown: str) -> str:
    """The text a reader sees for a Markdown bank entry: rendered by mistune, tags removed."""
    parser = _TextOnly()
    parser.feed(mistune.html(markdown))
    return html.unescape("".join(parser.parts))


def squash(text: str) -> str:
    """``text`` without any whitespace, for comparing rendered HTML with its source."""
    return re.sub(r"\s+", "", text)


def option_label(option: Option) -> str:
    """The radio label of an option: its text with Markdown backticks removed."""
    return re.sub(r"`([^`]*)`", r"\1", option.text)


def question_box(page: Page, question: Question, extra_selector: str = "") -> Locator:
    """The widget of ``question`` on the page (CSS class ``fp-q-<lesson>-<id>``), in view."""
    box = page.locator(f".fp-q-{question.lesson}-{question.id}{extra_selector}").first
    box.scroll_into_view_if_needed(timeout=FEEDBACK_TIMEOUT_MS)
    expect(box).to_be_visible(timeout=FEEDBACK_TIMEOUT_MS)
    return box


def pick_and_check(box: Locator, option: Option) -> str:
    """Select ``option``'s radio button, press Check, and return the feedback text shown."""
    box.get_by_role("radio", name=option_label(option), exact=True).check()
    feedback = box.locator(".fp-feedback")
    expect(feedback).to_have_text(re.compile(r"^\s*$"), timeout=FEEDBACK_TIMEOUT_MS)
    box.locator(".fp-check").click()
    verdict = "Correct!" if option.correct else "Not quite."
    expect(feedback).to_contain_text(verdict, timeout=FEEDBACK_TIMEOUT_MS)
    return feedback.text_content() or ""


def assert_choice_feedback(box: Locator, question: Question) -> None:
    """A wrong answer shows *that* option's explanation; the right one then shows success."""
    wrong = next(o for o in question.options if not o.correct)
    right = next(o for o in question.options if o.correct)
    shown = pick_and_check(box, wrong)
    assert squash(bank_text(wrong.explanation)) in squash(shown), (
        f"{question.key}: after picking the wrong option {wrong.text!r} the widget says\n"
        f"  {shown.strip()!r}\nbut the bank's explanation of that option is\n"
        f"  {bank_text(wrong.explanation)!r}"
    )
    shown = pick_and_check(box, right)
    assert squash(bank_text(right.explanation)) in squash(shown), (
        f"{question.key}: after picking the right option the widget says {shown.strip()!r}, "
        f"not the bank's explanation {bank_text(right.explanation)!r}"
    )


def assert_open_hint(box: Locator, question: Question) -> None:
    """An open question's button shows the hint first, and the bank's model answer second."""
    hint = box.locator(".fp-hint")
    answer = box.locator(".fp-model-answer")
    button = box.locator(".fp-hint-button")
    expect(hint).to_have_text(re.compile(r"^\s*$"), timeout=FEEDBACK_TIMEOUT_MS)
    expect(answer).to_have_text(re.compile(r"^\s*$"), timeout=FEEDBACK_TIMEOUT_MS)
    assert question.answer is not None
    if question.hint:
        expect(button).to_have_text("Show answer hint", timeout=FEEDBACK_TIMEOUT_MS)
        button.click()
        expect(hint).to_contain_text("Hint", timeout=FEEDBACK_TIMEOUT_MS)
        shown = hint.text_content() or ""
        assert squash(bank_text(question.hint)) in squash(shown), (
            f"{question.key}: the hint shows {shown.strip()[:400]!r}, "
            f"which lacks the bank's hint {bank_text(question.hint)[:400]!r}"
        )
        expect(answer).to_have_text(re.compile(r"^\s*$"), timeout=FEEDBACK_TIMEOUT_MS)
    expect(button).to_have_text("Show model answer", timeout=FEEDBACK_TIMEOUT_MS)
    button.click()
    expect(answer).to_contain_text("A good answer", timeout=FEEDBACK_TIMEOUT_MS)
    shown = answer.text_content() or ""
    assert squash(bank_text(question.answer)) in squash(shown), (
        f"{question.key}: the model answer shows {shown.strip()[:400]!r}, "
        f"which lacks the bank's answer {bank_text(question.answer)[:400]!r}"
    )
    expect(button).to_have_text("Hide hint and answer", timeout=FEEDBACK_TIMEOUT_MS)
