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
    monkeypatch.delenv(progress.SESSION_ENV, raising=False)  # as if no notebook ran these
    return path


def test_default_location_is_the_user_data_dir_not_the_repository(monkeypatch):
    from platformdirs import user_data_dir

    monkeypatch.delenv(progress.ENV_VAR, raising=False)
    path = progress.progress_path()
    assert path == Path(user_data_dir("from-pretrained", appauthor=False)) / "progress.json"
    assert ROOT not in path.parents


def test_environment_variable_overrides_the_location(progress_file):
    assert progress.progress_path() == progress_file


def test_the_file_s_folders_are_created(tmp_path, monkeypatch):
    path = tmp_path / "a" / "b" / "progress.json"  # a fresh user data dir: several levels
    monkeypatch.setenv(progress.ENV_VAR, str(path))
    monkeypatch.delenv(progress.SESSION_ENV, raising=False)
    progress.record_answer("01", "default-dtype", True)
    assert json.loads(path.read_text())["lessons"]["01"]


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


def test_an_exercise_follows_its_latest_check(progress_file):
    """The summary must agree with the check cell above it: a broken solution is "not yet"."""
    progress.record_exercise("00", "course-model-name", True)
    record = progress.record_exercise("00", "course-model-name", False, "broke it")
    assert record["correct"] is False and record["last_correct"] is False
    assert record["attempts"] == 2
    assert progress.progress_summary("00")[0].exercises_done == 0
    progress.record_exercise("00", "course-model-name", True)
    assert progress.progress_summary("00")[0].exercises_done == 1


def test_a_question_stays_done_once_answered_correctly(progress_file):
    """Reading the other options' explanations afterwards does not undo a solved question."""
    progress.record_answer("01", "default-dtype", True, "torch.float32")
    record = progress.record_answer("01", "default-dtype", False, "torch.bfloat16")
    assert record["correct"] is True and record["last_correct"] is False
    assert record["last_answer"] == "torch.bfloat16"
    assert progress.progress_summary("01")[0].questions_done == 1


def test_an_open_question_is_done_once_its_model_answer_was_shown(progress_file):
    open_id = next(q.id for q in load_bank("01").questions if q.kind == "open")
    assert progress.progress_summary("01")[0].questions_done == 0
    record = progress.record_open_answer("01", open_id)
    assert (record["correct"], record["last_correct"], record["revealed"], record["text"]) == (
        True, True, True, "")
    assert progress.progress_summary("01")[0].questions_done == 1
    stored = progress.lesson_record("01")["questions"][open_id]
    assert stored["revealed"] is True and stored["correct"] is True and stored["attempts"] == 1
    progress.record_open_answer("01", open_id, "my second try")
    stored = progress.lesson_record("01")["questions"][open_id]
    assert (stored["attempts"], stored["text"], stored["correct"]) == (2, "my second try", True)


def test_check_follows_the_latest_verdict(progress_file):
    exercises.check("00", "course-model-name", course_model_name=helpers_name())
    assert progress.lesson_record("00")["exercises"]["course-model-name"]["correct"] is True
    exercises.check("00", "course-model-name", course_model_name="no such model")
    assert progress.lesson_record("00")["exercises"]["course-model-name"]["correct"] is False


def helpers_name() -> str:
    from helpers.hub import course_model_name

    return course_model_name()


def test_repeated_writes_leave_no_temporary_files(progress_file):
    for n in range(5):
        progress.record_answer("01", f"q{n}", True)
    assert [p.name for p in progress_file.parent.iterdir()] == ["progress.json"]
    json.loads(progress_file.read_text())


def _half_written(data, handle, **kwargs):
    """json.dump that dies midway, as on a full disk or a killed kernel."""
    handle.write(json.dumps(data, **kwargs)[:20])
    handle.flush()
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("where", ["json.dump", "os.replace"])
def test_a_write_that_fails_midway_leaves_the_old_file_intact(progress_file, monkeypatch, where):
    """Atomicity for real: the new content goes to a temporary file in the same folder and only
    a rename puts it in place, so a failure at any point leaves the previous file whole."""
    progress.record_answer("01", "default-dtype", True, "torch.float32")
    before = progress_file.read_bytes()
    progress._warned.clear()
    if where == "json.dump":
        monkeypatch.setattr(progress.json, "dump", _half_written)
    else:
        def fail_replace(src, dst):
            assert Path(src).parent == Path(dst).parent  # a rename within one file system
            assert Path(src).read_text().startswith("{")  # the complete new content
            raise OSError(5, "Input/output error")

        monkeypatch.setattr(progress.os, "replace", fail_replace)
    with pytest.warns(progress.ProgressWarning, match="could not save progress"):
        record = progress.record_answer("01", "dtype-keyword", True, "dtype")
    assert record["correct"] is True  # the lesson goes on
    assert progress_file.read_bytes() == before
    assert [p.name for p in progress_file.parent.iterdir()] == ["progress.json"]  # no temp file
    monkeypatch.undo()
    monkeypatch.setenv(progress.ENV_VAR, str(progress_file))
    monkeypatch.delenv(progress.SESSION_ENV, raising=False)
    progress.record_answer("01", "dtype-keyword", True, "dtype")  # and the next write works
    assert set(progress.lesson_record("01")["questions"]) == {"default-dtype", "dtype-keyword"}


