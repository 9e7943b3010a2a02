"""Quiz widgets in a real JupyterLab: the checks catch a broken widget, and a saved quiz
survives a page reload.

The first test runs the same browser flow on the real widget and on a copy whose wrong option
explains something else, proving that the lesson tests' feedback assertions can fail. The
reload tests save a quiz through the course's Jupyter server (its pre-save hook stores a "Run
this cell to show the questions" note instead of the widget view), reload the page, and find
the note instead of "Error displaying widget"; a control notebook that kept its widget view
shows that error. They run on small notebooks written into the server's copy of the course.
"""

from __future__ import annotations

import json

import nbformat
import pytest
from course_server import LabServer
from lab_driver import _PANEL_JS, WIDGET_VIEW, LabNotebook, expect
from nbformat.sign import NotebookNotary
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


def test_feedback_check_fails_on_a_broken_widget(page, lab_server: LabServer,
                                                 artifacts_dir):
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
    open_box = question_box(page, open_question)
    assert_open_hint(open_box, open_question)
    open_box.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "quiz-open-question-answer.png"))

    # the answers went to the progress file of this test server, nowhere real
    progress = json.loads((lab_server.home / "progress.json").read_text())
    assert choice.id in json.dumps(progress["lessons"]["01"])


# --------------------------------------------------------------------------- save and reload

WIDGET_ERROR = "Error displaying widget"
FALLBACK = "Run this cell to show the questions"
RELOAD_TIMEOUT_MS = 45_000


def _write_notebook(server: LabServer, relative: str, *sources: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    path = server.root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


def _save(notebook: LabNotebook) -> None:
    """Save as JupyterLab's File > Save does (the server's pre-save hook runs)."""
    notebook.page.evaluate(
        f"""async (path) => {{ {_PANEL_JS}
          const panel = panelOf(path);
          await panel.context.save();
          if (panel.context.model.dirty) {{ throw new Error('still unsaved after save'); }}
        }}""",
        notebook.path,
    )


def _reload(notebook: LabNotebook) -> None:
    """Reload the browser page and wait until the notebook is back and its kernel idle."""
    page = notebook.page
    page.reload(timeout=RELOAD_TIMEOUT_MS)
    page.wait_for_function(
        f"""(path) => {{ {_PANEL_JS}
          const panel = window.jupyterapp && panelOf(path);
          return panel && panel.context.isReady && panel.content.widgets.length > 0;
        }}""",
        arg=notebook.path, timeout=RELOAD_TIMEOUT_MS,
    )
    notebook.wait_kernel_idle()


def _outputs_on_disk(server: LabServer, relative: str) -> list[dict]:
    """The outputs the file holds, as nbformat reads them (multi-line texts joined)."""
    stored = nbformat.read(server.root / relative, as_version=4)
    return [output for cell in stored.cells for output in cell.get("outputs", [])]


def test_a_saved_quiz_shows_a_run_this_cell_note_after_a_reload(page, lab_server: LabServer,
                                                                 artifacts_dir):
    """Run a quiz, save, reload: never "Error displaying widget"; the note, then live again."""
    relative = "harness/quiz_reload.ipynb"
    _write_notebook(lab_server, relative, "import helpers", "helpers.quiz('00')")
    question = load_bank("00").questions[0]
    notebook = LabNotebook.open(page, lab_server, relative)
    cells = notebook.run_all(timeout_ms=60_000)
    assert all(c.execution_count for c in cells), cells
    question_box(page, question)

    _save(notebook)
    stored = _outputs_on_disk(lab_server, relative)
    assert stored, "the saved notebook has no outputs"
    assert not any(WIDGET_VIEW in output.get("data", {}) for output in stored), stored
    assert any(FALLBACK in output.get("data", {}).get("text/plain", "") for output in stored)

    # the save changed the file only: the page still shows working questions
    assert_choice_feedback(question_box(page, question), question)
    page.screenshot(path=str(artifacts_dir / "quiz-live-after-save.png"))

    _reload(notebook)
    cell = notebook.cell(1)
    note = cell.locator(".jp-OutputArea-output", has_text=FALLBACK)
    expect(note).to_be_visible(timeout=RELOAD_TIMEOUT_MS)
    page.wait_for_timeout(3_000)  # the widget manager reports a missing model after ~2 s
    texts = notebook.output_texts(widgets=True)
    assert not any(WIDGET_ERROR in text for text in texts), texts
    assert page.get_by_text(WIDGET_ERROR).count() == 0
    note.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "quiz-after-reload.png"))

    # running the cell again brings the questions back, working
    notebook.run_cell(1)
    assert_choice_feedback(question_box(page, question), question)
    assert page.get_by_text(WIDGET_ERROR).count() == 0


def test_a_notebook_saved_with_a_widget_view_would_show_the_error(page, lab_server: LabServer):
    """The control: a file that kept its widget view (written around the server, so no hook)
    shows "Error displaying widget", so the reload test above can see that error."""
    relative = "harness/dangling_view.ipynb"
    _write_notebook(lab_server, relative, "import helpers\nhelpers.quiz('00')")
    path = lab_server.root / relative
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[0].outputs = [nbformat.v4.new_output(
        "display_data",
        data={WIDGET_VIEW: {"model_id": "0" * 32, "version_major": 2, "version_minor": 0},
              "text/plain": "VBox(children=(ChoiceQuestionWidget(...),))"},
    )]
    # trusted, as the server makes every notebook it saves (an untrusted one shows text/plain)
    NotebookNotary(data_dir=str(lab_server.home / "jupyter-data")).sign(notebook)
    nbformat.write(notebook, path)
    opened = LabNotebook.open(page, lab_server, relative)
    expect(opened.cell(0).get_by_text(WIDGET_ERROR)).to_be_visible(timeout=RELOAD_TIMEOUT_MS)


def test_the_file_browser_hides_egg_info(lab_server: LabServer):
    (lab_server.root / "from_pretrained.egg-info").mkdir(exist_ok=True)
    listed = {entry["name"] for entry in lab_server.api("/api/contents")["content"]}
    assert "from_pretrained.egg-info" not in listed
    assert "notebooks" in listed
