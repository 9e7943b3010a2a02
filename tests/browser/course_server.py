"""A JupyterLab server on a copy of the course, and finding Chromium, for the browser tests.

The server runs the course's own JupyterLab config (``.jupyter/``, the same files ``make lab``
uses) on a throwaway copy of ``notebooks/``, so JupyterLab's autosave never touches the repo.
Every Jupyter, IPython and progress path points into that session's temporary folder, and the
port is free and per process, so pytest-xdist workers each get a server of their own.

Chromium is Debian's (``apt-get install chromium``), driven by Playwright with
``executable_path``; ``playwright install`` is never needed. Without Chromium the browser tests
skip, except under ``CI=true``, where they fail: CI must not pass without running them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
INSTALL_HINT = "apt-get update && apt-get install -y chromium"
# Without the background-networking flags Chromium's own connections (component updates,
# safe browsing, ...) are refused many at a time on a closed network and slow every page down.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
SERVER_START_TIMEOUT_S = 60
SERVER_STOP_TIMEOUT_S = 15
# Environment variables that would make the server or its kernels differ from a learner's
# default course: a hub model instead of the bundled one, a token or Jupyter paths of the host.
_DROPPED_ENV = ("COURSE_MODEL", "COURSE_CHAT_MODEL", "JUPYTER_TOKEN", "JUPYTER_PATH",
                "JUPYTER_PREFER_ENV_PATH")


def running_in_ci() -> bool:
    """True when ``CI`` is set to a true value, as CI services and ``.ci/run`` do."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def browser_unavailable(reason: str) -> None:
    """Skip with install instructions, or fail under CI, where browser tests must run."""
    if running_in_ci():
        pytest.fail(f"{reason}. CI=true, so browser tests fail instead of skipping; "
                    f"install it with: {INSTALL_HINT}", pytrace=False)
    pytest.skip(f"{reason}; install it with: {INSTALL_HINT}")


def find_chromium() -> str | None:
    """Debian's Chromium: ``$CHROMIUM`` if set, else ``chromium`` on PATH or /usr/bin."""
    override = os.environ.get("CHROMIUM", "").strip()
    if override:
        return override if os.access(override, os.X_OK) else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def free_port() -> int:
    """A loopback port nobody listens on right now (the server gets port_retries=0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LabServer:
    """A running JupyterLab: where it listens, its token, and the folder it serves."""

    url: str
    token: str
    root: Path
    home: Path
    log_path: Path
    process: subprocess.Popen = field(repr=False)

    def lab_url(self, path: str) -> str:
        """The URL that opens ``path`` (relative to the root) in JupyterLab, logged in."""
        return f"{self.url}/lab/tree/{quote(path)}?token={self.token}"

    def get(self, path: str, *, follow_redirects: bool = True) -> tuple[int, dict, bytes]:
        """GET ``path`` with the token: (status, headers, body); never raises on 4xx/5xx."""
        request = urllib.request.Request(f"{self.url}{path}")
        request.add_header("Authorization", f"token {self.token}")
        opener = urllib.request.build_opener(*([] if follow_redirects else [_NoRedirect()]))
        try:
            with opener.open(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def api(self, path: str) -> Any:
        """GET a JSON API (``/api/...``, ``/lab/api/...``) and decode it; fails on non-200."""
        status, _, body = self.get(path)
        assert status == 200, f"GET {path} answered {status}: {body[:300]!r}"
        return json.loads(body)

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log (stdout and stderr), for failure messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "<no server log>"
        return "\n".join(text.splitlines()[-lines:])


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def copy_course(destination: Path) -> Path:
    """Copy what JupyterLab serves (notebooks/, .jupyter/) into ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "notebooks", destination / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copytree(REPO / ".jupyter", destination / ".jupyter",
                    ignore=shutil.ignore_patterns("workspaces", "__pycache__"))
    return destination


def server_environment(home: Path, root: Path) -> dict[str, str]:
    """The server's environment: the course config on JUPYTER_CONFIG_PATH, all else in ``home``."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    paths = {
        "JUPYTER_CONFIG_DIR": home / "jupyter-config",
        "JUPYTER_DATA_DIR": home / "jupyter-data",
        "JUPYTER_RUNTIME_DIR": home / "jupyter-runtime",
        "JUPYTERLAB_WORKSPACES_DIR": home / "lab-workspaces",
        "JUPYTERLAB_SETTINGS_DIR": home / "lab-user-settings",
        "IPYTHONDIR": home / "ipython",
        "MPLCONFIGDIR": home / "matplotlib",
    }
    for name, path in paths.items():
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    env.update(
        JUPYTER_CONFIG_PATH=str(root / ".jupyter"),  # the course's own config, as `make lab`
        FROM_PRETRAINED_PROGRESS=str(home / "progress.json"),
        HF_HUB_OFFLINE="1",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
        # kernels are started as `python -m ipykernel_launcher`: make that this interpreter
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    return env


def start_lab_server(root: Path, home: Path, attempts: int = 3) -> LabServer:
    """Start JupyterLab on a free loopback port and wait until ``/api/status`` answers."""
    env = server_environment(home, root)
    last_error = ""
    for attempt in range(attempts):
        port, token = free_port(), secrets.token_hex(16)
        log_path = home / f"server-{attempt}.log"
        command = [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
        ]
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command, cwd=root, env=env, stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
        server = LabServer(f"http://127.0.0.1:{port}", token, root, home, log_path, process)
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if server.get(f"/api/status?token={token}")[0] == 200:
                    return server
            except OSError:
                pass
            time.sleep(0.2)
        last_error = server.log_tail()
        stop_lab_server(server)
        if "already in use" not in last_error:  # only a lost port race is worth a retry
            break
    pytest.fail(f"JupyterLab did not start within {SERVER_START_TIMEOUT_S} s; its log ends:\n"
                f"{last_error}", pytrace=False)


def stop_lab_server(server: LabServer) -> list[int]:
    """Stop the server and every kernel it started; returns the pids that had to be killed."""
    try:
        descendants = psutil.Process(server.process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)  # the server shuts its kernels down
        try:
            server.process.wait(timeout=SERVER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=5)
    _, alive = psutil.wait_procs(descendants, timeout=5)
    for process in alive:
        with _ignore_gone():
            process.kill()
    psutil.wait_procs(alive, timeout=5)
    return [p.pid for p in alive]


class _ignore_gone:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, *_: Any) -> bool:
        return kind is not None and issubclass(kind, psutil.NoSuchProcess)


