"""The course on a real JupyterHub (workshop/): several learners at once, measured.

One hub (JupyterHub 6.1, configurable-http-proxy, DummyAuthenticator, SimpleLocalProcessSpawner)
on free loopback ports. A learner alone, then three at the same moment, log in through the
authenticator, start their servers, and run lessons 00 and 01 from their own copies, cell by
cell, on kernels of their own servers through the proxy and the kernel websocket; every run has
zero error cells. The figures (memory per learner, slowdown per extra learner) go into
docs/hub-sizing.md only with FROM_PRETRAINED_WRITE_SIZING=1; otherwise the committed page is
checked to be what the sizing rule makes of its own raw figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psutil
import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # workshop/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from workshop import hub as hub_module  # noqa: E402
from workshop import learner_home, links, measure_hub  # noqa: E402
from workshop.learner_client import HubAdmin, Learner  # noqa: E402

LEARNERS = 3


def _ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _proxy_or_skip() -> str:
    try:
        return hub_module.find_proxy()
    except hub_module.HubError as exc:
        if _ci():
            pytest.fail(f"{exc} (CI=true: the hub test must run)")
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The hub of this module's tests; stopping it must stop every learner's server too."""
    _proxy_or_skip()
    state = tmp_path_factory.mktemp("hub")
    with measure_hub.measurement_hub(state) as running:
        yield running
        admin = HubAdmin(running.url, running.admin_token)
        users = admin.http.get(f"{running.url}/hub/api/users", timeout=30).json()
        pids = [admin.server_pid(u["name"]) for u in users if u.get("servers")]
        assert len(pids) >= LEARNERS, users  # the learners' servers are still up here
    deadline = time.monotonic() + 30
    while running_servers := [p for p in pids if _alive(p)]:
        if time.monotonic() > deadline:
            pytest.fail(f"servers {running_servers} still run after the hub stopped")
        time.sleep(0.5)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{running.url}/hub/api", timeout=5)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture(scope="module")
def measurement(hub):
    m = measure_hub.measure_on(hub, LEARNERS)
    if os.environ.get(measure_hub.WRITE_ENV) == "1" and m.error_cells == 0:
        measure_hub.write(m)
    return m


# --------------------------------------------------------------------------- the real hub


@pytest.mark.slow
def test_learners_run_lessons_00_and_01_at_once_with_zero_error_cells(measurement):
    m = measurement
    reports = "\n".join(r for f in m.all_learners for r in f.errors)
    assert m.error_cells == 0, reports
    assert m.learners == len(m.together) == LEARNERS
    assert sorted(f.name for f in m.together) == [f"learner-{i}" for i in range(1, LEARNERS + 1)]
    stems = [Path(p).stem for p in measure_hub.LESSONS]
    assert stems == ["00_start_here", "01_loading"]
    for figures in m.all_learners:
        assert list(figures.lesson_s) == stems
        assert all(seconds > 0 for seconds in figures.lesson_s.values())
        # the server and both lessons' kernels, sampled while they ran
        assert figures.processes >= 3, figures
        assert 150 < figures.peak_mib < 8192, figures
        assert figures.cpu_s > 1, figures
    # the learners really ran side by side: every one started before any one finished
    assert max(f.started for f in m.together) < min(f.ended for f in m.together)
    assert m.alone.ended <= min(f.started for f in m.together)


@pytest.mark.slow
def test_each_learner_works_in_a_home_of_their_own(hub, measurement):
    lessons = [p.name for p in learner_home.lesson_files()]
    homes = [hub.homes / f.name for f in measurement.together]
    for home in homes:
        assert sorted(p.name for p in (home / "notebooks").glob("*.ipynb")) == lessons
    assert len({h.resolve() for h in homes}) == LEARNERS
    # progress is each learner's own: HOME is their home, so their user data folder is there
    # (and not the test runner's FROM_PRETRAINED_PROGRESS, which the hub does not pass on)
    for home in homes:
        assert (home / ".local" / "share" / "from-pretrained" / "progress.json").is_file()
    learner = Learner(hub.url, "learner-1")
    learner.log_in()
    assert learner.default_url().startswith(
        "/user/learner-1" + learner_home.first_lesson_url())
    listing = learner.api("GET", "contents/notebooks").json()
    assert {item["name"] for item in listing["content"]} >= set(lessons)


