"""A small chat window over a chat model: type a message, the model answers, the conversation
grows, and the exact prompt the chat template rendered is shown under it.

``chat_box(model, tokenizer)`` returns a :class:`ChatBox` (an ipywidgets ``VBox``). Each
*Send* appends the user's message to :attr:`ChatBox.messages`, renders the **whole**
conversation with ``tokenizer.apply_chat_template(messages, add_generation_prompt=True)``,
generates greedily (or with a seed) and appends the answer as an ``assistant`` message, which
is all a chat model's memory is. Everything is written into ``HTML`` widgets' values (never
printed: printing inside widgets breaks nbval's strict mode); an error, such as a tokenizer
without a chat template, is shown with its diagnosis instead of vanishing in a callback.

Headless use (tests, solution cells): ``box.send("Hello!")`` returns the :class:`ChatTurn`;
``box.messages``, ``box.prompt_text()`` and ``box.reset()``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets

__all__ = ["ChatBox", "ChatTurn", "chat_box"]

_BOX = (
    "border-left:4px solid var({var}, {fallback});padding:4px 10px;margin:4px 0;"
    "color:var(--jp-ui-font-color1, inherit);white-space:pre-wrap"
)
_ROLE_COLOURS = {
    "system": ("--jp-ui-font-color2", "#757575"),
    "user": ("--jp-brand-color1", "#1976d2"),
    "assistant": ("--jp-success-color1", "#2e7d32"),
}


@dataclass(frozen=True)
class ChatTurn:
    """One Send: the user's message, the model's answer and how many tokens each side took."""

    user: str
    reply: str = ""
    prompt_tokens: int = 0
    new_tokens: int = 0
    stopped_at_end_of_turn: bool = False
    error: str = ""


class ChatBox(widgets.VBox):
    """A conversation with a chat model, its input box, and the rendered prompt."""

    def __init__(self, model: Any, tokenizer: Any, *, system: str | None = None,
                 max_new_tokens: int = 200, do_sample: bool = False, seed: int = 0) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.system = system
        self.max_new_tokens = max_new_tokens
        self.do_sample = do_sample
        self.seed = seed
        self.messages: list[dict[str, str]] = []
        self.turns: list[ChatTurn] = []
        self.transcript = widgets.HTML(value="")
        self.status = widgets.HTML(value="")
        self.prompt_view = widgets.HTML(value="")
        self.text = widgets.Text(value="", placeholder="Tell me a story about a fox named Leo",
                                 layout=widgets.Layout(width="60%"))
        self.button = widgets.Button(description="Send", button_style="primary", icon="paper-plane")
        self.reset_button = widgets.Button(description="New chat", icon="refresh",
                                           tooltip="Start a new conversation")
        self.button.on_click(lambda _b: self.send())
        self.reset_button.on_click(lambda _b: self.reset())
        for name, css in [("transcript", "fp-chat-transcript"), ("status", "fp-chat-status"),
                          ("prompt_view", "fp-chat-prompt"), ("button", "fp-chat-send")]:
            getattr(self, name).add_class(css)
        super().__init__(
            children=(
                self.transcript,
                widgets.HBox([self.text, self.button, self.reset_button]),
                self.status,
                widgets.HTML("<b>What the model sees (apply_chat_template(..., "
                             "tokenize=False, add_generation_prompt=True)):</b>"),
                self.prompt_view,
            ),
            layout=widgets.Layout(width="100%"),
        )
        self.add_class("fp-chat")
        self.reset()

    # ----------------------------------------------------------------------------- state

    def reset(self) -> None:
        """Start a new conversation (with the system message, if any)."""
        self.messages = [{"role": "system", "content": self.system}] if self.system else []
        self.turns = []
        self.status.value = ""
        self._show()

    def prompt_text(self) -> str:
        """The conversation so far as the template renders it, with the assistant's header."""
        if not self.messages:
            return ""
        return self.tokenizer.apply_chat_template(self.messages, add_generation_prompt=True,
                                                  tokenize=False)

    # ----------------------------------------------------------------------------- running

    def send(self, text: str | None = None) -> ChatTurn:
        """Send ``text`` (default: the input box) and generate the answer; returns the turn."""
        import torch
        from transformers import set_seed

        from helpers.generation import input_device

        message = (self.text.value if text is None else text).strip()
        if not message:
            self.status.value = self._box("Type a message first.", "system")
            return ChatTurn(user="", error="empty message")
        self.text.value = ""
        self.messages.append({"role": "user", "content": message})
        self.button.disabled = True
        try:
            inputs = self.tokenizer.apply_chat_template(
                self.messages, add_generation_prompt=True, return_tensors="pt"
            ).to(input_device(self.model))
            set_seed(self.seed)
            with torch.inference_mode():
                out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens,
                                          do_sample=self.do_sample)
            prompt_tokens = inputs["input_ids"].shape[1]
            new_ids = out[0, prompt_tokens:].tolist()
            reply = self.tokenizer.decode(new_ids, skip_special_tokens=True).strip()
            eos = self.model.generation_config.eos_token_id
            stops = set() if eos is None else {eos} if isinstance(eos, int) else set(eos)
            turn = ChatTurn(message, reply, prompt_tokens, len(new_ids),
                            bool(new_ids) and new_ids[-1] in stops)
            self.messages.append({"role": "assistant", "content": reply})
            ending = ("at the end-of-turn token" if turn.stopped_at_end_of_turn
                      else f"at max_new_tokens={self.max_new_tokens}")
            self.status.value = self._box(
                f"prompt: {prompt_tokens} tokens (the whole conversation) · answer: "
                f"{len(new_ids)} new tokens, stopped {ending}", "system")
        except Exception as exc:  # a callback's exception would vanish: show it instead
            from helpers.diagnosis import diagnose

            self.messages.pop()  # the message was not answered
            first = f"{type(exc).__name__}: {exc}".splitlines()[0]
            turn = ChatTurn(message, error=f"{first}\n{diagnose(exc)}")
            self.status.value = (
                f'<div class="fp-chat-error" role="status" '
                f'style="{_BOX.format(var="--jp-error-color1", fallback="#d32f2f")}">'
                f"{html.escape(turn.error)}</div>")
        finally:
            self.button.disabled = False
        self.turns.append(turn)
        self._show()
        return turn

    # ----------------------------------------------------------------------------- display

    def _box(self, text: str, role: str) -> str:
        var, fallback = _ROLE_COLOURS[role]
        return (f'<div class="fp-chat-{role}" style="{_BOX.format(var=var, fallback=fallback)}">'
                f"{html.escape(text)}</div>")

    def _show(self) -> None:
        self.transcript.value = "".join(
            self._box(f"{m['role']}: {m['content']}", m["role"] if m["role"] in _ROLE_COLOURS
                      else "system")
            for m in self.messages
        ) or self._box("(no messages yet)", "system")
        try:
            rendered = self.prompt_text()
        except Exception as exc:  # noqa: BLE001 - the status line already explains it
            rendered = f"({type(exc).__name__}: the template cannot render this conversation)"
        self.prompt_view.value = (
            "<pre style='margin:2px 0;padding:6px 8px;white-space:pre-wrap;"
            "background:var(--jp-cell-editor-background, transparent);"
            "color:var(--jp-content-font-color1, inherit)'><code>"
            f"{html.escape(rendered)}</code></pre>"
        )


def chat_box(model: Any, tokenizer: Any, **settings: Any) -> ChatBox:
    """A chat window over ``model``: see :class:`ChatBox` for the settings.

    Tag the cell ``nbval-ignore-output``: the widget's text repr is not lesson content.
    """
    return ChatBox(model, tokenizer, **settings)
