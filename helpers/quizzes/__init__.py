"""The quiz bank: one YAML file per lesson (``01.yaml``), loaded and validated here.

Questions are data so that authors edit text, not widget code, and so that a lint test can
check every question (ids, correct options, an explanation for every option) before a learner
sees it. File format::

    lesson: "01"
    title: Loading a generation model
    questions:
      - id: default-dtype            # unique within the lesson, lowercase-with-dashes
        kind: choice                 # choice | predict | open
        prompt: |                    # `inline code` and ``` fenced blocks are rendered
          What dtype ...?
        code: |                      # predict only: the cell whose output is predicted
          print(...)
        options:                     # choice and predict
          - text: torch.float32
            correct: true
            explanation: Why this is right (or wrong), specific to this option.
        hint: Optional nudge shown by the hint button.
        answer: Model answer (open questions; revealed on request).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from helpers.course import lesson_id

BANK_DIR = Path(__file__).resolve().parent
KINDS = ("choice", "predict", "open")
_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_LESSON_RE = re.compile(r"^\d\d$")


class QuizBankError(ValueError):
    """A bank file that cannot be used; the message lists every problem with its location."""


@dataclass(frozen=True)
class Option:
    """One answer a learner can pick, and why it is right or wrong."""

    text: str
    explanation: str
    correct: bool = False


@dataclass(frozen=True)
class Question:
    """One comprehension question of a lesson."""

    lesson: str
    id: str
    kind: str
    prompt: str
    options: tuple[Option, ...] = ()
    hint: str | None = None
    answer: str | None = None
    code: str | None = None

    @property
    def correct_indices(self) -> tuple[int, ...]:
        """Positions (in bank order) of the correct options."""
        return tuple(i for i, option in enumerate(self.options) if option.correct)

    @property
    def key(self) -> str:
        """``"01/default-dtype"``: unique across the whole bank."""
        return f"{self.lesson}/{self.id}"


@dataclass(frozen=True)
class QuizBank:
    """All questions of one lesson, in the order the lesson asks them."""

    lesson: str
    title: str
    questions: tuple[Question, ...]
    source: Path | None = None

    def question(self, question_id: str) -> Question:
        """The question with this id (``KeyError`` lists the valid ids)."""
        for question in self.questions:
            if question.id == question_id:
                return question
        ids = ", ".join(q.id for q in self.questions)
        raise KeyError(f"lesson {self.lesson} has no question {question_id!r}; it has: {ids}")


def bank_lessons() -> list[str]:
    """Lessons that have a quiz bank file, sorted."""
    return sorted(p.stem for p in BANK_DIR.glob("*.yaml") if _LESSON_RE.match(p.stem))


def bank_path(lesson: str | int) -> Path:
    """Where the bank file of a lesson lives (it may not exist)."""
    return BANK_DIR / f"{lesson_id(lesson)}.yaml"


def load_bank(lesson: str | int) -> QuizBank:
    """Load and validate a lesson's bank (re-read only when the file changes)."""
    path = bank_path(lesson)
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        have = ", ".join(bank_lessons()) or "none"
        raise QuizBankError(
            f"no quiz bank for lesson {lesson_id(lesson)} ({path}); banks: {have}"
        ) from None
    return _load_cached(path, stamp)


@functools.lru_cache(maxsize=64)
def _load_cached(path: Path, stamp: int) -> QuizBank:
    return load_bank_file(path)


