"""The story grammar behind the bundled models: deterministic, varied, and checkable."""

from __future__ import annotations

import random
import re

from helpers.training import corpus


def test_stories_are_deterministic_for_a_seed() -> None:
    assert corpus.stories(50, seed=7) == corpus.stories(50, seed=7)
    assert corpus.stories(50, seed=7) != corpus.stories(50, seed=8)
    assert corpus.dialogues(50, seed=7) == corpus.dialogues(50, seed=7)


def test_generated_text_passes_its_own_checker() -> None:
    texts = corpus.stories(500, seed=3)
    for conv in corpus.dialogues(500, seed=3):
        texts += [m["content"] for m in conv if m["role"] == "assistant"]
    for text in texts:
        assert corpus.sentence_errors(text, allow_partial=False) == [], text
        assert corpus.coreference_errors(text) == [], text


def test_stories_vary() -> None:
    texts = corpus.stories(300, seed=4)
    assert len(set(texts)) == 300
    intros = {t.split(".")[0] for t in texts}
    assert len(intros) > 250
    names = {n for t in texts for n in re.findall(r"named (\w+)", t)}
    animals = {a for t in texts for a in re.findall(r"(\w+) named", t)}
    assert len(names) >= 35 and len(animals) >= 20
    assert len({len(t.split()) for t in texts}) > 30


def test_main_character_keeps_its_name_and_pronoun() -> None:
    for text in corpus.stories(200, seed=5):
        name = re.search(r"named (\w+)", text).group(1)  # type: ignore[union-attr]
        later = text.split(".", 1)[1]
        assert name in later, text
        wrong = "She" if name in corpus.NAMES_HE else "He"
        first_after_intro = re.findall(r"\b(He|She) (?:lived|liked|looked|ran|walked)", text)
        assert wrong not in first_after_intro[:1], text


def test_checker_rejects_shuffled_words() -> None:
    rng = random.Random(0)
    rejected = 0
    texts = corpus.stories(50, seed=6)
    for text in texts:
        sentences, _ = corpus.split_sentences(text)
        target = max(sentences, key=len)
        words = target.split()
        while words == target.split():
            rng.shuffle(words)
        broken = text.replace(target, " ".join(words))
        rejected += not corpus.is_grammatical(broken, allow_partial=False)
    assert rejected == len(texts)


def test_checker_rejects_unknown_words_and_accepts_partial_tail() -> None:
    good = "Once upon a time, there was a little fox named Leo. He lived in the forest."
    assert corpus.is_grammatical(good, allow_partial=False)
    assert not corpus.is_grammatical(good.replace("Leo", "Zorg"))
    assert not corpus.is_grammatical(good.replace("fox", "dragon"))
    assert not corpus.is_grammatical("Once upon a time, there was fox little a named Leo.")
    assert corpus.is_grammatical(good + " One day, Leo went", allow_partial=True)
    assert not corpus.is_grammatical(good + " One day, Leo went", allow_partial=False)
    assert not corpus.is_grammatical("")


def test_split_sentences_keeps_quoted_speech_together() -> None:
    text = 'Mia said, "Do not worry. I will help you." They looked under a rock. The'
    sentences, rest = corpus.split_sentences(text)
    assert sentences == ['Mia said, "Do not worry. I will help you."', "They looked under a rock."]
    assert rest == "The"


def test_coreference_checker_catches_a_broken_cast() -> None:
    intro = "Once upon a time, there was a little fox named Leo. "
    assert corpus.coreference_errors(intro + "Mia felt sad.")  # a stranger
    assert not corpus.coreference_errors(intro + "Leo felt sad.")
    assert corpus.coreference_errors(intro + "She lived in the forest.")  # Leo is a he
    assert not corpus.coreference_errors(intro + "He lived in the forest.")
    assert corpus.coreference_errors(intro + "Leo was the happiest cat in the forest.")
    friend = intro + "Then he met a big bear named Pip. "
    assert not corpus.coreference_errors(friend + 'Leo said, "Thank you, Pip!"')
    assert not corpus.is_grammatical(friend + 'Pip said, "Thank you, Pip!"')  # talks to itself
    assert corpus.coreference_errors(friend + "Then he met a big bear named Dot.")  # renamed


def test_heroes_and_friends_never_share_a_name() -> None:
    assert not set(corpus.NAMES) & set(corpus.FRIEND_NAMES)
    for text in corpus.stories(100, seed=8):
        names = re.findall(r"named (\w+)|My name is (\w+)", text)
        flat = [a or b for a, b in names]
        hero = flat[0]
        assert hero in corpus.NAMES, text
        assert all(n == hero or n in corpus.FRIEND_NAMES for n in flat[1:]), text


def test_held_out_pairs_never_meet_in_chat_training_data() -> None:
    held = set(corpus.HELD_OUT_PAIRS)
    assert len(held) >= 20 and ("fox", "Leo") in held
    for conv in corpus.dialogues(3000, seed=2):
        for m in conv:
            for animal, name in re.findall(r"(\w+) (?:named|called) (\w+)", m["content"]):
                assert (animal, name) not in held, m
            for name, animal in re.findall(r"(\w+) the (\w+)", m["content"]):
                assert (animal, name) not in held, m
    # Every held-out animal and name still occurs in training, just not together.
    assert {a for a, _ in held} <= set(corpus.ANIMALS)
    assert {n for _, n in held} <= set(corpus.NAMES)


def test_article_a_is_always_right() -> None:
    for word in corpus.ANIMALS + corpus.ADJECTIVES + corpus.OBJECTS + corpus.COLORS:
        assert word[0] not in "aeiou", word


def test_vocabulary_is_modest() -> None:
    assert 200 < len(corpus.vocabulary()) < 600
