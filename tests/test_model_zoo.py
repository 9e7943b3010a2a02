"""The model zoo (tests/model_zoo.py): every zoo model loads and generates, the offline hub cache
is one huggingface_hub accepts, the bundled model loads offline fast, and every lesson runs with
zero error cells under the zoo configurations.

Lesson runs: ``make test`` runs the solutions under :data:`model_zoo.CI_CONFIGURATIONS` and the
student copies under :data:`model_zoo.CI_STUDENT_CONFIGURATIONS`; ``make test-models``
(``--zoo=all``) runs both copies under every configuration. ``--zoo=tiny,opt`` picks some.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import model_zoo
import pytest
from model_zoo import CI_CONFIGURATIONS, CI_STUDENT_CONFIGURATIONS, CONFIGURATIONS, MODELS

ROOT = Path(__file__).resolve().parents[1]
PROMPT = {"base": "Once upon a time", "chat": "Tell me a story about a fox named Leo"}


@pytest.fixture(scope="session")
def zoo():
    return model_zoo.build_zoo()


@pytest.fixture
def zoo_hub(zoo, monkeypatch):
    """huggingface_hub (and so transformers) reads the zoo's hub cache, offline."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(zoo.hub_cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return zoo.hub_cache


def _generate(model, tokenizer, kind: str) -> str:
    import torch

    if kind == "chat":
        text = tokenizer.apply_chat_template([{"role": "user", "content": PROMPT["chat"]}],
                                             tokenize=False, add_generation_prompt=True)
    else:
        text = PROMPT["base"]
    inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=6, do_sample=False, pad_token_id=pad)
    assert out.shape[1] > inputs["input_ids"].shape[1]
    return tokenizer.decode(out[0, inputs["input_ids"].shape[1]:])


# --------------------------------------------------------------------------- what the zoo holds


def test_the_zoo_covers_what_the_lessons_must_survive():
    archs = {m.arch for m in MODELS.values()} - {"gpt2", "llama"}
    assert len(archs) >= 4 and archs == set(model_zoo.EXTRA_ARCHITECTURES), archs
    for arch in model_zoo.EXTRA_ARCHITECTURES:  # one configuration per extra architecture
        config = CONFIGURATIONS[arch.replace("_", "-")]
        assert MODELS[config.base].arch == MODELS[config.chat].arch == arch
        assert (MODELS[config.base].kind, MODELS[config.chat].kind) == ("base", "chat")
    bf16 = MODELS[CONFIGURATIONS["bf16"].base]
    assert (bf16.kind, bf16.dtype) == ("base", "bfloat16") and bf16.arch != "gpt2"
    for size in ("tiny", "sharded"):
        config = CONFIGURATIONS[size]
        assert MODELS[config.base].size == MODELS[config.chat].size == size
    assert set(CI_CONFIGURATIONS) | set(CI_STUDENT_CONFIGURATIONS) <= set(CONFIGURATIONS)
    for config in CONFIGURATIONS.values():
        for name in (config.base, config.chat):
            assert name is None or name in MODELS, (config.name, name)
    hub = CONFIGURATIONS["hub-id"]
    assert hub.hub and hub.base and hub.chat
    pad = CONFIGURATIONS["chat-pad"]
    assert MODELS[pad.base].kind == "chat"


def test_select_configurations():
    assert model_zoo.select_configurations(None) == list(CI_CONFIGURATIONS)
    assert model_zoo.select_configurations("all") == list(CONFIGURATIONS)
    assert model_zoo.select_configurations("tiny, opt") == ["tiny", "opt"]
    with pytest.raises(ValueError, match="unknown zoo configuration"):
        model_zoo.select_configurations("tiny,nope")


def test_the_zoo_is_reused_while_unchanged(zoo):
    again = model_zoo.build_zoo()
    assert again.root == zoo.root and again.build_seconds == 0.0
    assert json.loads((zoo.root / "zoo.json").read_text())["models"] == sorted(MODELS)
    assert zoo.root.name == model_zoo.zoo_key()


