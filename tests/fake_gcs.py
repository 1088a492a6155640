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

Objects (enough for reports.locker.GcsLocker, which gcp-storage-emulator cannot serve
faithfully: it ignores ifGenerationMatch), in buckets named in `projects`:
- GET /storage/v1/b/{bucket} (buckets.get),
- POST /upload/storage/v1/b/{bucket}/o?uploadType=multipart|media (objects.insert: what
  google-cloud-storage sends for objects up to 8 MiB; resumable uploads are not served),
  honouring ifGenerationMatch (0 = create only: 412 conditionNotMet when the object exists)
  and checking a crc32c / md5Hash given in the metadata part against the body (400 otherwise),
- GET /storage/v1/b/{bucket}/o/{name} (objects.get: the resource, with md5Hash, crc32c,
  generation, size, metadata; alt=media serves the bytes),
- GET /download/storage/v1/b/{bucket}/o/{name}?alt=media (with X-Goog-Hash, so the library
  validates the download),
- GET /storage/v1/b/{bucket}/o (objects.list: prefix, delimiter, matchGlob, pagination).
md5Hash is base64(MD5), crc32c base64(big-endian CRC32C), both computed from the bytes.
Only the live generation is kept. `statuses` counts the answers per (operation, status);
`lost_inserts` answers an upload with a fault after storing it (a lost answer, then a retry).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import google_crc32c

API = "/storage/v1"
UPLOAD = "/upload" + API
DOWNLOAD = "/download" + API
JSON_TYPE = "application/json; charset=UTF-8"
PRECONDITION_FAILED = "At least one of the pre-conditions you specified did not hold."


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


def _error(status: int, message: str, reason: str) -> tuple[int, bytes, dict[str, str]]:
    return status, json.dumps(error_body(status, message, reason)).encode(), {}


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


def crc32c_b64(data: bytes) -> str:
    return base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode("ascii")


CLOSE = {"[": "]", "{": "}"}


