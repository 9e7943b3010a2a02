"""The online path, for real: hub ids downloaded from a local stand-in for the Hub.

tests/local_hub.py serves the bundled and model-zoo checkpoints over HTTP as the Hub does.
Each scenario runs in a fresh interpreter whose environment is what a learner's would be:
``HF_ENDPOINT`` at the local hub, an empty ``HF_HOME`` and ``HF_HUB_CACHE`` (huggingface_hub
reads them at import, so they cannot be changed inside this process), no token, no proxy.
Covered: download then cache, ``HF_HUB_OFFLINE=1`` afterwards, ``prefetch`` (progress,
safetensors only, ``--revision``, ``--to``, ``--check``, offline), a download cut short, a slow
hub, endpoints that refuse or hang, missing / gated repos and revisions, progress bars in a
terminal and in a notebook, the README's steps, and lessons run on a hub model.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import shlex
import struct
import subprocess
import sys
import termios
import textwrap
import time
import urllib.request
from pathlib import Path

import model_zoo
import pytest
from local_hub import LocalHub, blackhole, free_port, pointed_at

ROOT = Path(__file__).resolve().parents[1]
TINY = "course-zoo/tiny-base"
SHARDED = "course-zoo/sharded-base"
STORIES = "course/stories-base"
GATED = "course/gated-model"
MISSING = "course/no-such-model"
#: the hub-id configuration of the model zoo (tests/model_zoo.py), served online instead
LESSON_MODELS = {"COURSE_MODEL": "course-zoo/gpt-neox-base",
                 "COURSE_CHAT_MODEL": "course-zoo/qwen2-chat"}
#: lessons run online in `make test` (all of them under --zoo=all, i.e. `make test-models`)
CI_LESSONS = ("00", "01")


# --------------------------------------------------------------------------- the hub


@pytest.fixture(scope="module")
def served():
    """The local hub with its repos, for the whole module (started once, ~1 s)."""
    from helpers.models import bundled_path

    zoo = model_zoo.build_zoo()
    hub = LocalHub().start()
    hub.add_repo(STORIES, bundled_path("stories-base"))
    hub.add_repo("course/stories-chat", bundled_path("stories-chat"))
    # TINY: an old commit (also branch "v1") and main, which adds a pickle copy of the weights
    tiny = zoo.folder("tiny-base")
    old = {p.name: p.read_bytes() for p in tiny.iterdir()}
    old["README.md"] = b"# tiny-base, first version\n"
    hub.old_commit = hub.add_repo(TINY, old)
    hub.repos[TINY].branches["v1"] = hub.old_commit
    new = dict(old, **{"README.md": b"# tiny-base\n", "pytorch_model.bin": _pickle_of(tiny)})
    hub.add_commit(TINY, new)
    for name in ("sharded-base", "gpt-neox-base", "qwen2-chat"):
        hub.add_repo(f"course-zoo/{name}", zoo.folder(name))
    hub.add_repo(GATED, tiny, gated=True)
    yield hub
    hub.stop()


@pytest.fixture
def hub(served):
    """The local hub, with no faults and an empty request log."""
    served.reset()
    yield served
    served.reset()


def _pickle_of(folder: Path) -> bytes:
    import io

    import torch
    from safetensors.torch import load_file

    buffer = io.BytesIO()
    torch.save(load_file(folder / "model.safetensors"), buffer)
    return buffer.getvalue()


def hub_env(endpoint: str, cache: Path, **extra: str) -> dict[str, str]:
    """A learner's environment: this endpoint, an empty hub cache, no token, no proxy."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HF_", "HUGGINGFACE_")) and "proxy" not in k.lower()
           and k not in model_zoo.CONTROLLED_ENV}
    env.update(model_zoo.KERNEL_THREADS)
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(cache.parent / "hf-home"),
               HF_HUB_CACHE=str(cache), HF_HUB_DISABLE_TELEMETRY="1",
               FROM_PRETRAINED_PROGRESS=os.devnull, TOKENIZERS_PARALLELISM="false")
    env.update(extra)
    return env


