"""The course's catalogue of errors, in one place: what the library prints, what it means, how to
fix it, and (for lesson 08) a broken snippet that raises it for real next to a fixed one.

Three things are generated from this module, and tests fail when they drift from it:

* ``docs/troubleshooting.md`` (``python -m helpers troubleshooting`` writes it; ``--check``
  only compares), whose quoted messages ``tests/test_docs.py`` reproduces for real;
* the index and the "rest of the catalogue" cells of ``solutions/08_troubleshooting.ipynb``
  (the same command rewrites those two markdown cells, and the student copy);
* the clinic cells of lesson 08: each :class:`Demo`'s broken and fixed code is a cell's source
  (``tests/test_troubleshooting.py`` compares them, and nbval re-runs them).

To add an error: a rule in ``helpers/diagnosis.py`` (raised for real in a test), a :class:`Row`
in :data:`ROWS` below (its ``see`` column quotes the first line as printed, tagged
``[rule-name]``; add the input that raises it to ``Inputs`` in ``tests/test_docs.py``), then run
``python -m helpers troubleshooting``. Never edit ``docs/troubleshooting.md`` by hand: the command
refuses to overwrite rows it does not know, and says which ones to move here.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["AREAS", "DEMOS", "ROWS", "Demo", "Row", "render_doc", "index_markdown", "rest_markdown"]

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "troubleshooting.md"
LESSON = "08_troubleshooting.ipynb"
INDEX_CELL, REST_CELL = "l08-index", "l08-rest"

#: the areas of the course, in the order of the doc and the lesson's index
AREAS = {
    "loading": "Loading a model",
    "tokenizer": "Tokenizers",
    "batching": "Batching and padding",
    "generation": "Generation",
    "memory": "Memory, devices and dtypes",
    "speed": "Speed and caches",
    "chat": "Chat models and templates",
}

_SPAN = re.compile(r"``(.+?)``|`([^`]+)`")
_TAG = re.compile(r"\[([a-z0-9-]+)\]")


@dataclass(frozen=True)
class Row:
    """One entry of the catalogue: a row of docs/troubleshooting.md.

    ``see`` quotes the error's first line as the pinned versions print it (in backticks,
    ``Type: message``; ``…`` and ``DIR`` stand for text left out) followed by ``[rule]`` tags;
    ``means`` is the cause in a line, ``fix`` the fix (markdown)."""

    rule: str
    area: str
    see: str
    means: str
    fix: str

    @property
    def rules(self) -> list[str]:
        """The ``[rule]`` tags of the ``see`` column (outside code spans), in order."""
        return _TAG.findall(_SPAN.sub("", self.see))

    @property
    def see_text(self) -> str:
        """``see`` without its tags: the messages a learner searches for."""
        outside = _SPAN.split(self.see)
        spans = [m.group(0) for m in _SPAN.finditer(self.see)]
        text = ""
        parts = [p for i, p in enumerate(outside) if i % 3 == 0]
        for i, part in enumerate(parts):
            text += _TAG.sub("", part)
            if i < len(spans):
                text += spans[i]
        return re.sub(r"\s+([;,.)])", r"\1", re.sub(r"\s{2,}", " ", text)).strip(" ;")

    def markdown(self) -> str:
        return f"| {self.see} | {self.means} | {self.fix} |"


@dataclass(frozen=True)
class Demo:
    """Lesson 08's live demonstration of one rule: the broken cell (which raises inside
    ``helpers.expect_error``) and the fixed cell that runs. ``by_hand`` says why the error is
    built by hand instead of raised (e.g. it needs a GPU)."""

    rule: str
    title: str
    broken: str
    fixed: str
    by_hand: str = ""



# --------------------------------------------------------------------------------------------
# The catalogue: one row per error, by area (the doc's order)
# --------------------------------------------------------------------------------------------

ROWS: list[Row] = [
    Row(
        'missing-folder', 'loading',
        see=(
            "`OSError: Repo id must use alphanumeric chars, '-', '_' or '.'. The name cannot "
            "start or end with '-' or '.' and the maximum length is 96: './my-model'.` (for "
            "`./my-model`); ``OSError: Repo id must be in the form 'repo_name' or "
            "'namespace/repo_name': '/data/my-model'. Use `repo_type` argument if needed.`` "
            '(for `/data/my-model`) [missing-folder]'),
        means="The folder doesn't exist, so transformers took the string for a hub id.",
        fix="Check the path (relative to the notebook's folder), or use an absolute path.",
    ),
    Row(
        'bad-repo-id', 'loading',
        see=(
            "`OSError: Repo id must use alphanumeric chars, '-', '_' or '.'. …: 'my model'.` "
            '[bad-repo-id]'),
        means='Not a valid hub id (spaces, `//`, leading `-`).',
        fix='Copy the id from the model page: `namespace/name`.',
    ),
    Row(
        'hub-unreachable', 'loading',
        see=(
            "`OSError: We couldn't connect to 'https://huggingface.co' to load the files, and "
            "couldn't find them in the cached files.` [hub-unreachable]"),
        means=(
            "No network (or `HF_HUB_OFFLINE=1`) and the model isn't cached. Without "
            '`HF_HUB_OFFLINE` this error comes only after ~24 s of retries. A model that *is* '
            'cached loads without network, but `AutoTokenizer` still retries each optional file'
            ' it lacks (~24 s each; 48 s to 2.5 min measured).'),
        fix=(
            'Download on a connected machine (`python -m helpers prefetch ID`), copy the cache,'
            ' set `HF_HUB_OFFLINE=1`; or use the bundled model.'),
    ),
    Row(
        'repo-not-found', 'loading',
        see=(
            "`OSError: … is not a local folder and is not a valid model identifier listed on "
            "'https://huggingface.co/models'` [repo-not-found]"),
        means=(
            'The hub has no model of that id that you may read: a typo, a renamed or deleted '
            'model, or a private one (the hub answers the same for both).'),
        fix=(
            "Copy the id from the model's page (`owner/name`); for a private model log in "
            '(`hf auth login`); for a folder on disk pass its path.'),
    ),
    Row(
        'gated-repo', 'loading',
        see="`OSError: You are trying to access a gated repo.` [gated-repo]",
        means=(
            'The model exists but is gated: its owners give access per user once their '
            'conditions are accepted. 401: no token was sent; 403: the account has no access '
            'yet.'),
        fix=(
            "Accept the conditions on the model's page, then `hf auth login` (or set "
            '`HF_TOKEN`); or use a model that is not gated.'),
    ),
    Row(
        'revision-not-found', 'loading',
        see=(
            "`OSError: … is not a valid git identifier (branch name, tag name or commit id) that "
            "exists for this model name. …` [revision-not-found]"),
        means='`revision=` names no branch, tag or commit of this model.',
        fix=(
            '`huggingface_hub.list_repo_refs(id)` lists branches and tags; a commit is the full '
            '40-character hash; or leave `revision` out.'),
    ),
    Row(
        'download-interrupted', 'loading',
        see=(
            '`RemoteProtocolError: peer closed connection without sending complete message body '
            '(received … bytes, expected …)` [download-interrupted]'),
        means=(
            'The connection broke mid-download (network, proxy, server). The unfinished file '
            'stays in the cache as `*.incomplete` and is never used as the model.'),
        fix=(
            'Run it again (finished files are kept); fetch a big model first with '
            '`python -m helpers prefetch ID`; on a slow link raise `HF_HUB_DOWNLOAD_TIMEOUT`.'),
    ),
    Row(
        'unknown-model-type', 'loading',
        see=(
            '``ValueError: The checkpoint you are trying to load has model type `x` but '
            'Transformers does not recognize this architecture`` [unknown-model-type]'),
        means='The model is newer than your transformers, or it ships its own code.',
        fix=(
            'Read the model card; upgrade transformers, or choose a model this version knows. '
            "Don't pass `trust_remote_code=True` blindly."),
    ),
    Row(
        'no-model-type', 'loading',
        see=(
            '``ValueError: Unrecognized model in DIR. Should have a `model_type` key in its '
            'config.json`` [no-model-type]'),
        means=(
            "The config isn't a transformers config (4.x guessed the type from a name such as "
            "`gpt2` in the folder's name; 5.x doesn't)."),
        fix='Check the folder; re-download.',
    ),
    Row(
        'wrong-auto-class', 'loading',
        see=(
            "`ValueError: Unrecognized configuration class <class '…ViTConfig'> for this kind "
            'of AutoModel: AutoModelForCausalLM.` [wrong-auto-class]'),
        means='Not a text generator (vision model, encoder-decoder …).',
        fix=(
            'Use the Auto class the model card names (e.g. `AutoModelForSeq2SeqLM`), or a '
            'causal LM.'),
    ),
    Row(
        'unknown-identifier', 'loading',
        see='`ValueError: Unrecognized model identifier: foo` [unknown-identifier]',
        means='Only from `AutoConfig.for_model("foo")`.',
        fix='Use a `model_type` transformers knows.',
    ),
    Row(
        'no-weights', 'loading',
        see=(
            '`OSError: Error no file named model.safetensors, or pytorch_model.bin, found in '
            'directory DIR` [no-weights]'),
        means='The folder has a config but no weights (incomplete download, Git LFS pointers).',
        fix='Re-download; `git lfs pull`; for the bundled models `make models`.',
    ),
    Row(
        'invalid-json', 'loading',
        see=(
            "`OSError: It looks like the config file at 'DIR/config.json' is not a valid JSON "
            'file.` (the line and column are in the chained `JSONDecodeError`; a broken '
            '`tokenizer.json` raises a bare `JSONDecodeError`) [invalid-json]'),
        means='A hand edit broke the JSON: a missing or extra comma, single quotes, a comment.',
        fix=(
            'Fix it at the line and column the diagnosis names; `python -m json.tool FILE` '
            'checks it; or get a clean copy.'),
    ),
    Row(
        'shape-mismatch', 'loading',
        see=(
            '``RuntimeError: You set `ignore_mismatched_sizes` to `False`, thus raising an '
            'error. For details look at the above report!`` [shape-mismatch]'),
        means=(
            'A tensor in the weights has another shape than the config builds (e.g. '
            '`hidden_size` changed): config and weights come from different models. The logged '
            'report lists the tensors; the diagnosis names the first.'),
        fix=(
            'Use the config saved with the weights. `ignore_mismatched_sizes=True` loads anyway'
            " with those tensors random (`helpers.load()`'s report lists them)."),
    ),
    Row(
        'corrupt-safetensors', 'loading',
        see=(
            '`SafetensorError: Error while deserializing header: header too large` / '
            '`incomplete metadata` [corrupt-safetensors]'),
        means='The weights file is corrupt or truncated.',
        fix=(
            'Re-download with `force_download=True` or delete that cache entry; bundled: `git '
            'checkout -- FILE`.'),
    ),
    Row(
        'cpu-oom', 'memory',
        see="`RuntimeError: … DefaultCPUAllocator: can't allocate memory` [cpu-oom]",
        means='Out of RAM (a plain RuntimeError on CPU).',
        fix=(
            'Smaller dtype; `device_map="auto"` + `max_memory` to offload; a smaller model. '
            'Estimate first: `helpers.estimate_memory`.'),
    ),
    Row(
        'cuda-oom', 'memory',
        see='`torch.OutOfMemoryError: CUDA out of memory. Tried to allocate …` [cuda-oom]',
        means='Out of GPU memory (weights + KV cache + activations).',
        fix=(
            'Smaller dtype; `device_map="auto"` + `max_memory` to offload; quantization '
            '(`quantization_config=BitsAndBytesConfig(...)`); smaller batch / `max_new_tokens`; '
            '`PYTORCH_ALLOC_CONF=expandable_segments:True`.'),
    ),
    Row(
        'bad-device-map', 'memory',
        see=(
            '`ValueError: When passing device_map as a string, the value needs to be a device '
            'name … but found disk` [bad-device-map]'),
        means='Not a valid `device_map`.',
        fix=(
            '`"auto"`, `"balanced"`, `"balanced_low_0"`, `"sequential"`, `"cpu"`, `"cuda[:N]"`,'
            ' `"mps"`, an int or a dict (dict values may be `"disk"`).'),
    ),
    Row(
        'bad-dtype', 'loading',
        see="`AttributeError: module 'torch' has no attribute 'float17'` [bad-dtype]",
        means='Not a torch dtype.',
        fix='`"auto"`, `torch.float32`, `torch.bfloat16`, `torch.float16` (or their names).',
    ),
    Row(
        'no-accelerate', 'memory',
        see=(
            '``ValueError: Using a `device_map`, `tp_plan`, `torch.device` context manager or '
            'setting `torch.set_default_device(device)` requires `accelerate`.`` '
            '[no-accelerate]'),
        means='`device_map` needs the accelerate package.',
        fix='`pip install accelerate` (pinned in this course).',
    ),
    Row(
        'move-offloaded', 'memory',
        see=(
            "`RuntimeError: You can't move a model that has some modules offloaded to cpu or "
            'disk.` [move-offloaded]'),
        means=(
            '`.to()` or `.cuda()` on a model with weights offloaded to CPU or disk: accelerate '
            'refuses both, even a dtype-only `.to(torch.bfloat16)`. (`.half()`, `.float()`, '
            '`.bfloat16()` are not refused, and the model still generates correctly.)'),
        fix='Reload with the dtype / placement you want; move the inputs, not the model.',
    ),
    Row(
        'no-pad-token', 'batching',
        see=(
            '`ValueError: Asking to pad but the tokenizer does not have a padding token` '
            '[no-pad-token]'),
        means='GPT-2-style tokenizers have no pad token.',
        fix=(
            '`tokenizer.pad_token = tokenizer.eos_token`, and `padding_side="left"` for batched'
            ' generation.'),
    ),
    Row(
        'remote-code', 'loading',
        see='`… contains custom code which must be executed …` [remote-code]',
        means='The checkpoint needs its own Python code.',
        fix=(
            'Read that code, pin `revision=`, and only then consider `trust_remote_code=True`. '
            "The course's helpers never turn it on."),
    ),
    Row(
        'tokenizer-needs-package', 'tokenizer',
        see=(
            '``ValueError: `tiktoken` is required to read a `tiktoken` file. Install it with '
            '`pip install tiktoken`.`` (a folder with `tokenizer.model` but no '
            '`tokenizer.json`) [tokenizer-needs-package]'),
        means=(
            'The only vocabulary is a SentencePiece / tiktoken file, and neither package is '
            'installed (the course does not install them).'),
        fix=(
            '`pip install sentencepiece` (or `tiktoken`) and restart the kernel; or save the '
            'tokenizer once where it loads: `tokenizer.save_pretrained(folder)` writes '
            '`tokenizer.json`.'),
    ),
    Row(
        'no-tokenizer-files', 'tokenizer',
        see="`ValueError: Couldn't instantiate the backend tokenizer …` [no-tokenizer-files]",
        means=(
            'The folder has no `tokenizer.json` (nor a vocabulary transformers can convert). '
            'With no tokenizer files at all, `AutoTokenizer` may even return an empty tokenizer'
            ' without an error; `helpers.load()` checks the files before loading the weights.'),
        fix=(
            'Load the tokenizer from where the model came from; save both model and tokenizer '
            'after training.'),
    ),
    Row(
        'no-cuda', 'memory',
        see='`AssertionError: Torch not compiled with CUDA enabled` [no-cuda]',
        means='A CUDA device asked for on a CPU build of torch.',
        fix='`device_map="auto"` (uses what exists), or install a CUDA build of torch.',
    ),
    Row(
        'no-chat-template', 'chat',
        see=(
            '`ValueError: Cannot use chat template functions because tokenizer.chat_template is'
            ' not set` [no-chat-template]'),
        means='A base model has no chat template.',
        fix='Use plain text with a base model; load a chat model for conversations.',
    ),
    Row(
        'chat-template-error', 'chat',
        see=(
            '`jinja2.exceptions.TemplateError: System role not supported` (or `Conversation '
            'roles must alternate user/assistant/user/assistant/...`) [chat-template-error]'),
        means=(
            "The model's chat template checks the messages and refuses them: no system role "
            "(Gemma 2), or turns that don't alternate user/assistant. A `TemplateSyntaxError` "
            'means a template you wrote is not valid Jinja.'),
        fix=(
            'Put the system text at the start of the first user message; merge consecutive '
            'messages of one role; read the rule in `tokenizer.get_chat_template()`.'),
    ),
    Row(
        'batch-encoding-as-tensor', 'chat',
        see=(
            '`AttributeError` with no message, from `generate(input_ids)` or `input_ids.shape` '
            "after `apply_chat_template` (the chained `KeyError: 'shape'` names the attribute) "
            '[batch-encoding-as-tensor]'),
        means=(
            "transformers 5's `apply_chat_template` returns a `BatchEncoding` (dict of "
            '`input_ids` and `attention_mask`) by default; 4.x code expects the ids tensor.'),
        fix=(
            '`model.generate(**inputs)` and `inputs["input_ids"].shape[1]`; or '
            '`return_dict=False` for the ids alone.'),
    ),
    Row(
        'auto-factory', 'loading',
        see=(
            '`OSError: AutoModelForCausalLM is designed to be instantiated using '
            '…from_pretrained` (or `OSError: AutoTokenizer is designed to be instantiated '
            'using …from_pretrained`, and so on for each Auto class) [auto-factory]'),
        means='Auto classes are factories: `AutoModelForCausalLM()` or `AutoTokenizer()` builds '
              'nothing.',
        fix='`AutoModelForCausalLM.from_pretrained(...)`, `AutoTokenizer.from_pretrained(...)`.',
    ),
    Row(
        'lists-not-tensors', 'tokenizer',
        see=(
            "`AttributeError: 'list' object has no attribute 'size'` (or `'shape'`) "
            "[lists-not-tensors]; `TypeError: embedding(): argument 'indices' (position 2) must"
            ' be Tensor, not list` [lists-not-tensors-type]'),
        means="The model got the tokenizer's Python lists.",
        fix='`tokenizer(text, return_tensors="pt")`, then `model(**inputs)`.',
    ),
    Row(
        'ragged-batch', 'batching',
        see=(
            '`ValueError: Unable to create tensor, you should probably activate truncation '
            'and/or padding …` [ragged-batch]'),
        means="Texts of different lengths can't form one tensor.",
        fix=(
            '`tokenizer(texts, padding=True, return_tensors="pt")` (a pad token first for '
            'GPT-2-style tokenizers).'),
    ),
    Row(
        'bad-return-tensors', 'tokenizer',
        see=(
            "`ValueError: tf is not a valid TensorType, please select one of ['pt', 'np', "
            "'mlx']` [bad-return-tensors]"),
        means='transformers 5 dropped TensorFlow; 4.x code passes `"tf"`.',
        fix='`return_tensors="pt"`.',
    ),
    Row(
        'token-id-out-of-range', 'tokenizer',
        see='`IndexError: index out of range in self` [token-id-out-of-range]',
        means=(
            "An id past the model's embedding table: a token added without resizing, ids from "
            'another tokenizer, or a text longer than learned positions.'),
        fix=(
            "`model.resize_token_embeddings(len(tokenizer))`; the model's own tokenizer; "
            '`truncation=True, max_length=…`.'),
    ),
    Row(
        'stop-strings-no-tokenizer', 'generation',
        see=(
            '`ValueError: There are one or more stop strings … we could not locate a '
            'tokenizer.` [stop-strings-no-tokenizer]'),
        means=(
            '`stop_strings=` is text; generate() needs the tokenizer to match it against '
            'tokens.'),
        fix=(
            '`model.generate(..., stop_strings=[...], tokenizer=tokenizer)`. The stop string '
            'stays in the output.'),
    ),
    Row(
        'max-length-below-prompt', 'generation',
        see=(
            '``ValueError: Input length of input_ids is 16, but `max_length` is set to 10.`` '
            '[max-length-below-prompt]'),
        means='`max_length` counts the prompt too, and the prompt is already that long.',
        fix='`max_new_tokens=N` (counts only new tokens); or `max_length = prompt tokens + N`.',
    ),
    Row(
        'zero-temperature', 'generation',
        see=(
            '``ValueError: `temperature` (=0.0) has to be a strictly positive float …`` '
            '[zero-temperature]'),
        means='`temperature=0` with `do_sample=True`: transformers does not read 0 as "greedy".',
        fix=(
            '`do_sample=False` for the most likely token every time; a small positive '
            'temperature for a little randomness.'),
    ),
    Row(
        'invalid-generation-config', 'generation',
        see=(
            '``ValueError: GenerationConfig is invalid: - `temperature`: `do_sample` is not set'
            ' to `True` …`` [invalid-generation-config]'),
        means=(
            'A sampling-only setting (temperature, top_p, top_k …) on a greedy config. '
            '`generate()` only logs it once; `validate(strict=True)` and `save_pretrained()` '
            'refuse it.'),
        fix=(
            '`do_sample=True` to sample, or unset the flag (`generation_config.temperature = '
            'None`). Check what `model.generation_config` inherited from the checkpoint.'),
    ),
    Row(
        'generation-in-model-config', 'generation',
        see=(
            '`ValueError: You have modified the pretrained model configuration to control '
            'generation …` [generation-in-model-config]'),
        means='Generation settings written on `model.config` (a 4.x habit).',
        fix=(
            'Put them on `model.generation_config` (and `del model.config.<name>`), or pass '
            'them to `generate()`.'),
    ),
    Row(
        'streamer-batch', 'generation',
        see='`ValueError: TextStreamer only supports batch size 1` [streamer-batch]',
        means=(
            'A `TextStreamer` (or `TextIteratorStreamer`) passed to `generate()` with a batch '
            'of several prompts: it prints one text.'),
        fix=(
            'Stream one prompt (a batch of 1) and generate the rest as a batch without a '
            'streamer.'),
    ),
    Row(
        'greedy-num-return-sequences', 'generation',
        see=(
            '``ValueError: Greedy methods (do_sample != True) without beam search do not '
            'support `num_return_sequences` different than 1 (got 2).`` '
            '[greedy-num-return-sequences]'),
        means='`num_return_sequences=n` with greedy decoding would give n identical rows.',
        fix=(
            '`do_sample=True` (seeded), or beam search with `num_beams >= n`; the output has n '
            'consecutive rows per prompt.'),
    ),
    Row(
        'removed-load-in-kbit', 'memory',
        see=(
            '`TypeError: GPT2LMHeadModel.__init__() got an unexpected keyword argument '
            "'load_in_4bit'` (or `'load_in_8bit'`) [removed-load-in-kbit]"),
        means='transformers 5 removed the 4.x `load_in_4bit=` / `load_in_8bit=` arguments.',
        fix=(
            '`quantization_config=BitsAndBytesConfig(load_in_4bit=True)` with '
            '`device_map="auto"`, on a CUDA GPU with bitsandbytes installed.'),
    ),
    Row(
        'no-bitsandbytes', 'memory',
        see=(
            '``ImportError: Using `bitsandbytes` 4-bit quantization requires bitsandbytes`` '
            '[no-bitsandbytes]'),
        means='A `BitsAndBytesConfig` without the bitsandbytes package.',
        fix=(
            'On a CUDA machine `pip install -U bitsandbytes`; on a CPU leave quantization out '
            'and load in bfloat16 or float32.'),
    ),
    Row(
        'max-memory-device', 'memory',
        see=(
            '`ValueError: Device cuda:0 is not recognized, available devices are integers(for '
            "GPU/XPU), 'mps', 'cpu' and 'disk'` [max-memory-device]"),
        means='`max_memory` names GPUs as integers, not `"cuda:0"` or `"gpu"`.',
        fix='`max_memory={0: "20GiB", 1: "20GiB", "cpu": "64GiB"}`.',
    ),
    Row(
        'memory-size-format', 'memory',
        see='``ValueError: `size` 2 gigs is not in a valid format`` [memory-size-format]',
        means='A `max_memory` budget that is not bytes or a number with a unit.',
        fix='An int (bytes) or a string such as `"20GiB"` or `"500MB"`.',
    ),
    Row(
        'static-cache-full', 'speed',
        see=(
            '`IndexError: index_copy_(): index 18 is out of bounds for dimension 2 with size '
            '18` [static-cache-full]'),
        means=(
            'A `StaticCache` is allocated once with room for `max_cache_len` positions; the '
            'prompt plus the new tokens needed more.'),
        fix=(
            '`StaticCache(config=model.config, max_cache_len=prompt tokens + max_new_tokens)`, '
            'or `cache_implementation="static"`, which sizes the cache itself.'),
    ),
    Row(
        'bad-cache-implementation', 'speed',
        see=(
            "``ValueError: Invalid `cache_implementation` (statc). Choose one of: ('static', "
            '…)`` [bad-cache-implementation]'),
        means='A name `generate()` does not know (often a typo).',
        fix=(
            'One of the names listed: `"static"` for a preallocated cache, or leave it out for '
            'the default dynamic cache.'),
    ),
    Row(
        'too-few-tokens-to-time', 'speed',
        see=(
            '`ValueError: max_new_tokens must be at least 2 to time any decode step` '
            '[too-few-tokens-to-time]'),
        means=(
            '`helpers.measure_speed` times decoding as the gaps between steps; one new token is'
            ' only the prefill.'),
        fix='`max_new_tokens=32` or so; its `prefill_s` is the time to the first token.',
    ),
]


# --------------------------------------------------------------------------------------------
# Lesson 08's clinic: one broken cell and one fixed cell per error, in the lesson's order.
# The cells run in one kernel, top to bottom, after the lesson's setup cell (imports, model_path,
# chat_path, prompt), so a fixed cell may define what later cells use (model, tokenizer, ...).
# --------------------------------------------------------------------------------------------

DEMOS: list[Demo] = [
    # loading -------------------------------------------------------------------------------
    Demo(
        "missing-folder",
        "A folder that does not exist",
        'with helpers.expect_error(OSError):\n'
        '    AutoModelForCausalLM.from_pretrained("./my-model")   # no such folder here',
        "model = AutoModelForCausalLM.from_pretrained(model_path)   # a real folder, or a hub id\n"
        'print(type(model).__name__, "loaded from", helpers.course_model_name())',
    ),
    Demo(
        "auto-factory",
        "An Auto class called like a class",
        "with helpers.expect_error(OSError):\n"
        "    tokenizer = AutoTokenizer()",
        "tokenizer = AutoTokenizer.from_pretrained(model_path)   # the factory method\n"
        'print(type(tokenizer).__name__, "with", len(tokenizer), "tokens")',
    ),
    Demo(
        "bad-dtype",
        "A dtype written as a nickname",
        "with helpers.expect_error(AttributeError):\n"
        '    AutoModelForCausalLM.from_pretrained(model_path, dtype="bf16")',
        "half = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.bfloat16)\n"
        'print("loaded in", half.dtype)',
    ),
    Demo(
        "no-weights",
        "A folder with a config but no weights",
        'config_only = Path(tempfile.mkdtemp()) / "half-downloaded"\n'
        "AutoConfig.from_pretrained(model_path).save_pretrained(config_only)   # no weights\n"
        "with helpers.expect_error(OSError):\n"
        "    AutoModelForCausalLM.from_pretrained(config_only)",
        "model.save_pretrained(config_only)   # the whole checkpoint: config and weights\n"
        "reloaded = AutoModelForCausalLM.from_pretrained(config_only)\n"
        'print("files now:", sorted({p.suffix for p in config_only.iterdir()}))',
    ),
    Demo(
        "invalid-json",
        "A hand-edited config that is no longer JSON",
        "from transformers.utils import CONFIG_NAME   # the config's file name\n"
        "\n"
        'edited = Path(tempfile.mkdtemp()) / "hand-edited"\n'
        "model.save_pretrained(edited)\n"
        "config_file = edited / CONFIG_NAME\n"
        'config_file.write_text(config_file.read_text().replace("{", "{,", 1))   # a stray comma\n'
        "with helpers.expect_error(OSError) as bad_json:\n"
        "    AutoModelForCausalLM.from_pretrained(edited)",
        "clean = AutoConfig.from_pretrained(model_path).to_json_string()   # a clean copy\n"
        "config_file.write_text(clean)\n"
        "fixed = AutoModelForCausalLM.from_pretrained(edited)\n"
        'print(type(fixed).__name__, "loads again")',
    ),
    # tokenizer -----------------------------------------------------------------------------
    Demo(
        "lists-not-tensors",
        "Python lists given to the model",
        "with helpers.expect_error(AttributeError, TypeError):\n"
        "    model(**tokenizer(prompt))   # the tokenizer returns lists unless asked for tensors",
        'inputs = tokenizer(prompt, return_tensors="pt")\n'
        "logits = model(**inputs).logits\n"
        'print("logits:", tuple(logits.shape), "= (batch, tokens, vocabulary)")',
    ),
    Demo(
        "bad-return-tensors",
        'return_tensors="tf" from 4.x code',
        "with helpers.expect_error(ValueError):\n"
        '    tokenizer(prompt, return_tensors="tf")',
        'print(type(tokenizer(prompt, return_tensors="pt")["input_ids"]))',
    ),
    Demo(
        "token-id-out-of-range",
        "A token id past the embedding table",
        "table_size = model.get_input_embeddings().num_embeddings\n"
        "with helpers.expect_error(IndexError):\n"
        "    model(input_ids=torch.tensor([[table_size]]))   # ids run from 0 to table_size - 1",
        "last_id = table_size - 1\n"
        "scores = model(input_ids=torch.tensor([[last_id]])).logits\n"
        'print("id", last_id, "->", scores.shape[-1], "scores")',
    ),
    # batching ------------------------------------------------------------------------------
    Demo(
        "no-pad-token",
        "Padding with a tokenizer that has no pad token",
        "texts = [prompt, \"The little fox ran all the way home to his mother\"]\n"
        "no_pad = copy.deepcopy(tokenizer)\n"
        "no_pad.pad_token = None   # GPT-2-style tokenizers ship like this\n"
        "with helpers.expect_error(ValueError):\n"
        '    no_pad(texts, padding=True, return_tensors="pt")',
        "padded = copy.deepcopy(no_pad)\n"
        "padded.pad_token = padded.eos_token   # any token will do: the attention mask hides it\n"
        'padded.padding_side = "left"          # generation continues from the right end\n'
        'batch = padded(texts, padding=True, return_tensors="pt")\n'
        'print(batch["attention_mask"])',
    ),
    Demo(
        "ragged-batch",
        "Texts of different lengths as one tensor",
        "with helpers.expect_error(ValueError):\n"
        '    padded(texts, return_tensors="pt")   # no padding=True',
        'print(padded(texts, padding=True, return_tensors="pt")["input_ids"].shape)',
    ),
    # generation ----------------------------------------------------------------------------
    Demo(
        "max-length-below-prompt",
        "max_length shorter than the prompt",
        'story = tokenizer("Once upon a time, in a quiet village by the sea, there lived a fox",\n'
        '                  return_tensors="pt")\n'
        'n_prompt = story["input_ids"].shape[1]\n'
        "with helpers.expect_error(ValueError):\n"
        "    model.generate(**story, max_length=n_prompt // 2,   # counts the prompt too\n"
        "                   max_new_tokens=None,   # else the checkpoint's max_new_tokens wins\n"
        "                   pad_token_id=tokenizer.eos_token_id)",
        "out = model.generate(**story, max_new_tokens=8, pad_token_id=tokenizer.eos_token_id)\n"
        'print(n_prompt, "prompt tokens +", out.shape[1] - n_prompt, "new tokens")',
    ),
    Demo(
        "zero-temperature",
        "temperature=0 to mean greedy",
        "with helpers.expect_error(ValueError):\n"
        "    model.generate(**inputs, do_sample=True, temperature=0.0, max_new_tokens=8,\n"
        "                   pad_token_id=tokenizer.eos_token_id)",
        "out = model.generate(**inputs, do_sample=False, max_new_tokens=8,\n"
        "                     pad_token_id=tokenizer.eos_token_id)   # greedy: no temperature\n"
        "print(repr(tokenizer.decode(out[0], skip_special_tokens=True)))",
    ),
    Demo(
        "stop-strings-no-tokenizer",
        "stop_strings without the tokenizer",
        "with helpers.expect_error(ValueError):\n"
        '    model.generate(**inputs, stop_strings=["."], max_new_tokens=30,\n'
        "                   pad_token_id=tokenizer.eos_token_id)",
        'out = model.generate(**inputs, stop_strings=["."], tokenizer=tokenizer,\n'
        "                     max_new_tokens=30, do_sample=False,\n"
        "                     pad_token_id=tokenizer.eos_token_id)\n"
        "print(repr(tokenizer.decode(out[0], skip_special_tokens=True)))",
    ),
    Demo(
        "greedy-num-return-sequences",
        "Several answers from greedy decoding",
        "with helpers.expect_error(ValueError):\n"
        "    model.generate(**inputs, num_return_sequences=2, do_sample=False, max_new_tokens=8,\n"
        "                   pad_token_id=tokenizer.eos_token_id)",
        "transformers.set_seed(0)\n"
        "out = model.generate(**inputs, num_return_sequences=2, do_sample=True, max_new_tokens=8,\n"
        "                     pad_token_id=tokenizer.eos_token_id)\n"
        "for row in out:\n"
        "    print(repr(tokenizer.decode(row, skip_special_tokens=True)))",
    ),
    Demo(
        "streamer-batch",
        "A streamer on a batch",
        "with helpers.expect_error(ValueError):\n"
        "    model.generate(**batch, streamer=TextStreamer(padded), max_new_tokens=8,\n"
        "                   pad_token_id=padded.pad_token_id)",
        "one = padded(texts[:1], return_tensors=\"pt\")   # a batch of one prompt streams\n"
        "_ = model.generate(**one, streamer=TextStreamer(padded), max_new_tokens=8,\n"
        "                   do_sample=False, pad_token_id=padded.pad_token_id)",
    ),
    # memory --------------------------------------------------------------------------------
    Demo(
        "bad-device-map",
        'device_map="disk"',
        "with helpers.expect_error(ValueError):\n"
        '    AutoModelForCausalLM.from_pretrained(model_path, device_map="disk")',
        'placed = AutoModelForCausalLM.from_pretrained(model_path, device_map="cpu")\n'
        'print("on", placed.device)',
    ),
    Demo(
        "memory-size-format",
        "A memory budget in words",
        "with helpers.expect_error(ValueError):\n"
        '    AutoModelForCausalLM.from_pretrained(model_path, device_map="auto",\n'
        '                                         max_memory={"cpu": "2 gigs"})',
        'budgeted = AutoModelForCausalLM.from_pretrained(model_path, device_map="auto",\n'
        '                                                max_memory={"cpu": "2GiB"})\n'
        'print("within budget, on", budgeted.device)',
    ),
    Demo(
        "removed-load-in-kbit",
        "load_in_4bit=True from 4.x code",
        "with helpers.expect_error(TypeError):\n"
        "    AutoModelForCausalLM.from_pretrained(model_path, load_in_4bit=True)",
        "import importlib.util\n"
        "\n"
        "from transformers import BitsAndBytesConfig\n"
        "\n"
        'if torch.cuda.is_available() and importlib.util.find_spec("bitsandbytes"):\n'
        "    small = AutoModelForCausalLM.from_pretrained(\n"
        "        model_path, quantization_config=BitsAndBytesConfig(load_in_4bit=True),\n"
        '        device_map="auto")\n'
        '    print("quantized to 4 bits")\n'
        "else:   # 4-bit needs a CUDA GPU and bitsandbytes: halve float32 weights instead\n"
        "    small = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.bfloat16)\n"
        '    print("no CUDA + bitsandbytes here: loaded in", small.dtype)',
    ),
    Demo(
        "cuda-oom",
        "A model too big for the GPU",
        "cuda_oom = torch.OutOfMemoryError(   # built by hand: torch's own wording\n"
        '    "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "\n'
        '    "15.77 GiB of which 1.06 GiB is free.")\n'
        "with helpers.expect_error(torch.OutOfMemoryError):\n"
        "    raise cuda_oom",
        "need = helpers.estimate_memory(model_path, dtype=torch.bfloat16).total_bytes\n"
        'print(f"the weights need ~{need / 2**20:.2f} MiB in bfloat16: compare with the free '
        'memory before loading")',
        by_hand="this lesson runs without a GPU, so the exception is made with torch's message",
    ),
    # chat ----------------------------------------------------------------------------------
    Demo(
        "no-chat-template",
        "A chat template asked of a base model",
        'messages = [{"role": "user", "content": "Tell me a story about a fox named Leo"}]\n'
        "base_tokenizer = copy.deepcopy(tokenizer)\n"
        "base_tokenizer.chat_template = None   # a base model has no chat template\n"
        "with helpers.expect_error(ValueError):\n"
        "    base_tokenizer.apply_chat_template(messages, add_generation_prompt=True)",
        "chat_tokenizer = AutoTokenizer.from_pretrained(chat_path)   # a chat model's tokenizer\n"
        "print(chat_tokenizer.apply_chat_template(messages, add_generation_prompt=True,\n"
        "                                         tokenize=False))",
    ),
    Demo(
        "batch-encoding-as-tensor",
        "apply_chat_template's result used as a tensor",
        "chat_inputs = chat_tokenizer.apply_chat_template(messages, add_generation_prompt=True,\n"
        '                                                 return_tensors="pt")\n'
        "with helpers.expect_error(AttributeError):\n"
        "    chat_inputs.shape   # 4.x returned the ids; 5.x returns a BatchEncoding (a dict)",
        'print(list(chat_inputs), tuple(chat_inputs["input_ids"].shape))',
    ),
    Demo(
        "chat-template-error",
        "A template that refuses the messages",
        "from jinja2.exceptions import TemplateError\n"
        "\n"
        "strict = copy.deepcopy(chat_tokenizer)   # a template that checks roles, as Gemma 2's\n"
        "strict.chat_template = (\n"
        "    \"{% if messages[0]['role'] == 'system' %}\"\n"
        "    \"{{ raise_exception('System role not supported') }}{% endif %}\"\n"
        "    \"{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\\n{% endfor %}\")\n"
        'with_system = [{"role": "system", "content": "You tell short stories."}] + messages\n'
        "with helpers.expect_error(TemplateError):\n"
        "    strict.apply_chat_template(with_system, tokenize=False)",
        'merged = [{"role": "user",\n'
        '           "content": with_system[0]["content"] + "\\n\\n" + messages[0]["content"]}]\n'
        "print(strict.apply_chat_template(merged, tokenize=False))",
    ),
]


# --------------------------------------------------------------------------------------------
# What is generated from the catalogue
# --------------------------------------------------------------------------------------------

DOC_HEAD = """\
# Troubleshooting index