@pytest.mark.slow
def test_a_learners_work_survives_a_server_restart(hub, measurement):
    learner = Learner(hub.url, "learner-2")
    learner.log_in()
    path = "notebooks/00_start_here.ipynb"
    notebook = learner.notebook(path)
    notebook["cells"].insert(0, {"cell_type": "markdown", "metadata": {},
                                 "source": "my answer: 42"})
    learner.api("PUT", f"contents/{path}", json={"type": "notebook", "content": notebook})
    admin = requests.Session()
    admin.headers["Authorization"] = f"token {hub.admin_token}"
    response = admin.delete(f"{hub.url}/hub/api/users/learner-2/server", timeout=60)
    assert response.status_code in (202, 204), response.text
    deadline = time.monotonic() + 60
    while admin.get(f"{hub.url}/hub/api/users/learner-2", timeout=30).json()["servers"]:
        assert time.monotonic() < deadline, "the server did not stop"
        time.sleep(0.5)
    learner.start_server()
    assert learner.notebook(path)["cells"][0]["source"] == "my answer: 42"


@pytest.mark.slow
def test_the_nbgitpuller_link_pulls_the_course_into_the_learners_home(hub, measurement,
                                                                     tmp_path):
    """nbgitpuller in the learner's server, as the Z2JH link uses it, from a local git repo
    that holds lesson 00 (no network): the clone lands where the link's urlpath points."""
    origin = tmp_path / "from-pretrained"
    (origin / "notebooks").mkdir(parents=True)
    lesson = learner_home.lesson_files()[0]
    (origin / "notebooks" / lesson.name).write_bytes(lesson.read_bytes())
    git = ["git", "-C", str(origin), "-c", "user.name=course", "-c", "user.email=c@example.org"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(origin)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "course"], check=True)

    learner = Learner(hub.url, "learner-3")
    learner.log_in()
    repo = f"file://{origin}"
    stream = learner.http.get(f"{learner.server_url}/git-pull/api",
                              params={"repo": repo, "branch": "main"}, stream=True, timeout=120)
    assert stream.status_code == 200, stream.text[:300]
    phases = []
    for line in stream.iter_lines(decode_unicode=True):
        if line.startswith("data:"):
            event = json.loads(line[5:])
            phases.append(event.get("phase"))
            if event.get("phase") in ("finished", "error"):
                assert event["phase"] == "finished", event
                break
    assert phases[-1] == "finished"
    # the link's urlpath names the file that now exists in the learner's home
    urlpath = links.lesson_urlpath(f"https://github.com/YOUR-ORG/{origin.name}")
    cloned = urlpath.removeprefix("lab/tree/")
    assert (hub.homes / "learner-3" / cloned).is_file()
    assert learner.notebook(cloned)["cells"]
    # the link itself, followed as a browser follows it after the login form: the hub's
    # user-redirect and spawn pages, the server's OAuth with the hub, nbgitpuller's page
    link = links.nbgitpuller_link(hub.url, f"https://github.com/YOUR-ORG/{origin.name}")
    page = learner.browser_log_in().get(link, timeout=60)
    assert page.status_code == 200, page.text[:300]
    assert urlsplit(page.url).path == "/user/learner-3/git-pull"
    assert parse_qs(urlsplit(page.url).query)["urlpath"] == [urlpath]
    assert "nbgitpuller" in page.text


# --------------------------------------------------------------------------- fast checks


def test_the_committed_sizing_is_generated_from_its_figures():
    text = measure_hub.SIZING_DOC.read_text(encoding="utf-8")
    m = measure_hub.measurement_in_doc(text)
    assert measure_hub.render_sizing_doc(m) == text, (
        "docs/hub-sizing.md was edited by hand: regenerate it with "
        "`python -m workshop.measure_hub --write`")
    config = measure_hub.Z2JH_CONFIG.read_text(encoding="utf-8")
    assert measure_hub.render_z2jh_resources(m) in config
    assert m.error_cells == 0 and m.learners >= 3 and m.cores >= 1


def _figures(name: str, peak: float, wall: float, cpu: float):
    return measure_hub.LearnerFigures(name, 5.0, {"00_start_here": wall / 2,
                                                  "01_loading": wall / 2},
                                      wall, peak, 3, cpu, 0)


def _measurement(peak=900.0, alone_wall=30.0, alone_cpu=15.0, together_wall=45.0, cores=2,
                 learners=3):
    together = [_figures(f"learner-{i}", peak, together_wall, alone_cpu)
                for i in range(1, learners + 1)]
    return measure_hub.Measurement("2026-12-03 00:00 UTC", "test CPU", cores, 8.0, 0.5,
                                   learners, list(measure_hub.LESSONS),
                                   _figures("alone", peak * 0.9, alone_wall, alone_cpu),
                                   together, together_wall)


