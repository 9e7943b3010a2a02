"""The course's own story grammar: children's stories and storyteller dialogues.

The bundled models are trained only on text from this module, so no data is downloaded and the
course can say exactly what its models have seen. Every sentence the generator writes comes from
one template in ``TEMPLATES`` (or ``CHAT_TEMPLATES``) with its ``{slots}`` filled from the word
lists below; ``sentence_errors`` turns the same templates into regular expressions, so "is this
text grammatical?" has a precise, testable answer for model output.

Vocabulary is kept small on purpose (a few hundred words) so that a model of about a million
parameters learns it well in a few minutes of CPU training.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

# ----------------------------------------------------------------------------------------------
# Word lists. Every noun and adjective that can follow the article "a" starts with a consonant,
# so the grammar never needs "an" (a test checks this).
# ----------------------------------------------------------------------------------------------

NAMES_HE: tuple[str, ...] = (
    "Leo", "Max", "Tom", "Ben", "Sam", "Jack", "Finn", "Milo", "Oscar", "Theo",
    "Hugo", "Felix", "Noah", "Luke", "Otto", "Jim", "Bob", "Eli", "Toby", "Rex",
)
NAMES_SHE: tuple[str, ...] = (
    "Mia", "Lily", "Anna", "Lucy", "Emma", "Zoe", "Ruby", "Ella", "Rosa", "Nina",
    "Ivy", "Luna", "Maya", "Daisy", "Sara", "Kate", "Amy", "Molly", "Poppy", "Bella",
)
NAMES: tuple[str, ...] = NAMES_HE + NAMES_SHE
# The hero's friend always comes from its own list, so a story can never give two characters
# the same name, and a small model cannot mix up who is who by copying the wrong name.
FRIEND_NAMES: tuple[str, ...] = (
    "Pip", "Dot", "Bo", "Kiki", "Nemo", "Coco", "Bruno", "Fifi", "Gus", "Lola",
    "Momo", "Pepper", "Rolo", "Sunny", "Tilly", "Ziggy", "Biscuit", "Button", "Honey", "Pebble",
)

ANIMALS: tuple[str, ...] = (
    "fox", "cat", "dog", "bear", "rabbit", "mouse", "duck", "frog", "pig", "lion",
    "tiger", "horse", "cow", "goat", "deer", "wolf", "bird", "turtle", "squirrel", "hedgehog",
    "panda", "monkey", "penguin", "bunny",
)
ADJECTIVES: tuple[str, ...] = (
    "little", "small", "big", "kind", "brave", "shy", "clever", "young", "funny", "gentle",
    "happy", "curious", "busy", "quiet", "silly", "friendly",
)
PLACES: tuple[str, ...] = (
    "the forest", "the meadow", "the village", "the garden", "the park", "the farm",
    "the hill", "the river", "the pond", "the beach", "the woods", "the valley",
)
# Where a character lives: the preposition that fits each place.
HOMES: tuple[str, ...] = (
    "in the forest", "in the meadow", "in the village", "in the garden", "near the park",
    "on the farm", "on the hill", "by the river", "near the pond", "by the beach",
    "in the woods", "in the valley",
)
OBJECTS: tuple[str, ...] = (
    "ball", "kite", "hat", "book", "drum", "boat", "box", "key", "shell", "bell",
    "cup", "scarf", "lamp", "feather", "toy car", "blanket", "basket", "rope",
)
COLORS: tuple[str, ...] = (
    "red", "blue", "green", "yellow", "pink", "purple", "brown", "white", "golden", "shiny",
)
FOODS: tuple[str, ...] = (
    "apples", "berries", "carrots", "cookies", "nuts", "seeds", "cherries", "plums",
    "grapes", "pears",
)
GOOD_FEELINGS: tuple[str, ...] = ("happy", "glad", "proud", "excited", "calm")
BAD_FEELINGS: tuple[str, ...] = ("sad", "scared", "worried", "upset", "lonely")
FEELINGS: tuple[str, ...] = GOOD_FEELINGS + BAD_FEELINGS
# (base form, past form) pairs: "loved to {activity}" and "they {activity_past}".
ACTIVITIES: tuple[tuple[str, str], ...] = (
    ("play tag", "played tag"),
    ("sing songs", "sang songs"),
    ("dance in the sun", "danced in the sun"),
    ("read books", "read books"),
    ("climb trees", "climbed trees"),
    ("splash in the water", "splashed in the water"),
    ("paint pictures", "painted pictures"),
    ("jump in the leaves", "jumped in the leaves"),
    ("run in the grass", "ran in the grass"),
    ("dig in the sand", "dug in the sand"),
    ("look at the stars", "looked at the stars"),
    ("build with blocks", "built with blocks"),
    ("play hide and seek", "played hide and seek"),
    ("pick flowers", "picked flowers"),
)
SKILLS: tuple[str, ...] = (
    "swim", "climb a tree", "fly a kite", "ride a bike", "jump over the log", "whistle",
    "catch a ball", "bake a cake", "skip stones", "read a book",
)
SPOTS: tuple[str, ...] = (
    "under the bed", "behind a big tree", "in the tall grass", "under a bush", "near the fence",
    "behind the door", "under a rock", "in the old barn", "next to the well", "under the table",
)
OPENERS: tuple[str, ...] = (
    "One day", "One sunny morning", "One morning", "One afternoon", "One cold day",
    "One windy day", "Later that day", "The next day",
)

_PRONOUNS = {
    "he": {"he": "he", "He": "He", "his": "his", "His": "His", "him": "him"},
    "she": {"he": "she", "He": "She", "his": "her", "His": "Her", "him": "her"},
}

# ----------------------------------------------------------------------------------------------
# Sentence templates, grouped by their role in a story. ``{x}`` is a slot; ``{x2}`` refers to the
# second character. The generator picks one template per role; the checker accepts any of them.
# ----------------------------------------------------------------------------------------------

TEMPLATES: dict[str, tuple[str, ...]] = {
    "intro": (
        "Once upon a time, there was a {adj} {animal} named {name}.",
        "Once upon a time, there lived a {adj} {animal} named {name}.",
        "Once upon a time, there was a {animal} named {name}.",
    ),
    "intro_home": (
        "Once upon a time, a {adj} {animal} named {name} lived {home}.",
        "Once upon a time, there was a {adj} {animal} named {name} who lived {home}.",
    ),
    "home": (
        "{He} lived {home}.",
        "{He} lived in a cozy little house {home}.",
        "{Name} lived with {his} family {home}.",
    ),
    "trait": (
        "{Name} loved to {activity}.",
        "{He} liked to {activity} every day.",
        "Every morning, {name} would {activity}.",
        "{Name} was very good at making friends.",
    ),
    # --- lost object ---
    "lost_setup": (
        "{Name} had a {color} {object}.",
        "{Name} had a {color} {object} that {he} loved very much.",
        "{His} favorite thing was a {color} {object}.",
    ),
    "lost_event": (
        "{opener}, {name} could not find {his} {object}.",
        "{opener}, {name} lost {his} {object}.",
    ),
    "lost_search": (
        "{He} looked {spot}, but it was not there.",
        "{He} looked everywhere, but the {object} was gone.",
    ),
    "lost_ask": ("{Name2} asked, \"Why are you {feeling}, {name}?\"",),
    "lost_answer": (
        "{Name} said, \"I lost my {object}.\"",
        "{Name} said, \"I cannot find my {object}.\"",
    ),
    "lost_offer": (
        "{Name2} said, \"Do not worry. I will help you.\"",
        "{Name2} said, \"I will help you look.\"",
    ),
    "lost_together": (
        "Together, they looked {spot}.",
        "They looked {spot} and {spot2}.",
    ),
    "lost_found": (
        "At last, they found the {object} {spot}.",
        "Then {name2} saw the {object} {spot}.",
    ),
    # --- lonely, new friend ---
    "lonely_setup": (
        "{Name} did not have any friends.",
        "{Name} was new {home} and did not have any friends.",
    ),
    "lonely_walk": (
        "{opener}, {name} went for a walk to {place}.",
        "{opener}, {name} went to {place} alone.",
    ),
    "lonely_see": (
        "There, {he} saw a {adj2} {animal2}.",
        "There, {he} met a {adj2} {animal2}.",
    ),
    "lonely_hello": ("The {animal2} said, \"Hello! My name is {name2}.\"",),
    "lonely_ask": (
        "{Name} said, \"Hello, {name2}! Do you want to play with me?\"",
        "{Name} said, \"My name is {name}. Will you be my friend?\"",
    ),
    "lonely_yes": (
        "{Name2} said, \"Yes, I would love to!\"",
        "{Name2} smiled and said, \"Yes!\"",
    ),
    "lonely_play": (
        "They {activity_past} together all day.",
        "Together, they {activity_past} until the sun went down.",
    ),
    "lonely_after": (
        "{Name} was not lonely anymore.",
        "{Name} felt {feeling} to have a new friend.",
    ),
    # --- storm ---
    "storm_start": (
        "{opener}, dark clouds filled the sky.",
        "{opener}, the wind began to blow very hard.",
        "{opener}, a big storm came.",
    ),
    "storm_rain": (
        "Rain fell and thunder boomed.",
        "The rain began to fall.",
    ),
    "storm_run": (
        "{He} ran to find a safe place.",
        "{He} ran as fast as {he} could.",
    ),
    "storm_meet": (
        "Under a big tree, {he} saw a {adj2} {animal2} named {name2}.",
        "On the way, {he} met a {adj2} {animal2} named {name2}.",
    ),
    "storm_scared": (
        "{Name2} was scared too.",
        "{Name2} was cold and wet.",
    ),
    "storm_invite": (
        "{Name} said, \"Come with me, {name2}. My house is warm.\"",
        "{Name} said, \"Do not be scared. We can wait together.\"",
    ),
    "storm_wait": (
        "They waited together until the storm was over.",
        "They sat close and told stories until the rain stopped.",
    ),
    "storm_sun": (
        "Soon the sun came out again.",
        "Then the sun came back and the sky was blue.",
    ),
    "storm_play": ("{Name} and {name2} {activity_past} in the warm sun.",),
    # --- lost the way ---
    "way_go": (
        "{opener}, {name} went to {place} to find {food}.",
        "{opener}, {name} went far away to {place}.",
    ),
    "way_walk": (
        "{He} walked and walked.",
        "{He} went very far.",
    ),
    "way_lost": (
        "Soon {he} did not know the way home.",
        "When {he} looked up, {he} was lost.",
    ),
    "way_meet": (
        "Then {he} met a {adj2} {animal2} named {name2}.",
        "Just then, a {adj2} {animal2} named {name2} came by.",
    ),
    "way_ask": (
        "{Name} said, \"I am lost. Can you help me find my home?\"",
        "{Name} said, \"Please help me. I do not know the way home.\"",
    ),
    "way_yes": (
        "{Name2} said, \"Yes! I know the way.\"",
        "{Name2} said, \"Do not worry. Follow me.\"",
    ),
    "way_home": (
        "{Name2} showed {name} the way home.",
        "They walked together until they saw {name}'s house.",
    ),
    "way_family": (
        "{His} family was so happy to see {him}.",
        "{His} mom gave {him} a big hug.",
    ),
    # --- learning a skill ---
    "learn_want": (
        "{Name} wanted to learn to {skill}.",
        "{opener}, {name} decided to learn to {skill}.",
    ),
    "learn_fail": (
        "{He} tried, but {he} fell down.",
        "At first, it was very hard.",
        "{He} tried and tried, but {he} could not do it.",
    ),
    "learn_see": (
        "A {adj2} {animal2} named {name2} saw {him}.",
        "Then a {adj2} {animal2} named {name2} came by.",
    ),
    "learn_help": (
        "{Name2} said, \"Do not give up. Try again!\"",
        "{Name2} said, \"I can show you how.\"",
    ),
    "learn_again": (
        "{Name} tried again and again.",
        "{Name} did not give up.",
    ),
    "learn_success": (
        "At last, {he} could {skill}!",
        "Then, one day, {name} could {skill}!",
    ),
    # --- sharing food ---
    "share_find": (
        "{opener}, {name} found a basket of {food}.",
        "{opener}, {name} picked a lot of {food}.",
    ),
    "share_want": (
        "{He} wanted to eat them all.",
        "{He} was going to eat them all by {himself}.",
    ),
    "share_meet": (
        "Then {he} saw a {adj2} {animal2} named {name2}.",
        "Just then, a {adj2} {animal2} named {name2} came by.",
    ),
    "share_hungry": (
        "{Name2} looked very hungry.",
        "{Name2} said, \"I am so hungry.\"",
    ),
    "share_give": (
        "{Name} gave half of the {food} to {name2}.",
        "{Name} thought for a moment and shared the {food} with {name2}.",
    ),
    "share_thanks": (
        "{Name2} said, \"Thank you, {name}! You are very kind.\"",
        "{Name2} smiled and said, \"Thank you!\"",
    ),
    "share_eat": (
        "They ate the {food} together and laughed.",
        "They sat in the sun and ate the {food} together.",
    ),
    # --- a birthday gift ---
    "gift_friend": (
        "{Name} had a good friend, a {adj2} {animal2} named {name2}.",
        "{His} best friend was a {adj2} {animal2} named {name2}.",
    ),
    "gift_birthday": (
        "{opener}, {name} remembered that it was {name2}'s birthday.",
        "The next day was {name2}'s birthday.",
    ),
    "gift_want": (
        "{Name} wanted to give {name2} a gift.",
        "{Name} wanted to make {name2} happy.",
    ),
    "gift_make": (
        "{He} found a {color} {object} and put it in a box.",
        "{He} made a {color} {object} all by {himself}.",
    ),
    "gift_go": (
        "Then {he} went to {name2}'s house.",
        "Then {he} ran to see {name2}.",
    ),
    "gift_say": ("{Name} said, \"Happy birthday, {name2}!\"",),
    "gift_open": (
        "{Name2} opened the box and smiled.",
        "{Name2} saw the {object} and smiled.",
    ),
    "gift_love": (
        "{Name2} said, \"I love it! Thank you!\"",
        "{Name2} said, \"This is the best gift!\"",
    ),
    "gift_party": (
        "Then they had a party with cake.",
        "They {activity_past} all day.",
    ),
    # --- shared pieces ---
    "feel_bad": (
        "{Name} felt {feeling}.",
        "{Name} was very {feeling}.",
    ),
    "feel_good": (
        "{Name} felt {feeling} again.",
        "{Name} was so {feeling}.",
        "{Name} felt very {feeling}.",
    ),
    "thanks": (
        "{Name} said, \"Thank you, {name2}!\"",
        "{Name} gave {name2} a big hug.",
    ),
    "moral": (
        "{Name} learned that it is good to share.",
        "{Name} learned to never give up.",
        "{Name} learned that friends help each other.",
        "{Name} learned that it is good to be kind.",
    ),
    "ending": (
        "From that day on, {name} and {name2} were best friends.",
        "{Name} and {name2} played together every day after that.",
        "That night, {name} went to sleep with a big smile.",
        "{Name} was the happiest {animal} {home}.",
    ),
    "end": ("The end.",),
}

# The storyteller's replies that are not stories.
CHAT_TEMPLATES: dict[str, tuple[str, ...]] = {
    "greeting": (
        "Hello! I am a little storyteller. Ask me for a story about an animal.",
        "Hi! I know many stories. Which animal do you want a story about?",
    ),
    "identity": (
        "I am a small story model. I can tell you a short story about an animal.",
        "I am a tiny storyteller. Ask me for a story about a {animal} named {name}.",
    ),
    "welcome": (
        "You are welcome! I hope you liked the story.",
        "You are welcome! Ask me for another story any time.",
    ),
    "unknown": (
        "I only know stories about animals. Ask me for a story about a {animal} named {name}.",
        "I am sorry, I do not know that. I can tell you a story about a {animal} instead.",
    ),
}

# What a user may ask. ``{animal}`` and ``{name}`` come from the lists above.
REQUEST_TEMPLATES: dict[str, tuple[str, ...]] = {
    "animal_name": (
        "Tell me a story about a {animal} named {name}.",
        "Can you tell me a story about a {animal} named {name}?",
        "Please tell me a story about a {animal} called {name}.",
        "Write a short story about {name} the {animal}.",
    ),
    "animal_name_home": ("Tell me a story about a {animal} named {name} who lives {home}.",),
    "animal": ("Tell me a story about a {animal}.", "Can you tell me a story about a {animal}?"),
    "name": ("Tell me a story about {name}.",),
    "any": ("Tell me a story.", "Can you tell me a story?", "Please tell me a story."),
    "greeting": ("Hello!", "Hi!", "Hello, who are you?"),
    "identity": ("Who are you?", "What can you do?"),
    "thanks": ("Thank you!", "Thanks, that was a nice story."),
    # Off-topic questions: the storyteller says what it can do instead of rambling.
    "unknown": (
        "What is the capital of France?",
        "What is two plus two?",
        "Can you help me with my homework?",
        "What time is it?",
        "Write a poem about the sea.",
        "How do I cook pasta?",
        "What is the weather today?",
        "Translate this into French.",
    ),
}

SYSTEM_PROMPTS: tuple[str, ...] = (
    "You are a friendly storyteller.",
    "You are a helpful assistant who tells short stories for children.",
)

# A plot is a list of roles. A role prefixed with "?" is optional (skipped in short stories).
PLOTS: dict[str, tuple[str, ...]] = {
    "lost": (
        "lost_setup", "lost_event", "?lost_search", "feel_bad", "way_meet", "?lost_ask",
        "lost_answer", "lost_offer", "?lost_together", "lost_found", "thanks", "feel_good",
    ),
    "lonely": (
        "lonely_setup", "lonely_walk", "lonely_see", "lonely_hello", "lonely_ask", "lonely_yes",
        "lonely_play", "?lonely_after",
    ),
    "storm": (
        "?trait", "storm_start", "?storm_rain", "feel_bad", "storm_run", "storm_meet",
        "?storm_scared", "storm_invite", "storm_wait", "storm_sun", "?storm_play",
    ),
    "way": (
        "?trait", "way_go", "?way_walk", "way_lost", "feel_bad", "way_meet", "way_ask", "way_yes",
        "way_home", "?way_family",
    ),
    "learn": (
        "learn_want", "learn_fail", "feel_bad", "learn_see", "learn_help", "?learn_again",
        "learn_success", "feel_good", "?moral",
    ),
    "share": (
        "?trait", "share_find", "?share_want", "share_meet", "share_hungry", "share_give",
        "share_thanks", "?share_eat", "?moral",
    ),
    "gift": (
        "gift_friend", "gift_birthday", "gift_want", "gift_make", "gift_go", "gift_say",
        "gift_open", "gift_love", "?gift_party",
    ),
}
# Feelings that fit each plot's "feel_bad" / "feel_good" / "lonely_after" sentences.
_PLOT_BAD = {
    "lost": ("sad", "upset", "worried"),
    "storm": ("scared", "worried"),
    "way": ("scared", "worried", "sad"),
    "learn": ("sad", "upset"),
}
_PLOT_GOOD = {"lost": ("happy", "glad"), "learn": ("proud", "happy"), "lonely": ("happy", "glad")}
_PLOT_MORALS = {
    "learn": "{Name} learned to never give up.",
    "share": "{Name} learned that it is good to share.",
}

# A fixed set of (animal, name) pairs that never appear together in the chat training data, so
# tests can show the chat model copies the request instead of recalling a memorised story.
# The design's own example, "a fox named Leo", is one of them.
HELD_OUT_PAIRS: tuple[tuple[str, str], ...] = tuple(
    sorted(
        [("fox", "Leo")]
        + random.Random(20261129).sample(
            [(a, n) for a in ANIMALS for n in NAMES if (a, n) != ("fox", "Leo")], 29
        )
    )
)

_SLOT = re.compile(r"\{(\w+)\}")
# Every slot a template may use, with the words that can fill it (used to build the checker).
_SLOT_WORDS: dict[str, tuple[str, ...]] = {
    "name": NAMES, "Name": NAMES, "name2": FRIEND_NAMES, "Name2": FRIEND_NAMES,
    "animal": ANIMALS, "animal2": ANIMALS,
    "adj": ADJECTIVES, "adj2": ADJECTIVES,
    "home": HOMES, "place": PLACES,
    "object": OBJECTS, "color": COLORS, "food": FOODS, "feeling": FEELINGS,
    "activity": tuple(a for a, _ in ACTIVITIES), "activity_past": tuple(p for _, p in ACTIVITIES),
    "skill": SKILLS, "spot": SPOTS, "spot2": SPOTS, "opener": OPENERS,
    "he": ("he", "she"), "He": ("He", "She"), "his": ("his", "her"), "His": ("His", "Her"),
    "him": ("him", "her"), "himself": ("himself", "herself"),
}


@dataclass(frozen=True)
class Character:
    """One character of a story: name, species, adjective and grammatical gender."""

    name: str
    animal: str
    adj: str

    @property
    def gender(self) -> str:
        """'he' or 'she', fixed by the name so pronouns always agree with it."""
        return "he" if self.name in NAMES_HE else "she"


def random_character(
    rng: random.Random,
    *,
    names: Sequence[str] = NAMES,
    exclude_pairs: frozenset[tuple[str, str]] = frozenset(),
) -> Character:
    """Draw a character whose (animal, name) pair is not excluded."""
    while True:
        animal, name = rng.choice(ANIMALS), rng.choice(names)
        if (animal, name) not in exclude_pairs:
            return Character(name, animal, rng.choice(ADJECTIVES))


def _context(main: Character, friend: Character, rng: random.Random) -> dict[str, str]:
    """Slot values for one story; fixed for the whole story so references stay consistent."""
    ctx: dict[str, str] = {
        "name": main.name, "Name": main.name, "animal": main.animal, "adj": main.adj,
        "name2": friend.name, "Name2": friend.name, "animal2": friend.animal, "adj2": friend.adj,
        "home": rng.choice(HOMES), "place": rng.choice(PLACES), "object": rng.choice(OBJECTS),
        "color": rng.choice(COLORS), "food": rng.choice(FOODS), "skill": rng.choice(SKILLS),
    }
    act, act_past = rng.choice(ACTIVITIES)
    ctx["activity"], ctx["activity_past"] = act, act_past
    ctx["spot"], ctx["spot2"] = rng.sample(SPOTS, 2)
    ctx.update(_PRONOUNS[main.gender])
    ctx["himself"] = "himself" if main.gender == "he" else "herself"
    return ctx


def _fill(template: str, ctx: dict[str, str], rng: random.Random) -> str:
    """Fill a template; slots drawn per sentence (opener) are chosen here."""
    values = dict(ctx, opener=rng.choice(OPENERS))
    return template.format_map(values)


def story(
    rng: random.Random,
    *,
    main: Character | None = None,
    plot: str | None = None,
    home: str | None = None,
    short: bool = False,
    exclude_pairs: frozenset[tuple[str, str]] = frozenset(),
) -> str:
    """Write one story. ``short`` drops optional sentences (used for chat answers)."""
    main = main or random_character(rng, exclude_pairs=exclude_pairs)
    friend = random_character(rng, names=FRIEND_NAMES)
    plot = plot or rng.choice(sorted(PLOTS))
    ctx = _context(main, friend, rng)
    if home is not None:
        ctx["home"] = home
    sentences: list[str] = []

    def say(role: str, template: str | None = None) -> None:
        sentences.append(_fill(template or rng.choice(TEMPLATES[role]), ctx, rng))

    if home is not None or rng.random() < 0.3:
        say("intro_home")
    else:
        say("intro")
        say("home")
    if plot not in ("storm", "way", "share") and rng.random() < 0.5:
        say("trait")
    for role in PLOTS[plot]:
        if role.startswith("?"):
            if short or rng.random() < 0.4:
                continue
            role = role[1:]
        if role == "feel_bad":
            ctx["feeling"] = rng.choice(_PLOT_BAD[plot])
        elif role in ("feel_good", "lonely_after"):
            ctx["feeling"] = rng.choice(_PLOT_GOOD[plot])
        say(role, _PLOT_MORALS[plot] if role == "moral" else None)
    say("ending")
    say("end")
    return " ".join(sentences)


def stories(n: int, seed: int = 0) -> list[str]:
    """``n`` stories, the same for the same seed (the base model's training corpus)."""
    rng = random.Random(seed)
    return [story(rng) for _ in range(n)]


# ----------------------------------------------------------------------------------------------
# Dialogues for the chat model.
# ----------------------------------------------------------------------------------------------

Message = dict[str, str]


def dialogue(
    rng: random.Random, exclude_pairs: frozenset[tuple[str, str]] = frozenset(HELD_OUT_PAIRS)
) -> list[Message]:
    """One conversation: an optional system prompt, a request, the answer, maybe a thank-you."""
    messages: list[Message] = []
    if rng.random() < 0.3:
        messages.append({"role": "system", "content": rng.choice(SYSTEM_PROMPTS)})
    kind = rng.choices(
        ["animal_name", "animal_name_home", "animal", "name", "any", "greeting", "identity",
         "unknown"],
        weights=[55, 12, 10, 6, 6, 4, 4, 3],
    )[0]
    main = random_character(rng, exclude_pairs=exclude_pairs)
    home = rng.choice(HOMES) if kind == "animal_name_home" else None
    request = rng.choice(REQUEST_TEMPLATES[kind]).format(
        animal=main.animal, name=main.name, home=home
    )
    messages.append({"role": "user", "content": request})
    if kind in ("greeting", "identity", "unknown"):
        reply = rng.choice(CHAT_TEMPLATES[kind]).format(animal=main.animal, name=main.name)
        messages.append({"role": "assistant", "content": reply})
        return messages
    answer = story(rng, main=main, home=home, short=True, exclude_pairs=exclude_pairs)
    messages.append({"role": "assistant", "content": answer})
    if rng.random() < 0.2:
        messages.append({"role": "user", "content": rng.choice(REQUEST_TEMPLATES["thanks"])})
        messages.append({"role": "assistant", "content": rng.choice(CHAT_TEMPLATES["welcome"])})
    return messages


def dialogues(n: int, seed: int = 0) -> list[list[Message]]:
    """``n`` conversations, the same for the same seed; never uses ``HELD_OUT_PAIRS``."""
    rng = random.Random(seed)
    return [dialogue(rng) for _ in range(n)]


# ----------------------------------------------------------------------------------------------
# The checker: the same templates, turned into regular expressions.
# ----------------------------------------------------------------------------------------------


def _template_regex(template: str, *, capture: bool = False) -> str:
    parts: list[str] = []
    pos = 0
    for m in _SLOT.finditer(template):
        parts.append(re.escape(template[pos : m.start()]))
        words = sorted(_SLOT_WORDS[m.group(1)], key=len, reverse=True)
        parts.append(("(" if capture else "(?:") + "|".join(re.escape(w) for w in words) + ")")
        pos = m.end()
    parts.append(re.escape(template[pos:]))
    return "".join(parts)


def all_templates() -> list[str]:
    """Every sentence template of the grammar: stories and the storyteller's other replies."""
    out = [t for group in TEMPLATES.values() for t in group]
    # The storyteller's replies hold several sentences; the checker works sentence by sentence.
    out += [s for group in CHAT_TEMPLATES.values() for t in group for s in split_sentences(t)[0]]
    out += list(_PLOT_MORALS.values())
    return sorted(set(out))


@lru_cache(maxsize=1)
def _sentence_regex() -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{_template_regex(t)})" for t in all_templates()))


