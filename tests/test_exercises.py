"""Exercise checks: a registry filled by lesson modules, and check() that never raises."""

from __future__ import annotations

import pytest

import helpers
from helpers import exercises, progress
from helpers.exercises import CheckResult, NotYet, check, exercise, run_check


@pytest.fixture(autouse=True)
def progress_file(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    monkeypatch.setenv(progress.ENV_VAR, str(path))
    return path


@pytest.fixture
def lesson_99():
    """Checkers of a made-up lesson 99, removed from the registry afterwards."""

    @exercise(99, "double", title="Double a number")
    def double(number: int, doubled: int):
        if doubled == 2 * number:
            return True
        return f"`doubled` is {doubled}; it should be twice {number}"

    @exercise("99", "optional")
    def optional(answer, note=None):
        return answer == 1 or f"answer is {answer}, note is {note}"

    @exercise("99", "flags")
    def flags(value):
        """Return what the test asks for."""
        if value == "none":
            return None
        if value == "false":
            return False
        if value == "tuple":
            return (False, "tuple says no")
        if value == "notyet":
            raise NotYet("nested helper says no")
        if value == "boom":
            raise ZeroDivisionError("division by zero")
        return True

    yield
    for key in [k for k in exercises._REGISTRY if k[0] == "99"]:
        del exercises._REGISTRY[key]


def test_the_public_name_is_exported():
    assert helpers.check is check


def test_registration_normalises_the_lesson(lesson_99):
    registered = exercises.exercises(99)
    assert list(registered) == ["double", "optional", "flags"]
    assert registered["double"].answer_names == ("number", "doubled")
    assert registered["double"].title == "Double a number"
    assert registered["flags"].title == "Return what the test asks for."


def test_correct_and_not_yet(lesson_99):
    ok = check("99", "double", number=2, doubled=4)
    assert ok.correct and bool(ok)
    assert str(ok) == repr(ok) == "✅ correct"
    wrong = check("99", "double", number=2, doubled=5)
    assert not wrong
    assert str(wrong) == "❌ not yet: `doubled` is 5; it should be twice 2"


def test_an_answer_left_as_none_is_not_set_yet(lesson_99):
    result = check("99", "double", number=2, doubled=None)
    assert str(result) == "❌ not yet: you have not set `doubled` yet"


def test_answers_with_a_default_may_be_left_out_or_none(lesson_99):
    assert check("99", "optional", answer=1)
    assert check("99", "optional", answer=1, note=None)
    assert check("99", "optional", answer=2, note=None).message == "answer is 2, note is None"
    assert exercises.exercises("99")["optional"].required_names == ("answer",)


@pytest.mark.parametrize(
    ("value", "correct", "message"),
    [
        ("none", True, ""),
        ("true", True, ""),
        ("false", False, "that is not the answer yet"),
        ("tuple", False, "tuple says no"),
        ("notyet", False, "nested helper says no"),
        ("boom", False, "checking your answer raised ZeroDivisionError: division by zero"),
    ],
)
def test_checker_return_values(lesson_99, value, correct, message):
    result = run_check("99", "flags", value=value)
    assert (result.correct, result.message) == (correct, message)


@pytest.mark.parametrize(
    ("lesson", "exercise_id", "answers", "message"),
    [
        ("99", "double", {"number": 1}, "pass your answer to check(): check(..., doubled=doubled)"),
        ("99", "double", {"number": 1, "doubled": 2, "extra": 3}, "not extra"),
        ("99", "triple", {}, "no exercise 'triple' (exercises: double, optional, flags)"),
        ("96", "anything", {}, "lesson 96 has no exercise 'anything' (exercises: none)"),
        ("one", "double", {}, "a lesson is a number from 00 to 99, not 'one'"),
    ],
)
def test_check_never_raises(lesson_99, lesson, exercise_id, answers, message):
    result = check(lesson, exercise_id, **answers)
    assert isinstance(result, CheckResult)
    assert not result.correct
    assert message in result.message


def test_a_broken_checker_module_is_a_verdict_not_a_crash(monkeypatch):
    def broken(number):
        raise ImportError("lesson_95 imports something missing")

    monkeypatch.setattr(exercises, "_import_lesson", broken)
    result = check("95", "x", answer=1)
    assert not result.correct
    assert "the checks of lesson 95 failed to load" in result.message


def test_results_are_recorded_in_progress(lesson_99):
    check("99", "double", number=1, doubled=None)
    check("99", "double", number=1, doubled=2)
    record = progress.lesson_record("99")["exercises"]["double"]
    assert record["attempts"] == 2 and record["correct"] is True
    check("99", "no-such-exercise")
    assert "no-such-exercise" not in progress.lesson_record("99")["exercises"]


def test_html_display_is_escaped_and_themed(lesson_99):
    html = CheckResult("99", "double", False, "<b>not bold</b>")._repr_html_()
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html
    assert "fp-check-not-yet" in html and "var(--jp-warn-color1" in html
    assert "fp-check-correct" in check("99", "double", number=1, doubled=2)._repr_html_()


def test_lesson_modules_are_found():
    assert "00" in exercises.exercise_lessons()


# --------------------------------------------------------------------------- lesson 00


def test_lesson_00_course_model_name(monkeypatch):
    monkeypatch.delenv("COURSE_MODEL", raising=False)
    assert str(check("00", "course-model-name", course_model_name=None)) == (
        "❌ not yet: you have not set `course_model_name` yet"
    )
    assert check("00", "course-model-name", course_model_name=helpers.course_model()).correct
    assert check("00", "course-model-name", course_model_name="stories-base").correct
    assert not check("00", "course-model-name", course_model_name="stories-chat").correct
    monkeypatch.setenv("COURSE_MODEL", "HuggingFaceTB/SmolLM2-135M")
    assert not check("00", "course-model-name", course_model_name="stories-base").correct
    assert check("00", "course-model-name", course_model_name="HuggingFaceTB/SmolLM2-135M")
    result = check("00", "course-model-name", course_model_name=42)
    assert result.message == "`course_model_name` should be text (a str), not int"
