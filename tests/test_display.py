"""Helper results show as readable text in IPython, not as a dataclass repr."""

from __future__ import annotations

from IPython.lib.pretty import pretty

import helpers
from helpers.doctor import Check, Checks


def test_results_pretty_print_as_their_table():
    for value in (helpers.recommend(), helpers.diagnose(ValueError("boom")),
                  Checks([Check("python", "OK", "3.11", "")])):
        assert pretty(value) == str(value)
        assert not pretty(value).startswith(type(value).__name__ + "(")
