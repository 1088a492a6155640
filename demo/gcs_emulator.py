"""Local Cloud Storage for demos and integration tests: gcp-storage-emulator
in-process, behind a small front that adds what the emulator lacks.

    with GcsEmulator(latency_seconds=0.05) as gcs:
        expected = seed_gcp_estate(gcs.endpoint)
        with gcs.use_env("dexo-prod"):      # STORAGE_EMULATOR_HOST + GOOGLE_CLOUD_PROJECT
            ...  # google.cloud.storage.Client() now talks to the emulator, anonymously

What gcp-storage-emulator (2026.7) does, found by running it:
- stores and returns everything PATCHed on a bucket: iamConfiguration
  (uniformBucketLevelAccess, publicAccessPrevention), encryption.defaultKmsKeyName,
  lifecycle rules, versioning, labels, retentionPolicy, softDeletePolicy;
  settings sent at create time are ignored (create, then patch);
- bucket IAM policies: GET/PUT /b/{bucket}/iam store and return the policy
  (not enforced; optionsRequestedPolicyVersion ignored, the stored version is
  returned);
- does NOT separate projects: every bucket gets the server's one projectNumber
  and GET /b?project=X returns every bucket of every project;
- does NOT paginate bucket listings (maxResults/pageToken ignored) and ignores
  projection (acl/defaultObjectAcl always returned);
- answers 404 without an error body, never 403; serves one request at a time
  (http.server.HTTPServer, not threaded).

The front (a threaded HTTP server on its own port; `endpoint`) forwards every
request to the emulator, one at a time, and adds:
- projects: buckets remember the project they were created in (POST /b?project=);
  GET /b?project=X lists only that project's buckets, with a per-project
  projectNumber, sorted by name and paginated by maxResults/pageToken like the
  real API. The collector trusts the API to scope the listing (Cloud Storage
  does), so without this front two projects would report each other's buckets;
- `latency_seconds` of delay per request (outside the one-at-a-time section,
  so concurrent clients overlap their waits as they would against Google);
- a count of requests per JSON API operation (`calls`).

Edge cases the emulator cannot produce (403s, a missing project, slow answers)
are covered by tests/fake_gcs.py.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from gcp_storage_emulator import server as emulator_server
from gcp_storage_emulator.server import create_server

__all__ = ["DEMO_THRESHOLDS", "GcsEmulator", "project_number", "seed_gcp_estate"]

log = logging.getLogger(__name__)
API = "/storage/v1"
DEFAULT_PROJECT = "dexo-prod"


def project_number(project: str) -> str:
    """A stable, fake 12-digit project number for a project ID."""
    return str(100_000_000_000 + int(hashlib.sha256(project.encode()).hexdigest()[:12], 16) % 899_999_999_999)


def operation_of(method: str, path: str) -> str:
    """The JSON API operation of a request path (for counting)."""
    if path.startswith("/upload/"):
        return "UploadObject"
    rest = path[len(API) :] if path.startswith(API) else path
    parts = [p for p in rest.split("/") if p]
    if parts == ["b"]:
        return {"GET": "ListBuckets", "POST": "InsertBucket"}.get(method, "Unknown")
    if len(parts) == 2 and parts[0] == "b":
        return {"GET": "GetBucket", "PATCH": "PatchBucket", "DELETE": "DeleteBucket"}.get(method, "Unknown")
    if len(parts) == 3 and parts[0] == "b" and parts[2] == "iam":
        return {"GET": "GetBucketIamPolicy", "PUT": "SetBucketIamPolicy"}.get(method, "Unknown")
    if len(parts) >= 3 and parts[0] == "b" and parts[2] == "o":
        return "Objects"
    return "Unknown"


class _Front(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: _FrontServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        log.debug(format, *args)

    def _handle(self) -> None:
        emu = self.server.emulator
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        op = operation_of(self.command, path)
        emu._count(op)
        if emu.latency_seconds:
            time.sleep(emu.latency_seconds)
        if op == "ListBuckets":
            status, headers, out = emu._list_buckets(query, self.headers.get("Host", ""))
        else:
            status, headers, out = emu._forward(self.command, self.path, body, dict(self.headers.items()))
            if status < 300 and op in ("InsertBucket", "GetBucket", "PatchBucket"):
                out = emu._scope_bucket(op, query, path, out)
            elif status < 300 and op == "DeleteBucket":
                emu._forget(unquote(path.rstrip("/").rsplit("/", 1)[-1]))
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


class _FrontServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    emulator: GcsEmulator


class GcsEmulator:
    """gcp-storage-emulator on 127.0.0.1 plus a project-aware, latency-injecting front."""

    def __init__(self, latency_seconds: float = 0.0, host: str = "127.0.0.1", default_project: str = DEFAULT_PROJECT):
        self.latency_seconds = latency_seconds
        self.host = host
        self.default_project = default_project
        self.calls: Counter[str] = Counter()
        self._projects: dict[str, str] = {}  # bucket name -> project id
        self._lock = threading.Lock()  # the emulator serves one request at a time
        self._count_lock = threading.Lock()
        self._server: Any = None
        self._front: _FrontServer | None = None
        self._front_thread: threading.Thread | None = None

    # ----------------------------------------------------------- lifecycle

    def start(self) -> GcsEmulator:
        # the emulator's handler writes headers and body separately; without TCP_NODELAY every
        # answer waits for the client's delayed ACK (~40 ms on Linux)
        emulator_server.RequestHandler.disable_nagle_algorithm = True
        self._server = create_server(self.host, 0, in_memory=True, default_bucket=None)
        self._server.start()  # binds in its thread; start() waits until it is serving
        front = _FrontServer((self.host, 0), _Front)
        front.emulator = self
        self._front = front
        self._front_thread = threading.Thread(target=front.serve_forever, name="gcs-emulator-front", daemon=True)
        self._front_thread.start()
        return self

    def stop(self) -> None:
        if self._front is not None:
            self._front.shutdown()
            self._front.server_close()
            self._front = None
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> GcsEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def emulator_port(self) -> int:
        """The emulator's own port (its HTTPServer binds port 0 inside its API thread)."""
        return int(self._server._api._httpd.server_address[1])

    @property
    def emulator_endpoint(self) -> str:
        """The raw emulator, without project scoping or latency."""
        return f"http://{self.host}:{self.emulator_port}"

    @property
    def endpoint(self) -> str:
        assert self._front is not None, "not started"
        return f"http://{self.host}:{self._front.server_address[1]}"

    def env(self, project: str | None = None) -> dict[str, str]:
        """Point google-cloud-storage at the emulator (it then uses AnonymousCredentials by itself)."""
        return {"STORAGE_EMULATOR_HOST": self.endpoint, "GOOGLE_CLOUD_PROJECT": project or self.default_project}

    @contextmanager
    def use_env(self, project: str | None = None) -> Iterator[dict[str, str]]:
        """Set env() in os.environ for the block (process-wide: not for concurrent tests)."""
        env = self.env(project)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            yield env
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def reset_counts(self) -> None:
        with self._count_lock:
            self.calls.clear()

    def project_of(self, bucket: str) -> str | None:
        return self._projects.get(bucket)

    # ----------------------------------------------------------- front internals

    def _count(self, op: str) -> None:
        with self._count_lock:
            self.calls[op] += 1

    def _forward(
        self, method: str, path: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        keep = {k: v for k, v in headers.items() if k.lower() not in ("connection", "keep-alive", "content-length")}
        with self._lock:
            conn = http.client.HTTPConnection(self.host, self.emulator_port, timeout=30)
            try:
                conn.request(method, path, body=body or None, headers=keep)
                resp = conn.getresponse()
                return resp.status, resp.getheaders(), resp.read()
            finally:
                conn.close()

    def _scope_bucket(self, op: str, query: Mapping[str, list[str]], path: str, out: bytes) -> bytes:
        try:
            resource = json.loads(out)
        except ValueError:
            return out
        name = resource.get("name")
        if not name:
            return out
        if op == "InsertBucket":
            project = (query.get("project") or [self.default_project])[0]
            with self._count_lock:
                self._projects[name] = project
        project = self._projects.get(name, self.default_project)
        resource["projectNumber"] = project_number(project)
        return json.dumps(resource).encode()

    def _forget(self, name: str) -> None:
        with self._count_lock:
            self._projects.pop(name, None)

    def _list_buckets(self, query: Mapping[str, list[str]], host: str) -> tuple[int, list[tuple[str, str]], bytes]:
        status, headers, out = self._forward("GET", f"{API}/b", b"", {"Host": host})
        if status != 200:
            return status, headers, out
        project = (query.get("project") or [self.default_project])[0]
        items = [b for b in json.loads(out).get("items", []) if self._projects.get(b.get("name")) == project]
        for b in items:
            b["projectNumber"] = project_number(project)
        items.sort(key=lambda b: b["name"])
        token = (query.get("pageToken") or [""])[0]
        if token:
            items = [b for b in items if b["name"] > token]
        size = max(1, min(int((query.get("maxResults") or ["1000"])[0]), 1000))
        page = {"kind": "storage#buckets", "items": items[:size]}
        if len(items) > size:
            page["nextPageToken"] = items[size - 1]["name"]
        return 200, [("Content-Type", "application/json")], json.dumps(page).encode()


# ---------------------------------------------------------------- the demo estate

KMS_KEY = "projects/{project}/locations/us/keyRings/dexo/cryptoKeys/{name}"
PUBLIC_READ = {"role": "roles/storage.objectViewer", "members": ["allUsers"]}
ALL_AUTH_READ = {"role": "roles/storage.objectViewer", "members": ["allAuthenticatedUsers"]}
DELETE_30 = {"action": {"type": "Delete"}, "condition": {"age": 30}}
DELETE_NONCURRENT_30 = {"action": {"type": "Delete"}, "condition": {"daysSinceNoncurrentTime": 30, "isLive": False}}
DELETE_LIVE_30 = {"action": {"type": "Delete"}, "condition": {"age": 30, "isLive": True}}
DELETE_90 = {"action": {"type": "Delete"}, "condition": {"age": 90}}

# thresholds the demo runs with: CMEK required for buckets labelled personal or named *pii*
DEMO_THRESHOLDS: dict[str, dict[str, Any]] = {
    "gcp.gcs.encryption": {"require_cmek_patterns": ["label:data-class=personal", "*pii*"]},
}

# project -> bucket -> settings (patched after create; "iam" = extra bindings)
ESTATE: dict[str, dict[str, dict[str, Any]]] = {
    "dexo-prod": {
        "dexo-prod-user-uploads": {  # compliant everywhere
            "pap": "enforced",
            "ubla": True,
            "kms": True,
            "versioning": True,
            "lifecycle": [DELETE_30, DELETE_NONCURRENT_30],
            "labels": {"data-class": "personal"},
        },
        "dexo-prod-user-exports": {"pap": "enforced", "ubla": True, "kms": True, "labels": {"data-class": "personal"}},
        "dexo-prod-public-assets": {"pap": "inherited", "ubla": True, "iam": [PUBLIC_READ], "location": "US-EAST1"},
        "dexo-prod-customer-backups": {  # versioned; only live objects expire: noncurrent versions stay forever
            "pap": "enforced",
            "ubla": True,
            "versioning": True,
            "lifecycle": [DELETE_LIVE_30],
        },
        "dexo-prod-legacy-acl": {"pap": "inherited", "ubla": False, "location": "EU"},
        "dexo-prod-pii-archive": {
            "pap": "enforced",
            "ubla": True,
            "lifecycle": [DELETE_90],
            "retention_days": 90,
            "labels": {"data-class": "personal"},
        },
        "dexo-prod-build-artifacts": {"pap": "enforced", "ubla": True},
    },
    "dexo-analytics": {
        "dexo-analytics-events": {"pap": "enforced", "ubla": True, "iam": [ALL_AUTH_READ]},
        "dexo-analytics-customer-warehouse": {
            "pap": "enforced",
            "ubla": True,
            "kms": True,
            "lifecycle": [DELETE_30],
            "location": "EUROPE-WEST1",
        },
        "dexo-analytics-tmp": {"pap": "inherited", "ubla": True, "versioning": False},
    },
}

# what the checks must find non-compliant with DEMO_THRESHOLDS (defaults otherwise)
EXPECTED_NONCOMPLIANT: dict[str, list[str]] = {
    "gcp.gcs.encryption": ["dexo-prod-pii-archive"],
    "gcp.gcs.public_access_prevention": ["dexo-analytics-tmp", "dexo-prod-legacy-acl", "dexo-prod-public-assets"],
    "gcp.gcs.uniform_access": ["dexo-prod-legacy-acl"],
    "gcp.gcs.public_iam": ["dexo-analytics-events", "dexo-prod-public-assets"],
    "gcp.gcs.retention": ["dexo-prod-customer-backups", "dexo-prod-pii-archive", "dexo-prod-user-exports"],
    "gcp.gcs.versioning": [],
}


def _storage_client(endpoint: str, project: str) -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project=project, credentials=AnonymousCredentials(), client_options={"api_endpoint": endpoint}
    )