def test_the_sizing_rule_follows_the_figures():
    s = measure_hub.sizing(_measurement())
    assert s.peak_mib == 900.0
    assert s.memory_guarantee_mib == 1152  # 900 x 1.25 = 1125, up to a multiple of 128
    assert s.memory_limit_mib == 2304
    assert s.slowdown == 1.5 and s.slowdown_per_extra_learner == 0.25
    assert s.cores_per_learner == 0.5  # 15 CPU seconds in 30 s alone
    assert s.expected_slowdown == 1.0  # 3 x 0.5 cores fit in 2
    assert (s.cpu_guarantee, s.cpu_limit, s.learners_per_core) == (0.25, 1.0, 4)
    heavier = measure_hub.sizing(_measurement(peak=2000.0, alone_cpu=45.0))
    assert heavier.memory_guarantee_mib == 2560 and heavier.memory_limit_mib == 5120
    assert (heavier.cores_per_learner, heavier.cpu_limit) == (1.5, 1.5)
    assert (heavier.cpu_guarantee, heavier.learners_per_core) == (0.75, 1)
    assert heavier.expected_slowdown == 2.25
    with pytest.raises(ValueError, match="no generated sizing block"):
        measure_hub.z2jh_with_resources("singleuser: {}\n", _measurement())


def test_the_figures_round_trip_through_the_doc():
    m = _measurement()
    again = measure_hub.measurement_in_doc(measure_hub.render_sizing_doc(m))
    assert again == m
    assert replace(again, learners=4) != m
    with pytest.raises(ValueError, match="no ```json block"):
        measure_hub.measurement_in_doc("# nothing here")


def test_a_missing_proxy_is_reported_with_the_fix(tmp_path):
    with pytest.raises(hub_module.HubError, match="make hub-proxy"):
        hub_module.find_proxy(str(tmp_path / "nope"))


def test_a_room_address_needs_a_shared_password(tmp_path):
    start = time.monotonic()
    with pytest.raises(hub_module.HubError, match="--shared-password"), \
            hub_module.running_hub(state=tmp_path, ip="0.0.0.0"):
        pass
    with pytest.raises(hub_module.HubError, match="8 characters"), \
            hub_module.running_hub(state=tmp_path, shared_password="short"):
        pass
    assert time.monotonic() - start < 5


def _load_config(env: dict[str, str]):
    from traitlets.config.loader import PyFileConfigLoader

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        return PyFileConfigLoader(hub_module.CONFIG.name,
                                  path=str(hub_module.CONFIG.parent)).load_config()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_the_hub_config_reads_the_launchers_settings(tmp_path):
    env = {"WORKSHOP_HUB_STATE": str(tmp_path), "WORKSHOP_HUB_PORT": "8123"}
    config = _load_config(env)
    assert config.JupyterHub.authenticator_class == "dummy"
    assert config.JupyterHub.spawner_class == "simple"
    assert config.JupyterHub.bind_url == "http://127.0.0.1:8123/"
    assert config.SimpleLocalProcessSpawner.home_dir_template == str(
        tmp_path / "homes" / "{username}")
    assert config.Spawner.default_url == "/lab/tree/notebooks/00_start_here.ipynb"
    assert config.Spawner.environment["JUPYTER_CONFIG_PATH"] == str(ROOT / ".jupyter")
    assert "services" not in config.JupyterHub  # no admin token, no admin service
    shared = _load_config({**env, "WORKSHOP_HUB_SHARED_PASSWORD": "a-room-password",
                           "WORKSHOP_HUB_ADMIN_TOKEN": "t" * 32})
    assert shared.JupyterHub.authenticator_class == "shared-password"
    assert shared.SharedPasswordAuthenticator.user_password == "a-room-password"
    assert shared.JupyterHub.services == [{"name": "workshop-admin", "api_token": "t" * 32}]


def test_prepare_home_copies_lessons_once(tmp_path):
    copied = learner_home.prepare_home(tmp_path)
    assert [p.name for p in copied] == [p.name for p in learner_home.lesson_files()]
    mine = tmp_path / "notebooks" / copied[0].name
    mine.write_text("my work")
    assert learner_home.prepare_home(tmp_path) == []
    assert mine.read_text() == "my work"


def test_the_launcher_explains_a_missing_proxy():
    result = subprocess.run(
        [sys.executable, "-m", "workshop.hub", "--proxy", "/nonexistent/chp"], cwd=ROOT,
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert "configurable-http-proxy not found" in result.stderr
    assert "npm install --prefix build/hub-proxy" in result.stderr
