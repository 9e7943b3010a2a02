"""How helper results show: a readable table in text and HTML, sizes in binary units."""

from __future__ import annotations

import html
from typing import Any


class ShowsAsText:
    """Mixin: IPython's text/plain output is ``str(self)``; ``_repr_html_`` covers the rest.

    IPython prefers a ``__repr__`` found earlier in the MRO (dataclasses write one into every
    class), so each subclass gets ``_repr_pretty_`` in its own ``__dict__``.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._repr_pretty_ = ShowsAsText._repr_pretty_

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def format_bytes(n: int | float | None) -> str:
    """``1536 -> '1.5 KiB'``: binary units (1 MiB = 1024**2 bytes), as torch and memory tools
    report them."""
    if n is None:
        return "unknown"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover


def text_table(rows: list[tuple[str, str]]) -> str:
    """Two aligned columns: name, value."""
    width = max((len(k) for k, _ in rows), default=0)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def html_table(rows: list[tuple[str, str]], caption: str | None = None,
               css_class: str = "fp-table") -> str:
    """The same rows as an HTML table (names as row headers), escaped."""
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
        f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
        for k, v in rows
    )
    head = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table class='{css_class}'>{head}{body}</table>"
