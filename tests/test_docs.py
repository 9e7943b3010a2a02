"""The documents a learner and an instructor read first stay true to the repository."""

from __future__ import annotations

import re
from pathlib import Path

from helpers.diagnosis import RULES

ROOT = Path(__file__).resolve().parents[1]
ALIASES = {"corrupt-safetensors-message": "corrupt-safetensors", "cuda-oom-message": "cuda-oom",
           "python-memory-error": "cpu-oom", "bad-dtype-integer": "bad-dtype",
           "bad-dtype-type": "bad-dtype", "course-error": None}


def test_every_diagnosis_rule_is_in_the_troubleshooting_index():
    text = (ROOT / "docs" / "troubleshooting.md").read_text()
    for rule in RULES:
        name = ALIASES.get(rule.name, rule.name)
        if name:
            assert f"[{name}]" in text, f"docs/troubleshooting.md lacks [{name}]"


def test_readme_links_point_at_files_that_exist():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)#]+?)\)", readme)
    local = [link for link in links if not link.startswith("http")]
    assert local, "README.md should link the lessons and docs"
    for link in local:
        assert (ROOT / link).exists(), f"README.md links {link}, which does not exist"


def test_readme_lists_every_lesson():
    from helpers.course import lessons

    readme = (ROOT / "README.md").read_text()
    for lesson in lessons(ROOT):
        name = lesson.notebook.name
        assert f"notebooks/{name}" in readme, f"README.md misses {name}"
