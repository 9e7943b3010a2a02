"""The course's error type: a real exception plus a diagnosis a learner can act on.

Helpers raise :class:`CourseError` *from* the original exception, so the library's traceback
stays available underneath while the first thing a learner reads is the cause and the fix.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from helpers.display import ShowsAsText


@dataclass(frozen=True)
class Diagnosis(ShowsAsText):
    """What went wrong (``cause``) and what to do about it (``fix``), in plain words."""

    title: str
    cause: str
    fix: str

    def __str__(self) -> str:
        return f"{self.title}\n  cause: {self.cause}\n  fix:   {self.fix}"

    def _repr_html_(self) -> str:
        esc = html.escape
        return (
            '<div class="fp-diagnosis" style="border-left:4px solid #d9534f;padding:4px 10px">'
            f"<b>{esc(self.title)}</b><br><b>Cause:</b> {esc(self.cause)}<br>"
            f"<b>Fix:</b> {esc(self.fix)}</div>"
        )


class CourseError(Exception):
    """An error a helper diagnosed; ``__cause__`` holds the library's original exception."""

    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__(str(diagnosis))
        self.diagnosis = diagnosis
