"""A learner, driven through the hub's REST API: log in, start a server, run a lesson's cells.

What a learner's browser does, without the browser: the token comes from the authenticator
(username and password, like the login form), the server is started through the hub, and the
lesson runs on a kernel of the learner's own server, through the proxy, cell by cell, over the
kernel websocket (Jupyter messaging protocol, JSON frames). Every error output is counted.
"""

from __future__ import annotations

import json
import re
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from urllib.parse import quote

import requests
import websocket
from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session


class LearnerError(RuntimeError):
    """A request of the learner's failed; the message says which and what the server said."""


def _check(response: requests.Response, what: str) -> requests.Response:
    if response.status_code >= 400:
        raise LearnerError(f"{what}: HTTP {response.status_code} from {response.request.method} "
                           f"{response.url}: {response.text[:300]}")
    return response


class HubAdmin:
    """The ``workshop-admin`` service: creates learners and reads their servers' state."""

    def __init__(self, hub_url: str, token: str):
        self.hub_url = hub_url.rstrip("/")
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {token}"

    def create_users(self, names: list[str]) -> None:
        _check(self.http.post(f"{self.hub_url}/hub/api/users", json={"usernames": names},
                              timeout=30), f"create users {names}")

    def user(self, name: str) -> dict:
        return _check(self.http.get(f"{self.hub_url}/hub/api/users/{quote(name)}", timeout=30),
                      f"read user {name}").json()

    def server_pid(self, name: str) -> int:
        """The process id of ``name``'s server (LocalProcessSpawner keeps it in its state)."""
        server = self.user(name).get("servers", {}).get("")
        if not server or not server.get("state", {}).get("pid"):
            raise LearnerError(f"{name} has no running server with a pid: {server!r}")
        return int(server["state"]["pid"])


@dataclass
class CellRun:
    """One executed cell: where it is, how long it took, and its errors (ename, evalue)."""

    index: int
    seconds: float
    errors: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class NotebookRun:
    """A whole lesson run on a learner's server."""

    learner: str
    path: str
    seconds: float
    cells: list[CellRun]

    @property
    def error_cells(self) -> list[CellRun]:
        return [cell for cell in self.cells if cell.errors]

    def report(self) -> str:
        lines = [f"{self.learner} {self.path}: {len(self.cells)} cells, "
                 f"{len(self.error_cells)} with errors, {self.seconds:.1f} s"]
        for cell in self.error_cells:
            for ename, evalue in cell.errors:
                lines.append(f"  cell {cell.index}: {ename}: {evalue[:200]}")
        return "\n".join(lines)


class Learner:
    """One learner on the hub at ``hub_url`` (the proxy's address)."""

    def __init__(self, hub_url: str, name: str, password: str = "workshop"):
        self.hub_url = hub_url.rstrip("/")
        self.name = name
        self.password = password
        self.http = requests.Session()
        self.token = ""

    @property
    def server_url(self) -> str:
        return f"{self.hub_url}/user/{quote(self.name)}"

    def log_in(self) -> None:
        """Get an API token by logging in through the authenticator (name and password)."""
        response = requests.post(
            f"{self.hub_url}/hub/api/users/{quote(self.name)}/tokens",
            json={"auth": {"username": self.name, "password": self.password},
                  "note": "workshop learner", "expires_in": 3600}, timeout=30)
        self.token = _check(response, f"log in as {self.name}").json()["token"]
        self.http.headers["Authorization"] = f"token {self.token}"

    def browser_log_in(self) -> requests.Session:
        """Log in through the hub's login form, as a browser does; return the session, which
        carries the hub's login cookie (what ``/hub/user-redirect/...`` links need)."""
        browser = requests.Session()
        page = _check(browser.get(f"{self.hub_url}/hub/login", timeout=30), "open the login page")
        match = re.search(r'name="_xsrf"\s+value="([^"]+)"', page.text)
        form = {"username": self.name, "password": self.password}
        if match:
            form["_xsrf"] = match.group(1)
        response = browser.post(f"{self.hub_url}/hub/login", data=form, allow_redirects=False,
                                timeout=60)
        if response.status_code != 302:
            raise LearnerError(f"log in as {self.name} through the form: HTTP "
                               f"{response.status_code}: {response.text[:300]}")
        return browser

    def start_server(self, timeout: float = 180) -> float:
        """Ask the hub for this learner's server and wait until it is ready; return seconds."""
        start = time.monotonic()
        response = self.http.post(f"{self.hub_url}/hub/api/users/{quote(self.name)}/server",
                                  timeout=60)
        if response.status_code not in (201, 202, 400):  # 400: already running
            _check(response, f"start {self.name}'s server")
        while time.monotonic() - start < timeout:
            model = _check(self.http.get(f"{self.hub_url}/hub/api/users/{quote(self.name)}",
                                         timeout=30), f"read {self.name}").json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                return time.monotonic() - start
            # neither starting nor ready, a while after the request: the start failed
            if (not server or not server.get("pending")) and time.monotonic() - start > 5:
                raise LearnerError(f"{self.name}'s server stopped while starting: {model}")
            time.sleep(0.5)
        raise LearnerError(f"{self.name}'s server was not ready after {timeout:.0f} s")

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        """A request to this learner's Jupyter server (``/user/<name>/api/...``)."""
        kwargs.setdefault("timeout", 60)
        return _check(self.http.request(method, f"{self.server_url}/api/{path.lstrip('/')}",
                                        **kwargs), f"{method} {path} on {self.name}'s server")

    def default_url(self) -> str:
        """Where ``/user/<name>/`` sends the browser (the start page)."""
        response = self.http.get(f"{self.server_url}/", allow_redirects=False, timeout=30)
        return response.headers.get("Location", "")

    def notebook(self, path: str) -> dict:
        """The notebook at ``path`` in the learner's home, read through the contents API."""
        return self.api("GET", f"contents/{quote(path)}?content=1&type=notebook").json()["content"]

    def run_notebook(self, path: str, cell_timeout: float = 300,
                     keep_open: ExitStack | None = None) -> NotebookRun:
        """Run every code cell of ``path`` in order on a new kernel, as Run All would.

        The kernel is shut down afterwards, or, with ``keep_open``, when that stack closes: as
        in JupyterLab, where the kernel of the previous lesson stays up when the next opens.
        """
        content = self.notebook(path)
        start = time.monotonic()
        cells = []
        with ExitStack() as own:
            kernel = (keep_open or own).enter_context(RemoteKernel(self, path))
            for index, cell in enumerate(content["cells"]):
                if cell["cell_type"] != "code":
                    continue
                source = cell["source"] if isinstance(cell["source"], str) else "".join(
                    cell["source"])
                cells.append(kernel.execute(index, source, cell_timeout))
        return NotebookRun(self.name, path, time.monotonic() - start, cells)


