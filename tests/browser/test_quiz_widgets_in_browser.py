"""The quiz checks catch a broken widget: the same browser flow passes on the real widget and
fails on a copy whose wrong option explains something else.

This runs on a small notebook written into the server's copy of the course, so it needs no
lesson and proves that the lesson tests' feedback assertions can fail.
"""

from __future__ import annotations

import json

import nbformat
import pytest
from course_server import LabServer
from lab_driver import LabNotebook
from quiz_checks import assert_choice_feedback, assert_open_hint, question_box

from helpers.quizzes import load_bank

pytestmark = pytest.mark.browser

BROKEN_EXPLANATION = "This explanation belongs to no option of the question."


def _quiz_notebook(choice_id: str, open_id: str) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "import dataclasses\nimport helpers\nfrom helpers.quizzes import load_bank\n"
            "from helpers.widgets import question_widget"
        ),
        nbformat.v4.new_code_cell(f"helpers.quiz('01', {choice_id!r})"),
        nbformat.v4.new_code_cell(
            f"question = load_bank('01').question({choice_id!r})\n"
            "wrong = next(o for o in question.options if not o.correct)\n"
            f"broken_explanation = {BROKEN_EXPLANATION!r}\n"
            "options = tuple(dataclasses.replace(o, explanation=broken_explanation)\n"
            "                if o is wrong else o for o in question.options)\n"
            "broken = question_widget(dataclasses.replace(question, options=options))\n"
            "broken.add_class('fp-broken')\n"
            "broken"
        ),
        nbformat.v4.new_code_cell(f"helpers.quiz('01', {open_id!r})"),
    ]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    return notebook


def test_feedback_check_fails_on_a_broken_widget(page, lab_server: LabServer):
    bank = load_bank("01")
    choice = next(q for q in bank.questions if q.kind == "choice")
    open_question = next(q for q in bank.questions if q.kind == "open")
    path = lab_server.root / "harness" / "quiz_widgets.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(_quiz_notebook(choice.id, open_question.id), path)

    notebook = LabNotebook.open(page, lab_server, "harness/quiz_widgets.ipynb")
    cells = notebook.run_all(timeout_ms=60_000)
    assert all(c.execution_count for c in cells if c.type == "code"), cells
    assert notebook.rendered_errors() == []

    assert_choice_feedback(question_box(page, choice, ":not(.fp-broken)"), choice)
    with pytest.raises(AssertionError, match="bank's explanation of that option"):
        assert_choice_feedback(question_box(page, choice, ".fp-broken"), choice)
    assert_open_hint(question_box(page, open_question), open_question)

    # the answers went to the progress file of this test server, nowhere real
    progress = json.loads((lab_server.home / "progress.json").read_text())
    assert choice.id in json.dumps(progress["lessons"]["01"])
