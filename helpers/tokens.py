"""Seeing what a tokenizer did: each token's id, its vocabulary spelling and the piece of text it
came from (the offsets), a live inspector, and the real length limit of a model.

Every function here shows the transformers call it makes:

* :func:`show_tokens` calls ``tokenizer(text, return_offsets_mapping=True)`` and
  ``tokenizer.convert_ids_to_tokens(ids)``, and lays out one row per token;
* :func:`token_inspector` is a text box whose tokens are shown as you type (feedback goes into an
  ``HTML`` widget's value, never printed, so nbval stays quiet);
* :func:`context_length` reads ``tokenizer.model_max_length`` and the config's
  ``max_position_embeddings``, ignoring the ``int(1e30)`` "no limit recorded" sentinel.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from helpers.display import ShowsAsText

__all__ = ["ContextLength", "TokenRow", "TokenTable", "context_length", "show_tokens",
           "token_inspector"]

#: transformers' own threshold: a model_max_length above it means "no limit was recorded"
#: (tokenization_utils_base.LARGE_INTEGER; the sentinel itself is VERY_LARGE_INTEGER = int(1e30))
NO_LIMIT_ABOVE = int(1e20)

# two light backgrounds that alternate between neighbouring tokens, readable in both themes
_SHADES = ("rgba(66, 133, 244, 0.18)", "rgba(251, 188, 5, 0.25)")
_SPECIAL_SHADE = "rgba(120, 120, 120, 0.25)"


@dataclass(frozen=True)
class TokenRow:
    """One token: its position, id, vocabulary spelling, offsets and the text it covers."""

    index: int
    id: int
    token: str
    start: int | None
    end: int | None
    piece: str
    special: bool


@dataclass
class TokenTable(ShowsAsText):
    """The tokens of one text; shows as an aligned table (text) or coloured pieces (HTML)."""

    text: str
    rows: list[TokenRow] = field(default_factory=list)
    tokenizer_class: str = ""

    @property
    def ids(self) -> list[int]:
        return [row.id for row in self.rows]

    @property
    def tokens(self) -> list[str]:
        return [row.token for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def summary(self) -> str:
        specials = sum(row.special for row in self.rows)
        extra = f" ({specials} special)" if specials else ""
        tokens = "token" if len(self.rows) == 1 else "tokens"
        chars = "character" if len(self.text) == 1 else "characters"
        return f"{len(self.rows)} {tokens}{extra} for {len(self.text)} {chars}"

    def __str__(self) -> str:
        header = ("#", "id", "token", "offsets", "text")
        lines = [header]
        for row in self.rows:
            offsets = "-" if row.start is None else f"({row.start}, {row.end})"
            piece = "(special)" if row.special and not row.piece else repr(row.piece)
            lines.append((str(row.index), str(row.id), repr(row.token), offsets, piece))
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        body = "\n".join(
            "  ".join(cell.rjust(w) if i < 2 else cell.ljust(w)
                      for i, (cell, w) in enumerate(zip(line, widths, strict=True))).rstrip()
            for line in lines
        )
        return f"{self.summary()}\n{body}"

    def _repr_html_(self) -> str:
        spans = []
        for row in self.rows:
            shade = _SPECIAL_SHADE if row.special else _SHADES[row.index % 2]
            shown = row.piece if row.piece else row.token
            visible = html.escape(shown).replace(" ", "&middot;").replace("\n", "&#8629;")
            where = "" if row.start is None else f", offsets ({row.start}, {row.end})"
            title = html.escape(f"id {row.id}, token {row.token!r}{where}")
            spans.append(
                f"<span class='fp-token' title='{title}' style='display:inline-block;"
                f"margin:1px;padding:0 3px;border-radius:3px;background:{shade};"
                f"font-family:var(--jp-code-font-family, monospace);text-align:center'>"
                f"{visible}<br><small style='opacity:0.75'>{row.id}</small></span>"
            )
        return (f"<div class='fp-tokens'><div>{html.escape(self.summary())} "
                f"<small>(&middot; is a space; hover for the token)</small></div>"
                f"<div>{''.join(spans)}</div></div>")


def show_tokens(tokenizer: Any, text: str, *, add_special_tokens: bool = True) -> TokenTable:
    """Tokenize ``text`` and show each token's id, vocabulary spelling, offsets and text piece.

    The same calls you would write: ``tokenizer(text, return_offsets_mapping=True,
    add_special_tokens=...)`` and ``tokenizer.convert_ids_to_tokens(ids)``. Offsets need a fast
    (Rust-backed) tokenizer; for others the offsets column shows ``-``.
    """
    fast = bool(getattr(tokenizer, "is_fast", False))
    encoding = tokenizer(text, add_special_tokens=add_special_tokens,
                         return_offsets_mapping=fast)
    ids = list(encoding["input_ids"])
    offsets = list(encoding["offset_mapping"]) if fast else [None] * len(ids)
    tokens = tokenizer.convert_ids_to_tokens(ids)
    special_ids = set(getattr(tokenizer, "all_special_ids", []) or [])
    rows = []
    for index, (token_id, token, span) in enumerate(zip(ids, tokens, offsets, strict=True)):
        start, end = (None, None) if span is None else (int(span[0]), int(span[1]))
        piece = "" if start is None else text[start:end]
        rows.append(TokenRow(index, int(token_id), str(token), start, end, piece,
                             int(token_id) in special_ids))
    return TokenTable(text, rows, type(tokenizer).__name__)


def token_inspector(tokenizer: Any, text: str = "Once upon a time, a fox named Leo") -> Any:
    """A text box and the tokens of what it holds, updated as you type (an ipywidgets VBox)."""
    import ipywidgets as widgets

    box = widgets.Textarea(value=text, description="text", continuous_update=True,
                           layout=widgets.Layout(width="100%", height="4em"))
    shown = widgets.HTML(layout=widgets.Layout(width="100%"))

    def update(change: Any = None) -> None:
        try:
            shown.value = show_tokens(tokenizer, box.value)._repr_html_()
        except Exception as exc:  # a widget callback must never raise into the page
            shown.value = f"<pre>{html.escape(f'{type(exc).__name__}: {exc}')}</pre>"

    box.observe(update, names="value")
    update()
    inspector = widgets.VBox([box, shown])
    inspector.add_class("fp-token-inspector")
    inspector.text_box, inspector.tokens_view = box, shown  # for tests and curious learners
    return inspector


@dataclass(frozen=True)
class ContextLength(ShowsAsText):
    """How many tokens a model takes, and which setting said so."""

    limit: int | None
    tokenizer_says: int | None
    config_says: int | None

    @property
    def source(self) -> str:
        if self.limit is None:
            return "neither the tokenizer nor the config records a limit"
        said = [name for name, value in (("tokenizer.model_max_length", self.tokenizer_says),
                                         ("config.max_position_embeddings", self.config_says))
                if value == self.limit]
        return "from " + " and ".join(said)

    def __str__(self) -> str:
        tok = self.tokenizer_says if self.tokenizer_says is not None else (
            "no limit recorded (int(1e30))")
        limit = "unknown" if self.limit is None else f"{self.limit} tokens"
        return (f"limit: {limit} ({self.source})\n"
                f"  tokenizer.model_max_length:     {tok}\n"
                f"  config.max_position_embeddings: {self.config_says}")


def context_length(tokenizer: Any, config: Any = None) -> ContextLength:
    """The most tokens the model takes: the smaller of the tokenizer's ``model_max_length`` and
    the config's ``max_position_embeddings``, leaving out the ``int(1e30)`` sentinel that
    tokenizers get when no limit was saved with them."""
    recorded = getattr(tokenizer, "model_max_length", None)
    tokenizer_says = int(recorded) if recorded and recorded <= NO_LIMIT_ABOVE else None
    config_says = getattr(config, "max_position_embeddings", None) if config is not None else None
    config_says = int(config_says) if config_says else None
    known = [n for n in (tokenizer_says, config_says) if n]
    return ContextLength(min(known) if known else None, tokenizer_says, config_says)