def split_sentences(text: str) -> tuple[list[str], str]:
    """Split text into complete sentences and a trailing remainder (a partial sentence).

    A sentence ends at ``.``, ``!`` or ``?`` (plus a closing quote) outside quotes, followed by
    whitespace or the end of the text; quoted speech may hold several sentences.
    """
    sentences: list[str] = []
    start, i, in_quote = 0, 0, False
    while i < len(text):
        ch = text[i]
        if ch == '"':
            in_quote = not in_quote
        elif ch in ".!?":
            j = i + 1
            quote_closed = in_quote and j < len(text) and text[j] == '"'
            if quote_closed:
                j += 1
            if (not in_quote or quote_closed) and (j == len(text) or text[j].isspace()):
                sentences.append(text[start:j].strip())
                in_quote = False
                start = i = j
                continue
        i += 1
    return sentences, text[start:].strip()


def sentence_errors(text: str, *, allow_partial: bool = True) -> list[str]:
    """Sentences of ``text`` that match no template (empty list: grammatical).

    With ``allow_partial`` a trailing unfinished sentence is ignored, as generation often stops
    mid-sentence at ``max_new_tokens``.
    """
    sentences, rest = split_sentences(text)
    pattern = _sentence_regex()
    bad = [s for s in sentences if not pattern.fullmatch(s)]
    if rest and not allow_partial:
        bad.append(rest)
    return bad


