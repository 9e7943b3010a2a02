"""Exercise checks: ``check(lesson, exercise_id, **answers)`` says "correct" or what is still wrong.

Lesson authors write the checkers in ``helpers/exercises/lesson_NN.py`` and register them with
the :func:`exercise` decorator; :func:`check` imports that module only when the lesson asks::

    from helpers.exercises import exercise

    @exercise("01", "chat-class")
    def chat_class(class_name: str) -> str | bool:
        '''Name the class AutoModelForCausalLM returns for the chat model.'''
        if class_name == "LlamaForCausalLM":
            return True
        return f"`class_name` is {class_name!r}; look at type(model).__name__"

The checker's parameters are the answer names the exercise cell sets (one with a default may
be left out, and may be ``None``). It returns ``True`` (or
``None``) when correct, and a message (or ``False``) when not; it may also raise
:class:`NotYet` from a nested helper. Keep heavy imports (torch, transformers) inside checkers.

The convention that makes student notebooks run end to end: the exercise cell assigns each
answer variable ``None`` *before* ``### BEGIN SOLUTION``. :func:`check` answers "you have not
set `x` yet" for a ``None`` answer without calling the checker, and it never raises.
"""

from __future__ import annotations

import html
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from helpers.course import lesson_id

Checker = Callable[..., Any]


class NotYet(Exception):
    """Raised by a checker (or a helper it calls) to say what is still wrong."""


@dataclass(frozen=True)
class Exercise:
    """A registered exercise: its lesson, id, checker and the answer names it takes."""

    lesson: str
    id: str
    checker: Checker
    title: str

    @property
    def answer_names(self) -> tuple[str, ...]:
        """Answer names the checker takes (its parameters, in order)."""
        return tuple(
            name
            for name, p in inspect.signature(self.checker).parameters.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        )

    @property
    def required_names(self) -> tuple[str, ...]:
        """Answer names without a default: each must be passed and set (not ``None``)."""
        parameters = inspect.signature(self.checker).parameters
        return tuple(
            n for n in self.answer_names if parameters[n].default is inspect.Parameter.empty
        )


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check; shows as "✅ correct" or "❌ not yet: ..." in a notebook."""

    lesson: str
    exercise_id: str
    correct: bool
    message: str = ""

    def __bool__(self) -> bool:
        return self.correct

    def __str__(self) -> str:
        if self.correct:
            return "✅ correct" + (f": {self.message}" if self.message else "")
        return f"❌ not yet: {self.message}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        state = "correct" if self.correct else "not-yet"
        colour = "--jp-success-color1" if self.correct else "--jp-warn-color1"
        fallback = "#2e7d32" if self.correct else "#b26a00"
        return (
            f'<div class="fp-check-result fp-check-{state}" role="status" '
            f'style="border-left:4px solid var({colour}, {fallback});padding:2px 10px;'
            f'color:var(--jp-ui-font-color1, inherit)">{html.escape(str(self))}</div>'
        )


_REGISTRY: dict[tuple[str, str], Exercise] = {}


def exercise(
    lesson: str | int, exercise_id: str, title: str | None = None
) -> Callable[[Checker], Checker]:
    """Register the decorated function as the checker of ``lesson``'s exercise ``exercise_id``."""
    number = lesson_id(lesson)

    def register(checker: Checker) -> Checker:
        doc = inspect.getdoc(checker) or exercise_id
        _REGISTRY[(number, exercise_id)] = Exercise(number, exercise_id, checker, title or doc)
        return checker

    return register


def _import_lesson(number: str) -> None:
    """Import ``helpers.exercises.lesson_NN`` if it exists (its decorators fill the registry)."""
    name = f"{__name__}.lesson_{number}"
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:  # the module exists but one of its own imports is missing
            raise


def exercises(lesson: str | int) -> dict[str, Exercise]:
    """The exercises registered for a lesson, by id, in registration order."""
    number = lesson_id(lesson)
    _import_lesson(number)
    return {eid: ex for (les, eid), ex in _REGISTRY.items() if les == number}


def exercise_lessons() -> list[str]:
    """Lessons that have a checker module in this package."""
    from importlib.resources import files

    names = (p.name for p in files(__name__).iterdir())
    return sorted(n[7:9] for n in names if n.startswith("lesson_") and n[7:9].isdigit())


def _verdict(value: Any) -> tuple[bool, str]:
    if value is None or value is True:
        return True, ""
    if value is False:
        return False, "that is not the answer yet"
    if isinstance(value, CheckResult):
        return value.correct, value.message
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], bool):
        return value[0], str(value[1])
    return False, str(value)


def run_check(lesson: str | int, exercise_id: str, **answers: Any) -> CheckResult:
    """Check without recording progress (authors' tests use this)."""
    try:
        number = lesson_id(lesson)
    except ValueError as exc:
        return CheckResult(str(lesson), exercise_id, False, str(exc))

    def verdict(correct: bool, message: str) -> CheckResult:
        return CheckResult(number, exercise_id, correct, message)

    try:
        known = exercises(number)
    except Exception as exc:  # a broken checker module must not break the lesson
        return verdict(False, f"the checks of lesson {number} failed to load ({exc!r})")
    found = known.get(exercise_id)
    if found is None:
        have = ", ".join(known) or "none"
        return verdict(
            False, f"lesson {number} has no exercise {exercise_id!r} (exercises: {have})"
        )
    names = found.answer_names
    for name in found.required_names:
        if name not in answers:
            return verdict(False, f"pass your answer to check(): check(..., {name}={name})")
        if answers[name] is None:
            return verdict(False, f"you have not set `{name}` yet")
    unknown = sorted(set(answers) - set(names))
    if unknown:
        expected = ", ".join(f"`{n}`" for n in names)
        return verdict(False, f"this exercise takes {expected}, not {', '.join(unknown)}")
    try:
        return verdict(*_verdict(found.checker(**answers)))
    except NotYet as exc:
        return verdict(False, str(exc))
    except Exception as exc:  # the learner's object may break the checker in any way
        return verdict(False, f"checking your answer raised {type(exc).__name__}: {exc}")


def check(lesson: str | int, exercise_id: str, **answers: Any) -> CheckResult:
    """Check an exercise, remember the result in the learner's progress, and return it.

    Put it last in a cell to display "✅ correct" or "❌ not yet: <what is still wrong>".
    It never raises: a wrong, missing or broken answer is a verdict, not an error. The
    progress record follows the latest check, and nothing is recorded while a notebook of
    ``solutions/`` runs (see :mod:`helpers.progress`).
    """
    result = run_check(lesson, exercise_id, **answers)
    if (result.lesson, exercise_id) in _REGISTRY:
        try:
            from helpers.progress import record_exercise

            record_exercise(result.lesson, exercise_id, result.correct, result.message)
        except Exception:  # progress is a convenience: never let it fail a check
            pass
    return result
