"""Student notebooks generated from solutions/, and the lesson list."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from helpers import course, exercises, progress
from helpers.course import (
    CODE_STUB,
    MARKDOWN_STUB,
    StudentNotebookError,
    lesson_id,
    lessons,
    stale_notebooks,
    stub_source,
    write_notebooks,
)
from helpers.exercises import exercise

ROOT = Path(__file__).resolve().parents[1]

EXERCISE = """\
import helpers
doubled = None
### BEGIN SOLUTION
doubled = 2 * 21
### END SOLUTION
"""
CHECK = 'helpers.check("99", "double-21", doubled=doubled)'


@pytest.fixture(autouse=True)
def progress_file(tmp_path, monkeypatch):
    monkeypatch.setenv(progress.ENV_VAR, str(tmp_path / "progress.json"))


@pytest.fixture
def lesson_99():

    @exercise("99", "double-21")
    def double_21(doubled: int):
        return doubled == 42 or f"`doubled` is {doubled!r}, not 42"

    yield
    for key in [k for k in exercises._REGISTRY if k[0] == "99"]:
        del exercises._REGISTRY[key]


def _cell(kind: str, source: str, **fields):
    cell = new_code_cell(source) if kind == "code" else new_markdown_cell(source)
    cell.update(fields)
    return cell


def make_course(root: Path, cells=None, name: str = "99_practice.ipynb") -> Path:
    """A course folder with one solution notebook (executed-looking: outputs, counts, widgets)."""
    if cells is None:
        cells = [
            _cell("markdown", "# Practice lesson\n\nSome text."),
            _cell("code", EXERCISE, execution_count=3, id="exercise-cell",
                  metadata={"tags": ["exercise"], "execution": {"iopub.status.idle": "x"}},
                  outputs=[new_output("stream", name="stdout", text="hi\n")]),
            _cell("code", CHECK, execution_count=4,
                  outputs=[new_output("execute_result", {"text/plain": "✅ correct"},
                                      execution_count=4)]),
            _cell("markdown", "Why?\n\n### BEGIN SOLUTION\nBecause **42**.\n### END SOLUTION\n"),
        ]
    nb = new_notebook(cells=cells)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    (root / "solutions").mkdir(parents=True, exist_ok=True)
    path = root / "solutions" / name
    nbformat.write(nb, path)
    return path


def run_cells(nb) -> list:
    """Execute the code cells in one namespace; the value of each cell's last expression."""
    namespace: dict = {}
    values = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, "<cell>", "exec"), namespace)
        value = None
        if last is not None:
            value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)
        values.append(value)
    return values


# --------------------------------------------------------------------------- stubs


def test_code_block_becomes_a_stub_and_the_preset_stays():
    assert stub_source(EXERCISE) == f"import helpers\ndoubled = None\n{CODE_STUB}\n"


def test_stub_keeps_the_indentation_and_adds_pass_where_python_needs_it():
    source = (
        "def area(width, height):\n"
        "    ### BEGIN SOLUTION\n"
        "    return width * height\n"
        "    ### END SOLUTION\n"
        "\n"
        "for n in range(3):\n"
        "    if n:\n"
        "        total = None\n"
        "        ### BEGIN SOLUTION\n"
        "        total = n\n"
        "        ### END SOLUTION\n"
        "        print(total)\n"
    )
    assert stub_source(source) == (
        "def area(width, height):\n"
        f"    {CODE_STUB}\n"
        "    pass\n"
        "\n"
        "for n in range(3):\n"
        "    if n:\n"
        "        total = None\n"
        f"        {CODE_STUB}\n"
        "        print(total)\n"
    )


