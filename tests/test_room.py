"""``python -m helpers room``: the room's readiness and progress, from real doctor reports and
real progress files.

The doctor runs for real, three times in parallel subprocesses (about 6 s of CPU each, once per
module): with ``COURSE_MODEL`` pointing at a missing folder (it FAILs), offline with the bundled
models (it passes), and with the hub endpoint a closed local port (the hub check WARNs).
Progress files are written by :mod:`helpers.progress` itself, pointed at ``tmp_path``.
"""

from __future__ import annotations

import codecs
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import exercises, progress, quizzes
from helpers.doctor import Check, Checks
from helpers.room import cli, read_report, summarize

REPO = Path(__file__).resolve().parents[1]
PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
DROPPED = ("COURSE_MODEL", "COURSE_CHAT_MODEL", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
           "HF_ENDPOINT", *PROXIES)
MISSING_MODEL = "/nonexistent/from-pretrained-room-test/model"
CLOSED_HUB = "http://127.0.0.1:9"


def _doctor_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED}
    env.update(OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS="1", **extra)
    return env


@pytest.fixture(scope="module")
def doctor_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real ``python -m helpers doctor --json`` outputs: broken, ready, and ready with a warning."""
    folder = tmp_path_factory.mktemp("doctor-reports")
    runs = {
        "broken": _doctor_env(COURSE_MODEL=MISSING_MODEL, HF_HUB_OFFLINE="1"),
        "ready": _doctor_env(HF_HUB_OFFLINE="1"),
        "warned": _doctor_env(HF_ENDPOINT=CLOSED_HUB),
    }
    started = {}
    for name, env in runs.items():
        out = (folder / f"doctor-{name}.json").open("w", encoding="utf-8")
        process = subprocess.Popen([sys.executable, "-m", "helpers", "doctor", "--json"],
                                   cwd=REPO, env=env, stdout=out, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, text=True)
        started[name] = (process, out)
    reports = {}
    for name, (process, out) in started.items():
        _, stderr = process.communicate(timeout=180)
        out.close()
        expected_rc = 1 if name == "broken" else 0
        assert process.returncode == expected_rc, f"doctor ({name}) exited {process.returncode}:" \
            f"\n{stderr[-2000:]}\n{(folder / f'doctor-{name}.json').read_text()[-2000:]}"
        reports[name] = folder / f"doctor-{name}.json"
    return reports


def _statuses(path: Path) -> dict[str, str]:
    return {c["check"]: c["status"] for c in json.loads(path.read_text())}


@pytest.fixture(scope="module")
def room_folder(doctor_reports: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A room of four learners: two with the same broken setting, one ready, one warned."""
    room = tmp_path_factory.mktemp("room")
    for path in doctor_reports.values():
        shutil.copy(path, room / path.name)
    shutil.copy(doctor_reports["broken"], room / "doctor-broken-too.json")
    return room


def test_the_real_reports_are_what_the_room_test_needs(doctor_reports):
    broken, ready, warned = (_statuses(doctor_reports[n]) for n in ("broken", "ready", "warned"))
    assert broken["course model setting"] == broken["base model"] == "FAIL"
    assert broken["chat model"] == "OK"
    assert set(ready.values()) == {"OK"}, f"this machine itself warns or fails: {ready}"
    assert warned["hub"] == "WARN"
    assert {s for c, s in warned.items() if c != "hub"} == {"OK"}