def python(code: str, env: dict[str, str], timeout: int = 180) -> dict:
    """Run ``code`` in a fresh interpreter; its last stdout line is JSON."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def helpers_cli(args: list[str], env: dict[str, str],
                timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "helpers", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def in_terminal(args: list[str], env: dict[str, str], timeout: int = 180) -> tuple[int, str, str]:
    """Run a command with stderr on a pseudo-terminal, as in a learner's terminal (tqdm draws
    bars only on one); returns (exit status, stdout, what the terminal showed)."""
    main, side = pty.openpty()
    # a terminal has a size: tqdm fits its bars to it, and draws nothing in 0 columns
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=side,
                               text=True)
    os.close(side)
    shown, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the other side closed: the process is done
                break
            if not chunk:
                break
            shown += chunk
        elif process.poll() is not None:
            break
    os.close(main)
    out = process.stdout.read()
    status = process.wait(timeout=max(deadline - time.monotonic(), 1))
    return status, out, shown.decode("utf-8", "replace")


def snapshot(cache: Path, repo_id: str, commit: str | None = None) -> Path:
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    if commit is None:
        commit = (repo / "refs" / "main").read_text()
    return repo / "snapshots" / commit


def content_requests(hub: LocalHub) -> list[str]:
    """Requests for a file's content (not metadata): GET on /resolve or on the CDN."""
    return [r.path for r in hub.requests
            if r.method == "GET" and (r.origin == "cdn" or "/resolve/" in r.path)]


LOAD = """
    import json, sys, time
    import helpers
    start = time.perf_counter()
    model, tokenizer, report = helpers.load(sys.argv[1] if len(sys.argv) > 1 else {name!r})
    text = helpers.generate_text(model, tokenizer, "Once upon a time", max_new_tokens=3)
    print(json.dumps({{"source": report.source, "class": report.model_class,
                       "seconds": time.perf_counter() - start, "text": text}}))
"""


def _failure(name: str, revision: str | None = None) -> str:
    """A script that loads ``name`` expecting a CourseError; prints its diagnosis as JSON."""
    return f"""
        import json, time
        import helpers
        load = helpers.load  # imports torch and transformers: not part of the time measured
        start = time.perf_counter()
        try:
            load({name!r}, revision={revision!r})
        except helpers.CourseError as exc:
            d = exc.diagnosis
            print(json.dumps({{"title": d.title, "cause": d.cause, "fix": d.fix,
                               "seconds": time.perf_counter() - start}}))
        else:
            print(json.dumps({{"title": "loaded"}}))
    """


# --------------------------------------------------------------------------- the server itself


def test_the_local_hub_answers_as_the_hub_client_expects(hub, tmp_path):
    """huggingface_hub's own calls, in this process (endpoint passed explicitly)."""
    from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    api = HfApi(endpoint=hub.url, token=False)
    info = api.model_info(TINY)
    assert info.sha == hub.repos[TINY].branches["main"]
    assert "pytorch_model.bin" in {s.rfilename for s in info.siblings}
    assert api.model_info(TINY, revision="v1").sha == hub.old_commit
    assert sorted(api.list_repo_files(SHARDED))[:2] == [
        "config.json", "generation_config.json"]
    url = hf_hub_url(TINY, "model.safetensors", endpoint=hub.url)
    meta = get_hf_file_metadata(url, token=False)
    data = hub.repos[TINY].commits[meta.commit_hash]["model.safetensors"]
    assert meta.size == len(data) and meta.location.startswith(hub.cdn_url)  # the LFS redirect
    ranged = urllib.request.Request(meta.location, headers={"Range": "bytes=100-"})
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy
    with direct.open(ranged) as answer:  # a resumed download
        assert answer.status == 206 and answer.read() == data[100:]
    with pytest.raises(RepositoryNotFoundError) as missing:
        api.model_info(MISSING)
    assert not isinstance(missing.value, GatedRepoError)
    with pytest.raises(GatedRepoError):
        get_hf_file_metadata(hf_hub_url(GATED, "config.json", endpoint=hub.url), token=False)
    with pytest.raises(RevisionNotFoundError):
        api.model_info(TINY, revision="no-such-branch")
    with pytest.raises(EntryNotFoundError):
        get_hf_file_metadata(hf_hub_url(TINY, "nope.json", endpoint=hub.url), token=False)