def glob_regex(glob: str) -> re.Pattern[str]:
    """A matchGlob pattern as a regex: `**` any characters, `*` any but '/', `?` one character
    but '/', `[...]` a set (`[!...]` negated), `{a,b}` literal alternatives, `\\x` a literal x."""
    out, i = [], 0
    while i < len(glob):
        c = glob[i]
        if c == "\\" and i + 1 < len(glob):
            out.append(re.escape(glob[i + 1]))
            i += 2
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif c in CLOSE and glob.find(CLOSE[c], i + 1) > i:
            end = glob.find(CLOSE[c], i + 1)
            body = glob[i + 1 : end]
            if c == "[":  # a set: ranges (a-z) kept, '!' negates
                negate = body.startswith("!")
                members = body[negate:].replace("\\", "\\\\").replace("^", "\\^")
                out.append("[" + ("^" if negate else "") + members + "]")
            else:
                out.append("(?:" + "|".join(re.escape(a) for a in body.split(",")) + ")")
            i = end + 1
        else:
            out.append("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c))
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _multipart(body: bytes, content_type: str) -> list[tuple[str, bytes]]:
    """The parts of a multipart/related body as (content-type, bytes)."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if m is None:
        raise ValueError("multipart body without a boundary")
    parts = []
    for chunk in body.split(b"--" + m.group(1).encode())[1:]:
        if chunk.startswith(b"--"):  # the closing delimiter
            break
        head, sep, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("multipart part without headers")
        headers = dict(
            (k.strip().lower(), v.strip()) for k, _, v in (h.partition(":") for h in head.decode().split("\r\n"))
        )
        parts.append((headers.get("content-type", ""), content.removesuffix(b"\r\n")))
    return parts


@dataclass
class StoredObject:
    """One live object generation; its hashes are computed from `data`."""

    bucket: str
    name: str
    data: bytes
    generation: int
    content_type: str = "application/octet-stream"
    metadata: dict[str, str] | None = None
    created: str = "2025-01-01T00:00:00.000Z"

    @property
    def md5_hash(self) -> str:
        return md5_b64(self.data)

    @property
    def crc32c(self) -> str:
        return crc32c_b64(self.data)

    def resource(self, endpoint: str) -> dict[str, Any]:
        quoted = quote(self.name, safe="")
        out: dict[str, Any] = {
            "kind": "storage#object",
            "id": f"{self.bucket}/{self.name}/{self.generation}",
            "selfLink": f"{endpoint}{API}/b/{self.bucket}/o/{quoted}",
            "mediaLink": f"{endpoint}{DOWNLOAD}/b/{self.bucket}/o/{quoted}?generation={self.generation}&alt=media",
            "name": self.name,
            "bucket": self.bucket,
            "generation": str(self.generation),
            "metageneration": "1",
            "contentType": self.content_type,
            "storageClass": "STANDARD",
            "size": str(len(self.data)),
            "md5Hash": self.md5_hash,
            "crc32c": self.crc32c,
            "etag": f"CK{self.generation}EAE=",
            "timeCreated": self.created,
            "updated": self.created,
            "timeStorageClassUpdated": self.created,
        }
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        return out


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
    objects: dict[tuple[str, str], StoredObject] = field(default_factory=dict)  # (bucket, name) -> live object
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)  # (operation, HTTP status) -> answers
    lost_inserts: dict[str, Fault] = field(default_factory=dict)  # object name -> answered after storing it

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._generations = itertools.count(1_700_000_000_000_001)
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

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request_body = self.rfile.read(length) if length else b""
                status, body, headers = fake._answer(self.path, method, self.headers.get("Content-Type", ""),
                                                     request_body)  # fmt: skip
                try:
                    self.send_response(status)
                    headers = {"Content-Type": JSON_TYPE, **headers}
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout): fine
                    pass

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.request_queue_size = 256
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-gcs", daemon=True
        )  # a short poll: stop() returns at once
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

    def put_object(
        self, bucket: str, name: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> StoredObject:
        """Store an object directly (no request, no precondition): a new generation."""
        with self._lock:
            obj = StoredObject(bucket, name, data, next(self._generations), content_type)
            self.objects[(bucket, name)] = obj
        return obj

    def _operation(self, method: str, path: str, query: Mapping[str, str]) -> tuple[str, list[str]]:
        kind = "upload" if path.startswith(UPLOAD) else "download" if path.startswith(DOWNLOAD) else "json"
        base = {"upload": UPLOAD, "download": DOWNLOAD, "json": API}[kind]
        rest = path[len(base) :] if path.startswith(base) else path
        segs = [unquote(s) for s in rest.split("/") if s]
        if len(segs) > 4 and segs[2] == "o":  # an object name sent with unencoded slashes
            segs = [*segs[:3], "/".join(segs[3:])]
        if method == "POST":
            return ("InsertObject" if kind == "upload" and len(segs) == 3 and segs[2] == "o" else "?"), segs
        if kind == "download":
            return ("DownloadObject" if len(segs) == 4 and segs[2] == "o" else "?"), segs
        if kind == "upload" or not segs or segs[0] != "b":
            return "?", segs
        if len(segs) == 1:
            return "ListBuckets", segs
        if len(segs) == 2:
            return "GetBucket", segs
        if len(segs) == 3:
            return {"iam": "GetBucketIamPolicy", "o": "ListObjects"}.get(segs[2], "?"), segs
        if len(segs) == 4 and segs[2] == "o":
            return ("DownloadObject" if query.get("alt") == "media" else "GetObject"), segs
        return "?", segs

    def _answer(
        self, raw_path: str, method: str = "GET", content_type: str = "", body: bytes = b""
    ) -> tuple[int, bytes, dict[str, str]]:
        parts = urlsplit(raw_path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        op, segs = self._operation(method, parts.path, query)
        with self._lock:
            self.calls[op] += 1
            self.queries.append((op, query))
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        if self.slow_seconds and any(s in raw_path for s in self.slow_paths):
            time.sleep(self.slow_seconds)
        status, out, headers = self._dispatch(op, segs, query, content_type, body)
        with self._lock:
            self.statuses[(op, status)] += 1
        return status, out, headers

    def _dispatch(
        self, op: str, segs: list[str], query: Mapping[str, str], content_type: str, body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        if op == "ListBuckets":
            return *self._list(query), {}
        if op == "GetBucketIamPolicy":
            return *self._iam(segs[1]), {}
        if op == "?":
            return _error(404, "Not Found", "notFound")
        bucket = self._bucket(segs[1])
        if bucket is None:
            return _error(404, "The specified bucket does not exist.", "notFound")
        if op == "GetBucket":
            return 200, json.dumps(bucket).encode(), {}
        if op == "ListObjects":
            return self._list_objects(segs[1], query)
        if op == "InsertObject":
            return self._insert(segs[1], query, content_type, body)
        return self._get_object(segs[1], segs[3], query, media=op == "DownloadObject")

    def _bucket(self, name: str) -> dict[str, Any] | None:
        return next((b for buckets in self.projects.values() for b in buckets if b["name"] == name), None)

    def _insert(
        self, bucket: str, query: Mapping[str, str], content_type: str, body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        upload_type = query.get("uploadType", "")
        if upload_type == "multipart":
            try:
                parts = _multipart(body, content_type)
                meta, (media_type, data) = json.loads(parts[0][1]), parts[1]
            except (ValueError, IndexError) as exc:
                return _error(400, f"Invalid multipart request: {exc}", "invalid")
        elif upload_type == "media":
            meta, media_type, data = {"name": query.get("name", "")}, content_type, body
        else:
            return _error(501, f"uploadType={upload_type!r} is not served by the fake", "notImplemented")
        name = meta.get("name") or query.get("name", "")
        if not name:
            return _error(400, "Required", "required")
        for field_name, label, actual in (("crc32c", "CRC32C", crc32c_b64(data)), ("md5Hash", "MD5", md5_b64(data))):
            given = meta.get(field_name)
            if given is not None and given != actual:
                return _error(
                    400, f'Provided {label} "{given}" doesn\'t match calculated {label} "{actual}".', "invalid"
                )
        match = query.get("ifGenerationMatch")
        with self._lock:
            current = self.objects.get((bucket, name))
            if match is not None and int(match) != (current.generation if current else 0):
                return _error(412, PRECONDITION_FAILED, "conditionNotMet")
            obj = StoredObject(
                bucket,
                name,
                data,
                next(self._generations),
                meta.get("contentType") or media_type or "application/octet-stream",
                dict(meta["metadata"]) if meta.get("metadata") else None,
            )
            self.objects[(bucket, name)] = obj
        lost = self._fault(self.lost_inserts.get(name))  # stored, but the answer is an error (lost)
        if lost:
            return *lost, {}
        return 200, json.dumps(obj.resource(self.endpoint)).encode(), {}

    def _get_object(
        self, bucket: str, name: str, query: Mapping[str, str], *, media: bool
    ) -> tuple[int, bytes, dict[str, str]]:
        with self._lock:
            obj = self.objects.get((bucket, name))
        if obj is None or query.get("generation") not in (None, str(obj.generation)):
            return _error(404, f"No such object: {bucket}/{name}", "notFound")
        if not media:
            return 200, json.dumps(obj.resource(self.endpoint)).encode(), {}
        return (
            200,
            obj.data,
            {
                "Content-Type": obj.content_type,
                "X-Goog-Hash": f"crc32c={obj.crc32c},md5={obj.md5_hash}",
                "X-Goog-Generation": str(obj.generation),
                "X-Goog-Metageneration": "1",
                "X-Goog-Stored-Content-Length": str(len(obj.data)),
                "X-Goog-Stored-Content-Encoding": "identity",
                "X-Goog-Storage-Class": "STANDARD",
                "ETag": f"CK{obj.generation}EAE=",
            },
        )

    def _list_objects(self, bucket: str, query: Mapping[str, str]) -> tuple[int, bytes, dict[str, str]]:
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        glob = glob_regex(query["matchGlob"]) if query.get("matchGlob") else None
        with self._lock:
            live = sorted((o for (b, _), o in self.objects.items() if b == bucket), key=lambda o: o.name)
        entries: dict[str, StoredObject | None] = {}  # name -> object, or None for a prefix
        for obj in live:
            if not obj.name.startswith(prefix) or (glob is not None and not glob.match(obj.name)):
                continue
            rest = obj.name[len(prefix) :]
            if delimiter and delimiter in rest:
                entries[prefix + rest.split(delimiter, 1)[0] + delimiter] = None
            else:
                entries[obj.name] = obj
        names = sorted(n for n in entries if n > query.get("pageToken", ""))
        size = min(int(query.get("maxResults", "1000")), self.page_size)
        page: dict[str, Any] = {"kind": "storage#objects"}
        items = [obj.resource(self.endpoint) for n in names[:size] if (obj := entries[n]) is not None]
        prefixes = [n for n in names[:size] if entries[n] is None]
        if items:
            page["items"] = items
        if prefixes:
            page["prefixes"] = prefixes
        if len(names) > size:
            page["nextPageToken"] = names[size - 1]
        return 200, json.dumps(page).encode(), {}

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
