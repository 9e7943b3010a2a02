"""The public names of ``helpers`` (lessons and instructors rely on them) all resolve."""

from __future__ import annotations

import subprocess
import sys

import pytest

import helpers


@pytest.mark.parametrize("name", helpers.__all__)
def test_public_name_resolves(name):
    assert getattr(helpers, name) is not None


def test_importing_helpers_stays_light():
    """The first cell of a lesson imports helpers before anything else: no torch yet."""
    code = "import sys, helpers; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_python_m_helpers_lists_its_commands():
    out = subprocess.run([sys.executable, "-m", "helpers", "--help"], capture_output=True,
                         text=True)
    assert out.returncode == 0
    for command in ("doctor", "prefetch", "notebooks"):
        assert command in out.stdout
