"""Data the tiny test models are built from, importable by test modules.

(`from conftest import ...` is ambiguous: tests/browser has a conftest.py of its own.)
"""

STORY = [
    "Once upon a time there was a little fox named Leo.",
    "The fox ran into the forest and found a friend.",
    "They played by the river until the sun went down.",
]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
HUB_ID = "course-test/tiny-gpt2"
HUB_COMMIT = "0123456789abcdef0123456789abcdef01234567"


def bpe_tokenizer(specials: list[str], **named: str):
    """A byte-level BPE tokenizer trained in-process on three sentences (no pad token)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320, special_tokens=specials, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(STORY * 10, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, **named)
