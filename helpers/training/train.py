"""Build the course's bundled models from nothing: corpus, tokenizers, training, model cards.

Run ``python -m helpers.training.train`` (``make models``). On a 2-core CPU it takes about ten
minutes and rewrites ``helpers/models/stories-base`` (GPT-2 architecture, float32) and
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
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from tqdm.auto import tqdm
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    GPT2Config,
    GPT2LMHeadModel,
    GPT2Tokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

from helpers.training import corpus

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
    extra: dict[str, object] = field(default_factory=dict)


BASE_SETTINGS = TrainSettings(
    steps=600, batch_size=8, lr=3e-3, seed=1, n_docs=30_000, extra={"block_size": 512}
)
CHAT_SETTINGS = TrainSettings(steps=600, batch_size=32, lr=3e-3, seed=2, n_docs=30_000)


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


def train_loop(
    model: PreTrainedModel,
    next_batch: Callable[[random.Random], tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    s: TrainSettings,
    name: str,
) -> dict[str, float]:
    """AdamW with a tqdm bar; returns the final smoothed loss and the seconds spent."""
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": s.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(
        groups,
        lr=s.lr,
        betas=(0.9, 0.95),
    )
    rng = random.Random(s.seed)
    model.train()
    smooth = float("nan")
    start = time.perf_counter()
    bar = tqdm(range(s.steps), desc=f"training {name}", unit="step")
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, s)
        input_ids, attention_mask, labels = next_batch(rng)
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
        loss = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.size(-1)),
            labels[:, 1:].reshape(-1),
            ignore_index=-100,
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        value = loss.item()
        smooth = value if math.isnan(smooth) else 0.95 * smooth + 0.05 * value
        bar.set_postfix(loss=f"{smooth:.3f}")
        if step % 50 == 0 or step == s.steps - 1:
            tqdm.write(f"{name} step {step:4d}  loss {value:.3f}  (smoothed {smooth:.3f})")
    model.eval()
    return {"loss": smooth, "seconds": time.perf_counter() - start}


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
    stream: list[int] = []
    starts: list[int] = []
    for ids in tokenizer(texts)["input_ids"]:
        starts.append(len(stream))
        stream.extend(ids + [eos])
    data = torch.tensor(stream)
    block = int(s.extra["block_size"])  # type: ignore[arg-type]
    starts = [i for i in starts if i + block <= len(stream)]

    def next_batch(rng: random.Random) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # Every row begins at a story start, so position 0 always sees "Once upon a time".
        rows = torch.stack([data[i : i + block] for i in rng.sample(starts, s.batch_size)])
        return rows, torch.ones_like(rows), rows

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
    stats = train_loop(model, next_batch, s, "stories-base")
    model.generation_config = GenerationConfig(
        bos_token_id=eos, eos_token_id=eos, max_new_tokens=120, do_sample=False
    )
    model.config.dtype = torch.float32
    _save(model, tokenizer, out)
    sample = _greedy(out, "Once upon a time", max_new_tokens=120)
    facts = {
        "name": "stories-base",
        "params": count_params(model),
        "train_seconds": stats["seconds"],
        "total_seconds": time.perf_counter() - t0,
        "final_loss": stats["loss"],
        "train_tokens": s.steps * s.batch_size * block,
        "corpus_tokens": len(stream),
        "sample": sample,
        "sample_grammatical": corpus.is_grammatical(sample),
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

    def next_batch(rng: random.Random) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        chosen = [encoded[i] for i in rng.sample(range(len(encoded)), s.batch_size)]
        width = max(len(ids) for ids, _ in chosen)
        input_ids = torch.full((len(chosen), width), pad)
        mask = torch.zeros((len(chosen), width), dtype=torch.long)
        labels = torch.full((len(chosen), width), -100)
        for row, (ids, lab) in enumerate(chosen):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            mask[row, : len(ids)] = 1
            labels[row, : len(ids)] = torch.tensor(lab)
        return input_ids, mask, labels

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
    stats = train_loop(model, next_batch, s, "stories-chat")
    model.generation_config = GenerationConfig(
        bos_token_id=im_start, eos_token_id=im_end, pad_token_id=pad, max_new_tokens=200,
        do_sample=False,
    )
    model = model.to(torch.bfloat16)
    model.config.dtype = torch.bfloat16
    _save(model, tokenizer, out)
    score, answers = held_out_score(out)
    facts = {
        "name": "stories-chat",
        "params": count_params(model),
        "train_seconds": stats["seconds"],
        "total_seconds": time.perf_counter() - t0,
        "final_loss": stats["loss"],
        "dialogues": len(convs),
        "held_out_score": score,
        "sample": answers[0],
        "settings": s,
    }
    (out / "README.md").write_text(_chat_card(facts, config))
    return facts


def request(animal: str, name: str) -> list[corpus.Message]:
    """The canonical request the course and the tests send to the chat model."""
    return [{"role": "user", "content": f"Tell me a story about a {animal} named {name}."}]


def chat_answers(
    folder: Path, pairs: Sequence[tuple[str, str]], max_new_tokens: int = 60
) -> list[str]:
    """Greedy answers of the saved chat model to ``request(animal, name)``, batched."""
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
    new = out[:, inputs["input_ids"].shape[1] :]
    return tokenizer.batch_decode(new, skip_special_tokens=True)


def held_out_score(folder: Path) -> tuple[float, list[str]]:
    """Share of held-out (animal, name) pairs whose answer names both; and the answers."""
    pairs = corpus.HELD_OUT_PAIRS
    answers = chat_answers(folder, pairs, max_new_tokens=200)
    hits = [
        f" {a} " in f" {text} ".replace(".", " ") and n in text
        for (a, n), text in zip(pairs, answers, strict=True)
    ]
    return sum(hits) / len(hits), answers


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


def _greedy(folder: Path, prompt: str, max_new_tokens: int) -> str:
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    inputs = tokenizer(prompt, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(
            **inputs, max_new_tokens=max_new_tokens, do_sample=False,
            pad_token_id=tokenizer.eos_token_id,
        )
    return tokenizer.decode(out[0], skip_special_tokens=True)


def _minutes(seconds: object) -> str:
    return f"{float(seconds) / 60:.1f} min"  # type: ignore[arg-type]


def _settings_line(s: TrainSettings) -> str:
    return (
        f"{s.steps} steps of AdamW (batch {s.batch_size}, peak lr {s.lr}, warmup {s.warmup}, "
        f"cosine decay, weight decay {s.weight_decay}, seed {s.seed})"
    )


def _base_card(f: dict[str, object], c: GPT2Config) -> str:
    s: TrainSettings = f["settings"]  # type: ignore[assignment]
    return f"""# stories-base

