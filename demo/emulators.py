"""Local AWS for demos and integration tests: moto's server behind a small
WSGI wrapper that adds per-request latency, fault injection and call counts.

    with MotoEmulator(latency_seconds=0.05) as aws:
        aws.add_fault(FaultRule("AssumeRole", match="role/soc2-evidence-reader", times=None))
        boto3.client("sts", endpoint_url=aws.endpoint_url, ...)

The wrapper names each request's API operation from the raw HTTP request
(X-Amz-Target for JSON protocols, Action= for query protocols, method + path +
sub-resource for S3 and S3 Control) and answers injected faults in the error
format botocore parses for that protocol, so boto3 raises the usual
ClientError and its retry modes treat throttling as they would against AWS.

Gaps in moto 5.2 that the wrapper covers: ec2:GetEbsDefaultKmsKeyId is
answered from moto's EC2 backend (alias/aws/ebs unless a default key was set);
any other operation moto lacks answers a 501 "NotImplemented" in the
protocol's format instead of an HTML 500 that botocore would retry.

moto keeps its state per process: every MotoEmulator in one process serves
the same accounts and resources (reset() clears them for all).
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit, urlunsplit
from urllib.request import ProxyHandler, Request, build_opener
from xml.sax.saxutils import escape

from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wsgi import get_input_stream

__all__ = ["ENV_UNSET", "FaultRule", "MotoEmulator", "RequestInfo", "identify", "s3control_direct_host"]

DEFAULT_REGION = "us-east-1"
log = logging.getLogger(__name__)
# Variables that would point boto3 at a real profile or role; use_env() removes them.
ENV_UNSET = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


@dataclass
class FaultRule:
    """Answer matching requests with an AWS error instead of passing them to moto."""

    operation: str  # API operation name, e.g. "AssumeRole", "GetBucketEncryption"
    match: str | None = None  # substring of the (decoded) path+query, body or Host header
    code: str = "AccessDenied"
    status: int = 403
    message: str = "injected"
    times: int | None = None  # answer the fault this many times, None = always
    service: str | None = None  # optional: only this service ("s3", "s3control", "ec2", "sts", ...)


@dataclass(frozen=True)
class RequestInfo:
    service: str  # signing name from the SigV4 scope, "s3control" for S3 Control, "" if unsigned
    protocol: str  # "json", "query", "ec2", "rest-xml" or "rest-json"
    operation: str  # e.g. "ListTables"; "Unknown" if not recognised


# ---------------------------------------------------------------- operation names

_S3_SUBRESOURCES = {
    "encryption": "BucketEncryption",
    "publicAccessBlock": "PublicAccessBlock",
    "location": "BucketLocation",
    "policy": "BucketPolicy",
    "policyStatus": "BucketPolicyStatus",
    "acl": "BucketAcl",
    "versioning": "BucketVersioning",
    "logging": "BucketLogging",
    "lifecycle": "BucketLifecycleConfiguration",
    "ownershipControls": "BucketOwnershipControls",
    "tagging": "BucketTagging",
    "cors": "BucketCors",
    "website": "BucketWebsite",
    "replication": "BucketReplication",
    "notification": "BucketNotificationConfiguration",
    "object-lock": "ObjectLockConfiguration",
}
_S3_OBJECT_SUBRESOURCES = {"tagging": "ObjectTagging", "acl": "ObjectAcl", "retention": "ObjectRetention"}
_VERBS = {"GET": "Get", "PUT": "Put", "DELETE": "Delete", "HEAD": "Head", "POST": "Post"}
_S3CONTROL = {  # (method, path after /v20180820/) -> operation
    ("GET", "configuration/publicAccessBlock"): "GetPublicAccessBlock",
    ("PUT", "configuration/publicAccessBlock"): "PutPublicAccessBlock",
    ("DELETE", "configuration/publicAccessBlock"): "DeletePublicAccessBlock",
    ("GET", "accesspoint"): "ListAccessPoints",
}


def _scope(environ: dict[str, Any]) -> tuple[str, str]:
    """(region, service) from the SigV4 Authorization header or a presigned URL, ("", "") if unsigned.
    SigV2 (header "AWS key:sig" or a presigned ?AWSAccessKeyId=&Signature= URL) is S3's alone today."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if auth.startswith("AWS ") or ("AWSAccessKeyId" in query and "Signature" in query):
        return "", "s3"
    try:
        credential = auth.split("Credential=", 1)[1].split(",", 1)[0] if "Credential=" in auth else ""
        _, _, region, service, _ = (credential or query.get("X-Amz-Credential", [""])[0]).split("/")
        return region, service.lower()
    except ValueError:
        return "", ""


