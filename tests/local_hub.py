"""A local stand-in for the Hugging Face Hub, for tests of the online path (no network needed).

It serves, on 127.0.0.1, the part of the Hub HTTP API that huggingface_hub 2.4 and
transformers 5.24 use to resolve and download a model repo, with the headers they rely on:

* ``HEAD``/``GET /{repo}/resolve/{revision}/{path}``: regular files answer 200 with
  ``ETag`` (the git blob id), ``Content-Length`` and ``X-Repo-Commit``; LFS files (weights)
  answer 302 to a second origin (the "CDN", see below) with ``X-Linked-Etag`` (sha256),
  ``X-Linked-Size`` and ``X-Repo-Commit``, as the Hub does. ``Range`` requests answer 206.
* ``GET /api/models/{repo}`` and ``/api/models/{repo}/revision/{revision}`` (``model_info``,
  ``repo_info``: ``sha``, ``siblings``) and ``/api/models/{repo}/tree/{revision}[/{path}]``
  (``list_repo_tree``, ``list_repo_files``; ``recursive``).
* Errors as ``huggingface_hub.utils.hf_raise_for_status`` reads them, by ``X-Error-Code``: an
  unknown repo is ``RepoNotFound``, 401 without a token and 404 with one, as on the Hub; a gated
  repo's files are 401 ``GatedRepo`` without a token and 403 ``GatedRepo`` with one; an unknown
  revision is 404 ``RevisionNotFound``; a missing file 404 ``EntryNotFound`` (with
  ``X-Repo-Commit``, which the client uses to cache the absence).

Revisions: each repo has branches (``main`` and any added) pointing at commits; a commit sha
works as a revision too. Faults, switched on per test: :meth:`LocalHub.slow` delays the
responses to matching paths; :meth:`LocalHub.die_during` sends the headers of a matching
download (the full ``Content-Length``) and part of its body, closes the connection, and from
then on drops every connection without an answer (a hub that went away) until :meth:`LocalHub.heal`;
:func:`free_port` is an endpoint that refuses at once and :func:`blackhole` one that hangs.

Every request is logged (:attr:`LocalHub.requests`), so a test can say which files were fetched.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

#: files the Hub stores in LFS (served through the CDN redirect)
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".gguf")


def git_blob_id(data: bytes) -> str:
    """The etag the Hub gives a regular file: its git blob id."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def is_lfs(path: str) -> bool:
    return path.endswith(LFS_SUFFIXES)


@dataclass
class Repo:
    """A model repo: commits (sha -> {path: bytes}) and branches (name -> sha)."""

    repo_id: str
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    gated: bool = False

    def commit_of(self, revision: str) -> str | None:
        if revision in self.branches:
            return self.branches[revision]
        if revision in self.commits:
            return revision
        return None


@dataclass(frozen=True)
class Request:
    """One logged request: method, path (no query), status sent, body bytes sent."""

    method: str
    path: str
    status: int
    body_bytes: int
    origin: str
    """"hub" or "cdn\""""


