"""Build the course's bundled models from nothing: corpus, tokenizers, training, model cards.

Run ``python -m helpers.training.train`` (``make models``). On a 2-core CPU it takes about
fifteen minutes and rewrites ``helpers/models/stories-base`` (GPT-2 architecture, float32) and
``helpers/models/stories-chat`` (Llama architecture, bfloat16). Everything is seeded, so a rerun
on the same machine and library versions writes the same weights.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from tqdm.auto import tqdm
from transformers import (
    GenerationConfig,
    GPT2Config,
    GPT2LMHeadModel,
    GPT2Tokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

from helpers.training import corpus, evaluate

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "models"
VOCAB_SIZE = 1024
EOT = "<|endoftext|>"
IM_START, IM_END, PAD = "<|im_start|>", "<|im_end|>", "<|pad|>"

# ChatML, the format SmolLM2 and many other chat models use, so lesson 07 transfers to the hub.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)


@dataclass
class TrainSettings:
    """Everything that decides a model's weights; the model card prints it."""

    steps: int
    batch_size: int
    lr: float
    seed: int
    warmup: int = 30
    weight_decay: float = 0.1
    n_docs: int = 30_000
    # Loss weight of names, animals and pronouns (see cast_token_ids): >1 makes the model learn
    # to copy its characters from earlier in the text in fewer steps.
    cast_weight: float = 3.0


BASE_SETTINGS = TrainSettings(steps=1500, batch_size=32, lr=3e-3, seed=1)
CHAT_SETTINGS = TrainSettings(steps=1500, batch_size=32, lr=3e-3, seed=2)


def train_bpe(texts: Sequence[str], special_tokens: list[str], vocab_size: int) -> Tokenizer:
    """A byte-level BPE like GPT-2's: any text round-trips, no unknown tokens exist."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    return tok


def base_tokenizer(texts: Sequence[str]) -> GPT2Tokenizer:
    """GPT-2's conventions on purpose: <|endoftext|> is bos, eos and unk, and there is no pad."""
    tok = train_bpe(texts, [EOT], VOCAB_SIZE)
    return GPT2Tokenizer(
        tokenizer_object=tok,
        bos_token=EOT,
        eos_token=EOT,
        unk_token=EOT,
        pad_token=None,
        model_max_length=512,
        clean_up_tokenization_spaces=False,
    )


def chat_tokenizer(texts: Sequence[str]) -> PreTrainedTokenizerFast:
    """Byte-level BPE plus ChatML tokens; a real pad token, unlike the base model."""
    tok = train_bpe(texts, [EOT, IM_START, IM_END, PAD], VOCAB_SIZE)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=IM_START,
        eos_token=IM_END,
        unk_token=EOT,
        pad_token=PAD,
        model_max_length=512,
        clean_up_tokenization_spaces=False,
        chat_template=CHAT_TEMPLATE,
    )


def lr_at(step: int, s: TrainSettings) -> float:
    """Linear warmup, then cosine decay to a tenth of the peak."""
    if step < s.warmup:
        return s.lr * (step + 1) / s.warmup
    progress = (step - s.warmup) / max(1, s.steps - s.warmup)
    return s.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def cast_token_ids(tokenizer: PreTrainedTokenizerFast) -> list[int]:
    """Ids of the words that must be copied from earlier in the story: names, animals, pronouns.

    Each is a single BPE token with its leading space (checked here, since the trick below
    relies on it).
    """
    words = corpus.NAMES + corpus.FRIEND_NAMES + corpus.ANIMALS
    words += ("He", "She", "he", "she", "his", "her", "him")
    ids = []
    for word in words:
        pieces = tokenizer.encode(" " + word, add_special_tokens=False)
        assert len(pieces) == 1, (word, pieces)
        ids.append(pieces[0])
    return ids


def copy_accuracy(model: PreTrainedModel, batch: Batch, cast_ids: Sequence[int]) -> float:
    """Share of cast words (names, animals, pronouns) predicted right where the story already
    mentioned them: the in-context copying that keeps a story's characters straight."""
    input_ids, attention_mask, labels = batch
    with torch.no_grad():
        pred = model(input_ids=input_ids, attention_mask=attention_mask).logits.argmax(-1)
    cast = torch.zeros(int(input_ids.max()) + 1, dtype=torch.bool)
    cast[torch.tensor(cast_ids)] = True
    hits = total = 0
    for row in range(input_ids.size(0)):
        for t in range(input_ids.size(1) - 1):
            target = int(labels[row, t + 1])
            if target < 0 or target >= cast.numel() or not cast[target]:
                continue
            if target not in input_ids[row, : t + 1].tolist():
                continue
            total += 1
            hits += int(pred[row, t]) == target
    return hits / max(total, 1)