class RemoteKernel:
    """A notebook session (kernel) on the learner's server, driven over its websocket.

    The session is made as JupyterLab makes it (``POST /api/sessions`` with the notebook's
    path, so the kernel starts in the notebook's folder); closing it shuts the kernel down.
    """

    def __init__(self, learner: Learner, path: str, connect_timeout: float = 120):
        self.learner = learner
        self.path = path
        self.connect_timeout = connect_timeout
        self.session = Session(username=learner.name, key=b"")
        self.session_id = ""
        self.kernel_id = ""
        self.ws: websocket.WebSocket | None = None

    def __enter__(self) -> RemoteKernel:
        model = self.learner.api("POST", "sessions", json={
            "path": self.path, "name": self.path.rsplit("/", 1)[-1], "type": "notebook",
            "kernel": {"name": "python3"}}).json()
        self.session_id, self.kernel_id = model["id"], model["kernel"]["id"]
        ws_url = self.learner.server_url.replace("http", "ws", 1)
        self.ws = websocket.create_connection(
            f"{ws_url}/api/kernels/{self.kernel_id}/channels?session_id={self.session.session}",
            header=[f"Authorization: token {self.learner.token}"], timeout=self.connect_timeout)
        self._request("kernel_info_request", {}, self.connect_timeout)  # the kernel answers
        return self

    def __exit__(self, *exc) -> None:
        if self.ws is not None:
            self.ws.close()
        if self.session_id:
            self.learner.api("DELETE", f"sessions/{self.session_id}")

    def _send(self, msg_type: str, content: dict, channel: str = "shell") -> str:
        msg = self.session.msg(msg_type, content)
        msg["channel"] = channel
        msg["buffers"] = []
        self.ws.send(json.dumps(msg, default=json_default))
        return msg["header"]["msg_id"]

    def _receive(self, deadline: float, what: str) -> dict:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LearnerError(f"{self.learner.name} {self.path}: no answer to {what} in time")
        self.ws.settimeout(remaining)
        try:
            return json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException as exc:
            raise LearnerError(f"{self.learner.name} {self.path}: no answer to {what} in "
                               "time") from exc

    def _request(self, msg_type: str, content: dict, timeout: float) -> dict:
        msg_id = self._send(msg_type, content)
        deadline = time.monotonic() + timeout
        while True:
            msg = self._receive(deadline, msg_type)
            if (msg.get("channel") == "shell"
                    and msg.get("parent_header", {}).get("msg_id") == msg_id):
                return msg

    def execute(self, index: int, code: str, timeout: float) -> CellRun:
        """Run one cell; wait for its reply and for the kernel to go idle; collect errors."""
        start = time.monotonic()
        msg_id = self._send("execute_request", {
            "code": code, "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True})
        deadline = start + timeout
        run = CellRun(index, 0.0)
        replied = idle = False
        while not (replied and idle):
            msg = self._receive(deadline, f"cell {index}")
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["header"]["msg_type"]
            if kind == "error":
                run.errors.append((msg["content"]["ename"], msg["content"]["evalue"]))
            elif kind == "execute_reply":
                replied = True
                content = msg["content"]
                if content.get("status") == "error" and not run.errors:
                    run.errors.append((content.get("ename", "error"),
                                       content.get("evalue", "")))
                elif content.get("status") == "aborted":
                    run.errors.append(("aborted", "the kernel aborted this cell"))
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
        run.seconds = time.monotonic() - start
        return run