def test_a_reader_never_sees_a_partial_file(progress_file):
    """A second process (another notebook's kernel) reading while this one writes."""
    import threading

    progress.record_answer("01", "q-first", True)
    stop = threading.Event()
    seen, broken = [], []

    def read():
        while not stop.is_set():
            text = progress_file.read_text()
            try:
                seen.append(json.loads(text))
            except ValueError:
                broken.append(text)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(40):
            progress.record_answer("01", f"q{n}", True, "x" * 2000)
    finally:
        stop.set()
        reader.join(timeout=30)
    assert not broken, f"{len(broken)} partial reads, e.g. {broken[0][:60]!r}"
    assert seen and all("lessons" in data for data in seen)


def test_a_corrupt_file_is_reported_kept_aside_and_replaced(progress_file):
    progress_file.parent.mkdir(parents=True)
    progress_file.write_text('{"version": 1, "lessons": {"01": ')  # truncated write
    with pytest.warns(progress.ProgressWarning, match="unreadable"):
        assert progress.load_progress()["lessons"] == {}
    backups = list(progress_file.parent.glob("progress.json.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_text().startswith('{"version"')
    import re

    assert re.fullmatch(r"progress\.json\.corrupt-20\d{6}-\d{6}", backups[0].name)
    progress.record_answer("01", "default-dtype", True)
    assert json.loads(progress_file.read_text())["lessons"]["01"]["questions"]["default-dtype"]


def test_a_corrupt_file_that_cannot_be_moved_aside_still_starts_afresh(progress_file,
                                                                       monkeypatch):
    progress_file.parent.mkdir(parents=True)
    progress_file.write_text("{not json")

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(progress.os, "replace", refuse)
    with pytest.warns(progress.ProgressWarning, match="unreadable"):
        assert progress.load_progress() == {"version": 1, "lessons": {}}


@pytest.mark.parametrize(
    "content",
    ["[]", '{"lessons": []}', '{"lessons": {"01": {"questions": []}}}', "\x00\x01", "",
     '{"lessons": {"01": []}}', '{"lessons": {"01": {"exercises": []}}}',
     '{"lessons": {"01": {"exercises": {"chat-class": true}}}}',
     '{"lessons": {"01": {"questions": {"default-dtype": 1}}}}'],
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


def test_a_reset_whose_backup_cannot_be_written_still_resets(progress_file):
    progress.record_answer("01", "default-dtype", True)
    # a folder where the backup goes, holding a folder of the file's name: copying fails
    (progress_file.with_name("progress.json.bak") / "progress.json").mkdir(parents=True)
    assert progress.reset_progress("01") == 1
    assert progress.lesson_record("01")["questions"] == {}


def test_exercise_defaults_and_lessons_known_only_from_the_file(progress_file):
    record = progress.record_exercise("00", "course-model-name", True)
    assert record["last_message"] == ""
    progress.record_answer("42", "retired-question", True)  # a lesson no longer in the course
    lines = str(progress.progress_summary()).splitlines()
    assert "42: 0/0 questions, 0/0 exercises" in lines
    assert str(progress.ProgressSummary()) == "no lessons yet"
    assert repr(progress.ProgressSummary()) == "no lessons yet"


def test_summary_of_a_lesson_without_a_bank(progress_file):
    assert str(progress.progress_summary("42")) == "42: 0/0 questions, 0/0 exercises"


# --------------------------------------------------------------------------- solutions never record


@pytest.fixture
def learner_file(progress_file, monkeypatch):
    """A learner's progress file with something in it, and no notebook session around."""
    monkeypatch.delenv(progress.SESSION_ENV, raising=False)
    progress.record_answer("01", "default-dtype", True, "torch.float32")
    return progress_file


@pytest.mark.parametrize(
    "session",
    ["solutions/01_loading.ipynb", str(ROOT / "solutions" / "00_start_here.ipynb")],
)
def test_a_jupyter_session_of_a_solution_records_nothing(learner_file, monkeypatch, session):
    before = learner_file.read_bytes()
    monkeypatch.setenv(progress.SESSION_ENV, session)
    assert progress.solution_run() and "solution notebook" in progress.solution_run()
    record = progress.record_answer("01", "dtype-keyword", True)
    assert record["recorded"] is False and record["correct"] is True
    assert "solution notebook" in record["reason"]
    progress.record_exercise("00", "course-model-name", True)
    progress.record_open_answer("01", "slow-generation", "x")
    result = exercises.check("00", "course-model-name", course_model_name="nope")
    assert result.correct is False and "nope" in result.message  # the check itself still works
    assert learner_file.read_bytes() == before


@pytest.mark.parametrize(
    "session", ["notebooks/01_loading.ipynb", "my-work/01_loading.ipynb", "solutions/notes.ipynb"]
)
def test_other_sessions_record(learner_file, monkeypatch, session):
    monkeypatch.setenv(progress.SESSION_ENV, session)
    assert progress.solution_run() is None
    assert progress.record_answer("01", "dtype-keyword", True)["correct"] is True
    assert "dtype-keyword" in progress.lesson_record("01")["questions"]


def test_a_kernel_in_the_solutions_folder_records_nothing(learner_file, monkeypatch):
    """nbval and nbclient set no session name; they start the kernel in the notebook's folder."""
    before = learner_file.read_bytes()
    monkeypatch.chdir(ROOT / "solutions")
    assert "solutions" in (progress.solution_run() or "")
    progress.record_exercise("00", "course-model-name", True)
    assert learner_file.read_bytes() == before
    monkeypatch.chdir(ROOT / "notebooks")
    assert progress.solution_run() is None


def test_only_a_solutions_folder_of_lessons_counts(learner_file, monkeypatch, tmp_path):
    folder = tmp_path / "solutions"
    folder.mkdir()
    monkeypatch.chdir(folder)
    assert progress.solution_run() is None  # a folder of that name, but no lessons in it
    (folder / "03_batching.ipynb").write_text("{}")
    assert progress.solution_run() is not None


_PROBE_NOTEBOOK = [
    "import os, helpers\nfrom helpers import progress",
    "helpers.check('00', 'course-model-name', course_model_name=helpers.course_model_name())",
    "widget = helpers.quiz('01', 'default-dtype')\n"
    "widget.select('torch.float32, the dtype the checkpoint was saved in')\n"
    "widget.check_button.click()\n"
    "print(os.getcwd(), '|', progress.solution_run())",
]


def _run_with_nbclient(notebook, cwd):
    from nbclient import NotebookClient

    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return notebook


def _probe(cwd):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(code) for code in _PROBE_NOTEBOOK]
    _run_with_nbclient(notebook, cwd)
    return "".join(o.get("text", "") for o in notebook.cells[-1].outputs)


def test_running_solutions_with_nbclient_leaves_the_learners_progress_untouched(
    learner_file, monkeypatch, tmp_path
):
    """The real thing: kernels started by nbclient in solutions/ (as nbval and
    ``python -m helpers execute`` start them) check exercises and answer a quiz, and the
    learner's file does not change; the same cells run from notebooks/ do record."""
    import nbformat

    before = learner_file.read_bytes()
    mtime = learner_file.stat().st_mtime_ns
    printed = _probe(ROOT / "solutions")
    assert printed.startswith(str(ROOT / "solutions")) and "solutions" in printed.split("|")[1]
    lesson_00 = nbformat.read(ROOT / "solutions" / "00_start_here.ipynb", as_version=4)
    _run_with_nbclient(lesson_00, ROOT / "solutions")
    assert learner_file.read_bytes() == before
    assert learner_file.stat().st_mtime_ns == mtime

    printed = _probe(ROOT / "notebooks")  # the control: a learner's run is recorded
    assert printed.strip().endswith("| None")
    record = progress.lesson_record("01")["questions"]["default-dtype"]
    assert record["attempts"] == 2
    assert progress.lesson_record("00")["exercises"]["course-model-name"]["correct"] is True


# --------------------------------------------------------------------------- reset


def test_reset_one_lesson_or_everything(progress_file):
    progress.record_answer("01", "default-dtype", True)
    progress.record_exercise("01", "chat-class", True)
    progress.record_exercise("00", "course-model-name", True)
    assert progress.reset_progress("1") == 2
    assert progress.lesson_record("01") == {"questions": {}, "exercises": {}}
    assert progress.lesson_record("00")["exercises"]
    backup = progress_file.with_name("progress.json.bak")
    assert "default-dtype" in backup.read_text()  # the file before the reset, kept
    assert progress.reset_progress("01") == 0
    assert progress.reset_progress() == 1
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the file after a reset is valid, not "corrupt"
        assert progress.load_progress() == {"version": 1, "lessons": {}}
    assert json.loads(progress_file.read_text())["lessons"] == {}
    assert progress.reset_progress() == 0


def test_progress_cli_help_names_the_command_and_the_option(capsys):
    with pytest.raises(SystemExit) as info:
        progress.cli(["--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith("usage: python -m helpers progress [-h] [--reset [NN]]")
    assert "[--reset [NN]] Show what you have done in each lesson, or forget it and start " \
        "over. options:" in out
    assert "--reset [NN] forget the progress of lesson NN, or of every lesson when NN is left " \
        "out" in out


def test_reset_is_exported_from_helpers():
    import helpers

    assert helpers.reset_progress is progress.reset_progress


def test_python_m_helpers_progress_shows_and_resets(progress_file, capsys):
    from helpers.__main__ import main

    progress.record_answer("01", "default-dtype", True)
    progress.record_exercise("00", "course-model-name", True)
    assert main(["progress"]) == 0
    out = capsys.readouterr().out
    assert f"Progress file: {progress_file}" in out
    assert "01: 1/" in out and "00: 0/" in out
    assert main(["progress", "--reset", "01"]) == 0
    out = capsys.readouterr().out
    assert "Forgot 1 recorded question(s) and exercise(s) of lesson 01." in out
    assert f"The file before the reset is kept as progress.json.bak next to {progress_file}." in out
    assert "01: 0/" in out
    assert main(["progress", "--reset"]) == 0
    assert "of every lesson" in capsys.readouterr().out
    assert progress.load_progress()["lessons"] == {}
    assert main(["progress", "--reset"]) == 0
    assert "nothing to reset" in capsys.readouterr().out
    assert main(["progress", "--reset", "x1"]) == 2
    assert "lesson" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "progress" in capsys.readouterr().out


# --------------------------------------------------------------------------- my-work


def test_my_work_copies_the_lessons_once_and_never_overwrites(tmp_path, capsys):
    from helpers import my_work
    from helpers.__main__ import main

    (tmp_path / "notebooks").mkdir()
    for name in ("00_start_here.ipynb", "01_loading.ipynb", "scratch.ipynb"):
        (tmp_path / "notebooks" / name).write_text(f'{{"lesson": "{name}"}}')
    assert main(["my-work", "--root", str(tmp_path)]) == 0
    assert "copied  my-work/00_start_here.ipynb" in capsys.readouterr().out
    mine = tmp_path / "my-work" / "01_loading.ipynb"
    assert sorted(p.name for p in mine.parent.iterdir()) == ["00_start_here.ipynb",
                                                              "01_loading.ipynb"]
    mine.write_text("my answers")
    (tmp_path / "notebooks" / "02_tokenizers.ipynb").write_text("{}")  # a course update
    copied, kept = my_work.copy_lessons(tmp_path)
    assert [p.name for p in copied] == ["02_tokenizers.ipynb"]
    assert mine in kept and mine.read_text() == "my answers"


def test_my_work_is_ignored_by_git_and_opened_by_the_course_config(tmp_path):
    import subprocess

    ignored = subprocess.run(["git", "check-ignore", "-q", "my-work/01_loading.ipynb"],
                             cwd=ROOT, check=False)
    assert ignored.returncode == 0, "my-work/ must be in .gitignore"
    import shutil

    from traitlets.config.loader import PyFileConfigLoader

    shutil.copytree(ROOT / ".jupyter", tmp_path / ".jupyter",
                    ignore=shutil.ignore_patterns("workspaces", "__pycache__"))
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "00_start_here.ipynb").write_text("{}")

    def default_url():
        loader = PyFileConfigLoader("jupyter_server_config.py", path=str(tmp_path / ".jupyter"))
        return loader.load_config().LabApp.default_url

    assert default_url() == "/lab/tree/notebooks/00_start_here.ipynb"
    (tmp_path / "my-work").mkdir()
    (tmp_path / "my-work" / "00_start_here.ipynb").write_text("{}")
    assert default_url() == "/lab/tree/my-work/00_start_here.ipynb"