def train_loop(
    model: PreTrainedModel,
    next_batch: Callable[[random.Random], Batch],
    s: TrainSettings,
    name: str,
    tokenizer: PreTrainedTokenizerFast,
) -> dict[str, float]:
    """AdamW with a tqdm bar; returns the final smoothed loss, copy accuracy and seconds spent.

    The loss of cast tokens (names, animals, pronouns) is weighted by ``s.cast_weight``; every
    100 steps the copy accuracy on a fixed batch is printed next to the loss.
    """
    cast_ids = cast_token_ids(tokenizer)
    token_weight = torch.ones(len(tokenizer))
    token_weight[cast_ids] = s.cast_weight
    probe_batch = next_batch(random.Random(s.seed + 12345))
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": s.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=s.lr, betas=(0.9, 0.95))
    rng = random.Random(s.seed)
    model.train()
    smooth = float("nan")
    probed = float("nan")
    start = time.perf_counter()
    bar = tqdm(range(s.steps), desc=f"training {name}", unit="step")
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, s)
        input_ids, attention_mask, labels = next_batch(rng)
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
        targets = labels[:, 1:].reshape(-1)
        per_token = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.size(-1)), targets, ignore_index=-100,
            reduction="none",
        )
        valid = (targets != -100).float()
        weight = valid * token_weight[targets.clamp(min=0)]
        loss = (per_token * weight).sum() / weight.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        value = float((per_token * valid).sum() / valid.sum())  # plain loss, for reporting
        smooth = value if math.isnan(smooth) else 0.95 * smooth + 0.05 * value
        bar.set_postfix(loss=f"{smooth:.3f}")
        if step % 100 == 0 or step == s.steps - 1:
            model.eval()
            probed = copy_accuracy(model, probe_batch, cast_ids)
            model.train()
            tqdm.write(
                f"{name} step {step:4d}  loss {value:.3f}  (smoothed {smooth:.3f})"
                f"  copy accuracy {probed:.2f}"
            )
    model.eval()
    return {"loss": smooth, "copy_accuracy": probed, "seconds": time.perf_counter() - start}


def pad_batch(rows: Sequence[tuple[list[int], list[int]]], pad_id: int) -> Batch:
    """Right-padded (input_ids, attention_mask, labels); padding is masked out of the loss."""
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100)
    for row, (ids, lab) in enumerate(rows):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        mask[row, : len(ids)] = 1
        labels[row, : len(ids)] = torch.tensor(lab)
    return input_ids, mask, labels


