"""Lesson 00 in a real browser, reached the way a learner reaches it: JupyterLab's start page.

`make lab` opens the server's default URL; the course config points it at lesson 00, whose
first cell prints the versions, the hardware and the course model. Run All must reach the end
without an error, and the quiz widgets must render.
"""

from __future__ import annotations

from importlib.metadata import version

import nbformat
import pytest
from course_server import LabServer
from lab_driver import LabNotebook, expect
from lessons import require

from helpers.hub import DEFAULT_MODEL

pytestmark = pytest.mark.browser

LESSON = "notebooks/00_start_here.ipynb"


def test_start_page_opens_lesson_00_and_it_runs_clean(page, lab_server: LabServer):
    source = nbformat.read(require(LESSON), as_version=4)
    # the learner's way in: the server root, which the course config sends to lesson 00
    notebook = LabNotebook.open(page, lab_server, LESSON,
                                url=f"{lab_server.url}/?token={lab_server.token}")
    cells = notebook.run_all()
    errors = [f"cell {c.index}: {e}" for c in cells for e in c.errors]
    assert errors == [], "cells raised (an error on purpose belongs in helpers.expect_error)"
    not_run = [c.index for c in cells if c.type == "code" and c.execution_count is None]
    assert not_run == [], f"Run All stopped before cells {not_run}"
    assert notebook.rendered_errors() == []

    outputs = "\n".join(notebook.output_texts())
    expected = [version("transformers"), version("torch"), DEFAULT_MODEL["base"]]
    missing = [text for text in expected if text not in outputs]
    assert missing == [], f"lesson 00's outputs do not show {missing}"

    # JupyterLab's stock settings ask about "official Jupyter news" in a toast within
    # seconds of loading; the course's overrides.json turns that off
    news = page.locator(".Toastify__toast", has_text="Jupyter news")
    assert news.count() == 0, "the Jupyter news toast is showing: overrides.json not applied"
    if any("quiz(" in cell.source for cell in source.cells):
        expect(page.locator(".fp-quiz").first).to_be_visible(timeout=15_000)
