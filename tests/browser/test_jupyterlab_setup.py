"""The course's JupyterLab config works, and the browser harness can see a failing notebook.

The config checks talk to the server over HTTP only, so they run even without Chromium.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from course_server import REPO, LabServer
from lessons import require

COURSE_SETTINGS = REPO / ".jupyter" / "lab" / "settings" / "overrides.json"


def test_default_url_opens_lesson_00(lab_server: LabServer):
    """`make lab` lands on lesson 00: the course config sets JupyterLab's default URL."""
    lesson = require("notebooks/00_start_here.ipynb").name
    status, headers, _ = lab_server.get("/", follow_redirects=False)
    assert status == 302, f"/ answered {status}, not a redirect"
    location = headers.get("Location", "")
    assert location.split("?")[0].endswith(f"/lab/tree/notebooks/{lesson}"), (
        f"/ redirects to {location!r}, not to lesson 00"
    )


def test_course_settings_are_jupyterlabs_defaults(lab_server: LabServer):
    """Every value in the course's overrides.json is the default JupyterLab now reports."""
    overrides = json.loads(COURSE_SETTINGS.read_text())
    # the two settings learners would notice: no news toast stealing clicks, no widget state
    # written into the notebooks
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    assert overrides["@jupyter-widgets/jupyterlab-manager:plugin"]["saveState"] is False
    for plugin, values in overrides.items():
        schema = lab_server.api(f"/lab/api/settings/{plugin}")["schema"]
        for key, value in values.items():
            assert schema["properties"][key].get("default") == value, (
                f"{plugin}:{key} defaults to {schema['properties'][key].get('default')!r} "
                f"in the running JupyterLab, not the course's {value!r}"
            )


def _deliberately_failing_notebook(path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("import torch\nprint(torch.zeros(1).dtype)"),
        nbformat.v4.new_code_cell("raise ValueError('broken on purpose')"),
        nbformat.v4.new_code_cell("print('never reached')"),
    ]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


@pytest.mark.browser
def test_harness_sees_a_traceback(page, lab_server: LabServer):
    """The error scan is not vacuous: a cell that raises is found, and Run All stops there."""
    from lab_driver import LabNotebook

    _deliberately_failing_notebook(lab_server.root / "harness" / "fails.ipynb")
    notebook = LabNotebook.open(page, lab_server, "harness/fails.ipynb")
    cells = notebook.run_all(timeout_ms=60_000)
    assert "torch.float32" in notebook.output_texts()[0]
    assert cells[1].errors == ("ValueError: broken on purpose",)
    assert cells[2].execution_count is None, "Run All went on after an error"
    rendered = notebook.rendered_errors()
    assert len(rendered) == 1 and rendered[0].startswith("cell 1:"), rendered
    assert "ValueError" in rendered[0] and "broken on purpose" in rendered[0]