def count_params(model: PreTrainedModel) -> int:
    """Unique parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------------------------
# Base model: GPT-2 architecture, packed stories separated by <|endoftext|>.
# ----------------------------------------------------------------------------------------------


def build_base(out: Path, s: TrainSettings = BASE_SETTINGS) -> dict[str, object]:
    """Train and save stories-base; returns facts for the report."""
    t0 = time.perf_counter()
    torch.manual_seed(s.seed)
    texts = corpus.stories(s.n_docs, seed=s.seed)
    tokenizer = base_tokenizer(texts)
    eos = tokenizer.eos_token_id
    # One story per row, ending in <|endoftext|> so the model learns to stop. (Packing several
    # stories per row would put other stories' names in view, and a model this small then takes
    # far longer to learn which names belong to the story it is telling.)
    encoded = [ids + [eos] for ids in tokenizer(texts)["input_ids"]]
    pairs = [(ids, ids) for ids in encoded]

    def next_batch(rng: random.Random) -> Batch:
        return pad_batch([pairs[i] for i in rng.sample(range(len(pairs)), s.batch_size)], eos)

    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=512,
        n_embd=128,
        n_layer=4,
        n_head=4,
        bos_token_id=eos,
        eos_token_id=eos,
        tie_word_embeddings=True,
        # No dropout: the corpus is far larger than the model can memorise.
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )
    model = GPT2LMHeadModel(config)
    stats = train_loop(model, next_batch, s, "stories-base", tokenizer)
    model.generation_config = GenerationConfig(
        bos_token_id=eos, eos_token_id=eos, max_new_tokens=120, do_sample=False
    )
    model.config.dtype = torch.float32
    _save(model, tokenizer, out)
    quality = evaluate.evaluate_base(out)
    facts = {
        "name": "stories-base",
        "params": count_params(model),
        "train_seconds": stats["seconds"],
        "total_seconds": time.perf_counter() - t0,
        "final_loss": stats["loss"],
        "copy_accuracy": stats["copy_accuracy"],
        "stories": len(texts),
        "corpus_tokens": sum(len(ids) for ids in encoded),
        "max_story_tokens": max(len(ids) for ids in encoded),
        **{k: v for k, v in quality.items() if k != "texts"},
        "settings": s,
    }
    (out / "README.md").write_text(_base_card(facts, config))
    return facts


# ----------------------------------------------------------------------------------------------
# Chat model: Llama architecture, one dialogue per row, loss on the assistant's turns only.
# ----------------------------------------------------------------------------------------------


def encode_dialogue(
    tokenizer: PreTrainedTokenizerFast, messages: list[corpus.Message]
) -> tuple[list[int], list[int]]:
    """Token ids of a conversation in the chat template, and labels (-100 outside answers)."""
    ids: list[int] = []
    labels: list[int] = []
    for m in messages:
        head = tokenizer.encode(f"{IM_START}{m['role']}\n", add_special_tokens=False)
        body = tokenizer.encode(f"{m['content']}{IM_END}", add_special_tokens=False)
        tail = tokenizer.encode("\n", add_special_tokens=False)
        ids += head + body + tail
        learn = m["role"] == "assistant"
        labels += [-100] * len(head) + (body if learn else [-100] * len(body)) + [-100] * len(tail)
    return ids, labels


def build_chat(out: Path, s: TrainSettings = CHAT_SETTINGS) -> dict[str, object]:
    """Train and save stories-chat; returns facts for the report."""
    t0 = time.perf_counter()
    torch.manual_seed(s.seed)
    convs = corpus.dialogues(s.n_docs, seed=s.seed)
    tok_texts = [f"{m['role']}\n{m['content']}" for conv in convs for m in conv]
    tokenizer = chat_tokenizer(tok_texts)
    encoded = [encode_dialogue(tokenizer, conv) for conv in convs]
    # The pieces must tokenize exactly like the rendered template the model sees at inference.
    for conv, (ids, _) in zip(convs[:200], encoded[:200], strict=True):
        rendered = tokenizer.apply_chat_template(conv, tokenize=False)
        assert tokenizer.encode(rendered, add_special_tokens=False) == ids, rendered
    pad = tokenizer.pad_token_id

    def next_batch(rng: random.Random) -> Batch:
        return pad_batch([encoded[i] for i in rng.sample(range(len(encoded)), s.batch_size)], pad)

    im_start = tokenizer.convert_tokens_to_ids(IM_START)
    im_end = tokenizer.convert_tokens_to_ids(IM_END)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=384,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=im_start,
        eos_token_id=im_end,
        pad_token_id=pad,
    )
    model = LlamaForCausalLM(config)
    stats = train_loop(model, next_batch, s, "stories-chat", tokenizer)
    model.generation_config = GenerationConfig(
        bos_token_id=im_start, eos_token_id=im_end, pad_token_id=pad, max_new_tokens=200,
        do_sample=False,
    )
    model = model.to(torch.bfloat16)
    model.config.dtype = torch.bfloat16
    _save(model, tokenizer, out)
    # transformers 5 writes its internal class name; the public alias loads in 4.x and 5.x alike
    # (it is what Llama 3 and SmolLM2 checkpoints use).
    tok_config = out / "tokenizer_config.json"
    data = json.loads(tok_config.read_text())
    data["tokenizer_class"] = "PreTrainedTokenizerFast"
    tok_config.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    quality = evaluate.evaluate_chat(out)
    facts = {
        "name": "stories-chat",
        "params": count_params(model),
        "train_seconds": stats["seconds"],
        "total_seconds": time.perf_counter() - t0,
        "final_loss": stats["loss"],
        "copy_accuracy": stats["copy_accuracy"],
        "dialogues": len(convs),
        **{k: v for k, v in quality.items() if k != "texts"},
        "settings": s,
    }
    (out / "README.md").write_text(_chat_card(facts, config))
    return facts


# ----------------------------------------------------------------------------------------------
# Saving and model cards.
# ----------------------------------------------------------------------------------------------


def _save(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    model.save_pretrained(out)
    # save_jinja_files=False keeps the chat template inside tokenizer_config.json, where
    # transformers 4.x also finds it.
    tokenizer.save_pretrained(out, save_jinja_files=False)


def _minutes(seconds: object) -> str:
    return f"{float(seconds) / 60:.1f} min"  # type: ignore[arg-type]


def _pct(value: object) -> str:
    return f"{float(value):.0%}"  # type: ignore[arg-type]


def _settings_line(s: TrainSettings) -> str:
    return (
        f"{s.steps} steps of AdamW, batch {s.batch_size}, peak learning rate {s.lr} (warmup "
        f"{s.warmup}, cosine decay), weight decay {s.weight_decay}, seed {s.seed}; the loss of "
        f"names, animals and pronouns weighted x{s.cast_weight:g}"
    )


def _base_card(f: dict[str, object], c: GPT2Config) -> str:
    s: TrainSettings = f["settings"]  # type: ignore[assignment]
    return f"""# stories-base