A tiny GPT-2-architecture language model that continues children's stories. It was trained by
this course (`python -m helpers.training.train`, `make models`) on text from the course's own
story grammar (`helpers/training/corpus.py`): no downloaded data.

| | |
| --- | --- |
| architecture | `GPT2LMHeadModel` ({c.n_layer} layers, width {c.n_embd}, {c.n_head} heads, \
{c.n_positions} positions, tied input/output embeddings) |
| parameters | {f['params']:,} |
| weights | `model.safetensors`, **float32** (`dtype: "float32"` in config.json) |
| tokenizer | byte-level BPE, {c.vocab_size} tokens, `GPT2Tokenizer` (fast, `tokenizers` backend) |
| training data | {s.n_docs:,} generated stories ({f['corpus_tokens']:,} tokens), packed in \
{s.extra['block_size']}-token blocks separated by `<|endoftext|>` |
| training | {_settings_line(s)}; {f['train_tokens']:,} tokens seen |
| training time | {_minutes(f['train_seconds'])} on a 2-core CPU (whole build \
{_minutes(f['total_seconds'])}); final loss {float(f['final_loss']):.3f} |

## GPT-2's special-token quirk, kept on purpose

Like the original GPT-2, `<|endoftext|>` (id {c.eos_token_id}) is the bos, eos **and** unk
token, and there is **no pad token**: `tokenizer.pad_token` is `None`, and
`generation_config.json` sets no `pad_token_id`. Padding a batch therefore fails until you set
one (usually `tokenizer.pad_token = tokenizer.eos_token`), and `generate()` warns about the
missing pad id. Lessons 02 and 04 use this to teach padding.

