"""One source for the catalogue of errors: docs/troubleshooting.md, lesson 08's index and its
clinic cells are generated from helpers/catalogue.py, and fail here when they drift from it."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from test_docs import _QUOTE, ALIASES, message_regex

from helpers import catalogue
from helpers.diagnosis import RULES

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / catalogue.LESSON
REGENERATE = "run `.venv/bin/python -m helpers troubleshooting`"


def _cells() -> dict[str, nbformat.NotebookNode]:
    return {cell.get("id"): cell for cell in nbformat.read(SOLUTION, as_version=4).cells}


def _text(cell) -> str:
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "")
                   for o in cell.get("outputs", []))


def test_the_doc_is_generated_from_the_catalogue():
    assert (ROOT / "docs" / "troubleshooting.md").read_text() == catalogue.render_doc(), (
        "docs/troubleshooting.md differs from helpers/catalogue.py: edit the catalogue, then "
        + REGENERATE)


def test_the_lessons_index_is_generated_from_the_catalogue():
    assert catalogue.lesson_drift() == [], f"lesson 08's index cells are stale: {REGENERATE}"


def test_every_rule_of_diagnose_is_in_the_catalogue():
    known = catalogue.catalogue_rules()
    for rule in RULES:
        name = ALIASES.get(rule.name, rule.name)
        if name:
            assert name in known, (f"helpers.diagnose has the rule {name!r}: add its Row to "
                                   f"helpers/catalogue.py, then {REGENERATE}")


def test_every_tag_of_the_catalogue_names_a_rule():
    names = {rule.name for rule in RULES}
    for row in catalogue.ROWS:
        assert row.rules and row.rules[0] == row.rule, f"{row.rule}: its first tag is its id"
        assert row.area in catalogue.AREAS, f"{row.rule}: unknown area {row.area!r}"
        for tag in row.rules:
            assert tag in names, f"{row.rule} is tagged [{tag}], which is no rule of diagnose"


def test_the_index_links_every_entry_to_a_heading_of_the_lesson():
    cells = nbformat.read(SOLUTION, as_version=4).cells
    headings = {m.group(1) for cell in cells if cell.cell_type == "markdown"
                for m in re.finditer(r"^#{2,4} (\S+)$", cell.source, flags=re.M)}
    index = catalogue.index_markdown()
    for row in catalogue.ROWS:
        assert f"](#{row.rule})" in index
        assert row.rule in headings, f"the index links #{row.rule}, which no heading defines"


def test_the_clinic_cells_are_the_catalogues_snippets():
    cells = _cells()
    for demo in catalogue.DEMOS:
        assert f"l08-{demo.rule}" in cells, f"lesson 08 lacks the clinic cells of {demo.rule}"
        assert cells[f"l08-{demo.rule}-broken"].source == demo.broken, (
            f"{demo.rule}: the broken cell differs from the catalogue's (rebuild the lesson)")
        assert cells[f"l08-{demo.rule}-fixed"].source == demo.fixed


@pytest.mark.parametrize("demo", catalogue.DEMOS, ids=lambda d: d.rule)
def test_each_broken_cell_printed_the_catalogues_first_line(demo):
    """nbval re-runs the lesson and compares these outputs: what the catalogue quotes is what
    the broken snippet really raised, and the fixed cell ran without an error."""
    cells = _cells()
    shown = _text(cells[f"l08-{demo.rule}-broken"])
    raised = re.search(r"^Raised (?:CourseError from )?(\w+): (.*)$", shown, flags=re.M)
    assert raised, f"{demo.rule}: the broken cell shows no 'Raised ...' line"
    kind, line = raised.groups()
    row = catalogue.row_of(demo.rule)
    quotes = [(m.group(1) or m.group(2)) for m in catalogue._SPAN.finditer(row.see)]
    fits = []
    for quote in quotes:
        found = _QUOTE.match(quote)
        if found and (found.group("type") or kind).rsplit(".", 1)[-1] == kind:
            # the doc quotes the message for its own input: values (numbers, 'quoted names')
            # may differ from the lesson's, the words may not
            shape = re.sub(r"'[^']*'|\b\d+(?:\.\d+)?\b", "…", found.group("msg"))
            if message_regex(shape).match(line):
                fits.append(quote)
        elif quote == kind and line == "(no message)":  # an AttributeError without a message
            fits.append(quote)
    assert fits, f"{demo.rule}: raised {kind}: {line!r}; the catalogue quotes {quotes}"
    fixed = cells[f"l08-{demo.rule}-fixed"]
    assert not any(o.output_type == "error" for o in fixed.outputs)


def test_the_lesson_raises_at_least_twelve_errors_for_real():
    real = [demo for demo in catalogue.DEMOS if not demo.by_hand]
    assert len(real) >= 12
    by_hand = {demo.rule for demo in catalogue.DEMOS if demo.by_hand}
    assert by_hand <= {"cuda-oom", "no-cuda"}, "only what this CPU machine cannot raise"
    assert "built by hand" in catalogue.index_markdown()


def test_the_command_refuses_rows_it_does_not_know(tmp_path, monkeypatch, capsys):
    doc = tmp_path / "troubleshooting.md"
    doc.write_text(catalogue.render_doc() + "| `ValueError: new` [brand-new-rule] | a | b |\n")
    monkeypatch.setattr(catalogue, "DOC", doc)
    monkeypatch.setattr(catalogue, "_update_lesson", lambda: False)
    assert catalogue.cli([]) == 1
    assert "brand-new-rule" in capsys.readouterr().err
    assert "[brand-new-rule]" in doc.read_text(), "the row was kept"


def test_the_command_refuses_to_overwrite_a_hand_edit(tmp_path, monkeypatch, capsys):
    doc = tmp_path / "troubleshooting.md"
    edited = catalogue.render_doc().replace("| Check the path", "| Check the path twice", 1)
    doc.write_text(edited)
    monkeypatch.setattr(catalogue, "DOC", doc)
    monkeypatch.setattr(catalogue, "_update_lesson", lambda: False)
    assert catalogue.cli(["--check"]) == 1
    assert catalogue.cli([]) == 1
    assert "Check the path twice" in capsys.readouterr().err
    assert catalogue.cli(["--force"]) == 0
    assert doc.read_text() == catalogue.render_doc()
    assert catalogue.cli(["--check"]) == 0
