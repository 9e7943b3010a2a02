"""The generation playground: a prompt, the decoding controls, a Generate button, and the exact
``model.generate(...)`` call the widget makes, so that it hides nothing.

``playground(model, tokenizer, prompt)`` returns a :class:`Playground` (an ipywidgets ``VBox``):

* controls for ``do_sample``, ``temperature``, ``top_k`` (0 = no top-k filter), ``top_p``,
  ``max_new_tokens`` and the **seed** (shown, settable, and optionally drawn afresh on each
  click, so a surprising sample can always be reproduced);
* the text comes out into an ``HTML`` widget's value (never printed: printing inside widgets
  breaks nbval's strict mode), with the seed and why generation stopped;
* the equivalent Python is shown below the controls and updated on every change. It is not a
  description: :meth:`Playground.generate` runs exactly :meth:`Playground.generate_kwargs`, and
  :meth:`Playground.code` renders that same dict.

Sampling-only settings (``temperature``, ``top_k``, ``top_p``) are left out of the call when
``do_sample`` is off: passing them to greedy decoding does nothing except make transformers log
"The following generation flags are not valid and may be ignored".

Headless use (tests, solution cells): ``pg.set(top_k=1)``, ``pg.generate()`` (returns a
:class:`PlaygroundRun`), ``pg.settings()`` (the decoding settings as a dict), ``pg.history``.
"""

from __future__ import annotations

import html
import random
import sys
import types
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets

__all__ = ["Playground", "PlaygroundRun", "playground"]

#: the decoding controls, in the order they are shown and passed to generate()
CONTROLS = ("max_new_tokens", "do_sample", "temperature", "top_k", "top_p")
SAMPLING_ONLY = ("temperature", "top_k", "top_p")

_BOX = (
    "border-left:4px solid var({var}, {fallback});padding:4px 10px;margin:4px 0;"
    "color:var(--jp-ui-font-color1, inherit)"
)


@dataclass(frozen=True)
class PlaygroundRun:
    """One click of Generate: what went in and what came out."""

    prompt: str
    seed: int
    settings: dict[str, Any]
    text: str = ""
    new_tokens: int = 0
    stopped_by: str = ""
    error: str = ""
    code: str = field(default="", repr=False)


def _pad_token_id(tokenizer: Any) -> int | None:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    """Every end-of-sequence id generate() stops on: the generation config's (one id, a list,
    or none), plus the tokenizer's."""
    eos = getattr(model.generation_config, "eos_token_id", None)
    ids = set(eos if isinstance(eos, list | tuple) else [] if eos is None else [eos])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return {int(i) for i in ids}