def seed_gcp_estate(endpoint: str) -> dict[str, list[str]]:
    """Create Dexo.chat's buckets in "dexo-prod" and "dexo-analytics" through the
    JSON API at `endpoint` (a GcsEmulator's front); return, per check ID, the
    bucket names expected non-compliant with DEMO_THRESHOLDS."""
    for project, buckets in ESTATE.items():
        client = _storage_client(endpoint, project)
        for name, spec in buckets.items():
            bucket = client.create_bucket(name, project=project, timeout=10)
            iam = bucket.iam_configuration
            iam.uniform_bucket_level_access_enabled = bool(spec.get("ubla"))
            iam.public_access_prevention = spec.get("pap", "inherited")
            bucket.versioning_enabled = bool(spec.get("versioning"))
            if spec.get("kms"):
                bucket.default_kms_key_name = KMS_KEY.format(project=project, name=name)
            if spec.get("lifecycle"):
                bucket.lifecycle_rules = spec["lifecycle"]
            if spec.get("labels"):
                bucket.labels = spec["labels"]
            if spec.get("retention_days"):
                bucket.retention_period = int(spec["retention_days"]) * 86400
            if spec.get("location"):
                bucket._patch_property("location", spec["location"])  # emulator only: location is immutable
            bucket.patch(timeout=10)
            if spec.get("iam"):
                policy = bucket.get_iam_policy(requested_policy_version=3, timeout=10)
                policy.version = 3
                for binding in spec["iam"]:
                    policy.bindings.append({"role": binding["role"], "members": set(binding["members"])})
                bucket.set_iam_policy(policy, timeout=10)
    return {k: sorted(v) for k, v in EXPECTED_NONCOMPLIANT.items()}