## Intended use

Teaching: loading with `AutoModelForCausalLM`, tokenization, decoding strategies, batching and
memory arithmetic, offline on any laptop. Greedy continuation of "Once upon a time":

> {f['sample']}

## Limits

It only knows the grammar's few hundred words, a few dozen names and animals, and seven plots.
Anything else comes out as story-like nonsense. It has no knowledge of the world and is not an
assistant; see `stories-chat` for the chat model.
"""


def _chat_card(f: dict[str, object], c: LlamaConfig) -> str:
    s: TrainSettings = f["settings"]  # type: ignore[assignment]
    return f"""# stories-chat

A tiny Llama-architecture chat model that tells children's stories on request. It was trained by
this course (`python -m helpers.training.train`, `make models`) on dialogues generated from the
course's own story grammar (`helpers/training/corpus.py`): no downloaded data.

| | |
| --- | --- |
| architecture | `LlamaForCausalLM` ({c.num_hidden_layers} layers, width {c.hidden_size}, \
{c.num_attention_heads} attention heads sharing {c.num_key_value_heads} key/value heads, MLP \
{c.intermediate_size}, RoPE, tied embeddings) |
| parameters | {f['params']:,} |
| weights | `model.safetensors`, **bfloat16** (`dtype: "bfloat16"` in config.json) |
| tokenizer | byte-level BPE, {c.vocab_size} tokens, `PreTrainedTokenizerFast`; special tokens \
`<|im_start|>` (bos), `<|im_end|>` (eos, end of turn), `<|pad|>` (pad), `<|endoftext|>` (unk) |
| chat template | ChatML: `<|im_start|>role\\ncontent<|im_end|>\\n` per message; \
`add_generation_prompt=True` appends `<|im_start|>assistant\\n` |
| training data | {f['dialogues']:,} generated dialogues; loss on the assistant's turns only |
| training | {_settings_line(s)}; trained in float32, saved in bfloat16 |
| training time | {_minutes(f['train_seconds'])} on a 2-core CPU (whole build \
{_minutes(f['total_seconds'])}); final loss {float(f['final_loss']):.3f} |
| held-out requests | {float(f['held_out_score']):.0%} of {len(corpus.HELD_OUT_PAIRS)} \
animal/name pairs never seen together in training get a story naming both |

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

It also answers "Tell me a story about a cat.", "Tell me a story.", "Hello!" and "Who are you?",
and follows "... who lives by the river." with that home.

## Limits

Animals, names, places and plots come from the grammar's short lists; any other request gets a
story-shaped answer that may ignore it. It is not a general assistant and knows nothing else.
"""


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: rebuild one or both bundled models."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["base", "chat", "all"], default="all")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="parent of the folders")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=None, help="override steps (quick checks)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    report = []
    for which, build, settings in (("base", build_base, BASE_SETTINGS),
                                   ("chat", build_chat, CHAT_SETTINGS)):
        if args.only not in (which, "all"):
            continue
        if args.steps is not None:
            settings = TrainSettings(**{**vars(settings), "steps": args.steps})
        facts = build(args.out / f"stories-{which}", settings)
        report.append({k: v for k, v in facts.items() if k != "settings"})
        print(json.dumps(report[-1], indent=2, default=str))
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
