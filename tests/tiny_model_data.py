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