# --------------------------------------------------------------------------- load, cache, offline


LOAD_BOTH = f"""
    import json
    import helpers
    found = {{}}
    for name in ({TINY!r}, {SHARDED!r}):
        model, tokenizer, report = helpers.load(name)
        text = helpers.generate_text(model, tokenizer, "Once upon a time", max_new_tokens=3)
        found[name] = [report.source, report.model_class, text]
    print(json.dumps(found))
"""


def test_load_downloads_then_uses_the_cache_then_works_offline(hub, tmp_path):
    """A single-file and a sharded checkpoint: downloaded once, then loaded from the cache with
    nothing downloaded again, then loaded with no hub at all (HF_HUB_OFFLINE=1)."""
    cache = tmp_path / "hub-cache"
    first = python(LOAD_BOTH, hub_env(hub.url, cache))
    assert {k: v[:2] for k, v in first.items()} == {
        TINY: ["hub download", "LlamaForCausalLM"], SHARDED: ["hub download", "Qwen2ForCausalLM"]}
    fetched = content_requests(hub)
    assert any(p.endswith("/config.json") for p in fetched)
    assert sum(r.origin == "cdn" for r in hub.requests) == 1 + 4  # the weights, from the CDN
    assert not any(p.endswith("pytorch_model.bin") for p in fetched)  # safetensors only
    assert (snapshot(cache, TINY) / "model.safetensors").is_file()
    folder = snapshot(cache, SHARDED)
    shards = set(json.loads((folder / "model.safetensors.index.json").read_text())[
        "weight_map"].values())
    assert len(shards) == 4 and all((folder / shard).is_file() for shard in shards)

    hub.requests.clear()
    again = python(LOAD_BOTH, hub_env(hub.url, cache))
    assert again == {k: ["hub cache", *v[1:]] for k, v in first.items()}
    assert content_requests(hub) == []  # metadata only: nothing downloaded twice

    hub.requests.clear()  # the hub gone (a closed port) and HF_HUB_OFFLINE=1: from the cache
    offline = python(LOAD_BOTH,
                     hub_env(f"http://127.0.0.1:{free_port()}", cache, HF_HUB_OFFLINE="1"))
    assert offline == again
    assert hub.requests == []


# --------------------------------------------------------------------------- faults


def test_a_download_cut_short_is_diagnosed_and_the_next_load_succeeds(hub, tmp_path):
    cache = tmp_path / "hub-cache"
    hub.die_during("*.safetensors", after_bytes=1000)
    failed = python(_failure(TINY), hub_env(hub.url, cache))
    assert failed["title"] == "The download stopped part way", failed
    assert "connection to the Hub" in failed["cause"] and "complete message body" in failed["cause"]
    assert f"python -m helpers prefetch {TINY}" in failed["fix"]
    assert "HF_HUB_DOWNLOAD_TIMEOUT" in failed["fix"]
    assert failed["seconds"] < 30
    assert [r.body_bytes for r in hub.requests if r.status < 0] == [1000]  # really cut short

    # nothing in the snapshot is a partial file: the weights are absent, the rest is whole
    served = hub.repos[TINY].commits[hub.repos[TINY].branches["main"]]
    folder = snapshot(cache, TINY)
    assert not (folder / "model.safetensors").exists()
    for path in folder.iterdir():
        assert path.read_bytes() == served[path.name], path.name

    hub.heal()
    again = python(LOAD.format(name=TINY), hub_env(hub.url, cache))
    assert again["class"] == "LlamaForCausalLM"
    assert (folder / "model.safetensors").read_bytes() == served["model.safetensors"]