def test_configuration_env(zoo):
    env = zoo.env("hub-id")
    assert env["COURSE_MODEL"] == "course-zoo/gpt-neox-base"
    assert env["COURSE_CHAT_MODEL"] == "course-zoo/qwen2-chat"
    assert env["HF_HUB_CACHE"] == str(zoo.hub_cache) and env["HF_HUB_OFFLINE"] == "1"
    bf16 = zoo.env("bf16")
    assert Path(bf16["COURSE_MODEL"]).is_dir() and "COURSE_CHAT_MODEL" not in bf16
    kernel = model_zoo.kernel_env(bf16, Path("/tmp/p.json"))
    assert "COURSE_CHAT_MODEL" not in kernel  # even when this process has it set
    assert kernel["FROM_PRETRAINED_PROGRESS"] == "/tmp/p.json"
    assert kernel["OMP_NUM_THREADS"] == "1"


# --------------------------------------------------------------------------- each model


@pytest.mark.parametrize("name", list(MODELS))
def test_zoo_model_loads_with_the_auto_classes_and_generates(zoo, name):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    spec = MODELS[name]
    folder = zoo.folder(name)
    model = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert AutoConfig.from_pretrained(folder).model_type == spec.arch
    assert model.dtype == getattr(torch, spec.dtype)  # dtype="auto": the checkpoint's
    assert model.config.vocab_size == len(tokenizer)
    if spec.kind == "chat":
        assert tokenizer.chat_template and tokenizer.pad_token is not None
    else:
        assert not tokenizer.chat_template and tokenizer.pad_token is None
    _generate(model, tokenizer, spec.kind)


@pytest.mark.parametrize("name", list(MODELS))
def test_zoo_model_loads_with_helpers_load(zoo, name):
    import helpers

    spec = MODELS[name]
    model, tokenizer, report = helpers.load(str(zoo.folder(name)))
    assert helpers.resolve(str(zoo.folder(name))).source == "local folder"
    assert report.summary(stable=True)
    text = helpers.generate_text(model, tokenizer, PROMPT[spec.kind], max_new_tokens=5,
                                 chat=spec.kind == "chat")
    assert isinstance(text, str)


def test_tiny_models_are_a_few_kilobytes(zoo):
    for name, spec in MODELS.items():
        weights = sum(p.stat().st_size for p in zoo.folder(name).glob("*.safetensors"))
        if spec.size == "tiny":
            assert weights < 16_000, (name, weights)
        else:
            assert weights > 100_000, (name, weights)  # tiny stays the smallest by far


def test_sharded_models_have_an_index_and_several_shards(zoo):
    from transformers import AutoModelForCausalLM

    for name, spec in MODELS.items():
        folder = zoo.folder(name)
        index = folder / "model.safetensors.index.json"
        assert index.is_file() == (spec.size == "sharded"), name
        if spec.size != "sharded":
            continue
        shards = set(json.loads(index.read_text())["weight_map"].values())
        assert len(shards) >= 3 and all((folder / s).is_file() for s in shards)
        assert not (folder / "model.safetensors").exists()
        model = AutoModelForCausalLM.from_pretrained(folder)
        assert sum(p.numel() for p in model.parameters()) > 0


# --------------------------------------------------------------------------- the offline hub cache


