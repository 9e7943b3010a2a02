"""helpers.progress_bars: only transformers' short weight-loading bars go; every other bar
stays, and a long weight-loading bar shows up after all.

The end-to-end proofs (a download draws its bars in a terminal and in a notebook, a bundled
load draws none) are in tests/test_online.py; these check the hook itself, in this process.
"""

from __future__ import annotations

import io

import pytest
from transformers.utils import logging as tf_logging

from helpers import progress_bars
from helpers.progress_bars import (
    HIDDEN_BARS,
    hide_weight_loading_bars,
    weight_loading_bars_hidden,
)


@pytest.fixture
def clean_hook():
    """Bars on and no tqdm hook during the test; both as they were after it (another test in
    this process may have switched bars off)."""
    before = tf_logging.set_tqdm_hook(None)
    enabled = tf_logging.is_progress_bar_enabled()
    tf_logging.enable_progress_bar()
    yield
    tf_logging.set_tqdm_hook(before)
    if not enabled:
        tf_logging.disable_progress_bar()


def _drawn(desc: str, step_s: float = 0.0) -> str:
    """What transformers' tqdm writes for a bar named ``desc`` of three steps of ``step_s``
    seconds each (empty when hidden)."""
    import time

    stream = io.StringIO()
    bar = tf_logging.tqdm(range(3), desc=desc, file=stream, disable=False, mininterval=0)
    for _ in bar:
        time.sleep(step_s)
    bar.close()
    return stream.getvalue()


def test_only_the_weight_bars_are_hidden(clean_hook):
    assert {"Loading weights", "Writing model shards"} == HIDDEN_BARS
    assert "Loading weights" in _drawn("Loading weights")  # transformers' default: drawn
    hide_weight_loading_bars()
    assert _drawn("Loading weights") == "" and _drawn("Writing model shards") == ""
    assert "Some other work" in _drawn("Some other work")
    assert tf_logging.is_progress_bar_enabled()  # nothing was switched off globally


def test_a_weight_bar_that_runs_long_is_shown_after_all(clean_hook, monkeypatch):
    """A big model's load takes seconds: its bar appears once it has run SHOW_AFTER_S."""
    monkeypatch.setattr(progress_bars, "SHOW_AFTER_S", 0.2)
    hide_weight_loading_bars()
    assert _drawn("Loading weights") == ""
    slow = _drawn("Loading weights", step_s=0.15)
    assert "Loading weights" in slow and "3/3" in slow


def test_huggingface_hub_bars_stay_on(clean_hook):
    import huggingface_hub.utils as hub_utils

    hide_weight_loading_bars()
    assert not hub_utils.are_progress_bars_disabled()
    stream = io.StringIO()
    with hub_utils.tqdm(total=3, desc="model.safetensors", file=stream, disable=False) as bar:
        bar.update(3)
    assert "model.safetensors" in stream.getvalue()


def test_calling_it_again_changes_nothing(clean_hook):
    hide_weight_loading_bars()
    first = tf_logging.set_tqdm_hook(None)
    tf_logging.set_tqdm_hook(first)
    hide_weight_loading_bars()
    assert tf_logging.set_tqdm_hook(first) is first  # the same hook, not one wrapping another


def test_a_hook_set_before_keeps_working_and_comes_back(clean_hook):
    seen = []

    def mine(factory, args, kwargs):
        seen.append(kwargs.get("desc"))
        return factory(*args, **kwargs)

    tf_logging.set_tqdm_hook(mine)
    with weight_loading_bars_hidden():
        assert _drawn("Loading weights") == ""
        assert "Other" in _drawn("Other")
    assert seen == ["Other"]  # the hidden bar never reached it; the other one did
    assert tf_logging.set_tqdm_hook(mine) is mine  # restored after the block
    assert "Loading weights" in _drawn("Loading weights")


def test_the_block_restores_even_after_an_error(clean_hook):
    with pytest.raises(RuntimeError), weight_loading_bars_hidden():
        raise RuntimeError("load failed")
    assert tf_logging.set_tqdm_hook(None) is None