def test_markdown_blocks_become_a_placeholder():
    source = "Why?\n\n### BEGIN SOLUTION\nBecause **42**.\n### END SOLUTION\n"
    assert stub_source(source, "markdown") == f"Why?\n\n{MARKDOWN_STUB}\n"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("### BEGIN SOLUTION\nx = 1\n", "has no ### END SOLUTION"),
        ("x = 1\n### END SOLUTION\n", "without a ### BEGIN SOLUTION"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside the block"),
    ],
)
def test_unbalanced_markers_fail_with_their_line(source, message):
    with pytest.raises(StudentNotebookError, match=message):
        stub_source(source, where="solutions/01_x.ipynb, cell 3")


def test_cells_without_markers_are_untouched():
    assert stub_source("print('hi')") == "print('hi')"


# --------------------------------------------------------------------------- notebooks


def test_generation_clears_outputs_and_widget_state_but_keeps_ids_and_tags(tmp_path):
    make_course(tmp_path)
    written, extra = write_notebooks(tmp_path)
    assert written == [tmp_path / "notebooks" / "99_practice.ipynb"] and extra == []
    student = nbformat.read(written[0], as_version=4)
    assert "widgets" not in student.metadata
    assert student.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in student.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    exercise_cell = student.cells[1]
    assert exercise_cell.id == "exercise-cell"
    assert exercise_cell.metadata == {"tags": ["exercise"]}
    assert CODE_STUB in exercise_cell.source and "2 * 21" not in exercise_cell.source
    assert student.cells[3].source == f"Why?\n\n{MARKDOWN_STUB}\n"
    solution = nbformat.read(tmp_path / "solutions" / "99_practice.ipynb", as_version=4)
    assert [c.id for c in solution.cells] == [c.id for c in student.cells]
    assert solution.cells[1].outputs, "the solution itself is never changed"


def test_generation_is_deterministic_and_idempotent(tmp_path):
    make_course(tmp_path)
    write_notebooks(tmp_path)
    path = tmp_path / "notebooks" / "99_practice.ipynb"
    first = path.read_bytes()
    assert write_notebooks(tmp_path) == ([], [])  # nothing to rewrite
    path.unlink()
    write_notebooks(tmp_path)
    assert path.read_bytes() == first
    assert first.endswith(b"\n")
    nbformat.validate(nbformat.reads(first.decode(), as_version=4))


def test_cells_without_ids_get_stable_ids(tmp_path):
    solution = make_course(tmp_path)
    data = json.loads(solution.read_text())
    for cell in data["cells"]:
        del cell["id"]
    solution.write_text(json.dumps(data))
    write_notebooks(tmp_path)
    path = tmp_path / "notebooks" / "99_practice.ipynb"
    first = path.read_bytes()
    path.unlink()
    write_notebooks(tmp_path)
    assert path.read_bytes() == first
    assert json.loads(first)["cells"][0]["id"] == "99_practice-0"


def test_student_stubs_run_and_check_says_not_yet_while_the_solution_is_correct(
    tmp_path, lesson_99
):
    make_course(tmp_path)
    write_notebooks(tmp_path)
    student = nbformat.read(tmp_path / "notebooks" / "99_practice.ipynb", as_version=4)
    solution = nbformat.read(tmp_path / "solutions" / "99_practice.ipynb", as_version=4)
    student_result = run_cells(student)[-1]
    assert str(student_result) == "❌ not yet: you have not set `doubled` yet"
    assert str(run_cells(solution)[-1]) == "✅ correct"


def test_a_solution_that_skips_the_none_convention_fails_generation(tmp_path):
    cells = [
        _cell("code", "### BEGIN SOLUTION\nanswer = 42\nhelper = 1\n### END SOLUTION\n"),
        _cell("code", 'helpers.check("99", "x", answer=answer)'),
    ]
    make_course(tmp_path, cells)
    with pytest.raises(StudentNotebookError) as caught:
        write_notebooks(tmp_path)
    message = str(caught.value)
    assert "cell 2" in message and "`answer`" in message and "`helper`" not in message
    assert "Set `answer = None` before ### BEGIN SOLUTION" in message
    assert "cell 1" in message
    assert not (tmp_path / "notebooks").exists(), "nothing is written when generation fails"


