"""Fixtures for the browser tests: a JupyterLab server on a copy of the course, and Chromium.

See course_server.py for how the server is isolated. Without Chromium the browser tests skip,
except under ``CI=true``, where they fail: CI must not pass without running them.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from course_server import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    REPO,
    VIEWPORT,
    LabServer,
    browser_unavailable,
    copy_course,
    find_chromium,
    start_lab_server,
    stop_lab_server,
)
from lab_driver import close_page


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """JupyterLab on a copy of the course, with the course's config (one per xdist worker)."""
    if not (REPO / "notebooks").is_dir():
        pytest.fail("notebooks/ is missing: nothing to serve", pytrace=False)
    base = tmp_path_factory.mktemp("jupyterlab")
    server = start_lab_server(copy_course(base / "course"), base / "home")
    yield server
    killed = stop_lab_server(server)
    if killed:
        warnings.warn(f"JupyterLab left processes behind that had to be killed: {killed}",
                      stacklevel=1)


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """Path of Debian's Chromium; skips (or fails under CI=true) when it is missing."""
    path = find_chromium()
    if path is None:
        browser_unavailable("Chromium is not installed")
    return path


@pytest.fixture(scope="session")
def browser(chromium_executable: str) -> Iterator[Any]:
    """A headless Chromium driven by Playwright (its own browser downloads are never used)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        browser_unavailable("Playwright for Python is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_executable, args=CHROMIUM_ARGS, headless=True,
            timeout=30_000,
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser page (own context: own cookies and storage) for one test.

    Closed after the test's report is made, so a failing test's page is screenshotted first;
    the kernels of the notebooks it opened are shut down with it.
    """
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    yield page
    close_page(page)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where screenshots go for a person to look at (``test-artifacts/`` is gitignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[Any]:
    """When a browser test fails, screenshot every open notebook page for a person to look at."""
    report = yield
    if report.failed and item.get_closest_marker("browser") is not None:
        try:
            from lab_driver import open_notebooks

            folder = ARTIFACTS / "failures"
            for number, notebook in enumerate(open_notebooks()):
                folder.mkdir(parents=True, exist_ok=True)
                name = f"{item.name}-{number}.png".replace("/", "_")
                notebook.page.screenshot(path=str(folder / name), timeout=10_000)
                report.sections.append(("browser", f"screenshot: {folder / name}"))
        except Exception as exc:  # a failed screenshot must not hide the test's own failure
            report.sections.append(("browser", f"no screenshot: {exc!r}"))
    return report
