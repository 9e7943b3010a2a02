"""``python -m helpers site``: the lessons as static HTML, readable with no Jupyter and no network.

Each page is a lesson of ``solutions/`` (exercises solved, outputs stored) converted by nbconvert's
``HTMLExporter`` with the course's template (``helpers/site_templates/course``): JupyterLab's
"lab" look, with every CDN script left out (require.js, the widget manager and mermaid are not
needed; MathJax only when ``--mathjax-url`` asks for it), and previous / all lessons / next links.
``index.html`` lists the lessons by the title of their first heading.

Widgets live in a running kernel, so a stored notebook holds only the "Run this cell" note of
:func:`helpers.widgets.saved_output_fallback`. The site shows something useful instead:

* a cell calling ``helpers.quiz(...)`` gets its questions from the quiz bank as static HTML:
  prompt, options, then the answer and every option's explanation inside ``<details>``;
* any other widget (playground, token inspector, memory calculator, chat window) gets a short
  note that it is interactive in JupyterLab.

Links between lessons (``[lesson 02](02_tokenizers.ipynb)``) point at the ``.html`` pages; a link
to another file of the repository (``../docs/troubleshooting.md``) points at that file, so it
works when the site is read from the checkout.
"""

from __future__ import annotations

import argparse
import ast
import os
import posixpath
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from helpers.course import ROOT, Lesson, lessons

DEFAULT_OUT = ROOT / "build" / "site"
TEMPLATES = Path(__file__).resolve().parent / "site_templates"
TEMPLATE_NAME = "course"
COURSE_TITLE = "From Pretrained"
LESSON_HTML = re.compile(r"^\d\d_[\w-]+\.html$")

# function a lesson cell calls -> what the widget is called on the page
WIDGET_NAMES = {
    "playground": "generation playground",
    "token_inspector": "token inspector",
    "memory_calculator": "memory calculator",
    "chat_box": "chat window",
}


class SiteError(RuntimeError):
    """The site cannot be built; the message says what to fix."""


@dataclass(frozen=True)
class Site:
    """What :func:`build_site` wrote."""

    out: Path
    index: Path
    pages: tuple[Path, ...]
    quizzes: int
    widgets: int
    seconds: float

    def __str__(self) -> str:
        return (f"wrote {len(self.pages)} lesson pages and index.html to {self.out} "
                f"({self.quizzes} quiz cells and {self.widgets} widgets shown statically) "
                f"in {self.seconds:.1f} s; open {self.index}")


# --------------------------------------------------------------------------- widget cells