def test_names_set_in_an_earlier_cell_satisfy_the_convention(tmp_path):
    cells = [
        _cell("code", "answer = None"),
        _cell("code", "%%time\n### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION\n"),
        _cell("code", "print(answer)\n!echo done"),
    ]
    make_course(tmp_path, cells)
    assert write_notebooks(tmp_path)[0]


def test_a_stub_that_is_not_valid_python_fails_generation(tmp_path):
    cells = [_cell("code", "y = (1 +\n### BEGIN SOLUTION\n2\n### END SOLUTION\n)")]
    make_course(tmp_path, cells)
    with pytest.raises(StudentNotebookError, match="markers around whole statements"):
        write_notebooks(tmp_path)


# --------------------------------------------------------------------------- --check


def test_check_detects_an_edited_solution(tmp_path, capsys):
    solution = make_course(tmp_path)
    assert course.cli(["--root", str(tmp_path)]) == 0
    assert course.cli(["--check", "--root", str(tmp_path)]) == 0
    assert "is current (1 lessons)" in capsys.readouterr().out
    nb = nbformat.read(solution, as_version=4)
    nb.cells[0].source = "# Practice lesson, edited"
    nbformat.write(nb, solution)
    assert course.cli(["--check", "--root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "stale:   notebooks/99_practice.ipynb" in out
    assert "python -m helpers notebooks" in out


def test_check_lists_missing_and_extra_notebooks(tmp_path):
    make_course(tmp_path)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "98_removed.ipynb").write_text("{}")
    (tmp_path / "notebooks" / "scratch.ipynb").write_text("{}")  # not a lesson: ignored
    assert stale_notebooks(tmp_path) == [
        "missing: notebooks/99_practice.ipynb",
        "extra:   notebooks/98_removed.ipynb (no solutions/98_removed.ipynb)",
    ]
    written, extra = write_notebooks(tmp_path)
    assert extra == [tmp_path / "notebooks" / "98_removed.ipynb"]
    assert extra[0].exists(), "generation never deletes a file"


def test_cli_reports_a_broken_solution_without_a_traceback(tmp_path, capsys):
    make_course(tmp_path, [_cell("code", "### BEGIN SOLUTION\nx = 1\n")])
    assert course.cli(["--root", str(tmp_path)]) == 1
    assert "cannot generate the student notebooks" in capsys.readouterr().err


def test_python_m_helpers_notebooks_dispatches_here(tmp_path):
    make_course(tmp_path)
    command = [sys.executable, "-m", "helpers", "notebooks", "--check", "--root", str(tmp_path)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "missing: notebooks/99_practice.ipynb" in result.stdout


# --------------------------------------------------------------------------- lessons


def test_lessons_lists_solutions_with_titles(tmp_path):
    make_course(tmp_path)
    make_course(tmp_path, [_cell("code", "x = 1")], name="98_untitled_thing.ipynb")
    (tmp_path / "solutions" / "notes.ipynb").write_text("{}")
    found = lessons(tmp_path)
    assert [(x.number, x.slug, x.title) for x in found] == [
        ("98", "untitled_thing", "untitled thing"),
        ("99", "practice", "Practice lesson"),
    ]
    assert found[1].notebook == tmp_path / "notebooks" / "99_practice.ipynb"
    assert str(found[1]) == "99  Practice lesson"


@pytest.mark.parametrize(("raw", "normal"), [(1, "01"), ("1", "01"), ("01", "01"), (" 7 ", "07")])
def test_lesson_id(raw, normal):
    assert lesson_id(raw) == normal


@pytest.mark.parametrize("raw", ["one", "100", "", "-1", "1.0"])
def test_lesson_id_rejects(raw):
    with pytest.raises(ValueError, match="a lesson is a number from 00 to 99"):
        lesson_id(raw)


def test_committed_student_notebooks_are_current():
    """Passes trivially while solutions/ is empty; checks every lesson once lessons exist."""
    assert stale_notebooks(ROOT) == [], "run `python -m helpers notebooks` and commit"
