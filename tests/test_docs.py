"""The documents a learner and an instructor read first stay true to the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers.diagnosis import RULES

ROOT = Path(__file__).resolve().parents[1]
ALIASES = {"corrupt-safetensors-message": "corrupt-safetensors", "cuda-oom-message": "cuda-oom",
           "python-memory-error": "cpu-oom", "bad-dtype-integer": "bad-dtype",
           "bad-dtype-type": "bad-dtype", "course-error": None,
           "invalid-json-decode": "invalid-json", "shape-mismatch-state-dict": "shape-mismatch"}


def test_every_diagnosis_rule_is_in_the_troubleshooting_index():
    text = (ROOT / "docs" / "troubleshooting.md").read_text()
    for rule in RULES:
        name = ALIASES.get(rule.name, rule.name)
        if name:
            assert f"[{name}]" in text, f"docs/troubleshooting.md lacks [{name}]"


def test_readme_links_point_at_files_that_exist():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)#]+?)\)", readme)
    local = [link for link in links if not link.startswith("http")]
    assert local, "README.md should link the lessons and docs"
    for link in local:
        assert (ROOT / link).exists(), f"README.md links {link}, which does not exist"


def test_readme_lists_every_lesson():
    from helpers.course import lessons

    readme = (ROOT / "README.md").read_text()
    for lesson in lessons(ROOT):
        name = lesson.notebook.name
        assert f"notebooks/{name}" in readme, f"README.md misses {name}"


# --------------------------------------------------------------------------------------------
# Every error message quoted in docs/troubleshooting.md is one the pinned versions really print
# (the doc is generated from helpers/catalogue.py: tests/test_troubleshooting.py)
# --------------------------------------------------------------------------------------------

_SPAN = re.compile(r"``(.+?)``|`([^`]+)`")
_TAG = re.compile(r"\[([a-z0-9-]+)\]")
_QUOTE = re.compile(r"^(?:(?P<type>[A-Za-z_][\w.]*(?:Error|Exception)): |(?=…))(?P<msg>.+)$")


def quoted_errors() -> list[tuple[str, str | None, str]]:
    """(rule, exception type or None, message) for each error quoted in the first column."""
    found = []
    for line in (ROOT / "docs" / "troubleshooting.md").read_text().splitlines():
        if not line.startswith("| ") or line.startswith("| ---") or "] |" not in line:
            continue
        cell = line[2 : line.index("] |") + 1]
        pending: list[tuple[str | None, str]] = []
        spans = [(m.start(), "span", m.group(1) or m.group(2)) for m in _SPAN.finditer(cell)]
        tags = [(m.start(), "tag", m.group(1)) for m in _TAG.finditer(cell)
                if not _inside_span(cell, m.start())]
        tokens = sorted(spans + tags)
        for _, kind, text in tokens:
            if kind == "span":
                quote = _QUOTE.match(text)
                if quote:
                    pending.append((quote.group("type"), quote.group("msg")))
            else:
                found += [(text, kind_, msg) for kind_, msg in pending]
                pending = []
    return found


def _inside_span(cell: str, pos: int) -> bool:
    return any(m.start() < pos < m.end() for m in _SPAN.finditer(cell))


def message_regex(quoted: str) -> re.Pattern[str]:
    """"…" and the placeholder DIR (with the spaces around them) stand for any text; other
    runs of spaces for any whitespace (a quoted message joins the lines of a long one)."""
    parts = re.split(r"…|\bDIR\b", quoted)
    pieces = [r"\s+".join(re.escape(word) for word in part.strip().split())
              for part in parts]
    return re.compile(".*?".join(pieces), re.DOTALL)


def _raise(fn, *args, **kwargs) -> BaseException:
    try:
        fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - whatever the library raises
        return exc
    raise AssertionError(f"{fn} raised nothing")


class Inputs:
    """The inputs each quoted message is documented for, raised for real (CUDA OOM, which
    needs a GPU, is constructed from torch's message format)."""

    def __init__(self, gpt2: Path, tmp: Path) -> None:
        self.gpt2, self.tmp = gpt2, tmp

    def _model(self):
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(self.gpt2)

    def _tok(self):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self.gpt2)

    def _folder(self, name: str, config: dict | None = None, copy: bool = True) -> Path:
        import json
        import shutil

        folder = self.tmp / name
        if not folder.exists():
            if copy:
                shutil.copytree(self.gpt2, folder)
            else:
                folder.mkdir()
            if config is not None:
                (folder / "config.json").write_text(json.dumps(config))
        return folder

    def run(self, rule: str) -> list[BaseException]:
        import os

        from transformers import AutoConfig, AutoModelForCausalLM

        fp = AutoModelForCausalLM.from_pretrained
        cwd = os.getcwd()
        os.chdir(self.tmp)  # relative paths such as ./my-model must not exist
        try:
            return getattr(self, "rule_" + rule.replace("-", "_"))(fp, AutoConfig)
        finally:
            os.chdir(cwd)

    def rule_missing_folder(self, fp, _):
        return [_raise(fp, "./my-model"), _raise(fp, "/data/my-model")]

    def rule_bad_repo_id(self, fp, _):
        return [_raise(fp, "my model")]

    def rule_hub_unreachable(self, fp, _):
        from huggingface_hub import constants

        old = constants.HF_HUB_OFFLINE
        constants.HF_HUB_OFFLINE = True
        try:
            return [_raise(fp, "openai-community/gpt2", cache_dir=self.tmp / "empty-cache")]
        finally:
            constants.HF_HUB_OFFLINE = old

    def _from_local_hub(self, fp, name: str, *, die: bool = False, **kwargs):
        """from_pretrained against tests/local_hub.py serving the tiny GPT-2 (and a gated copy),
        huggingface_hub in this process pointed at it with an empty cache."""
        from local_hub import LocalHub, pointed_at

        with LocalHub() as hub:
            hub.add_repo("course/tiny-gpt2", self.gpt2)
            hub.add_repo("course/gated-gpt2", self.gpt2, gated=True)
            if die:
                hub.die_during("*.safetensors", after_bytes=100)
            with pointed_at(hub, self.tmp / "hub-cache"):
                return [_raise(fp, name, **kwargs)]

    def rule_repo_not_found(self, fp, _):
        return self._from_local_hub(fp, "course/no-such-model")

    def rule_gated_repo(self, fp, _):
        return self._from_local_hub(fp, "course/gated-gpt2")

    def rule_revision_not_found(self, fp, _):
        return self._from_local_hub(fp, "course/tiny-gpt2", revision="no-such-branch")

    def rule_download_interrupted(self, fp, _):
        return self._from_local_hub(fp, "course/tiny-gpt2", die=True)  # ~8 s: 5 retries

    def rule_invalid_json(self, fp, _):
        import json

        folder = self._folder("badjson")
        text = (folder / "config.json").read_text()
        (folder / "config.json").write_text(text.replace('"n_embd": 32,', '"n_embd": 32,,'))
        broken = self._folder("badtok")
        (broken / "tokenizer.json").write_text((broken / "tokenizer.json").read_text()[:-5])
        from transformers import AutoTokenizer

        exc = _raise(AutoTokenizer.from_pretrained, broken)
        assert isinstance(exc, json.JSONDecodeError)  # what the row says in words
        return [_raise(fp, folder), exc]

    def rule_unknown_model_type(self, fp, _):
        return [_raise(fp, self._folder("fancy", {"model_type": "x"}, copy=False))]

    def rule_no_model_type(self, fp, _):
        return [_raise(fp, self._folder("nomt", {"n_embd": 8}, copy=False))]

    def rule_wrong_auto_class(self, fp, _):
        from transformers import AutoModelForCausalLM, ViTConfig

        config = ViTConfig(num_hidden_layers=1, hidden_size=8, num_attention_heads=2,
                           intermediate_size=8)
        return [_raise(AutoModelForCausalLM.from_config, config)]

    def rule_unknown_identifier(self, fp, auto_config):
        return [_raise(auto_config.for_model, "foo")]

    def rule_no_weights(self, fp, _):
        folder = self._folder("noweights")
        (folder / "model.safetensors").unlink(missing_ok=True)
        return [_raise(fp, folder)]

    def rule_corrupt_safetensors(self, fp, _):
        random_bytes, truncated = self._folder("random"), self._folder("truncated")
        (random_bytes / "model.safetensors").write_bytes(bytes(range(256)) * 64)
        data = (truncated / "model.safetensors").read_bytes()
        (truncated / "model.safetensors").write_bytes(data[: len(data) // 2])
        return [_raise(fp, random_bytes), _raise(fp, truncated)]

    def rule_shape_mismatch(self, fp, _):
        import json

        folder = self._folder("wider")
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "n_embd": 64}))
        return [_raise(fp, folder)]

    def rule_removed_load_in_kbit(self, fp, _):
        return [_raise(fp, self.gpt2, load_in_4bit=True)]

    def rule_no_bitsandbytes(self, fp, _):
        from transformers import BitsAndBytesConfig

        return [_raise(fp, self.gpt2, quantization_config=BitsAndBytesConfig(load_in_4bit=True))]

    def rule_max_memory_device(self, fp, _):
        return [_raise(fp, self.gpt2, device_map="auto",
                       max_memory={"cuda:0": "1GiB", "cpu": "1GiB"})]

    def rule_memory_size_format(self, fp, _):
        return [_raise(fp, self.gpt2, device_map="auto", max_memory={"cpu": "2 gigs"})]

    def rule_cpu_oom(self, fp, _):
        import torch

        return [_raise(torch.empty, 10**13, dtype=torch.uint8)]

    def rule_cuda_oom(self, fp, _):
        import torch

        return [torch.OutOfMemoryError(  # constructed: c10/cuda/CUDACachingAllocator.cpp
            "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
            "15.77 GiB of which 1.06 GiB is free.")]

    def rule_bad_device_map(self, fp, _):
        return [_raise(fp, self.gpt2, device_map="disk")]

    def rule_bad_dtype(self, fp, _):
        return [_raise(fp, self.gpt2, dtype="float17")]

    def rule_no_accelerate(self, fp, _):
        import transformers.integrations.accelerate as tia

        real = tia.is_accelerate_available
        tia.is_accelerate_available = lambda: False
        try:
            return [_raise(fp, self.gpt2, device_map="cpu")]
        finally:
            tia.is_accelerate_available = real

    def rule_move_offloaded(self, fp, _):
        import torch

        model = fp(self.gpt2, device_map="auto", max_memory={"cpu": "10KB", "disk": "1GB"})
        return [_raise(model.to, torch.bfloat16)]

    def rule_no_pad_token(self, fp, _):
        return [_raise(self._tok(), ["a", "a fox"], padding=True)]

    def rule_remote_code(self, fp, _):
        import json

        config = json.loads((self.gpt2 / "config.json").read_text())
        config.update(model_type="xthing", auto_map={"AutoConfig": "configuration_x.XConfig",
                                                     "AutoModelForCausalLM": "m.XModel"})
        folder = self._folder("remote", config, copy=False)
        (folder / "configuration_x.py").write_text("raise SystemExit('must never run')\n")
        return [_raise(fp, folder, trust_remote_code=False)]

    def rule_no_tokenizer_files(self, fp, _):
        from transformers import AutoTokenizer

        folder = self._folder("tokconfig-only")
        (folder / "tokenizer.json").unlink(missing_ok=True)
        return [_raise(AutoTokenizer.from_pretrained, folder)]

    def rule_tokenizer_needs_package(self, fp, _):
        import importlib.util
        import json

        from transformers import AutoTokenizer

        if importlib.util.find_spec("sentencepiece") or importlib.util.find_spec("tiktoken"):
            pytest.skip("sentencepiece or tiktoken is installed here")
        folder = self.tmp / "spm"
        folder.mkdir()
        config = json.loads((self.gpt2 / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "model_type": "llama"}))
        (folder / "tokenizer_config.json").write_text('{"tokenizer_class": "LlamaTokenizer"}')
        (folder / "tokenizer.model").write_bytes(bytes(range(200)))
        return [_raise(AutoTokenizer.from_pretrained, folder)]

    def rule_no_cuda(self, fp, _):
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA")
        return [_raise(torch.zeros, 1, device="cuda")]

    def rule_no_chat_template(self, fp, _):
        return [_raise(self._tok().apply_chat_template, [{"role": "user", "content": "hi"}])]

    def rule_auto_factory(self, fp, _):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        return [_raise(AutoModelForCausalLM), _raise(AutoTokenizer)]

    def rule_chat_template_error(self, fp, _):
        tok = self._tok()
        tok.chat_template = ("{% if messages[0]['role'] == 'system' %}"
                             "{{ raise_exception('System role not supported') }}{% endif %}"
                             "{% for m in messages %}{{ m['content'] }}{% endfor %}")
        return [_raise(tok.apply_chat_template, [{"role": "system", "content": "Be brief."},
                                                 {"role": "user", "content": "hi"}])]

    def rule_batch_encoding_as_tensor(self, fp, _):
        from tiny_model_data import CHAT_TEMPLATE

        tok = self._tok()
        tok.chat_template = CHAT_TEMPLATE
        inputs = tok.apply_chat_template([{"role": "user", "content": "hi"}],
                                         add_generation_prompt=True, return_tensors="pt")
        return [_raise(lambda: inputs.shape)]

    # lesson 02 --------------------------------------------------------------------------------

    def rule_lists_not_tensors(self, fp, _):
        return [_raise(self._model(), **self._tok()("once upon a time"))]

    def rule_lists_not_tensors_type(self, fp, _):
        from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

        tok = self._tok()
        neox = GPTNeoXForCausalLM(GPTNeoXConfig(vocab_size=len(tok), hidden_size=16,
                                                num_hidden_layers=1, num_attention_heads=2,
                                                intermediate_size=32))
        return [_raise(neox, **tok("once upon a time"))]

    def rule_ragged_batch(self, fp, _):
        tok = self._tok()
        tok.pad_token = None
        tok.pad_token = tok.eos_token
        return [_raise(tok, ["a fox", "once upon a time there was a fox"], return_tensors="pt")]

    def rule_bad_return_tensors(self, fp, _):
        return [_raise(self._tok(), "a fox", return_tensors="tf")]

    def rule_token_id_out_of_range(self, fp, _):
        import torch

        model = self._model()
        ids = torch.full((1, 2), model.get_input_embeddings().num_embeddings)
        return [_raise(model, input_ids=ids)]

    # lesson 03 --------------------------------------------------------------------------------

    def _ids(self, n: int = 4):
        import torch

        return torch.ones((1, n), dtype=torch.long)

    def rule_stop_strings_no_tokenizer(self, fp, _):
        return [_raise(self._model().generate, self._ids(), max_new_tokens=5,
                       stop_strings=["fox"], pad_token_id=0)]

    def rule_max_length_below_prompt(self, fp, _):
        return [_raise(self._model().generate, self._ids(16), max_length=10,
                       max_new_tokens=None, pad_token_id=0)]

    def rule_zero_temperature(self, fp, _):
        return [_raise(self._model().generate, self._ids(), do_sample=True, temperature=0.0,
                       max_new_tokens=3, pad_token_id=0)]

    def rule_invalid_generation_config(self, fp, _):
        from transformers import GenerationConfig

        return [_raise(GenerationConfig(do_sample=False, temperature=0.7).validate, strict=True)]

    def rule_generation_in_model_config(self, fp, _):
        model = self._model()
        model.config.temperature = 0.7
        return [_raise(model.generate, self._ids(), max_new_tokens=3, pad_token_id=0)]

    def rule_streamer_batch(self, fp, _):
        from transformers import TextStreamer

        return [_raise(self._model().generate, self._ids().repeat(2, 1), max_new_tokens=3,
                       pad_token_id=0, streamer=TextStreamer(self._tok()))]

    def rule_greedy_num_return_sequences(self, fp, _):
        return [_raise(self._model().generate, self._ids(), max_new_tokens=3, do_sample=False,
                       num_return_sequences=2, pad_token_id=0)]

    # lesson 06 --------------------------------------------------------------------------------

    def rule_static_cache_full(self, fp, _):
        from transformers import StaticCache

        model = self._model()
        cache = StaticCache(config=model.config, max_cache_len=18)
        return [_raise(model.generate, self._ids(16), cache=cache, max_new_tokens=8,
                       min_new_tokens=8, pad_token_id=0)]

    def rule_bad_cache_implementation(self, fp, _):
        return [_raise(self._model().generate, self._ids(), max_new_tokens=3,
                       cache_implementation="statc", pad_token_id=0)]

    def rule_too_few_tokens_to_time(self, fp, _):
        import helpers

        return [_raise(helpers.measure_speed, self._model(), self._tok(), "a fox",
                       max_new_tokens=1)]


