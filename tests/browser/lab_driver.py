"""Driving one notebook in JupyterLab through Playwright: open, run, read outputs, edit, click.

Progress is read from JupyterLab's own models through ``window.jupyterapp`` (the server runs with
``--LabApp.expose_app_in_browser``); what the learner sees is read from the DOM. Every wait has a
timeout, so a broken lesson fails in seconds instead of hanging the suite.
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:  # collecting the tests needs no Playwright; the browser fixture reports it
    from course_server import LabServer
    from playwright.sync_api import Locator, LocatorAssertions, Page

KERNEL_READY_TIMEOUT_MS = 45_000
RUN_ALL_TIMEOUT_MS = 120_000  # lesson 01 takes ~15 s here; a hang fails in 2 minutes
CELL_TIMEOUT_MS = 60_000
SHUTDOWN_TIMEOUT_MS = 10_000
STDERR = "application/vnd.jupyter.stderr"

# Finds the notebook panel of a path among the main-area widgets (not just the current one).
_PANEL_JS = """
const panelOf = (path) => {
  for (const w of window.jupyterapp.shell.widgets('main')) {
    if (w.context && w.context.path === path && w.content && w.content.model) { return w; }
  }
  return null;
};
"""
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_workspaces = itertools.count()
_open_notebooks: list[LabNotebook] = []


def expect(locator: Locator) -> LocatorAssertions:
    """Playwright's ``expect`` (retrying assertions), imported only when a test runs."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def open_notebooks() -> list[LabNotebook]:
    """Notebooks whose page is still open (conftest screenshots them when a test fails)."""
    return [nb for nb in _open_notebooks if not nb.page.is_closed()]


def close_page(page: Page) -> None:
    """Shut down the kernels of the notebooks opened on ``page``, then close its context."""
    try:
        for notebook in [nb for nb in _open_notebooks if nb.page is page]:
            _open_notebooks.remove(notebook)
            notebook.shutdown_kernel()
    finally:
        page.context.close()


@dataclass(frozen=True)
class CellState:
    """What JupyterLab's model says about one cell after a run."""

    index: int
    type: str
    source: str
    execution_count: int | None
    errors: tuple[str, ...]  # "Name: value" of every error output


