"""``python -m helpers site``: the static site of the lessons, built with the network off, checked
as files and then in Chromium with every request other than file:// refused.

The site is built once per module (about 10 s) from the real solutions/.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from helpers.course import lessons
from helpers.quizzes import load_bank
from helpers.site import (
    Site,
    SiteError,
    build_site,
    cli,
    page_name,
    quiz_calls,
    rewrite_links,
    staticize,
)
from helpers.widgets import WIDGET_VIEW_MIME

REPO = Path(__file__).resolve().parents[1]
PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@contextlib.contextmanager
def network_refused() -> Iterator[list[Any]]:
    """No proxies, and every socket connection or name lookup refused and recorded."""
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise OSError("the network is off in this test")

    with pytest.MonkeyPatch.context() as patch:
        for name in PROXIES:
            patch.delenv(name, raising=False)
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket, "create_connection", refuse)
        patch.setattr(socket, "getaddrinfo", refuse)
        yield attempts


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Site, list[Any]]:
    """The site of the real lessons, and the network attempts made while building it."""
    out = tmp_path_factory.mktemp("site") / "site"
    with network_refused() as attempts:
        site = build_site(out)
    return site, attempts


@pytest.fixture(scope="module")
def pages(built) -> dict[str, str]:
    """{file name: HTML} of every page written."""
    site, _ = built
    return {p.name: p.read_text(encoding="utf-8") for p in site.out.glob("*.html")}


def test_builds_every_lesson_without_the_network(built, pages):
    site, attempts = built
    assert attempts == []
    expected = {page_name(lesson) for lesson in lessons()}
    assert len(expected) >= 9
    assert set(pages) == expected | {"index.html"}
    assert {p.name for p in site.pages} == expected


def test_pages_fetch_nothing_and_show_no_widget_errors(pages):
    for name, markup in pages.items():
        assert "Error displaying widget" not in markup, name
        assert "Run this cell to show" not in markup, name
        assert WIDGET_VIEW_MIME not in markup, name
        assert not re.search(r"<script[^>]+src=[\"']?(https?:)?//", markup), name
        assert not re.search(r"<link[^>]+href=[\"']?(https?:)?//", markup), name
        assert not re.search(r"import\(\s*[\"']https?:", markup), name


def test_index_lists_the_lessons_by_their_titles(pages):
    index = pages["index.html"]
    links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', index)
    assert links == [(page_name(lesson), lesson.title.replace("&", "&amp;"))
                     for lesson in lessons()]


def test_navigation_and_lesson_links_point_at_the_pages(pages):
    course = lessons()
    for number, lesson in enumerate(course):
        markup = pages[page_name(lesson)]
        assert markup.count('href="index.html"') == 2  # top and bottom
        rel = {}
        for tag in re.findall(r"<a [^>]*\brel=\"(?:prev|next)\"[^>]*>", markup):
            rel[re.search(r'rel="(\w+)"', tag).group(1)] = re.search(r'href="([^"]+)"', tag)[1]
        if number:
            assert rel["prev"] == page_name(course[number - 1])
        if number + 1 < len(course):
            assert rel["next"] == page_name(course[number + 1])
        assert not re.search(r'href="[^"]*\.ipynb', markup), lesson.number
    for later in course[1:]:  # lesson 00's table of contents links every lesson
        assert f'href="{page_name(later)}"' in pages[page_name(course[0])]


def test_every_quiz_cell_shows_its_bank_questions_statically(built, pages):
    site, _ = built
    shown = 0
    for lesson in lessons():
        notebook = nbformat.read(lesson.solution, as_version=4)
        calls = [call for cell in notebook.cells if cell.cell_type == "code"
                 for call in quiz_calls(cell.source, lesson.number)]
        markup = pages[page_name(lesson)]
        for quiz_lesson, question_id in calls:
            bank = load_bank(quiz_lesson)
            for question in bank.questions:
                if question_id in (None, question.id):
                    assert f"fp-q-{bank.lesson}-{question.id}" in markup
        shown += bool(calls)
    assert shown >= 9 and site.quizzes >= shown
    # lesson 01's first question: prompt, options, and the answer inside <details>
    question = load_bank("01").questions[0]
    block = pages[page_name(lessons()[1])].split(f"fp-q-01-{question.id}", 1)[1]
    block = block.split('class="fp-static-question', 1)[0]
    answer = block.split('<details class="fp-static-answer">', 1)[1].split("</details>", 1)[0]
    correct = question.options[question.correct_indices[0]]
    assert "(correct)." in answer and correct.explanation.split()[-1] in answer
    assert block.count("<li>") == len(question.options)


def test_other_widgets_get_a_static_note(built, pages):
    site, _ = built
    stored = sum("".join(output.get("data", {}).get("text/plain", "")).startswith(
                     "Run this cell to show this widget")
                 for lesson in lessons()
                 for cell in nbformat.read(lesson.solution, as_version=4).cells
                 for output in cell.get("outputs", []))
    notes = sum(markup.count('class="fp-static-widget"') for markup in pages.values())
    assert notes == stored == site.widgets and stored >= 3
    assert "The generation playground is interactive in JupyterLab" in pages["03_generating.html"]
    assert "The token inspector is interactive in JupyterLab" in pages["02_tokenizers.html"]


def test_staticize_replaces_live_widget_views_too():
    view = {"output_type": "display_data", "metadata": {},
            "data": {WIDGET_VIEW_MIME: {"model_id": "abc", "version_major": 2,
                                        "version_minor": 0},
                     "text/plain": "VBox(children=(ChoiceQuestionWidget(...),))"}}
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('helpers.quiz("01", "default-dtype")', outputs=[view]),
        nbformat.v4.new_code_cell("pg = helpers.playground(model, tokenizer)\npg",
                                  outputs=[view, {"output_type": "stream", "name": "stdout",
                                                  "text": "kept\n"}]),
        nbformat.v4.new_code_cell("print(1)", outputs=[{"output_type": "stream",
                                                        "name": "stdout", "text": "1\n"}]),
    ])
    notebook.metadata["widgets"] = {"state": {}}
    notebook = nbformat.from_dict(json.loads(json.dumps(notebook)))
    assert staticize(notebook, "01") == (1, 1)
    quiz, widget, plain = (cell.outputs for cell in notebook.cells)
    assert len(quiz) == 1 and "fp-q-01-default-dtype" in quiz[0].data["text/html"]
    assert "Question 1 of" not in quiz[0].data["text/html"]  # one question: no numbering
    assert "generation playground" in widget[0].data["text/html"] and widget[1].text == "kept\n"
    assert plain[0].text == "1\n" and "widgets" not in notebook.metadata


def test_quiz_calls_are_read_from_the_cell_source():
    assert quiz_calls('helpers.quiz("03")', "01") == [("03", None)]
    assert quiz_calls("quiz(2, 'pad-token')\n%time x = 1", "01") == [("02", "pad-token")]
    assert quiz_calls("quiz(lesson)", "05") == [("05", None)]
    assert quiz_calls("print('quiz(01)')", "01") == []


def test_rewrite_links(tmp_path):
    pages_by_notebook = {"02_tokenizers.ipynb": "02_tokenizers.html"}
    source_dir = REPO / "solutions"
    html = ('<a href="02_tokenizers.ipynb#gotcha">x</a> <a href="https://example.org/a.ipynb">y</a>'
            ' <a href="#here">z</a> <a href="../docs/troubleshooting.md">d</a>'
            ' <a href="../no/such/file.md">m</a>')
    out = rewrite_links(html, pages_by_notebook, source_dir, tmp_path)
    assert 'href="02_tokenizers.html#gotcha"' in out
    assert 'href="https://example.org/a.ipynb"' in out and 'href="#here"' in out
    docs = re.search(r'href="([^"]*troubleshooting\.md)"', out).group(1)
    assert (tmp_path / docs).resolve() == REPO / "docs" / "troubleshooting.md"
    assert 'href="../no/such/file.md"' in out


def test_bad_output_folder_and_root_are_clear_errors(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("a file")
    assert cli(["--out", str(taken)]) == 1
    assert "is a file, not a folder" in capsys.readouterr().err
    with pytest.raises(SiteError, match="no lessons in"):
        build_site(tmp_path / "out", root=tmp_path)


@pytest.mark.browser
def test_lesson_01_in_chromium_with_the_network_blocked(built):
    from browser.course_server import CHROMIUM_ARGS, VIEWPORT, browser_unavailable, find_chromium

    chromium_path = find_chromium()
    if chromium_path is None:
        browser_unavailable("Chromium is not installed")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        browser_unavailable("Playwright for Python is not installed (pip install -e '.[test]')")
    site, _ = built
    course = lessons()
    lesson_01 = course[1]
    notebook = nbformat.read(lesson_01.solution, as_version=4)
    report_cell = next(c for c in notebook.cells
                       if c.cell_type == "code" and "report.summary(" in c.source)
    report_lines = [line for output in report_cell.outputs if output.output_type == "stream"
                    for line in output.text.splitlines() if line.strip()]
    assert len(report_lines) >= 5
    question = load_bank("01").questions[0]
    correct = question.options[question.correct_indices[0]]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS,
                                             headless=True, timeout=30_000)
        context = browser.new_context(viewport=VIEWPORT)
        refused: list[str] = []

        def only_files(route: Any) -> None:
            if route.request.url.startswith(("file:", "data:")):
                route.continue_()
            else:
                refused.append(route.request.url)
                route.abort()

        context.route("**/*", only_files)
        page = context.new_page()
        try:
            page.goto((site.out / page_name(lesson_01)).as_uri())
            expect(page.locator("h1").first).to_contain_text(lesson_01.title)
            output = page.locator(".jp-OutputArea-output pre", has_text=report_lines[0])
            expect(output.first).to_be_visible()
            text = " ".join(output.first.inner_text().split())
            for line in report_lines:
                assert " ".join(line.split()) in text
            box = page.locator(f".fp-q-01-{question.id}")
            expect(box).to_be_visible()
            expect(box).to_contain_text(" ".join(question.prompt.split()[:6]).replace("`", ""))
            options = box.locator("ol.fp-static-options")
            for option in question.options:
                expect(options).to_contain_text(option.text.replace("`", ""))
            explanation = box.locator(".fp-static-option-correct")
            expect(explanation).to_be_hidden()
            box.locator("details.fp-static-answer > summary").click()
            expect(explanation).to_be_visible()
            expect(explanation).to_contain_text(correct.explanation.split()[-1])
            page.locator(".fp-site-nav-top a[rel=next]").click()
            page.wait_for_url("**/" + page_name(course[2]))
            expect(page.locator("h1").first).to_contain_text(course[2].title)
            page.locator(".fp-site-nav-bottom a.fp-site-index").click()
            page.wait_for_url("**/index.html")
            expect(page.locator("ol.fp-site-lessons a")).to_have_count(len(course))
            page.locator("ol.fp-site-lessons a", has_text=lesson_01.title).click()
            page.wait_for_url("**/" + page_name(lesson_01))
            page.locator(f'.jp-RenderedMarkdown a[href="{page_name(course[2])}"]').first.click()
            page.wait_for_url("**/" + page_name(course[2]))
            assert refused == []
        except AssertionError:
            artifacts = REPO / "test-artifacts" / "browser"
            artifacts.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(artifacts / "site-lesson-01.png"), full_page=False)
            raise
        finally:
            context.close()
            browser.close()