def _s3_bucket_and_key(environ: dict[str, Any], path: str) -> tuple[str, str]:
    host = environ.get("HTTP_HOST", "").split(":", 1)[0]
    parts = path.lstrip("/").split("/", 1)
    first = host.split(".", 1)[0]
    # Virtual-hosted style: "<bucket>.s3.<region>.amazonaws.com" or "<bucket>.localhost".
    if ".s3" in host or host.endswith(".localhost"):
        return first, path.lstrip("/")
    return parts[0], parts[1] if len(parts) > 1 else ""


def _s3_operation(environ: dict[str, Any], path: str, query: dict[str, list[str]]) -> str:
    method = environ.get("REQUEST_METHOD", "GET").upper()
    if path.startswith("/v20180820/"):
        return _S3CONTROL.get((method, path[len("/v20180820/") :].rstrip("/")), "Unknown")
    verb = _VERBS.get(method, "Unknown")
    bucket, key = _s3_bucket_and_key(environ, path)
    if not bucket:
        return "ListBuckets" if method == "GET" else "Unknown"
    if key:
        for sub, name in _S3_OBJECT_SUBRESOURCES.items():
            if sub in query:
                return verb + name
        if "uploadId" in query:
            return {"PUT": "UploadPart", "POST": "CompleteMultipartUpload", "DELETE": "AbortMultipartUpload"}.get(
                method, "ListParts"
            )
        if "uploads" in query and method == "POST":
            return "CreateMultipartUpload"
        if method == "PUT" and "HTTP_X_AMZ_COPY_SOURCE" in environ:
            return "CopyObject"
        return {"GET": "GetObject", "PUT": "PutObject", "DELETE": "DeleteObject", "HEAD": "HeadObject"}.get(
            method, "Unknown"
        )
    for sub, name in _S3_SUBRESOURCES.items():
        if sub in query:
            if method == "GET" and sub == "notification":
                return "GetBucketNotificationConfiguration"
            return verb + name
    if "delete" in query and method == "POST":
        return "DeleteObjects"
    if "versions" in query:
        return "ListObjectVersions"
    if "uploads" in query:
        return "ListMultipartUploads"
    if method == "GET":
        return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
    return {"PUT": "CreateBucket", "DELETE": "DeleteBucket", "HEAD": "HeadBucket"}.get(method, "Unknown")


def identify(environ: dict[str, Any], body: bytes) -> RequestInfo:
    """Name the API operation of a raw WSGI request (body already read)."""
    path = environ.get("PATH_INFO", "")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    _, service = _scope(environ)
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:  # DynamoDB_20120810.ListTables, TrentService.DescribeKey, AWSOrganizationsV20161128.ListAccounts
        return RequestInfo(service, "json", target.rsplit(".", 1)[-1])
    if service == "s3" or (not service and path.startswith("/v20180820/")):
        if path.startswith("/v20180820/"):
            service = "s3control"
        return RequestInfo(service or "s3", "rest-xml", _s3_operation(environ, path, query))
    action = query.get("Action", [None])[0]
    if action is None and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [None])[0]
    if action:
        return RequestInfo(service, "ec2" if service == "ec2" else "query", action)
    return RequestInfo(service, "rest-json", "Unknown")


# ---------------------------------------------------------------- error bodies


