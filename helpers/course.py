"""The lesson list, and the student notebooks generated from the solutions.

``solutions/NN_topic.ipynb`` is the source of truth; ``notebooks/NN_topic.ipynb`` is derived
from it by ``python -m helpers notebooks`` (``--check`` verifies it is current, for CI):

* every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` block of a code cell becomes
  ``# YOUR CODE HERE`` at the marker's indentation (plus ``pass`` where Python needs a
  statement); in a markdown cell it becomes ``*(your answer here)*``;
* outputs, execution counts and widget state are cleared; cell ids, tags and other metadata
  are kept; the output is byte-identical from run to run.

The convention that keeps Run All working in the student copy: an exercise cell assigns each
answer variable ``None`` *before* ``### BEGIN SOLUTION``, and its check cell passes the variable
to ``helpers.check``, which answers "not yet" for ``None``::

    chat_class = None
    ### BEGIN SOLUTION
    chat_class = type(chat_model).__name__
    ### END SOLUTION

Generation fails with a clear message when a later cell uses a name that only a solution block
sets, because the student copy would stop there with a ``NameError``.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
CODE_STUB = "# YOUR CODE HERE"
MARKDOWN_STUB = "*(your answer here)*"
LESSON_FILE = re.compile(r"^(\d\d)_([A-Za-z0-9][\w-]*)\.ipynb$")


class StudentNotebookError(ValueError):
    """A solution notebook from which no working student notebook can be generated."""


def lesson_id(lesson: str | int) -> str:
    """Normalise a lesson number (``1``, ``"1"``, ``"01"``) to the two-digit form ``"01"``."""
    text = str(lesson).strip()
    if not text.isdigit() or len(text) > 2:
        raise ValueError(f"a lesson is a number from 00 to 99, not {lesson!r}")
    return text.zfill(2)


@dataclass(frozen=True)
class Lesson:
    """One lesson: its number, title, solution notebook and the student copy made from it."""

    number: str
    slug: str
    title: str
    solution: Path
    notebook: Path

    def __str__(self) -> str:
        return f"{self.number}  {self.title}"


def lessons(root: str | Path = ROOT) -> list[Lesson]:
    """Every lesson in ``<root>/solutions`` (``NN_topic.ipynb``), in order, with its title."""
    root = Path(root)
    found = []
    for path in sorted((root / "solutions").glob("*.ipynb")):
        match = LESSON_FILE.match(path.name)
        if match:
            number, slug = match.groups()
            found.append(
                Lesson(
                    number,
                    slug,
                    _title(path) or slug.replace("_", " "),
                    path,
                    root / "notebooks" / path.name,
                )
            )
    return found


def _title(path: Path) -> str | None:
    """The first markdown heading of a notebook, without the leading ``#``."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return None
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            continue
        source = "".join(cell.get("source", ""))
        for line in source.splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip()
    return None


# --------------------------------------------------------------------------- one cell


def _blocks(source: str, where: str) -> list[tuple[int, int, str]]:
    """(begin line, end line, indentation) of each solution block; unbalanced markers fail."""
    blocks, begin, indent = [], None, ""
    for number, line in enumerate(source.splitlines()):
        marker = line.strip()
        if marker.startswith(BEGIN):
            if begin is not None:
                raise StudentNotebookError(
                    f"{where}: {BEGIN} on line {number + 1} inside "
                    f"the block opened on line {begin + 1}"
                )
            begin, indent = number, line[: len(line) - len(line.lstrip())]
        elif marker.startswith(END):
            if begin is None:
                raise StudentNotebookError(
                    f"{where}: {END} on line {number + 1} without a {BEGIN} before it"
                )
            blocks.append((begin, number, indent))
            begin = None
    if begin is not None:
        raise StudentNotebookError(f"{where}: {BEGIN} on line {begin + 1} has no {END}")
    return blocks


def stub_source(source: str, cell_type: str = "code", where: str = "cell") -> str:
    """The cell's source with every solution block replaced by its stub."""
    blocks = _blocks(source, where)
    if not blocks:
        return source
    lines = source.splitlines()
    out: list[str] = []
    previous = 0
    for begin, end, indent in blocks:
        out.extend(lines[previous:begin])
        if cell_type == "code":
            out.append(indent + CODE_STUB)
            candidate = out + [indent + "pass"] + lines[end + 1 :]
            if not _parses("\n".join(out + lines[end + 1 :])) and _parses("\n".join(candidate)):
                out.append(indent + "pass")  # e.g. the block was a whole function body
        else:
            out.append(indent + MARKDOWN_STUB)
        previous = end + 1
    out.extend(lines[previous:])
    stubbed = "\n".join(out)
    return stubbed + "\n" if source.endswith("\n") else stubbed


