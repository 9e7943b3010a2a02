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


def test_no_test_module_changes_the_environment_at_import():
    """An os.environ change at import leaks into every later test and every nbval kernel, so a
    full run and a single-file run would test different things (HF_HUB_OFFLINE once did)."""
    import ast
    from pathlib import Path

    for path in sorted(Path(__file__).parent.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:  # module level only: fixtures and functions may use monkeypatch
            text = ast.unparse(node)
            assert "os.environ" not in text or not isinstance(node, ast.Expr | ast.Assign), (
                f"{path.name} changes os.environ at import: {text[:80]}")