def _error_response(protocol: str, rule: FaultRule) -> tuple[list[tuple[str, str]], bytes]:
    code, message, request_id = escape(rule.code), escape(rule.message), "injected-fault"
    if protocol in ("json", "rest-json"):
        body = json.dumps({"__type": rule.code, "message": rule.message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", rule.code)]
    elif protocol == "ec2":
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Response><Errors><Error><Code>{code}</Code>"
            f"<Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
        headers = [("Content-Type", "text/xml")]
    elif protocol == "query":
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml")]
    else:  # rest-xml: S3 and S3 Control
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers = [("Content-Type", "application/xml")]
    headers += [("x-amzn-RequestId", request_id), ("Content-Length", str(len(body)))]
    return headers, body


# ---------------------------------------------------------------- the WSGI wrapper


def _account_of(environ: dict[str, Any]) -> str:
    """The account moto serves this request as (MOTO_ACCOUNT_ID, x-moto-account-id, or the access key's)."""
    from moto.iam.models import get_account_id_from

    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
        return environ["HTTP_X_MOTO_ACCOUNT_ID"]
    auth = environ.get("HTTP_AUTHORIZATION", "")
    access_key = auth.split("Credential=", 1)[-1].split("/", 1)[0] if "Credential=" in auth else ""
    return get_account_id_from(access_key)


def _get_ebs_default_kms_key_id(environ: dict[str, Any]) -> bytes:
    """ec2:GetEbsDefaultKmsKeyId, which moto 5.2 lacks: the region's custom default key, else alias/aws/ebs."""
    from moto.ec2.models import ec2_backends

    region = _scope(environ)[0] or DEFAULT_REGION
    key = ec2_backends[_account_of(environ)][region].default_kms_key_id or "alias/aws/ebs"
    return (
        '<?xml version="1.0" encoding="UTF-8"?><GetEbsDefaultKmsKeyIdResponse '
        'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>emulator</requestId>'
        f"<kmsKeyId>{escape(key)}</kmsKeyId></GetEbsDefaultKmsKeyIdResponse>"
    ).encode()


# Operations moto does not implement that the collectors call: (service, operation) -> XML answer.
_SHIMS = {("ec2", "GetEbsDefaultKmsKeyId"): _get_ebs_default_kms_key_id}
_REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests", 501: "Not Implemented"}


def _answer_error(environ: dict[str, Any], start_response: Any, protocol: str, rule: FaultRule) -> list[bytes]:
    headers, payload = _error_response(protocol, rule)
    start_response(f"{rule.status} {_REASONS.get(rule.status, 'Error')}", headers)
    return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else payload]


class _Middleware:
    def __init__(self, app: Any, emulator: MotoEmulator) -> None:
        self.app = app
        self.emulator = emulator

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/moto-api"):
            return self.app(environ, start_response)
        latency = self.emulator.latency_seconds
        if latency > 0:
            time.sleep(latency)
        body = get_input_stream(environ).read()
        environ["wsgi.input"] = io.BytesIO(body)  # put it back for moto
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("wsgi.input_terminated", None)
        info = identify(environ, body)
        rule = self.emulator._record(info, _haystack(environ, body))
        if rule is not None:
            return _answer_error(environ, start_response, info.protocol, rule)
        shim = _SHIMS.get((info.service, info.operation))
        if shim is not None:
            payload = shim(environ)
            start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(payload)))])
            return [payload]
        try:
            return self.app(environ, start_response)
        except NotImplementedError as exc:
            # moto raises this for operations it lacks; werkzeug would answer an HTML 500, which botocore
            # retries with backoff. A 501 in the protocol's format fails fast and names the gap.
            log.warning("moto does not implement %s: %s", info.operation, exc)
            missing = FaultRule(info.operation, code="NotImplemented", status=501, message=f"moto: {exc}")
            return _answer_error(environ, start_response, info.protocol, missing)


def _haystack(environ: dict[str, Any], body: bytes) -> str:
    """Everything a FaultRule.match may be found in, raw and URL-decoded."""
    raw = "\n".join(
        (
            environ.get("HTTP_HOST", ""),
            environ.get("PATH_INFO", "") + "?" + environ.get("QUERY_STRING", ""),
            body[:1_000_000].decode("utf-8", "replace"),
        )
    )
    return raw + "\n" + unquote_plus(raw)