def test_the_hub_cache_is_valid_for_huggingface_hub(zoo):
    from huggingface_hub import scan_cache_dir, try_to_load_from_cache

    info = scan_cache_dir(zoo.hub_cache)
    assert not info.warnings, info.warnings
    repos = {repo.repo_id: repo for repo in info.repos}
    assert set(repos) == {m.hub_id for m in MODELS.values()}
    for spec in MODELS.values():
        repo = repos[spec.hub_id]
        assert repo.repo_type == "model"
        (revision,) = repo.revisions
        assert revision.refs == frozenset({"main"})
        assert re.fullmatch(r"[0-9a-f]{40}", revision.commit_hash)
        names = {f.file_name for f in revision.files}
        assert names == {p.name for p in zoo.folder(spec.name).iterdir()}
        for cached in revision.files:
            assert cached.file_path.is_symlink()
            assert not os.path.isabs(os.readlink(cached.file_path))
            assert cached.blob_path.parent.name == "blobs"
            assert cached.blob_path.read_bytes() == (zoo.folder(spec.name)
                                                     / cached.file_name).read_bytes()
        path = try_to_load_from_cache(spec.hub_id, "config.json", cache_dir=zoo.hub_cache)
        assert isinstance(path, str)
        assert Path(path).parent == revision.snapshot_path


def test_blobs_are_named_by_their_etag(zoo):
    import hashlib

    repo = zoo.hub_cache / "models--course-zoo--sharded-chat"
    for pointer in (repo / "snapshots").glob("*/*"):
        data = pointer.read_bytes()
        blob = Path(os.path.realpath(pointer)).name
        if pointer.suffix == ".safetensors":  # LFS file: sha256
            assert blob == hashlib.sha256(data).hexdigest()
        else:  # git file: the blob id
            assert blob == hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def test_the_hub_client_serves_the_zoo_offline(zoo_hub):
    from huggingface_hub import hf_hub_download, snapshot_download

    folder = Path(snapshot_download("course-zoo/sharded-base"))
    assert (folder / "model.safetensors.index.json").is_file()
    assert Path(hf_hub_download("course-zoo/qwen2-chat", "config.json")).is_file()


@pytest.mark.parametrize("name", list(MODELS))
def test_zoo_model_by_hub_id_offline(zoo_hub, name):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import helpers

    spec = MODELS[name]
    resolved = helpers.resolve(spec.hub_id)
    assert resolved.source == "hub cache" and resolved.local_files_only
    assert resolved.name == spec.hub_id
    model = AutoModelForCausalLM.from_pretrained(spec.hub_id)
    tokenizer = AutoTokenizer.from_pretrained(spec.hub_id)
    _generate(model, tokenizer, spec.kind)
    model, tokenizer, report = helpers.load(spec.hub_id)
    assert report.to_dict()["source"] == "hub cache"
    helpers.generate_text(model, tokenizer, PROMPT[spec.kind], max_new_tokens=4,
                          chat=spec.kind == "chat")


