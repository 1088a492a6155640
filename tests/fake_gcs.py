"""A small fake of the Cloud Storage JSON API on 127.0.0.1 for what the emulator cannot do.

Serves GET /storage/v1/b?project=P (paginated: maxResults / pageToken /
nextPageToken) and GET /storage/v1/b/{bucket}/iam, threaded, with:
- projects that do not exist (404) or that the caller may not list (403),
- per-bucket getIamPolicy faults (e.g. a 403 on one bucket only),
- a server-side page size (to force pagination), per-request latency,
- slow paths (sleep before answering, to prove the client's timeout/deadline),
- request counts per operation and a log of the query strings received.

Error bodies use the JSON API's error format, so google-cloud-storage raises
the same exceptions (Forbidden, NotFound, ...) it raises against Google.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

API = "/storage/v1"


def bucket_resource(name: str, project_number: str = "111111111111", **extra: Any) -> dict[str, Any]:
    """A bucket resource as buckets.list (projection=noAcl) returns it."""
    return {
        "kind": "storage#bucket",
        "id": name,
        "name": name,
        "selfLink": f"https://www.googleapis.com/storage/v1/b/{name}",
        "projectNumber": project_number,
        "metageneration": "1",
        "location": "US",
        "locationType": "multi-region",
        "storageClass": "STANDARD",
        "etag": "CAE=",
        "timeCreated": "2025-01-01T00:00:00.000Z",
        "updated": "2025-01-01T00:00:00.000Z",
        "iamConfiguration": {
            "bucketPolicyOnly": {"enabled": True},
            "uniformBucketLevelAccess": {"enabled": True},
            "publicAccessPrevention": "enforced",
        },
        "softDeletePolicy": {"retentionDurationSeconds": "604800", "effectiveTime": "2025-01-01T00:00:00.000Z"},
        **extra,
    }


def policy(name: str, bindings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"kind": "storage#policy", "resourceId": f"projects/_/buckets/{name}", "version": 3, "etag": "CAE=",
            "bindings": bindings or []}  # fmt: skip


def error_body(code: int, message: str, reason: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "errors": [{"message": message, "domain": "global",
                                                                       "reason": reason}]}}  # fmt: skip


@dataclass
class Fault:
    status: int = 403
    message: str = "caller does not have storage.buckets.getIamPolicy access to the Google Cloud Storage bucket."
    reason: str = "forbidden"
    times: int | None = None  # None = always

    def body(self) -> bytes:
        return json.dumps(error_body(self.status, self.message, self.reason)).encode()


@dataclass
class FakeGcs:
    """The fake's state; start() serves it on 127.0.0.1 at `endpoint`."""

    projects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # project -> bucket resources
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # bucket -> IAM policy
    forbidden_projects: set[str] = field(default_factory=set)
    iam_faults: dict[str, Fault] = field(default_factory=dict)  # bucket -> fault
    list_faults: dict[tuple[str, int], Fault] = field(default_factory=dict)  # (project, page index) -> fault
    page_size: int = 1000  # server-side cap on maxResults
    latency_seconds: float = 0.0
    slow_seconds: float = 0.0  # extra delay for slow_paths
    slow_paths: tuple[str, ...] = ()  # substrings of the request path that are slow
    calls: Counter[str] = field(default_factory=Counter)
    queries: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------- lifecycle

    def start(self) -> FakeGcs:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                status, body = fake._answer(self.path)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=UTF-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout): fine
                    pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.request_queue_size = 256
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fake-gcs", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeGcs:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ------------------------------------------------------------- answers

    def _answer(self, raw_path: str) -> tuple[int, bytes]:
        parts = urlsplit(raw_path)
        path = parts.path
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        rest = path[len(API) :] if path.startswith(API) else path
        segs = [unquote(s) for s in rest.split("/") if s]
        op = "ListBuckets" if segs == ["b"] else "GetBucketIamPolicy" if len(segs) == 3 and segs[2] == "iam" else "?"
        with self._lock:
            self.calls[op] += 1
            self.queries.append((op, query))
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        if self.slow_seconds and any(s in raw_path for s in self.slow_paths):
            time.sleep(self.slow_seconds)
        if op == "ListBuckets":
            return self._list(query)
        if op == "GetBucketIamPolicy":
            return self._iam(segs[1])
        return 404, json.dumps(error_body(404, "Not Found", "notFound")).encode()

    def _fault(self, fault: Fault | None) -> tuple[int, bytes] | None:
        if fault is None:
            return None
        with self._lock:
            if fault.times is not None:
                if fault.times <= 0:
                    return None
                fault.times -= 1
        return fault.status, fault.body()

    def _list(self, query: Mapping[str, str]) -> tuple[int, bytes]:
        project = query.get("project", "")
        if project in self.forbidden_projects:
            msg = (
                "soc2-evidence@tooling.iam.gserviceaccount.com does not have storage.buckets.list access to the "
                "Google Cloud project. Permission 'storage.buckets.list' denied on resource (or it may not exist)."
            )
            return 403, json.dumps(error_body(403, msg, "forbidden")).encode()
        if project not in self.projects:
            return 404, json.dumps(error_body(404, "The requested project was not found.", "notFound")).encode()
        items = sorted(self.projects[project], key=lambda b: b["name"])
        token = query.get("pageToken", "")
        page_index = 0
        if token:
            page_index = int(token.rsplit(":", 1)[1])
            items = [b for b in items if b["name"] > token.rsplit(":", 1)[0]]
        faulted = self._fault(self.list_faults.get((project, page_index)))
        if faulted:
            return faulted
        size = min(int(query.get("maxResults", "1000")), self.page_size)
        page: dict[str, Any] = {"kind": "storage#buckets", "items": items[:size]}
        if len(items) > size:
            page["nextPageToken"] = f"{items[size - 1]['name']}:{page_index + 1}"
        return 200, json.dumps(page).encode()

    def _iam(self, bucket: str) -> tuple[int, bytes]:
        faulted = self._fault(self.iam_faults.get(bucket))
        if faulted:
            return faulted
        known = {b["name"] for buckets in self.projects.values() for b in buckets}
        if bucket not in known:
            return 404, json.dumps(error_body(404, "The specified bucket does not exist.", "notFound")).encode()
        return 200, json.dumps(self.policies.get(bucket) or policy(bucket)).encode()