class LocalHub:
    """The server: ``hub.url`` goes into ``HF_ENDPOINT``. Start with :meth:`start` (or use it as
    a context manager); :meth:`add_repo` / :meth:`add_commit` add content at any time."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.requests: list[Request] = []
        self.delay_s = 0.0
        self.delay_pattern = ""
        self._die: tuple[str, int] | None = None  # (glob on the file path, bytes to send)
        self.down = False
        self._lock = threading.Lock()
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self.url = ""
        self.cdn_url = ""

    # ------------------------------------------------------------------ content

    def add_repo(self, repo_id: str, files: dict[str, bytes] | Path, *, gated: bool = False,
                 branch: str = "main") -> str:
        """Create ``repo_id`` with ``files`` (a folder, or {path: bytes}) at ``branch``; returns
        the commit sha."""
        self.repos[repo_id] = Repo(repo_id, gated=gated)
        return self.add_commit(repo_id, files, branch=branch)

    def add_commit(self, repo_id: str, files: dict[str, bytes] | Path, *,
                   branch: str | None = "main") -> str:
        """Add a commit holding exactly ``files``; ``branch`` (None: none) then points at it."""
        if isinstance(files, Path):
            files = {p.relative_to(files).as_posix(): p.read_bytes()
                     for p in sorted(files.rglob("*")) if p.is_file()}
        repo = self.repos[repo_id]
        listing = json.dumps({k: git_blob_id(v) for k, v in sorted(files.items())})
        sha = hashlib.sha1(f"{repo_id}\n{len(repo.commits)}\n{listing}".encode()).hexdigest()
        repo.commits[sha] = dict(files)
        if branch is not None:
            repo.branches[branch] = sha
        return sha

    # ------------------------------------------------------------------ faults

    @contextmanager
    def slow(self, seconds: float, pattern: str = "") -> Iterator[None]:
        """Within the block, every response to a request whose path ``pattern`` (a regular
        expression) is found in waits ``seconds`` before its first byte (default: all)."""
        self.delay_s, self.delay_pattern = seconds, pattern
        try:
            yield
        finally:
            self.delay_s, self.delay_pattern = 0.0, ""

    def die_during(self, pattern: str = "*.safetensors", after_bytes: int = 1024) -> None:
        """The next download of a file matching ``pattern`` stops after ``after_bytes`` bytes of
        its body; then the hub is down (connections dropped unanswered) until :meth:`heal`."""
        self._die = (pattern, after_bytes)

    def heal(self) -> None:
        self._die = None
        self.down = False

    def reset(self) -> None:
        """No faults and an empty request log (between tests)."""
        self.heal()
        self.delay_s = 0.0
        self.requests.clear()

    def fetched(self, origin: str | None = None) -> list[str]:
        """Paths whose content was sent (GET answered 200 or 206)."""
        return [r.path for r in self.requests if r.method == "GET" and r.status in (200, 206)
                and (origin is None or r.origin == origin)]

    # ------------------------------------------------------------------ server

    def start(self) -> LocalHub:
        for origin in ("hub", "cdn"):
            server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, origin))
            server.daemon_threads = True
            thread = threading.Thread(target=server.serve_forever, name=f"local-hub-{origin}",
                                      kwargs={"poll_interval": 0.05}, daemon=True)
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        self.url = f"http://127.0.0.1:{self._servers[0].server_address[1]}"
        self.cdn_url = f"http://127.0.0.1:{self._servers[1].server_address[1]}"
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> LocalHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _log(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _blob(self, sha256: str) -> bytes | None:
        for repo in self.repos.values():
            for files in repo.commits.values():
                for data in files.values():
                    if hashlib.sha256(data).hexdigest() == sha256:
                        return data
        return None


@contextmanager
def pointed_at(hub: LocalHub, cache: Path) -> Iterator[None]:
    """Within the block, huggingface_hub in *this* process uses ``hub``, online, with the hub
    cache ``cache``, as ``HF_ENDPOINT`` / ``HF_HUB_CACHE`` would make it at import (including
    the file-address template built from the endpoint). For a scenario that must run in this
    process; a fresh interpreter with those variables is the more faithful test."""
    from unittest import mock

    from huggingface_hub import constants

    from helpers import hub as course_hub

    with contextlib.ExitStack() as stack:
        for name, value in {
            "ENDPOINT": hub.url, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": False,
            "HUGGINGFACE_CO_URL_TEMPLATE": hub.url + "/{repo_id}/resolve/{revision}/{filename}",
        }.items():
            stack.enter_context(mock.patch.object(constants, name, value))
        stack.enter_context(mock.patch.dict("os.environ", {"HF_HUB_OFFLINE": "",
                                                           "TRANSFORMERS_OFFLINE": ""}))
        stack.enter_context(mock.patch.object(course_hub, "_probe_cache", {}))
        yield


def free_port() -> int:
    """A port nothing listens on right now: connections to it are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def blackhole() -> Iterator[str]:
    """An endpoint (``http://127.0.0.1:PORT``) whose connections hang, as a host behind a
    firewall that drops packets: a listening socket whose accept queue is full, so that the
    kernel ignores every new connection attempt until the client gives up."""
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(socket.socket())
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        while True:  # fill the queue; the first attempt that times out proves it full
            client = stack.enter_context(socket.socket())
            client.settimeout(0.3)
            try:
                client.connect(("127.0.0.1", port))
            except (TimeoutError, BlockingIOError):
                break
        yield f"http://127.0.0.1:{port}"


