"""Shared fixtures: tiny models built from configs in temporary folders (no network, ~1 s).

Every model fixture is session-scoped and read-only by convention: tests that need to change a
folder copy it first.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from tiny_model_data import CHAT_TEMPLATE, HUB_COMMIT, HUB_ID, bpe_tokenizer


def pytest_addoption(parser):
    parser.addoption(
        "--zoo", default=None, metavar="CONFIGS",
        help="model-zoo configurations the lessons run under in tests/test_model_zoo.py: "
        "ci (default: the few `make test` runs), all (`make test-models`), or names, "
        "comma-separated (see tests/model_zoo.py)",
    )


def pytest_configure(config):
    """Lessons run by nbval and the browser tests must not write progress into the runner's home."""
    if "FROM_PRETRAINED_PROGRESS" not in os.environ:
        folder = tempfile.mkdtemp(prefix="from-pretrained-progress-")
        os.environ["FROM_PRETRAINED_PROGRESS"] = str(Path(folder) / "progress.json")

@pytest.fixture(scope="session")
def model_factory(tmp_path_factory):
    """Builds the tiny models once per session; ``model_factory.gpt2`` etc. are folders."""

    class Factory:
        def __init__(self):
            self.root = tmp_path_factory.mktemp("tiny-models")
            self._built: dict[str, Path] = {}

        def get(self, name: str) -> Path:
            if name not in self._built:
                folder = self.root / name
                getattr(self, "_build_" + name.replace("-", "_"))(folder)
                self._built[name] = folder
            return self._built[name]

        def _build_gpt2(self, folder: Path) -> None:
            import torch
            from transformers import GPT2Config, GPT2LMHeadModel

            tok = bpe_tokenizer(["<|endoftext|>"], bos_token="<|endoftext|>",
                             eos_token="<|endoftext|>")
            config = GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=32, n_layer=2,
                                n_head=2, bos_token_id=0, eos_token_id=0)
            torch.manual_seed(0)
            GPT2LMHeadModel(config).save_pretrained(folder)
            tok.save_pretrained(folder)

        def _build_llama(self, folder: Path) -> None:
            import torch
            from transformers import LlamaConfig, LlamaForCausalLM

            specials = ["<s>", "</s>", "<|user|>", "<|assistant|>", "<|end|>"]
            tok = bpe_tokenizer(specials, bos_token="<s>", eos_token="</s>")
            tok.chat_template = CHAT_TEMPLATE
            config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                 num_hidden_layers=2, num_attention_heads=2,
                                 num_key_value_heads=1, max_position_embeddings=64,
                                 bos_token_id=0, eos_token_id=1, tie_word_embeddings=False)
            torch.manual_seed(0)
            LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(folder)
            tok.save_pretrained(folder)

        def _build_vit(self, folder: Path) -> None:
            from transformers import ViTConfig

            ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=64, image_size=32, patch_size=16).save_pretrained(folder)

        def _build_no_weights(self, folder: Path) -> None:
            shutil.copytree(self.get("gpt2"), folder)
            (folder / "model.safetensors").unlink()

        def _build_corrupt(self, folder: Path) -> None:
            shutil.copytree(self.get("gpt2"), folder)
            (folder / "model.safetensors").write_bytes(bytes(range(256)) * 64)

        def _build_truncated(self, folder: Path) -> None:
            shutil.copytree(self.get("gpt2"), folder)
            weights = folder / "model.safetensors"
            data = weights.read_bytes()
            weights.write_bytes(data[: len(data) // 2])

        def _build_unknown_type(self, folder: Path) -> None:
            shutil.copytree(self.get("gpt2"), folder)
            config = json.loads((folder / "config.json").read_text())
            config["model_type"] = "my_fancy_llm"
            (folder / "config.json").write_text(json.dumps(config))

        def _build_pickle_only(self, folder: Path) -> None:
            import torch
            from safetensors.torch import load_file

            shutil.copytree(self.get("gpt2"), folder)
            weights = folder / "model.safetensors"
            torch.save(load_file(weights), folder / "pytorch_model.bin")
            weights.unlink()

        def _build_hub_cache(self, folder: Path) -> None:
            """A hub cache (HF_HUB_CACHE layout) holding the tiny GPT-2 as HUB_ID at main."""
            repo = folder / ("models--" + HUB_ID.replace("/", "--"))
            (repo / "refs").mkdir(parents=True)
            (repo / "refs" / "main").write_text(HUB_COMMIT)
            shutil.copytree(self.get("gpt2"), repo / "snapshots" / HUB_COMMIT)

    return Factory()


@pytest.fixture(scope="session")
def tiny_gpt2(model_factory) -> Path:
    """GPT-2 architecture, float32, no pad token, with a tokenizer."""
    return model_factory.get("gpt2")


@pytest.fixture(scope="session")
def tiny_llama(model_factory) -> Path:
    """Llama architecture, bfloat16, untied head, tokenizer with a chat template."""
    return model_factory.get("llama")


@pytest.fixture(scope="session")
def vit_folder(model_factory) -> Path:
    """A ViT config: a real model type that is not a text generator."""
    return model_factory.get("vit")


@pytest.fixture(scope="session")
def no_weights_folder(model_factory) -> Path:
    return model_factory.get("no-weights")


@pytest.fixture(scope="session")
def corrupt_folder(model_factory) -> Path:
    """model.safetensors holds random bytes."""
    return model_factory.get("corrupt")


@pytest.fixture(scope="session")
def truncated_folder(model_factory) -> Path:
    """model.safetensors cut in half."""
    return model_factory.get("truncated")


@pytest.fixture(scope="session")
def unknown_type_folder(model_factory) -> Path:
    """config.json says model_type 'my_fancy_llm'."""
    return model_factory.get("unknown-type")


@pytest.fixture(scope="session")
def pickle_folder(model_factory) -> Path:
    """Weights only as pytorch_model.bin (pickle)."""
    return model_factory.get("pickle-only")


@pytest.fixture(scope="session")
def hub_cache_dir(model_factory) -> Path:
    """A hub cache folder holding :data:`HUB_ID` (the tiny GPT-2) at :data:`HUB_COMMIT`."""
    return model_factory.get("hub-cache")


@pytest.fixture
def hub_cache(hub_cache_dir, monkeypatch) -> Path:
    """Point huggingface_hub (and so transformers) at the fake hub cache."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub_cache_dir))
    return hub_cache_dir


@pytest.fixture
def offline(monkeypatch):
    """HF_HUB_OFFLINE=1, as huggingface_hub sees it (its constant is read at import)."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


@pytest.fixture
def unreachable_hub(monkeypatch):
    """Online mode, but the hub endpoint is a closed loopback port (refuses at once)."""
    from huggingface_hub import constants

    from helpers import hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY",
                "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(hub, "_probe_cache", {})


@pytest.fixture
def reachable_hub(monkeypatch):
    """Online mode with a hub that answers: the probe is replaced, nothing is contacted."""
    from huggingface_hub import constants

    from helpers import hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "_probe", lambda **_: (True, None))


@pytest.fixture
def bundled(monkeypatch, tiny_gpt2, tiny_llama, tmp_path_factory) -> Path:
    """Bundled models replaced by the tiny ones (the real ones are trained separately)."""
    from helpers import models

    root = tmp_path_factory.mktemp("bundled")
    for name, source in (("stories-base", tiny_gpt2), ("stories-chat", tiny_llama)):
        if not (root / name).exists():
            (root / name).symlink_to(source, target_is_directory=True)
    monkeypatch.setattr(models, "MODELS_DIR", root)
    monkeypatch.delenv("COURSE_MODEL", raising=False)
    monkeypatch.delenv("COURSE_CHAT_MODEL", raising=False)
    return root