def is_grammatical(text: str, *, allow_partial: bool = True) -> bool:
    """True when every complete sentence of ``text`` is one of the grammar's sentences."""
    sentences, rest = split_sentences(text)
    if not sentences and not (allow_partial and rest):
        return False
    return not sentence_errors(text, allow_partial=allow_partial)


_NAME_RE = re.compile(r"\b(" + "|".join(NAMES + FRIEND_NAMES) + r")\b")
_INTRO_RE = re.compile(r"(?:named|My name is) (" + "|".join(NAMES + FRIEND_NAMES) + r")\b")
# Which part of the story a slot refers to. Only the main character has pronouns.
_SLOT_ROLE = {
    "name": "main", "Name": "main", "animal": "main animal",
    "name2": "friend", "Name2": "friend", "animal2": "friend animal",
    "he": "gender", "He": "gender", "his": "gender", "His": "gender", "him": "gender",
    "himself": "gender",
}
_GENDER = {
    "he": "he", "He": "he", "his": "he", "His": "he", "him": "he", "himself": "he",
    "she": "she", "She": "she", "her": "she", "Her": "she", "herself": "she",
}


@lru_cache(maxsize=1)
def _slot_patterns() -> list[tuple[re.Pattern[str], tuple[str, ...]]]:
    return [
        (re.compile(_template_regex(t, capture=True)), tuple(_SLOT.findall(t)))
        for t in all_templates()
    ]