def _handler(hub: LocalHub, origin: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the Hub: the client pools connections

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_HEAD(self) -> None:
            self._serve(head=True)

        def do_GET(self) -> None:
            self._serve(head=False)

        # -------------------------------------------------------------- dispatch

        def _serve(self, head: bool) -> None:
            if hub.down:  # a hub that went away: drop the connection, answer nothing
                self.close_connection = True
                self._log(0, 0)
                return
            parts = urlsplit(self.path)
            path = parts.path
            if hub.delay_s and re.search(hub.delay_pattern, path):
                time.sleep(hub.delay_s)
            query = parse_qs(parts.query)
            if origin == "cdn":
                match = re.fullmatch(r"/lfs/([0-9a-f]{64})/([^/]+)", path)
                data = hub._blob(match.group(1)) if match else None
                if data is None:
                    return self._error(404, "EntryNotFound", "Entry not found", head)
                return self._content(data, head, etag=match.group(1), name=unquote(match[2]))
            api = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/(revision|tree)/([^/]+)(/.*)?)?",
                               path)
            if api:
                repo_id, kind, revision, sub = api.groups()
                return self._api(repo_id, kind, unquote(revision or "main"),
                                 unquote(sub or "").strip("/"), query, head)
            resolve = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
            if resolve:
                repo_id, revision, file = resolve.groups()
                return self._resolve(repo_id, unquote(revision), unquote(file), head)
            return self._error(404, None, "Not found", head)

        def _repo(self, repo_id: str, revision: str, head: bool,
                  files_wanted: bool) -> tuple[Repo, str] | None:
            repo = hub.repos.get(repo_id)
            if repo is None:  # 401 to a client without a token (a private repo looks the same)
                status = 404 if self.headers.get("Authorization") else 401
                self._error(status, "RepoNotFound", "Repository not found", head)
                return None
            if files_wanted and repo.gated:
                if self.headers.get("Authorization"):
                    self._error(403, "GatedRepo", f"Access to model {repo_id} is restricted and "
                                "you are not in the authorized list. Visit "
                                f"https://huggingface.co/{repo_id} to ask for access.", head)
                else:
                    self._error(401, "GatedRepo", f"Access to model {repo_id} is restricted. You "
                                "must have access to it and be authenticated to access it. "
                                "Please log in.", head)
                return None
            commit = repo.commit_of(revision)
            if commit is None:
                self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", head)
                return None
            return repo, commit

        # -------------------------------------------------------------- /api

        def _api(self, repo_id: str, kind: str | None, revision: str, sub: str,
                 query: dict, head: bool) -> None:
            found = self._repo(repo_id, revision, head, files_wanted=False)
            if found is None:
                return
            repo, commit = found
            files = repo.commits[commit]
            if kind == "tree":
                recursive = query.get("recursive", ["false"])[0].lower() in {"1", "true"}
                entries = _tree(files, sub, recursive)
                if entries is None:
                    return self._error(404, "EntryNotFound", f"{sub} does not exist", head,
                                       commit=commit)
                return self._json(entries, head)
            return self._json({
                "_id": hashlib.md5(repo_id.encode()).hexdigest()[:24], "id": repo_id,
                "modelId": repo_id, "author": repo_id.split("/")[0], "sha": commit,
                "lastModified": "2026-01-01T00:00:00.000Z", "private": False,
                "gated": "auto" if repo.gated else False, "disabled": False, "downloads": 0,
                "likes": 0, "library_name": "transformers", "tags": ["transformers"],
                "pipeline_tag": "text-generation",
                "siblings": [{"rfilename": name} for name in sorted(files)],
            }, head)

        # -------------------------------------------------------------- /resolve

        def _resolve(self, repo_id: str, revision: str, file: str, head: bool) -> None:
            found = self._repo(repo_id, revision, head, files_wanted=True)
            if found is None:
                return
            repo, commit = found
            data = repo.commits[commit].get(file)
            if data is None:
                return self._error(404, "EntryNotFound", "Entry not found", head, commit=commit)
            if is_lfs(file):
                sha256 = hashlib.sha256(data).hexdigest()
                self.send_response(302)
                name = quote(file.rsplit("/", 1)[-1])
                self.send_header("Location", f"{hub.cdn_url}/lfs/{sha256}/{name}")
                self.send_header("X-Repo-Commit", commit)
                self.send_header("X-Linked-Etag", f'"{sha256}"')
                self.send_header("X-Linked-Size", str(len(data)))
                self.send_header("ETag", f'"{git_blob_id(data)}"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                self._log(302, 0)
                return None
            return self._content(data, head, etag=git_blob_id(data), name=file, commit=commit)

        # -------------------------------------------------------------- responses

        def _content(self, data: bytes, head: bool, *, etag: str, name: str,
                     commit: str | None = None) -> None:
            start, status = 0, 200
            ranged = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", "").strip())
            if ranged and not head and int(ranged.group(1)) < len(data):
                start, status = int(ranged.group(1)), 206
            body = data[start:]
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("ETag", f'"{etag}"')
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            if commit:
                self.send_header("X-Repo-Commit", commit)
            else:  # the CDN names the file, as the Hub's does
                self.send_header("Content-Disposition", f'attachment; filename="{name}"')
            self.end_headers()
            if head:
                self._log(status, 0)
                return
            die = hub._die
            if die and fnmatch.fnmatch(name.rsplit("/", 1)[-1], die[0]):
                hub._die, hub.down = None, True
                sent = body[: min(die[1], max(len(body) - 1, 0))]
                self.wfile.write(sent)
                self.wfile.flush()
                self.close_connection = True
                self._log(-status, len(sent))  # negative: cut short
                return
            self.wfile.write(body)
            self._log(status, len(body))

        def _json(self, payload: object, head: bool) -> None:
            body = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)
            self._log(200, 0 if head else len(body))

        def _error(self, status: int, code: str | None, message: str, head: bool,
                   commit: str | None = None) -> None:
            body = json.dumps({"error": message}).encode()
            self.send_response(status)
            if code:
                self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            if commit:
                self.send_header("X-Repo-Commit", commit)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)
            self._log(status, 0)

        def _log(self, status: int, sent: int) -> None:
            hub._log(Request(self.command, urlsplit(self.path).path, status, sent, origin))

    return Handler


