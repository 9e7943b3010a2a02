"""``python -m workshop.hub`` (``make hub``): a JupyterHub for the course on this machine.

Starts JupyterHub 6.1 with ``workshop/jupyterhub_config.py`` and configurable-http-proxy (npm,
installed into ``build/hub-proxy/`` by ``make hub-proxy``). Learners open the printed URL, log in
with any name (or the shared password) and land on lesson 00 in a home folder of their own.
:func:`running_hub` is the same start as a context manager, for the tests and the measurements.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "workshop" / "jupyterhub_config.py"
PROXY_VERSION = "5.3.0"
PROXY_PREFIX = REPO / "build" / "hub-proxy"
PROXY = PROXY_PREFIX / "node_modules" / ".bin" / "configurable-http-proxy"
PROXY_INSTALL = (f"npm install --prefix {PROXY_PREFIX.relative_to(REPO)} --save-exact "
                 f"configurable-http-proxy@{PROXY_VERSION}")
#: environment the hub must not pass on by accident: the course model is the instructor's
#: choice (kept when set), a test runner's progress file is not
_NOT_INHERITED = ("FROM_PRETRAINED_PROGRESS", "CONFIGPROXY_AUTH_TOKEN")


class HubError(RuntimeError):
    """The hub could not start or answer; the message says why and what to do."""


@dataclass
class RunningHub:
    """A started hub: ``url`` is where learners connect (the proxy), ``admin_token`` is the
    ``workshop-admin`` service's API token."""

    url: str
    admin_token: str
    process: subprocess.Popen
    state: Path
    homes: Path
    log: Path | None


