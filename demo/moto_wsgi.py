"""The WSGI layer in front of moto: per-request latency, fault injection and call counts.

It names each request's API operation from the raw HTTP request (X-Amz-Target for JSON
protocols, Action= for query protocols, method + path + sub-resource for S3 and S3 Control)
and answers injected faults in the error format botocore parses for that protocol, so boto3
raises the usual ClientError and its retry modes treat throttling as they would against AWS.

Gaps in moto 5.2 that the layer covers: ec2:GetEbsDefaultKmsKeyId is answered from moto's
EC2 backend (alias/aws/ebs unless a default key was set); account:ListRegions is answered from
moto's EC2 region list (opt-in-not-required regions ENABLED_BY_DEFAULT, the others DISABLED);
identitystore:ListUsers gains the UserStatus moto never stores and s3:ListBuckets the BucketRegion
moto omits (_REWRITES, which an emulator's skip_rewrites turns off per operation); any other operation
moto lacks answers a 501 "NotImplemented" in the protocol's format instead of an HTML 500 that
botocore would retry.

Separate from emulators.py (the server's lifecycle, environment and fault list) because this is
the part that speaks AWS's wire protocols; the emulator it serves is anything with a latency
and a record() that counts a request and picks its fault (FaultSource). A rule with
throttle=True answers the protocol's own throttling error (THROTTLING: S3 503 SlowDown, EC2 503
RequestLimitExceeded, query 400 Throttling, JSON 400 ThrottlingException, REST-JSON 429
TooManyRequestsException; CloudFront and Route 53, REST-XML too, 400 Throttling).
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote_plus
from xml.sax.saxutils import escape, unescape

from werkzeug.wsgi import get_input_stream

from demo.rest_operations import rest_operation

__all__ = [
    "ANY_OPERATION",
    "DEFAULT_REGION",
    "THROTTLING",
    "FaultRule",
    "FaultSource",
    "FaultWrapper",
    "RequestInfo",
    "identify",
    "throttling_answer",
]

DEFAULT_REGION = "us-east-1"
ANY_OPERATION = "*"  # a FaultRule or throttle() for every operation
log = logging.getLogger(__name__)

# AWS's throttling answer per protocol: (code, HTTP status, message). Each code is one botocore's
# retry modes classify as throttling (botocore.retries.standard.ThrottlingErrorDetector).
THROTTLING = {
    "rest-xml": ("SlowDown", 503, "Please reduce your request rate."),  # S3, S3 Control
    "ec2": ("RequestLimitExceeded", 503, "Request limit exceeded."),
    "query": ("Throttling", 400, "Rate exceeded"),  # IAM, STS, RDS, ELB, SNS, ...
    "json": ("ThrottlingException", 400, "Rate exceeded"),  # DynamoDB, KMS, Organizations, ...
    "rest-json": ("TooManyRequestsException", 429, "Too Many Requests"),  # API Gateway, Account, ...
}
# REST-XML services other than S3 throttle as the query protocol does (code Throttling, 400)
_THROTTLING_BY_SERVICE = {"cloudfront": THROTTLING["query"], "route53": THROTTLING["query"]}
_REST_XML_SERVICES = {"cloudfront", "route53"}  # with S3 / S3 Control, botocore's rest-xml services


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
    throttle: bool = False  # answer the protocol's throttling error (THROTTLING) instead of code/status


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
    protocol = "rest-xml" if service in _REST_XML_SERVICES else "rest-json"
    method = environ.get("REQUEST_METHOD", "GET").upper()
    operation = rest_operation(service, method, path, frozenset(query)) if service else None
    return RequestInfo(service, protocol, operation or "Unknown")


# ---------------------------------------------------------------- error bodies


def throttling_answer(info: RequestInfo) -> FaultRule:
    """The throttling error AWS answers for this request's service and protocol, as a rule to answer with."""
    code, status, message = _THROTTLING_BY_SERVICE.get(info.service) or THROTTLING[info.protocol]
    return FaultRule(info.operation, code=code, status=status, message=f"{message} (injected)", times=1)


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


def _list_regions(environ: dict[str, Any]) -> bytes:
    """account:ListRegions, which moto 5.2 lacks: the commercial regions of moto's DescribeRegions,
    with the Account API's opt status for their OptInStatus (one page)."""
    from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend

    status = {"opt-in-not-required": "ENABLED_BY_DEFAULT", "opted-in": "ENABLED", "not-opted-in": "DISABLED"}
    regions = [
        {"RegionName": r.name, "RegionOptStatus": status.get(r.opt_in_status, "DISABLED")}
        for r in RegionsAndZonesBackend.regions
        if r.endpoint.endswith(".amazonaws.com") and not r.name.startswith("us-gov-")
    ]
    return json.dumps({"Regions": regions}).encode()


