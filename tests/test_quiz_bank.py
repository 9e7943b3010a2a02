"""The quiz bank: every file loads, passes the lint rules, and says what the facts say."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from helpers.quizzes import QuizBankError, bank_lessons, load_bank, load_bank_file, parse_bank

LESSONS = bank_lessons()
ALL_QUESTIONS = [q for lesson in LESSONS for q in load_bank(lesson).questions]
CHOICE_QUESTIONS = [q for q in ALL_QUESTIONS if q.kind != "open"]


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


def test_no_correct_option_repeats_what_old_tutorials_get_wrong():
    for question in ALL_QUESTIONS:
        for index in question.correct_indices:
            text = question.options[index].text.lower()
            assert "mixed precision" not in text
            assert "torch_dtype=" not in text


def test_the_open_question_gives_a_diagnosis_that_works():
    question = load_bank("01").question("slow-generation")
    assert "device_map" in question.prompt and "slow" in question.prompt
    answer = question.answer or ""
    for needle in ("hf_device_map", "meta", "including_emulation=False", "8.0", "not less accurate",
                   "torch.cuda.is_available()"):
        assert needle in answer, needle


def _learner_texts(question):
    """Every text of a question that a learner can see, with where it comes from."""
    yield "prompt", question.prompt
    for name in ("code", "hint", "answer"):
        if getattr(question, name):
            yield name, getattr(question, name)
    for option in question.options:
        yield f"option {option.text!r}", option.text
        yield f"explanation of {option.text!r}", option.explanation


@pytest.mark.parametrize("question", ALL_QUESTIONS, ids=lambda q: q.key)
def test_no_text_mentions_a_draft_or_an_earlier_version(question):
    """Corrections are phrased as what older tutorials or 4.x code say, never as "the draft"."""
    pattern = re.compile(r"\bdraft|original (version|lesson|text)|earlier version", re.I)
    for where, text in _learner_texts(question):
        assert not pattern.search(text), f"{question.key} {where}: {text!r}"


@pytest.mark.parametrize("question", ALL_QUESTIONS, ids=lambda q: q.key)
def test_speed_claims_name_no_fixed_factor(question):
    """fp16-on-CPU speed depends on the processor: point at `make bench`, not a factor."""
    pattern = re.compile(r"(times|x) (slower|faster)", re.I)
    for where, text in _learner_texts(question):
        assert not pattern.search(text), f"{question.key} {where}: {text!r}"


@pytest.mark.parametrize("question", CHOICE_QUESTIONS, ids=lambda q: q.key)
def test_right_answers_are_not_praised_twice(question):
    """The widget says "Correct!" itself; an explanation starting "Right." would repeat it."""
    for index in question.correct_indices:
        explanation = question.options[index].explanation
        assert not re.match(r"^(right|correct|yes|exactly)\b", explanation, re.I), (
            f"{question.key}: {explanation[:40]!r}..."
        )


@pytest.mark.parametrize("question", [q for q in ALL_QUESTIONS if q.kind == "predict"],
                         ids=lambda q: q.key)
def test_predict_code_runs_as_shown_and_prints_the_correct_option(question, monkeypatch):
    """The feedback says "copy the code into a new cell and run it": so it must run alone."""
    import contextlib
    import io

    import transformers

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    transformers.logging.disable_progress_bar()
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(question.code or "", f"<{question.key}>", "exec"), {})
    except Exception as exc:
        pytest.fail(f"{question.key}: its `code` must run on its own, in a fresh namespace (the "
                    "widget tells learners to copy it into a new cell), but it raised "
                    f"{type(exc).__name__}: {exc}. Add the imports it needs.", pytrace=False)
    assert printed.getvalue().strip() == _correct_text(question.lesson, question.id)


def test_cast_after_load_says_what_transformers_does():
    """`.to(bf16)` halves the footprint, leaves `config.dtype` alone; save_pretrained records
    bf16; `.to()` refuses an offloaded model while `.half()` casts it (the bank says all that)."""
    import json
    import tempfile
    from pathlib import Path

    import torch
    import transformers
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM

    import helpers

    transformers.logging.disable_progress_bar()
    path = helpers.bundled_path("stories-base")
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    before = model.get_memory_footprint()
    model = model.to(torch.bfloat16)
    assert model.get_memory_footprint() * 2 == before
    assert model.dtype == torch.bfloat16 and model.config.dtype == torch.float32
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        assert json.loads((Path(folder) / "config.json").read_text())["dtype"] == "bfloat16"
        with safe_open(str(Path(folder) / "model.safetensors"), "pt") as weights:
            names = list(weights.keys())  # noqa: SIM118 (safe_open is not iterable)
            assert {weights.get_slice(name).get_dtype() for name in names} == {"BF16"}

    def offloaded():
        return AutoModelForCausalLM.from_pretrained(
            path, dtype=torch.float32, device_map="auto",
            max_memory={"cpu": before // 2, "disk": "1GB"})

    split = offloaded()
    assert {"cpu", "disk"} <= set(split.hf_device_map.values())
    with pytest.raises(RuntimeError, match="You can't move a model that has some modules "
                                           "offloaded to cpu or disk."):
        split.to(torch.bfloat16)
    for cast, dtype in (("half", torch.float16), ("bfloat16", torch.bfloat16)):
        split = offloaded()
        getattr(split, cast)()
        assert {p.dtype for p in split.parameters()} == {dtype}
        assert split(torch.tensor([[1, 2, 3]])).logits.dtype == dtype

    question = load_bank("01").question("cast-after-load")
    texts = " ".join(_normalise(o.explanation) for o in question.options)
    for needle in ("does not update it", "still says float32", '"dtype": "bfloat16"', "bf16",
                   "`.half()` and `.bfloat16()` are not guarded", "you can't move a model"):
        assert _normalise(needle) in texts, needle
    assert "updates `config.dtype`" not in texts
    assert "cannot be cast at all" not in texts


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
        ({"corect": True}, "question 1 (q): unknown key `corect`"),
        ({"options": [{"text": "a", "corect": True, "explanation": "x"},
                      {"text": "b", "correct": True, "explanation": "y"}]},
         "option 1: unknown key `corect`"),
        ({"options": [{"text": "a", "correct": True, "explanation": "x", "hint": "h"},
                      {"text": "b", "explanation": "y"}]}, "option 1: unknown key `hint`"),
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