def _python(script: str, env: dict[str, str], timeout: int = 120) -> dict:
    """Run ``script`` in a fresh interpreter; its last stdout line is JSON."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_hub_id_configuration_works_from_the_environment(zoo):
    """What a kernel gets: only environment variables, read when huggingface_hub is imported."""
    env = model_zoo.kernel_env(zoo.env("hub-id"), Path(os.devnull))
    out = _python("""
        import json, helpers
        from transformers import AutoModelForCausalLM
        found = {}
        for kind in ("base", "chat"):
            r = helpers.resolve(helpers.course_model(kind))
            model = AutoModelForCausalLM.from_pretrained(helpers.course_model(kind))
            found[kind] = [helpers.course_model_name(kind), r.source, type(model).__name__]
        print(json.dumps(found))
    """, env)
    assert out == {"base": ["course-zoo/gpt-neox-base", "hub cache", "GPTNeoXForCausalLM"],
                   "chat": ["course-zoo/qwen2-chat", "hub cache", "Qwen2ForCausalLM"]}


def test_the_bundled_chat_model_loads_offline_without_hf_hub_offline():
    """No HF_HUB_OFFLINE, and the hub (and any proxy) is a closed loopback port: loading the
    bundled model by what course_model() returns never waits on the network."""
    env = {k: v for k, v in os.environ.items()
           if k not in model_zoo.CONTROLLED_ENV and "proxy" not in k.lower()}
    closed = "http://127.0.0.1:9"
    env.update(HF_ENDPOINT=closed, HTTP_PROXY=closed, HTTPS_PROXY=closed, ALL_PROXY=closed,
               http_proxy=closed, https_proxy=closed, all_proxy=closed)
    out = _python("""
        import json, time
        from pathlib import Path
        import torch, transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer
        import helpers
        from huggingface_hub import constants
        # transformers imports a model's modules lazily, on first use (several seconds here):
        # import them first, so that the clock measures the load alone
        config = json.loads((Path(helpers.course_model("chat")) / "config.json").read_text())
        getattr(transformers, config["architectures"][0])
        start = time.perf_counter()
        model = AutoModelForCausalLM.from_pretrained(helpers.course_model("chat"))
        model_s = time.perf_counter() - start
        start = time.perf_counter()
        tokenizer = AutoTokenizer.from_pretrained(helpers.course_model("chat"))
        tok_s = time.perf_counter() - start
        print(json.dumps({"model_s": model_s, "tokenizer_s": tok_s,
                          "offline": constants.HF_HUB_OFFLINE, "endpoint": constants.ENDPOINT,
                          "class": type(model).__name__,
                          "name": helpers.course_model_name("chat")}))
    """, env)
    assert out["offline"] is False and out["endpoint"] == closed
    assert out["class"] == "LlamaForCausalLM" and out["name"] == "stories-chat"
    assert out["model_s"] < 1.0, out
    assert out["tokenizer_s"] < 1.0, out


# --------------------------------------------------------------------------- the runner


@pytest.mark.slow
def test_the_runner_reports_every_error_cell_under_the_configuration(zoo, tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    cells = [
        new_markdown_cell("# A lesson"),
        new_code_cell("import os, helpers\nassert os.getcwd() == os.environ['EXPECTED_CWD']\n"
                      "assert helpers.course_model_name() == 'tiny-base'"),
        new_code_cell("# a comment first\nraise KeyError('first')"),
        new_code_cell("with helpers.expect_error(ZeroDivisionError):\n    1 / 0"),
        new_code_cell("helpers.check('99', 'no-such-exercise', answer=1)"),
        new_code_cell("assert os.environ['HF_HUB_OFFLINE'] == '1', 'offline'\n"
                      "assert os.environ['FROM_PRETRAINED_PROGRESS'].endswith('progress.json')\n"
                      "undefined_name"),
    ]
    folder = tmp_path / "solutions"
    folder.mkdir()
    path = folder / "99_runner.ipynb"
    nbformat.write(new_notebook(cells=cells), path)
    before = path.read_bytes()

    env = dict(zoo.env("tiny"), EXPECTED_CWD=str(folder))
    result = model_zoo.run_notebook(path, env, configuration="tiny", timeout=120)
    assert [(p.cell, p.first_line, p.ename, p.evalue) for p in result.errors] == [
        (2, "# a comment first", "KeyError", "'first'"),
        (5, "assert os.environ['HF_HUB_OFFLINE'] == '1', 'offline'", "NameError",
         "name 'undefined_name' is not defined"),
    ]
    assert [p.cell for p in result.checks_not_passed] == [4]
    assert [p.cell for p in result.problems] == [2, 5, 4]  # a solution must pass its checks
    assert "cell 2 ('# a comment first'): KeyError: 'first'" in result.report()
    assert set(result.cell_seconds) == {1, 2, 3, 4, 5}  # every code cell was timed
    assert result.slowest(1)[0][0] in result.cell_seconds
    assert path.read_bytes() == before  # the notebook on disk is not changed


# --------------------------------------------------------------------------- the lessons


def _lesson_notebooks(copy: str) -> list[Path]:
    from helpers.course import lessons

    paths = [getattr(lesson, "solution" if copy == "solutions" else "notebook")
             for lesson in lessons()]
    return [p for p in paths if p.is_file()]  # a missing student copy fails test_course


def _runs_under(config: str, selected: list[str], option: str | None) -> list[Path]:
    """The notebooks run under ``config``: solutions if selected, student copies too under
    --zoo other than the default, or for the CI student configurations."""
    if config not in selected:
        return []
    notebooks = _lesson_notebooks("solutions")
    if (option or "ci") != "ci" or config in CI_STUDENT_CONFIGURATIONS:
        notebooks += _lesson_notebooks("notebooks")
    return notebooks


def pytest_generate_tests(metafunc):
    config = getattr(metafunc.cls, "CONFIGURATION", None)
    if config is None or "notebook" not in metafunc.fixturenames:
        return
    option = metafunc.config.getoption("--zoo", default=None)
    notebooks = _runs_under(config, model_zoo.select_configurations(option), option)
    if notebooks:
        metafunc.parametrize("notebook", notebooks,
                             ids=[f"{p.parent.name}/{p.stem}" for p in notebooks])
    else:
        skip = pytest.mark.skip(reason=f"zoo configuration {config!r} runs in `make test-models` "
                                "(--zoo=all)")
        metafunc.parametrize("notebook", [pytest.param(None, marks=skip)], ids=["not-selected"])


def test_ci_runs_solutions_everywhere_and_student_copies_under_one_configuration():
    ci = model_zoo.select_configurations(None)
    solutions, students = _lesson_notebooks("solutions"), _lesson_notebooks("notebooks")
    assert solutions, "no lessons found"
    for config in CONFIGURATIONS:
        runs = _runs_under(config, ci, None)
        if config not in CI_CONFIGURATIONS:
            assert runs == []
        elif config in CI_STUDENT_CONFIGURATIONS:
            assert runs == solutions + students
        else:
            assert runs == solutions
        assert _runs_under(config, model_zoo.select_configurations("all"), "all") == (
            solutions + students)


class _LessonRuns:
    """Each configuration is its own class, so that ``--dist loadscope`` spreads them."""

    CONFIGURATION = ""

    @pytest.mark.slow
    def test_lesson_has_no_error_cells(self, zoo, notebook):
        result = model_zoo.run_lesson(notebook, self.CONFIGURATION, zoo)
        assert not result.problems, result.report()


def _lesson_class(config: str) -> type:
    name = "TestLessonsUnder" + "".join(part.title() for part in re.split(r"[-_]", config))
    return type(name, (_LessonRuns,), {"CONFIGURATION": config, "__module__": __name__,
                                       "__doc__": CONFIGURATIONS[config].about})


for _config in CONFIGURATIONS:
    _cls = _lesson_class(_config)
    globals()[_cls.__name__] = _cls
del _config, _cls


# --------------------------------------------------------------------------- make test-models


def _makefile() -> str:
    return (ROOT / "Makefile").read_text(encoding="utf-8")


def test_make_test_models_runs_every_configuration():
    text = _makefile()
    phony = re.search(r"^\.PHONY:(.*)$", text, re.M).group(1).split()
    assert "test-models" in phony
    recipe = re.search(r"^test-models:.*\n((?:\t.*\n)+)", text, re.M)
    assert recipe, "the Makefile has no test-models target"
    assert "tests/test_model_zoo.py" in recipe.group(1)
    assert "--zoo=all" in recipe.group(1)
    help_line = re.search(r'@echo "make test-models\s+(.*)"', text)
    assert help_line, "make help does not list test-models"
    listed = re.search(r"\(([^)]*)\)", help_line.group(1)).group(1)
    assert [n.strip() for n in listed.split(",")] == list(CONFIGURATIONS), (
        "the help line of make test-models lists other configurations than CONFIGURATIONS")


def test_every_configuration_has_a_lesson_class():
    classes = {cls.CONFIGURATION for cls in globals().values()
               if isinstance(cls, type) and issubclass(cls, _LessonRuns) and cls.CONFIGURATION}
    assert classes == set(CONFIGURATIONS)