# Operations moto does not implement that the collectors call: (service, operation) -> answer.
_SHIMS = {("ec2", "GetEbsDefaultKmsKeyId"): _get_ebs_default_kms_key_id, ("account", "ListRegions"): _list_regions}
_SHIM_TYPES = {"account": "application/json"}

DISABLED_USER_TYPE = "disabled"  # demo.estate_sso creates disabled users with this UserType


def _with_user_status(environ: dict[str, Any], body: bytes) -> bytes:
    """identitystore:ListUsers with UserStatus, which moto 5.2 never stores (AWS sets it from the console or
    SCIM, not CreateUser): DISABLED for users created with UserType "disabled", ENABLED otherwise."""
    answer = json.loads(body or b"{}")
    for user in answer.get("Users") or []:
        disabled = str(user.get("UserType") or "").lower() == DISABLED_USER_TYPE
        user.setdefault("UserStatus", "DISABLED" if disabled else "ENABLED")
    return json.dumps(answer).encode()


_BUCKET = re.compile(rb"<Bucket><Name>([^<]*)</Name>(.*?)</Bucket>", re.S)


def _with_bucket_region(environ: dict[str, Any], body: bytes) -> bytes:
    """s3:ListBuckets with each bucket's BucketRegion, which AWS returns (since 2024) and moto 5.2 omits:
    the region moto created the bucket in. A bucket moto no longer knows is left without one."""
    from moto.s3.models import s3_backends

    buckets = s3_backends[_account_of(environ)]["aws"].buckets

    def add_region(match: re.Match[bytes]) -> bytes:
        bucket = buckets.get(unescape(match.group(1).decode()))
        if bucket is None or b"<BucketRegion>" in match.group(2):
            return match.group(0)
        region = escape(bucket.region_name).encode()
        return b"<Bucket><Name>%s</Name>%s<BucketRegion>%s</BucketRegion></Bucket>" % (
            match.group(1),
            match.group(2),
            region,
        )

    return _BUCKET.sub(add_region, body)


# Answers of moto's that lack a field AWS returns: (service, operation) -> rewrite of a 200 body.
# An emulator's skip_rewrites (operation names) turns them off, e.g. to test a collector's fallback.
_REWRITES = {("identitystore", "ListUsers"): _with_user_status, ("s3", "ListBuckets"): _with_bucket_region}
_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


def _answer_error(environ: dict[str, Any], start_response: Any, info: RequestInfo, rule: FaultRule) -> list[bytes]:
    if rule.throttle:
        rule = throttling_answer(info)
    headers, payload = _error_response(info.protocol, rule)
    start_response(f"{rule.status} {_REASONS.get(rule.status, 'Error')}", headers)
    return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else payload]


class FaultSource(Protocol):
    """What the wrapper asks of the emulator it serves (MotoEmulator)."""

    latency_seconds: float
    skip_rewrites: set[str]  # operations whose _REWRITES entry is not applied

    def record(self, info: RequestInfo, haystack: str) -> FaultRule | None:
        """Count the request and return the fault rule to answer it with, if any."""
        ...


class FaultWrapper:
    """The WSGI app in front of moto's: latency, then a fault or a shim, else moto."""

    def __init__(self, app: Any, emulator: FaultSource) -> None:
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
        rule = self.emulator.record(info, _haystack(environ, body))
        if rule is not None:
            return _answer_error(environ, start_response, info, rule)
        shim = _SHIMS.get((info.service, info.operation))
        if shim is not None:
            payload = shim(environ)
            content_type = _SHIM_TYPES.get(info.service, "text/xml")
            start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(payload)))])
            return [payload]
        rewrite = _REWRITES.get((info.service, info.operation))
        if rewrite is not None and info.operation in self.emulator.skip_rewrites:
            rewrite = None
        try:
            if rewrite is not None:
                return _rewritten(self.app, environ, start_response, rewrite)
            return self.app(environ, start_response)
        except NotImplementedError as exc:
            # moto raises this for operations it lacks; werkzeug would answer an HTML 500, which botocore
            # retries with backoff. A 501 in the protocol's format fails fast and names the gap.
            log.warning("moto does not implement %s: %s", info.operation, exc)
            missing = FaultRule(info.operation, code="NotImplemented", status=501, message=f"moto: {exc}")
            return _answer_error(environ, start_response, info, missing)


def _rewritten(app: Any, environ: dict[str, Any], start_response: Any, rewrite: Any) -> list[bytes]:
    """Call moto, then rewrite a 200 answer's body (errors pass through unchanged)."""
    got: dict[str, Any] = {}

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        got.update(status=status, headers=headers)
        return lambda data: None

    body = b"".join(app(environ, capture))
    if got["status"].startswith("200"):
        body = rewrite(environ, body)
    headers = [(k, v) for k, v in got["headers"] if k.lower() != "content-length"]
    start_response(got["status"], [*headers, ("Content-Length", str(len(body)))])
    return [body]


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
