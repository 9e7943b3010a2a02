"""Checkers for lesson 00 ("Start here"): one trivial exercise that shows how checks work."""

from __future__ import annotations

from helpers.exercises import NotYet, exercise


@exercise("00", "course-model-name", title="Find the name of the model this course uses")
def course_model_name(course_model_name: str) -> bool:
    """Set ``course_model_name`` to the name ``helpers.course_model_name()`` returns (the folder
    or id that ``helpers.course_model()`` returns names the same model and counts too)."""
    from helpers import hub

    expected = hub.course_model_name()
    if not isinstance(course_model_name, str):
        raise NotYet(
            f"`course_model_name` should be text (a str), not {type(course_model_name).__name__}"
        )
    if course_model_name.strip() not in {expected, hub.course_model()}:
        raise NotYet(
            f"`course_model_name` is {course_model_name!r}, but this course is using another "
            "model; call helpers.course_model_name() and keep what it returns"
        )
    return True