def test_counts_ready_learners_and_the_checks_that_fail_most(room_folder, doctor_reports):
    doctor = summarize([room_folder]).doctor
    assert (doctor.learners, doctor.ready, doctor.ready_with_warnings, doctor.not_ready) == \
        (4, 2, 1, 2)
    assert sorted(Path(p).name for p in doctor.not_ready_files) == \
        ["doctor-broken-too.json", "doctor-broken.json"]
    table = [(c.check, c.fail, c.warn, c.message_count) for c in doctor.checks]
    assert table == [("base model", 2, 0, 2), ("course model setting", 2, 0, 2),
                     ("hub", 0, 1, 1)]
    setting = doctor.checks[1]
    assert setting.message.startswith(f"COURSE_MODEL={MISSING_MODEL}: ")
    broken = {c["check"]: c for c in json.loads(doctor_reports["broken"].read_text())}
    assert (setting.message, setting.fix) == (broken["course model setting"]["detail"],
                                              broken["course model setting"]["fix"])
    assert "127.0.0.1:9" in doctor.checks[2].message


def test_text_output_lists_the_room_for_an_instructor(room_folder, capsys):
    assert cli([str(room_folder)]) == 0
    out = capsys.readouterr().out
    assert "Doctor reports: 4 learner(s)" in out
    assert "ready: 2 (1 of them with warnings), not ready: 2" in out
    assert f"not ready: {room_folder / 'doctor-broken.json'}" in out
    lines = out.splitlines()
    base = next(i for i, line in enumerate(lines) if line.strip().startswith("base model"))
    hub = next(i for i, line in enumerate(lines) if line.strip().startswith("hub "))
    assert base < hub and "2 FAIL, 0 WARN" in lines[base] and "0 FAIL, 1 WARN" in lines[hub]
    assert lines[base + 1].strip().startswith("fix: ")