def load_bank_file(path: str | Path) -> QuizBank:
    """Load and validate one bank file (any path: authors can check a draft before moving it)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise QuizBankError(f"{path}: not valid YAML: {exc}") from exc
    return parse_bank(data, source=path)


def parse_bank(data: Any, source: str | Path | None = None) -> QuizBank:
    """Build a :class:`QuizBank` from parsed YAML, collecting every problem before failing."""
    where = str(source) if source is not None else "<quiz bank>"
    problems: list[str] = []
    if not isinstance(data, dict):
        raise QuizBankError(
            f"{where}: the top level must be a mapping with lesson, title, questions"
        )
    _unknown_keys(data, {"lesson", "title", "questions"}, "top level", problems)
    lesson = str(data.get("lesson", "")).strip()
    if not _LESSON_RE.match(lesson):
        problems.append(
            f'top level: `lesson` must be two digits in quotes, e.g. "01" (got {lesson!r})'
        )
    stem = Path(source).stem if source is not None else None
    if stem and _LESSON_RE.match(stem) and lesson != stem:
        problems.append(f"top level: `lesson` is {lesson!r} but the file is named {stem}.yaml")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.append("top level: `title` (the lesson's title) is missing")
    raw_questions = data.get("questions")
    questions: list[Question] = []
    if not isinstance(raw_questions, list) or not raw_questions:
        problems.append("top level: `questions` must be a non-empty list")
        raw_questions = []
    seen: set[str] = set()
    for number, raw in enumerate(raw_questions, start=1):
        question = _parse_question(raw, lesson, number, problems)
        if question is None:
            continue
        if question.id in seen:
            problems.append(f"question {number} ({question.id}): id is used twice in this lesson")
        seen.add(question.id)
        questions.append(question)
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise QuizBankError(f"{where}: {len(problems)} problem(s):\n{listing}")
    return QuizBank(lesson, str(title).strip(), tuple(questions), Path(source) if source else None)


def _parse_question(raw: Any, lesson: str, number: int, problems: list[str]) -> Question | None:
    if not isinstance(raw, dict):
        problems.append(f"question {number}: must be a mapping with id, kind, prompt, ...")
        return None
    qid = str(raw.get("id", "")).strip()
    at = f"question {number} ({qid or 'no id'})"
    if not _ID_RE.match(qid):
        problems.append(f"{at}: `id` must be lowercase words joined by dashes, e.g. default-dtype")
    kind = raw.get("kind")
    if kind not in KINDS:
        problems.append(f"{at}: `kind` must be one of {', '.join(KINDS)} (got {kind!r})")
    _unknown_keys(raw, {"id", "kind", "prompt", "options", "hint", "answer", "code"}, at, problems)
    prompt = _text(raw, "prompt", at, problems, required=True)
    hint = _text(raw, "hint", at, problems)
    answer = _text(raw, "answer", at, problems, required=kind == "open")
    code = _text(raw, "code", at, problems, required=kind == "predict")
    if kind != "predict" and code is not None:
        problems.append(f"{at}: `code` belongs to predict questions; put code in the prompt")
    options: list[Option] = []
    raw_options = raw.get("options")
    if kind == "open":
        if raw_options:
            problems.append(f"{at}: open questions have a model `answer`, not `options`")
    elif kind in ("choice", "predict"):
        if not isinstance(raw_options, list) or len(raw_options) < 2:
            problems.append(f"{at}: needs a list of at least 2 `options`")
            raw_options = raw_options if isinstance(raw_options, list) else []
        for i, raw_option in enumerate(raw_options, start=1):
            option = _parse_option(raw_option, f"{at} option {i}", problems)
            if option is not None:
                options.append(option)
        texts = [o.text for o in options]
        if len(set(texts)) != len(texts):
            problems.append(f"{at}: two options have the same text")
        if options and not any(o.correct for o in options):
            problems.append(f"{at}: no option is marked `correct: true`")
    if not _ID_RE.match(qid) or kind not in KINDS or prompt is None:
        return None
    return Question(lesson, qid, kind, prompt, tuple(options), hint, answer, code)


def _parse_option(raw: Any, at: str, problems: list[str]) -> Option | None:
    if not isinstance(raw, dict):
        problems.append(f"{at}: must be a mapping with text, explanation and optional correct")
        return None
    _unknown_keys(raw, {"text", "explanation", "correct"}, at, problems)
    text = _text(raw, "text", at, problems, required=True)
    explanation = _text(raw, "explanation", at, problems, required=True)
    correct = raw.get("correct", False)
    if not isinstance(correct, bool):
        problems.append(f"{at}: `correct` must be true or false (got {correct!r})")
        correct = False
    if text is None or explanation is None:
        return None
    return Option(text, explanation, correct)


def _text(raw: dict, key: str, at: str, problems: list[str], required: bool = False) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            problems.append(f"{at}: `{key}` is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        problems.append(f"{at}: `{key}` must be text (got {type(value).__name__})")
        return None
    text = str(value).strip()
    if not text:
        if required:
            problems.append(f"{at}: `{key}` is empty")
        return None
    return text


def _unknown_keys(raw: dict, allowed: set[str], at: str, problems: list[str]) -> None:
    for key in sorted(set(map(str, raw)) - allowed):
        problems.append(f"{at}: unknown key `{key}` (allowed: {', '.join(sorted(allowed))})")