class LabNotebook:
    """One notebook open in JupyterLab, in its own workspace (so tabs of other tests stay shut)."""

    def __init__(self, page: Page, path: str) -> None:
        self.page = page
        self.path = path

    # ---- opening and the kernel -------------------------------------------------------------
    @classmethod
    def open(cls, page: Page, server: LabServer, path: str, url: str | None = None) -> LabNotebook:
        """Open ``path`` and wait until its kernel reports Idle.

        By default in a workspace of its own, so that no other test's tabs (and kernels) come
        back; ``url`` opens another address that should land on ``path`` (e.g. ``/``).
        """
        if url is None:
            workspace = f"test-{next(_workspaces)}-{secrets.token_hex(3)}"
            url = f"{server.url}/lab/workspaces/{workspace}/tree/{quote(path)}?token={server.token}"
        page.goto(url, timeout=KERNEL_READY_TIMEOUT_MS)
        notebook = cls(page, path)
        _open_notebooks.append(notebook)
        page.wait_for_function(
            f"(path) => {{ {_PANEL_JS} return window.jupyterapp && panelOf(path) !== null; }}",
            arg=path, timeout=KERNEL_READY_TIMEOUT_MS,
        )
        notebook.wait_kernel_idle()
        return notebook

    def wait_kernel_idle(self, timeout_ms: int = KERNEL_READY_TIMEOUT_MS) -> None:
        """Wait for the status bar's *kernel* status to read Idle.

        The execution indicator also says idle, but before the kernel has even connected; the
        kernel status item reads "Python 3 (ipykernel) | Idle" only once it has.
        """
        self.page.wait_for_function(
            """() => {
              const bar = document.querySelector('#jp-main-statusbar');
              return bar !== null && /\\|\\s*Idle$/m.test(bar.innerText);
            }""",
            timeout=timeout_ms,
        )

    def shutdown_kernel(self) -> None:
        """Shut this notebook's kernel down, so that no kernel outlives its test."""
        self.page.evaluate(
            f"""async ([path, timeoutMs]) => {{ {_PANEL_JS}
              const panel = panelOf(path);
              if (!panel) {{ return; }}
              const timer = new Promise((resolve) => setTimeout(resolve, timeoutMs));
              await Promise.race([panel.sessionContext.shutdown(), timer]);
            }}""",
            [self.path, SHUTDOWN_TIMEOUT_MS],
        )

    # ---- running ----------------------------------------------------------------------------
    def run_all(self, timeout_ms: int = RUN_ALL_TIMEOUT_MS) -> list[CellState]:
        """Run All Cells, as the Run menu does; returns every cell's state once it is done.

        ``notebook:run-all-cells`` resolves when the last cell has run, or when one fails (Run
        All then stops, like in the menu); the race with a timer bounds it.
        """
        started = time.monotonic()
        self.page.evaluate(
            f"""async ([path, timeoutMs]) => {{ {_PANEL_JS}
              const app = window.jupyterapp;
              app.shell.activateById(panelOf(path).id);
              const timer = new Promise((_, reject) => setTimeout(
                () => reject(new Error(`Run All did not finish within ${{timeoutMs}} ms`)),
                timeoutMs));
              return await Promise.race([app.commands.execute('notebook:run-all-cells'), timer]);
            }}""",
            [self.path, timeout_ms],
        )
        remaining = max(1_000, timeout_ms - int((time.monotonic() - started) * 1000))
        self.wait_kernel_idle(remaining)
        return self.cells()

    def run_cell(self, index: int, timeout_ms: int = CELL_TIMEOUT_MS) -> CellState:
        """Select cell ``index`` and run it (Run > Run Selected Cell); returns its new state."""
        self.page.evaluate(
            f"""async ([path, index, timeoutMs]) => {{ {_PANEL_JS}
              const app = window.jupyterapp;
              const panel = panelOf(path);
              app.shell.activateById(panel.id);
              panel.content.activeCellIndex = index;
              panel.content.deselectAll();
              const timer = new Promise((_, reject) => setTimeout(
                () => reject(new Error(`cell ${{index}} did not finish within ${{timeoutMs}} ms`)),
                timeoutMs));
              return await Promise.race([app.commands.execute('notebook:run-cell'), timer]);
            }}""",
            [self.path, index, timeout_ms],
        )
        self.wait_kernel_idle(timeout_ms)
        return self.cells()[index]

    def run_cell_with_keyboard(self, index: int, timeout_ms: int = CELL_TIMEOUT_MS) -> CellState:
        """Run cell ``index`` the way a learner does: click into it, press Shift+Enter."""
        before = self.cells()[index].execution_count
        self.editor(index).click()
        self.page.keyboard.press("Shift+Enter")
        self.page.wait_for_function(
            f"""([path, index, before]) => {{ {_PANEL_JS}
              const cell = panelOf(path).content.model.cells.get(index);
              return cell.executionCount !== null && cell.executionCount !== before;
            }}""",
            arg=[self.path, index, before], timeout=timeout_ms,
        )
        self.wait_kernel_idle(timeout_ms)
        return self.cells()[index]

    # ---- reading ----------------------------------------------------------------------------
    def cells(self) -> list[CellState]:
        """Every cell as JupyterLab's notebook model holds it right now."""
        raw = self.page.evaluate(
            f"""(path) => {{ {_PANEL_JS}
              const cells = panelOf(path).content.model.cells;
              const out = [];
              for (let i = 0; i < cells.length; i++) {{
                const cell = cells.get(i);
                const errors = [];
                if (cell.type === 'code') {{
                  for (let j = 0; j < cell.outputs.length; j++) {{
                    const o = cell.outputs.get(j).toJSON();
                    if (o.output_type === 'error') {{ errors.push(`${{o.ename}}: ${{o.evalue}}`); }}
                  }}
                }}
                out.push({{type: cell.type, source: cell.sharedModel.getSource(),
                           count: cell.type === 'code' ? cell.executionCount : null, errors}});
              }}
              return out;
            }}""",
            self.path,
        )
        return [
            CellState(i, c["type"], c["source"], c["count"], tuple(c["errors"]))
            for i, c in enumerate(raw)
        ]

    def output_texts(self, widgets: bool = False) -> list[str]:
        """The rendered text of each cell's outputs, as in the page ('' for markdown).

        Widget views are left out unless ``widgets``: a quiz's prompt naming a class or a dtype
        must not count as the lesson having printed it.
        """
        return self.page.evaluate(
            f"""([path, widgets]) => {{ {_PANEL_JS}
              return panelOf(path).content.widgets.map((cell) => {{
                if (!cell.outputArea) {{ return ''; }}
                const outputs = cell.outputArea.node.querySelectorAll('.jp-OutputArea-output');
                return Array.from(outputs)
                  .filter((o) => widgets || o.getAttribute('data-mime-type') !== '{WIDGET_VIEW}')
                  .map((o) => o.textContent).join('\\n');
              }});
            }}""",
            [self.path, widgets],
        )

    def rendered_errors(self) -> list[str]:
        """Error outputs as rendered: tracebacks on stderr and any error-mimetype output.

        Errors a lesson raises on purpose go through ``helpers.expect_error``, which catches
        them and shows a diagnosis instead, so a correct lesson renders none of these.
        """
        return self.page.evaluate(
            f"""(path) => {{ {_PANEL_JS}
              const found = [];
              panelOf(path).content.widgets.forEach((cell, i) => {{
                const nodes = cell.node.querySelectorAll(
                  '.jp-OutputArea-output[data-mime-type="{STDERR}"],' +
                  ' .jp-RenderedText[data-mime-type*="error"]');
                for (const node of nodes) {{
                  const text = node.textContent;
                  const isError = (node.getAttribute('data-mime-type') || '').includes('error');
                  if (isError || text.includes('Traceback')) {{
                    found.push(`cell ${{i}}: ${{text.slice(0, 2000)}}`);
                  }}
                }}
              }});
              return found;
            }}""",
            self.path,
        )

    def cell(self, index: int) -> Locator:
        """The DOM node of cell ``index`` (scrolled into view, since cells render lazily)."""
        panel_id = self.page.evaluate(
            f"(path) => {{ {_PANEL_JS} return panelOf(path).id; }}", self.path)
        locator = self.page.locator(
            f'#{panel_id} .jp-Notebook-cell[data-windowed-list-index="{index}"]')
        locator.scroll_into_view_if_needed()
        return locator

    def editor(self, index: int) -> Locator:
        """The CodeMirror editing surface of cell ``index``."""
        return self.cell(index).locator(".cm-content")

    # ---- editing ----------------------------------------------------------------------------
    def replace_cell_source(self, index: int, code: str) -> None:
        """Replace cell ``index``'s code as a learner would: click, select all, type the code.

        ``insert_text`` types the text as one input (like a paste), so CodeMirror's auto-indent
        and bracket closing cannot change it; the model's source is compared afterwards.
        """
        self.editor(index).click()
        self.page.keyboard.press("ControlOrMeta+a")
        self.page.keyboard.insert_text(code)
        self.page.wait_for_function(
            f"""([path, index, code]) => {{ {_PANEL_JS}
              return panelOf(path).content.model.cells.get(index).sharedModel.getSource() === code;
            }}""",
            arg=[self.path, index, code], timeout=10_000,
        )