def test_json_output_for_scripts(room_folder, capsys):
    assert cli(["--json", str(room_folder)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["doctor"]["ready"] == 2 and data["doctor"]["not_ready"] == 2
    assert data["doctor"]["checks"][0]["check"] == "base model"
    assert data["skipped"] == [] and data["progress"]["learners"] == 0


# --------------------------------------------------------------------------- progress files


def _items(lesson: str) -> tuple[list[quizzes.Question], list[str]]:
    return list(quizzes.load_bank(lesson).questions), list(exercises.exercises(lesson))


@pytest.fixture
def progress_files(tmp_path, monkeypatch) -> Path:
    """Three learners' progress, recorded by helpers.progress into tmp_path/progress-NAME.json:
    ann finishes lesson 01 and answers one question of 02; ben gets one 01 question right after
    a wrong try, and breaks a solved 01 exercise again; cat only answers a 02 question wrongly."""
    monkeypatch.delenv(progress.SESSION_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # not a solutions/ folder: the API records
    questions, exercise_ids = _items("01")
    first_02 = quizzes.load_bank("02").questions[0].id

    def learner(name: str) -> None:
        monkeypatch.setenv(progress.ENV_VAR, str(tmp_path / f"progress-{name}.json"))

    learner("ann")
    for question in questions:
        if question.kind == "open":
            progress.record_open_answer("01", question.id, "my answer")
        else:
            progress.record_answer("01", question.id, True, "right")
    for exercise_id in exercise_ids:
        progress.record_exercise("01", exercise_id, True)
    progress.record_answer("02", first_02, True, "right")
    learner("ben")
    progress.record_answer("01", questions[0].id, False, "wrong")
    progress.record_answer("01", questions[0].id, True, "right")
    progress.record_answer("01", questions[0].id, False, "exploring")  # done stays done
    progress.record_exercise("01", exercise_ids[0], True)
    progress.record_exercise("01", exercise_ids[0], False, "broke it again")
    learner("cat")
    progress.record_answer("02", first_02, False, "wrong")
    return tmp_path


def test_progress_per_lesson_and_per_item(progress_files):
    room = summarize([progress_files]).progress
    assert room.learners == 3
    lessons = {lesson.lesson: lesson for lesson in room.lessons}
    assert set(quizzes.bank_lessons()) <= set(lessons)
    questions, exercise_ids = _items("01")
    one = lessons["01"]
    assert (one.completed, one.started) == (1, 2)
    assert one.title.startswith("01 ")
    assert [q.id for q in one.questions] == [q.id for q in questions]
    assert one.questions[0].done == 2 and all(q.done == 1 for q in one.questions[1:])
    assert [x.id for x in one.exercises] == exercise_ids
    assert one.exercises[0].done == 1  # ben's latest check of it said "not yet"
    two = lessons["02"]
    assert (two.completed, two.started, two.questions[0].done) == (0, 2, 1)
    assert all(lesson.started == 0 for n, lesson in lessons.items() if n not in {"01", "02"})


def test_progress_text_and_json(progress_files, capsys):
    assert cli([str(progress_files)]) == 0
    out = capsys.readouterr().out
    questions, _ = _items("01")
    assert "Progress files: 3 learner(s)" in out
    assert "01 · Loading a generation model: completed by 1/3, started by 2/3" in out
    assert f"question {questions[0].id}: 2/3" in out
    assert "not started by anyone yet" in out
    assert cli(["--json", str(progress_files)]) == 0
    data = json.loads(capsys.readouterr().out)
    lesson = next(x for x in data["progress"]["lessons"] if x["lesson"] == "01")
    assert (lesson["completed"], lesson["started"]) == (1, 2)


# --------------------------------------------------------------------------- bad input


def test_bad_files_are_reported_by_name_and_skipped(doctor_reports, tmp_path, capsys):
    real = doctor_reports["ready"].read_text(encoding="utf-8")
    as_text = str(Checks(Check(**c) for c in json.loads(real)))
    files = {
        "doctor-text.json": as_text.encode(),
        "broken.json": real[: len(real) // 2].encode(),
        "empty.json": b"",
        "other.json": b'{"name": "not a report"}',
        "list.json": b'[{"name": "x"}]',
        "status.json": json.dumps([{"check": "python", "status": "MAYBE", "detail": "",
                                    "fix": ""}]).encode(),
        "lessons.json": b'{"version": 1, "lessons": {"01": {"questions": []}}}',
        "binary.json": bytes(range(256)),
        # Windows PowerShell 5 writes `>` redirections as UTF-16: still a real report
        "doctor-powershell.json": codecs.BOM_UTF16_LE + real.encode("utf-16-le"),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "empty-folder").mkdir()
    code = cli([str(tmp_path), str(tmp_path / "missing.json"), str(tmp_path / "empty-folder")])
    captured = capsys.readouterr()
    assert code == 0 and "Traceback" not in captured.out + captured.err
    assert "Doctor reports: 1 learner(s)" in captured.out  # the UTF-16 one
    skipped = captured.out.split("Skipped", 1)[1]
    reasons = {
        "doctor-text.json": "doctor's text output",
        "broken.json": "not valid JSON",
        "empty.json": "is empty",
        "other.json": "neither a doctor report",
        "list.json": "item 1 is not a doctor check",
        "status.json": "'MAYBE'",
        "lessons.json": '"questions" is not an object',
        "binary.json": "not a text file",
        "missing.json": "no such file or folder",
        "empty-folder": "holds no .json files",
    }
    for name, reason in reasons.items():
        line = next((ln for ln in skipped.splitlines() if f"{name}:" in ln), None)
        assert line is not None and reason in line, f"{name}: {line!r}"
    assert f"Skipped {len(reasons)} path(s)" in captured.out


def test_nothing_readable_exits_1(tmp_path, capsys):
    (tmp_path / "notes.json").write_text("[1, 2]")
    assert cli([str(tmp_path / "notes.json")]) == 1
    out = capsys.readouterr().out
    assert "No doctor reports or progress files found." in out
    assert "item 1 is not a doctor check" in out


def test_read_report_tells_the_kinds_apart(doctor_reports, progress_files):
    kind, checks = read_report(doctor_reports["warned"])
    assert kind == "doctor" and {c["check"] for c in checks} >= {"hub", "base model"}
    kind, lessons = read_report(progress_files / "progress-ann.json")
    assert kind == "progress" and set(lessons) == {"01", "02"}