def test_troubleshooting_quotes_are_parsed():
    quotes = quoted_errors()
    rules = {rule for rule, _, _ in quotes}
    assert len(quotes) >= 25
    assert {"missing-folder", "hub-unreachable", "invalid-json", "shape-mismatch"} <= rules
    assert ("missing-folder", "OSError", "Repo id must use alphanumeric chars, '-', '_' or '.'. "
            "The name cannot start or end with '-' or '.' and the maximum length is 96: "
            "'./my-model'.") in quotes


@pytest.mark.parametrize("rule", sorted({rule for rule, _, _ in quoted_errors()}))
def test_every_quoted_error_is_what_the_pinned_versions_print(rule, tiny_gpt2, tmp_path):
    inputs = Inputs(tiny_gpt2, tmp_path)
    assert hasattr(inputs, "rule_" + rule.replace("-", "_")), (
        f"docs/troubleshooting.md quotes an error for [{rule}]: add the input that raises it to "
        "Inputs in tests/test_docs.py")
    from helpers.diagnosis import exception_chain

    raised = [e for exc in inputs.run(rule) for e in exception_chain(exc)]  # chained ones too
    for kind, message in [(k, m) for r, k, m in quoted_errors() if r == rule]:
        pattern = message_regex(message)
        fits = [exc for exc in raised
                if (kind is None or type(exc).__name__ == kind.rsplit(".", 1)[-1])
                and pattern.match(str(exc))]
        assert fits, (f"[{rule}] docs quote {kind}: {message!r}; the libraries raise: "
                      + "; ".join(f"{type(e).__name__}: {str(e)[:200]!r}" for e in raised))