class Playground(widgets.VBox):
    """Prompt, decoding controls, Generate, the sampled text and the equivalent generate() call."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        prompt: str = "Once upon a time",
        *,
        max_new_tokens: int = 40,
        do_sample: bool = True,
        temperature: float = 1.0,
        top_k: int = 50,
        top_p: float = 1.0,
        seed: int = 0,
        new_seed_each_time: bool = False,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.history: list[PlaygroundRun] = []
        wide = {"description_width": "initial"}
        self.prompt = widgets.Textarea(
            value=prompt, description="Prompt", layout=widgets.Layout(width="100%", height="4em")
        )
        self.max_new_tokens = widgets.IntSlider(
            value=max_new_tokens, min=1, max=max(200, max_new_tokens), description="max_new_tokens",
            style=wide,
        )
        self.do_sample = widgets.Checkbox(
            value=do_sample, description="do_sample (off = greedy)",
            indent=False, style=wide,
        )
        self.temperature = widgets.FloatSlider(
            value=temperature, min=0.05, max=2.5, step=0.05, description="temperature", style=wide
        )
        self.top_k = widgets.IntSlider(
            value=top_k, min=0, max=max(200, top_k), description="top_k (0: off)", style=wide
        )
        self.top_p = widgets.FloatSlider(
            value=top_p, min=0.05, max=1.0, step=0.05, description="top_p", style=wide
        )
        self.seed = widgets.IntText(value=seed, description="seed", style=wide,
                                    layout=widgets.Layout(width="14em"))
        self.new_seed_each_time = widgets.Checkbox(
            value=new_seed_each_time, description="new seed on each click", indent=False
        )
        self.button = widgets.Button(
            description="Generate", button_style="primary", icon="play",
            tooltip="Run model.generate with these settings (the call is shown below)",
        )
        self.button.on_click(lambda _button: self.generate())
        self.output = widgets.HTML(value="")
        self.call = widgets.HTML(value="")
        for name, css in [("output", "fp-playground-output"), ("call", "fp-playground-code"),
                          ("button", "fp-playground-generate")]:
            getattr(self, name).add_class(css)
        for control in (self.prompt, self.seed, *(getattr(self, n) for n in CONTROLS)):
            control.observe(self._refresh, names="value")
        self.do_sample.observe(self._enable_sampling, names="value")
        super().__init__(
            children=(
                self.prompt,
                widgets.HBox([self.max_new_tokens, self.do_sample]),
                widgets.HBox([self.temperature, self.top_k, self.top_p]),
                widgets.HBox([self.seed, self.new_seed_each_time, self.button]),
                self.output,
                widgets.HTML("<b>The same call in Python:</b>"),
                self.call,
            ),
            layout=widgets.Layout(width="100%"),
        )
        self.add_class("fp-playground")
        self._enable_sampling()
        self._refresh()

    # ----------------------------------------------------------------------------- settings

    def settings(self) -> dict[str, Any]:
        """The decoding settings of the controls, as generate() keyword arguments."""
        values: dict[str, Any] = {
            "max_new_tokens": int(self.max_new_tokens.value),
            "do_sample": bool(self.do_sample.value),
        }
        if values["do_sample"]:
            values["temperature"] = round(float(self.temperature.value), 4)
            values["top_k"] = int(self.top_k.value)
            values["top_p"] = round(float(self.top_p.value), 4)
        return values

    def generate_kwargs(self) -> dict[str, Any]:
        """Exactly what :meth:`generate` passes to ``model.generate`` besides the inputs."""
        return {**self.settings(), "pad_token_id": _pad_token_id(self.tokenizer)}

    def set(self, **values: Any) -> Playground:
        """Set controls by name (``prompt``, ``seed``, ``new_seed_each_time`` or a decoding
        setting); returns the playground, so ``pg.set(top_k=1).generate()`` works."""
        allowed = {"prompt", "seed", "new_seed_each_time", *CONTROLS}
        unknown = sorted(set(values) - allowed)
        if unknown:
            raise TypeError(f"the playground has no control {', '.join(unknown)}; "
                            f"controls: {', '.join(sorted(allowed))}")
        for name, value in values.items():
            getattr(self, name).value = value
        return self

    def code(self) -> str:
        """The Python that :meth:`generate` runs, for the current controls."""
        args = ", ".join(f"{k}={v!r}" for k, v in self.generate_kwargs().items())
        return (
            "from transformers import set_seed\n\n"
            f"set_seed({int(self.seed.value)})\n"
            f"inputs = tokenizer({self.prompt.value!r}, return_tensors=\"pt\").to(model.device)\n"
            f"output_ids = model.generate(**inputs, {args})\n"
            "new_ids = output_ids[0, inputs[\"input_ids\"].shape[1]:]\n"
            "text = tokenizer.decode(new_ids, skip_special_tokens=True)"
        )

    # ----------------------------------------------------------------------------- running

    def generate(self) -> PlaygroundRun:
        """Generate once with the current controls; show the text; return the run."""
        import torch
        from transformers import set_seed

        if self.new_seed_each_time.value:
            self.seed.value = random.randrange(2**31)
        seed = int(self.seed.value)
        prompt = self.prompt.value
        settings = self.settings()
        code = self.code()
        self.button.disabled = True
        try:
            set_seed(seed)
            inputs = self.tokenizer(prompt, return_tensors="pt").to(self._device())
            with torch.inference_mode():
                output_ids = self.model.generate(**inputs, **self.generate_kwargs())
            new_ids = output_ids[0, inputs["input_ids"].shape[1]:]
            text = self.tokenizer.decode(new_ids, skip_special_tokens=True)
            last = int(new_ids[-1]) if len(new_ids) else None
            stopped = ("end-of-sequence token" if last in _eos_ids(self.model, self.tokenizer)
                       else "max_new_tokens reached" if len(new_ids) >= settings["max_new_tokens"]
                       else "a stopping rule")
            run = PlaygroundRun(prompt, seed, settings, text, len(new_ids), stopped, code=code)
        except Exception as exc:  # a callback's exception would vanish: show it instead
            from helpers.diagnosis import diagnose

            diagnosis = diagnose(exc)
            message = f"{type(exc).__name__}: {exc}".splitlines()[0]
            run = PlaygroundRun(prompt, seed, settings, error=f"{message}\n{diagnosis}", code=code)
        finally:
            self.button.disabled = False
        self.history.append(run)
        self.output.value = self._render(run)
        return run

    @property
    def last(self) -> PlaygroundRun | None:
        """The latest run (``None`` before the first click)."""
        return self.history[-1] if self.history else None

    # ----------------------------------------------------------------------------- display

    def _device(self) -> Any:
        from helpers.generation import input_device

        return input_device(self.model)

    def _enable_sampling(self, _change: Any = None) -> None:
        for name in SAMPLING_ONLY:
            getattr(self, name).disabled = not self.do_sample.value

    def _refresh(self, _change: Any = None) -> None:
        self.call.value = (
            "<pre style='margin:2px 0;padding:6px 8px;white-space:pre-wrap;"
            "background:var(--jp-cell-editor-background, transparent);"
            "color:var(--jp-content-font-color1, inherit)'><code>"
            f"{html.escape(self.code())}</code></pre>"
        )

    def _render(self, run: PlaygroundRun) -> str:
        if run.error:
            style = _BOX.format(var="--jp-error-color1", fallback="#d32f2f")
            body = html.escape(run.error).replace("\n", "<br>")
            return f'<div class="fp-playground-error" role="status" style="{style}">{body}</div>'
        style = _BOX.format(var="--jp-brand-color1", fallback="#1976d2")
        muted = "color:var(--jp-ui-font-color2, #757575)"
        text = (f'<span style="{muted}">{html.escape(run.prompt)}</span>'
                f"<b>{html.escape(run.text)}</b>")
        mode = "sampled" if run.settings.get("do_sample") else "greedy"
        status = (f"{mode} · seed {run.seed} · {run.new_tokens} new tokens · "
                  f"stopped by: {run.stopped_by}")
        return (
            f'<div class="fp-playground-result" role="status" style="{style}">'
            f'<div style="white-space:pre-wrap">{text}</div>'
            f'<div style="{muted};font-size:90%;margin-top:4px">{html.escape(status)}</div></div>'
        )


def playground(model: Any, tokenizer: Any, prompt: str = "Once upon a time",
               **settings: Any) -> Playground:
    """A generation playground for ``model``: see :class:`Playground` for the settings.

    Tag the cell ``nbval-ignore-output``: the widget's text repr is not lesson content.
    """
    return Playground(model, tokenizer, prompt, **settings)


class _CallableModule(types.ModuleType):
    """``helpers.playground`` names both this module and the function :func:`playground`.

    ``helpers`` exports the function lazily, but importing this module (``from
    helpers.playground import Playground``) makes Python set the package attribute
    ``helpers.playground`` to the module. Calling the module calls the function, so
    ``helpers.playground(model, tokenizer)`` works in either order.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Playground:
        return playground(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