def seed_scale(emulator: GcsEmulator, projects: Mapping[str, int]) -> int:
    """Seed many buckets fast, straight into the emulator's store (no HTTP; its config is
    written once, not once per bucket), for the benchmark: project -> bucket count.
    Every 4th bucket is public, every 3rd holds personal data without a delete rule."""
    from gcp_storage_emulator.handlers import buckets as handlers

    storage = emulator._server._storage
    total = 0
    for project, count in projects.items():
        for i in range(count):
            name = f"{project}-bucket-{i:05d}"
            resource = handlers._make_bucket_resource(name, project_number=project_number(project))
            resource["iamConfiguration"] = {
                "uniformBucketLevelAccess": {"enabled": i % 5 != 0},
                "publicAccessPrevention": "enforced" if i % 4 else "inherited",
            }
            if i % 3 == 0:
                resource["labels"] = {"data-class": "personal"}
            else:
                resource["lifecycle"] = {"rule": [DELETE_30]}
            storage.buckets[name] = resource
            storage._store.makedirs(name)
            members = {"role": PUBLIC_READ["role"], "members": list(PUBLIC_READ["members"])}
            bindings = [members] if i % 4 == 0 else []
            storage.bucket_iam_policies[name] = {"version": 3, "etag": "CAE=", "bindings": bindings}
            emulator._projects[name] = project
            total += 1
    storage._write_config_to_file()
    return total
