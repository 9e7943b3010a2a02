"""Random-weight Llama-shaped checkpoints of chosen sizes, built once and cached.

The bundled models (~1M parameters) are too small to show what matters on real models: there,
per-step overhead hides memory bandwidth. Timing does not depend on what the weights have
learned, so a checkpoint with random weights and a real model's shape gives real-sized figures
without any download. Each one is saved with ``save_pretrained`` (safetensors, fp32) next to
the bundled tokenizer, under ``build/bench-models/`` (gitignored), and rebuilt only when its
recipe changes.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "bench-models"
MARKER = "bench-model.json"


@dataclass(frozen=True)
class ModelSpec:
    """A LlamaConfig's shape (tied input and output embeddings, as in SmolLM2 and Llama 3.2)."""

    name: str
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int = 32000
    max_positions: int = 2048
    dtype: str = "float32"

    def config(self):
        from transformers import LlamaConfig

        return LlamaConfig(
            hidden_size=self.hidden, num_hidden_layers=self.layers,
            num_attention_heads=self.heads, num_key_value_heads=self.heads,
            intermediate_size=self.intermediate, vocab_size=self.vocab,
            max_position_embeddings=self.max_positions, tie_word_embeddings=True,
            bos_token_id=0, eos_token_id=0, pad_token_id=0,
        )

    def parameters(self) -> int:
        """Parameter count from the shape alone (tied embeddings counted once)."""
        h, i = self.hidden, self.intermediate
        per_layer = 4 * h * h + 3 * h * i + 2 * h
        return self.layers * per_layer + self.vocab * h + h


#: ~110M parameters: the brief's "real-sized" model (GPT-2 small / SmolLM2-135M territory)
LLAMA_100M = ModelSpec("llama-100m", hidden=768, layers=12, heads=12, intermediate=2048)
#: ~5M parameters (4M of them the embedding): KV-cache sweeps to 512 tokens *without* a cache
#: (quadratic work) stay affordable on two cores
LLAMA_SMALL = ModelSpec("llama-small", hidden=128, layers=4, heads=4, intermediate=344)
#: a few hundred thousand parameters: the --quick smoke run and the GPU script's dry run
LLAMA_TINY = ModelSpec("llama-tiny", hidden=64, layers=2, heads=4, intermediate=128, vocab=1024,
                       max_positions=1024)
#: ~1.1B parameters (TinyLlama-1.1B's shape, multi-head): the GPU decode benchmark
LLAMA_1B = ModelSpec("llama-1b", hidden=2048, layers=22, heads=32, intermediate=5632,
                     dtype="bfloat16")


def _recipe(spec: ModelSpec) -> dict:
    import transformers

    return {**asdict(spec), "transformers": transformers.__version__, "seed": 0}


def is_built(folder: Path, spec: ModelSpec) -> bool:
    try:
        return json.loads((folder / MARKER).read_text()) == _recipe(spec)
    except (OSError, ValueError):
        return False


def build(spec: ModelSpec, cache: Path = CACHE, tokenizer_from: Path | None = None) -> Path:
    """The folder of ``spec``'s checkpoint under ``cache``, built first if missing or stale.

    Written to a temporary folder and renamed, with the recipe marker written last, so an
    interrupted build is never taken for a finished one.
    """
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    import helpers

    folder = Path(cache) / spec.name
    if is_built(folder, spec):
        return folder
    Path(cache).mkdir(parents=True, exist_ok=True)
    source = tokenizer_from or helpers.bundled_models()["stories-base"]
    with tempfile.TemporaryDirectory(dir=cache, prefix=f".{spec.name}-") as scratch:
        work = Path(scratch) / spec.name
        torch.manual_seed(0)
        model = LlamaForCausalLM(spec.config()).to(getattr(torch, spec.dtype)).eval()
        model.save_pretrained(work)
        AutoTokenizer.from_pretrained(source).save_pretrained(work)
        (work / MARKER).write_text(json.dumps(_recipe(spec), indent=1))
        del model
        if folder.exists():
            shutil.rmtree(folder)
        work.rename(folder)
    return folder


def weight_bytes(folder: Path) -> int:
    """Bytes of the safetensors files in a checkpoint folder (the weights on disk)."""
    return sum(p.stat().st_size for p in Path(folder).glob("*.safetensors"))


__all__ = ["CACHE", "LLAMA_100M", "LLAMA_1B", "LLAMA_SMALL", "LLAMA_TINY", "ModelSpec", "build",
           "is_built", "weight_bytes"]
