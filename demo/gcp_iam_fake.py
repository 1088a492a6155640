"""A small local fake of the Resource Manager and IAM REST APIs on 127.0.0.1, for the demo and the tests.

There is no emulator for these APIs (gcp-storage-emulator serves Cloud Storage only), so this serves exactly
what the gcp.iam collector calls, in the APIs' own JSON shapes, over real HTTP (threaded):

    POST /v3/projects/{p}:getIamPolicy, /v3/folders/{f}:getIamPolicy, /v3/organizations/{o}:getIamPolicy
    POST /v1/projects/{p}:getAncestry
    GET  /v1/projects/{p}/serviceAccounts?pageSize=&pageToken=        (paginated: nextPageToken)
    GET  /v1/projects/{p}/serviceAccounts/{email}/keys?keyTypes=       (keyTypes filters keyType)

with per-resource 403s (`forbidden`: "projects/p" denies every call about that project, "folders/f" that
folder's policy, "projects/p/serviceAccounts/e" one account's keys), a server-side page size, per-request
latency, request counts per operation and a log of the request bodies (to see requestedPolicyVersion).
An unknown project answers 403 as Resource Manager does ("or it may not exist"). Errors use Google's JSON
error format, so google-api-core raises Forbidden / NotFound as it would against Google.

Reached through the collector's endpoint option: use_env() sets CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM and
..._CLOUDRESOURCEMANAGER to this server (plain http: the collector sends no credentials to it).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["ENV_NAMES", "FakeGcpIam", "policy"]

ENV_NAMES = ("CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER", "CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM")
_POLICY = re.compile(r"^/v3/(projects|folders|organizations)/([^/:]+):getIamPolicy$")
_ANCESTRY = re.compile(r"^/v1/projects/([^/:]+):getAncestry$")
_ACCOUNTS = re.compile(r"^/v1/projects/([^/]+)/serviceAccounts$")
_KEYS = re.compile(r"^/v1/projects/([^/]+)/serviceAccounts/([^/]+)/keys$")
_OPERATIONS = {
    "projects": "GetProjectIamPolicy",
    "folders": "GetFolderIamPolicy",
    "organizations": "GetOrganizationIamPolicy",
}


def policy(*bindings: dict[str, Any], etag: str = "BwYAAAAAAAA=") -> dict[str, Any]:
    """An IAM policy (version 3) as getIamPolicy returns it."""
    return {"version": 3, "etag": etag, "bindings": list(bindings)}


def _error(status: int, message: str, reason: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"code": status, "message": message, "status": reason}}


@dataclass
class FakeGcpIam:
    """The fake's state; start() serves it on 127.0.0.1 at `endpoint`."""

    policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # "projects/p" | "folders/f" | ... -> policy
    ancestry: dict[str, list[str]] = field(default_factory=dict)  # project -> ["folders/1", "organizations/2"]
    service_accounts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # project -> accounts
    keys: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # service account e-mail -> keys
    forbidden: set[str] = field(default_factory=set)
    page_size: int = 100
    latency_seconds: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)
    bodies: list[tuple[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------- lifecycle

    def start(self) -> FakeGcpIam:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, answer = fake.answer(method, self.path, body)
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=UTF-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeGcpIam:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    @contextmanager
    def use_env(self) -> Iterator[None]:
        """Point the gcp.iam collector (CLOUDSDK_API_ENDPOINT_OVERRIDES_*) at this fake for the block."""
        saved = {k: os.environ.get(k) for k in ENV_NAMES}
        os.environ.update(dict.fromkeys(ENV_NAMES, self.endpoint))
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    # ------------------------------------------------------------- answers

    def answer(self, method: str, raw_path: str, body: bytes = b"") -> tuple[int, dict[str, Any]]:
        parts = urlsplit(raw_path)
        path, query = unquote(parts.path), {k: v[0] for k, v in parse_qs(parts.query).items()}
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        operation, resource = self._route(method, path)
        with self._lock:
            self.calls[operation] += 1
            self.bodies.append((operation, json.loads(body) if body else None))
        if operation == "?":
            return _error(404, f"no such method: {method} {path}", "NOT_FOUND")
        denied = [r for r in self.forbidden if resource == r or resource.startswith(r + "/")]
        if denied or (resource.startswith("projects/") and resource.split("/")[1] not in self._projects()):
            message = f"The caller does not have permission on {resource} (or it may not exist)"
            return _error(403, message, "PERMISSION_DENIED")
        return 200, self._dispatch(operation, resource, query)

    def _projects(self) -> set[str]:
        return {r.split("/", 1)[1] for r in self.policies if r.startswith("projects/")} | set(self.service_accounts)

    def _route(self, method: str, path: str) -> tuple[str, str]:
        if method == "POST" and (m := _POLICY.match(path)):
            return _OPERATIONS[m.group(1)], f"{m.group(1)}/{m.group(2)}"
        if method == "POST" and (m := _ANCESTRY.match(path)):
            return "GetAncestry", f"projects/{m.group(1)}"
        if method == "GET" and (m := _ACCOUNTS.match(path)):
            return "ListServiceAccounts", f"projects/{m.group(1)}"
        if method == "GET" and (m := _KEYS.match(path)):
            return "ListServiceAccountKeys", f"projects/{m.group(1)}/serviceAccounts/{m.group(2)}"
        return "?", path

    def _dispatch(self, operation: str, resource: str, query: dict[str, str]) -> dict[str, Any]:
        if operation.endswith("IamPolicy"):
            return self.policies.get(resource) or policy()
        project = resource.split("/")[1]
        if operation == "GetAncestry":
            chain = [f"projects/{project}", *self.ancestry.get(project, [])]
            kinds = {"projects": "project", "folders": "folder", "organizations": "organization"}
            return {
                "ancestor": [{"resourceId": {"type": kinds[r.split("/")[0]], "id": r.split("/")[1]}} for r in chain]
            }
        if operation == "ListServiceAccounts":
            accounts = sorted(self.service_accounts.get(project, []), key=lambda a: a["email"])
            start = int(query.get("pageToken") or 0)
            size = min(int(query.get("pageSize") or 100), self.page_size)
            page: dict[str, Any] = {"accounts": accounts[start : start + size]}
            if start + size < len(accounts):
                page["nextPageToken"] = str(start + size)
            return page
        wanted = query.get("keyTypes")
        keys = [k for k in self.keys.get(resource.rsplit("/", 1)[1], []) if not wanted or k.get("keyType") == wanted]
        return {"keys": keys} if keys else {}