def test_a_slow_hub_still_loads(hub, tmp_path):
    """Responses 1.5 s late (longer than the 1 s reachability probe of helpers/hub.py) for the
    config, the weights and the tokenizer: the probe only opens a connection, so it is not
    fooled, and the hub client's own timeouts (10 s) are not reached either."""
    from helpers.hub import PROBE_TIMEOUT_S

    assert PROBE_TIMEOUT_S < 1.5
    with hub.slow(1.5, pattern=r"/(config\.json|model\.safetensors|tokenizer\.json)$"):
        out = python(LOAD.format(name=TINY), hub_env(hub.url, tmp_path / "hub-cache"))
    assert out["class"] == "LlamaForCausalLM"
    delayed = [r for r in hub.requests
               if re.search(r"/(config\.json|model\.safetensors|tokenizer\.json)$", r.path)]
    assert len(delayed) >= 5  # HEAD and GET of each (the weights' GET from the CDN)


def test_an_unreachable_hub_answers_in_seconds(tmp_path):
    """A port that refuses, and a host that never answers (packets dropped): helpers.load says
    "not available offline" at once, instead of the hub client's retries."""
    with blackhole() as hanging:
        for endpoint in (f"http://127.0.0.1:{free_port()}", hanging):
            out = python(_failure(TINY), hub_env(endpoint, tmp_path / "hub-cache"))
            assert out["title"] == f"{TINY!r} is not available offline", out
            assert "cannot be reached" in out["cause"]
            assert out["seconds"] < 3, out


def test_simulate_no_network_closes_file_downloads_too(hub, tmp_path):
    """helpers.hub.simulate_no_network() (lesson 01) must cut the hub client off completely:
    besides the endpoint, file addresses come from a template huggingface_hub builds at import,
    so that is redirected too. Checked against a hub that would answer if it were asked."""
    import httpx2
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

    from helpers.hub import simulate_no_network

    with pointed_at(hub, tmp_path / "hub-cache"):
        assert hf_hub_url(TINY, "config.json").startswith(hub.url)
        with simulate_no_network():
            url = hf_hub_url(TINY, "config.json")
            assert url.startswith("http://127.0.0.1:9/")
            with pytest.raises(httpx2.ConnectError):
                get_hf_file_metadata(url)
        assert hub.requests == []
        assert Path(hf_hub_download(TINY, "config.json")).is_file()  # and back afterwards


def test_missing_gated_and_revision_errors_get_distinct_diagnoses(hub, tmp_path):
    env = hub_env(hub.url, tmp_path / "hub-cache")
    script = f"""
        import json, os
        import helpers
        found = {{}}
        def diagnosis(key, name, revision=None):
            try:
                helpers.load(name, revision=revision)
            except helpers.CourseError as exc:
                found[key] = [exc.diagnosis.title, exc.diagnosis.cause, exc.diagnosis.fix]
        diagnosis("missing", {MISSING!r})
        diagnosis("gated-401", {GATED!r})
        os.environ["HF_TOKEN"] = "hf_" + "x" * 34  # a token without access: 403
        diagnosis("gated-403", {GATED!r})
        diagnosis("missing-404", {MISSING!r})
        diagnosis("revision", {TINY!r}, "no-such-branch")
        print(json.dumps(found))
    """
    found = python(script, env)
    titles = {key: value[0] for key, value in found.items()}
    assert titles == {"missing": "No such model on the Hub",
                      "gated-401": "Gated model: access must be granted first",
                      "gated-403": "Gated model: access must be granted first",
                      "missing-404": "No such model on the Hub",
                      "revision": "No such revision of this model"}
    assert "401" in found["missing"][1] and "private" in found["missing"][1]
    assert "404" in found["missing-404"][1]
    assert "401" in found["gated-401"][1] and "no token was sent" in found["gated-401"][1]
    assert "403" in found["gated-403"][1] and "not been granted" in found["gated-403"][1]
    assert f"{hub.url}/{GATED}" in found["gated-401"][2] and "hf auth login" in found[
        "gated-401"][2]
    assert "list_repo_refs" in found["revision"][2]
    statuses = {r.status for r in hub.requests if GATED in r.path and "/resolve/" in r.path}
    assert statuses == {401, 403}


