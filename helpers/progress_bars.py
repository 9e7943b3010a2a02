"""Progress bars: hide transformers' sub-second "Loading weights" bar, keep the download bars.

transformers 5 draws a tqdm bar, ``desc="Loading weights"``, each time it loads a checkpoint
(``core_model_loading.py``, through ``transformers.utils.logging.tqdm``), and one named "Writing
model shards" each time ``save_pretrained`` writes one (``modeling_utils.py``). For the course's
models they last a fraction of a second and only clutter a lesson's stored outputs.
``transformers.logging.disable_progress_bar()`` hides it, but it also calls
``huggingface_hub.utils.disable_progress_bars()``: the download bars go too, and a learner whose
lesson downloads a hub model sees nothing for minutes.

Here only the short ones go: transformers' own hook (``transformers.utils.logging.set_tqdm_hook``)
gets a function that creates the bars named in :data:`HIDDEN_BARS` with tqdm's ``delay``: such a
bar shows nothing unless it is still running after :data:`SHOW_AFTER_S` seconds, so the
sub-second load of a small model draws nothing and the slow load of a big one still shows its
progress. Every other bar is created as before. huggingface_hub's download bars (tqdm's notebook
widget in JupyterLab, a text bar in a terminal) are drawn by its own tqdm class, never pass
through that hook, and stay on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

#: ``desc`` of the transformers bars that are hidden while short: reading and writing weights
HIDDEN_BARS = frozenset({"Loading weights", "Writing model shards"})
#: such a bar appears only once it has run this long (tqdm's ``delay``)
SHOW_AFTER_S = 2.0

TqdmHook = Callable[[Callable[..., Any], tuple[Any, ...], dict[str, Any]], Any]


def _hiding_hook(previous: TqdmHook | None) -> TqdmHook:
    """A tqdm hook that delays :data:`HIDDEN_BARS` by :data:`SHOW_AFTER_S` and leaves every
    other bar to ``previous`` (or to transformers' factory when there is none)."""

    def hook(factory: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if kwargs.get("desc") in HIDDEN_BARS:
            delay = max(float(kwargs.get("delay") or 0.0), SHOW_AFTER_S)
            return factory(*args, **{**kwargs, "delay": delay})
        if previous is not None:
            return previous(factory, args, kwargs)
        return factory(*args, **kwargs)

    hook.hides_weight_loading = True  # type: ignore[attr-defined]
    return hook


def _install() -> TqdmHook | None:
    """Install the hiding hook over the current one (once); returns the hook it replaced."""
    from transformers.utils.logging import set_tqdm_hook

    previous = set_tqdm_hook(None)
    if getattr(previous, "hides_weight_loading", False):
        set_tqdm_hook(previous)  # already hiding: leave it as it is
    else:
        set_tqdm_hook(_hiding_hook(previous))
    return previous


def hide_weight_loading_bars() -> None:
    """Hide transformers' "Loading weights" (and "Writing model shards") bars from now on while
    they last under :data:`SHOW_AFTER_S` seconds; keep every download bar.

    For the first cell of a lesson, instead of ``transformers.logging.disable_progress_bar()``,
    which also silences huggingface_hub's download bars. Calling it again changes nothing.
    """
    _install()


@contextlib.contextmanager
def weight_loading_bars_hidden() -> Iterator[None]:
    """Within the block, a short "Loading weights" bar is hidden (download bars stay); afterwards
    transformers' tqdm hook is what it was before."""
    from transformers.utils.logging import set_tqdm_hook

    previous = _install()
    try:
        yield
    finally:
        set_tqdm_hook(previous)


__all__ = ["HIDDEN_BARS", "SHOW_AFTER_S", "hide_weight_loading_bars",
           "weight_loading_bars_hidden"]
