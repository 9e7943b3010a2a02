"""Learner progress: a small JSON file outside the repository that never breaks a lesson."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import exercises, progress
from helpers.quizzes import load_bank

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def progress_file(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "progress.json"
    monkeypatch.setenv(progress.ENV_VAR, str(path))
    return path


def test_default_location_is_the_user_data_dir_not_the_repository(monkeypatch):
    from platformdirs import user_data_dir

    monkeypatch.delenv(progress.ENV_VAR, raising=False)
    path = progress.progress_path()
    assert path == Path(user_data_dir("from-pretrained", appauthor=False)) / "progress.json"
    assert ROOT not in path.parents


def test_environment_variable_overrides_the_location(progress_file):
    assert progress.progress_path() == progress_file


def test_nothing_recorded_yet(progress_file):
    assert progress.load_progress() == {"version": 1, "lessons": {}}
    assert not progress_file.exists()


def test_answers_are_written_and_read_back(progress_file):
    progress.record_answer("01", "default-dtype", False, "torch.bfloat16")
    progress.record_answer(1, "default-dtype", True, "torch.float32")
    progress.record_open_answer("01", "slow-generation", "offloading")
    progress.record_exercise("00", "course-model-name", False, "not set")
    data = json.loads(progress_file.read_text())
    question = data["lessons"]["01"]["questions"]["default-dtype"]
    assert question["attempts"] == 2 and question["correct"] is True
    assert question["last_answer"] == "torch.float32"
    assert data["lessons"]["01"]["questions"]["slow-generation"]["text"] == "offloading"
    exercise = progress.lesson_record("00")["exercises"]["course-model-name"]
    assert exercise["last_message"] == "not set"


def test_solved_stays_solved_but_the_last_result_is_kept(progress_file):
    progress.record_exercise("00", "course-model-name", True)
    record = progress.record_exercise("00", "course-model-name", False, "broke it")
    assert record["correct"] is True
    assert record["last_correct"] is False
    assert record["attempts"] == 2


def test_writes_are_atomic_and_leave_no_temporary_files(progress_file):
    for n in range(5):
        progress.record_answer("01", f"q{n}", True)
    assert [p.name for p in progress_file.parent.iterdir()] == ["progress.json"]
    json.loads(progress_file.read_text())


def test_a_corrupt_file_is_reported_kept_aside_and_replaced(progress_file):
    progress_file.parent.mkdir(parents=True)
    progress_file.write_text('{"version": 1, "lessons": {"01": ')  # truncated write
    with pytest.warns(progress.ProgressWarning, match="unreadable"):
        assert progress.load_progress()["lessons"] == {}
    backups = list(progress_file.parent.glob("progress.json.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_text().startswith('{"version"')
    progress.record_answer("01", "default-dtype", True)
    assert json.loads(progress_file.read_text())["lessons"]["01"]["questions"]["default-dtype"]


@pytest.mark.parametrize(
    "content",
    ["[]", '{"lessons": []}', '{"lessons": {"01": {"questions": []}}}', "\x00\x01", ""],
)
def test_files_of_the_wrong_shape_count_as_corrupt(progress_file, content):
    progress_file.parent.mkdir(parents=True)
    progress_file.write_text(content)
    with pytest.warns(progress.ProgressWarning):
        record = progress.record_answer("01", "default-dtype", True)
    assert record["correct"] is True


def test_an_unwritable_location_warns_once_and_never_raises(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(progress.ENV_VAR, str(blocker / "progress.json"))
    with pytest.warns(progress.ProgressWarning) as caught:
        progress.record_answer("01", "default-dtype", True)
    messages = [str(w.message) for w in caught]
    assert any(m.startswith("could not read progress file") for m in messages)
    assert any(m.startswith("could not save progress") for m in messages)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        progress.record_answer("01", "default-dtype", True)  # no second warning


def test_summary_has_one_line_per_lesson(progress_file):
    total_01 = len(load_bank("01").questions)
    progress.record_answer("01", "default-dtype", True)
    progress.record_answer("01", "dtype-keyword", False)
    progress.record_answer("01", "no-longer-in-the-bank", True)  # stale ids do not count
    progress.record_exercise("00", "course-model-name", True)
    exercises_01 = len(exercises.exercises("01"))
    summary = progress.progress_summary()
    lines = str(summary).splitlines()
    assert f"01: 1/{total_01} questions, 0/{exercises_01} exercises" in lines
    assert f"00: 0/{len(load_bank('00').questions)} questions, 1/1 exercises" in lines
    assert lines == sorted(lines)
    assert repr(summary) == str(summary)
    one = progress.progress_summary("1")
    assert str(one) == f"01: 1/{total_01} questions, 0/{exercises_01} exercises"
    assert one[0].questions_done == 1


def test_summary_of_a_lesson_without_a_bank(progress_file):
    assert str(progress.progress_summary("42")) == "42: 0/0 questions, 0/0 exercises"