# --------------------------------------------------------------------------- prefetch


def test_prefetch_shows_progress_skips_pickle_and_pins_revisions(hub, tmp_path):
    cache = tmp_path / "hub-cache"
    env = hub_env(hub.url, cache)
    status, out, terminal = in_terminal([sys.executable, "-m", "helpers", "prefetch", TINY], env)
    assert status == 0, out + terminal
    assert "skipped pytorch_model.bin (pickle: the repo has safetensors)" in out
    assert f"{TINY}: fetching 6 of 7 files" in out
    assert re.search(r"Fetching 6 files: 100%\|", terminal), terminal  # huggingface_hub's bars
    assert "Download complete" in terminal
    main = hub.repos[TINY].branches["main"]
    names = {p.name for p in snapshot(cache, TINY).iterdir()}
    assert "model.safetensors" in names and "pytorch_model.bin" not in names
    assert not any(p.endswith("pytorch_model.bin") for p in content_requests(hub))
    assert f"HF_HUB_CACHE={cache} HF_HUB_OFFLINE=1" in out

    for revision in (hub.old_commit, "v1"):  # a commit, then the branch pointing at it
        done = helpers_cli(["prefetch", TINY, "--revision", revision], env)
        assert done.returncode == 0, done.stderr
        folder = snapshot(cache, TINY, hub.old_commit)
        assert f"-> {folder}" in done.stdout
        assert (folder / "README.md").read_text() == "# tiny-base, first version\n"
    repo = cache / ("models--" + TINY.replace("/", "--"))
    assert (repo / "refs" / "v1").read_text() == hub.old_commit
    assert (repo / "refs" / "main").read_text() == main

    check = helpers_cli(["prefetch", "--check"], env)
    assert check.returncode == 0, check.stdout + check.stderr
    rows = [line for line in check.stdout.splitlines() if line.startswith(TINY)]
    assert len(rows) == 2 and all(line.endswith("complete") for line in rows), check.stdout
    assert any(f"main ({main[:7]})" in line for line in rows)
    assert any(f"v1 ({hub.old_commit[:7]})" in line for line in rows)
    absent = helpers_cli(["prefetch", "--check", MISSING], env)
    assert absent.returncode == 1 and re.search(rf"{MISSING}\s.*NOT CACHED", absent.stdout)


def test_prefetch_to_a_folder_gives_a_room_its_settings(hub, tmp_path):
    room = tmp_path / "room-cache"
    env = hub_env(hub.url, tmp_path / "hub-cache")
    done = helpers_cli(["prefetch", SHARDED, STORIES, "--to", str(room)], env)
    assert done.returncode == 0, done.stderr
    assert f"HF_HUB_CACHE={room} HF_HUB_OFFLINE=1" in done.stdout
    assert not (tmp_path / "hub-cache").exists()  # nothing went to the default cache

    # what it printed is all a room needs: no hub at all (closed port), offline
    settings = dict(item.split("=", 1) for item in shlex.split(
        re.search(r"^\s*(HF_HUB_CACHE=\S+ HF_HUB_OFFLINE=1)\s*$", done.stdout, re.M).group(1)))
    offline = hub_env(f"http://127.0.0.1:{free_port()}", tmp_path / "elsewhere", **settings)
    assert python(LOAD.format(name=SHARDED), offline)["source"] == "hub cache"

    check = helpers_cli(["prefetch", "--check", "--to", str(room), SHARDED], env)
    assert check.returncode == 0 and re.search(rf"{SHARDED}\s.*complete$", check.stdout, re.M)
    shard = sorted(snapshot(room, SHARDED).glob("model-*.safetensors"))[-1]
    shard.unlink()  # a copy that lost a file
    check = helpers_cli(["prefetch", "--check", "--to", str(room)], env)
    assert check.returncode == 1
    assert re.search(rf"{SHARDED}\s.*INCOMPLETE: missing {shard.name}", check.stdout)
    assert re.search(rf"{STORIES}\s.*complete$", check.stdout, re.M)