def _parse(source: str) -> ast.Module | None:
    """A cell's source as Python (IPython magics translated), or None when it does not parse."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return None


def _called(node: ast.Call) -> str | None:
    """The name of the function a call calls: ``quiz`` for ``quiz()`` and ``helpers.quiz()``."""
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _literal(node: ast.AST | None) -> Any:
    try:
        return ast.literal_eval(node) if node is not None else None
    except ValueError:
        return None


def quiz_calls(source: str, lesson: str) -> list[tuple[str, str | None]]:
    """(lesson, question id or None) of each ``quiz(...)`` call in a cell, in source order.

    A lesson argument that is not a literal falls back to ``lesson`` (the notebook's own).
    """
    from helpers.course import lesson_id

    tree = _parse(source)
    if tree is None:
        return []
    found = []
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _called(n) == "quiz"]
    for call in sorted(calls, key=lambda n: (n.lineno, n.col_offset)):
        keywords = {k.arg: k.value for k in call.keywords}
        which = _literal(call.args[0] if call.args else keywords.get("lesson"))
        question = _literal(call.args[1] if len(call.args) > 1 else keywords.get("question_id"))
        try:
            number = lesson_id(which) if which is not None else lesson
        except ValueError:
            number = lesson
        found.append((number, question if isinstance(question, str) else None))
    return found


def widget_names(source: str) -> list[str]:
    """What the course widgets a cell creates are called (``generation playground``, ...)."""
    tree = _parse(source)
    if tree is None:
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _called(node) in WIDGET_NAMES:
            name = WIDGET_NAMES[_called(node)]  # type: ignore[index]
            if name not in names:
                names.append(name)
    return names


def is_widget_output(output: Mapping[str, Any]) -> bool:
    """True for a stored widget view, or the "Run this cell" note that replaced one."""
    from helpers.widgets import FALLBACK_CLASS, WIDGET_VIEW_MIME

    data = output.get("data")
    if not isinstance(data, Mapping):
        return False
    if WIDGET_VIEW_MIME in data:
        return True
    markup = data.get("text/html", "")
    markup = "".join(markup) if isinstance(markup, list) else str(markup)
    return f'class="{FALLBACK_CLASS}"' in markup


def _templates() -> Any:
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined)


def static_quiz_html(lesson: str, question_id: str | None = None) -> str:
    """A lesson's questions (or one of them) from the quiz bank, as static HTML."""
    from markupsafe import Markup

    from helpers.quizzes import load_bank
    from helpers.widgets import render

    bank = load_bank(lesson)
    chosen = [bank.question(question_id)] if question_id else list(bank.questions)
    total = len(chosen) if question_id is None else None
    questions = []
    for number, question in enumerate(chosen, start=1):
        letters = [chr(ord("A") + i) for i in range(len(question.options))]
        options = [
            {"letter": letter, "text": Markup(render(option.text)), "correct": option.correct,
             "explanation": Markup(render(option.explanation))}
            for letter, option in zip(letters, question.options, strict=True)
        ]
        questions.append({
            "lesson": question.lesson,
            "id": question.id,
            "number": number,
            "total": total,
            "prompt": Markup(render(question.prompt)),
            "code": Markup(render(f"```python\n{question.code}\n```")) if question.code else "",
            "options": options,
            "correct_letters": ", ".join(o["letter"] for o in options if o["correct"]),
            "hint": Markup(render(question.hint)) if question.hint else "",
            "answer": Markup(render(question.answer)) if question.answer else "",
        })
    return _templates().get_template("quiz.html.j2").render(lesson=bank.lesson,
                                                           questions=questions)


def static_widget_html(name: str) -> str:
    """The note that stands in for an interactive widget on a static page."""
    from markupsafe import escape

    return (f'<div class="fp-static-widget" role="note"><b>The {escape(name)} is interactive in '
            f"JupyterLab.</b> Open this lesson there (<code>make lab</code>) and run the cell to "
            f"use it; a static page cannot run the model.</div>")


def _html_output(markup: str) -> dict[str, Any]:
    return {"output_type": "display_data", "metadata": {},
            "data": {"text/html": markup, "text/plain": re.sub(r"<[^>]+>", "", markup).strip()}}


def staticize(notebook: Any, lesson: str, where: str = "notebook") -> tuple[int, int]:
    """Replace widget outputs in place: quiz cells by their questions, other widgets by a note.

    Returns (quiz cells, other widgets) replaced. A quiz cell shows its questions even when it
    has no stored output. Saved widget state (``metadata.widgets``) is dropped.
    """
    import nbformat

    from helpers.quizzes import QuizBankError

    quizzes = widgets = 0
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        outputs = list(cell.get("outputs", []))
        kept = [o for o in outputs if not is_widget_output(o)]
        calls = quiz_calls(cell.source, lesson)
        if calls:
            try:
                markup = "\n".join(static_quiz_html(number, qid) for number, qid in calls)
            except (QuizBankError, KeyError) as exc:
                raise SiteError(f"{where}, cell {index + 1}: its quiz cannot be shown: {exc}. "
                                "Fix the quiz call or the bank (make test lints the bank).") \
                    from exc
            cell.outputs = kept + [nbformat.from_dict(_html_output(markup))]
            quizzes += 1
        elif len(kept) < len(outputs):
            names = widget_names(cell.source) or ["widget"]
            notes = iter(names + [names[-1]] * len(outputs))
            cell.outputs = [o if not is_widget_output(o)
                            else nbformat.from_dict(_html_output(static_widget_html(next(notes))))
                            for o in outputs]
            widgets += len(outputs) - len(kept)
    notebook.metadata.pop("widgets", None)
    return quizzes, widgets


# --------------------------------------------------------------------------- links


def rewrite_links(fragment: str, lesson_pages: Mapping[str, str], source_dir: Path,
                  out: Path) -> str:
    """``href``s of rendered Markdown: lesson notebooks to their pages, repository files to the
    files themselves (relative to ``out``); web links and anchors unchanged."""

    def fix(match: re.Match[str]) -> str:
        href = match.group(2)
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or not parts.path:
            return match.group(0)
        name = posixpath.basename(parts.path)
        if name in lesson_pages:
            target = lesson_pages[name]
        else:
            file = (source_dir / parts.path).resolve()
            if not file.exists():
                return match.group(0)
            target = Path(os.path.relpath(file, out.resolve())).as_posix()
        new = urlunsplit(("", "", target, parts.query, parts.fragment))
        return f"{match.group(1)}{new}{match.group(3)}"

    return re.sub(r'(href=")([^"]*)(")', fix, fragment)


def _course_exporter(lesson_pages: Mapping[str, str], source_dir: Path, out: Path) -> Any:
    """nbconvert's HTMLExporter with the course template and link rewriting in Markdown cells."""
    from jinja2 import pass_context
    from nbconvert.exporters import HTMLExporter
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    class CourseHTMLExporter(HTMLExporter):
        @pass_context
        def markdown2html(self, context: Any, source: str) -> str:
            # HTMLExporter.markdown2html, with lesson links rewritten
            cell = context.get("cell", {})
            path = context.get("resources", {}).get("metadata", {}).get("path", "")
            renderer = IPythonRenderer(
                escape=False, attachments=cell.get("attachments", {}),
                embed_images=self.embed_images, path=path,
                anchor_link_text=self.anchor_link_text,
                exclude_anchor_links=self.exclude_anchor_links, **self.lexer_options)
            rendered = MarkdownWithMath(renderer=renderer).render(source)
            return rewrite_links(rendered, lesson_pages, source_dir, out)

    return CourseHTMLExporter(template_name=TEMPLATE_NAME,
                              extra_template_basedirs=[str(TEMPLATES)])


# --------------------------------------------------------------------------- the site


def page_name(lesson: Lesson) -> str:
    """``01_loading.html`` for ``solutions/01_loading.ipynb``."""
    return lesson.solution.with_suffix(".html").name


def _link(lesson: Lesson | None) -> dict[str, str] | None:
    return None if lesson is None else {"href": page_name(lesson), "title": lesson.title}


def build_site(out: str | Path = DEFAULT_OUT, root: str | Path = ROOT,
               mathjax_url: str | None = None) -> Site:
    """Write ``index.html`` and one page per lesson of ``<root>/solutions`` into ``out``.

    Nothing is downloaded, and the pages fetch nothing when viewed (unless ``mathjax_url`` is
    given, for lessons with LaTeX). Pages of lessons that no longer exist are removed; other
    files in ``out`` are left alone.
    """
    import nbformat

    start = time.perf_counter()
    root, out = Path(root), Path(out)
    found = lessons(root)
    if not found:
        raise SiteError(f"no lessons in {root / 'solutions'} (files named NN_topic.ipynb); "
                        "run this from the course folder or pass its root")
    if out.exists() and not out.is_dir():
        raise SiteError(f"{out} is a file, not a folder: choose another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SiteError(f"cannot create {out}: {exc}; choose a writable --out") from exc
    css = (TEMPLATES / "site.css").read_text(encoding="utf-8")
    lesson_pages = {lesson.solution.name: page_name(lesson) for lesson in found}
    exporter = _course_exporter(lesson_pages, root / "solutions", out)
    pages, quizzes, widgets = [], 0, 0
    for number, lesson in enumerate(found):
        where = str(lesson.solution.relative_to(root))
        try:
            notebook = nbformat.read(lesson.solution, as_version=4)
        except (OSError, ValueError) as exc:
            raise SiteError(f"{where} cannot be read as a notebook: {exc}") from exc
        notebook.metadata["title"] = lesson.title
        counts = staticize(notebook, lesson.number, where)
        quizzes, widgets = quizzes + counts[0], widgets + counts[1]
        resources = {
            "metadata": {"name": lesson.solution.stem, "path": str(lesson.solution.parent)},
            "course_site": {
                "previous": _link(found[number - 1] if number else None),
                "next": _link(found[number + 1] if number + 1 < len(found) else None),
                "css": css,
                "mathjax_url": mathjax_url or "",
            },
        }
        body, _ = exporter.from_notebook_node(notebook, resources=resources)
        page = out / page_name(lesson)
        page.write_text(body, encoding="utf-8")
        pages.append(page)
    for stale in out.glob("*.html"):
        if LESSON_HTML.match(stale.name) and stale not in pages:
            stale.unlink()
    index = out / "index.html"
    index.write_text(_templates().get_template("site_index.html.j2").render(
        course_title=COURSE_TITLE, css=css,
        lessons=[_link(lesson) for lesson in found]), encoding="utf-8")
    return Site(out, index, tuple(pages), quizzes, widgets, time.perf_counter() - start)


def cli(argv: list[str] | None = None) -> int:
    """``python -m helpers site [--out DIR] [--mathjax-url URL]``."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers site",
        description="Build a static HTML site of the lessons (solutions/, with their stored "
                    "outputs), readable with no Jupyter and no network.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="folder to write the site into (default: build/site)")
    parser.add_argument("--mathjax-url", default=None, metavar="URL",
                        help="load MathJax from this URL to typeset LaTeX (off by default: the "
                             "pages then fetch nothing, and the lessons have no LaTeX)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        site = build_site(args.out, mathjax_url=args.mathjax_url)
    except SiteError as exc:
        print(f"python -m helpers site: {exc}", file=sys.stderr)
        return 1
    for page in site.pages:
        print(f"  {page}")
    print(site)
    return 0
