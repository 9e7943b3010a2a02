"""The course's error type: a real exception plus a diagnosis a learner can act on.

Helpers raise :class:`CourseError` *from* the original exception, so the library's traceback
stays available underneath while the first thing a learner reads is the cause and the fix.

A cause or fix with several ways out lists them one per line, each line starting with ``"- "``
(see :func:`bullets`): the text form indents them under the field, the HTML form shows a list.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from helpers.display import ShowsAsText

BULLET = "- "


def bullets(intro: str, items: list[str] | tuple[str, ...], outro: str = "") -> str:
    """``intro``, then one ``"- item"`` line per item, then ``outro`` on a line of its own."""
    lines = [intro] if intro else []
    lines += [BULLET + item for item in items]
    if outro:
        lines.append(outro)
    return "\n".join(lines)


def _text_field(value: str, indent: int) -> str:
    """Continuation lines of a field, indented to line up under its first line."""
    pad = " " * indent
    return ("\n" + pad).join(value.splitlines() or [""])


def _html_field(value: str) -> str:
    """Plain lines joined by <br>, runs of ``"- "`` lines as one <ul>."""
    parts: list[str] = []
    items: list[str] = []
    for line in value.splitlines():
        if line.startswith(BULLET):
            items.append(f"<li>{html.escape(line[len(BULLET):])}</li>")
            continue
        if items:
            parts.append(f"<ul style='margin:2px 0'>{''.join(items)}</ul>")
            items = []
        parts.append(html.escape(line))
    if items:
        parts.append(f"<ul style='margin:2px 0'>{''.join(items)}</ul>")
    out = ""
    for i, part in enumerate(parts):
        if i and not part.startswith("<ul") and not parts[i - 1].startswith("<ul"):
            out += "<br>"
        out += part
    return out


@dataclass(frozen=True)
class Diagnosis(ShowsAsText):
    """What went wrong (``cause``) and what to do about it (``fix``), in plain words."""

    title: str
    cause: str
    fix: str

    def __str__(self) -> str:
        return (f"{self.title}\n  cause: {_text_field(self.cause, 9)}"
                f"\n  fix:   {_text_field(self.fix, 9)}")

    def _repr_html_(self) -> str:
        return (
            '<div class="fp-diagnosis" style="border-left:4px solid #d9534f;padding:4px 10px">'
            f"<b>{html.escape(self.title)}</b><br><b>Cause:</b> {_html_field(self.cause)}<br>"
            f"<b>Fix:</b> {_html_field(self.fix)}</div>"
        )


class CourseError(Exception):
    """An error a helper diagnosed; ``__cause__`` holds the library's original exception."""

    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__(str(diagnosis))
        self.diagnosis = diagnosis