def test_prefetch_offline_fails_in_seconds(hub, tmp_path):
    cache = tmp_path / "hub-cache"
    with blackhole() as hanging:
        cases = {
            "HF_HUB_OFFLINE=1": hub_env(hub.url, cache, HF_HUB_OFFLINE="1"),
            "refused": hub_env(f"http://127.0.0.1:{free_port()}", cache),
            "hanging": hub_env(hanging, cache),
        }
        started = {name: (time.perf_counter(), subprocess.Popen(
            [sys.executable, "-m", "helpers", "prefetch", TINY], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            for name, env in cases.items()}
        for name, (start, process) in started.items():
            out, err = process.communicate(timeout=60)
            seconds = time.perf_counter() - start
            assert process.returncode == 1, (name, out, err)
            assert f"[FAIL] {TINY}" in err and "is not available offline" in err, (name, err)
            assert "python -m helpers prefetch" in err  # the fix names the command
            assert seconds < 10, (name, seconds)
    assert hub.requests == []


def test_prefetch_names_a_missing_or_gated_repo(hub, tmp_path):
    done = helpers_cli(["prefetch", MISSING, GATED], hub_env(hub.url, tmp_path / "hub-cache"))
    assert done.returncode == 1
    assert f"[FAIL] {MISSING}: No such model on the Hub" in done.stderr
    assert f"[FAIL] {GATED}: Gated model: access must be granted first" in done.stderr


# --------------------------------------------------------------------------- progress bars


def test_a_download_draws_its_bars_and_a_bundled_load_draws_none(hub, tmp_path):
    """In a terminal: helpers.load() of a hub id shows huggingface_hub's download bars, and
    never the "Loading weights" bar; a bundled model shows nothing. The old first cell
    (transformers.logging.disable_progress_bar()) hid the download bars too."""
    script = f"""
        import sys
        import helpers, transformers
        helpers.hide_weight_loading_bars()
        def mark(text):
            sys.stderr.write(f"=== {{text}}\\n"); sys.stderr.flush()
        mark("hub"); helpers.load({TINY!r})
        mark("bundled"); helpers.load("stories-base")
        transformers.logging.disable_progress_bar()
        mark("disabled"); helpers.load({SHARDED!r})
        mark("end")
    """
    env = hub_env(hub.url, tmp_path / "hub-cache")
    status, out, terminal = in_terminal([sys.executable, "-c", textwrap.dedent(script)], env)
    assert status == 0, out + terminal
    parts = dict(re.findall(r"=== (\w+)\r?\n(.*?)(?==== |\Z)", terminal, re.S))
    assert re.search(r"model\.safetensors: 100%\|", parts["hub"]), parts["hub"]
    assert "tokenizer.json: 100%|" in parts["hub"]
    assert parts["bundled"].strip() == ""
    assert parts["disabled"].strip() == ""  # the bug this replaces: a download, no bar
    assert "Loading weights" not in terminal
    assert any(SHARDED in r.path for r in hub.requests)  # it did download


def test_in_a_notebook_the_download_shows_a_widget_bar(hub, tmp_path):
    """In a notebook kernel (what JupyterLab runs): after hide_weight_loading_bars(), a hub
    download shows tqdm's notebook widget; loading the bundled model, or saving it, shows no
    output at all."""
    import nbformat
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[
        new_code_cell("import helpers\nhelpers.hide_weight_loading_bars()"),
        new_code_cell(f"_ = helpers.load({TINY!r})"),
        new_code_cell("_ = helpers.load('stories-base')"),
        new_code_cell(f"_.model.save_pretrained({str(tmp_path / 'saved')!r})"),
    ])
    env = model_zoo.kernel_env(hub_env(hub.url, tmp_path / "hub-cache"), Path(os.devnull))
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   kernel_manager_class=model_zoo._kernel_manager_class(),
                   resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)
    download, bundled, saved = nb.cells[1].outputs, nb.cells[2].outputs, nb.cells[3].outputs
    widgets = [o for o in download
               if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widgets, nbformat.writes(nb)[-3000:]
    assert bundled == [], bundled
    assert saved == [], saved  # nor does saving one ("Writing model shards")
    assert (tmp_path / "saved" / "model.safetensors").is_file()


# --------------------------------------------------------------------------- README and lessons


def _readme_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("### Using a hub model instead")
    return text[start:text.index("\n### ", start + 1)]


def test_the_readme_steps_for_a_hub_model_work(hub, tmp_path):
    """README "Using a hub model instead", step by step, with the local hub's models in place of
    the ones it names. Step 1 (COURSE_MODEL / COURSE_CHAT_MODEL set, online) is what
    test_lesson_runs_on_a_hub_model_online_with_an_empty_cache runs; here: prefetch while
    online, then HF_HUB_OFFLINE=1 with no network at all, both course models."""
    section = _readme_section()
    lab = re.search(r"^(COURSE_MODEL=\S+ COURSE_CHAT_MODEL=\S+) make lab$", section, re.M)
    assert lab, "the README no longer shows COURSE_MODEL=... COURSE_CHAT_MODEL=... make lab"
    assert "python -m helpers prefetch" in section and "HF_HUB_OFFLINE=1" in section
    named = dict(item.split("=", 1) for item in lab.group(1).split())
    models = {"COURSE_MODEL": TINY, "COURSE_CHAT_MODEL": "course/stories-chat"}
    assert set(named) == set(models) == set(LESSON_MODELS)

    cache = tmp_path / "workshop-cache"  # while online: prefetch both models
    done = helpers_cli(["prefetch", *models.values()], hub_env(hub.url, cache))
    assert done.returncode == 0, done.stderr
    offline = hub_env(f"http://127.0.0.1:{free_port()}", cache, HF_HUB_OFFLINE="1", **models)
    found = python("""
        import json
        import helpers
        found = {}
        for kind in ("base", "chat"):
            model, tokenizer, report = helpers.load(kind=kind)
            found[kind] = [helpers.course_model_name(kind), report.source]
        print(json.dumps(found))
    """, offline)
    assert found == {"base": [TINY, "hub cache"], "chat": ["course/stories-chat", "hub cache"]}


def _lessons() -> list[Path]:
    from helpers.course import lessons

    return [lesson.notebook for lesson in lessons() if lesson.notebook.is_file()]


def pytest_generate_tests(metafunc):
    if "online_lesson" not in metafunc.fixturenames:
        return
    every = (metafunc.config.getoption("--zoo", default=None) or "ci") != "ci"
    notebooks = [p for p in _lessons() if every or p.name[:2] in CI_LESSONS]
    metafunc.parametrize("online_lesson", notebooks, ids=[p.stem for p in notebooks])


def test_the_ci_lessons_exist():
    assert {p.name[:2] for p in _lessons()} >= set(CI_LESSONS)


@pytest.mark.slow
def test_lesson_runs_on_a_hub_model_online_with_an_empty_cache(hub, tmp_path, online_lesson):
    """A student copy run with COURSE_MODEL / COURSE_CHAT_MODEL naming repos of the local hub
    (the zoo's hub-id configuration, served online), online, with an empty cache."""
    env = hub_env(hub.url, tmp_path / "hub-cache", **LESSON_MODELS)
    result = model_zoo.run_notebook(online_lesson, env, configuration="online")
    assert not result.problems, result.report()
    assert any(r.origin == "cdn" for r in hub.requests)  # the weights came from the hub
