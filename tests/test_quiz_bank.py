"""The quiz bank: every file loads, passes the lint rules, and says what the facts say."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from helpers.quizzes import QuizBankError, bank_lessons, load_bank, load_bank_file, parse_bank

LESSONS = bank_lessons()
ALL_QUESTIONS = [q for lesson in LESSONS for q in load_bank(lesson).questions]


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def test_the_course_has_banks_for_lessons_00_and_01():
    assert {"00", "01"} <= set(LESSONS)


@pytest.mark.parametrize("lesson", LESSONS)
def test_bank_loads_and_names_its_lesson(lesson):
    bank = load_bank(lesson)
    assert bank.lesson == lesson
    assert bank.title
    assert bank.questions


# --------------------------------------------------------------------------- lint


@pytest.mark.parametrize("lesson", LESSONS)
def test_question_ids_are_unique_in_their_lesson(lesson):
    ids = Counter(q.id for q in load_bank(lesson).questions)
    assert [i for i, n in ids.items() if n > 1] == []


@pytest.mark.parametrize("question", ALL_QUESTIONS, ids=lambda q: q.key)
def test_question_is_complete(question):
    if question.kind == "open":
        assert question.answer, "an open question needs a model answer"
        assert not question.options
        return
    assert len(question.options) >= 2
    assert question.correct_indices, "at least one option must be correct"
    assert len(question.correct_indices) < len(question.options), "some option must be wrong"
    for option in question.options:
        assert option.text.strip()
        assert len(option.explanation.split()) >= 8, f"explain {option.text!r} properly"
        assert not re.match(r"^(try again|wrong|incorrect|no)\b", option.explanation, re.I)
    if question.kind == "predict":
        assert question.code, "a predict question shows the code whose output is predicted"


def test_no_explanation_is_reused_across_questions():
    seen: dict[str, str] = {}
    for question in ALL_QUESTIONS:
        texts = [o.explanation for o in question.options]
        if question.answer:
            texts.append(question.answer)
        for text in texts:
            key = _normalise(text)
            assert key not in seen, f"{question.key} reuses an explanation of {seen.get(key)}"
            seen[key] = question.key


@pytest.mark.parametrize("lesson", LESSONS)
def test_correct_answers_do_not_sit_in_the_same_position_every_time(lesson):
    positions = [
        q.correct_indices[0] for q in load_bank(lesson).questions if q.kind != "open"
    ]
    if len(positions) >= 2:
        assert len(set(positions)) > 1, f"lesson {lesson}: correct answer always at {positions[0]}"


# --------------------------------------------------------------------------- content


def _correct_text(lesson: str, question_id: str) -> str:
    question = load_bank(lesson).question(question_id)
    return " ".join(question.options[i].text for i in question.correct_indices)


def test_lesson_01_has_the_required_kinds_of_question():
    kinds = Counter(q.kind for q in load_bank("01").questions)
    assert kinds["choice"] >= 4
    assert kinds["predict"] >= 1
    assert kinds["open"] >= 1


def test_lesson_00_has_two_or_three_questions():
    assert 2 <= len(load_bank("00").questions) <= 3


def test_lesson_01_answers_agree_with_the_transformers_5_facts():
    assert "float32" in _correct_text("01", "default-dtype")  # default dtype="auto"
    assert "deprecated" in _correct_text("01", "dtype-keyword")  # logged, still honoured
    assert "halves" in _correct_text("01", "cast-after-load")  # .to() really casts
    strategies = _correct_text("01", "device-map-strategies")
    assert all(s in strategies for s in ("auto", "balanced", "balanced_low_0", "sequential"))
    assert "CPU" in _correct_text("01", "no-device-map")
    assert _correct_text("01", "fp16-not-amp").startswith("Casts")
    assert "model_type" in _correct_text("01", "auto-class-dispatch")
    assert _correct_text("01", "predict-chat-dtype") == "torch.bfloat16"
    assert _correct_text("01", "predict-class-name") == "GPT2LMHeadModel"


def test_no_correct_option_repeats_the_drafts_errors():
    for question in ALL_QUESTIONS:
        for index in question.correct_indices:
            text = question.options[index].text.lower()
            assert "mixed precision" not in text
            assert "torch_dtype=" not in text


def test_the_open_question_fixes_the_drafts_diagnosis():
    question = load_bank("01").question("slow-generation")
    assert "device_map" in question.prompt and "slow" in question.prompt
    answer = question.answer or ""
    for needle in ("hf_device_map", "meta", "including_emulation=False", "8.0", "not less accurate",
                   "torch.cuda.is_available()"):
        assert needle in answer, needle


# --------------------------------------------------------------------------- loader errors


def _bank(**question_fields):
    question = {
        "id": "q",
        "kind": "choice",
        "prompt": "Which?",
        "options": [
            {"text": "a", "correct": True, "explanation": "because a"},
            {"text": "b", "explanation": "because not b"},
        ],
    }
    question.update(question_fields)
    return {"lesson": "42", "title": "T", "questions": [question]}


def test_a_valid_bank_parses():
    bank = parse_bank(_bank())
    assert bank.question("q").correct_indices == (0,)
    with pytest.raises(KeyError, match="has no question 'nope'; it has: q"):
        bank.question("nope")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "quiz"}, "`kind` must be one of choice, predict, open"),
        ({"id": "Bad Id"}, "`id` must be lowercase words joined by dashes"),
        ({"prompt": ""}, "`prompt` is empty"),
        ({"options": [{"text": "a", "explanation": "x"}, {"text": "b", "explanation": "y"}]},
         "no option is marked `correct: true`"),
        ({"options": [{"text": "a", "correct": True}, {"text": "b", "explanation": "y"}]},
         "option 1: `explanation` is missing"),
        ({"options": [{"text": "a", "correct": True, "explanation": "x"}]},
         "at least 2 `options`"),
        ({"options": [{"text": "a", "correct": "yes", "explanation": "x"},
                      {"text": "b", "explanation": "y"}]}, "`correct` must be true or false"),
        ({"options": [{"text": True, "correct": True, "explanation": "x"},
                      {"text": "b", "explanation": "y"}]}, "`text` must be text (got bool)"),
        ({"options": [{"text": "a", "correct": True, "explanation": "x"},
                      {"text": "a", "explanation": "y"}]}, "two options have the same text"),
        ({"kind": "predict"}, "`code` is missing"),
        ({"kind": "open", "options": None}, "`answer` is missing"),
        ({"kind": "open", "answer": "A."}, "open questions have a model `answer`, not `options`"),
        ({"explanation": "x"}, "unknown key `explanation`"),
    ],
)
def test_invalid_questions_give_clear_errors(change, message):
    with pytest.raises(QuizBankError) as caught:
        parse_bank(_bank(**change), source="42.yaml")
    text = str(caught.value)
    assert text.startswith("42.yaml:")
    assert "question 1" in text
    assert message in text


def test_duplicate_ids_and_every_problem_are_reported_together():
    data = _bank()
    data["questions"].append(dict(data["questions"][0]))
    data["questions"].append({"id": "other", "kind": "open", "prompt": "Why?"})
    with pytest.raises(QuizBankError) as caught:
        parse_bank(data)
    text = str(caught.value)
    assert "2 problem(s)" in text
    assert "question 2 (q): id is used twice" in text
    assert "question 3 (other): `answer` is missing" in text


def test_bad_top_level_and_file_name_mismatch(tmp_path):
    path = tmp_path / "07.yaml"
    path.write_text('lesson: "08"\nquestions: []\n')
    with pytest.raises(QuizBankError) as caught:
        load_bank_file(path)
    text = str(caught.value)
    assert "`lesson` is '08' but the file is named 07.yaml" in text
    assert "`title`" in text and "`questions` must be a non-empty list" in text


def test_yaml_syntax_errors_name_the_file(tmp_path):
    path = tmp_path / "07.yaml"
    path.write_text("lesson: [unclosed\n")
    with pytest.raises(QuizBankError, match=r"07\.yaml: not valid YAML"):
        load_bank_file(path)


def test_a_missing_bank_lists_the_existing_ones():
    with pytest.raises(QuizBankError, match=r"no quiz bank for lesson 98 .* banks: 00, 01"):
        load_bank(98)


def test_an_edited_bank_is_read_again(tmp_path, monkeypatch):
    import os

    import yaml

    from helpers import quizzes

    monkeypatch.setattr(quizzes, "BANK_DIR", tmp_path)
    path = tmp_path / "42.yaml"
    path.write_text(yaml.safe_dump(_bank()))
    assert quizzes.bank_lessons() == ["42"]
    assert load_bank(42).question("q").prompt == "Which?"
    edited = _bank(prompt="Which one?")
    path.write_text(yaml.safe_dump(edited))
    os.utime(path, ns=(1, path.stat().st_mtime_ns + 1_000_000))
    assert load_bank("42").question("q").prompt == "Which one?"