def find_proxy(explicit: str | None = None) -> str:
    """The configurable-http-proxy executable: ``explicit``, build/hub-proxy/, or PATH."""
    import shutil

    candidates = [explicit] if explicit else [str(PROXY), shutil.which("configurable-http-proxy")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    where = explicit or PROXY
    raise HubError(f"configurable-http-proxy not found at {where} nor on PATH. Install it into "
                   f"the repository (needs npm): `make hub-proxy`, or `{PROXY_INSTALL}`.")


def free_port(ip: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((ip, 0))
        return sock.getsockname()[1]


def _is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return ip == "localhost"


def hub_env(*, ip: str, port: int, state: Path, homes: Path, proxy: str, admin_token: str,
            shared_password: str = "", kernel_threads: int = 1,
            extra: dict[str, str] | None = None, unset: tuple[str, ...] = ()) -> dict[str, str]:
    """The environment workshop/jupyterhub_config.py reads, on top of this process's (less
    ``unset``)."""
    env = {k: v for k, v in os.environ.items() if k not in (*_NOT_INHERITED, *unset)}
    env.update({
        "WORKSHOP_HUB_IP": ip,
        "WORKSHOP_HUB_PORT": str(port),
        "WORKSHOP_HUB_PROXY_API_PORT": str(free_port()),
        "WORKSHOP_HUB_INTERNAL_PORT": str(free_port()),
        "WORKSHOP_HUB_STATE": str(state),
        "WORKSHOP_HUB_HOMES": str(homes),
        "WORKSHOP_HUB_PROXY": proxy,
        "WORKSHOP_HUB_ADMIN_TOKEN": admin_token,
        "WORKSHOP_HUB_SHARED_PASSWORD": shared_password,
        "WORKSHOP_KERNEL_THREADS": str(kernel_threads),
        "CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(32),
    })
    env.update(extra or {})
    return env


def wait_for_hub(url: str, process: subprocess.Popen, timeout: float,
                 log: Path | None = None, internal_url: str | None = None) -> None:
    """Poll ``/hub/api`` until it answers, first on the hub itself (``internal_url``: asking
    the proxy before the hub has registered makes it log errors), then through the proxy
    (``url``); fail fast if the hub exits."""
    deadline = time.monotonic() + timeout
    for base in filter(None, (internal_url, url)):
        while True:
            if process.poll() is not None:
                raise HubError(f"the hub exited with status {process.returncode} while "
                               "starting" + _log_tail(log))
            try:
                if requests.get(f"{base}/hub/api", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise HubError(f"the hub did not answer at {base}/hub/api within "
                               f"{timeout:.0f} s" + _log_tail(log))
            time.sleep(0.3)


def _log_tail(log: Path | None, lines: int = 30) -> str:
    if log is None or not log.is_file():
        return ""
    tail = log.read_text(errors="replace").splitlines()[-lines:]
    return f"; last lines of {log}:\n" + "\n".join(tail)


def stop_hub(process: subprocess.Popen, timeout: float = 60) -> None:
    """SIGTERM: the hub stops every learner's server and the proxy, then exits."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextmanager
def running_hub(*, state: Path, homes: Path | None = None, ip: str = "127.0.0.1",
                port: int = 0, proxy: str | None = None, shared_password: str = "",
                kernel_threads: int = 1, extra_env: dict[str, str] | None = None,
                unset: tuple[str, ...] = (), log: Path | None = None,
                timeout: float = 120) -> Iterator[RunningHub]:
    """Start the course's hub, wait until it answers, and stop it (and every server) on exit.

    ``port=0`` takes a free port. ``log`` receives the hub's output (None: this terminal).
    """
    if not _is_loopback(ip) and len(shared_password) < 8:
        raise HubError(f"--ip {ip} lets anybody on that network in with any name: pass "
                       "--shared-password with 8 characters or more, or keep the default "
                       "127.0.0.1")
    if shared_password and len(shared_password) < 8:
        raise HubError("the shared password needs 8 characters or more (JupyterHub's rule)")
    proxy = find_proxy(proxy)
    state.mkdir(parents=True, exist_ok=True)
    homes = homes or state / "homes"
    port = port or free_port(ip if _is_loopback(ip) else "0.0.0.0")
    admin_token = secrets.token_hex(32)
    env = hub_env(ip=ip, port=port, state=state, homes=homes, proxy=proxy,
                  admin_token=admin_token, shared_password=shared_password,
                  kernel_threads=kernel_threads, extra=extra_env, unset=unset)
    out = open(log, "ab") if log else None  # noqa: SIM115 (closed below, after the hub)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)], cwd=state, env=env,
            stdout=out, stderr=subprocess.STDOUT if out else None, stdin=subprocess.DEVNULL)
        url = f"http://{'127.0.0.1' if ip in ('0.0.0.0', '') else ip}:{port}"
        try:
            internal = f"http://127.0.0.1:{env['WORKSHOP_HUB_INTERNAL_PORT']}"
            wait_for_hub(url, process, timeout, log, internal)
            yield RunningHub(url, admin_token, process, state, homes, log)
        finally:
            stop_hub(process)
    finally:
        if out:
            out.close()


def main(argv: list[str] | None = None) -> int:
    """Run the hub in the foreground until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m workshop.hub",
        description="Start a JupyterHub for the course on this machine: learners log in with "
        "any name (DummyAuthenticator) and get their own copy of the lessons. Ctrl-C stops it "
        "and every learner's server.")
    parser.add_argument("--ip", default="127.0.0.1",
                        help="address to listen on (default: %(default)s, this machine only; "
                        "0.0.0.0 for the room's network, with --shared-password)")
    parser.add_argument("--port", type=int, default=8000, help="default: %(default)s")
    parser.add_argument("--state", type=Path, default=REPO / "build" / "hub",
                        help="database, cookie secret, learners' homes (default: %(default)s)")
    parser.add_argument("--homes", type=Path, default=None,
                        help="one folder per learner (default: STATE/homes)")
    parser.add_argument("--shared-password", default=os.environ.get(
        "WORKSHOP_HUB_SHARED_PASSWORD", ""), help="one password for the room (SharedPassword"
        "Authenticator; admins add '-admin'); also $WORKSHOP_HUB_SHARED_PASSWORD")
    parser.add_argument("--kernel-threads", type=int, default=1,
                        help="torch threads per learner kernel (default: %(default)s)")
    parser.add_argument("--proxy", default=None, help="configurable-http-proxy executable")
    args = parser.parse_args(argv)
    try:
        with running_hub(state=args.state.resolve(), homes=args.homes, ip=args.ip,
                         port=args.port, proxy=args.proxy, shared_password=args.shared_password,
                         kernel_threads=args.kernel_threads) as hub:
            login = ("the shared password" if args.shared_password
                     else "any name and any password")
            print(f"\nJupyterHub for the course: {hub.url}/hub/login\n"
                  f"Log in with {login}; each learner gets {hub.homes}/<name>/notebooks/.\n"
                  "Admin page (log in as 'instructor'): "
                  f"{hub.url}/hub/admin\nCtrl-C stops the hub and every learner's server.\n",
                  flush=True)
            try:
                hub.process.wait()
            except KeyboardInterrupt:
                print("stopping the hub and the learners' servers ...", flush=True)
    except HubError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