A tiny GPT-2-architecture language model that continues children's stories. It was trained by
this course (`python -m helpers.training.train --only base`, part of `make models`) on text from
the course's own story grammar (`helpers/training/corpus.py`): no downloaded data.

| | |
| --- | --- |
| architecture | `GPT2LMHeadModel`: {c.n_layer} layers, width {c.n_embd}, {c.n_head} heads, \
{c.n_positions} learned positions, input and output embeddings tied |
| parameters | {f['params']:,} |
| weights | `model.safetensors` in **float32** (`"dtype": "float32"` in config.json) |
| tokenizer | byte-level BPE with {c.vocab_size} tokens (`GPT2Tokenizer`, a fast tokenizer) |
| training data | {f['stories']:,} generated stories, {f['corpus_tokens']:,} tokens, one story \
per row (at most {f['max_story_tokens']} tokens), each ending in `<|endoftext|>` |
| training | {_settings_line(s)} |
| training time | {_minutes(f['train_seconds'])} on 2 CPU threads \
(whole build {_minutes(f['total_seconds'])}); final loss {float(f['final_loss']):.2f} |
| quality | greedy continuations of {f['n']} story openings: {_pct(f['grammatical'])} \
grammatical, {_pct(f['coherent'])} keep their characters' names, animals and pronouns \
straight, {_pct(f['finished'])} end with "The end." (`python -m helpers.training.evaluate`) |

## GPT-2's special-token quirk, kept on purpose

As in the original GPT-2, `<|endoftext|>` (id {c.eos_token_id}) is the bos, eos **and** unk
token, and there is **no pad token**: `tokenizer.pad_token` is `None`, and
`generation_config.json` sets no `pad_token_id`. Padding a batch fails until you choose one
(usually `tokenizer.pad_token = tokenizer.eos_token`, with `padding_side="left"` for
generation). Lessons 02 and 04 use this.

## Intended use

Teaching: loading with `AutoModelForCausalLM`, tokenization, decoding strategies, batching,
memory arithmetic and speed, offline on any laptop. Greedy continuation of "Once upon a time":

> {f['sample']}

## Limits

- It knows only the grammar's few hundred words: {len(corpus.NAMES)} hero names, \
{len(corpus.FRIEND_NAMES)} friend names, {len(corpus.ANIMALS)} animals and \
{len(corpus.PLOTS)} plots. Other words come out as story-shaped nonsense.
- It was trained on single stories of at most about {f['max_story_tokens']} tokens; it \
stops at `<|endoftext|>`, and text forced far past that length (positions it never saw) \
degrades.
- Greedy decoding always tells the most likely story; sample to see the others.
- It knows nothing about the world and is not an assistant; see `stories-chat`.
"""


def _chat_card(f: dict[str, object], c: LlamaConfig) -> str:
    s: TrainSettings = f["settings"]  # type: ignore[assignment]
    return f"""# stories-chat

A tiny Llama-architecture chat model that tells children's stories on request. It was trained by
this course (`python -m helpers.training.train --only chat`, part of `make models`) on
dialogues generated from the course's own story grammar (`helpers/training/corpus.py`): no
downloaded data.