<!-- Generated from helpers/catalogue.py by `python -m helpers troubleshooting`: edit the
catalogue, not this file (a test fails when they differ). body sha256 {stamp} -->

The errors that stop people when they load and run a model, as transformers 5.24 / torch 2.13
really word them. `helpers.diagnose(exc)` recognises each of them (the catalogue is `RULES` in
`helpers/diagnosis.py`; the rule names are in brackets) and answers with the cause and the fix;
`helpers.load()` checks most of them before transformers is even called. Every entry is raised for
real in `tests/test_diagnosis.py` (or a lesson's `tests/test_diagnosis_NN.py`), and
`tests/test_docs.py` checks that every message quoted below is what the pinned versions print for
the input it names (`…` and `DIR` stand for text left out). Lesson 08
([notebooks/08_troubleshooting.ipynb](../notebooks/08_troubleshooting.ipynb)) raises most of them
live, each next to its fix.
"""

DOC_TAIL = """
Anything else gets a generic diagnosis: the exception's type and first line, and where to look
in the traceback (the last frame in your own code).
"""

TABLE_HEAD = "| you see | what it really means | fix |\n| --- | --- | --- |"


def demo_of(rule: str) -> Demo | None:
    return next((demo for demo in DEMOS if demo.rule == rule), None)


def rows_by_area() -> dict[str, list[Row]]:
    grouped: dict[str, list[Row]] = {area: [] for area in AREAS}
    for row in ROWS:
        grouped[row.area].append(row)
    return {area: rows for area, rows in grouped.items() if rows}


_STAMP = re.compile(r" body sha256 ([0-9a-f]{12}) -->")


def _stamp(text: str) -> str:
    """The hash of a doc's text without its stamp: a hand edit changes it."""
    import hashlib

    return hashlib.sha256(_STAMP.sub(" body sha256 {stamp} -->", text).encode()).hexdigest()[:12]


def render_doc() -> str:
    """The whole of docs/troubleshooting.md, stamped with the hash of its text."""
    parts = [DOC_HEAD]
    for area, rows in rows_by_area().items():
        parts.append(f"## {AREAS[area]}\n\n{TABLE_HEAD}\n" + "\n".join(r.markdown() for r in rows)
                     + "\n")
    text = "\n".join(parts) + DOC_TAIL
    return text.replace("{stamp}", _stamp(text), 1)


def edited_by_hand(text: str) -> bool:
    """True when a generated doc was changed after it was written (its stamp no longer fits)."""
    found = _STAMP.search(text)
    return found is not None and found.group(1) != _stamp(text)


def _where(row: Row) -> str:
    demo = demo_of(row.rule)
    if demo is None:
        return f"[{row.rule}](#{row.rule}) (below the clinic)"
    if demo.by_hand:
        return f"[{row.rule}](#{row.rule}) (built by hand: {demo.by_hand})"
    return f"[{row.rule}](#{row.rule})"


def index_markdown() -> str:
    """Lesson 08's index cell: every catalogue entry's first line(s), linked to its section."""
    lines = [
        "## Index: find your error",
        "",
        "Search this notebook for the first line of your error (Ctrl+F, or Edit ▸ Find…). Each "
        "line below is an error's first line as the pinned versions print it (`…` stands for "
        "text that depends on your input); the link goes to the section that raises it for real "
        "and fixes it, or, for the errors this lesson does not raise, to their cause and fix "
        "after the clinic. (In JupyterLab a first click on a link may only select this cell; "
        "click again to jump.)",
    ]
    for area, rows in rows_by_area().items():
        lines += ["", f"**{AREAS[area]}**", ""]
        lines += [f"- {row.see_text} → {_where(row)}" for row in rows]
    return "\n".join(lines)


def rest_markdown() -> str:
    """The cell after the clinic: cause and fix of each entry the lesson does not raise."""
    lines = [
        "### The rest of the catalogue",
        "",
        "These errors need a setting this lesson does not build (a network, a corrupt download, "
        "another package, a GPU, or a lesson's own setup). The course's tests raise every one "
        "of them for real (`tests/test_diagnosis*.py`, `tests/test_docs.py`).",
    ]
    for row in ROWS:
        if demo_of(row.rule) is None:
            lines += ["", f"#### {row.rule}", "", row.see_text, "",
                      f"**Cause.** {row.means} **Fix.** {row.fix}"]
    return "\n".join(lines)


def demo_intro(demo: Demo) -> str:
    """The markdown cell above a demo: an anchor heading, the title, cause and fix."""
    row = row_of(demo.rule)
    by_hand = f" *Built by hand: {demo.by_hand}.*" if demo.by_hand else ""
    return (f"#### {demo.rule}\n\n**{demo.title}.** {row.means} **Fix:** {row.fix}{by_hand}")


def generated_markdown() -> dict[str, str]:
    """Every markdown cell of lesson 08 that is generated from the catalogue, by cell id: the
    index, each demo's intro (with its area's heading before the first one), the rest."""
    cells = {INDEX_CELL: index_markdown()}
    seen_area = None
    for demo in DEMOS:
        intro, area = demo_intro(demo), row_of(demo.rule).area
        if area != seen_area:
            intro, seen_area = f"### {AREAS[area]}\n\n{intro}", area
        cells[f"l08-{demo.rule}"] = intro
    cells[REST_CELL] = rest_markdown()
    return cells


def row_of(rule: str) -> Row:
    return next(row for row in ROWS if rule in row.rules)


# --------------------------------------------------------------------------------------------
# Keeping the generated files in step
# --------------------------------------------------------------------------------------------


def doc_rules(text: str) -> set[str]:
    """The ``[rule]`` tags of the table rows of a troubleshooting doc."""
    found: set[str] = set()
    for line in text.splitlines():
        if line.startswith("| ") and "] |" in line:
            found |= set(_TAG.findall(_SPAN.sub("", line.split(" | ")[0])))
    return found


def catalogue_rules() -> set[str]:
    return {rule for row in ROWS for rule in row.rules}


def _solution() -> Path:
    return ROOT / "solutions" / LESSON


def lesson_drift() -> list[str]:
    """Generated cells of lesson 08's solution that differ from the catalogue (the student
    copy follows the solution: ``python -m helpers notebooks --check``)."""
    import nbformat

    if not _solution().exists():
        return []
    want = generated_markdown()
    cells = {cell.get("id"): cell.source for cell in nbformat.read(_solution(), as_version=4).cells}
    return [f"solutions/{LESSON}: cell {cell_id}" for cell_id, source in want.items()
            if cells.get(cell_id) != source]


def _update_lesson() -> bool:
    """Rewrite the generated cells of the solution (markdown: nothing to re-run) and its
    student copy. True when something changed."""
    import nbformat

    from helpers.course import render_student

    if not lesson_drift():
        return False
    want = generated_markdown()
    nb = nbformat.read(_solution(), as_version=4)
    for cell in nb.cells:
        if cell.get("id") in want:
            cell.source = want[cell.get("id")]
    nbformat.write(nb, _solution())
    student = ROOT / "notebooks" / LESSON
    student.write_text(render_student(_solution()), encoding="utf-8")
    return True


def cli(argv: list[str] | None = None) -> int:
    """``python -m helpers troubleshooting [--check] [--force]``: write docs/troubleshooting.md
    and the index cells of lesson 08 from this catalogue (``--check``: only say whether they
    differ; ``--force``: overwrite a doc edited by hand)."""
    argv = list(argv or [])
    check, force = "--check" in argv, "--force" in argv
    current = DOC.read_text() if DOC.exists() else ""
    unknown = sorted(doc_rules(current) - catalogue_rules())
    if unknown:
        print("docs/troubleshooting.md has rows for " + ", ".join(unknown) + " that "
              "helpers/catalogue.py lacks: move each row into ROWS there (it is the one source), "
              "then run `python -m helpers troubleshooting` again.", file=sys.stderr)
        return 1
    if edited_by_hand(current) and not force and not check:
        lost = [line for line in current.splitlines() if line not in render_doc().splitlines()]
        print("docs/troubleshooting.md was edited by hand since it was generated; these lines "
              "are not in helpers/catalogue.py and would be lost:\n  " + "\n  ".join(lost)
              + "\nMove them into the catalogue (or pass --force to drop them).", file=sys.stderr)
        return 1
    stale = ([] if current == render_doc() else ["docs/troubleshooting.md"]) + lesson_drift()
    if check:
        for name in stale:
            print(f"out of date: {name}", file=sys.stderr)
        return 1 if stale else 0
    if current != render_doc():
        DOC.write_text(render_doc())
        print("wrote docs/troubleshooting.md")
    if _update_lesson():
        print(f"updated the index cells of solutions/{LESSON} and notebooks/{LESSON}")
    return 0
