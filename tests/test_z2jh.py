"""workshop/z2jh/config.yaml (Zero to JupyterHub), checked offline: no Kubernetes, no Docker.

What is checked: the YAML parses; every key it uses is one the chart's schema knows; the
resources are the ones docs/hub-sizing.md's measurements give; the start command exists in
the course environment; the start page and the nbgitpuller link point at a lesson that exists;
docs/jupyterhub.md shows the same link and says what is untested.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # workshop/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from workshop import learner_home, links, measure_hub  # noqa: E402

CONFIG = ROOT / "workshop" / "z2jh" / "config.yaml"
DOC = ROOT / "docs" / "jupyterhub.md"

#: The keys this configuration may use, taken from the chart's schema,
#: jupyterhub/zero-to-jupyterhub-k8s, jupyterhub/values.schema.yaml at commit
#: 02dd73df01bdbb6d602fed21b0be12565ab38080 (the source of the Z2JH configuration reference,
#: https://z2jh.jupyter.org/en/stable/resources/reference.html). Only the branches used here
#: are listed; ``ANY`` marks a free-form mapping (``additionalProperties: true``): hub.config
#: (traitlets), singleuser.extraEnv, lifecycle hooks (Kubernetes' own schema).
ANY = "any"
SCHEMA_KEYS: dict = {
    "hub": {"config": ANY, "extraConfig": ANY, "baseUrl": None, "image": {"name": None,
                                                                          "tag": None}},
    "proxy": {"secretToken": None, "service": {"type": None, "loadBalancerIP": None},
              "https": {"enabled": None, "type": None, "hosts": None,
                        "letsencrypt": {"contactEmail": None}}},
    "singleuser": {
        "image": {"name": None, "tag": None, "pullPolicy": None, "pullSecrets": None},
        "cpu": {"limit": None, "guarantee": None},
        "memory": {"limit": None, "guarantee": None},
        "cmd": None, "defaultUrl": None, "startTimeout": None, "extraEnv": ANY,
        "lifecycleHooks": {"postStart": ANY, "preStop": ANY},
        "storage": {"type": None, "capacity": None, "homeMountPath": None,
                    "dynamic": {"storageClass": None}},
        "profileList": None, "uid": None, "fsGid": None,
    },
    "cull": {"enabled": None, "users": None, "adminUsers": None, "removeNamedServers": None,
             "timeout": None, "every": None, "concurrency": None, "maxAge": None},
    "prePuller": {"hook": {"enabled": None}, "continuous": {"enabled": None}},
    "scheduling": {"userScheduler": {"enabled": None, "replicas": None},
                   "podPriority": {"enabled": None},
                   "userPlaceholder": {"enabled": None, "replicas": None}},
}


def unknown_keys(config: dict, schema: dict, where: str = "") -> list[str]:
    """Keys of ``config`` that ``schema`` does not list, as dotted paths."""
    problems = []
    for key, value in config.items():
        path = f"{where}.{key}" if where else key
        if key not in schema:
            problems.append(path)
        elif isinstance(schema[key], dict):
            if not isinstance(value, dict):
                problems.append(f"{path} (a mapping in the chart)")
            else:
                problems.extend(unknown_keys(value, schema[key], path))
    return problems


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load(CONFIG.read_text(encoding="utf-8"))


def test_config_uses_only_keys_the_chart_knows(config):
    assert unknown_keys(config, SCHEMA_KEYS) == []
    assert unknown_keys({"singleuser": {"memory": {"limt": "1G"}}, "culling": {}},
                        SCHEMA_KEYS) == ["singleuser.memory.limt", "culling"]


def test_resources_are_the_measured_sizing(config):
    m = measure_hub.measurement_in_doc(measure_hub.SIZING_DOC.read_text(encoding="utf-8"))
    s = measure_hub.sizing(m)
    single = config["singleuser"]
    assert single["cpu"] == {"guarantee": s.cpu_guarantee, "limit": s.cpu_limit}
    assert single["memory"] == {"guarantee": f"{s.memory_guarantee_mib}M",
                                "limit": f"{s.memory_limit_mib}M"}
    assert single["cpu"]["guarantee"] <= single["cpu"]["limit"]


def test_idle_servers_are_culled(config):
    cull = config["cull"]
    assert cull["enabled"] is True
    assert 600 <= cull["timeout"] <= 4 * 3600 and 0 < cull["every"] <= cull["timeout"]
    assert cull["users"] is False  # culling stops servers; learners and their files stay


def test_start_command_and_environment(config):
    single = config["singleuser"]
    command = single["cmd"]
    assert command == "jupyterhub-singleuser"
    # the command is a console script of jupyterhub, installed beside this interpreter
    assert (Path(sys.executable).parent / command).is_file() or shutil.which(command)
    env = single["extraEnv"]
    assert env["OMP_NUM_THREADS"] == "1" and env["OMP_WAIT_POLICY"] == "PASSIVE"
    # the image keeps the repository in /srv/from-pretrained (repo2docker --target-repo-dir),
    # because the home volume hides whatever the image put in /home/jovyan
    assert env["JUPYTER_CONFIG_PATH"] == "/srv/from-pretrained/.jupyter"
    assert (ROOT / ".jupyter" / "jupyter_server_config.py").is_file()
    assert config["hub"]["config"]["KubeSpawner"]["notebook_dir"] == "/home/jovyan"


def test_start_page_and_pulled_course_name_a_lesson_that_exists(config):
    single = config["singleuser"]
    command = single["lifecycleHooks"]["postStart"]["exec"]["command"]
    assert command[0] == "gitpuller"  # nbgitpuller's command line
    repo, branch, folder = command[1:]
    assert (repo, branch) == (links.COURSE_REPO, links.BRANCH)
    assert folder == links.target_folder(repo)
    start = single["defaultUrl"]
    assert start == "/" + links.lesson_urlpath(repo)
    inside_clone = start.removeprefix(f"/lab/tree/{folder}/")
    assert (ROOT / inside_clone).is_file()
    assert inside_clone == learner_home.first_lesson_url().removeprefix("/lab/tree/")


def test_the_nbgitpuller_link_is_well_formed():
    link = links.nbgitpuller_link("https://hub.example.org")
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc) == ("https", "hub.example.org")
    assert parts.path == "/hub/user-redirect/git-pull"
    query = parse_qs(parts.query, strict_parsing=True)
    assert query == {"repo": [links.COURSE_REPO], "branch": ["main"],
                     "urlpath": ["lab/tree/from-pretrained/notebooks/00_start_here.ipynb"]}
    target = query["urlpath"][0].removeprefix(f"lab/tree/{links.target_folder(links.COURSE_REPO)}/")
    assert (ROOT / target).is_file()
    with pytest.raises(ValueError, match="without '.git'"):
        links.nbgitpuller_link("https://hub.example.org", links.COURSE_REPO + ".git")


def test_the_doc_shows_the_link_and_says_what_is_untested():
    text = DOC.read_text(encoding="utf-8")
    assert links.nbgitpuller_link("https://hub.example.org") in text
    assert "workshop/z2jh/config.yaml" in text and "(hub-sizing.md)" in text
    assert "--target-repo-dir /srv/from-pretrained" in text
    assert "Untested here" in text