| | |
| --- | --- |
| architecture | `LlamaForCausalLM`: {c.num_hidden_layers} layers, width {c.hidden_size}, \
{c.num_attention_heads} attention heads sharing {c.num_key_value_heads} key/value heads \
(grouped-query attention), MLP width {c.intermediate_size}, RoPE, embeddings tied |
| parameters | {f['params']:,} |
| weights | `model.safetensors` in **bfloat16** (`"dtype": "bfloat16"` in config.json); \
trained in float32, then cast |
| tokenizer | byte-level BPE with {c.vocab_size} tokens (`PreTrainedTokenizerFast`); \
`<|im_start|>` bos, `<|im_end|>` eos (end of turn), `<|pad|>` pad, `<|endoftext|>` unk |
| chat template | ChatML, in tokenizer_config.json: `<|im_start|>role\\ncontent<|im_end|>\\n` \
per message; `add_generation_prompt=True` appends `<|im_start|>assistant\\n` |
| training data | {f['dialogues']:,} generated dialogues (optional system prompt, a request, the \
answer, sometimes a thank-you); loss on the assistant's turns only |
| training | {_settings_line(s)} |
| training time | {_minutes(f['train_seconds'])} on 2 CPU threads \
(whole build {_minutes(f['total_seconds'])}); final loss {float(f['final_loss']):.2f} |
| held-out requests | the {f['n_held_out']} animal/name pairs in \
`corpus.HELD_OUT_PAIRS` never occur together in training. Asked "Tell me a story about a \
{{animal}} named {{name}}.", the greedy answer names both for {_pct(f['held_out_named'])} of \
them ({_pct(f['seen_named'])} for pairs seen in training); {_pct(f['held_out_grammatical'])} \
of those answers are grammatical and {_pct(f['held_out_coherent'])} keep their cast straight |

`generation_config.json` stops at `<|im_end|>` and pads with `<|pad|>`, so `generate()` ends
the answer by itself.

## Use

```python
messages = [{{"role": "user", "content": "Tell me a story about a fox named Leo."}}]
inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                       return_tensors="pt", return_dict=True)
out = model.generate(**inputs)
print(tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True))
```

> {f['sample']}

("a fox named Leo" is one of the held-out pairs.) It also answers "Can you tell me a story
about a penguin named Ruby?", "Write a short story about Otto the hedgehog.", "Tell me a story
about a cat.", "Tell me a story about Mia.", "Tell me a story.", "Hello!", "Who are you?" and
"Thank you!"; "Tell me a story about a fox named Leo who lives by the river." usually gets that
home too; and a few off-topic questions ("What is two plus two?") get "I only know stories
about animals...".

## Limits

Animals, names, places and plots come from the grammar's short lists ({len(corpus.NAMES)} hero
names, {len(corpus.FRIEND_NAMES)} friend names, {len(corpus.ANIMALS)} animals,
{len(corpus.PLOTS)} plots). Any other request gets a
story-shaped answer that may ignore it. It is not a general assistant and knows nothing else.
"""


def _override(s: TrainSettings, pairs: Sequence[str]) -> TrainSettings:
    fields = dict(vars(s))
    for pair in pairs:
        key, value = pair.split("=", 1)
        if key not in fields:
            raise SystemExit(f"unknown setting {key!r}; known: {', '.join(fields)}")
        fields[key] = type(fields[key])(float(value))
    return TrainSettings(**fields)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: rebuild one or both bundled models."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["base", "chat", "all"], default="all")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="parent of the folders")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override a training setting for experiments, e.g. --set steps=100 (the shipped "
        "models use the defaults)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    report = []
    for which, build, settings in (("base", build_base, BASE_SETTINGS),
                                   ("chat", build_chat, CHAT_SETTINGS)):
        if args.only not in (which, "all"):
            continue
        settings = _override(settings, args.set)
        facts = build(args.out / f"stories-{which}", settings)
        report.append({k: v for k, v in facts.items() if k != "settings"})
        print(json.dumps(report[-1], indent=2, default=str))
    for facts in report:
        print(
            f"{facts['name']}: trained in {_minutes(facts['train_seconds'])}, built in "
            f"{_minutes(facts['total_seconds'])} -> {args.out / str(facts['name'])}"
        )
    print(f"total {_minutes(time.perf_counter() - start)}")


if __name__ == "__main__":
    main()