class MotoEmulator:
    """moto's server on 127.0.0.1 (a free port) in a daemon thread, behind the fault/latency wrapper."""

    def __init__(self, latency_seconds: float = 0.0, host: str = "127.0.0.1", port: int = 0) -> None:
        self.latency_seconds = latency_seconds
        self.host = host
        self.port = port
        self.endpoint_url = ""
        self.request_counts: Counter[str] = Counter()
        self._faults: list[FaultRule] = []
        self._remaining: dict[int, int] = {}  # id(rule) -> answers left, for rules with times
        self._lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> MotoEmulator:
        if self._server is not None:
            return self
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        app = _Middleware(DomainDispatcherApplication(create_backend_app), self)
        self._server = make_server(self.host, self.port, app, threaded=True, request_handler=MotoRequestHandler)
        self.port = self._server.server_address[1]
        self.endpoint_url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> MotoEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # environment for boto3 / the CLI
    def env(self) -> dict[str, str]:
        """Variables that point boto3 at this emulator with dummy credentials and no real profile.
        AWS_PROFILE and friends cannot be neutralised by a value: use_env() removes ENV_UNSET."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "",
            "AWS_SECURITY_TOKEN": "",
            "AWS_DEFAULT_REGION": DEFAULT_REGION,
            "AWS_REGION": DEFAULT_REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    @contextmanager
    def use_env(self) -> Iterator[dict[str, str]]:
        """Apply env() to os.environ (and drop ENV_UNSET) for the duration of the block."""
        saved = {k: os.environ.get(k) for k in (*self.env(), *ENV_UNSET)}
        for key in ENV_UNSET:
            os.environ.pop(key, None)
        os.environ.update(self.env())
        try:
            yield self.env()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    # faults and counts
    def add_fault(self, rule: FaultRule) -> None:
        with self._lock:
            self._faults.append(rule)
            if rule.times is not None:
                self._remaining[id(rule)] = rule.times

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._remaining.clear()

    def reset_counts(self) -> None:
        with self._lock:
            self.request_counts.clear()

    def counts(self) -> dict[str, int]:
        """A consistent copy of request_counts."""
        with self._lock:
            return dict(self.request_counts)

    def reset(self) -> None:
        """Drop all moto state (POST /moto-api/reset); faults and counts are kept."""
        opener = build_opener(ProxyHandler({}))  # never via an HTTP proxy from the environment
        with opener.open(Request(f"{self.endpoint_url}/moto-api/reset", method="POST", data=b""), timeout=30) as r:
            r.read()

    def _record(self, info: RequestInfo, haystack: str) -> FaultRule | None:
        """Count the request and return the fault rule to answer it with, if any."""
        with self._lock:
            self.request_counts[info.operation] += 1
            for rule in self._faults:
                if rule.operation != info.operation or (rule.service and rule.service != info.service):
                    continue
                if rule.match is not None and rule.match not in haystack:
                    continue
                if rule.times is not None:
                    left = self._remaining.get(id(rule), 0)
                    if left <= 0:
                        continue
                    self._remaining[id(rule)] = left - 1
                return rule
            return None


def s3control_direct_host(client: Any) -> Any:
    """botocore's s3control endpoint rules put "<AccountId>." in front of any endpoint_url host
    (Config(inject_host_prefix=False) does not stop it), which cannot resolve for 127.0.0.1;
    send the request to the endpoint's own host instead."""

    def strip(request: Any, **_: Any) -> None:
        parts = urlsplit(request.url)
        label, _, rest = parts.netloc.partition(".")
        if label.isdigit() and len(label) == 12 and rest:
            request.url = urlunsplit(parts._replace(netloc=rest))

    client.meta.events.register("before-sign.s3-control", strip)
    return client


# ---------------------------------------------------------------- in a child process


def _serve_in_child(conn: Any, latency_seconds: float) -> None:
    """Child-process loop: run an emulator and answer control messages."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    emulator = MotoEmulator(latency_seconds=latency_seconds).start()
    conn.send(emulator.endpoint_url)
    while True:
        command, arg = conn.recv()
        if command == "latency":
            emulator.latency_seconds = float(arg)
            conn.send(None)
        elif command == "counts":
            conn.send(emulator.counts())
        elif command == "reset_counts":
            emulator.reset_counts()
            conn.send(None)
        elif command == "stop":
            emulator.stop()
            conn.send(None)
            return


class MotoProcess:
    """A MotoEmulator in its own process: for benchmarks, so the emulator's
    CPU, GIL and memory are not counted as the tool's. Same env/use_env,
    latency and counts surface; no fault injection."""

    def __init__(self, latency_seconds: float = 0.0) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve_in_child, args=(child, latency_seconds), daemon=True)
        self._latency = latency_seconds
        self.endpoint_url = ""

    def __enter__(self) -> MotoProcess:
        self._process.start()
        self.endpoint_url = self._conn.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._ask("stop")
        finally:
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.kill()

    def _ask(self, command: str, arg: object = None) -> Any:
        self._conn.send((command, arg))
        return self._conn.recv()

    @property
    def latency_seconds(self) -> float:
        return self._latency

    @latency_seconds.setter
    def latency_seconds(self, value: float) -> None:
        self._latency = value
        self._ask("latency", value)

    def counts(self) -> dict[str, int]:
        return dict(self._ask("counts"))

    def reset_counts(self) -> None:
        self._ask("reset_counts")

    env = MotoEmulator.env
    use_env = MotoEmulator.use_env