def _python(source: str) -> str:
    """Cell source as plain Python (IPython magics and ``!`` commands translated)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(_python(source))
    except (SyntaxError, ValueError):
        return None


def _parses(source: str) -> bool:
    return _parse(source) is not None


class _Bindings(ast.NodeVisitor):
    """Names a module-level piece of code binds (not descending into new scopes)."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self.names.add(node.id)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:  # `x: int` alone binds nothing
            self.visit(node.target)
            self.visit(node.value)

    def _scope(self, node: Any) -> None:
        if hasattr(node, "name"):
            self.names.add(node.name)
        for decorator in getattr(node, "decorator_list", []):
            self.visit(decorator)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scope

    def visit_Lambda(self, node: ast.Lambda) -> None:
        pass

    def visit_alias(self, node: ast.alias) -> None:
        self.names.add((node.asname or node.name).split(".")[0])


def _bound(tree: ast.AST | None) -> set[str]:
    visitor = _Bindings()
    if tree is not None:
        visitor.visit(tree)
    return visitor.names


def _used(tree: ast.AST | None) -> set[str]:
    if tree is None:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


# --------------------------------------------------------------------------- one notebook


def _read(path: Path) -> Any:
    """Read a notebook; cells without an id get a deterministic one (never a random one)."""
    import nbformat

    data = json.loads(path.read_text(encoding="utf-8"))
    if (data.get("nbformat"), data.get("nbformat_minor", 0)) >= (4, 5):
        for index, cell in enumerate(data.get("cells", [])):
            cell.setdefault("id", f"{path.stem[:40]}-{index}")
    return nbformat.reads(json.dumps(data), as_version=4)


def student_notebook(nb: Any, name: str = "notebook") -> Any:
    """A student copy of a solution notebook (a new object; ``nb`` is not changed)."""
    student = copy.deepcopy(nb)
    student.metadata.pop("widgets", None)
    defined: set[str] = set()  # names bound by the student copy's cells so far
    pending: dict[str, str] = {}  # name only a solution block set -> where
    for index, cell in enumerate(student.cells):
        where = f"{name}, cell {index + 1}" + (f" (id {cell.get('id')})" if cell.get("id") else "")
        original = cell.source
        cell.source = stub_source(original, cell.cell_type, where)
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        cell.outputs = []
        cell.execution_count = None
        stubbed_tree = _parse(cell.source)
        if cell.source != original:
            original_tree = _parse(original)
            if original_tree is None:
                raise StudentNotebookError(f"{where}: the solution cell is not valid Python")
            if stubbed_tree is None:
                raise StudentNotebookError(
                    f"{where}: the student copy of this cell is not valid Python; put the "
                    f"{BEGIN}/{END} markers around whole statements"
                )
            for gone in _bound(original_tree) - _bound(stubbed_tree) - defined:
                pending[gone] = where
        missing = sorted(_used(stubbed_tree) & (set(pending) - defined))
        if missing:
            names = ", ".join(f"`{m}`" for m in missing)
            resets = " and ".join(f"`{m} = None`" for m in missing)
            raise StudentNotebookError(
                f"{where} uses {names}, which the student copy never sets: only the solution "
                f"block of {pending[missing[0]]} does. Set {resets} before {BEGIN} there, so "
                "that the unsolved notebook still runs."
            )
        newly = _bound(stubbed_tree)
        defined |= newly
        for name_ in newly:
            pending.pop(name_, None)
    return student


def render_student(solution: Path) -> str:
    """The exact text of the student notebook for a solution file (deterministic)."""
    import nbformat

    text = nbformat.writes(student_notebook(_read(solution), f"solutions/{solution.name}"))
    return text if text.endswith("\n") else text + "\n"


# --------------------------------------------------------------------------- the folder


def expected_notebooks(root: str | Path = ROOT) -> dict[Path, str]:
    """Every student notebook that ``notebooks/`` should hold, with its exact text."""
    return {lesson.notebook: render_student(lesson.solution) for lesson in lessons(root)}


def _lesson_notebooks(root: Path) -> set[Path]:
    return {p for p in (root / "notebooks").glob("*.ipynb") if LESSON_FILE.match(p.name)}


def stale_notebooks(root: str | Path = ROOT) -> list[str]:
    """What differs between ``notebooks/`` and what generation would write (empty: current)."""
    root = Path(root)
    expected = expected_notebooks(root)
    problems = []
    for path, text in sorted(expected.items()):
        rel = path.relative_to(root)
        if not path.exists():
            problems.append(f"missing: {rel}")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"stale:   {rel} (differs from solutions/{path.name})")
    for path in sorted(_lesson_notebooks(root) - set(expected)):
        problems.append(f"extra:   {path.relative_to(root)} (no solutions/{path.name})")
    return problems