def _bind(
    state: dict[str, str], slots: Sequence[str], values: Sequence[str]
) -> dict[str, str] | None:
    """``state`` extended with one sentence's slot values, or None if they contradict it."""
    new = dict(state)
    for slot, value in zip(slots, values, strict=True):
        role = _SLOT_ROLE.get(slot)
        if role is None:
            continue
        if role == "gender":
            value = _GENDER[value]
        if new.setdefault(role, value) != value:
            return None
        if role == "main" and new.setdefault("gender", _gender_of(value)) != _gender_of(value):
            return None
    if "main" in new and new["main"] == new.get("friend"):
        return None
    return new


def _gender_of(name: str) -> str:
    return "he" if name in NAMES_HE else "she"


def coreference_errors(text: str) -> list[str]:
    """Sentences that break the story's cast: who is who, which animal, which pronoun.

    Each template knows which slot is the main character (``{name}``, ``{animal}``, ``{he}``)
    and which the friend (``{name2}``, ``{animal2}``). A story that introduces Leo the fox and
    later says "Mia felt sad", "she ran" or "the happiest cat" is grammatical sentence by
    sentence, but not a coherent story; this catches it. Names must also be introduced
    (``named X`` / ``My name is X``) before they are used.
    """
    state: dict[str, str] = {}
    introduced: set[str] = set()
    errors: list[str] = []
    for sentence in split_sentences(text)[0]:
        new_names = set(_INTRO_RE.findall(sentence))
        for used in _NAME_RE.findall(sentence):
            if used not in introduced and used not in new_names:
                errors.append(f"{used!r} used before it was introduced: {sentence!r}")
        introduced |= new_names
        candidates = [
            (slots, m.groups()) for pattern, slots in _slot_patterns()
            if (m := pattern.fullmatch(sentence))
        ]
        if not candidates:
            continue  # not a grammar sentence at all: sentence_errors reports it
        bound = [_bind(state, slots, values) for slots, values in candidates]
        bound = [b for b in bound if b is not None]
        if bound:
            state = bound[0]
        else:
            errors.append(f"contradicts the cast {state}: {sentence!r}")
    return errors


def vocabulary() -> set[str]:
    """Every word the grammar can produce (lower-cased, punctuation stripped)."""
    words: set[str] = set()
    texts = all_templates() + [w for ws in _SLOT_WORDS.values() for w in ws]
    texts += [t for group in REQUEST_TEMPLATES.values() for t in group] + list(SYSTEM_PROMPTS)
    for t in texts:
        words.update(re.findall(r"[a-z']+", _SLOT.sub(" ", t).lower()))
    return words


def iter_words(texts: Sequence[str]) -> Iterator[str]:
    """Words of several texts, for vocabulary statistics."""
    for t in texts:
        yield from re.findall(r"[A-Za-z']+", t)
