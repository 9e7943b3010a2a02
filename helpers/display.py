"""How helper results show in a notebook: a readable table, not a dataclass repr."""

from __future__ import annotations

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
