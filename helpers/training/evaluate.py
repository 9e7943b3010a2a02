"""Measure what the bundled models do, with the grammar's own checker.

``python -m helpers.training.evaluate`` prints the numbers the model cards quote: how often greedy
continuations are grammatical and keep their cast straight, and how often the chat model tells a
story about the animal and name it was asked for, including pairs it never saw together.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from helpers.training import corpus

MODELS = Path(__file__).resolve().parent.parent / "models"


def request(animal: str, name: str) -> list[corpus.Message]:
    """The canonical request the course and the tests send to the chat model."""
    return [{"role": "user", "content": f"Tell me a story about a {animal} named {name}."}]


def base_prompts() -> list[str]:
    """One story opening per name (same token length, so they batch without padding)."""
    rng = random.Random(0)
    return [
        f"Once upon a time, there was a {rng.choice(corpus.ADJECTIVES)} "
        f"{rng.choice(corpus.ANIMALS)} named {name}."
        for name in corpus.NAMES
    ]


def greedy(folder: Path, prompts: Sequence[str], max_new_tokens: int) -> list[str]:
    """Greedy continuations (prompt included) from the saved base model."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    inputs = tokenizer(list(prompts), return_tensors="pt")  # equal lengths: no padding needed
    with torch.no_grad():
        out = model.generate(
            **inputs, max_new_tokens=max_new_tokens, do_sample=False,
            pad_token_id=tokenizer.eos_token_id,
        )
    return tokenizer.batch_decode(out, skip_special_tokens=True)


def chat_answers(
    folder: Path, pairs: Sequence[tuple[str, str]], max_new_tokens: int = 200
) -> list[str]:
    """Greedy answers of the saved chat model to ``request(animal, name)``, left-padded batch."""
    tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(folder)
    inputs = tokenizer.apply_chat_template(
        [request(a, n) for a, n in pairs],
        add_generation_prompt=True,
        padding=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    return tokenizer.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


def _quality(texts: Sequence[str]) -> dict[str, float]:
    n = len(texts)
    return {
        "grammatical": sum(corpus.is_grammatical(t) for t in texts) / n,
        # Coherent: grammatical, and every sentence agrees with the story's cast.
        "coherent": sum(
            corpus.is_grammatical(t) and not corpus.coreference_errors(t) for t in texts
        ) / n,
        "finished": sum(t.rstrip().endswith("The end.") for t in texts) / n,
    }


def mentions(text: str, animal: str, name: str) -> bool:
    """True when the answer names both the requested animal and the requested name."""
    return bool(re.search(rf"\b{animal}\b", text) and re.search(rf"\b{name}\b", text))


def evaluate_base(folder: Path = MODELS / "stories-base") -> dict[str, object]:
    """Greedy story from "Once upon a time" and from one opening per name, checked."""
    sample = greedy(folder, ["Once upon a time"], max_new_tokens=160)[0]
    texts = greedy(folder, base_prompts(), max_new_tokens=160)
    return {"sample": sample, **_quality(texts), "n": len(texts), "texts": texts}


def evaluate_chat(folder: Path = MODELS / "stories-chat") -> dict[str, object]:
    """Answers to every held-out animal/name pair, and to as many pairs seen in training."""
    held = list(corpus.HELD_OUT_PAIRS)
    rng = random.Random(1)
    seen = [
        (a, n) for a, n in ((rng.choice(corpus.ANIMALS), rng.choice(corpus.NAMES))
                            for _ in range(100))
        if (a, n) not in set(held)
    ][: len(held)]
    answers = chat_answers(folder, held + seen)
    held_answers, seen_answers = answers[: len(held)], answers[len(held) :]
    return {
        "held_out_named": sum(mentions(t, a, n) for (a, n), t in zip(held, held_answers,
                                                                      strict=True)) / len(held),
        "seen_named": sum(mentions(t, a, n) for (a, n), t in zip(seen, seen_answers,
                                                                  strict=True)) / len(seen),
        **{f"held_out_{k}": v for k, v in _quality(held_answers).items()},
        "n_held_out": len(held),
        "sample": chat_answers(folder, [("fox", "Leo")])[0],
        "texts": held_answers,
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Print the evaluation of one or both model folders."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, default=MODELS / "stories-base")
    parser.add_argument("--chat", type=Path, default=MODELS / "stories-chat")
    parser.add_argument("--only", choices=["base", "chat", "all"], default="all")
    parser.add_argument("--show", action="store_true", help="print every generated text")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    for which, run, folder in (("base", evaluate_base, args.base),
                               ("chat", evaluate_chat, args.chat)):
        if args.only in (which, "all"):
            result = run(folder)
            texts = result.pop("texts")
            print(which, json.dumps(result, indent=2))
            for t in texts if args.show else []:
                print("-", t, corpus.coreference_errors(t)[:1])


if __name__ == "__main__":
    main()