def write_notebooks(root: str | Path = ROOT) -> tuple[list[Path], list[Path]]:
    """Write the student notebooks that changed; returns (written, extra).

    Everything is generated before anything is written, so one bad solution writes nothing.
    Current files are not touched. Lesson notebooks without a solution (``extra``) are listed,
    never deleted: removing a lesson is a decision for a person.
    """
    root = Path(root)
    expected = expected_notebooks(root)
    written = []
    for path, text in sorted(expected.items()):
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written, sorted(_lesson_notebooks(root) - set(expected))


def cli(argv: list[str] | None = None) -> int:
    """``python -m helpers notebooks [--check] [--root DIR]``."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers notebooks",
        description="Write notebooks/ (student copies) from solutions/.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if notebooks/ is not what would be generated",
    )
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="course folder (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        if args.check:
            problems = stale_notebooks(root)
            if problems:
                print("notebooks/ is out of date with solutions/:")
                for problem in problems:
                    print(f"  {problem}")
                print(
                    "run `python -m helpers notebooks` (or `make notebooks`) and commit the result"
                )
                return 1
            print(f"notebooks/ is current ({len(lessons(root))} lessons)")
            return 0
        written, extra = write_notebooks(root)
    except StudentNotebookError as exc:
        print(f"cannot generate the student notebooks: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path.relative_to(root)}")
    for path in extra:
        print(
            f"extra {path.relative_to(root)}: no solution has this name; delete it if the "
            "lesson was removed or renamed"
        )
    print(f"{len(written)} written, {len(lessons(root)) - len(written)} already current")
    return 0


# --------------------------------------------------------------------------- executing solutions

#: the environment solutions are executed in: the bundled models, a fixed quiz order, offline,
#: and a throw-away progress file (running the solutions must never credit a learner)
EXECUTE_ENV_UNSET = ("COURSE_MODEL", "COURSE_CHAT_MODEL")


def execute_solution(solution: Path, timeout: int = 600) -> None:
    """Restart-and-run-all one solution notebook in place, in the course's reference setting.

    The kernel starts in ``solutions/`` (as JupyterLab and nbval start it) with the bundled
    models, ``HF_HUB_OFFLINE=1`` and a temporary progress file. Stored outputs are then what
    nbval compares, so this is how a lesson's outputs are (re)made after an edit.
    """
    import os
    import tempfile

    import nbformat
    from nbclient import NotebookClient

    nb = _read(solution)
    saved = {k: os.environ.get(k) for k in (*EXECUTE_ENV_UNSET, "FROM_PRETRAINED_PROGRESS",
                                               "FROM_PRETRAINED_QUIZ_SEED", "HF_HUB_OFFLINE")}
    with tempfile.TemporaryDirectory(prefix="from-pretrained-execute-") as scratch:
        for key in EXECUTE_ENV_UNSET:
            os.environ.pop(key, None)
        os.environ["FROM_PRETRAINED_PROGRESS"] = str(Path(scratch) / "progress.json")
        os.environ["FROM_PRETRAINED_QUIZ_SEED"] = "lesson"
        os.environ["HF_HUB_OFFLINE"] = "1"
        try:
            NotebookClient(nb, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(solution.parent)}}).execute()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    _after_execute(nb)
    solution.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


def _after_execute(nb: Any) -> None:
    """Post-process stored outputs: no saved widget state (the course never stores it: a reopened
    notebook must not show stale widgets), and widget views get their saved-notebook fallback."""
    nb.metadata.pop("widgets", None)
    try:
        from helpers.widgets import saved_output_fallback
    except ImportError:  # pragma: no cover - older widgets module
        return
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [saved_output_fallback(output) for output in cell.outputs]


def execute_cli(argv: list[str] | None = None) -> int:
    """``python -m helpers execute [NN ...]``: re-execute solutions, then regenerate notebooks/."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers execute",
        description="Restart and run all of solutions/NN_*.ipynb in place (bundled models, "
        "offline), then write notebooks/ from them.",
    )
    parser.add_argument("lessons", nargs="*", metavar="NN", help="lesson numbers (default: all)")
    args = parser.parse_args(argv)
    wanted = {lesson_id(n) for n in args.lessons}
    chosen = [les for les in lessons() if not wanted or les.number in wanted]
    if wanted - {les.number for les in chosen}:
        print(f"no such lesson: {', '.join(sorted(wanted - {les.number for les in chosen}))}",
              file=sys.stderr)
        return 2
    import time

    for lesson in chosen:
        start = time.perf_counter()
        execute_solution(lesson.solution)
        print(f"executed {lesson.solution.relative_to(ROOT)} "
              f"({time.perf_counter() - start:.1f} s)")
    return cli([])
