"""JupyterHub configuration for a workshop on one machine: ``make hub`` (workshop/hub.py).

JupyterHub 6.1 with configurable-http-proxy, ``DummyAuthenticator`` (any name logs in; with
``WORKSHOP_HUB_SHARED_PASSWORD`` set, ``SharedPasswordAuthenticator``: everybody logs in with
that password) and ``SimpleLocalProcessSpawner``: every learner's server runs as the same OS user
as the hub, in a home folder of their own that starts with a copy of the lessons. This isolates
work, not people: for a room that must not read each other's files, use Zero to JupyterHub
(docs/jupyterhub.md).

The launcher (workshop/hub.py) sets these variables; each has a default for a plain
``jupyterhub -f workshop/jupyterhub_config.py``:

| variable | meaning | default |
| --- | --- | --- |
| WORKSHOP_HUB_IP / WORKSHOP_HUB_PORT | where learners connect (the proxy) | 127.0.0.1 / 8000 |
| WORKSHOP_HUB_PROXY_API_PORT | the proxy's REST API (loopback) | port + 1 |
| WORKSHOP_HUB_INTERNAL_PORT | the hub process itself (loopback) | port + 2 |
| WORKSHOP_HUB_STATE | database, cookie secret, pid files | build/hub |
| WORKSHOP_HUB_HOMES | one folder per learner | build/hub/homes |
| WORKSHOP_HUB_PROXY | configurable-http-proxy executable | build/hub-proxy/node_modules/.bin/... |
| WORKSHOP_HUB_ADMIN_TOKEN | API token of the ``workshop-admin`` service (scripts, tests) | none |
| WORKSHOP_HUB_SHARED_PASSWORD | one password for the room (8 characters at least) | none |
| WORKSHOP_HUB_ADMINS | comma-separated admin users | instructor |
| WORKSHOP_KERNEL_THREADS | torch threads per kernel (OMP_NUM_THREADS) | 1 |
"""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # the hub runs this file with exec(); workshop/ is not installed
    sys.path.insert(0, str(REPO))

from workshop.learner_home import first_lesson_url, prepare_home  # noqa: E402

c = get_config()  # noqa: F821 (provided by traitlets when JupyterHub loads this file)

ip = os.environ.get("WORKSHOP_HUB_IP", "127.0.0.1")
port = int(os.environ.get("WORKSHOP_HUB_PORT", "8000"))
proxy_api_port = int(os.environ.get("WORKSHOP_HUB_PROXY_API_PORT", str(port + 1)))
internal_port = int(os.environ.get("WORKSHOP_HUB_INTERNAL_PORT", str(port + 2)))
state = Path(os.environ.get("WORKSHOP_HUB_STATE", str(REPO / "build" / "hub")))
homes = Path(os.environ.get("WORKSHOP_HUB_HOMES", str(state / "homes")))
proxy = os.environ.get(
    "WORKSHOP_HUB_PROXY",
    str(REPO / "build" / "hub-proxy" / "node_modules" / ".bin" / "configurable-http-proxy"))
state.mkdir(parents=True, exist_ok=True)
homes.mkdir(parents=True, exist_ok=True)

# --------------------------------------------------------------------------- hub and proxy
c.JupyterHub.bind_url = f"http://{ip}:{port}/"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = internal_port
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
c.ConfigurableHTTPProxy.command = [proxy]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.pid_file = str(state / "jupyterhub-proxy.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every learner's server

# --------------------------------------------------------------------------- who logs in
admins = {name.strip() for name in os.environ.get("WORKSHOP_HUB_ADMINS", "instructor").split(",")
          if name.strip()}
c.Authenticator.admin_users = admins
shared_password = os.environ.get("WORKSHOP_HUB_SHARED_PASSWORD", "")
if shared_password:
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = shared_password
    c.SharedPasswordAuthenticator.admin_password = shared_password + "-admin"
    c.SharedPasswordAuthenticator.allow_all = True
else:
    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.allow_all = True

admin_token = os.environ.get("WORKSHOP_HUB_ADMIN_TOKEN", "")
if admin_token:
    c.JupyterHub.services = [{"name": "workshop-admin", "api_token": admin_token}]
    c.JupyterHub.load_roles = [{
        "name": "workshop-admin",
        "description": "create learners, start and stop their servers, read their state",
        "scopes": ["admin:users", "admin:servers", "tokens", "access:servers"],
        "services": ["workshop-admin"],
    }]

# --------------------------------------------------------------------------- learners' servers
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(homes / "{username}")
# this interpreter's jupyterhub-singleuser, and its kernels: the course's pinned environment
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
if os.geteuid() == 0:  # containers and CI machines run as root; Jupyter refuses that otherwise
    c.Spawner.args = ["--ServerApp.allow_root=True"]
c.Spawner.notebook_dir = "~"  # the learner's home (HOME is set to it by the spawner)
c.Spawner.default_url = first_lesson_url(REPO)
c.Spawner.start_timeout = 180  # a busy 2-core machine takes a while to start several servers
c.Spawner.http_timeout = 180
threads = os.environ.get("WORKSHOP_KERNEL_THREADS", "1")
c.Spawner.environment = {
    # "python" in the kernelspec resolves through PATH: put this environment first
    "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    # the course's JupyterLab settings and save hook (.jupyter/); root_dir and default_url
    # above take precedence over the root folder and start page that config sets
    "JUPYTER_CONFIG_PATH": str(REPO / ".jupyter"),
    # idle torch threads sleep, and one thread per kernel: many learners share few cores
    "OMP_WAIT_POLICY": "PASSIVE",
    "OMP_NUM_THREADS": threads,
    "MKL_NUM_THREADS": threads,
}
# what the instructor's shell says about models and the hub reaches every learner
c.Spawner.env_keep = [
    "CONDA_DEFAULT_ENV", "CONDA_ROOT", "JUPYTERHUB_SINGLEUSER_APP", "LANG", "LC_ALL",
    "LD_LIBRARY_PATH", "PYTHONPATH", "VIRTUAL_ENV",
    "COURSE_MODEL", "COURSE_CHAT_MODEL", "FROM_PRETRAINED_CACHE",
    "HF_HOME", "HF_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
]


def _copy_lessons(spawner) -> None:
    """Give the learner their own copy of the lessons before their server starts."""
    copied = prepare_home(spawner.home_dir, REPO)
    spawner.log.info("%s: %d lesson(s) copied into %s", spawner.user.name, len(copied),
                     spawner.home_dir)


c.Spawner.pre_spawn_hook = _copy_lessons