def _tree(files: dict[str, bytes], sub: str, recursive: bool) -> list[dict] | None:
    """``list_repo_tree`` entries under ``sub`` (None when ``sub`` is no folder of the repo)."""
    prefix = f"{sub}/" if sub else ""
    below = {p: d for p, d in files.items() if p.startswith(prefix)}
    if sub and not below:
        return None
    entries: dict[str, dict] = {}
    for path, data in sorted(below.items()):
        rest = path[len(prefix):]
        if not recursive and "/" in rest:
            folder = prefix + rest.split("/", 1)[0]
            entries[folder] = {"type": "directory", "path": folder, "size": 0,
                               "oid": hashlib.sha1(folder.encode()).hexdigest()}
            continue
        if recursive:  # the folders on the way, as the Hub lists them
            for depth in range(1, rest.count("/") + 1):
                folder = prefix + "/".join(rest.split("/")[:depth])
                entries[folder] = {"type": "directory", "path": folder, "size": 0,
                                   "oid": hashlib.sha1(folder.encode()).hexdigest()}
        entry = {"type": "file", "path": path, "size": len(data), "oid": git_blob_id(data)}
        if is_lfs(path):
            entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data),
                            "pointerSize": 134}
        entries[path] = entry
    return list(entries.values())


def resolve_url(hub: LocalHub, repo_id: str, revision: str, path: str) -> str:
    """The ``/resolve`` address of a file (as ``huggingface_hub.hf_hub_url`` builds it)."""
    return f"{hub.url}/{repo_id}/resolve/{quote(revision, safe='')}/{quote(path)}"
